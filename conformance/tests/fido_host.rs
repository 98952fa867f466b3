//! keyward's own CTAP 2.1 host (`CtapKey` over a `Transport`) driving fido-authenticator, the
//! CTAP application of Nitrokey 3 and Solo 2 keys, in process. Every key command keyward offers
//! is exercised through the library calls those commands make.

use keyward::device::{
    Assertion, AssertionRequest, Authenticator, CtapKey, DeviceError, MadeCredential,
    MakeCredentialRequest,
};
use keyward::mds::{Anchor, Entry, Metadata};
use keyward::pin::Pin;
use keyward::selftest::{self, CheckId, PinOutcome, Status, TrustSources};
use keyward_conformance::fido::{
    FidoKey, PinProtocolsSeen, AAGUID, ATTESTATION_CA, ATTESTATION_CERT,
};
use keyward_conformance::host::{descriptor, FidoTransport, KeyClock};
use std::time::Duration;
use uuid::Uuid;

const PIN: &str = "314159";
const NEW_PIN: &str = "27182818";
const WRONG: &str = "000000";

/// A freshly powered-up fido-authenticator opened by keyward's host.
fn open() -> (CtapKey, KeyClock) {
    let (key, clock, _) = open_key(FidoKey::start());
    (key, clock)
}

fn open_key(fido: FidoKey) -> (CtapKey, KeyClock, PinProtocolsSeen) {
    let clock = fido.clock();
    let seen = fido.pin_protocols_seen();
    let key = CtapKey::open(Box::new(FidoTransport::new(fido)), descriptor())
        .expect("keyward's host opens fido-authenticator");
    (key, clock, seen)
}

fn protocols(seen: &PinProtocolsSeen) -> Vec<u64> {
    let mut v = seen.lock().unwrap().clone();
    v.dedup();
    v
}

fn with_pin() -> (CtapKey, KeyClock) {
    let (mut key, clock) = open();
    key.set_pin(&Pin::new(PIN)).expect("set PIN");
    (key, clock)
}

/// With a PIN set and a PIN token held, as after `unlock` in a key command.
fn unlocked() -> (CtapKey, KeyClock) {
    let (mut key, clock) = with_pin();
    key.unlock(&Pin::new(PIN)).expect("unlock with the PIN");
    (key, clock)
}

fn cdh(tag: u8) -> [u8; 32] {
    let mut h = [0u8; 32];
    for (i, b) in h.iter_mut().enumerate() {
        *b = tag.wrapping_mul(31).wrapping_add(i as u8);
    }
    h
}

fn mc(rp: &str, user: &str, discoverable: bool, uv: bool) -> MakeCredentialRequest {
    MakeCredentialRequest {
        client_data_hash: cdh(user.len() as u8),
        rp_id: rp.into(),
        rp_name: Some(rp.into()),
        user_id: user.as_bytes().to_vec(),
        user_name: user.into(),
        user_display_name: Some(user.to_uppercase()),
        discoverable,
        user_verification: uv,
        exclude_credentials: vec![],
    }
}

fn ga(rp: &str, allow: Vec<Vec<u8>>, uv: bool, tag: u8) -> AssertionRequest {
    AssertionRequest {
        client_data_hash: cdh(tag),
        rp_id: rp.into(),
        allow_credentials: allow,
        user_verification: uv,
    }
}

/// ES256 public key (x, y) from the attested credential data in makeCredential's authData.
fn credential_public_key(made: &MadeCredential) -> Vec<u8> {
    let ad = &made.auth_data;
    let id_len = usize::from(u16::from_be_bytes([ad[53], ad[54]]));
    let cose: serde_cbor_2::Value = serde_cbor_2::Deserializer::from_slice(&ad[55 + id_len..])
        .into_iter()
        .next()
        .expect("a COSE key follows the credential id")
        .expect("COSE key is CBOR");
    let serde_cbor_2::Value::Map(m) = cose else {
        panic!("COSE key is a map")
    };
    let coord = |k: i128| match &m[&serde_cbor_2::Value::Integer(k)] {
        serde_cbor_2::Value::Bytes(b) => b.clone(),
        other => panic!("coordinate {k} is {other:?}"),
    };
    let mut sec1 = vec![0x04];
    sec1.extend(coord(-2));
    sec1.extend(coord(-3));
    sec1
}

