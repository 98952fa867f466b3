//! `keyward playbooks ...`: list, show and validate provider playbooks.

use super::Context;
use crate::error::{Error, ExitCode, Result};
use crate::playbook::{
    check_source, Advice, Catalog, Confidence, Diagnostic, EnrollmentPath, Entry, Expects, Fact,
    Location, Origin, Platform, Playbook, Removable, Removal, Severity, Step, ValidateOptions,
    DEFAULT_MAX_AGE_DAYS,
};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct PlaybooksArgs {
    #[command(subcommand)]
    pub command: PlaybooksCommand,
}

#[derive(Debug, Subcommand)]
pub enum PlaybooksCommand {
    /// The playbooks in effect: built in, from your config folder and from --playbooks.
    List,
    /// What a person does for one provider: requirements, steps, weaker methods to remove.
    Show {
        /// Playbook id, as `list` shows it.
        id: String,
        /// Only what applies on this device: web, iphone, mac, android or windows.
        #[arg(long, value_name = "PLATFORM", value_parser = parse_platform)]
        platform: Option<Platform>,
    },
    /// Check playbook files and report every problem with its file, line and column.
    Validate {
        /// Playbook files (TOML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Warn when a playbook was last reviewed more than this many days ago.
        #[arg(long, value_name = "DAYS", default_value_t = DEFAULT_MAX_AGE_DAYS, env = "KEYWARD_PLAYBOOK_MAX_AGE_DAYS")]
        max_age_days: u32,
    },
}

fn parse_platform(s: &str) -> std::result::Result<Platform, String> {
    s.parse()
}

pub fn run(ctx: &Context, args: PlaybooksArgs) -> Result<()> {
    match args.command {
        PlaybooksCommand::List => list(ctx),
        PlaybooksCommand::Show { id, platform } => show(ctx, &id, platform),
        PlaybooksCommand::Validate {
            files,
            max_age_days,
        } => validate(ctx, &files, max_age_days),
    }
}

#[derive(Serialize)]
struct ListItem<'a> {
    id: &'a str,
    name: &'a str,
    applies_to: &'a str,
    last_reviewed: String,
    origin: &'a Origin,
    overrides: &'a Option<Origin>,
    paths: Vec<&'a str>,
    weaker_methods: Vec<&'static str>,
}

fn list(ctx: &Context) -> Result<()> {
    let catalog = ctx.playbooks()?;
    let items: Vec<ListItem> = catalog
        .entries()
        .iter()
        .map(|e| ListItem {
            id: &e.playbook.id,
            name: &e.playbook.name,
            applies_to: &e.playbook.applies_to,
            last_reviewed: e.playbook.last_reviewed.to_string(),
            origin: &e.origin,
            overrides: &e.overrides,
            paths: e.playbook.paths.iter().map(|p| p.id.as_str()).collect(),
            weaker_methods: e
                .playbook
                .weaker_methods
                .iter()
                .map(|m| m.method.as_str())
                .collect(),
        })
        .collect();
    ctx.out.emit(&items, || {
        let width = items.iter().map(|i| i.id.len()).max().unwrap_or(0);
        let mut s = String::new();
        for i in &items {
            let _ = write!(
                s,
                "{:width$}  {}  (reviewed {}",
                i.id, i.name, i.last_reviewed
            );
            match (i.origin, i.overrides) {
                (Origin::Builtin, _) => s.push_str(", built in"),
                (Origin::File(p), None) => {
                    let _ = write!(s, ", from {}", p.display());
                }
                (Origin::File(p), Some(o)) => {
                    let _ = write!(s, ", from {}, replaces the {o} one", p.display());
                }
            }
            s.push_str(")\n");
        }
        s.push_str("\n`keyward playbooks show ID` shows the steps for one of them.\n");
        s
    });
    Ok(())
}

#[derive(Serialize)]
struct ShowJson<'a> {
    origin: &'a Origin,
    overrides: &'a Option<Origin>,
    platform: Option<Platform>,
    /// With `--platform`: the steps left out because they need another device.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unavailable_steps: Vec<Unavailable>,
    /// Every fact with its confidence and the sources it cites.
    facts: Vec<Fact<'a>>,
    playbook: Playbook,
}

