//! Bulk provisioning: prepare many keys in one sitting and record which key went to whom.
//!
//! The [`roster`] says who gets keys, the [`policy`] how each key is prepared. The run
//! ([`run`]) waits for keys one after another ([`crate::device::KeyArrivals`]), prepares each
//! for the next open slot of the roster ([`station`]), delivers a random first PIN once
//! ([`mailer`] or the operator's terminal) and records the key in the ledger ([`journal`]) in
//! one transaction per slot. The ledger is what makes a run resumable: a slot whose label is
//! recorded against its person is done.

pub mod events;
pub mod journal;
pub mod mailer;
pub mod pin_gen;
pub mod policy;
pub mod roster;
pub mod run;
pub mod station;
#[cfg(test)]
mod tests;

pub use events::Event;
pub use journal::Journal;
pub use mailer::PinMailer;
pub use policy::{FirstPin, Policy};
pub use roster::{Roster, Slot};
pub use run::{Operator, PinDelivery, RunOptions, Summary};

use std::path::PathBuf;

/// Errors of a provisioning run as a whole. What goes wrong with one key is not an error of
/// the run: it becomes an [`Event`] and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("cannot read the {what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("roster {}, line {line}{}: {message}", path.display(), column.map(|c| format!(", column {c}")).unwrap_or_default())]
    Roster {
        path: PathBuf,
        line: u64,
        column: Option<usize>,
        message: String,
    },
    #[error("policy {}, line {line}{}: {message}", path.display(), column.map(|c| format!(", column {c}")).unwrap_or_default())]
    Policy {
        path: PathBuf,
        line: u64,
        column: Option<usize>,
        message: String,
    },
    #[error("PIN mailer {}: {message}", path.display())]
    Mailer { path: PathBuf, message: String },
    /// The mailer failed mid-run after the key for `label` got its PIN: the run stopped there.
    #[error("PIN mailer {}: {message}. The run stopped: the key for {label} got a PIN that is in no file and must be reset (`keyward key reset`) before use; {done} of {total} slot(s) done, {failed} failed, {pending} still to do; free the disk and run again with a new --pin-mailer file name", path.display())]
    MailerStopped {
        path: PathBuf,
        message: String,
        label: String,
        done: usize,
        failed: usize,
        pending: usize,
        total: usize,
    },
    /// Random first PINs must go somewhere only the operator sees.
    #[error("the policy makes random first PINs, and they can only be shown on a terminal or written to a PIN mailer; give --pin-mailer FILE (or run on a terminal)")]
    NoPinDelivery,
    #[error("could not make a random PIN: {0}")]
    Random(String),
    /// The run ended with slots not done; the events said which and why.
    #[error("{failed} slot(s) failed and {pending} are still waiting for a key ({done} of {total} done); run the same command again to continue")]
    Incomplete {
        done: usize,
        failed: usize,
        pending: usize,
        total: usize,
    },
}
