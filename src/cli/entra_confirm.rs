//! `enroll` with an Entra tenant connected: a weaker method the person says they removed is
//! looked up in Microsoft Graph again before anything is recorded, and Graph's answer, dated,
//! is what the ledger keeps.

use super::entra::{connected, graph, graph_says, PLAYBOOK};
use crate::admin::checked_at;
use crate::admin::graph::Graph;
use crate::admin::methods::{self, GraphMethod, VISIBLE_TO_GRAPH};
use crate::guide::{Looked, ProviderCheck};
use crate::ledger::Account;
use crate::playbook::MethodKind;

/// Reads the user's methods from Graph for each look; the connection is made at the first.
pub struct GraphCheck {
    graph: Option<Graph>,
}

impl GraphCheck {
    /// Only when a tenant is connected: otherwise enroll records the person's word as before.
    pub fn when_connected() -> Option<GraphCheck> {
        matches!(connected(), Ok(Some(_))).then_some(GraphCheck { graph: None })
    }
}

impl ProviderCheck for GraphCheck {
    fn who_confirms(&self, account: &Account, method: MethodKind) -> Option<String> {
        (account.playbook == PLAYBOOK && VISIBLE_TO_GRAPH.contains(&method))
            .then(|| "Microsoft".to_string())
    }

    fn look(&mut self, account: &Account, method: MethodKind) -> Looked {
        let graph = match &mut self.graph {
            Some(g) => g,
            None => match graph() {
                Ok(g) => self.graph.insert(g),
                Err(e) => return Looked::CouldNotAsk { why: e.to_string() },
            },
        };
        match graph.list_methods(&account.identifier) {
            Ok(raw) => {
                let listed: Vec<GraphMethod> = raw.iter().map(methods::parse).collect();
                match graph_says(method, &listed, &checked_at()) {
                    (true, evidence) => Looked::StillThere { evidence },
                    (false, evidence) => Looked::Gone { evidence },
                }
            }
            Err(e) => Looked::CouldNotAsk { why: e.to_string() },
        }
    }
}
