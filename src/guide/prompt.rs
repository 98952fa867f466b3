//! The questions the guided flow asks, independent of who answers them.
//!
//! Every question carries a stable id (`person.name`, `keys.count`,
//! `account.google.identifier`, `step.google.3.done`, `method.google.sms.status`...). A person
//! at a terminal never sees the ids; an answers file is keyed by them, so they are part of the
//! interface and must not change casually (docs/enroll.md lists them).

use crate::error::Result;
use crate::pin::Pin;

/// One entry of a choice: `value` is what an answers file gives and what the flow matches on;
/// `label` is what a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Choice {
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Choice {
        Choice {
            value: value.into(),
            label: label.into(),
        }
    }
}

/// Which PIN is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// The PIN the key has now.
    Current,
    /// A first PIN for a key that has none, checked against the key's minimum length.
    New { min_code_points: u32 },
}

/// Whoever answers the guided flow's questions: a person at a terminal, or a script.
pub trait Prompter {
    /// Something to read; no answer expected.
    fn info(&mut self, text: &str);

    /// A yes/no question.
    fn confirm(&mut self, id: &str, question: &str, default: bool) -> Result<bool>;

    /// One of `choices` (never empty); returns the chosen `value`.
    fn choose(
        &mut self,
        id: &str,
        question: &str,
        choices: &[Choice],
        default: usize,
    ) -> Result<String>;

    /// Tick any of `choices` (`ticked`: which are ticked at first); returns the ticked values.
    fn checklist(
        &mut self,
        id: &str,
        question: &str,
        choices: &[Choice],
        ticked: &[bool],
    ) -> Result<Vec<String>>;

    /// Whether this prompter answers `id` (an answers file may answer an older, finer-grained
    /// set of questions instead; a person always can).
    fn has_answer(&self, id: &str) -> bool {
        let _ = id;
        true
    }

    /// A line of text. An empty answer is allowed only when `default` is given (it is used).
    fn text(&mut self, id: &str, question: &str, default: Option<&str>) -> Result<String>;

    /// A PIN. Never from an answers file: implementations take it from the command's PIN
    /// sources (`--pin-stdin`, `--pin-fd`, `KEYWARD_PIN` / `KEYWARD_NEW_PIN`, or a hidden prompt).
    fn secret(&mut self, id: &str, question: &str, kind: SecretKind) -> Result<Pin>;

    /// The answer just given for `id` cannot be used (`why`, in plain words, saying what to
    /// do). A person reads why and is asked again; a script cannot answer differently, so it
    /// stops with an error naming where in its file the answer is.
    fn refused(&mut self, id: &str, why: &str) -> Result<()> {
        let _ = id;
        self.warn(why);
        Ok(())
    }

    /// Something the person must not miss (a wrong PIN, a key that is not ready).
    fn warn(&mut self, text: &str) {
        self.info(text);
    }

    /// Whether a PIN of this kind is typed by a person right now, so a rejected one can be
    /// asked again. A PIN from a variable, a file descriptor or stdin would only be rejected
    /// again (spending the key's attempts), so those stop instead.
    fn pin_is_typed(&self, kind: SecretKind) -> bool {
        let _ = kind;
        false
    }

    /// Whether offering to open a web page makes sense (a person with a display).
    fn can_open_urls(&self) -> bool {
        false
    }

    /// Called once when the flow ends normally, so a script can learn what it gave in vain.
    fn finish(&mut self) -> Vec<String> {
        Vec::new()
    }
}
