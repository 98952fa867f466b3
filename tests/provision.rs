//! `keyward provision` end to end: the real binary, a folder of virtual keys, a real ledger.

mod common;

use common::{path_str, Sandbox};
use keyward::device::virtual_key::{self, Profile};
use keyward::ledger::{Ledger, PinState, SlotStatus};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// A folder with `n` fresh CTAP 2.1 virtual keys named `key-00`, `key-01`, ...
fn key_dir(sb: &Sandbox, n: usize) -> PathBuf {
    let dir = sb.path("keys");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        add_key(&dir, &format!("key-{i:02}"));
    }
    dir
}

fn add_key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    virtual_key::create(&path, Profile::Ctap21, 25).unwrap();
    path
}

fn write(sb: &Sandbox, name: &str, text: &str) -> String {
    let p = sb.path(name);
    std::fs::write(&p, text).unwrap();
    path_str(&p).to_string()
}

fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// The PINs in a mailer file, by label.
fn mailer_pins(path: &Path) -> BTreeMap<String, String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap(),
        vec!["label", "name", "email", "key_serial", "pin"]
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[0].to_string(), rec[4].to_string())
        })
        .collect()
}

/// Every byte of the ledger, including SQLite's write-ahead log and journal.
fn ledger_bytes(sb: &Sandbox) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(sb.dir.path()).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ledger.sqlite")
        {
            all.extend(std::fs::read(&p).unwrap());
        }
    }
    assert!(!all.is_empty());
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// (person, label, serial, pin state) of every key in the ledger.
fn ledger_keys(sb: &Sandbox) -> Vec<(String, String, Option<String>, Option<PinState>)> {
    let ledger = Ledger::open(&sb.ledger()).unwrap();
    let mut out = Vec::new();
    for p in ledger.people().unwrap() {
        for k in ledger.keys_of(p.id).unwrap() {
            out.push((p.name.clone(), k.label, k.serial, k.pin_state));
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

/// `provision --json` of `roster` (with `policy`, if any) onto the keys of `device`, PINs to
/// `mailer`; the caller checks the exit code.
fn provision_json(
    sb: &Sandbox,
    roster: &str,
    policy: Option<&str>,
    mailer: &Path,
    device: &str,
) -> common::Run {
    let mut args = vec!["provision", "--roster", roster];
    if let Some(policy) = policy {
        args.extend(["--policy", policy]);
    }
    args.extend([
        "--pin-mailer",
        path_str(mailer),
        "--device",
        device,
        "--json",
    ]);
    sb.run(&args)
}

const POLICY: &str = "min_pin_length = 6\nrandom_pin_length = 8\nforce_pin_change = true\n";

#[test]
fn twenty_keys_end_to_end_without_a_pin_anywhere_but_the_mailer() {
    let sb = Sandbox::new();
    let dir = key_dir(&sb, 20);
    // Not a key: ignored, like any other file in the folder that is not a virtual key.
    std::fs::write(dir.join("README.txt"), "keys for the November trip\n").unwrap();
    let mut roster = String::from("name,email,keys,label\n");
    for i in 0..10 {
        let keys = if i < 5 { 3 } else { 1 };
        roster.push_str(&format!("Person {i},p{i}@example.com,{keys},\n"));
    }
    let roster = write(&sb, "roster.csv", &roster);
    let policy = write(&sb, "policy.toml", POLICY);
    let mailer = sb.path("pins.csv");
    let device = format!("virtual-dir:{}", dir.display());
    let run = provision_json(&sb, &roster, Some(&policy), &mailer, &device).ok();
    let ev = events(&run.stdout);
    let provisioned = of_kind(&ev, "provisioned");
    assert_eq!(provisioned.len(), 20, "{}", run.stdout);
    let finished = of_kind(&ev, "finished")[0];
    assert_eq!(finished["done"], 20);
    assert_eq!(finished["failed"], 0);

    // The ledger has each key against the right person, with its PIN state.
    let keys = ledger_keys(&sb);
    assert_eq!(keys.len(), 20);
    for (person, label, serial, pin) in &keys {
        let n: usize = person.trim_start_matches("Person ").parse().unwrap();
        assert!(
            label.starts_with(&format!("{person} #")),
            "{person}: {label}"
        );
        assert!(serial.is_some());
        assert_eq!(*pin, Some(PinState::SetMustChange));
        let count = keys.iter().filter(|k| &k.0 == person).count();
        assert_eq!(count, if n < 5 { 3 } else { 1 });
    }
    let serials: BTreeSet<_> = keys.iter().map(|k| k.2.clone()).collect();
    assert_eq!(serials.len(), 20, "twenty different keys");
    // The event for each key names the key the ledger recorded.
    for e in &provisioned {
        let label = e["label"].as_str().unwrap();
        let rec = keys.iter().find(|k| k.1 == label).unwrap();
        assert_eq!(e["key"]["serial"].as_str(), rec.2.as_deref());
        assert_eq!(e["person"].as_str(), Some(rec.0.as_str()));
        assert_eq!(e["pin_delivered"], "mailer");
    }

    // The mailer: private, one PIN per key, and the PIN is nowhere else.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&mailer).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pins = mailer_pins(&mailer);
    assert_eq!(pins.len(), 20);
    let ledger = ledger_bytes(&sb);
    for (label, pin) in &pins {
        assert_eq!(pin.len(), 8, "{label}");
        assert!(!contains(&ledger, pin), "PIN of {label} is in the ledger");
        assert!(
            !run.stdout.contains(pin.as_str()),
            "PIN of {label} on stdout"
        );
        assert!(
            !run.stderr.contains(pin.as_str()),
            "PIN of {label} on stderr"
        );
    }

    // The mailer's PIN is the key's PIN, and the key wants it changed.
    let first = pins.get("Person 0 #1").unwrap();
    let serial = keys
        .iter()
        .find(|k| k.1 == "Person 0 #1")
        .unwrap()
        .2
        .clone();
    let key_file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| virtual_key::descriptor(p).is_ok_and(|d| d.serial == serial))
        .unwrap();
    let one = format!("virtual:{}", key_file.display());
    let info = sb
        .run(&["key", "info", "--device", &one, "--json"])
        .ok()
        .json();
    assert_eq!(info["info"]["force_pin_change"], true, "{info}");
    assert_eq!(info["info"]["min_pin_length"], 6, "{info}");
    sb.run_pins(
        &["key", "pin", "change", "--device", &one],
        &[first, "73915064"],
    )
    .ok();
}

#[test]
fn a_key_pulled_out_mid_way_fails_its_slot_and_a_rerun_finishes_it() {
    let sb = Sandbox::new();
    let dir = key_dir(&sb, 3);
    sb.run(&[
        "virtual",
        "knob",
        path_str(&dir.join("key-01")),
        "--unplug-after",
        "3",
    ])
    .ok();
    let roster = write(&sb, "roster.csv", "name\nAda\nBob\nCy\n");
    let device = format!("virtual-dir:{}", dir.display());
    let args = |mailer: &str| -> Vec<String> {
        [
            "provision",
            "--roster",
            &roster,
            "--pin-mailer",
            mailer,
            "--device",
            &device,
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a1 = args(path_str(&sb.path("pins-1.csv")));
    let run = sb.run(&a1.iter().map(String::as_str).collect::<Vec<_>>());
    let run = run.expect_code(17);
    let ev = events(&run.stdout);
    let failed = of_kind(&ev, "failed");
    assert_eq!(failed.len(), 1, "{}", run.stdout);
    assert_eq!(failed[0]["label"], "Bob #1");
    assert!(failed[0]["reason"].as_str().unwrap().contains("unplugged"));
    let done: Vec<_> = of_kind(&ev, "provisioned")
        .iter()
        .map(|e| e["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(done, ["Ada #1", "Cy #1"]);
    assert!(run.stderr.contains("1 slot(s) failed"), "{}", run.stderr);

    // The failed slot is in the ledger as failed, with the reason, and has no key.
    let ledger = Ledger::open(&sb.ledger()).unwrap();
    let slot = ledger.slot("Bob/Bob #1").unwrap().unwrap();
    assert_eq!(slot.status, SlotStatus::Failed);
    assert!(slot.reason.unwrap().contains("unplugged"));
    assert!(slot.key_id.is_none());
    drop(ledger);
    assert_eq!(ledger_keys(&sb).len(), 2);

    // A new key on the desk and the same command again: only Bob's slot is done now.
    add_key(&dir, "key-03");
    let a2 = args(path_str(&sb.path("pins-2.csv")));
    let run = sb
        .run(&a2.iter().map(String::as_str).collect::<Vec<_>>())
        .ok();
    let ev = events(&run.stdout);
    let done: Vec<_> = of_kind(&ev, "provisioned")
        .iter()
        .map(|e| e["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(done, ["Bob #1"]);
    assert_eq!(of_kind(&ev, "already_done").len(), 2);
    let keys = ledger_keys(&sb);
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().any(|k| k.0 == "Bob" && k.1 == "Bob #1"));

    // Once everything is done, the same command (same mailer name) only says so.
    let run = sb
        .run(&a2.iter().map(String::as_str).collect::<Vec<_>>())
        .ok();
    let ev = events(&run.stdout);
    assert_eq!(of_kind(&ev, "already_done").len(), 3);
    assert!(of_kind(&ev, "provisioned").is_empty());
}

#[test]
fn a_key_that_is_not_fresh_is_refused_and_left_as_it_was() {
    let sb = Sandbox::new();
    let dir = sb.path("keys");
    std::fs::create_dir_all(&dir).unwrap();
    let used = add_key(&dir, "a-used");
    add_key(&dir, "b-fresh");
    let used_dev = format!("virtual:{}", used.display());
    sb.run_pins(&["key", "pin", "set", "--device", &used_dev], &["246810"])
        .ok();
    sb.run_pins(
        &[
            "virtual",
            "register",
            path_str(&used),
            "--rp",
            "example.com",
            "--user",
            "old",
            "--discoverable",
        ],
        &["246810"],
    )
    .ok();
    let roster = write(&sb, "roster.csv", "name\nAda\n");
    let device = format!("virtual-dir:{}", dir.display());
    let run = provision_json(&sb, &roster, None, &sb.path("p.csv"), &device).ok();
    let ev = events(&run.stdout);
    let refused = of_kind(&ev, "refused");
    assert_eq!(refused.len(), 1, "{}", run.stdout);
    assert_eq!(refused[0]["label"], "Ada #1");
    assert_eq!(
        refused[0]["reason"],
        "the key is not fresh: a PIN is already set; the policy does not allow erasing keys \
         (erase_non_fresh_keys = false)"
    );
    let done = of_kind(&ev, "provisioned");
    assert_eq!(done.len(), 1);
    assert!(done[0]["key"]["device"]
        .as_str()
        .unwrap()
        .ends_with("b-fresh"));
    // The refused key still has its own PIN and its passkey.
    let list = sb
        .run_pins(
            &[
                "key",
                "credentials",
                "list",
                "--device",
                &used_dev,
                "--json",
            ],
            &["246810"],
        )
        .ok()
        .json();
    assert_eq!(list["existing"], 1);
}

#[test]
fn a_malformed_roster_is_reported_exactly_and_nothing_is_touched() {
    let sb = Sandbox::new();
    let dir = key_dir(&sb, 1);
    let device = format!("virtual-dir:{}", dir.display());
    let roster = write(
        &sb,
        "team.csv",
        "name,email,keys\nAda,ada@x.org,1\nBob,bob@x.org,lots\n",
    );
    let run = sb
        .run(&["provision", "--roster", &roster, "--device", &device])
        .expect_code(12);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "error: roster {roster}, line 3, column 3: `keys` must be a whole number from 1 to 10"
        )
    );
    assert!(!sb.ledger().exists(), "no ledger created for a bad roster");
    let info = sb
        .run(&[
            "key",
            "pin",
            "status",
            "--device",
            &format!("virtual:{}", dir.join("key-00").display()),
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(info["pin_set"], false, "{info}");
}

/// Issue 11, item 4: a PIN typed into the wrong place of a policy or roster is never echoed,
/// neither on stderr nor in the `--json` error; the error names file, line, column and the
/// allowed values.
#[test]
fn a_secret_looking_value_in_a_policy_or_roster_is_never_echoed() {
    let sb = Sandbox::new();
    let roster = write(&sb, "team.csv", "name\nAda\n");
    let mailer = sb.path("pins.csv");
    // Each file, where its error points, and what it says the setting takes.
    for (file, text, at, allowed) in [
        (
            "p1.toml",
            "first_pin = \"735901\"\n",
            "line 1, column 13",
            "`random` or `set-at-enrollment`",
        ),
        (
            "p2.toml",
            "min_pin_length = \"735901\"\n",
            "line 1, column 18",
            "min_pin_length takes a whole number from 4 to 63",
        ),
        (
            "p3.toml",
            "always_uv = 735901\n",
            "line 1, column 13",
            "always_uv takes `true` or `false`",
        ),
        // A number where a word belongs.
        (
            "p5.toml",
            "always_uv = true\nfirst_pin = 735901\n",
            "line 2, column 13",
            r#"first_pin takes `"random"` or `"set-at-enrollment"`"#,
        ),
    ] {
        let policy = write(&sb, file, text);
        for json in [false, true] {
            let mut args = vec![
                "provision",
                "--roster",
                &roster,
                "--policy",
                &policy,
                "--pin-mailer",
                path_str(&mailer),
            ];
            if json {
                args.push("--json");
            }
            let run = sb.run(&args).expect_code(12);
            let all = run.all_output();
            assert!(!all.contains("735901"), "{file} echoed:\n{all}");
            assert!(all.contains(&format!("policy {policy}, {at}: ")), "{all}");
            // (the `--json` object escapes the quotes)
            assert!(all.replace("\\\"", "\"").contains(allowed), "{file}: {all}");
        }
    }
    let roster = write(&sb, "bad.csv", "name,keys\nAda,735901x\n");
    let run = sb
        .run(&[
            "provision",
            "--roster",
            &roster,
            "--pin-mailer",
            path_str(&mailer),
            "--json",
        ])
        .expect_code(12);
    assert!(!run.all_output().contains("735901"), "{}", run.all_output());
    assert!(
        run.all_output().contains("line 2, column 2"),
        "{}",
        run.all_output()
    );
}

#[test]
fn a_malformed_policy_is_reported_exactly() {
    let sb = Sandbox::new();
    let roster = write(&sb, "team.csv", "name\nAda\n");
    let policy = write(&sb, "trip.toml", "min_pin_length = 8\nalways_uv = yes\n");
    let mailer = sb.path("pins.csv");
    let run = sb
        .run(&[
            "provision",
            "--roster",
            &roster,
            "--policy",
            &policy,
            "--pin-mailer",
            path_str(&mailer),
        ])
        .expect_code(12);
    assert!(
        run.stderr
            .starts_with(&format!("error: policy {policy}, line 2, column 13: ")),
        "{}",
        run.stderr
    );
    assert!(!mailer.exists(), "no mailer created for a bad policy");

    let policy = write(
        &sb,
        "trip2.toml",
        "first_pin = \"set-at-enrollment\"\nforce_pin_change = true\n",
    );
    let run = sb
        .run(&["provision", "--roster", &roster, "--policy", &policy])
        .expect_code(12);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "error: policy {policy}, line 2, column 20: force_pin_change = true needs a first PIN \
             to change, but first_pin is \"set-at-enrollment\"; set force_pin_change = false"
        )
    );
}

#[test]
fn random_pins_need_somewhere_to_go_and_a_mailer_is_never_overwritten() {
    let sb = Sandbox::new();
    let dir = key_dir(&sb, 1);
    let device = format!("virtual-dir:{}", dir.display());
    let roster = write(&sb, "team.csv", "name\nAda\n");
    let run = sb
        .run(&["provision", "--roster", &roster, "--device", &device])
        .expect_code(2);
    assert!(
        run.stderr.contains("give --pin-mailer FILE"),
        "{}",
        run.stderr
    );

    let mailer = write(&sb, "pins.csv", "earlier PINs nobody printed yet\n");
    let run = sb
        .run(&[
            "provision",
            "--roster",
            &roster,
            "--device",
            &device,
            "--pin-mailer",
            &mailer,
        ])
        .expect_code(12);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&mailer).unwrap(),
        "earlier PINs nobody printed yet\n"
    );
}

#[test]
fn a_mailer_that_cannot_be_created_stops_the_run_before_any_key_is_touched() {
    let sb = Sandbox::new();
    let dir = key_dir(&sb, 1);
    let key_before = std::fs::read(dir.join("key-00")).unwrap();
    let device = format!("virtual-dir:{}", dir.display());
    let roster = write(&sb, "team.csv", "name\nAda\n");
    let missing = sb.path("no-such-folder/pins.csv");
    let folder = sb.path("a-folder");
    std::fs::create_dir(&folder).unwrap();
    for mailer in [&missing, &folder] {
        let run = sb
            .run(&[
                "provision",
                "--roster",
                &roster,
                "--device",
                &device,
                "--pin-mailer",
                path_str(mailer),
            ])
            .expect_code(12);
        assert!(
            run.stderr.contains(path_str(mailer)) && run.stderr.contains("could not be created")
                || run.stderr.contains("already exists"),
            "{}",
            run.stderr
        );
        assert!(!run.stdout.contains("provisioned"), "{}", run.stdout);
    }
    assert!(!missing.exists());
    assert_eq!(std::fs::read(dir.join("key-00")).unwrap(), key_before);
    assert!(ledger_keys(&sb).is_empty());
}

#[test]
fn set_at_enrollment_leaves_keys_without_a_pin_and_says_so() {
    let sb = Sandbox::new();
    let dir = key_dir(&sb, 2);
    let device = format!("virtual-dir:{}", dir.display());
    let roster = write(&sb, "team.csv", "name,keys\nAda,2\n");
    let policy = write(
        &sb,
        "p.toml",
        "first_pin = \"set-at-enrollment\"\nmin_pin_length = 8\n",
    );
    let run = sb
        .run(&[
            "provision",
            "--roster",
            &roster,
            "--policy",
            &policy,
            "--device",
            &device,
        ])
        .ok();
    assert!(
        run.stdout
            .contains("No PIN: the person sets it at enrollment"),
        "{}",
        run.stdout
    );
    let keys = ledger_keys(&sb);
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.3 == Some(PinState::NotSetPersonSets)));
    let info = sb
        .run(&[
            "key",
            "info",
            "--device",
            &format!("virtual:{}", dir.join("key-01").display()),
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(info["info"]["min_pin_length"], 8, "{info}");
}

#[test]
fn a_run_killed_with_sigkill_resumes_without_doing_a_slot_twice_or_losing_one() {
    let sb = Sandbox::new();
    let dir = key_dir(&sb, 13);
    let roster = write(&sb, "team.csv", "name,keys\nAda,4\nBob,3\nCy,3\n");
    let device = format!("virtual-dir:{}", dir.display());
    let first_mailer = sb.path("pins-1.csv");
    let mut child = sb
        .cmd()
        .args([
            "provision",
            "--roster",
            &roster,
            "--pin-mailer",
            path_str(&first_mailer),
            "--device",
            &device,
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_run = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(Ok(line)) = lines.next() {
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["event"] == "provisioned" {
            first_run.push(v["slot"].as_str().unwrap().to_string());
            if first_run.len() == 4 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert_eq!(first_run.len(), 4);

    let run = provision_json(&sb, &roster, None, &sb.path("pins-2.csv"), &device).ok();
    let ev = events(&run.stdout);
    let second_run: Vec<String> = of_kind(&ev, "provisioned")
        .iter()
        .map(|e| e["slot"].as_str().unwrap().to_string())
        .collect();
    // Keys recorded before the kill are recognised and left alone.
    assert!(
        of_kind(&ev, "key_already_provisioned").len() >= 4,
        "{}",
        run.stdout
    );

    let ledger = Ledger::open(&sb.ledger()).unwrap();
    let slots = ledger.slots().unwrap();
    assert_eq!(slots.len(), 10);
    assert!(slots.iter().all(|s| s.status == SlotStatus::Done));
    let recorded: BTreeSet<String> = slots.into_iter().map(|s| s.slot).collect();
    // What the second run found done is exactly what the first run did (including any slot it
    // finished between its 4th event and the kill), and the two runs never share a slot.
    let found_done: BTreeSet<String> = of_kind(&ev, "already_done")
        .iter()
        .map(|e| e["slot"].as_str().unwrap().to_string())
        .collect();
    assert!(
        first_run.iter().all(|s| found_done.contains(s)),
        "{first_run:?} vs {found_done:?}"
    );
    assert!(
        !second_run.is_empty(),
        "the kill came after the first run had finished"
    );
    let second: BTreeSet<String> = second_run.iter().cloned().collect();
    assert_eq!(
        second.len(),
        second_run.len(),
        "a slot provisioned twice in one run"
    );
    assert!(
        found_done.is_disjoint(&second),
        "a slot provisioned twice: {found_done:?} {second:?}"
    );
    let union: BTreeSet<String> = found_done.union(&second).cloned().collect();
    assert_eq!(union, recorded, "a slot lost");
    let keys = ledger_keys(&sb);
    assert_eq!(keys.len(), 10);
    let serials: BTreeSet<_> = keys.iter().map(|k| k.2.clone()).collect();
    assert_eq!(serials.len(), 10, "each slot has its own key");
}

#[test]
fn the_self_test_runs_on_each_key_and_a_failing_key_fails_its_slot() {
    let sb = Sandbox::new();
    let dir = key_dir(&sb, 3);
    sb.run(&[
        "virtual",
        "knob",
        path_str(&dir.join("key-01")),
        "--bad-signature",
        "on",
    ])
    .ok();
    let device = format!("virtual-dir:{}", dir.display());
    let roster = write(&sb, "team.csv", "name\nAda\nBob\n");
    let policy = write(&sb, "p.toml", "self_test = true\nalways_uv = true\n");
    let run =
        provision_json(&sb, &roster, Some(&policy), &sb.path("pins.csv"), &device).expect_code(17);
    let ev = events(&run.stdout);
    let done = of_kind(&ev, "provisioned");
    assert_eq!(done.len(), 1, "{}", run.stdout);
    assert_eq!(done[0]["label"], "Ada #1");
    assert_eq!(done[0]["self_tested"], true);
    assert_eq!(done[0]["always_uv"], true);
    let failed = of_kind(&ev, "failed");
    assert_eq!(failed[0]["label"], "Bob #1");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("self-test failed: assertion_signature"),
        "{reason}"
    );
    let ledger = Ledger::open(&sb.ledger()).unwrap();
    let ada = ledger.find_person("Ada").unwrap();
    assert!(ledger
        .has_checkpoint(ada.id, "provision.self_test.Ada #1")
        .unwrap());
}

#[cfg(unix)]
#[test]
fn on_a_terminal_the_first_pin_is_shown_once_and_works() {
    use expectrl::{Eof, Regex, Session, WaitStatus};
    let sb = Sandbox::new();
    let dir = key_dir(&sb, 1);
    let device = format!("virtual-dir:{}", dir.display());
    let roster = write(&sb, "team.csv", "name\nAda\n");
    let mut cmd = sb.cmd();
    cmd.args(["provision", "--roster", &roster, "--device", &device]);
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(std::time::Duration::from_secs(20)));
    let shown = p
        .expect(Regex(r"First PIN for Ada #1 \(Ada\): (\d{8})"))
        .expect("the PIN is shown to the operator");
    let pin = String::from_utf8_lossy(shown.get(1).unwrap()).to_string();
    let rest = p.expect(Eof).expect("the run ends");
    let after = format!(
        "{}{}",
        String::from_utf8_lossy(rest.before()),
        String::from_utf8_lossy(rest.as_bytes())
    );
    assert!(!after.contains(&pin), "shown only once: {after}");
    assert!(after.contains("write \"Ada #1\" on the key"), "{after}");
    assert!(matches!(
        p.get_process().wait().unwrap(),
        WaitStatus::Exited(_, 0)
    ));
    assert!(!contains(&ledger_bytes(&sb), &pin));
    let one = format!("virtual:{}", dir.join("key-00").display());
    sb.run_pins(
        &["key", "pin", "change", "--device", &one],
        &[&pin, "73915064"],
    )
    .ok();
}

#[test]
fn a_policy_may_erase_keys_that_are_not_fresh_but_only_in_the_reset_window() {
    let sb = Sandbox::new();
    let dir = sb.path("keys");
    std::fs::create_dir_all(&dir).unwrap();
    let late = add_key(&dir, "a-late");
    let early = add_key(&dir, "b-early");
    for key in [&late, &early] {
        let dev = format!("virtual:{}", key.display());
        sb.run_pins(&["key", "pin", "set", "--device", &dev], &["246810"])
            .ok();
    }
    sb.run(&["virtual", "knob", path_str(&late), "--powered-up-ago", "60"])
        .ok();
    sb.run(&["virtual", "knob", path_str(&early), "--powered-up-ago", "2"])
        .ok();
    let roster = write(&sb, "team.csv", "name\nAda\n");
    let policy = write(&sb, "p.toml", "erase_non_fresh_keys = true\n");
    let device = format!("virtual-dir:{}", dir.display());
    let run = provision_json(&sb, &roster, Some(&policy), &sb.path("pins.csv"), &device).ok();
    assert!(run
        .stderr
        .contains("this policy erases keys that are not fresh"));
    let ev = events(&run.stdout);
    let refused = of_kind(&ev, "refused");
    assert_eq!(refused.len(), 1, "{}", run.stdout);
    assert!(refused[0]["key"]["device"]
        .as_str()
        .unwrap()
        .ends_with("a-late"));
    assert!(refused[0]["reason"]
        .as_str()
        .unwrap()
        .contains("take it out and insert it again"));
    let done = of_kind(&ev, "provisioned");
    assert!(done[0]["key"]["device"]
        .as_str()
        .unwrap()
        .ends_with("b-early"));
    // The erased key now has the mailer's PIN, not its old one.
    let pins = mailer_pins(&sb.path("pins.csv"));
    let dev = format!("virtual:{}", early.display());
    sb.run_pins(
        &["key", "pin", "change", "--device", &dev],
        &[&pins["Ada #1"], "73915064"],
    )
    .ok();
}
