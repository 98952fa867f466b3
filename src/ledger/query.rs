//! Reading the record: rows to model types, one person's status, the fleet report.

use super::model::*;
use super::{LedgerError, Result};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use uuid::Uuid;

fn sql(path: &str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
    move |e| LedgerError::sql_at(path, e)
}

/// A value in the file that this keyward cannot read means someone edited it by hand.
fn bad_value(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unexpected {what} `{value}`").into(),
    )
}

pub(crate) const PERSON_COLS: &str = "id, name, email, created_at";
pub(crate) const ACCOUNT_COLS: &str = "id, person_id, playbook, identifier, created_at";
pub(crate) const KEY_COLS: &str =
    "id, person_id, label, aaguid, model, serial, first_seen, last_seen, state, state_reason, pin_state, location";
pub(crate) const ENROLLMENT_COLS: &str =
    "id, account_id, key_id, enrolled_at, evidence, detail, needs_replacement";
pub(crate) const METHOD_COLS: &str = "account_id, method, status, reason, updated_at, updated_by";
pub(crate) const SLOT_COLS: &str = "slot, person_id, label, status, key_id, reason, at";

pub(crate) fn person_row(r: &Row<'_>) -> rusqlite::Result<Person> {
    Ok(Person {
        id: r.get(0)?,
        name: r.get(1)?,
        email: r.get(2)?,
        created_at: r.get(3)?,
    })
}

pub(crate) fn account_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        person_id: r.get(1)?,
        playbook: r.get(2)?,
        identifier: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub(crate) fn key_row(r: &Row<'_>) -> rusqlite::Result<Key> {
    let aaguid: Option<String> = r.get(3)?;
    let aaguid = match aaguid {
        Some(s) => Some(Uuid::parse_str(&s).map_err(|_| bad_value("AAGUID", &s))?),
        None => None,
    };
    let state: String = r.get(8)?;
    let pin_state: Option<String> = r.get(10)?;
    Ok(Key {
        id: r.get(0)?,
        person_id: r.get(1)?,
        label: r.get(2)?,
        aaguid,
        model: r.get(4)?,
        serial: r.get(5)?,
        first_seen: r.get(6)?,
        last_seen: r.get(7)?,
        state: KeyState::parse(&state).ok_or_else(|| bad_value("key state", &state))?,
        state_reason: r.get(9)?,
        pin_state: match pin_state {
            Some(s) => Some(PinState::parse(&s).ok_or_else(|| bad_value("PIN state", &s))?),
            None => None,
        },
        location: r.get(11)?,
    })
}

pub(crate) fn enrollment_row(r: &Row<'_>) -> rusqlite::Result<Enrollment> {
    let evidence: String = r.get(4)?;
    let detail: String = r.get(5)?;
    Ok(Enrollment {
        id: r.get(0)?,
        account_id: r.get(1)?,
        key_id: r.get(2)?,
        enrolled_at: r.get(3)?,
        evidence: Evidence::parse(&evidence).ok_or_else(|| bad_value("evidence", &evidence))?,
        detail: serde_json::from_str(&detail).map_err(|_| bad_value("evidence detail", &detail))?,
        needs_replacement: r.get(6)?,
    })
}

pub(crate) fn method_row(r: &Row<'_>) -> rusqlite::Result<MethodRecord> {
    let status: String = r.get(2)?;
    Ok(MethodRecord {
        account_id: r.get(0)?,
        method: r.get(1)?,
        status: MethodStatus::parse(&status).ok_or_else(|| bad_value("method status", &status))?,
        reason: r.get(3)?,
        updated_at: r.get(4)?,
        updated_by: r.get(5)?,
    })
}

pub(crate) fn slot_row(r: &Row<'_>) -> rusqlite::Result<ProvisionSlot> {
    let status: String = r.get(3)?;
    Ok(ProvisionSlot {
        slot: r.get(0)?,
        person_id: r.get(1)?,
        label: r.get(2)?,
        status: SlotStatus::parse(&status).ok_or_else(|| bad_value("slot status", &status))?,
        key_id: r.get(4)?,
        reason: r.get(5)?,
        at: r.get(6)?,
    })
}

