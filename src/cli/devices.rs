//! `keyward devices`: the keys present.

use super::Context;
use crate::device::{self, DeviceDescriptor, DeviceSpec};
use crate::error::Result;
use serde::Serialize;

#[derive(Serialize)]
struct DeviceList {
    devices: Vec<DeviceDescriptor>,
    /// Why no key is visible, or why a listed key cannot be used, when the reason can be told.
    diagnosis: Option<String>,
}

pub fn run(ctx: &Context) -> Result<()> {
    let devices = device::discover(&ctx.global.device)?;
    let diagnosis = if devices.is_empty() && ctx.global.device == DeviceSpec::Auto {
        device::hid::diagnose_no_key()
    } else {
        let problems: Vec<String> = devices.iter().filter_map(device::access_problem).collect();
        (!problems.is_empty()).then(|| problems.join("\n"))
    };
    let list = DeviceList { devices, diagnosis };
    ctx.out.emit(&list, || {
        if list.devices.is_empty() {
            let mut s = "No security key found.".to_string();
            if let Some(d) = &list.diagnosis {
                s.push_str(&format!("\n{d}"));
            }
            return s;
        }
        let mut s = list
            .devices
            .iter()
            .map(|d| d.display_name())
            .collect::<Vec<_>>()
            .join("\n");
        if let Some(d) = &list.diagnosis {
            s.push_str(&format!("\n{d}"));
        }
        s
    });
    Ok(())
}
