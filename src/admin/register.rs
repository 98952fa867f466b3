//! Registering the key in hand as a passkey for a user through Graph: creationOptions, the
//! key's makeCredential over the clientDataJSON a browser would build, POST fido2Methods, and
//! settling a POST whose answer was lost by reading Graph before ever sending it again.

use super::graph::{Graph, Posted};
use super::{AdminError, Result};
use crate::device::{Authenticator, DeviceError, MadeCredential, MakeCredentialRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine;
use crypto_glue::s256::Sha256;
use crypto_glue::traits::Digest;
use serde_json::{json, Value};

/// The origin Graph checks in clientDataJSON: the page a browser would be on.
pub const ORIGIN: &str = "https://login.microsoftonline.com";

/// creationOptions, decoded.
#[derive(Debug, Clone)]
pub struct Options {
    pub challenge: Vec<u8>,
    pub rp_id: String,
    pub rp_name: Option<String>,
    pub user_id: Vec<u8>,
    pub user_name: String,
    pub user_display_name: Option<String>,
    pub exclude: Vec<Vec<u8>>,
    pub expires: Option<String>,
}

fn b64u(s: &str) -> Option<Vec<u8>> {
    B64U.decode(s.trim_end_matches('=')).ok()
}

pub fn parse_options(v: &Value) -> Result<Options> {
    let bad = |m: &str| AdminError::Unexpected {
        doing: "reading passkey creation options".into(),
        message: m.to_string(),
    };
    let pk = &v["publicKey"];
    let challenge = pk["challenge"]
        .as_str()
        .and_then(b64u)
        .ok_or_else(|| bad("no challenge"))?;
    let rp_id = pk["rp"]["id"]
        .as_str()
        .ok_or_else(|| bad("no rp.id"))?
        .to_string();
    let user_id = pk["user"]["id"]
        .as_str()
        .and_then(b64u)
        .ok_or_else(|| bad("no user.id"))?;
    let user_name = pk["user"]["name"]
        .as_str()
        .ok_or_else(|| bad("no user.name"))?
        .to_string();
    if !pk["pubKeyCredParams"]
        .as_array()
        .is_some_and(|a| a.iter().any(|p| p["alg"].as_i64() == Some(-7)))
    {
        return Err(bad("ES256 (-7) is not among pubKeyCredParams"));
    }
    let exclude = pk["excludeCredentials"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["id"].as_str().and_then(b64u))
                .collect()
        })
        .unwrap_or_default();
    Ok(Options {
        challenge,
        rp_id,
        rp_name: pk["rp"]["name"].as_str().map(str::to_string),
        user_id,
        user_name,
        user_display_name: pk["user"]["displayName"].as_str().map(str::to_string),
        exclude,
        expires: v["challengeTimeoutDateTime"].as_str().map(str::to_string),
    })
}

/// Exactly what a browser on login.microsoftonline.com serialises for navigator.credentials
/// .create: members in this order, the challenge re-encoded as unpadded base64url.
pub fn client_data_json(challenge: &[u8]) -> String {
    format!(
        r#"{{"type":"webauthn.create","challenge":"{}","origin":"{ORIGIN}","crossOrigin":false}}"#,
        B64U.encode(challenge)
    )
}

/// makeCredential on the key (discoverable, with the PIN already unlocked). A key that already
/// holds one of the user's passkeys is reported, not registered twice.
pub fn make_credential(
    key: &mut dyn Authenticator,
    opts: &Options,
) -> crate::Result<(MadeCredential, String)> {
    let cdj = client_data_json(&opts.challenge);
    let req = MakeCredentialRequest {
        client_data_hash: {
            let mut h = [0u8; 32];
            h.copy_from_slice(&Sha256::digest(cdj.as_bytes()));
            h
        },
        rp_id: opts.rp_id.clone(),
        rp_name: opts.rp_name.clone(),
        user_id: opts.user_id.clone(),
        user_name: opts.user_name.clone(),
        user_display_name: opts.user_display_name.clone(),
        discoverable: true,
        user_verification: true,
        exclude_credentials: opts.exclude.clone(),
    };
    match key.make_credential(&req) {
        Ok(made) => Ok((made, cdj)),
        Err(DeviceError::CredentialExcluded) => Err(AdminError::AlreadyRegistered(format!(
            "this key already holds a passkey registered for {} (Graph listed it in \
             excludeCredentials); nothing was registered twice",
            opts.user_name
        ))
        .into()),
        Err(e) => Err(e.into()),
    }
}

