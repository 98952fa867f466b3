//! The ledger: people, accounts, keys, enrollments, weaker methods and the audit trail.

use crate::error::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {path}: {message}")]
    Damaged { path: String, message: String },
}

impl LedgerError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            LedgerError::Damaged { .. } => ExitCode::Ledger,
        }
    }
}
