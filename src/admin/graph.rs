//! The Microsoft Graph calls keyward makes, each with the least permission it needs and the
//! retry rule that is safe for it.

use super::auth::Tokens;
use super::cloud::{Call, Cloud};
use super::config::EntraConfig;
use super::http::{Body, Http, Method, Reply, MAX_TRIES};
use super::{AdminError, Result};
use serde_json::Value;

/// Graph permissions, least first. docs/entra.md lists which command needs which.
pub mod perm {
    /// List a user's methods (any type).
    pub const METHODS_READ: &str = "UserAuthenticationMethod.Read.All";
    /// creationOptions and POST fido2Methods; also listing passkeys.
    pub const PASSKEY_WRITE: &str = "UserAuthMethod-Passkey.ReadWrite.All";
    /// Read the passkey (FIDO2) method policy.
    pub const POLICY_READ: &str = "Policy.Read.AuthenticationMethod";

    /// What a device-code sign-in asks consent for: each permission some command uses (the
    /// per-method ones to delete), never UserAuthenticationMethod.ReadWrite.All. Each command
    /// then asks a token for its own permissions only. docs/entra.md lists the same.
    pub fn delegated_sign_in() -> Vec<&'static str> {
        let mut all = vec![METHODS_READ, PASSKEY_WRITE, POLICY_READ];
        for p in crate::admin::methods::DELETE_PERMISSIONS {
            if !all.contains(&p) {
                all.push(p);
            }
        }
        all
    }
}

/// The answer to a create whose outcome may be unknown.
#[derive(Debug)]
pub enum Posted {
    Created(Value),
    /// Sent, but the answer was lost (timeout, broken connection, server error): it may or may
    /// not have happened. Settle by reading before trying again.
    Unsettled(String),
}

/// What a DELETE did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// Graph answered with this success status (204).
    Now(u16),
    /// Graph says there is no such method (a retried delete whose first answer was lost).
    AlreadyGone,
}

enum Outcome {
    Answer(Reply),
    Unsettled(String),
}

pub struct Graph {
    pub http: Http,
    pub tokens: Tokens,
}

impl Graph {
    pub fn new(config: EntraConfig) -> Result<Graph> {
        Ok(Graph {
            http: Http::new(),
            tokens: Tokens::load(config)?,
        })
    }

    pub fn cloud(&self) -> Cloud {
        self.tokens.config.cloud
    }

    pub fn tenant(&self) -> &str {
        &self.tokens.config.tenant
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("https://") {
            return path.to_string();
        }
        format!("{}/v1.0{path}", self.tokens.endpoints.graph)
    }

    /// Send until the answer settles. `repeatable` requests (reads, deletes) are sent again
    /// after server errors and lost answers; others only when the service said it did nothing
    /// (429) or the request never left. An expired token is renewed once.
    fn exchange(
        &mut self,
        method: Method,
        path: &str,
        body: Body<'_>,
        perms: &[&str],
        repeatable: bool,
        doing: &str,
    ) -> Result<Outcome> {
        let url = self.url(path);
        let mut tries = 0;
        let mut renewed = false;
        loop {
            tries += 1;
            let token = self.tokens.token(&self.http, perms)?;
            let sent = self.http.send(method, &url, Some(token.expose()), body);
            drop(token);
            match sent {
                Ok(r) if r.status == 401 && !renewed => {
                    self.tokens.forget();
                    renewed = true;
                    tries -= 1;
                }
                Ok(r) if r.status == 429 => {
                    let pause = self.http.pause(tries, r.retry_after);
                    match pause {
                        Some(d) if tries < MAX_TRIES => std::thread::sleep(d),
                        _ => {
                            return Err(self.refusal(doing, &r, perms).with_note(&format!(
                                " (throttled: try again {})",
                                r.retry_after
                                    .map(|d| format!("in {} s", d.as_secs()))
                                    .unwrap_or_else(|| "later".into())
                            )))
                        }
                    }
                }
                Ok(r) if r.status >= 500 && !repeatable => {
                    return Ok(Outcome::Unsettled(format!("HTTP {}", r.status)))
                }
                Ok(r) if r.status >= 500 && tries < MAX_TRIES => {
                    let d = self.http.pause(tries, r.retry_after).unwrap_or_default();
                    std::thread::sleep(d);
                }
                Ok(r) => return Ok(Outcome::Answer(r)),
                Err(e) if !repeatable && e.maybe_delivered => {
                    return Ok(Outcome::Unsettled(e.message))
                }
                Err(_) if tries < MAX_TRIES => {
                    std::thread::sleep(self.http.pause(tries, None).unwrap_or_default())
                }
                Err(e) => {
                    return Err(AdminError::Transport {
                        doing: doing.to_string(),
                        message: format!("{} after {tries} tries", e.message),
                    })
                }
            }
        }
    }

    fn refusal(&self, doing: &str, r: &Reply, perms: &[&str]) -> AdminError {
        let (code, message) = r.error_parts();
        let advice = match r.status {
            403 => format!(
                " (the app, or your role when signed in as yourself, lacks the permission: {})",
                perms.join(", ")
            ),
            404 => " (no such user or method in this tenant)".to_string(),
            _ => String::new(),
        };
        AdminError::Graph {
            doing: doing.to_string(),
            status: r.status,
            code: if code.is_empty() {
                String::new()
            } else {
                format!(" {code}")
            },
            message: format!("{message}{advice}"),
        }
    }