/// The body of POST fido2Methods.
pub fn post_body(display_name: &str, made: &MadeCredential, cdj: &str) -> Value {
    json!({
        "displayName": display_name,
        "publicKeyCredential": {
            "id": B64U.encode(&made.credential_id),
            "response": {
                "clientDataJSON": B64U.encode(cdj.as_bytes()),
                "attestationObject": B64U.encode(&made.attestation_object),
            },
            "clientExtensionResults": {},
        }
    })
}

/// What Graph created.
#[derive(Debug, Clone)]
pub struct Registered {
    /// Graph's fido2AuthenticationMethod.
    pub method: Value,
    /// True when the answer was lost and Graph's list showed the passkey was created.
    pub settled_by_reading: bool,
}

impl Registered {
    pub fn method_id(&self) -> &str {
        self.method["id"].as_str().unwrap_or("")
    }
}

/// Whether Graph's fido2AuthenticationMethod `m` is the passkey keyward posted under this
/// display name from a key of this model (Graph shows no credential id to match on).
pub fn is_named(m: &Value, display_name: &str, aaguid: Option<&str>) -> bool {
    m["displayName"].as_str() == Some(display_name)
        && aaguid.is_none_or(|a| {
            m["aaGuid"]
                .as_str()
                .is_none_or(|g| g.eq_ignore_ascii_case(a))
        })
}

/// POST the passkey. A lost answer is settled by listing the user's passkeys: found, it is
/// done; not found, Graph never took it and it is sent again (the challenge is still valid).
pub fn post(
    graph: &mut Graph,
    user: &str,
    body: &Value,
    aaguid: Option<&str>,
) -> Result<Registered> {
    let name = body["displayName"].as_str().unwrap_or("");
    let mut last = String::new();
    for _ in 0..3 {
        match graph.register_passkey(user, body)? {
            Posted::Created(method) => {
                return Ok(Registered {
                    method,
                    settled_by_reading: false,
                })
            }
            Posted::Unsettled(why) => {
                last = why;
                let found = graph
                    .list_passkeys(user)?
                    .into_iter()
                    .find(|m| is_named(m, name, aaguid));
                if let Some(method) = found {
                    return Ok(Registered {
                        method,
                        settled_by_reading: true,
                    });
                }
            }
        }
    }
    Err(AdminError::Transport {
        doing: format!("registering a passkey for {user}"),
        message: format!(
            "{last}; Graph's list shows no passkey named \"{name}\", so nothing was registered. \
             Run the command again"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_data_is_what_a_browser_builds() {
        let cdj = client_data_json(&[0xfb, 0xff, 0x01]);
        assert_eq!(
            cdj,
            r#"{"type":"webauthn.create","challenge":"-_8B","origin":"https://login.microsoftonline.com","crossOrigin":false}"#
        );
        let v: Value = serde_json::from_str(&cdj).unwrap();
        assert_eq!(v["crossOrigin"], false);
    }

    #[test]
    fn options_need_es256_and_decode_exclusions() {
        let v = json!({"challengeTimeoutDateTime": "2026-12-01T10:05:00Z", "publicKey": {
            "challenge": "AAEC", "rp": {"id": "login.microsoftonline.com", "name": "Microsoft"},
            "user": {"id": "dXNlcg", "name": "ada@contoso.com", "displayName": "Ada"},
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
            "excludeCredentials": [{"id": "AQID", "type": "public-key", "transports": []}]}});
        let o = parse_options(&v).unwrap();
        assert_eq!(o.exclude, vec![vec![1, 2, 3]]);
        assert_eq!(o.user_id, b"user");
        let mut no_es256 = v.clone();
        no_es256["publicKey"]["pubKeyCredParams"] = json!([{"type": "public-key", "alg": -257}]);
        assert!(parse_options(&no_es256).is_err());
    }
}
