//! `keyward status` and `keyward report`: reading the record, what remains to disable first.

use super::howto::{self, HowTo, HowToBook};
use super::Context;
use crate::error::Result;
use crate::ledger::{
    AccountStatus, FleetReport, MethodStatus, PersonStatus, PersonSummary, Remaining,
};
use crate::style;
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The person: name, email, an account identifier, or #ID. Without it: everyone, briefly.
    pub person: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Md,
    Json,
    Csv,
    /// A printable page for the help desk.
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output format (`--json` is the same as `--format json`).
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Only this person (name, email, account identifier or #ID).
    #[arg(long, value_name = "PERSON")]
    pub person: Option<String>,
}

/// A remaining method with the playbook's words on removing it.
#[derive(Debug, Serialize)]
struct RemainingOut<'a> {
    #[serde(flatten)]
    remaining: &'a Remaining,
    how: Option<HowTo>,
}

#[derive(Debug, Serialize)]
struct StatusOut<'a> {
    person: &'a crate::ledger::Person,
    remaining: Vec<RemainingOut<'a>>,
    /// Weaker methods of accounts with no working key: not to be removed before a key works.
    waiting: &'a [Remaining],
    /// Where the last guided session stopped, when it did not finish.
    unfinished: Option<&'a str>,
    /// `playbook:identifier / key label` of enrollments whose key was lost or retired.
    needs_replacement: Vec<String>,
    /// What to do about each of those: find a replacement, or remove the lost key.
    replacement_tasks: Vec<String>,
    /// Accounts with fewer than two working keys.
    single_key_accounts: Vec<String>,
    accounts: &'a [AccountStatus],
    keys: &'a [crate::ledger::Key],
}

pub fn status(ctx: &Context, args: StatusArgs) -> Result<()> {
    status_for(ctx, args, false)
}

/// `status`; `for_the_person` when it closes an `enroll` session, whose reader is told about
/// Microsoft in plain words.
pub(super) fn status_for(ctx: &Context, args: StatusArgs, for_the_person: bool) -> Result<()> {
    // With an Entra tenant connected, Graph's view of the person's Entra accounts is recorded
    // first (the only write `status` makes); the report itself reads the ledger read-only.
    if let (Some(who), Ok(Some(_))) = (&args.person, super::entra::connected()) {
        let mut ledger = ctx.existing_ledger()?;
        if let Ok(person) = ledger.find_person(who) {
            super::entra::refresh_person(ctx, &mut ledger, person.id, for_the_person);
        }
    }
    let ledger = ctx.read_ledger()?;
    let Some(who) = args.person else {
        let report = ledger.fleet_report()?;
        let book = HowToBook::load(ctx);
        ctx.out.emit(&report, || fleet_text(&report, true, &book));
        return Ok(());
    };
    let person = ledger.find_person(&who)?;
    let status = ledger.person_status(person.id)?;
    let book = HowToBook::load(ctx);
    let out = StatusOut {
        person: &status.person,
        remaining: status
            .remaining
            .iter()
            .map(|r| RemainingOut {
                remaining: r,
                how: book.get(&r.playbook, &r.method),
            })
            .collect(),
        waiting: &status.waiting,
        unfinished: status.unfinished.as_deref(),
        needs_replacement: status.needs_replacement_names(),
        replacement_tasks: status.replacement_tasks(),
        single_key_accounts: status
            .single_key_accounts()
            .iter()
            .map(|a| format!("{}:{}", a.account.playbook, a.account.identifier))
            .collect(),
        accounts: &status.accounts,
        keys: &status.keys,
    };
    ctx.out.emit(&out, || status_text(&status, &out, &book));
    Ok(())
}

fn method_state(status: MethodStatus) -> &'static str {
    match status {
        MethodStatus::Present => "still on",
        MethodStatus::Unknown => "not checked yet",
        MethodStatus::Removed => "removed",
        MethodStatus::Kept => "kept",
        MethodStatus::Absent => "was never set up / already off",
    }
}

/// A method's state as the help desk reads it: who removed it, and that nothing is to be done
/// yet where no working key is in the account.
fn method_line_state(m: &crate::ledger::MethodRecord, working_keys: usize) -> String {
    match m.status {
        s if s.remains() && working_keys == 0 => WAITING.to_string(),
        MethodStatus::Removed
            if m.reason
                .as_deref()
                .is_some_and(crate::admin::methods::is_graph_evidence) =>
        {
            "removed".to_string()
        }
        // Who removed it is the person only when they said so in `enroll`; whoever ran
        // keyward only recorded it.
        MethodStatus::Removed => {
            let recorded = recorded_by(m);
            if m.reason.as_deref() == Some(crate::ledger::REMOVED_BY_PERSON) {
                format!("removed by the person, {recorded}")
            } else {
                format!("removed, {recorded}")
            }
        }
        s => method_state(s).to_string(),
    }
}