/// The assertion's signature verifies over authData || clientDataHash with the credential key.
fn assert_signed(made: &MadeCredential, assertion: &Assertion, client_data_hash: &[u8; 32]) {
    use crypto_glue::ecdsa_p256::{EcdsaP256DerSignature, EcdsaP256VerifyingKey};
    use crypto_glue::traits::Verifier;
    let key = EcdsaP256VerifyingKey::from_sec1_bytes(&credential_public_key(made)).unwrap();
    let sig = EcdsaP256DerSignature::from_bytes(&assertion.signature).unwrap();
    let mut msg = assertion.auth_data.clone();
    msg.extend_from_slice(client_data_hash);
    key.verify(&msg, &sig)
        .expect("assertion signature verifies");
}

#[test]
fn info_reads_fido_authenticator() {
    let (mut key, _) = open();
    let info = key.info().unwrap();
    assert!(info.supports_ctap21(), "{:?}", info.versions);
    assert_eq!(info.aaguid, Some(Uuid::from_bytes(*AAGUID)));
    assert_eq!(info.pin_is_set(), Some(false));
    assert!(info.pin_uv_protocols.contains(&2) && info.pin_uv_protocols.contains(&1));
    assert!(info.supports_credential_management());
    assert!(info.supports_min_pin_length());
    assert!(info.supports_always_uv());
    assert!(!info.always_uv());
    assert_eq!(info.min_pin_length, 4);
    assert!(info.algorithms.contains(&-7));
}

#[test]
fn pin_status_set_and_change() {
    let (mut key, _, seen) = open_key(FidoKey::start());
    key.set_pin(&Pin::new(PIN)).unwrap();
    assert_eq!(key.info().unwrap().pin_is_set(), Some(true));
    let r = key.pin_retries().unwrap();
    assert_eq!((r.retries, r.power_cycle_required), (8, false));

    key.change_pin(&Pin::new(PIN), &Pin::new(NEW_PIN)).unwrap();
    match key.unlock(&Pin::new(PIN)) {
        Err(DeviceError::PinInvalid { .. }) => {}
        other => panic!("the old PIN must be refused, got {other:?}"),
    }
    assert_eq!(key.pin_retries().unwrap().retries, 7);
    key.unlock(&Pin::new(NEW_PIN)).expect("the new PIN works");
    assert_eq!(key.pin_retries().unwrap().retries, 8);
    assert_eq!(
        protocols(&seen),
        [2],
        "the host prefers PIN/UV auth protocol 2"
    );
}

#[test]
fn pin_protocol_1_end_to_end() {
    // The key offers only protocol 1, so every PIN step of the host runs on it.
    let (mut key, _, seen) = open_key(FidoKey::start_offering_pin_protocol_1_only());
    assert_eq!(key.info().unwrap().pin_uv_protocols, [1]);
    key.set_pin(&Pin::new(PIN)).unwrap();
    key.change_pin(&Pin::new(PIN), &Pin::new(NEW_PIN)).unwrap();
    assert!(matches!(
        key.unlock(&Pin::new(PIN)),
        Err(DeviceError::PinInvalid { .. })
    ));
    key.unlock(&Pin::new(NEW_PIN)).unwrap();
    let made = key
        .make_credential(&mc("example.com", "alice", true, true))
        .unwrap();
    assert!(made.user_verified);
    let req = ga("example.com", vec![], true, 7);
    let a = key.get_assertion(&req).unwrap();
    assert!(a.user_verified);
    assert_signed(&made, &a, &req.client_data_hash);
    let listed = key.list_credentials().unwrap();
    assert_eq!(listed.len(), 1);
    key.delete_credential(&made.credential_id).unwrap();
    assert!(key.list_credentials().unwrap().is_empty());
    key.set_min_pin_length(Some(8), &[], false).unwrap();
    assert_eq!(key.info().unwrap().min_pin_length, 8);
    assert!(key.toggle_always_uv().unwrap());
    assert_eq!(protocols(&seen), [1]);
}

#[test]
fn set_pin_on_a_key_with_a_pin_is_refused() {
    let (mut key, _) = with_pin();
    assert!(key.set_pin(&Pin::new(NEW_PIN)).is_err());
    key.unlock(&Pin::new(PIN))
        .expect("the first PIN still works");
}

#[test]
fn change_pin_with_wrong_current_pin_costs_one_retry() {
    let (mut key, _) = with_pin();
    match key.change_pin(&Pin::new(WRONG), &Pin::new(NEW_PIN)) {
        Err(DeviceError::PinInvalid { .. }) => {}
        other => panic!("expected a wrong-PIN error, got {other:?}"),
    }
    assert_eq!(key.pin_retries().unwrap().retries, 7);
    key.unlock(&Pin::new(PIN)).unwrap();
}

