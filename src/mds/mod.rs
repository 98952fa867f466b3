//! FIDO Metadata Service (MDS3): import a blob the user downloaded, verify it before using
//! anything in it, cache it, and answer "who made the key with this AAGUID, and which roots
//! sign its attestations?".
//!
//! Trust: a blob is accepted only when its JWS verifies against the FIDO Alliance's roots
//! ([`roots`]). For tests and labs, `keyward mds import --test-root CERT` trusts one given root
//! instead; such metadata is recorded as a test root and every report built on it says
//! "TEST metadata, not the FIDO Alliance". It can never be picked up by accident: it needs that
//! flag on the command line, and the cache records which root it was.
//!
//! The cache holds the original blob and is verified again on every load, so a damaged or
//! edited cache is reported, never used.

mod jws;
mod payload;
pub mod roots;

pub use payload::{Entry, StatusReport};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use crypto_glue::traits::{DecodeDer, DecodePem, EncodeDer};
use crypto_glue::x509::Certificate;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use uuid::Uuid;

const CACHE_MARKER: &str = "keyward FIDO metadata cache";
const CACHE_FILE: &str = "metadata.json";

#[derive(Debug, thiserror::Error)]
pub enum MdsError {
    /// A file the user named (the blob, a test root).
    #[error("cannot read {}: {source}", path.display())]
    ReadInput {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the FIDO metadata cache {}: {source}", path.display())]
    ReadCache {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    NotABlob(String),
    #[error("{0}")]
    Untrusted(String),
    #[error("{0}")]
    BadTestRoot(String),
    #[error("this blob is no. {new}, older than the metadata in use (no. {current}); an old blob can hide a later revocation, so it was not imported")]
    Older { new: u64, current: u64 },
    #[error("the FIDO metadata cache {} is damaged or was edited ({reason}); import the blob again with `keyward mds import FILE`", path.display())]
    BadCache { path: PathBuf, reason: String },
    #[error("cannot write the FIDO metadata cache {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no data folder to keep the FIDO metadata in (set $HOME or $XDG_DATA_HOME)")]
    NoDataDir,
}

impl MdsError {
    /// Errors about a file the user gave, as opposed to the machine.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            MdsError::ReadInput { .. }
                | MdsError::NotABlob(_)
                | MdsError::Untrusted(_)
                | MdsError::BadTestRoot(_)
                | MdsError::Older { .. }
        )
    }
}

/// What vouches for the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Anchor {
    /// The FIDO Alliance's MDS roots built into keyward.
    FidoAlliance,
    /// A root given with `--test-root`: NOT the FIDO Alliance.
    TestRoot {
        subject: String,
        /// The root certificate, DER in base64, so the cache can be verified again.
        certificate: String,
    },
}

impl Anchor {
    pub fn is_fido(&self) -> bool {
        matches!(self, Anchor::FidoAlliance)
    }
    pub fn label(&self) -> String {
        match self {
            Anchor::FidoAlliance => "FIDO Alliance Metadata Service".into(),
            Anchor::TestRoot { subject, .. } => {
                format!("TEST metadata signed under {subject}, not the FIDO Alliance")
            }
        }
    }
}

/// Verified metadata, ready to use.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub anchor: Anchor,
    pub serial: u64,
    pub next_update: String,
    pub imported_at: String,
    pub entries: Vec<Entry>,
    /// Entries left out because their data was unusable (e.g. a root that is not a
    /// certificate); reported, never silently dropped.
    pub skipped: Vec<String>,
}

impl Metadata {
    pub fn entry(&self, aaguid: &Uuid) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.aaguid.as_ref() == Some(aaguid))
    }

    /// Whether `nextUpdate` has passed: the blob still verifies but is stale.
    pub fn is_stale(&self) -> bool {
        let today = time::OffsetDateTime::now_utc().date();
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(&self.next_update, fmt)
            .map(|d| d < today)
            .unwrap_or(false)
    }
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    format: String,
    imported_at: String,
    source_file: String,
    anchor: Anchor,
    blob: String,
}

fn fido_roots() -> Vec<Certificate> {
    [roots::GLOBALSIGN_ROOT_CA_R3, roots::GLOBALSIGN_ROOT_R46]
        .iter()
        .map(|pem| Certificate::from_pem(pem.as_bytes()).expect("built-in roots parse"))
        .collect()
}

