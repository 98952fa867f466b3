//! The passkey (FIDO2) method policy, and whether a given key can be registered under it.

use serde::Serialize;
use serde_json::Value;

/// What keyward knows about the key in hand.
#[derive(Debug, Clone, Default)]
pub struct KeyFacts {
    pub aaguid: Option<String>,
    /// The key sends attestation with a certificate (packed with x5c).
    pub attests: bool,
    /// Listed in the FIDO Metadata Service blob keyward has (None: no blob imported).
    pub in_metadata: Option<bool>,
}

/// The policy's settings that decide registration, from profiles or the deprecated fields.
#[derive(Debug, Clone, Serialize)]
pub struct Fido2Policy {
    pub enabled: bool,
    pub self_service: bool,
    /// "passkey profiles" when the tenant uses them, else "deprecated fields".
    pub source: &'static str,
    pub profile: Option<String>,
    pub attestation_required: bool,
    pub passkey_types: Option<String>,
    /// `allow` or `block`, when key restrictions are enforced.
    pub restriction: Option<String>,
    pub aaguids: Vec<String>,
    /// Other profiles some groups may be allowed instead of the default.
    pub other_profiles: Vec<String>,
}

/// One reason the key cannot be registered, in words, with the fix.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub why: String,
    pub fix: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub can_register: bool,
    pub problems: Vec<Problem>,
    /// What could not be decided (e.g. no metadata blob to check attestation against).
    pub unknown: Vec<String>,
}

