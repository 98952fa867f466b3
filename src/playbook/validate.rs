//! Checking one playbook file: TOML and field errors from the parser (rewritten to say what
//! to do), then the rules the types cannot express. Every finding has file, line and column.

use super::method::MethodKind;
use super::model::{Advice, Confidence, Location, Playbook, Removable};
use serde::Serialize;
use std::fmt;
use time::{Date, OffsetDateTime};

/// Playbooks last reviewed longer ago than this get a warning.
pub const DEFAULT_MAX_AGE_DAYS: u32 = 180;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding in one file. Line and column count from 1; the column counts characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ValidateOptions {
    pub today: Date,
    /// A review older than this many days is a warning.
    pub max_age_days: u32,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            today: OffsetDateTime::now_utc().date(),
            max_age_days: DEFAULT_MAX_AGE_DAYS,
        }
    }
}

/// The outcome for one file: the playbook when it parsed, and every finding.
#[derive(Debug, Clone)]
pub struct Checked {
    pub playbook: Option<Playbook>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}

/// Check one playbook's text. `file` names it in the findings.
pub fn check_source(source: &str, file: &str, opts: &ValidateOptions) -> Checked {
    let playbook: Playbook = match toml::from_str(source) {
        Ok(p) => p,
        Err(e) => {
            let (line, column) = e
                .span()
                .map(|s| line_col(source, s.start))
                .unwrap_or((1, 1));
            return Checked {
                playbook: None,
                diagnostics: vec![Diagnostic {
                    file: file.to_string(),
                    line,
                    column,
                    severity: Severity::Error,
                    message: explain_parse_error(e.message()),
                }],
            };
        }
    };
    let spans = Spans::new(source);
    let mut c = Checker {
        file,
        source,
        spans: &spans,
        out: Vec::new(),
    };
    c.check(&playbook, opts);
    Checked {
        playbook: Some(playbook),
        diagnostics: c.out,
    }
}

/// 1-based line and character column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The serde messages name the problem but not the fix; these say what to write instead.
fn explain_parse_error(message: &str) -> String {
    let message = message.trim();
    if let Some((found, expected)) = split_unknown(message, "unknown field `") {
        return match nearest(&found, &expected) {
            Some(best) => format!("unknown field `{found}`; did you mean `{best}`?"),
            None if expected.is_empty() => format!("unknown field `{found}`; nothing goes here"),
            None => format!(
                "unknown field `{found}`; the fields here are: {}",
                expected.join(", ")
            ),
        };
    }
    if let Some((found, expected)) = split_unknown(message, "unknown variant `") {
        let vocabulary: Vec<&str> = MethodKind::ALL.iter().map(|m| m.as_str()).collect();
        let what = if expected == vocabulary {
            "weaker method"
        } else {
            "value"
        };
        let hint = match nearest(&found, &expected) {
            Some(best) => format!("did you mean `{best}`? "),
            None => String::new(),
        };
        return format!(
            "unknown {what} `{found}`; {hint}use one of: {}",
            expected.join(", ")
        );
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        let why = match field {
            "sources" => " (the https:// pages its facts come from)",
            "last_reviewed" => " (the date a person last checked the facts, like 2026-11-20)",
            _ => "",
        };
        return format!("missing field `{field}`{why}");
    }
    message.to_string()
}

/// From "unknown field `x`, expected one of `a`, `b`" (or "expected `a`", or "there are no
/// fields"), the found name and the valid ones.
fn split_unknown(message: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    let found = rest[..end].to_string();
    let tail = &rest[end + 1..];
    let expected = tail
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((found, expected))
}

/// The valid name a typo most likely meant, if any is close.
fn nearest(found: &str, valid: &[String]) -> Option<String> {
    valid
        .iter()
        .map(|v| (strsim::damerau_levenshtein(found, v), v))
        .filter(|(d, v)| *d <= 2.max(v.chars().count() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v.clone())
        .or_else(|| {
            valid
                .iter()
                .map(|v| (strsim::jaro_winkler(found, v), v))
                .filter(|(s, _)| *s >= 0.85)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, v)| v.clone())
        })
}

/// One step of a path into the TOML document.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Positions of values in the document, for findings the parser cannot make.
pub struct Spans<'i> {
    root: Option<toml::Spanned<toml::de::DeTable<'i>>>,
}

