//! `ctap-hid-fido2` reports failures as `anyhow` strings. This is the one place that turns
//! them back into a CTAP status byte and then into our [`DeviceError`].

use super::super::DeviceError;

/// The CTAP2 status byte in one of the library's error messages, e.g.
/// `response_status err = 0x31 CTAP2_ERR_PIN_INVALID   PIN Invalid.` or, for statuses it has
/// no name for, `response_status err = 0xF`.
pub fn ctap_status_in(message: &str) -> Option<u8> {
    let rest = message.split("response_status err = ").nth(1)?;
    let hex = rest.strip_prefix("0x")?;
    let digits: String = hex.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    if digits.is_empty() || digits.len() > 2 {
        return None;
    }
    u8::from_str_radix(&digits, 16).ok()
}

/// Map any error from the library to ours.
pub fn from_library(e: impl std::fmt::Display) -> DeviceError {
    let message = format!("{e:#}");
    if let Some(code) = ctap_status_in(&message) {
        return DeviceError::from_ctap_status(code);
    }
    // Read and write failures are how an unplugged key shows up in the library.
    if message.starts_with("read err") || message.contains("write error") || message == "read error"
    {
        return DeviceError::Disconnected;
    }
    DeviceError::Transport { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Message shapes copied from ctap-hid-fido2 3.6.1 (ctaphid.rs `ctaphid_cbormsg` and
    // ctapdef.rs `get_ctap_status_message`).
    #[test]
    fn named_statuses_are_recovered() {
        let m = "response_status err = 0x31 CTAP2_ERR_PIN_INVALID   PIN Invalid.";
        assert_eq!(ctap_status_in(m), Some(0x31));
        let m = "response_status err = 0x34 CTAP2_ERR_PIN_AUTH_BLOCKED PIN authentication, pinAuth, blocked.Requires power recycle to reset.";
        assert_eq!(ctap_status_in(m), Some(0x34));
        let m =
            "response_status err = 0x28 CTAP2_ERR_KEY_STORE_FULL    Internal key storage is full.";
        assert_eq!(ctap_status_in(m), Some(0x28));
    }

    #[test]
    fn unnamed_statuses_without_padding_are_recovered() {
        assert_eq!(ctap_status_in("response_status err = 0xF"), Some(0x0F));
        assert_eq!(
            ctap_status_in("response_status err = 0x6A BioPass UnKnown Error."),
            Some(0x6A)
        );
    }

    #[test]
    fn u2f_and_other_messages_carry_no_ctap_status() {
        let m = "response_status err = SW_CONDITIONS_NOT_SATISFIED (0x6985): The request was rejected due to test-of-user-presence being required.";
        assert_eq!(ctap_status_in(m), None);
        assert_eq!(ctap_status_in("Failed to open device."), None);
        assert_eq!(ctap_status_in("response_status err = 0x12345"), None);
    }

    #[test]
    fn library_errors_become_our_errors() {
        assert!(matches!(
            from_library("response_status err = 0x31 CTAP2_ERR_PIN_INVALID   PIN Invalid."),
            DeviceError::PinInvalid { .. }
        ));
        assert!(matches!(
            from_library("response_status err = 0x32 CTAP2_ERR_PIN_BLOCKED PIN Blocked."),
            DeviceError::PinBlocked
        ));
        assert!(matches!(
            from_library("response_status err = 0x37 CTAP2_ERR_PIN_POLICY_VIOLATION  PIN policy violation.Currently only enforces minimum length."),
            DeviceError::PinPolicyViolation { .. }
        ));
        assert!(matches!(
            from_library("read err = 0xFE"),
            DeviceError::Disconnected
        ));
        assert!(matches!(
            from_library("write error"),
            DeviceError::Disconnected
        ));
        assert!(matches!(
            from_library("Nonce verification failed"),
            DeviceError::Transport { .. }
        ));
    }
}
