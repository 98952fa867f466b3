//! authenticatorClientPIN (0x06), CTAP 2.1 §6.5: one request and one response type, encoded by
//! the host and decoded by the virtual key (and the other way round).
//!
//! Reference: <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#authenticatorClientPIN>

use super::cbor::{decode_map, encode_map, int, text, CborMap, MapExt};
use super::pin_protocol::CoseKey;
use serde_cbor_2::Value;

/// clientPIN sub-commands (§6.5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubCommand {
    GetPinRetries = 0x01,
    GetKeyAgreement = 0x02,
    SetPin = 0x03,
    ChangePin = 0x04,
    GetPinToken = 0x05,
    GetPinUvAuthTokenUsingUvWithPermissions = 0x06,
    GetUvRetries = 0x07,
    GetPinUvAuthTokenUsingPinWithPermissions = 0x09,
}

impl SubCommand {
    const ALL: [SubCommand; 8] = [
        SubCommand::GetPinRetries,
        SubCommand::GetKeyAgreement,
        SubCommand::SetPin,
        SubCommand::ChangePin,
        SubCommand::GetPinToken,
        SubCommand::GetPinUvAuthTokenUsingUvWithPermissions,
        SubCommand::GetUvRetries,
        SubCommand::GetPinUvAuthTokenUsingPinWithPermissions,
    ];
    pub fn from_number(n: u64) -> Option<SubCommand> {
        SubCommand::ALL.into_iter().find(|s| *s as u64 == n)
    }
}