/// Who recorded a method's state, as a removal's state names them.
fn recorded_by(m: &crate::ledger::MethodRecord) -> String {
    let by = crate::ledger::Actor::from_stored(&m.updated_by);
    if by.operator {
        format!("recorded by operator {}", by.name)
    } else {
        format!("recorded by OS user {}", by.name)
    }
}

const WAITING: &str = "waiting: add a key first";

fn date(ts: &str) -> &str {
    ts.get(..10).unwrap_or(ts)
}

fn status_text(status: &PersonStatus, out: &StatusOut<'_>, book: &HowToBook) -> String {
    let mut s = String::new();
    let p = &status.person;
    let _ = match &p.email {
        Some(e) => writeln!(s, "{} <{e}>", p.name),
        None => writeln!(s, "{}", p.name),
    };
    let _ = writeln!(s);
    if let Some(at) = out.unfinished {
        let _ = writeln!(
            s,
            "Enrollment unfinished (it stopped at: {at}). To continue: keyward enroll --person \"{}\"\n",
            p.name
        );
    }
    if status.accounts.is_empty() {
        let _ = writeln!(
            s,
            "No account recorded yet. To add one: keyward enroll --person \"{}\"",
            p.name
        );
    } else if out.remaining.is_empty() {
        if out.unfinished.is_none() && out.waiting.is_empty() {
            let _ = writeln!(s, "{}", style::good("Nothing left to disable."));
        }
    } else {
        let _ = writeln!(
            s,
            "{} ({}):",
            style::todo("Still to disable"),
            out.remaining.len()
        );
        for r in &out.remaining {
            let name = r
                .how
                .as_ref()
                .and_then(|h| h.name.clone())
                .unwrap_or_else(|| r.remaining.method.clone());
            let _ = writeln!(
                s,
                "  - {} {}: {} [{}] ({}, as of {})",
                book.provider(&r.remaining.playbook),
                r.remaining.identifier,
                style::todo(name),
                r.remaining.method,
                method_state(r.remaining.status),
                date(&r.remaining.updated_at)
            );
            match &r.how {
                Some(how) => s.push_str(&howto::render(how, "      ")),
                None => {
                    let _ = writeln!(
                        s,
                        "      How: see `keyward playbooks show {}`",
                        r.remaining.playbook
                    );
                }
            }
        }
    }
    if !out.waiting.is_empty() {
        let _ = writeln!(
            s,
            "\n{} (removing these before a key works there could lock the person out):",
            style::warn("Waiting: add a key first")
        );
        for r in out.waiting {
            let _ = writeln!(
                s,
                "  - {} {}: {} ({WAITING})",
                book.provider(&r.playbook),
                r.identifier,
                book.get(&r.playbook, &r.method)
                    .and_then(|h| h.name)
                    .unwrap_or_else(|| r.method.clone())
            );
        }
    }
    if !out.replacement_tasks.is_empty() {
        let _ = writeln!(
            s,
            "\n{}: remove each there, then record it with \
             `keyward key removed KEY --account ACCOUNT --person PERSON`; an account with fewer \
             than two working keys needs another key too (`keyward enroll`):",
            style::warn("Lost or retired keys still in an account")
        );
        for t in super::replacement::of_status(status, book) {
            let _ = writeln!(s, "  - {}", t.with_url());
        }
    }
    if !out.single_key_accounts.is_empty() {
        let _ = writeln!(
            s,
            "\n{} (losing one locks the account):",
            style::warn("Fewer than two working keys")
        );
        for a in &out.single_key_accounts {
            let _ = writeln!(s, "  - {a}");
        }
    }
    let _ = writeln!(s, "\nAccounts:");
    if status.accounts.is_empty() {
        let _ = writeln!(s, "  (none recorded)");
    }
    for a in &status.accounts {
        let _ = writeln!(
            s,
            "  {} {}",
            book.provider(&a.account.playbook),
            a.account.identifier
        );
        if a.enrollments.is_empty() {
            let _ = writeln!(s, "    no key enrolled yet");
        }
        for e in &a.enrollments {
            let mut seen = Vec::new();
            let d = &e.enrollment.detail;
            if let Some(rp) = &d.rp_id {
                seen.push(format!("RP {rp}"));
            }
            if let Some(u) = &d.user_name {
                seen.push(format!("user {u}"));
            }
            if let Some(c) = &d.credential_id {
                seen.push(format!("credential {}", c.get(..16).unwrap_or(c)));
            }
            if let Some(n) = &d.note {
                seen.push(n.clone());
            }
            let _ = writeln!(
                s,
                "    {}: {}{} on {}{}",
                e.key_label,
                e.enrollment.evidence.describe(),
                if seen.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", seen.join(", "))
                },
                date(&e.enrollment.enrolled_at),
                if e.enrollment.needs_replacement {
                    format!(
                        " - key {}: remove it from the account and replace it",
                        e.key_state.as_str()
                    )
                } else {
                    String::new()
                }
            );
        }
        for m in &a.methods {
            let state = method_line_state(m, a.working_keys);
            // A removal's state already says who recorded it; the date is enough after it.
            let when = if state.ends_with(&recorded_by(m)) {
                date(&m.updated_at).to_string()
            } else {
                format!(
                    "{}, {}",
                    date(&m.updated_at),
                    crate::ledger::Actor::from_stored(&m.updated_by)
                )
            };
            let _ = writeln!(
                s,
                "    {}: {state}{} ({when})",
                m.method,
                m.reason
                    .as_deref()
                    .filter(|r| *r != crate::ledger::REMOVED_BY_PERSON)
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default(),
            );
            // A method kept by design still needs protecting: say how, every time.
            if m.status == MethodStatus::Kept {
                if let Some(p) = book
                    .get(&a.account.playbook, &m.method)
                    .and_then(|h| h.protect)
                {
                    let _ = writeln!(s, "      Protect it:");
                    s.push_str(&howto::render(
                        &HowTo {
                            url: p.url,
                            menu: p.menu,
                            steps: p.steps,
                            admin: p.admin,
                            ..HowTo::default()
                        },
                        "        ",
                    ));
                }
            }
        }
    }
    let _ = writeln!(s, "\nKeys:");
    if status.keys.is_empty() {
        let _ = writeln!(s, "  (none recorded)");
    }
    for k in &status.keys {
        let mut facts = vec![k.state.as_str().to_string()];
        if let Some(r) = &k.state_reason {
            facts[0] = format!("{}: {r}", k.state.as_str());
        }
        if let Some(m) = &k.model {
            facts.push(m.clone());
        }
        if let Some(sn) = &k.serial {
            facts.push(format!("serial {sn}"));
        }
        if let Some(a) = &k.aaguid {
            facts.push(format!("AAGUID {a}"));
        }
        if let Some(p) = k.pin_state {
            facts.push(p.describe().to_string());
        }
        if let Some(place) = &k.location {
            facts.push(format!("kept {}", super::summary::place(place)));
        }
        facts.push(format!(
            "first seen {}, last seen {}",
            date(&k.first_seen),
            date(&k.last_seen)
        ));
        let _ = writeln!(s, "  {} (#{}): {}", k.label, k.id, facts.join("; "));
    }
    s
}

