//! The guided enrollment flow, as plain logic over a [`Prompter`].
//!
//! [`flow::Guide`] walks a person through it; [`TerminalPrompter`] asks a person at a
//! terminal, [`ScriptedPrompter`] reads an answers file keyed by stable prompt ids.
//! The ledger is the record of progress ([`Record`]), so an interrupted session resumes.

mod answers;
pub mod browser;
mod confirm;
pub mod flow;
mod keys;
mod methods;
mod prompt;
mod record;
mod replaced;
mod steps;
pub mod stop;
mod terminal;
mod verify;

pub use answers::{Answer, AnswersFile, ScriptedPrompter};
pub use confirm::{Listing, Looked, ProviderCheck};
pub use flow::{Guide, KeySource, Options, Outcome, StandIn};
pub use prompt::{Choice, Prompter, SecretKind};
pub use record::Record;
pub use terminal::TerminalPrompter;

use crate::error::ExitCode;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum GuideError {
    #[error("no terminal to ask on and no answers file; give one with --answers FILE")]
    NoPrompter,
    #[error("answers file {}{}: {message}", path.display(), place(at))]
    AnswersFile {
        path: PathBuf,
        /// Line and column of the offending entry, when there is one.
        at: Option<(usize, usize)>,
        message: String,
    },
    #[error("answers file {} has no answer for `{id}` ({question}); add `\"{id}\" = ...` with {expected}", path.display())]
    MissingAnswer {
        id: String,
        path: PathBuf,
        question: String,
        expected: String,
    },
    #[error("answers file {}{}: the answer for `{id}` is wrong: {message}", path.display(), place(at))]
    BadAnswer {
        id: String,
        path: PathBuf,
        at: Option<(usize, usize)>,
        message: String,
    },
    #[error("answers file {}{}: the answer for `{id}` cannot be used: {message}", path.display(), place(at))]
    RefusedAnswer {
        id: String,
        path: PathBuf,
        at: Option<(usize, usize)>,
        message: String,
    },
}

/// ", line N, column M" of an answer in its file, or nothing for built-in answers.
fn place(at: &Option<(usize, usize)>) -> String {
    at.map(|(line, column)| format!(", line {line}, column {column}"))
        .unwrap_or_default()
}

impl GuideError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            GuideError::NoPrompter => ExitCode::ConfirmationNeeded,
            GuideError::AnswersFile { .. }
            | GuideError::MissingAnswer { .. }
            | GuideError::BadAnswer { .. }
            | GuideError::RefusedAnswer { .. } => ExitCode::BadInput,
        }
    }
}

#[cfg(test)]
mod tests;
