//! Row images: how the audit trail covers every record.
//!
//! Every audit entry carries, under `rows` in its detail, the full image of every row its
//! transaction inserted, updated or deleted (`null` for a deleted row). `audit verify` replays
//! those images from the start of the trail and holds the result against every table, column
//! by column, so an insert, update or delete made behind keyward's back shows, named.
//!
//! Coverage is driven by the schema, not by hand: the tables and their columns are read from
//! SQLite itself, and connection-local (TEMP) triggers note which rows a write touched. A new
//! table or column is covered the moment a migration creates it. The triggers live in the
//! connection's temporary schema, never in the file, so an SQLite tool editing the file does
//! not record anything.

use rusqlite::types::ValueRef;
use rusqlite::{params_from_iter, Connection};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The trail itself: checked by its hash chain instead.
const UNTRACKED: &[&str] = &["audit"];

/// The `meta` row holding the chain's head changes with every entry; the chain checks it.
fn is_head(table: &str, key: &[Value]) -> bool {
    table == "meta" && key.first().and_then(Value::as_str) == Some("audit_head")
}

/// SQL condition (on `NEW` or `OLD`) that leaves the head row out of the triggers.
fn when(t: &Table, side: &str) -> String {
    if t.name == "meta" {
        format!("WHEN {side}.key IS NOT 'audit_head'")
    } else {
        String::new()
    }
}

/// One table of the ledger as SQLite describes it.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub name: String,
    pub columns: Vec<String>,
    /// Primary-key columns in key order (`rowid` for a table without one).
    pub key: Vec<String>,
}

/// Every table a person relies on, with its columns, straight from the schema.
pub(crate) fn tables(conn: &Connection) -> rusqlite::Result<Vec<Table>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
         ORDER BY name",
    )?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    names
        .into_iter()
        .filter(|n| !UNTRACKED.contains(&n.as_str()))
        .map(|n| table(conn, n))
        .collect()
}

/// One table's columns and key, as SQLite describes it.
fn table(conn: &Connection, name: String) -> rusqlite::Result<Table> {
    let mut info =
        conn.prepare_cached("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?;
    let cols: Vec<(String, i64)> = info
        .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut key: Vec<(i64, String)> = cols
        .iter()
        .filter(|(_, pk)| *pk > 0)
        .map(|(c, pk)| (*pk, c.clone()))
        .collect();
    key.sort();
    let mut key: Vec<String> = key.into_iter().map(|(_, c)| c).collect();
    if key.is_empty() {
        key.push("rowid".into());
    }
    Ok(Table {
        name,
        columns: cols.into_iter().map(|(c, _)| c).collect(),
        key,
    })
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// `json_array(P.a, P.b)` for the key columns of `t`, `P` being `NEW` or `OLD`.
fn key_expr(t: &Table, side: &str) -> String {
    let cols: Vec<String> = t
        .key
        .iter()
        .map(|c| format!("{side}.{}", quote(c)))
        .collect();
    format!("json_array({})", cols.join(", "))
}

/// Note every row this connection's writes touch, for [`drain`]. Idempotent per connection.
pub(crate) fn install(conn: &Connection) -> rusqlite::Result<()> {
    let mut sql = String::from(
        "CREATE TEMP TABLE IF NOT EXISTS kw_touched (
             n INTEGER PRIMARY KEY, tbl TEXT NOT NULL, k TEXT NOT NULL, op TEXT NOT NULL);",
    );
    for t in tables(conn)? {
        let name = quote(&t.name);
        let trig = |op: &str| quote(&format!("kw_trail_{}_{op}", t.name));
        let (new, old) = (key_expr(&t, "NEW"), key_expr(&t, "OLD"));
        let tname = t.name.replace('\'', "''");
        sql.push_str(&format!(
            "CREATE TEMP TRIGGER IF NOT EXISTS {ins} AFTER INSERT ON main.{name} {wn} BEGIN
               INSERT INTO kw_touched (tbl, k, op) VALUES ('{tname}', {new}, 'insert'); END;
             CREATE TEMP TRIGGER IF NOT EXISTS {upd} AFTER UPDATE ON main.{name} {wn} BEGIN
               INSERT INTO kw_touched (tbl, k, op) VALUES ('{tname}', {old}, 'update');
               INSERT INTO kw_touched (tbl, k, op) VALUES ('{tname}', {new}, 'update'); END;
             CREATE TEMP TRIGGER IF NOT EXISTS {del} AFTER DELETE ON main.{name} {wo} BEGIN
               INSERT INTO kw_touched (tbl, k, op) VALUES ('{tname}', {old}, 'delete'); END;",
            ins = trig("insert"),
            upd = trig("update"),
            del = trig("delete"),
            wn = when(&t, "NEW"),
            wo = when(&t, "OLD"),
        ));
    }
    conn.execute_batch(&sql)
}

/// A column's value as JSON (blobs as hex, which the ledger does not use today).
fn json_of(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => Value::from(f),
        ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::from(format!("x'{}'", hex::encode(b))),
    }
}

