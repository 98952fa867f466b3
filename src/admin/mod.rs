//! Provider admin APIs: what an administrator's access to a provider can prove and do.
//!
//! Today this is Microsoft Entra ID through Microsoft Graph: who may call it ([`config`],
//! [`secret`], [`auth`]), the calls themselves with their retry rules ([`http`], [`graph`]), and
//! what the answers mean for keyward ([`methods`], [`policy`], [`register`]). The ledger gets
//! Graph's answers as evidence; secrets and tokens never leave [`secret`] and [`auth`].

pub mod auth;
pub mod cloud;
pub mod config;
pub mod graph;
pub mod http;
pub mod methods;
pub mod policy;
pub mod register;
pub mod secret;

use crate::error::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No tenant set up yet, or its secret is not where it should be.
    #[error("{0}")]
    NotConnected(String),
    /// The chosen cloud does not offer this call; nothing was sent.
    #[error("{cloud} does not offer {what} (Microsoft Graph v1.0 lists it for the global cloud only); nothing was sent")]
    CloudLacks { cloud: String, what: String },
    /// The OS credential store failed.
    #[error("the credential store: {0}")]
    Store(String),
    /// The sign-in service refused (wrong secret, no consent, expired sign-in).
    #[error("sign-in at {host} refused: {message}")]
    Auth { host: String, message: String },
    /// Graph answered with an error after any retries that were safe.
    #[error("Microsoft Graph {doing}: HTTP {status}{code}: {message}")]
    Graph {
        doing: String,
        status: u16,
        code: String,
        message: String,
    },
    /// No answer at all (network, TLS, timeout) after any retries that were safe.
    #[error("Microsoft Graph {doing}: no answer ({message})")]
    Transport { doing: String, message: String },
    /// An answer keyward does not understand.
    #[error("Microsoft Graph {doing}: unexpected answer ({message})")]
    Unexpected { doing: String, message: String },
    /// The tenant's policy or keyward's own safety rules refuse this; the message says why and
    /// what would change it.
    #[error("{0}")]
    Refused(String),
    /// The key already holds a passkey for this user (Graph's excludeCredentials).
    #[error("{0}")]
    AlreadyRegistered(String),
    /// The connection settings file is wrong.
    #[error("{0}")]
    Config(String),
}

impl AdminError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            AdminError::NotConnected(_) | AdminError::Store(_) => ExitCode::Environment,
            AdminError::CloudLacks { .. } => ExitCode::Unsupported,
            AdminError::Auth { .. }
            | AdminError::Graph { .. }
            | AdminError::Transport { .. }
            | AdminError::Unexpected { .. } => ExitCode::Provider,
            AdminError::Refused(_) => ExitCode::Refused,
            AdminError::AlreadyRegistered(_) => ExitCode::KeyState,
            AdminError::Config(_) => ExitCode::BadInput,
        }
    }
}

pub type Result<T, E = AdminError> = std::result::Result<T, E>;

/// Today's date and time as recorded with Graph's evidence (RFC 3339, UTC, seconds).
pub fn checked_at() -> String {
    let t = time::OffsetDateTime::now_utc();
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}
