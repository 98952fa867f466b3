//! A lost or retired key still in an account, in the words a person and a help desk read
//! ("remove lost Key B from Google Account (ada@example.com)") with where to do it; never the
//! ledger's `playbook:identifier` ids.

use super::howto::HowToBook;
use crate::ledger::{KeyState, PersonStatus, PersonSummary};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTask {
    /// "Google Account (ada@example.com)".
    pub account: String,
    /// "Key B".
    pub key: String,
    pub state: KeyState,
    /// The account has two working keys besides: only the lost one is to go. Otherwise it
    /// needs another key first.
    pub remove_only: bool,
    /// Where the provider lists the account's keys.
    pub url: Option<String>,
}

impl KeyTask {
    pub fn text(&self) -> String {
        let state = self.state.as_str();
        if self.remove_only {
            format!("remove {state} {} from {}", self.key, self.account)
        } else {
            format!(
                "{} needs a replacement for {state} {}",
                self.account, self.key
            )
        }
    }

    /// The text, then where to do it.
    pub fn with_url(&self) -> String {
        match &self.url {
            Some(u) => format!("{}: {u}", self.text()),
            None => self.text(),
        }
    }
}

fn account_name(book: &HowToBook, playbook: &str, identifier: &str) -> String {
    format!("{} ({identifier})", book.provider(playbook))
}

/// One person's tasks, from their full status.
pub fn of_status(status: &PersonStatus, book: &HowToBook) -> Vec<KeyTask> {
    status
        .needing_replacement()
        .into_iter()
        .map(|(a, e)| KeyTask {
            account: account_name(book, &a.account.playbook, &a.account.identifier),
            key: e.key_label.clone(),
            state: e.key_state,
            remove_only: a.working_keys >= 2,
            url: book.keys_page(&a.account.playbook),
        })
        .collect()
}

/// The same from a fleet report's summary of the person, which carries them as
/// `playbook:identifier / label` (`needs_replacement`); an account has two working keys
/// besides exactly when it is not among the person's `single_key_accounts`.
pub fn of_summary(p: &PersonSummary, book: &HowToBook) -> Vec<KeyTask> {
    p.needs_replacement
        .iter()
        .filter_map(|n| {
            let (account, label) = n.rsplit_once(" / ")?;
            let (playbook, identifier) = account.split_once(':')?;
            let state = p
                .lost_or_retired_keys
                .iter()
                .find(|k| k.label == label)
                .map_or(KeyState::Lost, |k| k.state);
            let single = p
                .single_key_accounts
                .iter()
                .any(|a| a.playbook == playbook && a.identifier.eq_ignore_ascii_case(identifier));
            Some(KeyTask {
                account: account_name(book, playbook, identifier),
                key: label.to_string(),
                state,
                remove_only: !single,
                url: book.keys_page(playbook),
            })
        })
        .collect()
}
