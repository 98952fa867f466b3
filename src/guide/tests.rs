//! The flow end to end over an in-memory key and a temporary ledger, answered by a script.

use super::*;
use crate::device::*;
use crate::ledger::{Actor, Ledger, MethodStatus, PersonSummary, PinState};
use crate::pin::Pin;
use crate::playbook::Catalog;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct KeyState {
    pin: Option<String>,
    force_change: bool,
    creds: Vec<RpCredentials>,
    unlocks: u32,
}

/// A FIDO2 key that stores what it is given; shared state so a test can look afterwards.
struct FakeKey {
    desc: DeviceDescriptor,
    state: Arc<Mutex<KeyState>>,
}

impl Authenticator for FakeKey {
    fn descriptor(&self) -> &DeviceDescriptor {
        &self.desc
    }
    fn info(&mut self) -> Result<KeyInfo, DeviceError> {
        let s = self.state.lock().unwrap();
        let mut options = BTreeMap::new();
        options.insert("rk".to_string(), true);
        options.insert("credMgmt".to_string(), true);
        options.insert("clientPin".to_string(), s.pin.is_some());
        Ok(KeyInfo {
            versions: vec!["FIDO_2_0".into(), "FIDO_2_1".into()],
            aaguid: None,
            options,
            extensions: vec![],
            pin_uv_protocols: vec![2],
            min_pin_length: 4,
            force_pin_change: s.force_change,
            firmware_version: None,
            remaining_discoverable_credentials: Some(20),
            transports: vec!["usb".into()],
            algorithms: vec![-7],
        })
    }
    fn pin_retries(&mut self) -> Result<PinRetries, DeviceError> {
        Ok(PinRetries {
            retries: 8,
            power_cycle_required: false,
        })
    }
    fn set_pin(&mut self, new_pin: &Pin) -> Result<(), DeviceError> {
        self.state.lock().unwrap().pin = Some(new_pin.as_str().to_string());
        Ok(())
    }
    fn change_pin(&mut self, current: &Pin, new_pin: &Pin) -> Result<(), DeviceError> {
        let mut s = self.state.lock().unwrap();
        if s.pin.as_deref() != Some(current.as_str()) {
            return Err(DeviceError::PinInvalid { retries_left: None });
        }
        s.pin = Some(new_pin.as_str().to_string());
        s.force_change = false;
        Ok(())
    }
    fn unlock(&mut self, pin: &Pin) -> Result<(), DeviceError> {
        let mut s = self.state.lock().unwrap();
        s.unlocks += 1;
        match &s.pin {
            Some(_) if s.force_change => Err(DeviceError::PinChangeRequired),
            Some(p) if p == pin.as_str() => Ok(()),
            Some(_) => Err(DeviceError::PinInvalid { retries_left: None }),
            None => Err(DeviceError::PinNotSet),
        }
    }
    fn credential_metadata(&mut self) -> Result<CredentialMetadata, DeviceError> {
        unsupported()
    }
    fn list_credentials(&mut self) -> Result<Vec<RpCredentials>, DeviceError> {
        Ok(self.state.lock().unwrap().creds.clone())
    }
    fn delete_credential(&mut self, _: &[u8]) -> Result<(), DeviceError> {
        unsupported()
    }
    fn set_min_pin_length(
        &mut self,
        _: Option<u32>,
        _: &[String],
        _: bool,
    ) -> Result<(), DeviceError> {
        unsupported()
    }
    fn toggle_always_uv(&mut self) -> Result<bool, DeviceError> {
        unsupported()
    }
    fn make_credential(
        &mut self,
        req: &MakeCredentialRequest,
    ) -> Result<MadeCredential, DeviceError> {
        let mut s = self.state.lock().unwrap();
        // Unique across keys, as real credential ids are.
        static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);
        let id = vec![NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed); 16];
        s.creds.push(RpCredentials {
            rp_id: req.rp_id.clone(),
            rp_name: None,
            credentials: vec![StoredCredential {
                credential_id: id.clone(),
                user_id: req.user_id.clone(),
                user_name: Some(req.user_name.clone()),
                user_display_name: None,
                cred_protect: None,
            }],
        });
        Ok(MadeCredential {
            credential_id: id,
            attestation_object: vec![],
            attestation_format: "none".into(),
            auth_data: vec![],
            aaguid: None,
            attestation_certificates: vec![],
            user_verified: true,
            sign_count: 0,
        })
    }
    fn get_assertion(&mut self, _: &AssertionRequest) -> Result<Assertion, DeviceError> {
        unsupported()
    }
    fn selection(&mut self, _: std::time::Duration) -> Result<(), DeviceError> {
        Ok(())
    }
    fn wink(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
    fn reset(&mut self) -> Result<(), DeviceError> {
        unsupported()
    }
}

