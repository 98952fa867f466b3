//! A local Microsoft Graph (and its sign-in service) for the tests: HTTPS on 127.0.0.1 with a
//! certificate from a CA made for this test only, the endpoints keyward calls, every request
//! and response body held against the Graph schema subset, and failures injected on demand.
#![allow(dead_code)]

pub mod schema;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64U;
use base64::Engine;
use crypto_glue::s256::Sha256;
use crypto_glue::traits::Digest;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TENANT: &str = "contoso.onmicrosoft.com";
pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const SECRET: &str = "s3cr3t~client~SECRET~value~0123456789";
pub const RP_ID: &str = "login.microsoftonline.com";
pub const ORIGIN: &str = "https://login.microsoftonline.com";

/// What to do instead of answering normally.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this status (and Retry-After seconds) without doing anything.
    Status(u16, Option<u64>),
    /// Wait this long, then close without answering (the client times out first).
    Stall(Duration),
    /// Answer 401 as if the token had expired.
    Expired,
    /// Do the work, then close the connection without answering (a lost answer).
    DoThenDrop,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    pub path_contains: String,
    pub kind: FaultKind,
    pub times: u32,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub body: String,
    /// When the request arrived, and when it was answered (or given up).
    pub arrived: Instant,
    pub at: Instant,
}

pub struct User {
    pub id: String,
    pub upn: String,
    pub display_name: String,
    pub methods: Vec<Value>,
    /// Credential ids (base64url) of registered passkeys, by method id.
    pub credentials: BTreeMap<String, String>,
    /// The default method's id: Graph refuses to delete it.
    pub default_method: Option<String>,
    /// `(method id, n)`: the person removes this method on the website while keyward looks,
    /// so the n-th listing of the user's methods (and every later one) no longer shows it.
    pub removed_at_listing: Option<(String, u32)>,
}

pub struct State {
    pub users: BTreeMap<String, User>,
    pub policy: Value,
    pub faults: Vec<Fault>,
    pub log: Vec<Logged>,
    pub violations: Vec<String>,
    pub latency: Duration,
    pub tokens_issued: Vec<String>,
    pub refresh_tokens: Vec<String>,
    pub device_polls_pending: u32,
    pub challenges: Vec<(String, Vec<u8>, Instant, bool)>,
    pub save_dir: Option<PathBuf>,
    counter: u64,
}

pub struct Double {
    pub url: String,
    pub ca_file: PathBuf,
    pub state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    schema: Arc<schema::Schema>,
}

impl Drop for Double {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

pub fn default_policy() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.fido2AuthenticationMethodConfiguration",
        "id": "Fido2", "state": "enabled", "excludeTargets": [],
        "isSelfServiceRegistrationAllowed": true, "isAttestationEnforced": false,
        "keyRestrictions": {"isEnforced": false, "enforcementType": "block", "aaGuids": []},
        "defaultPasskeyProfile": null, "passkeyProfiles": [],
        "includeTargets": [{"id": "all_users", "targetType": "group", "isRegistrationRequired": false, "allowedPasskeyProfiles": []}]
    })
}

pub fn phone(id: &str, kind: &str, number: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": id,
        "phoneNumber": number, "phoneType": kind, "smsSignInState": "notEnabled"})
}
pub const MOBILE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
pub const ALTERNATE: &str = "b6332ec1-7057-4abe-9331-3d72feddfe41";

pub fn email(id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "id": id, "emailAddress": "ada.home@example.com"})
}
pub fn authenticator(id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": id,
        "displayName": "Ada's iPhone", "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.2401.0119", "createdDateTime": "2025-03-01T10:00:00Z"})
}
pub fn software_oath(id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod", "id": id})
}
pub fn tap(id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod", "id": id,
        "isUsable": true, "isUsableOnce": true, "lifetimeInMinutes": 60, "methodUsabilityReason": "EnabledByPolicy",
        "startDateTime": "2026-12-01T08:00:00Z", "createdDateTime": "2026-12-01T08:00:00Z"})
}
pub fn password() -> Value {
    json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "28c10230-6103-485e-b985-444c60001490",
        "password": null, "createdDateTime": "2024-01-01T00:00:00Z"})
}
pub fn hello(id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod", "id": id,
        "displayName": "ADA-LAPTOP", "keyStrength": "normal", "createdDateTime": "2025-01-01T00:00:00Z"})
}

