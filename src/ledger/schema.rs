//! The ledger file: recognising ours, creating it safely, and schema migrations.
//!
//! A keyward ledger is an SQLite database whose `application_id` is [`APPLICATION_ID`] and
//! whose `user_version` is the schema version. Anything else at the path is refused before a
//! single byte is written.

use super::LedgerError;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// "KWLG": marks an SQLite file as a keyward ledger.
pub const APPLICATION_ID: i32 = 0x4B57_4C47;

/// How long a writer waits for another process holding the ledger before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Each entry takes the schema from version `index` to `index + 1`. Append only: never edit a
/// migration that has shipped.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE people (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
        email      TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE accounts (
        id         INTEGER PRIMARY KEY,
        person_id  INTEGER NOT NULL REFERENCES people(id),
        playbook   TEXT NOT NULL,
        identifier TEXT NOT NULL COLLATE NOCASE,
        created_at TEXT NOT NULL,
        UNIQUE (playbook, identifier)
    );
    CREATE TABLE keys (
        id           INTEGER PRIMARY KEY,
        person_id    INTEGER NOT NULL REFERENCES people(id),
        label        TEXT NOT NULL COLLATE NOCASE,
        aaguid       TEXT,
        model        TEXT,
        serial       TEXT,
        first_seen   TEXT NOT NULL,
        last_seen    TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('active', 'lost', 'retired')),
        state_reason TEXT,
        pin_state    TEXT CHECK (pin_state IN ('set_must_change', 'set', 'not_set_person_sets')),
        UNIQUE (person_id, label)
    );
    CREATE TABLE enrollments (
        id                INTEGER PRIMARY KEY,
        account_id        INTEGER NOT NULL REFERENCES accounts(id),
        key_id            INTEGER NOT NULL REFERENCES keys(id),
        enrolled_at       TEXT NOT NULL,
        evidence          TEXT NOT NULL,
        detail            TEXT NOT NULL,
        needs_replacement INTEGER NOT NULL DEFAULT 0,
        UNIQUE (account_id, key_id)
    );
    CREATE TABLE methods (
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        method     TEXT NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('present', 'removed', 'kept', 'unknown')),
        reason     TEXT,
        updated_at TEXT NOT NULL,
        updated_by TEXT NOT NULL,
        PRIMARY KEY (account_id, method)
    );
    CREATE TABLE provision_slots (
        slot      TEXT PRIMARY KEY,
        person_id INTEGER NOT NULL REFERENCES people(id),
        label     TEXT NOT NULL,
        status    TEXT NOT NULL CHECK (status IN ('done', 'failed')),
        key_id    INTEGER REFERENCES keys(id),
        reason    TEXT,
        at        TEXT NOT NULL
    );
    CREATE TABLE checkpoints (
        person_id INTEGER NOT NULL REFERENCES people(id),
        name      TEXT NOT NULL,
        at        TEXT NOT NULL,
        PRIMARY KEY (person_id, name)
    );
    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY,
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        subject   TEXT NOT NULL,
        detail    TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    );
    "#,
    // 1 -> 2: every audit entry carries the image of each row it changed (see `trail.rs`). No
    // table changes; the upgrade writes a baseline entry stating every record (see `migrate`).
    "-- row images in the audit trail",
    // 2 -> 3: a change to a key that happens outside the ledger (set or change its PIN, its
    // policy, reset, erase) is recorded as begun before keyward acts on the key, and settled
    // after; one still here after a crash is settled by asking the key (see `Writer`).
    r#"
    CREATE TABLE key_changes (
        key_id     INTEGER PRIMARY KEY REFERENCES keys(id),
        change     TEXT NOT NULL CHECK (change IN ('set_pin', 'change_pin', 'policy', 'reset', 'erase')),
        started_at TEXT NOT NULL,
        started_by TEXT NOT NULL
    );
    -- Reading one person (status, and the fleet report person by person) must not scan
    -- every account or enrollment of the organisation.
    CREATE INDEX accounts_by_person ON accounts(person_id);
    CREATE INDEX enrollments_by_key ON enrollments(key_id);
    CREATE INDEX slots_by_person ON provision_slots(person_id);
    "#,
    // 3 -> 4: a method that was never set up (or already off) is told apart from one removed.
    // SQLite cannot change a CHECK in place: the table is rebuilt with the same rows.
    r#"
    CREATE TABLE methods_v2 (
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        method     TEXT NOT NULL,
        status     TEXT NOT NULL CHECK (status IN ('present', 'removed', 'kept', 'unknown', 'absent')),
        reason     TEXT,
        updated_at TEXT NOT NULL,
        updated_by TEXT NOT NULL,
        PRIMARY KEY (account_id, method)
    );
    INSERT INTO methods_v2 (account_id, method, status, reason, updated_at, updated_by)
        SELECT account_id, method, status, reason, updated_at, updated_by FROM methods;
    DROP TABLE methods;
    ALTER TABLE methods_v2 RENAME TO methods;
    "#,
    // 4 -> 5: every key registered or provisioned is first looked up by its serial; without
    // an index that is a scan of every key (measured: `scripts/bench-ledger`).
    "CREATE INDEX keys_by_serial ON keys(serial);",
    // 5 -> 6: `method set --account ADDRESS` and `status ADDRESS` find an account or a person
    // by an address; without these that is a scan of everyone.
    r#"
    CREATE INDEX accounts_by_identifier ON accounts(identifier);
    CREATE INDEX people_by_email ON people(email COLLATE NOCASE);
    "#,
    // 6 -> 7: where the person keeps each key ("on my keyring", "in the safe at home"), asked
    // when the key is labelled and printed on the page the person keeps (issue 12).
    "ALTER TABLE keys ADD COLUMN location TEXT;",
];

