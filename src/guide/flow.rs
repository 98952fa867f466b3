//! The guided enrollment itself: person, keys, readiness, accounts, the playbook's steps per
//! account and key with verification on the key, then every weaker method.
//!
//! Plain logic over a [`Prompter`], a [`Record`] (the ledger), the playbook [`Catalog`] and a
//! [`KeySource`]. Before each piece of work it asks the record whether it is already done, and
//! it writes each result the moment it is known, so killing the process loses at most the
//! question being asked.

use super::browser;
use super::prompt::{Choice, Prompter, SecretKind};
use super::readiness;
use super::record::Record;
use crate::device::{Authenticator, DeviceDescriptor, DeviceError, KeyInfo};
use crate::error::{Error, Result};
use crate::ledger::{
    Account, Actor, Evidence, EvidenceDetail, Key, MethodStatus, NewEnrollment, NewKey, Person,
};
use crate::playbook::{
    Catalog, EnrollmentPath, Evidence as PathEvidence, Expects, Platform, Playbook, Removable,
    Step, WeakerMethod,
};

/// Where keys come from: the keys plugged in now, and opening one.
pub trait KeySource {
    fn present(&mut self) -> Result<Vec<DeviceDescriptor>>;
    fn open(&mut self, desc: &DeviceDescriptor) -> Result<Box<dyn Authenticator>>;
}

/// Stands in for the websites in `keyward demo`: does what the provider would do when a step
/// says "act" (registers the credential the playbook expects on the key). Called at every
/// such step for the key being enrolled, so it must do its work once per account and key.
pub trait StandIn {
    fn act(
        &mut self,
        key: &mut dyn Authenticator,
        playbook: &Playbook,
        path: &EnrollmentPath,
        account: &Account,
    ) -> Result<()>;
}

/// What the command line decided before the flow starts.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--person NAME`: skip the question.
    pub person: Option<String>,
    /// `--playbook ID ...`: only these providers (their accounts are asked for directly).
    pub playbooks: Vec<String>,
    /// `--allow-low-retries`: a script may spend PIN attempts even when few remain.
    pub allow_low_retries: bool,
}

/// How the flow ended for the person.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub person: Person,
    /// Pieces left for a later run (a step answered "not yet", a key not found...).
    pub left_for_later: Vec<String>,
    /// Answers-file entries no question used.
    pub unused_answers: Vec<String>,
}

/// "Key A", "Key B", ...
pub fn key_label(index: usize) -> String {
    let letter = (b'A' + (index % 26) as u8) as char;
    if index < 26 {
        format!("Key {letter}")
    } else {
        format!("Key {letter}{}", index / 26)
    }
}

/// The label's letter in prompt ids: `Key A` -> `a`.
fn label_id(label: &str) -> String {
    label
        .trim_start_matches("Key ")
        .to_ascii_lowercase()
        .replace(' ', "_")
}

/// A key found and opened for this session.
struct Present {
    record: Key,
    handle: Box<dyn Authenticator>,
    unlocked: bool,
}

pub struct Guide<'a> {
    pub prompter: &'a mut dyn Prompter,
    pub record: &'a mut dyn Record,
    pub catalog: &'a Catalog,
    pub keys: &'a mut dyn KeySource,
    pub stand_in: Option<&'a mut dyn StandIn>,
    pub actor: Actor,
    pub options: Options,
}

