//! Issue 5: `keyward key test` (self-test ceremony), `keyward mds import` (FIDO metadata, with
//! test blobs made here under a test root), and `keyward key check` (readiness per playbook).
mod common;
mod mds_blob;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::Sandbox;
use crypto_glue::traits::EncodeDer;
use mds_blob::{payload, test_signer};
use serde_json::{json, Value};

const PIN: &str = "482915";

fn write(sb: &Sandbox, name: &str, text: &str) -> String {
    let p = sb.path(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const SOME_AAGUID: &str = "2fc0579f-8113-47ea-b116-bb5a8db9202a";

#[test]
fn mds_blob_under_a_test_root_is_imported_and_labelled_test() {
    let sb = Sandbox::new();
    let signer = test_signer("A");
    let root_b64 = STANDARD.encode(signer.root.to_der().unwrap());
    let blob = write(
        &sb,
        "blob.jwt",
        &signer.sign(&payload(
            7,
            SOME_AAGUID,
            "Model X",
            &root_b64,
            "FIDO_CERTIFIED_L1",
        )),
    );
    let root = write(&sb, "root.pem", &signer.root_pem());

    let r = sb
        .run(&["mds", "import", &blob, "--test-root", &root, "--json"])
        .ok();
    let j = r.json();
    assert_eq!(j["serial"], 7);
    assert_eq!(j["models"], 1);
    assert_eq!(j["fido_alliance"], false);
    assert!(j["signed_by"].as_str().unwrap().contains("TEST"), "{j}");

    let s = sb.run(&["mds", "status"]).ok();
    assert!(s.stdout.contains("no. 7"), "{}", s.stdout);
    assert!(s.stdout.contains("TEST metadata"), "{}", s.stdout);
}

#[test]
fn mds_blob_is_refused_without_the_fido_root_and_when_tampered() {
    let sb = Sandbox::new();
    let signer = test_signer("B");
    let root_b64 = STANDARD.encode(signer.root.to_der().unwrap());
    let good = signer.sign(&payload(
        3,
        SOME_AAGUID,
        "Model X",
        &root_b64,
        "FIDO_CERTIFIED_L1",
    ));
    let root = write(&sb, "root.pem", &signer.root_pem());

    // Not chaining to the FIDO Alliance: refused without --test-root, nothing cached.
    let blob = write(&sb, "good.jwt", &good);
    let r = sb.run(&["mds", "import", &blob]).expect_code(12);
    assert!(
        r.stderr.contains("does not lead to a trusted root"),
        "{}",
        r.stderr
    );
    let s = sb.run(&["mds", "status", "--json"]).ok();
    assert_eq!(s.json()["imported"], false);

    // A good import, then a tampered blob: refused, and the cache still holds serial 3.
    sb.run(&["mds", "import", &blob, "--test-root", &root]).ok();
    let mut parts: Vec<String> = good.split('.').map(String::from).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&payload(
            4,
            SOME_AAGUID,
            "Model X (evil)",
            &root_b64,
            "FIDO_CERTIFIED_L3",
        ))
        .unwrap(),
    );
    let tampered = write(&sb, "tampered.jwt", &parts.join("."));
    let r = sb
        .run(&["mds", "import", &tampered, "--test-root", &root])
        .expect_code(12);
    assert!(
        r.stderr.contains("signature does not match"),
        "{}",
        r.stderr
    );

    // Signed under another root than the one given.
    let other = test_signer("C");
    let foreign = write(
        &sb,
        "foreign.jwt",
        &other.sign(&payload(
            5,
            SOME_AAGUID,
            "M",
            &root_b64,
            "FIDO_CERTIFIED_L1",
        )),
    );
    sb.run(&["mds", "import", &foreign, "--test-root", &root])
        .expect_code(12);

    // Not a blob at all.
    let junk = write(&sb, "junk.jwt", "hello");
    let r = sb
        .run(&["mds", "import", &junk, "--test-root", &root])
        .expect_code(12);
    assert!(r.stderr.contains("not a compact JWS"), "{}", r.stderr);

    // Signed correctly but not metadata: refused as a whole.
    let notmd = write(&sb, "notmd.jwt", &signer.sign(&json!({"hello": 1})));
    let r = sb
        .run(&["mds", "import", &notmd, "--test-root", &root])
        .expect_code(12);
    assert!(r.stderr.contains("not FIDO metadata"), "{}", r.stderr);

    let s = sb.run(&["mds", "status", "--json"]).ok();
    assert_eq!(
        s.json()["serial"],
        3,
        "the cache must be untouched by refused blobs"
    );
}

