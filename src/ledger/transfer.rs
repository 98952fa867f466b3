//! `keyward ledger export` / `import`: every row, the audit trail included, as JSON. Import
//! puts the same rows back (same ids, same hashes), so export -> import -> export is identical.

use super::audit;
use super::model::*;
use super::query::{self, *};
use super::schema::ROW_IMAGES;
use super::{LedgerError, Result, SCHEMA_VERSION};
use rusqlite::{params, Connection, TransactionBehavior};
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "keyward-ledger";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerExport {
    /// Always `keyward-ledger`.
    pub format: String,
    pub schema_version: i64,
    pub people: Vec<Person>,
    pub accounts: Vec<Account>,
    pub keys: Vec<Key>,
    pub enrollments: Vec<Enrollment>,
    pub methods: Vec<MethodRecord>,
    pub provision_slots: Vec<ProvisionSlot>,
    pub checkpoints: Vec<Checkpoint>,
    /// Changes to keys begun and not settled (absent from exports of schema 2 and older).
    #[serde(default)]
    pub key_changes: Vec<KeyChange>,
    pub audit: Vec<AuditEntry>,
    /// `SEQ:HASH` of the last audit entry, as the ledger recorded it.
    pub audit_head: Option<String>,
}

fn rows<T>(
    conn: &Connection,
    path: &str,
    sql: &str,
    f: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn
        .prepare(sql)
        .map_err(|e| LedgerError::sql_at(path, e))?;
    let it = stmt
        .query_map([], f)
        .map_err(|e| LedgerError::sql_at(path, e))?;
    it.collect::<rusqlite::Result<Vec<T>>>()
        .map_err(|e| LedgerError::sql_at(path, e))
}

/// How each table is read for an export, in the export's order. `None`: the table is not in
/// this (older) schema.
fn select(table: &str, schema_version: i64) -> Option<String> {
    Some(match table {
        "people" => format!("SELECT {PERSON_COLS} FROM people ORDER BY id"),
        "accounts" => format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY id"),
        "keys" => format!("SELECT {KEY_COLS} FROM keys ORDER BY id"),
        "enrollments" => format!("SELECT {ENROLLMENT_COLS} FROM enrollments ORDER BY id"),
        "methods" => format!("SELECT {METHOD_COLS} FROM methods ORDER BY account_id, method"),
        "provision_slots" => format!("SELECT {SLOT_COLS} FROM provision_slots ORDER BY slot"),
        "checkpoints" => {
            "SELECT person_id, name, at FROM checkpoints ORDER BY person_id, name".into()
        }
        "key_changes" if schema_version >= 3 => {
            "SELECT key_id, change, started_at, started_by FROM key_changes ORDER BY key_id".into()
        }
        "audit" => "SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit
                    ORDER BY rowid"
            .into(),
        _ => return None,
    })
}

fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Checkpoint> {
    Ok(Checkpoint {
        person_id: r.get(0)?,
        name: r.get(1)?,
        at: r.get(2)?,
    })
}

fn key_change_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyChange> {
    Ok(KeyChange {
        key_id: r.get(0)?,
        change: r.get(1)?,
        started_at: r.get(2)?,
        started_by: r.get(3)?,
    })
}

/// A ledger read before its upgrade exports as what it is.
fn schema_version(conn: &Connection) -> i64 {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap_or(SCHEMA_VERSION)
}

/// Every record, without the audit trail.
fn export_records(conn: &Connection, path: &str) -> Result<LedgerExport> {
    let v = schema_version(conn);
    let table = |name: &str| select(name, v).unwrap_or_default();
    Ok(LedgerExport {
        format: FORMAT.into(),
        schema_version: v,
        people: rows(conn, path, &table("people"), person_row)?,
        accounts: rows(conn, path, &table("accounts"), account_row)?,
        keys: rows(conn, path, &table("keys"), key_row)?,
        enrollments: rows(conn, path, &table("enrollments"), enrollment_row)?,
        methods: rows(conn, path, &table("methods"), method_row)?,
        provision_slots: rows(conn, path, &table("provision_slots"), slot_row)?,
        checkpoints: rows(conn, path, &table("checkpoints"), checkpoint_row)?,
        key_changes: match select("key_changes", v) {
            Some(sql) => rows(conn, path, &sql, key_change_row)?,
            None => Vec::new(),
        },
        audit: Vec::new(),
        audit_head: audit::head(conn).map_err(|e| LedgerError::sql_at(path, e))?,
    })
}

