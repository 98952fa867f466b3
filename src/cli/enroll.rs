//! `keyward enroll` (the guided enrollment) and `keyward demo` (the same flow on two virtual
//! keys, with a built-in answers file).

use super::{Context, GlobalArgs};
use crate::device::{self, Authenticator, DeviceDescriptor, DeviceSpec};
use crate::error::{Error, Result};
use crate::guide::{
    Answer, AnswersFile, Guide, GuideError, KeySource, Options, Outcome, Prompter, ProviderCheck,
    ScriptedPrompter, SecretKind, StandIn, TerminalPrompter,
};
use crate::ledger::{Account, Ledger};
use crate::pin::Pin;
use crate::playbook::{EnrollmentPath, Evidence as PathEvidence, Playbook};
use clap::Args;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The person whose keys these are (as recorded in the ledger); asked when not given.
    /// Running again for the same person resumes where the last session stopped.
    #[arg(long, value_name = "NAME")]
    pub person: Option<String>,
    /// Answer the questions from this file (TOML or JSON, keyed by prompt id) instead of a
    /// person at the terminal. PINs never go in it. See docs/enroll.md.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Only these providers (playbook ids, repeatable; `keyward playbooks list` shows them).
    // Not named `playbooks`: clap would take it for the global `--playbooks DIR`.
    #[arg(long = "playbook", value_name = "ID")]
    pub playbook_ids: Vec<String>,
    /// At the end, write the person's one-page summary to this file (printable HTML when it
    /// ends in `.html`, Markdown otherwise). See `keyward summary`.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Replace the `--summary` file if it exists (else keyward asks at a terminal before the
    /// session, and refuses without one).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's virtual keys and ledger in this new folder instead of a temporary one
    /// that is deleted at the end.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// The keys plugged in, as `--device` selects them.
struct DeviceKeys {
    spec: DeviceSpec,
}

impl KeySource for DeviceKeys {
    fn present(&mut self) -> Result<Vec<DeviceDescriptor>> {
        Ok(device::discover(&self.spec)?)
    }
    fn open(&mut self, desc: &DeviceDescriptor) -> Result<Box<dyn Authenticator>> {
        Ok(device::open(desc)?)
    }
    fn can_select_by_touch(&self) -> bool {
        true
    }
    fn select_by_touch(&mut self, keys: &[DeviceDescriptor]) -> Result<usize> {
        Ok(device::select_by_touch(keys, device::TOUCH_TIMEOUT)?)
    }
}

pub fn enroll(ctx: &Context, args: EnrollArgs) -> Result<()> {
    // Decide who answers before touching anything: no terminal and no file is an error now,
    // not a hang at the first question.
    let mut prompter: Box<dyn Prompter> = match &args.answers {
        Some(path) => Box::new(ScriptedPrompter::new(
            AnswersFile::load(path)?,
            ctx.pin_reader(),
        )),
        None if ctx.interactive => Box::new(TerminalPrompter::new(ctx.pin_reader())),
        None => return Err(GuideError::NoPrompter.into()),
    };
    // Asked before the session, not after it.
    let replace_summary = match &args.summary {
        Some(path) => super::summary::may_write(ctx, path, args.force)?,
        None => false,
    };
    let catalog = ctx.playbooks()?;
    let mut ledger = ctx.ledger()?;
    let mut keys = DeviceKeys {
        spec: ctx.global.device.clone(),
    };
    // With an Entra tenant connected, a removal is confirmed by reading Graph again.
    let mut graph_check = super::entra_confirm::GraphCheck::when_connected();
    // From here on, Ctrl-C or SIGTERM says how to continue and gives the terminal back.
    crate::guide::stop::install();
    let outcome = Guide {
        prompter: prompter.as_mut(),
        record: &mut ledger,
        catalog: &catalog,
        keys: &mut keys,
        stand_in: None,
        provider: graph_check.as_mut().map(|c| c as &mut dyn ProviderCheck),
        actor: ctx.actor(),
        pins: Default::default(),
        options: Options {
            person: args.person.clone(),
            playbooks: args.playbook_ids.clone(),
            allow_low_retries: ctx.global.allow_low_retries,
        },
    }
    .run()?;
    if !outcome.unused_answers.is_empty() {
        ctx.out.warn(format!(
            "answers file entries no question used: {} (typos, or steps done in an earlier session)",
            outcome.unused_answers.join(", ")
        ));
    }
    if let Some(path) = &args.summary {
        let status = ledger.person_status(outcome.person.id)?;
        super::summary::write(ctx, &status, path, replace_summary)?;
        ctx.out.note(format!(
            "Your summary (keep it; no PIN is in it): {}",
            path.display()
        ));
    }
    // A person at a terminal ends with their own page; a script (or --json) with the
    // record, exactly as `keyward status` gives it.
    let for_the_person = args.answers.is_none() && !ctx.global.json;
    let page = if for_the_person {
        let status = ledger.person_status(outcome.person.id)?;
        let book = super::howto::HowToBook::load(ctx);
        let helpdesk = super::summary::helpdesk_contact();
        Some(super::summary::markdown(&super::summary::build(
            &status,
            &book,
            helpdesk.as_deref(),
        )))
    } else {
        None
    };
    drop(ledger);
    match page {
        Some(page) => {
            left_for_later(ctx, &outcome);
            ctx.out.note("");
            ctx.out.document(&page);
            ctx.out.note(format!(
                "\nThe help desk's full record (with each key's model and the proof of each \
                 enrollment): keyward status \"{}\"",
                outcome.person.name
            ));
            Ok(())
        }
        None => report(ctx, &outcome),
    }
}

