//! `ScriptedPrompter`: answers from a file (TOML or JSON) keyed by prompt id, for help-desk
//! scripts and tests.
//!
//! Nested tables are flattened into dotted ids, so `"step.google.3.done" = true` and
//! `[step.google.3]` / `done = true` mean the same. A `*` segment matches any one segment
//! (`"step.*.*.done" = true`); an exact id wins over a pattern, and a pattern with fewer `*`
//! over one with more. PINs are never accepted from the file.

use super::prompt::{Choice, Prompter, SecretKind};
use super::GuideError;
use crate::error::Result;
use crate::pin::{Pin, PinReader};
use crate::playbook::line_col;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One answer as written in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Bool(bool),
    Text(String),
    Number(i64),
    /// The ticked entries of a checklist.
    List(Vec<String>),
}

impl Answer {
    fn describe(&self) -> String {
        match self {
            Answer::Bool(b) => b.to_string(),
            Answer::Text(s) if crate::redact::looks_like_pin(s) => {
                "(a value that looks like a PIN, not shown)".into()
            }
            Answer::Text(s) => format!("\"{s}\""),
            Answer::Number(n) if crate::redact::looks_like_pin(&n.to_string()) => {
                "(a value that looks like a PIN, not shown)".into()
            }
            Answer::Number(n) => n.to_string(),
            Answer::List(l) => format!(
                "[{}]",
                l.iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// What kind of answer it is, for errors.
    fn kind(&self) -> &'static str {
        match self {
            Answer::Bool(_) => "a true/false answer",
            Answer::Text(_) => "a text answer",
            Answer::Number(_) => "a number",
            Answer::List(_) => "a list",
        }
    }
}

/// Last segments of an id that mean a secret: an answers file holding one is refused outright.
/// (Only the last: `method.google.password.status` asks about a sign-in method, not for one.)
const SECRET_WORDS: &[&str] = &[
    "pin",
    "new_pin",
    "current_pin",
    "password",
    "passphrase",
    "secret",
];

/// Questions a pattern must never answer: each risks erasing a key, so a script must name the
/// key it agrees for.
const EXACT_ONLY: &[&str] = &["low_retries"];

#[derive(Debug)]
pub struct AnswersFile {
    path: PathBuf,
    entries: BTreeMap<String, Answer>,
    /// Line and column of each entry's value in the file (none for built-in answers), so an
    /// error can point at an answer without repeating it.
    positions: BTreeMap<String, (usize, usize)>,
}

/// Where an error about an answers file points: its line and column, when known.
type At = Option<(usize, usize)>;

impl AnswersFile {
    pub fn load(path: &Path) -> Result<AnswersFile, GuideError> {
        let bad_at = |at: At, message: String| GuideError::AnswersFile {
            path: path.to_path_buf(),
            at,
            message,
        };
        let bad = |message: String| bad_at(None, message);
        let text =
            std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            || text.trim_start().starts_with('{');
        let value: serde_json::Value = if is_json {
            serde_json::from_str(&text).map_err(|e| {
                // serde_json ends its message with the place, which `at` already gives.
                let message = e.to_string();
                let what = message
                    .rsplit_once(" at line ")
                    .map_or(message.as_str(), |(what, _)| what);
                bad_at(
                    Some((e.line(), e.column())),
                    format!("not valid JSON: {}", crate::redact::without_values(what)),
                )
            })?
        } else {
            let table: toml::Table = toml::from_str(&text).map_err(|e| {
                bad_at(
                    e.span().map(|s| line_col(&text, s.start)),
                    format!(
                        "not valid TOML: {}",
                        crate::redact::without_values(e.message().trim())
                    ),
                )
            })?;
            serde_json::to_value(table).map_err(|e| bad(e.to_string()))?
        };
        let serde_json::Value::Object(top) = value else {
            let start = text.len() - text.trim_start().len();
            return Err(bad_at(
                Some(line_col(&text, start)),
                "the file must be a table of `\"prompt id\": answer` entries, in `{ }`".into(),
            ));
        };
        let position = |id: &str| {
            if is_json {
                json_value_offset(&text, 0, &id.split('.').collect::<Vec<_>>())
                    .map(|offset| line_col(&text, offset))
            } else {
                toml_positions(&text).remove(id)
            }
        };
        let mut entries = BTreeMap::new();
        flatten("", &serde_json::Value::Object(top), &mut entries)
            .map_err(|(id, message)| bad_at(position(&id), message))?;
        let positions = entries
            .keys()
            .filter_map(|id| Some((id.clone(), position(id)?)))
            .collect();
        Self::with_positions(path, entries, positions)
    }

    /// Build from already flattened entries (the demo's built-in answers).
    pub fn from_entries(
        path: &Path,
        entries: BTreeMap<String, Answer>,
    ) -> Result<AnswersFile, GuideError> {
        Self::with_positions(path, entries, BTreeMap::new())
    }

    fn with_positions(
        path: &Path,
        entries: BTreeMap<String, Answer>,
        positions: BTreeMap<String, (usize, usize)>,
    ) -> Result<AnswersFile, GuideError> {
        for id in entries.keys() {
            let last = id.rsplit('.').next().unwrap_or(id).to_ascii_lowercase();
            let at = positions.get(id).copied();
            if SECRET_WORDS.contains(&last.as_str()) {
                return Err(GuideError::AnswersFile {
                    path: path.to_path_buf(),
                    at,
                    message: format!(
                        "`{id}` looks like a PIN; PINs are never read from an answers file \
                         (use --pin-stdin, --pin-fd or KEYWARD_PIN / KEYWARD_NEW_PIN), remove it"
                    ),
                });
            }
            if id.contains('*') && EXACT_ONLY.contains(&last.as_str()) {
                return Err(GuideError::AnswersFile {
                    path: path.to_path_buf(),
                    at,
                    message: format!(
                        "`{id}` would agree to spend the last PIN attempts of every key at once; name each key instead (for example `key.a.{last}` = true)"
                    ),
                });
            }
        }
        Ok(AnswersFile {
            path: path.to_path_buf(),
            entries,
            positions,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Line and column of the entry answering `id` (exact or pattern).
    fn at(&self, id: &str) -> At {
        let (key, _) = self.lookup(id)?;
        self.positions.get(key).copied()
    }

    /// The entry answering `id`: exact first, then the pattern with the fewest `*`.
    fn lookup(&self, id: &str) -> Option<(&str, &Answer)> {
        if let Some((k, v)) = self.entries.get_key_value(id) {
            return Some((k.as_str(), v));
        }
        let last = id.rsplit('.').next().unwrap_or(id);
        if EXACT_ONLY.contains(&last) {
            return None;
        }
        let segs: Vec<&str> = id.split('.').collect();
        self.entries
            .iter()
            .filter(|(k, _)| k.contains('*'))
            .filter(|(k, _)| {
                let ps: Vec<&str> = k.split('.').collect();
                ps.len() == segs.len() && ps.iter().zip(&segs).all(|(p, s)| *p == "*" || p == s)
            })
            .min_by_key(|(k, _)| k.split('.').filter(|s| *s == "*").count())
            .map(|(k, v)| (k.as_str(), v))
    }
}

/// Line and column of every answer's value in a TOML file, by flattened id.
fn toml_positions(text: &str) -> BTreeMap<String, (usize, usize)> {
    fn walk(
        prefix: &str,
        table: &toml::de::DeTable<'_>,
        text: &str,
        out: &mut BTreeMap<String, (usize, usize)>,
    ) {
        for (key, value) in table {
            let id = join(prefix, key.get_ref());
            match value.get_ref() {
                toml::de::DeValue::Table(inner) => walk(&id, inner, text, out),
                _ => {
                    out.insert(id, line_col(text, value.span().start));
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(doc) = toml::de::DeTable::parse(text) {
        walk("", doc.get_ref(), text, &mut out);
    }
    out
}

/// Byte offset of the value of the id `segments` in a JSON file, searching from `from`: each
/// object key may hold one segment or several joined by dots (`{"step.google": {"3": ..}}`).
fn json_value_offset(text: &str, from: usize, segments: &[&str]) -> Option<usize> {
    (1..=segments.len()).find_map(|n| {
        let key = format!("\"{}\"", segments[..n].join("."));
        let mut search = from;
        while let Some(i) = text.get(search..)?.find(&key) {
            let after = search + i + key.len();
            let rest = &text[after..];
            let colon = rest.trim_start();
            if let Some(value) = colon.strip_prefix(':') {
                let at = text.len() - value.trim_start().len();
                let found = if n == segments.len() {
                    Some(at)
                } else {
                    json_value_offset(text, at, &segments[n..])
                };
                if found.is_some() {
                    return found;
                }
            }
            search = after;
        }
        None
    })
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Entries of the file by dotted id; an error names the id it is about.
fn flatten(
    prefix: &str,
    value: &serde_json::Value,
    out: &mut BTreeMap<String, Answer>,
) -> std::result::Result<(), (String, String)> {
    use serde_json::Value as V;
    let answer = match value {
        V::Object(map) => {
            for (k, v) in map {
                flatten(&join(prefix, k), v, out)?;
            }
            return Ok(());
        }
        V::Bool(b) => Answer::Bool(*b),
        V::String(s) => Answer::Text(s.clone()),
        V::Number(n) => match n.as_i64() {
            Some(i) => Answer::Number(i),
            None => {
                return Err((
                    prefix.into(),
                    format!(
                        "`{prefix}` is not a whole number; an answer is true or false, a text \
                         in quotes, a whole number or a list of texts"
                    ),
                ))
            }
        },
        V::Array(items) => Answer::List(
            items
                .iter()
                .map(|v| match v {
                    V::String(s) => Ok(s.clone()),
                    other => Err((
                        prefix.to_string(),
                        format!(
                            "`{prefix}`: a list answers a checklist and holds only texts in \
                             quotes (the ids of the ticked entries), not {}",
                            json_kind(other)
                        ),
                    )),
                })
                .collect::<std::result::Result<_, _>>()?,
        ),
        V::Null => {
            return Err((
                prefix.into(),
                format!(
                    "`{prefix}`: null is not an answer; give true or false, a text in quotes, \
                     a whole number or a list of texts"
                ),
            ))
        }
    };
    if out.insert(prefix.to_string(), answer).is_some() {
        return Err((
            prefix.into(),
            format!("`{prefix}` is answered twice; keep one of the two"),
        ));
    }
    Ok(())
}

/// What kind of JSON value, never the value itself.
fn json_kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value as V;
    match value {
        V::Null => "null",
        V::Bool(_) => "true/false",
        V::Number(_) => "a number",
        V::String(_) => "a text",
        V::Array(_) => "a list",
        V::Object(_) => "a table",
    }
}

/// Answers questions from an [`AnswersFile`]; PINs from the command's PIN sources.
pub struct ScriptedPrompter {
    file: AnswersFile,
    pins: Box<dyn FnMut(SecretKind) -> Result<Pin>>,
    used: BTreeSet<String>,
    /// Echo each question and its answer on stderr, so a script's log shows what was decided.
    echo: bool,
}

impl ScriptedPrompter {
    pub fn new(file: AnswersFile, mut pins: PinReader) -> ScriptedPrompter {
        Self::with_pin_source(
            file,
            Box::new(move |kind| {
                Ok(match kind {
                    SecretKind::Current => pins.current("PIN of the key")?,
                    SecretKind::New { min_code_points } => {
                        pins.new_pin("New PIN for the key", min_code_points)?
                    }
                })
            }),
        )
    }

    /// With another source of PINs (the demo's in-memory PIN).
    pub fn with_pin_source(
        file: AnswersFile,
        pins: Box<dyn FnMut(SecretKind) -> Result<Pin>>,
    ) -> ScriptedPrompter {
        ScriptedPrompter {
            file,
            pins,
            used: BTreeSet::new(),
            echo: true,
        }
    }

    pub fn quiet(mut self) -> ScriptedPrompter {
        self.echo = false;
        self
    }

    fn answer(&mut self, id: &str, question: &str, expected: &str) -> Result<Answer> {
        match self.file.lookup(id) {
            Some((key, value)) => {
                self.used.insert(key.to_string());
                let value = value.clone();
                if self.echo {
                    eprintln!("{question} [{id}] -> {}", value.describe());
                }
                Ok(value)
            }
            None => {
                let near = self
                    .file
                    .entries
                    .keys()
                    .filter(|k| !k.contains('*'))
                    .map(|k| (strsim::jaro_winkler(k, id), k))
                    .filter(|(score, _)| *score > 0.85)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .map(|(_, k)| format!(" (the file has `{k}`: a typo?)"))
                    .unwrap_or_default();
                Err(GuideError::MissingAnswer {
                    id: id.to_string(),
                    path: self.file.path.clone(),
                    question: question.to_string(),
                    expected: format!("{expected}{near}"),
                }
                .into())
            }
        }
    }

    fn wrong(&self, id: &str, got: &Answer, expected: &str) -> crate::Error {
        GuideError::BadAnswer {
            id: id.to_string(),
            path: self.file.path.clone(),
            at: self.file.at(id),
            // Which kind of value, never the value: it may be a misplaced secret.
            message: format!("{} is not {expected}", got.kind()),
        }
        .into()
    }
}

impl Prompter for ScriptedPrompter {
    fn info(&mut self, text: &str) {
        if self.echo {
            anstream::eprintln!("{text}");
        }
    }

    fn confirm(&mut self, id: &str, question: &str, _default: bool) -> Result<bool> {
        let expected = "true or false";
        let got = self.answer(id, question, expected)?;
        match &got {
            Answer::Bool(b) => Ok(*b),
            Answer::Text(s) => match s.to_ascii_lowercase().as_str() {
                "yes" | "y" | "true" => Ok(true),
                "no" | "n" | "false" => Ok(false),
                _ => Err(self.wrong(id, &got, expected)),
            },
            Answer::Number(_) | Answer::List(_) => Err(self.wrong(id, &got, expected)),
        }
    }

    fn checklist(
        &mut self,
        id: &str,
        question: &str,
        choices: &[Choice],
        _ticked: &[bool],
    ) -> Result<Vec<String>> {
        let values = choices
            .iter()
            .map(|c| format!("\"{}\"", c.value))
            .collect::<Vec<_>>()
            .join(", ");
        let expected = format!("a list of any of {values} (`[]` for none)");
        let got = self.answer(id, question, &expected)?;
        let words: Vec<String> = match &got {
            Answer::List(l) => l.clone(),
            Answer::Text(t) if t.trim().is_empty() || t.trim() == "none" => Vec::new(),
            Answer::Text(t) => t.split(',').map(|w| w.trim().to_string()).collect(),
            _ => return Err(self.wrong(id, &got, &expected)),
        };
        words
            .iter()
            .map(|w| {
                choices
                    .iter()
                    .find(|c| c.value.eq_ignore_ascii_case(w))
                    .map(|c| c.value.clone())
                    .ok_or_else(|| self.wrong(id, &Answer::Text(w.clone()), &expected))
            })
            .collect()
    }

    fn has_answer(&self, id: &str) -> bool {
        self.file.lookup(id).is_some()
    }

    fn choose(
        &mut self,
        id: &str,
        question: &str,
        choices: &[Choice],
        _default: usize,
    ) -> Result<String> {
        let values = choices
            .iter()
            .map(|c| format!("\"{}\"", c.value))
            .collect::<Vec<_>>()
            .join(", ");
        let expected = format!("one of {values}");
        let got = self.answer(id, question, &expected)?;
        let text = match &got {
            Answer::Text(s) => s.clone(),
            Answer::Number(n) => n.to_string(),
            Answer::Bool(b) => b.to_string(),
            Answer::List(_) => return Err(self.wrong(id, &got, &expected)),
        };
        choices
            .iter()
            .find(|c| c.value.eq_ignore_ascii_case(&text))
            .map(|c| c.value.clone())
            .ok_or_else(|| self.wrong(id, &got, &expected))
    }

    fn text(&mut self, id: &str, question: &str, default: Option<&str>) -> Result<String> {
        let expected = "a text";
        // A question with a default (where a key lives) may be left out of the file.
        if let (None, Some(d)) = (self.file.lookup(id), default) {
            if self.echo {
                eprintln!("{question} [{id}]: {d} (the default; the answers file does not say)");
            }
            return Ok(d.to_string());
        }
        let got = self.answer(id, question, expected)?;
        let s = match &got {
            Answer::Text(s) => s.trim().to_string(),
            Answer::Number(n) => n.to_string(),
            Answer::Bool(_) | Answer::List(_) => return Err(self.wrong(id, &got, expected)),
        };
        match (s.is_empty(), default) {
            (true, Some(d)) => Ok(d.to_string()),
            (true, None) => Err(self.wrong(id, &got, "a non-empty text")),
            (false, _) => Ok(s),
        }
    }

    fn refused(&mut self, id: &str, why: &str) -> Result<()> {
        Err(GuideError::RefusedAnswer {
            id: id.to_string(),
            path: self.file.path.clone(),
            at: self.file.at(id),
            message: why.to_string(),
        }
        .into())
    }

    fn secret(&mut self, _id: &str, question: &str, kind: SecretKind) -> Result<Pin> {
        if self.echo {
            eprintln!("{question} (from the PIN source, not the answers file)");
        }
        (self.pins)(kind)
    }

    fn finish(&mut self) -> Vec<String> {
        self.file
            .entries
            .keys()
            .filter(|k| !self.used.contains(*k))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn prompter(file: AnswersFile) -> ScriptedPrompter {
        ScriptedPrompter::with_pin_source(file, Box::new(|_| Ok(Pin::new("unused")))).quiet()
    }

    #[test]
    fn toml_tables_and_dotted_keys_mean_the_same_id() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "a.toml",
            "\"person.name\" = \"Ada\"\n[step.google.3]\ndone = true\n",
        );
        let mut s = prompter(AnswersFile::load(&p).unwrap());
        assert_eq!(s.text("person.name", "Name?", None).unwrap(), "Ada");
        assert!(s.confirm("step.google.3.done", "Done?", false).unwrap());
        assert!(s.finish().is_empty());
    }

    #[test]
    fn json_works_and_patterns_prefer_the_most_specific() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "a.json",
            r#"{"step.*.*.done": true, "step.apple.*.done": false, "step.apple.2.done": true}"#,
        );
        let mut s = prompter(AnswersFile::load(&p).unwrap());
        assert!(s.confirm("step.google.1.done", "?", false).unwrap());
        assert!(!s.confirm("step.apple.1.done", "?", false).unwrap());
        assert!(s.confirm("step.apple.2.done", "?", false).unwrap());
    }

    #[test]
    fn a_missing_answer_names_the_prompt_id_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "a.toml", "\"person.nmae\" = \"Ada\"\n");
        let mut s = prompter(AnswersFile::load(&p).unwrap());
        let e = s
            .text("person.name", "Name?", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`person.name`"), "{e}");
        assert!(e.contains("a.toml"), "{e}");
        assert!(e.contains("person.nmae"), "suggests the near miss: {e}");
        assert_eq!(s.finish(), vec!["person.nmae".to_string()]);
    }

    #[test]
    fn a_pin_in_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "a.toml", "[key.a]\npin = \"123456\"\n");
        let e = AnswersFile::load(&p).unwrap_err().to_string();
        assert!(e.contains("PIN"), "{e}");
        assert!(!e.contains("123456"), "{e}");
        // A question about the password sign-in method is not a secret.
        let p = write(
            &dir,
            "b.toml",
            "\"method.apple.password.status\" = \"on\"\n",
        );
        assert!(AnswersFile::load(&p).is_ok());
    }

    #[test]
    fn spending_the_last_pin_attempts_needs_the_exact_key_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "a.toml", "\"key.*.low_retries\" = true\n");
        let e = AnswersFile::load(&p).unwrap_err().to_string();
        assert!(e.contains("key.a.low_retries"), "{e}");
        // A broader pattern loads, but still does not answer that question.
        let p = write(
            &dir,
            "b.toml",
            "\"key.*.*\" = true\n\"key.b.low_retries\" = true\n",
        );
        let mut s = prompter(AnswersFile::load(&p).unwrap());
        assert!(s.confirm("key.a.set_pin", "?", false).unwrap());
        let e = s.confirm("key.a.low_retries", "?", false).unwrap_err();
        assert!(e.to_string().contains("`key.a.low_retries`"), "{e}");
        assert!(s.confirm("key.b.low_retries", "?", false).unwrap());
    }

    #[test]
    fn malformed_toml_reports_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "a.toml", "\"person.name\" = \"Ada\"\nkeys.count = \n");
        let e = AnswersFile::load(&p).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn wrong_kind_of_answer_is_a_precise_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "a.toml",
            "\"keys.count\" = 5\n\"x.done\" = \"maybe\"\n",
        );
        let mut s = prompter(AnswersFile::load(&p).unwrap());
        let choices = [Choice::new("1", "one"), Choice::new("2", "two")];
        let e = s
            .choose("keys.count", "How many?", &choices, 1)
            .unwrap_err();
        assert!(e.to_string().contains("one of \"1\", \"2\""), "{e}");
        let e = s.confirm("x.done", "Done?", false).unwrap_err();
        assert!(e.to_string().contains("true or false"), "{e}");
    }

    /// Issue 11, item 4: every error about an answer points at it (line and column, in a
    /// `[table]`, through a pattern, in JSON) and says what is allowed, never what was written.
    #[test]
    fn errors_point_at_the_answer_and_never_repeat_it() {
        let dir = tempfile::tempdir().unwrap();
        let choices = [Choice::new("1", "one"), Choice::new("2", "two")];
        let p = write(
            &dir,
            "a6.toml",
            "\"person.new\" = true\n\"keys.count\" = \"735901\"\n[step.google.3]\ndone =  \"735901\"\n",
        );
        let mut s = prompter(AnswersFile::load(&p).unwrap());
        let e = s
            .choose("keys.count", "How many?", &choices, 1)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "answers file {}, line 2, column 16: the answer for `keys.count` is wrong: \
                 a text answer is not one of \"1\", \"2\"",
                p.display()
            )
        );
        let e = s.confirm("step.google.3.done", "Done?", false).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("line 4, column 9: ") && e.contains("true or false"),
            "{e}"
        );
        assert!(!e.contains("735901"), "{e}");

        let p = write(&dir, "b.toml", "\n  \"step.*.*.done\" = 7\n");
        let mut s = prompter(AnswersFile::load(&p).unwrap());
        let e = s.confirm("step.google.1.done", "?", false).unwrap_err();
        assert!(e.to_string().contains("line 2, column 21: "), "{e}");

        let p = write(
            &dir,
            "c.json",
            "{\"person\": {\"new\": true},\n \"step.google\": {\"3.done\": \"735901\"}}",
        );
        let mut s = prompter(AnswersFile::load(&p).unwrap());
        let e = s.confirm("step.google.3.done", "?", false).unwrap_err();
        assert!(e.to_string().contains("line 2, column 28: "), "{e}");

        for (text, at, allowed) in [
            ("a = 1\nb = 1.5\n", "line 2, column 5: ", "a whole number"),
            (
                "x = 1\nl = [\"a\", 735901]\n",
                "line 2, column 5: ",
                "only texts",
            ),
            (
                "[key.a]\npin = \"735901\"\n",
                "line 2, column 7: ",
                "--pin-stdin",
            ),
        ] {
            let p = write(&dir, "d.toml", text);
            let e = AnswersFile::load(&p).unwrap_err().to_string();
            assert!(e.contains(at) && e.contains(allowed), "{text:?}: {e}");
            assert!(!e.contains("735901"), "{e}");
        }
        let p = write(&dir, "e.json", "{\"a\": null,\n}");
        let e = AnswersFile::load(&p).unwrap_err().to_string();
        assert!(
            e.ends_with("line 2, column 1: not valid JSON: trailing comma"),
            "{e}"
        );
        let p = write(&dir, "f.json", "\n [\"735901\"]");
        let e = AnswersFile::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("line 2, column 2: the file must be a table"),
            "{e}"
        );
        assert!(!e.contains("735901"), "{e}");
    }
}
