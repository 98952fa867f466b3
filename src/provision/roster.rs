//! The roster: a CSV file naming the people who get keys and how many each gets.
//!
//! ```csv
//! name,email,keys,label
//! Ada Lovelace,ada@example.com,2,
//! Grace Hopper,grace@example.com,1,GH
//! ```
//!
//! `name` (required) is how the ledger knows the person (unique, compared without case).
//! `email` (optional) is recorded with them; `keys` (optional, default 1) is how many keys the
//! person gets; `label` (optional) replaces the name in the label written on the key
//! (`GH #1`). Columns may come in any order; lines starting with `#` are comments.

use super::ProvisionError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// More keys than this for one person is almost certainly a typo (e.g. `20` for `2`).
pub const MAX_KEYS_PER_PERSON: u32 = 10;

/// The longest label we ask an operator to write on a key.
pub const MAX_LABEL_CHARS: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    /// The person, as the ledger records them.
    pub name: String,
    pub email: Option<String>,
    pub keys: u32,
    pub label: Option<String>,
    /// Line of the roster this entry came from, for messages.
    pub line: u64,
}

/// One key to prepare: the `index`-th key (1-based) of one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The person's name in the ledger.
    pub person: String,
    pub email: Option<String>,
    pub index: u32,
    pub of: u32,
    /// What the operator writes on the key; also how the ledger tells this slot is done.
    pub label: String,
}

impl Slot {
    /// Stable identifier in events and the ledger: `person/label`, because a label is unique
    /// per person in the ledger and is what is written on the key.
    pub fn id(&self) -> String {
        format!("{}/{}", self.person, self.label)
    }