pub(crate) fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        subject: r.get(4)?,
        detail: r.get(5)?,
        prev_hash: r.get(6)?,
        hash: r.get(7)?,
    })
}

fn all<T>(
    conn: &Connection,
    path: &str,
    query: &str,
    p: impl rusqlite::Params,
    f: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    // Cached: the fleet report runs the same few queries once per person.
    let mut stmt = conn.prepare_cached(query).map_err(sql(path))?;
    let rows = stmt.query_map(p, f).map_err(sql(path))?;
    rows.collect::<rusqlite::Result<Vec<T>>>()
        .map_err(sql(path))
}

fn one<T>(
    conn: &Connection,
    path: &str,
    query: &str,
    p: impl rusqlite::Params,
    f: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>> {
    conn.prepare_cached(query)
        .and_then(|mut stmt| stmt.query_row(p, f).optional())
        .map_err(sql(path))
}

pub(crate) fn person(conn: &Connection, path: &str, id: i64) -> Result<Person> {
    one(
        conn,
        path,
        &format!("SELECT {PERSON_COLS} FROM people WHERE id = ?1"),
        params![id],
        person_row,
    )?
    .ok_or_else(|| LedgerError::UnknownPerson(format!("#{id}")))
}

pub(crate) fn person_by_name(conn: &Connection, path: &str, name: &str) -> Result<Option<Person>> {
    one(
        conn,
        path,
        &format!("SELECT {PERSON_COLS} FROM people WHERE name = ?1"),
        params![name],
        person_row,
    )
}

pub(crate) fn find_person(conn: &Connection, path: &str, q: &str) -> Result<Person> {
    let q = q.trim();
    if let Some(id) = q.strip_prefix('#').and_then(|s| s.parse::<i64>().ok()) {
        return person(conn, path, id);
    }
    if let Some(p) = person_by_name(conn, path, q)? {
        return Ok(p);
    }
    let by_email = all(
        conn,
        path,
        &format!("SELECT {PERSON_COLS} FROM people WHERE email = ?1 COLLATE NOCASE"),
        params![q],
        person_row,
    )?;
    if by_email.len() == 1 {
        return Ok(by_email.into_iter().next().expect("one element"));
    }
    // An account identifier (email, UPN) also finds its person.
    let by_account = all(
        conn,
        path,
        "SELECT DISTINCT p.id, p.name, p.email, p.created_at FROM people p
         JOIN accounts a ON a.person_id = p.id WHERE a.identifier = ?1 COLLATE NOCASE",
        params![q],
        person_row,
    )?;
    if by_account.len() == 1 {
        return Ok(by_account.into_iter().next().expect("one element"));
    }
    Err(LedgerError::UnknownPerson(q.to_string()))
}

pub(crate) fn people(conn: &Connection, path: &str) -> Result<Vec<Person>> {
    all(
        conn,
        path,
        &format!("SELECT {PERSON_COLS} FROM people ORDER BY name COLLATE NOCASE, id"),
        [],
        person_row,
    )
}

pub(crate) fn account(conn: &Connection, path: &str, id: i64) -> Result<Account> {
    one(
        conn,
        path,
        &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?1"),
        params![id],
        account_row,
    )?
    .ok_or_else(|| LedgerError::NotFound(format!("no account #{id} in the ledger")))
}

pub(crate) fn find_account(
    conn: &Connection,
    path: &str,
    playbook: &str,
    identifier: &str,
) -> Result<Option<Account>> {
    one(
        conn,
        path,
        &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE playbook = ?1 AND identifier = ?2"),
        params![playbook.trim(), identifier.trim()],
        account_row,
    )
}

/// The accounts `wanted` may name: those whose identifier is `wanted`, or what follows one of
/// its colons (`PLAYBOOK:IDENTIFIER`), case-insensitively. Found by index, not by reading
/// everyone's accounts; the caller decides which of them `wanted` really names.
pub(crate) fn accounts_named(conn: &Connection, path: &str, wanted: &str) -> Result<Vec<Account>> {
    let wanted = wanted.trim();
    let mut out: Vec<Account> = Vec::new();
    let tails =
        std::iter::once(wanted).chain(wanted.match_indices(':').map(|(i, _)| &wanted[i + 1..]));
    for identifier in tails {
        for a in all(
            conn,
            path,
            &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE identifier = ?1 ORDER BY id"),
            params![identifier],
            account_row,
        )? {
            if !out.iter().any(|o| o.id == a.id) {
                out.push(a);
            }
        }
    }
    out.sort_by(|a, b| (&a.playbook, &a.identifier, a.id).cmp(&(&b.playbook, &b.identifier, b.id)));
    Ok(out)
}

pub(crate) fn accounts_of(conn: &Connection, path: &str, person_id: i64) -> Result<Vec<Account>> {
    all(
        conn,
        path,
        &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE person_id = ?1 ORDER BY playbook, identifier"),
        params![person_id],
        account_row,
    )
}

pub(crate) fn key(conn: &Connection, path: &str, id: i64) -> Result<Key> {
    one(
        conn,
        path,
        &format!("SELECT {KEY_COLS} FROM keys WHERE id = ?1"),
        params![id],
        key_row,
    )?
    .ok_or_else(|| LedgerError::NotFound(format!("no key #{id} in the ledger")))
}

pub(crate) fn key_by_serial(conn: &Connection, path: &str, serial: &str) -> Result<Option<Key>> {
    // The most recent active record wins when a retired key was given to someone else.
    one(
        conn,
        path,
        &format!(
            "SELECT {KEY_COLS} FROM keys WHERE serial = ?1
             ORDER BY state = 'active' DESC, id DESC LIMIT 1"
        ),
        params![serial],
        key_row,
    )
}

pub(crate) fn key_by_label(
    conn: &Connection,
    path: &str,
    person_id: i64,
    label: &str,
) -> Result<Option<Key>> {
    one(
        conn,
        path,
        &format!("SELECT {KEY_COLS} FROM keys WHERE person_id = ?1 AND label = ?2"),
        params![person_id, label],
        key_row,
    )
}

pub(crate) fn keys_of(conn: &Connection, path: &str, person_id: i64) -> Result<Vec<Key>> {
    all(
        conn,
        path,
        &format!(
            "SELECT {KEY_COLS} FROM keys WHERE person_id = ?1 ORDER BY label COLLATE NOCASE, id"
        ),
        params![person_id],
        key_row,
    )
}

pub(crate) fn find_key(
    conn: &Connection,
    path: &str,
    q: &str,
    person_id: Option<i64>,
) -> Result<Key> {
    let q = q.trim();
    if let Some(id) = q.strip_prefix('#').and_then(|s| s.parse::<i64>().ok()) {
        let k = key(conn, path, id)?;
        return match person_id {
            Some(p) if p != k.person_id => Err(LedgerError::NotFound(format!(
                "key #{id} belongs to someone else"
            ))),
            _ => Ok(k),
        };
    }
    let mut found = all(
        conn,
        path,
        &format!(
            "SELECT {KEY_COLS} FROM keys WHERE (serial = ?1 OR label = ?1 COLLATE NOCASE)
             AND (?2 IS NULL OR person_id = ?2) ORDER BY id"
        ),
        params![q, person_id],
        key_row,
    )?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(LedgerError::NotFound(format!(
            "no key `{q}`{} in the ledger; give its label with --person, its serial, or #ID as \
             `keyward status` shows it",
            match person_id {
                Some(p) => format!(" for {}", person(conn, path, p)?.name),
                None => String::new(),
            }
        ))),
        _ => {
            let mut names = Vec::new();
            for k in &found {
                names.push(format!(
                    "#{} ({}'s {})",
                    k.id,
                    person(conn, path, k.person_id)?.name,
                    k.label
                ));
            }
            Err(LedgerError::Conflict(format!(
                "`{q}` matches several keys: {}; add --person or use #ID",
                names.join(", ")
            )))
        }
    }
}

