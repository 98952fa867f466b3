//! What a run reports, one event per step. With `--json` each is one line on stdout; they never
//! carry a PIN (there is no field a PIN could go into).

use super::roster::Slot;
use serde::Serialize;
use uuid::Uuid;

/// The PIN state recorded for a key: never the PIN, only what the person must know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinState {
    /// A random first PIN is set and the key demands a new one before first use.
    SetMustChange,
    /// A random first PIN is set; the person may keep it.
    Set,
    /// No PIN: the person sets one at enrollment.
    NotSetPersonSetsAtEnrollment,
}

impl PinState {
    pub fn describe(self) -> &'static str {
        match self {
            PinState::SetMustChange => "first PIN set, the person must change it on first use",
            PinState::Set => "first PIN set",
            PinState::NotSetPersonSetsAtEnrollment => "no PIN: the person sets it at enrollment",
        }
    }
}

/// Where a random first PIN went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PinDelivered {
    Mailer,
    ShownToOperator,
    /// No PIN was set (person sets it at enrollment).
    None,
}

/// A key as the events name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRef {
    /// The `--device` value that reached it.
    pub device: String,
    pub serial: Option<String>,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotRef {
    /// `person/label`.
    pub slot: String,
    pub person: String,
    pub label: String,
}

impl From<&Slot> for SlotRef {
    fn from(s: &Slot) -> SlotRef {
        SlotRef {
            slot: s.id(),
            person: s.person.clone(),
            label: s.label.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run begins: how many slots the roster has and how many the ledger already holds.
    Started {
        total: usize,
        already_done: usize,
        to_do: usize,
    },
    /// The ledger already has a key for this slot (an earlier run did it).
    AlreadyDone {
        #[serde(flatten)]
        slot: SlotRef,
    },
    /// Waiting for a key for this slot.
    Waiting {
        #[serde(flatten)]
        slot: SlotRef,
    },
    /// This key is already recorded for a slot; it is left alone.
    KeyAlreadyProvisioned { key: KeyRef, for_label: String },
    /// The key was not touched and the slot still waits for a key.
    Refused {
        #[serde(flatten)]
        slot: SlotRef,
        key: KeyRef,
        reason: String,
    },
    /// The key failed mid-way; the slot is marked failed for this run and the run goes on.
    Failed {
        #[serde(flatten)]
        slot: SlotRef,
        key: KeyRef,
        reason: String,
        /// The key may have been changed (e.g. given a PIN) before it failed.
        key_changed: bool,
    },
    /// The key is ready and recorded in the ledger against its person.
    Provisioned {
        #[serde(flatten)]
        slot: SlotRef,
        email: Option<String>,
        key: KeyRef,
        aaguid: Option<Uuid>,
        pin_state: PinState,
        pin_delivered: PinDelivered,
        min_pin_length: u32,
        always_uv: bool,
        self_tested: bool,
        /// Time keyward spent on this key, from insertion to the ledger record.
        seconds: f64,
    },
    /// The run is over.
    Finished {
        total: usize,
        done: usize,
        provisioned_now: usize,
        failed: usize,
        pending: usize,
        /// Mean time per key provisioned in this run (none provisioned: 0).
        seconds_per_key: f64,
    },
}

impl Event {
    /// One line for the operator (text mode).
    pub fn human(&self) -> String {
        match self {
            Event::Started {
                total,
                already_done,
                to_do,
            } => format!(
                "Roster: {total} key(s); {already_done} already recorded in the ledger, {to_do} to prepare."
            ),
            Event::AlreadyDone { slot } => {
                format!("{}: already done in an earlier run.", slot.label)
            }
            Event::Waiting { slot } => format!("Next: {} (for {}).", slot.label, slot.person),
            Event::KeyAlreadyProvisioned { key, for_label } => format!(
                "{}{} is already recorded as {for_label}; left as it is. Take it out.",
                key.model,
                key.serial
                    .as_ref()
                    .map(|s| format!(" (serial {s})"))
                    .unwrap_or_default()
            ),
            Event::Refused { slot, key, reason } => format!(
                "REFUSED {} for {}: {reason}. Take it out; {} still needs a key.",
                key.model, slot.label, slot.label
            ),
            Event::Failed {
                slot,
                key,
                reason,
                key_changed,
            } => format!(
                "FAILED {} ({}): {reason}.{}",
                slot.label,
                key.model,
                if *key_changed {
                    " The key may be half-prepared: reset it before using it again."
                } else {
                    ""
                }
            ),
            Event::Provisioned {
                slot,
                pin_state,
                seconds,
                ..
            } => format!(
                "OK {} for {}: write \"{}\" on the key. {} ({:.0} ms)",
                slot.label,
                slot.person,
                slot.label,
                capitalise(pin_state.describe()),
                seconds * 1000.0
            ),
            Event::Finished {
                total,
                done,
                provisioned_now,
                failed,
                pending,
                seconds_per_key,
            } => format!(
                "Done: {done} of {total} keys recorded ({provisioned_now} in this run, {:.0} ms per key); {failed} failed, {pending} still to do.",
                seconds_per_key * 1000.0
            ),
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
