//! U2F (CTAP1) register and authenticate over CTAPHID_MSG, for U2F-only keys, turned into
//! the WebAuthn shapes a browser would build (`fido-u2f` attestation, authenticatorData).

use crate::device::ctaphid::{Channel, CMD_MSG, QUICK};
use crate::device::transport::Transport;
use crate::device::{
    Assertion, AssertionRequest, DeviceError, MadeCredential, MakeCredentialRequest,
};
use crypto_glue::s256::Sha256;
use crypto_glue::traits::Digest;
use serde_cbor_2::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub const INS_REGISTER: u8 = 0x01;
pub const INS_AUTHENTICATE: u8 = 0x02;
pub const P1_ENFORCE_UP: u8 = 0x03;
pub const P1_CHECK_ONLY: u8 = 0x07;
pub const INS_VERSION: u8 = 0x03;
pub const SW_OK: u16 = 0x9000;
/// The key refused the touch (keyward's virtual key uses it for "deny"; some keys too).
pub const SW_SECURITY_STATUS_NOT_SATISFIED: u16 = 0x6982;
pub const SW_INS_NOT_SUPPORTED: u16 = 0x6D00;
pub const SW_CONDITIONS_NOT_SATISFIED: u16 = 0x6985;
pub const SW_WRONG_DATA: u16 = 0x6A80;
/// How often to ask again while the key waits for a touch (U2F has no keep-alive).
const POLL: Duration = Duration::from_millis(150);

pub fn rp_id_hash(rp_id: &str) -> [u8; 32] {
    Sha256::digest(rp_id.as_bytes()).into()
}

/// An extended-length APDU, as CTAPHID_MSG carries it.
pub fn apdu(ins: u8, p1: u8, data: &[u8]) -> Vec<u8> {
    let mut a = vec![0x00, ins, p1, 0x00, 0x00];
    a.extend_from_slice(&(data.len() as u16).to_be_bytes());
    a.extend_from_slice(data);
    a.extend_from_slice(&[0x00, 0x00]);
    a
}

/// Split a response into its data and status word.
pub fn split_sw(resp: &[u8]) -> Result<(&[u8], u16), DeviceError> {
    if resp.len() < 2 {
        return Err(DeviceError::Transport {
            message: "U2F answer without a status word".into(),
        });
    }
    let (data, sw) = resp.split_at(resp.len() - 2);
    Ok((data, u16::from_be_bytes([sw[0], sw[1]])))
}

fn bad(what: &str) -> DeviceError {
    DeviceError::Transport {
        message: format!("the key's U2F answer could not be read: {what}"),
    }
}

/// The length of the DER element at the start of `der`.
fn der_len(der: &[u8]) -> Option<usize> {
    let first = *der.get(1)?;
    if first < 0x80 {
        return Some(2 + first as usize);
    }
    let n = (first & 0x7F) as usize;
    if n == 0 || n > 3 {
        return None;
    }
    let len = der
        .get(2..2 + n)?
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | *b as usize);
    Some(2 + n + len)
}

/// A U2F registration response as a WebAuthn credential with `fido-u2f` attestation.
pub fn parse_register(data: &[u8], rp_id: &str) -> Result<MadeCredential, DeviceError> {
    if data.first() != Some(&0x05) || data.len() < 67 {
        return Err(bad(
            "registration response does not start with 0x05 and a public key",
        ));
    }
    let public_key = &data[1..66];
    if public_key[0] != 0x04 {
        return Err(bad("public key is not an uncompressed P-256 point"));
    }
    let kh_len = data[66] as usize;
    let key_handle = data
        .get(67..67 + kh_len)
        .ok_or_else(|| bad("key handle runs past the answer"))?;
    let rest = &data[67 + kh_len..];
    let cert_len = der_len(rest)
        .filter(|n| *n <= rest.len())
        .ok_or_else(|| bad("attestation certificate is not DER"))?;
    let (cert, sig) = rest.split_at(cert_len);

    let mut cose = BTreeMap::new();
    cose.insert(Value::Integer(1), Value::Integer(2)); // kty: EC2
    cose.insert(Value::Integer(3), Value::Integer(-7)); // alg: ES256
    cose.insert(Value::Integer(-1), Value::Integer(1)); // crv: P-256
    cose.insert(Value::Integer(-2), Value::Bytes(public_key[1..33].to_vec()));
    cose.insert(
        Value::Integer(-3),
        Value::Bytes(public_key[33..65].to_vec()),
    );
    let cose = serde_cbor_2::to_vec(&Value::Map(cose)).expect("CBOR values always serialise");

    let mut auth_data = rp_id_hash(rp_id).to_vec();
    auth_data.push(0x41); // UP | AT
    auth_data.extend_from_slice(&0u32.to_be_bytes());
    auth_data.extend_from_slice(&[0u8; 16]); // U2F keys have no AAGUID
    auth_data.extend_from_slice(&(key_handle.len() as u16).to_be_bytes());
    auth_data.extend_from_slice(key_handle);
    auth_data.extend_from_slice(&cose);

    let mut stmt = BTreeMap::new();
    stmt.insert(Value::Text("sig".into()), Value::Bytes(sig.to_vec()));
    stmt.insert(
        Value::Text("x5c".into()),
        Value::Array(vec![Value::Bytes(cert.to_vec())]),
    );
    let mut obj = BTreeMap::new();
    obj.insert(Value::Text("fmt".into()), Value::Text("fido-u2f".into()));
    obj.insert(Value::Text("attStmt".into()), Value::Map(stmt));
    obj.insert(
        Value::Text("authData".into()),
        Value::Bytes(auth_data.clone()),
    );
    Ok(MadeCredential {
        credential_id: key_handle.to_vec(),
        attestation_object: serde_cbor_2::to_vec(&Value::Map(obj))
            .expect("CBOR values always serialise"),
        attestation_format: "fido-u2f".into(),
        auth_data,
        aaguid: None,
        attestation_certificates: vec![cert.to_vec()],
        user_verified: false,
        sign_count: 0,
    })
}

