//! The provisioning loop: one key after another, each for the next open slot of the roster.

use super::events::{Event, KeyRef, PinDelivered, SlotRef};
use super::journal::Journal;
use super::mailer::PinMailer;
use super::policy::{FirstPin, Policy};
use super::roster::Slot;
use super::station::{self, Problem, SelfTest};
use super::ProvisionError;
use crate::device::{Authenticator, DeviceDescriptor, DeviceError, KeyArrivals};
use crate::error::Result;
use crate::pin::Pin;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The person at the desk: hears about every event, is told what to do, and (on a terminal)
/// may be shown a first PIN.
pub trait Operator {
    fn event(&mut self, event: &Event);
    /// An instruction ("insert a key for ...", "take it out") for stderr.
    fn instruct(&mut self, text: &str);
    /// Show a first PIN once. Only called when the operator has a terminal.
    fn show_pin(&mut self, slot: &Slot, pin: &Pin);
}

/// Where random first PINs go.
pub enum PinDelivery {
    Mailer(PinMailer),
    /// The operator's terminal (see [`Operator::show_pin`]).
    Operator,
    /// The policy sets no PIN.
    None,
}

pub struct RunOptions<'a> {
    pub policy: &'a Policy,
    pub delivery: PinDelivery,
    pub self_test: Option<&'a mut SelfTest<'a>>,
}

/// The end state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub done: usize,
    pub provisioned_now: usize,
    pub failed: usize,
    pub pending: usize,
}

type Opener<'a> = dyn Fn(&DeviceDescriptor) -> Result<Box<dyn Authenticator>, DeviceError> + 'a;

pub fn run(
    slots: &[Slot],
    arrivals: &mut dyn KeyArrivals,
    open: &Opener<'_>,
    journal: &mut dyn Journal,
    mut options: RunOptions<'_>,
    operator: &mut dyn Operator,
) -> Result<Summary> {
    let mut pending = VecDeque::new();
    let mut already = Vec::new();
    for slot in slots {
        if journal.is_done(slot)? {
            already.push(slot);
        } else {
            pending.push_back(slot.clone());
        }
    }
    // Checked before any key gets a PIN that would then have nowhere to go.
    if options.policy.first_pin == FirstPin::Random
        && matches!(options.delivery, PinDelivery::None)
        && !pending.is_empty()
    {
        return Err(ProvisionError::NoPinDelivery.into());
    }
    operator.event(&Event::Started {
        total: slots.len(),
        already_done: already.len(),
        to_do: pending.len(),
    });
    for slot in already {
        operator.event(&Event::AlreadyDone { slot: slot.into() });
    }

    let mut failed = 0usize;
    let mut provisioned = 0usize;
    let mut busy = Duration::ZERO;
    let mut announced: Option<String> = None;
    let mut stopped: Option<(Slot, MailerFailure)> = None;
    while let Some(slot) = pending.front().cloned() {
        if announced.as_deref() != Some(&slot.id()) {
            operator.event(&Event::Waiting {
                slot: (&slot).into(),
            });
            announced = Some(slot.id());
        }
        operator.instruct(&format!(
            "Insert a key for {} ({}).",
            slot.label,
            slot.who()
        ));
        let Some(desc) = arrivals.next_key()? else {
            break;
        };
        let started = Instant::now();
        let step = one_key(&slot, &desc, open, journal, &mut options, operator)?;
        busy += started.elapsed();
        match step {
            Step::Done => {
                provisioned += 1;
                pending.pop_front();
                operator.instruct(&format!(
                    "Write \"{}\" on the key and take it out.",
                    slot.label
                ));
            }
            Step::Failed => {
                failed += 1;
                pending.pop_front();
                operator.instruct("Take the key out and set it aside.");
            }
            Step::KeepSlot => operator.instruct("Take the key out."),
            Step::MailerFailed(why) => {
                failed += 1;
                pending.pop_front();
                operator.instruct("Take the key out and set it aside: it must be reset.");
                arrivals.wait_removed(&desc)?;
                stopped = Some((slot, why));
                break;
            }
        }
        arrivals.wait_removed(&desc)?;
    }

    let summary = Summary {
        total: slots.len(),
        done: slots.len() - pending.len() - failed,
        provisioned_now: provisioned,
        failed,
        pending: pending.len(),
    };
    operator.event(&Event::Finished {
        total: summary.total,
        done: summary.done,
        provisioned_now: provisioned,
        failed,
        pending: summary.pending,
        seconds_per_key: if provisioned == 0 {
            0.0
        } else {
            busy.as_secs_f64() / provisioned as f64
        },
    });
    if let Some((slot, why)) = stopped {
        return Err(ProvisionError::MailerStopped {
            path: why.path,
            message: why.message,
            label: slot.label,
            done: summary.done,
            failed: summary.failed,
            pending: summary.pending,
            total: summary.total,
        }
        .into());
    }
    Ok(summary)
}