/// The first schema whose audit entries carry row images.
pub(crate) const ROW_IMAGES: i64 = 2;

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

fn damaged(path: &Path, message: impl Into<String>) -> LedgerError {
    LedgerError::Damaged {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn not_ours(path: &Path, what: impl Into<String>) -> LedgerError {
    LedgerError::NotALedger {
        path: path.display().to_string(),
        what: what.into(),
    }
}

/// Open the ledger at `path`, creating it when nothing is there. An existing file is checked
/// (ours, undamaged, schema not newer than this keyward) before anything is written to it.
pub fn open(path: &Path) -> Result<Connection, LedgerError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            return Err(not_ours(path, "it is a folder; give the path of a file"))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path)?,
        Err(e) => return Err(LedgerError::io(path, "cannot read", e)),
    }
    let clean = check_header(path)?;
    crate::temp_file::remove_stale(path);
    let mut conn = connect(path, false)?;
    let version = check_identity(path, &conn)?;
    if !clean || version < SCHEMA_VERSION {
        // Before an upgrade rewrites records, and after an end keyward did not see through.
        check_integrity(path, &conn)?;
    }
    migrate(path, &mut conn)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(|e| LedgerError::sql(path, e))?;
    Ok(conn)
}

/// Open an existing ledger for reading only: nothing is created or migrated, and nothing of
/// the ledger's is deleted (not even a stray `-wal` file), so it works in a read-only folder or
/// mount. Only dead processes' temporary files beside it go, where the folder allows. An older
/// schema is read as it is.
pub fn open_read_only(path: &Path) -> Result<(Connection, i64), LedgerError> {
    if std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false) {
        return Err(not_ours(path, "it is a folder; give the path of a file"));
    }
    let clean = check_header(path)?;
    // Best effort: a read-only folder keeps them, silently (removal errors are ignored).
    crate::temp_file::remove_stale(path);
    let ro = |immutable: bool| -> Result<(Connection, i64), LedgerError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = if immutable {
            // Where SQLite cannot even make its shared-memory file, the folder is read-only
            // to us: nobody is writing through us, so the file is read as it is.
            let uri = url::Url::from_file_path(std::path::absolute(path).unwrap_or_default())
                .map(|u| format!("{u}?immutable=1"))
                .map_err(|()| {
                    LedgerError::io(path, "cannot open", std::io::ErrorKind::InvalidInput.into())
                })?;
            Connection::open_with_flags(uri, flags)
        } else {
            Connection::open_with_flags(path, flags)
        }
        .map_err(|e| classify(path, e, "cannot open"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| LedgerError::sql(path, e))?;
        let version = check_identity(path, &conn)?;
        if !clean {
            check_integrity(path, &conn)?;
        }
        Ok((conn, version))
    };
    match ro(false) {
        Err(LedgerError::Sql { .. }) | Err(LedgerError::ReadOnly { .. })
            if folder_read_only(path) =>
        {
            ro(true)
        }
        other => other,
    }
}

