//! Keys marked lost or retired: taking each out of the accounts it was enrolled in, so that
//! whoever finds a lost key cannot use it there.

use super::flow::{account_name, label_id, Guide};
use crate::error::Result;
use crate::ledger::{Account, Person};
use crate::playbook::Playbook;

impl Guide<'_> {
    /// Ask, for each enrollment of a lost or retired key in `account`, whether the key has been
    /// removed at the provider; a yes settles the enrollment. Returns what is left for later.
    pub(super) fn settle_replaced(
        &mut self,
        person: &Person,
        playbook: &Playbook,
        account: &Account,
    ) -> Result<Vec<String>> {
        let pending: Vec<_> = self
            .record
            .enrollments(account)?
            .into_iter()
            .filter(|e| e.needs_replacement)
            .collect();
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.record.keys(person)?;
        let pages = playbook.key_pages();
        let mut later = Vec::new();
        for e in pending {
            let Some(key) = keys.iter().find(|k| k.id == e.key_id) else {
                continue;
            };
            let name = account_name(playbook, account);
            self.prompter.info(&format!(
                "\n{} is marked {}{}, but {name} still lists it. Remove it there{}{}.",
                key.label,
                key.state.as_str(),
                key.state_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                if pages.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", on the page where its keys are listed: {}",
                        pages.join(" or ")
                    )
                },
                key.model
                    .as_deref()
                    .map(|m| format!(" (it shows as a {m}, added {})", day(&e.enrolled_at)))
                    .unwrap_or_else(|| format!(" (added {})", day(&e.enrolled_at))),
            ));
            let removed = self.prompter.confirm(
                &format!("replace.{}.{}.removed", playbook.id, label_id(&key.label)),
                &format!("Has {} been removed from {name}?", key.label),
                false,
            )?;
            if removed {
                self.record.remove_enrollment(
                    account,
                    key,
                    &format!("removed at the provider ({} key)", key.state.as_str()),
                    &self.actor,
                )?;
                self.prompter
                    .info(&format!("Recorded: {} is no longer in {name}.", key.label));
            } else {
                later.push(format!("{name}: remove {}", key.label));
            }
        }
        Ok(later)
    }
}

/// `2026-11-21T10:00:00Z` -> `2026-11-21`.
fn day(at: &str) -> &str {
    at.get(..10).unwrap_or(at)
}