#[derive(Serialize)]
struct Unavailable {
    path: String,
    /// 1-based, as in the full playbook.
    step: usize,
    title: String,
    available_on: Vec<Platform>,
}

fn show(ctx: &Context, id: &str, platform: Option<Platform>) -> Result<()> {
    let catalog = ctx.playbooks()?;
    let entry = catalog
        .entry(id)
        .ok_or_else(|| crate::playbook::PlaybookError::UnknownId(id.to_string()))?;
    let mut unavailable_steps = Vec::new();
    if let Some(p) = platform {
        for path in &entry.playbook.paths {
            for (i, step) in path.steps.iter().enumerate() {
                if !step.applies_to(p) {
                    unavailable_steps.push(Unavailable {
                        path: path.id.clone(),
                        step: i + 1,
                        title: step.title.clone(),
                        available_on: step.locations().map(|(p, _)| p).collect(),
                    });
                }
            }
        }
    }
    let json = ShowJson {
        origin: &entry.origin,
        overrides: &entry.overrides,
        platform,
        unavailable_steps,
        facts: entry.playbook.facts(),
        playbook: for_platform(&entry.playbook, platform),
    };
    ctx.out
        .emit(&json, || render(entry, &entry.playbook, platform));
    Ok(())
}

/// The playbook as seen from one platform: steps that cannot be done there are dropped and
/// each remaining step keeps only the place to use there.
fn for_platform(pb: &Playbook, platform: Option<Platform>) -> Playbook {
    let mut pb = pb.clone();
    let Some(platform) = platform else { return pb };
    for path in &mut pb.paths {
        path.steps.retain(|s| s.applies_to(platform));
        for step in &mut path.steps {
            let keep = step.location_for(platform).map(|(p, _)| p);
            for p in Platform::ALL {
                if Some(p) != keep {
                    *slot(step, p) = None;
                }
            }
        }
    }
    pb
}

fn slot(step: &mut Step, p: Platform) -> &mut Option<Location> {
    match p {
        Platform::Web => &mut step.web,
        Platform::Iphone => &mut step.iphone,
        Platform::Mac => &mut step.mac,
        Platform::Android => &mut step.android,
        Platform::Windows => &mut step.windows,
    }
}

const WIDTH: usize = 78;

/// Word-wrap `text` to the terminal width, every line starting with `indent` (the first with
/// `first` instead).
fn wrap(out: &mut String, first: &str, indent: &str, text: &str) {
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn not_certain(out: &mut String, indent: &str, note: &Option<String>) {
    if let Some(n) = note {
        wrap(
            out,
            &format!("{indent}not certain: "),
            &format!("{indent}  "),
            n,
        );
    }
}

/// How sure a fact is and where it comes from, so a help desk can check it.
fn basis(out: &mut String, indent: &str, confidence: Option<Confidence>, sources: &[String]) {
    let how = confidence.map_or("not stated", Confidence::as_str);
    let from = if sources.is_empty() {
        "none cited".to_string()
    } else {
        sources.join(", ")
    };
    wrap(
        out,
        &format!("{indent}Confidence: {how}; sources: "),
        &format!("{indent}  "),
        &from,
    );
}

fn instructions(s: &mut String, how: &Removal) {
    if let Some(u) = &how.url {
        let _ = writeln!(s, "    Where: {u}");
    }
    if !how.menu.is_empty() {
        wrap(s, "    Menu: ", "      ", &how.menu.join(" > "));
    }
    for (i, step) in how.steps.iter().enumerate() {
        wrap(s, &format!("      {}) ", i + 1), "         ", step);
    }
    if let Some(a) = &how.admin {
        wrap(s, "    Administrator: ", "      ", a);
    }
}

fn place(loc: &Location) -> String {
    let mut parts = Vec::new();
    if let Some(u) = &loc.url {
        parts.push(u.clone());
    }
    if !loc.menu.is_empty() {
        parts.push(loc.menu.join(" > "));
    }
    let mut s = parts.join("  or  ");
    if let Some(n) = &loc.note {
        let _ = write!(s, " ({n})");
    }
    s
}

fn platform_name(p: Platform) -> &'static str {
    match p {
        Platform::Web => "Web",
        other => other.label(),
    }
}

