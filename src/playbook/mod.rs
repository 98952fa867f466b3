//! Provider playbooks: the model, the loader and the validator.
//!
//! A playbook is TOML data (`providers/*.toml`, format in `docs/playbooks.md`) saying what one
//! provider needs: key requirements, how enrollment is done and proven, which weaker sign-in
//! methods remain and how each goes. The built-in ones are compiled in; folders add to or
//! override them by id ([`Catalog::load_layers`]).

mod catalog;
mod method;
mod model;
mod validate;

pub use catalog::{duplicate_id_diagnostic, Catalog, Entry, Origin, BUILTIN};
pub use method::MethodKind;
pub use model::{
    Acceptance, Advice, Confidence, EnrollmentPath, Evidence, Expects, Fact, Hardening, KeyCount,
    Location, Note, Platform, Playbook, Precondition, Removable, Removal, Requirements, Rule,
    Source, Step, Verification, WeakerMethod,
};
pub use validate::{
    check_source, line_col, Checked, Diagnostic, Severity, ValidateOptions, DEFAULT_MAX_AGE_DAYS,
};

use crate::error::ExitCode;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PlaybookError {
    #[error("no playbook with id `{0}`; `keyward playbooks list` shows them")]
    UnknownId(String),
    /// One or more files are wrong; each finding names file, line and column.
    #[error("{}", render_invalid(diagnostics))]
    Invalid { diagnostics: Vec<Diagnostic> },
    #[error("cannot read playbooks at {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn render_invalid(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let mut s = format!(
        "{errors} error{} in playbooks (`keyward playbooks validate FILE` checks a file):",
        if errors == 1 { "" } else { "s" }
    );
    for d in diagnostics {
        s.push_str("\n  ");
        s.push_str(&d.to_string());
    }
    s
}

impl PlaybookError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            PlaybookError::UnknownId(_) => ExitCode::BadInput,
            PlaybookError::Invalid { .. } => ExitCode::BadInput,
            PlaybookError::Read { .. } => ExitCode::BadInput,
        }
    }
}