fn unsupported<T>() -> Result<T, DeviceError> {
    Err(DeviceError::Unsupported {
        what: "this in the fake".into(),
    })
}

struct FakeKeys {
    keys: Vec<(DeviceDescriptor, Arc<Mutex<KeyState>>)>,
    /// Which of `keys` are plugged in now.
    plugged: Arc<Mutex<Vec<bool>>>,
}

impl FakeKeys {
    fn two() -> FakeKeys {
        FakeKeys::new(&[Some("s-one"), Some("s-two")])
    }

    /// Keys that reveal these serials (`None`: no serial, as many real keys), all plugged in.
    fn new(serials: &[Option<&str>]) -> FakeKeys {
        let keys = serials
            .iter()
            .enumerate()
            .map(|(i, serial)| {
                (
                    DeviceDescriptor {
                        spec: format!("fake:{}", serial.unwrap_or(&format!("no-serial-{i}"))),
                        backend: Backend::Virtual,
                        vendor_id: None,
                        product_id: None,
                        manufacturer: Some("test".into()),
                        product: Some("Fake key".into()),
                        serial: serial.map(String::from),
                    },
                    Arc::new(Mutex::new(KeyState::default())),
                )
            })
            .collect::<Vec<_>>();
        FakeKeys {
            plugged: Arc::new(Mutex::new(vec![true; keys.len()])),
            keys,
        }
    }

    fn creds(&self, i: usize) -> Vec<RpCredentials> {
        self.keys[i].1.lock().unwrap().creds.clone()
    }
}

impl KeySource for FakeKeys {
    fn present(&mut self) -> crate::Result<Vec<DeviceDescriptor>> {
        let plugged = self.plugged.lock().unwrap();
        Ok(self
            .keys
            .iter()
            .zip(plugged.iter())
            .filter(|(_, p)| **p)
            .map(|((d, _), _)| d.clone())
            .collect())
    }
    fn open(&mut self, desc: &DeviceDescriptor) -> crate::Result<Box<dyn Authenticator>> {
        let (d, s) = self.keys.iter().find(|(d, _)| d == desc).unwrap();
        Ok(Box::new(FakeKey {
            desc: d.clone(),
            state: s.clone(),
        }))
    }
}

/// The website: a discoverable credential for the path's first RP ID and the account name.
struct Website;

impl StandIn for Website {
    fn act(
        &mut self,
        key: &mut dyn Authenticator,
        _: &crate::playbook::Playbook,
        path: &crate::playbook::EnrollmentPath,
        account: &crate::ledger::Account,
    ) -> crate::Result<()> {
        let Some(rp) = path.verification.rp_ids.first() else {
            return Ok(());
        };
        let already = key.list_credentials()?.iter().any(|r| {
            &r.rp_id == rp
                && r.credentials
                    .iter()
                    .any(|c| c.user_name.as_deref() == Some(account.identifier.as_str()))
        });
        if !already {
            key.make_credential(&MakeCredentialRequest {
                client_data_hash: [0; 32],
                rp_id: rp.clone(),
                rp_name: None,
                user_id: vec![1],
                user_name: account.identifier.clone(),
                user_display_name: None,
                discoverable: true,
                user_verification: true,
                exclude_credentials: vec![],
            })?;
        }
        Ok(())
    }
}

fn answers(extra: &[(&str, Answer)]) -> ScriptedPrompter {
    let t = |s: &str| Answer::Text(s.into());
    let mut a: BTreeMap<String, Answer> = BTreeMap::new();
    a.insert("person.new".into(), Answer::Bool(true));
    a.insert("keys.count".into(), t("2"));
    a.insert("keys.a.device".into(), t("fake:s-one"));
    a.insert("key.*.set_pin".into(), Answer::Bool(true));
    a.insert("account.google.identifier".into(), t("ada@example.com"));
    a.insert("account.apple.identifier".into(), t("ada@icloud.example"));
    a.insert("account.*.platform".into(), t("web"));
    a.insert("account.apple.platform".into(), t("iphone"));
    a.insert("step.*.*.done".into(), Answer::Bool(true));
    a.insert("confirm.*.*.enrolled".into(), Answer::Bool(true));
    a.insert("method.*.*.status".into(), t("on"));
    a.insert("method.*.*.outcome".into(), t("removed"));
    for (k, v) in extra {
        a.insert(k.to_string(), v.clone());
    }
    let file = AnswersFile::from_entries(std::path::Path::new("test"), a).unwrap();
    ScriptedPrompter::with_pin_source(file, Box::new(|_| Ok(Pin::new("4812")))).quiet()
}

