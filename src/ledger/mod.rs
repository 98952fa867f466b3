//! The ledger: people, accounts, keys, enrollments, weaker methods and the audit trail.
//!
//! One SQLite file (WAL, mode 0600). Every change goes through [`Ledger::write`]: one
//! `BEGIN IMMEDIATE` transaction that makes the change and appends its audit entry together,
//! so a crash or a second process never leaves a change without its history (or the reverse).
//!
//! ```no_run
//! # use keyward::ledger::*;
//! # fn main() -> Result<(), LedgerError> {
//! let mut ledger = Ledger::open(std::path::Path::new("ledger.sqlite"))?;
//! let actor = Actor::from_operator(Some("helpdesk-sam"));
//! let ada = ledger.upsert_person(&actor, "Ada Lovelace", Some("ada@example.com"))?;
//! let key = ledger.register_key(&actor, ada.id, &NewKey { label: "Key A".into(), ..Default::default() })?;
//! let google = ledger.add_account(&actor, ada.id, "google", "ada@example.com")?;
//! ledger.record_enrollment(&actor, &NewEnrollment {
//!     account_id: google.id, key_id: key.id, evidence: Evidence::SeenOnKey,
//!     detail: EvidenceDetail { rp_id: Some("google.com".into()), ..Default::default() },
//! })?;
//! ledger.set_method_status(&actor, google.id, "sms", MethodStatus::Removed, None)?;
//! let status = ledger.person_status(ada.id)?;
//! # Ok(()) }
//! ```

mod audit;
mod model;
mod query;
mod schema;
mod trail;
mod transfer;
mod writer;

pub use audit::{AuditProblem, AuditReport};
pub use model::*;
pub use query::{
    unfinished_from, AccountStatus, EnrollmentView, FleetReport, PersonStatus, PersonSummary,
    Remaining, PROGRESS_FINISHED, PROGRESS_PREFIX,
};
pub use schema::SCHEMA_VERSION;
pub use transfer::{ExportCounts, LedgerExport};
pub use writer::{NewSlot, Writer};

use crate::error::ExitCode;
use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {path} is damaged ({message}); it was left untouched. Restore it from a backup or a `keyward ledger export`, or choose another file with --ledger")]
    Damaged { path: String, message: String },
    #[error("{path} is not a keyward ledger: {what}. It was left untouched; choose another file with --ledger (or KEYWARD_LEDGER)")]
    NotALedger { path: String, what: String },
    #[error("ledger {path} has schema version {found}, newer than this keyward understands ({supported}); upgrade keyward. The file was left untouched")]
    TooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("there is no ledger at {path}: nothing has been recorded there yet. Check --ledger / KEYWARD_LEDGER (`keyward enroll` or `keyward provision` create it)")]
    Missing { path: String },
    #[error("ledger {path} stayed locked by another keyward for too long; try again when it has finished")]
    Busy { path: String },
    #[error("ledger {path}: its folder {folder} is read-only, so nothing can be recorded there. Reading (`status`, `report`, `audit verify`, `ledger export`) still works; to record, copy the ledger to a folder you can write to, or ask for write access")]
    ReadOnly { path: String, folder: String },
    #[error("ledger {path}: {doing}: {source}")]
    Io {
        path: String,
        doing: String,
        source: std::io::Error,
    },
    #[error("ledger {path}: {message}")]
    Sql { path: String, message: String },
    #[error("no person `{0}` in the ledger; `keyward report` lists everyone")]
    UnknownPerson(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("ledger {path} already holds records; import only into a new ledger (choose a new file with --ledger)")]
    NotEmpty { path: String },
    #[error("{file}: {message}; nothing was imported")]
    BadExport { file: String, message: String },
}

