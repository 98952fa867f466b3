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

    #[error("wrong PIN{}", retries_left.map(|r| format!(" ({r} attempts left before the key locks)")).unwrap_or_default())]
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

    /// Map a CTAP2 status byte to our error, in one place for both backends.
    pub fn from_ctap_status(code: u8) -> DeviceError {
        match code {
            0x27 => DeviceError::OperationDenied,
            0x28 => DeviceError::KeyStoreFull,
            0x19 => DeviceError::CredentialExcluded,
            0x2E => DeviceError::NoCredentials,
            0x2D => DeviceError::OperationDenied, // keepalive cancel
            0x2F | 0x3A => DeviceError::Timeout,  // action timeout / user action timeout
            0x30 => DeviceError::NotAllowed {
                reason:
                    "not allowed now (for a reset: only within 10 seconds of plugging the key in)"
                        .into(),
            },
            0x31 => DeviceError::PinInvalid { retries_left: None },
            0x32 => DeviceError::PinBlocked,
            0x33 => DeviceError::PinInvalid { retries_left: None }, // PIN_AUTH_INVALID
            0x34 => DeviceError::PinAuthBlocked,
            0x35 => DeviceError::PinNotSet,
            0x36 => DeviceError::PinRequired,
            0x37 => DeviceError::PinPolicyViolation {
                reason: "rejected by the key".into(),
            },
            0x38 => DeviceError::PinChangeRequired, // reserved in 2.1; some keys use it
            0x01 | 0x2B | 0x3E => DeviceError::Unsupported {
                what: "this command".into(),
            },
            _ => DeviceError::Ctap { code },
        }
    }
}

/// The CTAP2 name of a status byte, for messages.
pub fn ctap_status_name(code: u8) -> &'static str {
    match code {
        0x00 => "CTAP2_OK",
        0x01 => "CTAP1_ERR_INVALID_COMMAND",
        0x02 => "CTAP1_ERR_INVALID_PARAMETER",
        0x03 => "CTAP1_ERR_INVALID_LENGTH",
        0x05 => "CTAP1_ERR_TIMEOUT",
        0x06 => "CTAP1_ERR_CHANNEL_BUSY",
        0x11 => "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
        0x12 => "CTAP2_ERR_INVALID_CBOR",
        0x14 => "CTAP2_ERR_MISSING_PARAMETER",
        0x15 => "CTAP2_ERR_LIMIT_EXCEEDED",
        0x19 => "CTAP2_ERR_CREDENTIAL_EXCLUDED",
        0x21 => "CTAP2_ERR_PROCESSING",
        0x22 => "CTAP2_ERR_INVALID_CREDENTIAL",
        0x23 => "CTAP2_ERR_USER_ACTION_PENDING",
        0x24 => "CTAP2_ERR_OPERATION_PENDING",
        0x25 => "CTAP2_ERR_NO_OPERATIONS",
        0x26 => "CTAP2_ERR_UNSUPPORTED_ALGORITHM",
        0x27 => "CTAP2_ERR_OPERATION_DENIED",
        0x28 => "CTAP2_ERR_KEY_STORE_FULL",
        0x2B => "CTAP2_ERR_UNSUPPORTED_OPTION",
        0x2C => "CTAP2_ERR_INVALID_OPTION",
        0x2D => "CTAP2_ERR_KEEPALIVE_CANCEL",
        0x2E => "CTAP2_ERR_NO_CREDENTIALS",
        0x2F => "CTAP2_ERR_USER_ACTION_TIMEOUT",
        0x30 => "CTAP2_ERR_NOT_ALLOWED",
        0x31 => "CTAP2_ERR_PIN_INVALID",
        0x32 => "CTAP2_ERR_PIN_BLOCKED",
        0x33 => "CTAP2_ERR_PIN_AUTH_INVALID",
        0x34 => "CTAP2_ERR_PIN_AUTH_BLOCKED",
        0x35 => "CTAP2_ERR_PIN_NOT_SET",
        0x36 => "CTAP2_ERR_PUAT_REQUIRED",
        0x37 => "CTAP2_ERR_PIN_POLICY_VIOLATION",
        0x39 => "CTAP2_ERR_REQUEST_TOO_LARGE",
        0x3A => "CTAP2_ERR_ACTION_TIMEOUT",
        0x3B => "CTAP2_ERR_UP_REQUIRED",
        0x3C => "CTAP2_ERR_UV_BLOCKED",
        0x3D => "CTAP2_ERR_INTEGRITY_FAILURE",
        0x3E => "CTAP2_ERR_INVALID_SUBCOMMAND",
        0x3F => "CTAP2_ERR_UV_INVALID",
        0x40 => "CTAP2_ERR_UNAUTHORIZED_PERMISSION",
        0x7F => "CTAP1_ERR_OTHER",
        _ => "unknown status",
    }
}
