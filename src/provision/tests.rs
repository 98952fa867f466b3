//! The run loop against scripted keys: what the operator and the record see for fresh keys,
//! keys that are not fresh, keys pulled out mid-way, and a rerun.

use super::events::{Event, PinState};
use super::journal::{Journal, MemoryJournal};
use super::policy::{FirstPin, Policy};
use super::roster::Roster;
use super::run::{run, Operator, PinDelivery, RunOptions};
use super::Slot;
use crate::device::*;
use crate::pin::Pin;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
struct State {
    pin: Option<String>,
    min_pin_length: u32,
    force_change: bool,
    always_uv: bool,
    credentials: u32,
    /// Answer `Disconnected` once this many commands have been answered.
    commands_left: Option<u32>,
    in_reset_window: bool,
    /// setPIN takes effect but its answer never arrives (the key was pulled out just then).
    lose_set_pin_reply: bool,
}

struct FakeKey {
    desc: DeviceDescriptor,
    state: Arc<Mutex<State>>,
}

impl FakeKey {
    fn step(&self) -> Result<std::sync::MutexGuard<'_, State>, DeviceError> {
        let mut s = self.state.lock().unwrap();
        match &mut s.commands_left {
            Some(0) => return Err(DeviceError::Disconnected),
            Some(n) => *n -= 1,
            None => {}
        }
        Ok(s)
    }
}

fn unused<T>() -> Result<T, DeviceError> {
    Err(DeviceError::Unsupported {
        what: "this in the fake".into(),
    })
}

impl Authenticator for FakeKey {
    fn descriptor(&self) -> &DeviceDescriptor {
        &self.desc
    }
    fn info(&mut self) -> Result<KeyInfo, DeviceError> {
        let s = self.step()?;
        let mut options = BTreeMap::new();
        for o in ["rk", "credMgmt", "setMinPINLength", "authnrCfg"] {
            options.insert(o.to_string(), true);
        }
        options.insert("clientPin".into(), s.pin.is_some());
        options.insert("alwaysUv".into(), s.always_uv);
        Ok(KeyInfo {
            versions: vec!["FIDO_2_0".into(), "FIDO_2_1".into()],
            aaguid: Some(uuid::Uuid::from_u128(7)),
            options,
            extensions: vec![],
            pin_uv_protocols: vec![2],
            min_pin_length: s.min_pin_length,
            force_pin_change: s.force_change,
            firmware_version: None,
            remaining_discoverable_credentials: Some(25 - s.credentials),
            transports: vec![],
            algorithms: vec![-7],
        })
    }
    fn pin_retries(&mut self) -> Result<PinRetries, DeviceError> {
        unused()
    }
    fn set_pin(&mut self, new_pin: &Pin) -> Result<(), DeviceError> {
        let mut s = self.step()?;
        assert!(s.pin.is_none());
        assert!(new_pin.code_points() as u32 >= s.min_pin_length);
        s.pin = Some(new_pin.as_str().into());
        if s.lose_set_pin_reply {
            return Err(DeviceError::Disconnected);
        }
        Ok(())
    }
    fn change_pin(&mut self, _: &Pin, _: &Pin) -> Result<(), DeviceError> {
        unused()
    }
    fn unlock(&mut self, pin: &Pin) -> Result<(), DeviceError> {
        let s = self.step()?;
        if s.pin.as_deref() == Some(pin.as_str()) {
            Ok(())
        } else {
            Err(DeviceError::PinInvalid { retries_left: None })
        }
    }
    fn credential_metadata(&mut self) -> Result<CredentialMetadata, DeviceError> {
        let s = self.step()?;
        Ok(CredentialMetadata {
            existing: s.credentials,
            remaining: 25 - s.credentials,
        })
    }
    fn list_credentials(&mut self) -> Result<Vec<RpCredentials>, DeviceError> {
        unused()
    }
    fn delete_credential(&mut self, _: &[u8]) -> Result<(), DeviceError> {
        unused()
    }
    fn set_min_pin_length(
        &mut self,
        new_min: Option<u32>,
        _rp_ids: &[String],
        force_change: bool,
    ) -> Result<(), DeviceError> {
        let mut s = self.step()?;
        if let Some(n) = new_min {
            s.min_pin_length = n;
        }
        s.force_change |= force_change;
        Ok(())
    }
    fn toggle_always_uv(&mut self) -> Result<bool, DeviceError> {
        let mut s = self.step()?;
        s.always_uv = !s.always_uv;
        Ok(s.always_uv)
    }
    fn make_credential(
        &mut self,
        _: &MakeCredentialRequest,
    ) -> Result<MadeCredential, DeviceError> {
        unused()
    }
    fn get_assertion(&mut self, _: &AssertionRequest) -> Result<Assertion, DeviceError> {
        unused()
    }
    fn selection(&mut self, _: Duration) -> Result<(), DeviceError> {
        unused()
    }
    fn wink(&mut self) -> Result<(), DeviceError> {
        unused()
    }
    fn reset(&mut self) -> Result<(), DeviceError> {
        let mut s = self.step()?;
        if !s.in_reset_window {
            return Err(DeviceError::from_ctap_status(0x30));
        }
        *s = State {
            min_pin_length: 4,
            ..State::default()
        };
        Ok(())
    }
}