fn run(
    ledger: &mut Ledger,
    keys: &mut FakeKeys,
    prompter: &mut dyn Prompter,
    website: bool,
) -> crate::Result<Outcome> {
    run_playbooks(ledger, keys, prompter, website, &["google", "apple"])
}

fn run_playbooks(
    ledger: &mut Ledger,
    keys: &mut FakeKeys,
    prompter: &mut dyn Prompter,
    website: bool,
    playbooks: &[&str],
) -> crate::Result<Outcome> {
    let catalog = Catalog::load(None).unwrap();
    let mut site = Website;
    Guide {
        prompter,
        record: ledger,
        catalog: &catalog,
        keys,
        stand_in: if website { Some(&mut site) } else { None },
        provider: None,
        actor: Actor::operator("sam"),
        pins: Default::default(),
        options: Options {
            person: Some("Ada Lovelace".into()),
            playbooks: playbooks.iter().map(|p| p.to_string()).collect(),
            allow_low_retries: false,
        },
    }
    .run()
}

#[test]
fn whole_flow_records_keys_enrollments_and_methods() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let mut keys = FakeKeys::two();
    let mut p = answers(&[("method.google.sms.outcome", Answer::Text("later".into()))]);
    let out = run(&mut ledger, &mut keys, &mut p, true).unwrap();
    assert!(out.left_for_later.is_empty(), "{:?}", out.left_for_later);
    let status = ledger.person_status(out.person.id).unwrap();
    assert_eq!(status.keys.len(), 2);
    let google = status
        .accounts
        .iter()
        .find(|a| a.account.playbook == "google")
        .unwrap();
    assert_eq!(google.enrollments.len(), 2);
    assert!(google.enrollments.iter().all(|e| e.enrollment.evidence
        == crate::ledger::Evidence::SeenOnKey
        && e.enrollment.detail.rp_id.as_deref() == Some("google.com")));
    let apple = status
        .accounts
        .iter()
        .find(|a| a.account.playbook == "apple")
        .unwrap();
    assert!(apple
        .enrollments
        .iter()
        .all(|e| e.enrollment.evidence == crate::ledger::Evidence::ConfirmedByOperator));
    assert_eq!(status.remaining.len(), 1);
    assert_eq!(status.remaining[0].method, "sms");
    assert_eq!(status.remaining[0].status, MethodStatus::Present);
    // Both keys got the PIN and were unlocked to be looked at.
    for (_, s) in &keys.keys {
        let s = s.lock().unwrap();
        assert_eq!(s.pin.as_deref(), Some("4812"));
        assert!(s.unlocks >= 1);
    }

    // A second run finds everything done: no question is asked at all.
    let mut silent = ScriptedPrompter::with_pin_source(
        AnswersFile::from_entries(std::path::Path::new("empty"), BTreeMap::new()).unwrap(),
        Box::new(|_| Ok(Pin::new("4812"))),
    )
    .quiet();
    let again = run(&mut ledger, &mut keys, &mut silent, true).unwrap();
    assert!(again.left_for_later.is_empty());
    assert_eq!(
        status_without_seen(&ledger, &status),
        status,
        "nothing recorded twice"
    );
}

/// The status, ignoring `last_seen` (a rerun sees the keys again).
fn status_without_seen(
    ledger: &Ledger,
    before: &crate::ledger::PersonStatus,
) -> crate::ledger::PersonStatus {
    let mut now = ledger.person_status(before.person.id).unwrap();
    for (k, b) in now.keys.iter_mut().zip(&before.keys) {
        k.last_seen = b.last_seen.clone();
    }
    now
}