impl LedgerError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            LedgerError::Damaged { .. }
            | LedgerError::NotALedger { .. }
            | LedgerError::TooNew { .. }
            | LedgerError::Busy { .. }
            | LedgerError::Io { .. }
            | LedgerError::Sql { .. }
            | LedgerError::NotEmpty { .. }
            | LedgerError::Missing { .. }
            | LedgerError::ReadOnly { .. } => ExitCode::Ledger,
            LedgerError::UnknownPerson(_)
            | LedgerError::NotFound(_)
            | LedgerError::Conflict(_)
            | LedgerError::Invalid(_)
            | LedgerError::BadExport { .. } => ExitCode::BadInput,
        }
    }

    pub(crate) fn read_only(path: &Path) -> LedgerError {
        let folder = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.display().to_string(),
            _ => ".".into(),
        };
        LedgerError::ReadOnly {
            path: path.display().to_string(),
            folder,
        }
    }

    pub(crate) fn io(path: &Path, doing: &str, source: std::io::Error) -> LedgerError {
        LedgerError::Io {
            path: path.display().to_string(),
            doing: doing.to_string(),
            source,
        }
    }

    pub(crate) fn sql(path: &Path, e: rusqlite::Error) -> LedgerError {
        Self::sql_at(&path.display().to_string(), e)
    }

    pub(crate) fn sql_at(path: &str, e: rusqlite::Error) -> LedgerError {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => LedgerError::Busy {
                path: path.to_string(),
            },
            Some(ErrorCode::ReadOnly) if schema::folder_read_only(Path::new(path)) => {
                LedgerError::read_only(Path::new(path))
            }
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
                LedgerError::Damaged {
                    path: path.to_string(),
                    message: e.to_string(),
                }
            }
            _ => LedgerError::Sql {
                path: path.to_string(),
                message: e.to_string(),
            },
        }
    }

    pub(crate) fn sql_msg(path: &Path, message: String) -> LedgerError {
        LedgerError::Sql {
            path: path.display().to_string(),
            message,
        }
    }
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// An open ledger. Cheap to open; open one per command.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    /// Whether this connection notes the rows its writes touch (see `trail`).
    tracing: bool,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

impl Ledger {
    /// `keyward/ledger.sqlite` in the user's data folder (`~/.local/share` on Linux).
    pub fn default_path() -> Option<PathBuf> {
        dirs::data_dir().map(|d| d.join("keyward").join("ledger.sqlite"))
    }

    /// Open the ledger at `path` only if it exists: for commands that read, so that a mistyped
    /// `--ledger` says so instead of creating an empty ledger.
    pub fn open_existing(path: &Path) -> Result<Ledger> {
        if !path.exists() {
            return Err(LedgerError::Missing {
                path: path.display().to_string(),
            });
        }
        Ledger::open(path)
    }

    /// Open an existing ledger only to read it (`status`, `report`, `audit verify`, `ledger
    /// export`): nothing beside it is created or deleted, so it works in a read-only folder.
    /// Writing through it fails.
    pub fn open_read_only(path: &Path) -> Result<Ledger> {
        if !path.exists() {
            return Err(LedgerError::Missing {
                path: path.display().to_string(),
            });
        }
        let (conn, _version) = schema::open_read_only(path)?;
        Ok(Ledger {
            conn,
            path: path.to_path_buf(),
            tracing: false,
        })
    }