/// What was left for later, on stderr.
fn left_for_later(ctx: &Context, outcome: &Outcome) {
    if !outcome.left_for_later.is_empty() {
        ctx.out.note(format!(
            "\nLeft for later (run `keyward enroll --person \"{}\"` again to continue):",
            outcome.person.name
        ));
        for l in &outcome.left_for_later {
            ctx.out.note(format!("  - {l}"));
        }
    }
}

/// Say what was left for later (stderr), then print the person's record exactly as
/// `keyward status` does, from the ledger at `ctx`.
fn report(ctx: &Context, outcome: &Outcome) -> Result<()> {
    left_for_later(ctx, outcome);
    ctx.out.note("");
    super::records::status_for(
        ctx,
        super::records::StatusArgs {
            person: Some(format!("#{}", outcome.person.id)),
        },
        true,
    )
}

// ---------------------------------------------------------------------------------- demo

/// The person and accounts the demo enrolls; example domains only.
const DEMO_PERSON: &str = "Ada Lovelace";
const DEMO_ACCOUNTS: &[(&str, &str)] = &[
    ("google", "ada@example.com"),
    ("microsoft-entra", "ada@contoso.example"),
    ("apple", "ada@icloud.example"),
];

/// Plays the websites: registers on the key the credential each provider would create.
struct DemoWebsites {
    pin: Pin,
    done: HashSet<(i64, String)>,
}

impl StandIn for DemoWebsites {
    fn act(
        &mut self,
        key: &mut dyn Authenticator,
        _playbook: &Playbook,
        path: &EnrollmentPath,
        account: &Account,
    ) -> Result<()> {
        let spec = key.descriptor().spec.clone();
        if !self.done.insert((account.id, spec)) {
            return Ok(());
        }
        let Some(rp_id) = path.verification.rp_ids.first() else {
            return Ok(());
        };
        let discoverable = path.verification.evidence == PathEvidence::OnKey;
        key.unlock(&self.pin)?;
        let hash = random_32();
        key.make_credential(&device::MakeCredentialRequest {
            client_data_hash: hash,
            rp_id: rp_id.clone(),
            rp_name: None,
            user_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
            user_name: account.identifier.clone(),
            user_display_name: Some(DEMO_PERSON.to_string()),
            discoverable,
            user_verification: true,
            exclude_credentials: Vec::new(),
        })?;
        Ok(())
    }
}

fn random_32() -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    out[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    out
}

/// How the demo's scratch folders in the temporary folder are named: `{prefix}{pid}-{nanos}`.
const DEMO_PREFIX: &str = "keyward-demo-";

/// A fresh folder for the demo (mode 0700), removed on drop and on Ctrl-C, SIGTERM or SIGHUP,
/// unless the person asked to keep it.
struct DemoDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
            crate::temp_file::forget(&self.path);
        }
    }
}

fn demo_dir(keep: Option<PathBuf>) -> Result<DemoDir> {
    let (path, keep) = match keep {
        Some(p) => {
            if p.exists() {
                return Err(Error::BadInput(format!(
                    "{} already exists; --keep needs a new folder so the demo overwrites nothing",
                    p.display()
                )));
            }
            (p, true)
        }
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            // Scratch folders of demos killed outright (SIGKILL) go first.
            crate::temp_file::remove_stale_folders(&std::env::temp_dir(), DEMO_PREFIX);
            let name = format!("{DEMO_PREFIX}{}-{nanos}", std::process::id());
            (std::env::temp_dir().join(name), false)
        }
    };
    // Only its owner may look in: it holds the keys' secrets and the ledger.
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let dir = DemoDir { path, keep };
    // Made under the signal clean-up's lock: Ctrl-C, SIGTERM or SIGHUP either comes first (and
    // nothing is made) or removes it with the rest.
    let remembered = (!keep).then_some(dir.path.as_path());
    crate::temp_file::create_guarded(remembered, || builder.create(dir.path.join("keys")))
        .map_err(|e| Error::io(format!("creating {}", dir.path.display()), e))?;
    Ok(dir)
}

