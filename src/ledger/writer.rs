//! Changes to the ledger. A [`Writer`] lives inside one transaction; every change appends its
//! audit entry in that same transaction.

use super::model::*;
use super::query::PersonStatus;
use super::{audit, now, query, LedgerError, Result};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use serde_json::json;

/// Input for [`Writer::record_slot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSlot {
    pub slot: String,
    pub person_id: i64,
    pub label: String,
    pub status: SlotStatus,
    pub key_id: Option<i64>,
    pub reason: Option<String>,
}

/// Makes changes inside one transaction (see [`super::Ledger::write`]).
pub struct Writer<'a> {
    tx: Transaction<'a>,
    path: String,
    actor: Actor,
    at: String,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(tx: Transaction<'a>, path: String, actor: Actor) -> Writer<'a> {
        Writer {
            tx,
            path,
            actor,
            at: now(),
        }
    }

    pub(crate) fn commit(self) -> Result<()> {
        // Rows changed after the transaction's last entry still get an entry of their own: no
        // change is ever committed without its image in the trail.
        let rest = super::trail::drain(&self.tx).map_err(|e| self.sql(e))?;
        if !rest.is_empty() {
            audit::append_value(
                &self.tx,
                &self.path,
                &self.at,
                &self.actor.stored(),
                "records.changed",
                "records changed with the entry before",
                &json!({ "rows": rest }),
            )?;
        }
        let path = self.path;
        self.tx.commit().map_err(|e| LedgerError::sql_at(&path, e))
    }

    fn sql(&self, e: rusqlite::Error) -> LedgerError {
        LedgerError::sql_at(&self.path, e)
    }

    fn audit(&self, action: &str, subject: &str, detail: &impl Serialize) -> Result<()> {
        audit::append(
            &self.tx,
            &self.path,
            &self.at,
            &self.actor,
            action,
            subject,
            detail,
        )
    }

    /// Reads see this transaction's own changes.
    pub fn person(&self, id: i64) -> Result<Person> {
        query::person(&self.tx, &self.path, id)
    }

    pub fn find_person(&self, query: &str) -> Result<Person> {
        query::find_person(&self.tx, &self.path, query)
    }

    pub fn person_status(&self, person_id: i64) -> Result<PersonStatus> {
        query::person_status(&self.tx, &self.path, person_id)
    }

    pub fn slot(&self, slot: &str) -> Result<Option<ProvisionSlot>> {
        query::slot(&self.tx, &self.path, slot)
    }

    pub fn upsert_person(&mut self, name: &str, email: Option<&str>) -> Result<Person> {
        let name = name.trim();
        if name.is_empty() {
            return Err(LedgerError::Invalid("a person needs a name".into()));
        }
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if let Some(existing) = query::person_by_name(&self.tx, &self.path, name)? {
            if email.is_some() && email != existing.email.as_deref() {
                self.tx
                    .execute(
                        "UPDATE people SET email = ?1 WHERE id = ?2",
                        params![email, existing.id],
                    )
                    .map_err(|e| self.sql(e))?;
                self.audit(
                    "person.update",
                    &existing.name,
                    &json!({"person_id": existing.id, "email": {"from": existing.email, "to": email}}),
                )?;
                return self.person(existing.id);
            }
            return Ok(existing);
        }
        self.tx
            .execute(
                "INSERT INTO people (name, email, created_at) VALUES (?1, ?2, ?3)",
                params![name, email, self.at],
            )
            .map_err(|e| self.sql(e))?;
        let id = self.tx.last_insert_rowid();
        self.audit(
            "person.add",
            name,
            &json!({"person_id": id, "name": name, "email": email}),
        )?;
        self.person(id)
    }

    pub fn add_account(
        &mut self,
        person_id: i64,
        playbook: &str,
        identifier: &str,
    ) -> Result<Account> {
        let person = self.person(person_id)?;
        let (playbook, identifier) = (playbook.trim(), identifier.trim());
        if playbook.is_empty() || identifier.is_empty() {
            return Err(LedgerError::Invalid(
                "an account needs a playbook id and an identifier (email, UPN or Apple Account)"
                    .into(),
            ));
        }
        if let Some(existing) = query::find_account(&self.tx, &self.path, playbook, identifier)? {
            if existing.person_id == person_id {
                return Ok(existing);
            }
            let owner = self.person(existing.person_id)?;
            return Err(LedgerError::Conflict(format!(
                "the {playbook} account {identifier} is already recorded for {}, not {}",
                owner.name, person.name
            )));
        }
        self.tx
            .execute(
                "INSERT INTO accounts (person_id, playbook, identifier, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![person_id, playbook, identifier, self.at],
            )
            .map_err(|e| self.sql(e))?;
        let id = self.tx.last_insert_rowid();
        self.audit(
            "account.add",
            &format!("{} / {playbook}:{identifier}", person.name),
            &json!({"account_id": id, "person_id": person_id, "playbook": playbook, "identifier": identifier}),
        )?;
        query::account(&self.tx, &self.path, id)
    }

    pub fn register_key(&mut self, person_id: i64, key: &NewKey) -> Result<Key> {
        let person = self.person(person_id)?;
        let label = key.label.trim();
        if label.is_empty() {
            return Err(LedgerError::Invalid(
                "a key needs a label (what is written on it, e.g. \"Key A\")".into(),
            ));
        }
        let serial = key
            .serial
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let by_serial = match serial {
            Some(s) => query::key_by_serial(&self.tx, &self.path, s)?,
            None => None,
        };
        let existing = match by_serial {
            Some(k) if k.person_id != person_id && k.state == KeyState::Active => {
                let owner = self.person(k.person_id)?;
                return Err(LedgerError::Conflict(format!(
                    "the key with serial {} is recorded as {}'s {}; mark it retired first \
                     (`keyward key retire`)",
                    serial.unwrap_or_default(),
                    owner.name,
                    k.label
                )));
            }
            // A key of theirs that was retired or lost (a reset key, one found again) comes
            // back as a new record under a new label; under its old label it is refused below.
            Some(k)
                if k.person_id == person_id
                    && (k.state == KeyState::Active || k.label.eq_ignore_ascii_case(label)) =>
            {
                Some(k)
            }
            _ => query::key_by_label(&self.tx, &self.path, person_id, label)?,
        };
        let Some(k) = existing else {
            self.tx
                .execute(
                    "INSERT INTO keys (person_id, label, aaguid, model, serial, first_seen,
                                       last_seen, state)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'active')",
                    params![
                        person_id,
                        label,
                        key.aaguid.map(|u| u.to_string()),
                        key.model,
                        serial,
                        self.at
                    ],
                )
                .map_err(|e| self.sql(e))?;
            let id = self.tx.last_insert_rowid();
            self.audit(
                "key.add",
                &format!("{} / {label}", person.name),
                &json!({"key_id": id, "person_id": person_id, "label": label,
                        "aaguid": key.aaguid, "model": key.model, "serial": serial}),
            )?;
            return query::key(&self.tx, &self.path, id);
        };
        if k.state != KeyState::Active {
            return Err(LedgerError::Conflict(format!(
                "{}'s {} is marked {}; give the new key another label (e.g. the next letter)",
                person.name,
                k.label,
                k.state.as_str()
            )));
        }
        if let (Some(old), Some(new)) = (k.serial.as_deref(), serial) {
            if old != new {
                return Err(LedgerError::Conflict(format!(
                    "{} already has a {} with serial {old}, not {new}; label this key differently",
                    person.name, k.label
                )));
            }
        }
        let aaguid = k.aaguid.or(key.aaguid);
        let model = k.model.clone().or_else(|| key.model.clone());
        let serial = k.serial.clone().or_else(|| serial.map(String::from));
        self.tx
            .execute(
                "UPDATE keys SET aaguid = ?1, model = ?2, serial = ?3, last_seen = ?4 WHERE id = ?5",
                params![aaguid.map(|u| u.to_string()), model, serial, self.at, k.id],
            )
            .map_err(|e| self.sql(e))?;
        self.audit(
            "key.seen",
            &format!("{} / {}", person.name, k.label),
            &json!({"key_id": k.id, "aaguid": aaguid, "model": model, "serial": serial}),
        )?;
        query::key(&self.tx, &self.path, k.id)
    }

    pub fn record_enrollment(&mut self, e: &NewEnrollment) -> Result<Enrollment> {
        let account = query::account(&self.tx, &self.path, e.account_id)?;
        let key = query::key(&self.tx, &self.path, e.key_id)?;
        let person = self.person(account.person_id)?;
        if key.person_id != account.person_id {
            let owner = self.person(key.person_id)?;
            return Err(LedgerError::Conflict(format!(
                "{} belongs to {}, but the {} account {} is {}'s",
                key.label, owner.name, account.playbook, account.identifier, person.name
            )));
        }
        if key.state != KeyState::Active {
            return Err(LedgerError::Conflict(format!(
                "{}'s {} is marked {}; it cannot be enrolled",
                person.name,
                key.label,
                key.state.as_str()
            )));
        }
        let subject = enrollment_subject(&person.name, &account, &key.label);
        let detail = serde_json::to_string(&e.detail)
            .map_err(|err| LedgerError::Invalid(err.to_string()))?;
        let existing = query::enrollment_of(&self.tx, &self.path, e.account_id, e.key_id)?;
        match existing {
            Some(old) if old.evidence < e.evidence => Ok(old),
            Some(old) => {
                if old.evidence == e.evidence && old.detail == e.detail {
                    return Ok(old);
                }
                self.tx
                    .execute(
                        "UPDATE enrollments SET evidence = ?1, detail = ?2 WHERE id = ?3",
                        params![e.evidence.as_str(), detail, old.id],
                    )
                    .map_err(|err| self.sql(err))?;
                self.audit(
                    "enrollment.update",
                    &subject,
                    &json!({"enrollment_id": old.id, "evidence": {"from": old.evidence, "to": e.evidence},
                            "detail": e.detail}),
                )?;
                query::enrollment(&self.tx, &self.path, old.id)
            }
            None => {
                self.tx
                    .execute(
                        "INSERT INTO enrollments (account_id, key_id, enrolled_at, evidence, detail)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![e.account_id, e.key_id, self.at, e.evidence.as_str(), detail],
                    )
                    .map_err(|err| self.sql(err))?;
                let id = self.tx.last_insert_rowid();
                self.audit(
                    "enrollment.record",
                    &subject,
                    &json!({"enrollment_id": id, "account_id": e.account_id, "key_id": e.key_id,
                            "evidence": e.evidence, "detail": e.detail}),
                )?;
                query::enrollment(&self.tx, &self.path, id)
            }
        }
    }

    /// The key was taken out of the account at the provider: the enrollment no longer exists
    /// (the audit trail keeps its history). This is what settles an enrollment of a lost or
    /// retired key.
    pub fn remove_enrollment(
        &mut self,
        account_id: i64,
        key_id: i64,
        note: Option<&str>,
    ) -> Result<Enrollment> {
        let account = query::account(&self.tx, &self.path, account_id)?;
        let key = query::key(&self.tx, &self.path, key_id)?;
        let person = self.person(account.person_id)?;
        let Some(old) = query::enrollment_of(&self.tx, &self.path, account_id, key_id)? else {
            return Err(LedgerError::NotFound(format!(
                "{} is not recorded as enrolled in {}:{}; `keyward status \"{}\"` shows what is",
                key.label, account.playbook, account.identifier, person.name
            )));
        };
        self.tx
            .execute("DELETE FROM enrollments WHERE id = ?1", params![old.id])
            .map_err(|e| self.sql(e))?;
        self.audit(
            "enrollment.remove",
            &enrollment_subject(&person.name, &account, &key.label),
            &json!({"enrollment_id": old.id, "account_id": account_id, "key_id": key_id,
                    "key_state": key.state, "evidence": old.evidence,
                    "credential_id": old.detail.credential_id,
                    "note": note.map(str::trim).filter(|n| !n.is_empty())}),
        )?;
        Ok(old)
    }

    pub fn set_method_status(
        &mut self,
        account_id: i64,
        method: &str,
        status: MethodStatus,
        reason: Option<&str>,
    ) -> Result<MethodRecord> {
        let account = query::account(&self.tx, &self.path, account_id)?;
        let person = self.person(account.person_id)?;
        let method = method.trim();
        if method.is_empty()
            || !method
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(LedgerError::Invalid(format!(
                "`{method}` is not a method id: use the playbook's ids, e.g. sms, totp, backup_codes"
            )));
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if status == MethodStatus::Kept && reason.is_none() {
            return Err(LedgerError::Invalid(format!(
                "keeping {method} on {} needs a reason (--reason)",
                account.identifier
            )));
        }
        let old = query::method_of(&self.tx, &self.path, account_id, method)?;
        if let Some(old) = &old {
            if old.status == status && old.reason.as_deref() == reason {
                return Ok(old.clone());
            }
        }
        let by = self.actor.stored();
        self.tx
            .execute(
                "INSERT INTO methods (account_id, method, status, reason, updated_at, updated_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(account_id, method) DO UPDATE SET status = excluded.status,
                   reason = excluded.reason, updated_at = excluded.updated_at,
                   updated_by = excluded.updated_by",
                params![account_id, method, status.as_str(), reason, self.at, by],
            )
            .map_err(|e| self.sql(e))?;
        self.audit(
            "method.set",
            &format!(
                "{} / {}:{} / {method}",
                person.name, account.playbook, account.identifier
            ),
            &json!({"account_id": account_id, "method": method,
                    "status": {"from": old.as_ref().map(|o| o.status), "to": status},
                    "reason": reason}),
        )?;
        query::method_of(&self.tx, &self.path, account_id, method)?.ok_or_else(|| {
            LedgerError::Sql {
                path: self.path.clone(),
                message: "a method record vanished inside its own transaction".into(),
            }
        })
    }

    /// Record each of `methods` as `unknown` ("not checked yet") on the account, leaving alone
    /// those already recorded. Returns how many were added.
    pub fn add_methods_not_checked(&mut self, account_id: i64, methods: &[&str]) -> Result<usize> {
        let known: Vec<String> = query::methods_of(&self.tx, &self.path, account_id)?
            .into_iter()
            .map(|m| m.method)
            .collect();
        let mut added = 0;
        for m in methods.iter().filter(|m| !known.iter().any(|k| k == *m)) {
            self.set_method_status(account_id, m, MethodStatus::Unknown, None)?;
            added += 1;
        }
        Ok(added)
    }

    pub fn set_key_state(
        &mut self,
        key_id: i64,
        state: KeyState,
        reason: Option<&str>,
    ) -> Result<Key> {
        let key = query::key(&self.tx, &self.path, key_id)?;
        let person = self.person(key.person_id)?;
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if key.state == state && key.state_reason.as_deref() == reason {
            return Ok(key);
        }
        self.tx
            .execute(
                "UPDATE keys SET state = ?1, state_reason = ?2 WHERE id = ?3",
                params![state.as_str(), reason, key_id],
            )
            .map_err(|e| self.sql(e))?;
        let flagged = self
            .tx
            .execute(
                "UPDATE enrollments SET needs_replacement = ?1 WHERE key_id = ?2",
                params![state != KeyState::Active, key_id],
            )
            .map_err(|e| self.sql(e))?;
        self.audit(
            &format!("key.{}", state.as_str()),
            &format!("{} / {}", person.name, key.label),
            &json!({"key_id": key_id, "state": {"from": key.state, "to": state}, "reason": reason,
                    "enrollments_affected": flagged}),
        )?;
        query::key(&self.tx, &self.path, key_id)
    }

    /// The row alone; each caller writes its own audit entry for it.
    fn write_pin_state(&self, key_id: i64, pin: PinState) -> Result<()> {
        self.tx
            .execute(
                "UPDATE keys SET pin_state = ?1 WHERE id = ?2",
                params![pin.as_str(), key_id],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    pub fn set_pin_state(&mut self, key_id: i64, pin: PinState) -> Result<Key> {
        let key = query::key(&self.tx, &self.path, key_id)?;
        if key.pin_state == Some(pin) {
            return Ok(key);
        }
        let person = self.person(key.person_id)?;
        self.write_pin_state(key_id, pin)?;
        self.audit(
            "key.pin_state",
            &format!("{} / {}", person.name, key.label),
            &json!({"key_id": key_id, "pin_state": {"from": key.pin_state, "to": pin}}),
        )?;
        query::key(&self.tx, &self.path, key_id)
    }

    /// Where the person keeps the key, in their words.
    pub fn set_key_location(&mut self, key_id: i64, location: &str) -> Result<Key> {
        let key = query::key(&self.tx, &self.path, key_id)?;
        if key.location.as_deref() == Some(location) {
            return Ok(key);
        }
        let person = self.person(key.person_id)?;
        self.tx
            .execute(
                "UPDATE keys SET location = ?1 WHERE id = ?2",
                params![location, key_id],
            )
            .map_err(|e| self.sql(e))?;
        self.audit(
            "key.location",
            &format!("{} / {}", person.name, key.label),
            &json!({"key_id": key_id, "location": {"from": key.location, "to": location}}),
        )?;
        query::key(&self.tx, &self.path, key_id)
    }

    /// Before keyward changes a key outside the ledger (`change`: `set_pin`, `change_pin`,
    /// `policy`, `reset`, `erase`): the intent, in its own transaction, so that a crash
    /// between the key's change and its record is noticed at the next run.
    pub fn begin_key_change(&mut self, key_id: i64, change: &str) -> Result<()> {
        let key = query::key(&self.tx, &self.path, key_id)?;
        let person = self.person(key.person_id)?;
        let by = self.actor.stored();
        self.tx
            .execute(
                "INSERT INTO key_changes (key_id, change, started_at, started_by)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(key_id) DO UPDATE SET change = excluded.change,
                   started_at = excluded.started_at, started_by = excluded.started_by",
                params![key_id, change, self.at, by],
            )
            .map_err(|e| self.sql(e))?;
        self.audit(
            "key.change.begin",
            &format!("{} / {}", person.name, key.label),
            &json!({"key_id": key_id, "change": change}),
        )
    }

    /// After the key changed (or, with `interrupted`, once the key was asked its state after a
    /// crash): what is true now about its PIN, and the intent is settled.
    pub fn settle_key_change(
        &mut self,
        key_id: i64,
        pin: Option<PinState>,
        interrupted: bool,
    ) -> Result<Key> {
        self.settle(key_id, pin, interrupted, None)
    }

    /// Settle with what the key itself says (see [`KeySeen`]), which the entry states.
    pub fn settle_key_change_as_seen(
        &mut self,
        key_id: i64,
        seen: &KeySeen,
        interrupted: bool,
    ) -> Result<Key> {
        self.settle(key_id, seen.pin_state(), interrupted, Some(seen))
    }

    fn settle(
        &mut self,
        key_id: i64,
        pin: Option<PinState>,
        interrupted: bool,
        seen: Option<&KeySeen>,
    ) -> Result<Key> {
        let key = query::key(&self.tx, &self.path, key_id)?;
        let person = self.person(key.person_id)?;
        let change: Option<String> = self
            .tx
            .query_row(
                "SELECT change FROM key_changes WHERE key_id = ?1",
                params![key_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))?;
        self.tx
            .execute("DELETE FROM key_changes WHERE key_id = ?1", params![key_id])
            .map_err(|e| self.sql(e))?;
        if let Some(pin) = pin {
            self.write_pin_state(key_id, pin)?;
        }
        self.audit(
            "key.change.settled",
            &format!("{} / {}", person.name, key.label),
            &json!({"key_id": key_id, "change": change,
                    "pin_state": {"from": key.pin_state, "to": pin.or(key.pin_state)},
                    "key_says": seen,
                    "settled_after_an_interruption": interrupted}),
        )?;
        query::key(&self.tx, &self.path, key_id)
    }

    /// The settle, and what the erase means for the accounts the key opened: a reset key is
    /// recorded retired (its accounts need it removed and a replacement); a deleted passkey's
    /// enrollment is removed (that account no longer opens with this key). Returns the key and
    /// how many enrollments the erase touched.
    pub fn settle_key_change_erased(
        &mut self,
        key_id: i64,
        seen: &KeySeen,
        interrupted: bool,
        erased: &KeyErased,
    ) -> Result<(Key, usize)> {
        let key = self.settle_key_change_as_seen(key_id, seen, interrupted)?;
        let enrolled = query::enrollments_of_key(&self.tx, &self.path, key_id)?;
        match erased {
            KeyErased::Nothing => Ok((key, 0)),
            KeyErased::Everything if enrolled.is_empty() || key.state != KeyState::Active => {
                Ok((key, 0))
            }
            KeyErased::Everything => {
                let reason = format!(
                    "reset on {}: its passkeys are erased; remove it from each account it opened",
                    self.at.get(..10).unwrap_or(&self.at)
                );
                let key = self.set_key_state(key_id, KeyState::Retired, Some(&reason))?;
                Ok((key, enrolled.len()))
            }
            KeyErased::Credential(id) => {
                let gone: Vec<_> = enrolled
                    .iter()
                    .filter(|e| e.detail.credential_id.as_deref() == Some(id.as_str()))
                    .collect();
                for e in &gone {
                    self.remove_enrollment(
                        e.account_id,
                        key_id,
                        Some("its passkey was deleted from the key"),
                    )?;
                }
                Ok((key, gone.len()))
            }
        }
    }

    /// The change begun on this key and never settled (a crash in between), if any.
    pub fn pending_key_change(&self, key_id: i64) -> Result<Option<String>> {
        query::pending_key_change(&self.tx, &self.path, key_id)
    }

    /// Record a provisioning slot's outcome (issue 6). A slot already `done` is never
    /// overwritten: provisioning it again would be a second key for the same slot.
    pub fn record_slot(&mut self, s: &NewSlot) -> Result<ProvisionSlot> {
        let person = self.person(s.person_id)?;
        if let Some(old) = query::slot(&self.tx, &self.path, &s.slot)? {
            if old.status == SlotStatus::Done {
                return Err(LedgerError::Conflict(format!(
                    "slot {} is already done ({}'s {}); it is not provisioned twice",
                    s.slot, person.name, old.label
                )));
            }
        }
        if let Some(key_id) = s.key_id {
            query::key(&self.tx, &self.path, key_id)?;
        }
        self.tx
            .execute(
                "INSERT INTO provision_slots (slot, person_id, label, status, key_id, reason, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(slot) DO UPDATE SET person_id = excluded.person_id,
                   label = excluded.label, status = excluded.status, key_id = excluded.key_id,
                   reason = excluded.reason, at = excluded.at",
                params![
                    s.slot,
                    s.person_id,
                    s.label,
                    s.status.as_str(),
                    s.key_id,
                    s.reason,
                    self.at
                ],
            )
            .map_err(|e| self.sql(e))?;
        self.audit(
            &format!("provision.{}", s.status.as_str()),
            &format!("{} / {}", person.name, s.label),
            &json!({"slot": s.slot, "person_id": s.person_id, "label": s.label,
                    "key_id": s.key_id, "reason": s.reason}),
        )?;
        query::slot(&self.tx, &self.path, &s.slot)?.ok_or_else(|| LedgerError::Sql {
            path: self.path.clone(),
            message: "a slot vanished inside its own transaction".into(),
        })
    }

    pub fn checkpoint(&mut self, person_id: i64, name: &str) -> Result<()> {
        let person = self.person(person_id)?;
        let added = self
            .tx
            .execute(
                "INSERT OR IGNORE INTO checkpoints (person_id, name, at) VALUES (?1, ?2, ?3)",
                params![person_id, name, self.at],
            )
            .map_err(|e| self.sql(e))?;
        if added > 0 {
            self.audit(
                "checkpoint",
                &person.name,
                &json!({"person_id": person_id, "name": name}),
            )?;
        }
        Ok(())
    }
}

/// How an enrollment is named in the audit trail: `person / playbook:identifier / key label`.
fn enrollment_subject(person: &str, account: &Account, key_label: &str) -> String {
    format!(
        "{person} / {}:{} / {key_label}",
        account.playbook, account.identifier
    )
}
