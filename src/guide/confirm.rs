//! A removal the provider itself can confirm: when keyward can ask the provider (an Entra
//! tenant connected through its admin access), "I removed it" is checked there before it is
//! recorded, and only the provider's answer is recorded as the evidence. Before that, the
//! weaker methods the provider lists are read from it rather than asked of the person.

use super::flow::Guide;
use super::prompt::Choice;
use crate::error::Result;
use crate::ledger::{Account, MethodRecord, MethodStatus};
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

/// What the provider lists on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// Each weaker method the provider can see, with the state to record and its evidence
    /// (the provider's answer and the date).
    Read(Vec<(MethodKind, MethodStatus, String)>),
    /// The provider could not be asked now (not reached, or it does not know the account).
    Unreachable,
}

/// Someone keyward can ask whether a weaker method is still on an account.
pub trait ProviderCheck {
    /// Who can list `account`'s weaker methods, as the person knows them ("Microsoft");
    /// `None` when keyward cannot ask (the person is asked).
    fn who_lists(&self, account: &Account) -> Option<String>;
    /// Read them now. `recorded`: what the ledger holds for the account, so that a method no
    /// longer listed is "removed" only if it was on.
    fn list(&mut self, account: &Account, recorded: &[MethodRecord]) -> Listing;
    /// Who confirms that `method` is gone from `account`, as the person knows them
    /// ("Microsoft"); `None` when keyward cannot ask (the person's word is then recorded).
    fn who_confirms(&self, account: &Account, method: MethodKind) -> Option<String>;
    /// Ask now.
    fn look(&mut self, account: &Account, method: MethodKind) -> Looked;
}

/// Looks in one go: an answers file saying `again` must not loop for ever. After them the
/// method is left for later, as if the person had chosen it.
const MAX_LOOKS: usize = 5;

/// What is left to ask after the provider listed an account's methods.
pub(super) struct Unlisted<'m> {
    /// The methods the provider cannot see (or none, when a script does not answer for them).
    pub methods: Vec<&'m WeakerMethod>,
    /// The id of the checklist that asks about them.
    pub list_id: String,
}

impl Guide<'_> {
    /// Reads the methods in `ask` from the provider, when one can be asked, instead of asking
    /// the person: each one it lists goes through its how-to, the others are recorded as not
    /// there, with the provider's answer and the date as the evidence. `None`: ask the person
    /// about every one (nobody to ask, or not reachable now: said in plain words).
    pub(super) fn listed_by_provider<'m>(
        &mut self,
        playbook: &Playbook,
        account: &Account,
        ask: &[&'m WeakerMethod],
    ) -> Result<Option<Unlisted<'m>>> {
        let Some(who) = self.provider.as_deref().and_then(|p| p.who_lists(account)) else {
            return Ok(None);
        };
        let recorded = self.record.methods(account)?;
        let listing = match self.provider.as_deref_mut() {
            Some(p) => p.list(account, &recorded),
            None => return Ok(None),
        };
        let Listing::Read(read) = listing else {
            self.prompter.warn(&format!(
                "keyward could not check your account with {who}, so it asks you instead."
            ));
            return Ok(None);
        };
        let mut on = Vec::new();
        let mut off = Vec::new();
        let mut unseen = Vec::new();
        for m in ask {
            match read.iter().find(|(k, _, _)| *k == m.method) {
                Some((_, status, evidence)) if status.remains() => on.push((*m, evidence)),
                Some((_, status, evidence)) => off.push((*m, *status, evidence)),
                None => unseen.push(*m),
            }
        }
        let names = |ms: &mut dyn Iterator<Item = &WeakerMethod>| -> String {
            ms.map(|m| format!("\n  - {}", m.display_name())).collect()
        };
        let mut said = if on.is_empty() {
            format!("{who} shows none of these on your account:")
        } else {
            format!(
                "{who} shows these on your account:{}",
                names(&mut on.iter().map(|(m, _)| *m))
            )
        };
        if !on.is_empty() && !off.is_empty() {
            said.push_str("\nNot on it:");
        }
        said.push_str(&names(&mut off.iter().map(|(m, _, _)| *m)));
        if !on.is_empty() || !off.is_empty() {
            self.prompter.info(&said);
        }
        for (m, status, evidence) in off {
            self.record.set_method(
                account,
                m.method.as_str(),
                status,
                Some(evidence),
                &self.actor,
            )?;
        }
        for (m, evidence) in on {
            self.still_on(playbook, account, m, Some(evidence))?;
        }
        // What the provider cannot see is still the person's to say; a script that does not
        // answer for it leaves it not checked yet.
        let list_id = format!("method.{}.unlisted", playbook.id);
        let answered = unseen.first().is_some_and(|m| {
            self.prompter.has_answer(&list_id)
                || self.prompter.has_answer(&format!(
                    "method.{}.{}.status",
                    playbook.id,
                    m.method.as_str()
                ))
        });
        if !unseen.is_empty() {
            self.prompter.info(&format!(
                "{who} does not show keyward these:{}",
                names(&mut unseen.iter().copied())
            ));
            if !answered {
                self.prompter
                    .info("They stay on the list as not checked yet.");
                unseen.clear();
            }
        }
        Ok(Some(Unlisted {
            methods: unseen,
            list_id,
        }))
    }

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
                Some(crate::ledger::REMOVED_BY_PERSON),
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