pub(crate) fn enrollment(conn: &Connection, path: &str, id: i64) -> Result<Enrollment> {
    one(
        conn,
        path,
        &format!("SELECT {ENROLLMENT_COLS} FROM enrollments WHERE id = ?1"),
        params![id],
        enrollment_row,
    )?
    .ok_or_else(|| LedgerError::NotFound(format!("no enrollment #{id} in the ledger")))
}

pub(crate) fn enrollment_of(
    conn: &Connection,
    path: &str,
    account_id: i64,
    key_id: i64,
) -> Result<Option<Enrollment>> {
    one(
        conn,
        path,
        &format!("SELECT {ENROLLMENT_COLS} FROM enrollments WHERE account_id = ?1 AND key_id = ?2"),
        params![account_id, key_id],
        enrollment_row,
    )
}

pub(crate) fn enrollments_of_key(
    conn: &Connection,
    path: &str,
    key_id: i64,
) -> Result<Vec<Enrollment>> {
    all(
        conn,
        path,
        &format!("SELECT {ENROLLMENT_COLS} FROM enrollments WHERE key_id = ?1 ORDER BY id"),
        params![key_id],
        enrollment_row,
    )
}

pub(crate) fn enrollments_of_account(
    conn: &Connection,
    path: &str,
    account_id: i64,
) -> Result<Vec<Enrollment>> {
    all(
        conn,
        path,
        &format!("SELECT {ENROLLMENT_COLS} FROM enrollments WHERE account_id = ?1 ORDER BY id"),
        params![account_id],
        enrollment_row,
    )
}

