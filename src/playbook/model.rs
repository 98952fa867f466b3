//! The playbook model: what one provider needs, as plain data.
//!
//! These types are both the TOML format (`providers/*.toml`, `docs/playbooks.md`) and the API
//! the rest of keyward reads: the readiness check reads [`Requirements`], the guided
//! enrollment walks [`EnrollmentPath::steps`] and [`Playbook::weaker_methods`], the ledger
//! stores `Playbook::id` and [`MethodKind::as_str`]. Every struct refuses unknown fields so a
//! typo in a playbook is an error, never a silently ignored line.

use super::method::MethodKind;
use serde::{Deserialize, Serialize};
use time::Date;

/// One provider's playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// Stable identifier (`google`, `microsoft-entra`...): lowercase letters, digits, `-`.
    /// The ledger stores it; a playbook in a folder with the same id overrides the built-in.
    pub id: String,
    /// What a person calls it ("Google Account").
    pub name: String,
    /// Which accounts it applies to, in plain words.
    pub applies_to: String,
    /// When a person last checked every fact against its sources.
    #[serde(with = "iso_date")]
    pub last_reviewed: Date,
    /// Where the facts come from. At least one.
    pub sources: Vec<Source>,
    /// When providers share an RP ID: this playbook's accounts have user names ending in `@`
    /// and one of these domains (an organisation sets its own). Empty: no constraint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_name_domains: Vec<String>,
    /// What a key must be and how many are needed.
    pub requirements: Requirements,
    /// Ways to enroll a key, best first. At least one; the first that is not a fallback is
    /// the one to lead a person through.
    pub paths: Vec<EnrollmentPath>,
    /// Weaker sign-in methods that may remain once keys are enrolled.
    #[serde(default)]
    pub weaker_methods: Vec<WeakerMethod>,
    /// Extra protection the provider offers, with what it costs.
    #[serde(default)]
    pub hardening: Vec<Hardening>,
    /// Anything else a person should know, certain or not.
    #[serde(default)]
    pub notes: Vec<Note>,
}

/// One stated fact, for `playbooks show`: where it is, how sure, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact<'a> {
    pub what: String,
    pub confidence: Option<Confidence>,
    pub not_certain: Option<&'a str>,
    pub sources: Vec<&'a Source>,
}

/// How sure the facts are, from the research notes: verified in the named source, from a
/// secondary source only, or uncertain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Verified,
    Secondary,
    Uncertain,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Verified => "verified",
            Confidence::Secondary => "secondary",
            Confidence::Uncertain => "uncertain",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Short name facts cite it by (`sources = ["wu24"]`); needed only when a fact cites it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// What a key must be. Each rule carries the reason a person is told when their key fails it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    pub keys: KeyCount,
    /// Keys speaking CTAP2 (FIDO2).
    pub fido2: Acceptance,
    /// Keys speaking only U2F (CTAP1).
    pub u2f: Acceptance,
    /// The key must verify its user (a PIN on a security key).
    pub user_verification: Rule,
    /// The key must store a discoverable (resident) credential.
    pub discoverable: Rule,
    /// The key must be FIDO Certified (its metadata in the FIDO MDS).
    pub fido_certified: Rule,
    /// Conditions outside the key (operating system versions, account settings...).
    #[serde(default)]
    pub preconditions: Vec<Precondition>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyCount {
    /// Fewest keys the provider accepts or that keyward will call "done".
    pub min: u32,
    /// How many a person should enroll (at least `min`).
    pub recommended: u32,
    /// Most keys the provider accepts, when it has a limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_certain: Option<String>,
    /// Ids of the `[[sources]]` this fact comes from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    pub acceptable: bool,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_certain: Option<String>,
    /// Ids of the `[[sources]]` this fact comes from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub required: bool,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_certain: Option<String>,
    /// Ids of the `[[sources]]` this fact comes from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Precondition {
    /// What must be true, in plain words ("Two-factor authentication is on").
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_certain: Option<String>,
    /// Ids of the `[[sources]]` this fact comes from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

/// One way to enroll a key, with how its success can be proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentPath {
    /// Unique within the playbook (`passkey`, `second-step`).
    pub id: String,
    pub title: String,
    /// One or two sentences: what this path gives and when to use it.
    pub summary: String,
    /// Only when the preferred path cannot be used.
    #[serde(default)]
    pub fallback: bool,
    pub verification: Verification,
    pub steps: Vec<Step>,
}

