//! The weaker sign-in methods left on an account: still on? how to remove it? what now?

use super::flow::{account_name, Guide};
use super::prompt::Choice;
use crate::error::Result;
use crate::ledger::{Account, MethodStatus, Person};
use crate::playbook::{Advice, Playbook, Removal, WeakerMethod};

impl Guide<'_> {
    /// Every weaker method the playbook lists that has no decision recorded yet: the ones the
    /// provider will not let go are recorded as kept (with its reason) without a question; the
    /// others are asked as one checklist ("which of these does the account have?"), and each
    /// one ticked gets its how-to and what was done.
    pub(super) fn methods(
        &mut self,
        person: &Person,
        playbook: &Playbook,
        account: &Account,
    ) -> Result<()> {
        let recorded = self.record.methods(account)?;
        let pending: Vec<WeakerMethod> = playbook
            .weaker_methods
            .iter()
            .filter(|m| {
                recorded
                    .iter()
                    .find(|r| r.method == m.method.as_str())
                    .is_none_or(|r| r.status == MethodStatus::Unknown)
            })
            .cloned()
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        self.progress(
            person,
            &format!("{}, weaker sign-in methods", playbook.name),
        )?;
        self.prompter.info(&format!(
            "\n== Weaker ways into {} ==\nWith your keys in, each of these is now the easiest \
             way into the account.",
            account_name(playbook, account)
        ));
        let (fixed, ask): (Vec<&WeakerMethod>, Vec<&WeakerMethod>) = pending
            .iter()
            .partition(|m| m.advice() == Advice::KeepAndProtect);
        for m in fixed {
            let reason = m
                .keep_reason
                .clone()
                .or_else(|| m.condition.clone())
                .unwrap_or_else(|| "the provider does not allow removing it".into());
            let mut text = format!("{}: keep it, by design: {reason}", m.display_name());
            if let Some(p) = &m.protect {
                text.push_str("\nProtect it:");
                steps(&mut text, p);
            }
            self.prompter.info(&text);
            self.record.set_method(
                account,
                m.method.as_str(),
                MethodStatus::Kept,
                Some(&reason),
                &self.actor,
            )?;
        }
        if ask.is_empty() {
            return Ok(());
        }
        let mut list_id = format!("method.{}.on", playbook.id);
        // What the provider lists is read from it, not asked; only the rest is asked.
        let ask = match self.listed_by_provider(playbook, account, &ask)? {
            Some(unlisted) => {
                list_id = unlisted.list_id;
                unlisted.methods
            }
            None => ask,
        };
        if ask.is_empty() {
            return Ok(());
        }
        let legacy = format!("method.{}.{}.status", playbook.id, ask[0].method.as_str());
        if !self.prompter.has_answer(&list_id) && self.prompter.has_answer(&legacy) {
            // An answers file written for one question per method.
            for m in ask {
                self.method(playbook, account, m)?;
            }
            return Ok(());
        }
        let mut choices: Vec<Choice> = ask
            .iter()
            .map(|m| Choice::new(m.method.as_str(), m.display_name()))
            .collect();
        choices.push(Choice::new(UNKNOWN, "I cannot check this account now"));
        self.prompter.info(
            "Untick each one the account does not have (space ticks or unticks, Enter when done).",
        );
        let on = self.prompter.checklist(
            &list_id,
            &format!("Which of these does {} still have?", account.identifier),
            &choices,
            // Each is assumed on until the person says it is not; "cannot check" is not.
            &ticked_but_last(choices.len()),
        )?;
        if on.iter().any(|v| v == UNKNOWN) {
            self.prompter
                .info("Left as not checked yet: they stay on the list until someone looks.");
            return Ok(());
        }
        for m in ask {
            if on.iter().any(|v| v == m.method.as_str()) {
                self.still_on(playbook, account, m, None)?;
            } else {
                self.record.set_method(
                    account,
                    m.method.as_str(),
                    MethodStatus::Absent,
                    None,
                    &self.actor,
                )?;
            }
        }
        Ok(())
    }

    /// One method asked on its own (answers files with `method.PB.M.status`).
    pub(super) fn method(
        &mut self,
        playbook: &Playbook,
        account: &Account,
        m: &WeakerMethod,
    ) -> Result<()> {
        let mid = format!("method.{}.{}", playbook.id, m.method.as_str());
        let choices = [
            Choice::new("on", "Yes, it is still on"),
            Choice::new("off", "No, it is off (or was never set up)"),
            Choice::new(UNKNOWN, "I cannot tell now"),
        ];
        let status = self.prompter.choose(
            &format!("{mid}.status"),
            &format!(
                "{}: is it still on for {}?",
                m.display_name(),
                account.identifier
            ),
            &choices,
            0,
        )?;
        match status.as_str() {
            "off" => self.record.set_method(
                account,
                m.method.as_str(),
                MethodStatus::Absent,
                None,
                &self.actor,
            ),
            UNKNOWN => Ok(()),
            _ => self.still_on(playbook, account, m, None),
        }
    }

    /// A method that is on: why it matters, how to remove it, and what the person did. The
    /// default is "leave it on for now": saying it was removed is a claim the record keeps.
    /// `seen`: the provider's word that it is on, recorded when it stays.
    pub(super) fn still_on(
        &mut self,
        playbook: &Playbook,
        account: &Account,
        m: &WeakerMethod,
        seen: Option<&str>,
    ) -> Result<()> {
        let mid = format!("method.{}.{}", playbook.id, m.method.as_str());
        let keep_reason = m.keep_reason.clone().or_else(|| m.condition.clone());
        self.prompter
            .info(&format!("\n{}\n{}", m.display_name(), how_to_remove(m)));
        let url = m.remove.as_ref().and_then(|r| r.url.clone());
        self.offer_url(&format!("{mid}.open"), url.as_deref())?;
        let mut choices = vec![Choice::new("removed", "I removed it just now")];
        if let Some(r) = &keep_reason {
            choices.push(Choice::new("kept", format!("Keep it: {r}")));
        }
        choices.push(Choice::new(
            "later",
            "Leave it on for now (it stays on the list)",
        ));
        let later = choices.len() - 1;
        let outcome = self.prompter.choose(
            &format!("{mid}.outcome"),
            &format!("{}: and now?", m.display_name()),
            &choices,
            later,
        )?;
        let (status, reason) = match outcome.as_str() {
            "removed" => return self.removed_by_person(playbook, account, m),
            "kept" => (MethodStatus::Kept, keep_reason),
            _ => (MethodStatus::Present, seen.map(str::to_string)),
        };
        self.record.set_method(
            account,
            m.method.as_str(),
            status,
            reason.as_deref(),
            &self.actor,
        )
    }
}