    pub fn get(&mut self, doing: &str, path: &str, perms: &[&str]) -> Result<Value> {
        match self.exchange(Method::Get, path, Body::Empty, perms, true, doing)? {
            Outcome::Answer(r) if r.status == 200 => {
                r.json().ok_or_else(|| AdminError::Unexpected {
                    doing: doing.to_string(),
                    message: "not JSON".into(),
                })
            }
            Outcome::Answer(r) => Err(self.refusal(doing, &r, perms)),
            Outcome::Unsettled(m) => Err(AdminError::Transport {
                doing: doing.to_string(),
                message: m,
            }),
        }
    }

    /// A collection, following `@odata.nextLink`.
    pub fn get_all(&mut self, doing: &str, path: &str, perms: &[&str]) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut next = Some(path.to_string());
        while let Some(p) = next.take() {
            let page = self.get(doing, &p, perms)?;
            let items = page["value"]
                .as_array()
                .ok_or_else(|| AdminError::Unexpected {
                    doing: doing.to_string(),
                    message: "no `value` list".into(),
                })?;
            out.extend(items.iter().cloned());
            next = page["@odata.nextLink"].as_str().map(str::to_string);
        }
        Ok(out)
    }

    pub fn delete(&mut self, doing: &str, path: &str, perms: &[&str]) -> Result<Deleted> {
        match self.exchange(Method::Delete, path, Body::Empty, perms, true, doing)? {
            Outcome::Answer(r) if (200..300).contains(&r.status) => Ok(Deleted::Now(r.status)),
            Outcome::Answer(r) if r.status == 404 => Ok(Deleted::AlreadyGone),
            Outcome::Answer(r) => Err(self.refusal(doing, &r, perms)),
            Outcome::Unsettled(m) => Err(AdminError::Transport {
                doing: doing.to_string(),
                message: m,
            }),
        }
    }

    /// POST once; never repeated after its answer was lost.
    pub fn post_once(
        &mut self,
        doing: &str,
        path: &str,
        body: &Value,
        perms: &[&str],
    ) -> Result<Posted> {
        match self.exchange(Method::Post, path, Body::Json(body), perms, false, doing)? {
            Outcome::Answer(r) if r.status == 201 || r.status == 200 => r
                .json()
                .map(Posted::Created)
                .ok_or_else(|| AdminError::Unexpected {
                    doing: doing.to_string(),
                    message: "not JSON".into(),
                }),
            Outcome::Answer(r) => Err(self.refusal(doing, &r, perms)),
            Outcome::Unsettled(m) => Ok(Posted::Unsettled(m)),
        }
    }

    // The calls themselves.

    pub fn list_methods(&mut self, user: &str) -> Result<Vec<Value>> {
        self.cloud().require(Call::ListMethods)?;
        self.get_all(
            &format!("listing {user}'s methods"),
            &format!("/users/{}/authentication/methods", user_segment(user)?),
            &[perm::METHODS_READ],
        )
    }

    pub fn list_passkeys(&mut self, user: &str) -> Result<Vec<Value>> {
        self.cloud().require(Call::ListMethods)?;
        self.get_all(
            &format!("listing {user}'s passkeys"),
            &format!("/users/{}/authentication/fido2Methods", user_segment(user)?),
            &[perm::PASSKEY_WRITE],
        )
    }

    pub fn creation_options(&mut self, user: &str) -> Result<Value> {
        self.cloud().require(Call::CreationOptions)?;
        self.get(
            &format!("asking passkey creation options for {user}"),
            &format!(
                "/users/{}/authentication/fido2Methods/creationOptions",
                user_segment(user)?
            ),
            &[perm::PASSKEY_WRITE],
        )
    }

    pub fn register_passkey(&mut self, user: &str, body: &Value) -> Result<Posted> {
        self.cloud().require(Call::RegisterPasskey)?;
        self.post_once(
            &format!("registering a passkey for {user}"),
            &format!("/users/{}/authentication/fido2Methods", user_segment(user)?),
            body,
            &[perm::PASSKEY_WRITE],
        )
    }

    pub fn fido2_policy(&mut self) -> Result<Value> {
        self.cloud().require(Call::ReadPolicy)?;
        self.get(
            "reading the passkey (FIDO2) policy",
            "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2",
            &[perm::POLICY_READ],
        )
    }

    pub fn delete_method(
        &mut self,
        user: &str,
        collection: &str,
        id: &str,
        permission: &str,
    ) -> Result<Deleted> {
        self.cloud().require(Call::DeleteMethod)?;
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(AdminError::Unexpected {
                doing: format!("deleting {user}'s method"),
                message: format!("method id `{id}` is not one Graph gives"),
            });
        }
        self.delete(
            &format!("deleting {user}'s {collection} method {id}"),
            &format!(
                "/users/{}/authentication/{collection}/{id}",
                user_segment(user)?
            ),
            &[permission],
        )
    }
}

trait WithNote {
    fn with_note(self, note: &str) -> Self;
}

impl WithNote for AdminError {
    fn with_note(mut self, note: &str) -> Self {
        if let AdminError::Graph { message, .. } = &mut self {
            message.push_str(note);
        }
        self
    }
}

/// A user as a path segment: a user principal name or an object id. Anything else is refused
/// rather than escaped, so a typo cannot address another resource.
pub fn user_segment(user: &str) -> Result<&str> {
    let ok = !user.is_empty()
        && user.len() <= 256
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._-+".contains(c));
    if ok {
        Ok(user)
    } else {
        Err(AdminError::Config(format!(
            "`{user}` is not a user principal name (name@domain) or object id"
        )))
    }
}
