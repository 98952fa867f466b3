//! authenticatorMakeCredential (0x01), CTAP 2.1 §6.1: the host encodes the caller's request
//! with its exact clientDataHash; the virtual key decodes the same fields.
//!
//! Reference: <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#authenticatorMakeCredential>

use super::cbor::{
    credential_descriptor, decode_map, descriptor_ids, encode_map, int, text, text_map, CborMap,
    MapExt,
};
use super::PinAuth;
use crate::device::auth_data::AuthData;
use crate::device::{DeviceError, MadeCredential, MakeCredentialRequest};
use serde_cbor_2::Value;

/// COSE ES256, the only algorithm keyward asks for.
pub const ES256: i64 = -7;

pub fn encode_request(req: &MakeCredentialRequest, auth: Option<&PinAuth>) -> Vec<u8> {
    let mut rp = vec![("id", text(&req.rp_id))];
    if let Some(name) = &req.rp_name {
        rp.push(("name", text(name)));
    }
    let user = text_map(vec![
        ("id", Value::Bytes(req.user_id.clone())),
        ("name", text(&req.user_name)),
        (
            "displayName",
            text(req.user_display_name.as_deref().unwrap_or(&req.user_name)),
        ),
    ]);
    let mut m = CborMap::new();
    m.insert(int(0x01), Value::Bytes(req.client_data_hash.to_vec()));
    m.insert(int(0x02), text_map(rp));
    m.insert(int(0x03), user);
    m.insert(
        int(0x04),
        Value::Array(vec![text_map(vec![
            ("alg", int(ES256)),
            ("type", text("public-key")),
        ])]),
    );
    if !req.exclude_credentials.is_empty() {
        m.insert(
            int(0x05),
            Value::Array(
                req.exclude_credentials
                    .iter()
                    .map(|c| credential_descriptor(c))
                    .collect(),
            ),
        );
    }
    if req.discoverable {
        m.insert(int(0x07), text_map(vec![("rk", Value::Bool(true))]));
    }
    if let Some(a) = auth {
        m.insert(int(0x08), Value::Bytes(a.param.clone()));
        m.insert(int(0x09), int(i64::from(a.protocol)));
    }
    encode_map(m)
}

/// The request as an authenticator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub client_data_hash: Vec<u8>,
    pub rp_id: String,
    pub rp_name: Option<String>,
    pub user_id: Vec<u8>,
    pub user_name: Option<String>,
    pub user_display_name: Option<String>,
    pub algorithms: Vec<i64>,
    pub exclude: Vec<Vec<u8>>,
    /// credProtect level asked for (1..3).
    pub cred_protect: Option<u8>,
    pub min_pin_length_ext: bool,
    pub rk: bool,
    pub uv_option: Option<bool>,
    pub up_option: Option<bool>,
    pub pin_uv_auth_param: Option<Vec<u8>>,
    pub protocol: Option<u64>,
}