fn collection_type(collection: &str) -> Option<&'static str> {
    Some(match collection {
        "phoneMethods" => "phoneAuthenticationMethod",
        "emailMethods" => "emailAuthenticationMethod",
        "microsoftAuthenticatorMethods" => "microsoftAuthenticatorAuthenticationMethod",
        "softwareOathMethods" => "softwareOathAuthenticationMethod",
        "temporaryAccessPassMethods" => "temporaryAccessPassAuthenticationMethod",
        "fido2Methods" => "fido2AuthenticationMethod",
        "windowsHelloForBusinessMethods" => "windowsHelloForBusinessAuthenticationMethod",
        "platformCredentialMethods" => "platformCredentialAuthenticationMethod",
        _ => return None,
    })
}

impl Double {
    /// Start on a free port of 127.0.0.1. The CA's certificate is written to `dir`.
    pub fn start(dir: &Path) -> Double {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "keyward test CA (Graph double)");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        let ca_file = dir.join("graph-double-ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone(), ca.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            users: BTreeMap::new(),
            policy: default_policy(),
            faults: Vec::new(),
            log: Vec::new(),
            violations: Vec::new(),
            latency: Duration::ZERO,
            tokens_issued: Vec::new(),
            refresh_tokens: Vec::new(),
            device_polls_pending: 1,
            challenges: Vec::new(),
            save_dir: None,
            counter: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let schema = Arc::new(schema::Schema::load());
        let d = Double {
            url,
            ca_file,
            state: state.clone(),
            stop: stop.clone(),
            schema: schema.clone(),
        };
        std::thread::spawn(move || {
            let started = Instant::now();
            // Stops with the test, and by itself after ten minutes in any case.
            while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(600) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        let (config, state, schema) =
                            (config.clone(), state.clone(), schema.clone());
                        std::thread::spawn(move || serve(sock, config, state, schema));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        d
    }

    pub fn add_user(&self, upn: &str, display_name: &str, methods: Vec<Value>) {
        let mut s = self.state.lock().unwrap();
        s.counter += 1;
        let id = format!("00000000-0000-4000-8000-{:012}", s.counter);
        s.users.insert(
            upn.to_string(),
            User {
                id,
                upn: upn.into(),
                display_name: display_name.into(),
                methods,
                credentials: BTreeMap::new(),
                default_method: None,
                removed_at_listing: None,
            },
        );
    }

    pub fn fault(&self, method: &'static str, path_contains: &str, kind: FaultKind, times: u32) {
        self.state.lock().unwrap().faults.push(Fault {
            method,
            path_contains: path_contains.into(),
            kind,
            times,
        });
    }

    pub fn set_policy(&self, p: Value) {
        self.state.lock().unwrap().policy = p;
    }

    pub fn methods_of(&self, upn: &str) -> Vec<Value> {
        self.state.lock().unwrap().users[upn].methods.clone()
    }

    pub fn with_user<T>(&self, upn: &str, f: impl FnOnce(&mut User) -> T) -> T {
        f(self.state.lock().unwrap().users.get_mut(upn).unwrap())
    }

    /// Requests so far as "METHOD path" with their status.
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        self.state
            .lock()
            .unwrap()
            .log
            .iter()
            .map(|l| (l.method.clone(), l.path.clone(), l.status))
            .collect()
    }

    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        self.requests()
            .iter()
            .filter(|(m, p, _)| m == method && p.contains(path_contains))
            .count()
    }

    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    pub fn tokens(&self) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.tokens_issued
            .iter()
            .chain(s.refresh_tokens.iter())
            .cloned()
            .collect()
    }

    /// The environment that points a debug keyward at this double.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("KEYWARD_TEST_GRAPH_URL".into(), self.url.clone()),
            (
                "KEYWARD_TEST_EXTRA_ROOT".into(),
                self.ca_file.display().to_string(),
            ),
            ("KEYWARD_TEST_CREDENTIAL_STORE".into(), "mock".into()),
            ("KEYWARD_ENTRA_CLIENT_SECRET".into(), SECRET.into()),
        ]
    }
}