pub(crate) fn export(conn: &Connection, path: &str) -> Result<LedgerExport> {
    let mut data = export_records(conn, path)?;
    data.audit = query::audit_entries(conn, path)?;
    Ok(data)
}

/// One table read from the ledger while it is written out: an export of a large ledger never
/// holds its records or its trail in memory.
struct Stream<'c, T> {
    conn: &'c Connection,
    sql: Option<String>,
    row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    count: std::cell::Cell<usize>,
}

impl<'c, T> Stream<'c, T> {
    fn new(
        conn: &'c Connection,
        table: &str,
        v: i64,
        row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Self {
        Stream {
            conn,
            sql: select(table, v),
            row,
            count: std::cell::Cell::new(0),
        }
    }
}

impl<T: Serialize> Serialize for Stream<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = s.serialize_seq(None)?;
        if let Some(sql) = &self.sql {
            let mut stmt = self.conn.prepare(sql).map_err(S::Error::custom)?;
            let mut rows = stmt.query([]).map_err(S::Error::custom)?;
            while let Some(r) = rows.next().map_err(S::Error::custom)? {
                seq.serialize_element(&(self.row)(r).map_err(S::Error::custom)?)?;
                self.count.set(self.count.get() + 1);
            }
        }
        seq.end()
    }
}

/// [`LedgerExport`] with every table streamed: the same JSON, field for field.
struct Streamed<'a> {
    schema_version: i64,
    people: Stream<'a, Person>,
    accounts: Stream<'a, Account>,
    keys: Stream<'a, Key>,
    enrollments: Stream<'a, Enrollment>,
    methods: Stream<'a, MethodRecord>,
    provision_slots: Stream<'a, ProvisionSlot>,
    checkpoints: Stream<'a, Checkpoint>,
    key_changes: Stream<'a, KeyChange>,
    audit: Stream<'a, AuditEntry>,
    audit_head: Option<String>,
}

impl Serialize for Streamed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("LedgerExport", 12)?;
        st.serialize_field("format", FORMAT)?;
        st.serialize_field("schema_version", &self.schema_version)?;
        st.serialize_field("people", &self.people)?;
        st.serialize_field("accounts", &self.accounts)?;
        st.serialize_field("keys", &self.keys)?;
        st.serialize_field("enrollments", &self.enrollments)?;
        st.serialize_field("methods", &self.methods)?;
        st.serialize_field("provision_slots", &self.provision_slots)?;
        st.serialize_field("checkpoints", &self.checkpoints)?;
        st.serialize_field("key_changes", &self.key_changes)?;
        st.serialize_field("audit", &self.audit)?;
        st.serialize_field("audit_head", &self.audit_head)?;
        st.end()
    }
}

/// How many of each were written by [`export_to`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportCounts {
    pub people: usize,
    pub accounts: usize,
    pub keys: usize,
    pub enrollments: usize,
    pub methods: usize,
    pub audit_entries: usize,
}

/// Write the export as pretty JSON to `out`, reading each table as it goes, all from one
/// snapshot of the ledger (a write made meanwhile is in none of it, or all).
pub(crate) fn export_to(
    conn: &Connection,
    path: &str,
    out: &mut dyn std::io::Write,
) -> Result<ExportCounts> {
    let snapshot = conn
        .unchecked_transaction()
        .map_err(|e| LedgerError::sql_at(path, e))?;
    let v = schema_version(conn);
    let streamed = Streamed {
        schema_version: v,
        people: Stream::new(conn, "people", v, person_row),
        accounts: Stream::new(conn, "accounts", v, account_row),
        keys: Stream::new(conn, "keys", v, key_row),
        enrollments: Stream::new(conn, "enrollments", v, enrollment_row),
        methods: Stream::new(conn, "methods", v, method_row),
        provision_slots: Stream::new(conn, "provision_slots", v, slot_row),
        checkpoints: Stream::new(conn, "checkpoints", v, checkpoint_row),
        key_changes: Stream::new(conn, "key_changes", v, key_change_row),
        audit: Stream::new(conn, "audit", v, query::audit_row),
        audit_head: audit::head(conn).map_err(|e| LedgerError::sql_at(path, e))?,
    };
    let failed = |e: String| LedgerError::Sql {
        path: path.to_string(),
        message: format!("cannot write the export: {e}"),
    };
    serde_json::to_writer_pretty(&mut *out, &streamed).map_err(|e| failed(e.to_string()))?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(|e| failed(e.to_string()))?;
    snapshot
        .finish()
        .map_err(|e| LedgerError::sql_at(path, e))?;
    Ok(ExportCounts {
        people: streamed.people.count.get(),
        accounts: streamed.accounts.count.get(),
        keys: streamed.keys.count.get(),
        enrollments: streamed.enrollments.count.get(),
        methods: streamed.methods.count.get(),
        audit_entries: streamed.audit.count.get(),
    })
}

