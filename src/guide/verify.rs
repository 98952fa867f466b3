//! Proof of an enrollment: the credential seen on the key, or a person's confirmation.

use super::flow::{label_id, Guide, Present};
use super::prompt::{Choice, SecretKind};
use crate::device::RpCredentials;
use crate::error::Result;
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
            if !opened[i].unlocked {
                // A PIN this key accepted earlier in the session is used again without asking.
                // It is kept only while the key keeps accepting it: any failure forgets it, and
                // the error stops the session like any wrong PIN.
                if self.pins.get(key.id).is_none() {
                    self.guard_pin(&key.label, opened[i].handle.as_mut())?;
                    let typed = self.prompter.secret(
                        &format!("key.{}.pin", label_id(&key.label)),
                        &format!("PIN of {} (to look at the credentials on it)", key.label),
                        SecretKind::Current,
                    )?;
                    self.pins.remember(key.id, typed);
                }
                let p = &mut opened[i];
                let pin = self.pins.get(key.id).expect("remembered just above");
                if let Err(e) = p.handle.unlock(pin) {
                    self.pins.forget(key.id);
                    return Err(e.with_retries_from(p.handle.as_mut()).into());
                }
                p.unlocked = true;
            }
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
                    "{} on {}: a {} credential for {} ({rp_id}) is on the key.",
                    crate::style::good("Verified"),
                    key.label,
                    playbook.name,
                    account.identifier
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
                    rp.credentials.iter().map(move |c| {
                        format!(
                            "{} for {}",
                            rp.rp_id,
                            c.user_name.as_deref().unwrap_or("(no user name)")
                        )
                    })
                })
                .collect();
            self.prompter.info(&format!(
                "No {} credential for {} is on {} yet (looked for {}{}).",
                playbook.name,
                account.identifier,
                key.label,
                path.verification.rp_ids.join(", "),
                if seen.is_empty() {
                    String::new()
                } else {
                    format!("; found {}", seen.join(", "))
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
