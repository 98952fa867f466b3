//! Build a ledger the size of a real organisation, through the library (not the CLI), for
//! `scripts/bench-ledger`: PEOPLE people, each with 3 accounts (Google, Microsoft, Apple),
//! 2 keys enrolled in every account, and 3 weaker methods per account in mixed states.
//!
//!     cargo run --release --example ledger_generate -- 10000 /tmp/big.sqlite

use keyward::ledger::{
    Actor, Evidence, EvidenceDetail, Ledger, MethodStatus, NewEnrollment, NewKey,
};
use std::path::PathBuf;

/// People recorded per transaction: large enough to be quick, small enough to stay modest.
const BATCH: usize = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let people: usize = args
        .next()
        .ok_or("usage: ledger_generate PEOPLE PATH")?
        .parse()?;
    let path = PathBuf::from(args.next().ok_or("usage: ledger_generate PEOPLE PATH")?);
    if path.exists() {
        return Err(format!("{} exists; give a new path", path.display()).into());
    }
    let mut ledger = Ledger::open(&path)?;
    let actor = Actor::operator("generator");
    let accounts = [
        ("google", "example.com", "google.com"),
        ("microsoft-entra", "corp.example", "login.microsoft.com"),
        ("apple", "icloud.example", "apple.com"),
    ];
    let mut start = 0;
    while start < people {
        let end = (start + BATCH).min(people);
        ledger.write(&actor, |w| {
            for i in start..end {
                let person = w.upsert_person(
                    &format!("Person {i:05}"),
                    Some(&format!("p{i}@example.com")),
                )?;
                let keys = ["A", "B"]
                    .iter()
                    .map(|l| {
                        w.register_key(
                            person.id,
                            &NewKey {
                                label: format!("Key {l}"),
                                serial: Some(format!("{l}{i:07}")),
                                model: Some("YubiKey 5 NFC".into()),
                                aaguid: None,
                            },
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                for (n, (playbook, domain, rp)) in accounts.iter().enumerate() {
                    let account = w.add_account(person.id, playbook, &format!("p{i}@{domain}"))?;
                    for k in &keys {
                        w.record_enrollment(&NewEnrollment {
                            account_id: account.id,
                            key_id: k.id,
                            evidence: Evidence::SeenOnKey,
                            detail: EvidenceDetail {
                                rp_id: Some(rp.to_string()),
                                ..Default::default()
                            },
                        })?;
                    }
                    // Mixed states: some people still have text messages on.
                    let sms = if (i + n) % 4 == 0 {
                        MethodStatus::Present
                    } else {
                        MethodStatus::Removed
                    };
                    w.set_method_status(account.id, "sms", sms, None)?;
                    w.set_method_status(account.id, "totp", MethodStatus::Unknown, None)?;
                    w.set_method_status(account.id, "backup_codes", MethodStatus::Removed, None)?;
                }
            }
            Ok(())
        })?;
        start = end;
    }
    println!("{people} people written to {}", path.display());
    Ok(())
}
