//! Readiness: does this key meet a provider's requirements? Evaluated against the playbook's
//! requirements *as data* (`providers/*.toml`), never against rules written here, so a playbook
//! change changes the verdict. Used by `keyward key check` and by the guided enrollment.

use crate::catalog::Model;
use crate::device::KeyInfo;
use crate::mds::{self, MdsError};
use crate::playbook::{Confidence, Playbook};
use serde::Serialize;

/// What is known about one key, gathered once and evaluated against every playbook.
#[derive(Debug, Clone)]
pub struct KeyFacts<'a> {
    pub info: &'a KeyInfo,
    /// The catalog entry for the key's AAGUID.
    pub model: Option<&'a Model>,
    /// Certification according to metadata signed by the FIDO Alliance: `None` when no such
    /// metadata lists the key (test metadata never counts).
    pub metadata_certified: Option<bool>,
    /// PIN attempts left, when known (0: the PIN is blocked).
    pub pin_retries: Option<u32>,
    /// A virtual key: software, never a security key, never certified.
    pub is_virtual: bool,
    /// How many keys the person has for the account, this one included.
    pub keys_available: u32,
}

impl<'a> KeyFacts<'a> {
    /// Facts from getInfo alone; add `model`, `metadata_certified` and `pin_retries` when
    /// known (a missing one only makes the verdict more cautious).
    pub fn new(info: &'a KeyInfo, is_virtual: bool, keys_available: u32) -> KeyFacts<'a> {
        KeyFacts {
            info,
            model: None,
            metadata_certified: None,
            pin_retries: None,
            is_virtual,
            keys_available,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the person to know; does not stop enrollment.
    Note,
    /// Must be done before enrollment, and can be done (set a PIN, free a slot, bring a
    /// second key).
    Action,
    /// This key cannot meet the requirement: use another key.
    Blocker,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The requirement in the playbook: keys, fido2, u2f, user_verification, discoverable,
    /// fido_certified, precondition.
    pub requirement: &'static str,
    pub severity: Severity,
    /// What is wrong with this key, in plain words.
    pub problem: String,
    /// The playbook's reason for the requirement.
    pub reason: String,
    pub fix: String,
    /// Set when the playbook marks the requirement as not certain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_certain: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    Ready,
    /// Fixable: every finding is an action the person can take.
    NotReady,
    /// This key can never meet the playbook: another key is needed.
    Unsuitable,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub playbook: String,
    pub provider: String,
    pub readiness: Readiness,
    pub ready: bool,
    pub findings: Vec<Finding>,
}

impl Verdict {
    pub fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.severity > Severity::Note)
    }
}

/// FIDO certification of the model with this AAGUID according to the imported metadata, only
/// when that metadata is signed by the FIDO Alliance (`None`: no such metadata, test metadata,
/// or the model is not listed).
pub fn metadata_certified(aaguid: Option<uuid::Uuid>) -> Result<Option<bool>, MdsError> {
    Ok(mds::load()?.and_then(|md| certified_in(&md, aaguid)))
}

/// As [`metadata_certified`], for metadata already loaded.
pub fn certified_in(md: &mds::Metadata, aaguid: Option<uuid::Uuid>) -> Option<bool> {
    if !md.anchor.is_fido() {
        return None;
    }
    aaguid.and_then(|a| md.entry(&a)).map(|e| e.is_certified())
}

fn uncertain(confidence: Option<Confidence>, note: &Option<String>) -> Option<String> {
    match (confidence, note) {
        (_, Some(n)) => Some(n.clone()),
        (Some(Confidence::Uncertain), None) => Some("the provider's rule is not certain".into()),
        _ => None,
    }
}

/// Evaluate one key against one playbook.
pub fn check(key: &KeyFacts, playbook: &Playbook) -> Verdict {
    let req = &playbook.requirements;
    let info = key.info;
    let mut findings = Vec::new();
    let mut add = |requirement, severity, problem: String, reason: &str, fix: &str, nc| {
        findings.push(Finding {
            requirement,
            severity,
            problem,
            reason: reason.to_string(),
            fix: fix.to_string(),
            not_certain: nc,
        })
    };

    let fido2 = info.supports_fido2();
    // A U2F-only key that the provider accepts can only take the second-step path, where the
    // FIDO2 requirements (PIN, discoverable) do not apply.
    let u2f_path = !fido2 && info.supports_u2f();
    if fido2 && !req.fido2.acceptable {
        add(
            "fido2",
            Severity::Blocker,
            "this is a FIDO2 key, which this provider does not accept".into(),
            &req.fido2.reason,
            "use a key of a kind the provider accepts",
            uncertain(req.fido2.confidence, &req.fido2.not_certain),
        );
    }
    if u2f_path {
        if req.u2f.acceptable {
            add(
                "u2f",
                Severity::Note,
                "this key speaks only U2F: it can be added only as a second step, which keyward \
                 cannot check on the key"
                    .into(),
                &req.u2f.reason,
                "prefer a FIDO2 key, which can hold a passkey",
                uncertain(req.u2f.confidence, &req.u2f.not_certain),
            );
        } else {
            add(
                "u2f",
                Severity::Blocker,
                "this key speaks only U2F (no FIDO2, no PIN, no passkeys)".into(),
                &req.u2f.reason,
                "use a FIDO2 security key",
                uncertain(req.u2f.confidence, &req.u2f.not_certain),
            );
        }
    }

    if fido2 && req.user_verification.required {
        let rule = &req.user_verification;
        let nc = uncertain(rule.confidence, &rule.not_certain);
        match info.pin_is_set() {
            None => add(
                "user_verification",
                Severity::Blocker,
                "this key cannot verify its user (no PIN support)".into(),
                &rule.reason,
                "use a key that supports a PIN",
                nc,
            ),
            Some(false) => add(
                "user_verification",
                Severity::Action,
                "the key has no PIN yet".into(),
                &rule.reason,
                "set a PIN: `keyward key pin set`",
                nc,
            ),
            Some(true) if key.pin_retries == Some(0) => add(
                "user_verification",
                Severity::Action,
                "the key's PIN is blocked".into(),
                &rule.reason,
                "reset the key (`keyward key reset`, which erases it) and set a new PIN",
                nc,
            ),
            Some(true) if info.force_pin_change => add(
                "user_verification",
                Severity::Action,
                "the key demands a new PIN before its next use".into(),
                &rule.reason,
                "change the PIN: `keyward key pin change`",
                nc,
            ),
            Some(true) => {}
        }
    }

    if fido2 && req.discoverable.required {
        let rule = &req.discoverable;
        let nc = uncertain(rule.confidence, &rule.not_certain);
        if !info.supports_discoverable() {
            add(
                "discoverable",
                Severity::Blocker,
                "this key cannot store passkeys (discoverable credentials)".into(),
                &rule.reason,
                "use a key that can store passkeys",
                nc,
            );
        } else if info.remaining_discoverable_credentials == Some(0) {
            let fix = if info.supports_credential_management() {
                "free a slot: list the passkeys with `keyward key credentials list` and delete one \
                 that is no longer used with `keyward key credentials delete ID`"
            } else {
                "this key cannot delete single passkeys: use another key, or reset this one \
                 (which erases every passkey on it)"
            };
            add(
                "discoverable",
                Severity::Action,
                "the key has no free slot for another passkey".into(),
                &rule.reason,
                fix,
                nc,
            );
        }
    }

    if req.fido_certified.required {
        let rule = &req.fido_certified;
        let nc = uncertain(rule.confidence, &rule.not_certain);
        let certified_by_catalog = key.model.map(|m| m.certification.is_certified());
        if key.is_virtual {
            add(
                "fido_certified",
                Severity::Blocker,
                "a virtual key is software, not a security key, and is never FIDO Certified".into(),
                &rule.reason,
                "use a FIDO Certified security key",
                nc,
            );
        } else if key.metadata_certified == Some(true) || certified_by_catalog == Some(true) {
            // Certified: by FIDO-signed metadata or by the catalog's sourced entry.
        } else if key.metadata_certified == Some(false) {
            add(
                "fido_certified",
                Severity::Blocker,
                "the FIDO metadata says this model is not FIDO Certified".into(),
                &rule.reason,
                "use a FIDO Certified security key",
                nc,
            );
        } else {
            add(
                "fido_certified",
                Severity::Blocker,
                "keyward cannot confirm this model is FIDO Certified".into(),
                &rule.reason,
                "use a key listed as FIDO Certified, or import the FIDO metadata \
                 (`keyward mds import FILE`) so keyward can confirm this one",
                nc,
            );
        }
    }

    let keys = &req.keys;
    // A verified count can still carry a doubt about another part (e.g. the maximum): show it
    // only when the count itself is in doubt.
    let nc = match keys.confidence {
        Some(Confidence::Verified) => None,
        c => uncertain(c, &keys.not_certain),
    };
    if key.keys_available < keys.min {
        add(
            "keys",
            Severity::Action,
            format!(
                "{} needs at least {} keys; {} {} available",
                playbook.name,
                keys.min,
                key.keys_available,
                if key.keys_available == 1 { "is" } else { "are" }
            ),
            &keys.reason,
            &format!(
                "bring {} more key(s) that also pass this check",
                keys.min - key.keys_available
            ),
            nc.clone(),
        );
    } else if key.keys_available < keys.recommended {
        add(
            "keys",
            Severity::Note,
            format!("{} keys are recommended", keys.recommended),
            &keys.reason,
            "enroll a second key and keep it somewhere else",
            nc.clone(),
        );
    }
    if let Some(max) = keys.max {
        if key.keys_available > max {
            add(
                "keys",
                Severity::Note,
                format!("the provider accepts at most {max} keys"),
                &keys.reason,
                "enroll only the keys the person will keep",
                nc,
            );
        }
    }
    for p in &req.preconditions {
        add(
            "precondition",
            Severity::Note,
            format!("also needed (keyward cannot check this): {}", p.text),
            "",
            "check it before you start",
            uncertain(p.confidence, &p.not_certain),
        );
    }

    let worst = findings.iter().map(|f| f.severity).max();
    let readiness = match worst {
        Some(Severity::Blocker) => Readiness::Unsuitable,
        Some(Severity::Action) => Readiness::NotReady,
        _ => Readiness::Ready,
    };
    Verdict {
        playbook: playbook.id.clone(),
        provider: playbook.name.clone(),
        readiness,
        ready: readiness == Readiness::Ready,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::Catalog as Playbooks;
    use std::collections::BTreeMap;

    fn fido2_key(pin: Option<bool>, slots: Option<u32>) -> KeyInfo {
        let mut options = BTreeMap::new();
        options.insert("rk".to_string(), true);
        if let Some(p) = pin {
            options.insert("clientPin".to_string(), p);
        }
        options.insert("credMgmt".to_string(), true);
        KeyInfo {
            versions: vec!["U2F_V2".into(), "FIDO_2_0".into(), "FIDO_2_1".into()],
            aaguid: None,
            options,
            extensions: vec![],
            pin_uv_protocols: vec![2, 1],
            min_pin_length: 4,
            force_pin_change: false,
            firmware_version: None,
            remaining_discoverable_credentials: slots,
            transports: vec!["usb".into()],
            algorithms: vec![-7],
        }
    }

    fn u2f_key() -> KeyInfo {
        KeyInfo {
            versions: vec!["U2F_V2".into()],
            options: BTreeMap::new(),
            remaining_discoverable_credentials: None,
            ..fido2_key(None, None)
        }
    }

    fn verdict(info: &KeyInfo, id: &str, keys: u32, is_virtual: bool) -> Verdict {
        let playbooks = Playbooks::load(None).expect("shipped playbooks load");
        let facts = KeyFacts {
            info,
            model: None,
            metadata_certified: None,
            pin_retries: Some(8),
            is_virtual,
            keys_available: keys,
        };
        check(&facts, playbooks.get(id).expect("playbook exists"))
    }

    fn has(v: &Verdict, requirement: &str, severity: Severity) -> bool {
        v.findings
            .iter()
            .any(|f| f.requirement == requirement && f.severity == severity)
    }

    #[test]
    fn key_with_pin_is_ready_for_entra() {
        let v = verdict(&fido2_key(Some(true), Some(25)), "microsoft-entra", 1, true);
        assert_eq!(v.readiness, Readiness::Ready, "{v:#?}");
    }

    #[test]
    fn key_without_pin_needs_one_for_entra() {
        let v = verdict(
            &fido2_key(Some(false), Some(25)),
            "microsoft-entra",
            1,
            true,
        );
        assert_eq!(v.readiness, Readiness::NotReady);
        let f = v
            .findings
            .iter()
            .find(|f| f.requirement == "user_verification")
            .unwrap();
        assert!(f.fix.contains("keyward key pin set"), "{}", f.fix);
    }

    #[test]
    fn u2f_only_key_is_unsuitable_for_entra_but_usable_for_google() {
        let v = verdict(&u2f_key(), "microsoft-entra", 1, true);
        assert_eq!(v.readiness, Readiness::Unsuitable);
        assert!(has(&v, "u2f", Severity::Blocker));
        let g = verdict(&u2f_key(), "google", 1, true);
        assert_eq!(g.readiness, Readiness::Ready, "{g:#?}");
        assert!(has(&g, "u2f", Severity::Note));
    }

    #[test]
    fn one_key_is_not_enough_for_apple() {
        let v = verdict(&fido2_key(Some(true), Some(25)), "apple", 1, false);
        assert!(has(&v, "keys", Severity::Action), "{v:#?}");
        assert!(!v.ready);
    }

    #[test]
    fn virtual_key_is_never_certified_for_apple() {
        let v = verdict(&fido2_key(Some(true), Some(25)), "apple", 2, true);
        assert!(has(&v, "fido_certified", Severity::Blocker));
        assert!(!has(&v, "keys", Severity::Action));
    }

    #[test]
    fn full_key_must_free_a_slot() {
        let v = verdict(&fido2_key(Some(true), Some(0)), "microsoft-entra", 1, true);
        assert_eq!(v.readiness, Readiness::NotReady);
        let f = v
            .findings
            .iter()
            .find(|f| f.requirement == "discoverable")
            .unwrap();
        assert!(f.fix.contains("credentials delete"), "{}", f.fix);
    }

    #[test]
    fn only_fido_signed_metadata_proves_certification() {
        let aaguid: uuid::Uuid = "2fc0579f-8113-47ea-b116-bb5a8db9202a".parse().unwrap();
        let mut md = mds::Metadata {
            anchor: mds::Anchor::FidoAlliance,
            serial: 1,
            next_update: "2099-01-01".into(),
            imported_at: String::new(),
            entries: vec![mds::Entry {
                aaguid: Some(aaguid),
                description: "Model".into(),
                roots: vec![],
                status_reports: vec![mds::StatusReport {
                    status: "FIDO_CERTIFIED_L1".into(),
                    effective_date: Some("2024-01-01".into()),
                }],
            }],
            skipped: vec![],
        };
        assert_eq!(certified_in(&md, Some(aaguid)), Some(true));
        assert_eq!(certified_in(&md, None), None);
        md.anchor = mds::Anchor::TestRoot {
            subject: "CN=test".into(),
            certificate: String::new(),
        };
        assert_eq!(certified_in(&md, Some(aaguid)), None);
    }

    #[test]
    fn the_verdict_follows_the_data_not_the_code() {
        let playbooks = Playbooks::load(None).unwrap();
        let mut pb = playbooks.get("microsoft-entra").unwrap().clone();
        pb.requirements.u2f.acceptable = true;
        let info = u2f_key();
        let facts = KeyFacts {
            info: &info,
            model: None,
            metadata_certified: None,
            pin_retries: None,
            is_virtual: true,
            keys_available: 1,
        };
        assert_eq!(check(&facts, &pb).readiness, Readiness::Ready);
    }
}
