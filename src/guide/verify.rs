//! Proof of an enrollment: the credential seen on the key, or a person's confirmation.

use super::flow::{label_id, Guide, Present};
use super::prompt::{Choice, SecretKind};
use crate::device::{DeviceError, RpCredentials};
use crate::error::{Error, Result};
use crate::ledger::{Account, Evidence, EvidenceDetail, Key, KeyState, NewEnrollment, Person};
use crate::playbook::{EnrollmentPath, Playbook};

impl Guide<'_> {
    /// Look for the account's credential on the key. True when an enrollment was recorded.
    pub(super) fn verify(
        &mut self,
        person: &Person,
        playbook: &Playbook,
        path: &EnrollmentPath,
        account: &Account,
        key: &Key,
        opened: &mut Vec<Present>,
    ) -> Result<bool> {
        let mut tries = 0;
        loop {
            tries += 1;
            let i = self.present(person, key, opened)?;
            if !opened[i].unlocked && !self.unlock(person, key, opened)? {
                // Replugged: look for the key again, without counting it as a try.
                tries -= 1;
                continue;
            }
            let i = self.present(person, key, opened)?;
            let listed = opened[i].handle.list_credentials()?;
            let found = listed.iter().find_map(|rp| {
                let rp_ok = path
                    .verification
                    .rp_ids
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(&rp.rp_id));
                if !rp_ok {
                    return None;
                }
                rp.credentials.iter().find_map(|c| {
                    let name = c.user_name.as_deref()?;
                    (name.eq_ignore_ascii_case(&account.identifier)
                        && playbook.claims_credential(&rp.rp_id, Some(name)))
                    .then(|| {
                        (
                            rp.rp_id.clone(),
                            name.to_string(),
                            hex::encode(&c.credential_id),
                        )
                    })
                })
            });
            if let Some(other) = self.holder_of(person, key, &listed)? {
                // The key plugged in holds a credential recorded for another of the person's
                // keys: it is that key (keys without a serial number look alike), and
                // anything recorded now for this one would be false evidence.
                self.prompter.info(&format!(
                    "The key plugged in holds a credential recorded for {other}: it is {other}, \
                     not {}.",
                    key.label
                ));
                // Whatever PIN worked just now was that key's, not this one's.
                self.pins.forget(key.id);
                opened.clear();
                if tries >= 3 {
                    return Ok(false);
                }
                self.ask_plugged(person, &key.label)?;
                continue;
            }
            if let Some((rp_id, user_name, credential_id)) = found {
                self.record.record_enrollment(
                    &NewEnrollment {
                        account_id: account.id,
                        key_id: key.id,
                        evidence: Evidence::SeenOnKey,
                        detail: EvidenceDetail {
                            rp_id: Some(rp_id.clone()),
                            user_name: Some(user_name),
                            credential_id: Some(credential_id),
                            note: None,
                        },
                    },
                    &self.actor,
                )?;
                self.prompter.info(&format!(
                    "{} on {}: the passkey for {} ({}) is on the key.",
                    crate::style::good("Verified"),
                    key.label,
                    account.identifier,
                    playbook.name
                ));
                return Ok(true);
            }
            let seen: Vec<String> = listed
                .iter()
                .filter(|rp| {
                    path.verification
                        .rp_ids
                        .iter()
                        .any(|r| r.eq_ignore_ascii_case(&rp.rp_id))
                })
                .flat_map(|rp| {
                    rp.credentials
                        .iter()
                        .map(move |c| c.user_name.as_deref().unwrap_or("(no name)").to_string())
                })
                .collect();
            self.prompter.info(&format!(
                "No {} passkey for {} is on {} yet{}.",
                playbook.name,
                account.identifier,
                key.label,
                if seen.is_empty() {
                    String::new()
                } else {
                    format!(" (it holds one for {} there)", seen.join(", "))
                }
            ));
            if let Some(t) = &path.verification.tell_apart {
                self.prompter.info(t);
            }
            let mut choices = vec![
                Choice::new("retry", "Look again (after finishing on the website)"),
                Choice::new(
                    "confirm",
                    "It is done, record it as confirmed by a person instead",
                ),
                Choice::new("later", "Leave this for later"),
            ];
            if tries >= 3 {
                choices.remove(0);
            }
            // Let go of the key while the person is away: another program (the website's
            // stand-in in training, `keyward virtual register`) may need it before "look again".
            opened.clear();
            let what = self.prompter.choose(
                &format!("verify.{}.not_found", playbook.id),
                "What now?",
                &choices,
                0,
            )?;
            match what.as_str() {
                "retry" => continue,
                "confirm" => {
                    self.confirmed(
                        account,
                        key,
                        &format!(
                            "not found on the key (looked for {}); confirmed instead",
                            path.verification.rp_ids.join(", ")
                        ),
                    )?;
                    return Ok(true);
                }
                _ => return Ok(false),
            }
        }
    }

    /// Unlock `key` with its PIN: the one it accepted earlier in the session, else a PIN asked
    /// now. A wrong PIN typed at the terminal is asked again with the attempts left (the guard
    /// before the last attempts stays); after three wrong PINs in a row the key wants to be
    /// unplugged, and the person is asked to do that. `false`: the key was replugged, look it
    /// up again. A PIN from a variable, a file descriptor or stdin would only fail again, so a
    /// wrong one stops the session as before.
    fn unlock(&mut self, person: &Person, key: &Key, opened: &mut Vec<Present>) -> Result<bool> {
        let i = self.present(person, key, opened)?;
        loop {
            let typed_now = self.pins.get(key.id).is_none();
            if typed_now {
                match self.guard_pin(&key.label, opened[i].handle.as_mut()) {
                    Err(Error::Device(DeviceError::PinAuthBlocked)) => {
                        self.replug(person, key, opened)?;
                        return Ok(false);
                    }
                    other => other?,
                }
                let typed = self.prompter.secret(
                    &format!("key.{}.pin", label_id(&key.label)),
                    &format!("PIN of {} (to look at the credentials on it)", key.label),
                    SecretKind::Current,
                )?;
                self.pins.remember(key.id, typed);
            }
            let p = &mut opened[i];
            let pin = self.pins.get(key.id).expect("remembered just above");
            match p.handle.unlock(pin) {
                Ok(()) => {
                    p.unlocked = true;
                    return Ok(true);
                }
                Err(e) => {
                    // Whatever PIN was kept is not this key's.
                    self.pins.forget(key.id);
                    let e = e.with_retries_from(p.handle.as_mut());
                    let again = typed_now && self.prompter.pin_is_typed(SecretKind::Current);
                    match e {
                        DeviceError::PinInvalid { retries_left } if again => {
                            self.prompter.warn(&format!(
                                "That is not the PIN of {}{}. Try again.",
                                key.label,
                                retries_left
                                    .map(|r| format!(
                                        " ({} left before the key locks)",
                                        crate::pin::attempts(r)
                                    ))
                                    .unwrap_or_default()
                            ));
                        }
                        DeviceError::PinAuthBlocked if again => {
                            self.replug(person, key, opened)?;
                            return Ok(false);
                        }
                        e => return Err(e.into()),
                    }
                }
            }
        }
    }

    /// Three wrong PINs in a row: the key takes no more until it is unplugged.
    fn replug(&mut self, person: &Person, key: &Key, opened: &mut Vec<Present>) -> Result<()> {
        self.prompter.warn(&format!(
            "{} refuses PIN attempts after 3 wrong PINs in a row: unplug it and plug it back in.",
            key.label
        ));
        opened.clear();
        self.ask_plugged(person, &key.label)
    }

    /// The label of another of the person's keys that a credential on this key was recorded
    /// for, if any.
    fn holder_of(
        &mut self,
        person: &Person,
        key: &Key,
        listed: &[RpCredentials],
    ) -> Result<Option<String>> {
        let on_key: Vec<String> = listed
            .iter()
            .flat_map(|rp| rp.credentials.iter())
            .map(|c| hex::encode(&c.credential_id))
            .collect();
        let Some((holder, _)) = self
            .record
            .known_credentials(person)?
            .into_iter()
            .find(|(k, c)| *k != key.id && on_key.contains(c))
        else {
            return Ok(None);
        };
        let label = self
            .record
            .keys(person)?
            .into_iter()
            .find(|k| k.id == holder)
            .map(|k| match k.state {
                KeyState::Active => k.label,
                other => format!("{} ({})", k.label, other.as_str()),
            })
            .unwrap_or_else(|| "another key".into());
        Ok(Some(label))
    }

    pub(super) fn confirmed(&mut self, account: &Account, key: &Key, note: &str) -> Result<()> {
        let evidence = if self.actor.operator {
            Evidence::ConfirmedByOperator
        } else {
            Evidence::ConfirmedByPerson
        };
        self.record.record_enrollment(
            &NewEnrollment {
                account_id: account.id,
                key_id: key.id,
                evidence,
                detail: EvidenceDetail {
                    note: Some(note.to_string()),
                    ..EvidenceDetail::default()
                },
            },
            &self.actor,
        )?;
        Ok(())
    }
}
