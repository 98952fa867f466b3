//! A passkey registration announced in the ledger before it is posted to Graph, like a key
//! change is (`begin_key_change`): a run that stops between Graph's 201 and the ledger's record
//! leaves the announcement unsettled, and the next run settles it from Graph's list of the
//! user's passkeys instead of registering anything twice.
//!
//! The announcement is a checkpoint of the person (an existing ledger record: nothing secret in
//! it, the credential id is what the enrollment records anyway); it is settled once an
//! enrollment of the user's Entra account records the same credential id.

use super::entra::{
    listed_for_record, passkey_enrollment, was_on_for, write_account, Passkey, PLAYBOOK,
};
use super::Output;
use crate::admin::graph::Graph;
use crate::admin::register;
use crate::error::Result;
use crate::ledger::{Actor, Ledger, LedgerError, Person};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How announcements are named among the person's checkpoints.
const PREFIX: &str = "entra/passkey-intent ";

/// What keyward is about to post, and on which key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub user: String,
    pub display_name: String,
    pub aaguid: Option<String>,
    /// Lowercase hex, as enrollments record it.
    pub credential_id: String,
    pub rp_id: String,
    /// The key's label in the ledger, and its serial when it shows one.
    pub key_label: String,
    pub key_serial: Option<String>,
}

impl Intent {
    fn checkpoint_name(&self) -> String {
        format!(
            "{PREFIX}{}",
            serde_json::to_string(self).unwrap_or_default()
        )
    }
}

/// Record the intent before the POST, in one transaction with the person it is for (added
/// when a roster names them for the first time).
pub fn announce(
    ledger: &mut Ledger,
    actor: &Actor,
    person: &str,
    email: Option<&str>,
    intent: &Intent,
) -> Result<()> {
    ledger.write(actor, |w| {
        let p = w.upsert_person(person, email)?;
        w.checkpoint(p.id, &intent.checkpoint_name())
    })?;
    Ok(())
}

/// The person's announced registrations for `user` that no enrollment records, oldest first.
pub fn unsettled(ledger: &Ledger, person: &Person, user: &str) -> Result<Vec<Intent>> {
    let recorded: Vec<String> = match ledger.find_account(PLAYBOOK, user)? {
        Some(a) => ledger
            .enrollments_of_account(a.id)?
            .into_iter()
            .filter_map(|e| e.detail.credential_id)
            .collect(),
        None => Vec::new(),
    };
    Ok(ledger
        .checkpoints(person.id)?
        .into_iter()
        .filter_map(|c| serde_json::from_str::<Intent>(c.name.strip_prefix(PREFIX)?).ok())
        .filter(|i| i.user == user && !recorded.contains(&i.credential_id))
        .collect())
}

/// Graph method ids the ledger already records for `user` (from the enrollments' evidence).
fn recorded_method_ids(ledger: &Ledger, user: &str) -> Result<Vec<String>> {
    let Some(a) = ledger.find_account(PLAYBOOK, user)? else {
        return Ok(Vec::new());
    };
    Ok(ledger
        .enrollments_of_account(a.id)?
        .into_iter()
        .filter_map(|e| e.detail.note)
        .filter_map(|n| super::entra::method_id_in(&n).map(str::to_string))
        .collect())
}

/// What became of one unsettled intent.
pub enum Settled {
    /// Graph lists it and its key is in the ledger: the enrollment is recorded now.
    RecordedNow { method_id: String },
    /// Graph lists it but its key was never recorded (a run stopped before the key was): that
    /// key may still hold a working passkey.
    KeyNeverRecorded { method_id: String },
    /// Graph does not list it: the POST never took effect.
    NotInGraph,
}

/// Graph's passkey for `intent`, if Graph lists one the ledger does not already record.
/// `listed` keeps Graph's list for further intents of the same user.
pub fn find_in_graph(
    ledger: &Ledger,
    graph: &mut Graph,
    intent: &Intent,
    listed: &mut Option<Vec<Value>>,
) -> Result<Option<Value>> {
    if listed.is_none() {
        *listed = Some(graph.list_passkeys(&intent.user)?);
    }
    let known = recorded_method_ids(ledger, &intent.user)?;
    Ok(listed
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|m| {
            register::is_named(m, &intent.display_name, intent.aaguid.as_deref())
                && !known.iter().any(|k| m["id"].as_str() == Some(k))
        })
        .cloned())
}

/// Settle `intent` from Graph's list of the user's passkeys.
pub fn settle(
    out: &Output,
    ledger: &mut Ledger,
    actor: &Actor,
    graph: &mut Graph,
    person: &Person,
    intent: &Intent,
    listed: &mut Option<Vec<Value>>,
) -> Result<Settled> {
    let Some(method) = find_in_graph(ledger, graph, intent, listed)? else {
        return Ok(Settled::NotInGraph);
    };
    let method_id = method["id"].as_str().unwrap_or("?").to_string();
    let key = match ledger.find_key(&intent.key_label, Some(person.id)) {
        Ok(k) if intent.key_serial.is_none() || k.serial == intent.key_serial => k,
        Ok(_) | Err(LedgerError::NotFound(_)) => {
            return Ok(Settled::KeyNeverRecorded { method_id })
        }
        Err(e) => return Err(e.into()),
    };
    // An account recorded now comes with the weaker methods Graph lists, in one transaction.
    let listed = match ledger.find_account(PLAYBOOK, &intent.user)? {
        Some(_) => None,
        None => listed_for_record(out, graph, &intent.user)?,
    };
    let was_on = was_on_for(ledger, &intent.user)?;
    let passkey = Passkey {
        user: intent.user.clone(),
        rp_id: intent.rp_id.clone(),
        credential_id: hex::decode(&intent.credential_id).unwrap_or_default(),
        display_name: intent.display_name.clone(),
        method,
    };
    ledger.write(actor, |w| {
        let account = write_account(w, person.id, &intent.user, listed.as_ref(), &was_on)?;
        w.record_enrollment(&passkey_enrollment(account.id, key.id, &passkey))
    })?;
    Ok(Settled::RecordedNow { method_id })
}
