//! `keyward provision --entra`: each prepared key is also registered as a passkey for its
//! person's Entra account (the roster's email is the user principal name), while its first PIN
//! still unlocks it. Graph's creationOptions for the next person are fetched while the current
//! key is being registered, so a bulk run waits for one round trip per key, not two.

use super::entra::{
    graph, listed_for_record, passkey_enrollment, was_on_for, write_account, Listed, Passkey,
};
use super::entra_intent::{self, Intent, Settled};
use super::{Context, Output};
use crate::admin::cloud::Call;
use crate::admin::graph::{perm, user_segment, Graph};
use crate::admin::{checked_at, methods, policy, register, AdminError};
use crate::device::{Authenticator, DeviceError};
use crate::error::{Error, Result};
use crate::ledger::{Actor, Ledger, LedgerError};
use crate::pin::Pin;
use crate::provision::journal::{Journal, KeyRecord, LedgerJournal};
use crate::provision::{Event, Operator, Slot};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::mpsc;

/// Which slot the run is on: the last one it announced it waits for.
pub type Current = Rc<RefCell<Option<String>>>;

/// Registrations made on keys whose slot is not recorded yet, by slot id, with the user's
/// methods as Graph listed them (`None`: not read).
type Made = Rc<RefCell<HashMap<String, (Passkey, Option<Listed>)>>>;

pub struct EntraRun {
    graph: Graph,
    /// Where each registration is announced before it is posted.
    ledger: Ledger,
    actor: Actor,
    slots: Vec<Slot>,
    pub current: Current,
    made: Made,
    prefetch: Prefetcher,
}

/// Check everything before a key is touched: connected, a cloud that registers passkeys, a
/// policy that allows it, an email on every slot still to do, a PIN to unlock each key with.
pub fn prepare(ctx: &Context, slots: &[Slot], has_pin: bool) -> Result<EntraRun> {
    let mut graph = graph()?;
    graph.cloud().require(Call::CreationOptions)?;
    if !has_pin {
        return Err(Error::Usage(
            "--entra needs the policy to set a first PIN (first_pin = \"random\"): Entra \
             requires the key's PIN to register a passkey"
                .into(),
        ));
    }
    for s in slots {
        match &s.email {
            Some(e) => {
                user_segment(e)?;
            }
            None => {
                return Err(Error::BadInput(format!(
                    "--entra: {} has no email in the roster; it is the Entra user principal name",
                    s.person
                )))
            }
        }
    }
    match graph.fido2_policy() {
        Ok(raw) => {
            let v = policy::judge(&policy::read(&raw), None);
            if !v.can_register {
                return Err(v
                    .refusal("the tenant's passkey policy refuses registration")
                    .into());
            }
        }
        Err(AdminError::Graph { status: 403, .. }) => ctx
            .out
            .warn("cannot read the passkey policy; registering without checking it first"),
        Err(e) => return Err(e.into()),
    }
    let mut ledger = ctx.ledger()?;
    settle_earlier_runs(ctx, &mut ledger, &mut graph, slots)?;
    let prefetch = Prefetcher::start(graph.tokens.config.clone());
    Ok(EntraRun {
        graph,
        ledger,
        actor: ctx.actor(),
        slots: slots.to_vec(),
        current: Rc::new(RefCell::new(None)),
        made: Rc::new(RefCell::new(HashMap::new())),
        prefetch,
    })
}

