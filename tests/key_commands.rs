//! Issue 2, "Done when": the key commands driven through the real binary against virtual keys.
//! Every run goes through `checked`, which asserts no PIN used in these tests ever appears in
//! stdout or stderr.

mod common;

use common::{Run, Sandbox};

const PIN: &str = "482915";
const NEW_PIN: &str = "739164";
const WRONG: &str = "000000";
const SECRETS: [&str; 3] = [PIN, NEW_PIN, WRONG];

fn checked(run: Run) -> Run {
    let all = run.all_output();
    for secret in SECRETS {
        assert!(
            !all.contains(secret),
            "a PIN appeared in the output:\n{all}"
        );
    }
    run
}

struct Key {
    sb: Sandbox,
    dev: String,
    file: String,
}

impl Key {
    fn new(profile: &str) -> Key {
        let sb = Sandbox::new();
        let dev = sb.virtual_key("k.key", profile);
        let file = sb.path("k.key").display().to_string();
        Key { sb, dev, file }
    }
    fn run(&self, args: &[&str]) -> Run {
        let mut a = vec!["--device", &self.dev];
        a.extend_from_slice(args);
        checked(self.sb.run(&a))
    }
    fn pins(&self, args: &[&str], pins: &[&str]) -> Run {
        let mut a = vec!["--device", &self.dev];
        a.extend_from_slice(args);
        checked(self.sb.run_pins(&a, pins))
    }
    fn virt(&self, args: &[&str]) -> Run {
        let mut a = vec!["virtual"];
        a.push(args[0]);
        a.push(&self.file);
        a.extend_from_slice(&args[1..]);
        checked(self.sb.run(&a))
    }
    fn with_pin(profile: &str) -> Key {
        let k = Key::new(profile);
        k.pins(&["key", "pin", "set"], &[PIN]).ok();
        k
    }
    fn retries(&self) -> u64 {
        self.run(&["--json", "key", "pin", "status"]).ok().json()["retries"]
            .as_u64()
            .unwrap()
    }
}

#[test]
fn info_reports_a_virtual_ctap21_key() {
    let k = Key::new("ctap21");
    let j = k.run(&["--json", "key", "info"]).ok().json();
    assert_eq!(j["device"]["backend"], "virtual");
    assert_eq!(j["info"]["versions"][2], "FIDO_2_1");
    assert_eq!(j["info"]["remaining_discoverable_credentials"], 25);
    assert_eq!(j["pin"]["pin_set"], false);
    let text = k.run(&["key", "info"]).ok().stdout;
    assert!(text.contains("virtual: not a security key"), "{text}");
}

#[test]
fn set_pin_then_a_wrong_pin_costs_one_retry_and_says_so() {
    let k = Key::with_pin("ctap21");
    assert_eq!(k.retries(), 8);
    let r = k
        .pins(&["key", "pin", "change"], &[WRONG, NEW_PIN])
        .expect_code(5);
    assert!(
        r.stderr.contains("wrong PIN (7 attempts left"),
        "{}",
        r.stderr
    );
    assert_eq!(k.retries(), 7);
    // The right PIN restores the counter.
    k.pins(&["key", "pin", "change"], &[PIN, NEW_PIN]).ok();
    assert_eq!(k.retries(), 8);
    // A PIN already set cannot be "set" again.
    k.pins(&["key", "pin", "set"], &[PIN]).expect_code(16);
}

#[test]
fn three_wrong_pins_in_a_row_are_refused_until_replug() {
    let k = Key::with_pin("ctap21");
    let list = ["key", "credentials", "list"];
    k.pins(&list, &[WRONG]).expect_code(5);
    k.pins(&list, &[WRONG]).expect_code(5);
    let r = k.pins(&list, &[WRONG]).expect_code(6);
    assert!(r.stderr.contains("unplug it"), "{}", r.stderr);
    // Even the right PIN is refused now, and no retry is spent on it.
    k.pins(&list, &[PIN]).expect_code(6);
    assert_eq!(k.retries(), 5);
    k.virt(&["replug"]).ok();
    k.pins(&list, &[PIN]).ok();
    assert_eq!(k.retries(), 8);
}