#[test]
fn a_step_answered_not_yet_stops_that_account_and_a_rerun_resumes_there() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let mut keys = FakeKeys::two();
    // The steps after the PIN step up to the check are one visit to the website, answered once
    // under the id of the last of them (the PIN step is skipped: the key got its PIN just
    // before).
    let visit = google_visit_done_id();
    let mut p = answers(&[(visit.as_str(), Answer::Bool(false))]);
    let out = run(&mut ledger, &mut keys, &mut p, true).unwrap();
    assert_eq!(out.left_for_later.len(), 1, "{:?}", out.left_for_later);
    let status = ledger.person_status(out.person.id).unwrap();
    assert_eq!(
        status.unfinished.as_deref(),
        Some("Google Account, Key A, step 2"),
        "the record says the enrollment is unfinished"
    );
    assert!(!PersonSummary::from(status.clone()).all_done());
    let google = status
        .accounts
        .iter()
        .find(|a| a.account.playbook == "google")
        .unwrap();
    assert!(google.enrollments.is_empty());
    assert!(
        google
            .methods
            .iter()
            .all(|m| m.status == MethodStatus::Unknown),
        "weaker methods are not asked about before a key is in: {:?}",
        google.methods
    );
    assert!(
        !google.methods.is_empty(),
        "but they are on the record as not checked"
    );

    // The rerun picks up at that visit for the first key; the second key then gets it too.
    // Nothing answered before is asked again: not the platform, not how many keys.
    let t = |s: &str| Answer::Text(s.into());
    let mut a = BTreeMap::new();
    a.insert("step.google.*.done".to_string(), Answer::Bool(true));
    a.insert("method.*.*.status".to_string(), t("off"));
    let rest = ScriptedPrompter::with_pin_source(
        AnswersFile::from_entries(std::path::Path::new("rest"), a).unwrap(),
        Box::new(|_| Ok(Pin::new("4812"))),
    )
    .quiet();
    let mut rec = Recording::new(rest);
    let out = run(&mut ledger, &mut keys, &mut rec, true).unwrap();
    assert!(out.left_for_later.is_empty(), "{:?}", out.left_for_later);
    let count = |id: &str| rec.asked.iter().filter(|a| *a == id).count();
    assert_eq!(
        count("step.google.1.done"),
        0,
        "the PIN step is skipped: {:?}",
        rec.asked
    );
    assert_eq!(count(&visit), 2, "{:?}", rec.asked);
    assert_eq!(count("account.google.platform"), 0, "{:?}", rec.asked);
    assert_eq!(count("keys.count"), 0, "two keys are recorded already");
    assert_eq!(count("person.new"), 0);
    let status = ledger.person_status(out.person.id).unwrap();
    let google = status
        .accounts
        .iter()
        .find(|a| a.account.playbook == "google")
        .unwrap();
    assert_eq!(google.enrollments.len(), 2);
    assert!(status.remaining.is_empty());
    assert_eq!(status.unfinished, None, "finished now");
    // "It is off" is not "someone removed it".
    assert!(
        google
            .methods
            .iter()
            .all(|m| matches!(m.status, MethodStatus::Absent | MethodStatus::Kept)),
        "{:?}",
        google.methods
    );
    assert!(google
        .methods
        .iter()
        .any(|m| m.status == MethodStatus::Absent));
}

/// `step.google.N.done`, N the last website step before keyward checks the key.
fn google_visit_done_id() -> String {
    let catalog = Catalog::load(None).unwrap();
    let path = catalog.get("google").unwrap().primary_path().clone();
    let web: Vec<_> = path
        .steps
        .iter()
        .filter(|s| s.applies_to(crate::playbook::Platform::Web))
        .collect();
    let check = web
        .iter()
        .position(|s| s.expects == crate::playbook::Expects::VerifyOnKey)
        .unwrap();
    format!("step.google.{check}.done")
}

/// Remembers every question id asked. With `plugged`, it also plays the person at the desk:
/// asked to plug in key "a" or "b", they unplug the other and plug that one in, except for the
/// first `ignored` times they are asked about it (they say yes without swapping).
struct Recording<P: Prompter> {
    inner: P,
    asked: Vec<String>,
    plugged: Option<Arc<Mutex<Vec<bool>>>>,
    ignored: BTreeMap<String, usize>,
}

impl<P: Prompter> Recording<P> {
    fn new(inner: P) -> Self {
        Recording {
            inner,
            asked: Vec::new(),
            plugged: None,
            ignored: BTreeMap::new(),
        }
    }

    fn swapping(inner: P, keys: &FakeKeys, ignored: &[(&str, usize)]) -> Self {
        Recording {
            plugged: Some(keys.plugged.clone()),
            ignored: ignored.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            ..Recording::new(inner)
        }
    }
}

