//! The guided enrollment itself: person, keys, readiness, accounts, the playbook's steps per
//! account and key with verification on the key, then every weaker method.
//!
//! Plain logic over a [`Prompter`], a [`Record`] (the ledger), the playbook [`Catalog`] and a
//! [`KeySource`]. Before each piece of work it asks the record whether it is already done, and
//! it writes each result the moment it is known, so killing the process loses at most the
//! question being asked.

use super::prompt::Prompter;
use super::record::Record;
use crate::device::{Authenticator, DeviceDescriptor};
use crate::error::{Error, Result};
use crate::ledger::{Account, Actor, Key, Person};
use crate::playbook::{Catalog, EnrollmentPath, Playbook};

/// Where keys come from: the keys plugged in now, and opening one.
pub trait KeySource {
    fn present(&mut self) -> Result<Vec<DeviceDescriptor>>;
    fn open(&mut self, desc: &DeviceDescriptor) -> Result<Box<dyn Authenticator>>;
    /// Whether [`KeySource::select_by_touch`] can be offered.
    fn can_select_by_touch(&self) -> bool {
        false
    }
    /// Make every key in `keys` blink and return the index of the one touched.
    fn select_by_touch(&mut self, keys: &[DeviceDescriptor]) -> Result<usize> {
        let _ = keys;
        Err(crate::device::DeviceError::Unsupported {
            what: "choosing a key by touch here".into(),
        }
        .into())
    }
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
pub(super) fn label_id(label: &str) -> String {
    label
        .trim_start_matches("Key ")
        .to_ascii_lowercase()
        .replace(' ', "_")
}

/// The PINs a person typed (or chose) during this session, by ledger key id, so each key's PIN
/// is asked once per session rather than once per account. Only a PIN the key accepted (or was
/// just set to) is kept; values are zeroized when the session ends.
#[derive(Default)]
pub struct SessionPins(std::collections::HashMap<i64, crate::pin::Pin>);

impl SessionPins {
    pub(super) fn get(&self, key_id: i64) -> Option<&crate::pin::Pin> {
        self.0.get(&key_id)
    }
    pub(super) fn remember(&mut self, key_id: i64, pin: crate::pin::Pin) {
        self.0.insert(key_id, pin);
    }
    pub(super) fn forget(&mut self, key_id: i64) {
        self.0.remove(&key_id);
    }
}

/// A key found and opened for this session.
pub(super) struct Present {
    pub(super) record: Key,
    pub(super) handle: Box<dyn Authenticator>,
    pub(super) unlocked: bool,
}

/// One guided session. Build it with everything it works over, then [`Guide::run`].
pub struct Guide<'a> {
    /// Who answers: a person at a terminal or an answers file.
    pub prompter: &'a mut dyn Prompter,
    /// The ledger: what is already done, and where every result goes at once.
    pub record: &'a mut dyn Record,
    pub catalog: &'a Catalog,
    pub keys: &'a mut dyn KeySource,
    /// `keyward demo` only: plays the websites.
    pub stand_in: Option<&'a mut dyn StandIn>,
    /// Recorded with every change (`--operator NAME`, else the OS user).
    pub actor: Actor,
    pub options: Options,
    /// Start with `SessionPins::default()`.
    pub pins: SessionPins,
}

impl Guide<'_> {
    /// The whole session for one person, in the order: person, keys, readiness,
    /// accounts, then per account its steps and verification, then its weaker methods.
    pub fn run(mut self) -> Result<Outcome> {
        let mut later = Vec::new();
        self.prompter.info(
            "This session gets your security keys into your accounts, one step at a time, then \
             goes through the weaker ways into each account that should be turned off. You can \
             stop at any question: nothing done so far is lost, and the next `keyward enroll` \
             continues from there.",
        );
        if self.actor.operator {
            self.prompter.info(&format!(
                "Help-desk session: everything is recorded as done with {}.",
                self.actor.name
            ));
        }
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
            later.extend(self.settle_replaced(&person, playbook, account)?);
            // Only a key the person still has counts: a lost key's enrollment opens nothing.
            let working = self
                .record
                .enrollments(account)?
                .iter()
                .any(|e| !e.needs_replacement);
            if !working {
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

    pub(super) fn person(&mut self) -> Result<Person> {
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

    pub(super) fn candidate_playbooks(&self) -> Result<Vec<Playbook>> {
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

    pub(super) fn accounts(
        &mut self,
        person: &Person,
        candidates: &[Playbook],
    ) -> Result<Vec<(Account, Playbook)>> {
        let existing = self.record.accounts(person)?;
        let mut out = Vec::new();
        for p in candidates {
            // Until someone looks, every weaker method the provider offers may be on: the
            // record says "not checked yet" rather than nothing, so `status` never looks
            // better than what is known.
            let methods: Vec<&str> = p.weaker_methods.iter().map(|m| m.method.as_str()).collect();
            let mine: Vec<&Account> = existing.iter().filter(|a| a.playbook == p.id).collect();
            if !mine.is_empty() {
                for a in mine {
                    // Repairs an account an older keyward recorded without its methods.
                    let a = self.record.add_account(
                        person,
                        &a.playbook,
                        &a.identifier,
                        &methods,
                        &self.actor,
                    )?;
                    out.push((a, p.clone()));
                }
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
            let account =
                self.record
                    .add_account(person, &p.id, &identifier, &methods, &self.actor)?;
            out.push((account, p.clone()));
        }
        if out.is_empty() {
            self.prompter
                .info("No accounts chosen: nothing to enroll this time.");
        }
        Ok(out)
    }

    pub(super) fn stopped(&mut self, person: &Person, what: &str) -> String {
        self.prompter.info(&format!(
            "{what}: left for later. Run `keyward enroll --person \"{}\"` again to continue from here.",
            person.name
        ));
        format!("{what}: not finished")
    }
}

pub(super) fn account_name(playbook: &Playbook, account: &Account) -> String {
    format!("{} ({})", playbook.name, account.identifier)
}