#[test]
fn pin_blocks_at_zero_and_scripts_stop_before_the_last_retries() {
    let k = Key::with_pin("ctap21");
    let list = ["key", "credentials", "list"];
    k.pins(&list, &[WRONG]).expect_code(5);
    k.pins(&list, &[WRONG]).expect_code(5);
    k.pins(&list, &[WRONG]).expect_code(6);
    k.virt(&["replug"]).ok();
    k.pins(&list, &[WRONG]).expect_code(5);
    k.pins(&list, &[WRONG]).expect_code(5);
    // 3 left: a script without --allow-low-retries stops before trying.
    let r = k.pins(&list, &[WRONG]).expect_code(14);
    assert!(r.stderr.contains("--allow-low-retries"), "{}", r.stderr);
    assert_eq!(k.retries(), 3);
    let low = ["--allow-low-retries", "key", "credentials", "list"];
    k.pins(&low, &[WRONG]).expect_code(6);
    k.virt(&["replug"]).ok();
    let r = k.pins(&low, &[WRONG]).expect_code(5);
    // One left: said in the singular everywhere it is counted.
    assert!(
        r.stderr
            .contains("wrong PIN (1 attempt left before the key locks)"),
        "{}",
        r.stderr
    );
    let status = k.run(&["key", "pin", "status"]).ok().stdout;
    assert!(status.contains("set, 1 attempt left"), "{status}");
    let r = k.pins(&list, &[PIN]).expect_code(14);
    assert!(
        r.stderr.contains("only 1 PIN attempt remains on this key"),
        "{}",
        r.stderr
    );
    assert_eq!(k.retries(), 1, "nothing spent when stopping");
    let r = k.pins(&low, &[WRONG]).expect_code(7);
    assert!(r.stderr.contains("blocked"), "{}", r.stderr);
    // Blocked: even the right PIN is not tried.
    k.pins(&low, &[PIN]).expect_code(7);
    let status = k.run(&["key", "pin", "status"]).ok().stdout;
    assert!(status.contains("BLOCKED"), "{status}");
    // Only a reset recovers it.
    k.virt(&["replug"]).ok();
    k.run(&["key", "reset", "--yes-erase-key"]).ok();
    assert_eq!(
        k.run(&["--json", "key", "pin", "status"]).ok().json()["pin_set"],
        false
    );
}

#[test]
fn raising_the_minimum_length_forces_a_pin_change() {
    let k = Key::with_pin("ctap21");
    let r = k
        .pins(
            &["--json", "key", "policy", "--min-pin-length", "8"],
            &[PIN],
        )
        .ok();
    assert_eq!(r.json()["min_pin_length"], 8);
    let info = k.run(&["--json", "key", "info"]).ok().json();
    assert_eq!(info["info"]["min_pin_length"], 8);
    assert_eq!(info["info"]["force_pin_change"], true);
    // The 6-digit PIN now gets "change it first".
    let r = k
        .pins(&["key", "credentials", "list"], &[PIN])
        .expect_code(16);
    assert!(r.stderr.contains("pin change"), "{}", r.stderr);
    // A new PIN below the minimum is refused before it reaches the key.
    k.pins(&["key", "pin", "change"], &[PIN, NEW_PIN])
        .expect_code(12);
    let long = "73916428";
    let r =
        checked(k.sb.run_pins(&["--device", &k.dev, "key", "pin", "change"], &[PIN, long])).ok();
    assert!(!r.all_output().contains(long));
    k.pins(&["key", "credentials", "list"], &[long]).ok();
    // Lowering is refused.
    k.pins(&["key", "policy", "--min-pin-length", "4"], &[long])
        .expect_code(12);
}

#[test]
fn force_pin_change_flag_demands_a_different_pin() {
    let k = Key::with_pin("ctap21");
    k.pins(&["key", "policy", "--force-pin-change"], &[PIN])
        .ok();
    k.pins(&["key", "credentials", "list"], &[PIN])
        .expect_code(16);
    k.pins(&["key", "pin", "change"], &[PIN, PIN])
        .expect_code(12);
    k.pins(&["key", "pin", "change"], &[PIN, NEW_PIN]).ok();
    k.pins(&["key", "credentials", "list"], &[NEW_PIN]).ok();
}