impl<P: Prompter> Prompter for Recording<P> {
    fn info(&mut self, text: &str) {
        self.inner.info(text)
    }
    fn confirm(&mut self, id: &str, q: &str, d: bool) -> crate::Result<bool> {
        self.asked.push(id.into());
        let which = match id {
            "keys.a.plugged" => Some(0),
            "keys.b.plugged" => Some(1),
            _ => None,
        };
        if let (Some(i), Some(plugged)) = (which, &self.plugged) {
            let skip = self.ignored.entry(id.to_string()).or_default();
            if *skip > 0 {
                *skip -= 1;
            } else {
                let mut p = plugged.lock().unwrap();
                for (j, slot) in p.iter_mut().enumerate() {
                    *slot = j == i;
                }
            }
            return Ok(true);
        }
        self.inner.confirm(id, q, d)
    }
    fn choose(&mut self, id: &str, q: &str, c: &[Choice], d: usize) -> crate::Result<String> {
        self.asked.push(id.into());
        self.inner.choose(id, q, c, d)
    }
    fn text(&mut self, id: &str, q: &str, d: Option<&str>) -> crate::Result<String> {
        self.asked.push(id.into());
        self.inner.text(id, q, d)
    }
    fn checklist(
        &mut self,
        id: &str,
        q: &str,
        c: &[Choice],
        t: &[bool],
    ) -> crate::Result<Vec<String>> {
        self.asked.push(id.into());
        self.inner.checklist(id, q, c, t)
    }
    fn has_answer(&self, id: &str) -> bool {
        self.inner.has_answer(id)
    }
    fn secret(&mut self, id: &str, q: &str, k: SecretKind) -> crate::Result<Pin> {
        self.inner.secret(id, q, k)
    }
}

#[test]
fn a_credential_missing_from_the_key_is_not_recorded_as_seen() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let mut keys = FakeKeys::two();
    let mut p = answers(&[("verify.google.not_found", Answer::Text("later".into()))]);
    let out = run(&mut ledger, &mut keys, &mut p, false).unwrap();
    let status = ledger.person_status(out.person.id).unwrap();
    let google = status
        .accounts
        .iter()
        .find(|a| a.account.playbook == "google")
        .unwrap();
    assert!(google.enrollments.is_empty());
    assert!(!out.left_for_later.is_empty());
}

#[test]
fn a_key_prepared_with_a_temporary_pin_gets_the_persons_own_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let mut keys = FakeKeys::two();
    {
        let mut s = keys.keys[0].1.lock().unwrap();
        s.pin = Some("0000".into());
        s.force_change = true;
    }
    // The first PIN asked for is the temporary one; every later one is the person's own.
    let mut asked_current = 0;
    let file = AnswersFile::from_entries(std::path::Path::new("t"), {
        let mut a = BTreeMap::new();
        a.insert("person.new".to_string(), Answer::Bool(true));
        a.insert("keys.count".to_string(), Answer::Text("2".into()));
        a.insert(
            "keys.a.device".to_string(),
            Answer::Text("fake:s-one".into()),
        );
        a.insert("key.a.change_pin".to_string(), Answer::Bool(true));
        a.insert("key.b.set_pin".to_string(), Answer::Bool(true));
        a.insert(
            "account.google.identifier".to_string(),
            Answer::Text("ada@example.com".into()),
        );
        a.insert(
            "account.google.platform".to_string(),
            Answer::Text("web".into()),
        );
        a.insert("step.google.*.done".to_string(), Answer::Bool(true));
        a.insert("method.*.*.status".to_string(), Answer::Text("off".into()));
        a
    })
    .unwrap();
    let mut p = ScriptedPrompter::with_pin_source(
        file,
        Box::new(move |kind| {
            Ok(Pin::new(match kind {
                SecretKind::Current if asked_current == 0 => {
                    asked_current += 1;
                    "0000"
                }
                _ => "4812",
            }))
        }),
    )
    .quiet();
    let catalog = Catalog::load(None).unwrap();
    let mut site = Website;
    let out = Guide {
        prompter: &mut p,
        record: &mut ledger,
        catalog: &catalog,
        keys: &mut keys,
        stand_in: Some(&mut site),
        provider: None,
        actor: Actor::operator("sam"),
        pins: Default::default(),
        options: Options {
            person: Some("Ada Lovelace".into()),
            playbooks: vec!["google".into()],
            allow_low_retries: false,
        },
    }
    .run()
    .unwrap();
    assert!(out.left_for_later.is_empty(), "{:?}", out.left_for_later);
    let s = keys.keys[0].1.lock().unwrap();
    assert_eq!(s.pin.as_deref(), Some("4812"));
    assert!(!s.force_change);
    let status = ledger.person_status(out.person.id).unwrap();
    assert!(status
        .keys
        .iter()
        .all(|k| k.pin_state == Some(crate::ledger::PinState::Set)));
    assert_eq!(status.accounts[0].enrollments.len(), 2);
}

