//! The connection settings of one tenant: nothing secret (tenant, application id, cloud, how
//! to sign in). The secret itself lives in the OS credential store ([`super::secret`]).

use super::cloud::Cloud;
use super::{AdminError, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// App-only, client secret (scripted provisioning).
    ClientSecret,
    /// App-only, certificate: keyward signs a client assertion with the certificate's key.
    Certificate,
    /// Delegated: a help-desk operator signs in with a device code; their role applies.
    DeviceCode,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::ClientSecret => "client-secret",
            AuthMode::Certificate => "certificate",
            AuthMode::DeviceCode => "device-code",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraConfig {
    /// Tenant id (GUID) or primary domain.
    pub tenant: String,
    /// The application (client) id of keyward's app registration.
    pub client_id: String,
    pub cloud: Cloud,
    pub auth: AuthMode,
    /// For `certificate`: base64url SHA-256 of the certificate (the `x5t#S256` Entra matches
    /// against the certificate uploaded to the app registration). Public, not a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_sha256: Option<String>,
}

impl EntraConfig {
    /// `<config folder>/keyward/entra.toml`.
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("keyward").join("entra.toml"))
    }

    /// The settings, or `None` when `keyward entra connect` was never run.
    pub fn load(path: &Path) -> Result<Option<EntraConfig>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(AdminError::Config(format!(
                    "{}: cannot read ({e})",
                    path.display()
                )))
            }
        };
        toml::from_str(&text).map(Some).map_err(|e| {
            AdminError::Config(format!(
                "{}: {}; fix it or run `keyward entra connect` again",
                path.display(),
                e.to_string().trim()
            ))
        })
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).map_err(|e| AdminError::Config(e.to_string()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                AdminError::Config(format!("cannot create {} ({e})", dir.display()))
            })?;
        }
        let body = format!(
            "# keyward entra connect: which tenant and how to sign in. Nothing secret is kept\n\
             # here; the secret or token is in the OS credential store.\n{text}"
        );
        std::fs::write(path, body)
            .map_err(|e| AdminError::Config(format!("cannot write {} ({e})", path.display())))
    }

    /// The name of this tenant's secrets in the credential store.
    pub fn secret_name(&self, what: &str) -> String {
        format!("{}/{}/{}/{what}", self.cloud, self.tenant, self.client_id)
    }
}
