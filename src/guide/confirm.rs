//! A removal the provider itself can confirm: when keyward can ask the provider (an Entra
//! tenant connected through its admin access), "I removed it" is checked there before it is
//! recorded, and only the provider's answer is recorded as the evidence.

use super::flow::Guide;
use super::prompt::Choice;
use crate::error::Result;
use crate::ledger::{Account, MethodStatus};
use crate::playbook::{MethodKind, Playbook, WeakerMethod};

/// What the provider said about one weaker method of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Looked {
    /// No longer listed. `evidence` is what gets recorded (the provider's answer and the date).
    Gone { evidence: String },
    /// Still listed, with `evidence` as for `Gone`.
    StillThere { evidence: String },
    /// The provider could not be asked now; `why` is for the help desk's record only.
    CouldNotAsk { why: String },
}

/// Someone keyward can ask whether a weaker method is still on an account.
pub trait ProviderCheck {
    /// Who confirms that `method` is gone from `account`, as the person knows them
    /// ("Microsoft"); `None` when keyward cannot ask (the person's word is then recorded).
    fn who_confirms(&self, account: &Account, method: MethodKind) -> Option<String>;
    /// Ask now.
    fn look(&mut self, account: &Account, method: MethodKind) -> Looked;
}

/// Looks in one go: an answers file saying `again` must not loop for ever. After them the
/// method is left for later, as if the person had chosen it.
const MAX_LOOKS: usize = 5;

impl Guide<'_> {
    /// The person says `m` is removed: record it at once when nobody can be asked, else only
    /// once the provider no longer lists it. Until then it stays on the list.
    pub(super) fn removed_by_person(
        &mut self,
        playbook: &Playbook,
        account: &Account,
        m: &WeakerMethod,
    ) -> Result<()> {
        let method = m.method.as_str();
        let who = self
            .provider
            .as_deref()
            .and_then(|p| p.who_confirms(account, m.method));
        let Some(who) = who else {
            return self.record.set_method(
                account,
                method,
                MethodStatus::Removed,
                None,
                &self.actor,
            );
        };
        let id = format!("method.{}.{method}.recheck", playbook.id);
        let mut still = None;
        for look in 1..=MAX_LOOKS {
            let answer = match self.provider.as_deref_mut() {
                Some(p) => p.look(account, m.method),
                None => break,
            };
            match answer {
                Looked::Gone { evidence } => {
                    self.prompter.info(&format!(
                        "{who} confirms \"{}\" is gone from this account.",
                        m.display_name()
                    ));
                    return self.record.set_method(
                        account,
                        method,
                        MethodStatus::Removed,
                        Some(&evidence),
                        &self.actor,
                    );
                }
                Looked::StillThere { evidence } => {
                    self.prompter.warn(&format!(
                        "{who} still shows \"{}\" on this account. A removal can take a minute \
                         to show; if you removed it, look again.",
                        m.display_name()
                    ));
                    still = Some(evidence);
                }
                Looked::CouldNotAsk { why } => {
                    self.prompter
                        .warn(&format!("keyward could not reach {who} to check just now."));
                    still = Some(format!("said to be removed, not confirmed: {why}"));
                }
            }
            // A script that says nothing about looking again leaves it for later.
            if look == MAX_LOOKS || !self.prompter.has_answer(&id) {
                break;
            }
            let choices = [
                Choice::new("again", "Look again"),
                Choice::new("later", "Leave it for later (it stays on the list)"),
            ];
            let next = self.prompter.choose(
                &id,
                &format!("{}: look again?", m.display_name()),
                &choices,
                1,
            )?;
            if next != "again" {
                break;
            }
        }
        self.prompter.info(&format!(
            "\"{}\" stays on the list until {who} no longer shows it.",
            m.display_name()
        ));
        self.record.set_method(
            account,
            method,
            MethodStatus::Present,
            still.as_deref(),
            &self.actor,
        )
    }
}
