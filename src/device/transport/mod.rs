//! The one seam between the CTAP host and a key: 64-byte CTAPHID reports in each direction.
//!
//! A transport only moves reports. It knows nothing of channels, CBOR or status bytes: the
//! framing lives in [`crate::device::ctaphid`] and the protocol in [`crate::device::ctap2`].
//! USB HID ([`HidTransport`]) and the virtual key ([`crate::device::virtual_key`]) are the two
//! implementations in this crate; tests and other crates can supply their own.

mod hid;

pub use hid::{open_failure, HidTransport};

use super::DeviceError;
use std::time::Instant;

/// The size of one CTAPHID report (CTAP 2.1 §11.2.4), without the HID report-ID byte.
pub const PACKET: usize = 64;

/// One full-speed HID report in each direction.
pub trait Transport: Send {
    /// Write one 64-byte CTAPHID report (no report-id byte).
    fn write_packet(&mut self, packet: &[u8; PACKET]) -> Result<(), DeviceError>;
    /// Read one 64-byte report, waiting at most until `deadline`; Ok(None) = timed out.
    fn read_packet(&mut self, deadline: Instant) -> Result<Option<[u8; PACKET]>, DeviceError>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn write_packet(&mut self, packet: &[u8; PACKET]) -> Result<(), DeviceError> {
        (**self).write_packet(packet)
    }
    fn read_packet(&mut self, deadline: Instant) -> Result<Option<[u8; PACKET]>, DeviceError> {
        (**self).read_packet(deadline)
    }
}
