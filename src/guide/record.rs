//! What the guided flow needs from the ledger, as one narrow trait.
//!
//! The ledger is the source of truth of progress: the flow asks it what is already done for a
//! person before every question, so a rerun after an interruption resumes where it stopped and
//! never records anything twice.

use crate::error::Result;
use crate::ledger::{
    Account, Actor, Enrollment, Key, MethodRecord, MethodStatus, NewEnrollment, NewKey, Person,
    PinState,
};

pub trait Record {
    fn people(&mut self) -> Result<Vec<Person>>;
    fn find_person(&mut self, name: &str) -> Result<Option<Person>>;
    fn add_person(&mut self, name: &str, actor: &Actor) -> Result<Person>;

    fn accounts(&mut self, person: &Person) -> Result<Vec<Account>>;
    /// The account of this provider with this identifier, whoever's it is.
    fn find_account(&mut self, playbook: &str, identifier: &str) -> Result<Option<Account>>;
    /// Add the account with each of `methods` "not checked yet" (unless already recorded), in
    /// ONE transaction: an interruption never leaves an account without its weaker methods.
    /// On an existing account, records the ones missing (how a half-written ledger of an
    /// older keyward is repaired).
    fn add_account(
        &mut self,
        person: &Person,
        playbook: &str,
        identifier: &str,
        methods: &[&str],
        actor: &Actor,
    ) -> Result<Account>;

    fn keys(&mut self, person: &Person) -> Result<Vec<Key>>;
    fn register_key(&mut self, person: &Person, key: &NewKey, actor: &Actor) -> Result<Key>;
    /// The key was present just now.
    fn key_seen(&mut self, key: &Key, actor: &Actor) -> Result<()>;
    /// What is known about the key's PIN now (never the PIN itself).
    fn set_pin_state(&mut self, key: &Key, state: PinState, actor: &Actor) -> Result<()>;
    /// Where the person keeps the key, in their words.
    fn set_key_location(&mut self, key: &Key, location: &str, actor: &Actor) -> Result<()>;

    /// Before keyward changes the key itself (`set_pin`, `change_pin`...): recorded first, so
    /// that a crash before [`Record::settle_key_change`] is noticed at the next run.
    fn begin_key_change(&mut self, key: &Key, change: &str, actor: &Actor) -> Result<()>;
    /// What is true about the key's PIN now; `interrupted` when it was learnt by asking the
    /// key after a change that never settled.
    fn settle_key_change(
        &mut self,
        key: &Key,
        pin: Option<PinState>,
        interrupted: bool,
        actor: &Actor,
    ) -> Result<()>;
    /// The change begun on the key and never settled, if any.
    fn pending_key_change(&mut self, key: &Key) -> Result<Option<String>>;

    fn enrollments(&mut self, account: &Account) -> Result<Vec<Enrollment>>;
    /// `(key id, credential id)` of every credential seen on one of the person's keys, including
    /// enrollments since removed.
    fn known_credentials(&mut self, person: &Person) -> Result<Vec<(i64, String)>>;
    fn record_enrollment(
        &mut self,
        enrollment: &NewEnrollment,
        actor: &Actor,
    ) -> Result<Enrollment>;
    /// The key was taken out of the account at the provider.
    fn remove_enrollment(
        &mut self,
        account: &Account,
        key: &Key,
        note: &str,
        actor: &Actor,
    ) -> Result<()>;

    fn methods(&mut self, account: &Account) -> Result<Vec<MethodRecord>>;
    fn set_method(
        &mut self,
        account: &Account,
        method: &str,
        status: MethodStatus,
        reason: Option<&str>,
        actor: &Actor,
    ) -> Result<()>;

    /// Named points the flow has passed for this person (a step done, ...).
    fn checkpoints(&mut self, person: &Person) -> Result<Vec<String>>;
    fn add_checkpoint(&mut self, person: &Person, name: &str, actor: &Actor) -> Result<()>;
}

use crate::ledger::{Ledger, LedgerError};

