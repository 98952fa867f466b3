//! Access tokens for Microsoft Graph: app-only with a client secret, or delegated through a
//! device-code sign-in whose refresh token stays in the credential store. Each command asks
//! for the scopes it needs (delegated) and a token is reused for the rest of the command.

use super::cloud::Endpoints;
use super::config::{AuthMode, EntraConfig};
use super::http::{Body, Http, Method, Reply, MAX_TRIES};
use super::secret::{Secret, Store, CERTIFICATE_KEY_ENV, CLIENT_SECRET_ENV};
use super::{AdminError, Result};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What proves keyward may call Graph.
pub enum Credential {
    ClientSecret(Secret),
    /// The certificate's private key (PEM) and the certificate's `x5t#S256`.
    Certificate {
        key_pem: Secret,
        x5t_s256: String,
    },
    /// Delegated sign-in: a refresh token (rotated on every use).
    Refresh(Secret),
}

pub struct Tokens {
    pub config: EntraConfig,
    pub endpoints: Endpoints,
    credential: Credential,
    /// Where a rotated refresh token is kept (delegated sign-in only).
    store: Option<Store>,
    cache: HashMap<String, Secret>,
}

impl Tokens {
    pub fn new(
        config: EntraConfig,
        credential: Credential,
        store: Option<Store>,
    ) -> Result<Tokens> {
        Ok(Tokens {
            endpoints: config.cloud.endpoints()?,
            config,
            credential,
            store,
            cache: HashMap::new(),
        })
    }

    /// The credential for a connected tenant: the client secret from the environment, else
    /// the credential store; the refresh token from the credential store.
    pub fn load(config: EntraConfig) -> Result<Tokens> {
        match config.auth {
            AuthMode::ClientSecret => {
                if let Ok(s) = std::env::var(CLIENT_SECRET_ENV).map(zeroize::Zeroizing::new) {
                    if !s.trim().is_empty() {
                        return Tokens::new(
                            config,
                            Credential::ClientSecret(Secret::new(s.trim().to_string())),
                            None,
                        );
                    }
                }
                let store = Store::open()?;
                let secret = store
                    .get(&config.secret_name("client-secret"))?
                    .ok_or_else(|| {
                        AdminError::NotConnected(format!(
                            "no client secret for tenant {} in the credential store or in \
                         {CLIENT_SECRET_ENV}; run `keyward entra connect` again",
                            config.tenant
                        ))
                    })?;
                Tokens::new(config, Credential::ClientSecret(secret), None)
            }
            AuthMode::Certificate => {
                let x5t_s256 = config.certificate_sha256.clone().ok_or_else(|| {
                    AdminError::Config(
                        "the connection settings name no certificate; run `keyward entra connect --auth certificate` again".into(),
                    )
                })?;
                let key_pem = match std::env::var(CERTIFICATE_KEY_ENV) {
                    Ok(s) if !s.trim().is_empty() => Secret::new(s),
                    _ => Store::open()?
                        .get(&config.secret_name("certificate-key"))?
                        .ok_or_else(|| {
                            AdminError::NotConnected(format!(
                                "no certificate key for tenant {} in the credential store or in \
                                 {CERTIFICATE_KEY_ENV}; run `keyward entra connect` again",
                                config.tenant
                            ))
                        })?,
                };
                Tokens::new(config, Credential::Certificate { key_pem, x5t_s256 }, None)
            }
            AuthMode::DeviceCode => {
                let store = Store::open()?;
                let refresh = store
                    .get(&config.secret_name("refresh-token"))?
                    .ok_or_else(|| {
                        AdminError::NotConnected(format!(
                            "not signed in to tenant {} (no sign-in in the credential store); run \
                         `keyward entra connect --auth device-code`",
                            config.tenant
                        ))
                    })?;
                Tokens::new(config, Credential::Refresh(refresh), Some(store))
            }
        }
    }

    fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.endpoints.login, self.config.tenant
        )
    }

    /// Full scope strings for Graph permissions, e.g. `UserAuthenticationMethod.Read.All`.
    pub fn scope_string(&self, permissions: &[&str]) -> String {
        let mut s: Vec<String> = permissions
            .iter()
            .map(|p| format!("{}/{p}", self.endpoints.scope_root))
            .collect();
        s.push("offline_access".into());
        s.join(" ")
    }

    /// A token for these Graph permissions. App-only tokens carry whatever the app was
    /// granted (`.default`); delegated tokens ask for exactly these.
    pub fn token(&mut self, http: &Http, permissions: &[&str]) -> Result<Secret> {
        let key = match &self.credential {
            Credential::ClientSecret(_) | Credential::Certificate { .. } => ".default".to_string(),
            Credential::Refresh(_) => permissions.join(" "),
        };
        if let Some(t) = self.cache.get(&key) {
            return Ok(t.clone());
        }
        let client_id = self.config.client_id.clone();
        let (reply, rotated) = match &self.credential {
            Credential::ClientSecret(secret) => {
                let scope = format!("{}/.default", self.endpoints.scope_root);
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.expose()),
                    ("scope", scope.as_str()),
                ];
                (self.post_form(http, &form)?, false)
            }
            Credential::Certificate { key_pem, x5t_s256 } => {
                let scope = format!("{}/.default", self.endpoints.scope_root);
                let assertion = client_assertion(key_pem, x5t_s256, &client_id, &self.token_url())?;
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.expose()),
                    ("scope", scope.as_str()),
                ];
                (self.post_form(http, &form)?, false)
            }
            Credential::Refresh(refresh) => {
                let scope = self.scope_string(permissions);
                let form = [
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id.as_str()),
                    ("refresh_token", refresh.expose()),
                    ("scope", scope.as_str()),
                ];
                (self.post_form(http, &form)?, true)
            }
        };
        let (access, refresh) = self.parse_token(&reply)?;
        if rotated {
            if let Some(new) = refresh {
                if let Some(store) = &self.store {
                    store.set(&self.config.secret_name("refresh-token"), &new)?;
                }
                self.credential = Credential::Refresh(new);
            }
        }
        self.cache.insert(key, access.clone());
        Ok(access)
    }

    /// Forget the cached token (Graph said it expired); the next call gets a fresh one.
    pub fn forget(&mut self) {
        self.cache.clear();
    }

    /// POST a form to the token endpoint; repeated after throttling, server errors and lost
    /// answers (asking for a token changes nothing at the service).
    fn post_form(&self, http: &Http, form: &[(&str, &str)]) -> Result<Reply> {
        post_form_to(http, &self.token_url(), form, &self.endpoints.login)
    }

    fn parse_token(&self, reply: &Reply) -> Result<(Secret, Option<Secret>)> {
        if reply.status != 200 {
            let (code, message) = reply.error_parts();
            return Err(AdminError::Auth {
                host: host_of(&self.endpoints.login),
                message: auth_advice(&code, &message),
            });
        }
        let mut v = reply.json().unwrap_or_default();
        // Moved out of the parsed answer, not copied: the tokens live on only in `Secret`s.
        let mut take = |k: &str| match v[k].take() {
            serde_json::Value::String(s) => Some(Secret::new(s)),
            _ => None,
        };
        let access = take("access_token").ok_or_else(|| AdminError::Auth {
            host: host_of(&self.endpoints.login),
            message: "the answer holds no access token".into(),
        })?;
        Ok((access, take("refresh_token")))
    }
}

fn post_form_to(http: &Http, url: &str, form: &[(&str, &str)], login: &str) -> Result<Reply> {
    let mut tries = 0;
    loop {
        tries += 1;
        match http.send(Method::Post, url, None, Body::Form(form)) {
            Ok(r) if (r.status == 429 || r.status >= 500) && tries < MAX_TRIES => {
                match http.pause(tries, r.retry_after) {
                    Some(d) => std::thread::sleep(d),
                    None => return Ok(r),
                }
            }
            Ok(r) => return Ok(r),
            Err(_) if tries < MAX_TRIES => std::thread::sleep(http.backoff * tries),
            Err(e) => {
                return Err(AdminError::Auth {
                    host: host_of(login),
                    message: format!("no answer ({})", e.message),
                })
            }
        }
    }
}

fn host_of(url: &str) -> String {
    url.trim_start_matches("https://").to_string()
}

/// The sign-in service's refusal, with what usually fixes it.
fn auth_advice(code: &str, message: &str) -> String {
    let first = message.split(" Trace ID").next().unwrap_or(message).trim();
    let fix = match code {
        "invalid_client" => {
            " (check the application id and that the client secret is current: \
             `keyward entra connect` again with the new secret)"
        }
        "unauthorized_client" | "invalid_grant" => {
            " (sign in again: `keyward entra connect --auth device-code`)"
        }
        "invalid_scope" | "consent_required" => {
            " (an administrator must grant the permissions docs/entra.md lists for this command)"
        }
        _ => "",
    };
    if first.is_empty() {
        format!("{code}{fix}")
    } else {
        format!("{code}: {first}{fix}")
    }
}

/// What the operator is asked to do to finish a device-code sign-in.
pub struct DeviceCodePrompt {
    pub message: String,
}

