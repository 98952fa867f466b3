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

    /// A line of text. An empty answer is allowed only when `default` is given (it is used).
    fn text(&mut self, id: &str, question: &str, default: Option<&str>) -> Result<String>;

    /// A PIN. Never from an answers file: implementations take it from the command's PIN
    /// sources (`--pin-stdin`, `--pin-fd`, `KEYWARD_PIN` / `KEYWARD_NEW_PIN`, or a hidden prompt).
    fn secret(&mut self, id: &str, question: &str, kind: SecretKind) -> Result<Pin>;

    /// Whether offering to open a web page makes sense (a person with a display).
    fn can_open_urls(&self) -> bool {
        false
    }

    /// Called once when the flow ends normally, so a script can learn what it gave in vain.
    fn finish(&mut self) -> Vec<String> {
        Vec::new()
    }
}
