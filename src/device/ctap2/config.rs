//! authenticatorConfig (0x0D), CTAP 2.1 §6.11: toggleAlwaysUv and setMinPINLength.
//!
//! Reference: <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#authenticatorConfig>

use super::cbor::{encode, int, CborMap};
use serde_cbor_2::Value;

pub const COMMAND: u8 = 0x0D;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubCommand {
    EnableEnterpriseAttestation = 0x01,
    ToggleAlwaysUv = 0x02,
    SetMinPinLength = 0x03,
}

/// setMinPINLength parameters.
pub const PARAM_NEW_MIN_PIN_LENGTH: i64 = 0x01;
pub const PARAM_MIN_PIN_LENGTH_RP_IDS: i64 = 0x02;
pub const PARAM_FORCE_CHANGE_PIN: i64 = 0x03;

pub use super::sub_command::SubCommandRequest as Request;

/// What pinUvAuthParam authenticates: 32×0xFF || 0x0D || subCommand || subCommandParams.
pub fn auth_message(sub_command: u8, params: Option<&CborMap>) -> Vec<u8> {
    let mut msg = vec![0xFF; 32];
    msg.push(COMMAND);
    msg.push(sub_command);
    if let Some(p) = params {
        msg.extend_from_slice(&encode(&Value::Map(p.clone())));
    }
    msg
}

/// setMinPINLength's parameters.
pub fn min_pin_length_params(
    new_min: Option<u32>,
    rp_ids: &[String],
    force_change: bool,
) -> CborMap {
    let mut p = CborMap::new();
    if let Some(n) = new_min {
        p.insert(int(PARAM_NEW_MIN_PIN_LENGTH), int(i64::from(n)));
    }
    if !rp_ids.is_empty() {
        p.insert(
            int(PARAM_MIN_PIN_LENGTH_RP_IDS),
            Value::Array(rp_ids.iter().map(|r| super::cbor::text(r)).collect()),
        );
    }
    if force_change {
        p.insert(int(PARAM_FORCE_CHANGE_PIN), Value::Bool(true));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_auth_message_starts_with_32_ff_and_the_command() {
        let p = min_pin_length_params(Some(6), &[], true);
        let msg = auth_message(SubCommand::SetMinPinLength as u8, Some(&p));
        assert_eq!(&msg[..32], &[0xFF; 32]);
        assert_eq!(&msg[32..34], &[0x0D, 0x03]);
        // {1: 6, 3: true}
        assert_eq!(&msg[34..], &[0xA2, 0x01, 0x06, 0x03, 0xF5]);
    }
}
