//! keyward's `Transport` over the in-process fido-authenticator.

use crate::ctaphid_device::PACKET;
use crate::fido::FidoKey;
use keyward::device::transport::Transport;
use keyward::device::{Backend, DeviceDescriptor, DeviceError};
use std::time::Instant;

pub use crate::fido::KeyClock;

pub struct FidoTransport(FidoKey);

impl FidoTransport {
    pub fn new(key: FidoKey) -> FidoTransport {
        FidoTransport(key)
    }
}

impl Transport for FidoTransport {
    fn write_packet(&mut self, packet: &[u8; PACKET]) -> Result<(), DeviceError> {
        self.0
            .write_packet(packet)
            .map_err(|message| DeviceError::Transport { message })
    }

    fn read_packet(&mut self, deadline: Instant) -> Result<Option<[u8; PACKET]>, DeviceError> {
        self.0
            .read_packet(deadline)
            .map_err(|message| DeviceError::Transport { message })
    }
}

/// How keyward sees the in-process key: a real authenticator implementation, not a virtual key.
pub fn descriptor() -> DeviceDescriptor {
    DeviceDescriptor {
        spec: "conformance:fido-authenticator".into(),
        backend: Backend::Hid,
        vendor_id: Some(0x20a0),
        product_id: Some(0x42b2),
        manufacturer: Some("trussed-dev".into()),
        product: Some("fido-authenticator 0.4.0-rc.4 (in process)".into()),
        serial: None,
    }
}
