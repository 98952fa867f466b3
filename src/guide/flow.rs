//! The guided enrollment itself: person, keys, readiness, accounts, the playbook's steps per
//! account and key with verification on the key, then every weaker method.
//!
//! Plain logic over a [`Prompter`], a [`Record`] (the ledger), the playbook [`Catalog`] and a
//! [`KeySource`]. Before each piece of work it asks the record whether it is already done, and
//! it writes each result the moment it is known, so killing the process loses at most the
//! question being asked.

use super::prompt::Choice;
use super::prompt::Prompter;
use super::record::Record;
use crate::device::{Authenticator, DeviceDescriptor};
use crate::error::{Error, Result};
use crate::ledger::{
    unfinished_from, Account, Actor, Key, Person, PROGRESS_FINISHED, PROGRESS_PREFIX,
};
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
    /// Asks the provider whether a method the person removed is really gone (a connected
    /// Entra tenant); `None` records the person's word.
    pub provider: Option<&'a mut dyn super::confirm::ProviderCheck>,
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
        super::stop::set_person(&person.name);
        let candidates = self.candidate_playbooks()?;
        let accounts = self.accounts(&person, &candidates)?;
        if accounts.is_empty() {
            // Keys, PINs and places mean nothing without an account to put the keys in; and
            // no session is recorded, finished or not.
            self.prompter.warn(&format!(
                "\nNo account chosen, so there is nothing to set up: keyward puts keys into \
                 accounts. When there is an account to protect, run `keyward enroll --person \
                 \"{}\"` again.",
                person.name
            ));
            return Err(Error::Cancelled(
                "no account chosen: nothing to set up".into(),
            ));
        }
        // Key readiness is judged only for the providers this person has.
        let mine: Vec<Playbook> = accounts.iter().map(|(_, p)| p.clone()).collect();
        self.progress(&person, "getting the keys ready")?;
        let keys = self.keys(&person, &mine)?;
        for (account, playbook) in &accounts {
            if (keys.len() as u32) < playbook.requirements.keys.min {
                let msg = format!(
                    "{} needs at least {} keys ({}); you have {}. Come back with another key and \
                     run `keyward enroll --person \"{}\"` again.",
                    playbook.name,
                    playbook.requirements.keys.min,
                    playbook.requirements.keys.reason,
                    keys.len(),
                    person.name
                );
                self.prompter.warn(&format!("\n{msg}"));
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
                    "\nThe weaker ways into {} wait until a key is in: removing them first \
                     could lock you out.",
                    account_name(playbook, account),
                ));
                continue;
            }
            self.methods(&person, playbook, account)?;
        }
        match later.first() {
            None => self.progress(&person, PROGRESS_FINISHED)?,
            Some(first) => self.progress(&person, first)?,
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
            // Nobody is listed: whoever sits at the screen learns only about the name typed.
            _ => self
                .prompter
                .text("person.name", "Whose keys are these? (full name)", None)?,
        };
        if let Some(p) = self.record.find_person(&name)? {
            return self.resuming(p);
        }
        if let Some(p) = self.near_match(&name)? {
            return self.resuming(p);
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

    /// A person recorded under a name close to the one typed (a typo, another spelling): "did
    /// you mean ...?", naming only those close names.
    fn near_match(&mut self, typed: &str) -> Result<Option<Person>> {
        let wanted = typed.to_lowercase();
        let mut close: Vec<(f64, Person)> = self
            .record
            .people()?
            .into_iter()
            .map(|p| (strsim::jaro_winkler(&p.name.to_lowercase(), &wanted), p))
            .filter(|(score, _)| *score >= 0.88)
            .collect();
        close.sort_by(|a, b| b.0.total_cmp(&a.0));
        close.truncate(3);
        if close.is_empty() {
            return Ok(None);
        }
        let mut choices: Vec<Choice> = close
            .iter()
            .map(|(_, p)| Choice::new(p.name.clone(), format!("Yes, {}", p.name)))
            .collect();
        choices.push(Choice::new("new", format!("No: {typed} is someone else")));
        let names: Vec<&str> = close.iter().map(|(_, p)| p.name.as_str()).collect();
        let pick = self.prompter.choose(
            "person.match",
            &format!(
                "{typed} is not in the ledger. Did you mean {}?",
                names.join(" or ")
            ),
            &choices,
            choices.len() - 1,
        )?;
        Ok(close.into_iter().map(|(_, p)| p).find(|p| p.name == pick))
    }

    fn resuming(&mut self, p: Person) -> Result<Person> {
        let names = self.record.checkpoints(&p)?;
        match unfinished_from(&names) {
            Some(at) => self.prompter.info(&format!(
                "{} is in the ledger already. Resuming where the last session stopped: {at}. \
                 Nothing answered then is asked again.",
                p.name
            )),
            None => self.prompter.info(&format!(
                "{} is in the ledger already: continuing from what is recorded.",
                p.name
            )),
        }
        Ok(p)
    }

    /// Mark where the session is, so `status` can say where an unfinished one stopped and a
    /// rerun can say where it resumes.
    pub(super) fn progress(&mut self, person: &Person, at: &str) -> Result<()> {
        let names = self.record.checkpoints(person)?;
        if unfinished_from(&names).as_deref() == Some(at) {
            return Ok(());
        }
        let n = names
            .iter()
            .filter(|c| c.starts_with(PROGRESS_PREFIX))
            .count()
            + 1;
        self.record.add_checkpoint(
            person,
            &format!("{PROGRESS_PREFIX}{n:05}/{at}"),
            &self.actor,
        )
    }

    /// Whether a question of this session was answered in an earlier one (a checkpoint named
    /// `prefix...`), and the rest of that checkpoint's name.
    pub(super) fn answered(&mut self, person: &Person, prefix: &str) -> Result<Option<String>> {
        Ok(self
            .record
            .checkpoints(person)?
            .into_iter()
            .find_map(|c| c.strip_prefix(prefix).map(str::to_string)))
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

    /// The person's accounts: those recorded, and (the first time) the ones they say they
    /// have, as one checklist. Advanced Protection is a question about the Google account, not
    /// an account of its own. Answered once: a rerun does not ask again (`--playbook ID` adds
    /// an account later).
    pub(super) fn accounts(
        &mut self,
        person: &Person,
        candidates: &[Playbook],
    ) -> Result<Vec<(Account, Playbook)>> {
        let existing = self.record.accounts(person)?;
        let asked_before = self.answered(person, ACCOUNTS_ASKED)?.is_some();
        let forced = !self.options.playbooks.is_empty();
        let unasked: Vec<&Playbook> = candidates
            .iter()
            .filter(|p| {
                !existing
                    .iter()
                    .any(|a| provider_of(&a.playbook) == provider_of(&p.id))
            })
            .filter(|p| !p.id.ends_with(ADVANCED_PROTECTION) || forced)
            .collect();
        let wanted: Vec<&Playbook> = if forced {
            unasked
        } else if asked_before || unasked.is_empty() {
            Vec::new()
        } else if self.prompter.has_answer("accounts.which")
            || !self
                .prompter
                .has_answer(&format!("account.{}.add", unasked[0].id))
        {
            let choices: Vec<Choice> = unasked
                .iter()
                .map(|p| Choice::new(p.id.clone(), format!("{} ({})", p.name, p.applies_to)))
                .collect();
            self.prompter
                .info("Tick each account you have (space ticks or unticks, Enter when done).");
            let picked = self.prompter.checklist(
                "accounts.which",
                "Which of these accounts do you have?",
                &choices,
                &[],
            )?;
            unasked
                .into_iter()
                .filter(|p| picked.contains(&p.id))
                .collect()
        } else {
            // An answers file written for one question per provider.
            let mut v = Vec::new();
            for p in unasked {
                if self.prompter.confirm(
                    &format!("account.{}.add", p.id),
                    &format!(
                        "Do you have {} {} to protect? ({})",
                        article(&p.name),
                        p.name,
                        p.applies_to
                    ),
                    false,
                )? {
                    v.push(p);
                }
            }
            v
        };
        for p in &wanted {
            let Some(identifier) = self.identifier(person, p)? else {
                continue;
            };
            // Advanced Protection is about the account just named: with it, that one account
            // follows the Advanced Protection playbook (its keys, its enrollment, its weaker
            // methods) instead of the plain one. One account, one pass, one checklist.
            let ap = candidates
                .iter()
                .find(|c| c.id == format!("{}{ADVANCED_PROTECTION}", p.id))
                .filter(|_| !forced);
            let playbook = match ap {
                Some(ap)
                    if self.prompter.confirm(
                        &format!("account.{}.add", ap.id),
                        &format!(
                            "Is {identifier} in Google's Advanced Protection Program, or should \
                             it be? (for people at high risk of targeted attacks)"
                        ),
                        false,
                    )? =>
                {
                    ap
                }
                _ => p,
            };
            self.new_account(person, playbook, &identifier)?;
        }
        // "None of these" is not an answer to keep: the next session asks again.
        if !forced && !asked_before && !self.record.accounts(person)?.is_empty() {
            self.record
                .add_checkpoint(person, ACCOUNTS_ASKED, &self.actor)?;
        }
        // Recording an account again repairs one an older keyward recorded without its
        // methods (nothing changes otherwise).
        for a in self.record.accounts(person)? {
            if let Some(p) = candidates.iter().find(|p| p.id == a.playbook) {
                self.new_account(person, p, &a.identifier)?;
            }
        }
        let mut all = self.record.accounts(person)?;
        // An older keyward recorded Advanced Protection as a second account with the same
        // address: its playbook covers the plain one, so the session goes through it alone.
        let covered: Vec<Account> = all
            .iter()
            .filter(|a| {
                !a.playbook.ends_with(ADVANCED_PROTECTION)
                    && all.iter().any(|b| {
                        b.playbook == format!("{}{ADVANCED_PROTECTION}", a.playbook)
                            && b.identifier == a.identifier
                    })
            })
            .cloned()
            .collect();
        all.retain(|a| !covered.iter().any(|c| c.id == a.id));
        let out: Vec<(Account, Playbook)> = candidates
            .iter()
            .flat_map(|p| {
                all.iter()
                    .filter(|a| a.playbook == p.id)
                    .map(|a| (a.clone(), p.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        Ok(out)
    }

    /// The name the person signs in to `p` with. One already in the ledger for that provider
    /// is refused in plain words and asked again (Enter alone then goes on without it); a
    /// script stops there, naming the answer. Whose it is, when it is someone else's, is not
    /// said: whoever sits at the screen learns nothing about other people.
    fn identifier(&mut self, person: &Person, p: &Playbook) -> Result<Option<String>> {
        let id = format!("account.{}.identifier", p.id);
        let mut question = format!(
            "{}: the email address or user name you sign in with",
            p.name
        );
        let mut again = false;
        loop {
            let typed = self.prompter.text(&id, &question, again.then_some(""))?;
            if typed.is_empty() {
                return Ok(None);
            }
            // The same address under Google and under Google with Advanced Protection is one
            // account.
            let mut known = None;
            for other in self.catalog.all() {
                if provider_of(&other.id) == provider_of(&p.id) && known.is_none() {
                    known = self.record.find_account(&other.id, &typed)?;
                }
            }
            let Some(known) = known else {
                return Ok(Some(typed));
            };
            let why = if known.person_id == person.id {
                format!(
                    "You already added {} for {}. Type a different address, or press Enter to \
                     go on.",
                    known.identifier, p.name
                )
            } else {
                format!(
                    "{} is already recorded for {} for someone else in the ledger. Type a \
                     different address, or press Enter to go on.",
                    known.identifier, p.name
                )
            };
            self.prompter.refused(&id, &why)?;
            question = format!("{}: another email address or user name", p.name);
            again = true;
        }
    }

    fn new_account(&mut self, person: &Person, p: &Playbook, identifier: &str) -> Result<Account> {
        // Until someone looks, every weaker method the provider offers may be on: the record
        // says "not checked yet" rather than nothing, so `status` never looks better than what
        // is known. The account and its methods are recorded together.
        let methods: Vec<&str> = p.weaker_methods.iter().map(|m| m.method.as_str()).collect();
        let account = self
            .record
            .add_account(person, &p.id, identifier, &methods, &self.actor)?;
        Ok(account)
    }

    /// Part of an account left for later: say how to continue, and return where it stopped
    /// (the last progress mark, e.g. "Google Account, Key A, step 2").
    pub(super) fn stopped(&mut self, person: &Person, what: &str) -> String {
        self.prompter.info(&format!(
            "{what}: left for later. Run `keyward enroll --person \"{}\"` again to continue from here.",
            person.name
        ));
        self.record
            .checkpoints(person)
            .ok()
            .and_then(|names| unfinished_from(&names))
            .unwrap_or_else(|| format!("{what}: not finished"))
    }
}

/// The checkpoint saying the person answered which accounts they have.
const ACCOUNTS_ASKED: &str = "accounts/asked";
/// Advanced Protection's playbook id is its account's playbook id with this suffix.
const ADVANCED_PROTECTION: &str = "-advanced-protection";

/// The provider a playbook is for: Advanced Protection's playbook is Google's.
fn provider_of(playbook: &str) -> &str {
    playbook
        .strip_suffix(ADVANCED_PROTECTION)
        .unwrap_or(playbook)
}

/// "a" or "an" before `word` ("an Apple Account").
pub(super) fn article(word: &str) -> &'static str {
    match word.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

pub(super) fn account_name(playbook: &Playbook, account: &Account) -> String {
    format!("{} ({})", playbook.name, account.identifier)
}