impl EntraRun {
    /// On the prepared, unlocked key: register it for the current slot's person.
    pub fn register(
        &mut self,
        ctx: &Context,
        key: &mut dyn Authenticator,
        pin: Option<&Pin>,
    ) -> std::result::Result<(), String> {
        let id = self.current.borrow().clone().ok_or("no slot announced")?;
        let index = self
            .slots
            .iter()
            .position(|s| s.id() == id)
            .ok_or("unknown slot")?;
        let slot = self.slots[index].clone();
        let user = slot.email.clone().unwrap_or_default();
        let words = |e: Error| format!("Entra registration for {user}: {e}");
        let pin = pin.ok_or_else(|| words(Error::Usage("the key has no PIN".into())))?;
        let raw = match self.prefetch.options.take(&user) {
            Some(Ok(v)) if fresh(&v) => v,
            _ => self
                .graph
                .creation_options(&user)
                .map_err(|e| words(e.into()))?,
        };
        // While this key works and Graph answers the POST, ask for the next person's options.
        if let Some(next) = self.slots.get(index + 1).and_then(|s| s.email.clone()) {
            self.prefetch.request(&next);
        }
        let opts = register::parse_options(&raw).map_err(|e| words(e.into()))?;
        key.unlock(pin).map_err(|e: DeviceError| words(e.into()))?;
        let (made, cdj) = register::make_credential(key, &opts).map_err(words)?;
        let model = super::entra::model_of(key.descriptor());
        let display_name = format!("{} ({model})", slot.label);
        let body = register::post_body(&display_name, &made, &cdj);
        let aaguid = made.aaguid.map(|g| g.to_string());
        let intent = Intent {
            user: user.clone(),
            display_name: display_name.clone(),
            aaguid: aaguid.clone(),
            credential_id: hex::encode(&made.credential_id),
            rp_id: opts.rp_id.clone(),
            key_label: slot.label.clone(),
            key_serial: key.descriptor().serial.clone(),
        };
        entra_intent::announce(
            &mut self.ledger,
            &self.actor,
            &slot.person,
            Some(&user),
            &intent,
        )
        .map_err(words)?;
        let done = register::post(&mut self.graph, &user, &body, aaguid.as_deref())
            .map_err(|e| words(e.into()))?;
        ctx.out.event(
            &json!({"event": "entra_registered", "slot": id, "user": user,
                "method_id": done.method_id(), "display_name": display_name,
                "settled_by_reading": done.settled_by_reading}),
            || {
                format!(
                    "  Entra: registered \"{display_name}\" for {user} (Graph method {})",
                    done.method_id()
                )
            },
        );
        // The user's weaker methods, recorded with the account. Graph holds the passkey now:
        // a failure to read them is a warning (the ledger says "not checked"), never a failure.
        let listed = match self.prefetch.methods.take(&user) {
            Some(Ok(l)) => Some(Listed {
                methods: l.iter().map(methods::parse).collect(),
                at: checked_at(),
            }),
            _ => listed_for_record(&ctx.out, &mut self.graph, &user).unwrap_or_else(|e| {
                ctx.out.warn(format!(
                    "Entra: {user}'s sign-in methods were not read ({e}); recorded as not checked"
                ));
                None
            }),
        };
        self.made.borrow_mut().insert(
            id,
            (
                Passkey {
                    user,
                    rp_id: opts.rp_id,
                    credential_id: made.credential_id,
                    display_name,
                    method: done.method,
                },
                listed,
            ),
        );
        Ok(())
    }

    pub fn journal(
        &self,
        inner: LedgerJournal,
        ledger: Ledger,
        actor: Actor,
        out: Output,
    ) -> EntraJournal {
        EntraJournal {
            inner,
            ledger,
            actor,
            made: self.made.clone(),
            out,
        }
    }
}