enum Step {
    Done,
    Failed,
    /// Nothing happened to the slot: the next key goes to it.
    KeepSlot,
    /// The key got a PIN the mailer could not take: the slot failed, and no further key may
    /// get a PIN with nowhere to go.
    MailerFailed(MailerFailure),
}

struct MailerFailure {
    path: std::path::PathBuf,
    message: String,
}

/// Tell the operator a key failed, then record it, in that order: a ledger error must not hide
/// what became of the key.
fn failed(
    operator: &mut dyn Operator,
    journal: &mut dyn Journal,
    slot: &Slot,
    key: KeyRef,
    reason: String,
    key_changed: bool,
) -> Result<()> {
    operator.event(&Event::Failed {
        slot: slot.into(),
        key,
        reason: reason.clone(),
        key_changed,
    });
    journal.record_failed(slot, &reason)?;
    Ok(())
}

fn one_key(
    slot: &Slot,
    desc: &DeviceDescriptor,
    open: &Opener<'_>,
    journal: &mut dyn Journal,
    options: &mut RunOptions<'_>,
    operator: &mut dyn Operator,
) -> Result<Step> {
    let started = Instant::now();
    let mut key_ref = KeyRef {
        device: desc.spec.clone(),
        serial: desc.serial.clone(),
        model: desc.product.clone().unwrap_or_else(|| "FIDO key".into()),
    };
    if let Some(serial) = &desc.serial {
        if let Some(label) = journal.label_of_key(serial)? {
            operator.event(&Event::KeyAlreadyProvisioned {
                key: key_ref,
                for_label: label,
            });
            return Ok(Step::KeepSlot);
        }
    }
    let mut key = match open(desc) {
        Ok(k) => k,
        Err(e) => {
            // The operator hears what became of the key even if the ledger then fails.
            failed(operator, journal, slot, key_ref, e.to_string(), false)?;
            return Ok(Step::Failed);
        }
    };
    key_ref.model = station::model_name(key.as_ref());
    let self_test = options.self_test.as_deref_mut();
    let prepared = match station::prepare(key.as_mut(), options.policy, self_test) {
        Ok(p) => p,
        Err(Problem::Refused(reason)) => {
            operator.event(&Event::Refused {
                slot: slot.into(),
                key: key_ref,
                reason,
            });
            return Ok(Step::KeepSlot);
        }
        Err(Problem::Failed { reason, changed }) => {
            failed(operator, journal, slot, key_ref, reason, changed)?;
            return Ok(Step::Failed);
        }
        Err(Problem::Fatal(e)) => return Err(e.into()),
    };
    drop(key);

    // The mailer line is on disk before the ledger says the key is ready, so a recorded key
    // never has a PIN nobody can find.
    let delivered = match (&prepared.first_pin, &mut options.delivery) {
        (None, _) => PinDelivered::None,
        (Some(pin), PinDelivery::Mailer(m)) => {
            match m.add(slot, desc.serial.as_deref().unwrap_or(""), pin) {
                Ok(()) => PinDelivered::Mailer,
                Err(ProvisionError::Mailer { path, message }) => {
                    let reason = format!(
                        "its first PIN could not be written to the PIN mailer {}: {message}; \
                         the key now has a PIN that is in no file: reset it (`keyward key \
                         reset`) before using it",
                        path.display()
                    );
                    failed(operator, journal, slot, key_ref, reason, true)?;
                    return Ok(Step::MailerFailed(MailerFailure { path, message }));
                }
                Err(e) => return Err(e.into()),
            }
        }
        (Some(_), PinDelivery::Operator) => PinDelivered::ShownToOperator,
        (Some(_), PinDelivery::None) => return Err(ProvisionError::NoPinDelivery.into()),
    };
    if let Err(e) = journal.record(slot, &prepared.record) {
        // The run ends with this error; the operator still learns what became of this key.
        operator.event(&Event::Failed {
            slot: slot.into(),
            key: key_ref,
            reason: format!(
                "it could not be recorded in the ledger ({e}){}; the key is prepared but not \
                 provisioned: reset it (`keyward key reset`) before using it",
                if delivered == PinDelivered::Mailer {
                    ", so its line in the PIN mailer is void"
                } else {
                    ""
                }
            ),
            key_changed: true,
        });
        return Err(e);
    }
    if let (Some(pin), PinDelivered::ShownToOperator) = (&prepared.first_pin, delivered) {
        operator.show_pin(slot, pin);
    }
    let r = &prepared.record;
    operator.event(&Event::Provisioned {
        slot: SlotRef::from(slot),
        email: slot.email.clone(),
        key: key_ref,
        aaguid: r.aaguid,
        pin_state: r.pin_state,
        pin_delivered: delivered,
        min_pin_length: r.min_pin_length,
        always_uv: r.always_uv,
        self_tested: r.self_tested,
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(Step::Done)
}