/// A desk of keys in the order they will be inserted.
struct Desk {
    keys: Vec<(DeviceDescriptor, Arc<Mutex<State>>)>,
    next: usize,
}

impl Desk {
    fn new(states: Vec<State>) -> Desk {
        let keys = states
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let desc = DeviceDescriptor {
                    spec: format!("fake:{i}"),
                    backend: Backend::Virtual,
                    vendor_id: None,
                    product_id: None,
                    manufacturer: Some("Test".into()),
                    product: Some("Fake key".into()),
                    serial: Some(format!("S{i}")),
                };
                (desc, Arc::new(Mutex::new(s)))
            })
            .collect();
        Desk { keys, next: 0 }
    }
    fn state(&self, i: usize) -> State {
        self.keys[i].1.lock().unwrap().clone()
    }
    fn opener(&self) -> HashMap<String, Arc<Mutex<State>>> {
        self.keys
            .iter()
            .map(|(d, s)| (d.spec.clone(), s.clone()))
            .collect()
    }
}

impl KeyArrivals for Desk {
    fn next_key(&mut self) -> Result<Option<DeviceDescriptor>, DeviceError> {
        let k = self.keys.get(self.next).map(|(d, _)| d.clone());
        self.next += 1;
        Ok(k)
    }
    fn wait_removed(&mut self, _: &DeviceDescriptor) -> Result<(), DeviceError> {
        Ok(())
    }
}

#[derive(Default)]
struct Recorder {
    events: Vec<Event>,
    shown: Vec<(String, String)>,
}

impl Operator for Recorder {
    fn event(&mut self, e: &Event) {
        self.events.push(e.clone());
    }
    fn instruct(&mut self, _: &str) {}
    fn show_pin(&mut self, slot: &Slot, pin: &Pin) {
        self.shown.push((slot.label.clone(), pin.as_str().into()));
    }
}

fn fresh() -> State {
    State {
        min_pin_length: 4,
        in_reset_window: true,
        ..State::default()
    }
}

fn roster(text: &str) -> Vec<Slot> {
    Roster::parse(Path::new("r.csv"), text.as_bytes())
        .unwrap()
        .slots()
}

fn go(
    slots: &[Slot],
    desk: &mut Desk,
    journal: &mut MemoryJournal,
    policy: &Policy,
) -> (super::Summary, Recorder) {
    let delivery = match policy.first_pin {
        FirstPin::Random => PinDelivery::Operator,
        FirstPin::SetAtEnrollment => PinDelivery::None,
    };
    let (summary, rec) = go_with(slots, desk, journal, policy, delivery);
    (summary.unwrap(), rec)
}

fn go_with(
    slots: &[Slot],
    desk: &mut Desk,
    journal: &mut dyn Journal,
    policy: &Policy,
    delivery: PinDelivery,
) -> (crate::error::Result<super::Summary>, Recorder) {
    let keys = desk.opener();
    let open = move |d: &DeviceDescriptor| -> Result<Box<dyn Authenticator>, DeviceError> {
        Ok(Box::new(FakeKey {
            desc: d.clone(),
            state: keys[&d.spec].clone(),
        }))
    };
    let mut rec = Recorder::default();
    let options = RunOptions {
        policy,
        delivery,
        self_test: None,
    };
    let summary = run(slots, desk, &open, journal, options, &mut rec);
    (summary, rec)
}

