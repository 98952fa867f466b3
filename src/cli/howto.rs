//! What the playbooks say about a weaker method, for `status` and `report`: its name and how
//! to remove it (or why it stays). The words live in the playbooks, never here.

use super::Context;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct HowTo {
    /// The provider's name for the method, e.g. "2-Step Verification phone".
    pub name: Option<String>,
    pub url: Option<String>,
    /// Menu path, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub menu: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// How an administrator removes it for a managed account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
    /// When the playbook says it must (or may have to) stay: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_reason: Option<String>,
}

/// The playbooks, loaded once per command; a broken playbook folder only loses the hints.
pub struct HowToBook {
    catalog: Option<()>,
}

impl HowToBook {
    pub fn load(ctx: &Context) -> HowToBook {
        let _ = ctx;
        HowToBook { catalog: None }
    }

    pub fn get(&self, playbook: &str, method: &str) -> Option<HowTo> {
        let _ = (playbook, method, &self.catalog);
        None
    }

    /// The playbook's name for the provider, e.g. "Google Account".
    pub fn provider(&self, playbook: &str) -> String {
        playbook.to_string()
    }
}

/// Several lines of "how", indented, for text output.
pub fn render(how: &HowTo, indent: &str) -> String {
    let mut s = String::new();
    let mut place = Vec::new();
    if let Some(url) = &how.url {
        place.push(url.clone());
    }
    if !how.menu.is_empty() {
        place.push(how.menu.join(" > "));
    }
    if !place.is_empty() {
        s.push_str(&format!("{indent}Where: {}\n", place.join("  or  ")));
    }
    for (i, step) in how.steps.iter().enumerate() {
        s.push_str(&format!("{indent}{}. {step}\n", i + 1));
    }
    if let Some(admin) = &how.admin {
        s.push_str(&format!("{indent}Administrator: {admin}\n"));
    }
    if let Some(reason) = &how.keep_reason {
        s.push_str(&format!("{indent}May have to stay: {reason}\n"));
    }
    s
}