fn row_of(t: &Table, r: &rusqlite::Row<'_>, offset: usize) -> rusqlite::Result<Map<String, Value>> {
    let mut m = Map::new();
    for (i, c) in t.columns.iter().enumerate() {
        m.insert(c.clone(), json_of(r.get_ref(offset + i)?));
    }
    Ok(m)
}

fn select_all(t: &Table) -> String {
    let cols: Vec<String> = t.columns.iter().map(|c| quote(c)).collect();
    let key: Vec<String> = t.key.iter().map(|c| quote(c)).collect();
    format!(
        "SELECT {}, {} FROM main.{}",
        key.join(", "),
        cols.join(", "),
        quote(&t.name)
    )
}

/// The images of every row the current transaction touched since the last drain, in the order
/// first touched: `{"t": table, "k": [key], "new": inserted now, "row": {...} | null}`.
pub(crate) fn drain(conn: &Connection) -> rusqlite::Result<Vec<Value>> {
    let touched: Vec<(String, String, String)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT tbl, k, (SELECT op FROM kw_touched f WHERE f.tbl = t.tbl AND f.k = t.k
                             ORDER BY n LIMIT 1)
             FROM kw_touched t GROUP BY tbl, k ORDER BY min(n)",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    conn.execute("DELETE FROM kw_touched", [])?;
    let mut tables: HashMap<String, Table> = HashMap::new();
    let mut out = Vec::with_capacity(touched.len());
    for (tbl, k, op) in touched {
        if !tables.contains_key(&tbl) {
            tables.insert(tbl.clone(), table(conn, tbl.clone())?);
        }
        let t = &tables[&tbl];
        let key: Vec<Value> = serde_json::from_str(&k).unwrap_or_default();
        let cond: Vec<String> = t.key.iter().map(|c| format!("{} IS ?", quote(c))).collect();
        let sql = format!("{} WHERE {}", select_all(t), cond.join(" AND "));
        let mut stmt = conn.prepare_cached(&sql)?;
        let params = key.iter().map(sql_param);
        let mut rows = stmt.query(params_from_iter(params))?;
        let row = match rows.next()? {
            Some(r) => Value::Object(row_of(t, r, t.key.len())?),
            None => Value::Null,
        };
        out.push(serde_json::json!({"t": tbl, "k": key, "new": op == "insert", "row": row}));
    }
    Ok(out)
}

fn sql_param(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Number(n) => n
            .as_i64()
            .map(V::Integer)
            .unwrap_or_else(|| V::Real(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => V::Text(s.clone()),
        other => V::Text(other.to_string()),
    }
}

/// Every row of every tracked table, keyed like the images: `(table, key JSON) -> row`.
pub(crate) fn snapshot(conn: &Connection) -> rusqlite::Result<Vec<Value>> {
    let mut out = Vec::new();
    for t in tables(conn)? {
        let mut stmt = conn.prepare(&select_all(&t))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let key: Vec<Value> = (0..t.key.len())
                .map(|i| r.get_ref(i).map(json_of))
                .collect::<rusqlite::Result<_>>()?;
            if is_head(&t.name, &key) {
                continue;
            }
            let row = row_of(&t, r, t.key.len())?;
            out.push(serde_json::json!({"t": t.name, "k": key, "new": true, "row": row}));
        }
    }
    Ok(out)
}

/// A record as the images name it: its table and its key as JSON, in one string.
fn record_id(table: &str, key: &Value) -> Box<str> {
    format!("{table}\u{0}{key}").into_boxed_str()
}

/// What a row's canonical JSON hashes to. The replay keeps this, not the row: a large
/// organisation's records do not all sit in memory at once (the rows themselves are fetched
/// again from the trail only for records that differ). A cryptographic hash, so that no edit
/// can be made to look like the row the trail recorded.
type Digest = [u8; 16];

fn digest(row: &str) -> Digest {
    use crypto_glue::s256::Sha256;
    use crypto_glue::traits::Digest as _;
    let full = Sha256::digest(row.as_bytes());
    let mut d = [0u8; 16];
    d.copy_from_slice(&full[..16]);
    d
}

