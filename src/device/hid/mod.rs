//! Real keys over USB HID: discovery with `hidapi`, CTAP commands with `ctap-hid-fido2`.

use super::{DeviceDescriptor, DeviceError};

pub fn discover() -> Result<Vec<DeviceDescriptor>, DeviceError> {
    Ok(Vec::new())
}

pub fn diagnose_no_key() -> Option<String> {
    None
}

pub struct HidKey;

impl HidKey {
    pub fn open(desc: &DeviceDescriptor) -> Result<Box<dyn super::Authenticator>, DeviceError> {
        Err(DeviceError::NotFound {
            spec: desc.spec.clone(),
            reason: "HID backend not built yet".into(),
        })
    }
}
