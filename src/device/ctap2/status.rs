//! CTAP status bytes (CTAP 2.1 §8.2), defined once with their spec names and mapped once into
//! [`DeviceError`]. The virtual key answers with the same enum, so host and key agree.

use crate::device::DeviceError;

macro_rules! statuses {
    ($($name:ident = $code:literal, $spec:literal;)*) => {
        /// A status byte an authenticator answers a CTAP2 command with.
        #[repr(u8)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum CtapStatus {
            $($name = $code,)*
        }

        impl CtapStatus {
            pub const ALL: &'static [CtapStatus] = &[$(CtapStatus::$name,)*];

            /// The name the specification gives it, e.g. `CTAP2_ERR_PIN_INVALID`.
            pub fn spec_name(self) -> &'static str {
                match self {
                    $(CtapStatus::$name => $spec,)*
                }
            }
        }
    };
}

statuses! {
    Ok = 0x00, "CTAP2_OK";
    InvalidCommand = 0x01, "CTAP1_ERR_INVALID_COMMAND";
    InvalidParameter = 0x02, "CTAP1_ERR_INVALID_PARAMETER";
    InvalidLength = 0x03, "CTAP1_ERR_INVALID_LENGTH";
    InvalidSeq = 0x04, "CTAP1_ERR_INVALID_SEQ";
    Timeout = 0x05, "CTAP1_ERR_TIMEOUT";
    ChannelBusy = 0x06, "CTAP1_ERR_CHANNEL_BUSY";
    LockRequired = 0x0A, "CTAP1_ERR_LOCK_REQUIRED";
    InvalidChannel = 0x0B, "CTAP1_ERR_INVALID_CHANNEL";
    CborUnexpectedType = 0x11, "CTAP2_ERR_CBOR_UNEXPECTED_TYPE";
    InvalidCbor = 0x12, "CTAP2_ERR_INVALID_CBOR";
    MissingParameter = 0x14, "CTAP2_ERR_MISSING_PARAMETER";
    LimitExceeded = 0x15, "CTAP2_ERR_LIMIT_EXCEEDED";
    FpDatabaseFull = 0x17, "CTAP2_ERR_FP_DATABASE_FULL";
    LargeBlobStorageFull = 0x18, "CTAP2_ERR_LARGE_BLOB_STORAGE_FULL";
    CredentialExcluded = 0x19, "CTAP2_ERR_CREDENTIAL_EXCLUDED";
    Processing = 0x21, "CTAP2_ERR_PROCESSING";
    InvalidCredential = 0x22, "CTAP2_ERR_INVALID_CREDENTIAL";
    UserActionPending = 0x23, "CTAP2_ERR_USER_ACTION_PENDING";
    OperationPending = 0x24, "CTAP2_ERR_OPERATION_PENDING";
    NoOperations = 0x25, "CTAP2_ERR_NO_OPERATIONS";
    UnsupportedAlgorithm = 0x26, "CTAP2_ERR_UNSUPPORTED_ALGORITHM";
    OperationDenied = 0x27, "CTAP2_ERR_OPERATION_DENIED";
    KeyStoreFull = 0x28, "CTAP2_ERR_KEY_STORE_FULL";
    UnsupportedOption = 0x2B, "CTAP2_ERR_UNSUPPORTED_OPTION";
    InvalidOption = 0x2C, "CTAP2_ERR_INVALID_OPTION";
    KeepaliveCancel = 0x2D, "CTAP2_ERR_KEEPALIVE_CANCEL";
    NoCredentials = 0x2E, "CTAP2_ERR_NO_CREDENTIALS";
    UserActionTimeout = 0x2F, "CTAP2_ERR_USER_ACTION_TIMEOUT";
    NotAllowed = 0x30, "CTAP2_ERR_NOT_ALLOWED";
    PinInvalid = 0x31, "CTAP2_ERR_PIN_INVALID";
    PinBlocked = 0x32, "CTAP2_ERR_PIN_BLOCKED";
    PinAuthInvalid = 0x33, "CTAP2_ERR_PIN_AUTH_INVALID";
    PinAuthBlocked = 0x34, "CTAP2_ERR_PIN_AUTH_BLOCKED";
    PinNotSet = 0x35, "CTAP2_ERR_PIN_NOT_SET";
    PuatRequired = 0x36, "CTAP2_ERR_PUAT_REQUIRED";
    PinPolicyViolation = 0x37, "CTAP2_ERR_PIN_POLICY_VIOLATION";
    PinTokenExpired = 0x38, "CTAP2_ERR_PIN_TOKEN_EXPIRED (reserved in 2.1)";
    RequestTooLarge = 0x39, "CTAP2_ERR_REQUEST_TOO_LARGE";
    ActionTimeout = 0x3A, "CTAP2_ERR_ACTION_TIMEOUT";
    UpRequired = 0x3B, "CTAP2_ERR_UP_REQUIRED";
    UvBlocked = 0x3C, "CTAP2_ERR_UV_BLOCKED";
    IntegrityFailure = 0x3D, "CTAP2_ERR_INTEGRITY_FAILURE";
    InvalidSubcommand = 0x3E, "CTAP2_ERR_INVALID_SUBCOMMAND";
    UvInvalid = 0x3F, "CTAP2_ERR_UV_INVALID";
    UnauthorizedPermission = 0x40, "CTAP2_ERR_UNAUTHORIZED_PERMISSION";
    Other = 0x7F, "CTAP1_ERR_OTHER";
}

