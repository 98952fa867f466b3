//! What the run needs from the record: which slots are done, whether a key is already
//! recorded, and one atomic write per slot. The ledger implements it; tests may use
//! [`MemoryJournal`].

use super::events::PinState;
use super::roster::Slot;
use crate::error::Result;
use uuid::Uuid;

/// The facts recorded for one prepared key. There is no PIN in here on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub serial: Option<String>,
    pub aaguid: Option<Uuid>,
    pub model: String,
    pub pin_state: PinState,
    pub min_pin_length: u32,
    pub always_uv: bool,
    pub self_tested: bool,
}

pub trait Journal {
    /// The ledger already holds a key for this slot (its label, against its person).
    fn is_done(&mut self, slot: &Slot) -> Result<bool>;
    /// The label a key with this serial is already recorded under, if any.
    fn label_of_key(&mut self, serial: &str) -> Result<Option<String>>;
    /// Record the key against the slot's person, all in one transaction: either everything
    /// about this slot is recorded or nothing is.
    fn record(&mut self, slot: &Slot, key: &KeyRecord) -> Result<()>;
}

/// An in-memory journal for tests of the run.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    pub records: Vec<(Slot, KeyRecord)>,
}

impl Journal for MemoryJournal {
    fn is_done(&mut self, slot: &Slot) -> Result<bool> {
        Ok(self
            .records
            .iter()
            .any(|(s, _)| s.person == slot.person && s.label == slot.label))
    }
    fn label_of_key(&mut self, serial: &str) -> Result<Option<String>> {
        Ok(self
            .records
            .iter()
            .find(|(_, k)| k.serial.as_deref() == Some(serial))
            .map(|(s, _)| s.label.clone()))
    }
    fn record(&mut self, slot: &Slot, key: &KeyRecord) -> Result<()> {
        self.records.push((slot.clone(), key.clone()));
        Ok(())
    }
}