pub fn report(ctx: &Context, args: ReportArgs) -> Result<()> {
    let ledger = ctx.read_ledger()?;
    let report = match &args.person {
        Some(who) => {
            let person = ledger.find_person(who)?;
            let summary = PersonSummary::from(ledger.person_status(person.id)?);
            FleetReport {
                people_with_methods_to_disable: usize::from(!summary.to_disable.is_empty()),
                accounts_with_single_key: summary.single_key_accounts.len(),
                keys_lost_or_retired: summary.lost_or_retired_keys.len(),
                people: vec![summary],
            }
        }
        None => ledger.fleet_report()?,
    };
    let format = if ctx.global.json {
        ReportFormat::Json
    } else {
        args.format
    };
    let text = match format {
        ReportFormat::Json => {
            let mut json = ctx.out;
            json.json = true;
            json.emit(&report, String::new);
            return Ok(());
        }
        ReportFormat::Text => fleet_text(&report, false, &HowToBook::load(ctx)),
        ReportFormat::Md => fleet_markdown(&report, &HowToBook::load(ctx)),
        ReportFormat::Html => fleet_html(&report, &HowToBook::load(ctx)),
        ReportFormat::Csv => fleet_csv(&report, &HowToBook::load(ctx))?,
    };
    if format == ReportFormat::Text {
        ctx.out.emit(&report, || text);
    } else {
        ctx.out.document(&text);
    }
    Ok(())
}