pub(crate) fn method_of(
    conn: &Connection,
    path: &str,
    account_id: i64,
    method: &str,
) -> Result<Option<MethodRecord>> {
    one(
        conn,
        path,
        &format!("SELECT {METHOD_COLS} FROM methods WHERE account_id = ?1 AND method = ?2"),
        params![account_id, method],
        method_row,
    )
}

pub(crate) fn methods_of(
    conn: &Connection,
    path: &str,
    account_id: i64,
) -> Result<Vec<MethodRecord>> {
    all(
        conn,
        path,
        &format!("SELECT {METHOD_COLS} FROM methods WHERE account_id = ?1 ORDER BY method"),
        params![account_id],
        method_row,
    )
}

pub(crate) fn slot(conn: &Connection, path: &str, slot: &str) -> Result<Option<ProvisionSlot>> {
    one(
        conn,
        path,
        &format!("SELECT {SLOT_COLS} FROM provision_slots WHERE slot = ?1"),
        params![slot],
        slot_row,
    )
}

pub(crate) fn slots(conn: &Connection, path: &str) -> Result<Vec<ProvisionSlot>> {
    all(
        conn,
        path,
        &format!("SELECT {SLOT_COLS} FROM provision_slots ORDER BY slot"),
        [],
        slot_row,
    )
}

pub(crate) fn checkpoints(
    conn: &Connection,
    path: &str,
    person_id: i64,
) -> Result<Vec<Checkpoint>> {
    all(
        conn,
        path,
        "SELECT person_id, name, at FROM checkpoints WHERE person_id = ?1 ORDER BY at, name",
        params![person_id],
        |r| {
            Ok(Checkpoint {
                person_id: r.get(0)?,
                name: r.get(1)?,
                at: r.get(2)?,
            })
        },
    )
}

pub(crate) fn pending_key_change(
    conn: &Connection,
    path: &str,
    key_id: i64,
) -> Result<Option<String>> {
    conn.query_row(
        "SELECT change FROM key_changes WHERE key_id = ?1",
        params![key_id],
        |r| r.get(0),
    )
    .optional()
    .map_err(sql(path))
}

pub(crate) fn audit_entries(conn: &Connection, path: &str) -> Result<Vec<AuditEntry>> {
    all(
        conn,
        path,
        "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY rowid",
        [],
        audit_row,
    )
}

