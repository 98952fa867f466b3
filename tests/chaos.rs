//! Issue 11, item 6: chaos. `enroll --answers` is killed (SIGKILL) at random points, seeded,
//! again and again, then resumed to completion; the result must be what a clean run gives.
//! Bounded: each case stops killing after its count or its time budget.

mod common;

use common::{path_str, Sandbox};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const PIN: &str = "champignon-7";
const USER: &str = "ada@example.com";

/// xorshift64*: the kills are reproducible from the seed printed on failure.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn pins() -> [(&'static str, &'static str); 2] {
    [("KEYWARD_PIN", PIN), ("KEYWARD_NEW_PIN", PIN)]
}

/// Two fresh virtual keys, each holding the passkey Google will have made on it.
fn setup(sb: &Sandbox) -> (String, std::path::PathBuf) {
    let dir = sb.path("keys");
    std::fs::create_dir_all(&dir).unwrap();
    for k in ["a.key", "b.key"] {
        let f = dir.join(k);
        sb.run(&["virtual", "create", path_str(&f)]).ok();
        sb.run(&[
            "virtual",
            "register",
            path_str(&f),
            "--rp",
            "google.com",
            "--user",
            USER,
            "--discoverable",
        ])
        .ok();
    }
    let answers = sb.path("answers.toml");
    std::fs::write(
        &answers,
        format!(
            r#""person.new" = true
"keys.count" = "2"
"keys.a.device" = "virtual:{a}"
"keys.b.device" = "virtual:{b}"
"key.*.set_pin" = true
"account.google.identifier" = "{USER}"
"account.google.platform" = "web"
"step.*.*.done" = true
"confirm.*.*.enrolled" = true
"method.*.*.status" = "on"
"method.*.*.outcome" = "removed"
"method.google.sms.outcome" = "later"
"#,
            a = dir.join("a.key").display(),
            b = dir.join("b.key").display()
        ),
    )
    .unwrap();
    (format!("virtual-dir:{}", dir.display()), answers)
}

fn enroll_args<'a>(device: &'a str, answers: &'a Path) -> Vec<&'a str> {
    vec![
        "enroll",
        "--person",
        "Ada Lovelace",
        "--playbook",
        "google",
        "--answers",
        path_str(answers),
        "--device",
        device,
        "--operator",
        "sam",
    ]
}