fn google_only(
    ledger: &mut Ledger,
    keys: &mut FakeKeys,
    prompter: &mut dyn Prompter,
    website: bool,
) -> crate::Result<Outcome> {
    run_playbooks(ledger, keys, prompter, website, &["google"])
}

/// The credential id recorded for each key label on the google account, hex.
fn google_credentials(ledger: &Ledger) -> BTreeMap<String, Option<String>> {
    credentials_in(ledger, "google")
}

/// The credential id recorded for each key label on the person's account at `playbook`.
fn credentials_in(ledger: &Ledger, playbook: &str) -> BTreeMap<String, Option<String>> {
    let person = ledger.find_person("Ada Lovelace").unwrap();
    let status = ledger.person_status(person.id).unwrap();
    status
        .accounts
        .iter()
        .find(|a| a.account.playbook == playbook)
        .unwrap()
        .enrollments
        .iter()
        .map(|e| {
            (
                e.key_label.clone(),
                e.enrollment.detail.credential_id.clone(),
            )
        })
        .collect()
}

fn only_credential(keys: &FakeKeys, i: usize) -> String {
    let creds = keys.creds(i);
    assert_eq!(creds.len(), 1, "key {i}: {creds:?}");
    assert_eq!(creds[0].credentials.len(), 1, "key {i}: {creds:?}");
    hex::encode(&creds[0].credentials[0].credential_id)
}

#[test]
fn keys_without_a_serial_are_swapped_one_at_a_time_and_each_gets_its_own_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let mut keys = FakeKeys::new(&[None, None]);
    // Only the first key is plugged in when the session starts.
    *keys.plugged.lock().unwrap() = vec![true, false];
    let mut p = Recording::swapping(answers(&[]), &keys, &[]);
    let out = google_only(&mut ledger, &mut keys, &mut p, true).unwrap();
    assert!(out.left_for_later.is_empty(), "{:?}", out.left_for_later);
    // The lone key plugged in was not taken as Key B: the person was asked to swap.
    assert!(
        p.asked.iter().any(|a| a == "keys.b.plugged"),
        "{:?}",
        p.asked
    );
    // Each key holds its own credential, and the ledger records each for the right key.
    let (first, second) = (only_credential(&keys, 0), only_credential(&keys, 1));
    assert_ne!(first, second);
    let recorded = google_credentials(&ledger);
    assert_eq!(recorded.get("Key A"), Some(&Some(first)));
    assert_eq!(recorded.get("Key B"), Some(&Some(second)));
}

#[test]
fn a_key_without_a_serial_holding_another_keys_credential_is_not_recorded_for_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let mut keys = FakeKeys::new(&[None, None]);
    *keys.plugged.lock().unwrap() = vec![true, false];
    // The person says "ready" for Key B twice without swapping: Key A stays plugged in, so
    // the first look at "Key B" finds Key A's google credential.
    let mut p = Recording::swapping(
        answers(&[("verify.google.not_found", Answer::Text("later".into()))]),
        &keys,
        &[("keys.b.plugged", 2)],
    );
    let out = google_only(&mut ledger, &mut keys, &mut p, true).unwrap();
    let first = only_credential(&keys, 0);
    let recorded = google_credentials(&ledger);
    assert_eq!(recorded.get("Key A"), Some(&Some(first.clone())));
    assert_ne!(
        recorded.get("Key B"),
        Some(&Some(first)),
        "Key A's credential recorded as seen on Key B"
    );
    // keyward looks for Key B again after the person comes back from the website (it lets
    // go of the keys meanwhile), so the person may have swapped by then: Key B is then
    // verified with its own credential; otherwise it is left for later.
    match recorded.get("Key B") {
        Some(Some(cred)) => assert_eq!(cred, &only_credential(&keys, 1)),
        _ => assert!(!out.left_for_later.is_empty(), "Key B is left for later"),
    }
}