/// Read a test root certificate (PEM or DER).
pub fn read_test_root(path: &Path) -> Result<Anchor, MdsError> {
    let bytes = std::fs::read(path).map_err(|source| MdsError::ReadInput {
        path: path.to_path_buf(),
        source,
    })?;
    let cert = Certificate::from_pem(&bytes)
        .or_else(|_| Certificate::from_der(&bytes))
        .map_err(|_| {
            MdsError::BadTestRoot(format!(
                "{} is not a certificate (PEM or DER)",
                path.display()
            ))
        })?;
    let der = cert
        .to_der()
        .map_err(|e| MdsError::BadTestRoot(format!("{}: {e}", path.display())))?;
    Ok(Anchor::TestRoot {
        subject: cert.tbs_certificate().subject().to_string(),
        certificate: STANDARD.encode(der),
    })
}

fn anchor_roots(anchor: &Anchor) -> Result<Vec<Certificate>, String> {
    match anchor {
        Anchor::FidoAlliance => Ok(fido_roots()),
        Anchor::TestRoot { certificate, .. } => {
            let der = STANDARD
                .decode(certificate)
                .map_err(|_| "the recorded test root is not base64".to_string())?;
            let cert = Certificate::from_der(&der)
                .map_err(|_| "the recorded test root is not a certificate".to_string())?;
            Ok(vec![cert])
        }
    }
}

/// Verify a blob against the anchor's roots and parse it. Nothing is returned unless the whole
/// blob verified and parsed.
pub fn verify_blob(text: &str, anchor: &Anchor, imported_at: &str) -> Result<Metadata, MdsError> {
    let roots = anchor_roots(anchor).map_err(MdsError::BadTestRoot)?;
    let verified = jws::verify(text, &roots, SystemTime::now())?;
    let parsed = payload::parse(&verified.payload)?;
    Ok(Metadata {
        anchor: anchor.clone(),
        serial: parsed.serial,
        next_update: parsed.next_update,
        imported_at: imported_at.to_string(),
        entries: parsed.entries,
        skipped: parsed.skipped,
    })
}

/// Where the verified metadata is kept.
pub fn cache_path() -> Result<PathBuf, MdsError> {
    dirs::data_dir()
        .map(|d| d.join("keyward").join("mds").join(CACHE_FILE))
        .ok_or(MdsError::NoDataDir)
}

/// Verify `file` and, only if it verifies and parses completely, replace the cache with it.
pub fn import(file: &Path, anchor: Anchor) -> Result<Metadata, MdsError> {
    let text = std::fs::read_to_string(file).map_err(|source| MdsError::ReadInput {
        path: file.to_path_buf(),
        source,
    })?;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let metadata = verify_blob(&text, &anchor, &now)?;
    // Serial numbers only grow: going back to an older blob from the same signer could undo a
    // revocation. A damaged cache does not block a fresh import.
    if let Ok(Some(current)) = load() {
        if current.anchor == metadata.anchor && metadata.serial < current.serial {
            return Err(MdsError::Older {
                new: metadata.serial,
                current: current.serial,
            });
        }
    }
    let cache = CacheFile {
        format: CACHE_MARKER.into(),
        imported_at: now,
        source_file: file.display().to_string(),
        anchor,
        blob: text.trim().to_string(),
    };
    let path = cache_path()?;
    write_atomically(
        &path,
        &serde_json::to_vec_pretty(&cache).expect("cache serialises"),
    )?;
    Ok(metadata)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), MdsError> {
    let err = |source| MdsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().expect("cache path has a folder");
    std::fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(".{CACHE_FILE}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

/// The cached metadata, verified again; `Ok(None)` when none was ever imported.
pub fn load() -> Result<Option<Metadata>, MdsError> {
    let path = cache_path()?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(MdsError::ReadCache { path, source }),
    };
    let bad = |reason: String| MdsError::BadCache {
        path: path.clone(),
        reason,
    };
    let cache: CacheFile =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not readable: {e}")))?;
    if cache.format != CACHE_MARKER {
        return Err(bad("not a keyward metadata cache".into()));
    }
    verify_blob(&cache.blob, &cache.anchor, &cache.imported_at)
        .map(Some)
        .map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_fido_roots_parse_and_are_cas() {
        let roots = fido_roots();
        assert_eq!(roots.len(), 2);
        for r in &roots {
            let subject = r.tbs_certificate().subject().to_string();
            assert!(subject.contains("GlobalSign"), "{subject}");
        }
    }

    #[test]
    fn garbage_is_refused_before_anything_is_parsed() {
        for text in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            let e = verify_blob(text, &Anchor::FidoAlliance, "").unwrap_err();
            assert!(e.is_bad_input(), "{text}: {e}");
        }
    }
}
