//! Commands that change or check the record: `method set`, `key retire|lost`, `audit verify`,
//! `ledger export|import`.

use super::howto::{self, HowToBook, MethodCheck};
use super::Context;
use crate::error::{Error, Result};
use crate::ledger::{Account, KeyState, Ledger, LedgerError, LedgerExport, MethodStatus};
use crate::style;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct MethodArgs {
    #[command(subcommand)]
    pub command: MethodCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// Still on: to be disabled.
    Present,
    Removed,
    /// Kept on purpose; needs --reason.
    Kept,
    /// Not checked.
    Unknown,
    /// Never set up, or already off when someone looked (nothing was removed).
    Absent,
}

impl From<StatusArg> for MethodStatus {
    fn from(s: StatusArg) -> MethodStatus {
        match s {
            StatusArg::Present => MethodStatus::Present,
            StatusArg::Removed => MethodStatus::Removed,
            StatusArg::Kept => MethodStatus::Kept,
            StatusArg::Unknown => MethodStatus::Unknown,
            StatusArg::Absent => MethodStatus::Absent,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum MethodCommand {
    /// Record a later change to a weaker method, e.g. `keyward method set sms removed
    /// --account ada@example.com`.
    Set {
        /// The method id from the playbook vocabulary: sms, voice, totp, push, backup_codes...
        method: String,
        /// present, removed, kept (with --reason) or unknown.
        #[arg(value_enum)]
        status: StatusArg,
        /// The account: its identifier (email, UPN), PLAYBOOK:IDENTIFIER, or a playbook id
        /// when the person has one account there.
        #[arg(long, value_name = "ACCOUNT")]
        account: String,
        /// Whose account, when the identifier alone is ambiguous.
        #[arg(long, value_name = "PERSON")]
        person: Option<String>,
        /// Why it stays (required with `kept`), or a note.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct KeyStateArgs {
    /// The key: its label with --person (e.g. "Key A"), its serial, or #ID from `keyward status`.
    pub key: String,
    /// Whose key (needed when a label is shared, as "Key A" usually is).
    #[arg(long, value_name = "PERSON")]
    pub person: Option<String>,
    /// What happened, for the record.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct KeyRemovedArgs {
    /// The key: its label with --person (e.g. "Key A"), its serial, or #ID from `keyward status`.
    pub key: String,
    /// The account it was removed from: its identifier, PLAYBOOK:IDENTIFIER, or a playbook id
    /// with --person.
    #[arg(long, value_name = "ACCOUNT")]
    pub account: String,
    /// Whose key and account.
    #[arg(long, value_name = "PERSON")]
    pub person: Option<String>,
    /// A note for the record (where, how).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the audit trail's hash chain: finds edited, deleted or reordered entries.
    Verify,
}

#[derive(Debug, Args)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Write every record and the whole audit trail as JSON.
    Export {
        /// Write to this new file (mode 0600) instead of standard output. Never overwrites.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Load an export into a new, empty ledger (the --ledger file).
    Import {
        /// The JSON file `keyward ledger export` wrote.
        file: PathBuf,
    },
    /// Where the ledger is, and how much it holds.
    Info,
}

/// Find the account `--account` names, among one person's accounts or everyone's.
fn resolve_account(ledger: &Ledger, account: &str, person: Option<&str>) -> Result<Account> {
    let person = person.map(|p| ledger.find_person(p)).transpose()?;
    let candidates: Vec<Account> = match &person {
        Some(p) => ledger.accounts_of(p.id)?,
        None => ledger.accounts_named(account)?,
    };
    let wanted = account.trim();
    let matches: Vec<&Account> = candidates
        .iter()
        .filter(|a| {
            a.identifier.eq_ignore_ascii_case(wanted)
                || format!("{}:{}", a.playbook, a.identifier).eq_ignore_ascii_case(wanted)
                || (person.is_some() && a.playbook == wanted)
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(LedgerError::NotFound(format!(
            "no account `{wanted}`{} in the ledger; `keyward status PERSON` lists the accounts",
            person
                .as_ref()
                .map(|p| format!(" for {}", p.name))
                .unwrap_or_default()
        ))
        .into()),
        several => Err(LedgerError::Conflict(format!(
            "`{wanted}` matches several accounts ({}); give PLAYBOOK:IDENTIFIER{}",
            several
                .iter()
                .map(|a| format!("{}:{}", a.playbook, a.identifier))
                .collect::<Vec<_>>()
                .join(", "),
            if person.is_none() { " or --person" } else { "" }
        ))
        .into()),
    }
}

pub fn method(ctx: &Context, args: MethodArgs) -> Result<()> {
    let MethodCommand::Set {
        method,
        status,
        account,
        person,
        reason,
    } = args.command;
    let mut ledger = ctx.existing_ledger()?;
    let account = resolve_account(&ledger, &account, person.as_deref())?;
    let before = ledger
        .methods_of(account.id)?
        .into_iter()
        .find(|m| m.method == method.trim());
    let book = HowToBook::load(ctx);
    match book.check_method(&account.playbook, method.trim()) {
        MethodCheck::Known => {}
        MethodCheck::NotInVocabulary => {
            return Err(Error::BadInput(format!(
                "`{method}` is not a weaker-method id; use one of: {}",
                howto::vocabulary()
            )))
        }
        MethodCheck::NotInPlaybook => ctx.out.warn(format!(
            "the {} playbook does not list {method}; recording it anyway",
            account.playbook
        )),
    }
    // "kept" without a reason takes the playbook's, which says why it must stay.
    let reason = match reason {
        None if status == StatusArg::Kept => book.keep_reason(&account.playbook, method.trim()),
        r => r,
    };
    let actor = ctx.actor();
    let record = ledger.set_method_status(
        &actor,
        account.id,
        &method,
        status.into(),
        reason.as_deref(),
    )?;
    #[derive(Serialize)]
    struct Out<'a> {
        ok: bool,
        account: &'a Account,
        previous: Option<MethodStatus>,
        record: &'a crate::ledger::MethodRecord,
    }
    let out = Out {
        ok: true,
        account: &account,
        previous: before.as_ref().map(|b| b.status),
        record: &record,
    };
    ctx.out.emit(&out, || {
        format!(
            "Recorded: {}:{} {}: {}{}{} (by {}).",
            account.playbook,
            account.identifier,
            record.method,
            before
                .as_ref()
                .map(|b| format!("{} -> ", b.status.as_str()))
                .unwrap_or_default(),
            record.status.as_str(),
            record
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            actor
        )
    });
    Ok(())
}

/// `keyward key retire|lost KEY`.
pub fn key_state(ctx: &Context, args: KeyStateArgs, state: KeyState) -> Result<()> {
    let mut ledger = ctx.existing_ledger()?;
    let person = args
        .person
        .as_deref()
        .map(|p| ledger.find_person(p))
        .transpose()?;
    let key = ledger.find_key(&args.key, person.as_ref().map(|p| p.id))?;
    let owner = ledger.person(key.person_id)?;
    let key = ledger.set_key_state(&ctx.actor(), key.id, state, args.reason.as_deref())?;
    let status = ledger.person_status(owner.id)?;
    let affected: Vec<String> = status
        .needing_replacement()
        .into_iter()
        .filter(|(_, e)| e.enrollment.key_id == key.id)
        .map(|(a, _)| format!("{}:{}", a.account.playbook, a.account.identifier))
        .collect();
    #[derive(Serialize)]
    struct Out<'a> {
        ok: bool,
        person: &'a str,
        key: &'a crate::ledger::Key,
        needs_replacement: &'a [String],
    }
    ctx.out.emit(
        &Out {
            ok: true,
            person: &owner.name,
            key: &key,
            needs_replacement: &affected,
        },
        || {
            let mut s = format!(
                "{}'s {} is now marked {}.\n",
                owner.name,
                key.label,
                state.as_str()
            );
            if affected.is_empty() {
                s.push_str("It was not enrolled in any recorded account.\n");
            } else {
                let _ = writeln!(
                    s,
                    "These accounts need another key in its place, and the {} key removed from them{}:",
                    state.as_str(),
                    if state == KeyState::Lost {
                        " (whoever finds it could try it)"
                    } else {
                        ""
                    }
                );
                for a in &affected {
                    let _ = writeln!(s, "  - {a}");
                }
                let _ = writeln!(
                    s,
                    "When it is removed from one, record it: `keyward key removed {:?} --account \
                     ACCOUNT --person {:?}`; `keyward enroll --person {:?}` enrolls the new key.",
                    key.label, owner.name, owner.name
                );
            }
            s
        },
    );
    Ok(())
}

/// `keyward key removed KEY --account ACCOUNT`.
pub fn key_removed(ctx: &Context, args: KeyRemovedArgs) -> Result<()> {
    let mut ledger = ctx.existing_ledger()?;
    let account = resolve_account(&ledger, &args.account, args.person.as_deref())?;
    let key = ledger.find_key(&args.key, Some(account.person_id))?;
    let removed =
        ledger.remove_enrollment(&ctx.actor(), account.id, key.id, args.reason.as_deref())?;
    // Counted as `status` counts them, so the two never disagree.
    let working = ledger
        .person_status(account.person_id)?
        .accounts
        .iter()
        .find(|a| a.account.id == account.id)
        .map_or(0, |a| a.working_keys);
    #[derive(Serialize)]
    struct Out<'a> {
        ok: bool,
        account: &'a Account,
        key: &'a crate::ledger::Key,
        removed: &'a crate::ledger::Enrollment,
        working_keys_left: usize,
    }
    ctx.out.emit(
        &Out {
            ok: true,
            account: &account,
            key: &key,
            removed: &removed,
            working_keys_left: working,
        },
        || {
            let mut s = format!(
                "Recorded: {} ({}) is no longer in {}:{}.\n",
                key.label,
                key.state.as_str(),
                account.playbook,
                account.identifier
            );
            let _ = write!(
                s,
                "The account has {working} working key{} left",
                if working == 1 { "" } else { "s" }
            );
            if working < 2 {
                let _ = write!(
                    s,
                    ": enroll another (`keyward enroll`) so that losing one does not lock the \
                     person out"
                );
            }
            s.push_str(".\n");
            s
        },
    );
    Ok(())
}

pub fn audit(ctx: &Context, args: AuditArgs) -> Result<()> {
    let AuditCommand::Verify = args.command;
    let ledger = ctx.read_ledger()?;
    let report = ledger.verify_audit()?;
    ctx.out.emit(&report, || {
        if report.ok {
            format!(
                "{}: {} entries, each following the one before, and every record matches it.",
                style::good("Audit trail intact"),
                report.entries
            )
        } else {
            let mut s = format!(
                "{}: {} problem(s) in {} entries of {}:\n",
                style::error("Audit trail BROKEN"),
                report.problems.len() + report.record_problems.len(),
                report.entries,
                ledger.path().display()
            );
            for p in &report.problems {
                let _ = writeln!(s, "  entry {}: {}", p.seq, p.problem);
            }
            for p in &report.record_problems {
                let _ = writeln!(s, "  record: {p}");
            }
            s
        }
    });
    if report.ok {
        Ok(())
    } else {
        Err(Error::CheckFailed(format!(
            "the audit trail of {} has been tampered with or damaged",
            ledger.path().display()
        )))
    }
}

#[derive(Serialize)]
struct Counts {
    people: usize,
    accounts: usize,
    keys: usize,
    enrollments: usize,
    methods: usize,
    audit_entries: usize,
}

impl Counts {
    fn of(e: &LedgerExport) -> Counts {
        Counts {
            people: e.people.len(),
            accounts: e.accounts.len(),
            keys: e.keys.len(),
            enrollments: e.enrollments.len(),
            methods: e.methods.len(),
            audit_entries: e.audit.len(),
        }
    }
    fn text(&self) -> String {
        format!(
            "{} people, {} accounts, {} keys, {} enrollments, {} method records, {} audit entries",
            self.people,
            self.accounts,
            self.keys,
            self.enrollments,
            self.methods,
            self.audit_entries
        )
    }
}

pub fn ledger(ctx: &Context, args: LedgerArgs) -> Result<()> {
    match args.command {
        LedgerCommand::Export { output } => export(ctx, output),
        LedgerCommand::Import { file } => import(ctx, file),
        LedgerCommand::Info => info(ctx),
    }
}

fn export(ctx: &Context, output: Option<PathBuf>) -> Result<()> {
    let ledger = ctx.read_ledger()?;
    let Some(path) = output else {
        let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
        ledger.export_to(&mut stdout)?;
        return Ok(());
    };
    // The export holds who has which key: private, like the ledger itself.
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let file = opts.open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::BadInput(format!(
                "{} already exists; it was not overwritten. Choose a new file name",
                path.display()
            ))
        } else {
            Error::io(format!("cannot create {}", path.display()), e)
        }
    })?;
    let mut out = std::io::BufWriter::new(file);
    let written = ledger.export_to(&mut out).and_then(|(data, entries)| {
        out.get_ref()
            .sync_all()
            .map_err(|e| crate::ledger::LedgerError::Sql {
                path: path.display().to_string(),
                message: format!("cannot write the export: {e}"),
            })?;
        Ok((data, entries))
    });
    let (data, entries) = match written {
        Ok(v) => v,
        Err(e) => {
            // Half an export is worse than none: it would be refused on import anyway.
            drop(out);
            let _ = std::fs::remove_file(&path);
            return Err(e.into());
        }
    };
    let mut counts = Counts::of(&data);
    counts.audit_entries = entries;

    #[derive(Serialize)]
    struct Out<'a> {
        ok: bool,
        file: String,
        #[serde(flatten)]
        counts: &'a Counts,
    }
    ctx.out.emit(
        &Out {
            ok: true,
            file: path.display().to_string(),
            counts: &counts,
        },
        || format!("Exported {} to {}.", counts.text(), path.display()),
    );
    Ok(())
}