fn kinds(rec: &Recorder) -> Vec<&'static str> {
    rec.events
        .iter()
        .map(|e| match e {
            Event::Started { .. } => "started",
            Event::AlreadyDone { .. } => "already_done",
            Event::Waiting { .. } => "waiting",
            Event::KeyAlreadyProvisioned { .. } => "key_already_provisioned",
            Event::Refused { .. } => "refused",
            Event::Failed { .. } => "failed",
            Event::Provisioned { .. } => "provisioned",
            Event::Finished { .. } => "finished",
        })
        .collect()
}

#[test]
fn fresh_keys_get_the_policy_and_their_person() {
    let slots = roster("name,keys\nAda,2\nBob,1\n");
    let mut desk = Desk::new(vec![fresh(), fresh(), fresh()]);
    let mut journal = MemoryJournal::default();
    let policy = Policy::default();
    let (summary, rec) = go(&slots, &mut desk, &mut journal, &policy);
    assert_eq!((summary.done, summary.failed, summary.pending), (3, 0, 0));
    let recorded: Vec<(String, Option<String>)> = journal
        .records
        .iter()
        .map(|(s, k)| (s.label.clone(), k.serial.clone()))
        .collect();
    assert_eq!(
        recorded,
        [
            ("Ada #1".to_string(), Some("S0".to_string())),
            ("Ada #2".into(), Some("S1".into())),
            ("Bob #1".into(), Some("S2".into()))
        ]
    );
    for (i, (label, pin)) in rec.shown.iter().enumerate() {
        let state = desk.state(i);
        assert_eq!(state.pin.as_deref(), Some(pin.as_str()), "{label}");
        assert_eq!(pin.len(), 8);
        assert_eq!(state.min_pin_length, 6);
        assert!(state.force_change);
    }
    assert!(journal
        .records
        .iter()
        .all(|(_, k)| k.pin_state == PinState::SetMustChange));
}

#[test]
fn a_key_with_a_pin_is_refused_and_the_slot_waits_for_the_next_key() {
    let slots = roster("name\nAda\n");
    let used = State {
        pin: Some("123456".into()),
        ..fresh()
    };
    let mut desk = Desk::new(vec![used, fresh()]);
    let mut journal = MemoryJournal::default();
    let (summary, rec) = go(&slots, &mut desk, &mut journal, &Policy::default());
    assert_eq!(summary.done, 1);
    assert_eq!(
        kinds(&rec),
        ["started", "waiting", "refused", "provisioned", "finished"]
    );
    let Event::Refused { reason, .. } = &rec.events[2] else {
        unreachable!()
    };
    assert!(reason.contains("a PIN is already set"), "{reason}");
    assert_eq!(desk.state(0).pin.as_deref(), Some("123456"), "untouched");
    assert_eq!(journal.records[0].1.serial.as_deref(), Some("S1"));
}

#[test]
fn erasing_is_allowed_only_by_policy_and_only_in_the_reset_window() {
    let slots = roster("name\nAda\n");
    let late = State {
        pin: Some("123456".into()),
        in_reset_window: false,
        ..fresh()
    };
    let early = State {
        pin: Some("123456".into()),
        credentials: 3,
        ..fresh()
    };
    let mut desk = Desk::new(vec![late, early]);
    let mut journal = MemoryJournal::default();
    let policy = Policy {
        erase_non_fresh_keys: true,
        ..Policy::default()
    };
    let (summary, rec) = go(&slots, &mut desk, &mut journal, &policy);
    assert_eq!(summary.done, 1);
    let Event::Refused { reason, .. } = &rec.events[2] else {
        panic!("{:?}", rec.events)
    };
    assert!(reason.contains("within about 10 seconds"), "{reason}");
    assert_eq!(desk.state(1).credentials, 0, "erased, then provisioned");
    assert_eq!(journal.records[0].1.serial.as_deref(), Some("S1"));
}