/// A weaker method still to disable (present) or still to check (unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remaining {
    pub account_id: i64,
    pub playbook: String,
    pub identifier: String,
    pub method: String,
    pub status: MethodStatus,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnrollmentView {
    #[serde(flatten)]
    pub enrollment: Enrollment,
    pub key_label: String,
    pub key_state: KeyState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountStatus {
    #[serde(flatten)]
    pub account: Account,
    pub enrollments: Vec<EnrollmentView>,
    pub methods: Vec<MethodRecord>,
    /// Enrolled keys that are still active and not awaiting replacement.
    pub working_keys: usize,
}

/// Where a guided session marks its progress: checkpoints named `progress/NNNNN/WHERE`, the
/// highest number being the latest. `WHERE` is [`PROGRESS_FINISHED`] when a session ended
/// with nothing left for later.
pub const PROGRESS_PREFIX: &str = "progress/";
pub const PROGRESS_FINISHED: &str = "finished";

/// Where the person's last guided session stopped, if it did not finish.
pub fn unfinished_from(checkpoints: &[String]) -> Option<String> {
    checkpoints
        .iter()
        .filter_map(|c| {
            let rest = c.strip_prefix(PROGRESS_PREFIX)?;
            let (n, at) = rest.split_once('/')?;
            Some((n.parse::<u64>().ok()?, at))
        })
        .max_by_key(|(n, _)| *n)
        .filter(|(_, at)| *at != PROGRESS_FINISHED)
        .map(|(_, at)| at.to_string())
}

/// Everything recorded about one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonStatus {
    pub person: Person,
    /// First of all: what remains to disable (present) or to check (unknown), on accounts
    /// where a key the person still has works.
    pub remaining: Vec<Remaining>,
    /// Weaker methods of accounts with no working key yet: removing them first could lock the
    /// person out, so they wait for a key.
    pub waiting: Vec<Remaining>,
    /// Where the last guided session stopped, when it did not finish.
    pub unfinished: Option<String>,
    pub accounts: Vec<AccountStatus>,
    pub keys: Vec<Key>,
}

impl PersonStatus {
    /// Accounts where fewer than two working keys are enrolled (losing one locks them out).
    pub fn single_key_accounts(&self) -> Vec<&AccountStatus> {
        self.accounts
            .iter()
            .filter(|a| a.working_keys < 2)
            .collect()
    }

    /// Each enrollment of a lost or retired key, as `playbook:identifier / key label`.
    /// What to do about each enrollment of a lost or retired key: while the account has fewer
    /// than two working keys it needs a replacement; once it has them again, only the lost key
    /// is left to remove there.
    pub fn replacement_tasks(&self) -> Vec<String> {
        self.needing_replacement()
            .into_iter()
            .map(|(a, e)| {
                let acct = format!("{}:{}", a.account.playbook, a.account.identifier);
                if a.working_keys >= 2 {
                    format!(
                        "remove {} {} from {acct}",
                        e.key_state.as_str(),
                        e.key_label
                    )
                } else {
                    format!(
                        "{acct} needs a replacement for {} {}",
                        e.key_state.as_str(),
                        e.key_label
                    )
                }
            })
            .collect()
    }

    pub fn needs_replacement_names(&self) -> Vec<String> {
        self.needing_replacement()
            .into_iter()
            .map(|(a, e)| {
                format!(
                    "{}:{} / {}",
                    a.account.playbook, a.account.identifier, e.key_label
                )
            })
            .collect()
    }

    /// Enrollments whose key was lost or retired.
    pub fn needing_replacement(&self) -> Vec<(&AccountStatus, &EnrollmentView)> {
        self.accounts
            .iter()
            .flat_map(|a| {
                a.enrollments
                    .iter()
                    .filter(|e| e.enrollment.needs_replacement)
                    .map(move |e| (a, e))
            })
            .collect()
    }
}

