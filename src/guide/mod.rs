//! The guided enrollment flow, as plain logic over a `Prompter`.

use crate::error::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum GuideError {
    #[error("no terminal to ask on and no answers file; give one with --answers FILE")]
    NoPrompter,
}

impl GuideError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            GuideError::NoPrompter => ExitCode::ConfirmationNeeded,
        }
    }
}