impl Verdict {
    /// The refusal a command stops with: each reason with its fix.
    pub fn refusal(&self, what: &str) -> super::AdminError {
        super::AdminError::Refused(format!(
            "{what}: {}",
            self.problems
                .iter()
                .map(|p| format!("{}. Fix: {}", p.why, p.fix))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    }
}

const WHERE: &str =
    "Entra admin center › Entra ID › Authentication methods › Policies › Passkey (FIDO2)";

pub fn read(v: &Value) -> Fido2Policy {
    let profiles = v["passkeyProfiles"].as_array().cloned().unwrap_or_default();
    let enabled = v["state"].as_str() != Some("disabled");
    let self_service = v["isSelfServiceRegistrationAllowed"]
        .as_bool()
        .unwrap_or(false);
    if profiles.is_empty() {
        let kr = &v["keyRestrictions"];
        return Fido2Policy {
            enabled,
            self_service,
            source: "deprecated fields",
            profile: None,
            attestation_required: v["isAttestationEnforced"].as_bool().unwrap_or(false),
            passkey_types: None,
            restriction: restriction(kr),
            aaguids: strings(&kr["aaGuids"]),
            other_profiles: Vec::new(),
        };
    }
    let default_id = v["defaultPasskeyProfile"].as_str().unwrap_or("");
    let chosen = profiles
        .iter()
        .find(|p| p["id"].as_str() == Some(default_id))
        .unwrap_or(&profiles[0]);
    let kr = &chosen["keyRestrictions"];
    Fido2Policy {
        enabled,
        self_service,
        source: "passkey profiles",
        profile: chosen["name"].as_str().map(str::to_string),
        attestation_required: chosen["attestationEnforcement"].as_str() == Some("registrationOnly"),
        passkey_types: chosen["passkeyTypes"].as_str().map(str::to_string),
        restriction: restriction(kr),
        aaguids: strings(&kr["aaGuids"]),
        other_profiles: profiles
            .iter()
            .filter(|p| p["id"] != chosen["id"])
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect(),
    }
}

/// `allow` or `block` when key restrictions are enforced (fido2KeyRestrictions).
fn restriction(kr: &Value) -> Option<String> {
    kr["isEnforced"].as_bool().unwrap_or(false).then(|| {
        kr["enforcementType"]
            .as_str()
            .unwrap_or("allow")
            .to_string()
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str())
                .map(|s| s.to_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

/// Can this key be registered through Graph under this policy? Without a key, only the
/// tenant-wide conditions are judged.
pub fn judge(p: &Fido2Policy, key: Option<&KeyFacts>) -> Verdict {
    let mut problems = Vec::new();
    let mut unknown = Vec::new();
    if !p.enabled {
        problems.push(Problem {
            why: "the passkey (FIDO2) method is turned off in this tenant".into(),
            fix: format!("{WHERE}: Enable, and target the users or groups"),
        });
    }
    if !p.self_service {
        problems.push(Problem {
            why: "\"Allow self-service set up\" is off: Graph registers passkeys for users only when it is on (it also lets users add passkeys themselves)".into(),
            fix: format!("{WHERE} › Configure: Allow self-service set up = Yes"),
        });
    }
    if let Some(types) = &p.passkey_types {
        if !types.split(',').any(|t| t.trim() == "deviceBound") {
            problems.push(Problem {
                why: format!("the passkey profile \"{}\" allows only {types} passkeys; a security key holds a device-bound one", p.profile.clone().unwrap_or_default()),
                fix: format!("{WHERE} › the profile: add Device-bound to the passkey types"),
            });
        }
    }
    if let Some(k) = key {
        let aaguid = k.aaguid.as_deref().map(str::to_lowercase);
        match (p.restriction.as_deref(), aaguid.as_deref()) {
            (Some(_), None) => problems.push(Problem {
                why: "the policy restricts key models by AAGUID and this key reports none".into(),
                fix: "use a FIDO2 key that reports its AAGUID".into(),
            }),
            (Some("block"), Some(a)) if p.aaguids.iter().any(|x| x == a) => problems.push(Problem {
                why: format!("this key's model (AAGUID {a}) is on the policy's block list"),
                fix: format!("{WHERE} › key restrictions: remove {a} from the block list, or use another model"),
            }),
            (Some("allow"), Some(a)) if !p.aaguids.iter().any(|x| x == a) => problems.push(Problem {
                why: format!("this key's model (AAGUID {a}) is not on the policy's allow list"),
                fix: format!("{WHERE} › key restrictions: add {a} to the allow list, or use a listed model"),
            }),
            _ => {}
        }
        if p.attestation_required {
            if !k.attests {
                problems.push(Problem {
                    why: "the policy enforces attestation and this key sends none".into(),
                    fix: "use a FIDO Certified key that sends packed attestation, or turn off attestation enforcement".into(),
                });
            } else {
                match k.in_metadata {
                    Some(false) => problems.push(Problem {
                        why: "the policy enforces attestation and this key's model is not in the FIDO Metadata Service".into(),
                        fix: "use a FIDO Certified key listed in the Metadata Service, or turn off attestation enforcement".into(),
                    }),
                    None => unknown.push("attestation is enforced: whether the key is in the FIDO Metadata Service is unknown (import a blob with `keyward mds import`)".into()),
                    Some(true) => {}
                }
            }
        }
    } else if p.restriction.is_some() || p.attestation_required {
        unknown.push(
            "key restrictions or attestation apply: run with --for-key to judge the key in hand"
                .into(),
        );
    }
    Verdict {
        can_register: problems.is_empty(),
        problems,
        unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const YUBI: &str = "ee882879-721c-4913-9775-3dfcce97072a";

    fn key() -> KeyFacts {
        KeyFacts {
            aaguid: Some(YUBI.into()),
            attests: true,
            in_metadata: Some(true),
        }
    }

    #[test]
    fn profiles_decide_over_deprecated_fields() {
        let v = json!({"state": "enabled", "isSelfServiceRegistrationAllowed": true,
            "isAttestationEnforced": false,
            "keyRestrictions": {"isEnforced": false, "enforcementType": "allow", "aaGuids": []},
            "defaultPasskeyProfile": "p1",
            "passkeyProfiles": [{"id": "p1", "name": "Default", "attestationEnforcement": "registrationOnly",
                "passkeyTypes": "deviceBound", "keyRestrictions": {"isEnforced": true, "enforcementType": "allow", "aaGuids": ["00000000-0000-0000-0000-000000000001"]}}]});
        let p = read(&v);
        assert_eq!(p.source, "passkey profiles");
        let verdict = judge(&p, Some(&key()));
        assert!(!verdict.can_register);
        assert!(
            verdict.problems[0]
                .why
                .contains("not on the policy's allow list"),
            "{verdict:?}"
        );
    }

    #[test]
    fn self_service_off_is_refused_with_the_fix() {
        let p = read(&json!({"state": "enabled", "isSelfServiceRegistrationAllowed": false}));
        let v = judge(&p, None);
        assert!(!v.can_register);
        assert!(v.problems[0]
            .fix
            .contains("Allow self-service set up = Yes"));
    }

    #[test]
    fn a_blocked_model_and_a_synced_only_profile_are_named() {
        let p = read(
            &json!({"state": "enabled", "isSelfServiceRegistrationAllowed": true,
            "isAttestationEnforced": false,
            "keyRestrictions": {"isEnforced": true, "enforcementType": "block", "aaGuids": [YUBI.to_uppercase()]}}),
        );
        let v = judge(&p, Some(&key()));
        assert!(v.problems[0].why.contains("block list"));
        let synced = read(
            &json!({"state": "enabled", "isSelfServiceRegistrationAllowed": true,
            "defaultPasskeyProfile": "a", "passkeyProfiles": [{"id": "a", "name": "Phones", "attestationEnforcement": "disabled", "passkeyTypes": "synced"}]}),
        );
        assert!(judge(&synced, Some(&key())).problems[0]
            .why
            .contains("device-bound"));
        assert!(
            judge(
                &read(&json!({"state": "enabled", "isSelfServiceRegistrationAllowed": true})),
                Some(&key())
            )
            .can_register
        );
    }
}
