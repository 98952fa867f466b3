//! The catalog: the built-in playbooks, overridden and extended by folders of TOML files.

use super::model::Playbook;
use super::validate::{check_source, Diagnostic, Severity, ValidateOptions};
use super::PlaybookError;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The playbooks shipped in the binary, as (file name, text).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "providers/google.toml",
        include_str!("../../providers/google.toml"),
    ),
    (
        "providers/google-advanced-protection.toml",
        include_str!("../../providers/google-advanced-protection.toml"),
    ),
    (
        "providers/microsoft-entra.toml",
        include_str!("../../providers/microsoft-entra.toml"),
    ),
    (
        "providers/microsoft-personal.toml",
        include_str!("../../providers/microsoft-personal.toml"),
    ),
    (
        "providers/apple.toml",
        include_str!("../../providers/apple.toml"),
    ),
];

/// Where a playbook came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "snake_case")]
pub enum Origin {
    Builtin,
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Builtin => f.write_str("built in"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub playbook: Playbook,
    pub origin: Origin,
    /// The playbook with the same id this one replaced.
    pub overrides: Option<Origin>,
}

/// All playbooks in effect, sorted by id, with the warnings found while loading (stale
/// reviews).
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<Entry>,
    warnings: Vec<Diagnostic>,
}

impl Catalog {
    /// The built-in playbooks plus `extra_dir` (which must exist) when given.
    pub fn load(extra_dir: Option<&Path>) -> Result<Catalog, PlaybookError> {
        let dirs: Vec<&Path> = extra_dir.into_iter().collect();
        Catalog::load_layers(&dirs, &ValidateOptions::default())
    }

    /// The built-in playbooks, then each folder in order: a playbook with an id already
    /// present replaces it. Every folder must exist. Any error in any file fails the load,
    /// with every finding listed.
    pub fn load_layers(dirs: &[&Path], opts: &ValidateOptions) -> Result<Catalog, PlaybookError> {
        let mut catalog = Catalog::default();
        let mut errors = Vec::new();
        let builtin: Vec<(Origin, String, String)> = BUILTIN
            .iter()
            .map(|(name, text)| (Origin::Builtin, name.to_string(), text.to_string()))
            .collect();
        catalog.add_layer(builtin, opts, &mut errors);
        for dir in dirs {
            let files = read_dir(dir)?;
            catalog.add_layer(files, opts, &mut errors);
        }
        if !errors.is_empty() {
            return Err(PlaybookError::Invalid {
                diagnostics: errors,
            });
        }
        catalog
            .entries
            .sort_by(|a, b| a.playbook.id.cmp(&b.playbook.id));
        Ok(catalog)
    }

    /// One layer: its files may not repeat an id among themselves, but replace earlier
    /// layers.
    fn add_layer(
        &mut self,
        files: Vec<(Origin, String, String)>,
        opts: &ValidateOptions,
        errors: &mut Vec<Diagnostic>,
    ) {
        let mut seen: Vec<(String, String)> = Vec::new();
        for (origin, name, text) in files {
            let checked = check_source(&text, &name, opts);
            for d in checked.diagnostics {
                match d.severity {
                    Severity::Error => errors.push(d),
                    Severity::Warning => self.warnings.push(d),
                }
            }
            let Some(playbook) = checked.playbook else {
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(id, _)| *id == playbook.id) {
                errors.push(duplicate_id_diagnostic(&text, &name, &playbook.id, first));
                continue;
            }
            seen.push((playbook.id.clone(), name.clone()));
            let replaced = self
                .entries
                .iter()
                .position(|e| e.playbook.id == playbook.id)
                .map(|i| self.entries.remove(i).origin);
            self.entries.push(Entry {
                playbook,
                origin,
                overrides: replaced,
            });
        }
    }

    pub fn get(&self, id: &str) -> Option<&Playbook> {
        self.entry(id).map(|e| &e.playbook)
    }

    /// Like [`Catalog::get`], with the error that tells a person how to find the ids.
    pub fn require(&self, id: &str) -> Result<&Playbook, PlaybookError> {
        self.get(id)
            .ok_or_else(|| PlaybookError::UnknownId(id.to_string()))
    }

    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.playbook.id == id)
    }

    /// Every playbook, sorted by id.
    pub fn all(&self) -> impl Iterator<Item = &Playbook> {
        self.entries.iter().map(|e| &e.playbook)
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Warnings found while loading (for example a review date that is too old).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Playbooks a credential found on a key may belong to (see
    /// [`Playbook::claims_credential`]). Several when providers share an RP ID and the
    /// user name does not tell them apart.
    pub fn claiming(&self, rp_id: &str, user_name: Option<&str>) -> Vec<&Playbook> {
        self.all()
            .filter(|p| p.claims_credential(rp_id, user_name))
            .collect()
    }
}

/// The `.toml` files of a folder, sorted by name, as (origin, shown name, text).
fn read_dir(dir: &Path) -> Result<Vec<(Origin, String, String)>, PlaybookError> {
    let read_err = |source| PlaybookError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        // Dot files are editor backups and lock files, not playbooks.
        .filter(|p| {
            p.extension().is_some_and(|x| x == "toml")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                && p.is_file()
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|source| PlaybookError::Read {
                path: p.clone(),
                source,
            })?;
            Ok((Origin::File(p.clone()), p.display().to_string(), text))
        })
        .collect()
}

/// The finding for a second file that reuses an id, placed on its `id` line.
pub fn duplicate_id_diagnostic(text: &str, file: &str, id: &str, first: &str) -> Diagnostic {
    let spans = super::validate::Spans::new(text);
    let (line, column) =
        super::validate::line_col(text, spans.offset(&[super::validate::Seg::Key("id")]));
    Diagnostic {
        file: file.to_string(),
        line,
        column,
        severity: Severity::Error,
        message: format!(
            "duplicate id `{id}`: {first} already defines it; give one of them another id"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_playbook_is_valid() {
        let opts = ValidateOptions::default();
        for (name, text) in BUILTIN {
            let checked = check_source(text, name, &opts);
            let errors: Vec<String> = checked
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.to_string())
                .collect();
            assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
        }
        let catalog = Catalog::load(None).unwrap();
        let ids: Vec<&str> = catalog.all().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "apple",
                "google",
                "google-advanced-protection",
                "microsoft-entra",
                "microsoft-personal"
            ]
        );
    }

    #[test]
    fn shared_rp_ids_are_told_apart_by_user_name_domain() {
        let catalog = Catalog::load(None).unwrap();
        let google = catalog.claiming("google.com", Some("alice@gmail.com"));
        assert!(google.iter().any(|p| p.id == "google"));
        assert!(catalog.claiming("example.org", None).is_empty());
        // Shipped Microsoft playbooks cannot know an organisation's domain: both claim it.
        let both = catalog.claiming("login.microsoft.com", Some("bob@contoso.com"));
        assert_eq!(both.len(), 2);

        // An organisation's override names its domain, and then only matching names count.
        let mut entra = catalog.get("microsoft-entra").unwrap().clone();
        entra.user_name_domains = vec!["Contoso.com".into()];
        assert!(entra.claims_credential("LOGIN.microsoft.com", Some("bob@contoso.com")));
        assert!(!entra.claims_credential("login.microsoft.com", Some("bob@outlook.com")));
        assert!(!entra.claims_credential("login.microsoft.com", Some("bob@evilcontoso.com")));
        assert!(!entra.claims_credential("login.microsoft.com", None));
    }
}
