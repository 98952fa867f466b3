//! `keyward provision`: prepare many keys in a row from a roster and a policy.

use super::Context;
use crate::device::{self, Authenticator};
use crate::error::{Error, Result};
use crate::pin::Pin;
use crate::provision::journal::{Journal, LedgerJournal};
use crate::provision::run::{self, Operator, PinDelivery, RunOptions};
use crate::provision::station::SelfTest;
use crate::provision::{Event, FirstPin, PinMailer, Policy, ProvisionError, Roster, Slot};
use crate::selftest::{self, PinOutcome};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// CSV naming the people and how many keys each gets (see docs/provisioning.md).
    #[arg(long, value_name = "FILE")]
    pub roster: PathBuf,
    /// TOML saying how each key is prepared (default: min PIN length 6, random 8-digit first
    /// PIN, change forced on first use).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Write random first PINs to this new file (mode 0600; an existing file is never
    /// overwritten) instead of showing them on the terminal.
    #[arg(long, value_name = "FILE")]
    pub pin_mailer: Option<PathBuf>,
    /// Also register each key as a passkey for its person's Microsoft Entra account through
    /// Graph (the roster's email is the user principal name; see docs/entra.md).
    #[arg(long)]
    pub entra: bool,
}

pub fn run(ctx: &Context, args: ProvisionArgs) -> Result<()> {
    // Both files are checked before any key is touched or anything is created.
    let roster = Roster::load(&args.roster)?;
    let policy = match &args.policy {
        Some(p) => Policy::load(p)?,
        None => Policy::default(),
    };
    let stderr_terminal = std::io::stderr().is_terminal() && !ctx.global.no_input;
    let delivery_plan =
        match (policy.first_pin, &args.pin_mailer) {
            (FirstPin::SetAtEnrollment, Some(_)) => return Err(Error::Usage(
                "the policy sets no PIN (first_pin = \"set-at-enrollment\"), so there is nothing \
                 to write to --pin-mailer; leave it out"
                    .into(),
            )),
            (FirstPin::SetAtEnrollment, None) => Plan::None,
            (FirstPin::Random, Some(path)) => Plan::Mailer(path.clone()),
            (FirstPin::Random, None) if stderr_terminal => Plan::Operator,
            (FirstPin::Random, None) => return Err(ProvisionError::NoPinDelivery.into()),
        };
    if policy.erase_non_fresh_keys {
        ctx.out.warn(
            "this policy erases keys that are not fresh (erase_non_fresh_keys = true): every \
             passkey and the PIN on such a key are lost; a key only accepts the erase within \
             about 10 seconds of being plugged in and after a touch",
        );
    }
    let slots = roster.slots();
    let mut entra = if args.entra {
        let to_register: Vec<Slot> = slots.clone();
        Some(super::provision_entra::prepare(
            ctx,
            &to_register,
            policy.first_pin == FirstPin::Random,
        )?)
    } else {
        None
    };
    let journal_ledger = ctx.ledger()?;
    let ledger_journal = LedgerJournal::new(journal_ledger, ctx.actor())?;
    let mut journal: Box<dyn Journal> = match &entra {
        Some(e) => Box::new(e.journal(ledger_journal, ctx.ledger()?, ctx.actor(), ctx.out)),
        None => Box::new(ledger_journal),
    };
    let mut to_do = 0;
    for slot in &slots {
        if !journal.is_done(slot)? {
            to_do += 1;
        }
    }
    // A finished roster needs no mailer: a rerun just says so, whatever file name it is given.
    let delivery = match delivery_plan {
        _ if to_do == 0 => PinDelivery::None,
        Plan::None => PinDelivery::None,
        Plan::Operator => PinDelivery::Operator,
        Plan::Mailer(path) => PinDelivery::Mailer(PinMailer::create(&path)?),
    };
    let mut operator = CliOperator::new(ctx, stderr_terminal);
    let mut arrivals = device::arrivals(&ctx.global.device);
    let current = entra.as_ref().map(|e| e.current.clone());
    let wants_test = policy.self_test;
    let mut test_hook = |key: &mut dyn Authenticator, pin: Option<&Pin>| {
        if wants_test {
            self_test(ctx, key, pin)?;
        }
        match entra.as_mut() {
            Some(e) => e.register(ctx, key, pin),
            None => Ok(()),
        }
    };
    let options = RunOptions {
        policy: &policy,
        delivery,
        self_test: (policy.self_test || args.entra).then_some(&mut test_hook as &mut SelfTest<'_>),
    };
    let summary = match current {
        Some(current) => run::run(
            &slots,
            arrivals.as_mut(),
            &device::open,
            journal.as_mut(),
            options,
            &mut super::provision_entra::SlotWatcher {
                inner: &mut operator,
                current,
            },
        )?,
        None => run::run(
            &slots,
            arrivals.as_mut(),
            &device::open,
            journal.as_mut(),
            options,
            &mut operator,
        )?,
    };
    operator.finish();
    if summary.failed > 0 || summary.pending > 0 {
        return Err(ProvisionError::Incomplete {
            done: summary.done,
            failed: summary.failed,
            pending: summary.pending,
            total: summary.total,
        }
        .into());
    }
    Ok(())
}

/// `keyward key test` on a prepared key, whose PIN (if any) has just unlocked it.
fn self_test(
    ctx: &Context,
    key: &mut dyn Authenticator,
    pin: Option<&Pin>,
) -> std::result::Result<(), String> {
    let info = key.info().map_err(|e| e.to_string())?;
    let outcome = match pin {
        Some(_) => PinOutcome::Unlocked,
        None => PinOutcome::NotSet,
    };
    let desc = key.descriptor().clone();
    let sources = super::selftest::trust_sources(ctx, &desc, key.virtual_attestation_root());
    let report = selftest::run(key, &info, outcome, &sources).map_err(|e| e.to_string())?;
    if report.ok {
        return Ok(());
    }
    Err(report
        .failed()
        .iter()
        .map(|c| format!("{} ({})", c.id.id(), c.detail))
        .collect::<Vec<_>>()
        .join("; "))
}

enum Plan {
    None,
    Operator,
    Mailer(PathBuf),
}

/// Events to stdout (a JSON line each with `--json`), instructions and the progress bar to
/// stderr on a terminal only.
struct CliOperator<'a> {
    ctx: &'a Context,
    terminal: bool,
    bar: Option<ProgressBar>,
}

