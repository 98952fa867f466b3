//! One account: the playbook's steps, one at a time, in rounds until every key is in.

use super::browser;
use super::flow::{account_name, label_id, Guide, Present};
use super::prompt::Choice;
use crate::error::Result;
use crate::ledger::{Account, Key, Person, PinState};
use crate::playbook::{
    EnrollmentPath, Evidence as PathEvidence, Expects, Platform, Playbook, Step,
};
use std::borrow::Cow;

impl Guide<'_> {
    /// Every key into one account. `Some(reason)` when part of it is left for a later run.
    ///
    /// The steps come round once per key, naming the key to use; where the provider adds
    /// several keys in one pass (Apple), one round covers every key still missing, and a key
    /// added later (a replacement) gets the steps again for itself. Each step done is a
    /// checkpoint per key in the ledger, so a rerun skips it. Consecutive steps that are one
    /// visit to the website are shown together and answered once; a step that is already true
    /// (the key has its PIN) is skipped; the person confirms each key the provider lists.
    pub(super) fn enroll_account(
        &mut self,
        person: &Person,
        playbook: &Playbook,
        account: &Account,
        keys: &[Key],
    ) -> Result<Option<String>> {
        let name = account_name(playbook, account);
        let path = playbook.primary_path().clone();
        let together = path.verification.evidence == PathEvidence::PersonConfirms;
        let mut opened: Vec<Present> = Vec::new();
        let mut platform = None;
        for round_no in 0..=keys.len() {
            let pending = self.pending_keys(account, keys)?;
            // Every key is in, but a step done once for the account (enrolling in Advanced
            // Protection) was left for later: a last pass with every key, for that step alone.
            let finishing = pending.is_empty()
                && self.once_steps_left(person, playbook, account, &path, &mut platform)?;
            if pending.is_empty() && !finishing {
                if round_no == 0 {
                    self.prompter.info(&format!(
                        "\n{name}: every key is enrolled already, nothing to do."
                    ));
                }
                return Ok(None);
            }
            let pending_count = pending.len();
            let round: Vec<Key> = if finishing {
                keys.to_vec()
            } else if together {
                pending
            } else {
                vec![pending[0].clone()]
            };
            let labels = round
                .iter()
                .map(|k| k.label.as_str())
                .collect::<Vec<_>>()
                .join(" and ");
            if round_no == 0 {
                let mut s = format!("\n== {name} ==\n{}: {}", path.title, path.summary);
                let pre = &playbook.requirements.preconditions;
                if !pre.is_empty() {
                    s.push_str("\nBefore you start, make sure that:");
                    for p in pre {
                        s.push_str(&format!("\n  - {}", p.text));
                    }
                }
                self.prompter.info(&s);
            } else {
                self.prompter.info(&format!("\n== {name}: now {labels} =="));
            }
            self.prompter.info(&use_keys_line(&round));
            let platform = match platform {
                Some(p) => p,
                None => *platform.insert(self.platform(person, playbook, account, &path)?),
            };
            // A pass adding one key speaks of one key; a step done once for the account waits
            // for the pass that leaves no key missing.
            let last_round = finishing || round.len() == pending_count;
            let steps: Vec<Cow<Step>> = path
                .steps
                .iter()
                .filter(|s| s.applies_to(platform))
                .map(|s| s.for_keys(round.len()))
                .collect();
            let once: Vec<bool> = steps.iter().map(|s| s.once).collect();
            let total = steps.len();
            let done = self.record.checkpoints(person)?;
            // Sessions before per-key checkpoints marked the first round `all`.
            let legacy = round_no == 0 && self.record.enrollments(account)?.is_empty();
            let checkpoint = |k: &str, n: usize| step_checkpoint(account, &path, k, n);
            let is_done = |n: usize| {
                if once[n - 1] {
                    return done.contains(&checkpoint(ONCE, n));
                }
                round
                    .iter()
                    .all(|k| done.contains(&checkpoint(&k.label, n)))
                    || (legacy && done.contains(&checkpoint("all", n)))
            };
            let pins_set = round
                .iter()
                .all(|k| k.pin_state == Some(PinState::Set) || self.pins.get(k.id).is_some());
            let mut i = 0;
            while i < total {
                let n = i + 1;
                let step: &Step = &steps[i];
                if once[i] && !last_round && !is_done(n) {
                    i += 1;
                    continue;
                }
                if is_done(n) {
                    self.prompter.info(&format!(
                        "Step {n} of {total}: {} (done earlier)",
                        step.title
                    ));
                    i += 1;
                    continue;
                }
                if is_pin_step(step) && pins_set {
                    self.mark_done(person, &round, &checkpoint, &once, &[n])?;
                    i += 1;
                    continue;
                }
                match step.expects {
                    Expects::Read => {
                        self.show_step(n, total, step, platform);
                        self.mark_done(person, &round, &checkpoint, &once, &[n])?;
                        i += 1;
                    }
                    Expects::Act => {
                        // One visit: this step and the ones after it that need nothing else.
                        let mut group = vec![n];
                        while let Some(next) = steps.get(i + group.len()) {
                            let m = i + group.len() + 1;
                            if next.expects != Expects::Act
                                || is_done(m)
                                || (next.once && !last_round)
                            {
                                break;
                            }
                            group.push(m);
                        }
                        for &m in &group {
                            self.show_step(m, total, &steps[m - 1], platform);
                        }
                        let last = *group.last().expect("a group has a step");
                        self.progress(person, &format!("{}, {labels}, step {n}", playbook.name))?;
                        if let Some(url) = group.iter().find_map(|&m| {
                            steps[m - 1]
                                .location_for(platform)
                                .and_then(|(_, l)| l.url.clone())
                        }) {
                            self.offer_url(&format!("step.{}.{n}.open", playbook.id), Some(&url))?;
                        }
                        for k in &round {
                            self.stand_in_act(person, playbook, &path, account, k, &mut opened)?;
                        }
                        // Let go of every key while the person is at the website: it (or, in
                        // training, the website's stand-in and `keyward virtual`) needs them.
                        opened.clear();
                        let ok = self.prompter.confirm(
                            &format!("step.{}.{last}.done", playbook.id),
                            &format!(
                                "Done {}{}?",
                                if group.len() == 1 {
                                    format!("step {n}")
                                } else {
                                    format!("steps {n} to {last}")
                                },
                                // A step for the whole account uses no key in particular.
                                if group.iter().all(|&m| once[m - 1]) {
                                    String::new()
                                } else {
                                    format!(" with {labels}")
                                }
                            ),
                            true,
                        )?;
                        if !ok {
                            return Ok(Some(self.stopped(person, &name)));
                        }
                        self.mark_done(person, &round, &checkpoint, &once, &group)?;
                        i += group.len();
                    }
                    Expects::Confirm if together => {
                        // The question is the evidence itself, asked for each key.
                        self.show_step(n, total, step, platform);
                        self.progress(person, &format!("{}, {labels}, step {n}", playbook.name))?;
                        if !self.confirm_listed(
                            person,
                            playbook,
                            &path,
                            account,
                            &round,
                            &mut opened,
                        )? {
                            return Ok(Some(self.stopped(person, &name)));
                        }
                        self.mark_done(person, &round, &checkpoint, &once, &[n])?;
                        i += 1;
                    }
                    Expects::Confirm => {
                        opened.clear();
                        self.show_step(n, total, step, platform);
                        self.progress(person, &format!("{}, {labels}, step {n}", playbook.name))?;
                        let ok = self.prompter.confirm(
                            &format!("step.{}.{n}.done", playbook.id),
                            "Did it work?",
                            false,
                        )?;
                        if !ok {
                            return Ok(Some(self.stopped(person, &name)));
                        }
                        self.mark_done(person, &round, &checkpoint, &once, &[n])?;
                        i += 1;
                    }
                    Expects::VerifyOnKey => {
                        self.progress(person, &format!("{}, {labels}, step {n}", playbook.name))?;
                        if path.verification.evidence == PathEvidence::OnKey {
                            for k in &round {
                                if !self
                                    .pending_keys(account, std::slice::from_ref(k))?
                                    .is_empty()
                                {
                                    self.show_check(n, total, k);
                                    self.stand_in_act(
                                        person,
                                        playbook,
                                        &path,
                                        account,
                                        k,
                                        &mut opened,
                                    )?;
                                    if !self.verify(
                                        person,
                                        playbook,
                                        &path,
                                        account,
                                        k,
                                        &mut opened,
                                    )? {
                                        return Ok(Some(self.stopped(person, &name)));
                                    }
                                }
                            }
                        }
                        self.mark_done(person, &round, &checkpoint, &once, &[n])?;
                        i += 1;
                    }
                }
            }
            // A path with no step saying when to look (or to confirm).
            let still: Vec<Key> = self.pending_keys(account, &round)?;
            if !still.is_empty() {
                if together {
                    if !self.confirm_listed(
                        person,
                        playbook,
                        &path,
                        account,
                        &still,
                        &mut opened,
                    )? {
                        return Ok(Some(self.stopped(person, &name)));
                    }
                } else if path.verification.evidence == PathEvidence::OnKey {
                    for k in &still {
                        self.stand_in_act(person, playbook, &path, account, k, &mut opened)?;
                        if !self.verify(person, playbook, &path, account, k, &mut opened)? {
                            return Ok(Some(self.stopped(person, &name)));
                        }
                    }
                }
            }
        }
        if self.pending_keys(account, keys)?.is_empty() {
            Ok(None)
        } else {
            Ok(Some(self.stopped(person, &name)))
        }
    }

    /// Whether a step done once for the account is still to do (only those on the
    /// person's platform count; the platform was asked in the pass that added the keys).
    fn once_steps_left(
        &mut self,
        person: &Person,
        playbook: &Playbook,
        account: &Account,
        path: &EnrollmentPath,
        platform: &mut Option<Platform>,
    ) -> Result<bool> {
        if !path.steps.iter().any(|s| s.once) {
            return Ok(false);
        }
        let on = match *platform {
            Some(p) => p,
            None => *platform.insert(self.platform(person, playbook, account, path)?),
        };
        let done = self.record.checkpoints(person)?;
        Ok(path
            .steps
            .iter()
            .filter(|s| s.applies_to(on))
            .enumerate()
            .any(|(i, s)| s.once && !done.contains(&step_checkpoint(account, path, ONCE, i + 1))))
    }

    fn mark_done(
        &mut self,
        person: &Person,
        round: &[Key],
        checkpoint: &dyn Fn(&str, usize) -> String,
        once: &[bool],
        steps: &[usize],
    ) -> Result<()> {
        for &n in steps {
            if once[n - 1] {
                self.record
                    .add_checkpoint(person, &checkpoint(ONCE, n), &self.actor)?;
                continue;
            }
            for k in round {
                self.record
                    .add_checkpoint(person, &checkpoint(&k.label, n), &self.actor)?;
            }
        }
        Ok(())
    }

    /// "Does the account list Key A?" for each key, defaulting to no: the answer is the
    /// evidence. True when every key was confirmed.
    fn confirm_listed(
        &mut self,
        person: &Person,
        playbook: &Playbook,
        path: &EnrollmentPath,
        account: &Account,
        round: &[Key],
        opened: &mut Vec<Present>,
    ) -> Result<bool> {
        let mut all = true;
        for k in round {
            if self
                .pending_keys(account, std::slice::from_ref(k))?
                .is_empty()
            {
                continue;
            }
            self.stand_in_act(person, playbook, path, account, k, opened)?;
            opened.clear();
            let yes = self.prompter.confirm(
                &format!("confirm.{}.{}.enrolled", playbook.id, label_id(&k.label)),
                &format!(
                    "Does your {} now list {} among its security keys?",
                    playbook.name, k.label
                ),
                false,
            )?;
            if yes {
                self.confirmed(account, k, "confirmed during keyward enroll")?;
            } else {
                all = false;
            }
        }
        Ok(all)
    }

    fn show_check(&mut self, n: usize, of: usize, key: &Key) {
        let how = if self.pins.get(key.id).is_some() {
            "keyward looks for it now (it has the PIN from earlier)"
        } else {
            "keyward asks for its PIN now and looks for it"
        };
        self.prompter.info(&format!(
            "\nStep {n} of {of}: keyward checks {}\nThe new passkey is stored on {}: {how}.",
            key.label, key.label
        ));
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
        person: &Person,
        playbook: &Playbook,
        account: &Account,
        path: &EnrollmentPath,
    ) -> Result<Platform> {
        let asked = format!("platform/{}/", account.id);
        if let Some(p) = self.answered(person, &asked)?.and_then(|p| p.parse().ok()) {
            return Ok(p);
        }
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
            &format!("Where will you add the keys to {}?", account.identifier),
            &choices,
            0,
        )?;
        let p = v.parse().unwrap_or(Platform::Web);
        self.record
            .add_checkpoint(person, &format!("{asked}{}", p.as_str()), &self.actor)?;
        Ok(p)
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

