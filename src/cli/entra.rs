//! `keyward entra ...`: Microsoft Entra ID through Microsoft Graph. Connect to a tenant, see a
//! user's methods and the passkey policy, remove weaker methods, register the key in hand.
//! Every Graph answer that proves something goes to the ledger as evidence, with its date.

use super::entra_intent::{self, Intent};
use super::Context;
use crate::admin::cloud::{Call, Cloud};
use crate::admin::config::{AuthMode, EntraConfig};
use crate::admin::graph::{perm, Deleted, Graph};
use crate::admin::methods::{self, GraphMethod, VISIBLE_TO_GRAPH};
use crate::admin::policy::{self, KeyFacts, Verdict};
use crate::admin::secret::{self, Secret, Store};
use crate::admin::{checked_at, register, AdminError};
use crate::error::{Error, ExitCode, Result};
use crate::ledger::{
    Account, Evidence, EvidenceDetail, Ledger, MethodRecord, MethodStatus, NewEnrollment, NewKey,
    Writer,
};
use crate::playbook::MethodKind;
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::json;
use std::collections::HashSet;
use std::fmt::Write as _;

/// The playbook id of Entra accounts in the ledger.
pub const PLAYBOOK: &str = "microsoft-entra";

#[derive(Debug, Args)]
pub struct EntraArgs {
    #[command(subcommand)]
    pub command: EntraCommand,
}

#[derive(Debug, Subcommand)]
pub enum EntraCommand {
    /// Set up access to one tenant (secret or sign-in kept in the OS credential store).
    Connect(ConnectArgs),
    /// Forget this tenant's secret or sign-in and the connection settings.
    Disconnect,
    /// A user's sign-in methods as Graph lists them, mapped onto keyward's weaker methods.
    Methods(UserArgs),
    /// Read the passkey (FIDO2) policy and say whether a key can be registered, and why not.
    Check(CheckArgs),
    /// Delete weaker methods of a user, after an explicit confirmation naming each.
    Remove(RemoveArgs),
    /// Register the key in hand as a passkey for a user.
    Register(RegisterArgs),
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Tenant id (GUID) or primary domain, e.g. contoso.onmicrosoft.com.
    #[arg(long)]
    pub tenant: String,
    /// Application (client) id of keyward's app registration.
    #[arg(long)]
    pub client_id: String,
    #[arg(long, value_enum, default_value = "global")]
    pub cloud: Cloud,
    /// client-secret (app-only, scripts) or device-code (an operator signs in).
    #[arg(long, value_enum, default_value = "client-secret")]
    pub auth: AuthMode,
    /// Read the client secret from this open file descriptor (else KEYWARD_ENTRA_CLIENT_SECRET
    /// or --secret-stdin).
    #[arg(long, value_name = "N")]
    pub secret_fd: Option<i32>,
    /// Read the client secret from standard input (first line).
    #[arg(long)]
    pub secret_stdin: bool,
    /// For --auth certificate: the certificate (PEM, public) uploaded to the app registration.
    /// Its private key comes like a secret: --secret-fd, --secret-stdin or
    /// KEYWARD_ENTRA_CERTIFICATE_KEY.
    #[arg(long, value_name = "FILE")]
    pub certificate: Option<std::path::PathBuf>,
    /// Do not keep the secret in the credential store: every command then reads it from
    /// KEYWARD_ENTRA_CLIENT_SECRET (or KEYWARD_ENTRA_CERTIFICATE_KEY).
    #[arg(long)]
    pub no_store: bool,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    /// The user: user principal name (ada@contoso.com) or object id.
    pub user: String,
    /// The person's name in the ledger when the account is not recorded yet (default: the
    /// user principal name).
    #[arg(long)]
    pub person: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Judge the key plugged in (its model, attestation) against the policy.
    #[arg(long)]
    pub for_key: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    pub user: String,
    /// Methods to delete: keyward's names (sms, voice, push, totp, email_code,
    /// temporary_access_pass) or Graph method ids as `entra methods` shows them.
    #[arg(required = true)]
    pub methods: Vec<String>,
    /// Confirm in a script: repeat the user exactly. On a terminal you are asked instead.
    #[arg(long, value_name = "USER")]
    pub yes_delete_for: Option<String>,
    #[arg(long)]
    pub person: Option<String>,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    pub user: String,
    /// What is written on the key (default: the key's label in the ledger, else the next free
    /// "Key A", "Key B"...).
    #[arg(long)]
    pub label: Option<String>,
    #[arg(long)]
    pub person: Option<String>,
}

pub fn run(ctx: &Context, args: EntraArgs) -> Result<()> {
    match args.command {
        EntraCommand::Connect(a) => connect(ctx, a),
        EntraCommand::Disconnect => disconnect(ctx),
        EntraCommand::Methods(a) => methods_cmd(ctx, a),
        EntraCommand::Check(a) => check(ctx, a),
        EntraCommand::Remove(a) => remove(ctx, a),
        EntraCommand::Register(a) => register_cmd(ctx, a),
    }
}

fn config_path() -> Result<std::path::PathBuf> {
    EntraConfig::default_path()
        .ok_or_else(|| Error::Usage("cannot find your configuration folder".into()))
}

