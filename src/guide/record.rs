//! What the guided flow needs from the ledger, as one narrow trait.
//!
//! The ledger is the source of truth of progress: the flow asks it what is already done for a
//! person before every question, so a rerun after an interruption resumes where it stopped and
//! never records anything twice.

use crate::error::Result;
use crate::ledger::{
    Account, Actor, Enrollment, Key, MethodRecord, MethodStatus, NewEnrollment, NewKey, Person,
};

pub trait Record {
    fn people(&mut self) -> Result<Vec<Person>>;
    fn find_person(&mut self, name: &str) -> Result<Option<Person>>;
    fn add_person(&mut self, name: &str, actor: &Actor) -> Result<Person>;

    fn accounts(&mut self, person: &Person) -> Result<Vec<Account>>;
    fn add_account(
        &mut self,
        person: &Person,
        playbook: &str,
        identifier: &str,
        actor: &Actor,
    ) -> Result<Account>;

    fn keys(&mut self, person: &Person) -> Result<Vec<Key>>;
    fn register_key(&mut self, person: &Person, key: &NewKey, actor: &Actor) -> Result<Key>;
    /// The key was present just now.
    fn key_seen(&mut self, key: &Key, actor: &Actor) -> Result<()>;

    fn enrollments(&mut self, account: &Account) -> Result<Vec<Enrollment>>;
    fn record_enrollment(&mut self, enrollment: &NewEnrollment, actor: &Actor)
        -> Result<Enrollment>;

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