#[test]
fn discoverable_credentials_are_registered_listed_deleted_until_the_store_is_full() {
    let sb = Sandbox::new();
    let file = sb.path("small.key");
    let f = file.to_str().unwrap();
    sb.run(&["virtual", "create", f, "--slots", "2"]).ok();
    let k = Key {
        dev: format!("virtual:{f}"),
        file: f.to_string(),
        sb,
    };
    k.pins(&["key", "pin", "set"], &[PIN]).ok();
    let reg = |user: &str| {
        checked(k.sb.run_pins(
            &[
                "--json",
                "virtual",
                "register",
                f,
                "--rp",
                "example.com",
                "--user",
                user,
                "--discoverable",
            ],
            &[PIN],
        ))
    };
    reg("alice").ok();
    reg("bob").ok();
    let r = reg("carol").expect_code(16);
    assert!(r.stderr.contains("no room"), "{}", r.stderr);

    let list = k
        .pins(&["--json", "key", "credentials", "list"], &[PIN])
        .ok()
        .json();
    assert_eq!(list["existing"], 2);
    assert_eq!(list["remaining"], 0);
    let creds = &list["relying_parties"][0]["credentials"];
    assert_eq!(creds[0]["user_name"], "alice");
    let id = creds[0]["credential_id"].as_str().unwrap().to_string();

    // A script must confirm.
    k.pins(&["key", "credentials", "delete", &id], &[PIN])
        .expect_code(14);
    k.pins(&["key", "credentials", "delete", &id, "--yes"], &[PIN])
        .ok();
    let list = k
        .pins(&["--json", "key", "credentials", "list"], &[PIN])
        .ok()
        .json();
    assert_eq!(list["existing"], 1);
    assert_eq!(
        list["relying_parties"][0]["credentials"][0]["user_name"],
        "bob"
    );
    reg("carol").ok();
}

#[test]
fn reset_only_inside_the_ten_second_window() {
    let k = Key::with_pin("ctap21");
    k.virt(&["knob", "--powered-up-ago", "60"]).ok();
    let r = k.run(&["key", "reset", "--yes-erase-key"]).expect_code(16);
    assert!(r.stderr.contains("10 seconds"), "{}", r.stderr);
    assert_eq!(k.retries(), 8); // still has its PIN
                                // Without a terminal nor the flag, nothing is erased.
    k.virt(&["replug"]).ok();
    k.run(&["key", "reset"]).expect_code(14);
    k.run(&["key", "reset", "--yes-erase-key"]).ok();
    let j = k.run(&["--json", "key", "pin", "status"]).ok().json();
    assert_eq!(j["pin_set"], false);
}

