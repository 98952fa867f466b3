//! The crate's top-level error and the one mapping from errors to documented exit codes
//! (`docs/exit-codes.md`). Module errors stay in their modules; this is the only place that
//! decides what a script sees as `$?`.

use crate::device::DeviceError;
use crate::pin::PinInputError;
use serde::Serialize;

/// Documented process exit codes. Keep in step with `docs/exit-codes.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ExitCode {
    Ok = 0,
    Failure = 1,
    Usage = 2,
    NoKey = 3,
    SeveralKeys = 4,
    PinWrong = 5,
    PinBlockedUntilReplug = 6,
    PinBlocked = 7,
    Cancelled = 8,
    Unsupported = 9,
    Environment = 10,
    KeyLost = 11,
    BadInput = 12,
    Ledger = 13,
    ConfirmationNeeded = 14,
    CheckFailed = 15,
    KeyState = 16,
    Incomplete = 17,
    Provider = 18,
    Refused = 19,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    PinInput(#[from] PinInputError),
    #[error(transparent)]
    Playbook(#[from] crate::playbook::PlaybookError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    #[error(transparent)]
    Guide(#[from] crate::guide::GuideError),
    #[error(transparent)]
    Provision(#[from] crate::provision::ProvisionError),
    #[error(transparent)]
    Mds(#[from] crate::mds::MdsError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    /// A person (or a script without the override) declined.
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// Going on would need a person's explicit yes, and none can be given here.
    #[error("{0}")]
    ConfirmationNeeded(String),
    /// Bad command-line usage that clap cannot see (for example two flags that conflict in
    /// meaning).
    #[error("{0}")]
    Usage(String),
    /// A file given by the user is wrong: which file, which line, what to do.
    #[error("{0}")]
    BadInput(String),
    /// A check ran and reported failure (the report itself went to stdout).
    #[error("{0}")]
    CheckFailed(String),
    /// The command already printed its whole report on stdout (with `--json`, one document
    /// that says what failed); this only sets the exit code and a line on stderr.
    #[error("{message}")]
    Reported { code: ExitCode, message: String },
    /// The key is in a state that prevents the command (e.g. not fresh for provisioning).
    #[error("{0}")]
    KeyState(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// True when stdout already holds the command's full report, so no error document
    /// should follow it there.
    pub fn report_on_stdout(&self) -> bool {
        matches!(self, Error::CheckFailed(_) | Error::Reported { .. })
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Device(e) => device_exit_code(e),
            Error::PinInput(e) => match e {
                PinInputError::NoSource { .. } => ExitCode::ConfirmationNeeded,
                PinInputError::StdinExhausted { .. } => ExitCode::BadInput,
                PinInputError::Mismatch | PinInputError::Policy(_) => ExitCode::BadInput,
                PinInputError::Cancelled => ExitCode::Cancelled,
                PinInputError::Io(_) => ExitCode::Failure,
            },
            Error::Playbook(e) => e.exit_code(),
            Error::Ledger(e) => e.exit_code(),
            Error::Guide(e) => e.exit_code(),
            Error::Provision(e) => provision_exit_code(e),
            Error::Mds(e) if e.is_bad_input() => ExitCode::BadInput,
            Error::Mds(_) => ExitCode::Failure,
            Error::Catalog(_) => ExitCode::Failure,
            Error::Admin(e) => e.exit_code(),
            Error::Cancelled(_) => ExitCode::Cancelled,
            Error::ConfirmationNeeded(_) => ExitCode::ConfirmationNeeded,
            Error::Usage(_) => ExitCode::Usage,
            Error::BadInput(_) => ExitCode::BadInput,
            Error::CheckFailed(_) => ExitCode::CheckFailed,
            Error::Reported { code, .. } => *code,
            Error::KeyState(_) => ExitCode::KeyState,
            Error::Io { .. } => ExitCode::Failure,
        }
    }
}

pub fn device_exit_code(e: &DeviceError) -> ExitCode {
    use DeviceError as D;
    match e {
        D::NoKey { .. } | D::NotFound { .. } => ExitCode::NoKey,
        D::SeveralKeys { .. } => ExitCode::SeveralKeys,
        D::Disconnected | D::Timeout => ExitCode::KeyLost,
        D::PinInvalid { .. } => ExitCode::PinWrong,
        D::PinAuthBlocked => ExitCode::PinBlockedUntilReplug,
        D::PinBlocked => ExitCode::PinBlocked,
        D::PinNotSet | D::PinRequired | D::PinChangeRequired | D::KeyStoreFull => {
            ExitCode::KeyState
        }
        D::CredentialExcluded | D::NoCredentials | D::NotAllowed { .. } => ExitCode::KeyState,
        D::PinPolicyViolation { .. } => ExitCode::BadInput,
        D::OperationDenied | D::Stopped => ExitCode::Cancelled,
        D::Unsupported { .. } => ExitCode::Unsupported,
        D::Environment { .. } => ExitCode::Environment,
        D::VirtualState { .. } => ExitCode::BadInput,
        D::Ctap { .. } | D::Transport { .. } => ExitCode::Failure,
    }
}

pub fn provision_exit_code(e: &crate::provision::ProvisionError) -> ExitCode {
    use crate::provision::ProvisionError as P;
    match e {
        P::Read { .. } | P::Roster { .. } | P::Policy { .. } | P::Mailer { .. } => {
            ExitCode::BadInput
        }
        P::MailerStopped { .. } => ExitCode::Failure,
        P::NoPinDelivery => ExitCode::Usage,
        P::Random(_) => ExitCode::Environment,
        P::Incomplete { .. } => ExitCode::Incomplete,
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