fn render(entry: &Entry, pb: &Playbook, platform: Option<Platform>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} ({})", pb.name, pb.id);
    wrap(&mut s, "For: ", "     ", &pb.applies_to);
    let _ = write!(s, "Last reviewed {}, ", pb.last_reviewed);
    match (&entry.origin, &entry.overrides) {
        (Origin::Builtin, _) => s.push_str("built in"),
        (Origin::File(p), None) => {
            let _ = write!(s, "from {}", p.display());
        }
        (Origin::File(p), Some(o)) => {
            let _ = write!(s, "from {} (replaces the {o} one)", p.display());
        }
    }
    s.push('\n');
    if let Some(p) = platform {
        let _ = writeln!(s, "Showing what to do on: {}", platform_name(p));
    }

    let r = &pb.requirements;
    s.push_str("\nWhat you need\n");
    let mut count = format!(
        "at least {}, {} recommended",
        r.keys.min, r.keys.recommended
    );
    if let Some(max) = r.keys.max {
        let _ = write!(count, ", at most {max}");
    }
    wrap(
        &mut s,
        "  - Keys: ",
        "    ",
        &format!("{count}. {}", r.keys.reason),
    );
    not_certain(&mut s, "    ", &r.keys.not_certain);
    basis(&mut s, "    ", r.keys.confidence, &r.keys.sources);
    for (label, a) in [("FIDO2 keys", &r.fido2), ("Older U2F-only keys", &r.u2f)] {
        let verdict = if a.acceptable {
            "accepted"
        } else {
            "not accepted"
        };
        wrap(
            &mut s,
            &format!("  - {label}: "),
            "    ",
            &format!("{verdict}. {}", a.reason),
        );
        not_certain(&mut s, "    ", &a.not_certain);
        basis(&mut s, "    ", a.confidence, &a.sources);
    }
    for (label, rule) in [
        ("PIN on the key", &r.user_verification),
        ("Passkey stored on the key", &r.discoverable),
        ("FIDO Certified key", &r.fido_certified),
    ] {
        let verdict = if rule.required {
            "required"
        } else {
            "not required"
        };
        wrap(
            &mut s,
            &format!("  - {label}: "),
            "    ",
            &format!("{verdict}. {}", rule.reason),
        );
        not_certain(&mut s, "    ", &rule.not_certain);
        basis(&mut s, "    ", rule.confidence, &rule.sources);
    }
    for c in &r.preconditions {
        wrap(&mut s, "  - Before you start: ", "    ", &c.text);
        not_certain(&mut s, "    ", &c.not_certain);
        basis(&mut s, "    ", c.confidence, &c.sources);
    }

    // Equivalent to `primary_path`, without its precondition.
    let primary = pb
        .paths
        .iter()
        .find(|p| !p.fallback)
        .or(pb.paths.first())
        .map(|p| p.id.as_str());
    for path in &pb.paths {
        render_path(&mut s, path, Some(path.id.as_str()) == primary, platform);
    }

    if !pb.weaker_methods.is_empty() {
        s.push_str("\nWeaker sign-in methods: what to do once your keys work\n");
        for m in &pb.weaker_methods {
            let verdict = match (m.advice(), m.removable) {
                (Advice::KeepAndProtect, _) => "keep it, by design, and protect it",
                (Advice::NotUsable, _) => "it cannot sign anyone in here; remove it anyway",
                (Advice::Remove, Removable::Conditional) => {
                    "remove it only if the condition below holds"
                }
                (Advice::Remove, _) => "remove it",
            };
            wrap(
                &mut s,
                &format!("  - {} [{}]: ", m.display_name(), m.method),
                "    ",
                verdict,
            );
            wrap(&mut s, "    Why it is weaker: ", "      ", &m.why_weaker);
            if let Some(w) = &m.why_not_usable {
                wrap(&mut s, "    Why it cannot sign in here: ", "      ", w);
            }
            if let Some(c) = &m.condition {
                wrap(&mut s, "    Condition: ", "      ", c);
            }
            if let Some(k) = &m.keep_reason {
                let label = match (m.advice(), m.removable) {
                    (Advice::KeepAndProtect, _) => "    Why it stays: ",
                    (_, Removable::Yes) => "    If you keep it: ",
                    _ => "    Why it may stay: ",
                };
                wrap(&mut s, label, "      ", k);
            }
            if let Some(p) = &m.protect {
                s.push_str("    How to protect it:\n");
                instructions(&mut s, p);
            }
            if let Some(rm) = &m.remove {
                if m.advice() == Advice::KeepAndProtect {
                    s.push_str("    Only if you must remove it:\n");
                }
                instructions(&mut s, rm);
            }
            not_certain(&mut s, "    ", &m.not_certain);
            basis(&mut s, "    ", m.confidence, &m.sources);
        }
    }

    if !pb.hardening.is_empty() {
        s.push_str("\nExtra protection you can add\n");
        for h in &pb.hardening {
            wrap(&mut s, &format!("  - {}: ", h.name), "    ", &h.what);
            wrap(&mut s, "    Trade-off: ", "      ", &h.trade_off);
            if let Some(u) = &h.url {
                let _ = writeln!(s, "    Where: {u}");
            }
            if !h.menu.is_empty() {
                wrap(&mut s, "    Menu: ", "      ", &h.menu.join(" > "));
            }
            not_certain(&mut s, "    ", &h.not_certain);
            basis(&mut s, "    ", h.confidence, &h.sources);
        }
    }

    if !pb.notes.is_empty() {
        s.push_str("\nGood to know\n");
        for n in &pb.notes {
            let first = if n.confidence == Some(crate::playbook::Confidence::Uncertain) {
                "  - not certain: "
            } else {
                "  - "
            };
            wrap(&mut s, first, "    ", &n.text);
            basis(&mut s, "    ", n.confidence, &n.sources);
        }
    }

    s.push_str("\nSources\n");
    for src in &pb.sources {
        let tag = src
            .id
            .as_deref()
            .map(|i| format!("{i}: "))
            .unwrap_or_default();
        match &src.title {
            Some(t) => {
                wrap(&mut s, &format!("  - {tag}"), "    ", t);
                let _ = writeln!(s, "    {}", src.url);
            }
            None => {
                let _ = writeln!(s, "  - {tag}{}", src.url);
            }
        }
    }
    s
}

