//! A user's methods as Graph lists them, in the playbook's weaker-method vocabulary.

use crate::admin::graph::perm;
use crate::playbook::MethodKind;
use serde::Serialize;
use serde_json::Value;

/// One method Graph reports for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GraphMethod {
    /// Graph's id of the method (fixed ids for phones).
    pub id: String,
    /// The Graph type without its namespace, e.g. `phoneAuthenticationMethod`.
    pub graph_type: String,
    /// What a person calls it: "Phone (mobile) +1 555…", "Passkey: YubiKey 5 NFC".
    pub label: String,
    /// The weaker methods it stands for (a mobile phone is both text and voice codes); empty
    /// for phishing-resistant methods.
    pub weaker: Vec<MethodKind>,
    /// Phishing-resistant: a passkey, Windows Hello for Business, a platform credential.
    pub strong: bool,
    /// The collection it is deleted from, when an administrator can delete it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collection: Option<&'static str>,
    /// The per-method permission deleting it needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_permission: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aaguid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// Fixed ids of phone methods (phoneauthenticationmethod-delete).
pub const PHONE_MOBILE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
pub const PHONE_ALTERNATE: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";

pub fn parse(v: &Value) -> GraphMethod {
    let s = |k: &str| v[k].as_str().map(str::to_string);
    let graph_type = v["@odata.type"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches("#microsoft.graph.")
        .to_string();
    let mut m = GraphMethod {
        id: s("id").unwrap_or_default(),
        graph_type: graph_type.clone(),
        label: String::new(),
        weaker: Vec::new(),
        strong: false,
        collection: None,
        delete_permission: None,
        aaguid: None,
        model: None,
        phone_type: None,
        created: s("createdDateTime"),
    };
    let named = |what: &str, name: Option<String>| match name {
        Some(n) if !n.is_empty() => format!("{what}: {n}"),
        _ => what.to_string(),
    };
    match graph_type.as_str() {
        "phoneAuthenticationMethod" => {
            let kind = s("phoneType").unwrap_or_else(|| "mobile".into());
            m.weaker = if kind == "mobile" {
                vec![MethodKind::Sms, MethodKind::Voice]
            } else {
                vec![MethodKind::Voice]
            };
            m.label = format!(
                "Phone ({kind}) {}",
                mask_phone(&s("phoneNumber").unwrap_or_default())
            )
            .trim_end()
            .to_string();
            m.phone_type = Some(kind);
            m.collection = Some("phoneMethods");
            m.delete_permission = Some(DELETE_PHONE);
        }
        "emailAuthenticationMethod" => {
            m.weaker = vec![MethodKind::EmailCode];
            m.label = named("Email", s("emailAddress"));
            m.collection = Some("emailMethods");
            m.delete_permission = Some(DELETE_EMAIL);
        }
        "microsoftAuthenticatorAuthenticationMethod" => {
            m.weaker = vec![MethodKind::Push];
            m.label = named("Microsoft Authenticator", s("displayName"));
            m.collection = Some("microsoftAuthenticatorMethods");
            m.delete_permission = Some(DELETE_AUTHENTICATOR);
        }
        "softwareOathAuthenticationMethod" => {
            m.weaker = vec![MethodKind::Totp];
            m.label = "Authenticator app codes (software OATH)".into();
            m.collection = Some("softwareOathMethods");
            m.delete_permission = Some(DELETE_SOFTWARE_OATH);
        }
        "hardwareOathAuthenticationMethod" => {
            m.weaker = vec![MethodKind::HardwareOath];
            m.label = "Hardware OATH token".into();
        }
        "temporaryAccessPassAuthenticationMethod" => {
            m.weaker = vec![MethodKind::TemporaryAccessPass];
            m.label = "Temporary Access Pass".into();
            m.collection = Some("temporaryAccessPassMethods");
            m.delete_permission = Some(DELETE_TAP);
        }
        "passwordAuthenticationMethod" => {
            m.weaker = vec![MethodKind::Password];
            m.label = "Password".into();
        }
        "fido2AuthenticationMethod" => {
            m.strong = true;
            m.model = s("model");
            m.aaguid = s("aaGuid");
            // A security key is what keyward is for; a synced passkey or one in Microsoft
            // Authenticator is another way in to keep track of.
            if s("passkeyType").as_deref() == Some("synced") {
                m.weaker = vec![MethodKind::SyncedPasskey];
            } else if in_authenticator(m.model.as_deref(), m.aaguid.as_deref()) {
                m.weaker = vec![MethodKind::OtherPasskey];
            }
            m.label = named("Passkey", s("displayName").or_else(|| s("model")));
            m.collection = Some("fido2Methods");
            m.delete_permission = Some(perm::PASSKEY_WRITE);
        }
        "windowsHelloForBusinessAuthenticationMethod" => {
            m.strong = true;
            m.weaker = vec![MethodKind::OtherPasskey];
            m.label = named("Windows Hello for Business", s("displayName"));
            m.collection = Some("windowsHelloForBusinessMethods");
            m.delete_permission = Some(DELETE_WINDOWS_HELLO);
        }
        "platformCredentialAuthenticationMethod" => {
            m.strong = true;
            m.weaker = vec![MethodKind::OtherPasskey];
            m.label = named("Platform credential", s("displayName"));
            m.collection = Some("platformCredentialMethods");
            m.delete_permission = Some(DELETE_PLATFORM_CRED);
        }
        "externalAuthenticationMethod" => {
            m.label = named("External method", s("displayName"));
        }
        other => {
            m.label = format!("Other method ({other})");
        }
    }
    m
}

/// Microsoft Authenticator's passkeys (iOS and Android AAGUIDs, or its model name).
fn in_authenticator(model: Option<&str>, aaguid: Option<&str>) -> bool {
    const AUTHENTICATOR: [&str; 2] = [
        "90a3ccdf-635c-4729-a248-9b709135078f",
        "de1e552d-db1d-4423-a619-566b625cdc84",
    ];
    model.is_some_and(|m| m.contains("Authenticator"))
        || aaguid.is_some_and(|a| AUTHENTICATOR.iter().any(|x| x.eq_ignore_ascii_case(a)))
}

/// Only the last digits of a phone number: enough to tell phones apart in a ticket.
fn mask_phone(n: &str) -> String {
    let digits: Vec<char> = n.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 4 {
        return String::new();
    }
    let tail: String = digits[digits.len() - 2..].iter().collect();
    format!("ending {tail}")
}

// The per-method permissions (GA October 2025) a DELETE of each method type needs: the least
// there is, instead of UserAuthenticationMethod.ReadWrite.All.
const DELETE_PHONE: &str = "UserAuthMethod-Phone.ReadWrite.All";
const DELETE_EMAIL: &str = "UserAuthMethod-Email.ReadWrite.All";
const DELETE_AUTHENTICATOR: &str = "UserAuthMethod-MicrosoftAuthApp.ReadWrite.All";
const DELETE_SOFTWARE_OATH: &str = "UserAuthMethod-SoftwareOATH.ReadWrite.All";
const DELETE_TAP: &str = "UserAuthMethod-TAP.ReadWrite.All";
const DELETE_WINDOWS_HELLO: &str = "UserAuthMethod-WindowsHello.ReadWrite.All";
const DELETE_PLATFORM_CRED: &str = "UserAuthMethod-PlatformCred.ReadWrite.All";

/// Every permission `entra remove` may need, one per method type it can delete.
pub const DELETE_PERMISSIONS: [&str; 8] = [
    DELETE_PHONE,
    DELETE_EMAIL,
    DELETE_AUTHENTICATOR,
    DELETE_SOFTWARE_OATH,
    DELETE_TAP,
    perm::PASSKEY_WRITE,
    DELETE_WINDOWS_HELLO,
    DELETE_PLATFORM_CRED,
];

/// The weaker methods Graph v1.0 can see at all: these can be recorded as gone when Graph
/// does not list them. Others (security questions, app passwords, hardware tokens in v1.0)
/// Graph cannot confirm either way.
pub const VISIBLE_TO_GRAPH: [MethodKind; 8] = [
    MethodKind::Sms,
    MethodKind::Voice,
    MethodKind::Push,
    MethodKind::Totp,
    MethodKind::EmailCode,
    MethodKind::TemporaryAccessPass,
    MethodKind::OtherPasskey,
    MethodKind::SyncedPasskey,
];

/// The start of every reason keyward records from what Microsoft Graph listed, so that the
/// help desk reads a state Graph observed as Graph's, not as something a person did.
pub const GRAPH_EVIDENCE: [&str; 2] = ["Microsoft Graph ", "deleted through Microsoft Graph"];

/// Whether a recorded reason is evidence read from Microsoft Graph.
pub fn is_graph_evidence(reason: &str) -> bool {
    GRAPH_EVIDENCE.iter().any(|p| reason.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_mobile_phone_is_text_and_voice_codes_and_its_number_is_masked() {
        let m = parse(
            &json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
            "id": PHONE_MOBILE, "phoneNumber": "+1 2065550123", "phoneType": "mobile"}),
        );
        assert_eq!(m.weaker, vec![MethodKind::Sms, MethodKind::Voice]);
        assert_eq!(m.label, "Phone (mobile) ending 23");
        assert_eq!(m.collection, Some("phoneMethods"));
        let office = parse(
            &json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
            "id": "e37fc753-ff3b-4958-9484-eaa9425c82bc", "phoneNumber": "+1 2065550199", "phoneType": "office"}),
        );
        assert_eq!(office.weaker, vec![MethodKind::Voice]);
    }

    #[test]
    fn passkeys_are_strong_and_passwords_cannot_be_deleted() {
        let p = parse(
            &json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
            "id": "x", "displayName": "Key A (YubiKey 5 NFC)", "aaGuid": "ee882879-721c-4913-9775-3dfcce97072a"}),
        );
        assert!(
            p.strong && p.weaker.is_empty(),
            "a security key is what keyward is for"
        );
        let synced = parse(
            &json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
            "id": "y", "passkeyType": "synced", "model": "iCloud Keychain"}),
        );
        assert_eq!(synced.weaker, vec![MethodKind::SyncedPasskey]);
        let app = parse(
            &json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
            "id": "z", "passkeyType": "deviceBound", "aaGuid": "90a3ccdf-635c-4729-a248-9b709135078f"}),
        );
        assert_eq!(app.weaker, vec![MethodKind::OtherPasskey]);
        assert!(app.strong);
        let pw = parse(
            &json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "28c10230-6103-485e-b985-444c60001490"}),
        );
        assert_eq!(pw.weaker, vec![MethodKind::Password]);
        assert!(pw.collection.is_none());
    }
}
