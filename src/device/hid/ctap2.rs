//! The CTAP2 messages we encode and parse ourselves (getInfo, getPINRetries, makeCredential,
//! getAssertion), so that they carry the caller's exact clientDataHash and report every field
//! the key sends. Requests use canonical CBOR (serde_cbor_2 orders map keys canonically).

use super::super::{
    Assertion, AssertionRequest, DeviceError, KeyInfo, MadeCredential, MakeCredentialRequest,
};
use serde_cbor_2::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

pub const CTAP_CLIENT_PIN: u8 = 0x06;
pub const CTAP_GET_INFO: u8 = 0x04;

const FLAG_UV: u8 = 0x04;

fn bad(what: &str) -> DeviceError {
    DeviceError::Transport {
        message: format!("the key's answer could not be read: {what}"),
    }
}

fn int(i: i64) -> Value {
    Value::Integer(i128::from(i))
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn encode(map: BTreeMap<Value, Value>) -> Vec<u8> {
    serde_cbor_2::to_vec(&Value::Map(map)).expect("CBOR values always serialise")
}

fn decode_map(bytes: &[u8]) -> Result<BTreeMap<Value, Value>, DeviceError> {
    match serde_cbor_2::from_slice::<Value>(bytes) {
        Ok(Value::Map(m)) => Ok(m),
        Ok(_) => Err(bad("not a CBOR map")),
        Err(e) => Err(bad(&format!("invalid CBOR ({e})"))),
    }
}

fn get(map: &BTreeMap<Value, Value>, key: i64) -> Option<&Value> {
    map.get(&int(key))
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => u64::try_from(*i).ok(),
        _ => None,
    }
}

fn as_bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

