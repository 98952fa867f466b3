//! What the run needs from the record: which slots are done, whether a key is already
//! recorded, and one atomic write per slot. The ledger implements it; tests may use
//! [`MemoryJournal`].

use super::events::PinState;
use super::roster::Slot;
use crate::error::Result;
use crate::ledger::{
    Actor, KeyState, Ledger, LedgerError, NewKey, NewSlot, PinState as LedgerPinState, SlotStatus,
};
use std::collections::HashMap;
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
    /// Record that this run's attempt at the slot failed, and why. A failed slot stays open.
    fn record_failed(&mut self, slot: &Slot, reason: &str) -> Result<()>;
}

/// An in-memory journal for tests of the run.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    pub records: Vec<(Slot, KeyRecord)>,
    pub failures: Vec<(Slot, String)>,
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
    fn record_failed(&mut self, slot: &Slot, reason: &str) -> Result<()> {
        self.failures.push((slot.clone(), reason.to_string()));
        Ok(())
    }
}

/// The ledger as the run's journal. Keys already recorded are looked up once at the start, so
/// a long run does not query the whole ledger for every key.
pub struct LedgerJournal {
    ledger: Ledger,
    actor: Actor,
    /// serial -> "person / label" of every active key in the ledger.
    serials: HashMap<String, String>,
}

impl LedgerJournal {
    pub fn new(ledger: Ledger, actor: Actor) -> Result<LedgerJournal> {
        let mut serials = HashMap::new();
        for person in ledger.people()? {
            for key in ledger.keys_of(person.id)? {
                if let (Some(serial), KeyState::Active) = (key.serial, key.state) {
                    serials.insert(serial, format!("{} / {}", person.name, key.label));
                }
            }
        }
        Ok(LedgerJournal {
            ledger,
            actor,
            serials,
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}

impl Journal for LedgerJournal {
    fn is_done(&mut self, slot: &Slot) -> Result<bool> {
        if let Some(s) = self.ledger.slot(&slot.id())? {
            if s.status == SlotStatus::Done {
                return Ok(true);
            }
        }
        // A key with this label may have reached the person another way (e.g. enrollment);
        // a second one would collide with it in the ledger.
        let person = match self.ledger.find_person(&slot.person) {
            Ok(p) => p,
            Err(LedgerError::UnknownPerson(_) | LedgerError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        Ok(self
            .ledger
            .keys_of(person.id)?
            .iter()
            .any(|k| k.label.eq_ignore_ascii_case(&slot.label)))
    }

    fn label_of_key(&mut self, serial: &str) -> Result<Option<String>> {
        Ok(self.serials.get(serial).cloned())
    }

    fn record(&mut self, slot: &Slot, key: &KeyRecord) -> Result<()> {
        let pin_state = match key.pin_state {
            PinState::SetMustChange => LedgerPinState::SetMustChange,
            PinState::Set => LedgerPinState::Set,
            PinState::NotSetPersonSetsAtEnrollment => LedgerPinState::NotSetPersonSets,
        };
        self.ledger.write(&self.actor, |w| {
            // Another station running the same roster may have filled the slot since this
            // run started: say so, rather than what a clash of labels would suggest.
            if let Some(done) = w.slot(&slot.id())?.filter(|s| s.status == SlotStatus::Done) {
                return Err(LedgerError::Conflict(format!(
                    "{} for {} was provisioned meanwhile (at {}), most likely by another \
                     station running the same roster; this key was not recorded. Reset it \
                     (`keyward key reset`) before using it for another slot, and give each \
                     station its own roster (split the file) so that they never meet",
                    slot.label, slot.person, done.at
                )));
            }
            let person = w.upsert_person(&slot.person, slot.email.as_deref())?;
            let k = w.register_key(
                person.id,
                &NewKey {
                    label: slot.label.clone(),
                    aaguid: key.aaguid,
                    model: Some(key.model.clone()),
                    serial: key.serial.clone(),
                },
            )?;
            w.set_pin_state(k.id, pin_state)?;
            if key.self_tested {
                w.checkpoint(person.id, &format!("provision.self_test.{}", slot.label))?;
            }
            w.record_slot(&NewSlot {
                slot: slot.id(),
                person_id: person.id,
                label: slot.label.clone(),
                status: SlotStatus::Done,
                key_id: Some(k.id),
                reason: None,
            })?;
            Ok(())
        })?;
        if let Some(serial) = &key.serial {
            self.serials
                .insert(serial.clone(), format!("{} / {}", slot.person, slot.label));
        }
        Ok(())
    }

    fn record_failed(&mut self, slot: &Slot, reason: &str) -> Result<()> {
        self.ledger.write(&self.actor, |w| {
            let person = w.upsert_person(&slot.person, slot.email.as_deref())?;
            w.record_slot(&NewSlot {
                slot: slot.id(),
                person_id: person.id,
                label: slot.label.clone(),
                status: SlotStatus::Failed,
                key_id: None,
                reason: Some(reason.to_string()),
            })?;
            Ok(())
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11, item 7: two stations, one roster, one slot: the second learns what happened.
    #[test]
    fn two_stations_filling_the_same_slot_get_advice_that_fits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.sqlite");
        let station = |name: &str| {
            LedgerJournal::new(Ledger::open(&path).unwrap(), Actor::operator(name)).unwrap()
        };
        let (mut a, mut b) = (station("a"), station("b"));
        let slot = Slot {
            person: "Ada".into(),
            email: None,
            index: 1,
            of: 1,
            label: "Ada #1".into(),
        };
        assert!(!a.is_done(&slot).unwrap() && !b.is_done(&slot).unwrap());
        let key = |serial: &str| KeyRecord {
            serial: Some(serial.into()),
            aaguid: None,
            model: "YubiKey 5".into(),
            pin_state: PinState::Set,
            min_pin_length: 8,
            always_uv: true,
            self_tested: false,
        };
        a.record(&slot, &key("111")).unwrap();
        let e = b.record(&slot, &key("222")).unwrap_err().to_string();
        assert!(e.contains("another station running the same roster"), "{e}");
        assert!(!e.contains("label this key differently"), "{e}");
    }
}