struct Request {
    method: String,
    path: String,
    host: Option<String>,
    auth: Option<String>,
    body: String,
}

fn read_request(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut len = 0usize;
    let mut auth = None;
    let mut host = None;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().ok()?,
                "authorization" => auth = v.trim().strip_prefix("Bearer ").map(str::to_string),
                "host" => host = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        host,
        auth,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

type Answer = (u16, Value, Option<u64>);

fn serve(
    sock: TcpStream,
    config: Arc<rustls::ServerConfig>,
    state: Arc<Mutex<State>>,
    schema: Arc<schema::Schema>,
) {
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_read_timeout(Some(Duration::from_secs(30)));
    let conn = match rustls::ServerConnection::new(config) {
        Ok(c) => c,
        Err(_) => return,
    };
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let req = {
        let mut reader = BufReader::new(&mut tls);
        match read_request(&mut reader) {
            Some(r) => r,
            None => return,
        }
    };
    let arrived = Instant::now();
    let latency = state.lock().unwrap().latency;
    std::thread::sleep(latency);
    let fault = take_fault(&state, &req);
    let answer = match &fault {
        Some(FaultKind::Status(code, retry)) => Some((
            *code,
            json!({"error": {"code": "injected", "message": format!("injected HTTP {code}")}}),
            *retry,
        )),
        Some(FaultKind::Expired) => Some((
            401,
            json!({"error": {"code": "InvalidAuthenticationToken", "message": "Lifetime validation failed, the token is expired."}}),
            None,
        )),
        Some(FaultKind::Stall(d)) => {
            std::thread::sleep(*d);
            None
        }
        Some(FaultKind::DoThenDrop) => {
            let _ = route(&state, &schema, &req);
            None
        }
        None => Some(route(&state, &schema, &req)),
    };
    let status = answer.as_ref().map(|a| a.0).unwrap_or(0);
    state.lock().unwrap().log.push(Logged {
        method: req.method.clone(),
        path: req.path.clone(),
        status,
        body: req.body.clone(),
        arrived,
        at: Instant::now(),
    });
    let Some((status, body, retry_after)) = answer else {
        // Drop the connection without a word.
        let _ = tls.sock.shutdown(std::net::Shutdown::Both);
        return;
    };
    let text = if status == 204 {
        String::new()
    } else {
        body.to_string()
    };
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        text.len()
    );
    if let Some(s) = retry_after {
        head.push_str(&format!("Retry-After: {s}\r\n"));
    }
    head.push_str("\r\n");
    let _ = tls.write_all(head.as_bytes());
    let _ = tls.write_all(text.as_bytes());
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

fn take_fault(state: &Arc<Mutex<State>>, req: &Request) -> Option<FaultKind> {
    let mut s = state.lock().unwrap();
    // A `$` at the end of `path_contains` matches the end of the path only.
    let hits = |f: &Fault| match f.path_contains.strip_suffix('$') {
        Some(end) => req.path.split('?').next().unwrap_or("").ends_with(end),
        None => req.path.contains(&f.path_contains),
    };
    let f = s
        .faults
        .iter_mut()
        .find(|f| f.times > 0 && f.method == req.method && hits(f))?;
    f.times -= 1;
    Some(f.kind.clone())
}

fn graph_error(status: u16, code: &str, message: &str) -> Answer {
    (
        status,
        json!({"error": {"code": code, "message": message}}),
        None,
    )
}

fn form(body: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn route(state: &Arc<Mutex<State>>, schema: &schema::Schema, req: &Request) -> Answer {
    let mut s = state.lock().unwrap();
    let path = req.path.split('?').next().unwrap_or("").to_string();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // Sign-in service.
    if segs.len() == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" {
        if segs[0] != TENANT {
            return (
                400,
                json!({"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."}),
                None,
            );
        }
        let f = form(&req.body);
        if f.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
            return (
                400,
                json!({"error": "unauthorized_client", "error_description": "AADSTS700016: Application not found in the directory."}),
                None,
            );
        }
        if segs[3] == "devicecode" {
            return (
                200,
                json!({"device_code": "dc-opaque-1", "user_code": "ABCD-EFGH",
                "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 1,
                "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD-EFGH to authenticate."}),
                None,
            );
        }
        s.counter += 1;
        let access = format!(
            "at-{}-{:x}",
            s.counter,
            Sha256::digest(format!("{}{}", s.counter, req.body).as_bytes())[0..8]
                .iter()
                .fold(0u64, |a, b| (a << 8) | *b as u64)
        );
        let refresh = format!("rt-{}-refresh", s.counter);
        let grant = f.get("grant_type").cloned().unwrap_or_default();
        match grant.as_str() {
            "client_credentials" => {
                let assertion_ok = f.get("client_assertion").map(|a| {
                    f.get("client_assertion_type").map(String::as_str)
                        == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                        && client_assertion_valid(
                            a,
                            &format!("https://{}", req.host.as_deref().unwrap_or("")),
                            &req.path,
                        )
                });
                if assertion_ok == Some(false) {
                    return (
                        401,
                        json!({"error": "invalid_client", "error_description": "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.\r\nTrace ID: 2"}),
                        None,
                    );
                }
                if assertion_ok.is_none()
                    && f.get("client_secret").map(String::as_str) != Some(SECRET)
                {
                    return (
                        401,
                        json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.\r\nTrace ID: 1"}),
                        None,
                    );
                }
                if !f.get("scope").is_some_and(|sc| sc.ends_with("/.default")) {
                    return (
                        400,
                        json!({"error": "invalid_scope", "error_description": "AADSTS1002012: app-only needs .default"}),
                        None,
                    );
                }
                s.tokens_issued.push(access.clone());
                (
                    200,
                    json!({"token_type": "Bearer", "expires_in": 3599, "access_token": access}),
                    None,
                )
            }
            "urn:ietf:params:oauth:grant-type:device_code" => {
                if s.device_polls_pending > 0 {
                    s.device_polls_pending -= 1;
                    return (
                        400,
                        json!({"error": "authorization_pending", "error_description": "AADSTS70016: pending"}),
                        None,
                    );
                }
                s.tokens_issued.push(access.clone());
                s.refresh_tokens.push(refresh.clone());
                (
                    200,
                    json!({"token_type": "Bearer", "expires_in": 3599, "access_token": access, "refresh_token": refresh, "scope": f.get("scope")}),
                    None,
                )
            }
            "refresh_token" => {
                let given = f.get("refresh_token").cloned().unwrap_or_default();
                if !s.refresh_tokens.contains(&given) {
                    return (
                        400,
                        json!({"error": "invalid_grant", "error_description": "AADSTS70008: expired"}),
                        None,
                    );
                }
                s.tokens_issued.push(access.clone());
                s.refresh_tokens.push(refresh.clone());
                (
                    200,
                    json!({"token_type": "Bearer", "expires_in": 3599, "access_token": access, "refresh_token": refresh}),
                    None,
                )
            }
            _ => (400, json!({"error": "unsupported_grant_type"}), None),
        }
    } else {
        // Graph.
        if !req
            .auth
            .as_ref()
            .is_some_and(|t| s.tokens_issued.contains(t))
        {
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token is empty or invalid.",
            );
        }
        let answer = graph(&mut s, schema, req, &segs);
        if (200..300).contains(&answer.0) {
            let v = &answer.1;
            let ty = if segs.last() == Some(&"creationOptions") {
                Some("graph.webauthnCredentialCreationOptions")
            } else if segs.first() == Some(&"v1.0") && segs.get(1) == Some(&"policies") {
                Some("graph.fido2AuthenticationMethodConfiguration")
            } else if v.get("value").is_some() {
                Some("graph.authenticationMethod")
            } else if answer.0 == 201 {
                Some("graph.fido2AuthenticationMethod")
            } else {
                None
            };
            if let Some(ty) = ty {
                let items: Vec<&Value> = match v.get("value").and_then(Value::as_array) {
                    Some(a) => a.iter().collect(),
                    None => vec![v],
                };
                for item in items {
                    let found = schema.check(item, ty, "response");
                    s.violations.extend(
                        found
                            .into_iter()
                            .map(|e| format!("{} {}: {e}", req.method, req.path)),
                    );
                }
            }
        }
        answer
    }
}

