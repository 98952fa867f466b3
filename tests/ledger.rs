//! The ledger through the real binary: reading the record, later changes, concurrency, tamper
//! detection, damaged files, export/import.

mod common;

use common::{path_str, Sandbox};
use keyward::ledger::*;
use std::path::Path;

fn op() -> Actor {
    Actor::operator("sam")
}

/// Ada: Google (both keys, seen on the key), Apple (Key A, confirmed by the person); SMS on at
/// Google, TOTP unchecked, backup codes removed, Apple's trusted phone kept.
fn seed(path: &Path) {
    let mut l = Ledger::open(path).expect("ledger");
    let a = op();
    let ada = l
        .upsert_person(&a, "Ada Lovelace", Some("ada@example.com"))
        .unwrap();
    let g = l
        .add_account(&a, ada.id, "google", "ada@example.com")
        .unwrap();
    let ap = l
        .add_account(&a, ada.id, "apple", "ada@icloud.com")
        .unwrap();
    let ka = l
        .register_key(
            &a,
            ada.id,
            &NewKey {
                label: "Key A".into(),
                model: Some("YubiKey 5 NFC".into()),
                serial: Some("11110001".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let kb = l
        .register_key(
            &a,
            ada.id,
            &NewKey {
                label: "Key B".into(),
                ..Default::default()
            },
        )
        .unwrap();
    for k in [&ka, &kb] {
        l.record_enrollment(
            &a,
            &NewEnrollment {
                account_id: g.id,
                key_id: k.id,
                evidence: Evidence::SeenOnKey,
                detail: EvidenceDetail {
                    rp_id: Some("google.com".into()),
                    user_name: Some("ada@example.com".into()),
                    credential_id: Some("a1b2c3d4e5f60718".into()),
                    note: None,
                },
            },
        )
        .unwrap();
    }
    l.record_enrollment(
        &a,
        &NewEnrollment {
            account_id: ap.id,
            key_id: ka.id,
            evidence: Evidence::ConfirmedByPerson,
            detail: EvidenceDetail::default(),
        },
    )
    .unwrap();
    l.set_method_status(&a, g.id, "sms", MethodStatus::Present, None)
        .unwrap();
    l.set_method_status(&a, g.id, "totp", MethodStatus::Unknown, None)
        .unwrap();
    l.set_method_status(&a, g.id, "backup_codes", MethodStatus::Removed, None)
        .unwrap();
    l.set_method_status(
        &a,
        ap.id,
        "trusted_phone",
        MethodStatus::Kept,
        Some("Apple requires one trusted phone number"),
    )
    .unwrap();
    let bob = l.upsert_person(&a, "Bob Builder", None).unwrap();
    let bg = l
        .add_account(&a, bob.id, "microsoft-entra", "bob@corp.example")
        .unwrap();
    for label in ["Key A", "Key B"] {
        let k = l
            .register_key(
                &a,
                bob.id,
                &NewKey {
                    label: label.into(),
                    ..Default::default()
                },
            )
            .unwrap();
        l.record_enrollment(
            &a,
            &NewEnrollment {
                account_id: bg.id,
                key_id: k.id,
                evidence: Evidence::ConfirmedByOperator,
                detail: EvidenceDetail::default(),
            },
        )
        .unwrap();
    }
    l.set_method_status(&a, bg.id, "sms", MethodStatus::Removed, None)
        .unwrap();
}

fn seeded() -> Sandbox {
    let sb = Sandbox::new();
    seed(&sb.ledger());
    sb
}

/// `ledger import FILE --ledger INTO`; the caller checks the exit code.
fn import(sb: &Sandbox, file: &Path, into: &Path) -> common::Run {
    sb.run(&[
        "ledger",
        "import",
        path_str(file),
        "--ledger",
        path_str(into),
    ])
}

#[test]
fn status_puts_what_remains_first_then_accounts_and_evidence() {
    let sb = seeded();
    let run = sb.run(&["status", "Ada Lovelace"]).ok();
    let out = &run.stdout;
    let remain = out.find("Still to disable (2)").expect(out);
    let sms = out.find("sms").expect(out);
    let accounts = out.find("Accounts:").expect(out);
    assert!(remain < sms && sms < accounts, "{out}");
    assert!(out.contains("still on"), "{out}");
    // How to remove it comes from the Google playbook, right under the method.
    let how = out
        .find("https://myaccount.google.com/two-step-verification/phone-numbers")
        .expect(out);
    assert!(sms < how && how < accounts, "{out}");
    assert!(out.contains("not checked yet"), "{out}");
    assert!(
        out.contains("seen on the key (RP google.com, user ada@example.com"),
        "{out}"
    );
    assert!(out.contains("confirmed by the person"), "{out}");
    assert!(
        out.contains("kept: Apple requires one trusted phone number"),
        "{out}"
    );
    // Apple has one key: the person must be told.
    assert!(out.contains("Fewer than two working keys"), "{out}");
    assert!(out.contains("apple:ada@icloud.com"), "{out}");

    let json = sb.run(&["status", "ada@example.com", "--json"]).ok().json();
    let methods: Vec<_> = json["remaining"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(methods, ["sms", "totp"], "present before unknown");
    assert_eq!(
        json["remaining"][0]["how"]["url"],
        "https://myaccount.google.com/two-step-verification/phone-numbers"
    );
    assert_eq!(json["accounts"].as_array().unwrap().len(), 2);
}

#[test]
fn status_of_an_unknown_person_is_a_clear_error() {
    let sb = seeded();
    let run = sb.run(&["status", "Nobody Here"]).expect_code(12);
    assert!(
        run.stderr.contains("no person `Nobody Here`"),
        "{}",
        run.stderr
    );
}

#[test]
fn method_set_records_a_later_change_with_its_operator() {
    let sb = seeded();
    let run = sb
        .run(&[
            "method",
            "set",
            "sms",
            "removed",
            "--account",
            "google:ada@example.com",
            "--operator",
            "Helpdesk Hana",
        ])
        .ok();
    assert!(
        run.stdout.contains("sms: present -> removed"),
        "{}",
        run.stdout
    );
    let json = sb.run(&["status", "Ada Lovelace", "--json"]).ok().json();
    let left: Vec<_> = json["remaining"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["totp"]);
    let l = Ledger::open(&sb.ledger()).unwrap();
    let last = l.audit_entries().unwrap().pop().unwrap();
    assert_eq!(last.action, "method.set");
    assert_eq!(last.actor, "operator:Helpdesk Hana");

    // Without --operator, the change is the OS user's.
    sb.run_with(
        &[
            "method",
            "set",
            "sms",
            "present",
            "--account",
            "ada@example.com",
        ],
        None,
        &[("USER", "ada-admin")],
    )
    .ok();
    let last = Ledger::open(&sb.ledger())
        .unwrap()
        .audit_entries()
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.actor, "user:ada-admin");

    // "kept" without a reason is refused, and nothing is recorded.
    let run = sb
        .run(&[
            "method",
            "set",
            "totp",
            "kept",
            "--account",
            "ada@example.com",
        ])
        .expect_code(12);
    assert!(run.stderr.contains("needs a reason"), "{}", run.stderr);
    let after = Ledger::open(&sb.ledger()).unwrap().audit_entries().unwrap();
    assert_eq!(
        after.last().unwrap().seq,
        last.seq,
        "a refused change leaves no entry"
    );
    // Method ids come from the playbook vocabulary.
    let run = sb
        .run(&[
            "method",
            "set",
            "text_codes",
            "removed",
            "--account",
            "ada@example.com",
        ])
        .expect_code(12);
    assert!(
        run.stderr.contains("use one of: sms, voice, totp"),
        "{}",
        run.stderr
    );
    // "kept" without --reason takes the playbook's reason when it has one.
    let json = sb
        .run(&[
            "method",
            "set",
            "push",
            "kept",
            "--account",
            "ada@example.com",
            "--json",
        ])
        .ok()
        .json();
    assert!(
        json["record"]["reason"]
            .as_str()
            .unwrap()
            .contains("no switch to turn prompts off"),
        "{json}"
    );
    // An unknown account says how to find the right one.
    let run = sb
        .run(&["method", "set", "sms", "removed", "--account", "nobody@x"])
        .expect_code(12);
    assert!(
        run.stderr.contains("no account `nobody@x`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_lost_key_marks_its_accounts_for_replacement() {
    let sb = seeded();
    // "Key A" is shared by Ada and Bob: without --person it is ambiguous.
    let run = sb.run(&["key", "lost", "Key A"]).expect_code(12);
    assert!(
        run.stderr.contains("matches several keys"),
        "{}",
        run.stderr
    );
    let run = sb
        .run(&[
            "key",
            "lost",
            "Key A",
            "--person",
            "Ada Lovelace",
            "--reason",
            "left in a taxi",
        ])
        .ok();
    assert!(
        run.stdout.contains("apple:ada@icloud.com"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("google:ada@example.com"),
        "{}",
        run.stdout
    );
    let status = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    // Key B still works there, but one key is not enough: a replacement is needed.
    assert!(
        status.contains("Google Account (ada@example.com) needs a replacement for lost Key A"),
        "{status}"
    );
    assert!(status.contains("lost: left in a taxi"), "{status}");
    // By serial, another key can be retired without naming the person.
    sb.run(&["key", "retire", "11110001"]).ok();
    let csv = sb.run(&["report", "--format", "csv"]).ok().stdout;
    assert!(
        csv.lines()
            .any(|l| l
                .starts_with("Ada Lovelace,ada@example.com,key_lost_or_retired,,Key A,retired")),
        "{csv}"
    );
}

#[test]
fn a_lost_key_removed_from_an_account_no_longer_needs_replacing_there() {
    let sb = seeded();
    let ada = ["--person", "Ada Lovelace"];
    sb.run(&["key", "lost", "Key A", ada[0], ada[1]]).ok();
    let run = sb
        .run(&[
            "key",
            "removed",
            "Key A",
            "--account",
            "google:ada@example.com",
            ada[0],
            ada[1],
            "--operator",
            "Helpdesk Hana",
            "--json",
        ])
        .ok();
    let out = run.json();
    assert_eq!(out["ok"], true);
    assert_eq!(out["removed"]["needs_replacement"], true);
    // Key B is still in the Google account: one working key, as `status` counts it.
    assert_eq!(out["working_keys_left"], 1);
    let status = sb.run(&["status", "Ada Lovelace", "--json"]).ok().json();
    let google = status["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["playbook"] == "google")
        .unwrap_or_else(|| panic!("{status}"));
    assert!(
        google["enrollments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["key_label"] != "Key A"),
        "{google}"
    );
    // Apple still lists the lost key.
    let report = sb.run(&["report", "--json"]).ok().json();
    let ada_line = report["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["person"]["name"] == "Ada Lovelace")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        ada_line["needs_replacement"],
        serde_json::json!(["apple:ada@icloud.com / Key A"])
    );
    // Recorded once, with who did it; a second time is a clear error, not a silent success.
    let run = sb
        .run(&[
            "key",
            "removed",
            "Key A",
            "--account",
            "google:ada@example.com",
            ada[0],
            ada[1],
        ])
        .expect_code(12);
    assert!(
        run.stderr
            .contains("not recorded as enrolled in google:ada@example.com"),
        "{}",
        run.stderr
    );
    let trail = sb.run(&["audit", "verify"]).ok().stdout;
    assert!(trail.contains("Audit trail intact"), "{trail}");
    let export = sb.run(&["ledger", "export"]).ok().json();
    let last = export["audit"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "enrollment.remove");
    assert_eq!(last["actor"], "operator:Helpdesk Hana");
}

#[test]
fn audit_verify_detects_an_enrollment_deleted_or_moved_behind_its_back() {
    let sb = seeded();
    tamper(&sb, "DELETE FROM enrollments WHERE id = 1");
    verify_fails(
        &sb,
        "record: enrollment #1 (Key A of Ada Lovelace in google:ada@example.com) : trail says seen_on_key, table has no row",
    );
    let sb = seeded();
    tamper(&sb, "UPDATE enrollments SET account_id = 3 WHERE id = 1");
    verify_fails(&sb, ": account_id: trail says 1, table has 3");
    let sb = seeded();
    tamper(
        &sb,
        "UPDATE enrollments SET needs_replacement = 1 WHERE id = 1",
    );
    verify_fails(
        &sb,
        "record: enrollment #1 (Key A of Ada Lovelace in google:ada@example.com) : needs_replacement: trail says 0, table has 1",
    );
}

#[test]
fn the_fleet_report_in_every_format() {
    let sb = seeded();
    let text = sb.run(&["report"]).ok().stdout;
    assert!(
        text.contains("2 people: 1 with weaker methods still to disable"),
        "{text}"
    );
    assert!(text.contains("Bob Builder: nothing left to do"), "{text}");
    // For the help desk: provider and method names and where to remove each, no ids.
    let md = sb.run(&["report", "--format", "md"]).ok().stdout;
    assert!(
        md.contains("| Ada Lovelace | Text message codes (2-Step Verification phone) on Google Account (ada@example.com) (still on): https://myaccount.google.com/two-step-verification/phone-numbers"),
        "{md}"
    );
    assert!(!md.contains("google:"), "{md}");
    let html = sb.run(&["report", "--format", "html"]).ok().stdout;
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<td>Ada Lovelace</td>"), "{html}");
    assert!(
        html.contains("on Apple Account (ada@icloud.com)")
            || html.contains("Apple Account (ada@icloud.com)"),
        "{html}"
    );
    let json = sb.run(&["report", "--json"]).ok().json();
    assert_eq!(json["people_with_methods_to_disable"], 1);
    assert_eq!(json["accounts_with_single_key"], 1);
    let csv = sb.run(&["report", "--format", "csv"]).ok().stdout;
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3, "sms, totp, single-key apple: {csv}");
    let one = sb
        .run(&["report", "--person", "Bob Builder", "--json"])
        .ok()
        .json();
    assert_eq!(one["people"].as_array().unwrap().len(), 1);
}

#[test]
fn a_new_ledger_is_private_and_in_wal_mode() {
    let sb = Sandbox::new();
    Ledger::open(&sb.ledger()).unwrap();
    let meta = std::fs::metadata(sb.ledger()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let conn = rusqlite::Connection::open(sb.ledger()).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(conn);
    sb.run(&["audit", "verify"]).ok();
    // Someone loosened it: keyward says so (and still works).
    std::fs::set_permissions(sb.ledger(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = sb.run(&["report"]).ok();
    assert!(
        run.stderr.contains("can be read by other users (mode 644)"),
        "{}",
        run.stderr
    );
}

#[test]
fn reading_a_ledger_that_does_not_exist_says_so_and_creates_nothing() {
    let sb = Sandbox::new();
    // The default place is the data folder.
    let mut c = sb.cmd();
    c.env_remove("KEYWARD_LEDGER").args(["status"]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(13));
    let expected = sb.path("home/.local/share/keyward/ledger.sqlite");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("there is no ledger at {}", expected.display())),
        "{stderr}"
    );
    assert!(!expected.exists());
    // A mistyped --ledger is not silently a new, empty ledger.
    let typo = sb.path("ledgr.sqlite");
    sb.run(&["report", "--ledger", path_str(&typo)])
        .expect_code(13);
    assert!(!typo.exists());
}

/// `n` changes in a row, each one its own process: the method flips between present and
/// removed so that every run is a real change with its own audit entry.
fn writer_loop(sb: &Sandbox, who: &str, method: &str, n: usize) -> Vec<i32> {
    (0..n)
        .map(|i| {
            sb.run(&[
                "method",
                "set",
                method,
                if i % 2 == 0 { "present" } else { "removed" },
                "--account",
                "bob@corp.example",
                "--operator",
                who,
            ])
            .code
        })
        .collect()
}

#[test]
fn two_processes_writing_at_once_both_succeed() {
    let sb = seeded();
    let before = Ledger::open(&sb.ledger())
        .unwrap()
        .audit_entries()
        .unwrap()
        .len();
    let n = 12;
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| writer_loop(&sb, "alice", "sms", n));
        let b = s.spawn(|| writer_loop(&sb, "bert", "totp", n));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.iter().chain(&b).all(|c| *c == 0), "{a:?} {b:?}");
    let l = Ledger::open(&sb.ledger()).unwrap();
    let bob = l.find_person("Bob Builder").unwrap();
    let acct = &l.accounts_of(bob.id).unwrap()[0];
    assert_eq!(l.methods_of(acct.id).unwrap().len(), 2);
    let entries = l.audit_entries().unwrap();
    assert_eq!(entries.len(), before + 2 * n, "every change has its entry");
    for who in ["alice", "bert"] {
        let mine = entries
            .iter()
            .filter(|e| e.actor == format!("operator:{who}"))
            .count();
        assert_eq!(mine, n, "{who}");
    }
    assert!(l.verify_audit().unwrap().ok);
}

#[test]
fn a_writer_waits_for_another_holding_the_lock() {
    let sb = seeded();
    let mut conn = rusqlite::Connection::open(sb.ledger()).unwrap();
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let started = std::time::Instant::now();
    let child = sb
        .cmd()
        .args([
            "method",
            "set",
            "voice",
            "removed",
            "--account",
            "bob@corp.example",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    tx.commit().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() >= std::time::Duration::from_millis(700));
    let l = Ledger::open(&sb.ledger()).unwrap();
    let bob = l.find_person("Bob Builder").unwrap();
    let acct = &l.accounts_of(bob.id).unwrap()[0];
    assert!(l
        .methods_of(acct.id)
        .unwrap()
        .iter()
        .any(|m| m.method == "voice"));
}

fn tamper(sb: &Sandbox, sql: &str) {
    let conn = rusqlite::Connection::open(sb.ledger()).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn verify_fails(sb: &Sandbox, needle: &str) {
    let run = sb.run(&["audit", "verify"]).expect_code(15);
    assert!(run.stdout.contains(needle), "{needle}:\n{}", run.stdout);
    // With --json: stdout is one document, the report, and the exit code says it failed.
    let run = sb.run(&["audit", "verify", "--json"]).expect_code(15);
    let report = run.json();
    assert_eq!(report["ok"], false);
    let found = report["problems"].as_array().unwrap().len()
        + report["record_problems"].as_array().unwrap().len();
    assert!(found > 0, "{}", run.stdout);
}

#[test]
fn audit_verify_passes_on_an_untouched_ledger() {
    let sb = seeded();
    let run = sb.run(&["audit", "verify"]).ok();
    assert!(
        run.stdout.contains("Audit trail intact: 19 entries"),
        "{}",
        run.stdout
    );
}

#[test]
fn audit_verify_detects_an_edited_entry() {
    let sb = seeded();
    tamper(
        &sb,
        "UPDATE audit SET actor = 'operator:mallory' WHERE seq = 5",
    );
    verify_fails(&sb, "entry 5: its content does not match its hash");
}

#[test]
fn audit_verify_detects_a_deleted_entry() {
    let sb = seeded();
    tamper(&sb, "DELETE FROM audit WHERE seq = 7");
    verify_fails(&sb, "entries 7..7 are missing");
}

#[test]
fn audit_verify_detects_deleted_newest_entries() {
    let sb = seeded();
    tamper(&sb, "DELETE FROM audit WHERE seq >= 18");
    verify_fails(&sb, "should end at entry 19 but ends at entry 17");
}

#[test]
fn audit_verify_detects_a_record_changed_behind_its_back() {
    let sb = seeded();
    tamper(
        &sb,
        "UPDATE methods SET status = 'removed' WHERE method = 'sms' AND status = 'present'",
    );
    verify_fails(
        &sb,
        "record: method sms of google:ada@example.com : status: trail says \"present\", table has \"removed\"",
    );
    // The same edit inside an export is refused on import.
    let sb = seeded();
    let text = sb.run(&["ledger", "export"]).ok().stdout;
    let mut export: serde_json::Value = serde_json::from_str(&text).unwrap();
    for m in export["methods"].as_array_mut().unwrap() {
        if m["method"] == "sms" && m["status"] == "present" {
            m["status"] = "removed".into();
        }
    }
    let file = sb.path("edited.json");
    std::fs::write(&file, serde_json::to_string(&export).unwrap()).unwrap();
    let copy = sb.path("copy.sqlite");
    let run = import(&sb, &file, &copy).expect_code(12);
    assert!(
        run.stderr.contains("records disagree with its audit trail"),
        "{}",
        run.stderr
    );
}

/// Issue 11, item 1: what the fault-injection run changed with an SQLite tool and `audit
/// verify` called intact before.
#[test]
fn audit_verify_catches_every_record_changed_deleted_or_inserted_behind_its_back() {
    let cases = [
        ("DELETE FROM methods WHERE method = 'sms'", "method sms of google:ada@example.com : trail says present, table has no row"),
        ("UPDATE keys SET serial = 'X1' WHERE id = 1", ": serial: trail says"),
        ("UPDATE keys SET label = 'Key Z' WHERE id = 1", ": label: trail says \"Key A\", table has \"Key Z\""),
        ("UPDATE keys SET aaguid = '00000000-0000-0000-0000-000000000001' WHERE id = 1", ": aaguid: trail says"),
        ("UPDATE keys SET pin_state = 'set' WHERE id = 1", ": pin_state: trail says"),
        ("UPDATE people SET email = 'eve@evil.example' WHERE id = 1", "person #1 (Ada Lovelace) : email: trail says"),
        ("UPDATE enrollments SET detail = replace(detail, 'google.com', 'evil.example') WHERE id = 1", ": detail: trail says"),
        ("INSERT INTO provision_slots (slot, person_id, label, status, at) VALUES ('r/x/1', 1, 'Key Q', 'done', 'now')", "provisioning slot r/x/1 : table has a row the trail never recorded"),
        ("INSERT INTO checkpoints (person_id, name, at) VALUES (1, 'methods_done', 'now')", "checkpoint methods_done of Ada Lovelace : table has a row the trail never recorded"),
    ];
    for (sql, needle) in cases {
        let sb = seeded();
        sb.run(&["audit", "verify"]).ok();
        tamper(&sb, sql);
        verify_fails(&sb, needle);
    }
}

#[test]
fn audit_verify_detects_reordered_entries() {
    let sb = seeded();
    // Swap entries 3 and 4 (their content moves; the sequence numbers stay in order).
    tamper(
        &sb,
        "UPDATE audit SET seq = -3 WHERE seq = 3;
         UPDATE audit SET seq = 3 WHERE seq = 4;
         UPDATE audit SET seq = 4 WHERE seq = -3;",
    );
    verify_fails(&sb, "does not follow the entry before it");
}

/// A file that is not ours or is damaged: refused with exit 13, and not one byte changes.
fn refused_untouched(sb: &Sandbox, bytes: &[u8], needle: &str) {
    std::fs::write(sb.ledger(), bytes).unwrap();
    for args in [
        &["status"][..],
        &["method", "set", "sms", "removed", "--account", "x@y"][..],
        &["ledger", "import", "nothing.json"][..],
    ] {
        let run = sb.run(args).expect_code(13);
        assert!(run.stderr.contains(needle), "{needle}:\n{}", run.stderr);
        assert!(run.stderr.contains("left untouched"), "{}", run.stderr);
        assert_eq!(
            std::fs::read(sb.ledger()).unwrap(),
            bytes,
            "the file was modified"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ledger.sqlite") && n != "ledger.sqlite")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_text_file_is_refused_and_left_untouched() {
    let sb = Sandbox::new();
    refused_untouched(
        &sb,
        b"my notes\nnot a database\n",
        "is not a keyward ledger",
    );
}

#[test]
fn an_empty_file_is_refused_and_left_untouched() {
    let sb = Sandbox::new();
    refused_untouched(&sb, b"", "it is an empty file");
}

#[test]
fn another_programs_sqlite_file_is_refused_and_left_untouched() {
    let sb = Sandbox::new();
    let other = sb.path("other.db");
    {
        let conn = rusqlite::Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('x');")
            .unwrap();
    }
    let bytes = std::fs::read(&other).unwrap();
    refused_untouched(&sb, &bytes, "not one keyward made");
}

#[test]
fn a_damaged_ledger_is_refused_and_left_untouched() {
    let sb = seeded();
    // Make sure everything is in the main file, then scribble over the second page.
    {
        let conn = rusqlite::Connection::open(sb.ledger()).unwrap();
        conn.pragma_update(None, "wal_checkpoint", "TRUNCATE").ok();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let mut bytes = std::fs::read(sb.ledger()).unwrap();
    let page: usize = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    assert!(bytes.len() > 3 * page);
    for b in &mut bytes[page..page + 200] {
        *b = 0xA5;
    }
    refused_untouched(&sb, &bytes, "is damaged");
}

/// Scribble over the one page of the index on key serials, which reading a person never
/// touches; the ledger stays in WAL mode, closed the way keyward closes it.
fn damage_serial_index(sb: &Sandbox) -> Vec<u8> {
    let root: i64 = {
        let conn = rusqlite::Connection::open(sb.ledger()).unwrap();
        conn.query_row(
            "SELECT rootpage FROM sqlite_schema WHERE name = 'keys_by_serial'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(!sb.path("ledger.sqlite-wal").exists(), "closed cleanly");
    let mut bytes = std::fs::read(sb.ledger()).unwrap();
    assert_eq!((bytes[18], bytes[19]), (2, 2), "still in WAL mode");
    let page = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    let at = (root as usize - 1) * page;
    for b in &mut bytes[at..at + 12] {
        *b = 0xA5;
    }
    std::fs::write(sb.ledger(), &bytes).unwrap();
    bytes
}

#[test]
fn damage_where_one_command_does_not_read_is_found_by_audit_verify_and_export() {
    let sb = seeded();
    damage_serial_index(&sb);
    // Reading one person does not read the whole file (that is what keeps it fast in a large
    // organisation), so it answers...
    let run = sb.run(&["status", "Ada Lovelace"]).ok();
    assert!(run.stdout.contains("Ada Lovelace"), "{}", run.stdout);
    // ...and the commands that stand for the whole file check all of it.
    for args in [&["audit", "verify"][..], &["ledger", "export"][..]] {
        let run = sb.run(args).expect_code(13);
        assert!(
            run.stderr.contains("is damaged"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_ledger_not_left_the_way_keyward_leaves_it_is_checked_whole_when_opened() {
    let sb = seeded();
    let bytes = damage_serial_index(&sb);
    // What a killed run leaves: a `-wal` file beside the ledger (this one holds nothing SQLite
    // would use, so only the check can tell).
    std::fs::write(sb.path("ledger.sqlite-wal"), b"left by a killed run").unwrap();
    for args in [
        &["status", "Ada Lovelace"][..],
        &[
            "method",
            "set",
            "sms",
            "removed",
            "--account",
            "ada@example.com",
        ][..],
    ] {
        let run = sb.run(args).expect_code(13);
        assert!(
            run.stderr.contains("is damaged"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("left untouched"), "{}", run.stderr);
        assert_eq!(std::fs::read(sb.ledger()).unwrap(), bytes, "{args:?} wrote");
    }
}

#[test]
fn an_account_is_found_by_address_or_playbook_and_address() {
    let sb = seeded();
    for (account, method) in [
        ("ADA@example.com", "sms"),
        ("google:ada@example.com", "totp"),
    ] {
        let run = sb
            .run(&[
                "method",
                "set",
                method,
                "removed",
                "--account",
                account,
                "--json",
            ])
            .ok();
        let out = run.json();
        assert_eq!(out["account"]["playbook"], "google", "{account}");
        assert_eq!(out["record"]["status"], "removed", "{account}");
    }
    let run = sb
        .run(&[
            "method",
            "set",
            "sms",
            "removed",
            "--account",
            "apple:ada@example.com",
        ])
        .expect_code(12);
    assert!(run.stderr.contains("no account"), "{}", run.stderr);
}

#[test]
fn a_ledger_from_a_newer_keyward_is_refused() {
    let sb = seeded();
    tamper(&sb, "PRAGMA user_version = 99");
    let before = std::fs::read(sb.ledger()).unwrap();
    let run = sb.run(&["status"]).expect_code(13);
    assert!(run.stderr.contains("schema version 99"), "{}", run.stderr);
    assert_eq!(std::fs::read(sb.ledger()).unwrap(), before);
}

#[test]
fn export_then_import_gives_the_same_ledger() {
    let sb = seeded();
    sb.run(&[
        "key",
        "retire",
        "11110001",
        "--reason",
        "replaced by a newer model",
    ])
    .ok();
    let file = sb.path("export.json");
    let run = sb
        .run(&["ledger", "export", "--output", path_str(&file)])
        .ok();
    assert!(run.stdout.contains("2 people"), "{}", run.stdout);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Never overwritten.
    let run = sb
        .run(&["ledger", "export", "--output", path_str(&file)])
        .expect_code(12);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);

    let copy = sb.path("copy.sqlite");
    import(&sb, &file, &copy).ok();
    let again = sb
        .run(&["ledger", "export", "--ledger", path_str(&copy)])
        .ok();
    assert_eq!(again.stdout, std::fs::read_to_string(&file).unwrap());
    sb.run(&["audit", "verify", "--ledger", path_str(&copy)])
        .ok();
    assert_eq!(
        sb.run(&[
            "status",
            "Ada Lovelace",
            "--json",
            "--ledger",
            path_str(&copy)
        ])
        .ok()
        .stdout,
        sb.run(&["status", "Ada Lovelace", "--json"]).ok().stdout
    );

    // Into a ledger that already holds records: refused.
    let run = import(&sb, &file, &copy).expect_code(13);
    assert!(
        run.stderr.contains("already holds records"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_export_with_a_tampered_trail_is_not_imported() {
    let sb = seeded();
    let text = sb.run(&["ledger", "export"]).ok().stdout;
    let mut export: serde_json::Value = serde_json::from_str(&text).unwrap();
    export["audit"][2]["actor"] = "operator:mallory".into();
    let edited = serde_json::to_string(&export).unwrap();
    let file = sb.path("edited.json");
    std::fs::write(&file, edited).unwrap();
    let copy = sb.path("copy.sqlite");
    let run = import(&sb, &file, &copy).expect_code(12);
    assert!(
        run.stderr.contains("audit trail does not verify"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("nothing was imported"),
        "{}",
        run.stderr
    );
    // The refused import leaves no empty ledger behind: the same import can be tried again
    // once the file is fixed, and nothing looks recorded.
    let leftovers: Vec<_> = std::fs::read_dir(sb.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("copy.sqlite"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Malformed JSON: where it broke.
    std::fs::write(&file, "{\"format\": \"keyward-ledger\",\n \"people\": [}").unwrap();
    let run = import(&sb, &file, &copy).expect_code(12);
    assert!(run.stderr.contains("line 2, column"), "{}", run.stderr);
    assert!(!copy.exists());
}

#[test]
fn status_never_overstates_what_was_done() {
    let sb = seeded();
    let google = ["--account", "ada@example.com"];
    // Off because it was never set up is not "removed"; who removed a method is said.
    sb.run(&["method", "set", "totp", "absent", google[0], google[1]])
        .ok();
    sb.run(&[
        "method",
        "set",
        "sms",
        "removed",
        google[0],
        google[1],
        "--operator",
        "Helpdesk Hana",
    ])
    .ok();
    let text = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    assert!(
        text.contains("totp: was never set up / already off"),
        "{text}"
    );
    // The help desk recorded it: that says nothing about who removed it.
    assert!(
        text.contains("sms: removed, recorded by operator Helpdesk Hana ("),
        "{text}"
    );
    assert!(!text.contains("removed by"), "{text}");
    assert!(text.contains("Nothing left to disable."), "{text}");
    // Without --operator the OS user is who recorded it, still not "the person".
    sb.run(&["method", "set", "voice", "removed", google[0], google[1]])
        .ok();
    let text = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    assert!(
        text.contains("voice: removed, recorded by OS user "),
        "{text}"
    );
    assert!(!text.contains("removed by"), "{text}");

    // Apple's only key is lost: its weaker methods wait for a key, never "still to disable".
    sb.run(&[
        "method",
        "set",
        "trusted_device",
        "present",
        "--account",
        "ada@icloud.com",
    ])
    .ok();
    sb.run(&["key", "lost", "Key A", "--person", "Ada Lovelace"])
        .ok();
    let text = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    assert!(!text.contains("Still to disable"), "{text}");
    assert!(!text.contains("Nothing left to disable"), "{text}");
    assert!(text.contains("Waiting: add a key first"), "{text}");
    assert!(
        text.contains("trusted_device: waiting: add a key first"),
        "{text}"
    );
    let json = sb.run(&["status", "Ada Lovelace", "--json"]).ok().json();
    assert_eq!(json["remaining"], serde_json::json!([]));
    assert_eq!(json["waiting"][0]["method"], "trusted_device");
    let fleet = sb.run(&["status"]).ok().stdout;
    assert!(fleet.contains("waiting: add a key first"), "{fleet}");
    assert!(
        fleet.contains("Google Account (ada@example.com) needs a replacement for lost Key A"),
        "{fleet}"
    );

    // A replacement works at Google: what is left there is removing the lost key.
    {
        let mut l = Ledger::open(&sb.ledger()).unwrap();
        let ada = l.find_person("Ada Lovelace").unwrap();
        let kc = l
            .register_key(
                &op(),
                ada.id,
                &NewKey {
                    label: "Key C".into(),
                    ..Default::default()
                },
            )
            .unwrap();
        let g = l
            .find_account("google", "ada@example.com")
            .unwrap()
            .unwrap();
        l.record_enrollment(
            &op(),
            &NewEnrollment {
                account_id: g.id,
                key_id: kc.id,
                evidence: Evidence::ConfirmedByOperator,
                detail: EvidenceDetail::default(),
            },
        )
        .unwrap();
    }
    let text = sb.run(&["status", "Ada Lovelace"]).ok().stdout;
    assert!(
        text.contains("remove lost Key A from Google Account (ada@example.com)"),
        "{text}"
    );
    assert!(
        !text.contains("Google Account (ada@example.com) needs a replacement"),
        "{text}"
    );
    // The reports say the same, in names, with where the account's keys are listed.
    let md = sb.run(&["report", "--format", "md"]).ok().stdout;
    assert!(
        md.contains("remove lost Key A from Google Account (ada@example.com): https://"),
        "{md}"
    );
    let csv = sb.run(&["report", "--format", "csv"]).ok().stdout;
    assert!(
        csv.lines().any(|l| l.starts_with(
            "Ada Lovelace,ada@example.com,remove_lost_key,Google Account (ada@example.com),Key A,lost,"
        ) && l.contains(",https://")),
        "{csv}"
    );
    // `key removed` says how many working keys remain, also when there are enough.
    let out = sb
        .run(&[
            "key",
            "removed",
            "Key A",
            "--account",
            "google:ada@example.com",
            "--person",
            "Ada Lovelace",
        ])
        .ok()
        .stdout;
    assert!(
        out.contains("The account has 2 working keys left."),
        "{out}"
    );
}

/// Run keyward on `ledger` as someone who may read it but not write to its folder: a folder
/// mode 0555 does not stop root, so as root the command runs as `nobody`.
fn run_as_reader(sb: &Sandbox, ledger: &std::path::Path, args: &[&str]) -> common::Run {
    use std::os::unix::process::CommandExt;
    let mut c = sb.cmd();
    c.env("KEYWARD_LEDGER", ledger)
        .args(args)
        .stdin(std::process::Stdio::null());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        c.uid(65534).gid(65534);
    }
    let out = c.output().unwrap();
    common::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Issue 11, item 5: a ledger in a read-only folder is read; a write says the folder is
/// read-only.
#[test]
fn read_commands_work_in_a_read_only_folder_and_a_write_says_the_folder_is_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let sb = seeded();
    let dir = sb.path("readonly");
    std::fs::create_dir(&dir).unwrap();
    let ledger = dir.join("ledger.sqlite");
    std::fs::copy(sb.ledger(), &ledger).unwrap();
    let perm = |p: &std::path::Path, m| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    perm(sb.dir.path(), 0o755);
    std::fs::create_dir_all(sb.path("home")).unwrap();
    perm(&sb.path("home"), 0o777);
    perm(&ledger, 0o644);
    perm(&dir, 0o555);
    let before: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for args in [
        &["status", "Ada Lovelace"][..],
        &["report", "--json"][..],
        &["audit", "verify"][..],
        &["ledger", "export"][..],
    ] {
        let run = run_as_reader(&sb, &ledger, args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("readonly database"), "{}", run.stderr);
    }
    let run = run_as_reader(
        &sb,
        &ledger,
        &[
            "method",
            "set",
            "sms",
            "removed",
            "--account",
            "ada@example.com",
        ],
    );
    assert_eq!(run.code, 13, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("is read-only, so nothing can be recorded there"),
        "{}",
        run.stderr
    );
    let after: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "nothing was created beside the ledger");
    perm(&dir, 0o755);
}

/// Issue 11, item 7: reading never deletes a `-wal` file it does not understand (it may be
/// the only copy of someone's last changes, for a person or a tool to look at).
#[test]
fn a_read_command_leaves_a_garbage_wal_file_alone() {
    let sb = seeded();
    let wal = sb.path("ledger.sqlite-wal");
    let garbage = b"not a write-ahead log, but not ours to delete".repeat(20);
    std::fs::write(&wal, &garbage).unwrap();
    for args in [
        &["status"][..],
        &["report"][..],
        &["audit", "verify"][..],
        &["ledger", "export"][..],
    ] {
        sb.run(args).ok();
        assert_eq!(
            std::fs::read(&wal).unwrap(),
            garbage,
            "{args:?} changed the -wal file"
        );
    }
}