/// pinUvAuthToken permissions (§6.5.5.7).
pub struct Permission;
impl Permission {
    pub const MAKE_CREDENTIAL: u8 = 0x01;
    pub const GET_ASSERTION: u8 = 0x02;
    pub const CREDENTIAL_MANAGEMENT: u8 = 0x04;
    pub const BIO_ENROLLMENT: u8 = 0x08;
    pub const LARGE_BLOB_WRITE: u8 = 0x10;
    pub const AUTHENTICATOR_CONFIG: u8 = 0x20;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPinRequest {
    /// Absent only for getPINRetries on some hosts; we always send it.
    pub protocol: Option<u8>,
    pub sub_command: u8,
    pub key_agreement: Option<CoseKey>,
    pub pin_uv_auth_param: Option<Vec<u8>>,
    pub new_pin_enc: Option<Vec<u8>>,
    pub pin_hash_enc: Option<Vec<u8>>,
    pub permissions: Option<u8>,
    pub rp_id: Option<String>,
}

impl ClientPinRequest {
    pub fn new(protocol: u8, sub_command: SubCommand) -> ClientPinRequest {
        ClientPinRequest {
            protocol: Some(protocol),
            sub_command: sub_command as u8,
            key_agreement: None,
            pin_uv_auth_param: None,
            new_pin_enc: None,
            pin_hash_enc: None,
            permissions: None,
            rp_id: None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut m = CborMap::new();
        if let Some(p) = self.protocol {
            m.insert(int(0x01), int(i64::from(p)));
        }
        m.insert(int(0x02), int(i64::from(self.sub_command)));
        if let Some(k) = &self.key_agreement {
            m.insert(int(0x03), k.to_value());
        }
        let bytes = |v: &Option<Vec<u8>>| v.clone().map(Value::Bytes);
        if let Some(v) = bytes(&self.pin_uv_auth_param) {
            m.insert(int(0x04), v);
        }
        if let Some(v) = bytes(&self.new_pin_enc) {
            m.insert(int(0x05), v);
        }
        if let Some(v) = bytes(&self.pin_hash_enc) {
            m.insert(int(0x06), v);
        }
        if let Some(p) = self.permissions {
            m.insert(int(0x09), int(i64::from(p)));
        }
        if let Some(r) = &self.rp_id {
            m.insert(int(0x0A), text(r));
        }
        encode_map(m)
    }

    /// `Err(true)` = missing parameter, `Err(false)` = malformed.
    pub fn decode(bytes: &[u8]) -> Result<ClientPinRequest, bool> {
        let m = decode_map(bytes).map_err(|_| false)?;
        let sub_command = u8::try_from(m.uint(0x02).ok_or(true)?).map_err(|_| false)?;
        let key_agreement = match m.at(0x03) {
            Some(v) => Some(CoseKey::from_value(v).ok_or(false)?),
            None => None,
        };
        Ok(ClientPinRequest {
            protocol: m.uint(0x01).and_then(|p| u8::try_from(p).ok()),
            sub_command,
            key_agreement,
            pin_uv_auth_param: m.bytes(0x04).map(<[u8]>::to_vec),
            new_pin_enc: m.bytes(0x05).map(<[u8]>::to_vec),
            pin_hash_enc: m.bytes(0x06).map(<[u8]>::to_vec),
            permissions: m.uint(0x09).and_then(|p| u8::try_from(p).ok()),
            rp_id: m.text_at(0x0A).map(str::to_string),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientPinResponse {
    pub key_agreement: Option<CoseKey>,
    /// Encrypted with the shared secret.
    pub pin_uv_auth_token: Option<Vec<u8>>,
    pub pin_retries: Option<u32>,
    pub power_cycle_state: Option<bool>,
}

impl ClientPinResponse {
    pub fn encode(&self) -> Vec<u8> {
        let mut m = CborMap::new();
        if let Some(k) = &self.key_agreement {
            m.insert(int(0x01), k.to_value());
        }
        if let Some(t) = &self.pin_uv_auth_token {
            m.insert(int(0x02), Value::Bytes(t.clone()));
        }
        if let Some(r) = self.pin_retries {
            m.insert(int(0x03), int(i64::from(r)));
        }
        if let Some(p) = self.power_cycle_state {
            m.insert(int(0x04), Value::Bool(p));
        }
        encode_map(m)
    }

    pub fn decode(bytes: &[u8]) -> Result<ClientPinResponse, String> {
        if bytes.is_empty() {
            return Ok(ClientPinResponse::default());
        }
        let m = decode_map(bytes)?;
        Ok(ClientPinResponse {
            key_agreement: m.at(0x01).and_then(CoseKey::from_value),
            pin_uv_auth_token: m.bytes(0x02).map(<[u8]>::to_vec),
            pin_retries: m.uint(0x03).and_then(|n| u32::try_from(n).ok()),
            power_cycle_state: m.bool_at(0x04),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_pin_retries_is_encoded_as_the_spec_example() {
        // {1: 2, 2: 1}: definite-length, canonical (§8, "CTAP2 canonical CBOR").
        let r = ClientPinRequest::new(2, SubCommand::GetPinRetries);
        assert_eq!(r.encode(), [0xA2, 0x01, 0x02, 0x02, 0x01]);
    }

    #[test]
    fn a_permissions_request_round_trips_with_its_rp_id() {
        let mut r = ClientPinRequest::new(2, SubCommand::GetPinUvAuthTokenUsingPinWithPermissions);
        r.key_agreement = Some(super::super::pin_protocol::KeyAgreement::new().public());
        r.pin_hash_enc = Some(vec![1; 32]);
        r.permissions = Some(Permission::MAKE_CREDENTIAL | Permission::GET_ASSERTION);
        r.rp_id = Some("example.com".into());
        let bytes = r.encode();
        // Keys 1, 2, 3, 6, 9, 10 in canonical order.
        assert_eq!(bytes[0], 0xA6);
        assert_eq!(ClientPinRequest::decode(&bytes).unwrap(), r);
    }

    #[test]
    fn retries_and_power_cycle_state_are_read() {
        let r = ClientPinResponse::decode(&[0xA2, 0x03, 0x05, 0x04, 0xF5]).unwrap();
        assert_eq!((r.pin_retries, r.power_cycle_state), (Some(5), Some(true)));
        let r = ClientPinResponse::decode(&[0xA1, 0x03, 0x08]).unwrap();
        assert_eq!((r.pin_retries, r.power_cycle_state), (Some(8), None));
    }
}
