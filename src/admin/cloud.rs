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
    pub fn endpoints(self) -> super::Result<Endpoints> {
        #[cfg(debug_assertions)]
        if let Ok(base) = std::env::var("KEYWARD_TEST_GRAPH_URL") {
            let base = test_graph_url(&base).map_err(super::AdminError::Config)?;
            return Ok(Endpoints {
                graph: base.clone(),
                login: base,
                scope_root: format!("https://{}", self.graph_host()),
            });
        }
        Ok(Endpoints {
            graph: format!("https://{}", self.graph_host()),
            login: format!("https://{}", self.login_host()),
            scope_root: format!("https://{}", self.graph_host()),
        })
    }
}

/// The tests' Graph double, as `KEYWARD_TEST_GRAPH_URL` names it: HTTPS on this machine's
/// loopback only, so not even a debug build sends a secret unencrypted or to another host.
#[cfg(any(debug_assertions, test))]
fn test_graph_url(base: &str) -> std::result::Result<String, String> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let refused = |why: &str| {
        Err(format!(
            "KEYWARD_TEST_GRAPH_URL `{base}` {why}: the test override must be https:// on \
             127.0.0.1, [::1] or localhost; unset it to reach Microsoft"
        ))
    };
    let Ok(url) = url::Url::parse(base) else {
        return refused("is not a URL");
    };
    if url.scheme() != "https" {
        return refused("is not https");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refused("carries a user name");
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if !loopback {
        return refused("is not on this machine's loopback address");
    }
    Ok(base.trim_end_matches('/').to_string())
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
    fn the_test_graph_url_is_https_on_loopback_only() {
        for ok in [
            "https://127.0.0.1:4443",
            "https://[::1]:4443/",
            "https://localhost:1",
        ] {
            assert!(test_graph_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:4443",
            "https://graph.example.com",
            "https://10.0.0.1:4443",
            "https://127.0.0.2:4443",
            "https://localhost.example.com",
            "https://user@127.0.0.1:1",
            "127.0.0.1:4443",
        ] {
            let e = test_graph_url(bad).unwrap_err();
            assert!(e.contains("must be https:// on 127.0.0.1"), "{bad}: {e}");
        }
    }

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
