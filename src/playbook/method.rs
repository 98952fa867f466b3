//! The one vocabulary of weaker sign-in methods shared by every playbook and the ledger.
//!
//! A playbook may only name methods from this list, so a report over many accounts can say
//! "12 accounts still accept SMS" without guessing that `text_message` and `sms` are the same.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    /// One-time codes by text message.
    Sms,
    /// One-time codes read out in a phone call.
    Voice,
    /// Authenticator-app codes (TOTP, software OATH).
    Totp,
    /// Codes from a hardware OATH token.
    HardwareOath,
    /// "Is it you?" prompts on a phone (Google prompts, Microsoft Authenticator).
    Push,
    /// One-time codes by email.
    EmailCode,
    /// Printed or saved single-use backup codes.
    BackupCodes,
    /// A single recovery code (Microsoft personal account).
    RecoveryCode,
    /// Per-app passwords that bypass the second step.
    AppPassword,
    SecurityQuestions,
    /// A phone number used to get back into the account.
    RecoveryPhone,
    /// An email address used to get back into the account.
    RecoveryEmail,
    /// A phone number that receives verification codes (Apple).
    TrustedPhone,
    /// A signed-in device that receives verification codes (Apple).
    TrustedDevice,
    /// A time-limited pass an administrator issues (Microsoft Entra).
    TemporaryAccessPass,
    /// The account password.
    Password,
}

impl MethodKind {
    pub const ALL: [MethodKind; 16] = [
        MethodKind::Sms,
        MethodKind::Voice,
        MethodKind::Totp,
        MethodKind::HardwareOath,
        MethodKind::Push,
        MethodKind::EmailCode,
        MethodKind::BackupCodes,
        MethodKind::RecoveryCode,
        MethodKind::AppPassword,
        MethodKind::SecurityQuestions,
        MethodKind::RecoveryPhone,
        MethodKind::RecoveryEmail,
        MethodKind::TrustedPhone,
        MethodKind::TrustedDevice,
        MethodKind::TemporaryAccessPass,
        MethodKind::Password,
    ];

    /// The id in playbooks, the ledger and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodKind::Sms => "sms",
            MethodKind::Voice => "voice",
            MethodKind::Totp => "totp",
            MethodKind::HardwareOath => "hardware_oath",
            MethodKind::Push => "push",
            MethodKind::EmailCode => "email_code",
            MethodKind::BackupCodes => "backup_codes",
            MethodKind::RecoveryCode => "recovery_code",
            MethodKind::AppPassword => "app_password",
            MethodKind::SecurityQuestions => "security_questions",
            MethodKind::RecoveryPhone => "recovery_phone",
            MethodKind::RecoveryEmail => "recovery_email",
            MethodKind::TrustedPhone => "trusted_phone",
            MethodKind::TrustedDevice => "trusted_device",
            MethodKind::TemporaryAccessPass => "temporary_access_pass",
            MethodKind::Password => "password",
        }
    }

    /// Generic name a person recognises.
    pub fn description(self) -> &'static str {
        match self {
            MethodKind::Sms => "Codes by text message (SMS)",
            MethodKind::Voice => "Codes by phone call",
            MethodKind::Totp => "Authenticator app codes",
            MethodKind::HardwareOath => "Hardware code token (OATH)",
            MethodKind::Push => "Sign-in prompts on a phone",
            MethodKind::EmailCode => "Codes by email",
            MethodKind::BackupCodes => "Backup codes",
            MethodKind::RecoveryCode => "Recovery code",
            MethodKind::AppPassword => "App passwords",
            MethodKind::SecurityQuestions => "Security questions",
            MethodKind::RecoveryPhone => "Recovery phone number",
            MethodKind::RecoveryEmail => "Recovery email address",
            MethodKind::TrustedPhone => "Trusted phone number",
            MethodKind::TrustedDevice => "Trusted devices",
            MethodKind::TemporaryAccessPass => "Temporary Access Pass",
            MethodKind::Password => "Password",
        }
    }
}

impl std::fmt::Display for MethodKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MethodKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MethodKind::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown weaker method `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_round_trips_through_its_id() {
        for m in MethodKind::ALL {
            assert_eq!(m.as_str().parse::<MethodKind>(), Ok(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.as_str()));
        }
    }
}
