//! USB HID through `hidapi`: its pure-Rust hidraw backend on Linux (no libudev at build or run
//! time), IOHIDManager on macOS and the native HID API on Windows.

use super::{Transport, PACKET};
use crate::device::DeviceError;
use std::time::Instant;

/// One opened FIDO HID interface.
pub struct HidTransport {
    device: hidapi::HidDevice,
}

impl HidTransport {
    pub fn open(path: &str) -> Result<HidTransport, DeviceError> {
        let api = hidapi::HidApi::new().map_err(|e| DeviceError::Environment {
            message: format!("cannot use USB HID: {e}"),
        })?;
        let c_path = std::ffi::CString::new(path).map_err(|_| DeviceError::NotFound {
            spec: format!("hid:{path}"),
            reason: "the path contains a NUL byte".into(),
        })?;
        let device = api.open_path(&c_path).map_err(|e| open_failure(path, e))?;
        Ok(HidTransport { device })
    }
}

/// Why a listed key cannot be opened, in words a person can act on. On Linux a key is listed
/// from sysfs even when its /dev node is closed to this user: that is the udev case.
pub fn open_failure(path: &str, e: impl std::fmt::Display) -> DeviceError {
    #[cfg(target_os = "linux")]
    if let Err(io) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        if io.kind() == std::io::ErrorKind::PermissionDenied {
            return DeviceError::Environment {
                message: format!(
                    "the security key at {path} is present but this user may not open it \
                     (permission denied): the udev rules for security keys are missing; \
                     see docs/linux-udev.md"
                ),
            };
        }
    }
    DeviceError::NotFound {
        spec: format!("hid:{path}"),
        reason: format!("cannot open it ({e}); is it still plugged in?"),
    }
}

impl Transport for HidTransport {
    fn write_packet(&mut self, packet: &[u8; PACKET]) -> Result<(), DeviceError> {
        // hidapi wants the report ID first; FIDO keys use a single unnumbered report (0).
        let mut report = [0u8; PACKET + 1];
        report[1..].copy_from_slice(packet);
        match self.device.write(&report) {
            Ok(_) => Ok(()),
            Err(_) => Err(DeviceError::Disconnected),
        }
    }

    fn read_packet(&mut self, deadline: Instant) -> Result<Option<[u8; PACKET]>, DeviceError> {
        let mut buf = [0u8; PACKET];
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
        match self.device.read_timeout(&mut buf, ms) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(buf)),
            Err(_) => Err(DeviceError::Disconnected),
        }
    }
}