fn as_text(v: &Value) -> Option<&str> {
    match v {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

fn texts(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(as_text).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// authenticatorGetInfo's response, in domain terms.
pub fn parse_info(bytes: &[u8]) -> Result<KeyInfo, DeviceError> {
    let m = decode_map(bytes)?;
    let versions = texts(get(&m, 0x01));
    if versions.is_empty() {
        return Err(bad("getInfo without versions"));
    }
    let options = match get(&m, 0x04) {
        Some(Value::Map(o)) => o
            .iter()
            .filter_map(|(k, v)| match (k, v) {
                (Value::Text(k), Value::Bool(b)) => Some((k.clone(), *b)),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    let pin_uv_protocols = match get(&m, 0x06) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(as_u64)
            .filter_map(|p| u32::try_from(p).ok())
            .collect(),
        _ => Vec::new(),
    };
    let algorithms = match get(&m, 0x0A) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|entry| match entry {
                Value::Map(e) => match e.get(&text("alg")) {
                    Some(Value::Integer(i)) => i64::try_from(*i).ok(),
                    _ => None,
                },
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(KeyInfo {
        versions,
        aaguid: get(&m, 0x03)
            .and_then(as_bytes)
            .and_then(|b| Uuid::from_slice(b).ok()),
        options,
        extensions: texts(get(&m, 0x02)),
        pin_uv_protocols,
        min_pin_length: get(&m, 0x0D)
            .and_then(as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(4),
        force_pin_change: matches!(get(&m, 0x0C), Some(Value::Bool(true))),
        firmware_version: get(&m, 0x0E).and_then(as_u64),
        remaining_discoverable_credentials: get(&m, 0x14)
            .and_then(as_u64)
            .and_then(|n| u32::try_from(n).ok()),
        transports: texts(get(&m, 0x09)),
        algorithms,
    })
}

/// What a U2F-only key (no CTAPHID_CBOR capability) can say about itself.
pub fn u2f_only_info() -> KeyInfo {
    KeyInfo {
        versions: vec!["U2F_V2".into()],
        aaguid: None,
        options: BTreeMap::new(),
        extensions: Vec::new(),
        pin_uv_protocols: Vec::new(),
        min_pin_length: 4,
        force_pin_change: false,
        firmware_version: None,
        remaining_discoverable_credentials: None,
        transports: vec!["usb".into()],
        algorithms: vec![-7],
    }
}

/// authenticatorClientPIN getPINRetries.
pub fn get_retries_request(protocol: u8) -> Vec<u8> {
    let mut m = BTreeMap::new();
    m.insert(int(0x01), int(i64::from(protocol)));
    m.insert(int(0x02), int(0x01));
    encode(m)
}

/// (retries, powerCycleState) from getPINRetries.
pub fn parse_retries(bytes: &[u8]) -> Result<(u32, bool), DeviceError> {
    let m = decode_map(bytes)?;
    let retries = get(&m, 0x03)
        .and_then(as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad("getPINRetries without pinRetries"))?;
    Ok((retries, matches!(get(&m, 0x04), Some(Value::Bool(true)))))
}

fn descriptor(id: &[u8]) -> Value {
    let mut d = BTreeMap::new();
    d.insert(text("id"), Value::Bytes(id.to_vec()));
    d.insert(text("type"), text("public-key"));
    Value::Map(d)
}

/// The pinUvAuthParam and protocol, when the PIN token is used.
pub struct PinAuth {
    pub param: Vec<u8>,
    pub protocol: u8,
}

/// A CTAP 2.0 "touch to select" probe: makeCredential with a zero-length pinAuth, which a key
/// answers after a touch with PIN_NOT_SET or PIN_INVALID, creating nothing (CTAP 2.0 §5.1).
pub fn touch_probe_request() -> Vec<u8> {
    let req = MakeCredentialRequest {
        client_data_hash: [0; 32],
        rp_id: ".dummy".into(),
        rp_name: None,
        user_id: vec![0],
        user_name: "dummy".into(),
        user_display_name: None,
        discoverable: false,
        user_verification: false,
        exclude_credentials: Vec::new(),
    };
    let auth = PinAuth {
        param: Vec::new(),
        protocol: 1,
    };
    make_credential_request(&req, Some(&auth))
}

pub fn make_credential_request(req: &MakeCredentialRequest, auth: Option<&PinAuth>) -> Vec<u8> {
    let mut rp = BTreeMap::new();
    rp.insert(text("id"), text(&req.rp_id));
    if let Some(name) = &req.rp_name {
        rp.insert(text("name"), text(name));
    }
    let mut user = BTreeMap::new();
    user.insert(text("id"), Value::Bytes(req.user_id.clone()));
    user.insert(text("name"), text(&req.user_name));
    user.insert(
        text("displayName"),
        text(req.user_display_name.as_deref().unwrap_or(&req.user_name)),
    );
    let mut es256 = BTreeMap::new();
    es256.insert(text("alg"), int(-7));
    es256.insert(text("type"), text("public-key"));

    let mut m = BTreeMap::new();
    m.insert(int(0x01), Value::Bytes(req.client_data_hash.to_vec()));
    m.insert(int(0x02), Value::Map(rp));
    m.insert(int(0x03), Value::Map(user));
    m.insert(int(0x04), Value::Array(vec![Value::Map(es256)]));
    if !req.exclude_credentials.is_empty() {
        m.insert(
            int(0x05),
            Value::Array(
                req.exclude_credentials
                    .iter()
                    .map(|c| descriptor(c))
                    .collect(),
            ),
        );
    }
    if req.discoverable {
        let mut o = BTreeMap::new();
        o.insert(text("rk"), Value::Bool(true));
        m.insert(int(0x07), Value::Map(o));
    }
    if let Some(a) = auth {
        m.insert(int(0x08), Value::Bytes(a.param.clone()));
        m.insert(int(0x09), int(i64::from(a.protocol)));
    }
    encode(m)
}

/// The parts of authenticatorData we report.
struct AuthData {
    flags: u8,
    sign_count: u32,
    aaguid: Option<Uuid>,
    credential_id: Option<Vec<u8>>,
}

fn parse_auth_data(a: &[u8]) -> Result<AuthData, DeviceError> {
    if a.len() < 37 {
        return Err(bad("authenticator data too short"));
    }
    let flags = a[32];
    let sign_count = u32::from_be_bytes([a[33], a[34], a[35], a[36]]);
    let (mut aaguid, mut credential_id) = (None, None);
    if flags & 0x40 != 0 {
        if a.len() < 55 {
            return Err(bad("attested credential data too short"));
        }
        aaguid = Uuid::from_slice(&a[37..53]).ok();
        let len = u16::from_be_bytes([a[53], a[54]]) as usize;
        let id = a
            .get(55..55 + len)
            .ok_or_else(|| bad("credential ID runs past the authenticator data"))?;
        credential_id = Some(id.to_vec());
    }
    Ok(AuthData {
        flags,
        sign_count,
        aaguid,
        credential_id,
    })
}

pub fn parse_make_credential(bytes: &[u8]) -> Result<MadeCredential, DeviceError> {
    let m = decode_map(bytes)?;
    let fmt = get(&m, 0x01)
        .and_then(as_text)
        .ok_or_else(|| bad("makeCredential without fmt"))?
        .to_string();
    let auth_data = get(&m, 0x02)
        .and_then(as_bytes)
        .ok_or_else(|| bad("makeCredential without authData"))?
        .to_vec();
    let att_stmt = get(&m, 0x03)
        .cloned()
        .unwrap_or(Value::Map(BTreeMap::new()));
    let parsed = parse_auth_data(&auth_data)?;
    let credential_id = parsed
        .credential_id
        .ok_or_else(|| bad("makeCredential without attested credential data"))?;
    let attestation_certificates = match &att_stmt {
        Value::Map(s) => match s.get(&text("x5c")) {
            Some(Value::Array(certs)) => certs
                .iter()
                .filter_map(as_bytes)
                .map(<[u8]>::to_vec)
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    // The WebAuthn attestationObject, as a browser builds it from the CTAP response.
    let mut obj = BTreeMap::new();
    obj.insert(text("fmt"), text(&fmt));
    obj.insert(text("attStmt"), att_stmt);
    obj.insert(text("authData"), Value::Bytes(auth_data.clone()));
    Ok(MadeCredential {
        credential_id,
        attestation_object: encode(obj),
        attestation_format: fmt,
        aaguid: parsed.aaguid,
        auth_data,
        attestation_certificates,
        user_verified: parsed.flags & FLAG_UV != 0,
        sign_count: parsed.sign_count,
    })
}

pub fn get_assertion_request(req: &AssertionRequest, auth: Option<&PinAuth>) -> Vec<u8> {
    let mut m = BTreeMap::new();
    m.insert(int(0x01), text(&req.rp_id));
    m.insert(int(0x02), Value::Bytes(req.client_data_hash.to_vec()));
    if !req.allow_credentials.is_empty() {
        m.insert(
            int(0x03),
            Value::Array(
                req.allow_credentials
                    .iter()
                    .map(|c| descriptor(c))
                    .collect(),
            ),
        );
    }
    if let Some(a) = auth {
        m.insert(int(0x06), Value::Bytes(a.param.clone()));
        m.insert(int(0x07), int(i64::from(a.protocol)));
    }
    encode(m)
}

pub fn parse_get_assertion(bytes: &[u8], req: &AssertionRequest) -> Result<Assertion, DeviceError> {
    let m = decode_map(bytes)?;
    // A key may leave out the credential when the allow list named exactly one.
    let credential_id = match get(&m, 0x01) {
        Some(Value::Map(c)) => c
            .get(&text("id"))
            .and_then(as_bytes)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| bad("credential without id"))?,
        _ => match req.allow_credentials.as_slice() {
            [only] => only.clone(),
            _ => return Err(bad("getAssertion without credential")),
        },
    };
    let auth_data = get(&m, 0x02)
        .and_then(as_bytes)
        .ok_or_else(|| bad("getAssertion without authData"))?
        .to_vec();
    let signature = get(&m, 0x03)
        .and_then(as_bytes)
        .ok_or_else(|| bad("getAssertion without signature"))?
        .to_vec();
    let user_id = match get(&m, 0x04) {
        Some(Value::Map(u)) => u.get(&text("id")).and_then(as_bytes).map(<[u8]>::to_vec),
        _ => None,
    };
    let parsed = parse_auth_data(&auth_data)?;
    Ok(Assertion {
        credential_id,
        auth_data,
        signature,
        user_id,
        sign_count: parsed.sign_count,
        user_verified: parsed.flags & FLAG_UV != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // YubiKey Bio getInfo, from ctap-hid-fido2 3.6.1's own tests (get_info/mod.rs).
    const YUBIKEY_BIO_INFO: &str = "B30184665532465F5632684649444F5F325F306C4649444F5F325F315F505245684649444F5F325F3102856B6372656450726F746563746B686D61632D7365637265746C6C61726765426C6F624B65796863726564426C6F626C6D696E50696E4C656E6774680350D8522D9F575B486688A9BA99FA02F35B04B062726BF5627570F5627576F564706C6174F4677576546F6B656EF568616C776179735576F568637265644D676D74F569617574686E72436667F56962696F456E726F6C6CF569636C69656E7450696EF56A6C61726765426C6F6273F56E70696E557641757468546F6B656EF56F7365744D696E50494E4C656E677468F5706D616B654372656455764E6F74527164F47563726564656E7469616C4D676D7450726576696577F5781B75736572566572696669636174696F6E4D676D7450726576696577F5051904B00682020107080818800981637573620A82A263616C672664747970656A7075626C69632D6B6579A263616C672764747970656A7075626C69632D6B65790B1904000CF40D040E1A000505060F18201001110312021415";

    #[test]
    fn get_info_of_a_real_key_is_read_fully() {
        let info = parse_info(&hex::decode(YUBIKEY_BIO_INFO).unwrap()).unwrap();
        assert_eq!(
            info.versions,
            ["U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"]
        );
        assert_eq!(
            info.aaguid.unwrap().to_string(),
            "d8522d9f-575b-4866-88a9-ba99fa02f35b"
        );
        assert!(info.supports_ctap21() && info.supports_credential_management());
        assert_eq!(info.pin_is_set(), Some(true));
        assert!(info.always_uv());
        assert_eq!(info.pin_uv_protocols, [2, 1]);
        assert_eq!(info.algorithms, [-7, -8]);
        assert_eq!(info.min_pin_length, 4);
        assert_eq!(info.firmware_version, Some(328966));
        assert_eq!(info.remaining_discoverable_credentials, Some(21));
        assert_eq!(info.transports, ["usb"]);
        assert!(!info.force_pin_change);
    }

    #[test]
    fn get_info_without_optional_fields_keeps_them_absent() {
        let mut m = BTreeMap::new();
        m.insert(int(1), Value::Array(vec![text("FIDO_2_0")]));
        let info = parse_info(&encode(m)).unwrap();
        assert_eq!(info.remaining_discoverable_credentials, None);
        assert_eq!(info.firmware_version, None);
        assert_eq!(info.min_pin_length, 4);
        assert_eq!(info.pin_is_set(), None);
        assert!(parse_info(b"\x01").is_err());
    }

    #[test]
    fn retries_and_power_cycle_state_are_read() {
        assert_eq!(
            parse_retries(&[0xA2, 0x03, 0x05, 0x04, 0xF5]).unwrap(),
            (5, true)
        );
        assert_eq!(parse_retries(&[0xA1, 0x03, 0x08]).unwrap(), (8, false));
        assert!(parse_retries(&[0xA0]).is_err());
        // {1: 2, 2: 1}
        assert_eq!(get_retries_request(2), [0xA2, 0x01, 0x02, 0x02, 0x01]);
    }

    fn mc_request() -> MakeCredentialRequest {
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
    fn make_credential_sends_the_exact_client_data_hash() {
        let auth = PinAuth {
            param: vec![0xAA; 16],
            protocol: 2,
        };
        let bytes = make_credential_request(&mc_request(), Some(&auth));
        let m = decode_map(&bytes).unwrap();
        assert_eq!(get(&m, 1), Some(&Value::Bytes(vec![7; 32])));
        assert_eq!(get(&m, 8), Some(&Value::Bytes(vec![0xAA; 16])));
        assert_eq!(get(&m, 9), Some(&int(2)));
        let Some(Value::Map(o)) = get(&m, 7) else {
            panic!("options missing")
        };
        assert_eq!(o.get(&text("rk")), Some(&Value::Bool(true)));
        // Canonical CBOR: map keys 1,2,3,4,5,7,8,9 in that order; user map "id","name","displayName".
        assert_eq!(bytes[0], 0xA8);
        assert_eq!(bytes[1], 0x01);
        let user = serde_cbor_2::to_vec(get(&m, 3).unwrap()).unwrap();
        let pos = |needle: &[u8]| {
            user.windows(needle.len())
                .position(|w| w == needle)
                .unwrap()
        };
        assert!(pos(b"id") < pos(b"name") && pos(b"name") < pos(b"displayName"));
    }

    fn auth_data_with_credential(id: &[u8], flags: u8) -> Vec<u8> {
        let mut a = vec![0x11; 32];
        a.push(flags | 0x40);
        a.extend_from_slice(&3u32.to_be_bytes());
        a.extend_from_slice(&[0xAB; 16]);
        a.extend_from_slice(&(id.len() as u16).to_be_bytes());
        a.extend_from_slice(id);
        a.extend_from_slice(&[0xA0]); // a stand-in COSE key
        a
    }

    #[test]
    fn make_credential_response_becomes_a_webauthn_attestation_object() {
        let auth_data = auth_data_with_credential(&[5; 20], 0x05);
        let mut stmt = BTreeMap::new();
        stmt.insert(text("alg"), int(-7));
        stmt.insert(text("sig"), Value::Bytes(vec![1, 2, 3]));
        stmt.insert(
            text("x5c"),
            Value::Array(vec![Value::Bytes(vec![0x30, 0x00])]),
        );
        let mut resp = BTreeMap::new();
        resp.insert(int(1), text("packed"));
        resp.insert(int(2), Value::Bytes(auth_data.clone()));
        resp.insert(int(3), Value::Map(stmt.clone()));
        let made = parse_make_credential(&encode(resp)).unwrap();
        assert_eq!(made.credential_id, vec![5; 20]);
        assert_eq!(made.attestation_format, "packed");
        assert_eq!(made.attestation_certificates, vec![vec![0x30, 0x00]]);
        assert!(made.user_verified);
        assert_eq!(made.sign_count, 3);
        assert_eq!(made.aaguid, Some(Uuid::from_bytes([0xAB; 16])));
        let obj = decode_map(&made.attestation_object).unwrap();
        assert_eq!(obj.get(&text("fmt")), Some(&text("packed")));
        assert_eq!(obj.get(&text("authData")), Some(&Value::Bytes(auth_data)));
        assert_eq!(obj.get(&text("attStmt")), Some(&Value::Map(stmt)));
    }

    #[test]
    fn truncated_authenticator_data_is_an_error() {
        let mut auth_data = auth_data_with_credential(&[5; 20], 0);
        auth_data.truncate(60);
        let mut resp = BTreeMap::new();
        resp.insert(int(1), text("none"));
        resp.insert(int(2), Value::Bytes(auth_data));
        assert!(parse_make_credential(&encode(resp)).is_err());
    }

    #[test]
    fn assertion_without_credential_takes_the_single_allowed_one() {
        let req = AssertionRequest {
            client_data_hash: [1; 32],
            rp_id: "example.com".into(),
            allow_credentials: vec![vec![4; 8]],
            user_verification: false,
        };
        let mut a = vec![0x22; 32];
        a.push(0x01);
        a.extend_from_slice(&9u32.to_be_bytes());
        let mut resp = BTreeMap::new();
        resp.insert(int(2), Value::Bytes(a));
        resp.insert(int(3), Value::Bytes(vec![0x30]));
        let got = parse_get_assertion(&encode(resp), &req).unwrap();
        assert_eq!(got.credential_id, vec![4; 8]);
        assert_eq!(got.sign_count, 9);
        assert!(!got.user_verified);
        let sent = decode_map(&get_assertion_request(&req, None)).unwrap();
        assert_eq!(get(&sent, 2), Some(&Value::Bytes(vec![1; 32])));
        assert_eq!(get(&sent, 6), None);
    }
}