fn graph(s: &mut State, schema: &schema::Schema, req: &Request, segs: &[&str]) -> Answer {
    if segs.first() != Some(&"v1.0") {
        return graph_error(400, "BadRequest", "Invalid version.");
    }
    if segs[1..]
        == [
            "policies",
            "authenticationMethodsPolicy",
            "authenticationMethodConfigurations",
            "fido2",
        ]
    {
        return (200, s.policy.clone(), None);
    }
    if segs.len() < 4 || segs[1] != "users" || segs[3] != "authentication" {
        return graph_error(400, "BadRequest", "Resource not found for the segment.");
    }
    let upn = segs[2].to_string();
    let Some(user) = s.users.get(&upn) else {
        return graph_error(404, "Request_ResourceNotFound", "Resource does not exist.");
    };
    let user_id = user.id.clone();
    match (req.method.as_str(), &segs[4..]) {
        ("GET", ["methods"]) => {
            let user = s.users.get_mut(&upn).unwrap();
            if let Some((id, n)) = &mut user.removed_at_listing {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    let id = id.clone();
                    user.methods.retain(|m| m["id"] != id.as_str());
                }
            }
            let v = user.methods.clone();
            (
                200,
                json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/authentication/methods", "value": v}),
                None,
            )
        }
        ("GET", ["fido2Methods"]) => {
            let v: Vec<Value> = user
                .methods
                .iter()
                .filter(|m| m["@odata.type"] == "#microsoft.graph.fido2AuthenticationMethod")
                .cloned()
                .collect();
            (200, json!({"value": v}), None)
        }
        ("GET", ["fido2Methods", "creationOptions"]) => {
            s.counter += 1;
            let challenge: Vec<u8> =
                Sha256::digest(format!("challenge-{}", s.counter).as_bytes()).to_vec();
            let exclude: Vec<Value> = user
                .credentials
                .values()
                .map(|c| json!({"id": c, "type": "public-key", "transports": ["usb"]}))
                .collect();
            let (display, name) = (user.display_name.clone(), user.upn.clone());
            s.challenges
                .push((upn.clone(), challenge.clone(), Instant::now(), false));
            let expires = time::OffsetDateTime::now_utc() + time::Duration::minutes(5);
            (
                200,
                json!({
                    "challengeTimeoutDateTime": expires.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap(),
                    "publicKey": {
                        "challenge": B64U.encode(&challenge),
                        "timeout": 300000,
                        "attestation": "direct",
                        "rp": {"id": RP_ID, "name": "Microsoft"},
                        "user": {"id": B64U.encode(user_id.as_bytes()), "name": name, "displayName": display},
                        "pubKeyCredParams": [{"type": "public-key", "alg": -7}, {"type": "public-key", "alg": -257}],
                        "excludeCredentials": exclude,
                        "authenticatorSelection": {"authenticatorAttachment": "cross-platform", "requireResidentKey": true, "userVerification": "required"},
                        "extensions": {"hmacCreateSecret": true, "enforceCredentialProtectionPolicy": true, "credentialProtectionPolicy": "userVerificationOptional"}
                    }
                }),
                None,
            )
        }
        ("POST", ["fido2Methods"]) => post_passkey(s, schema, &upn, req),
        ("DELETE", [collection, id]) => {
            let Some(ty) = collection_type(collection) else {
                return graph_error(
                    405,
                    "MethodNotAllowed",
                    "Deleting this collection is not supported.",
                );
            };
            let user = s.users.get_mut(&upn).unwrap();
            if user.default_method.as_deref() == Some(*id) {
                return graph_error(
                    400,
                    "badRequest",
                    "Cannot delete the user's default authentication method.",
                );
            }
            if *collection == "phoneMethods"
                && *id == MOBILE
                && user.methods.iter().any(|m| m["id"] == ALTERNATE)
            {
                return graph_error(
                    400,
                    "badRequest",
                    "Cannot delete mobile phone while an alternate mobile phone exists.",
                );
            }
            let before = user.methods.len();
            user.methods.retain(|m| {
                !(m["id"] == *id && m["@odata.type"] == format!("#microsoft.graph.{ty}"))
            });
            if user.methods.len() == before {
                return graph_error(404, "itemNotFound", "The method does not exist.");
            }
            user.credentials.remove(*id);
            (204, Value::Null, None)
        }
        _ => graph_error(400, "BadRequest", "Unsupported request."),
    }
}