/// The records of an export, without ids, timestamps or anything else a rerun may change.
fn records(sb: &Sandbox) -> Value {
    let e = sb.run(&["ledger", "export"]).ok().json();
    let strip = |v: &Value, keep: &[&str]| -> Value {
        let mut m = serde_json::Map::new();
        for k in keep {
            m.insert(k.to_string(), v[*k].clone());
        }
        Value::Object(m)
    };
    let sorted = |table: &str, keep: &[&str]| -> Value {
        let mut rows: Vec<Value> = e[table]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| strip(r, keep))
            .collect();
        rows.sort_by_key(|r| r.to_string());
        Value::Array(rows)
    };
    let mut detail_free_enrollments: Vec<Value> = e["enrollments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::json!({"evidence": r["evidence"], "rp_id": r["detail"]["rp_id"],
                               "user": r["detail"]["user_name"],
                               "needs_replacement": r["needs_replacement"]})
        })
        .collect();
    detail_free_enrollments.sort_by_key(|r| r.to_string());
    serde_json::json!({
        "people": sorted("people", &["name", "email"]),
        "accounts": sorted("accounts", &["playbook", "identifier"]),
        "keys": sorted("keys", &["label", "aaguid", "model", "serial", "state", "pin_state"]),
        "enrollments": detail_free_enrollments,
        "methods": sorted("methods", &["method", "status", "reason"]),
        "key_changes": e["key_changes"],
    })
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn enroll_killed_at_random_points_resumes_to_what_a_clean_run_records() {
    let seed: u64 = std::env::var("KEYWARD_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6b65_7977_6172_6431);
    let mut rng = Rng(seed);

    let clean = Sandbox::new();
    let (device, answers) = setup(&clean);
    let started = Instant::now();
    clean
        .run_with(&enroll_args(&device, &answers), None, &pins())
        .ok();
    let clean_secs = started.elapsed().as_secs_f64();
    let expected = records(&clean);

    let sb = Sandbox::new();
    let (device, answers) = setup(&sb);
    let budget = Instant::now();
    let (mut kills, mut finished_early) = (0, 0);
    while kills < 30 && budget.elapsed() < Duration::from_secs(45) {
        let mut child = sb
            .cmd()
            .args(enroll_args(&device, &answers))
            .envs(pins())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Anywhere in the time a whole run takes.
        let at = Duration::from_secs_f64(clean_secs * (rng.next() % 1000) as f64 / 1000.0);
        std::thread::sleep(at);
        match child.try_wait().unwrap() {
            Some(_) => finished_early += 1,
            None => {
                child.kill().unwrap();
                kills += 1;
            }
        }
        child.wait().unwrap();
        if finished_early > 0 && kills < 30 {
            // Done already: start over from a fresh ledger and keys, so that every kill
            // lands in a run with work left to do.
            let _ = std::fs::remove_file(sb.ledger());
            for s in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{s}", sb.ledger().display()));
            }
            std::fs::remove_dir_all(sb.path("keys")).unwrap();
            setup(&sb);
            finished_early = 0;
        }
    }
    assert!(kills >= 30, "seed {seed}: only {kills} kills in the budget");
    // Resumed to completion.
    let run = sb.run_with(&enroll_args(&device, &answers), None, &pins());
    assert_eq!(run.code, 0, "seed {seed}: {}", run.stderr);

    let verify = sb.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "seed {seed}: {}", verify.stdout);
    let got = records(&sb);
    // Serials and AAGUIDs differ between the two sandboxes' keys: compare the rest, then
    // check that no key is recorded twice.
    let without_serials = |v: &Value| {
        let mut v = v.clone();
        for k in v["keys"].as_array_mut().unwrap() {
            k["serial"] = Value::Null;
        }
        v
    };
    assert_eq!(
        without_serials(&got),
        without_serials(&expected),
        "seed {seed}: the records differ from a clean run's"
    );
    let serials: BTreeSet<String> = got["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["serial"].to_string())
        .collect();
    assert_eq!(
        serials.len(),
        2,
        "seed {seed}: a key recorded twice: {got:#}"
    );

    // No temporary file left, and the PIN in no file (the keys themselves aside).
    let keys_dir = sb.path("keys");
    for f in files(sb.dir.path()) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".tmp") && !name.contains(".new-"),
            "seed {seed}: left behind: {f:?}"
        );
        if f.starts_with(&keys_dir) && !name.starts_with('.') {
            continue;
        }
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(PIN.len()).any(|w| w == PIN.as_bytes()),
            "seed {seed}: the PIN is in {f:?}"
        );
    }
    eprintln!("chaos enroll: seed {seed}, {kills} kills, clean run {clean_secs:.2} s");
}

const POLICY: &str = "first_pin = \"random\"\nrandom_pin_length = 8\nforce_pin_change = true\n\
                      erase_non_fresh_keys = true\n";
const ROSTER: &str = "name,email,keys\nAda,ada@x.org,2\nBob,bob@x.org,2\nCy,cy@x.org,2\n";

fn provision_setup(sb: &Sandbox) -> String {
    let dir = sb.path("keys");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..6 {
        sb.run(&["virtual", "create", path_str(&dir.join(format!("key-{i}")))])
            .ok();
    }
    std::fs::write(sb.path("roster.csv"), ROSTER).unwrap();
    std::fs::write(sb.path("policy.toml"), POLICY).unwrap();
    format!("virtual-dir:{}", dir.display())
}

