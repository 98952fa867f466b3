//! Real keys over USB HID: finding them with `hidapi` and telling a person why one cannot be
//! used (udev rules, Windows without administrator rights). Talking to them is the CTAP host's
//! job ([`crate::device::ctap2::CtapKey`] over [`crate::device::transport::HidTransport`]).

mod diagnose;
mod discovery;

pub use diagnose::{access_problem, diagnose_hidraw, diagnose_no_key};
pub use discovery::{discover, FIDO_USAGE_PAGE};

use super::transport::HidTransport;
use super::{Authenticator, CtapKey, DeviceDescriptor, DeviceError};

/// Open a key that discovery listed.
pub fn open(desc: &DeviceDescriptor) -> Result<Box<dyn Authenticator>, DeviceError> {
    let path = desc
        .spec
        .strip_prefix("hid:")
        .ok_or_else(|| DeviceError::NotFound {
            spec: desc.spec.clone(),
            reason: "not a hid: device".into(),
        })?;
    let transport = HidTransport::open(path)?;
    Ok(Box::new(CtapKey::open(Box::new(transport), desc.clone())?))
}
