//! What the playbooks say about a weaker method, for `status` and `report`: its name and how
//! to remove it (or why it stays). The words live in the playbooks, never here.

use super::Context;
use crate::playbook::{Advice, Catalog, MethodKind, Removal};
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
    /// Remove it, keep it and protect it, or: it cannot sign in here (remove it anyway).
    pub advice: Option<Advice>,
    /// With `not_usable`: why it cannot sign anyone in here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_not_usable: Option<String>,
    /// With `keep_and_protect`: how to protect what stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protect: Option<Removal>,
}

/// The playbooks, loaded once per command. A broken playbook folder costs only the hints
/// (with a warning), never the record itself.
pub struct HowToBook {
    catalog: Option<Catalog>,
}

impl HowToBook {
    pub fn load(ctx: &Context) -> HowToBook {
        let catalog = match ctx.playbooks() {
            Ok(c) => Some(c),
            Err(e) => {
                ctx.out
                    .warn(format!("cannot show how to remove each method: {e}"));
                None
            }
        };
        HowToBook { catalog }
    }

    pub fn get(&self, playbook: &str, method: &str) -> Option<HowTo> {
        let kind: MethodKind = method.parse().ok()?;
        let wm = self.catalog.as_ref()?.get(playbook)?.weaker_method(kind)?;
        let removal = wm.remove.clone().unwrap_or(Removal {
            url: None,
            menu: Vec::new(),
            steps: Vec::new(),
            admin: None,
        });
        Some(HowTo {
            name: Some(wm.display_name().to_string()),
            url: removal.url,
            menu: removal.menu,
            steps: removal.steps,
            admin: removal.admin,
            keep_reason: wm.keep_reason.clone(),
            advice: Some(wm.advice()),
            why_not_usable: wm.why_not_usable.clone(),
            protect: wm.protect.clone(),
        })
    }

    /// The playbook's name for the method, else the generic one a person recognises (a
    /// method no playbook lists, e.g. one Graph reported), never the bare id unless unknown.
    pub fn method_name(&self, playbook: &str, method: &str) -> String {
        self.get(playbook, method)
            .and_then(|h| h.name)
            .or_else(|| {
                method
                    .parse::<MethodKind>()
                    .ok()
                    .map(|k| k.description().to_string())
            })
            .unwrap_or_else(|| method.to_string())
    }

    /// The playbook's name for the provider, e.g. "Google Account"; the id when unknown.
    pub fn provider(&self, playbook: &str) -> String {
        self.catalog
            .as_ref()
            .and_then(|c| c.get(playbook))
            .map(|p| p.name.clone())
            .unwrap_or_else(|| playbook.to_string())
    }

    /// Where the provider lists the account's keys (to take a lost one out), if the playbook
    /// says.
    pub fn keys_page(&self, playbook: &str) -> Option<String> {
        self.catalog
            .as_ref()
            .and_then(|c| c.get(playbook))
            .and_then(|p| p.key_pages().into_iter().next())
    }

    /// Whether `method` is in the vocabulary, and whether the playbook lists it.
    pub fn check_method(&self, playbook: &str, method: &str) -> MethodCheck {
        let Ok(kind) = method.parse::<MethodKind>() else {
            return MethodCheck::NotInVocabulary;
        };
        match self.catalog.as_ref().and_then(|c| c.get(playbook)) {
            Some(p) if p.weaker_method(kind).is_none() => MethodCheck::NotInPlaybook,
            _ => MethodCheck::Known,
        }
    }

    /// The playbook's reason for keeping a method, if it gives one.
    pub fn keep_reason(&self, playbook: &str, method: &str) -> Option<String> {
        self.get(playbook, method).and_then(|h| h.keep_reason)
    }
}

pub enum MethodCheck {
    Known,
    NotInPlaybook,
    NotInVocabulary,
}

/// Every method id in the vocabulary, for error messages.
pub fn vocabulary() -> String {
    MethodKind::ALL
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Several lines of "how", indented, for text output: what to do about the method in plain
/// words, then where and how.
pub fn render(how: &HowTo, indent: &str) -> String {
    let mut s = String::new();
    match how.advice {
        Some(Advice::KeepAndProtect) => {
            s.push_str(&format!(
                "{indent}Keep it, by design: {}\n",
                how.keep_reason
                    .as_deref()
                    .unwrap_or("the provider does not let it go")
            ));
            if let Some(p) = &how.protect {
                s.push_str(&format!("{indent}Protect it:\n"));
                place_and_steps(&mut s, p, indent);
            }
            return s;
        }
        Some(Advice::NotUsable) => {
            if let Some(w) = &how.why_not_usable {
                s.push_str(&format!(
                    "{indent}It cannot sign anyone in here: {w} Remove it anyway:\n"
                ));
            }
        }
        Some(Advice::Remove) | None => {}
    }
    place_and_steps(
        &mut s,
        &Removal {
            url: how.url.clone(),
            menu: how.menu.clone(),
            steps: how.steps.clone(),
            admin: how.admin.clone(),
        },
        indent,
    );
    if let Some(reason) = &how.keep_reason {
        s.push_str(&format!("{indent}May have to stay: {reason}\n"));
    }
    s
}

fn place_and_steps(s: &mut String, how: &Removal, indent: &str) {
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
}