/// Registrations an earlier run announced and never recorded (it stopped, or the ledger
/// failed, after Graph's answer): settled from Graph's list before any key is touched, so no
/// key is registered twice and no registration Graph holds goes unrecorded.
fn settle_earlier_runs(
    ctx: &Context,
    ledger: &mut Ledger,
    graph: &mut Graph,
    slots: &[Slot],
) -> Result<()> {
    let actor = ctx.actor();
    for slot in slots {
        let Some(user) = &slot.email else { continue };
        let person = match ledger.find_person(&slot.person) {
            Ok(p) => p,
            Err(LedgerError::UnknownPerson(_) | LedgerError::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut listed = None;
        for intent in entra_intent::unsettled(ledger, &person, user)? {
            if intent.key_label != slot.label {
                continue;
            }
            match entra_intent::settle(
                &ctx.out,
                ledger,
                &actor,
                graph,
                &person,
                &intent,
                &mut listed,
            )? {
                Settled::RecordedNow { method_id } => ctx.out.event(
                    &json!({"event": "entra_recorded_now", "slot": slot.id(), "user": user,
                        "method_id": method_id, "display_name": intent.display_name}),
                    || {
                        format!(
                            "  Entra: \"{}\" for {user} was already registered in Microsoft \
                             (Graph method {method_id}), recorded now",
                            intent.display_name
                        )
                    },
                ),
                Settled::KeyNeverRecorded { method_id } => ctx.out.warn(format!(
                    "Entra: Microsoft lists the passkey \"{}\" for {user} (Graph method \
                     {method_id}) from an earlier run that stopped before its key was recorded. \
                     If that key was reset or set aside, delete this passkey in the Entra admin \
                     center (Users › {user} › Authentication methods)",
                    intent.display_name
                )),
                Settled::NotInGraph => {}
            }
        }
    }
    Ok(())
}

/// Less than a minute of the 5-minute challenge left: ask again.
fn fresh(options: &Value) -> bool {
    let Some(t) = options["challengeTimeoutDateTime"].as_str() else {
        return true;
    };
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .map(|t| t - time::OffsetDateTime::now_utc() > time::Duration::seconds(60))
        .unwrap_or(false)
}

/// The ledger journal, plus the Entra enrollment of each key registered, recorded right after
/// the key itself.
pub struct EntraJournal {
    inner: LedgerJournal,
    ledger: Ledger,
    actor: Actor,
    made: Made,
    out: Output,
}

impl Journal for EntraJournal {
    fn is_done(&mut self, slot: &Slot) -> Result<bool> {
        self.inner.is_done(slot)
    }
    fn label_of_key(&mut self, serial: &str) -> Result<Option<String>> {
        self.inner.label_of_key(serial)
    }
    fn record(&mut self, slot: &Slot, key: &KeyRecord) -> Result<()> {
        self.inner.record(slot, key)?;
        let Some((p, listed)) = self.made.borrow_mut().remove(&slot.id()) else {
            return Ok(());
        };
        // The key is provisioned and recorded; if its registration cannot be recorded too,
        // the run goes on and the next one records it from Graph (its intent is announced).
        if let Err(e) = self.record_enrollment(slot, &p, listed.as_ref()) {
            self.out.warn(format!(
                "Entra: {} is provisioned, but its registration in Microsoft (Graph method {}) \
                 could not be recorded in the ledger ({e}); run the same command again: it \
                 records it from Graph without registering anything twice",
                slot.label,
                p.method["id"].as_str().unwrap_or("?")
            ));
        }
        Ok(())
    }
    fn record_failed(&mut self, slot: &Slot, reason: &str) -> Result<()> {
        self.made.borrow_mut().remove(&slot.id());
        self.inner.record_failed(slot, reason)
    }
}

impl EntraJournal {
    fn record_enrollment(
        &mut self,
        slot: &Slot,
        p: &Passkey,
        listed: Option<&Listed>,
    ) -> Result<()> {
        // Tests of the debug build make this write fail for one slot, as a full disk would;
        // compiled out of releases.
        #[cfg(debug_assertions)]
        if std::env::var("KEYWARD_TEST_FAIL_ENTRA_RECORD").as_deref() == Ok(slot.label.as_str()) {
            return Err(Error::io(
                "recording the Entra enrollment",
                std::io::Error::other("injected by KEYWARD_TEST_FAIL_ENTRA_RECORD"),
            ));
        }
        let person = self.ledger.find_person(&slot.person)?;
        let k = self.ledger.find_key(&slot.label, Some(person.id))?;
        let was_on = was_on_for(&self.ledger, &p.user)?;
        // The account, its weaker methods as Graph lists them and the enrollment: one
        // transaction.
        self.ledger.write(&self.actor, |w| {
            let account = write_account(w, person.id, &p.user, listed, &was_on)?;
            w.record_enrollment(&passkey_enrollment(account.id, k.id, p))
        })?;
        Ok(())
    }
}

/// The run's operator, noting which slot is current for the registration hook.
pub struct SlotWatcher<'a, O: Operator> {
    pub inner: &'a mut O,
    pub current: Current,
}

impl<O: Operator> Operator for SlotWatcher<'_, O> {
    fn event(&mut self, event: &Event) {
        if let Event::Waiting { slot } = event {
            *self.current.borrow_mut() = Some(slot.slot.clone());
        }
        self.inner.event(event)
    }
    fn instruct(&mut self, text: &str) {
        self.inner.instruct(text)
    }
    fn show_pin(&mut self, slot: &Slot, pin: &Pin) {
        self.inner.show_pin(slot, pin)
    }
}