fn post_passkey(s: &mut State, schema: &schema::Schema, upn: &str, req: &Request) -> Answer {
    let Ok(body) = serde_json::from_str::<Value>(&req.body) else {
        return graph_error(400, "BadRequest", "Body is not JSON.");
    };
    let problems = schema.check(&body, "graph.fido2AuthenticationMethod", "request");
    if !problems.is_empty() {
        s.violations.extend(problems.iter().cloned());
        return graph_error(400, "BadRequest", &problems.join("; "));
    }
    let refuse = |m: &str| graph_error(400, "invalidRequest", m);
    if s.policy["isSelfServiceRegistrationAllowed"] != true {
        return graph_error(
            403,
            "accessDenied",
            "Passkey registration requires self-service setup to be allowed.",
        );
    }
    let pkc = &body["publicKeyCredential"];
    let (Some(id), Some(cdj_b64), Some(att_b64)) = (
        pkc["id"].as_str(),
        pkc["response"]["clientDataJSON"].as_str(),
        pkc["response"]["attestationObject"].as_str(),
    ) else {
        return refuse("publicKeyCredential is incomplete.");
    };
    let (Ok(cdj), Ok(att), Ok(cred_id)) =
        (B64U.decode(cdj_b64), B64U.decode(att_b64), B64U.decode(id))
    else {
        return refuse("Not base64url.");
    };
    // The challenge must be one we issued to this user, unused and within 5 minutes.
    let Some(pos) = s.challenges.iter().position(|(u, c, at, used)| {
        u == upn && !used && at.elapsed() < Duration::from_secs(300)
            && String::from_utf8_lossy(&cdj)
                == format!(r#"{{"type":"webauthn.create","challenge":"{}","origin":"{ORIGIN}","crossOrigin":false}}"#, B64U.encode(c))
    }) else {
        s.violations.push(format!("clientDataJSON not as a browser builds it for an issued challenge: {}", String::from_utf8_lossy(&cdj)));
        return refuse("clientDataJSON does not match an issued challenge.");
    };
    let challenge = s.challenges[pos].1.clone();
    s.challenges[pos].3 = true;
    let Ok(serde_cbor_2::Value::Map(obj)) = serde_cbor_2::from_slice::<serde_cbor_2::Value>(&att)
    else {
        return refuse("attestationObject is not CBOR.");
    };
    let get = |k: &str| obj.get(&serde_cbor_2::Value::Text(k.into()));
    let (Some(serde_cbor_2::Value::Bytes(auth)), Some(serde_cbor_2::Value::Text(fmt))) =
        (get("authData"), get("fmt"))
    else {
        return refuse("attestationObject lacks authData or fmt.");
    };
    if auth.len() < 55 || auth[..32] != Sha256::digest(RP_ID.as_bytes())[..] {
        return refuse("authData is not for login.microsoftonline.com.");
    }
    let flags = auth[32];
    if flags & 0x01 == 0 || flags & 0x04 == 0 || flags & 0x40 == 0 {
        return refuse(
            "authData lacks user presence, user verification or attested credential data.",
        );
    }
    let aaguid = uuid::Uuid::from_slice(&auth[37..53]).unwrap();
    let len = u16::from_be_bytes([auth[53], auth[54]]) as usize;
    if auth.len() < 55 + len || auth[55..55 + len] != cred_id[..] {
        return refuse("The credential id does not match authData.");
    }
    let a = aaguid.to_string();
    let enforced = s.policy["keyRestrictions"]["isEnforced"] == true;
    let listed = s.policy["keyRestrictions"]["aaGuids"]
        .as_array()
        .is_some_and(|l| {
            l.iter()
                .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(&a)))
        });
    let allow = s.policy["keyRestrictions"]["enforcementType"] == "allow";
    if enforced && (allow != listed) {
        return graph_error(400, "invalidRequest", "The security key is not allowed by the authentication methods policy (key restrictions).");
    }
    let user = s.users.get(upn).unwrap();
    if user.credentials.values().any(|c| c == id) {
        return refuse("This credential is already registered.");
    }
    s.counter += 1;
    let method_id = B64U.encode(Sha256::digest(format!("method-{}", s.counter).as_bytes()));
    let attested = fmt == "packed"
        && matches!(get("attStmt"), Some(serde_cbor_2::Value::Map(m)) if m.contains_key(&serde_cbor_2::Value::Text("x5c".into())));
    let method = json!({
        "@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
        "id": method_id,
        "displayName": body["displayName"],
        "createdDateTime": time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap(),
        "aaGuid": a,
        "model": "keyward virtual key",
        "attestationCertificates": [],
        "attestationLevel": if attested { "attested" } else { "notAttested" },
        "passkeyType": "deviceBound",
    });
    if let Some(dir) = &s.save_dir {
        let n = s.counter;
        let saved = json!({"rp_id": RP_ID, "origin": ORIGIN, "challenge": B64U.encode(&challenge),
            "user_verification": "required", "body": body});
        std::fs::write(
            dir.join(format!("registration-{n}.json")),
            serde_json::to_string_pretty(&saved).unwrap(),
        )
        .unwrap();
    }
    let user = s.users.get_mut(upn).unwrap();
    user.methods.push(method.clone());
    user.credentials.insert(method_id, id.to_string());
    (201, method, None)
}