/// The checkpoint label of a step done once for the account rather than per key.
const ONCE: &str = "account";

/// The checkpoint of step `n` (of the steps on the person's platform) of `path` in `account`,
/// done with key `k` (a label, or [`ONCE`] for a step done once for the account).
fn step_checkpoint(account: &Account, path: &EnrollmentPath, k: &str, n: usize) -> String {
    format!("enroll/{}/{}/{k}/{n}", account.id, path.id)
}

/// The playbooks begin with "Set a PIN on the key"; keyward has done that by then (or the key
/// had one), so the step is skipped when every key of the round has its PIN. Playbooks carry
/// no marker for it, hence the title.
fn is_pin_step(step: &Step) -> bool {
    step.expects == Expects::Act && step.title.to_lowercase().starts_with("set a pin")
}

/// Which physical key to take now, and what to call it on the website.
fn use_keys_line(round: &[Key]) -> String {
    let one = |k: &Key| {
        let letter = label_id(&k.label).to_uppercase();
        match &k.serial {
            Some(sn) => format!("{} (the one marked {letter}, serial {sn})", k.label),
            None => format!("{} (the one marked {letter})", k.label),
        }
    };
    let names: Vec<String> = round.iter().map(one).collect();
    let call: Vec<String> = round.iter().map(|k| format!("\"{}\"", k.label)).collect();
    format!(
        "Use {} now. When the website asks for a name, call it {}: that is how you will tell \
         the keys apart later.",
        names.join(" and "),
        call.join(" and ")
    )
}
