//! `keyward virtual ...`: the virtual key file and its knobs, through the real binary.

mod common;

use common::Sandbox;

#[test]
fn create_writes_a_private_file_marked_not_a_security_key() {
    let sb = Sandbox::new();
    let file = sb.path("k.key");
    let f = file.to_str().unwrap();
    let j = sb.run(&["--json", "virtual", "create", f]).ok().json();
    assert_eq!(j["device"]["backend"], "virtual");
    assert_eq!(j["device"]["manufacturer"], "keyward");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("NOT a security key"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn create_refuses_to_overwrite_anything() {
    let sb = Sandbox::new();
    let file = sb.path("important.txt");
    std::fs::write(&file, "keep me").unwrap();
    let r = sb
        .run(&["virtual", "create", file.to_str().unwrap()])
        .expect_code(12);
    assert!(r.stderr.contains("never overwrites"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

#[test]
fn a_damaged_or_foreign_file_is_reported_and_left_alone() {
    let sb = Sandbox::new();
    let dev = sb.virtual_key("k.key", "ctap21");
    let file = sb.path("k.key");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.truncate(text.len() / 2);
    std::fs::write(&file, &text).unwrap();
    let r = sb.run(&["--device", &dev, "key", "info"]).expect_code(12);
    assert!(r.stderr.contains("damaged"), "{}", r.stderr);
    assert!(r.stderr.contains("k.key"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    let other = sb.path("notes.json");
    std::fs::write(&other, "{\"hello\": 1}").unwrap();
    let r = sb
        .run(&[
            "--device",
            &format!("virtual:{}", other.display()),
            "key",
            "info",
        ])
        .expect_code(12);
    assert!(
        r.stderr.contains("not a keyward virtual key"),
        "{}",
        r.stderr
    );
    sb.run(&["virtual", "replug", other.to_str().unwrap()])
        .expect_code(12);
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "{\"hello\": 1}");
}

#[test]
fn profiles_answer_get_info_like_their_generation() {
    let sb = Sandbox::new();
    for (profile, versions, cred_mgmt) in
        [("ctap21", 3, true), ("ctap20", 2, false), ("u2f", 1, false)]
    {
        let dev = sb.virtual_key(&format!("{profile}.key"), profile);
        let j = sb
            .run(&["--json", "--device", &dev, "key", "info"])
            .ok()
            .json();
        assert_eq!(j["info"]["versions"].as_array().unwrap().len(), versions);
        assert_eq!(
            j["info"]["options"]["credMgmt"].as_bool().unwrap_or(false),
            cred_mgmt,
            "{profile}"
        );
    }
    sb.run(&[
        "virtual",
        "create",
        sb.path("x.key").to_str().unwrap(),
        "--profile",
        "ctap3",
    ])
    .expect_code(2);
}

#[test]
fn knobs_are_stored_shown_and_cleared() {
    let sb = Sandbox::new();
    sb.virtual_key("k.key", "ctap21");
    let f = sb.path("k.key");
    let f = f.to_str().unwrap();
    let j = sb
        .run(&[
            "--json",
            "virtual",
            "knob",
            f,
            "--deny-next-touch",
            "--unplug-after",
            "3",
            "--fail-next",
            "0x2E",
            "--bad-signature",
            "on",
            "--refuse-pin",
            "on",
            "--attest-out-of-profile",
            "on",
            "--attest-wrong-aaguid",
            "on",
        ])
        .ok()
        .json();
    let k = &j["knobs"];
    assert_eq!(k["next_touch"], "deny");
    assert_eq!(k["unplug_after_commands"], 3);
    assert_eq!(k["fail_next_with"], 0x2E);
    assert_eq!(k["bad_assertion_signature"], true);
    assert_eq!(k["refuse_pin"], true);
    // Shown without changes, in words.
    let text = sb.run(&["virtual", "knob", f]).ok().stdout;
    assert!(text.contains("next touch: refused"), "{text}");
    assert!(text.contains("CTAP2_ERR_NO_CREDENTIALS"), "{text}");
    let j = sb
        .run(&["--json", "virtual", "knob", f, "--clear"])
        .ok()
        .json();
    assert_eq!(j["knobs"]["next_touch"], serde_json::Value::Null);
    assert_eq!(j["knobs"]["refuse_pin"], false);
    sb.run(&["virtual", "knob", f, "--fail-next", "banana"])
        .expect_code(2);
}

#[test]
fn refuse_pin_knob_answers_wrong_pin_without_spending_retries() {
    let sb = Sandbox::new();
    let dev = sb.virtual_key("k.key", "ctap21");
    let f = sb.path("k.key");
    let f = f.to_str().unwrap();
    sb.run_pins(&["--device", &dev, "key", "pin", "set"], &["5821"])
        .ok();
    sb.run(&["virtual", "knob", f, "--refuse-pin", "on"]).ok();
    sb.run_pins(&["--device", &dev, "key", "credentials", "list"], &["5821"])
        .expect_code(5);
    let j = sb
        .run(&["--json", "--device", &dev, "key", "pin", "status"])
        .ok()
        .json();
    assert_eq!(j["retries"], 8);
}

#[test]
fn register_refuses_an_excluded_credential_and_unplug_hides_the_key() {
    let sb = Sandbox::new();
    let dir = sb.path("keys");
    std::fs::create_dir(&dir).unwrap();
    sb.virtual_key("keys/k.key", "ctap21");
    let f = dir.join("k.key");
    let f = f.to_str().unwrap();
    let j = sb
        .run(&[
            "--json",
            "virtual",
            "register",
            f,
            "--rp",
            "example.com",
            "--user",
            "a",
        ])
        .ok()
        .json();
    let id = j["credential_id"].as_str().unwrap().to_string();
    assert_eq!(j["attestation_format"], "packed");
    let r = sb
        .run(&[
            "virtual",
            "register",
            f,
            "--rp",
            "example.com",
            "--user",
            "a",
            "--exclude",
            &id,
        ])
        .expect_code(16);
    assert!(r.stderr.contains("already holds"), "{}", r.stderr);
    // The same ID means nothing to another website.
    sb.run(&[
        "virtual",
        "register",
        f,
        "--rp",
        "other.example",
        "--user",
        "a",
        "--exclude",
        &id,
    ])
    .ok();

    let devdir = format!("virtual-dir:{}", dir.display());
    let count = |sb: &Sandbox| {
        sb.run(&["--json", "--device", &devdir, "devices"])
            .ok()
            .json()["devices"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(&sb), 1);
    sb.run(&["virtual", "unplug", f]).ok();
    assert_eq!(count(&sb), 0);
    sb.run(&["virtual", "replug", f]).ok();
    assert_eq!(count(&sb), 1);
}

#[test]
fn register_json_hands_over_the_registration_as_a_browser_would() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let sb = Sandbox::new();
    let dev = sb.virtual_key("k.key", "ctap21");
    let f = dev.trim_start_matches("virtual:");
    let j = sb
        .run(&[
            "--json",
            "virtual",
            "register",
            f,
            "--rp",
            "example.com",
            "--user",
            "ana",
        ])
        .ok()
        .json();
    let w = &j["webauthn"];
    let raw = URL_SAFE_NO_PAD
        .decode(w["rawId"].as_str().unwrap())
        .unwrap();
    assert_eq!(hex::encode(raw), j["credential_id"].as_str().unwrap());
    let cd = URL_SAFE_NO_PAD
        .decode(w["response"]["clientDataJSON"].as_str().unwrap())
        .unwrap();
    let cd: serde_json::Value = serde_json::from_slice(&cd).unwrap();
    assert_eq!(cd["origin"], "https://example.com");
    assert_eq!(cd["type"], "webauthn.create");
    assert_eq!(cd["crossOrigin"], false);
    let att = URL_SAFE_NO_PAD
        .decode(w["response"]["attestationObject"].as_str().unwrap())
        .unwrap();
    let att: serde_cbor_2::Value = serde_cbor_2::from_slice(&att).unwrap();
    let serde_cbor_2::Value::Map(att) = att else {
        panic!("attestationObject is not a map")
    };
    assert_eq!(
        att.get(&serde_cbor_2::Value::Text("fmt".into())),
        Some(&serde_cbor_2::Value::Text("packed".into()))
    );
}