#[test]
fn a_damaged_cache_is_reported_not_used() {
    let sb = Sandbox::new();
    let signer = test_signer("D");
    let root_b64 = STANDARD.encode(signer.root.to_der().unwrap());
    let blob = write(
        &sb,
        "blob.jwt",
        &signer.sign(&payload(
            9,
            SOME_AAGUID,
            "Model X",
            &root_b64,
            "FIDO_CERTIFIED_L1",
        )),
    );
    let root = write(&sb, "root.pem", &signer.root_pem());
    sb.run(&["mds", "import", &blob, "--test-root", &root]).ok();
    let cache = sb.path("home/.local/share/keyward/mds/metadata.json");
    let text = std::fs::read_to_string(&cache).unwrap();
    std::fs::write(&cache, text.replace("\"blob\": \"", "\"blob\": \"x")).unwrap();
    let r = sb.run(&["mds", "status"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("damaged or was edited"), "{}", r.stderr);
}

// ---------------------------------------------------------------- key test on virtual keys

/// The first JSON document on stdout (with --json a failing command adds an error object after
/// its report).
fn first_json(stdout: &str) -> Value {
    serde_json::Deserializer::from_str(stdout)
        .into_iter::<Value>()
        .next()
        .unwrap_or_else(|| panic!("no JSON on stdout:\n{stdout}"))
        .unwrap_or_else(|e| panic!("bad JSON ({e}):\n{stdout}"))
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn status_of(report: &Value, id: &str) -> String {
    statuses(report)
        .into_iter()
        .find(|(i, _)| i == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
        .1
}

/// A virtual key with the test PIN set (not for u2f, which has no PIN).
fn key_with_pin(sb: &Sandbox, name: &str, profile: &str) -> String {
    let dev = sb.virtual_key(name, profile);
    sb.run_pins(&["key", "pin", "set", "--device", &dev], &[PIN])
        .ok();
    dev
}

fn key_test(sb: &Sandbox, dev: &str) -> common::Run {
    sb.run_pins(&["key", "test", "--device", dev, "--json"], &[PIN])
}

const ALL_CHECKS: [&str; 8] = [
    "key_answers",
    "pin_verified",
    "attestation_signature",
    "attestation_certificate",
    "aaguid_matches_certificate",
    "attestation_chain_trusted",
    "assertion_signature",
    "counter",
];

#[test]
fn key_test_passes_on_fido2_profiles_with_every_check_reported() {
    for profile in ["ctap21", "ctap20"] {
        let sb = Sandbox::new();
        let dev = key_with_pin(&sb, "k.key", profile);
        let r = key_test(&sb, &dev).ok();
        assert!(!r.all_output().contains(PIN), "the PIN leaked");
        let j = first_json(&r.stdout);
        let got: Vec<String> = statuses(&j).into_iter().map(|(i, _)| i).collect();
        assert_eq!(got, ALL_CHECKS, "{profile}");
        for (id, status) in statuses(&j) {
            assert_eq!(status, "pass", "{profile}: {id} in {j:#}");
        }
        assert_eq!(j["ok"], true);
        assert_eq!(j["is_virtual"], true);
        assert!(j["trusted_by"]
            .as_str()
            .unwrap()
            .contains("virtual: not a security key"));

        // The test spent no passkey slot (only CTAP 2.1 keys can list them).
        if profile == "ctap21" {
            let creds = sb.run_pins(
                &["key", "credentials", "list", "--device", &dev, "--json"],
                &[PIN],
            );
            assert_eq!(creds.ok().json()["existing"], 0);
        }
    }
}

#[test]
fn key_test_on_a_u2f_key_checks_what_it_can() {
    let sb = Sandbox::new();
    let dev = sb.virtual_key("u.key", "u2f");
    let r = sb.run(&["key", "test", "--device", &dev, "--json"]).ok();
    let j = first_json(&r.stdout);
    assert_eq!(status_of(&j, "pin_verified"), "skipped");
    assert_eq!(status_of(&j, "attestation_certificate"), "skipped");
    assert_eq!(status_of(&j, "aaguid_matches_certificate"), "skipped");
    for id in [
        "key_answers",
        "attestation_signature",
        "attestation_chain_trusted",
        "assertion_signature",
        "counter",
    ] {
        assert_eq!(status_of(&j, id), "pass", "{id}: {j:#}");
    }
}

#[test]
fn key_test_without_a_pin_warns_and_says_how_to_fix_it() {
    let sb = Sandbox::new();
    let dev = sb.virtual_key("k.key", "ctap21");
    let r = sb.run(&["key", "test", "--device", &dev]).ok();
    assert!(r.stdout.contains("WARN  PIN verified"), "{}", r.stdout);
    assert!(r.stdout.contains("keyward key pin set"), "{}", r.stdout);
    assert!(r
        .stdout
        .contains("This is a virtual key: not a security key."));
}

#[test]
fn key_test_fails_naming_the_check_the_key_breaks() {
    let cases = [
        ("--bad-signature", "assertion_signature"),
        ("--attest-out-of-profile", "attestation_certificate"),
        ("--attest-wrong-aaguid", "aaguid_matches_certificate"),
        ("--refuse-pin", "pin_verified"),
    ];
    for (knob, failing) in cases {
        let sb = Sandbox::new();
        let dev = key_with_pin(&sb, "k.key", "ctap21");
        let file = dev.strip_prefix("virtual:").unwrap();
        sb.run(&["virtual", "knob", file, knob, "on"]).ok();
        let r = key_test(&sb, &dev).expect_code(15);
        assert!(r.stderr.contains(failing), "{knob}: {}", r.stderr);
        assert!(!r.all_output().contains(PIN), "the PIN leaked");
        let j = first_json(&r.stdout);
        assert_eq!(j["ok"], false);
        let failed: Vec<String> = statuses(&j)
            .into_iter()
            .filter(|(_, s)| s == "fail")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(failed, vec![failing.to_string()], "{knob}: {j:#}");
        if failing != "pin_verified" {
            assert_eq!(status_of(&j, "pin_verified"), "pass", "{knob}");
            assert_eq!(status_of(&j, "key_answers"), "pass", "{knob}");
        }
    }
}

// ---------------------------------------------------------------- metadata roots in use

fn aaguid_of(sb: &Sandbox, dev: &str) -> String {
    let j = sb
        .run(&["key", "info", "--device", dev, "--json"])
        .ok()
        .json();
    j["info"]["aaguid"].as_str().expect("aaguid").to_string()
}

#[test]
fn key_test_uses_the_roots_from_imported_metadata() {
    let sb = Sandbox::new();
    let dev = key_with_pin(&sb, "k.key", "ctap21");
    let aaguid = aaguid_of(&sb, &dev);
    let first = first_json(&key_test(&sb, &dev).ok().stdout);
    let virtual_ca = first["virtual_ca"]["certificate_der_base64"]
        .as_str()
        .unwrap()
        .to_string();

    let signer = test_signer("E");
    let root = write(&sb, "root.pem", &signer.root_pem());

    // Metadata that lists the key with its real attestation root: trusted by that metadata.
    let good = write(
        &sb,
        "good.jwt",
        &signer.sign(&payload(
            1,
            &aaguid,
            "Lab Key 2000",
            &virtual_ca,
            "FIDO_CERTIFIED_L2",
        )),
    );
    sb.run(&["mds", "import", &good, "--test-root", &root]).ok();
    let j = first_json(&key_test(&sb, &dev).ok().stdout);
    assert_eq!(status_of(&j, "attestation_chain_trusted"), "pass");
    assert_eq!(j["maker_confirmed"], "Lab Key 2000");
    assert!(
        j["trusted_by"].as_str().unwrap().contains("TEST metadata"),
        "{j:#}"
    );

    // Metadata that lists the key's AAGUID under another root: the key may not be genuine.
    let other_root = STANDARD.encode(test_signer("F").root.to_der().unwrap());
    let wrong = write(
        &sb,
        "wrong.jwt",
        &signer.sign(&payload(
            2,
            &aaguid,
            "Lab Key 2000",
            &other_root,
            "FIDO_CERTIFIED_L2",
        )),
    );
    sb.run(&["mds", "import", &wrong, "--test-root", &root])
        .ok();
    let r = key_test(&sb, &dev).expect_code(15);
    let j = first_json(&r.stdout);
    assert_eq!(status_of(&j, "attestation_chain_trusted"), "fail");
    assert!(r.stdout.contains("may not be genuine"), "{}", r.stdout);

    // Metadata that says the model was revoked.
    let revoked = write(
        &sb,
        "revoked.jwt",
        &signer.sign(&payload(3, &aaguid, "Lab Key 2000", &virtual_ca, "REVOKED")),
    );
    sb.run(&["mds", "import", &revoked, "--test-root", &root])
        .ok();
    let r = key_test(&sb, &dev).expect_code(15);
    assert!(r.stdout.contains("REVOKED"), "{}", r.stdout);
}

// ---------------------------------------------------------------- readiness

fn verdicts(sb: &Sandbox, dev: &str, extra: &[&str]) -> (i32, Vec<(String, String)>, Value) {
    let mut args = vec!["key", "check", "--device", dev, "--json"];
    args.extend_from_slice(extra);
    let r = sb.run(&args);
    let j = first_json(&r.stdout);
    let v = j["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["playbook"].as_str().unwrap().to_string(),
                v["readiness"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (r.code, v, j)
}

fn readiness(v: &[(String, String)], id: &str) -> String {
    v.iter()
        .find(|(p, _)| p == id)
        .unwrap_or_else(|| panic!("no verdict for {id}"))
        .1
        .clone()
}

#[test]
fn key_check_gives_each_playbook_its_verdict_on_each_profile() {
    let sb = Sandbox::new();
    for profile in ["ctap21", "ctap20"] {
        let dev = key_with_pin(&sb, &format!("{profile}.key"), profile);
        let (code, v, _) = verdicts(&sb, &dev, &[]);
        assert_eq!(code, 15, "Apple is never ready for one virtual key");
        for id in [
            "google",
            "google-advanced-protection",
            "microsoft-entra",
            "microsoft-personal",
        ] {
            assert_eq!(readiness(&v, id), "ready", "{profile} {id}");
        }
        assert_eq!(readiness(&v, "apple"), "unsuitable", "{profile}");
    }

    let nopin = sb.virtual_key("nopin.key", "ctap21");
    let (_, v, j) = verdicts(&sb, &nopin, &[]);
    for id in [
        "google",
        "google-advanced-protection",
        "microsoft-entra",
        "microsoft-personal",
    ] {
        assert_eq!(readiness(&v, id), "not_ready", "no PIN: {id}");
    }
    assert!(j.to_string().contains("keyward key pin set"));

    let u2f = sb.virtual_key("u2f.key", "u2f");
    let (_, v, _) = verdicts(&sb, &u2f, &[]);
    assert_eq!(readiness(&v, "microsoft-entra"), "unsuitable");
    assert_eq!(readiness(&v, "microsoft-personal"), "unsuitable");
    assert_eq!(readiness(&v, "google"), "ready");
    assert_eq!(readiness(&v, "apple"), "unsuitable");
}

#[test]
fn one_key_is_not_enough_for_apple_and_two_do_not_make_a_virtual_key_certified() {
    let sb = Sandbox::new();
    let dev = key_with_pin(&sb, "k.key", "ctap21");
    let (code, _, j) = verdicts(&sb, &dev, &["--for", "apple"]);
    assert_eq!(code, 15);
    let findings = j["verdicts"][0]["findings"].as_array().unwrap();
    let req = |r: &str, sev: &str| {
        findings
            .iter()
            .any(|f| f["requirement"] == r && f["severity"] == sev)
    };
    assert!(req("keys", "action"), "{j:#}");
    assert!(req("fido_certified", "blocker"), "{j:#}");

    let (_, _, j) = verdicts(&sb, &dev, &["--for", "apple", "--keys", "2"]);
    let findings = j["verdicts"][0]["findings"].as_array().unwrap();
    assert!(!findings
        .iter()
        .any(|f| f["requirement"] == "keys" && f["severity"] == "action"));

    let r = sb
        .run(&["key", "check", "--device", &dev, "--for", "microsoft-entra"])
        .ok();
    assert!(r.stdout.contains("READY"), "{}", r.stdout);
    let r = sb
        .run(&["key", "check", "--device", &dev, "--for", "nope"])
        .expect_code(12);
    assert!(r.stderr.contains("nope"), "{}", r.stderr);
}

#[test]
fn key_info_shows_the_model() {
    let sb = Sandbox::new();
    let dev = sb.virtual_key("k.key", "ctap21");
    let r = sb.run(&["key", "info", "--device", &dev]).ok();
    assert!(
        r.stdout
            .contains("Model:          keyward virtual key (virtual: not a security key)"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_full_key_is_told_to_free_a_slot_and_the_self_test_still_runs() {
    let sb = Sandbox::new();
    let file = sb.path("full.key");
    let file = file.to_str().unwrap();
    sb.run(&["virtual", "create", file, "--slots", "1"]).ok();
    let dev = format!("virtual:{file}");
    sb.run_pins(&["key", "pin", "set", "--device", &dev], &[PIN])
        .ok();
    sb.run_pins(
        &[
            "virtual",
            "register",
            file,
            "--rp",
            "example.com",
            "--user",
            "a@example.com",
            "--discoverable",
        ],
        &[PIN],
    )
    .ok();

    let (code, v, j) = verdicts(&sb, &dev, &["--for", "microsoft-entra"]);
    assert_eq!(code, 15);
    assert_eq!(readiness(&v, "microsoft-entra"), "not_ready");
    assert!(
        j.to_string().contains("keyward key credentials delete"),
        "{j:#}"
    );

    // The self-test needs no slot, so it passes on a full key.
    key_test(&sb, &dev).ok();
}

#[test]
fn key_test_never_spends_the_last_pin_retries_without_an_explicit_yes() {
    let sb = Sandbox::new();
    let dev = key_with_pin(&sb, "low.key", "ctap21");
    let file = dev.trim_start_matches("virtual:").to_string();
    let wrong = ["key", "credentials", "list", "--device", &dev];
    let retries = || {
        sb.run(&["--json", "key", "pin", "status", "--device", &dev])
            .ok()
            .json()["retries"]
            .as_u64()
            .unwrap()
    };
    // 8 -> 5 (blocked until replug) -> 3.
    for _ in 0..3 {
        sb.run_pins(&wrong, &["000000"]);
    }
    sb.run(&["virtual", "replug", &file]).ok();
    for _ in 0..2 {
        sb.run_pins(&wrong, &["000000"]).expect_code(5);
    }
    assert_eq!(retries(), 3);

    let run = key_test(&sb, &dev).expect_code(14);
    assert!(run.stderr.contains("--allow-low-retries"), "{}", run.stderr);
    assert_eq!(retries(), 3, "no attempt was made");

    sb.run_pins(
        &[
            "--allow-low-retries",
            "key",
            "test",
            "--device",
            &dev,
            "--json",
        ],
        &[PIN],
    )
    .ok();
    assert_eq!(
        retries(),
        8,
        "the right PIN, given explicitly, restores them"
    );
}

fn unb64(v: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn key_test_json_exports_a_ceremony_any_relying_party_can_check() {
    use crypto_glue::ecdsa_p256::{EcdsaP256DerSignature, EcdsaP256VerifyingKey};
    use crypto_glue::traits::Verifier;
    use keyward::device::auth_data::AuthData;
    let sb = Sandbox::new();
    let dev = sb.virtual_key("k.key", "ctap21");
    let j = sb
        .run(&["--json", "key", "test", "--device", &dev])
        .ok()
        .json();
    let reg = &j["webauthn"]["registration"];
    let asn = &j["webauthn"]["assertion"];
    assert_eq!(reg["type"], "public-key");
    assert_eq!(
        reg["id"], asn["id"],
        "signed in with the credential it made"
    );
    for (cred, kind) in [(reg, "webauthn.create"), (asn, "webauthn.get")] {
        let cd: Value =
            serde_json::from_slice(&unb64(&cred["response"]["clientDataJSON"])).unwrap();
        assert_eq!(cd["type"], kind);
        assert_eq!(
            cd["origin"], "https://selftest.keyward.invalid",
            "no trailing slash"
        );
        assert_eq!(cd["crossOrigin"], false);
        assert!(cd.get("tokenBinding").is_none());
        assert_eq!(unb64(&cd["challenge"]).len(), 32);
    }
    // The credential's public key from the attestation verifies the sign-in signature.
    let att: serde_cbor_2::Value =
        serde_cbor_2::from_slice(&unb64(&reg["response"]["attestationObject"])).unwrap();
    let serde_cbor_2::Value::Map(att) = att else {
        panic!("not a map")
    };
    let Some(serde_cbor_2::Value::Bytes(auth_data)) =
        att.get(&serde_cbor_2::Value::Text("authData".into()))
    else {
        panic!("no authData")
    };
    let cred = AuthData::parse(auth_data).unwrap().attested.unwrap();
    assert_eq!(cred.credential_id, unb64(&reg["rawId"]));
    let cose: serde_cbor_2::Value = serde_cbor_2::from_slice(&cred.public_key).unwrap();
    let serde_cbor_2::Value::Map(cose) = cose else {
        panic!()
    };
    let coord = |k: i128| match cose.get(&serde_cbor_2::Value::Integer(k)) {
        Some(serde_cbor_2::Value::Bytes(b)) => b.clone(),
        _ => panic!("no coordinate {k}"),
    };
    let public = crypto_glue::ecdsa_p256::from_coords_raw(&coord(-2), &coord(-3)).unwrap();
    let verifier = EcdsaP256VerifyingKey::from(&public);
    let authenticator_data = unb64(&asn["response"]["authenticatorData"]);
    let client_data_hash: [u8; 32] = {
        use crypto_glue::traits::Digest;
        crypto_glue::s256::Sha256::digest(unb64(&asn["response"]["clientDataJSON"])).into()
    };
    let signed = [authenticator_data.as_slice(), &client_data_hash].concat();
    let sig = EcdsaP256DerSignature::from_bytes(&unb64(&asn["response"]["signature"])).unwrap();
    assert!(verifier.verify(&signed, &sig).is_ok());
}