fn provision_cmd(sb: &Sandbox, device: &str, mailer: &Path) -> std::process::Command {
    let mut c = sb.cmd();
    c.args([
        "provision",
        "--roster",
        path_str(&sb.path("roster.csv")),
        "--policy",
        path_str(&sb.path("policy.toml")),
        "--pin-mailer",
        path_str(mailer),
        "--device",
        device,
        "--operator",
        "sam",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    c
}

#[test]
fn provision_killed_at_random_points_resumes_to_what_a_clean_run_records() {
    let seed: u64 = std::env::var("KEYWARD_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7072_6f76_6973_696f);
    let mut rng = Rng(seed);

    let clean = Sandbox::new();
    let device = provision_setup(&clean);
    let started = Instant::now();
    let status = provision_cmd(&clean, &device, &clean.path("pins.csv"))
        .status()
        .unwrap();
    assert!(status.success());
    let clean_secs = started.elapsed().as_secs_f64();
    let expected = records(&clean);

    let sb = Sandbox::new();
    let device = provision_setup(&sb);
    let budget = Instant::now();
    let mut kills = 0;
    let mut attempt = 0;
    while kills < 30 && budget.elapsed() < Duration::from_secs(45) {
        attempt += 1;
        let mailer = sb.path(&format!("pins-{attempt}.csv"));
        let mut child = provision_cmd(&sb, &device, &mailer).spawn().unwrap();
        let at = Duration::from_secs_f64(clean_secs * (rng.next() % 1000) as f64 / 1000.0);
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
            child.wait().unwrap();
        } else {
            // Everything was done: start over, so that every kill lands in real work.
            for f in [sb.ledger()] {
                let _ = std::fs::remove_file(&f);
                for s in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{s}", f.display()));
                }
            }
            provision_setup(&sb);
        }
    }
    assert!(kills >= 30, "seed {seed}: only {kills} kills in the budget");
    let last = sb.path("pins-final.csv");
    let status = provision_cmd(&sb, &device, &last).status().unwrap();
    assert!(
        status.success(),
        "seed {seed}: the resumed run did not finish: {status:?}"
    );

    let verify = sb.run(&["audit", "verify"]);
    assert_eq!(verify.code, 0, "seed {seed}: {}", verify.stdout);
    let got = records(&sb);
    let without_serials = |v: &Value| {
        let mut v = v.clone();
        for k in v["keys"].as_array_mut().unwrap() {
            k["serial"] = Value::Null;
        }
        v
    };
    assert_eq!(
        without_serials(&got),
        without_serials(&expected),
        "seed {seed}: the records differ from a clean run's"
    );
    let serials: BTreeSet<String> = got["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["serial"].to_string())
        .collect();
    assert_eq!(
        serials.len(),
        6,
        "seed {seed}: a key recorded twice: {got:#}"
    );

    // No temporary file left; no first PIN anywhere but in a PIN mailer.
    let mut pins = Vec::new();
    for f in files(sb.dir.path()) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("pins-") {
            let text = std::fs::read_to_string(&f).unwrap();
            pins.extend(
                text.lines()
                    .skip(1)
                    .filter_map(|l| l.rsplit(',').next())
                    .filter(|p| p.len() >= 6)
                    .map(str::to_string),
            );
        }
    }
    assert!(!pins.is_empty());
    let keys_dir = sb.path("keys");
    for f in files(sb.dir.path()) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".tmp") && !name.contains(".new-"),
            "seed {seed}: left behind: {f:?}"
        );
        if name.starts_with("pins-") || (f.starts_with(&keys_dir) && !name.starts_with('.')) {
            continue;
        }
        let bytes = std::fs::read(&f).unwrap();
        for pin in &pins {
            assert!(
                !bytes.windows(pin.len()).any(|w| w == pin.as_bytes()),
                "seed {seed}: a first PIN is in {f:?}"
            );
        }
    }
    eprintln!("chaos provision: seed {seed}, {kills} kills, clean run {clean_secs:.2} s");
}
