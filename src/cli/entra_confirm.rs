//! `enroll` with an Entra tenant connected: the weaker methods of a Microsoft work account are
//! read from Microsoft Graph instead of asked, and a weaker method the person says they
//! removed is looked up in Graph again before anything is recorded. Graph's answer, dated, is
//! what the ledger keeps, decided exactly as `status` decides it.

use super::entra::{connected, graph, graph_says, graph_state, was_on, PLAYBOOK};
use crate::admin::checked_at;
use crate::admin::graph::Graph;
use crate::admin::methods::{self, GraphMethod, VISIBLE_TO_GRAPH};
use crate::error::Result;
use crate::guide::{Listing, Looked, ProviderCheck};
use crate::ledger::{Account, MethodRecord};
use crate::playbook::MethodKind;

/// Reads the user's methods from Graph for the session's checklist and each look.
pub struct GraphCheck {
    graph: Option<Graph>,
}

impl GraphCheck {
    /// Only when a tenant is connected: otherwise enroll asks the person and records their word.
    pub fn when_connected() -> Option<GraphCheck> {
        matches!(connected(), Ok(Some(_))).then_some(GraphCheck { graph: None })
    }

    /// The user's methods as Graph lists them now; the connection is made at the first call.
    fn listed(&mut self, user: &str) -> Result<Vec<GraphMethod>> {
        let graph = match &mut self.graph {
            Some(g) => g,
            None => self.graph.insert(graph()?),
        };
        Ok(graph
            .list_methods(user)?
            .iter()
            .map(methods::parse)
            .collect())
    }
}

impl ProviderCheck for GraphCheck {
    fn who_lists(&self, account: &Account) -> Option<String> {
        (account.playbook == PLAYBOOK).then(|| "Microsoft".to_string())
    }

    fn list(&mut self, account: &Account, recorded: &[MethodRecord]) -> Listing {
        let Ok(listed) = self.listed(&account.identifier) else {
            return Listing::Unreachable;
        };
        let (at, was_on) = (checked_at(), was_on(recorded));
        Listing::Read(
            VISIBLE_TO_GRAPH
                .iter()
                .map(|&kind| {
                    let (status, evidence) = graph_state(kind, &listed, &[], &was_on, &at);
                    (kind, status, evidence)
                })
                .collect(),
        )
    }

    fn who_confirms(&self, account: &Account, method: MethodKind) -> Option<String> {
        (account.playbook == PLAYBOOK && VISIBLE_TO_GRAPH.contains(&method))
            .then(|| "Microsoft".to_string())
    }

    fn look(&mut self, account: &Account, method: MethodKind) -> Looked {
        match self.listed(&account.identifier) {
            Ok(listed) => match graph_says(method, &listed, &checked_at()) {
                (true, evidence) => Looked::StillThere { evidence },
                (false, evidence) => Looked::Gone { evidence },
            },
            Err(e) => Looked::CouldNotAsk { why: e.to_string() },
        }
    }
}
