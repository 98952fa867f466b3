//! The weaker sign-in methods left on an account: still on? how to remove it? what now?

use super::flow::{account_name, Guide};
use super::prompt::Choice;
use crate::error::Result;
use crate::ledger::{Account, MethodStatus};
use crate::playbook::{Advice, Playbook, Removal, WeakerMethod};

impl Guide<'_> {
    /// Every weaker method the playbook lists that has no decision recorded yet.
    pub(super) fn methods(&mut self, playbook: &Playbook, account: &Account) -> Result<()> {
        let recorded = self.record.methods(account)?;
        let pending: Vec<&WeakerMethod> = playbook
            .weaker_methods
            .iter()
            .filter(|m| {
                recorded
                    .iter()
                    .find(|r| r.method == m.method.as_str())
                    .is_none_or(|r| r.status == MethodStatus::Unknown)
            })
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        self.prompter.info(&format!(
            "\n== Weaker sign-in methods on {} ==\nWith keys enrolled, each of these is now the \
             easiest way into the account. One at a time:",
            account_name(playbook, account)
        ));
        for m in pending {
            self.method(playbook, account, m)?;
        }
        Ok(())
    }

    pub(super) fn method(
        &mut self,
        playbook: &Playbook,
        account: &Account,
        m: &WeakerMethod,
    ) -> Result<()> {
        let name = m.display_name().to_string();
        let mid = format!("method.{}.{}", playbook.id, m.method.as_str());
        let keep_reason = m.keep_reason.clone().or_else(|| m.condition.clone());
        if m.advice() == Advice::KeepAndProtect {
            let reason =
                keep_reason.unwrap_or_else(|| "the provider does not allow removing it".into());
            let mut text = format!("{name}: keep it, by design: {reason}");
            if let Some(p) = &m.protect {
                text.push_str("\nProtect it:");
                steps(&mut text, p);
            }
            self.prompter.info(&text);
            return self.record.set_method(
                account,
                m.method.as_str(),
                MethodStatus::Kept,
                Some(&reason),
                &self.actor,
            );
        }
        let choices = [
            Choice::new("on", "Yes, it is still on"),
            Choice::new("off", "No, it is off (or was never set up)"),
            Choice::new("unknown", "I cannot tell now"),
        ];
        let status = self.prompter.choose(
            &format!("{mid}.status"),
            &format!("{name}: is it still on for {}?", account.identifier),
            &choices,
            0,
        )?;
        let (status, reason) = match status.as_str() {
            "off" => (MethodStatus::Removed, None),
            "unknown" => (MethodStatus::Unknown, None),
            _ => {
                self.prompter.info(&how_to_remove(m));
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
                let outcome =
                    self.prompter
                        .choose(&format!("{mid}.outcome"), "And now?", &choices, 0)?;
                match outcome.as_str() {
                    "removed" => (MethodStatus::Removed, None),
                    "kept" => (MethodStatus::Kept, keep_reason.clone()),
                    _ => (MethodStatus::Present, None),
                }
            }
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

/// Where to go and what to do there, one line each.
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
    if let Some(a) = &r.admin {
        s.push_str(&format!("\n  For an administrator: {a}"));
    }
}