pub(crate) fn import(
    conn: &mut Connection,
    path: &str,
    data: &LedgerExport,
    source: &str,
) -> Result<()> {
    data.check(source)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| LedgerError::sql_at(path, e))?;
    let sql = |e: rusqlite::Error| LedgerError::sql_at(path, e);
    let used: i64 = tx
        .query_row(
            "SELECT (SELECT count(*) FROM people) + (SELECT count(*) FROM audit)",
            [],
            |r| r.get(0),
        )
        .map_err(sql)?;
    if used > 0 {
        return Err(LedgerError::NotEmpty {
            path: path.to_string(),
        });
    }
    load(&tx, path, data, source)?;
    if data.schema_version < ROW_IMAGES {
        audit::baseline(&tx, path, data.schema_version)?;
    }
    tx.commit().map_err(sql)
}

/// Put every row of `data` into the (empty) tables of `tx`, as they were.
fn load(tx: &Connection, path: &str, data: &LedgerExport, source: &str) -> Result<()> {
    let bad = |message: String| LedgerError::BadExport {
        file: source.to_string(),
        message,
    };
    let sql = |e: rusqlite::Error| LedgerError::sql_at(path, e);
    // Rows that do not fit (a person id nobody has, a duplicate) are refused by the schema's
    // constraints; the message says which record.
    let refused = |what: String| {
        move |e: rusqlite::Error| LedgerError::BadExport {
            file: source.to_string(),
            message: format!("{what} cannot be imported: {e}"),
        }
    };
    for p in &data.people {
        tx.execute(
            "INSERT INTO people (id, name, email, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![p.id, p.name, p.email, p.created_at],
        )
        .map_err(refused(format!("person #{} ({})", p.id, p.name)))?;
    }
    for a in &data.accounts {
        tx.execute(
            "INSERT INTO accounts (id, person_id, playbook, identifier, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![a.id, a.person_id, a.playbook, a.identifier, a.created_at],
        )
        .map_err(refused(format!("account #{} ({})", a.id, a.identifier)))?;
    }
    for k in &data.keys {
        tx.execute(
            "INSERT INTO keys (id, person_id, label, aaguid, model, serial, first_seen, last_seen,
                               state, state_reason, pin_state, location)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                k.id,
                k.person_id,
                k.label,
                k.aaguid.map(|u| u.to_string()),
                k.model,
                k.serial,
                k.first_seen,
                k.last_seen,
                k.state.as_str(),
                k.state_reason,
                k.pin_state.map(|p| p.as_str()),
                k.location
            ],
        )
        .map_err(refused(format!("key #{} ({})", k.id, k.label)))?;
    }
    for e in &data.enrollments {
        let detail = serde_json::to_string(&e.detail).map_err(|err| bad(err.to_string()))?;
        tx.execute(
            "INSERT INTO enrollments (id, account_id, key_id, enrolled_at, evidence, detail,
                                      needs_replacement)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                e.id,
                e.account_id,
                e.key_id,
                e.enrolled_at,
                e.evidence.as_str(),
                detail,
                e.needs_replacement
            ],
        )
        .map_err(refused(format!("enrollment #{}", e.id)))?;
    }
    for m in &data.methods {
        tx.execute(
            "INSERT INTO methods (account_id, method, status, reason, updated_at, updated_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                m.account_id,
                m.method,
                m.status.as_str(),
                m.reason,
                m.updated_at,
                m.updated_by
            ],
        )
        .map_err(refused(format!(
            "method {} of account #{}",
            m.method, m.account_id
        )))?;
    }
    for s in &data.provision_slots {
        tx.execute(
            "INSERT INTO provision_slots (slot, person_id, label, status, key_id, reason, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                s.slot,
                s.person_id,
                s.label,
                s.status.as_str(),
                s.key_id,
                s.reason,
                s.at
            ],
        )
        .map_err(refused(format!("provisioning slot {}", s.slot)))?;
    }
    for c in &data.checkpoints {
        tx.execute(
            "INSERT INTO checkpoints (person_id, name, at) VALUES (?1, ?2, ?3)",
            params![c.person_id, c.name, c.at],
        )
        .map_err(refused(format!(
            "checkpoint {} of person #{}",
            c.name, c.person_id
        )))?;
    }
    for c in &data.key_changes {
        tx.execute(
            "INSERT INTO key_changes (key_id, change, started_at, started_by)
             VALUES (?1, ?2, ?3, ?4)",
            params![c.key_id, c.change, c.started_at, c.started_by],
        )
        .map_err(refused(format!(
            "the unsettled change of key #{}",
            c.key_id
        )))?;
    }
    for a in &data.audit {
        tx.execute(
            "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                a.seq,
                a.at,
                a.actor,
                a.action,
                a.subject,
                a.detail,
                a.prev_hash,
                a.hash
            ],
        )
        .map_err(refused(format!("audit entry {}", a.seq)))?;
    }
    if let Some(head) = &data.audit_head {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('audit_head', ?1)",
            params![head],
        )
        .map_err(sql)?;
    }
    let broken: i64 = tx
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .map_err(sql)?;
    if broken > 0 {
        return Err(bad(format!(
            "{broken} record(s) refer to people, accounts or keys that are not in the export"
        )));
    }
    Ok(())
}