impl CtapStatus {
    pub fn from_byte(code: u8) -> Option<CtapStatus> {
        CtapStatus::ALL.iter().copied().find(|s| *s as u8 == code)
    }

    /// What a status byte from a key means for the person, in one place for every key.
    pub fn error_from_byte(code: u8) -> DeviceError {
        match CtapStatus::from_byte(code) {
            Some(s) => s.into_error(),
            None => DeviceError::Ctap { code },
        }
    }

    pub fn into_error(self) -> DeviceError {
        use CtapStatus as S;
        match self {
            S::OperationDenied | S::KeepaliveCancel => DeviceError::OperationDenied,
            S::KeyStoreFull => DeviceError::KeyStoreFull,
            S::CredentialExcluded => DeviceError::CredentialExcluded,
            S::NoCredentials => DeviceError::NoCredentials,
            S::UserActionTimeout | S::ActionTimeout | S::Timeout => DeviceError::Timeout,
            S::NotAllowed => DeviceError::NotAllowed {
                reason:
                    "not allowed now (for a reset: only within 10 seconds of plugging the key in)"
                        .into(),
            },
            S::PinInvalid | S::PinAuthInvalid => DeviceError::PinInvalid { retries_left: None },
            S::PinBlocked => DeviceError::PinBlocked,
            S::PinAuthBlocked => DeviceError::PinAuthBlocked,
            S::PinNotSet => DeviceError::PinNotSet,
            S::PuatRequired => DeviceError::PinRequired,
            S::PinPolicyViolation => DeviceError::PinPolicyViolation {
                reason: "rejected by the key".into(),
            },
            // Reserved in 2.1; some 2.0 keys use it for "change the PIN first".
            S::PinTokenExpired => DeviceError::PinChangeRequired,
            S::InvalidCommand | S::UnsupportedOption | S::InvalidSubcommand => {
                DeviceError::Unsupported {
                    what: "this command".into(),
                }
            }
            other => DeviceError::Ctap { code: other as u8 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_byte() {
        for s in CtapStatus::ALL {
            assert_eq!(CtapStatus::from_byte(*s as u8), Some(*s));
        }
        assert_eq!(CtapStatus::from_byte(0x99), None);
    }

    #[test]
    fn statuses_a_person_can_act_on_become_their_own_errors() {
        assert!(matches!(
            CtapStatus::error_from_byte(0x31),
            DeviceError::PinInvalid { .. }
        ));
        assert!(matches!(
            CtapStatus::error_from_byte(0x34),
            DeviceError::PinAuthBlocked
        ));
        assert!(matches!(
            CtapStatus::error_from_byte(0x2F),
            DeviceError::Timeout
        ));
        assert!(matches!(
            CtapStatus::error_from_byte(0x7F),
            DeviceError::Ctap { code: 0x7F }
        ));
    }
}
