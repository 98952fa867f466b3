//! The virtual key: a software CTAP 2.1 key whose whole state lives in one file.

use super::{DeviceDescriptor, DeviceError};
use std::path::Path;

pub fn descriptor(path: &Path) -> Result<DeviceDescriptor, DeviceError> {
    Err(DeviceError::NotFound {
        spec: format!("virtual:{}", path.display()),
        reason: "virtual backend not built yet".into(),
    })
}

pub fn discover_dir(_dir: &Path) -> Result<Vec<DeviceDescriptor>, DeviceError> {
    Ok(Vec::new())
}

pub struct VirtualKey;

impl VirtualKey {
    pub fn open(path: impl AsRef<Path>) -> Result<Box<dyn super::Authenticator>, DeviceError> {
        descriptor(path.as_ref()).map(|_| unreachable!())
    }
}