/// Whether we may not create files beside the ledger (its `-wal` and `-shm`).
pub(crate) fn folder_read_only(path: &Path) -> bool {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: a valid NUL-terminated path; access() only reads it.
        unsafe { libc::access(c.as_ptr(), libc::W_OK) != 0 }
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(dir)
            .map(|m| m.permissions().readonly())
            .unwrap_or(false)
    }
}

fn connect(path: &Path, create: bool) -> Result<Connection, LedgerError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn =
        Connection::open_with_flags(path, flags).map_err(|e| classify(path, e, "cannot open"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| LedgerError::sql(path, e))?;
    Ok(conn)
}

/// Refuse, by its first bytes, a file SQLite would not even recognise, without letting SQLite
/// touch it. Returns whether the file was left the way keyward leaves a ledger when it ends
/// normally (see [`check_integrity`]).
fn check_header(path: &Path) -> Result<bool, LedgerError> {
    let mut file =
        std::fs::File::open(path).map_err(|e| LedgerError::io(path, "cannot open", e))?;
    let mut head = [0u8; 20];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(LedgerError::io(path, "cannot read", e)),
        }
    }
    if got == 0 {
        return Err(not_ours(path, "it is an empty file"));
    }
    if got < SQLITE_MAGIC.len() || &head[..SQLITE_MAGIC.len()] != SQLITE_MAGIC {
        return Err(not_ours(path, "it is not an SQLite database"));
    }
    // Bytes 18 and 19 are 2 in WAL mode, in which keyward makes every ledger; when the last
    // connection closes normally, SQLite folds the `-wal` file back into the ledger and
    // deletes it. Anything else: a process was killed with changes in the `-wal` file (or is
    // writing right now), or another program rewrote the file.
    let wal_mode = got == head.len() && head[18] == 2 && head[19] == 2;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal_left = std::fs::metadata(&wal)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    Ok(wal_mode && !wal_left)
}

/// Read-only checks: the application id and the schema version. Returns the schema version.
fn check_identity(path: &Path, conn: &Connection) -> Result<i64, LedgerError> {
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| classify(path, e, "cannot read"))?;
    if app_id != APPLICATION_ID {
        return Err(not_ours(
            path,
            "it is an SQLite database, but not one keyward made",
        ));
    }
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| classify(path, e, "cannot read"))?;
    if version > SCHEMA_VERSION {
        return Err(LedgerError::TooNew {
            path: path.display().to_string(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    // SQLite checks every page it reads as it reads it (a damaged one is reported as damaged,
    // and a write meeting one is rolled back); this makes that check cover each cell too.
    conn.pragma_update(None, "cell_size_check", true)
        .map_err(|e| classify(path, e, "cannot read"))?;
    Ok(version)
}

/// SQLite's structural check of the whole file (`quick_check`). It reads every page, so its
/// cost grows with the ledger: it runs where the whole file matters or is read anyway (`audit
/// verify`, `ledger export`, before a schema upgrade) and on opening a ledger that was not
/// left the way keyward leaves it (see [`check_header`]), not on every command: `status` and
/// one `method set` must not cost more in an organisation of 50,000 than in one of 50.
pub(crate) fn check_integrity(path: &Path, conn: &Connection) -> Result<(), LedgerError> {
    let verdict: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| classify(path, e, "cannot check"))?;
    if verdict != "ok" {
        return Err(damaged(
            path,
            format!("SQLite's integrity check says: {verdict}"),
        ));
    }
    Ok(())
}

/// SQLite's "not a database" and "corrupt" results mean the file is damaged, not that the disk
/// failed.
fn classify(path: &Path, e: rusqlite::Error, doing: &str) -> LedgerError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => not_ours(path, "it is not an SQLite database"),
        Some(ErrorCode::DatabaseCorrupt) => damaged(path, format!("{doing}: {e}")),
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => LedgerError::Busy {
            path: path.display().to_string(),
        },
        Some(ErrorCode::ReadOnly) | Some(ErrorCode::CannotOpen) if folder_read_only(path) => {
            LedgerError::read_only(path)
        }
        _ => LedgerError::sql(path, e),
    }
}

