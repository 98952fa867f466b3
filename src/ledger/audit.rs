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

/// Append one entry inside the caller's transaction (the same one that makes the change),
/// with the image of every row the transaction touched since the entry before (see
/// [`super::trail`]).
pub(crate) fn append(
    tx: &Transaction<'_>,
    path: &str,
    at: &str,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: &impl Serialize,
) -> Result<(), LedgerError> {
    let sql = |e| LedgerError::sql_at(path, e);
    let mut detail = serde_json::to_value(detail).map_err(|e| LedgerError::Sql {
        path: path.to_string(),
        message: format!("cannot encode an audit entry: {e}"),
    })?;
    let rows = super::trail::drain(tx).map_err(sql)?;
    if let serde_json::Value::Object(m) = &mut detail {
        m.insert("rows".into(), serde_json::Value::Array(rows));
    }
    append_value(tx, path, at, &actor.stored(), action, subject, &detail)
}

/// Append an entry whose detail is complete as given (row images included).
pub(crate) fn append_value(
    tx: &rusqlite::Connection,
    path: &str,
    at: &str,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<(), LedgerError> {
    let sql = |e| LedgerError::sql_at(path, e);
    let detail = detail.to_string();
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
    let hash = entry_hash(seq, at, actor, action, subject, &detail, &prev);
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
    /// Records that disagree with the trail (changed without keyward, so without an entry).
    pub record_problems: Vec<String>,
}

/// Checks the chain one entry at a time, so that a large trail is never held in memory.
pub(crate) struct Chain {
    expected_prev: String,
    expected_seq: i64,
    entries: usize,
    last: Option<String>,
    problems: Vec<AuditProblem>,
}

impl Default for Chain {
    fn default() -> Chain {
        Chain {
            expected_prev: GENESIS.to_string(),
            expected_seq: 1,
            entries: 0,
            last: None,
            problems: Vec::new(),
        }
    }
}

impl Chain {
    /// Sequence numbers without gaps, each `prev_hash` equal to the hash of the entry before,
    /// each hash matching its content.
    pub fn push(&mut self, e: &AuditEntry) {
        let problems = &mut self.problems;
        if e.seq != self.expected_seq {
            problems.push(AuditProblem {
                seq: e.seq,
                problem: if e.seq > self.expected_seq {
                    format!(
                        "entries {}..{} are missing (deleted)",
                        self.expected_seq,
                        e.seq - 1
                    )
                } else {
                    format!("out of order: expected entry {}", self.expected_seq)
                },
            });
        }
        if e.prev_hash != self.expected_prev {
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
        self.expected_prev = e.hash.clone();
        self.expected_seq = e.seq + 1;
        self.entries += 1;
        self.last = Some(format!("{}:{}", e.seq, e.hash));
    }

    /// The last entry must match the recorded head.
    pub fn finish(self, head: Option<&str>) -> AuditReport {
        let Chain {
            mut problems,
            last,
            entries,
            ..
        } = self;
        let seq_of = |h: &str| -> i64 {
            h.split_once(':')
                .and_then(|(s, _)| s.parse().ok())
                .unwrap_or(0)
        };
        match (head, &last) {
            (Some(h), Some(l)) if h != l => {
                let head_seq = seq_of(h);
                problems.push(AuditProblem {
                    seq: head_seq,
                    problem: format!(
                        "the trail should end at entry {head_seq} but ends at entry {} (newest \
                         entries deleted or replaced)",
                        seq_of(l)
                    ),
                });
            }
            (Some(h), None) => problems.push(AuditProblem {
                seq: seq_of(h),
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
            entries,
            head: last,
            problems,
            record_problems: Vec::new(),
        }
    }
}

/// Check a whole trail held in memory (an export's).
pub fn verify(entries: &[AuditEntry], head: Option<&str>) -> AuditReport {
    let mut chain = Chain::default();
    for e in entries {
        chain.push(e);
    }
    chain.finish(head)
}

/// Check the ledger's own trail and hold every record against it, reading the trail one entry
/// at a time. Entries written before row images existed (schema 1) are only chained; the
/// baseline written at the upgrade states every record from then on.
pub(crate) fn verify_ledger(
    conn: &rusqlite::Connection,
    path: &str,
) -> Result<AuditReport, LedgerError> {
    let sql = |e| LedgerError::sql_at(path, e);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql)?;
    if version < super::schema::ROW_IMAGES {
        // Opened read-only before its upgrade: checked as keyward checked it then.
        let entries = super::query::audit_entries(conn, path)?;
        let mut report = verify(&entries, head(conn).map_err(sql)?.as_deref());
        let data = super::transfer::export(conn, path)?;
        report.record_problems = cross_check(&entries, &data.records());
        report.ok = report.problems.is_empty() && report.record_problems.is_empty();
        return Ok(report);
    }
    let mut chain = Chain::default();
    let mut replay = super::trail::Replay::default();
    each_entry(conn, path, |e| {
        chain.push(e);
        apply(&mut replay, e);
    })?;
    let head = head(conn).map_err(sql)?;
    let mut report = chain.finish(head.as_deref());
    let (differences, mut problems) = replay.compare(conn).map_err(sql)?;
    if !differences.is_empty() {
        // Only now are the rows the trail recorded for those records needed: read again.
        let mut rows = super::trail::Replay::keeping(&differences);
        each_entry(conn, path, |e| apply(&mut rows, e))?;
        problems.extend(rows.name(conn, differences).map_err(sql)?);
    }
    report.record_problems = problems;
    report.ok = report.problems.is_empty() && report.record_problems.is_empty();
    Ok(report)
}

fn apply(replay: &mut super::trail::Replay, e: &AuditEntry) {
    match serde_json::from_str::<serde_json::Value>(&e.detail) {
        Ok(d) => replay.apply(e.seq, &d),
        Err(_) => replay.problems.push(format!(
            "entry {}: its detail is not JSON (the entry was made up)",
            e.seq
        )),
    }
}

/// The trail in order, one entry at a time (a large trail is never held in memory).
fn each_entry(
    conn: &rusqlite::Connection,
    path: &str,
    mut f: impl FnMut(&AuditEntry),
) -> Result<(), LedgerError> {
    let sql = |e| LedgerError::sql_at(path, e);
    let mut stmt = conn
        .prepare(
            "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit
             ORDER BY rowid",
        )
        .map_err(sql)?;
    let mut rows = stmt.query([]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        f(&super::query::audit_row(r).map_err(sql)?);
    }
    Ok(())
}

pub(crate) fn head(tx: &rusqlite::Connection) -> rusqlite::Result<Option<String>> {
    tx.query_row(
        "SELECT value FROM meta WHERE key = ?1",
        params![HEAD_KEY],
        |r| r.get(0),
    )
    .optional()
}

/// On the upgrade of a ledger made before row images: one entry stating every record as found,
/// after holding them against the older trail the way older keyward did. What that check
/// found stays in the entry, so `audit verify` keeps reporting it.
pub(crate) fn baseline(
    tx: &rusqlite::Connection,
    path: &str,
    from: i64,
) -> Result<(), LedgerError> {
    let sql = |e| LedgerError::sql_at(path, e);
    let entries = super::query::audit_entries(tx, path)?;
    let data = super::transfer::export(tx, path)?;
    if entries.is_empty() && data.people.is_empty() {
        return Ok(());
    }
    let found = cross_check(&entries, &data.records());
    let rows = super::trail::snapshot(tx).map_err(sql)?;
    let detail = serde_json::json!({
        "baseline": true,
        "schema": {"from": from, "to": super::SCHEMA_VERSION},
        "found_at_upgrade": found,
        "rows": rows,
    });
    append_value(
        tx,
        path,
        &super::now(),
        "user:keyward",
        "ledger.upgrade",
        "every record, as found at the upgrade",
        &detail,
    )
}

/// What the records say, to hold against what the trail says (see [`cross_check`]).
pub(crate) struct Records<'a> {
    pub people: &'a [super::model::Person],
    pub accounts: &'a [super::model::Account],
    pub keys: &'a [super::model::Key],
    pub enrollments: &'a [super::model::Enrollment],
    pub methods: &'a [super::model::MethodRecord],
}

/// How keyward checked records before row images (schema 1): each record against the last
/// entry about it, for the columns those entries named. Still used on a ledger or an export
/// from then, once, before its baseline is written.
pub(crate) fn cross_check(entries: &[AuditEntry], r: &Records<'_>) -> Vec<String> {
    use serde_json::Value;
    use std::collections::HashMap;
    let mut person_names: HashMap<i64, String> = HashMap::new();
    let mut accounts: HashMap<i64, (i64, String, String)> = HashMap::new();
    let mut key_states: HashMap<i64, String> = HashMap::new();
    // enrollment id -> (account id, key id, evidence, needs replacement)
    let mut enrollments: HashMap<i64, (i64, i64, String, bool)> = HashMap::new();
    let mut reused: Vec<String> = Vec::new();
    let mut methods: HashMap<(i64, String), (String, Option<String>, String)> = HashMap::new();
    for e in entries {
        let Ok(d) = serde_json::from_str::<Value>(&e.detail) else {
            continue;
        };
        let id = |k: &str| d.get(k).and_then(Value::as_i64);
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        match e.action.as_str() {
            "person.add" => {
                if let (Some(p), Some(n)) = (id("person_id"), text(d.get("name"))) {
                    person_names.insert(p, n);
                }
            }
            "account.add" => {
                if let (Some(a), Some(p), Some(pb), Some(ident)) = (
                    id("account_id"),
                    id("person_id"),
                    text(d.get("playbook")),
                    text(d.get("identifier")),
                ) {
                    accounts.insert(a, (p, pb, ident));
                }
            }
            "key.add" => {
                if let Some(k) = id("key_id") {
                    key_states.insert(k, "active".into());
                }
            }
            "key.active" | "key.lost" | "key.retired" => {
                if let (Some(k), Some(s)) = (id("key_id"), text(d.pointer("/state/to"))) {
                    // The same change flags (or clears) every enrollment of the key.
                    for e in enrollments.values_mut().filter(|e| e.1 == k) {
                        e.3 = s != "active";
                    }
                    key_states.insert(k, s);
                }
            }
            "enrollment.record" => {
                if let (Some(i), Some(a), Some(k), Some(ev)) = (
                    id("enrollment_id"),
                    id("account_id"),
                    id("key_id"),
                    text(d.get("evidence")),
                ) {
                    // An id is only given again once its enrollment is gone: recorded while
                    // still live means a row was deleted behind keyward's back, and SQLite
                    // handed its id to the next enrollment.
                    if enrollments.insert(i, (a, k, ev, false)).is_some() {
                        reused.push(format!(
                            "enrollment #{i} was recorded again (entry {}) although the trail \
                             never removed the one before it: a record was deleted without \
                             keyward",
                            e.seq
                        ));
                    }
                }
            }
            "enrollment.update" => {
                if let (Some(i), Some(ev)) = (id("enrollment_id"), text(d.pointer("/evidence/to")))
                {
                    if let Some(e) = enrollments.get_mut(&i) {
                        e.2 = ev;
                    }
                }
            }
            "enrollment.remove" => {
                if let Some(i) = id("enrollment_id") {
                    enrollments.remove(&i);
                }
            }
            "method.set" => {
                if let (Some(a), Some(m), Some(s)) = (
                    id("account_id"),
                    text(d.get("method")),
                    text(d.pointer("/status/to")),
                ) {
                    methods.insert((a, m), (s, text(d.get("reason")), e.actor.clone()));
                }
            }
            _ => {}
        }
    }
    let mut problems = reused;
    for p in r.people {
        match person_names.get(&p.id) {
            None => problems.push(format!(
                "person #{} ({}) is not in the audit trail",
                p.id, p.name
            )),
            Some(n) if n != &p.name => problems.push(format!(
                "person #{} is named {} but the trail recorded {n}",
                p.id, p.name
            )),
            _ => {}
        }
    }
    for a in r.accounts {
        match accounts.get(&a.id) {
            None => problems.push(format!(
                "account #{} ({}:{}) is not in the audit trail",
                a.id, a.playbook, a.identifier
            )),
            Some((p, pb, ident))
                if *p != a.person_id || pb != &a.playbook || ident != &a.identifier =>
            {
                problems.push(format!(
                    "account #{} reads {}:{} of person #{}, but the trail recorded {pb}:{ident} of person #{p}",
                    a.id, a.playbook, a.identifier, a.person_id
                ))
            }
            _ => {}
        }
    }
    for k in r.keys {
        match key_states.get(&k.id) {
            None => problems.push(format!(
                "key #{} ({}) is not in the audit trail",
                k.id, k.label
            )),
            Some(s) if s != k.state.as_str() => problems.push(format!(
                "key #{} ({}) is marked {} but the trail last recorded {s}",
                k.id,
                k.label,
                k.state.as_str()
            )),
            _ => {}
        }
    }
    for en in r.enrollments {
        match enrollments.remove(&en.id) {
            None => problems.push(format!("enrollment #{} is not in the audit trail", en.id)),
            Some((a, k, ev, nr)) => {
                if a != en.account_id || k != en.key_id {
                    problems.push(format!(
                        "enrollment #{} joins account #{} and key #{}, but the trail recorded \
                         account #{a} and key #{k}",
                        en.id, en.account_id, en.key_id
                    ));
                }
                if ev != en.evidence.as_str() {
                    problems.push(format!(
                        "enrollment #{} claims evidence {} but the trail last recorded {ev}",
                        en.id,
                        en.evidence.as_str()
                    ));
                }
                if nr != en.needs_replacement {
                    problems.push(format!(
                        "enrollment #{} is {}marked as needing a replacement, but the trail says \
                         it {}",
                        en.id,
                        if en.needs_replacement { "" } else { "not " },
                        if nr { "does" } else { "does not" }
                    ));
                }
            }
        }
    }
    let mut vanished: Vec<i64> = enrollments.into_keys().collect();
    vanished.sort_unstable();
    for id in vanished {
        problems.push(format!(
            "enrollment #{id} is in the audit trail but no longer in the records (deleted \
             without keyward)"
        ));
    }
    for m in r.methods {
        match methods.get(&(m.account_id, m.method.clone())) {
            None => problems.push(format!(
                "method {} of account #{} is not in the audit trail",
                m.method, m.account_id
            )),
            Some((s, reason, actor))
                if s != m.status.as_str() || reason != &m.reason || actor != &m.updated_by =>
            {
                problems.push(format!(
                    "method {} of account #{} reads {} but the trail last recorded {s}",
                    m.method,
                    m.account_id,
                    m.status.as_str()
                ))
            }
            _ => {}
        }
    }
    problems
}