/// Fetches, one user ahead, the next person's creationOptions and list of methods, each on
/// its own thread (with its own token), so both overlap the current key's registration.
struct Prefetcher {
    options: Ahead<Value>,
    methods: Ahead<Vec<Value>>,
}

impl Prefetcher {
    fn start(config: crate::admin::config::EntraConfig) -> Prefetcher {
        Prefetcher {
            options: Ahead::start(config.clone(), perm::PASSKEY_WRITE, |g, u| {
                g.creation_options(u)
            }),
            methods: Ahead::start(config, perm::METHODS_READ, |g, u| g.list_methods(u)),
        }
    }

    fn request(&mut self, user: &str) {
        self.options.request(user);
        self.methods.request(user);
    }
}

type Fetch<T> = fn(&mut Graph, &str) -> std::result::Result<T, AdminError>;

/// One Graph read done a user ahead on its own thread.
struct Ahead<T> {
    ask: mpsc::Sender<String>,
    answers: mpsc::Receiver<(String, std::result::Result<T, AdminError>)>,
    /// Users asked for and not taken yet, in the order the thread answers them.
    in_flight: VecDeque<String>,
}

impl<T: Send + 'static> Ahead<T> {
    fn start(
        config: crate::admin::config::EntraConfig,
        scope: &'static str,
        fetch: Fetch<T>,
    ) -> Self {
        let (ask, asked) = mpsc::channel::<String>();
        let (answer, answers) = mpsc::channel();
        std::thread::spawn(move || {
            let mut graph = match Graph::new(config) {
                Ok(g) => g,
                Err(_) => return,
            };
            // Its own token now, so the first prefetch costs one round trip, not two.
            let _ = graph.tokens.token(&graph.http, &[scope]);
            for user in asked {
                let r = fetch(&mut graph, &user);
                if answer.send((user, r)).is_err() {
                    return;
                }
            }
        });
        Ahead {
            ask,
            answers,
            in_flight: VecDeque::new(),
        }
    }

    /// Ask for `user` (at most two ahead: the current person's answer may not be taken yet).
    fn request(&mut self, user: &str) {
        if self.in_flight.len() < 2 && self.ask.send(user.to_string()).is_ok() {
            self.in_flight.push_back(user.to_string());
        }
    }

    /// The prefetched answer for `user`, waiting for it if it is on its way; answers for
    /// users asked before it are dropped (their slots are done).
    fn take(&mut self, user: &str) -> Option<std::result::Result<T, AdminError>> {
        if !self.in_flight.iter().any(|u| u == user) {
            return None;
        }
        while let Some(wanted) = self.in_flight.pop_front() {
            let (got, r) = self.answers.recv().ok()?;
            if wanted == user && got == user {
                return Some(r);
            }
        }
        None
    }
}