fn render_path(s: &mut String, path: &EnrollmentPath, primary: bool, platform: Option<Platform>) {
    let heading = if primary {
        format!("\n{} (recommended)\n", path.title)
    } else if path.fallback {
        format!("\nIf that is not possible: {}\n", path.title)
    } else {
        format!("\nAnother way: {}\n", path.title)
    };
    s.push_str(&heading);
    wrap(s, "  ", "  ", &path.summary);
    let v = &path.verification;
    wrap(s, "  How it is checked: ", "    ", &v.explanation);
    if let Some(t) = &v.tell_apart {
        wrap(s, "  Telling accounts apart: ", "    ", t);
    }
    not_certain(s, "  ", &v.not_certain);
    basis(s, "  ", v.confidence, &v.sources);
    s.push('\n');
    let mut n = 0;
    for step in &path.steps {
        n += 1;
        // The title of a key check already says keyward does it.
        let marker = match step.expects {
            Expects::Confirm => " (you confirm)",
            Expects::Read | Expects::Act | Expects::VerifyOnKey => "",
        };
        let _ = writeln!(s, "  {n}. {}{marker}", step.title);
        wrap(s, "     ", "     ", &step.instruction);
        match platform {
            Some(p) if !step.applies_to(p) => {
                let devices: Vec<&str> = step.locations().map(|(p, _)| platform_name(p)).collect();
                wrap(
                    s,
                    "     ",
                    "     ",
                    &format!(
                        "This step cannot be done on {}: use {}.",
                        platform_name(p),
                        devices.join(" or ")
                    ),
                );
                for (p, loc) in step.locations() {
                    wrap(
                        s,
                        &format!("     {}: ", platform_name(p)),
                        "       ",
                        &place(loc),
                    );
                }
            }
            Some(p) => {
                if let Some((p, loc)) = step.location_for(p) {
                    wrap(
                        s,
                        &format!("     {}: ", platform_name(p)),
                        "       ",
                        &place(loc),
                    );
                }
            }
            None => {
                for (p, loc) in step.locations() {
                    wrap(
                        s,
                        &format!("     {}: ", platform_name(p)),
                        "       ",
                        &place(loc),
                    );
                }
            }
        }
        not_certain(s, "     ", &step.not_certain);
        if step.confidence.is_some() || !step.sources.is_empty() {
            basis(s, "     ", step.confidence, &step.sources);
        }
    }
}

