use super::DeviceDescriptor;
use std::path::PathBuf;

/// Everything that can go wrong talking to a key, in words a person can act on.
///
/// No variant carries a PIN; messages never include one.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no security key found{}", diagnosis.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    NoKey { diagnosis: Option<String> },

    #[error("{} keys are present; choose one with --device (one of: {})", keys.len(), keys.iter().map(|k| k.spec.as_str()).collect::<Vec<_>>().join(", "))]
    SeveralKeys { keys: Vec<DeviceDescriptor> },

    #[error("no key at {spec}: {reason}")]
    NotFound { spec: String, reason: String },

    #[error("the key was unplugged or stopped answering during the command; plug it in and run the command again")]
    Disconnected,

    #[error("the key did not answer in time (no touch?); run the command again and touch the key when it blinks")]
    Timeout,

    #[error("wrong PIN{}", retries_left.map(|r| format!(" ({} left before the key locks)", crate::pin::attempts(r))).unwrap_or_default())]
    PinInvalid { retries_left: Option<u32> },

    #[error("the key refuses PIN attempts after 3 wrong PINs in a row; unplug it, plug it back in, then try again")]
    PinAuthBlocked,

    #[error("the PIN is blocked (no attempts left); the only way back is `keyward key reset`, which erases every credential on the key")]
    PinBlocked,

    #[error("this key has no PIN yet; set one with `keyward key pin set`")]
    PinNotSet,

    #[error("this operation needs the key's PIN")]
    PinRequired,

    #[error("the new PIN does not meet the key's policy: {reason}")]
    PinPolicyViolation { reason: String },

    #[error(
        "the key must have its PIN changed before it can be used; run `keyward key pin change`"
    )]
    PinChangeRequired,

    #[error("the request was declined on the key (touch refused or cancelled)")]
    OperationDenied,

    #[error("the key has no room for another discoverable credential; delete one with `keyward key credentials delete`")]
    KeyStoreFull,

    #[error("the key already holds a credential for this account (excluded credential)")]
    CredentialExcluded,

    #[error("the key refused: {reason}")]
    NotAllowed { reason: String },

    #[error("this key does not support {what}")]
    Unsupported { what: String },

    #[error("no credential on the key matches")]
    NoCredentials,

    #[error("the key answered with CTAP error 0x{code:02X} ({})", ctap_status_name(*code))]
    Ctap { code: u8 },

    #[error("{message}")]
    Environment { message: String },

    #[error("virtual key file {}: {message}", path.display())]
    VirtualState { path: PathBuf, message: String },

    #[error("talking to the key failed: {message}")]
    Transport { message: String },

    #[error("stopped while waiting for the key; the request was cancelled on the key")]
    Stopped,
}

impl DeviceError {
    /// A wrong PIN is more useful with how many attempts are left: ask the key when the error
    /// does not say.
    pub fn with_retries_from(self, key: &mut dyn super::Authenticator) -> DeviceError {
        match self {
            DeviceError::PinInvalid { retries_left: None } => DeviceError::PinInvalid {
                retries_left: key.pin_retries().ok().map(|r| r.retries),
            },
            other => other,
        }
    }

    /// Map a CTAP2 status byte to our error (see [`super::ctap2::CtapStatus`]).
    pub fn from_ctap_status(code: u8) -> DeviceError {
        super::ctap2::CtapStatus::error_from_byte(code)
    }
}

/// The CTAP2 name of a status byte, for messages.
pub fn ctap_status_name(code: u8) -> &'static str {
    super::ctap2::CtapStatus::from_byte(code)
        .map(|s| s.spec_name())
        .unwrap_or("unknown status")
}
