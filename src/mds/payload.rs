//! The parts of an MDS3 payload keyward uses. Deliberately tolerant of fields it does not know:
//! the FIDO Alliance adds fields over time, and a verified blob must not be refused for that
//! (`fido-mds` denies unknown fields, which is why it is not used for parsing here).

use super::MdsError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use crypto_glue::traits::DecodeDer;
use crypto_glue::x509::Certificate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPayload {
    no: u64,
    next_update: String,
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    aaguid: Option<String>,
    metadata_statement: RawStatement,
    #[serde(default)]
    status_reports: Vec<StatusReport>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatement {
    description: String,
    #[serde(default)]
    attestation_root_certificates: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub status: String,
    #[serde(default)]
    pub effective_date: Option<String>,
}

/// One authenticator model in the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub aaguid: Option<Uuid>,
    pub description: String,
    /// DER attestation roots for this model.
    #[serde(skip)]
    pub roots: Vec<Vec<u8>>,
    pub status_reports: Vec<StatusReport>,
}

/// Statuses that mean: do not trust keys of this model.
const DISTRUST: &[&str] = &[
    "REVOKED",
    "ATTESTATION_KEY_COMPROMISE",
    "USER_KEY_REMOTE_COMPROMISE",
    "USER_KEY_PHYSICAL_COMPROMISE",
    "USER_VERIFICATION_BYPASS",
];

impl Entry {
    /// The most recent certification status, e.g. "FIDO_CERTIFIED_L2".
    pub fn certification(&self) -> Option<&str> {
        self.status_reports
            .iter()
            .filter(|r| r.status.starts_with("FIDO_CERTIFIED") || r.status == "NOT_FIDO_CERTIFIED")
            .max_by(|a, b| a.effective_date.cmp(&b.effective_date))
            .map(|r| r.status.as_str())
    }

    pub fn is_certified(&self) -> bool {
        self.certification()
            .is_some_and(|s| s.starts_with("FIDO_CERTIFIED"))
    }

    /// A status report that says this model must not be trusted.
    pub fn distrust(&self) -> Option<&StatusReport> {
        self.status_reports
            .iter()
            .find(|r| DISTRUST.contains(&r.status.as_str()))
    }
}

pub struct Parsed {
    pub serial: u64,
    pub next_update: String,
    pub entries: Vec<Entry>,
    pub skipped: Vec<String>,
}

pub fn parse(payload: &[u8]) -> Result<Parsed, MdsError> {
    let raw: RawPayload = serde_json::from_slice(payload).map_err(|e| {
        MdsError::NotABlob(format!(
            "its signature is valid but its content is not FIDO metadata ({e})"
        ))
    })?;
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for e in raw.entries {
        let name = e.metadata_statement.description.clone();
        let aaguid = match e.aaguid.as_deref().map(str::parse::<Uuid>) {
            None => None,
            Some(Ok(u)) => Some(u),
            Some(Err(_)) => {
                skipped.push(format!("{name}: invalid AAGUID"));
                continue;
            }
        };
        let mut roots = Vec::new();
        let mut ok = true;
        for r in &e.metadata_statement.attestation_root_certificates {
            match STANDARD.decode(r.trim()) {
                Ok(der) if Certificate::from_der(&der).is_ok() => roots.push(der),
                _ => ok = false,
            }
        }
        if !ok {
            skipped.push(format!("{name}: an attestation root is not a certificate"));
            continue;
        }
        entries.push(Entry {
            aaguid,
            description: name,
            roots,
            status_reports: e.status_reports,
        });
    }
    Ok(Parsed {
        serial: raw.no,
        next_update: raw.next_update,
        entries,
        skipped,
    })
}