fn migrate(path: &Path, conn: &mut Connection) -> Result<(), LedgerError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| LedgerError::sql(path, e))?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    // Another process may be migrating too: take the write lock, then look again.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| classify(path, e, "cannot lock"))?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| LedgerError::sql(path, e))?;
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)
            .map_err(|e| damaged(path, format!("migration from schema {from} failed: {e}")))?;
    }
    if version < ROW_IMAGES {
        super::audit::baseline(&tx, &path.display().to_string(), version)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| LedgerError::sql(path, e))?;
    tx.commit().map_err(|e| LedgerError::sql(path, e))?;
    Ok(())
}

/// Build a new ledger under a temporary name beside `path`, then link it into place. Nobody
/// ever sees a half-made ledger, and when two processes race to create one, one wins and the
/// other opens the winner's.
fn create(path: &Path) -> Result<(), LedgerError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    crate::temp_file::create_guarded(None, || std::fs::create_dir_all(&dir))
        .map_err(|e| LedgerError::io(&dir, "cannot create the folder", e))?;
    if folder_read_only(path) {
        return Err(LedgerError::read_only(path));
    }
    // Leftovers of runs killed while creating a ledger here (they hold no records, but
    // they pile up and look like ledgers).
    crate::temp_file::remove_stale(path);
    let mut tmp = crate::temp_file::TempFile::beside(path)
        .map_err(|e| LedgerError::io(path, "cannot create", e))?;
    // SQLite opens it by name; it gives its -wal and -shm files the same mode (0600).
    tmp.close();
    build_new(tmp.path())?;
    match tmp.place_new(path) {
        Ok(_) => Ok(()),
        // Someone else created it first: theirs is used.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(LedgerError::io(path, "cannot create", e)),
    }
}

/// Every table of the current schema, in an empty database (an export checked in memory).
pub(crate) fn create_tables(conn: &Connection) -> rusqlite::Result<()> {
    for sql in MIGRATIONS {
        conn.execute_batch(sql)?;
    }
    Ok(())
}

fn build_new(tmp: &Path) -> Result<(), LedgerError> {
    let conn = connect(tmp, true)?;
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(|e| LedgerError::sql(tmp, e))?;
    // WAL is a property of the file: set once here, it holds for every later connection.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
        .map_err(|e| LedgerError::sql(tmp, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LedgerError::sql_msg(
            tmp,
            format!("the file system does not allow WAL mode (got {mode})"),
        ));
    }
    let tx = conn
        .unchecked_transaction()
        .map_err(|e| LedgerError::sql(tmp, e))?;
    for sql in MIGRATIONS {
        tx.execute_batch(sql)
            .map_err(|e| LedgerError::sql(tmp, e))?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| LedgerError::sql(tmp, e))?;
    tx.commit().map_err(|e| LedgerError::sql(tmp, e))?;
    // Closing checkpoints the WAL into the main file, so the linked file is complete alone.
    conn.close().map_err(|(_, e)| LedgerError::sql(tmp, e))
}
