//! authenticatorCredentialManagement, CTAP 2.1 §6.8: 0x0A on keys that speak FIDO_2_1, the
//! prototype 0x41 on keys that only announce FIDO_2_1_PRE / credentialMgmtPreview.
//!
//! Reference: <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#authenticatorCredentialManagement>

use super::cbor::{encode, CborMap};
use crate::device::KeyInfo;
use serde_cbor_2::Value;

pub const COMMAND: u8 = 0x0A;
pub const COMMAND_PRERELEASE: u8 = 0x41;

/// Which command byte this key takes: the final one whenever it speaks CTAP 2.1, even when it
/// also announces the prototype (ctap-hid-fido2's default of "prototype for everyone" fails on
/// such keys, its issue #115).
pub fn command_for(info: &KeyInfo) -> Option<u8> {
    if info.supports_ctap21() && info.options.get("credMgmt") == Some(&true) {
        Some(COMMAND)
    } else if info.options.get("credentialMgmtPreview") == Some(&true)
        || (info.versions.iter().any(|v| v == "FIDO_2_1_PRE")
            && info.options.get("credMgmt") == Some(&true))
    {
        Some(COMMAND_PRERELEASE)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubCommand {
    GetCredsMetadata = 0x01,
    EnumerateRpsBegin = 0x02,
    EnumerateRpsGetNextRp = 0x03,
    EnumerateCredentialsBegin = 0x04,
    EnumerateCredentialsGetNextCredential = 0x05,
    DeleteCredential = 0x06,
    UpdateUserInformation = 0x07,
}

impl SubCommand {
    const ALL: [SubCommand; 7] = [
        SubCommand::GetCredsMetadata,
        SubCommand::EnumerateRpsBegin,
        SubCommand::EnumerateRpsGetNextRp,
        SubCommand::EnumerateCredentialsBegin,
        SubCommand::EnumerateCredentialsGetNextCredential,
        SubCommand::DeleteCredential,
        SubCommand::UpdateUserInformation,
    ];
    pub fn from_number(n: u64) -> Option<SubCommand> {
        SubCommand::ALL.into_iter().find(|s| *s as u64 == n)
    }
    /// The sub-commands that carry a pinUvAuthParam (the "next" ones ride on the begin's).
    pub fn needs_auth(self) -> bool {
        !matches!(
            self,
            SubCommand::EnumerateRpsGetNextRp | SubCommand::EnumerateCredentialsGetNextCredential
        )
    }
}

/// subCommandParams keys.
pub const PARAM_RP_ID_HASH: i64 = 0x01;
pub const PARAM_CREDENTIAL_ID: i64 = 0x02;
pub const PARAM_USER: i64 = 0x03;

pub use super::sub_command::SubCommandRequest as Request;

/// What pinUvAuthParam authenticates: subCommand || subCommandParams.
pub fn auth_message(sub_command: u8, params: Option<&CborMap>) -> Vec<u8> {
    let mut msg = vec![sub_command];
    if let Some(p) = params {
        msg.extend_from_slice(&encode(&Value::Map(p.clone())));
    }
    msg
}

/// Response keys (§6.8.2).
pub mod response {
    pub const EXISTING_COUNT: i64 = 0x01;
    pub const REMAINING_COUNT: i64 = 0x02;
    pub const RP: i64 = 0x03;
    pub const RP_ID_HASH: i64 = 0x04;
    pub const TOTAL_RPS: i64 = 0x05;
    pub const USER: i64 = 0x06;
    pub const CREDENTIAL_ID: i64 = 0x07;
    pub const PUBLIC_KEY: i64 = 0x08;
    pub const TOTAL_CREDENTIALS: i64 = 0x09;
    pub const CRED_PROTECT: i64 = 0x0A;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::ctap2::get_info::u2f_only_info;
    use crate::device::ctap2::int;

    #[test]
    fn final_command_whenever_the_key_speaks_ctap_2_1() {
        let mut yubikey_5_7 = u2f_only_info();
        yubikey_5_7.versions = vec!["FIDO_2_0".into(), "FIDO_2_1_PRE".into(), "FIDO_2_1".into()];
        yubikey_5_7.options.insert("credMgmt".into(), true);
        yubikey_5_7
            .options
            .insert("credentialMgmtPreview".into(), true);
        assert_eq!(command_for(&yubikey_5_7), Some(COMMAND));
        let mut yubikey_5_2 = u2f_only_info();
        yubikey_5_2.versions = vec!["FIDO_2_0".into(), "FIDO_2_1_PRE".into()];
        yubikey_5_2
            .options
            .insert("credentialMgmtPreview".into(), true);
        assert_eq!(command_for(&yubikey_5_2), Some(COMMAND_PRERELEASE));
        assert_eq!(command_for(&u2f_only_info()), None);
    }

    #[test]
    fn the_auth_message_is_the_sub_command_then_its_parameters() {
        let mut p = CborMap::new();
        p.insert(int(PARAM_RP_ID_HASH), Value::Bytes(vec![1; 32]));
        let msg = auth_message(SubCommand::EnumerateCredentialsBegin as u8, Some(&p));
        assert_eq!(msg[..4], [0x04, 0xA1, 0x01, 0x58]);
        assert_eq!(msg.len(), 1 + 1 + 1 + 2 + 32);
    }
}