    /// Open the ledger at `path`, creating a new one (mode 0600) when nothing is there. A file
    /// that is not a keyward ledger, is damaged, or comes from a newer keyward is refused and
    /// never written to.
    pub fn open(path: &Path) -> Result<Ledger> {
        let conn = schema::open(path)?;
        Ok(Ledger {
            conn,
            path: path.to_path_buf(),
            tracing: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn path_str(&self) -> String {
        self.path.display().to_string()
    }

    /// Run `f` as ONE transaction: everything it changes, with its audit entries, is committed
    /// together or not at all. Waits (up to 30 s) while another process writes. The write lock
    /// is held while `f` runs: never ask a person anything or touch a key inside it.
    pub fn write<T>(
        &mut self,
        actor: &Actor,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T>,
    ) -> Result<T> {
        let path = self.path_str();
        if !self.tracing {
            trail::install(&self.conn).map_err(|e| LedgerError::sql_at(&path, e))?;
            self.tracing = true;
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| LedgerError::sql_at(&path, e))?;
        // Only what this transaction does belongs in its entries.
        tx.execute("DELETE FROM temp.kw_touched", [])
            .map_err(|e| LedgerError::sql_at(&path, e))?;
        let mut w = Writer::new(tx, path.clone(), actor.clone());
        let value = f(&mut w)?;
        w.commit()?;
        Ok(value)
    }

    // One-change conveniences: each is its own transaction.

    /// Add a person, or return the one with this name (case-insensitive), updating the email
    /// when a new one is given.
    pub fn upsert_person(
        &mut self,
        actor: &Actor,
        name: &str,
        email: Option<&str>,
    ) -> Result<Person> {
        self.write(actor, |w| w.upsert_person(name, email))
    }

    /// Add an account to a person, or return it when it is already theirs.
    pub fn add_account(
        &mut self,
        actor: &Actor,
        person_id: i64,
        playbook: &str,
        identifier: &str,
    ) -> Result<Account> {
        self.write(actor, |w| w.add_account(person_id, playbook, identifier))
    }

    /// Record a key as a person's (matched by serial, else by label), updating `last_seen`.
    pub fn register_key(&mut self, actor: &Actor, person_id: i64, key: &NewKey) -> Result<Key> {
        self.write(actor, |w| w.register_key(person_id, key))
    }

    /// Record that a key is in an account, with what proves it. Recording again keeps the
    /// strongest evidence.
    pub fn record_enrollment(&mut self, actor: &Actor, e: &NewEnrollment) -> Result<Enrollment> {
        self.write(actor, |w| w.record_enrollment(e))
    }

    /// Record that a key was removed from an account at the provider (how an enrollment of a
    /// lost or retired key is settled).
    pub fn remove_enrollment(
        &mut self,
        actor: &Actor,
        account_id: i64,
        key_id: i64,
        note: Option<&str>,
    ) -> Result<Enrollment> {
        self.write(actor, |w| w.remove_enrollment(account_id, key_id, note))
    }

    /// Record the state of a weaker method on an account. `Kept` needs a reason.
    pub fn set_method_status(
        &mut self,
        actor: &Actor,
        account_id: i64,
        method: &str,
        status: MethodStatus,
        reason: Option<&str>,
    ) -> Result<MethodRecord> {
        self.write(actor, |w| {
            w.set_method_status(account_id, method, status, reason)
        })
    }

    /// Mark a key lost, retired or active again. Lost or retired marks every enrollment of the
    /// key as needing a replacement.
    pub fn set_key_state(
        &mut self,
        actor: &Actor,
        key_id: i64,
        state: KeyState,
        reason: Option<&str>,
    ) -> Result<Key> {
        self.write(actor, |w| w.set_key_state(key_id, state, reason))
    }

    /// Record a key's PIN state after provisioning (never the PIN).
    pub fn set_pin_state(&mut self, actor: &Actor, key_id: i64, pin: PinState) -> Result<Key> {
        self.write(actor, |w| w.set_pin_state(key_id, pin))
    }

    /// Before changing a key outside the ledger: the intent, in its own transaction (see
    /// [`Writer::begin_key_change`]). Then act on the key, then [`Ledger::settle_key_change`].
    pub fn begin_key_change(&mut self, actor: &Actor, key_id: i64, change: &str) -> Result<()> {
        self.write(actor, |w| w.begin_key_change(key_id, change))
    }

    /// After the change (or at the next run, with `interrupted`, when one never settled):
    /// record what the key says now and close the intent.
    pub fn settle_key_change(
        &mut self,
        actor: &Actor,
        key_id: i64,
        seen: &KeySeen,
        interrupted: bool,
    ) -> Result<Key> {
        self.write(actor, |w| {
            w.settle_key_change_as_seen(key_id, seen, interrupted)
        })
    }

    /// [`Ledger::settle_key_change`] for a change that may have erased passkeys, with what
    /// that means for the key's enrollments, in one transaction (see
    /// [`Writer::settle_key_change_erased`]).
    pub fn settle_key_erase(
        &mut self,
        actor: &Actor,
        key_id: i64,
        seen: &KeySeen,
        interrupted: bool,
        erased: &KeyErased,
    ) -> Result<(Key, usize)> {
        self.write(actor, |w| {
            w.settle_key_change_erased(key_id, seen, interrupted, erased)
        })
    }

    /// The key recorded with this serial number, if any (the most recent active one).
    pub fn key_by_serial(&self, serial: &str) -> Result<Option<Key>> {
        query::key_by_serial(&self.conn, &self.path_str(), serial)
    }

    /// Where the person keeps the key, in their words.
    pub fn set_key_location(&mut self, actor: &Actor, key_id: i64, location: &str) -> Result<Key> {
        self.write(actor, |w| w.set_key_location(key_id, location))
    }

    /// The change begun on this key and never settled (see [`Writer::begin_key_change`]).
    pub fn pending_key_change(&self, key_id: i64) -> Result<Option<String>> {
        query::pending_key_change(&self.conn, &self.path_str(), key_id)
    }

    /// Record that a flow has passed a named point for a person (idempotent).
    pub fn checkpoint(&mut self, actor: &Actor, person_id: i64, name: &str) -> Result<()> {
        self.write(actor, |w| w.checkpoint(person_id, name))
    }

    // Reads.

    /// A person by name (case-insensitive), email, or `#ID`.
    pub fn find_person(&self, query: &str) -> Result<Person> {
        query::find_person(&self.conn, &self.path_str(), query)
    }

    pub fn person(&self, id: i64) -> Result<Person> {
        query::person(&self.conn, &self.path_str(), id)
    }

    pub fn people(&self) -> Result<Vec<Person>> {
        query::people(&self.conn, &self.path_str())
    }

    pub fn accounts_of(&self, person_id: i64) -> Result<Vec<Account>> {
        query::accounts_of(&self.conn, &self.path_str(), person_id)
    }

    /// The accounts `wanted` may name (an identifier, or `PLAYBOOK:IDENTIFIER`), found by
    /// index; the caller filters them.
    pub fn accounts_named(&self, wanted: &str) -> Result<Vec<Account>> {
        query::accounts_named(&self.conn, &self.path_str(), wanted)
    }

    /// The account with this playbook and identifier, if recorded.
    pub fn find_account(&self, playbook: &str, identifier: &str) -> Result<Option<Account>> {
        query::find_account(&self.conn, &self.path_str(), playbook, identifier)
    }

    pub fn keys_of(&self, person_id: i64) -> Result<Vec<Key>> {
        query::keys_of(&self.conn, &self.path_str(), person_id)
    }

    /// A key by `#ID`, serial, or label (the label needs `person_id` unless it is unique).
    pub fn find_key(&self, query: &str, person_id: Option<i64>) -> Result<Key> {
        query::find_key(&self.conn, &self.path_str(), query, person_id)
    }

    pub fn enrollments_of_account(&self, account_id: i64) -> Result<Vec<Enrollment>> {
        query::enrollments_of_account(&self.conn, &self.path_str(), account_id)
    }

    pub fn methods_of(&self, account_id: i64) -> Result<Vec<MethodRecord>> {
        query::methods_of(&self.conn, &self.path_str(), account_id)
    }

    /// Everything about one person, what remains to disable first. This is also how a flow
    /// resumes: enrollments and method records already made are in it.
    pub fn person_status(&self, person_id: i64) -> Result<PersonStatus> {
        query::person_status(&self.conn, &self.path_str(), person_id)
    }

    /// Everyone: who still has methods to disable, single-key accounts, lost or retired keys.
    pub fn fleet_report(&self) -> Result<FleetReport> {
        query::fleet_report(&self.conn, &self.path_str())
    }

    /// A provisioning slot (issue 6) by its name, if recorded.
    pub fn slot(&self, slot: &str) -> Result<Option<ProvisionSlot>> {
        query::slot(&self.conn, &self.path_str(), slot)
    }

    pub fn slots(&self) -> Result<Vec<ProvisionSlot>> {
        query::slots(&self.conn, &self.path_str())
    }

    pub fn checkpoints(&self, person_id: i64) -> Result<Vec<Checkpoint>> {
        query::checkpoints(&self.conn, &self.path_str(), person_id)
    }

    pub fn has_checkpoint(&self, person_id: i64, name: &str) -> Result<bool> {
        Ok(self.checkpoints(person_id)?.iter().any(|c| c.name == name))
    }

    pub fn audit_entries(&self) -> Result<Vec<AuditEntry>> {
        query::audit_entries(&self.conn, &self.path_str())
    }

    /// Every credential id ever seen on one of the person's keys, with that key's id: those of
    /// their enrollments now, and those of enrollments since removed (the credential stays on
    /// the key). Tells apart keys that otherwise look alike.
    pub fn credentials_of_person(&self, person_id: i64) -> Result<Vec<(i64, String)>> {
        let keys: Vec<i64> = self.keys_of(person_id)?.iter().map(|k| k.id).collect();
        let mut out = Vec::new();
        for account in self.accounts_of(person_id)? {
            for e in self.enrollments_of_account(account.id)? {
                if let Some(c) = e.detail.credential_id {
                    out.push((e.key_id, c));
                }
            }
        }
        // Only the removals, not the whole trail: this runs at every verification on a key.
        let path = self.path_str();
        let sql = |e| LedgerError::sql_at(&path, e);
        let mut removed = self
            .conn
            .prepare(
                "SELECT json_extract(detail, '$.key_id'), json_extract(detail, '$.credential_id')
                 FROM audit WHERE action = 'enrollment.remove'
                   AND json_extract(detail, '$.credential_id') IS NOT NULL",
            )
            .map_err(sql)?;
        let rows = removed
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(sql)?;
        for row in rows {
            let (k, c) = row.map_err(sql)?;
            if keys.contains(&k) {
                out.push((k, c));
            }
        }
        Ok(out)
    }

    /// Recompute the audit chain (detects an edited, deleted, inserted or reordered entry) and
    /// replay the row images it carries against every table (detects a record inserted,
    /// changed or deleted without an entry).
    pub fn verify_audit(&self) -> Result<AuditReport> {
        schema::check_integrity(&self.path, &self.conn)?;
        audit::verify_ledger(&self.conn, &self.path_str())
    }

    /// Every record and the whole audit trail, for `keyward ledger export`.
    pub fn export(&self) -> Result<LedgerExport> {
        schema::check_integrity(&self.path, &self.conn)?;
        transfer::export(&self.conn, &self.path_str())
    }

    /// Write the export as JSON to `out` without holding the records or the audit trail in
    /// memory. Returns how many of each were written.
    pub fn export_to(&self, out: &mut dyn std::io::Write) -> Result<ExportCounts> {
        schema::check_integrity(&self.path, &self.conn)?;
        transfer::export_to(&self.conn, &self.path_str(), out)
    }

    /// Put an export back into this ledger, which must be empty. The export's audit trail must
    /// verify; nothing is imported otherwise.
    pub fn import(&mut self, data: &LedgerExport, source: &str) -> Result<()> {
        let path = self.path_str();
        transfer::import(&mut self.conn, &path, data, source)
    }
}

/// Debug builds only: a test names a point with `KEYWARD_TEST_KILL_AT` and the process is
/// killed there (SIGKILL: no clean-up runs), to prove that what a crash leaves is settled at the
/// next run. Points: `key-changed` (a key was changed, the change not yet recorded).
pub fn test_kill_point(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("KEYWARD_TEST_KILL_AT").as_deref() == Ok(point) {
        #[cfg(unix)]
        // SAFETY: signals our own process.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

/// The current time as stored: RFC 3339, UTC, milliseconds.
pub(crate) fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    let t = t
        .replace_nanosecond((t.nanosecond() / 1_000_000) * 1_000_000)
        .unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests;