const UNKNOWN: &str = "unknown";

fn ticked_but_last(n: usize) -> Vec<bool> {
    (0..n).map(|i| i + 1 < n).collect()
}

fn how_to_remove(m: &WeakerMethod) -> String {
    let mut s = format!("Why it matters: {}", m.why_weaker);
    if let (Advice::NotUsable, Some(w)) = (m.advice(), &m.why_not_usable) {
        s.push_str(&format!(
            "\nIt cannot sign anyone in here: {w}\nRemove it anyway, so it is not a way back in later."
        ));
    }
    if let Some(c) = &m.condition {
        s.push_str(&format!("\nIt can go only when: {c}"));
    }
    match &m.remove {
        Some(r) => {
            s.push_str("\nHow to remove it:");
            steps(&mut s, r);
        }
        None => s.push_str("\nThe playbook does not say how to remove it."),
    }
    if let Some(u) = &m.not_certain {
        s.push_str(&format!("\nNot certain: {u}"));
    }
    s
}

/// Where to go and what to do there, one line each. The administrator's way (admin centres,
/// Graph calls) is for the help desk: `keyward status` and `playbooks show` carry it, the
/// person's session does not.
fn steps(s: &mut String, r: &Removal) {
    if let Some(u) = &r.url {
        s.push_str(&format!("\n  Go to: {u}"));
    }
    if !r.menu.is_empty() {
        s.push_str(&format!("\n  Menu: {}", r.menu.join(" > ")));
    }
    for (i, step) in r.steps.iter().enumerate() {
        s.push_str(&format!("\n  {}. {step}", i + 1));
    }
}
