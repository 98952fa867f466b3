//! The model catalog: what keyward knows about a key model from its AAGUID, shipped as data
//! (`catalog/models.toml`, compiled in). Every entry cites its sources; facts we could not
//! confirm are listed in `uncertain` and shown as such.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

const MODELS_TOML: &str = include_str!("../../catalog/models.toml");
const CATALOG_NAME: &str = "catalog/models.toml (built in)";

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{CATALOG_NAME} is invalid: {0}")]
    Parse(String),
}

/// FIDO Alliance certification level as the catalog records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Certification {
    #[serde(rename = "L1")]
    L1,
    #[serde(rename = "L1+")]
    L1Plus,
    #[serde(rename = "L2")]
    L2,
    #[serde(rename = "L2+")]
    L2Plus,
    #[serde(rename = "L3")]
    L3,
    #[serde(rename = "L3+")]
    L3Plus,
    #[serde(rename = "none")]
    None,
    #[serde(rename = "unknown")]
    Unknown,
}

impl Certification {
    /// Whether this proves the model is FIDO Certified (any level).
    pub fn is_certified(self) -> bool {
        !matches!(self, Certification::None | Certification::Unknown)
    }
    pub fn label(self) -> &'static str {
        match self {
            Certification::L1 => "FIDO Certified L1",
            Certification::L1Plus => "FIDO Certified L1+",
            Certification::L2 => "FIDO Certified L2",
            Certification::L2Plus => "FIDO Certified L2+",
            Certification::L3 => "FIDO Certified L3",
            Certification::L3Plus => "FIDO Certified L3+",
            Certification::None => "not FIDO Certified",
            Certification::Unknown => "certification unknown",
        }
    }
}

/// One model (really: one AAGUID, which may cover several products of one generation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub aaguid: Uuid,
    pub maker: String,
    pub model: String,
    pub certification: Certification,
    #[serde(default)]
    pub transports: Vec<String>,
    /// How many discoverable credentials (passkeys) the model holds, when published.
    #[serde(default)]
    pub discoverable_slots: Option<u32>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Statements about this entry we could not confirm.
    #[serde(default)]
    pub uncertain: Vec<String>,
    pub sources: Vec<String>,
}

impl Model {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.maker, self.model)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    last_reviewed: String,
    #[serde(rename = "model")]
    models: Vec<Model>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub last_reviewed: String,
    models: Vec<Model>,
}

impl Catalog {
    /// The catalog compiled into keyward.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        Catalog::parse(MODELS_TOML)
    }

    fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile =
            toml::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))?;
        for m in &file.models {
            if m.sources.is_empty() || m.sources.iter().any(|s| !s.starts_with("https://")) {
                return Err(CatalogError::Parse(format!(
                    "entry {} needs at least one https source",
                    m.aaguid
                )));
            }
        }
        Ok(Catalog {
            last_reviewed: file.last_reviewed,
            models: file.models,
        })
    }

    pub fn lookup(&self, aaguid: &Uuid) -> Option<&Model> {
        self.models.iter().find(|m| &m.aaguid == aaguid)
    }

    pub fn all(&self) -> &[Model] {
        &self.models
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn shipped_catalog_parses_and_every_entry_cites_a_source() {
        let c = Catalog::builtin().expect("built-in catalog parses");
        assert!(c.all().len() >= 20);
        for m in c.all() {
            assert!(!m.sources.is_empty(), "{} has no source", m.aaguid);
        }
    }

    #[test]
    fn aaguids_are_unique() {
        let c = Catalog::builtin().unwrap();
        let set: BTreeSet<_> = c.all().iter().map(|m| m.aaguid).collect();
        assert_eq!(set.len(), c.all().len());
    }

    #[test]
    fn finds_a_yubikey_by_aaguid() {
        let c = Catalog::builtin().unwrap();
        let id: Uuid = "2fc0579f-8113-47ea-b116-bb5a8db9202a".parse().unwrap();
        let m = c.lookup(&id).unwrap();
        assert_eq!(m.maker, "Yubico");
        assert!(m.certification.is_certified());
    }

    #[test]
    fn entry_without_https_source_is_refused() {
        let bad = r#"
last_reviewed = "2026-11-21"
[[model]]
aaguid = "2fc0579f-8113-47ea-b116-bb5a8db9202a"
maker = "X"
model = "Y"
certification = "L1"
sources = ["http://example.com"]
"#;
        let e = Catalog::parse(bad).unwrap_err().to_string();
        assert!(e.contains("https source"), "{e}");
    }
}
