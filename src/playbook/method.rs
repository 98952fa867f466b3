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
    /// People the account owner named to vouch for them during recovery (Google, Apple).
    RecoveryContact,
    /// Signing in to a new Android phone with only the phone number, confirmed with the old
    /// phone's screen lock (Google).
    MobileNumberSignIn,
    /// Passkeys on phones, computers or authenticator apps, bound to that device: strong,
    /// but each is one more way in to keep track of.
    OtherPasskey,
    /// Passkeys synced through a password manager (Apple Passwords / iCloud Keychain,
    /// Google Password Manager): only as safe as the account that syncs them.
    SyncedPasskey,
    /// Getting back in through the trusted phone number after a waiting period (Apple).
    AccountRecovery,
    /// The mobile carrier account behind a phone number that still receives codes or
    /// recovery messages: whoever controls it can move the number (SIM swap, port-out).
    CarrierAccount,
}

impl MethodKind {
    pub const ALL: [MethodKind; 22] = [
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
        MethodKind::RecoveryContact,
        MethodKind::MobileNumberSignIn,
        MethodKind::OtherPasskey,
        MethodKind::SyncedPasskey,
        MethodKind::AccountRecovery,
        MethodKind::CarrierAccount,
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
            MethodKind::RecoveryContact => "recovery_contact",
            MethodKind::MobileNumberSignIn => "mobile_number_sign_in",
            MethodKind::OtherPasskey => "other_passkey",
            MethodKind::SyncedPasskey => "synced_passkey",
            MethodKind::AccountRecovery => "account_recovery",
            MethodKind::CarrierAccount => "carrier_account",
        }
    }

    /// Generic name a person recognises.
    pub fn description(self) -> &'static str {
        match self {
            MethodKind::Sms => "Codes by text message (SMS)",
            MethodKind::Voice => "Codes by phone call",
            MethodKind::Totp => "Authenticator app codes",
            MethodKind::HardwareOath => "Hardware code token",
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
            MethodKind::RecoveryContact => "Recovery contacts",
            MethodKind::MobileNumberSignIn => "Sign in with your mobile number",
            MethodKind::OtherPasskey => "Other passkeys on the account",
            MethodKind::SyncedPasskey => "Synced passkeys in a password manager",
            MethodKind::AccountRecovery => "Account recovery by phone number",
            MethodKind::CarrierAccount => "Your mobile carrier account",
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