/// What proves an enrollment happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The credential is discoverable: keyward lists it on the key (needs the PIN).
    OnKey,
    /// Nothing on the key shows it: a person (or operator) must confirm it in the account.
    PersonConfirms,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    pub evidence: Evidence,
    /// RP IDs a credential from this path may carry; accept every one listed. Empty when
    /// nothing is visible on the key.
    #[serde(default)]
    pub rp_ids: Vec<String>,
    /// How a person tells this provider's credential from another's with the same RP ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tell_apart: Option<String>,
    /// In plain words: how the result is checked.
    pub explanation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_certain: Option<String>,
    /// Ids of the `[[sources]]` this fact comes from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

/// The devices a step can be done on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Web,
    Iphone,
    Mac,
    Android,
    Windows,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Web,
        Platform::Iphone,
        Platform::Mac,
        Platform::Android,
        Platform::Windows,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Web => "web",
            Platform::Iphone => "iphone",
            Platform::Mac => "mac",
            Platform::Android => "android",
            Platform::Windows => "windows",
        }
    }

    /// As a person writes it.
    pub fn label(self) -> &'static str {
        match self {
            Platform::Web => "a web browser",
            Platform::Iphone => "iPhone",
            Platform::Mac => "Mac",
            Platform::Android => "Android",
            Platform::Windows => "Windows",
        }
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown platform `{s}`; use one of: {}",
                    Platform::ALL.map(Platform::as_str).join(", ")
                )
            })
    }
}

/// What a step asks of the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expects {
    /// Read and understand; nothing to do.
    Read,
    /// Do something in the account or on the device.
    Act,
    /// Say that it worked (the guide records the answer).
    Confirm,
    /// keyward checks the key for the new credential.
    VerifyOnKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: String,
    /// Plain words for a non-technical person.
    pub instruction: String,
    pub expects: Expects,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iphone: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub android: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_certain: Option<String>,
    /// Ids of the `[[sources]]` this fact comes from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Done once for the account, after its last key, not once per key (Advanced
    /// Protection's "Enroll in Advanced Protection").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub once: bool,
    /// The words when a pass adds a single key, where `title` and `instruction` speak of
    /// several (Apple adds two keys at once, but a replacement key alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_key: Option<StepWording>,
}

/// A step's title and instruction for another situation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepWording {
    pub title: String,
    pub instruction: String,
}

impl Step {
    /// This step as worded for a pass adding `keys` keys.
    pub fn for_keys(&self, keys: usize) -> std::borrow::Cow<'_, Step> {
        match (&self.one_key, keys) {
            (Some(w), 1) => {
                let mut s = self.clone();
                s.title = w.title.clone();
                s.instruction = w.instruction.clone();
                std::borrow::Cow::Owned(s)
            }
            _ => std::borrow::Cow::Borrowed(self),
        }
    }

    pub fn location(&self, platform: Platform) -> Option<&Location> {
        match platform {
            Platform::Web => self.web.as_ref(),
            Platform::Iphone => self.iphone.as_ref(),
            Platform::Mac => self.mac.as_ref(),
            Platform::Android => self.android.as_ref(),
            Platform::Windows => self.windows.as_ref(),
        }
    }

    /// Every platform this step names a place for.
    pub fn locations(&self) -> impl Iterator<Item = (Platform, &Location)> {
        Platform::ALL
            .into_iter()
            .filter_map(|p| self.location(p).map(|l| (p, l)))
    }

    /// Where to do this step on `platform`: its own place, else the web page (a browser
    /// works on every device). `None` when the step names places only on other devices.
    /// A step that names no place at all applies everywhere and also gives `None`; check
    /// [`Step::applies_to`].
    pub fn location_for(&self, platform: Platform) -> Option<(Platform, &Location)> {
        self.location(platform)
            .map(|l| (platform, l))
            .or_else(|| self.web.as_ref().map(|l| (Platform::Web, l)))
    }

    /// Whether the step can be done on `platform`.
    pub fn applies_to(&self, platform: Platform) -> bool {
        self.locations().next().is_none() || self.location_for(platform).is_some()
    }
}

