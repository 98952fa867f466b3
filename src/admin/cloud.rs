//! The Microsoft clouds, their hosts, and which Graph calls each offers.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Cloud {
    /// Global (and GCC): graph.microsoft.com, login.microsoftonline.com.
    Global,
    /// US Government L4 (GCC High): graph.microsoft.us, login.microsoftonline.us.
    UsgovL4,
    /// US Government L5 (DoD): dod-graph.microsoft.us, login.microsoftonline.us.
    UsgovL5,
    /// China (21Vianet): microsoftgraph.chinacloudapi.cn, login.chinacloudapi.cn.
    China,
}

/// A Graph call whose availability differs between clouds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    ListMethods,
    DeleteMethod,
    CreationOptions,
    RegisterPasskey,
    ReadPolicy,
}

impl Call {
    pub fn describe(self) -> &'static str {
        match self {
            Call::ListMethods => "listing a user's authentication methods",
            Call::DeleteMethod => "deleting a user's authentication method",
            Call::CreationOptions => "passkey creation options (fido2Methods/creationOptions)",
            Call::RegisterPasskey => "registering a passkey for a user (POST fido2Methods)",
            Call::ReadPolicy => "reading the passkey (FIDO2) policy",
        }
    }
}

impl Cloud {
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsgovL4 => "usgov-l4",
            Cloud::UsgovL5 => "usgov-l5",
            Cloud::China => "china",
        }
    }

    pub fn graph_host(self) -> &'static str {
        match self {
            Cloud::Global => "graph.microsoft.com",
            Cloud::UsgovL4 => "graph.microsoft.us",
            Cloud::UsgovL5 => "dod-graph.microsoft.us",
            Cloud::China => "microsoftgraph.chinacloudapi.cn",
        }
    }

    pub fn login_host(self) -> &'static str {
        match self {
            Cloud::Global => "login.microsoftonline.com",
            Cloud::UsgovL4 | Cloud::UsgovL5 => "login.microsoftonline.us",
            Cloud::China => "login.chinacloudapi.cn",
        }
    }

    /// What Graph v1.0's documentation lists per cloud (admin-apis research, 2026-12-01):
    /// passkey registration is global only; listing methods is not offered in China.
    pub fn offers(self, call: Call) -> bool {
        match call {
            Call::CreationOptions | Call::RegisterPasskey => self == Cloud::Global,
            Call::ListMethods | Call::DeleteMethod => self != Cloud::China,
            Call::ReadPolicy => true,
        }
    }

    /// Refuse, before anything is sent, a call this cloud does not offer.
    pub fn require(self, call: Call) -> super::Result<()> {
        if self.offers(call) {
            Ok(())
        } else {
            Err(super::AdminError::CloudLacks {
                cloud: format!("the {} cloud", self.as_str()),
                what: call.describe().to_string(),
            })
        }
    }

    /// Where requests go: the cloud's own hosts, except in a debug build whose tests point
    /// both at a local Graph double (compiled out of release builds).
    pub fn endpoints(self) -> Endpoints {
        #[cfg(debug_assertions)]
        if let Ok(base) = std::env::var("KEYWARD_TEST_GRAPH_URL") {
            let base = base.trim_end_matches('/').to_string();
            return Endpoints {
                graph: base.clone(),
                login: base,
                scope_root: format!("https://{}", self.graph_host()),
            };
        }
        Endpoints {
            graph: format!("https://{}", self.graph_host()),
            login: format!("https://{}", self.login_host()),
            scope_root: format!("https://{}", self.graph_host()),
        }
    }
}

impl std::fmt::Display for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// `https://graph.microsoft.com`, without a trailing slash.
    pub graph: String,
    /// `https://login.microsoftonline.com`.
    pub login: String,
    /// The resource scopes are named under, e.g. `https://graph.microsoft.com`.
    pub scope_root: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passkey_registration_is_refused_outside_global_before_sending() {
        for cloud in [Cloud::UsgovL4, Cloud::UsgovL5, Cloud::China] {
            let e = cloud.require(Call::CreationOptions).unwrap_err();
            assert!(e.to_string().contains(cloud.as_str()), "{e}");
            assert!(e.to_string().contains("nothing was sent"));
        }
        assert!(Cloud::Global.require(Call::RegisterPasskey).is_ok());
        assert!(Cloud::UsgovL5.require(Call::ListMethods).is_ok());
        assert!(Cloud::China.require(Call::ListMethods).is_err());
    }

    #[test]
    fn each_cloud_has_its_own_hosts() {
        assert_eq!(Cloud::UsgovL5.graph_host(), "dod-graph.microsoft.us");
        assert_eq!(Cloud::UsgovL4.login_host(), "login.microsoftonline.us");
        assert_eq!(Cloud::China.login_host(), "login.chinacloudapi.cn");
    }
}