#[test]
fn after_a_key_is_lost_the_new_key_gets_a_fresh_label_and_weaker_methods_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let mut keys = FakeKeys::two();
    // First session: one key only, weaker methods not checked yet.
    let mut p = answers(&[
        ("keys.count", Answer::Text("1".into())),
        ("keys.one_only", Answer::Bool(true)),
        ("method.*.*.status", Answer::Text("unknown".into())),
    ]);
    google_only(&mut ledger, &mut keys, &mut p, true).unwrap();
    let person = ledger.find_person("Ada Lovelace").unwrap();
    let key_a = ledger.find_key("Key A", Some(person.id)).unwrap();
    ledger
        .set_key_state(
            &Actor::operator("sam"),
            key_a.id,
            crate::ledger::KeyState::Lost,
            None,
        )
        .unwrap();

    // Second session with the other key; its credential is not on it yet, and the lost key
    // is not removed from the account yet.
    let rest = answers(&[
        ("keys.count", Answer::Text("1".into())),
        ("keys.one_only", Answer::Bool(true)),
        ("verify.google.not_found", Answer::Text("later".into())),
        ("replace.google.a.removed", Answer::Bool(false)),
    ]);
    let mut rec = Recording::new(rest);
    let out = google_only(&mut ledger, &mut keys, &mut rec, false).unwrap();
    let labels: Vec<(String, crate::ledger::KeyState)> = ledger
        .keys_of(person.id)
        .unwrap()
        .into_iter()
        .map(|k| (k.label, k.state))
        .collect();
    assert_eq!(
        labels,
        vec![
            ("Key A".to_string(), crate::ledger::KeyState::Lost),
            ("Key B".to_string(), crate::ledger::KeyState::Active)
        ]
    );
    // Only the lost key is enrolled: removing SMS and the rest now could lock Ada out.
    assert!(
        !rec.asked.iter().any(|a| a.starts_with("method.")),
        "{:?}",
        rec.asked
    );
    assert!(rec.asked.iter().any(|a| a == "replace.google.a.removed"));
    assert!(out
        .left_for_later
        .iter()
        .any(|l| l.contains("remove Key A")));
    let status = ledger.person_status(person.id).unwrap();
    assert_eq!(status.needing_replacement().len(), 1);

    // Third session: the key is on the website now and Key A was removed from the account.
    let mut done = answers(&[
        ("keys.count", Answer::Text("1".into())),
        ("keys.one_only", Answer::Bool(true)),
        ("replace.google.a.removed", Answer::Bool(true)),
    ]);
    let out = google_only(&mut ledger, &mut keys, &mut done, true).unwrap();
    assert!(out.left_for_later.is_empty(), "{:?}", out.left_for_later);
    let status = ledger.person_status(person.id).unwrap();
    assert!(status.needing_replacement().is_empty());
    let google = &status.accounts[0];
    assert_eq!(
        google
            .enrollments
            .iter()
            .map(|e| e.key_label.as_str())
            .collect::<Vec<_>>(),
        vec!["Key B"]
    );
    assert!(google
        .methods
        .iter()
        .all(|m| m.status != MethodStatus::Unknown));
    assert!(ledger.verify_audit().unwrap().ok);
}

#[test]
fn a_look_alike_key_known_from_another_account_is_not_recorded_for_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let mut keys = FakeKeys::new(&[None, None]);
    *keys.plugged.lock().unwrap() = vec![true, false];
    let mut p = Recording::swapping(answers(&[]), &keys, &[]);
    // First session: Google, each key's credential seen on it and recorded.
    google_only(&mut ledger, &mut keys, &mut p, true).unwrap();
    // Second session, Microsoft: the second key is plugged in, and the person says "ready"
    // for Key A twice without swapping. Its Microsoft credential is new, so this account alone
    // cannot tell the keys apart; the Google credential recorded for Key B can.
    *keys.plugged.lock().unwrap() = vec![false, true];
    let mut p = Recording::swapping(
        answers(&[
            (
                "account.microsoft-entra.identifier",
                Answer::Text("ada@contoso.example".into()),
            ),
            (
                "verify.microsoft-entra.not_found",
                Answer::Text("later".into()),
            ),
        ]),
        &keys,
        &[("keys.a.plugged", 2)],
    );
    run_playbooks(&mut ledger, &mut keys, &mut p, true, &["microsoft-entra"]).unwrap();
    let on_second: Vec<String> = keys
        .creds(1)
        .iter()
        .flat_map(|r| r.credentials.iter().map(|c| hex::encode(&c.credential_id)))
        .collect();
    assert_eq!(on_second.len(), 2, "Google and Microsoft: {on_second:?}");
    let recorded = credentials_in(&ledger, "microsoft-entra");
    assert!(
        recorded
            .get("Key A")
            .is_none_or(|c| c.as_ref().is_none_or(|c| !on_second.contains(c))),
        "Key B's Microsoft credential recorded as seen on Key A: {recorded:?}"
    );
}