/// Where something is: a URL, a menu path, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Menu items in order, e.g. `["Settings", "[your name]", "Sign-In & Security"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub menu: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What keyward tells the person to do about a weaker method. `removable` says what the
/// provider allows; this says what is wise, which is not always the same (Google lets you
/// delete the recovery phone under Advanced Protection, but it is the way back in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Advice {
    /// Take it off the account.
    Remove,
    /// It stays, by design: protect it instead (`protect` says how, `keep_reason` why).
    KeepAndProtect,
    /// It cannot sign anyone in while this playbook's setting is on (`why_not_usable`);
    /// removing it is still advised, so it does not come back if the setting is turned off.
    NotUsable,
}

impl Advice {
    pub fn as_str(self) -> &'static str {
        match self {
            Advice::Remove => "remove",
            Advice::KeepAndProtect => "keep_and_protect",
            Advice::NotUsable => "not_usable",
        }
    }
}

/// Whether a weaker method can go once keys are enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Removable {
    Yes,
    No,
    /// Only under `condition`.
    Conditional,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeakerMethod {
    /// From the one vocabulary; unique within a playbook. The ledger stores
    /// `method.as_str()`.
    pub method: MethodKind,
    /// Name as the provider shows it, when it differs from the generic one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub why_weaker: String,
    pub removable: Removable,
    /// When `removable = "conditional"`: when it can be removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// When it must (or may have to) stay: why. The ledger records it as "kept, by design".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<Removal>,
    /// What to tell the person; unset means `remove`, or `keep_and_protect` when
    /// `removable = "no"`. [`WeakerMethod::advice`] gives the effective one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<Advice>,
    /// With `advice = "not_usable"`: why it cannot sign in here, in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why_not_usable: Option<String>,
    /// How to protect what stays (same shape as `remove`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect: Option<Removal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_certain: Option<String>,
    /// Ids of the `[[sources]]` this fact comes from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

impl WeakerMethod {
    /// What to tell the person, with the default filled in.
    pub fn advice(&self) -> Advice {
        self.advice.unwrap_or(if self.removable == Removable::No {
            Advice::KeepAndProtect
        } else {
            Advice::Remove
        })
    }

    /// The reason that goes with the advice: why it stays, or why it cannot sign in here.
    pub fn advice_reason(&self) -> Option<&str> {
        match self.advice() {
            Advice::Remove => None,
            Advice::KeepAndProtect => self.keep_reason.as_deref(),
            Advice::NotUsable => self.why_not_usable.as_deref(),
        }
    }

    /// The provider's name for it, else the vocabulary's.
    pub fn display_name(&self) -> &str {
        self.label
            .as_deref()
            .unwrap_or_else(|| self.method.description())
    }
}

/// How a weaker method is removed (or, under `protect`, protected).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Removal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub menu: Vec<String>,
    /// What to do there, in order.
    #[serde(default)]
    pub steps: Vec<String>,
    /// How an administrator removes it for a managed account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hardening {
    /// Unique within the playbook (`advanced-protection`, `lockdown-mode`).
    pub id: String,
    pub name: String,
    /// What it does.
    pub what: String,
    /// What it costs the person.
    pub trade_off: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub menu: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_certain: Option<String>,
    /// Ids of the `[[sources]]` this fact comes from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// Ids of the `[[sources]]` this note comes from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

impl Playbook {
    /// The provider pages the playbook sends a person to, where enrolled keys are listed too
    /// (the last page of each path): where a lost key is taken out of the account.
    pub fn key_pages(&self) -> Vec<String> {
        let mut pages: Vec<String> = Vec::new();
        for path in &self.paths {
            let last_page = path
                .steps
                .iter()
                .rev()
                .find_map(|s| s.web.as_ref().and_then(|w| w.url.clone()));
            if let Some(url) = last_page {
                if !pages.contains(&url) {
                    pages.push(url);
                }
            }
        }
        pages.truncate(2);
        pages
    }

    /// The path to lead a person through: the first that is not a fallback (or the first).
    ///
    /// # Panics
    /// On a playbook without paths, which the loader and validator never let through.
    pub fn primary_path(&self) -> &EnrollmentPath {
        self.paths
            .iter()
            .find(|p| !p.fallback)
            .unwrap_or(&self.paths[0])
    }

    pub fn path(&self, id: &str) -> Option<&EnrollmentPath> {
        self.paths.iter().find(|p| p.id == id)
    }

    pub fn weaker_method(&self, method: MethodKind) -> Option<&WeakerMethod> {
        self.weaker_methods.iter().find(|m| m.method == method)
    }

    /// Every RP ID a credential for this provider may carry on the key, over all paths.
    pub fn rp_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for path in &self.paths {
            for id in &path.verification.rp_ids {
                if !ids.contains(&id.as_str()) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// Whether a credential found on a key (`rp_id`, and its user name where the key gives
    /// one) may belong to this provider: the RP ID is listed on some path, and where the
    /// playbook names user-name domains, the user name ends in one of them.
    pub fn claims_credential(&self, rp_id: &str, user_name: Option<&str>) -> bool {
        let rp_matches = self.rp_ids().iter().any(|r| r.eq_ignore_ascii_case(rp_id));
        rp_matches
            && (self.user_name_domains.is_empty()
                || user_name.is_some_and(|u| {
                    let u = u.to_ascii_lowercase();
                    self.user_name_domains
                        .iter()
                        .any(|d| u.ends_with(&format!("@{}", d.to_ascii_lowercase())))
                }))
    }

    /// Every fact marked not certain, as (where, what) pairs, for "not certain:" lists.
    pub fn uncertainties(&self) -> Vec<(String, String)> {
        self.facts()
            .into_iter()
            .filter_map(|f| f.not_certain.map(|n| (f.what, n.to_string())))
            .collect()
    }

    /// Every fact the playbook states, with how sure it is and the sources it cites, so a
    /// help desk can see why keyward says what it says. Sources a fact names that the
    /// playbook does not list are left out (the validator reports them).
    pub fn facts<'a>(&'a self) -> Vec<Fact<'a>> {
        let mut out: Vec<Fact<'_>> = Vec::new();
        let mut add =
            |what: String, confidence, not_certain: &'a Option<String>, ids: &'a [String]| {
                out.push(Fact {
                    what,
                    confidence,
                    not_certain: not_certain.as_deref(),
                    sources: self.cited(ids),
                });
            };
        let r = &self.requirements;
        add(
            "number of keys".into(),
            r.keys.confidence,
            &r.keys.not_certain,
            &r.keys.sources,
        );
        for (what, a) in [("FIDO2 keys", &r.fido2), ("U2F-only keys", &r.u2f)] {
            add(what.into(), a.confidence, &a.not_certain, &a.sources);
        }
        for (what, rule) in [
            ("PIN requirement", &r.user_verification),
            ("discoverable credential", &r.discoverable),
            ("FIDO certification", &r.fido_certified),
        ] {
            add(
                what.into(),
                rule.confidence,
                &rule.not_certain,
                &rule.sources,
            );
        }
        for c in &r.preconditions {
            add(c.text.clone(), c.confidence, &c.not_certain, &c.sources);
        }
        for p in &self.paths {
            let v = &p.verification;
            add(
                format!("{}: verification", p.title),
                v.confidence,
                &v.not_certain,
                &v.sources,
            );
            for s in &p.steps {
                add(
                    format!("{}: {}", p.title, s.title),
                    s.confidence,
                    &s.not_certain,
                    &s.sources,
                );
            }
        }
        for m in &self.weaker_methods {
            add(
                format!("{} [{}]", m.display_name(), m.method),
                m.confidence,
                &m.not_certain,
                &m.sources,
            );
        }
        for h in &self.hardening {
            add(h.name.clone(), h.confidence, &h.not_certain, &h.sources);
        }
        for n in &self.notes {
            add(n.text.clone(), n.confidence, &None, &n.sources);
        }
        out
    }

    /// The listed sources with these ids, in the order given.
    pub fn cited<'a>(&'a self, ids: &[String]) -> Vec<&'a Source> {
        ids.iter()
            .filter_map(|id| {
                self.sources
                    .iter()
                    .find(|s| s.id.as_deref() == Some(id.as_str()))
            })
            .collect()
    }
}

/// TOML dates (`2026-11-20`) in and `YYYY-MM-DD` strings in JSON.
mod iso_date {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};
    use time::{macros::format_description, Date};

    const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        let text = date.format(FORMAT).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        // A TOML date arrives as a datetime value; JSON (and a quoted TOML date) as a string.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Toml(toml::value::Datetime),
            Text(String),
        }
        let value = match Raw::deserialize(d)
            .map_err(|_| D::Error::custom("expected a date like 2026-11-20"))?
        {
            Raw::Toml(dt) => dt.to_string(),
            Raw::Text(s) => s,
        };
        Date::parse(&value, FORMAT).map_err(|_| {
            D::Error::custom(format!(
                "`{value}` is not a plain date; write it like 2026-11-20 (no time, no quotes)"
            ))
        })
    }
}