#[test]
fn a_key_unplugged_mid_command_gives_a_clear_error_at_once() {
    let k = Key::with_pin("ctap21");
    k.virt(&["knob", "--unplug-after", "2"]).ok();
    let started = std::time::Instant::now();
    let r = k
        .pins(&["key", "credentials", "list"], &[PIN])
        .expect_code(11);
    assert!(r.stderr.contains("unplugged"), "{}", r.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Gone until it is plugged back in.
    let r = k.run(&["key", "info"]).expect_code(3);
    assert!(r.stderr.contains("virtual replug"), "{}", r.stderr);
    k.virt(&["replug"]).ok();
    k.pins(&["key", "credentials", "list"], &[PIN]).ok();
}

#[test]
fn touch_refused_or_timed_out_and_ctap_errors_map_to_exit_codes() {
    let k = Key::new("ctap21");
    let reg = ["register", "--rp", "example.com", "--user", "a"];
    k.virt(&["knob", "--deny-next-touch"]).ok();
    k.virt(&reg).expect_code(8);
    k.virt(&["knob", "--time-out-next-touch"]).ok();
    let started = std::time::Instant::now();
    k.virt(&reg).expect_code(11);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    k.virt(&reg).ok();
    k.virt(&["knob", "--fail-next", "0x27"]).ok();
    k.run(&["key", "info"]).expect_code(8);
    k.virt(&["knob", "--fail-next", "0x7F"]).ok();
    let r = k.run(&["key", "info"]).expect_code(1);
    assert!(r.stderr.contains("0x7F"), "{}", r.stderr);
    k.run(&["key", "info"]).ok();
}

#[test]
fn a_u2f_only_key_refuses_pin_and_passkeys_clearly() {
    let k = Key::new("u2f");
    let j = k.run(&["--json", "key", "info"]).ok().json();
    assert_eq!(j["info"]["versions"], serde_json::json!(["U2F_V2"]));
    assert!(j["info"]["aaguid"].is_null());
    for args in [
        &["key", "pin", "set"][..],
        &["key", "credentials", "list"][..],
        &["key", "policy", "--min-pin-length", "6"][..],
    ] {
        let r = k.pins(args, &[PIN]).expect_code(9);
        assert!(r.stderr.contains("U2F-only"), "{args:?}: {}", r.stderr);
    }
    let r = k.run(&["key", "reset", "--yes-erase-key"]).expect_code(9);
    assert!(r.stderr.contains("U2F-only"), "{}", r.stderr);
    let r = k
        .virt(&[
            "register",
            "--rp",
            "example.com",
            "--user",
            "a",
            "--discoverable",
        ])
        .expect_code(9);
    assert!(r.stderr.contains("U2F-only"), "{}", r.stderr);
    let j =
        k.sb.run(&[
            "--json",
            "virtual",
            "register",
            &k.file,
            "--rp",
            "example.com",
            "--user",
            "a",
        ])
        .ok()
        .json();
    assert_eq!(j["attestation_format"], "fido-u2f");
}

#[test]
fn a_ctap20_key_refuses_credential_management_and_config() {
    let k = Key::with_pin("ctap20");
    let r = k
        .pins(&["key", "credentials", "list"], &[PIN])
        .expect_code(9);
    assert!(r.stderr.contains("CTAP 2.0"), "{}", r.stderr);
    let r = k
        .pins(&["key", "policy", "--min-pin-length", "8"], &[PIN])
        .expect_code(9);
    assert!(r.stderr.contains("CTAP 2.1"), "{}", r.stderr);
    k.pins(&["key", "policy", "--always-uv", "on"], &[PIN])
        .expect_code(9);
    // What it can do, it does.
    k.pins(&["key", "pin", "change"], &[PIN, NEW_PIN]).ok();
    checked(k.sb.run_pins(
        &[
            "virtual",
            "register",
            &k.file,
            "--rp",
            "example.com",
            "--user",
            "a",
            "--discoverable",
        ],
        &[NEW_PIN],
    ))
    .ok();
}

fn two_keys() -> (Sandbox, String, Vec<String>) {
    let sb = Sandbox::new();
    let dir = sb.path("keys");
    std::fs::create_dir(&dir).unwrap();
    sb.virtual_key("keys/a.key", "ctap21");
    sb.virtual_key("keys/b.key", "ctap20");
    std::fs::write(dir.join("notes.txt"), "not a key").unwrap();
    let j = sb
        .run(&[
            "--json",
            "--device",
            &format!("virtual-dir:{}", dir.display()),
            "devices",
        ])
        .ok()
        .json();
    let serials = j["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["serial"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(serials.len(), 2, "only the two key files count");
    (sb, format!("virtual-dir:{}", dir.display()), serials)
}

#[test]
fn two_keys_without_a_terminal_fail_with_the_list() {
    let (sb, dev, _) = two_keys();
    let r = checked(sb.run(&["--device", &dev, "key", "info"])).expect_code(4);
    assert!(
        r.stderr.contains("a.key") && r.stderr.contains("b.key"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--device"), "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn two_keys_with_a_terminal_let_the_person_choose() {
    let (sb, dev, serials) = two_keys();
    let mut cmd = sb.cmd();
    cmd.args(["--device", &dev, "key", "info"]);
    let mut p = expectrl::Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(std::time::Duration::from_secs(20)));
    p.expect("Which one?").expect("the list is offered");
    // Items: "touch the key I mean", key a, key b. Choose b.
    p.send("\x1b[B").unwrap();
    p.send("\x1b[B").unwrap();
    p.send("\r").unwrap();
    p.expect(serials[1].as_str())
        .expect("info of the chosen key");
    p.expect("CTAP 2.0").expect("it is the CTAP 2.0 key");
}

#[cfg(unix)]
#[test]
fn two_keys_with_a_terminal_can_be_chosen_by_touch() {
    let (sb, dev, serials) = two_keys();
    // Key a refuses the touch, so only key b can be the one touched.
    sb.run(&[
        "virtual",
        "knob",
        sb.path("keys/a.key").to_str().unwrap(),
        "--deny-next-touch",
    ])
    .ok();
    let mut cmd = sb.cmd();
    cmd.args(["--device", &dev, "key", "info"]);
    let mut p = expectrl::Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(std::time::Duration::from_secs(20)));
    p.expect("Which one?").expect("the list is offered");
    p.send("\r").unwrap();
    p.expect("Touch the key").expect("asked to touch");
    p.expect(serials[1].as_str())
        .expect("info of the touched key");
}
