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
        let config: EntraConfig = toml::from_str(&text).map_err(|e| {
            AdminError::Config(format!(
                "{}: {}; fix it or run `keyward entra connect` again",
                path.display(),
                e.to_string().trim()
            ))
        })?;
        // They go into URLs: a hand-edited file is checked like the command line.
        config.check().map_err(|e| {
            AdminError::Config(format!(
                "{}: {e}; fix it or run `keyward entra connect` again",
                path.display()
            ))
        })?;
        Ok(Some(config))
    }

    /// The tenant and application id are what Entra issues, before either goes into a URL.
    pub fn check(&self) -> std::result::Result<(), String> {
        check_tenant(&self.tenant)?;
        check_client_id(&self.client_id)
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

/// A GUID in its usual 8-4-4-4-12 form, as the Entra admin center shows ids.
fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// A tenant id (GUID) or a domain name of the tenant (contoso.onmicrosoft.com).
pub fn check_tenant(tenant: &str) -> std::result::Result<(), String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let labels: Vec<&str> = tenant.split('.').collect();
    let domain = tenant.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| label_ok(l))
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()));
    if is_guid(tenant) || domain {
        Ok(())
    } else {
        Err(format!(
            "--tenant `{tenant}` is neither a tenant id (a GUID such as \
             72f988bf-86f1-41af-91ab-2d7cd011db47) nor a domain name of the tenant (such as \
             contoso.onmicrosoft.com); both are on the Entra admin center's Overview page"
        ))
    }
}

/// An application (client) id: a GUID.
pub fn check_client_id(client_id: &str) -> std::result::Result<(), String> {
    if is_guid(client_id) {
        Ok(())
    } else {
        Err(format!(
            "--client-id `{client_id}` is not an application (client) id: that is a GUID such \
             as 9a4f2b1c-3d5e-4f60-8a7b-1c2d3e4f5a6b, shown on the app registration's Overview \
             page (Entra admin center › App registrations › keyward)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_and_client_id_must_be_what_entra_issues() {
        for ok in [
            "contoso.onmicrosoft.com",
            "contoso.com",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "my-org.example.co.uk",
        ] {
            assert_eq!(check_tenant(ok), Ok(()), "{ok}");
        }
        for bad in [
            "con toso/../x?y=1",
            "contoso",
            "",
            "a..b.com",
            "-x.com",
            "x.com/",
            "x.com%2F..",
            "{72f988bf-86f1-41af-91ab-2d7cd011db47}",
            "x.123",
        ] {
            assert!(check_tenant(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_client_id("9a4f2b1c-3d5e-4f60-8a7b-1c2d3e4f5a6b"),
            Ok(())
        );
        for bad in [
            "abc",
            "",
            "9a4f2b1c3d5e4f608a7b1c2d3e4f5a6b",
            "urn:uuid:9a4f2b1c-3d5e-4f60-8a7b-1c2d3e4f5a6b",
        ] {
            assert!(check_client_id(bad).is_err(), "{bad}");
        }
    }
}
