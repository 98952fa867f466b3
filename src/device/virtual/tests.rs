use super::*;
use crate::device::{AssertionRequest, MadeCredential, MakeCredentialRequest};
use crate::pin::Pin;
use crypto_glue::traits::DecodeDer;
use crypto_glue::x509::{x509_verify_signature, Certificate, X509Store};

/// A key reached as every caller reaches it: the CTAP host over the virtual wire.
fn key(profile: Profile) -> (tempfile::TempDir, PathBuf, Box<dyn Authenticator>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.key");
    create(&path, profile, 2).unwrap();
    let k = open(&path).unwrap();
    (dir, path, k)
}

fn request(rp: &str, user: &str, discoverable: bool, uv: bool) -> MakeCredentialRequest {
    MakeCredentialRequest {
        client_data_hash: [9; 32],
        rp_id: rp.into(),
        rp_name: None,
        user_id: user.as_bytes().to_vec(),
        user_name: user.into(),
        user_display_name: None,
        discoverable,
        user_verification: uv,
        exclude_credentials: vec![],
    }
}

fn att_stmt(made: &MadeCredential) -> (Vec<u8>, Vec<u8>) {
    use serde_cbor_2::Value;
    let v: Value = serde_cbor_2::from_slice(&made.attestation_object).unwrap();
    let Value::Map(m) = v else {
        panic!("not a map")
    };
    let Some(Value::Map(st)) = m.get(&Value::Text("attStmt".into())) else {
        panic!("no attStmt")
    };
    let Some(Value::Bytes(sig)) = st.get(&Value::Text("sig".into())) else {
        panic!("no sig")
    };
    let Some(Value::Array(x5c)) = st.get(&Value::Text("x5c".into())) else {
        panic!("no x5c")
    };
    let Value::Bytes(leaf) = &x5c[0] else {
        panic!("x5c not bytes")
    };
    (sig.clone(), leaf.clone())
}

#[test]
fn packed_attestation_follows_the_fido_profile_and_chains_to_the_key_ca() {
    let (_d, _p, mut k) = key(Profile::Ctap21);
    let made = k
        .make_credential(&request("example.com", "a", false, false))
        .unwrap();
    assert_eq!(made.attestation_format, "packed");
    let (sig, leaf_der) = att_stmt(&made);
    let leaf = Certificate::from_der(&leaf_der).unwrap();
    webauthn_rs_core::attestation::assert_packed_attest_req(&leaf).unwrap();
    let mut signed = made.auth_data.clone();
    signed.extend_from_slice(&[9; 32]);
    x509_verify_signature(&signed, &sig, &leaf).unwrap();
    let root = Certificate::from_der(&k.virtual_attestation_root().unwrap()).unwrap();
    X509Store::new(&[root])
        .verify(&leaf, &[], std::time::SystemTime::now())
        .unwrap();
    // AAGUID in authData (after rpIdHash, flags, counter) is the profile's.
    assert_eq!(
        &made.auth_data[37..53],
        Profile::Ctap21.aaguid().unwrap().as_bytes()
    );
}

#[test]
fn knobs_break_attestation_and_assertions_as_asked() {
    let (_d, path, k) = key(Profile::Ctap21);
    drop(k);
    set_knobs(&path, |n| {
        n.attestation_out_of_profile = true;
        n.attestation_wrong_aaguid = true;
        n.bad_assertion_signature = true;
    })
    .unwrap();
    let mut k = open(&path).unwrap();
    let made = k
        .make_credential(&request("example.com", "a", false, false))
        .unwrap();
    let (_, leaf_der) = att_stmt(&made);
    let leaf = Certificate::from_der(&leaf_der).unwrap();
    assert!(webauthn_rs_core::attestation::assert_packed_attest_req(&leaf).is_err());
    assert_ne!(
        &made.auth_data[37..53],
        Profile::Ctap21.aaguid().unwrap().as_bytes()
    );
    let a = k
        .get_assertion(&AssertionRequest {
            client_data_hash: [1; 32],
            rp_id: "example.com".into(),
            allow_credentials: vec![made.credential_id.clone()],
            user_verification: false,
        })
        .unwrap();
    let mut signed = a.auth_data.clone();
    signed.extend_from_slice(&[1; 32]);
    let st = state::read(&path).unwrap();
    let (private, _) = credential::unwrap(
        &st.wrap_key,
        &credential::sha256(b"example.com"),
        &made.credential_id,
    )
    .unwrap();
    let good = attestation::sign(&private, &signed).unwrap();
    // Verify with the credential's own public key, via a throwaway leaf certificate.
    let (_, cert) = attestation::new_leaf(
        &st.attestation.ca_key,
        &st.attestation.ca_cert,
        None,
        true,
        Some(&private),
    )
    .unwrap();
    let cert = Certificate::from_der(&cert).unwrap();
    assert!(x509_verify_signature(&signed, &good, &cert).is_ok());
    assert!(x509_verify_signature(&signed, &a.signature, &cert).is_err());
}

#[test]
fn non_discoverable_credentials_spend_no_slot_and_count_their_signatures() {
    let (_d, path, mut k) = key(Profile::Ctap21);
    let made = k
        .make_credential(&request("example.com", "a", false, false))
        .unwrap();
    assert!(state::read(&path).unwrap().credentials.is_empty());
    let req = AssertionRequest {
        client_data_hash: [1; 32],
        rp_id: "example.com".into(),
        allow_credentials: vec![made.credential_id.clone()],
        user_verification: false,
    };
    assert_eq!(k.get_assertion(&req).unwrap().sign_count, 1);
    assert_eq!(k.get_assertion(&req).unwrap().sign_count, 2);
    let other_rp = AssertionRequest {
        rp_id: "evil.example".into(),
        ..req
    };
    assert!(matches!(
        k.get_assertion(&other_rp),
        Err(DeviceError::NoCredentials)
    ));
}

#[test]
fn pin_retries_power_cycle_and_block_follow_ctap() {
    let (_d, path, mut k) = key(Profile::Ctap21);
    k.set_pin(&Pin::new("1234")).unwrap();
    for left in [7, 6] {
        assert!(matches!(
            k.unlock(&Pin::new("0000")),
            Err(DeviceError::PinInvalid { retries_left: Some(r) }) if r == left
        ));
    }
    assert!(matches!(
        k.unlock(&Pin::new("0000")),
        Err(DeviceError::PinAuthBlocked)
    ));
    // Even the right PIN is refused until a power cycle.
    assert!(matches!(
        k.unlock(&Pin::new("1234")),
        Err(DeviceError::PinAuthBlocked)
    ));
    drop(k);
    replug(&path).unwrap();
    let mut k = open(&path).unwrap();
    k.unlock(&Pin::new("1234")).unwrap();
    assert_eq!(k.pin_retries().unwrap().retries, 8);
}

#[test]
fn a_second_session_waits_for_the_first_and_sees_its_changes() {
    let (_d, path, mut k) = key(Profile::Ctap21);
    let p2 = path.clone();
    let t = std::thread::spawn(move || {
        let mut k2 = open(&p2).unwrap();
        k2.info().unwrap().pin_is_set()
    });
    std::thread::sleep(std::time::Duration::from_millis(100));
    k.set_pin(&Pin::new("1234")).unwrap();
    drop(k);
    assert_eq!(t.join().unwrap(), Some(true));
}

#[test]
fn the_file_never_holds_the_pin() {
    let (_d, path, mut k) = key(Profile::Ctap21);
    k.set_pin(&Pin::new("83917265")).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("83917265"));
}