    /// Who the key is for, as a person reads it.
    pub fn who(&self) -> String {
        match &self.email {
            Some(e) => format!("{} <{e}>", self.person),
            None => self.person.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Roster {
    pub path: PathBuf,
    pub entries: Vec<RosterEntry>,
}

const COLUMNS: [&str; 4] = ["name", "email", "keys", "label"];

impl Roster {
    pub fn load(path: &Path) -> Result<Roster, ProvisionError> {
        let bytes = std::fs::read(path).map_err(|e| ProvisionError::Read {
            what: "roster",
            path: path.to_path_buf(),
            source: e,
        })?;
        Roster::parse(path, &bytes)
    }

    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Roster, ProvisionError> {
        let err = |line: u64, column: Option<usize>, message: String| ProvisionError::Roster {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        // csv's own comment support loses count of lines, so comments are blanked here and
        // every line keeps its number.
        let mut text = Vec::with_capacity(bytes.len());
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            if line.trim_ascii_start().starts_with(b"#") {
                text.push(b'\n');
            } else {
                text.extend_from_slice(line);
            }
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_slice());

        let mut header: Option<(u64, HashMap<&'static str, usize>, usize)> = None;
        let mut entries: Vec<RosterEntry> = Vec::new();
        let mut seen_person: HashMap<String, u64> = HashMap::new();
        let mut seen_label: HashMap<String, u64> = HashMap::new();

        for result in reader.records() {
            let record = result.map_err(|e| csv_error(path, &text, &e))?;
            let line = record
                .position()
                .map(|p| line_of(&text, p.byte()))
                .unwrap_or(0);
            if record.iter().all(|f| f.is_empty()) {
                continue;
            }
            let Some((_, columns, width)) = &header else {
                header = Some(parse_header(&record, line, &err)?);
                continue;
            };
            if record.len() > *width {
                return Err(err(
                    line,
                    Some(width + 1),
                    format!(
                        "this line has {} fields but the header has {width}; \
                         quote values that contain a comma (\"Lovelace, Ada\")",
                        record.len()
                    ),
                ));
            }
            let field = |name: &str| -> Option<(&str, usize)> {
                columns
                    .get(name)
                    .and_then(|&i| record.get(i).map(|v| (v, i + 1)))
                    .filter(|(v, _)| !v.is_empty())
            };

            let Some((person, _)) = field("name") else {
                return Err(err(
                    line,
                    Some(columns["name"] + 1),
                    "the `name` field is empty; give the name the ledger should record this \
                     person under"
                        .into(),
                ));
            };
            if let Some(first) = seen_person.get(&person.to_lowercase()) {
                return Err(err(
                    line,
                    Some(columns["name"] + 1),
                    format!(
                        "`{person}` is already listed on line {first}; give each person one line \
                         and use the `keys` column for several keys"
                    ),
                ));
            }
            let keys = match field("keys") {
                None => 1,
                // The value is never repeated: a misplaced PIN must not reach the screen.
                Some((v, col)) => match v.parse::<u32>() {
                    Ok(n) if (1..=MAX_KEYS_PER_PERSON).contains(&n) => n,
                    _ => {
                        return Err(err(
                            line,
                            Some(col),
                            format!(
                                "`keys` must be a whole number from 1 to {MAX_KEYS_PER_PERSON}"
                            ),
                        ))
                    }
                },
            };
            let email = field("email").map(|(v, _)| v.to_string());
            let label = field("label").map(|(v, _)| v.to_string());
            let entry = RosterEntry {
                name: person.to_string(),
                email,
                keys,
                label,
                line,
            };
            // Labels are checked per slot so that "GH #1" and a later "GH" entry collide here,
            // not on the operator's desk.
            for slot in entry_slots(&entry) {
                let col = columns
                    .get("label")
                    .filter(|_| entry.label.is_some())
                    .or_else(|| columns.get("name"))
                    .map(|i| i + 1);
                if slot.label.chars().count() > MAX_LABEL_CHARS {
                    return Err(err(
                        line,
                        col,
                        format!(
                            "the label `{}` is longer than {MAX_LABEL_CHARS} characters; \
                             give a shorter one in the `label` column",
                            slot.label
                        ),
                    ));
                }
                if slot.label.chars().any(char::is_control) {
                    return Err(err(
                        line,
                        col,
                        "the label contains a control character".into(),
                    ));
                }
                let folded = slot.label.to_lowercase();
                if let Some(first) = seen_label.get(&folded) {
                    return Err(err(
                        line,
                        col,
                        format!(
                            "the label `{}` is already used by line {first}; two keys must never \
                             carry the same label (set a distinct `label` for one of them)",
                            slot.label
                        ),
                    ));
                }
                seen_label.insert(folded, line);
            }
            seen_person.insert(entry.name.to_lowercase(), line);
            entries.push(entry);
        }
        if header.is_none() {
            return Err(err(
                1,
                None,
                "the roster is empty; it needs a header line `name,email,keys,label` and one \
                 line per person"
                    .into(),
            ));
        }
        if entries.is_empty() {
            return Err(err(
                header.map(|h| h.0).unwrap_or(1),
                None,
                "the roster names nobody; add one line per person after the header".into(),
            ));
        }
        Ok(Roster {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// Every key to prepare, in roster order.
    pub fn slots(&self) -> Vec<Slot> {
        self.entries.iter().flat_map(entry_slots).collect()
    }
}

type HeaderInfo = (u64, HashMap<&'static str, usize>, usize);

fn parse_header(
    record: &csv::StringRecord,
    line: u64,
    err: &dyn Fn(u64, Option<usize>, String) -> ProvisionError,
) -> Result<HeaderInfo, ProvisionError> {
    let mut columns = HashMap::new();
    for (i, raw) in record.iter().enumerate() {
        let name = raw.to_ascii_lowercase();
        let Some(known) = COLUMNS.iter().find(|c| **c == name) else {
            let hint = strsim_hint(&name)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            // A roster without its header starts with a person's line, whose fields are not
            // repeated when they look like a PIN.
            let shown = if crate::redact::looks_like_pin(raw) {
                String::new()
            } else {
                format!(" `{raw}`")
            };
            return Err(err(
                line,
                Some(i + 1),
                format!(
                    "unknown column{shown}{hint}; the roster's columns are {}",
                    COLUMNS.join(", ")
                ),
            ));
        };
        if columns.insert(*known, i).is_some() {
            return Err(err(
                line,
                Some(i + 1),
                format!("the column `{known}` appears twice in the header"),
            ));
        }
    }
    if !columns.contains_key("name") {
        return Err(err(
            line,
            None,
            "the header has no `name` column; the first line must name the columns, e.g. \
             `name,email,keys,label`"
                .into(),
        ));
    }
    Ok((line, columns, record.len()))
}

fn strsim_hint(name: &str) -> Option<&'static str> {
    COLUMNS
        .iter()
        .copied()
        .filter(|c| strsim::levenshtein(c, name) <= 2)
        .min_by_key(|c| strsim::levenshtein(c, name))
}

fn entry_slots(entry: &RosterEntry) -> Vec<Slot> {
    let base = entry.label.clone().unwrap_or_else(|| entry.name.clone());
    (1..=entry.keys)
        .map(|index| Slot {
            person: entry.name.clone(),
            email: entry.email.clone(),
            index,
            of: entry.keys,
            label: format!("{base} #{index}"),
        })
        .collect()
}

/// csv places a record at the start of the blank lines before it, so those are skipped here.
fn line_of(text: &[u8], byte: u64) -> u64 {
    let mut end = (byte as usize).min(text.len());
    while end < text.len() && matches!(text[end], b'\n' | b'\r') {
        end += 1;
    }
    text[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

fn csv_error(path: &Path, text: &[u8], e: &csv::Error) -> ProvisionError {
    let line = e.position().map(|p| line_of(text, p.byte())).unwrap_or(0);
    let mut column = None;
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => {
            column = Some(err.field() + 1);
            "this field is not valid UTF-8 text; save the roster as UTF-8 CSV".to_string()
        }
        csv::ErrorKind::Io(io) => format!("could not be read: {io}"),
        _ => format!("is not valid CSV: {e}"),
    };
    ProvisionError::Roster {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Roster, ProvisionError> {
        Roster::parse(Path::new("team.csv"), text.as_bytes())
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn slots_follow_the_roster_with_labels() {
        let r = parse(
            "# leadership trip\nname,email,keys,label\nAda Lovelace,ada@x.org,2,\n\nGrace Hopper,,1,GH\n",
        )
        .unwrap();
        let labels: Vec<String> = r.slots().iter().map(|s| s.label.clone()).collect();
        assert_eq!(labels, ["Ada Lovelace #1", "Ada Lovelace #2", "GH #1"]);
        assert_eq!(r.entries[1].line, 5);
        assert_eq!(r.slots()[1].id(), "Ada Lovelace/Ada Lovelace #2");
        assert_eq!(r.slots()[0].who(), "Ada Lovelace <ada@x.org>");
    }

    #[test]
    fn columns_in_any_order_and_optional() {
        let r = parse("keys,name\n3,Bob\n").unwrap();
        assert_eq!(r.slots().len(), 3);
        assert_eq!(r.slots()[2].label, "Bob #3");
    }

    #[test]
    fn bad_key_count_names_line_and_column() {
        assert_eq!(
            error("name,email,keys\nAda,ada@x.org,two\n"),
            "roster team.csv, line 2, column 3: `keys` must be a whole number from 1 to 10"
        );
        assert!(error("name,keys\nAda,0\n").contains("line 2, column 2"));
    }

    #[test]
    fn duplicate_person_points_at_both_lines() {
        assert!(error("name\nAda\nBob\nada\n")
            .starts_with("roster team.csv, line 4, column 1: `ada` is already listed on line 2"));
    }

    #[test]
    fn unknown_column_suggests_the_right_one() {
        assert!(error("name,emial\na,b\n")
            .contains("line 1, column 2: unknown column `emial` (did you mean `email`?)"));
        let e = error("name,735901\n");
        assert!(
            e.contains("line 1, column 2: unknown column; the roster's columns are name, email"),
            "{e}"
        );
    }

    #[test]
    fn missing_name_column_and_empty_name() {
        assert!(
            error("email,keys\na@x.org,1\n").contains("line 1: the header has no `name` column")
        );
        assert!(
            error("name,email\n,a@x.org\n").contains("line 2, column 1: the `name` field is empty")
        );
    }

    #[test]
    fn too_many_fields_and_duplicate_labels() {
        assert!(error("name,email\nLovelace, Ada,a@x.org\n")
            .contains("line 2, column 3: this line has 3 fields"));
        assert!(error("name,label\nA,K\nB,k\n")
            .contains("line 3, column 2: the label `k #1` is already used by line 2"));
    }

    #[test]
    fn empty_rosters_are_refused() {
        assert!(error("").contains("the roster is empty"));
        assert!(error("# nobody yet\nname,email\n").contains("line 2: the roster names nobody"));
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let e = Roster::parse(Path::new("r.csv"), b"name,email\nAda,ab\xffc\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("line 2, column 2: this field is not valid UTF-8"),
            "{e}"
        );
    }
}