impl<'a> CliOperator<'a> {
    fn new(ctx: &'a Context, terminal: bool) -> CliOperator<'a> {
        CliOperator {
            ctx,
            terminal,
            bar: None,
        }
    }

    fn on_terminal(&self, f: impl FnOnce()) {
        if !self.terminal {
            return;
        }
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Operator for CliOperator<'_> {
    fn event(&mut self, event: &Event) {
        let out = self.ctx.out;
        let print = || out.event(event, || event.human());
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
        match event {
            Event::Started { to_do, .. } if self.terminal && *to_do > 0 => {
                let bar = ProgressBar::with_draw_target(
                    Some(*to_do as u64),
                    ProgressDrawTarget::stderr(),
                );
                if let Ok(style) = ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} keys  {elapsed} elapsed  {msg}",
                ) {
                    bar.set_style(style);
                }
                bar.enable_steady_tick(Duration::from_millis(500));
                self.bar = Some(bar);
            }
            Event::Provisioned { seconds, .. } => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                    bar.set_message(format!("last key {seconds:.1} s"));
                }
            }
            Event::Failed { .. } => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
            Event::Finished { .. } => self.finish(),
            _ => {}
        }
    }

    fn instruct(&mut self, text: &str) {
        let out = self.ctx.out;
        self.on_terminal(|| out.note(text));
    }

    fn show_pin(&mut self, slot: &Slot, pin: &Pin) {
        let out = self.ctx.out;
        self.on_terminal(|| {
            out.note(format!(
                "First PIN for {} ({}): {}\n  Give it to them sealed; it is shown only this once \
                 and stored nowhere.",
                slot.label,
                slot.who(),
                pin.as_str()
            ))
        });
    }
}