/// The answers a person would give in the demo, keyed by prompt id.
fn demo_answers(key_specs: &[String]) -> BTreeMap<String, Answer> {
    let t = |s: &str| Answer::Text(s.to_string());
    let mut a = BTreeMap::new();
    a.insert("person.new".into(), Answer::Bool(true));
    a.insert("keys.count".into(), t("2"));
    a.insert("keys.a.device".into(), t(&key_specs[0]));
    a.insert("keys.b.device".into(), t(&key_specs[1]));
    a.insert("keys.a.location".into(), t("on my keyring"));
    a.insert("keys.b.location".into(), t("in the safe at home"));
    for (playbook, id) in DEMO_ACCOUNTS {
        a.insert(format!("account.{playbook}.identifier"), t(id));
    }
    a.insert("account.*.platform".into(), t("web"));
    a.insert("account.apple.platform".into(), t("iphone"));
    a.insert("step.*.*.done".into(), Answer::Bool(true));
    a.insert("confirm.*.*.enrolled".into(), Answer::Bool(true));
    a.insert("verify.*.not_found".into(), t("later"));
    // Most weaker methods are found on and removed at once; a few show what stays on the list.
    a.insert("method.*.*.status".into(), t("on"));
    a.insert("method.*.*.outcome".into(), t("removed"));
    a.insert("method.google.sms.outcome".into(), t("later"));
    a.insert(
        "method.microsoft-entra.security_questions.status".into(),
        t("unknown"),
    );
    a
}

pub fn demo(ctx: &Context, args: DemoArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let dir = demo_dir(args.keep)?;
    let keys_dir = dir.path.join("keys");
    let mut specs = Vec::new();
    for name in ["key-a", "key-b"] {
        let desc = device::virtual_key::create(
            &keys_dir.join(name),
            device::virtual_key::Profile::Ctap21,
            device::virtual_key::DEFAULT_SLOTS,
        )?;
        specs.push(desc.spec);
    }
    let ledger_path = dir.path.join("ledger.sqlite");
    let mut ledger = Ledger::open(&ledger_path)?;
    let catalog = ctx.playbooks()?;
    // A random PIN the demo sets on both keys; it exists only in this process.
    let digits: String = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(8)
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    let pin_for_flow = digits.clone();
    let file =
        AnswersFile::from_entries(Path::new("(built-in demo answers)"), demo_answers(&specs))?;
    let mut prompter = ScriptedPrompter::with_pin_source(
        file,
        Box::new(move |_kind: SecretKind| Ok(Pin::new(pin_for_flow.clone()))),
    );
    if ctx.out.json {
        prompter = prompter.quiet();
    }
    let mut websites = DemoWebsites {
        pin: Pin::new(digits),
        done: HashSet::new(),
    };
    let mut keys = DeviceKeys {
        spec: DeviceSpec::VirtualDir(keys_dir),
    };
    ctx.out.note(
        "keyward demo: two virtual keys (software, not security keys) and a scratch ledger. \
         The questions below are answered by a built-in script; the virtual keys stand in \
         for the websites.",
    );
    let outcome = Guide {
        prompter: &mut prompter,
        record: &mut ledger,
        catalog: &catalog,
        keys: &mut keys,
        stand_in: Some(&mut websites),
        provider: None,
        actor: crate::ledger::Actor::operator("keyward demo"),
        pins: Default::default(),
        options: Options {
            person: Some(DEMO_PERSON.to_string()),
            playbooks: DEMO_ACCOUNTS.iter().map(|(p, _)| p.to_string()).collect(),
            allow_low_retries: false,
        },
    }
    .run()?;
    drop(ledger);
    ctx.out.note(format!(
        "\nDemo finished in {:.1} s. This is what the ledger now says{}:",
        started.elapsed().as_secs_f64(),
        if dir.keep {
            format!(
                " (kept: try `keyward status --ledger {}`)",
                ledger_path.display()
            )
        } else {
            String::new()
        }
    ));
    let demo_ctx = Context::new(GlobalArgs {
        ledger: Some(ledger_path),
        ..ctx.global.clone()
    });
    report(&demo_ctx, &outcome)
}