/// What the trail says every record should be, built by replaying the row images: first as
/// digests of every record ([`Replay::default`]), then, when some differ, again with the full
/// rows of only those ([`Replay::keeping`]).
#[derive(Default)]
pub(crate) struct Replay {
    expected: HashMap<Box<str>, Digest>,
    /// The second replay: the last image of each of these records (`None`: deleted).
    keep: Option<HashMap<Box<str>, Option<String>>>,
    pub problems: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Image {
    t: String,
    k: Value,
    #[serde(default)]
    new: bool,
    row: Option<Map<String, Value>>,
}

/// Records that disagree with the first replay, to be named after the second.
pub(crate) struct Differences {
    /// (record id, table, the row in the table).
    changed: Vec<(Box<str>, String, Map<String, Value>)>,
    /// Table rows the trail never recorded: (table, row).
    unrecorded: Vec<(String, Map<String, Value>)>,
    /// Records the trail says exist, with no row.
    gone: Vec<Box<str>>,
}

impl Differences {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.unrecorded.is_empty() && self.gone.is_empty()
    }
}

impl Replay {
    /// A second replay that keeps the full last image of the records `d` names.
    pub fn keeping(d: &Differences) -> Replay {
        let ids = d
            .changed
            .iter()
            .map(|(id, _, _)| id.clone())
            .chain(d.gone.iter().cloned());
        Replay {
            keep: Some(ids.map(|id| (id, None)).collect()),
            ..Replay::default()
        }
    }

    /// Apply one entry's images. `baseline` entries (written when an older ledger was
    /// upgraded) state every record at once.
    pub fn apply(&mut self, seq: i64, detail: &Value) {
        if detail.get("baseline").and_then(Value::as_bool) == Some(true) {
            self.expected.clear();
            if let Some(keep) = &mut self.keep {
                keep.values_mut().for_each(|v| *v = None);
            }
            for p in detail
                .get("found_at_upgrade")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.problems.push(format!(
                    "found at the upgrade of the ledger (entry {seq}): {}",
                    p.as_str().unwrap_or_default()
                ));
            }
        }
        let Some(rows) = detail.get("rows") else {
            return;
        };
        let Ok(images) = Vec::<Image>::deserialize(rows) else {
            self.problems.push(format!(
                "entry {seq}: its record images cannot be read (the entry was made up)"
            ));
            return;
        };
        for img in images {
            let id = record_id(&img.t, &img.k);
            if let Some(keep) = &mut self.keep {
                if let Some(slot) = keep.get_mut(&id) {
                    *slot = img.row.map(|r| Value::Object(r).to_string());
                }
                continue;
            }
            match img.row {
                Some(row) => {
                    let d = digest(&Value::Object(row).to_string());
                    if self.expected.insert(id, d).is_some() && img.new {
                        self.problems.push(format!(
                            "{} was recorded again (entry {seq}) although the trail never \
                             removed the one before it: a record was deleted without keyward",
                            short(&img.t, &img.k)
                        ));
                    }
                }
                None => {
                    self.expected.remove(&id);
                }
            }
        }
    }

    /// Hold every table against the replayed digests; what differs is named by [`name`]
    /// once the second replay has the rows.
    pub fn compare(mut self, conn: &Connection) -> rusqlite::Result<(Differences, Vec<String>)> {
        let mut d = Differences {
            changed: Vec::new(),
            unrecorded: Vec::new(),
            gone: Vec::new(),
        };
        for t in &tables(conn)? {
            let mut stmt = conn.prepare(&select_all(t))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let key: Vec<Value> = (0..t.key.len())
                    .map(|i| r.get_ref(i).map(json_of))
                    .collect::<rusqlite::Result<_>>()?;
                if is_head(&t.name, &key) {
                    continue;
                }
                let row = row_of(t, r, t.key.len())?;
                let id = record_id(&t.name, &Value::from(key));
                let actual = digest(&Value::Object(row.clone()).to_string());
                match self.expected.remove(&id) {
                    Some(exp) if exp == actual => {}
                    Some(_) => d.changed.push((id, t.name.clone(), row)),
                    None => d.unrecorded.push((t.name.clone(), row)),
                }
            }
        }
        d.gone = self.expected.into_keys().collect();
        d.gone.sort();
        Ok((d, self.problems))
    }

    /// Name each difference, column by column, with the rows this (second) replay kept.
    pub fn name(self, conn: &Connection, d: Differences) -> rusqlite::Result<Vec<String>> {
        let names = Names::load(conn)?;
        let columns: HashMap<String, Vec<String>> = tables(conn)?
            .into_iter()
            .map(|t| (t.name, t.columns))
            .collect();
        let mut keep = self.keep.unwrap_or_default();
        let mut last = |id: &str| -> Map<String, Value> {
            keep.remove(id)
                .flatten()
                .and_then(|row| serde_json::from_str(&row).ok())
                .unwrap_or_default()
        };
        let mut problems = Vec::new();
        for (id, table, row) in &d.changed {
            let exp = last(id);
            for c in columns.get(table).into_iter().flatten() {
                let (e, a) = (
                    exp.get(c).unwrap_or(&Value::Null),
                    row.get(c).unwrap_or(&Value::Null),
                );
                if e != a {
                    problems.push(format!(
                        "{} : {c}: trail says {}, table has {}",
                        names.record(table, row),
                        shown(e),
                        shown(a)
                    ));
                }
            }
        }
        for (table, row) in &d.unrecorded {
            problems.push(format!(
                "{} : table has a row the trail never recorded (added without keyward)",
                names.record(table, row)
            ));
        }
        for id in &d.gone {
            let table = id.split('\u{0}').next().unwrap_or_default();
            let row = last(id);
            problems.push(format!(
                "{} : trail says {}, table has no row",
                names.record(table, &row),
                summary(table, &row)
            ));
        }
        Ok(problems)
    }
}

