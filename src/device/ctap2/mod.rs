//! keyward's CTAP 2.1 host: one client for every key, over any [`Transport`].
//!
//! Each command has its own file with its request and response types, shared with the virtual
//! key so both sides encode and decode the same bytes. [`CtapKey`] puts them together behind
//! the domain trait [`crate::device::Authenticator`]; CTAP status bytes become a
//! [`DeviceError`] in [`CtapStatus`] only.
//!
//! [`Transport`]: crate::device::transport::Transport

mod cbor;
pub mod client_pin;
pub mod config;
pub mod credential_management;
pub mod get_assertion;
pub mod get_info;
mod key;
pub mod make_credential;
pub mod pin_protocol;
pub mod status;
mod sub_command;
pub mod u2f;

pub use cbor::{decode_map, encode, encode_map, int, text, text_map, CborMap, MapExt};
pub use key::CtapKey;
pub use status::CtapStatus;

use super::DeviceError;

/// CTAP2 command bytes (CTAP 2.1 §6).
pub mod command {
    pub const MAKE_CREDENTIAL: u8 = 0x01;
    pub const GET_ASSERTION: u8 = 0x02;
    pub const GET_INFO: u8 = 0x04;
    pub const CLIENT_PIN: u8 = 0x06;
    pub const RESET: u8 = 0x07;
    pub const GET_NEXT_ASSERTION: u8 = 0x08;
    pub const CREDENTIAL_MANAGEMENT: u8 = super::credential_management::COMMAND;
    pub const SELECTION: u8 = 0x0B;
    pub const CONFIG: u8 = super::config::COMMAND;
    pub const CREDENTIAL_MANAGEMENT_PRERELEASE: u8 =
        super::credential_management::COMMAND_PRERELEASE;
}

/// The pinUvAuthParam and protocol, when a PIN token is used.
pub struct PinAuth {
    pub param: Vec<u8>,
    pub protocol: u8,
}

/// A key's answer that does not parse.
pub(crate) fn unreadable(what: &str) -> DeviceError {
    DeviceError::Transport {
        message: format!("the key's answer could not be read: {what}"),
    }
}

/// A CBOR text value as an owned string.
pub(crate) fn cbor_text(v: &serde_cbor_2::Value) -> Option<String> {
    cbor::as_text(v).map(str::to_string)
}
