//! authenticatorGetAssertion (0x02) and authenticatorGetNextAssertion (0x08), CTAP 2.1 §6.2
//! and §6.3.
//!
//! Reference: <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#authenticatorGetAssertion>

use super::cbor::{
    credential_descriptor, decode_map, descriptor_ids, encode_map, int, text, CborMap, MapExt,
};
use super::PinAuth;
use crate::device::auth_data::AuthData;
use crate::device::{Assertion, AssertionRequest, DeviceError};
use serde_cbor_2::Value;

pub fn encode_request(req: &AssertionRequest, auth: Option<&PinAuth>) -> Vec<u8> {
    let mut m = CborMap::new();
    m.insert(int(0x01), text(&req.rp_id));
    m.insert(int(0x02), Value::Bytes(req.client_data_hash.to_vec()));
    if !req.allow_credentials.is_empty() {
        m.insert(
            int(0x03),
            Value::Array(
                req.allow_credentials
                    .iter()
                    .map(|c| credential_descriptor(c))
                    .collect(),
            ),
        );
    }
    if let Some(a) = auth {
        m.insert(int(0x06), Value::Bytes(a.param.clone()));
        m.insert(int(0x07), int(i64::from(a.protocol)));
    }
    encode_map(m)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub rp_id: String,
    pub client_data_hash: Vec<u8>,
    pub allow: Vec<Vec<u8>>,
    pub up_option: Option<bool>,
    pub uv_option: Option<bool>,
    pub rk_option: Option<bool>,
    pub pin_uv_auth_param: Option<Vec<u8>>,
    pub protocol: Option<u64>,
}

pub fn decode_request(bytes: &[u8]) -> Result<Params, bool> {
    let m = decode_map(bytes).map_err(|_| false)?;
    let opts = m.map_at(0x05);
    let opt = |name: &str| {
        opts.and_then(|o| match o.field(name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        })
    };
    Ok(Params {
        rp_id: m.text_at(0x01).ok_or(true)?.to_string(),
        client_data_hash: m.bytes(0x02).ok_or(true)?.to_vec(),
        allow: descriptor_ids(m.at(0x03)),
        up_option: opt("up"),
        uv_option: opt("uv"),
        rk_option: opt("rk"),
        pin_uv_auth_param: m.bytes(0x06).map(<[u8]>::to_vec),
        protocol: m.uint(0x07),
    })
}

/// One assertion as the key sends it.
pub struct Response<'a> {
    pub credential_id: &'a [u8],
    pub auth_data: &'a [u8],
    pub signature: &'a [u8],
    /// The user entity, for discoverable credentials.
    pub user: Option<Value>,
    /// Only in the first answer to a getAssertion that matched several credentials.
    pub number_of_credentials: Option<u32>,
}

impl Response<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let mut m = CborMap::new();
        m.insert(int(0x01), credential_descriptor(self.credential_id));
        m.insert(int(0x02), Value::Bytes(self.auth_data.to_vec()));
        m.insert(int(0x03), Value::Bytes(self.signature.to_vec()));
        if let Some(u) = &self.user {
            m.insert(int(0x04), u.clone());
        }
        if let Some(n) = self.number_of_credentials {
            m.insert(int(0x05), int(i64::from(n)));
        }
        encode_map(m)
    }
}

/// An assertion and, for the first one, how many credentials matched.
pub fn decode_response(
    bytes: &[u8],
    req: &AssertionRequest,
) -> Result<(Assertion, Option<u32>), DeviceError> {
    let bad = super::unreadable;
    let m = decode_map(bytes).map_err(|e| bad(&e))?;
    // A key may leave out the credential when the allow list named exactly one.
    let credential_id = match m.map_at(0x01) {
        Some(c) => c
            .field_bytes("id")
            .map(<[u8]>::to_vec)
            .ok_or_else(|| bad("credential without id"))?,
        None => match req.allow_credentials.as_slice() {
            [only] => only.clone(),
            _ => return Err(bad("getAssertion without credential")),
        },
    };
    let auth_data = m
        .bytes(0x02)
        .ok_or_else(|| bad("getAssertion without authData"))?
        .to_vec();
    let signature = m
        .bytes(0x03)
        .ok_or_else(|| bad("getAssertion without signature"))?
        .to_vec();
    let user_id = m
        .map_at(0x04)
        .and_then(|u| u.field_bytes("id"))
        .map(<[u8]>::to_vec);
    let parsed = AuthData::parse(&auth_data).map_err(|e| bad(&e))?;
    let count = m.uint(0x05).and_then(|n| u32::try_from(n).ok());
    Ok((
        Assertion {
            credential_id,
            auth_data,
            signature,
            user_id,
            sign_count: parsed.sign_count,
            user_verified: parsed.user_verified(),
        },
        count,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_credential_the_single_allowed_one_is_meant() {
        let req = AssertionRequest {
            client_data_hash: [1; 32],
            rp_id: "example.com".into(),
            allow_credentials: vec![vec![4; 8]],
            user_verification: false,
        };
        let mut a = vec![0x22; 32];
        a.push(0x01);
        a.extend_from_slice(&9u32.to_be_bytes());
        let mut resp = CborMap::new();
        resp.insert(int(2), Value::Bytes(a));
        resp.insert(int(3), Value::Bytes(vec![0x30]));
        let (got, n) = decode_response(&encode_map(resp), &req).unwrap();
        assert_eq!(got.credential_id, vec![4; 8]);
        assert_eq!((got.sign_count, n), (9, None));
        assert!(!got.user_verified);
        let sent = decode_request(&encode_request(&req, None)).unwrap();
        assert_eq!(sent.client_data_hash, vec![1; 32]);
        assert_eq!(sent.allow, vec![vec![4; 8]]);
        assert_eq!(sent.pin_uv_auth_param, None);
    }
}