#[test]
fn a_key_with_passkeys_but_no_pin_fails_and_says_to_reset_it() {
    let slots = roster("name\nAda\n");
    let mut desk = Desk::new(vec![
        State {
            credentials: 2,
            ..fresh()
        },
        fresh(),
    ]);
    let mut journal = MemoryJournal::default();
    let (summary, rec) = go(&slots, &mut desk, &mut journal, &Policy::default());
    let Event::Failed {
        reason,
        key_changed,
        ..
    } = &rec.events[2]
    else {
        panic!("{:?}", rec.events)
    };
    assert!(reason.contains("2 passkey(s)") && *key_changed, "{reason}");
    // The slot was tried and failed in this run; the spare key is not used for it.
    assert_eq!((summary.done, summary.failed), (0, 1));
    assert_eq!(journal.failures.len(), 1);
    assert!(journal.records.is_empty());
}

#[test]
fn a_key_pulled_out_mid_way_fails_its_slot_and_the_run_goes_on() {
    let slots = roster("name\nAda\nBob\n");
    let pulled = State {
        commands_left: Some(3),
        ..fresh()
    };
    let mut desk = Desk::new(vec![pulled, fresh()]);
    let mut journal = MemoryJournal::default();
    let (summary, rec) = go(&slots, &mut desk, &mut journal, &Policy::default());
    assert_eq!(
        kinds(&rec),
        [
            "started",
            "waiting",
            "failed",
            "waiting",
            "provisioned",
            "finished"
        ]
    );
    let Event::Failed { reason, slot, .. } = &rec.events[2] else {
        unreachable!()
    };
    assert_eq!(slot.label, "Ada #1");
    assert!(reason.contains("unplugged"), "{reason}");
    assert_eq!((summary.done, summary.failed, summary.pending), (1, 1, 0));
    assert_eq!(journal.records.len(), 1);
    assert_eq!(journal.records[0].0.label, "Bob #1");
    assert!(
        rec.shown.iter().all(|(l, _)| l == "Bob #1"),
        "no PIN shown for a failed slot"
    );

    // A rerun offers the failed slot first and skips the one done.
    let mut desk2 = Desk::new(vec![fresh()]);
    let (summary, rec) = go(&slots, &mut desk2, &mut journal, &Policy::default());
    assert_eq!(
        kinds(&rec),
        [
            "started",
            "already_done",
            "waiting",
            "provisioned",
            "finished"
        ]
    );
    assert_eq!((summary.done, summary.pending), (2, 0));
    assert_eq!(journal.records[1].0.label, "Ada #1");
}

#[test]
fn a_key_already_recorded_is_left_alone_on_a_rerun() {
    let slots = roster("name\nAda\nBob\n");
    let mut desk = Desk::new(vec![fresh()]);
    let mut journal = MemoryJournal::default();
    go(&slots, &mut desk, &mut journal, &Policy::default());
    // The same key comes round again, then a new one.
    let before = desk.state(0);
    let mut again = Desk::new(vec![before.clone(), fresh()]);
    again.keys[1].0.serial = Some("S9".into());
    let (summary, rec) = go(&slots, &mut again, &mut journal, &Policy::default());
    assert!(kinds(&rec).contains(&"key_already_provisioned"));
    assert_eq!(summary.done, 2);
    assert_eq!(journal.records.len(), 2, "no slot twice");
    assert_eq!(journal.records[1].0.label, "Bob #1");
    assert!(journal.is_done(&slots[0]).unwrap());
}

#[test]
fn set_at_enrollment_leaves_the_key_without_a_pin() {
    let slots = roster("name\nAda\n");
    let mut desk = Desk::new(vec![fresh()]);
    let mut journal = MemoryJournal::default();
    let policy = Policy {
        first_pin: FirstPin::SetAtEnrollment,
        force_pin_change: false,
        always_uv: true,
        ..Policy::default()
    };
    let (summary, rec) = go(&slots, &mut desk, &mut journal, &policy);
    assert_eq!(summary.done, 1);
    assert!(rec.shown.is_empty());
    let state = desk.state(0);
    assert!(state.pin.is_none() && state.always_uv);
    assert_eq!(state.min_pin_length, 6);
    assert_eq!(
        journal.records[0].1.pin_state,
        PinState::NotSetPersonSetsAtEnrollment
    );
}