pub(crate) fn person_status(conn: &Connection, path: &str, person_id: i64) -> Result<PersonStatus> {
    let person = person(conn, path, person_id)?;
    let keys = keys_of(conn, path, person_id)?;
    let mut accounts = Vec::new();
    let mut remaining = Vec::new();
    let mut waiting = Vec::new();
    for account in accounts_of(conn, path, person_id)? {
        let mut enrollments = Vec::new();
        for e in enrollments_of_account(conn, path, account.id)? {
            let k = keys.iter().find(|k| k.id == e.key_id);
            enrollments.push(EnrollmentView {
                key_label: k
                    .map(|k| k.label.clone())
                    .unwrap_or_else(|| format!("#{}", e.key_id)),
                key_state: k.map(|k| k.state).unwrap_or(KeyState::Retired),
                enrollment: e,
            });
        }
        let methods = methods_of(conn, path, account.id)?;
        let working_keys = enrollments
            .iter()
            .filter(|e| e.key_state == KeyState::Active && !e.enrollment.needs_replacement)
            .count();
        for m in methods.iter().filter(|m| m.status.remains()) {
            let list = if working_keys == 0 {
                &mut waiting
            } else {
                &mut remaining
            };
            list.push(Remaining {
                account_id: account.id,
                playbook: account.playbook.clone(),
                identifier: account.identifier.clone(),
                method: m.method.clone(),
                status: m.status,
                updated_at: m.updated_at.clone(),
            });
        }
        accounts.push(AccountStatus {
            account,
            enrollments,
            methods,
            working_keys,
        });
    }
    // Present before unknown: a method known to be on is the more urgent.
    remaining.sort_by_key(|r| {
        (
            r.status != MethodStatus::Present,
            r.playbook.clone(),
            r.method.clone(),
        )
    });
    let names: Vec<String> = checkpoints(conn, path, person_id)?
        .into_iter()
        .map(|c| c.name)
        .collect();
    Ok(PersonStatus {
        unfinished: unfinished_from(&names),
        person,
        remaining,
        waiting,
        accounts,
        keys,
    })
}

/// One line of the fleet view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonSummary {
    pub person: Person,
    pub to_disable: Vec<Remaining>,
    /// Accounts with fewer than two working keys.
    pub single_key_accounts: Vec<Account>,
    pub lost_or_retired_keys: Vec<Key>,
    /// Enrollments of lost or retired keys, as `playbook:identifier / label`.
    pub needs_replacement: Vec<String>,
    /// What to do about each of them (`PersonStatus::replacement_tasks`).
    pub replacement_tasks: Vec<String>,
    /// Weaker methods waiting for a working key on their account.
    pub waiting: Vec<Remaining>,
    /// Where the last guided session stopped, when it did not finish.
    pub unfinished: Option<String>,
    /// How many accounts are recorded: with none, nothing is done yet either.
    pub accounts: usize,
}

impl PersonSummary {
    pub fn all_done(&self) -> bool {
        self.accounts > 0
            && self.to_disable.is_empty()
            && self.waiting.is_empty()
            && self.unfinished.is_none()
            && self.single_key_accounts.is_empty()
            && self.needs_replacement.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetReport {
    pub people: Vec<PersonSummary>,
    pub people_with_methods_to_disable: usize,
    pub accounts_with_single_key: usize,
    pub keys_lost_or_retired: usize,
}

impl From<PersonStatus> for PersonSummary {
    fn from(s: PersonStatus) -> PersonSummary {
        let single_key_accounts = s
            .single_key_accounts()
            .into_iter()
            .map(|a| a.account.clone())
            .collect();
        let needs_replacement = s.needs_replacement_names();
        let replacement_tasks = s.replacement_tasks();
        PersonSummary {
            replacement_tasks,
            waiting: s.waiting.clone(),
            unfinished: s.unfinished.clone(),
            lost_or_retired_keys: s
                .keys
                .iter()
                .filter(|k| k.state != KeyState::Active)
                .cloned()
                .collect(),
            to_disable: s.remaining,
            accounts: s.accounts.len(),
            single_key_accounts,
            needs_replacement,
            person: s.person,
        }
    }
}

pub(crate) fn fleet_report(conn: &Connection, path: &str) -> Result<FleetReport> {
    let mut people = Vec::new();
    for p in super::query::people(conn, path)? {
        people.push(PersonSummary::from(person_status(conn, path, p.id)?));
    }
    Ok(FleetReport {
        people_with_methods_to_disable: people.iter().filter(|p| !p.to_disable.is_empty()).count(),
        accounts_with_single_key: people.iter().map(|p| p.single_key_accounts.len()).sum(),
        keys_lost_or_retired: people.iter().map(|p| p.lost_or_retired_keys.len()).sum(),
        people,
    })
}