impl Guide<'_> {
    pub fn run(mut self) -> Result<Outcome> {
        let mut later = Vec::new();
        let person = self.person()?;
        let candidates = self.candidate_playbooks()?;
        let keys = self.keys(&person, &candidates)?;
        let accounts = self.accounts(&person, &candidates)?;
        for (account, playbook) in &accounts {
            if (keys.len() as u32) < playbook.requirements.keys.min {
                let msg = format!(
                    "{} needs at least {} keys ({}); {} has {}. Enroll more keys, then run \
                     `keyward enroll --person \"{}\"` again.",
                    playbook.name,
                    playbook.requirements.keys.min,
                    playbook.requirements.keys.reason,
                    person.name,
                    keys.len(),
                    person.name
                );
                self.prompter.info(&format!("\n{msg}"));
                later.push(format!(
                    "{}: not enough keys",
                    account_name(playbook, account)
                ));
                continue;
            }
            if let Some(reason) = self.enroll_account(&person, playbook, account, &keys)? {
                later.push(reason);
            }
        }
        for (account, playbook) in &accounts {
            if self.record.enrollments(account)?.is_empty() {
                self.prompter.info(&format!(
                    "\nThe weaker sign-in methods of {} wait until a key is enrolled there: \
                     removing them first could lock {} out.",
                    account_name(playbook, account),
                    person.name
                ));
                continue;
            }
            self.methods(playbook, account)?;
        }
        let unused_answers = self.prompter.finish();
        Ok(Outcome {
            person,
            left_for_later: later,
            unused_answers,
        })
    }

    fn person(&mut self) -> Result<Person> {
        let name = match self.options.person.clone() {
            Some(n) if !n.trim().is_empty() => n.trim().to_string(),
            _ => {
                let people = self.record.people()?;
                if !people.is_empty() {
                    let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
                    self.prompter.info(&format!(
                        "People already in the ledger: {}. Type one of them to continue their \
                         enrollment, or a new name.",
                        names.join(", ")
                    ));
                }
                self.prompter
                    .text("person.name", "Whose keys are these? (full name)", None)?
            }
        };
        if let Some(p) = self.record.find_person(&name)? {
            self.prompter.info(&format!(
                "{} is in the ledger already: continuing where the last session stopped.",
                p.name
            ));
            return Ok(p);
        }
        let add = self.prompter.confirm(
            "person.new",
            &format!("{name} is not in the ledger yet. Add them?"),
            true,
        )?;
        if !add {
            return Err(Error::Cancelled(format!("{name} was not added")));
        }
        self.record.add_person(&name, &self.actor)
    }

    fn candidate_playbooks(&self) -> Result<Vec<Playbook>> {
        if self.options.playbooks.is_empty() {
            return Ok(self.catalog.all().cloned().collect());
        }
        self.options
            .playbooks
            .iter()
            .map(|id| {
                self.catalog
                    .get(id)
                    .cloned()
                    .ok_or_else(|| crate::playbook::PlaybookError::UnknownId(id.clone()).into())
            })
            .collect()
    }

    /// How many keys, which is which, and whether each is ready.
    fn keys(&mut self, person: &Person, playbooks: &[Playbook]) -> Result<Vec<Key>> {
        let recorded: Vec<Key> = self
            .record
            .keys(person)?
            .into_iter()
            .filter(|k| k.state == crate::ledger::KeyState::Active)
            .collect();
        let count = if recorded.len() >= 2 {
            recorded.len()
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
            n.max(recorded.len())
        };
        let mut keys = Vec::new();
        for i in 0..count {
            let label = key_label(i);
            let known = recorded.iter().find(|k| k.label == label).cloned();
            let mut present = self.acquire(person, &label, known.as_ref(), &keys, true)?;
            self.ready(&mut present, playbooks)?;
            keys.push(present.record);
        }
        Ok(keys)
    }

    /// Find `label` among the keys plugged in (asking the person to plug it in), open it and
    /// make sure the ledger knows it.
    fn acquire(
        &mut self,
        person: &Person,
        label: &str,
        known: Option<&Key>,
        others: &[Key],
        mark_seen: bool,
    ) -> Result<Present> {
        let lid = label_id(label);
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
                    1 if known.is_none_or(|k| k.serial.is_none()) => Some(candidates[0].clone()),
                    1 => None,
                    _ => {
                        let choices: Vec<Choice> = candidates
                            .iter()
                            .map(|d| Choice::new(d.spec.clone(), d.display_name()))
                            .collect();
                        let spec = self.prompter.choose(
                            &format!("keys.{lid}.device"),
                            &format!("Several keys are plugged in. Which one is {label}?"),
                            &choices,
                            0,
                        )?;
                        candidates
                            .iter()
                            .find(|d| d.spec == spec)
                            .map(|d| (*d).clone())
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

    fn ask_plugged(&mut self, person: &Person, label: &str) -> Result<()> {
        let go_on = self.prompter.confirm(
            &format!("keys.{}.plugged", label_id(label)),
            &format!("Plug in {label} (and touch it if it blinks). Ready?"),
            true,
        )?;
        if !go_on {
            return Err(Error::Cancelled(format!(
                "{label} was not plugged in; run `keyward enroll --person \"{}\"` again to go on",
                person.name
            )));
        }
        Ok(())
    }

    /// A PIN on the key if it has none, and a warning for each provider it cannot satisfy.
    fn ready(&mut self, key: &mut Present, playbooks: &[Playbook]) -> Result<()> {
        let label = key.record.label.clone();
        let lid = label_id(&label);
        let mut info: KeyInfo = key.handle.info()?;
        if info.pin_is_set() == Some(false) {
            let wanted = playbooks
                .iter()
                .any(|p| p.requirements.user_verification.required);
            let set = self.prompter.confirm(
                &format!("key.{lid}.set_pin"),
                &format!(
                    "{label} has no PIN yet.{} Set one now?",
                    if wanted {
                        " Some of these providers require one."
                    } else {
                        ""
                    }
                ),
                true,
            )?;
            if set {
                let pin = self.prompter.secret(
                    &format!("key.{lid}.new_pin"),
                    &format!("New PIN for {label}"),
                    SecretKind::New {
                        min_code_points: info.min_pin_length,
                    },
                )?;
                key.handle.set_pin(&pin)?;
                self.prompter.info(&format!("{label} now has a PIN."));
                info = key.handle.info()?;
            }
        }
        for p in playbooks {
            for s in readiness::check(&info, p) {
                self.prompter.info(&format!(
                    "warning: {label} is not ready for {}: {} (what to do: {})",
                    p.name, s.problem, s.fix
                ));
            }
        }
        Ok(())
    }

    fn accounts(
        &mut self,
        person: &Person,
        candidates: &[Playbook],
    ) -> Result<Vec<(Account, Playbook)>> {
        let existing = self.record.accounts(person)?;
        let mut out = Vec::new();
        for p in candidates {
            let mine: Vec<&Account> = existing.iter().filter(|a| a.playbook == p.id).collect();
            if !mine.is_empty() {
                out.extend(mine.into_iter().map(|a| (a.clone(), p.clone())));
                continue;
            }
            let wanted = !self.options.playbooks.is_empty()
                || self.prompter.confirm(
                    &format!("account.{}.add", p.id),
                    &format!(
                        "Does {} have a {} to protect? ({})",
                        person.name, p.name, p.applies_to
                    ),
                    false,
                )?;
            if !wanted {
                continue;
            }
            let identifier = self.prompter.text(
                &format!("account.{}.identifier", p.id),
                &format!(
                    "{}: the name {} signs in with (email address, UPN...)",
                    p.name, person.name
                ),
                None,
            )?;
            let account = self
                .record
                .add_account(person, &p.id, &identifier, &self.actor)?;
            // Until someone looks, every weaker method the provider offers may be on: the
            // record says "not checked yet" rather than nothing, so `status` never looks
            // better than what is known.
            for m in &p.weaker_methods {
                self.record.set_method(
                    &account,
                    m.method.as_str(),
                    MethodStatus::Unknown,
                    None,
                    &self.actor,
                )?;
            }
            out.push((account, p.clone()));
        }
        if out.is_empty() {
            self.prompter
                .info("No accounts chosen: nothing to enroll this time.");
        }
        Ok(out)
    }

    /// Every key into one account. `Some(reason)` when part of it is left for a later run.
    ///
    /// The playbook's steps are walked once for the account; each "verify on the key" step
    /// checks the next key not yet enrolled (a playbook may add both keys in one pass). Keys
    /// still missing afterwards get the steps again, one round per key. Each step done is a
    /// checkpoint in the ledger, so a rerun skips it.
    fn enroll_account(
        &mut self,
        person: &Person,
        playbook: &Playbook,
        account: &Account,
        keys: &[Key],
    ) -> Result<Option<String>> {
        let name = account_name(playbook, account);
        let path = playbook.primary_path().clone();
        let mut opened: Vec<Present> = Vec::new();
        let mut platform = None;
        for round in 0..=keys.len() {
            let pending = self.pending_keys(account, keys)?;
            let Some(first) = pending.first().cloned() else {
                if round == 0 {
                    self.prompter.info(&format!(
                        "\n{name}: every key is enrolled already, nothing to do."
                    ));
                }
                return Ok(None);
            };
            if round > 0 && path.verification.evidence == PathEvidence::PersonConfirms {
                break;
            }
            let tag = if round == 0 {
                self.prompter
                    .info(&format!("\n== {name} ==\n{}: {}", path.title, path.summary));
                "all".to_string()
            } else {
                self.prompter.info(&format!(
                    "\n== {name}: now {} ==\nThe same steps again, with {}.",
                    first.label, first.label
                ));
                first.label.clone()
            };
            let platform = match platform {
                Some(p) => p,
                None => *platform.insert(self.platform(playbook, account, &path)?),
            };
            let steps: Vec<&Step> = path
                .steps
                .iter()
                .filter(|s| s.applies_to(platform))
                .collect();
            let done = self.record.checkpoints(person)?;
            for (i, step) in steps.iter().enumerate() {
                let n = i + 1;
                let checkpoint = format!("enroll/{}/{}/{tag}/{n}", account.id, path.id);
                if done.contains(&checkpoint) {
                    self.prompter.info(&format!(
                        "Step {n} of {}: {} (done earlier)",
                        steps.len(),
                        step.title
                    ));
                    continue;
                }
                self.show_step(n, steps.len(), step, platform);
                let open_id = format!("step.{}.{n}.open", playbook.id);
                let url = step.location_for(platform).and_then(|(_, l)| l.url.clone());
                self.offer_url(&open_id, url.as_deref())?;
                match step.expects {
                    Expects::Read => {}
                    Expects::Act | Expects::Confirm => {
                        if step.expects == Expects::Act {
                            let target = self.pending_keys(account, keys)?.into_iter().next();
                            if let Some(k) = target {
                                self.stand_in_act(
                                    person,
                                    playbook,
                                    &path,
                                    account,
                                    &k,
                                    &mut opened,
                                )?;
                            }
                        }
                        let ok = self.prompter.confirm(
                            &format!("step.{}.{n}.done", playbook.id),
                            if step.expects == Expects::Act {
                                "Done?"
                            } else {
                                "Did it work?"
                            },
                            true,
                        )?;
                        if !ok {
                            return Ok(Some(self.stopped(person, &name)));
                        }
                    }
                    Expects::VerifyOnKey => {
                        let target = self.pending_keys(account, keys)?.into_iter().next();
                        if let (PathEvidence::OnKey, Some(k)) = (path.verification.evidence, target)
                        {
                            self.stand_in_act(person, playbook, &path, account, &k, &mut opened)?;
                            if !self.verify(person, playbook, &path, account, &k, &mut opened)? {
                                return Ok(Some(self.stopped(person, &name)));
                            }
                        }
                    }
                }
                self.record
                    .add_checkpoint(person, &checkpoint, &self.actor)?;
            }
            // A path that proves itself on the key but has no step saying when to look.
            let has_verify_step = steps.iter().any(|s| s.expects == Expects::VerifyOnKey);
            if path.verification.evidence == PathEvidence::OnKey && !has_verify_step {
                if let Some(k) = self.pending_keys(account, keys)?.into_iter().next() {
                    self.stand_in_act(person, playbook, &path, account, &k, &mut opened)?;
                    if !self.verify(person, playbook, &path, account, &k, &mut opened)? {
                        return Ok(Some(self.stopped(person, &name)));
                    }
                }
            }
        }
        if path.verification.evidence == PathEvidence::PersonConfirms {
            let pending = self.pending_keys(account, keys)?;
            if !pending.is_empty() {
                self.prompter.info(&path.verification.explanation);
            }
            let mut missing = false;
            for k in pending {
                self.stand_in_act(person, playbook, &path, account, &k, &mut opened)?;
                let yes = self.prompter.confirm(
                    &format!("confirm.{}.{}.enrolled", playbook.id, label_id(&k.label)),
                    &format!(
                        "Does {} now list {} among its security keys?",
                        playbook.name, k.label
                    ),
                    true,
                )?;
                if yes {
                    self.confirmed(account, &k, "confirmed during keyward enroll")?;
                } else {
                    missing = true;
                }
            }
            if missing {
                return Ok(Some(self.stopped(person, &name)));
            }
        }
        if self.pending_keys(account, keys)?.is_empty() {
            Ok(None)
        } else {
            Ok(Some(self.stopped(person, &name)))
        }
    }

    /// This session's keys not yet enrolled in `account`, in label order.
    fn pending_keys(&mut self, account: &Account, keys: &[Key]) -> Result<Vec<Key>> {
        let enrolled = self.record.enrollments(account)?;
        Ok(keys
            .iter()
            .filter(|k| !enrolled.iter().any(|e| e.key_id == k.id))
            .cloned()
            .collect())
    }

    fn stand_in_act(
        &mut self,
        person: &Person,
        playbook: &Playbook,
        path: &EnrollmentPath,
        account: &Account,
        key: &Key,
        opened: &mut Vec<Present>,
    ) -> Result<()> {
        if self.stand_in.is_none() {
            return Ok(());
        }
        let p = self.present(person, key, opened)?;
        let handle = opened[p].handle.as_mut();
        if let Some(s) = self.stand_in.as_deref_mut() {
            s.act(handle, playbook, path, account)?;
        }
        Ok(())
    }

    fn stopped(&mut self, person: &Person, what: &str) -> String {
        self.prompter.info(&format!(
            "{what}: left for later. Run `keyward enroll --person \"{}\"` again to continue from here.",
            person.name
        ));
        format!("{what}: not finished")
    }

    /// Which device the person does this account's steps on, when the steps differ.
    fn platform(
        &mut self,
        playbook: &Playbook,
        account: &Account,
        path: &EnrollmentPath,
    ) -> Result<Platform> {
        let mut named: Vec<Platform> = Vec::new();
        for s in &path.steps {
            for (p, _) in s.locations() {
                if !named.contains(&p) {
                    named.push(p);
                }
            }
        }
        named.sort();
        if named.is_empty() || named == [Platform::Web] {
            return Ok(Platform::Web);
        }
        let choices: Vec<Choice> = named
            .iter()
            .map(|p| Choice::new(p.as_str(), format!("On {}", p.label())))
            .collect();
        let v = self.prompter.choose(
            &format!("account.{}.platform", playbook.id),
            &format!("Where will you add the key to {}?", account.identifier),
            &choices,
            0,
        )?;
        Ok(v.parse().unwrap_or(Platform::Web))
    }

    fn show_step(&mut self, n: usize, of: usize, step: &Step, platform: Platform) {
        let mut s = format!("\nStep {n} of {of}: {}\n{}", step.title, step.instruction);
        if let Some((p, loc)) = step.location_for(platform) {
            if !loc.menu.is_empty() {
                s.push_str(&format!("\n  On {}: {}", p.label(), loc.menu.join(" > ")));
            }
            if let Some(url) = &loc.url {
                s.push_str(&format!("\n  Go to: {url}"));
            }
            if let Some(note) = &loc.note {
                s.push_str(&format!("\n  Note: {note}"));
            }
        }
        if let Some(u) = &step.not_certain {
            s.push_str(&format!("\n  Not certain: {u}"));
        }
        self.prompter.info(&s);
    }

    fn offer_url(&mut self, id: &str, url: Option<&str>) -> Result<()> {
        let Some(url) = url else { return Ok(()) };
        if !self.prompter.can_open_urls() {
            return Ok(());
        }
        if self
            .prompter
            .confirm(id, &format!("Open {url} in your browser?"), true)?
        {
            if let Err(e) = browser::open(url) {
                self.prompter.info(&format!(
                    "Could not open the browser ({e}); open {url} by hand."
                ));
            }
        }
        Ok(())
    }

    /// The index in `opened` of `key`, found and opened once per account.
    fn present(&mut self, person: &Person, key: &Key, opened: &mut Vec<Present>) -> Result<usize> {
        if let Some(i) = opened.iter().position(|p| p.record.id == key.id) {
            return Ok(i);
        }
        let others: Vec<Key> = self
            .record
            .keys(person)?
            .into_iter()
            .filter(|k| k.id != key.id)
            .collect();
        // Another key's open session would hold it: a person swaps keys one at a time.
        opened.clear();
        let p = self.acquire(person, &key.label, Some(key), &others, false)?;
        opened.push(p);
        Ok(opened.len() - 1)
    }

    /// Look for the account's credential on the key. True when an enrollment was recorded.
    fn verify(
        &mut self,
        person: &Person,
        playbook: &Playbook,
        path: &EnrollmentPath,
        account: &Account,
        key: &Key,
        opened: &mut Vec<Present>,
    ) -> Result<bool> {
        let mut tries = 0;
        loop {
            tries += 1;
            let i = self.present(person, key, opened)?;
            if !opened[i].unlocked {
                self.guard_pin(&key.label, opened[i].handle.as_mut())?;
                let pin = self.prompter.secret(
                    &format!("key.{}.pin", label_id(&key.label)),
                    &format!("PIN of {} (to look at the credentials on it)", key.label),
                    SecretKind::Current,
                )?;
                let p = &mut opened[i];
                if let Err(e) = p.handle.unlock(&pin) {
                    return Err(match e {
                        DeviceError::PinInvalid { retries_left: None } => DeviceError::PinInvalid {
                            retries_left: p.handle.pin_retries().ok().map(|r| r.retries),
                        },
                        other => other,
                    }
                    .into());
                }
                p.unlocked = true;
            }
            let listed = opened[i].handle.list_credentials()?;
            let found = listed.iter().find_map(|rp| {
                let rp_ok = path
                    .verification
                    .rp_ids
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&rp.rp_id));
                if !rp_ok {
                    return None;
                }
                rp.credentials.iter().find_map(|c| {
                    let name = c.user_name.as_deref()?;
                    (name.eq_ignore_ascii_case(&account.identifier)
                        && playbook.claims_credential(&rp.rp_id, Some(name)))
                    .then(|| {
                        (
                            rp.rp_id.clone(),
                            name.to_string(),
                            hex::encode(&c.credential_id),
                        )
                    })
                })
            });
            if let Some((rp_id, user_name, credential_id)) = found {
                self.record.record_enrollment(
                    &NewEnrollment {
                        account_id: account.id,
                        key_id: key.id,
                        evidence: Evidence::SeenOnKey,
                        detail: EvidenceDetail {
                            rp_id: Some(rp_id.clone()),
                            user_name: Some(user_name),
                            credential_id: Some(credential_id),
                            note: None,
                        },
                    },
                    &self.actor,
                )?;
                self.prompter.info(&format!(
                    "Verified on {}: a {} credential for {} ({rp_id}) is on the key.",
                    key.label, playbook.name, account.identifier
                ));
                return Ok(true);
            }
            let seen: Vec<String> = listed
                .iter()
                .filter(|rp| {
                    path.verification
                        .rp_ids
                        .iter()
                        .any(|r| r.eq_ignore_ascii_case(&rp.rp_id))
                })
                .flat_map(|rp| {
                    rp.credentials.iter().map(move |c| {
                        format!(
                            "{} for {}",
                            rp.rp_id,
                            c.user_name.as_deref().unwrap_or("(no user name)")
                        )
                    })
                })
                .collect();
            self.prompter.info(&format!(
                "No {} credential for {} is on {} yet (looked for {}{}).",
                playbook.name,
                account.identifier,
                key.label,
                path.verification.rp_ids.join(", "),
                if seen.is_empty() {
                    String::new()
                } else {
                    format!("; found {}", seen.join(", "))
                }
            ));
            if let Some(t) = &path.verification.tell_apart {
                self.prompter.info(t);
            }
            let mut choices = vec![
                Choice::new("retry", "Look again (after finishing on the website)"),
                Choice::new(
                    "confirm",
                    "It is done, record it as confirmed by a person instead",
                ),
                Choice::new("later", "Leave this for later"),
            ];
            if tries >= 3 {
                choices.remove(0);
            }
            let what = self.prompter.choose(
                &format!("verify.{}.not_found", playbook.id),
                "What now?",
                &choices,
                0,
            )?;
            match what.as_str() {
                "retry" => continue,
                "confirm" => {
                    self.confirmed(
                        account,
                        key,
                        &format!(
                            "not found on the key (looked for {}); confirmed instead",
                            path.verification.rp_ids.join(", ")
                        ),
                    )?;
                    return Ok(true);
                }
                _ => return Ok(false),
            }
        }
    }

    /// Never spend a key's last PIN attempts without an explicit yes.
    fn guard_pin(&mut self, label: &str, key: &mut dyn Authenticator) -> Result<()> {
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
                    "Only {} PIN attempts remain on {label}; when they run out the key must be \
                     reset, which erases it. Try the PIN now?",
                    r.retries
                ),
                false,
            )?;
            if !go {
                return Err(Error::Cancelled("no PIN attempt made".into()));
            }
        }
        Ok(())
    }

    fn confirmed(&mut self, account: &Account, key: &Key, note: &str) -> Result<()> {
        let evidence = if self.actor.operator {
            Evidence::ConfirmedByOperator
        } else {
            Evidence::ConfirmedByPerson
        };
        self.record.record_enrollment(
            &NewEnrollment {
                account_id: account.id,
                key_id: key.id,
                evidence,
                detail: EvidenceDetail {
                    note: Some(note.to_string()),
                    ..EvidenceDetail::default()
                },
            },
            &self.actor,
        )?;
        Ok(())
    }

    /// Every weaker method the playbook lists that has no decision recorded yet.
    fn methods(&mut self, playbook: &Playbook, account: &Account) -> Result<()> {
        let recorded = self.record.methods(account)?;
        let pending: Vec<&WeakerMethod> = playbook
            .weaker_methods
            .iter()
            .filter(|m| {
                recorded
                    .iter()
                    .find(|r| r.method == m.method.as_str())
                    .is_none_or(|r| r.status == MethodStatus::Unknown)
            })
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        self.prompter.info(&format!(
            "\n== Weaker sign-in methods on {} ==\nWith keys enrolled, each of these is now the \
             easiest way into the account. One at a time:",
            account_name(playbook, account)
        ));
        for m in pending {
            self.method(playbook, account, m)?;
        }
        Ok(())
    }

    fn method(&mut self, playbook: &Playbook, account: &Account, m: &WeakerMethod) -> Result<()> {
        let name = m.display_name().to_string();
        let mid = format!("method.{}.{}", playbook.id, m.method.as_str());
        let keep_reason = m.keep_reason.clone().or_else(|| m.condition.clone());
        if m.removable == Removable::No {
            let reason =
                keep_reason.unwrap_or_else(|| "the provider does not allow removing it".into());
            self.prompter
                .info(&format!("{name}: stays, by design: {reason}"));
            return self.record.set_method(
                account,
                m.method.as_str(),
                MethodStatus::Kept,
                Some(&reason),
                &self.actor,
            );
        }
        let choices = [
            Choice::new("on", "Yes, it is still on"),
            Choice::new("off", "No, it is off (or was never set up)"),
            Choice::new("unknown", "I cannot tell now"),
        ];
        let status = self.prompter.choose(
            &format!("{mid}.status"),
            &format!("{name}: is it still on for {}?", account.identifier),
            &choices,
            0,
        )?;
        let (status, reason) = match status.as_str() {
            "off" => (MethodStatus::Removed, None),
            "unknown" => (MethodStatus::Unknown, None),
            _ => {
                self.prompter.info(&how_to_remove(m));
                let url = m.remove.as_ref().and_then(|r| r.url.clone());
                self.offer_url(&format!("{mid}.open"), url.as_deref())?;
                let mut choices = vec![Choice::new("removed", "I removed it just now")];
                if let Some(r) = &keep_reason {
                    choices.push(Choice::new("kept", format!("Keep it: {r}")));
                }
                choices.push(Choice::new(
                    "later",
                    "Leave it on for now (it stays on the list)",
                ));
                let outcome =
                    self.prompter
                        .choose(&format!("{mid}.outcome"), "And now?", &choices, 0)?;
                match outcome.as_str() {
                    "removed" => (MethodStatus::Removed, None),
                    "kept" => (MethodStatus::Kept, keep_reason.clone()),
                    _ => (MethodStatus::Present, None),
                }
            }
        };
        self.record.set_method(
            account,
            m.method.as_str(),
            status,
            reason.as_deref(),
            &self.actor,
        )
    }
}

fn account_name(playbook: &Playbook, account: &Account) -> String {
    format!("{} ({})", playbook.name, account.identifier)
}

fn how_to_remove(m: &WeakerMethod) -> String {
    let mut s = format!("Why it matters: {}", m.why_weaker);
    if let Some(c) = &m.condition {
        s.push_str(&format!("\nIt can go only when: {c}"));
    }
    match &m.remove {
        Some(r) => {
            s.push_str("\nHow to remove it:");
            if let Some(u) = &r.url {
                s.push_str(&format!("\n  Go to: {u}"));
            }
            if !r.menu.is_empty() {
                s.push_str(&format!("\n  Menu: {}", r.menu.join(" > ")));
            }
            for (i, step) in r.steps.iter().enumerate() {
                s.push_str(&format!("\n  {}. {step}", i + 1));
            }
            if let Some(a) = &r.admin {
                s.push_str(&format!("\n  For an administrator: {a}"));
            }
        }
        None => s.push_str("\nThe playbook does not say how to remove it."),
    }
    if let Some(u) = &m.not_certain {
        s.push_str(&format!("\nNot certain: {u}"));
    }
    s
}