#[derive(Serialize)]
struct FileReport {
    file: String,
    id: Option<String>,
    ok: bool,
    /// Which playbook this file would replace when loaded from a folder.
    overrides_builtin: bool,
    diagnostics: Vec<Diagnostic>,
}

#[derive(Serialize)]
struct ValidateReport {
    ok: bool,
    files: Vec<FileReport>,
}

fn validate(ctx: &Context, files: &[PathBuf], max_age_days: u32) -> Result<()> {
    let opts = ValidateOptions {
        max_age_days,
        ..ValidateOptions::default()
    };
    let builtin = Catalog::load_layers(&[], &opts).ok();
    let mut reports: Vec<FileReport> = Vec::new();
    let mut seen: Vec<(String, String)> = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::BadInput(format!("cannot read playbook {name}: {e}")))?;
        let mut checked = check_source(&text, &name, &opts);
        let id = checked.playbook.as_ref().map(|p| p.id.clone());
        if let Some(id) = &id {
            if let Some((_, first)) = seen.iter().find(|(i, _)| i == id) {
                checked
                    .diagnostics
                    .push(crate::playbook::duplicate_id_diagnostic(
                        &text, &name, id, first,
                    ));
            } else {
                seen.push((id.clone(), name.clone()));
            }
        }
        let overrides_builtin = id
            .as_deref()
            .is_some_and(|i| builtin.as_ref().is_some_and(|c| c.get(i).is_some()));
        reports.push(FileReport {
            ok: !checked.has_errors(),
            file: name,
            id,
            overrides_builtin,
            diagnostics: checked.diagnostics,
        });
    }
    let report = ValidateReport {
        ok: reports.iter().all(|r| r.ok),
        files: reports,
    };
    ctx.out.emit(&report, || {
        let mut s = String::new();
        for f in &report.files {
            for d in &f.diagnostics {
                let _ = writeln!(s, "{d}");
            }
            if f.ok {
                let _ = write!(s, "{}: ok", f.file);
                if let Some(id) = &f.id {
                    let _ = write!(s, " (id `{id}`");
                    if f.overrides_builtin {
                        s.push_str(", replaces the built-in playbook with this id");
                    }
                    s.push(')');
                }
                let warnings = f
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Warning)
                    .count();
                if warnings > 0 {
                    let _ = write!(
                        s,
                        ", {warnings} warning{}",
                        if warnings == 1 { "" } else { "s" }
                    );
                }
                s.push('\n');
            }
        }
        s
    });
    let bad = report.files.iter().filter(|f| !f.ok).count();
    if bad > 0 {
        return Err(Error::Reported {
            code: ExitCode::BadInput,
            message: format!(
                "{bad} of {} playbook file{} {} errors (listed above with file:line:column)",
                report.files.len(),
                if report.files.len() == 1 { "" } else { "s" },
                if bad == 1 { "has" } else { "have" }
            ),
        });
    }
    Ok(())
}
