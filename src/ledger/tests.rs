//! Unit tests of the ledger API (the commands are tested end to end in `tests/ledger.rs`).

use super::*;

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
