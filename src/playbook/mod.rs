//! Provider playbooks: the model, the loader and the validator. (Issue: provider playbooks.)

use crate::error::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("no playbook with id `{0}`; `keyward playbooks list` shows them")]
    UnknownId(String),
}

impl PlaybookError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            PlaybookError::UnknownId(_) => ExitCode::BadInput,
        }
    }
}