#[test]
fn running_out_of_keys_leaves_slots_pending() {
    let slots = roster("name,keys\nAda,3\n");
    let mut desk = Desk::new(vec![fresh()]);
    let mut journal = MemoryJournal::default();
    let (summary, _) = go(&slots, &mut desk, &mut journal, &Policy::default());
    assert_eq!((summary.done, summary.pending), (1, 2));
}

/// A disk with room for `room` more bytes, then "no space left", as a mailer file.
struct FillingDisk {
    data: Arc<Mutex<Vec<u8>>>,
    room: usize,
}

impl std::io::Write for FillingDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "No space left on device",
            ));
        }
        let n = buf.len().min(self.room);
        self.data.lock().unwrap().extend_from_slice(&buf[..n]);
        self.room -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl super::mailer::MailerSink for FillingDisk {
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.data.lock().unwrap().truncate(len as usize);
        Ok(())
    }
}

#[test]
fn a_full_disk_mid_run_fails_that_key_stops_the_run_and_leaves_no_half_line() {
    let slots = roster("name\nAda\nBob\nCy\n");
    let mut desk = Desk::new(vec![fresh(), fresh(), fresh()]);
    let mut journal = MemoryJournal::default();
    let data = Arc::new(Mutex::new(Vec::new()));
    // Room for the header, Ada's line and half of Bob's.
    let ada_line_len = "Ada #1,Ada,,S0,12345678\n".len();
    let disk = FillingDisk {
        data: data.clone(),
        room: super::mailer::HEADER.len() + ada_line_len + 15,
    };
    let mailer = super::PinMailer::with_sink(Path::new("pins.csv"), Box::new(disk)).unwrap();
    let (result, rec) = go_with(
        &slots,
        &mut desk,
        &mut journal,
        &Policy::default(),
        PinDelivery::Mailer(mailer),
    );

    // The file holds whole lines only: the header and Ada's, with Ada's real PIN.
    let ada_pin = desk.state(0).pin.unwrap();
    let text = String::from_utf8(data.lock().unwrap().clone()).unwrap();
    assert_eq!(
        text,
        format!("{}Ada #1,Ada,,S0,{ada_pin}\n", super::mailer::HEADER)
    );
    // Bob's key got a PIN that is nowhere: its slot failed, saying so; Cy's key was not touched.
    let bob_pin = desk.state(1).pin.expect("Bob's key got its PIN");
    assert!(desk.state(2).pin.is_none(), "no key after the failure");
    assert_eq!(
        kinds(&rec),
        [
            "started",
            "waiting",
            "provisioned",
            "waiting",
            "failed",
            "finished"
        ]
    );
    let Event::Failed {
        slot,
        reason,
        key_changed,
        ..
    } = &rec.events[4]
    else {
        unreachable!()
    };
    assert_eq!(slot.label, "Bob #1");
    assert!(*key_changed);
    assert!(
        reason.contains("No space left") && reason.contains("reset it"),
        "{reason}"
    );
    assert_eq!(journal.records.len(), 1);
    assert_eq!(journal.failures.len(), 1);
    assert_eq!(journal.failures[0].0.label, "Bob #1");

    let err = result.expect_err("the run stops with an error");
    let message = err.to_string();
    assert!(
        message.contains("Bob #1")
            && message.contains("1 of 3 slot(s) done, 1 failed, 1 still to do"),
        "{message}"
    );
    assert_eq!(err.exit_code(), crate::error::ExitCode::Failure);
    // Bob's PIN is in no event, no recorded reason and no error.
    let everything = format!("{:?} {:?} {message}", rec.events, journal.failures);
    assert!(!everything.contains(&bob_pin));
    assert!(!everything.contains(&ada_pin));
}

#[test]
fn a_key_whose_set_pin_answer_is_lost_is_reported_as_changed() {
    let slots = roster("name\nAda\n");
    let lost = State {
        lose_set_pin_reply: true,
        ..fresh()
    };
    let mut desk = Desk::new(vec![lost]);
    let mut journal = MemoryJournal::default();
    let (summary, rec) = go(&slots, &mut desk, &mut journal, &Policy::default());
    assert_eq!(summary.failed, 1);
    let Event::Failed { key_changed, .. } = &rec.events[2] else {
        panic!("{:?}", rec.events)
    };
    assert!(desk.state(0).pin.is_some());
    assert!(
        *key_changed,
        "the key holds a PIN nobody knows: it must be reset"
    );
}