/// `Err(true)` = a required parameter is missing, `Err(false)` = malformed.
pub fn decode_request(bytes: &[u8]) -> Result<Params, bool> {
    let m = decode_map(bytes).map_err(|_| false)?;
    let cdh = m.bytes(0x01).ok_or(true)?.to_vec();
    let rp = m.map_at(0x02).ok_or(true)?;
    let user = m.map_at(0x03).ok_or(true)?;
    let algs = m.array_at(0x04).ok_or(true)?;
    let algorithms = algs
        .iter()
        .filter_map(|a| match a {
            Value::Map(e) => match e.field("alg") {
                Some(Value::Integer(i)) => i64::try_from(*i).ok(),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let ext = m.map_at(0x06);
    let opts = m.map_at(0x07);
    let opt = |name: &str| {
        opts.and_then(|o| match o.field(name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        })
    };
    Ok(Params {
        client_data_hash: cdh,
        rp_id: rp.field_text("id").ok_or(true)?.to_string(),
        rp_name: rp.field_text("name").map(str::to_string),
        user_id: user.field_bytes("id").ok_or(true)?.to_vec(),
        user_name: user.field_text("name").map(str::to_string),
        user_display_name: user.field_text("displayName").map(str::to_string),
        algorithms,
        exclude: descriptor_ids(m.at(0x05)),
        cred_protect: ext
            .and_then(|e| e.field("credProtect"))
            .and_then(super::cbor::as_u64)
            .and_then(|n| u8::try_from(n).ok()),
        min_pin_length_ext: matches!(
            ext.and_then(|e| e.field("minPinLength")),
            Some(Value::Bool(true))
        ),
        rk: opt("rk").unwrap_or(false),
        uv_option: opt("uv"),
        up_option: opt("up"),
        pin_uv_auth_param: m.bytes(0x08).map(<[u8]>::to_vec),
        protocol: m.uint(0x09),
    })
}

/// The response: fmt, authData, attStmt.
pub fn encode_response(fmt: &str, auth_data: &[u8], att_stmt: Value) -> Vec<u8> {
    let mut m = CborMap::new();
    m.insert(int(0x01), text(fmt));
    m.insert(int(0x02), Value::Bytes(auth_data.to_vec()));
    m.insert(int(0x03), att_stmt);
    encode_map(m)
}

pub fn decode_response(bytes: &[u8]) -> Result<MadeCredential, DeviceError> {
    let bad = super::unreadable;
    let m = decode_map(bytes).map_err(|e| bad(&e))?;
    let fmt = m
        .text_at(0x01)
        .ok_or_else(|| bad("makeCredential without fmt"))?
        .to_string();
    let auth_data = m
        .bytes(0x02)
        .ok_or_else(|| bad("makeCredential without authData"))?
        .to_vec();
    let att_stmt = m.at(0x03).cloned().unwrap_or(Value::Map(CborMap::new()));
    let parsed = AuthData::parse(&auth_data).map_err(|e| bad(&e))?;
    let attested = parsed
        .attested
        .as_ref()
        .ok_or_else(|| bad("makeCredential without attested credential data"))?;
    let attestation_certificates = match &att_stmt {
        Value::Map(s) => match s.field("x5c") {
            Some(Value::Array(certs)) => certs
                .iter()
                .filter_map(super::cbor::as_bytes)
                .map(<[u8]>::to_vec)
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    // The WebAuthn attestationObject, as a browser builds it from the CTAP response.
    let obj = text_map(vec![
        ("fmt", text(&fmt)),
        ("attStmt", att_stmt),
        ("authData", Value::Bytes(auth_data.clone())),
    ]);
    Ok(MadeCredential {
        credential_id: attested.credential_id.clone(),
        attestation_object: super::cbor::encode(&obj),
        attestation_format: fmt,
        aaguid: Some(attested.aaguid),
        user_verified: parsed.user_verified(),
        sign_count: parsed.sign_count,
        auth_data,
        attestation_certificates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> MakeCredentialRequest {
        MakeCredentialRequest {
            client_data_hash: [7; 32],
            rp_id: "example.com".into(),
            rp_name: None,
            user_id: vec![1, 2],
            user_name: "ana".into(),
            user_display_name: None,
            discoverable: true,
            user_verification: true,
            exclude_credentials: vec![vec![9; 16]],
        }
    }

    #[test]
    fn the_exact_client_data_hash_and_pin_auth_reach_the_key() {
        let auth = PinAuth {
            param: vec![0xAA; 16],
            protocol: 2,
        };
        let bytes = encode_request(&request(), Some(&auth));
        // Canonical CBOR: keys 1,2,3,4,5,7,8,9.
        assert_eq!(bytes[..2], [0xA8, 0x01]);
        let p = decode_request(&bytes).unwrap();
        assert_eq!(p.client_data_hash, vec![7; 32]);
        assert_eq!(p.pin_uv_auth_param, Some(vec![0xAA; 16]));
        assert_eq!(p.protocol, Some(2));
        assert!(p.rk);
        assert_eq!(p.exclude, vec![vec![9; 16]]);
        assert_eq!(p.algorithms, vec![ES256]);
        assert_eq!(p.user_display_name.as_deref(), Some("ana"));
    }

    #[test]
    fn a_request_without_user_is_missing_a_parameter() {
        let mut m = CborMap::new();
        m.insert(int(1), Value::Bytes(vec![0; 32]));
        assert_eq!(decode_request(&encode_map(m)), Err(true));
        assert_eq!(decode_request(b"\xff"), Err(false));
    }
}
