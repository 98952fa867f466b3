//! The audit trail: append-only, each entry hashing the one before, so that editing, deleting
//! or reordering history shows.

use super::model::{Actor, AuditEntry};
use super::LedgerError;
use crypto_glue::s256::Sha256;
use crypto_glue::traits::Digest;
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain's head is also kept in `meta`, so that deleting the newest entries shows too.
const HEAD_KEY: &str = "audit_head";

/// SHA-256 over every field, each length-prefixed so that no two different entries can
/// produce the same byte stream.
pub fn entry_hash(
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
    prev_hash: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(b"keyward-audit-v1");
    h.update(seq.to_be_bytes());
    for field in [at, actor, action, subject, detail, prev_hash] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Append one entry inside the caller's transaction (the same one that makes the change).
pub(crate) fn append(
    tx: &Transaction<'_>,
    path: &str,
    at: &str,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: &impl Serialize,
) -> Result<(), LedgerError> {
    let sql = |e| LedgerError::Sql {
        path: path.to_string(),
        message: format!("{e}"),
    };
    let detail = serde_json::to_string(detail).map_err(|e| LedgerError::Sql {
        path: path.to_string(),
        message: format!("cannot encode an audit entry: {e}"),
    })?;
    let last: Option<(i64, String)> = tx
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql)?;
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let actor = actor.stored();
    let hash = entry_hash(seq, at, &actor, action, subject, &detail, &prev);
    tx.execute(
        "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![seq, at, actor, action, subject, detail, prev, hash],
    )
    .map_err(sql)?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![HEAD_KEY, format!("{seq}:{hash}")],
    )
    .map_err(sql)?;
    Ok(())
}

/// One thing wrong with the chain, located by sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditProblem {
    /// The entry where the chain breaks (or the head, for missing newest entries).
    pub seq: i64,
    pub problem: String,
}

/// The result of `keyward audit verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub ok: bool,
    pub entries: usize,
    pub head: Option<String>,
    pub problems: Vec<AuditProblem>,
}

/// Check every entry: sequence numbers without gaps, each `prev_hash` equal to the hash of the
/// entry before, each hash matching its content, and the last entry matching the recorded
/// head.
pub fn verify(entries: &[AuditEntry], head: Option<&str>) -> AuditReport {
    let mut problems = Vec::new();
    let mut expected_prev = GENESIS.to_string();
    let mut expected_seq = 1;
    for e in entries {
        if e.seq != expected_seq {
            problems.push(AuditProblem {
                seq: e.seq,
                problem: if e.seq > expected_seq {
                    format!(
                        "entries {expected_seq}..{} are missing (deleted)",
                        e.seq - 1
                    )
                } else {
                    format!("out of order: expected entry {expected_seq}")
                },
            });
        }
        if e.prev_hash != expected_prev {
            problems.push(AuditProblem {
                seq: e.seq,
                problem: "does not follow the entry before it (an entry was deleted, inserted or \
                          reordered)"
                    .into(),
            });
        }
        let computed = entry_hash(
            e.seq,
            &e.at,
            &e.actor,
            &e.action,
            &e.subject,
            &e.detail,
            &e.prev_hash,
        );
        if computed != e.hash {
            problems.push(AuditProblem {
                seq: e.seq,
                problem: "its content does not match its hash (the entry was edited)".into(),
            });
        }
        expected_prev = e.hash.clone();
        expected_seq = e.seq + 1;
    }
    let last = entries.last().map(|e| format!("{}:{}", e.seq, e.hash));
    match (head, &last) {
        (Some(h), Some(l)) if h != l => {
            let head_seq = h
                .split_once(':')
                .and_then(|(s, _)| s.parse().ok())
                .unwrap_or(0);
            problems.push(AuditProblem {
                seq: head_seq,
                problem: format!(
                    "the trail should end at entry {head_seq} but ends at entry {} (newest \
                     entries deleted or replaced)",
                    entries.last().map(|e| e.seq).unwrap_or(0)
                ),
            });
        }
        (Some(h), None) => problems.push(AuditProblem {
            seq: h
                .split_once(':')
                .and_then(|(s, _)| s.parse().ok())
                .unwrap_or(0),
            problem: "every entry of the trail is gone (deleted)".into(),
        }),
        (None, Some(_)) => problems.push(AuditProblem {
            seq: 0,
            problem: "the trail's recorded end is missing".into(),
        }),
        _ => {}
    }
    AuditReport {
        ok: problems.is_empty(),
        entries: entries.len(),
        head: last,
        problems,
    }
}

pub(crate) fn head(tx: &rusqlite::Connection) -> rusqlite::Result<Option<String>> {
    tx.query_row(
        "SELECT value FROM meta WHERE key = ?1",
        params![HEAD_KEY],
        |r| r.get(0),
    )
    .optional()
}