/// A U2F authentication response as a WebAuthn assertion.
pub fn parse_authenticate(
    data: &[u8],
    rp_id: &str,
    credential_id: &[u8],
) -> Result<Assertion, DeviceError> {
    if data.len() < 6 {
        return Err(bad("authentication response too short"));
    }
    let mut auth_data = rp_id_hash(rp_id).to_vec();
    auth_data.extend_from_slice(&data[..5]);
    Ok(Assertion {
        credential_id: credential_id.to_vec(),
        auth_data,
        signature: data[5..].to_vec(),
        user_id: None,
        sign_count: u32::from_be_bytes([data[1], data[2], data[3], data[4]]),
        user_verified: false,
    })
}

fn unsupported(what: &str) -> DeviceError {
    DeviceError::Unsupported {
        what: format!("{what} (it is a U2F-only key)"),
    }
}

/// Send an APDU, asking again while the key waits for a touch, until `timeout`.
fn until_touched<T: Transport>(
    ch: &mut Channel<T>,
    apdu: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, DeviceError> {
    let deadline = Instant::now() + timeout;
    loop {
        let resp = ch.transact(CMD_MSG, apdu, QUICK)?.payload;
        let (data, sw) = split_sw(&resp)?;
        match sw {
            SW_OK => return Ok(data.to_vec()),
            SW_CONDITIONS_NOT_SATISFIED if Instant::now() < deadline => std::thread::sleep(POLL),
            SW_CONDITIONS_NOT_SATISFIED => return Err(DeviceError::Timeout),
            SW_WRONG_DATA => return Err(DeviceError::NoCredentials),
            SW_SECURITY_STATUS_NOT_SATISFIED => return Err(DeviceError::OperationDenied),
            other => {
                return Err(DeviceError::Transport {
                    message: format!("the key answered U2F status 0x{other:04X}"),
                })
            }
        }
    }
}

/// Whether this key made `key_handle` for `app` (check-only: no touch, no signature).
fn owns<T: Transport>(
    ch: &mut Channel<T>,
    challenge: &[u8; 32],
    app: &[u8; 32],
    key_handle: &[u8],
) -> Result<bool, DeviceError> {
    let Ok(kh_len) = u8::try_from(key_handle.len()) else {
        return Ok(false);
    };
    let mut data = challenge.to_vec();
    data.extend_from_slice(app);
    data.push(kh_len);
    data.extend_from_slice(key_handle);
    let resp = ch
        .transact(
            CMD_MSG,
            &apdu(INS_AUTHENTICATE, P1_CHECK_ONLY, &data),
            QUICK,
        )?
        .payload;
    Ok(split_sw(&resp)?.1 == SW_CONDITIONS_NOT_SATISFIED)
}

pub fn register<T: Transport>(
    ch: &mut Channel<T>,
    req: &MakeCredentialRequest,
    timeout: Duration,
) -> Result<MadeCredential, DeviceError> {
    if req.user_verification {
        return Err(unsupported("PIN verification"));
    }
    if req.discoverable {
        return Err(unsupported("discoverable credentials (passkeys)"));
    }
    let app = rp_id_hash(&req.rp_id);
    for excluded in &req.exclude_credentials {
        if owns(ch, &req.client_data_hash, &app, excluded)? {
            return Err(DeviceError::CredentialExcluded);
        }
    }
    let mut data = req.client_data_hash.to_vec();
    data.extend_from_slice(&app);
    let resp = until_touched(ch, &apdu(INS_REGISTER, 0x00, &data), timeout)?;
    parse_register(&resp, &req.rp_id)
}

/// Wait for a touch with a throw-away registration (U2F keys keep no state for it): how a
/// U2F-only key takes part in "touch the key you mean".
pub fn wait_for_touch<T: Transport>(
    ch: &mut Channel<T>,
    timeout: Duration,
) -> Result<(), DeviceError> {
    let mut data = vec![0u8; 32];
    data.extend_from_slice(&rp_id_hash(".keyward-selection"));
    until_touched(ch, &apdu(INS_REGISTER, 0x00, &data), timeout).map(drop)
}

pub fn authenticate<T: Transport>(
    ch: &mut Channel<T>,
    req: &AssertionRequest,
    timeout: Duration,
) -> Result<Assertion, DeviceError> {
    if req.user_verification {
        return Err(unsupported("PIN verification"));
    }
    let app = rp_id_hash(&req.rp_id);
    let mut chosen = None;
    for id in &req.allow_credentials {
        if owns(ch, &req.client_data_hash, &app, id)? {
            chosen = Some(id.clone());
            break;
        }
    }
    // U2F keys cannot find credentials on their own: without a matching ID there is nothing.
    let id = chosen.ok_or(DeviceError::NoCredentials)?;
    let mut data = req.client_data_hash.to_vec();
    data.extend_from_slice(&app);
    data.push(id.len() as u8);
    data.extend_from_slice(&id);
    let resp = until_touched(ch, &apdu(INS_AUTHENTICATE, P1_ENFORCE_UP, &data), timeout)?;
    parse_authenticate(&resp, &req.rp_id, &id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::ctaphid::tests::{init_answer, FakeTransport};
    use crate::device::ctaphid::{frame, Channel};

    const CID: [u8; 4] = [0, 0, 0, 9];

    fn register_response() -> Vec<u8> {
        let mut r = vec![0x05, 0x04];
        r.extend_from_slice(&[0x11; 64]);
        r.push(3);
        r.extend_from_slice(&[0xAA, 0xBB, 0xCC]);
        // a 4-byte DER "certificate" with a long-form length, then the signature
        r.extend_from_slice(&[0x30, 0x81, 0x02, 0x05, 0x00]);
        r.extend_from_slice(&[0x30, 0x44, 0x01]);
        r
    }

    #[test]
    fn registration_becomes_fido_u2f_attestation() {
        let made = parse_register(&register_response(), "example.com").unwrap();
        assert_eq!(made.credential_id, [0xAA, 0xBB, 0xCC]);
        assert_eq!(made.attestation_format, "fido-u2f");
        assert_eq!(
            made.attestation_certificates,
            vec![vec![0x30, 0x81, 0x02, 0x05, 0x00]]
        );
        assert_eq!(&made.auth_data[..32], &rp_id_hash("example.com"));
        assert_eq!(made.auth_data[32], 0x41);
        let obj: Value = serde_cbor_2::from_slice(&made.attestation_object).unwrap();
        let Value::Map(obj) = obj else { panic!() };
        let Some(Value::Map(stmt)) = obj.get(&Value::Text("attStmt".into())) else {
            panic!()
        };
        assert_eq!(
            stmt.get(&Value::Text("sig".into())),
            Some(&Value::Bytes(vec![0x30, 0x44, 0x01]))
        );
    }

    #[test]
    fn malformed_registration_is_an_error() {
        let mut r = register_response();
        r[0] = 0x04;
        assert!(parse_register(&r, "a").is_err());
        let r = register_response();
        assert!(parse_register(&r[..70], "a").is_err());
    }

    fn msg(data: &[u8]) -> Option<[u8; 64]> {
        Some(frame(CID, CMD_MSG, data).unwrap()[0])
    }

    #[test]
    fn register_asks_again_until_the_key_is_touched() {
        let mut t = FakeTransport::default();
        t.script.push_back(Some(init_answer([3; 8], CID)));
        t.script.push_back(msg(&[0x69, 0x85]));
        t.script.push_back(msg(&[0x69, 0x85]));
        let mut ok = register_response();
        ok.extend_from_slice(&[0x90, 0x00]);
        for p in frame(CID, CMD_MSG, &ok).unwrap() {
            t.script.push_back(Some(p));
        }
        let mut ch = Channel::open_with_nonce(t, [3; 8]).unwrap();
        let req = MakeCredentialRequest {
            client_data_hash: [1; 32],
            rp_id: "example.com".into(),
            rp_name: None,
            user_id: vec![1],
            user_name: "a".into(),
            user_display_name: None,
            discoverable: false,
            user_verification: false,
            exclude_credentials: vec![],
        };
        let made = register(&mut ch, &req, Duration::from_secs(5)).unwrap();
        assert_eq!(made.credential_id, [0xAA, 0xBB, 0xCC]);
        let passkey = MakeCredentialRequest {
            discoverable: true,
            ..req
        };
        assert!(matches!(
            register(&mut ch, &passkey, Duration::from_secs(5)),
            Err(DeviceError::Unsupported { .. })
        ));
    }

    #[test]
    fn assertion_authdata_is_rp_hash_flags_and_counter() {
        let a = parse_authenticate(&[0x01, 0, 0, 0, 7, 0x30, 0x45], "example.com", &[9]).unwrap();
        assert_eq!(a.sign_count, 7);
        assert_eq!(a.auth_data.len(), 37);
        assert_eq!(a.signature, [0x30, 0x45]);
        assert_eq!(
            apdu(INS_REGISTER, 0, &[1, 2]),
            [0, 1, 0, 0, 0, 0, 2, 1, 2, 0, 0]
        );
    }
}
