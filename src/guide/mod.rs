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
    #[error("answers file {}: {message}", path.display())]
    AnswersFile { path: PathBuf, message: String },
    #[error("answers file {} has no answer for `{id}` ({question}); add `\"{id}\" = ...` with {expected}", path.display())]
    MissingAnswer {
        id: String,
        path: PathBuf,
        question: String,
        expected: String,
    },
    #[error("answers file {}: the answer for `{id}` is wrong: {message}", path.display())]
    BadAnswer {
        id: String,
        path: PathBuf,
        message: String,
    },
    #[error("answers file {}{}: the answer for `{id}` cannot be used: {message}", path.display(), line.map(|l| format!(", line {l}")).unwrap_or_default())]
    RefusedAnswer {
        id: String,
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
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
