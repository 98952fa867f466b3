//! HTTPS for admin APIs: always verified TLS, bounded waits, and the retry rules.
//!
//! Which requests may be sent again is decided by the caller ([`Retry`]): reads and deletes are
//! repeated after throttling, server errors and lost answers; a create is repeated only after
//! a throttling answer (the service says it did nothing), never after a lost answer.

use std::time::Duration;
use zeroize::Zeroizing;

/// Graph gives up on a request after 60 s; waiting a little longer lets its answer arrive.
const TIMEOUT: Duration = Duration::from_secs(70);
/// At most this many tries of one request.
pub const MAX_TRIES: u32 = 4;
/// A Retry-After longer than this is not waited for; the error says when to try again.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// What a request carries.
#[derive(Clone, Copy)]
pub enum Body<'a> {
    Empty,
    Json(&'a serde_json::Value),
    /// application/x-www-form-urlencoded (sign-in requests).
    Form(&'a [(&'a str, &'a str)]),
}

/// An HTTP answer, whatever its status. The body may hold a token (sign-in answers): it is
/// wiped when dropped and never shown by `Debug`.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Zeroizing<String>,
    pub retry_after: Option<Duration>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl Reply {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.body.as_str()).ok()
    }

    /// Graph's `error.code` and `error.message`, or the OAuth `error` and
    /// `error_description`.
    pub fn error_parts(&self) -> (String, String) {
        let v = self.json().unwrap_or_default();
        if let Some(e) = v.get("error").filter(|e| e.is_object()) {
            let code = e["code"].as_str().unwrap_or("").to_string();
            let message = e["message"].as_str().unwrap_or("").to_string();
            return (code, message);
        }
        let code = v["error"].as_str().unwrap_or("").to_string();
        let message = v["error_description"]
            .as_str()
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        (code, message)
    }
}

/// No answer: connection refused, TLS failure, timeout, a broken reply.
#[derive(Debug, Clone)]
pub struct NoAnswer {
    pub message: String,
    /// The request may have reached the service (it was sent, the answer was lost).
    pub maybe_delivered: bool,
}

/// One HTTPS client for the whole command.
pub struct Http {
    agent: ureq::Agent,
    /// Pause before the first retry; doubled each time.
    pub backoff: Duration,
}

impl Http {
    pub fn new() -> Http {
        let tls = ureq::tls::TlsConfig::builder().root_certs(roots()).build();
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout()))
            .max_redirects(0)
            .tls_config(tls);
        if test_roots().is_some() {
            // The local test double is on 127.0.0.1: never send it through a proxy.
            config = config.proxy(None);
        }
        Http {
            agent: config.build().new_agent(),
            backoff: Duration::from_millis(500),
        }
    }

    /// Send once. The bearer token goes only into the Authorization header.
    pub fn send(
        &self,
        method: Method,
        url: &str,
        bearer: Option<&str>,
        body: Body<'_>,
    ) -> Result<Reply, NoAnswer> {
        // Tokens and secrets travel encrypted or not at all.
        if !url.starts_with("https://") {
            return Err(NoAnswer {
                message: "refused to send over plain HTTP".into(),
                maybe_delivered: false,
            });
        }
        let auth = bearer.map(|t| Zeroizing::new(format!("Bearer {t}")));
        let result = match (method, body) {
            (Method::Get, _) => {
                let mut r = self.agent.get(url).header("Accept", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a.as_str());
                }
                r.call()
            }
            (Method::Delete, _) => {
                let mut r = self.agent.delete(url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a.as_str());
                }
                r.call()
            }
            (Method::Post, body) => {
                let mut r = self.agent.post(url).header("Accept", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a.as_str());
                }
                match body {
                    Body::Empty => r.send_empty(),
                    Body::Json(v) => r
                        .header("Content-Type", "application/json")
                        .send(v.to_string()),
                    // Encoded here, into memory that is wiped: it holds a client secret,
                    // an assertion or a refresh token.
                    Body::Form(pairs) => {
                        let form = Zeroizing::new(
                            url::form_urlencoded::Serializer::new(String::new())
                                .extend_pairs(pairs.iter())
                                .finish(),
                        );
                        r.header("Content-Type", "application/x-www-form-urlencoded")
                            .send(form.as_bytes())
                    }
                }
            }
        };
        match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("Retry-After")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(8 * 1024 * 1024)
                    .read_to_string()
                    .map(Zeroizing::new)
                    .map_err(|e| NoAnswer {
                        message: format!("the answer broke off ({})", describe(&e)),
                        maybe_delivered: true,
                    })?;
                Ok(Reply {
                    status,
                    body,
                    retry_after,
                })
            }
            Err(e) => Err(NoAnswer {
                maybe_delivered: !matches!(
                    e,
                    ureq::Error::HostNotFound
                        | ureq::Error::BadUri(_)
                        | ureq::Error::Tls(_)
                        | ureq::Error::Rustls(_)
                ) && !connect_refused(&e),
                message: describe(&e),
            }),
        }
    }

    /// How long to wait before try number `attempt` (1 = the first retry).
    pub fn pause(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        match retry_after {
            Some(d) if d > MAX_RETRY_AFTER => None,
            Some(d) => Some(d),
            None => Some(self.backoff * 2u32.saturating_pow(attempt.saturating_sub(1))),
        }
    }
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

fn connect_refused(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
        || matches!(e, ureq::Error::ConnectionFailed)
}

/// A transport error in words; never the request (its headers hold the token).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::Io(io) => format!("network error: {}", io.kind()),
        ureq::Error::Tls(m) => format!("TLS: {m}"),
        ureq::Error::Rustls(r) => format!("TLS: {r}"),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        other => other.to_string(),
    }
}

fn timeout() -> Duration {
    // Tests of the debug build shorten the wait to exercise timeouts; compiled out of releases.
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("KEYWARD_TEST_HTTP_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Duration::from_millis(ms);
    }
    TIMEOUT
}

/// The public web's roots (Mozilla's list, as webpki-roots ships it). TLS is always verified:
/// there is no switch to turn it off.
fn roots() -> ureq::tls::RootCerts {
    match test_roots() {
        Some(certs) => ureq::tls::RootCerts::new_with_certs(&certs),
        None => ureq::tls::RootCerts::WebPki,
    }
}

/// In a debug build only, `KEYWARD_TEST_EXTRA_ROOT` names a PEM file whose CA replaces the
/// public roots, so the tests' local Graph double can be verified like the real one. Release
/// builds do not contain this code: no setting can make them trust another root.
#[cfg(debug_assertions)]
fn test_roots() -> Option<Vec<ureq::tls::Certificate<'static>>> {
    let path = std::env::var_os("KEYWARD_TEST_EXTRA_ROOT")?;
    let pem = std::fs::read(&path).ok()?;
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    (!certs.is_empty()).then_some(certs)
}

#[cfg(not(debug_assertions))]
fn test_roots() -> Option<Vec<ureq::tls::Certificate<'static>>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_holding_a_token_never_shows_it_in_debug_output() {
        let r = Reply {
            status: 200,
            body: Zeroizing::new(r#"{"access_token":"eyJ0eXAi.secret-token"}"#.into()),
            retry_after: None,
        };
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("secret-token") && shown.contains("200"),
            "{shown}"
        );
    }
}
