//! `keyward key test`: a local WebAuthn ceremony with webauthn-rs-core as the relying party,
//! reported one check at a time.
//!
//! The ceremony registers a NON-discoverable credential (so no slot on the key is spent) with
//! user verification and direct attestation, then authenticates with it. Every check is
//! evaluated on its own where it can be, so a failure names the exact check; checks that cannot
//! run because an earlier step failed are reported as skipped, with why.

mod ceremony;
mod trust;

pub use ceremony::{run, PinOutcome};
pub use trust::TrustSources;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Passed, or could not be decided, with something the person must know.
    Warn,
    Fail,
    /// Not applicable to this key, or not possible after an earlier failure.
    Skipped,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skipped => "SKIP",
        }
    }
}

/// The checks, in the order they are reported. The ids are stable (scripts match on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    KeyAnswers,
    PinVerified,
    AttestationSignature,
    AttestationCertificate,
    AaguidMatchesCertificate,
    AttestationChainTrusted,
    AssertionSignature,
    Counter,
}

impl CheckId {
    pub const ALL: [CheckId; 8] = [
        CheckId::KeyAnswers,
        CheckId::PinVerified,
        CheckId::AttestationSignature,
        CheckId::AttestationCertificate,
        CheckId::AaguidMatchesCertificate,
        CheckId::AttestationChainTrusted,
        CheckId::AssertionSignature,
        CheckId::Counter,
    ];

    pub fn id(self) -> &'static str {
        match self {
            CheckId::KeyAnswers => "key_answers",
            CheckId::PinVerified => "pin_verified",
            CheckId::AttestationSignature => "attestation_signature",
            CheckId::AttestationCertificate => "attestation_certificate",
            CheckId::AaguidMatchesCertificate => "aaguid_matches_certificate",
            CheckId::AttestationChainTrusted => "attestation_chain_trusted",
            CheckId::AssertionSignature => "assertion_signature",
            CheckId::Counter => "counter",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            CheckId::KeyAnswers => "Key answers",
            CheckId::PinVerified => "PIN verified",
            CheckId::AttestationSignature => "Attestation signature valid",
            CheckId::AttestationCertificate => "Attestation certificate meets the FIDO profile",
            CheckId::AaguidMatchesCertificate => "AAGUID matches the certificate",
            CheckId::AttestationChainTrusted => "Attestation chain trusted",
            CheckId::AssertionSignature => "Sign-in (assertion) signature valid",
            CheckId::Counter => "Signature counter",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: CheckId,
    pub title: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do about a failure or warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// True when no check failed.
    pub ok: bool,
    pub checks: Vec<Check>,
    /// Who vouches for the key's attestation, when someone does.
    pub trusted_by: Option<String>,
    /// The maker and model as the trusted metadata names them.
    pub maker_confirmed: Option<String>,
    /// The key is software (a virtual key), never a security key.
    pub is_virtual: bool,
    /// What the key produced, as a browser would hand it to a website.
    pub webauthn: crate::webauthn_export::Ceremony,
}

impl Report {
    pub fn failed(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .collect()
    }

    pub fn check(&self, id: CheckId) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// Collects check results; a check set twice keeps the first failure.
#[derive(Default)]
struct Checks {
    items: Vec<Check>,
    webauthn: crate::webauthn_export::Ceremony,
}

impl Checks {
    fn set(&mut self, id: CheckId, status: Status, detail: impl Into<String>, fix: Option<&str>) {
        if let Some(existing) = self.items.iter_mut().find(|c| c.id == id) {
            if existing.status == Status::Fail {
                return;
            }
            existing.status = status;
            existing.detail = detail.into();
            existing.fix = fix.map(str::to_string);
            return;
        }
        self.items.push(Check {
            id,
            title: id.title(),
            status,
            detail: detail.into(),
            fix: fix.map(str::to_string),
        });
    }

    fn get(&self, id: CheckId) -> Option<Status> {
        self.items.iter().find(|c| c.id == id).map(|c| c.status)
    }

    /// Every check not yet decided is skipped, for `why`.
    fn skip_rest(&mut self, why: &str) {
        for id in CheckId::ALL {
            if self.get(id).is_none() {
                self.set(id, Status::Skipped, why, None);
            }
        }
    }

    fn take_sorted(&mut self) -> Vec<Check> {
        self.items.sort_by_key(|c| {
            CheckId::ALL
                .iter()
                .position(|x| *x == c.id)
                .unwrap_or(usize::MAX)
        });
        std::mem::take(&mut self.items)
    }
}