#[test]
fn a_failed_erase_after_the_pin_was_set_is_reported_as_changed() {
    let slots = roster("name\nAda\n");
    // getInfo, setPIN, unlock, credential metadata; then gone during the erase.
    let used = State {
        credentials: 2,
        commands_left: Some(4),
        ..fresh()
    };
    let mut desk = Desk::new(vec![used]);
    let mut journal = MemoryJournal::default();
    let policy = Policy {
        erase_non_fresh_keys: true,
        ..Policy::default()
    };
    let (summary, rec) = go(&slots, &mut desk, &mut journal, &policy);
    assert_eq!(summary.failed, 1);
    let Event::Failed {
        key_changed,
        reason,
        ..
    } = &rec.events[2]
    else {
        panic!("{:?}", rec.events)
    };
    assert!(reason.contains("erasing"), "{reason}");
    assert!(desk.state(0).pin.is_some());
    assert!(
        *key_changed,
        "the key holds a PIN nobody knows: it must be reset"
    );
}

#[test]
fn random_pins_with_nowhere_to_go_are_refused_before_any_key_gets_one() {
    let slots = roster("name\nAda\n");
    let mut desk = Desk::new(vec![fresh()]);
    let mut journal = MemoryJournal::default();
    let (result, rec) = go_with(
        &slots,
        &mut desk,
        &mut journal,
        &Policy::default(),
        PinDelivery::None,
    );
    assert!(result.is_err());
    assert!(rec.events.is_empty());
    assert!(desk.state(0).pin.is_none(), "the key was not given a PIN");
}

/// A ledger that fails when a key (or, with `failures_too`, a failed slot) is to be recorded.
struct BrokenLedger {
    failures_too: bool,
}

fn ledger_error() -> crate::error::Error {
    crate::error::Error::Io {
        context: "writing the ledger".into(),
        source: std::io::Error::other("disk I/O error"),
    }
}

impl Journal for BrokenLedger {
    fn is_done(&mut self, _: &Slot) -> crate::error::Result<bool> {
        Ok(false)
    }
    fn label_of_key(&mut self, _: &str) -> crate::error::Result<Option<String>> {
        Ok(None)
    }
    fn record(&mut self, _: &Slot, _: &super::journal::KeyRecord) -> crate::error::Result<()> {
        Err(ledger_error())
    }
    fn record_failed(&mut self, _: &Slot, _: &str) -> crate::error::Result<()> {
        match self.failures_too {
            true => Err(ledger_error()),
            false => Ok(()),
        }
    }
}

#[test]
fn a_key_the_ledger_cannot_record_is_reported_failed_before_the_run_stops() {
    let slots = roster("name\nAda\n");
    let mut desk = Desk::new(vec![fresh()]);
    let (result, rec) = go_with(
        &slots,
        &mut desk,
        &mut BrokenLedger {
            failures_too: false,
        },
        &Policy::default(),
        PinDelivery::Operator,
    );
    assert!(result.is_err());
    let Some(Event::Failed {
        slot,
        reason,
        key_changed,
        ..
    }) = rec.events.last()
    else {
        panic!("{:?}", rec.events)
    };
    assert_eq!(slot.label, "Ada #1");
    assert!(*key_changed);
    assert!(
        reason.contains("could not be recorded in the ledger") && reason.contains("reset it"),
        "{reason}"
    );
    assert!(
        rec.shown.is_empty(),
        "no PIN shown for a key not provisioned"
    );
}

#[test]
fn a_failed_key_is_reported_even_when_the_ledger_cannot_record_the_failure() {
    let slots = roster("name\nAda\n");
    let pulled = State {
        commands_left: Some(3),
        ..fresh()
    };
    let mut desk = Desk::new(vec![pulled]);
    let (result, rec) = go_with(
        &slots,
        &mut desk,
        &mut BrokenLedger { failures_too: true },
        &Policy::default(),
        PinDelivery::Operator,
    );
    assert!(result.is_err());
    let Some(Event::Failed {
        key_changed,
        reason,
        ..
    }) = rec.events.last()
    else {
        panic!("{:?}", rec.events)
    };
    assert!(reason.contains("unplugged") && *key_changed, "{reason}");
}