/// Issue 11, item 2: an older keyward killed between recording an account and its weaker
/// methods left the account without any; the next run records them as not checked yet, even
/// when it stops before the methods are gone through, so they are back on the to-do list.
#[test]
fn an_account_recorded_without_its_weaker_methods_gets_them_back_on_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let a = Actor::operator("sam");
    let person = ledger.upsert_person(&a, "Ada Lovelace", None).unwrap();
    let google = ledger
        .add_account(&a, person.id, "google", "ada@example.com")
        .unwrap();
    assert!(ledger.methods_of(google.id).unwrap().is_empty());
    let mut keys = FakeKeys::two();
    let visit = google_visit_done_id();
    let mut p = answers(&[(visit.as_str(), Answer::Bool(false))]);
    run_playbooks(&mut ledger, &mut keys, &mut p, true, &["google"]).unwrap();
    let offered = Catalog::load(None)
        .unwrap()
        .get("google")
        .unwrap()
        .weaker_methods
        .len();
    let methods = ledger.methods_of(google.id).unwrap();
    assert_eq!(methods.len(), offered, "{methods:?}");
    // No key is in the account yet: they wait for one (never "nothing to do").
    let status = ledger.person_status(person.id).unwrap();
    assert!(
        status.waiting.iter().any(|r| r.method == "sms"),
        "{:?}",
        status.waiting
    );
    assert!(ledger.verify_audit().unwrap().ok);
}

/// Issue 11, item 2: a run stopped between changing a key's PIN and recording it (here: the
/// temporary PIN was replaced, the ledger still says "must change at first use") is settled at
/// the next run by asking the key, with an audit entry saying so.
#[test]
fn a_key_change_interrupted_before_it_was_recorded_is_settled_by_asking_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let mut keys = FakeKeys::two();
    let mut p = answers(&[]);
    let out = run(&mut ledger, &mut keys, &mut p, true).unwrap();
    let key = ledger.keys_of(out.person.id).unwrap()[0].clone();
    let sam = Actor::operator("sam");
    // What an interrupted run leaves: the intent, and the record from before the change.
    ledger
        .set_pin_state(&sam, key.id, PinState::SetMustChange)
        .unwrap();
    ledger
        .write(&sam, |w| w.begin_key_change(key.id, "change_pin"))
        .unwrap();
    let mut silent = ScriptedPrompter::with_pin_source(
        AnswersFile::from_entries(std::path::Path::new("empty"), BTreeMap::new()).unwrap(),
        Box::new(|_| Ok(Pin::new("4812"))),
    )
    .quiet();
    run(&mut ledger, &mut keys, &mut silent, true).unwrap();
    let now = ledger.find_key(&format!("#{}", key.id), None).unwrap();
    assert_eq!(
        now.pin_state,
        Some(PinState::Set),
        "the key has no force-change flag"
    );
    assert_eq!(ledger.pending_key_change(key.id).unwrap(), None);
    let settled = ledger
        .audit_entries()
        .unwrap()
        .into_iter()
        .rfind(|e| e.action == "key.change.settled")
        .expect("a settled entry");
    assert!(
        settled
            .detail
            .contains("\"settled_after_an_interruption\":true"),
        "{}",
        settled.detail
    );
    assert!(ledger.verify_audit().unwrap().ok);
}

/// An older keyward recorded Advanced Protection as a second account with the Google account's
/// address. Resuming goes through the Advanced Protection one alone: Google's steps are not
/// done twice, and the run finishes.
#[test]
fn a_ledger_with_google_twice_from_an_older_run_resumes_through_one_account() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let a = Actor::operator("sam");
    let person = ledger.upsert_person(&a, "Ada Lovelace", None).unwrap();
    let plain = ledger
        .add_account(&a, person.id, "google", "ada@example.com")
        .unwrap();
    let ap = ledger
        .add_account(
            &a,
            person.id,
            "google-advanced-protection",
            "ada@example.com",
        )
        .unwrap();
    let mut keys = FakeKeys::two();
    let mut p = answers(&[]);
    let out = run_playbooks(
        &mut ledger,
        &mut keys,
        &mut p,
        true,
        &["google", "google-advanced-protection"],
    )
    .unwrap();
    assert!(out.left_for_later.is_empty(), "{:?}", out.left_for_later);
    let status = ledger.person_status(person.id).unwrap();
    let enrolled = |id: i64| {
        status
            .accounts
            .iter()
            .find(|s| s.account.id == id)
            .unwrap()
            .enrollments
            .len()
    };
    assert_eq!(
        enrolled(ap.id),
        2,
        "both keys in the Advanced Protection one"
    );
    assert_eq!(enrolled(plain.id), 0, "Google's steps were not done twice");
}
