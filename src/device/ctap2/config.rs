//! authenticatorConfig (0x0D), CTAP 2.1 §6.11: toggleAlwaysUv and setMinPINLength.
//!
//! Reference: <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#authenticatorConfig>

use super::cbor::{decode_map, encode, encode_map, int, CborMap, MapExt};
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

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub sub_command: u8,
    pub params: Option<CborMap>,
    pub protocol: Option<u8>,
    pub pin_uv_auth_param: Option<Vec<u8>>,
}

impl Request {
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

    pub fn encode(&self) -> Vec<u8> {
        let mut m = CborMap::new();
        m.insert(int(0x01), int(i64::from(self.sub_command)));
        if let Some(p) = &self.params {
            m.insert(int(0x02), Value::Map(p.clone()));
        }
        if let Some(p) = self.protocol {
            m.insert(int(0x03), int(i64::from(p)));
        }
        if let Some(a) = &self.pin_uv_auth_param {
            m.insert(int(0x04), Value::Bytes(a.clone()));
        }
        encode_map(m)
    }

    pub fn decode(bytes: &[u8]) -> Result<Request, bool> {
        let m = decode_map(bytes).map_err(|_| false)?;
        Ok(Request {
            sub_command: u8::try_from(m.uint(0x01).ok_or(true)?).map_err(|_| false)?,
            params: m.map_at(0x02).cloned(),
            protocol: m.uint(0x03).and_then(|p| u8::try_from(p).ok()),
            pin_uv_auth_param: m.bytes(0x04).map(<[u8]>::to_vec),
        })
    }
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
        let msg = Request::auth_message(SubCommand::SetMinPinLength as u8, Some(&p));
        assert_eq!(&msg[..32], &[0xFF; 32]);
        assert_eq!(&msg[32..34], &[0x0D, 0x03]);
        // {1: 6, 3: true}
        assert_eq!(&msg[34..], &[0xA2, 0x01, 0x06, 0x03, 0xF5]);
    }
}