/// A record named by its key alone: "enrollment #3", "methods [3,\"sms\"]".
fn short(table: &str, key: &Value) -> String {
    let id = key.get(0).and_then(Value::as_i64);
    match (table, id) {
        ("people", Some(i)) => format!("person #{i}"),
        ("accounts", Some(i)) => format!("account #{i}"),
        ("keys", Some(i)) => format!("key #{i}"),
        ("enrollments", Some(i)) => format!("enrollment #{i}"),
        _ => format!("{table} {key}"),
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

/// What the trail last said about a record, in a word: a method's status, a key's state...
fn summary(table: &str, row: &Map<String, Value>) -> String {
    let col = match table {
        "methods" | "provision_slots" => "status",
        "keys" => "state",
        "enrollments" => "evidence",
        _ => return "it exists".into(),
    };
    match row.get(col) {
        Some(Value::String(s)) => s.clone(),
        _ => "it exists".into(),
    }
}

/// Human names for records: "method sms of google:ada@example.com", not "methods [3,\"sms\"]".
struct Names {
    people: HashMap<i64, String>,
    accounts: HashMap<i64, String>,
    keys: HashMap<i64, String>,
}

impl Names {
    fn load(conn: &Connection) -> rusqlite::Result<Names> {
        let map = |sql: &str| -> rusqlite::Result<HashMap<i64, String>> {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        };
        Ok(Names {
            people: map("SELECT id, name FROM people")?,
            accounts: map("SELECT id, playbook || ':' || identifier FROM accounts")?,
            keys: map(
                "SELECT k.id, k.label || ' of ' || coalesce(p.name, 'person #' || k.person_id)
                 FROM keys k LEFT JOIN people p ON p.id = k.person_id",
            )?,
        })
    }

    fn of(map: &HashMap<i64, String>, what: &str, id: Option<&Value>) -> String {
        let id = id.and_then(Value::as_i64);
        match id.and_then(|i| map.get(&i)) {
            Some(n) => n.clone(),
            None => format!("{what} #{}", id.map(|i| i.to_string()).unwrap_or_default()),
        }
    }

    fn record(&self, table: &str, row: &Map<String, Value>) -> String {
        let s = |c: &str| match row.get(c) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        };
        let id = || s("id");
        match table {
            "people" => format!("person #{} ({})", id(), s("name")),
            "accounts" => format!(
                "account #{} ({}:{} of {})",
                id(),
                s("playbook"),
                s("identifier"),
                Self::of(&self.people, "person", row.get("person_id"))
            ),
            "keys" => format!(
                "key #{} ({} of {})",
                id(),
                s("label"),
                Self::of(&self.people, "person", row.get("person_id"))
            ),
            "enrollments" => format!(
                "enrollment #{} ({} in {})",
                id(),
                Self::of(&self.keys, "key", row.get("key_id")),
                Self::of(&self.accounts, "account", row.get("account_id"))
            ),
            "methods" => format!(
                "method {} of {}",
                s("method"),
                Self::of(&self.accounts, "account", row.get("account_id"))
            ),
            "provision_slots" => format!("provisioning slot {}", s("slot")),
            "meta" => format!("ledger setting {}", s("key")),
            "key_changes" => format!(
                "unsettled change of key {}",
                Self::of(&self.keys, "key", row.get("key_id"))
            ),
            "checkpoints" => format!(
                "checkpoint {} of {}",
                s("name"),
                Self::of(&self.people, "person", row.get("person_id"))
            ),
            other => format!("{other} row {}", Value::Object(row.clone())),
        }
    }
}
