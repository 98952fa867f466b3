//! Unit tests of the ledger API (the commands are tested end to end in `tests/ledger.rs`).

use super::*;
use super::{audit, trail};

fn temp() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = Ledger::open(&dir.path().join("l.sqlite")).expect("new ledger");
    (dir, ledger)
}

fn sam() -> Actor {
    Actor::operator("sam")
}

/// Ada with Google and Apple accounts, two keys; Google has both keys, Apple one.
fn ada(ledger: &mut Ledger) -> (Person, Account, Account, Key, Key) {
    let a = sam();
    let p = ledger
        .upsert_person(&a, "Ada Lovelace", Some("ada@example.com"))
        .unwrap();
    let g = ledger
        .add_account(&a, p.id, "google", "ada@example.com")
        .unwrap();
    let ap = ledger
        .add_account(&a, p.id, "apple", "ada@icloud.com")
        .unwrap();
    let ka = ledger
        .register_key(
            &a,
            p.id,
            &NewKey {
                label: "Key A".into(),
                serial: Some("111".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let kb = ledger
        .register_key(
            &a,
            p.id,
            &NewKey {
                label: "Key B".into(),
                ..Default::default()
            },
        )
        .unwrap();
    for k in [&ka, &kb] {
        ledger
            .record_enrollment(
                &a,
                &NewEnrollment {
                    account_id: g.id,
                    key_id: k.id,
                    evidence: Evidence::SeenOnKey,
                    detail: EvidenceDetail {
                        rp_id: Some("google.com".into()),
                        ..Default::default()
                    },
                },
            )
            .unwrap();
    }
    ledger
        .record_enrollment(
            &a,
            &NewEnrollment {
                account_id: ap.id,
                key_id: ka.id,
                evidence: Evidence::ConfirmedByPerson,
                detail: EvidenceDetail::default(),
            },
        )
        .unwrap();
    (p, g, ap, ka, kb)
}

#[test]
fn status_lists_what_remains_present_first() {
    let (_d, mut l) = temp();
    let (p, g, ap, _, _) = ada(&mut l);
    l.set_method_status(&sam(), g.id, "totp", MethodStatus::Unknown, None)
        .unwrap();
    l.set_method_status(&sam(), g.id, "sms", MethodStatus::Present, None)
        .unwrap();
    l.set_method_status(
        &sam(),
        ap.id,
        "trusted_phone",
        MethodStatus::Kept,
        Some("Apple requires one"),
    )
    .unwrap();
    l.set_method_status(&sam(), g.id, "backup_codes", MethodStatus::Removed, None)
        .unwrap();
    let s = l.person_status(p.id).unwrap();
    let left: Vec<_> = s.remaining.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(left, ["sms", "totp"]);
    let single: Vec<_> = s
        .single_key_accounts()
        .iter()
        .map(|a| a.account.playbook.clone())
        .collect();
    assert_eq!(single, ["apple"]);
}

#[test]
fn kept_needs_a_reason() {
    let (_d, mut l) = temp();
    let (_, g, _, _, _) = ada(&mut l);
    let e = l
        .set_method_status(&sam(), g.id, "sms", MethodStatus::Kept, None)
        .unwrap_err();
    assert!(e.to_string().contains("needs a reason"), "{e}");
}

#[test]
fn weaker_evidence_never_replaces_stronger() {
    let (_d, mut l) = temp();
    let (_, g, _, ka, _) = ada(&mut l);
    let e = l
        .record_enrollment(
            &sam(),
            &NewEnrollment {
                account_id: g.id,
                key_id: ka.id,
                evidence: Evidence::ConfirmedByPerson,
                detail: EvidenceDetail::default(),
            },
        )
        .unwrap();
    assert_eq!(e.evidence, Evidence::SeenOnKey);
}

#[test]
fn lost_key_flags_its_enrollments_and_cannot_be_enrolled_again() {
    let (_d, mut l) = temp();
    let (p, g, _, ka, _) = ada(&mut l);
    l.set_key_state(&sam(), ka.id, KeyState::Lost, Some("left in a taxi"))
        .unwrap();
    let s = l.person_status(p.id).unwrap();
    assert_eq!(s.needing_replacement().len(), 2);
    assert!(s.accounts.iter().all(|a| a.working_keys < 2));
    let err = l
        .record_enrollment(
            &sam(),
            &NewEnrollment {
                account_id: g.id,
                key_id: ka.id,
                evidence: Evidence::SeenOnKey,
                detail: EvidenceDetail::default(),
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("marked lost"), "{err}");
}

#[test]
fn an_account_or_serial_cannot_belong_to_two_people() {
    let (_d, mut l) = temp();
    ada(&mut l);
    let bob = l.upsert_person(&sam(), "Bob", None).unwrap();
    let e = l
        .add_account(&sam(), bob.id, "google", "ADA@example.com")
        .unwrap_err();
    assert!(
        e.to_string().contains("already recorded for Ada Lovelace"),
        "{e}"
    );
    let e = l
        .register_key(
            &sam(),
            bob.id,
            &NewKey {
                label: "Key A".into(),
                serial: Some("111".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("Ada Lovelace's Key A"), "{e}");
}

#[test]
fn registering_again_finds_the_same_key() {
    let (_d, mut l) = temp();
    let (p, _, _, ka, _) = ada(&mut l);
    let again = l
        .register_key(
            &sam(),
            p.id,
            &NewKey {
                label: "key a".into(),
                model: Some("YubiKey 5".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(again.id, ka.id);
    assert_eq!(again.model.as_deref(), Some("YubiKey 5"));
}

#[test]
fn a_failed_write_leaves_no_trace() {
    let (_d, mut l) = temp();
    let before = l.audit_entries().unwrap().len();
    let r: Result<()> = l.write(&sam(), |w| {
        w.upsert_person("Eve", None)?;
        Err(LedgerError::Invalid("stop".into()))
    });
    assert!(r.is_err());
    assert!(l.find_person("Eve").is_err());
    assert_eq!(l.audit_entries().unwrap().len(), before);
}

#[test]
fn every_change_is_audited_and_the_chain_verifies() {
    let (_d, mut l) = temp();
    ada(&mut l);
    let entries = l.audit_entries().unwrap();
    // person, 2 accounts, 2 keys, 3 enrollments
    assert_eq!(entries.len(), 8);
    assert!(entries.iter().all(|e| e.actor == "operator:sam"));
    assert!(l.verify_audit().unwrap().ok);
}

#[test]
fn export_import_round_trips() {
    let (d, mut l) = temp();
    let (_, g, _, ka, _) = ada(&mut l);
    l.set_method_status(&sam(), g.id, "sms", MethodStatus::Present, None)
        .unwrap();
    l.set_key_state(&sam(), ka.id, KeyState::Retired, None)
        .unwrap();
    let export = l.export().unwrap();
    let mut other = Ledger::open(&d.path().join("other.sqlite")).unwrap();
    other.import(&export, "x.json").unwrap();
    assert_eq!(other.export().unwrap(), export);
    assert!(other.verify_audit().unwrap().ok);
    let e = other.import(&export, "x.json").unwrap_err();
    assert!(matches!(e, LedgerError::NotEmpty { .. }), "{e}");
}

#[test]
fn a_slot_done_is_never_provisioned_twice() {
    let (_d, mut l) = temp();
    let (p, _, _, ka, _) = ada(&mut l);
    let slot = NewSlot {
        slot: "roster/ada/1".into(),
        person_id: p.id,
        label: "Key A".into(),
        status: SlotStatus::Done,
        key_id: Some(ka.id),
        reason: None,
    };
    l.write(&sam(), |w| w.record_slot(&slot)).unwrap();
    assert!(l.write(&sam(), |w| w.record_slot(&slot)).is_err());
    assert_eq!(
        l.slot("roster/ada/1").unwrap().unwrap().status,
        SlotStatus::Done
    );
}

#[test]
fn legitimate_histories_of_lost_found_retired_and_removed_keys_verify_and_round_trip() {
    let (dir, mut l) = temp();
    let (_p, g, ap, ka, kb) = ada(&mut l);
    let a = sam();
    let enroll = |l: &mut Ledger, acc: &Account, k: &Key| {
        l.record_enrollment(
            &a,
            &NewEnrollment {
                account_id: acc.id,
                key_id: k.id,
                evidence: Evidence::SeenOnKey,
                detail: EvidenceDetail::default(),
            },
        )
        .unwrap()
    };
    // Lost, removed from Google, found again and enrolled there again; another key retired,
    // then found to be lost, then removed from Apple.
    l.set_key_state(&a, ka.id, KeyState::Lost, Some("taxi"))
        .unwrap();
    let removed = l.remove_enrollment(&a, g.id, ka.id, None).unwrap();
    l.set_key_state(&a, ka.id, KeyState::Active, None).unwrap();
    let again = enroll(&mut l, &g, &ka);
    assert!(!again.needs_replacement);
    let _ = removed;
    enroll(&mut l, &ap, &kb);
    l.set_key_state(&a, kb.id, KeyState::Retired, None).unwrap();
    l.set_key_state(&a, kb.id, KeyState::Lost, None).unwrap();
    l.remove_enrollment(&a, ap.id, kb.id, None).unwrap();
    let r = l.verify_audit().unwrap();
    assert!(r.ok, "{:?}", r);
    let data = l.export().unwrap();
    let mut l2 = Ledger::open(&dir.path().join("l2.sqlite")).unwrap();
    l2.import(&data, "x").unwrap();
    assert!(l2.verify_audit().unwrap().ok);
}

#[test]
fn a_deleted_enrollment_stays_detected_after_its_id_is_given_again() {
    let (_d, mut l) = temp();
    let (_p, _g, ap, _ka, kb) = ada(&mut l);
    // enrollments: #1 google/A, #2 google/B, #3 apple/A. Delete #3 behind keyward's back.
    l.conn
        .execute("DELETE FROM enrollments WHERE id = 3", [])
        .unwrap();
    assert!(!l.verify_audit().unwrap().ok, "deletion is detected");
    let e = l
        .record_enrollment(
            &sam(),
            &NewEnrollment {
                account_id: ap.id,
                key_id: kb.id,
                evidence: Evidence::SeenOnKey,
                detail: EvidenceDetail::default(),
            },
        )
        .unwrap();
    assert_eq!(e.id, 3, "SQLite gives the id again");
    let r = l.verify_audit().unwrap();
    assert!(!r.ok, "tampered delete of #3 now hidden: {r:?}");
    assert!(
        r.record_problems
            .iter()
            .any(|p| p.contains("enrollment #3 was recorded again")),
        "{r:?}"
    );
}

#[test]
fn a_credential_stays_known_for_its_key_after_the_key_is_removed_from_the_account() {
    let (_d, mut l) = temp();
    let (p, _g, ap, _ka, kb) = ada(&mut l);
    let a = sam();
    l.record_enrollment(
        &a,
        &NewEnrollment {
            account_id: ap.id,
            key_id: kb.id,
            evidence: Evidence::SeenOnKey,
            detail: EvidenceDetail {
                credential_id: Some("c0ffee".into()),
                ..Default::default()
            },
        },
    )
    .unwrap();
    let known = |l: &Ledger| {
        l.credentials_of_person(p.id)
            .unwrap()
            .contains(&(kb.id, "c0ffee".to_string()))
    };
    assert!(known(&l));
    l.set_key_state(&a, kb.id, KeyState::Retired, None).unwrap();
    l.remove_enrollment(&a, ap.id, kb.id, None).unwrap();
    assert!(l
        .enrollments_of_account(ap.id)
        .unwrap()
        .iter()
        .all(|e| e.key_id != kb.id));
    // The retired key still holds the credential: it still tells that key apart.
    assert!(known(&l));
    assert!(l.verify_audit().unwrap().ok);
}

/// A ledger with at least one row in every table.
fn everything(l: &mut Ledger) {
    let (p, g, _ap, ka, kb) = ada(l);
    let a = sam();
    l.set_method_status(&a, g.id, "sms", MethodStatus::Present, None)
        .unwrap();
    l.set_method_status(&a, g.id, "totp", MethodStatus::Kept, Some("shared desk"))
        .unwrap();
    l.set_pin_state(&a, ka.id, PinState::SetMustChange).unwrap();
    l.set_key_location(&a, ka.id, "on my keyring").unwrap();
    l.set_key_state(&a, kb.id, KeyState::Lost, Some("taxi"))
        .unwrap();
    l.write(&a, |w| {
        w.record_slot(&NewSlot {
            slot: "roster/ada/1".into(),
            person_id: p.id,
            label: "Key A".into(),
            status: SlotStatus::Done,
            key_id: Some(ka.id),
            reason: None,
        })
    })
    .unwrap();
    l.checkpoint(&a, p.id, "keys_enrolled").unwrap();
    l.write(&a, |w| w.begin_key_change(ka.id, "change_pin"))
        .unwrap();
}

/// What `audit verify` says about the ledger after `tamper` ran on it behind keyward's back
/// (as an SQLite tool would: no foreign keys, no CHECK constraints). The ledger is restored.
fn verify_after(l: &Ledger, tamper: &str) -> AuditReport {
    l.conn
        .execute_batch(&format!(
            "PRAGMA foreign_keys = OFF; PRAGMA ignore_check_constraints = ON; BEGIN; {tamper};"
        ))
        .unwrap_or_else(|e| panic!("{tamper}: {e}"));
    let report = l.verify_audit().unwrap();
    l.conn
        .execute_batch("ROLLBACK; PRAGMA ignore_check_constraints = OFF; PRAGMA foreign_keys = ON;")
        .unwrap();
    report
}

/// Generated from the schema itself: every column of every table is edited, and a row of
/// every table inserted and deleted, one at a time; `audit verify` must fail each time and
/// name the record (and the column). A new table or column is in this test without anyone
/// writing it here; a table the fixture leaves empty fails it until `everything` fills it.
#[test]
fn schema_generated_tamper_test_every_column_of_every_table() {
    let (d, mut l) = temp();
    everything(&mut l);
    let clean = l.verify_audit().unwrap();
    assert!(clean.ok, "{clean:?}");
    // Every table also survives export and import: the copy verifies.
    let mut copy = Ledger::open(&d.path().join("copy.sqlite")).unwrap();
    copy.import(&l.export().unwrap(), "x.json").unwrap();
    assert!(copy.verify_audit().unwrap().ok);
    let tables = trail::tables(&l.conn).unwrap();
    let noun = |t: &str| match t {
        "people" => "person #",
        "accounts" => "account #",
        "keys" => "key #",
        "enrollments" => "enrollment #",
        "methods" => "method ",
        "provision_slots" => "provisioning slot ",
        "checkpoints" => "checkpoint ",
        "meta" => "ledger setting ",
        "key_changes" => "unsettled change of key ",
        other => panic!("name the records of the new table {other} in trail::Names::record"),
    };
    let mut cases = 0;
    for t in &tables {
        let name = &t.name;
        let first: Option<i64> = l
            .conn
            .query_row(
                &format!(
                    "SELECT min(rowid) FROM \"{name}\" WHERE {}",
                    if name == "meta" {
                        "key <> 'audit_head'"
                    } else {
                        "1"
                    }
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        // Every table but `meta` (today only the chain's head, which the chain checks) must
        // hold a row, so that each of its columns is really tried.
        if name != "meta" {
            assert!(first.is_some(), "the fixture has no row in {name}");
        }
        let changed = |c: &str| {
            format!(
                "CASE typeof(\"{c}\") WHEN 'integer' THEN \"{c}\" + 1000 WHEN 'real' THEN \
                 \"{c}\" + 1000 WHEN 'null' THEN 'tampered' ELSE \"{c}\" || '-tampered' END"
            )
        };
        if let Some(rowid) = first {
            for c in &t.columns {
                let r = verify_after(
                    &l,
                    &format!(
                        "UPDATE \"{name}\" SET \"{c}\" = {} WHERE rowid = {rowid}",
                        changed(c)
                    ),
                );
                assert!(!r.ok, "editing {name}.{c} went unnoticed");
                let named = r.record_problems.iter().any(|p| {
                    p.contains(noun(name))
                        && (p.contains(&format!(" : {c}: trail says"))
                            // A key column edited is another record: one gone, one new.
                            || (t.key.contains(c) && p.contains("table has no row")))
                });
                assert!(named, "editing {name}.{c}: {:?}", r.record_problems);
                cases += 1;
            }
            let r = verify_after(&l, &format!("DELETE FROM \"{name}\" WHERE rowid = {rowid}"));
            assert!(
                r.record_problems
                    .iter()
                    .any(|p| p.contains(noun(name)) && p.ends_with("table has no row")),
                "deleting a row of {name}: {:?}",
                r.record_problems
            );
            cases += 1;
        }
        // An inserted row: a copy with every key and text column changed, so that no
        // constraint refuses it.
        let cols: Vec<String> = t.columns.iter().map(|c| format!("\"{c}\"")).collect();
        let exprs: Vec<String> = t.columns.iter().map(|c| changed(c)).collect();
        let source = match first {
            Some(rowid) => format!("FROM \"{name}\" WHERE rowid = {rowid}"),
            None => format!("FROM \"{name}\" LIMIT 1"),
        };
        let r = verify_after(
            &l,
            &format!(
                "INSERT INTO \"{name}\" ({}) SELECT {} {source}",
                cols.join(", "),
                exprs.join(", ")
            ),
        );
        assert!(
            r.record_problems
                .iter()
                .any(|p| p.contains(noun(name)) && p.contains("the trail never recorded")),
            "inserting a row into {name}: {:?}",
            r.record_problems
        );
        cases += 1;
    }
    // The trail itself: any column of any entry edited, an entry deleted or inserted.
    let audit_cols: Vec<String> = l
        .conn
        .prepare("SELECT name FROM pragma_table_info('audit')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    for c in &audit_cols {
        let r = verify_after(
            &l,
            &format!(
                "UPDATE audit SET \"{c}\" = {} WHERE seq = 3",
                if c == "seq" {
                    "33333".to_string()
                } else {
                    format!("\"{c}\" || 'x'")
                }
            ),
        );
        assert!(!r.problems.is_empty(), "editing audit.{c} went unnoticed");
        cases += 1;
    }
    for tamper in [
        "DELETE FROM audit WHERE seq = 3",
        "INSERT INTO audit SELECT seq + 1000, at, actor, action, subject, detail, prev_hash, hash FROM audit WHERE seq = 3",
        "UPDATE meta SET value = '1:x' WHERE key = 'audit_head'",
    ] {
        assert!(!verify_after(&l, tamper).ok, "{tamper} went unnoticed");
        cases += 1;
    }
    assert!(l.verify_audit().unwrap().ok, "the ledger is restored");
    eprintln!("schema-generated tamper test: {cases} cases");
    assert!(cases >= 50, "only {cases} cases");
}

/// The wording a help desk reads: which record, and what differs.
#[test]
fn verify_names_a_deleted_method_and_an_edited_serial() {
    let (_d, mut l) = temp();
    let (_p, g, _ap, _ka, _kb) = ada(&mut l);
    l.set_method_status(&sam(), g.id, "sms", MethodStatus::Present, None)
        .unwrap();
    let r = verify_after(&l, "DELETE FROM methods WHERE method = 'sms'");
    assert_eq!(
        r.record_problems,
        vec!["method sms of google:ada@example.com : trail says present, table has no row"]
    );
    let r = verify_after(&l, "UPDATE keys SET serial = '999' WHERE label = 'Key A'");
    assert_eq!(
        r.record_problems,
        vec!["key #1 (Key A of Ada Lovelace) : serial: trail says \"111\", table has \"999\""]
    );
}

/// Turn a ledger into what keyward made before row images (schema 1): the same entries
/// without their `rows`, chained again.
fn as_schema_1(l: &Ledger) {
    let entries = l.audit_entries().unwrap();
    let mut prev = audit::GENESIS.to_string();
    for e in entries {
        let mut d: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
        d.as_object_mut().unwrap().remove("rows");
        let detail = d.to_string();
        let hash = audit::entry_hash(
            e.seq, &e.at, &e.actor, &e.action, &e.subject, &detail, &prev,
        );
        l.conn
            .execute(
                "UPDATE audit SET detail = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
                rusqlite::params![detail, prev, hash, e.seq],
            )
            .unwrap();
        l.conn
            .execute(
                "UPDATE meta SET value = ?1 WHERE key = 'audit_head'",
                [format!("{}:{hash}", e.seq)],
            )
            .unwrap();
        prev = hash;
    }
    // Schema 1 had neither the key-change table nor the per-person indexes (schema 3), and
    // its methods table knew no `absent` (schema 4 rebuilds it), nor the later indexes; keys
    // had no location (schema 7).
    l.conn
        .execute_batch(
            "DROP TABLE key_changes; DROP INDEX accounts_by_person; \
             DROP INDEX enrollments_by_key; DROP INDEX slots_by_person; \
             DROP INDEX keys_by_serial; DROP INDEX accounts_by_identifier; \
             DROP INDEX people_by_email; ALTER TABLE keys DROP COLUMN location;",
        )
        .unwrap();
    l.conn.pragma_update(None, "user_version", 1).unwrap();
}

#[test]
fn an_older_ledger_is_upgraded_with_a_baseline_and_keeps_what_was_wrong() {
    let (d, mut l) = temp();
    everything(&mut l);
    as_schema_1(&l);
    drop(l);
    let path = d.path().join("l.sqlite");
    let l = Ledger::open(&path).unwrap();
    let r = l.verify_audit().unwrap();
    assert!(r.ok, "{r:?}");
    assert_eq!(
        l.audit_entries().unwrap().last().unwrap().action,
        "ledger.upgrade"
    );
    // From now on every change is covered.
    let r = verify_after(&l, "UPDATE people SET email = 'eve@example.com'");
    assert!(!r.ok);

    // Tampered before the upgrade: the old check finds it, and it is never forgotten.
    let (d2, mut l2) = temp();
    everything(&mut l2);
    as_schema_1(&l2);
    l2.conn
        .execute(
            "UPDATE methods SET status = 'removed' WHERE method = 'sms'",
            [],
        )
        .unwrap();
    drop(l2);
    let l2 = Ledger::open(&d2.path().join("l.sqlite")).unwrap();
    let r = l2.verify_audit().unwrap();
    assert!(!r.ok);
    assert!(
        r.record_problems[0].starts_with("found at the upgrade of the ledger"),
        "{r:?}"
    );
}

#[test]
fn a_retired_key_comes_back_under_a_new_label_never_its_old_one() {
    let (_d, mut l) = temp();
    let (p, _, _, ka, _) = ada(&mut l);
    l.set_key_state(&sam(), ka.id, KeyState::Retired, Some("reset"))
        .unwrap();
    let again = |label: &str| NewKey {
        label: label.into(),
        serial: Some("111".into()),
        ..Default::default()
    };
    let e = l.register_key(&sam(), p.id, &again("Key A")).unwrap_err();
    assert!(e.to_string().contains("another label"), "{e}");
    let kc = l.register_key(&sam(), p.id, &again("Key C")).unwrap();
    assert_ne!(kc.id, ka.id, "a new record");
    assert_eq!(kc.state, KeyState::Active);
    assert_eq!(l.key_by_serial("111").unwrap().unwrap().id, kc.id);
    // Seen again later under its new label: the same record.
    assert_eq!(
        l.register_key(&sam(), p.id, &again("Key C")).unwrap().id,
        kc.id
    );
    assert!(l.verify_audit().unwrap().ok);
}