impl Record for Ledger {
    fn people(&mut self) -> Result<Vec<Person>> {
        Ok(Ledger::people(self)?)
    }
    fn find_person(&mut self, name: &str) -> Result<Option<Person>> {
        match Ledger::find_person(self, name) {
            Ok(p) => Ok(Some(p)),
            Err(LedgerError::UnknownPerson(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    fn add_person(&mut self, name: &str, actor: &Actor) -> Result<Person> {
        Ok(self.upsert_person(actor, name, None)?)
    }
    fn accounts(&mut self, person: &Person) -> Result<Vec<Account>> {
        Ok(self.accounts_of(person.id)?)
    }
    fn find_account(&mut self, playbook: &str, identifier: &str) -> Result<Option<Account>> {
        Ok(Ledger::find_account(self, playbook, identifier)?)
    }
    fn add_account(
        &mut self,
        person: &Person,
        playbook: &str,
        identifier: &str,
        methods: &[&str],
        actor: &Actor,
    ) -> Result<Account> {
        Ok(self.write(actor, |w| {
            let account = w.add_account(person.id, playbook, identifier)?;
            w.add_methods_not_checked(account.id, methods)?;
            Ok(account)
        })?)
    }
    fn keys(&mut self, person: &Person) -> Result<Vec<Key>> {
        Ok(self.keys_of(person.id)?)
    }
    fn register_key(&mut self, person: &Person, key: &NewKey, actor: &Actor) -> Result<Key> {
        Ok(Ledger::register_key(self, actor, person.id, key)?)
    }
    fn key_seen(&mut self, key: &Key, actor: &Actor) -> Result<()> {
        // Registering again matches the key (serial, else label) and updates `last_seen`.
        let again = NewKey {
            label: key.label.clone(),
            aaguid: key.aaguid,
            model: key.model.clone(),
            serial: key.serial.clone(),
        };
        Ledger::register_key(self, actor, key.person_id, &again)?;
        Ok(())
    }
    fn set_pin_state(&mut self, key: &Key, state: PinState, actor: &Actor) -> Result<()> {
        Ledger::set_pin_state(self, actor, key.id, state)?;
        Ok(())
    }
    fn set_key_location(&mut self, key: &Key, location: &str, actor: &Actor) -> Result<()> {
        Ledger::set_key_location(self, actor, key.id, location)?;
        Ok(())
    }
    fn begin_key_change(&mut self, key: &Key, change: &str, actor: &Actor) -> Result<()> {
        Ok(self.write(actor, |w| w.begin_key_change(key.id, change))?)
    }
    fn settle_key_change(
        &mut self,
        key: &Key,
        pin: Option<PinState>,
        interrupted: bool,
        actor: &Actor,
    ) -> Result<()> {
        self.write(actor, |w| w.settle_key_change(key.id, pin, interrupted))?;
        Ok(())
    }
    fn pending_key_change(&mut self, key: &Key) -> Result<Option<String>> {
        Ok(Ledger::pending_key_change(self, key.id)?)
    }
    fn enrollments(&mut self, account: &Account) -> Result<Vec<Enrollment>> {
        Ok(self.enrollments_of_account(account.id)?)
    }
    fn known_credentials(&mut self, person: &Person) -> Result<Vec<(i64, String)>> {
        Ok(self.credentials_of_person(person.id)?)
    }
    fn record_enrollment(
        &mut self,
        enrollment: &NewEnrollment,
        actor: &Actor,
    ) -> Result<Enrollment> {
        Ok(Ledger::record_enrollment(self, actor, enrollment)?)
    }
    fn remove_enrollment(
        &mut self,
        account: &Account,
        key: &Key,
        note: &str,
        actor: &Actor,
    ) -> Result<()> {
        Ledger::remove_enrollment(self, actor, account.id, key.id, Some(note))?;
        Ok(())
    }
    fn methods(&mut self, account: &Account) -> Result<Vec<MethodRecord>> {
        Ok(self.methods_of(account.id)?)
    }
    fn set_method(
        &mut self,
        account: &Account,
        method: &str,
        status: MethodStatus,
        reason: Option<&str>,
        actor: &Actor,
    ) -> Result<()> {
        self.set_method_status(actor, account.id, method, status, reason)?;
        Ok(())
    }
    fn checkpoints(&mut self, person: &Person) -> Result<Vec<String>> {
        Ok(Ledger::checkpoints(self, person.id)?
            .into_iter()
            .map(|c| c.name)
            .collect())
    }
    fn add_checkpoint(&mut self, person: &Person, name: &str, actor: &Actor) -> Result<()> {
        Ok(self.checkpoint(actor, person.id, name)?)
    }
}
