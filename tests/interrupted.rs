//! Issue 11, item 3: interrupted runs leave no stray copies of secrets: temporary files are
//! removed on signals, leftovers of killed runs at the next start, `virtual create` is atomic,
//! and the demo's folder is private and removed on Ctrl-C, SIGTERM and SIGHUP.

mod common;

use common::{path_str, Sandbox};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A process id that does not run (above any pid_max Linux allows by default).
const DEAD_PID: u32 = 4_194_303;

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn send(pid: u32, signal: i32) {
    // SAFETY: kill() on our own child process.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

fn demo_folders(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .map(|it| {
            it.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("keyward-demo-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_interrupted_demo_leaves_no_folder_and_its_folder_is_private() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let sb = Sandbox::new();
        let tmp = sb.path("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let mut interrupted = false;
        for _attempt in 0..5 {
            let mut child = sb
                .cmd()
                .arg("demo")
                .env("TMPDIR", &tmp)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let started = Instant::now();
            let folder = loop {
                if let Some(f) = demo_folders(&tmp).into_iter().next() {
                    break Some(f);
                }
                if started.elapsed() > Duration::from_secs(20) {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(2));
            };
            let folder = folder.expect("the demo makes its folder in TMPDIR");
            if let Ok(meta) = std::fs::metadata(&folder) {
                assert_eq!(meta.permissions().mode() & 0o777, 0o700, "{folder:?}");
            }
            send(child.id(), signal);
            let status = child.wait().unwrap();
            if status.signal() == Some(signal) {
                interrupted = true;
                assert!(
                    demo_folders(&tmp).is_empty(),
                    "signal {signal} left {:?}",
                    names_in(&tmp)
                );
                break;
            }
            // It finished before the signal arrived: try again.
            assert!(status.success(), "signal {signal}: {status:?}");
        }
        assert!(interrupted, "the demo was never caught running");
    }
}

#[test]
fn leftovers_of_killed_runs_are_removed_at_the_next_start() {
    let sb = Sandbox::new();
    sb.run(&["virtual", "create", path_str(&sb.path("k.key"))])
        .ok();
    drop(keyward::ledger::Ledger::open(&sb.ledger()).unwrap());
    let stale = [
        format!(".ledger.sqlite.new-{DEAD_PID}-17"),
        format!(".ledger.sqlite.new-{DEAD_PID}-17-wal"),
        format!(".ledger.sqlite.{DEAD_PID}-17.tmp"),
        format!(".k.key.{DEAD_PID}.tmp"),
        format!(".k2.key.{DEAD_PID}-5.tmp"),
    ];
    for name in &stale {
        std::fs::write(sb.path(name), b"a secret nobody cleaned up").unwrap();
    }
    // A keyward still running: its files stay.
    let live = format!(".k.key.{}-9.tmp", std::process::id());
    std::fs::write(sb.path(&live), b"in use").unwrap();
    // Writing to the ledger and using the virtual keys in this folder clean up.
    let tmp = sb.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let dead_demo = tmp.join(format!("keyward-demo-{DEAD_PID}-1"));
    std::fs::create_dir_all(dead_demo.join("keys")).unwrap();
    sb.run(&["virtual", "create", path_str(&sb.path("k2.key"))])
        .ok();
    sb.run(&[
        "--device",
        &format!("virtual:{}", sb.path("k.key").display()),
        "key",
        "info",
    ])
    .ok();
    let left = names_in(sb.dir.path());
    let still: Vec<&String> = stale.iter().filter(|s| left.contains(s)).collect();
    // The ledger's leftovers go when the ledger is next opened to write.
    sb.run(&[
        "method",
        "set",
        "sms",
        "removed",
        "--account",
        "nobody@example.com",
    ]);
    let left = names_in(sb.dir.path());
    let still_after: Vec<&String> = stale.iter().filter(|s| left.contains(s)).collect();
    assert!(
        still_after.is_empty(),
        "left after the next start: {still_after:?} (before the ledger was opened: {still:?})"
    );
    assert!(left.contains(&live), "a live process's file was removed");
    sb.cmd()
        .arg("demo")
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!dead_demo.exists(), "a killed demo's folder stays");
}

/// Issue 11, item 3: a read is a start too. `status` (which opens the ledger read-only) removes
/// a dead run's temporary ledger beside it, and `key info` a dead run's copy of the key it
/// reads; a read-only folder keeps them and still reads.
#[test]
fn reading_the_ledger_or_a_key_removes_dead_runs_leftovers_beside_it() {
    let sb = Sandbox::new();
    let keys = sb.path("keys");
    std::fs::create_dir(&keys).unwrap();
    let key = keys.join("k.key");
    sb.run(&["virtual", "create", path_str(&key)]).ok();
    drop(keyward::ledger::Ledger::open(&sb.ledger()).unwrap());
    let beside_ledger = [
        sb.path(&format!(".ledger.sqlite.new-{DEAD_PID}-17")),
        sb.path(&format!(".ledger.sqlite.{DEAD_PID}-17.tmp")),
    ];
    let beside_key = keys.join(format!(".k.key.{DEAD_PID}-5.tmp"));
    for p in beside_ledger.iter().chain([&beside_key]) {
        std::fs::write(p, b"a secret nobody cleaned up").unwrap();
    }
    sb.run(&["status"]).ok();
    for p in &beside_ledger {
        assert!(!p.exists(), "`status` left {}", p.display());
    }
    assert!(beside_key.exists(), "the key's folder is not the ledger's");
    sb.run(&[
        "--device",
        &format!("virtual:{}", key.display()),
        "key",
        "info",
    ])
    .ok();
    assert!(
        !beside_key.exists(),
        "`key info` left {}",
        beside_key.display()
    );
    // Only listing the key (reading it without a lock) is a start too.
    std::fs::write(&beside_key, b"a secret nobody cleaned up").unwrap();
    sb.run(&["--device", &format!("virtual:{}", key.display()), "devices"])
        .ok();
    assert!(
        !beside_key.exists(),
        "`devices` left {}",
        beside_key.display()
    );

    // In a read-only folder they stay, and reading still works.
    let stuck = sb.path(&format!(".ledger.sqlite.{DEAD_PID}-18.tmp"));
    std::fs::write(&stuck, b"x").unwrap();
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let writable = std::fs::write(sb.path("probe"), b"").is_ok();
    let run = sb.run(&["status"]);
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    if !writable {
        // (root writes anywhere; then there is nothing to show here)
        run.ok();
        assert!(stuck.exists());
    }
}

/// `virtual create` killed at any moment leaves either a whole key or nothing at the name,
/// and never a temporary copy once the next keyward has run there.
#[test]
fn a_killed_virtual_create_never_leaves_a_half_file_blocking_the_name() {
    let sb = Sandbox::new();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..12 {
        let file = sb.path(&format!("k{i}.key"));
        let mut child = sb
            .cmd()
            .args(["virtual", "create", path_str(&file)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(seed % 40_000));
        send(child.id(), libc::SIGKILL);
        child.wait().unwrap();
        if file.exists() {
            // Whole: the key answers.
            sb.run(&[
                "--device",
                &format!("virtual:{}", file.display()),
                "key",
                "info",
            ])
            .ok();
        } else {
            // Nothing blocks the name.
            sb.run(&["virtual", "create", path_str(&file)]).ok();
        }
    }
    sb.run(&["virtual", "create", path_str(&sb.path("last.key"))])
        .ok();
    let temps: Vec<String> = names_in(sb.dir.path())
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    // Stale copies are removed per key name, when that key is next used or created.
    for i in 0..12 {
        sb.run(&[
            "--device",
            &format!("virtual:{}", sb.path(&format!("k{i}.key")).display()),
            "key",
            "info",
        ])
        .ok();
    }
    let after: Vec<String> = names_in(sb.dir.path())
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(after.is_empty(), "{after:?} (before: {temps:?})");
}

// Issue 11, item 2: a change to a key the ledger knows (its PIN, policy, reset, a credential
// erased) is recorded as begun before the key is touched; a run killed between the key's change
// and its record leaves that intent, and the next run settles it by asking the key.

use keyward::ledger::{
    Actor, Evidence, EvidenceDetail, KeyState, Ledger, NewEnrollment, NewKey, PinState,
};

const PIN: &str = "482915";
const NEW_PIN: &str = "739164";

/// A virtual key the ledger knows as Ada's Key A (by its serial number), with a PIN or not.
struct Known {
    sb: Sandbox,
    dev: String,
    key_id: i64,
}

impl Known {
    fn new(with_pin: bool) -> Known {
        let sb = Sandbox::new();
        let dev = sb.virtual_key("k.key", "ctap21");
        if with_pin {
            sb.run_pins(&["--device", &dev, "key", "pin", "set"], &[PIN])
                .ok();
            // No ledger yet: the key commands made none.
            assert!(!sb.ledger().exists());
        }
        let info = sb.run(&["--device", &dev, "--json", "key", "info"]).ok();
        let serial = info.json()["device"]["serial"]
            .as_str()
            .unwrap()
            .to_string();
        let mut l = Ledger::open(&sb.ledger()).unwrap();
        let sam = Actor::operator("sam");
        let ada = l.upsert_person(&sam, "Ada Lovelace", None).unwrap();
        let key = l
            .register_key(
                &sam,
                ada.id,
                &NewKey {
                    label: "Key A".into(),
                    serial: Some(serial),
                    ..Default::default()
                },
            )
            .unwrap();
        if with_pin {
            l.set_pin_state(&sam, key.id, PinState::Set).unwrap();
        }
        Known {
            sb,
            dev,
            key_id: key.id,
        }
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["--device", self.dev.as_str()];
        a.extend_from_slice(args);
        a
    }

    fn run(&self, args: &[&str], pins: &[&str]) -> common::Run {
        self.sb.run_pins(&self.args(args), pins)
    }

    /// Run, killed right after the key changed and before the ledger recorded it.
    fn killed(&self, args: &[&str], pins: &[&str]) {
        let mut a = self.args(args);
        a.push("--pin-stdin");
        let input: String = pins.iter().map(|p| format!("{p}\n")).collect();
        let run = self
            .sb
            .run_with(&a, Some(&input), &[("KEYWARD_TEST_KILL_AT", "key-changed")]);
        assert_eq!(run.code, -1, "not killed: {args:?}\n{}", run.stderr);
    }

    fn ledger(&self) -> Ledger {
        Ledger::open(&self.sb.ledger()).unwrap()
    }

    fn pin_state(&self) -> Option<PinState> {
        self.ledger()
            .find_key(&format!("#{}", self.key_id), None)
            .unwrap()
            .pin_state
    }

    fn pending(&self) -> Option<String> {
        self.ledger().pending_key_change(self.key_id).unwrap()
    }

    /// A discoverable passkey for `rp` made on the key, recorded in the ledger as what opens
    /// Ada's account there. Returns its credential ID (hex).
    fn enrolled(&self, rp: &str, user: &str) -> String {
        let file = self.sb.path("k.key");
        self.sb
            .run_pins(
                &[
                    "virtual",
                    "register",
                    path_str(&file),
                    "--rp",
                    rp,
                    "--user",
                    user,
                    "--discoverable",
                ],
                &[PIN],
            )
            .ok();
        let list = self
            .run(&["--json", "key", "credentials", "list"], &[PIN])
            .ok()
            .json();
        let id = list["relying_parties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rp_id"] == rp)
            .unwrap_or_else(|| panic!("no passkey for {rp}: {list}"))["credentials"][0]
            ["credential_id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut l = self.ledger();
        let sam = Actor::operator("sam");
        let ada = l.find_person("Ada Lovelace").unwrap();
        let playbook = if rp == "google.com" {
            "google"
        } else {
            "microsoft-personal"
        };
        let account = l.add_account(&sam, ada.id, playbook, user).unwrap();
        l.record_enrollment(
            &sam,
            &NewEnrollment {
                account_id: account.id,
                key_id: self.key_id,
                evidence: Evidence::SeenOnKey,
                detail: EvidenceDetail {
                    rp_id: Some(rp.into()),
                    user_name: Some(user.into()),
                    credential_id: Some(id.clone()),
                    note: None,
                },
            },
        )
        .unwrap();
        id
    }

    fn key_state(&self) -> KeyState {
        self.ledger()
            .find_key(&format!("#{}", self.key_id), None)
            .unwrap()
            .state
    }

    /// How many accounts the ledger records this key as opening, replacement aside.
    fn opens(&self) -> usize {
        let l = self.ledger();
        let ada = l.find_person("Ada Lovelace").unwrap();
        l.accounts_of(ada.id)
            .unwrap()
            .iter()
            .flat_map(|a| l.enrollments_of_account(a.id).unwrap())
            .filter(|e| e.key_id == self.key_id && !e.needs_replacement)
            .count()
    }

    /// The entries that settled a change of this key: (detail, as JSON).
    fn settled(&self) -> Vec<serde_json::Value> {
        self.ledger()
            .audit_entries()
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "key.change.settled")
            .map(|e| serde_json::from_str(&e.detail).unwrap())
            .collect()
    }

    /// The next run settled `change` after the interruption, recording `now` from the key.
    fn assert_settled_after_interruption(&self, change: &str, now: PinState) {
        assert_eq!(self.pending(), None, "still unsettled");
        let settled = self.settled();
        let entry = settled
            .iter()
            .find(|d| d["settled_after_an_interruption"] == true)
            .unwrap_or_else(|| panic!("no entry settled after an interruption: {settled:?}"));
        assert_eq!(entry["change"], change, "{entry}");
        assert_eq!(entry["pin_state"]["to"], now.as_str(), "{entry}");
        assert!(entry["key_says"]["pin_set"].is_boolean(), "{entry}");
        self.sb.run(&["audit", "verify"]).ok();
    }
}

#[test]
fn a_pin_set_killed_before_it_was_recorded_is_settled_at_the_next_run() {
    let k = Known::new(false);
    k.killed(&["key", "pin", "set"], &[PIN]);
    // The key has its PIN; the ledger knows only that a change was begun.
    assert_eq!(k.pending().as_deref(), Some("set_pin"));
    assert_eq!(k.pin_state(), None);
    let next = k.run(&["key", "pin", "status"], &[]).ok();
    assert!(next.stderr.contains("interrupted"), "{}", next.stderr);
    assert_eq!(k.pin_state(), Some(PinState::Set));
    k.assert_settled_after_interruption("set_pin", PinState::Set);
}

#[test]
fn a_pin_change_killed_before_it_was_recorded_is_settled_at_the_next_run() {
    let k = Known::new(true);
    // Recorded whole when nothing interrupts it: the key now demands a new PIN.
    k.run(&["key", "policy", "--force-pin-change"], &[PIN]).ok();
    assert_eq!(k.pin_state(), Some(PinState::SetMustChange));
    assert_eq!(k.pending(), None);
    k.killed(&["key", "pin", "change"], &[PIN, NEW_PIN]);
    assert_eq!(k.pending().as_deref(), Some("change_pin"));
    assert_eq!(
        k.pin_state(),
        Some(PinState::SetMustChange),
        "before the next run"
    );
    k.run(&["key", "info"], &[]).ok();
    // The temporary PIN was replaced: nobody is told to change it any more.
    assert_eq!(k.pin_state(), Some(PinState::Set));
    k.assert_settled_after_interruption("change_pin", PinState::Set);
}

#[test]
fn a_reset_killed_before_it_was_recorded_is_settled_at_the_next_run() {
    let k = Known::new(true);
    k.killed(&["key", "reset", "--yes-erase-key"], &[]);
    assert_eq!(k.pending().as_deref(), Some("reset"));
    assert_eq!(k.pin_state(), Some(PinState::Set), "before the next run");
    // The next run with the key settles first, then does its own change, recorded whole.
    let next = k.run(&["key", "pin", "set"], &[NEW_PIN]).ok();
    assert!(next.stderr.contains("interrupted"), "{}", next.stderr);
    k.assert_settled_after_interruption("reset", PinState::NotSetPersonSets);
    let last = k.settled().pop().unwrap();
    assert_eq!(last["change"], "set_pin", "{last}");
    assert_eq!(last["settled_after_an_interruption"], false, "{last}");
    assert_eq!(k.pin_state(), Some(PinState::Set));
}

#[test]
fn a_key_the_ledger_does_not_know_changes_without_a_record() {
    let k = Known::new(false);
    let other = k.sb.virtual_key("other.key", "ctap21");
    let before = k.ledger().audit_entries().unwrap().len();
    k.sb.run_pins(&["--device", &other, "key", "pin", "set"], &[PIN])
        .ok();
    assert_eq!(k.ledger().audit_entries().unwrap().len(), before);
}

#[test]
fn a_credential_erase_killed_before_it_was_recorded_is_settled_at_the_next_run() {
    let k = Known::new(true);
    let file = k.sb.path("k.key");
    k.sb.run_pins(
        &[
            "virtual",
            "register",
            path_str(&file),
            "--rp",
            "example.com",
            "--user",
            "ada",
            "--discoverable",
        ],
        &[PIN],
    )
    .ok();
    let list = k
        .run(&["--json", "key", "credentials", "list"], &[PIN])
        .ok()
        .json();
    let id = list["relying_parties"][0]["credentials"][0]["credential_id"]
        .as_str()
        .unwrap()
        .to_string();
    k.killed(&["key", "credentials", "delete", &id, "--yes"], &[PIN]);
    assert_eq!(k.pending().as_deref(), Some("erase"));
    let next = k.run(&["key", "pin", "status"], &[]).ok();
    assert!(next.stderr.contains("interrupted"), "{}", next.stderr);
    k.assert_settled_after_interruption("erase", PinState::Set);
    let list = k
        .run(&["--json", "key", "credentials", "list"], &[PIN])
        .ok()
        .json();
    assert_eq!(list["existing"], 0, "the credential was erased: {list}");
}

#[test]
fn a_reset_key_that_opened_accounts_is_recorded_retired_never_as_still_opening_them() {
    let k = Known::new(true);
    k.enrolled("google.com", "ada@example.com");
    k.enrolled("login.microsoft.com", "ada@outlook.com");
    assert_eq!(k.opens(), 2);
    let run = k.run(&["key", "reset", "--yes-erase-key"], &[]).ok();
    assert!(
        run.stderr.contains("opened 2 accounts") && run.stderr.contains("retired"),
        "the person is told what the reset did to the accounts: {}",
        run.stderr
    );
    assert_eq!(k.key_state(), KeyState::Retired);
    assert_eq!(k.opens(), 0, "a reset key opens nothing");
    let status = k.sb.run(&["--json", "status", "Ada Lovelace"]).json();
    assert!(
        status.to_string().contains("Key A"),
        "status names the key to remove: {status}"
    );
    k.sb.run(&["audit", "verify"]).ok();
}

#[test]
fn a_reset_killed_before_it_was_recorded_retires_the_key_at_the_next_run() {
    let k = Known::new(true);
    k.enrolled("google.com", "ada@example.com");
    k.killed(&["key", "reset", "--yes-erase-key"], &[]);
    assert_eq!(k.key_state(), KeyState::Active, "before the next run");
    let next = k.run(&["key", "info"], &[]).ok();
    assert!(next.stderr.contains("interrupted"), "{}", next.stderr);
    assert!(next.stderr.contains("retired"), "{}", next.stderr);
    k.assert_settled_after_interruption("reset", PinState::NotSetPersonSets);
    assert_eq!(k.key_state(), KeyState::Retired);
    assert_eq!(k.opens(), 0);
}

#[test]
fn a_deleted_passkey_no_longer_counts_as_opening_its_account() {
    let k = Known::new(true);
    let google = k.enrolled("google.com", "ada@example.com");
    k.enrolled("login.microsoft.com", "ada@outlook.com");
    let run = k
        .run(&["key", "credentials", "delete", &google, "--yes"], &[PIN])
        .ok();
    assert!(
        run.stderr.contains("no longer opens 1 account"),
        "{}",
        run.stderr
    );
    assert_eq!(k.opens(), 1, "the Microsoft passkey is still there");
    assert_eq!(k.key_state(), KeyState::Active);
    let l = k.ledger();
    let ada = l.find_person("Ada Lovelace").unwrap();
    let google_account = l
        .accounts_of(ada.id)
        .unwrap()
        .into_iter()
        .find(|a| a.playbook == "google")
        .unwrap();
    assert!(l
        .enrollments_of_account(google_account.id)
        .unwrap()
        .is_empty());
    k.sb.run(&["audit", "verify"]).ok();
}

#[test]
fn an_interrupted_reset_of_a_key_without_a_pin_is_not_guessed_at() {
    let k = Known::new(false);
    k.killed(&["key", "reset", "--yes-erase-key"], &[]);
    let next = k.run(&["key", "info"], &[]).ok();
    assert!(
        next.stderr.contains("cannot tell") && next.stderr.contains("keyward key retire"),
        "the person is told to check and how to record it: {}",
        next.stderr
    );
    assert_eq!(k.pending(), None, "settled");
    assert_eq!(k.key_state(), KeyState::Active, "not retired on a guess");
}
