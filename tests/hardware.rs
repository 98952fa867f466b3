//! Tests against a real security key over USB HID. All `#[ignore]`: run them by hand with a
//! spare key, as docs/hardware-testing.md explains:
//!
//! ```sh
//! KEYWARD_TEST_PIN=... cargo test --test hardware -- --ignored --test-threads=1
//! ```
//!
//! The PIN reaches keyward on standard input only, and every test asserts that it never shows
//! up in keyward's output.

mod common;

use common::{Run, Sandbox};
use crypto_glue::ecdsa_p256::{from_coords_raw, EcdsaP256DerSignature, EcdsaP256VerifyingKey};
use crypto_glue::s256::Sha256;
use crypto_glue::traits::{Digest, Verifier};
use keyward::device::{self, AssertionRequest, DeviceSpec, MakeCredentialRequest};
use keyward::pin::Pin;
use serde::Deserialize;
use serde_cbor_2::Value;

const TEST_RP: &str = "keyward-hardware-test.invalid";

/// The `--device` value of the key under test: KEYWARD_TEST_DEVICE, or the only key present.
fn device() -> String {
    if let Ok(d) = std::env::var("KEYWARD_TEST_DEVICE") {
        return d;
    }
    let keys = device::discover(&DeviceSpec::Auto).expect("USB HID is usable");
    match keys.as_slice() {
        [one] => one.spec.clone(),
        [] => panic!(
            "no security key found{}; plug in a spare key (docs/hardware-testing.md)",
            device::hid::diagnose_no_key()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        many => panic!(
            "{} keys present; choose one with KEYWARD_TEST_DEVICE=hid:PATH (one of {})",
            many.len(),
            many.iter()
                .map(|k| k.spec.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn test_pin() -> String {
    std::env::var("KEYWARD_TEST_PIN").unwrap_or_else(|_| {
        panic!("set KEYWARD_TEST_PIN to the spare key's PIN (docs/hardware-testing.md)")
    })
}

fn opted_in(var: &str, value: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == value)
}

/// Run keyward on the key under test; `pins` go to standard input with `--pin-stdin`.
fn keyward(sb: &Sandbox, args: &[&str], pins: &[&str]) -> Run {
    let dev = device();
    let mut a = vec!["--device", dev.as_str()];
    a.extend_from_slice(args);
    let run = if pins.is_empty() {
        sb.run(&a)
    } else {
        sb.run_pins(&a, pins)
    };
    if let Ok(pin) = std::env::var("KEYWARD_TEST_PIN") {
        assert!(
            !run.all_output().contains(&pin),
            "the PIN appeared in keyward's output"
        );
    }
    run
}

fn retries(sb: &Sandbox) -> u64 {
    let status = keyward(sb, &["key", "pin", "status", "--json"], &[])
        .ok()
        .json();
    status["retries"]
        .as_u64()
        .expect("a PIN is set on the test key")
}

#[test]
#[ignore = "needs a real key: docs/hardware-testing.md"]
fn devices_lists_the_key() {
    let sb = Sandbox::new();
    let out = sb.run(&["devices", "--json"]).ok();
    let list = out.json();
    let devices = list["devices"].as_array().expect("a device list");
    let dev = device();
    let me = devices
        .iter()
        .find(|d| d["spec"] == dev.as_str())
        .unwrap_or_else(|| panic!("{dev} missing from {list}"));
    assert_eq!(me["backend"], "hid");
    assert!(me["vendor_id"].is_u64() && me["product_id"].is_u64());
}

#[test]
#[ignore = "needs a real key: docs/hardware-testing.md"]
fn key_info_reads_get_info() {
    let sb = Sandbox::new();
    let info = keyward(&sb, &["key", "info", "--json"], &[]).ok().json();
    assert_eq!(info["device"]["backend"], "hid");
    let versions = info["info"]["versions"].as_array().expect("versions");
    assert!(!versions.is_empty());
    if versions
        .iter()
        .any(|v| v.as_str().is_some_and(|v| v.starts_with("FIDO_2")))
    {
        assert!(
            info["info"]["aaguid"].is_string(),
            "a FIDO2 key has an AAGUID: {info}"
        );
    }
    // Text mode names the key the way `devices` does.
    let text = keyward(&sb, &["key", "info"], &[]).ok();
    assert!(text.stdout.contains("Protocols:"), "{}", text.stdout);
}

#[test]
#[ignore = "needs a real key: docs/hardware-testing.md"]
fn pin_status_reports_attempts() {
    let sb = Sandbox::new();
    let status = keyward(&sb, &["key", "pin", "status", "--json"], &[])
        .ok()
        .json();
    if status["pin_set"] == true {
        let r = status["retries"].as_u64().expect("retries");
        assert!((1..=8).contains(&r), "{status}");
    } else {
        assert!(
            status["pin_set"] == false || status["pin_set"].is_null(),
            "{status}"
        );
    }
}

#[test]
#[ignore = "needs a real key with a PIN: docs/hardware-testing.md"]
fn credentials_list_with_the_pin() {
    let sb = Sandbox::new();
    let pin = test_pin();
    let before = retries(&sb);
    let list = keyward(&sb, &["key", "credentials", "list", "--json"], &[&pin])
        .ok()
        .json();
    assert!(
        list["existing"].is_u64() && list["remaining"].is_u64(),
        "{list}"
    );
    assert!(list["relying_parties"].is_array());
    // The right PIN costs nothing.
    assert_eq!(retries(&sb), before);
}

/// The x and y coordinates of the ES256 public key in authenticator data with attested
/// credential data.
fn public_key_xy(auth_data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let id_len = u16::from_be_bytes([auth_data[53], auth_data[54]]) as usize;
    let mut de = serde_cbor_2::Deserializer::from_slice(&auth_data[55 + id_len..]);
    let Value::Map(cose) = Value::deserialize(&mut de).expect("a COSE key") else {
        panic!("COSE key is not a map")
    };
    let coord = |label: i128| match cose.get(&Value::Integer(label)) {
        Some(Value::Bytes(b)) => b.clone(),
        other => panic!("COSE key without {label}: {other:?}"),
    };
    (coord(-2), coord(-3))
}

fn credential_ids_listed(sb: &Sandbox, pin: &str) -> Vec<String> {
    let list = keyward(sb, &["key", "credentials", "list", "--json"], &[pin])
        .ok()
        .json();
    list["relying_parties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|rp| rp["rp_id"] == TEST_RP)
        .flat_map(|rp| rp["credentials"].as_array().unwrap().clone())
        .map(|c| c["credential_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
#[ignore = "needs a real CTAP 2.1 key with a PIN, and a touch: docs/hardware-testing.md"]
fn register_list_and_delete_a_passkey() {
    let sb = Sandbox::new();
    let pin = test_pin();
    let dev = device();
    let desc = device::discover(&dev.parse::<DeviceSpec>().unwrap())
        .expect("the key is present")
        .remove(0);
    let mut key = device::open(&desc).expect("the key opens");
    key.unlock(&Pin::new(pin.clone()))
        .expect("the test PIN is right");

    let client_data = br#"{"type":"webauthn.create","challenge":"a2V5d2FyZA","origin":"https://keyward-hardware-test.invalid"}"#;
    let client_data_hash: [u8; 32] = Sha256::digest(client_data).into();
    eprintln!("touch the key now (registration)");
    let made = key
        .make_credential(&MakeCredentialRequest {
            client_data_hash,
            rp_id: TEST_RP.into(),
            rp_name: Some("keyward hardware test".into()),
            user_id: b"keyward-test-user".to_vec(),
            user_name: "hardware-test".into(),
            user_display_name: None,
            discoverable: true,
            user_verification: true,
            exclude_credentials: vec![],
        })
        .expect("registration");
    assert!(made.user_verified, "the PIN was used");

    // The signature must cover the exact clientDataHash we gave, not a hash of it.
    let challenge_hash: [u8; 32] = Sha256::digest(b"sign-in").into();
    eprintln!("touch the key now (sign-in)");
    let assertion = key
        .get_assertion(&AssertionRequest {
            client_data_hash: challenge_hash,
            rp_id: TEST_RP.into(),
            allow_credentials: vec![made.credential_id.clone()],
            user_verification: true,
        })
        .expect("sign-in");
    let (x, y) = public_key_xy(&made.auth_data);
    let vk = EcdsaP256VerifyingKey::from(&from_coords_raw(&x, &y).expect("a P-256 point"));
    let sig = EcdsaP256DerSignature::try_from(assertion.signature.as_slice()).expect("DER");
    let mut signed = assertion.auth_data.clone();
    signed.extend_from_slice(&challenge_hash);
    vk.verify(&signed, &sig)
        .expect("the assertion verifies over authData || clientDataHash");

    // Without an allow list: the discoverable credentials of the RP, newest first, through
    // getNextAssertion; then updateUserInformation renames the user.
    eprintln!("touch the key now (discoverable sign-in)");
    let all = key
        .get_assertions(&AssertionRequest {
            client_data_hash: challenge_hash,
            rp_id: TEST_RP.into(),
            allow_credentials: vec![],
            user_verification: true,
        })
        .expect("discoverable sign-in");
    assert_eq!(all[0].credential_id, made.credential_id, "newest first");
    assert_eq!(all[0].user_id.as_deref(), Some(&b"keyward-test-user"[..]));
    key.update_user_information(
        &made.credential_id,
        b"keyward-test-user",
        Some("hardware-test-renamed"),
        None,
    )
    .expect("updateUserInformation");
    let listed = key.list_credentials().expect("credential management");
    assert!(listed.iter().flat_map(|r| &r.credentials).any(|c| {
        c.credential_id == made.credential_id
            && c.user_name.as_deref() == Some("hardware-test-renamed")
    }));
    drop(key);

    let id = hex::encode(&made.credential_id);
    assert!(
        credential_ids_listed(&sb, &pin).contains(&id),
        "the new passkey is listed"
    );
    keyward(
        &sb,
        &["key", "credentials", "delete", &id, "--yes", "--json"],
        &[&pin],
    )
    .ok();
    assert!(
        !credential_ids_listed(&sb, &pin).contains(&id),
        "the passkey is gone"
    );
}

#[test]
#[ignore = "spends one PIN attempt; opt in with KEYWARD_TEST_WRONG_PIN=1"]
fn wrong_pin_costs_one_attempt() {
    if !opted_in("KEYWARD_TEST_WRONG_PIN", "1") {
        eprintln!("skipped: set KEYWARD_TEST_WRONG_PIN=1 to spend one PIN attempt");
        return;
    }
    let sb = Sandbox::new();
    let pin = test_pin();
    let before = retries(&sb);
    assert!(
        before >= 5,
        "only {before} PIN attempts left: not risking the key"
    );
    let wrong = if pin == "000000" { "999999" } else { "000000" };
    let run = keyward(&sb, &["key", "credentials", "list"], &[wrong]).expect_code(5);
    assert!(
        !run.all_output().contains(wrong),
        "the wrong PIN was echoed"
    );
    assert!(
        run.stderr
            .contains(&format!("wrong PIN ({} attempts left", before - 1)),
        "{}",
        run.stderr
    );
    assert_eq!(retries(&sb), before - 1);
    keyward(&sb, &["key", "credentials", "list"], &[&pin]).ok();
    assert_eq!(retries(&sb), before, "the right PIN restores the count");
}

#[test]
#[ignore = "ERASES THE KEY; opt in with KEYWARD_TEST_RESET=erase-this-key"]
fn reset_erases_the_key() {
    if !opted_in("KEYWARD_TEST_RESET", "erase-this-key") {
        eprintln!("skipped: set KEYWARD_TEST_RESET=erase-this-key to erase the test key");
        return;
    }
    let sb = Sandbox::new();
    eprintln!("touch the key now (reset)");
    let done = keyward(&sb, &["key", "reset", "--yes-erase-key", "--json"], &[])
        .ok()
        .json();
    assert_eq!(done["action"], "reset");
    let status = keyward(&sb, &["key", "pin", "status", "--json"], &[])
        .ok()
        .json();
    assert_eq!(status["pin_set"], false, "{status}");
}

#[test]
#[ignore = "needs a real key with a PIN, and two touches: docs/hardware-testing.md"]
fn key_test_passes_and_exports_the_ceremony() {
    let sb = Sandbox::new();
    let pin = test_pin();
    eprintln!("touch the key now, twice (self-test registration, then sign-in)");
    let j = keyward(&sb, &["key", "test", "--json"], &[&pin])
        .ok()
        .json();
    assert_eq!(j["ok"], true, "{j}");
    assert!(j["webauthn"]["registration"]["response"]["attestationObject"].is_string());
    assert!(j["webauthn"]["assertion"]["response"]["signature"].is_string());
}

#[test]
#[ignore = "needs a real key with a PIN: docs/hardware-testing.md"]
fn pin_change_and_back_keeps_the_attempts() {
    let sb = Sandbox::new();
    let pin = test_pin();
    let before = retries(&sb);
    let temporary = if pin == "73910264" {
        "73910265"
    } else {
        "73910264"
    };
    keyward(&sb, &["key", "pin", "change"], &[&pin, temporary]).ok();
    keyward(&sb, &["key", "pin", "change"], &[temporary, &pin]).ok();
    assert_eq!(retries(&sb), before);
    let run = keyward(&sb, &["key", "credentials", "list"], &[&pin]);
    assert!(!run.all_output().contains(temporary));
}

#[test]
#[ignore = "needs a real CTAP 2.1 key with authenticatorConfig and a PIN: docs/hardware-testing.md"]
fn always_uv_goes_on_and_back_off() {
    let sb = Sandbox::new();
    let pin = test_pin();
    keyward(&sb, &["key", "policy", "--always-uv", "on"], &[&pin]).ok();
    let info = keyward(&sb, &["key", "info", "--json"], &[]).ok().json();
    assert_eq!(info["info"]["options"]["alwaysUv"], true, "{info}");
    keyward(&sb, &["key", "policy", "--always-uv", "off"], &[&pin]).ok();
    let info = keyward(&sb, &["key", "info", "--json"], &[]).ok().json();
    assert_eq!(info["info"]["options"]["alwaysUv"], false, "{info}");
}
