//! One account: the playbook's steps, one at a time, in rounds until every key is in.

use super::browser;
use super::flow::{account_name, label_id, Guide, Present};
use super::prompt::Choice;
use crate::error::Result;
use crate::ledger::{Account, Key, Person};
use crate::playbook::{
    EnrollmentPath, Evidence as PathEvidence, Expects, Platform, Playbook, Step,
};

impl Guide<'_> {
    /// Every key into one account. `Some(reason)` when part of it is left for a later run.
    ///
    /// The playbook's steps are walked once for the account; each "verify on the key" step
    /// checks the next key not yet enrolled (a playbook may add both keys in one pass). Keys
    /// still missing afterwards get the steps again, one round per key. Each step done is a
    /// checkpoint in the ledger, so a rerun skips it.
    pub(super) fn enroll_account(
        &mut self,
        person: &Person,
        playbook: &Playbook,
        account: &Account,
        keys: &[Key],
    ) -> Result<Option<String>> {
        let name = account_name(playbook, account);
        let path = playbook.primary_path().clone();
        let mut opened: Vec<Present> = Vec::new();
        let mut platform = None;
        for round in 0..=keys.len() {
            let pending = self.pending_keys(account, keys)?;
            let Some(first) = pending.first().cloned() else {
                if round == 0 {
                    self.prompter.info(&format!(
                        "\n{name}: every key is enrolled already, nothing to do."
                    ));
                }
                return Ok(None);
            };
            if round > 0 && path.verification.evidence == PathEvidence::PersonConfirms {
                break;
            }
            let tag = if round == 0 {
                self.prompter
                    .info(&format!("\n== {name} ==\n{}: {}", path.title, path.summary));
                "all".to_string()
            } else {
                self.prompter.info(&format!(
                    "\n== {name}: now {} ==\nThe same steps again, with {}.",
                    first.label, first.label
                ));
                first.label.clone()
            };
            let platform = match platform {
                Some(p) => p,
                None => *platform.insert(self.platform(playbook, account, &path)?),
            };
            let steps: Vec<&Step> = path
                .steps
                .iter()
                .filter(|s| s.applies_to(platform))
                .collect();
            let done = self.record.checkpoints(person)?;
            for (i, step) in steps.iter().enumerate() {
                let n = i + 1;
                let checkpoint = format!("enroll/{}/{}/{tag}/{n}", account.id, path.id);
                if done.contains(&checkpoint) {
                    self.prompter.info(&format!(
                        "Step {n} of {}: {} (done earlier)",
                        steps.len(),
                        step.title
                    ));
                    continue;
                }
                self.show_step(n, steps.len(), step, platform);
                let open_id = format!("step.{}.{n}.open", playbook.id);
                let url = step.location_for(platform).and_then(|(_, l)| l.url.clone());
                self.offer_url(&open_id, url.as_deref())?;
                match step.expects {
                    Expects::Read => {}
                    Expects::Act | Expects::Confirm => {
                        if step.expects == Expects::Act {
                            let target = self.pending_keys(account, keys)?.into_iter().next();
                            if let Some(k) = target {
                                self.stand_in_act(
                                    person,
                                    playbook,
                                    &path,
                                    account,
                                    &k,
                                    &mut opened,
                                )?;
                            }
                        }
                        let ok = self.prompter.confirm(
                            &format!("step.{}.{n}.done", playbook.id),
                            if step.expects == Expects::Act {
                                "Done?"
                            } else {
                                "Did it work?"
                            },
                            true,
                        )?;
                        if !ok {
                            return Ok(Some(self.stopped(person, &name)));
                        }
                    }
                    Expects::VerifyOnKey => {
                        let target = self.pending_keys(account, keys)?.into_iter().next();
                        if let (PathEvidence::OnKey, Some(k)) = (path.verification.evidence, target)
                        {
                            self.stand_in_act(person, playbook, &path, account, &k, &mut opened)?;
                            if !self.verify(person, playbook, &path, account, &k, &mut opened)? {
                                return Ok(Some(self.stopped(person, &name)));
                            }
                        }
                    }
                }
                self.record
                    .add_checkpoint(person, &checkpoint, &self.actor)?;
            }
            // A path that proves itself on the key but has no step saying when to look.
            let has_verify_step = steps.iter().any(|s| s.expects == Expects::VerifyOnKey);
            if path.verification.evidence == PathEvidence::OnKey && !has_verify_step {
                if let Some(k) = self.pending_keys(account, keys)?.into_iter().next() {
                    self.stand_in_act(person, playbook, &path, account, &k, &mut opened)?;
                    if !self.verify(person, playbook, &path, account, &k, &mut opened)? {
                        return Ok(Some(self.stopped(person, &name)));
                    }
                }
            }
        }
        if path.verification.evidence == PathEvidence::PersonConfirms {
            let pending = self.pending_keys(account, keys)?;
            if !pending.is_empty() {
                self.prompter.info(&path.verification.explanation);
            }
            let mut missing = false;
            for k in pending {
                self.stand_in_act(person, playbook, &path, account, &k, &mut opened)?;
                let yes = self.prompter.confirm(
                    &format!("confirm.{}.{}.enrolled", playbook.id, label_id(&k.label)),
                    &format!(
                        "Does {} now list {} among its security keys?",
                        playbook.name, k.label
                    ),
                    true,
                )?;
                if yes {
                    self.confirmed(account, &k, "confirmed during keyward enroll")?;
                } else {
                    missing = true;
                }
            }
            if missing {
                return Ok(Some(self.stopped(person, &name)));
            }
        }
        if self.pending_keys(account, keys)?.is_empty() {
            Ok(None)
        } else {
            Ok(Some(self.stopped(person, &name)))
        }
    }

    /// This session's keys not yet enrolled in `account`, in label order.
    pub(super) fn pending_keys(&mut self, account: &Account, keys: &[Key]) -> Result<Vec<Key>> {
        let enrolled = self.record.enrollments(account)?;
        Ok(keys
            .iter()
            .filter(|k| !enrolled.iter().any(|e| e.key_id == k.id))
            .cloned()
            .collect())
    }

    pub(super) fn stand_in_act(
        &mut self,
        person: &Person,
        playbook: &Playbook,
        path: &EnrollmentPath,
        account: &Account,
        key: &Key,
        opened: &mut Vec<Present>,
    ) -> Result<()> {
        if self.stand_in.is_none() {
            return Ok(());
        }
        let p = self.present(person, key, opened)?;
        let handle = opened[p].handle.as_mut();
        if let Some(s) = self.stand_in.as_deref_mut() {
            s.act(handle, playbook, path, account)?;
        }
        Ok(())
    }

    /// Which device the person does this account's steps on, when the steps differ.
    pub(super) fn platform(
        &mut self,
        playbook: &Playbook,
        account: &Account,
        path: &EnrollmentPath,
    ) -> Result<Platform> {
        let mut named: Vec<Platform> = Vec::new();
        for s in &path.steps {
            for (p, _) in s.locations() {
                if !named.contains(&p) {
                    named.push(p);
                }
            }
        }
        named.sort();
        if named.is_empty() || named == [Platform::Web] {
            return Ok(Platform::Web);
        }
        let choices: Vec<Choice> = named
            .iter()
            .map(|p| Choice::new(p.as_str(), format!("On {}", p.label())))
            .collect();
        let v = self.prompter.choose(
            &format!("account.{}.platform", playbook.id),
            &format!("Where will you add the key to {}?", account.identifier),
            &choices,
            0,
        )?;
        Ok(v.parse().unwrap_or(Platform::Web))
    }

    pub(super) fn show_step(&mut self, n: usize, of: usize, step: &Step, platform: Platform) {
        let mut s = format!("\nStep {n} of {of}: {}\n{}", step.title, step.instruction);
        if let Some((p, loc)) = step.location_for(platform) {
            if !loc.menu.is_empty() {
                s.push_str(&format!("\n  On {}: {}", p.label(), loc.menu.join(" > ")));
            }
            if let Some(url) = &loc.url {
                s.push_str(&format!("\n  Go to: {url}"));
            }
            if let Some(note) = &loc.note {
                s.push_str(&format!("\n  Note: {note}"));
            }
        }
        if let Some(u) = &step.not_certain {
            s.push_str(&format!("\n  Not certain: {u}"));
        }
        self.prompter.info(&s);
    }

    pub(super) fn offer_url(&mut self, id: &str, url: Option<&str>) -> Result<()> {
        let Some(url) = url else { return Ok(()) };
        if !self.prompter.can_open_urls() {
            return Ok(());
        }
        if self
            .prompter
            .confirm(id, &format!("Open {url} in your browser?"), true)?
        {
            if let Err(e) = browser::open(url) {
                self.prompter.info(&format!(
                    "Could not open the browser ({e}); open {url} by hand."
                ));
            }
        }
        Ok(())
    }
}