impl<'i> Spans<'i> {
    pub fn new(source: &'i str) -> Spans<'i> {
        Spans {
            root: toml::de::DeTable::parse(source).ok(),
        }
    }

    /// Byte offset of the value at `path`, or of the deepest part of it that exists.
    pub fn offset(&self, path: &[Seg<'_>]) -> usize {
        let Some(root) = &self.root else { return 0 };
        let mut table: Option<&toml::de::DeTable<'i>> = Some(root.get_ref());
        let mut array: Option<&toml::de::DeArray<'i>> = None;
        let mut best = root.span().start;
        for seg in path {
            let next = match (seg, table, array) {
                (Seg::Key(k), Some(t), _) => t.get(*k),
                (Seg::Index(i), _, Some(a)) => a.get(*i),
                _ => None,
            };
            let Some(value) = next else { break };
            best = value.span().start;
            table = value.get_ref().as_table();
            array = value.get_ref().as_array();
        }
        best
    }
}

struct Checker<'a> {
    file: &'a str,
    source: &'a str,
    spans: &'a Spans<'a>,
    out: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn push(&mut self, severity: Severity, path: &[Seg<'_>], message: String) {
        let (line, column) = line_col(self.source, self.spans.offset(path));
        self.out.push(Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            severity,
            message,
        });
    }

    fn error(&mut self, path: &[Seg<'_>], message: impl Into<String>) {
        self.push(Severity::Error, path, message.into());
    }

    fn url(&mut self, path: &[Seg<'_>], url: &str) {
        let host = url.strip_prefix("https://").unwrap_or("");
        if !url.starts_with("https://") {
            self.error(
                path,
                format!("`{url}` is not an https:// URL; playbooks only link to https:// pages"),
            );
        } else if host.is_empty() || host.starts_with('/') || url.chars().any(|c| c.is_whitespace())
        {
            self.error(path, format!("`{url}` is not a valid URL"));
        }
    }

    fn not_empty(&mut self, path: &[Seg<'_>], field: &str, value: &str) {
        if value.trim().is_empty() {
            self.error(path, format!("`{field}` is empty; say it in plain words"));
        }
    }

    fn certainty(
        &mut self,
        path: &[Seg<'_>],
        confidence: Option<Confidence>,
        not_certain: &Option<String>,
    ) {
        if confidence == Some(Confidence::Uncertain)
            && not_certain.as_deref().is_none_or(|s| s.trim().is_empty())
        {
            let mut at = path.to_vec();
            at.push(Seg::Key("confidence"));
            self.error(
                &at,
                "marked `confidence = \"uncertain\"` without `not_certain`: say what is not certain, so the person is told",
            );
        }
    }

    /// Each id a fact cites must be one of the playbook's `[[sources]]` ids.
    fn cites(&mut self, path: &[Seg<'_>], ids: &[String], known: &[&str]) {
        for (i, id) in ids.iter().enumerate() {
            if !known.contains(&id.as_str()) {
                let mut at = path.to_vec();
                at.push(Seg::Key("sources"));
                at.push(Seg::Index(i));
                let hint = if known.is_empty() {
                    "no [[sources]] has an `id` yet; give the source an `id` first".to_string()
                } else {
                    format!("the [[sources]] ids are: {}", known.join(", "))
                };
                self.error(&at, format!("unknown source `{id}`; {hint}"));
            }
        }
    }

    fn location(&mut self, path: &[Seg<'_>], loc: &Location) {
        if loc.url.is_none() && loc.menu.is_empty() {
            self.error(path, "a place needs a `url` or a `menu` path (or both)");
        }
        if let Some(u) = &loc.url {
            let mut p = path.to_vec();
            p.push(Seg::Key("url"));
            self.url(&p, u);
        }
    }

    fn check(&mut self, pb: &Playbook, opts: &ValidateOptions) {
        use Seg::{Index as I, Key as K};

        let id_ok = !pb.id.is_empty()
            && pb
                .id
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && pb
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            self.error(
                &[K("id")],
                format!(
                    "id `{}` must be lowercase letters, digits and `-` (like `google` or `acme-vpn`)",
                    pb.id
                ),
            );
        }
        self.not_empty(&[K("name")], "name", &pb.name);
        self.not_empty(&[K("applies_to")], "applies_to", &pb.applies_to);

        if pb.last_reviewed > opts.today {
            self.error(
                &[K("last_reviewed")],
                format!(
                    "last_reviewed {} is in the future; write the date the facts were checked",
                    pb.last_reviewed
                ),
            );
        } else {
            let age = (opts.today - pb.last_reviewed).whole_days();
            if age > i64::from(opts.max_age_days) {
                self.push(
                    Severity::Warning,
                    &[K("last_reviewed")],
                    format!(
                        "last reviewed {} ({age} days ago, more than {}): providers change their menus; check every fact against its sources and update last_reviewed",
                        pb.last_reviewed, opts.max_age_days
                    ),
                );
            }
        }

        if pb.sources.is_empty() {
            self.error(
                &[K("sources")],
                "no sources: list the https:// pages the facts come from",
            );
        }
        for (i, s) in pb.sources.iter().enumerate() {
            self.url(&[K("sources"), I(i), K("url")], &s.url);
            if s.url.starts_with("https://") && is_site_root(&s.url) {
                self.push(
                    Severity::Warning,
                    &[K("sources"), I(i), K("url")],
                    format!(
                        "`{}` is a whole site; cite the page the facts are on, so a reviewer can find them",
                        s.url
                    ),
                );
            }
            if let Some(id) = &s.id {
                if id.is_empty()
                    || !id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    self.error(
                        &[K("sources"), I(i), K("id")],
                        format!("source id `{id}` must be lowercase letters, digits and `-` (like `wu24`)"),
                    );
                } else if pb.sources[..i].iter().any(|o| o.id.as_ref() == Some(id)) {
                    self.error(
                        &[K("sources"), I(i), K("id")],
                        format!("duplicate source id `{id}`"),
                    );
                }
            }
        }
        let known: Vec<&str> = pb.sources.iter().filter_map(|s| s.id.as_deref()).collect();
        self.cited_sources(pb, &known);

        for (di, d) in pb.user_name_domains.iter().enumerate() {
            if d.is_empty() || d.contains(['@', ' ', '/']) {
                self.error(
                    &[K("user_name_domains"), I(di)],
                    format!("`{d}` is not a domain; write it like `example.com` (no @)"),
                );
            }
        }

        let r = &pb.requirements;
        let keys = [K("requirements"), K("keys")];
        if r.keys.min == 0 {
            self.error(
                &[K("requirements"), K("keys"), K("min")],
                "requirements.keys.min is 0; at least one key is needed",
            );
        }
        if let Some(max) = r.keys.max {
            if r.keys.min > max {
                self.error(
                    &[K("requirements"), K("keys"), K("max")],
                    format!(
                        "requirements.keys: min ({}) is above max ({max})",
                        r.keys.min
                    ),
                );
            } else if r.keys.recommended > max {
                self.error(
                    &[K("requirements"), K("keys"), K("recommended")],
                    format!(
                        "requirements.keys: recommended ({}) is above max ({max})",
                        r.keys.recommended
                    ),
                );
            }
        }
        if r.keys.recommended < r.keys.min {
            self.error(
                &[K("requirements"), K("keys"), K("recommended")],
                format!(
                    "requirements.keys: recommended ({}) is below min ({})",
                    r.keys.recommended, r.keys.min
                ),
            );
        }
        self.not_empty(&keys, "requirements.keys.reason", &r.keys.reason);
        self.certainty(&keys, r.keys.confidence, &r.keys.not_certain);
        if !r.fido2.acceptable && !r.u2f.acceptable {
            self.error(
                &[K("requirements"), K("fido2")],
                "neither FIDO2 nor U2F keys are acceptable: no key could ever be enrolled",
            );
        }
        for (name, a) in [("fido2", &r.fido2), ("u2f", &r.u2f)] {
            let p = [K("requirements"), K(name)];
            self.not_empty(&p, &format!("requirements.{name}.reason"), &a.reason);
            self.certainty(&p, a.confidence, &a.not_certain);
        }
        for (name, rule) in [
            ("user_verification", &r.user_verification),
            ("discoverable", &r.discoverable),
            ("fido_certified", &r.fido_certified),
        ] {
            let p = [K("requirements"), K(name)];
            self.not_empty(&p, &format!("requirements.{name}.reason"), &rule.reason);
            self.certainty(&p, rule.confidence, &rule.not_certain);
        }
        for (i, c) in r.preconditions.iter().enumerate() {
            let p = [K("requirements"), K("preconditions"), I(i)];
            self.not_empty(&p, "text", &c.text);
            self.certainty(&p, c.confidence, &c.not_certain);
        }

        if pb.paths.is_empty() {
            self.error(
                &[K("paths")],
                "no enrollment paths: add at least one [[paths]] with its steps",
            );
        } else if pb.paths.iter().all(|p| p.fallback) {
            self.error(
                &[K("paths")],
                "every path is a fallback; mark the one to lead with `fallback = false`",
            );
        }
        for (pi, path) in pb.paths.iter().enumerate() {
            let here = [K("paths"), I(pi)];
            if pb.paths[..pi].iter().any(|p| p.id == path.id) {
                self.error(
                    &[K("paths"), I(pi), K("id")],
                    format!("duplicate path id `{}`", path.id),
                );
            }
            let v = &path.verification;
            let vp = [K("paths"), I(pi), K("verification")];
            if v.evidence == super::model::Evidence::OnKey && v.rp_ids.is_empty() {
                self.error(
                    &[K("paths"), I(pi), K("verification"), K("evidence")],
                    "evidence is \"on_key\" but no rp_ids are listed: keyward cannot know which credential on the key proves it",
                );
            }
            self.not_empty(&vp, "verification.explanation", &v.explanation);
            self.certainty(&vp, v.confidence, &v.not_certain);
            if path.steps.is_empty() {
                self.error(&here, format!("path `{}` has no steps", path.id));
            }
            for (si, step) in path.steps.iter().enumerate() {
                let sp = [K("paths"), I(pi), K("steps"), I(si)];
                self.not_empty(&sp, "title", &step.title);
                self.not_empty(&sp, "instruction", &step.instruction);
                if let Some(w) = &step.one_key {
                    let wp = [K("paths"), I(pi), K("steps"), I(si), K("one_key")];
                    self.not_empty(&wp, "title", &w.title);
                    self.not_empty(&wp, "instruction", &w.instruction);
                }
                self.certainty(&sp, step.confidence, &step.not_certain);
                for (platform, loc) in step.locations() {
                    let lp = [K("paths"), I(pi), K("steps"), I(si), K(platform.as_str())];
                    self.location(&lp, loc);
                }
            }
        }

        for (mi, m) in pb.weaker_methods.iter().enumerate() {
            let mp = [K("weaker_methods"), I(mi)];
            if pb.weaker_methods[..mi].iter().any(|o| o.method == m.method) {
                self.error(
                    &[K("weaker_methods"), I(mi), K("method")],
                    format!(
                        "weaker method `{}` is listed twice; each method appears once per playbook",
                        m.method
                    ),
                );
            }
            self.not_empty(&mp, "why_weaker", &m.why_weaker);
            self.certainty(&mp, m.confidence, &m.not_certain);
            if m.removable == Removable::Conditional && m.condition.is_none() {
                self.error(
                    &[K("weaker_methods"), I(mi), K("removable")],
                    format!(
                        "`{}` is removable only under a condition, but no `condition` says which",
                        m.method
                    ),
                );
            }
            if m.removable != Removable::Yes && m.keep_reason.is_none() {
                self.error(
                    &[K("weaker_methods"), I(mi), K("removable")],
                    format!(
                        "`{}` may have to stay, but no `keep_reason` says why (the ledger records it)",
                        m.method
                    ),
                );
            }
            self.advice(mi, m);
            match &m.remove {
                None if m.removable != Removable::No => self.error(
                    &mp,
                    format!(
                        "`{}` can be removed, but no [weaker_methods.remove] says how",
                        m.method
                    ),
                ),
                Some(rm) => {
                    if rm.url.is_none()
                        && rm.menu.is_empty()
                        && rm.steps.is_empty()
                        && rm.admin.is_none()
                    {
                        self.error(
                            &[K("weaker_methods"), I(mi), K("remove")],
                            "`remove` needs a `url`, a `menu` path, `steps` or `admin`",
                        );
                    }
                    if let Some(u) = &rm.url {
                        self.url(&[K("weaker_methods"), I(mi), K("remove"), K("url")], u);
                    }
                }
                None => {}
            }
        }

        for (hi, h) in pb.hardening.iter().enumerate() {
            let hp = [K("hardening"), I(hi)];
            if pb.hardening[..hi].iter().any(|o| o.id == h.id) {
                self.error(
                    &[K("hardening"), I(hi), K("id")],
                    format!("duplicate hardening id `{}`", h.id),
                );
            }
            self.not_empty(&hp, "trade_off", &h.trade_off);
            self.certainty(&hp, h.confidence, &h.not_certain);
            if let Some(u) = &h.url {
                self.url(&[K("hardening"), I(hi), K("url")], u);
            }
        }
    }
}

impl Checker<'_> {
    /// "Remove it", "keep it and protect it" and "not usable here" each need their own words.
    fn advice(&mut self, mi: usize, m: &super::model::WeakerMethod) {
        use Seg::{Index as I, Key as K};
        let at = |field: &'static str| [K("weaker_methods"), I(mi), K(field)];
        match (m.advice, m.advice()) {
            (Some(Advice::Remove), _) if m.removable == Removable::No => self.error(
                &at("advice"),
                format!(
                    "`{}` cannot be removed (`removable = \"no\"`) but `advice = \"remove\"`; use `keep_and_protect` and say how to protect it",
                    m.method
                ),
            ),
            (explicit, Advice::KeepAndProtect) => {
                if m.keep_reason.is_none() && m.removable == Removable::Yes {
                    self.error(
                        &at("advice"),
                        format!("`{}` is kept by design, but no `keep_reason` says why", m.method),
                    );
                }
                if m.protect.is_none() {
                    let message = format!(
                        "`{}` stays on the account: add [weaker_methods.protect] (`steps`, `url` or `menu`) saying how to protect it",
                        m.method
                    );
                    // Playbooks written before `advice` existed stay loadable.
                    if explicit.is_some() {
                        self.error(&at("advice"), message);
                    } else {
                        self.push(Severity::Warning, &at("removable"), message);
                    }
                }
            }
            (_, Advice::NotUsable) if m.why_not_usable.is_none() => self.error(
                &at("advice"),
                format!(
                    "`{}` is marked not usable for sign-in, but no `why_not_usable` says why",
                    m.method
                ),
            ),
            _ => {}
        }
        if m.why_not_usable.is_some() && m.advice() != Advice::NotUsable {
            self.error(
                &at("why_not_usable"),
                format!(
                    "`why_not_usable` is given but `{}` is not marked `advice = \"not_usable\"`",
                    m.method
                ),
            );
        }
        if let Some(u) = m.protect.as_ref().and_then(|p| p.url.as_ref()) {
            self.url(&[K("weaker_methods"), I(mi), K("protect"), K("url")], u);
        }
    }

    /// Every `sources = [...]` on every fact names a listed source.
    fn cited_sources(&mut self, pb: &Playbook, known: &[&str]) {
        use Seg::{Index as I, Key as K};
        let r = &pb.requirements;
        let req = |name: &'static str| [K("requirements"), K(name)];
        self.cites(&req("keys"), &r.keys.sources, known);
        self.cites(&req("fido2"), &r.fido2.sources, known);
        self.cites(&req("u2f"), &r.u2f.sources, known);
        self.cites(
            &req("user_verification"),
            &r.user_verification.sources,
            known,
        );
        self.cites(&req("discoverable"), &r.discoverable.sources, known);
        self.cites(&req("fido_certified"), &r.fido_certified.sources, known);
        for (i, c) in r.preconditions.iter().enumerate() {
            self.cites(
                &[K("requirements"), K("preconditions"), I(i)],
                &c.sources,
                known,
            );
        }
        for (pi, p) in pb.paths.iter().enumerate() {
            self.cites(
                &[K("paths"), I(pi), K("verification")],
                &p.verification.sources,
                known,
            );
            for (si, st) in p.steps.iter().enumerate() {
                self.cites(&[K("paths"), I(pi), K("steps"), I(si)], &st.sources, known);
            }
        }
        for (i, m) in pb.weaker_methods.iter().enumerate() {
            self.cites(&[K("weaker_methods"), I(i)], &m.sources, known);
        }
        for (i, h) in pb.hardening.iter().enumerate() {
            self.cites(&[K("hardening"), I(i)], &h.sources, known);
        }
        for (i, n) in pb.notes.iter().enumerate() {
            self.cites(&[K("notes"), I(i)], &n.sources, known);
        }
    }
}

/// `https://host/` or `https://host`: a site, not a page.
pub fn is_site_root(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    path.trim_matches('/').is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let s = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 6), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(line_col(s, s.find('=').unwrap()), (1, 3));
        let second_eq = s.rfind('=').unwrap();
        assert_eq!(line_col(s, second_eq), (2, 4));
    }

    #[test]
    fn a_site_root_is_told_from_a_page() {
        assert!(is_site_root("https://learn.microsoft.com/"));
        assert!(is_site_root("https://www.cisa.gov"));
        assert!(!is_site_root("https://support.apple.com/en-us/102637"));
        assert!(!is_site_root("https://support.google.com/a/"));
    }

    #[test]
    fn typos_get_the_nearest_name() {
        let valid: Vec<String> = ["iphone", "mac", "web"].map(String::from).to_vec();
        assert_eq!(nearest("iphnoe", &valid).as_deref(), Some("iphone"));
        assert_eq!(nearest("zzzzzzzz", &valid), None);
    }
}