fn remaining_list(rs: &[Remaining], book: &HowToBook) -> String {
    rs.iter()
        .map(|r| {
            format!(
                "{} ({}): {} ({})",
                book.provider(&r.playbook),
                r.identifier,
                book.method_name(&r.playbook, &r.method),
                method_state(r.status)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn lost_list(p: &PersonSummary) -> String {
    p.lost_or_retired_keys
        .iter()
        .map(|k| {
            let mut facts = vec![match &k.state_reason {
                Some(r) => format!("{}: {r}", k.state.as_str()),
                None => k.state.as_str().to_string(),
            }];
            if let Some(place) = &k.location {
                facts.push(format!("was kept {}", super::summary::place(place)));
            }
            format!("{} ({})", k.label, facts.join("; "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What is to be done about the person's lost or retired keys still in an account, in names,
/// with where to do it.
fn key_tasks(p: &PersonSummary, book: &HowToBook) -> String {
    super::replacement::of_summary(p, book)
        .iter()
        .map(|t| t.with_url())
        .collect::<Vec<_>>()
        .join("; ")
}

fn fleet_text(r: &FleetReport, hint: bool, book: &HowToBook) -> String {
    let mut s = String::new();
    if r.people.is_empty() {
        return "The ledger records nobody yet; `keyward enroll` starts with a person.\n".into();
    }
    let _ = writeln!(
        s,
        "{} people: {} with weaker methods still to disable, {} account(s) with fewer than two \
         keys, {} key(s) lost or retired.",
        r.people.len(),
        r.people_with_methods_to_disable,
        r.accounts_with_single_key,
        r.keys_lost_or_retired
    );
    for p in &r.people {
        let _ = writeln!(s);
        if p.all_done() && p.lost_or_retired_keys.is_empty() {
            let _ = writeln!(
                s,
                "{}: {}",
                p.person.name,
                style::good("nothing left to do")
            );
            continue;
        }
        let _ = writeln!(s, "{}", p.person.name);
        if p.accounts == 0 {
            let _ = writeln!(
                s,
                "  no account recorded yet: keyward enroll --person \"{}\" adds one",
                p.person.name
            );
        }
        if let Some(at) = &p.unfinished {
            let _ = writeln!(s, "  enrollment unfinished ({at})");
        }
        if !p.waiting.is_empty() {
            let _ = writeln!(s, "  {WAITING}: {}", remaining_list(&p.waiting, book));
        }
        if !p.to_disable.is_empty() {
            let _ = writeln!(
                s,
                "  {}: {}",
                style::todo("to disable"),
                remaining_list(&p.to_disable, book)
            );
        }
        if !p.single_key_accounts.is_empty() {
            let accts: Vec<_> = p
                .single_key_accounts
                .iter()
                .map(|a| format!("{} ({})", book.provider(&a.playbook), a.identifier))
                .collect();
            let _ = writeln!(
                s,
                "  {}: {}",
                style::warn("fewer than two keys"),
                accts.join("; ")
            );
        }
        if !p.replacement_tasks.is_empty() {
            let _ = writeln!(s, "  lost keys: {}", key_tasks(p, book));
        }
        if !p.lost_or_retired_keys.is_empty() {
            let _ = writeln!(s, "  keys lost or retired: {}", lost_list(p));
        }
    }
    if hint {
        let _ = writeln!(
            s,
            "\n`keyward status PERSON` shows one person in full, with how to remove each method."
        );
    }
    s
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The help desk's table: one row per person, in the playbooks' words (provider and method
/// names, where to remove each), never internal ids.
const REPORT_COLUMNS: [&str; 6] = [
    "Person",
    "Still to disable (where)",
    "Waiting or unfinished",
    "Fewer than two keys",
    "Lost or retired keys in accounts",
    "Keys lost or retired",
];

fn report_rows(r: &FleetReport, book: &HowToBook) -> Vec<[String; 6]> {
    let account = |pb: &str, id: &str| format!("{} ({id})", book.provider(pb));
    r.people
        .iter()
        .map(|p| {
            let todo: Vec<String> = p
                .to_disable
                .iter()
                .map(|m| {
                    let how = book.get(&m.playbook, &m.method);
                    let name = how
                        .as_ref()
                        .and_then(|h| h.name.clone())
                        .unwrap_or_else(|| m.method.clone());
                    let mut cell = format!(
                        "{name} on {} ({})",
                        account(&m.playbook, &m.identifier),
                        method_state(m.status)
                    );
                    if let Some(url) = how.and_then(|h| h.url) {
                        cell.push_str(&format!(": {url}"));
                    }
                    cell
                })
                .collect();
            let mut waiting: Vec<String> = Vec::new();
            if let Some(at) = &p.unfinished {
                waiting.push(format!("enrollment unfinished ({at})"));
            }
            let mut accounts: Vec<String> = p
                .waiting
                .iter()
                .map(|m| account(&m.playbook, &m.identifier))
                .collect();
            accounts.dedup();
            waiting.extend(accounts.into_iter().map(|a| format!("{a}: {WAITING}")));
            let single: Vec<String> = p
                .single_key_accounts
                .iter()
                .map(|a| account(&a.playbook, &a.identifier))
                .collect();
            [
                p.person.name.clone(),
                todo.join("; "),
                waiting.join("; "),
                single.join("; "),
                key_tasks(p, book),
                lost_list(p),
            ]
        })
        .collect()
}

fn fleet_markdown(r: &FleetReport, book: &HowToBook) -> String {
    let mut s = String::from("# keyward report\n\n");
    let _ = writeln!(
        s,
        "- People: {}\n- With weaker methods still to disable: {}\n- Accounts with fewer than two keys: {}\n- Keys lost or retired: {}\n",
        r.people.len(),
        r.people_with_methods_to_disable,
        r.accounts_with_single_key,
        r.keys_lost_or_retired
    );
    let _ = writeln!(s, "| {} |", REPORT_COLUMNS.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(REPORT_COLUMNS.len()));
    for row in report_rows(r, book) {
        let cells: Vec<String> = row.iter().map(|c| md_cell(c)).collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    s
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page that prints: plain HTML, no script, nothing fetched from elsewhere.
fn fleet_html(r: &FleetReport, book: &HowToBook) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>keyward report</title>\n\
         <style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}\
         td,th{border:1px solid #999;padding:.3em .5em;vertical-align:top;text-align:left}\
         </style></head><body>\n<h1>keyward report</h1>\n",
    );
    let _ = writeln!(
        s,
        "<p>People: {}. With weaker methods still to disable: {}. Accounts with fewer than two \
         keys: {}. Keys lost or retired: {}.</p>",
        r.people.len(),
        r.people_with_methods_to_disable,
        r.accounts_with_single_key,
        r.keys_lost_or_retired
    );
    s.push_str("<table>\n<tr>");
    for c in REPORT_COLUMNS {
        let _ = write!(s, "<th>{}</th>", html_escape(c));
    }
    s.push_str("</tr>\n");
    for row in report_rows(r, book) {
        s.push_str("<tr>");
        for c in row {
            let _ = write!(s, "<td>{}</td>", html_escape(&c));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n</body></html>\n");
    s
}

/// One row per finding, so a spreadsheet can filter and count; each in the playbooks' names,
/// with the page where it is done (`how_to`).
fn fleet_csv(r: &FleetReport, book: &HowToBook) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| crate::Error::io("writing CSV", std::io::Error::other(e));
    w.write_record([
        "person", "email", "finding", "account", "item", "status", "detail", "how_to",
    ])
    .map_err(io)?;
    let account = |pb: &str, id: &str| format!("{} ({id})", book.provider(pb));
    for p in &r.people {
        let email = p.person.email.clone().unwrap_or_default();
        let person = p.person.name.as_str();
        for m in &p.to_disable {
            let how = book.get(&m.playbook, &m.method);
            let name = how
                .as_ref()
                .and_then(|h| h.name.clone())
                .unwrap_or_else(|| m.method.clone());
            w.write_record([
                person,
                &email,
                "method_to_disable",
                &account(&m.playbook, &m.identifier),
                &name,
                m.status.as_str(),
                &m.updated_at,
                &how.and_then(|h| h.url).unwrap_or_default(),
            ])
            .map_err(io)?;
        }
        for a in &p.single_key_accounts {
            w.write_record([
                person,
                &email,
                "fewer_than_two_keys",
                &account(&a.playbook, &a.identifier),
                "",
                "",
                "",
                "",
            ])
            .map_err(io)?;
        }
        for k in &p.lost_or_retired_keys {
            w.write_record([
                person,
                &email,
                "key_lost_or_retired",
                "",
                &k.label,
                k.state.as_str(),
                k.state_reason.as_deref().unwrap_or(""),
                "",
            ])
            .map_err(io)?;
        }
        for t in super::replacement::of_summary(p, book) {
            w.write_record([
                person,
                &email,
                if t.remove_only {
                    "remove_lost_key"
                } else {
                    "needs_replacement_key"
                },
                &t.account,
                &t.key,
                t.state.as_str(),
                &t.text(),
                t.url.as_deref().unwrap_or(""),
            ])
            .map_err(io)?;
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| crate::Error::io("writing CSV", std::io::Error::other(e.to_string())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