impl LedgerExport {
    /// The records, to hold against an audit trail.
    pub(crate) fn records(&self) -> audit::Records<'_> {
        audit::Records {
            people: &self.people,
            accounts: &self.accounts,
            keys: &self.keys,
            enrollments: &self.enrollments,
            methods: &self.methods,
        }
    }

    /// Whether this is an export keyward can load: its format and schema, its audit trail's
    /// chain, and its records against the trail. Reads nothing but `self`, so a command can
    /// refuse a bad export before it creates a ledger for it. `source` names the file.
    pub fn check(&self, source: &str) -> Result<()> {
        let data = self;
        let bad = |message: String| LedgerError::BadExport {
            file: source.to_string(),
            message,
        };
        if data.format != FORMAT {
            return Err(bad(format!(
                "`format` is `{}`, not `{FORMAT}`: this is not a keyward ledger export",
                data.format
            )));
        }
        if data.schema_version > SCHEMA_VERSION {
            return Err(bad(format!(
            "it was exported by a newer keyward (schema {}; this one reads up to {SCHEMA_VERSION})",
            data.schema_version
        )));
        }
        let report = audit::verify(&data.audit, data.audit_head.as_deref());
        if !report.ok {
            let first = &report.problems[0];
            return Err(bad(format!(
                "its audit trail does not verify (entry {}: {})",
                first.seq, first.problem
            )));
        }
        let disagree = if data.schema_version < ROW_IMAGES {
            audit::cross_check(&data.audit, &data.records())
        } else {
            // Loaded into a throw-away ledger in memory, it is checked exactly as
            // `audit verify` checks a ledger file.
            let mem = |e| LedgerError::sql_at("(export in memory)", e);
            let mut conn = Connection::open_in_memory().map_err(mem)?;
            let tx = conn.transaction().map_err(mem)?;
            super::schema::create_tables(&tx).map_err(mem)?;
            load(&tx, source, data, source)?;
            audit::verify_ledger(&tx, source)?.record_problems
        };
        if let Some(first) = disagree.first() {
            return Err(bad(format!(
                "its records disagree with its audit trail ({first})"
            )));
        }
        Ok(())
    }
}