/// Delegated sign-in: ask for a device code, show the operator where to enter it, wait for the
/// sign-in, and keep the refresh token in the credential store. The operator's own role
/// (Authentication Administrator or Privileged Authentication Administrator) then decides
/// whose methods they may change.
pub fn device_code_sign_in(
    http: &Http,
    config: &EntraConfig,
    permissions: &[&str],
    store: &Store,
    show: impl Fn(&DeviceCodePrompt),
) -> Result<()> {
    let endpoints = config.cloud.endpoints()?;
    let scratch = Tokens::new(
        config.clone(),
        Credential::Refresh(Secret::new(String::new())),
        None,
    )?;
    let scope = scratch.scope_string(permissions);
    let url = format!(
        "{}/{}/oauth2/v2.0/devicecode",
        endpoints.login, config.tenant
    );
    let form = [
        ("client_id", config.client_id.as_str()),
        ("scope", scope.as_str()),
    ];
    let reply = post_form_to(http, &url, &form, &endpoints.login)?;
    if reply.status != 200 {
        let (code, message) = reply.error_parts();
        return Err(AdminError::Auth {
            host: host_of(&endpoints.login),
            message: auth_advice(&code, &message),
        });
    }
    let mut v = reply.json().unwrap_or_default();
    let device_code = match v["device_code"].take() {
        serde_json::Value::String(s) => Secret::new(s),
        _ => Secret::new(String::new()),
    };
    let text = v["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "To sign in, open {} and enter the code {}",
                v["verification_uri"].as_str().unwrap_or("the sign-in page"),
                v["user_code"].as_str().unwrap_or("?")
            )
        });
    show(&DeviceCodePrompt { message: text });
    let mut interval = Duration::from_secs(v["interval"].as_u64().unwrap_or(5).max(1));
    let deadline = Instant::now() + Duration::from_secs(v["expires_in"].as_u64().unwrap_or(900));
    loop {
        std::thread::sleep(interval);
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", config.client_id.as_str()),
            ("device_code", device_code.expose()),
        ];
        let reply = post_form_to(http, &scratch.token_url(), &form, &endpoints.login)?;
        if reply.status == 200 {
            let (_, refresh) = scratch.parse_token(&reply)?;
            let refresh = refresh.ok_or_else(|| AdminError::Auth {
                host: host_of(&endpoints.login),
                message: "the sign-in gave no refresh token (offline_access not granted)".into(),
            })?;
            store.set(&config.secret_name("refresh-token"), &refresh)?;
            return Ok(());
        }
        let (code, message) = reply.error_parts();
        match code.as_str() {
            "authorization_pending" if Instant::now() < deadline => {}
            "slow_down" => interval += Duration::from_secs(5),
            _ => {
                return Err(AdminError::Auth {
                    host: host_of(&endpoints.login),
                    message: auth_advice(&code, &message),
                })
            }
        }
    }
}

/// `x5t#S256` of a PEM certificate: base64url of the SHA-256 of its DER.
pub fn certificate_thumbprint(pem: &[u8]) -> Result<String> {
    use base64::Engine;
    use crypto_glue::traits::Digest;
    let cert = ureq::tls::parse_pem(pem)
        .find_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .ok_or_else(|| AdminError::Config("no CERTIFICATE block in the certificate file".into()))?;
    let digest = crypto_glue::s256::Sha256::digest(cert.der());
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
}

/// The signed JWT that proves the certificate's key (RS256, `x5t#S256` header), valid for
/// ten minutes, for this token endpoint only.
pub fn client_assertion(
    key_pem: &Secret,
    x5t_s256: &str,
    client_id: &str,
    audience: &str,
) -> Result<Secret> {
    use base64::Engine;
    use crypto_glue::rsa::{RS256PrivateKey, RS256SigningKey};
    use crypto_glue::traits::{
        Pkcs1DecodeRsaPrivateKey, Pkcs8DecodePrivateKey, SignatureEncoding, Signer,
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bad = |m: &str| AdminError::NotConnected(format!("the certificate key: {m}"));
    let item = ureq::tls::parse_pem(key_pem.expose().as_bytes())
        .find_map(|i| match i {
            Ok(ureq::tls::PemItem::PrivateKey(k)) => Some(k),
            _ => None,
        })
        .ok_or_else(|| bad("no PRIVATE KEY block"))?;
    // PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"); Entra certificates are RSA.
    let key = RS256PrivateKey::from_pkcs8_der(item.der())
        .ok()
        .or_else(|| RS256PrivateKey::from_pkcs1_der(item.der()).ok())
        .ok_or_else(|| bad("not an RSA private key (Entra certificates are RSA)"))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t#S256": x5t_s256});
    let claims = serde_json::json!({"aud": audience, "iss": client_id, "sub": client_id,
        "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "iat": now, "exp": now + 600});
    let signing_input = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let signature = RS256SigningKey::new(key).sign(signing_input.as_bytes());
    Ok(Secret::new(format!(
        "{signing_input}.{}",
        b64.encode(signature.to_vec())
    )))
}