fn import(ctx: &Context, file: PathBuf) -> Result<()> {
    // The target first: a ledger that is not ours is refused before the export is read. A new
    // one is only created once the export has passed every check, so a refused import leaves
    // nothing behind.
    let target = ctx.ledger_path()?;
    let existing = if target.exists() {
        Some(ctx.existing_ledger()?)
    } else {
        None
    };
    let name = file.display().to_string();
    let text =
        std::fs::read_to_string(&file).map_err(|e| Error::io(format!("cannot read {name}"), e))?;
    let data: LedgerExport = serde_json::from_str(&text).map_err(|e| {
        Error::BadInput(format!(
            "{name}, line {}, column {}: {e}; this is not a `keyward ledger export` file (nothing was imported)",
            e.line(),
            e.column()
        ))
    })?;
    data.check(&name)?;
    let mut ledger = match existing {
        Some(l) => l,
        None => ctx.ledger()?,
    };
    ledger.import(&data, &name)?;
    let counts = Counts::of(&data);
    #[derive(Serialize)]
    struct Out<'a> {
        ok: bool,
        ledger: String,
        #[serde(flatten)]
        counts: &'a Counts,
    }
    ctx.out.emit(
        &Out {
            ok: true,
            ledger: ledger.path().display().to_string(),
            counts: &counts,
        },
        || {
            format!(
                "Imported {} into {}; the audit trail verifies.",
                counts.text(),
                ledger.path().display()
            )
        },
    );
    Ok(())
}

fn info(ctx: &Context) -> Result<()> {
    let ledger = ctx.read_ledger()?;
    let data = ledger.export()?;
    let counts = Counts::of(&data);
    #[derive(Serialize)]
    struct Out<'a> {
        path: String,
        schema_version: i64,
        #[serde(flatten)]
        counts: &'a Counts,
    }
    ctx.out.emit(
        &Out {
            path: ledger.path().display().to_string(),
            schema_version: data.schema_version,
            counts: &counts,
        },
        || {
            format!(
                "Ledger {} (schema {}): {}.",
                ledger.path().display(),
                data.schema_version,
                counts.text()
            )
        },
    );
    Ok(())
}
