//! Finding each key, telling them apart, and getting them ready: a PIN where there is none,
//! and a warning for every provider a key cannot satisfy.

use super::flow::{key_label, label_id, Guide, Present};
use super::prompt::{Choice, SecretKind};
use crate::device::{Authenticator, DeviceDescriptor, DeviceError, KeyInfo};
use crate::error::{Error, Result};
use crate::ledger::{Key, KeyState, NewKey, Person, PinState};
use crate::playbook::Playbook;
use crate::readiness::{self, KeyFacts};

impl Guide<'_> {
    /// How many keys, which is which, and whether each is ready.
    pub(super) fn keys(&mut self, person: &Person, playbooks: &[Playbook]) -> Result<Vec<Key>> {
        let all = self.record.keys(person)?;
        let recorded: Vec<Key> = all
            .iter()
            .filter(|k| k.state == KeyState::Active)
            .cloned()
            .collect();
        for k in all.iter().filter(|k| k.state != KeyState::Active) {
            self.prompter.info(&format!(
                "{} is marked {}: it is not used here, and a new key gets a label of its own.",
                k.label,
                k.state.as_str()
            ));
        }
        let told = self
            .answered(person, KEYS_COUNT)?
            .and_then(|n| n.parse::<usize>().ok());
        let count = if recorded.len() >= 2 {
            recorded.len()
        } else if let Some(n) = told {
            // Answered in an earlier session that stopped before every key was in.
            n.max(recorded.len())
        } else {
            let mut why = vec![
                "Two keys are strongly recommended: if one is lost or broken, the other still \
                 opens every account, and the spare is kept somewhere else."
                    .to_string(),
            ];
            for p in playbooks.iter().filter(|p| p.requirements.keys.min >= 2) {
                why.push(format!(
                    "{} requires at least {}: {}",
                    p.name, p.requirements.keys.min, p.requirements.keys.reason
                ));
            }
            self.prompter.info(&format!("\n{}", why.join("\n")));
            let choices = [
                Choice::new("2", "Two keys (recommended)"),
                Choice::new("1", "One key"),
                Choice::new("3", "Three keys"),
                Choice::new("4", "Four keys"),
            ];
            let n: usize = self
                .prompter
                .choose("keys.count", "How many keys will you enroll?", &choices, 0)?
                .parse()
                .unwrap_or(2);
            if n == 1
                && !self.prompter.confirm(
                    "keys.one_only",
                    "With a single key, losing it means account recovery at every provider. \
                     Go on with one key?",
                    false,
                )?
            {
                return Err(Error::Cancelled(
                    "come back with a second key and run `keyward enroll` again".into(),
                ));
            }
            self.record
                .add_checkpoint(person, &format!("{KEYS_COUNT}{n}"), &self.actor)?;
            n.max(recorded.len())
        };
        let mut keys = Vec::new();
        for (label, known) in labels_for(&all, count) {
            let mut present = self.acquire(person, &label, known.as_ref(), true)?;
            self.ready(&mut present, playbooks, count as u32)?;
            // Let go of the key before asking anything more (training acts on virtual keys
            // between questions).
            let mut record = present.record.clone();
            drop(present);
            self.place(person, &mut record)?;
            keys.push(record);
        }
        Ok(keys)
    }

    /// Have the person mark the key with its letter and say where it will live, once: the
    /// letter is how every later step names it, the place goes on the page they keep.
    fn place(&mut self, person: &Person, key: &mut Key) -> Result<()> {
        if key.location.is_some() {
            return Ok(());
        }
        let label = key.label.clone();
        let letter = label.trim_start_matches("Key ");
        self.prompter.info(&format!(
            "Write {letter} on this key now (a sticker or a marker): from here on it is {label}, \
             and every step says which key to use by its letter."
        ));
        // The first key usually goes with the person, the next one somewhere safe.
        let carried = self.record.keys(person)?.iter().any(|k| {
            k.id != key.id
                && k.state == KeyState::Active
                && k.location.as_deref() == Some(ON_KEYRING)
        });
        let default = if carried { AT_HOME } else { ON_KEYRING };
        let place = self.prompter.text(
            &format!("keys.{}.location", label_id(&label)),
            &format!("Where will {label} live?"),
            Some(default),
        )?;
        self.record.set_key_location(key, &place, &self.actor)?;
        key.location = Some(place);
        Ok(())
    }

    /// Find `label` among the keys plugged in (asking the person to plug it in), open it and
    /// make sure the ledger knows it.
    pub(super) fn acquire(
        &mut self,
        person: &Person,
        label: &str,
        known: Option<&Key>,
        mark_seen: bool,
    ) -> Result<Present> {
        let lid = label_id(label);
        let others: Vec<Key> = self
            .record
            .keys(person)?
            .into_iter()
            .filter(|k| known.is_none_or(|known| k.id != known.id))
            .collect();
        // A key that shows no serial number looks exactly like another of the same kind: when
        // the person has such a key besides this one (a lost one is not at hand), only they can
        // say which is plugged in.
        let lookalikes: Vec<&str> = others
            .iter()
            .filter(|k| k.serial.is_none() && k.state != KeyState::Lost)
            .map(|k| k.label.as_str())
            .collect();
        let mut swapped = false;
        let mut attempts = 0;
        loop {
            let present = self.keys.present()?;
            let others_serials: Vec<&str> =
                others.iter().filter_map(|k| k.serial.as_deref()).collect();
            let by_serial = known
                .and_then(|k| k.serial.as_deref())
                .and_then(|s| present.iter().find(|d| d.serial.as_deref() == Some(s)));
            let desc = if let Some(d) = by_serial {
                Some(d.clone())
            } else {
                // A key whose serial belongs to another of this person's keys is not this one.
                let candidates: Vec<&DeviceDescriptor> = present
                    .iter()
                    .filter(|d| {
                        d.serial
                            .as_deref()
                            .is_none_or(|s| !others_serials.contains(&s))
                    })
                    .collect();
                match candidates.len() {
                    0 => None,
                    1 if known.is_some_and(|k| k.serial.is_some()) => None,
                    1 if candidates[0].serial.is_none() && !lookalikes.is_empty() && !swapped => {
                        self.ask_swapped(person, label, &lookalikes)?;
                        swapped = true;
                        continue;
                    }
                    1 => Some(candidates[0].clone()),
                    _ => {
                        let mut choices: Vec<Choice> = candidates
                            .iter()
                            .map(|d| Choice::new(d.spec.clone(), d.display_name()))
                            .collect();
                        // Two keys of one model often look identical here (many reveal no
                        // serial): a touch tells them apart.
                        if self.keys.can_select_by_touch() {
                            choices.push(Choice::new(
                                "touch",
                                format!("I will touch {label} (every key blinks)"),
                            ));
                        }
                        let spec = self.prompter.choose(
                            &format!("keys.{lid}.device"),
                            &format!("Several keys are plugged in. Which one is {label}?"),
                            &choices,
                            0,
                        )?;
                        if spec == "touch" {
                            self.prompter
                                .info(&format!("Touch {label} now (the one that blinks)..."));
                            let owned: Vec<DeviceDescriptor> =
                                candidates.iter().map(|d| (*d).clone()).collect();
                            let i = self.keys.select_by_touch(&owned)?;
                            owned.get(i).cloned()
                        } else {
                            candidates
                                .iter()
                                .find(|d| d.spec == spec)
                                .map(|d| (*d).clone())
                        }
                    }
                }
            };
            if let Some(desc) = desc {
                let mut handle = self.keys.open(&desc)?;
                let info = handle.info()?;
                let record = match known {
                    Some(k) => {
                        if let (Some(want), Some(got)) = (k.aaguid, info.aaguid) {
                            if want != got {
                                self.prompter.info(&format!(
                                    "This is not {label}: the ledger has a different model for it. \
                                     Plug in {label}."
                                ));
                                drop(handle);
                                attempts += 1;
                                if attempts >= 3 {
                                    return Err(DeviceError::NotFound {
                                        spec: desc.spec,
                                        reason: format!("{label} is not this key"),
                                    }
                                    .into());
                                }
                                self.ask_plugged(person, label)?;
                                continue;
                            }
                        }
                        if mark_seen {
                            self.record.key_seen(k, &self.actor)?;
                        }
                        k.clone()
                    }
                    None => {
                        let new = NewKey {
                            label: label.to_string(),
                            aaguid: info.aaguid,
                            model: desc.product.clone(),
                            serial: desc.serial.clone(),
                        };
                        self.record.register_key(person, &new, &self.actor)?
                    }
                };
                self.prompter
                    .info(&format!("{label}: {}", desc.display_name()));
                return Ok(Present {
                    record,
                    handle,
                    unlocked: false,
                });
            }
            attempts += 1;
            if attempts >= 2 {
                self.prompter.warn(&format!(
                    "Still no key seen. Push {label} fully into a USB port (or try another port, \
                     without a hub). On Linux, keyward can only see keys the udev rules allow: \
                     see docs/linux-udev.md."
                ));
            }
            if attempts >= 3 {
                return Err(DeviceError::NoKey {
                    diagnosis: Some(format!(
                        "{label} was not found after {attempts} tries; plug it in and run \
                         `keyward enroll --person \"{}\"` again",
                        person.name
                    )),
                }
                .into());
            }
            self.ask_plugged(person, label)?;
        }
    }

    /// Make sure the one key plugged in is `label` and not one of `lookalikes`, which keyward
    /// cannot tell apart from it.
    fn ask_swapped(&mut self, person: &Person, label: &str, lookalikes: &[&str]) -> Result<()> {
        self.confirm_plugged(
            person,
            label,
            &format!(
                "Keys that show no serial number look alike to keyward, so it cannot tell {label} \
                 from {}. Unplug {}, plug in {label} alone (touch it if it blinks). Ready?",
                lookalikes.join(" or "),
                lookalikes.join(" and ")
            ),
        )
    }

    pub(super) fn ask_plugged(&mut self, person: &Person, label: &str) -> Result<()> {
        self.confirm_plugged(
            person,
            label,
            &format!("Plug in {label} (and touch it if it blinks). Ready?"),
        )
    }

    fn confirm_plugged(&mut self, person: &Person, label: &str, question: &str) -> Result<()> {
        let go_on =
            self.prompter
                .confirm(&format!("keys.{}.plugged", label_id(label)), question, true)?;
        if !go_on {
            return Err(Error::Cancelled(format!(
                "{label} was not plugged in; run `keyward enroll --person \"{}\"` again to go on",
                person.name
            )));
        }
        Ok(())
    }

    /// A PIN on the key if it has none, and a warning for each provider it cannot satisfy.
    /// `keys_available`: how many keys the person is enrolling, which some providers judge
    /// (Apple needs two).
    pub(super) fn ready(
        &mut self,
        key: &mut Present,
        playbooks: &[Playbook],
        keys_available: u32,
    ) -> Result<()> {
        let label = key.record.label.clone();
        let lid = label_id(&label);
        let mut info: KeyInfo = key.handle.info()?;
        if let Some(change) = self.record.pending_key_change(&key.record)? {
            // The last run changed this key and was stopped before recording it: the key
            // itself says what is true now.
            let now = PinState::seen(info.pin_is_set(), info.force_pin_change);
            self.record
                .settle_key_change(&key.record, now, true, &self.actor)?;
            self.prompter.info(&format!(
                "{label}: the last run was interrupted while changing it ({}); what the key \
                 says now is recorded.",
                change.replace('_', " ")
            ));
        }
        if info.pin_is_set() == Some(false) {
            // Every provider here wants the key's PIN: a key without one gets it now, no
            // question asked.
            self.prompter.info(&format!(
                "{label} has no PIN yet. Choose one now (at least {} characters); you will type \
                 it whenever you use the key. It stays on the key: keyward never records it.",
                info.min_pin_length.max(4)
            ));
            loop {
                let pin = self.prompter.secret(
                    &format!("key.{lid}.new_pin"),
                    &format!("New PIN for {label}"),
                    SecretKind::New {
                        min_code_points: info.min_pin_length,
                    },
                )?;
                match self.change_pin_on_key(key, "set_pin", pin, |h, new| h.set_pin(new))? {
                    Ok(()) => break,
                    Err(DeviceError::PinPolicyViolation { reason })
                        if self.prompter.pin_is_typed(SecretKind::New {
                            min_code_points: info.min_pin_length,
                        }) =>
                    {
                        self.prompter.warn(&format!(
                            "{label} refused that PIN ({reason}). Choose another."
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            self.prompter.info(&format!("{label} now has a PIN."));
            info = key.handle.info()?;
        } else if info.pin_is_set() == Some(true) && info.force_pin_change {
            // A key prepared by IT with a temporary PIN: nothing works until the person has
            // chosen their own, so do it now rather than fail at the first verification.
            self.prompter.info(&format!(
                "{label} was prepared with a temporary PIN and needs your own before it can be \
                 used: type the temporary PIN, then the one you choose."
            ));
            loop {
                self.guard_pin(&label, key.handle.as_mut())?;
                let current = self.prompter.secret(
                    &format!("key.{lid}.current_pin"),
                    &format!("Temporary PIN of {label}"),
                    SecretKind::Current,
                )?;
                let new = self.prompter.secret(
                    &format!("key.{lid}.new_pin"),
                    &format!("Your new PIN for {label}"),
                    SecretKind::New {
                        min_code_points: info.min_pin_length,
                    },
                )?;
                let done = self.change_pin_on_key(key, "change_pin", new, |h, new| {
                    h.change_pin(&current, new)
                })?;
                match done {
                    Ok(()) => break,
                    Err(e) => {
                        let e = e.with_retries_from(key.handle.as_mut());
                        let again = self.prompter.pin_is_typed(SecretKind::Current);
                        match e {
                            DeviceError::PinInvalid { retries_left } if again => {
                                self.prompter.warn(&format!(
                                    "That is not the temporary PIN of {label}{}. Try again.",
                                    retries_left
                                        .map(|r| { format!(" ({} left)", crate::pin::attempts(r)) })
                                        .unwrap_or_default()
                                ));
                            }
                            DeviceError::PinPolicyViolation { reason } if again => {
                                self.prompter.warn(&format!(
                                    "{label} refused the new PIN ({reason}). Choose another."
                                ));
                            }
                            e => return Err(e.into()),
                        }
                    }
                }
            }
            self.prompter.info(&format!("{label} now has your PIN."));
            info = key.handle.info()?;
        }
        if info.pin_is_set() == Some(true) && key.record.pin_state != Some(PinState::Set) {
            // A PIN set elsewhere (by IT, by `keyward key pin set`): the step "set a PIN" is
            // already true, and the record says so.
            if !info.force_pin_change {
                self.record
                    .set_pin_state(&key.record, PinState::Set, &self.actor)?;
                key.record.pin_state = Some(PinState::Set);
            }
        }
        // The same evaluation as `keyward key check`, so the two never disagree.
        let catalog = crate::catalog::Catalog::builtin().ok();
        let mut facts = KeyFacts::new(&info, key.handle.descriptor().is_virtual(), keys_available);
        facts.model = catalog
            .as_ref()
            .and_then(|c| info.aaguid.and_then(|a| c.lookup(&a)));
        facts.metadata_certified = readiness::metadata_certified(info.aaguid).ok().flatten();
        if info.pin_is_set() == Some(true) {
            facts.pin_retries = key.handle.pin_retries().ok().map(|r| r.retries);
        }
        for p in playbooks {
            let verdict = readiness::check(&facts, p);
            for f in verdict.blocking() {
                self.prompter.warn(&format!(
                    "{}: {label} is not ready for {}: {} (what to do: {})",
                    crate::style::warn("warning"),
                    p.name,
                    f.problem,
                    f.fix
                ));
            }
        }
        Ok(())
    }

    /// Give the key its new PIN (`act`), recorded as begun before the key is touched (a crash
    /// in between is settled at the next run by asking the key) and settled right after. The
    /// outer error is the ledger's; the inner one is the key refusing, which leaves it as it
    /// was. On success the PIN is kept for the session.
    fn change_pin_on_key(
        &mut self,
        key: &mut Present,
        change: &str,
        new: crate::pin::Pin,
        act: impl FnOnce(&mut dyn Authenticator, &crate::pin::Pin) -> Result<(), DeviceError>,
    ) -> Result<Result<(), DeviceError>> {
        self.record
            .begin_key_change(&key.record, change, &self.actor)?;
        let done = act(key.handle.as_mut(), &new);
        let now = done.is_ok().then_some(PinState::Set);
        self.record
            .settle_key_change(&key.record, now, false, &self.actor)?;
        if done.is_ok() {
            key.record.pin_state = Some(PinState::Set);
            self.pins.remember(key.record.id, new);
        }
        Ok(done)
    }

    /// The index in `opened` of `key`, found and opened once per account.
    pub(super) fn present(
        &mut self,
        person: &Person,
        key: &Key,
        opened: &mut Vec<Present>,
    ) -> Result<usize> {
        if let Some(i) = opened.iter().position(|p| p.record.id == key.id) {
            return Ok(i);
        }
        // Another key's open session would hold it: a person swaps keys one at a time.
        opened.clear();
        let mut p = self.acquire(person, &key.label, Some(key), false)?;
        if p.handle.info()?.pin_is_set() == Some(false) {
            // Only possible when another key stood in for this one while keys were made ready
            // (keys without a serial number look alike): make this one ready now.
            self.ready(&mut p, &[], 0)?;
        }
        opened.push(p);
        Ok(opened.len() - 1)
    }

    /// Never spend a key's last PIN attempts without an explicit yes.
    pub(super) fn guard_pin(&mut self, label: &str, key: &mut dyn Authenticator) -> Result<()> {
        let r = key.pin_retries()?;
        if r.retries == 0 {
            return Err(DeviceError::PinBlocked.into());
        }
        if r.power_cycle_required {
            return Err(DeviceError::PinAuthBlocked.into());
        }
        if r.retries <= crate::cli::LOW_RETRIES && !self.options.allow_low_retries {
            let go = self.prompter.confirm(
                &format!("key.{}.low_retries", label_id(label)),
                &format!(
                    "Only {} on {label}; when they run out the key must be reset, which \
                     erases it. Try the PIN now?",
                    crate::pin::pin_attempts_remain(r.retries)
                ),
                false,
            )?;
            if !go {
                return Err(Error::Cancelled("no PIN attempt made".into()));
            }
        }
        Ok(())
    }
}

/// The places a key is offered to live, first the one carried, then the spare's.
const ON_KEYRING: &str = "on my keyring";
const AT_HOME: &str = "in the safe at home";

/// The checkpoint recording how many keys the person said they would enroll.
const KEYS_COUNT: &str = "keys/count/";

/// The label of each key of this session with its record: the active keys already recorded, in
/// label order, then new labels no key of the person ever had (a lost "Key A" keeps its label;
/// its replacement is "Key C").
fn labels_for(all: &[Key], count: usize) -> Vec<(String, Option<Key>)> {
    let mut out: Vec<(String, Option<Key>)> = all
        .iter()
        .filter(|k| k.state == KeyState::Active)
        .map(|k| (k.label.clone(), Some(k.clone())))
        .collect();
    out.sort_by_key(|(label, _)| label_order(label));
    let mut next = 0;
    while out.len() < count {
        let label = key_label(next);
        next += 1;
        if !all.iter().any(|k| k.label.eq_ignore_ascii_case(&label)) {
            out.push((label, None));
        }
    }
    out
}

/// "Key B" before "Key AA1"-style labels and before anything typed by hand.
fn label_order(label: &str) -> (usize, String) {
    (label.len(), label.to_string())
}