/// The test application's certificate (tests/data/graph/SOURCE.md).
pub const TEST_CERT: &str = include_str!("../data/graph/test-app-cert.pem");
pub const TEST_KEY: &str = include_str!("../data/graph/test-app-key.pem");

/// An RS256 client assertion signed by the test application's key, naming its certificate,
/// for this token endpoint, from this application, not expired.
fn client_assertion_valid(jwt: &str, origin: &str, path: &str) -> bool {
    use crypto_glue::rsa::{RS256PublicKey, RS256Signature, RS256VerifyingKey};
    use crypto_glue::traits::{SpkiDecodePublicKey, Verifier};
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    let (Ok(h), Ok(c), Ok(sig)) = (
        B64U.decode(parts[0]),
        B64U.decode(parts[1]),
        B64U.decode(parts[2]),
    ) else {
        return false;
    };
    let (Ok(h), Ok(c)) = (
        serde_json::from_slice::<Value>(&h),
        serde_json::from_slice::<Value>(&c),
    ) else {
        return false;
    };
    let der: Vec<u8> = ureq_free_pem_cert(TEST_CERT);
    let x5t = B64U.encode(Sha256::digest(&der));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims_ok = h["alg"] == "RS256"
        && h["x5t#S256"] == x5t.as_str()
        && c["iss"] == CLIENT_ID
        && c["sub"] == CLIENT_ID
        && c["aud"] == format!("{origin}{path}").as_str()
        && c["exp"].as_i64().is_some_and(|e| e > now)
        && c["jti"].is_string();
    let public = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/graph/test-app-pubkey.der"
    ))
    .unwrap();
    let key = RS256VerifyingKey::new(RS256PublicKey::from_public_key_der(&public).unwrap());
    let Ok(signature) = RS256Signature::try_from(sig.as_slice()) else {
        return false;
    };
    claims_ok
        && key
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .is_ok()
}

fn ureq_free_pem_cert(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}