/// The connected tenant, or a plain "connect first".
pub fn connected() -> Result<Option<EntraConfig>> {
    Ok(EntraConfig::load(&config_path()?)?)
}

pub(super) fn graph() -> Result<Graph> {
    let config = connected()?.ok_or_else(|| {
        AdminError::NotConnected(
            "no Entra tenant is connected; run `keyward entra connect` (docs/entra.md)".into(),
        )
    })?;
    Ok(Graph::new(config)?)
}

fn connect(ctx: &Context, a: ConnectArgs) -> Result<()> {
    // Both go into URLs: checked before anything is read or sent.
    crate::admin::config::check_tenant(a.tenant.trim()).map_err(Error::BadInput)?;
    crate::admin::config::check_client_id(a.client_id.trim()).map_err(Error::BadInput)?;
    let certificate_sha256 = match (a.auth, &a.certificate) {
        (AuthMode::Certificate, Some(path)) => {
            let pem = std::fs::read(path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            Some(crate::admin::auth::certificate_thumbprint(&pem)?)
        }
        (AuthMode::Certificate, None) => {
            return Err(Error::Usage(
                "--auth certificate needs --certificate FILE (the public certificate)".into(),
            ))
        }
        (_, Some(_)) => {
            return Err(Error::Usage(
                "--certificate goes with --auth certificate".into(),
            ))
        }
        _ => None,
    };
    let config = EntraConfig {
        tenant: a.tenant.trim().to_string(),
        client_id: a.client_id.trim().to_string(),
        cloud: a.cloud,
        auth: a.auth,
        certificate_sha256,
    };
    let http = crate::admin::http::Http::new();
    let mut stored = false;
    match a.auth {
        AuthMode::ClientSecret | AuthMode::Certificate => {
            let (env, what) = if a.auth == AuthMode::Certificate {
                (secret::CERTIFICATE_KEY_ENV, "certificate-key")
            } else {
                (secret::CLIENT_SECRET_ENV, "client-secret")
            };
            let secret = match (a.secret_fd, a.secret_stdin) {
                (Some(fd), _) => secret::read_fd(fd)?,
                (None, true) => secret::read_stdin()?,
                (None, false) => match std::env::var(env).map(zeroize::Zeroizing::new) {
                    Ok(s) if !s.trim().is_empty() => Secret::new(s.trim().to_string()),
                    _ => {
                        return Err(Error::ConfirmationNeeded(format!(
                            "give the {} with --secret-fd N, --secret-stdin or {env}; it is \
                             never taken as a flag",
                            if a.auth == AuthMode::Certificate {
                                "certificate's private key"
                            } else {
                                "client secret"
                            }
                        )))
                    }
                },
            };
            let credential = match (&config.certificate_sha256, a.auth) {
                (Some(x5t), AuthMode::Certificate) => crate::admin::auth::Credential::Certificate {
                    key_pem: secret.clone(),
                    x5t_s256: x5t.clone(),
                },
                _ => crate::admin::auth::Credential::ClientSecret(secret.clone()),
            };
            // Prove the secret works before keeping it.
            let mut tokens = crate::admin::auth::Tokens::new(config.clone(), credential, None)?;
            tokens.token(&http, &[])?;
            if !a.no_store {
                let store = Store::open()?;
                store.set(&config.secret_name(what), &secret)?;
                stored = true;
            }
        }
        AuthMode::DeviceCode => {
            let store = Store::open()?;
            let all = perm::delegated_sign_in();
            crate::admin::auth::device_code_sign_in(&http, &config, &all, &store, |p| {
                ctx.out.note(&p.message)
            })?;
            stored = true;
        }
    }
    config.save(&config_path()?)?;
    let out = json!({"ok": true, "tenant": config.tenant, "client_id": config.client_id,
        "cloud": config.cloud, "auth": config.auth, "secret_in_credential_store": stored,
        "graph": config.cloud.graph_host(), "sign_in": config.cloud.login_host(),
        "passkey_registration_offered": config.cloud.offers(Call::RegisterPasskey)});
    ctx.out.emit(&out, || {
        let mut s = format!(
            "Connected to tenant {} ({} cloud: {}, sign-in {}), {}.\n",
            config.tenant,
            config.cloud,
            config.cloud.graph_host(),
            config.cloud.login_host(),
            match config.auth {
                AuthMode::ClientSecret => "app-only with a client secret",
                AuthMode::Certificate => "app-only with a certificate",
                AuthMode::DeviceCode => "signed in as you (device code)",
            }
        );
        if stored {
            s.push_str("The secret is kept in this system's credential store, nowhere else.\n");
        } else {
            let _ = writeln!(
                s,
                "The secret was not stored: give it in {} to each command.",
                secret::CLIENT_SECRET_ENV
            );
        }
        if !config.cloud.offers(Call::RegisterPasskey) {
            s.push_str(
                "Note: this cloud does not offer passkey registration through Graph; \
                 `entra register` will refuse before sending anything.\n",
            );
        }
        s
    });
    Ok(())
}

fn disconnect(ctx: &Context) -> Result<()> {
    let path = config_path()?;
    let Some(config) = EntraConfig::load(&path)? else {
        ctx.out.emit(&json!({"ok": true, "connected": false}), || {
            "No tenant was connected.".into()
        });
        return Ok(());
    };
    let store = Store::open()?;
    store.delete(&config.secret_name("client-secret"))?;
    store.delete(&config.secret_name("refresh-token"))?;
    store.delete(&config.secret_name("certificate-key"))?;
    std::fs::remove_file(&path)
        .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
    ctx.out
        .emit(&json!({"ok": true, "tenant": config.tenant}), || {
            format!(
                "Disconnected from {}; its secret is gone from the credential store.",
                config.tenant
            )
        });
    Ok(())
}

/// Graph's list of a user's methods and when it was read.
pub(super) struct Listed {
    pub methods: Vec<GraphMethod>,
    pub at: String,
}

/// Read a user's methods from Graph for the record. `None` (with a warning) when the
/// connection may not read them: the registration goes on and the ledger says "not checked".
pub(super) fn listed_for_record(
    out: &super::Output,
    graph: &mut Graph,
    user: &str,
) -> Result<Option<Listed>> {
    match graph.list_methods(user) {
        Ok(l) => Ok(Some(Listed {
            methods: l.iter().map(methods::parse).collect(),
            at: checked_at(),
        })),
        Err(AdminError::Graph { status: 403, .. }) => {
            out.warn(format!(
                "cannot read {user}'s sign-in methods without {}; their weaker methods are recorded as not checked",
                perm::METHODS_READ
            ));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// [`was_on`] of the account recorded for `user`, if any.
pub(super) fn was_on_for(ledger: &Ledger, user: &str) -> Result<HashSet<String>> {
    Ok(match ledger.find_account(PLAYBOOK, user)? {
        Some(a) => was_on(&ledger.methods_of(a.id)?),
        None => HashSet::new(),
    })
}

/// Inside one transaction: the person's account for `user` with what Graph lists of its weaker
/// methods (Graph as the evidence, with the date), or each as "not checked yet" when Graph's
/// list is not at hand. An account is never recorded without its weaker methods.
pub(super) fn write_account(
    w: &mut Writer<'_>,
    person_id: i64,
    user: &str,
    listed: Option<&Listed>,
    was_on: &HashSet<String>,
) -> crate::ledger::Result<Account> {
    let account = w.add_account(person_id, PLAYBOOK, user)?;
    match listed {
        Some(l) => {
            write_methods(w, account.id, &l.methods, &[], was_on, &l.at)?;
        }
        None => {
            let kinds: Vec<&str> = VISIBLE_TO_GRAPH.iter().map(|k| k.as_str()).collect();
            w.add_methods_not_checked(account.id, &kinds)?;
        }
    }
    Ok(account)
}

/// The ledger account for this Entra user (created with its person when missing) and what
/// Graph lists of its weaker methods, in one transaction.
fn account_for(
    ctx: &Context,
    ledger: &mut Ledger,
    user: &str,
    person: Option<&str>,
    listed: Option<&Listed>,
) -> Result<Account> {
    let existing = ledger.find_account(PLAYBOOK, user)?;
    let was = was_on_for(ledger, user)?;
    let name = person.unwrap_or(user);
    Ok(ledger.write(&ctx.actor(), |w| {
        let person_id = match &existing {
            Some(a) => a.person_id,
            None => w.upsert_person(name, Some(user))?.id,
        };
        write_account(w, person_id, user, listed, &was)
    })?)
}

/// Whether Graph lists a method standing for `kind`, and that answer as the ledger records it
/// (dated, so the help desk reads Graph's word, not a person's).
pub(super) fn graph_says(kind: MethodKind, listed: &[GraphMethod], at: &str) -> (bool, String) {
    let present: Vec<&str> = listed
        .iter()
        .filter(|m| m.weaker.contains(&kind))
        .map(|m| m.label.as_str())
        .collect();
    if present.is_empty() {
        (
            false,
            format!("Microsoft Graph does not list it (checked {at})"),
        )
    } else {
        (
            true,
            format!(
                "Microsoft Graph lists {} (checked {at})",
                present.join("; ")
            ),
        )
    }
}

/// Record what Graph lists as the state of each weaker method it can see, with the date.
/// `deleted` names methods this run deleted, with Graph's answer.
fn record_methods(
    ctx: &Context,
    ledger: &mut Ledger,
    account: &Account,
    listed: &[GraphMethod],
    deleted: &[(GraphMethod, Deleted)],
    at: &str,
) -> Result<Vec<(MethodKind, MethodStatus)>> {
    let was_on = was_on(&ledger.methods_of(account.id)?);
    Ok(ledger.write(&ctx.actor(), |w| {
        write_methods(w, account.id, listed, deleted, &was_on, at)
    })?)
}

/// [`record_methods`] inside a transaction.
fn write_methods(
    w: &mut Writer<'_>,
    account_id: i64,
    listed: &[GraphMethod],
    deleted: &[(GraphMethod, Deleted)],
    was_on: &HashSet<String>,
    at: &str,
) -> crate::ledger::Result<Vec<(MethodKind, MethodStatus)>> {
    let mut out = Vec::new();
    for kind in VISIBLE_TO_GRAPH {
        let (status, reason) = graph_state(kind, listed, deleted, was_on, at);
        w.set_method_status(account_id, kind.as_str(), status, Some(&reason))?;
        out.push((kind, status));
    }
    Ok(out)
}

/// The methods recorded present or removed: a method Graph no longer lists was removed only
/// if it was one of them; otherwise it was never set up.
pub(super) fn was_on(recorded: &[MethodRecord]) -> HashSet<String> {
    recorded
        .iter()
        .filter(|m| matches!(m.status, MethodStatus::Present | MethodStatus::Removed))
        .map(|m| m.method.clone())
        .collect()
}

/// The state of `kind` on an account as Graph lists it, and the reason the ledger records
/// with it. `was_on` is [`was_on`] of what the ledger had: "removed" for a method nobody ever
/// had would overstate what anyone did. `deleted`: what this run deleted.
pub(super) fn graph_state(
    kind: MethodKind,
    listed: &[GraphMethod],
    deleted: &[(GraphMethod, Deleted)],
    was_on: &HashSet<String>,
    at: &str,
) -> (MethodStatus, String) {
    let (present, graphs_word) = graph_says(kind, listed, at);
    let gone_now: Vec<String> = deleted
        .iter()
        .filter(|(m, _)| m.weaker.contains(&kind))
        .map(|(m, d)| match d {
            Deleted::Now(code) => format!("{} (method {}) deleted, HTTP {code}", m.label, m.id),
            Deleted::AlreadyGone => format!("{} (method {}) already gone, HTTP 404", m.label, m.id),
        })
        .collect();
    if present {
        (MethodStatus::Present, graphs_word)
    } else if !gone_now.is_empty() {
        (
            MethodStatus::Removed,
            format!(
                "deleted through Microsoft Graph: {}; Graph no longer lists it (checked {at})",
                gone_now.join("; ")
            ),
        )
    } else if was_on.contains(kind.as_str()) {
        (MethodStatus::Removed, graphs_word)
    } else {
        (MethodStatus::Absent, graphs_word)
    }
}

#[derive(Serialize)]
struct MethodsOut<'a> {
    user: &'a str,
    checked_at: &'a str,
    methods: &'a [GraphMethod],
    /// keyward's weaker methods Graph reports present.
    weaker_present: Vec<MethodKind>,
    recorded_in_ledger: bool,
}

fn methods_cmd(ctx: &Context, a: UserArgs) -> Result<()> {
    let mut graph = graph()?;
    let listed: Vec<GraphMethod> = graph
        .list_methods(&a.user)?
        .iter()
        .map(methods::parse)
        .collect();
    let at = checked_at();
    let mut ledger = ctx.ledger()?;
    let listed = Listed {
        methods: listed,
        at: at.clone(),
    };
    account_for(
        ctx,
        &mut ledger,
        &a.user,
        a.person.as_deref(),
        Some(&listed),
    )?;
    let listed = listed.methods;
    let mut weaker: Vec<MethodKind> = listed.iter().flat_map(|m| m.weaker.clone()).collect();
    weaker.sort();
    weaker.dedup();
    let out = MethodsOut {
        user: &a.user,
        checked_at: &at,
        methods: &listed,
        weaker_present: weaker,
        recorded_in_ledger: true,
    };
    ctx.out.emit(&out, || {
        let mut s = format!("{} (Microsoft Graph, checked {at}):\n", a.user);
        for m in &listed {
            let tag = if m.strong {
                "phishing-resistant".to_string()
            } else if m.weaker.is_empty() {
                "other".to_string()
            } else {
                format!(
                    "weaker: {}",
                    m.weaker
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let mut extra = Vec::new();
            if let Some(model) = &m.model {
                extra.push(model.clone());
            }
            if let Some(g) = &m.aaguid {
                extra.push(format!("AAGUID {g}"));
            }
            let _ = writeln!(
                s,
                "  {}{} [{tag}] id {}",
                m.label,
                if extra.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", extra.join(", "))
                },
                m.id
            );
        }
        s.push_str("Recorded in the ledger with Graph as the evidence.\n");
        s
    });
    Ok(())
}

/// The key plugged in, as the policy judges it.
fn key_facts(ctx: &Context) -> Result<(KeyFacts, String)> {
    let mut key = ctx.open_key()?;
    let info = key.info()?;
    let name = key.descriptor().display_name();
    let in_metadata = match (crate::mds::load(), info.aaguid) {
        (Ok(Some(md)), Some(a)) => Some(md.entry(&a).is_some()),
        _ => None,
    };
    Ok((
        KeyFacts {
            aaguid: info.aaguid.map(|a| a.to_string()),
            attests: info.supports_fido2(),
            in_metadata,
        },
        name,
    ))
}

fn verdict_text(v: &Verdict) -> String {
    let mut s = String::new();
    if v.can_register {
        s.push_str("Yes: a passkey can be registered through Graph.\n");
    } else {
        s.push_str("No: a passkey cannot be registered through Graph.\n");
    }
    for p in &v.problems {
        let _ = writeln!(s, "  - {}.\n    Fix: {}.", p.why, p.fix);
    }
    for u in &v.unknown {
        let _ = writeln!(s, "  ? {u}");
    }
    s
}

fn check(ctx: &Context, a: CheckArgs) -> Result<()> {
    let mut graph = graph()?;
    let raw = graph.fido2_policy()?;
    let p = policy::read(&raw);
    let key = if a.for_key {
        Some(key_facts(ctx)?)
    } else {
        None
    };
    let mut v = policy::judge(&p, key.as_ref().map(|k| &k.0));
    let cloud = graph.cloud();
    if !cloud.offers(Call::RegisterPasskey) {
        v.can_register = false;
        v.problems.push(policy::Problem {
            why: format!(
                "the {cloud} cloud does not offer passkey registration through Graph v1.0"
            ),
            fix: "register the key on the person's Security info page instead".into(),
        });
    }
    let out = json!({"ok": v.can_register, "policy": p, "key": key.as_ref().map(|k| json!({
        "name": k.1, "aaguid": k.0.aaguid, "in_metadata": k.0.in_metadata})), "verdict": v});
    ctx.out.emit(&out, || {
        let mut s = format!(
            "Passkey (FIDO2) policy of {} (from {}{}):\n  enabled {}, self-service set up {}, attestation {}, key restrictions {}\n",
            graph.tenant(),
            p.source,
            p.profile.as_ref().map(|n| format!(", profile \"{n}\"")).unwrap_or_default(),
            yes(p.enabled),
            yes(p.self_service),
            if p.attestation_required { "enforced" } else { "not enforced" },
            p.restriction.as_ref().map(|r| format!("{r} {}", p.aaguids.join(", "))).unwrap_or_else(|| "none".into()),
        );
        if let Some((_, name)) = &key {
            let _ = writeln!(s, "Key: {name}");
        }
        s.push_str(&verdict_text(&v));
        s
    });
    if v.can_register {
        Ok(())
    } else {
        Err(Error::Reported {
            code: ExitCode::Refused,
            message: "the passkey policy does not allow registering this key".into(),
        })
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Which listed methods the operator named: keyward's names or Graph ids.
fn chosen<'a>(listed: &'a [GraphMethod], names: &[String]) -> Result<Vec<&'a GraphMethod>> {
    let mut out: Vec<&GraphMethod> = Vec::new();
    for name in names {
        let hits: Vec<&GraphMethod> = match name.parse::<MethodKind>() {
            Ok(kind) => listed.iter().filter(|m| m.weaker.contains(&kind)).collect(),
            Err(_) => listed.iter().filter(|m| &m.id == name).collect(),
        };
        if hits.is_empty() {
            return Err(Error::BadInput(format!(
                "`{name}` is not among the user's methods in Graph; `keyward entra methods USER` lists them"
            )));
        }
        for h in hits {
            if h.strong && h.weaker.is_empty() {
                return Err(AdminError::Refused(format!(
                    "{} is a security key's passkey; `entra remove` deletes weaker methods only",
                    h.label
                ))
                .into());
            }
            if h.collection.is_none() {
                return Err(AdminError::Refused(format!(
                    "{} cannot be deleted through Graph v1.0{}",
                    h.label,
                    if h.weaker.contains(&MethodKind::Password) {
                        " (a password can only be reset)"
                    } else {
                        ""
                    }
                ))
                .into());
            }
            if !out.iter().any(|m| m.id == h.id) {
                out.push(h);
            }
        }
    }
    // Graph refuses a mobile phone while an alternate exists, and a default method: phones go
    // last, the mobile phone (most often the default) very last.
    out.sort_by_key(|m| match (m.collection, m.id.as_str()) {
        (Some("phoneMethods"), methods::PHONE_MOBILE) => 3,
        (Some("phoneMethods"), methods::PHONE_ALTERNATE) => 1,
        (Some("phoneMethods"), _) => 2,
        _ => 0,
    });
    Ok(out)
}

fn remove(ctx: &Context, a: RemoveArgs) -> Result<()> {
    let mut graph = graph()?;
    graph.cloud().require(Call::DeleteMethod)?;
    let listed: Vec<GraphMethod> = graph
        .list_methods(&a.user)?
        .iter()
        .map(methods::parse)
        .collect();
    let targets = chosen(&listed, &a.methods)?;
    // Never the last way in: a phishing-resistant method must remain after the deletions.
    let strong: Vec<&GraphMethod> = listed
        .iter()
        .filter(|m| m.strong && !targets.iter().any(|t| t.id == m.id))
        .collect();
    if strong.is_empty() {
        return Err(AdminError::Refused(format!(
            "{} would have no passkey, Windows Hello or platform credential left in Graph: \
             deleting these could lock them out. Register a key first (`keyward entra register {}`)",
            a.user, a.user
        ))
        .into());
    }
    let list: Vec<String> = targets
        .iter()
        .map(|m| {
            format!(
                "{} [{}] (id {})",
                m.label,
                m.weaker
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                m.id
            )
        })
        .collect();
    ctx.out.note(format!(
        "To delete from {}:\n  {}\nThey keep: {}.\nGraph v1.0 cannot change the default sign-in method: if one of these is the \
         default, Graph refuses to delete it; set the default to the passkey first (Entra admin center › Users › {} › \
         Authentication methods). Phones are deleted last for that reason.",
        a.user,
        list.join("\n  "),
        strong.iter().map(|m| m.label.clone()).collect::<Vec<_>>().join(", "),
        a.user
    ));
    match &a.yes_delete_for {
        Some(u) if u == &a.user => {}
        Some(u) => {
            return Err(Error::ConfirmationNeeded(format!(
                "--yes-delete-for {u} does not name the user {}; nothing was deleted",
                a.user
            )))
        }
        None => {
            let typed = ctx.ask_text(&format!(
                "Type the user ({}) to delete these {} method(s)",
                a.user,
                targets.len()
            ))?;
            if typed.trim() != a.user {
                return Err(Error::Cancelled("nothing was deleted".into()));
            }
        }
    }
    let mut ledger = ctx.ledger()?;
    let before = Listed {
        methods: listed.clone(),
        at: checked_at(),
    };
    let account = account_for(
        ctx,
        &mut ledger,
        &a.user,
        a.person.as_deref(),
        Some(&before),
    )?;
    let mut deleted: Vec<(GraphMethod, Deleted)> = Vec::new();
    let mut failed: Vec<(GraphMethod, String)> = Vec::new();
    for m in &targets {
        let (Some(collection), Some(permission)) = (m.collection, m.delete_permission) else {
            continue;
        };
        match graph.delete_method(&a.user, collection, &m.id, permission) {
            Ok(d) => {
                ctx.out.note(format!(
                    "deleted {} ({})",
                    m.label,
                    match d {
                        Deleted::Now(c) => format!("HTTP {c}"),
                        Deleted::AlreadyGone => "already gone".into(),
                    }
                ));
                deleted.push(((*m).clone(), d));
            }
            Err(e) => {
                let default =
                    matches!(&e, AdminError::Graph { message, .. } if message.contains("default"));
                ctx.out.warn(format!(
                    "{} was not deleted: {e}{}",
                    m.label,
                    if default {
                        format!(
                            ". It is the default sign-in method, which Graph v1.0 cannot change: \
                             set the default to the passkey in the Entra admin center (Users › {} › \
                             Authentication methods) or have the person do it on Security info, \
                             then run this again",
                            a.user
                        )
                    } else {
                        String::new()
                    }
                ));
                failed.push(((*m).clone(), e.to_string()));
            }
        }
    }
    // Confirm by reading Graph again, and record what it says.
    let after: Vec<GraphMethod> = graph
        .list_methods(&a.user)?
        .iter()
        .map(methods::parse)
        .collect();
    let at = checked_at();
    let recorded = record_methods(ctx, &mut ledger, &account, &after, &deleted, &at)?;
    let still: Vec<&GraphMethod> = targets
        .iter()
        .copied()
        .filter(|t| after.iter().any(|m| m.id == t.id))
        .collect();
    let out = json!({
        "ok": failed.is_empty() && still.is_empty(),
        "user": a.user,
        "checked_at": at,
        "deleted": deleted.iter().map(|(m, d)| json!({"id": m.id, "label": m.label,
            "graph_answer": match d { Deleted::Now(c) => json!(c), Deleted::AlreadyGone => json!(404) }})).collect::<Vec<_>>(),
        "failed": failed.iter().map(|(m, e)| json!({"id": m.id, "label": m.label, "error": e})).collect::<Vec<_>>(),
        "still_listed": still.iter().map(|m| &m.id).collect::<Vec<_>>(),
        "recorded": recorded.iter().map(|(k, s)| json!({"method": k, "status": s})).collect::<Vec<_>>(),
    });
    ctx.out.emit(&out, || {
        let mut s = format!(
            "{} after deleting (Microsoft Graph, checked {at}):\n",
            a.user
        );
        for (k, st) in &recorded {
            let _ = writeln!(s, "  {k}: {}", st.as_str());
        }
        for (m, e) in &failed {
            let _ = writeln!(s, "  NOT deleted: {}: {e}", m.label);
        }
        s
    });
    if failed.is_empty() && still.is_empty() {
        Ok(())
    } else {
        Err(Error::Reported {
            code: ExitCode::Incomplete,
            message: format!(
                "{} of {} method(s) were not deleted; the ledger records what Graph lists",
                failed.len().max(still.len()),
                targets.len()
            ),
        })
    }
}

/// The next "Key X" label the person has never had.
fn next_label(ledger: &Ledger, person_id: i64) -> Result<String> {
    let keys = ledger.keys_of(person_id)?;
    for c in 'A'..='Z' {
        let l = format!("Key {c}");
        if !keys.iter().any(|k| k.label == l) {
            return Ok(l);
        }
    }
    Ok(format!("Key {}", keys.len() + 1))
}

fn register_cmd(ctx: &Context, a: RegisterArgs) -> Result<()> {
    let mut graph = graph()?;
    graph.cloud().require(Call::CreationOptions)?;
    crate::admin::graph::user_segment(&a.user)?;
    let mut key = ctx.open_key()?;
    let info = key.info()?;
    let descriptor = key.descriptor().clone();
    // Policy first, where the app may read it: a refusal explained beats one from Graph.
    match graph.fido2_policy() {
        Ok(raw) => {
            let facts = KeyFacts {
                aaguid: info.aaguid.map(|g| g.to_string()),
                attests: info.supports_fido2(),
                in_metadata: match (crate::mds::load(), info.aaguid) {
                    (Ok(Some(md)), Some(g)) => Some(md.entry(&g).is_some()),
                    _ => None,
                },
            };
            let v = policy::judge(&policy::read(&raw), Some(&facts));
            if !v.can_register {
                return Err(v
                    .refusal("the tenant's passkey policy refuses this key")
                    .into());
            }
        }
        Err(AdminError::Graph { status: 403, .. }) => ctx.out.warn(format!(
            "cannot read the passkey policy without {}; registering without checking it first",
            perm::POLICY_READ
        )),
        Err(e) => return Err(e.into()),
    }
    // The weaker methods the user has now, recorded with the account: the record shows what
    // is still to remove once the key is in.
    let listed = listed_for_record(&ctx.out, &mut graph, &a.user)?;
    let mut ledger = ctx.ledger()?;
    let account = account_for(
        ctx,
        &mut ledger,
        &a.user,
        a.person.as_deref(),
        listed.as_ref(),
    )?;
    let known = descriptor.serial.as_ref().and_then(|sn| {
        ledger
            .keys_of(account.person_id)
            .ok()?
            .into_iter()
            .find(|k| k.serial.as_deref() == Some(sn))
    });
    let label = match (&a.label, &known) {
        (Some(l), _) => l.trim().to_string(),
        (None, Some(k)) => k.label.clone(),
        (None, None) => next_label(&ledger, account.person_id)?,
    };
    let model = model_of(&descriptor);
    let display_name = format!("{label} ({model})");
    let raw = graph.creation_options(&a.user)?;
    let opts = register::parse_options(&raw)?;
    ctx.unlock(key.as_mut(), &mut ctx.pin_reader())?;
    ctx.out
        .note(format!("Touch the key to create {}'s passkey...", a.user));
    let new_key = NewKey {
        label: label.clone(),
        aaguid: info.aaguid,
        model: Some(model.clone()),
        serial: descriptor.serial.clone(),
    };
    let (made, cdj) = match register::make_credential(key.as_mut(), &opts) {
        Ok(made) => made,
        Err(Error::Admin(AdminError::AlreadyRegistered(why))) => {
            // Graph holds a passkey on this key. One an earlier run announced and never
            // recorded (the ledger failed after Graph's answer) is recorded now.
            let Some((enrollment, passkey)) =
                recorded_from_graph(ctx, &mut ledger, &mut graph, &account, &opts, &new_key)?
            else {
                return Err(AdminError::AlreadyRegistered(why).into());
            };
            let method_id = passkey.method["id"].as_str().unwrap_or("?").to_string();
            let out = json!({"ok": true, "user": a.user, "method_id": method_id,
                "display_name": passkey.display_name, "recorded_now": true,
                "enrollment_id": enrollment.id});
            ctx.out.emit(&out, || {
                format!(
                    "{} was already registered in Microsoft for {} (Graph method {method_id}), \
                     recorded now; nothing was registered twice.",
                    passkey.display_name, a.user
                )
            });
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let body = register::post_body(&display_name, &made, &cdj);
    let aaguid = made.aaguid.map(|g| g.to_string());
    let person = ledger.person(account.person_id)?;
    entra_intent::announce(
        &mut ledger,
        &ctx.actor(),
        &person.name,
        None,
        &Intent {
            user: a.user.clone(),
            display_name: display_name.clone(),
            aaguid: aaguid.clone(),
            credential_id: hex::encode(&made.credential_id),
            rp_id: opts.rp_id.clone(),
            key_label: label.clone(),
            key_serial: descriptor.serial.clone(),
        },
    )?;
    let done = register::post(&mut graph, &a.user, &body, aaguid.as_deref())?;
    let method_id = done.method_id().to_string();
    let passkey = Passkey {
        user: a.user.clone(),
        rp_id: opts.rp_id.clone(),
        credential_id: made.credential_id.clone(),
        display_name: display_name.clone(),
        method: done.method.clone(),
    };
    let enrollment = record_key_and_passkey(ctx, &mut ledger, &account, &new_key, &passkey)?;
    let out = json!({"ok": true, "user": a.user, "method_id": method_id, "display_name": display_name,
        "key_label": label, "attestation_level": done.method["attestationLevel"],
        "settled_by_reading": done.settled_by_reading, "enrollment_id": enrollment.id});
    ctx.out.emit(&out, || {
        format!(
            "Registered {display_name} as a passkey for {} (Graph method {method_id}){}.\nRecorded in the ledger with Graph as the evidence.",
            a.user,
            if done.settled_by_reading { "; Graph's answer was lost and its list confirmed it" } else { "" }
        )
    });
    Ok(())
}

/// The key and its enrollment together, or neither.
fn record_key_and_passkey(
    ctx: &Context,
    ledger: &mut Ledger,
    account: &Account,
    key: &NewKey,
    passkey: &Passkey,
) -> Result<crate::ledger::Enrollment> {
    // Tests of the debug build make this write fail, as a full disk would; compiled out of
    // releases.
    #[cfg(debug_assertions)]
    if std::env::var("KEYWARD_TEST_FAIL_ENTRA_RECORD").as_deref() == Ok(key.label.as_str()) {
        return Err(Error::io(
            "recording the Entra enrollment",
            std::io::Error::other("injected by KEYWARD_TEST_FAIL_ENTRA_RECORD"),
        ));
    }
    Ok(ledger.write(&ctx.actor(), |w| {
        let k = w.register_key(account.person_id, key)?;
        w.record_enrollment(&passkey_enrollment(account.id, k.id, passkey))
    })?)
}

/// The key in hand holds a passkey of this user (Graph's excludeCredentials): if it is one this
/// key was announced to register (same serial) and Graph lists it, record it now.
fn recorded_from_graph(
    ctx: &Context,
    ledger: &mut Ledger,
    graph: &mut Graph,
    account: &Account,
    opts: &register::Options,
    key: &NewKey,
) -> Result<Option<(crate::ledger::Enrollment, Passkey)>> {
    let person = ledger.person(account.person_id)?;
    let mut listed = None;
    for intent in entra_intent::unsettled(ledger, &person, &account.identifier)? {
        let credential_id = hex::decode(&intent.credential_id).unwrap_or_default();
        let this_key = intent.key_serial.is_some() && intent.key_serial == key.serial;
        if !this_key || !opts.exclude.contains(&credential_id) {
            continue;
        }
        let Some(method) = entra_intent::find_in_graph(ledger, graph, &intent, &mut listed)? else {
            continue;
        };
        let passkey = Passkey {
            user: intent.user.clone(),
            rp_id: intent.rp_id.clone(),
            credential_id,
            display_name: intent.display_name.clone(),
            method,
        };
        let key = NewKey {
            label: intent.key_label.clone(),
            ..key.clone()
        };
        let enrollment = record_key_and_passkey(ctx, ledger, account, &key, &passkey)?;
        return Ok(Some((enrollment, passkey)));
    }
    Ok(None)
}

/// The model a person reads on the key, for Graph's display name.
pub(super) fn model_of(d: &crate::device::DeviceDescriptor) -> String {
    d.product
        .clone()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "security key".into())
}

/// A passkey Graph registered, as the ledger records it.
pub(super) struct Passkey {
    pub user: String,
    pub rp_id: String,
    pub credential_id: Vec<u8>,
    pub display_name: String,
    /// Graph's fido2AuthenticationMethod.
    pub method: serde_json::Value,
}

/// How an enrollment's evidence names Graph's method, followed by its id.
const METHOD_NOTE: &str = "Microsoft Graph fido2Method ";

/// The Graph method id in an enrollment note [`passkey_enrollment`] wrote.
pub(super) fn method_id_in(note: &str) -> Option<&str> {
    note.strip_prefix(METHOD_NOTE)?.split(' ').next()
}

/// The enrollment, with Graph's method id, date and attestation level as the evidence.
pub(super) fn passkey_enrollment(account_id: i64, key_id: i64, p: &Passkey) -> NewEnrollment {
    let note = format!(
        "{METHOD_NOTE}{} \"{}\", created {}, attestation {}",
        p.method["id"].as_str().unwrap_or("?"),
        p.display_name,
        p.method["createdDateTime"].as_str().unwrap_or("?"),
        p.method["attestationLevel"].as_str().unwrap_or("?")
    );
    NewEnrollment {
        account_id,
        key_id,
        evidence: Evidence::ReportedByProvider,
        detail: EvidenceDetail {
            rp_id: Some(p.rp_id.clone()),
            user_name: Some(p.user.clone()),
            credential_id: Some(hex::encode(&p.credential_id)),
            note: Some(note),
        },
    }
}

/// For `status` and `enroll`: when a tenant is connected, read each of the person's Entra
/// accounts from Graph and record what it lists. A failure is a warning; the ledger then
/// shows what was recorded before. `for_the_person` (the record at the end of `enroll`): in
/// plain words, and nothing when it worked, since the session already said what Microsoft
/// shows.
pub fn refresh_person(ctx: &Context, ledger: &mut Ledger, person_id: i64, for_the_person: bool) {
    let Ok(Some(_)) = connected() else { return };
    let Ok(accounts) = ledger.accounts_of(person_id) else {
        return;
    };
    let entra: Vec<Account> = accounts
        .into_iter()
        .filter(|a| a.playbook == PLAYBOOK)
        .collect();
    if entra.is_empty() {
        return;
    }
    let not_read = |what: &str, e: &Error| {
        ctx.out.warn(if for_the_person {
            format!(
                "{what}: keyward could not check with Microsoft just now; the record below is \
                 what was recorded before"
            )
        } else {
            format!("{what}: Microsoft Graph not read ({e}); showing what the ledger had")
        })
    };
    let mut graph = match graph() {
        Ok(g) => g,
        Err(e) => {
            not_read("Microsoft work accounts", &e);
            return;
        }
    };
    for account in entra {
        let result = graph
            .list_methods(&account.identifier)
            .map_err(Error::from)
            .and_then(|l| {
                let listed: Vec<GraphMethod> = l.iter().map(methods::parse).collect();
                record_methods(ctx, ledger, &account, &listed, &[], &checked_at())
            });
        match result {
            Ok(_) if for_the_person => {}
            Ok(_) => ctx.out.note(format!(
                "{}: weaker methods read from Microsoft Graph",
                account.identifier
            )),
            Err(e) => not_read(&account.identifier, &e),
        }
    }
}