#[test]
fn three_wrong_pins_need_a_power_cycle() {
    let (mut key, _) = with_pin();
    for _ in 0..2 {
        assert!(matches!(
            key.unlock(&Pin::new(WRONG)),
            Err(DeviceError::PinInvalid { .. })
        ));
    }
    match key.unlock(&Pin::new(WRONG)) {
        Err(DeviceError::PinAuthBlocked) => {}
        other => panic!("third wrong PIN in a row: expected PinAuthBlocked, got {other:?}"),
    }
    assert_eq!(key.pin_retries().unwrap().retries, 5);
    match key.unlock(&Pin::new(PIN)) {
        Err(DeviceError::PinAuthBlocked) => {}
        other => panic!("even the right PIN waits for the power cycle, got {other:?}"),
    }
}

#[test]
fn make_credential_and_get_assertion_with_and_without_allow_list() {
    let (mut key, _) = unlocked();
    let made = key
        .make_credential(&mc("example.com", "alice", true, true))
        .unwrap();
    assert_eq!(made.attestation_format, "packed");
    assert!(made.user_verified);
    assert_eq!(made.aaguid, Some(Uuid::from_bytes(*AAGUID)));
    assert_eq!(
        made.attestation_certificates.first().map(Vec::as_slice),
        Some(ATTESTATION_CERT)
    );

    let with_list = ga("example.com", vec![made.credential_id.clone()], true, 1);
    let a = key.get_assertion(&with_list).unwrap();
    assert_eq!(a.credential_id, made.credential_id);
    assert!(a.user_verified);
    assert_signed(&made, &a, &with_list.client_data_hash);

    let discover = ga("example.com", vec![], true, 2);
    let b = key.get_assertion(&discover).unwrap();
    assert_eq!(b.credential_id, made.credential_id);
    assert_eq!(b.user_id.as_deref(), Some(&b"alice"[..]));
    assert_signed(&made, &b, &discover.client_data_hash);
    assert!(
        b.sign_count > a.sign_count || b.sign_count == 0,
        "counter never goes back"
    );
}

#[test]
fn non_discoverable_credential_without_pin() {
    let (mut key, _) = open();
    let made = key
        .make_credential(&mc("example.com", "bob", false, false))
        .unwrap();
    assert!(!made.user_verified);
    let req = ga("example.com", vec![made.credential_id.clone()], false, 3);
    let a = key.get_assertion(&req).unwrap();
    assert_signed(&made, &a, &req.client_data_hash);
    match key.get_assertion(&ga(
        "other.example",
        vec![made.credential_id.clone()],
        false,
        4,
    )) {
        Err(DeviceError::NoCredentials) => {}
        other => panic!("a credential is bound to its RP, got {other:?}"),
    }
}

#[test]
fn exclude_list_refuses_a_second_registration() {
    let (mut key, _) = unlocked();
    let made = key
        .make_credential(&mc("example.com", "alice", true, true))
        .unwrap();
    let mut again = mc("example.com", "alice", true, true);
    again.exclude_credentials = vec![made.credential_id];
    match key.make_credential(&again) {
        Err(DeviceError::CredentialExcluded) => {}
        other => panic!("expected CredentialExcluded, got {other:?}"),
    }
}

#[test]
fn credentials_list_metadata_and_delete() {
    let (mut key, _) = unlocked();
    let a = key
        .make_credential(&mc("example.com", "alice", true, true))
        .unwrap();
    let b = key
        .make_credential(&mc("example.com", "bob", true, true))
        .unwrap();
    let c = key
        .make_credential(&mc("other.example", "carol", true, true))
        .unwrap();

    let meta = key.credential_metadata().unwrap();
    assert_eq!(meta.existing, 3);
    let listed = key.list_credentials().unwrap();
    let mut rps: Vec<_> = listed.iter().map(|r| r.rp_id.as_str()).collect();
    rps.sort();
    assert_eq!(rps, ["example.com", "other.example"]);
    let example = listed.iter().find(|r| r.rp_id == "example.com").unwrap();
    let mut ids: Vec<_> = example
        .credentials
        .iter()
        .map(|c| c.credential_id.clone())
        .collect();
    ids.sort();
    let mut want = vec![a.credential_id.clone(), b.credential_id.clone()];
    want.sort();
    assert_eq!(ids, want);
    let alice = example
        .credentials
        .iter()
        .find(|c| c.credential_id == a.credential_id)
        .unwrap();
    assert_eq!(alice.user_id, b"alice");
    assert_eq!(alice.user_name.as_deref(), Some("alice"));

    key.delete_credential(&c.credential_id).unwrap();
    key.delete_credential(&a.credential_id).unwrap();
    let listed = key.list_credentials().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].credentials.len(), 1);
    assert_eq!(listed[0].credentials[0].credential_id, b.credential_id);
    let after = key.credential_metadata().unwrap();
    assert_eq!(after.existing, 1);
    assert_eq!(after.remaining, meta.remaining + 2);
    match key.get_assertion(&ga("example.com", vec![a.credential_id], true, 5)) {
        Err(DeviceError::NoCredentials) => {}
        other => panic!("a deleted credential must be gone, got {other:?}"),
    }
}

