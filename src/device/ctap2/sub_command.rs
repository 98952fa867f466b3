//! The request shape credentialManagement and authenticatorConfig share (CTAP 2.1 §6.8, §6.11):
//! `{1: subCommand, 2: subCommandParams, 3: pinUvAuthProtocol, 4: pinUvAuthParam}`. What the
//! pinUvAuthParam covers differs, so each command keeps its own `auth_message`.

use super::cbor::{decode_map, encode_map, int, CborMap, MapExt};
use serde_cbor_2::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct SubCommandRequest {
    pub sub_command: u8,
    pub params: Option<CborMap>,
    pub protocol: Option<u8>,
    pub pin_uv_auth_param: Option<Vec<u8>>,
}

impl SubCommandRequest {
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

    /// `Err(true)` = missing parameter, `Err(false)` = malformed.
    pub fn decode(bytes: &[u8]) -> Result<SubCommandRequest, bool> {
        let m = decode_map(bytes).map_err(|_| false)?;
        Ok(SubCommandRequest {
            sub_command: u8::try_from(m.uint(0x01).ok_or(true)?).map_err(|_| false)?,
            params: m.map_at(0x02).cloned(),
            protocol: m.uint(0x03).and_then(|p| u8::try_from(p).ok()),
            pin_uv_auth_param: m.bytes(0x04).map(<[u8]>::to_vec),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_command_request_round_trips_in_canonical_order() {
        let mut params = CborMap::new();
        params.insert(int(1), int(6));
        let r = SubCommandRequest {
            sub_command: 3,
            params: Some(params),
            protocol: Some(2),
            pin_uv_auth_param: Some(vec![9; 32]),
        };
        let bytes = r.encode();
        assert_eq!(bytes[..6], [0xA4, 0x01, 0x03, 0x02, 0xA1, 0x01]);
        assert_eq!(SubCommandRequest::decode(&bytes).unwrap(), r);
    }
}
