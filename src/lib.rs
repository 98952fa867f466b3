//! keyward: gets FIDO2 security keys into people's accounts and keeps an honest record of the
//! weaker sign-in methods still to disable.
//!
//! The binary is a thin shell over [`cli::run`]. The library is split the way the work is:
//! [`device`] (the one seam to hardware), [`playbook`] (what each provider needs),
//! [`ledger`] (the record), [`guide`] (the guided flow) and [`cli`] (commands and output).

pub mod admin;
pub mod catalog;
pub mod cli;
pub mod device;
pub mod error;
pub mod guide;
pub mod ledger;
pub mod mds;
pub mod pin;
pub mod playbook;
pub mod provision;
pub mod readiness;
pub mod redact;
pub mod selftest;
pub mod style;
pub mod temp_file;
pub mod webauthn_export;

pub use error::{Error, ExitCode, Result};