#[test]
fn policy_min_pin_length_with_force_change() {
    let (mut key, _) = unlocked();
    key.set_min_pin_length(Some(8), &["example.com".to_string()], false)
        .unwrap();
    let info = key.info().unwrap();
    assert_eq!(info.min_pin_length, 8);
    assert!(
        info.force_pin_change,
        "a 6-digit PIN is below the new minimum"
    );
    assert!(
        key.change_pin(&Pin::new(PIN), &Pin::new("1234567"))
            .is_err(),
        "7 < 8"
    );
    key.change_pin(&Pin::new(PIN), &Pin::new(NEW_PIN)).unwrap();
    assert!(!key.info().unwrap().force_pin_change);
    key.unlock(&Pin::new(NEW_PIN)).unwrap();
    assert!(
        key.set_min_pin_length(Some(6), &[], false).is_err(),
        "the minimum never goes down"
    );
    key.set_min_pin_length(None, &[], true).unwrap();
    assert!(key.info().unwrap().force_pin_change);
}

#[test]
fn policy_toggle_always_uv() {
    let (mut key, _) = unlocked();
    assert!(key.toggle_always_uv().unwrap());
    assert!(key.info().unwrap().always_uv());
    assert!(!key.toggle_always_uv().unwrap());
    assert!(!key.info().unwrap().always_uv());
}

#[test]
fn reset_inside_the_window_erases_everything() {
    let (mut key, _) = unlocked();
    key.make_credential(&mc("example.com", "alice", true, true))
        .unwrap();
    key.reset().unwrap();
    let info = key.info().unwrap();
    assert_eq!(info.pin_is_set(), Some(false));
    match key.get_assertion(&ga("example.com", vec![], false, 6)) {
        Err(DeviceError::NoCredentials) => {}
        other => panic!("reset erases credentials, got {other:?}"),
    }
}

#[test]
fn reset_outside_the_window_is_refused() {
    let (mut key, clock) = with_pin();
    clock.advance(Duration::from_secs(11));
    match key.reset() {
        Err(DeviceError::NotAllowed { .. }) => {}
        other => panic!("expected NotAllowed 11 s after power-up, got {other:?}"),
    }
    assert_eq!(key.info().unwrap().pin_is_set(), Some(true));
}

#[test]
fn key_test_passes_every_check() {
    let (mut key, _) = with_pin();
    let info = key.info().unwrap();
    key.unlock(&Pin::new(PIN)).unwrap();
    let sources = TrustSources {
        virtual_root: None,
        metadata: Some(conformance_metadata()),
        metadata_problem: None,
    };
    let report = selftest::run(&mut key, &info, PinOutcome::Unlocked, &sources).unwrap();
    for check in &report.checks {
        assert_eq!(
            check.status,
            Status::Pass,
            "{}: {}",
            check.id.id(),
            check.detail
        );
    }
    assert!(report.ok);
    assert!(!report.is_virtual);
    assert_eq!(report.checks.len(), CheckId::ALL.len());
    assert!(report.trusted_by.is_some());
}

/// FIDO metadata naming our test CA as the attestation root of this AAGUID (as an MDS blob
/// imported with `--test-root` would).
fn conformance_metadata() -> Metadata {
    use base64::Engine as _;
    Metadata {
        anchor: Anchor::TestRoot {
            subject: "keyward conformance".into(),
            certificate: base64::engine::general_purpose::STANDARD.encode(ATTESTATION_CA),
        },
        serial: 1,
        next_update: "2999-01-01".into(),
        imported_at: "2026-12-01T00:00:00Z".into(),
        entries: vec![Entry {
            aaguid: Some(Uuid::from_bytes(*AAGUID)),
            description: "fido-authenticator (keyward conformance)".into(),
            roots: vec![ATTESTATION_CA.to_vec()],
            status_reports: vec![],
        }],
        skipped: vec![],
    }
}

#[test]
fn credentials_list_on_an_empty_key() {
    // fido-authenticator answers enumerateRPsBegin on an empty key with totalRPs = 0 where
    // CTAP 2.1 says NO_CREDENTIALS; a host must show an empty list for both.
    let (mut key, _) = unlocked();
    assert_eq!(key.credential_metadata().unwrap().existing, 0);
    assert!(key.list_credentials().unwrap().is_empty());
}
