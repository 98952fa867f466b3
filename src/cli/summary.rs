//! `keyward summary PERSON` and `keyward enroll --summary FILE`: the one page the person
//! keeps. Which key is which, what each opens, what is still to do, what to do if a key is
//! lost, and whom to call. Built from the ledger only; nothing secret is in the ledger, so
//! nothing secret can reach the page (no PIN, no credential id).

use super::howto::HowToBook;
use super::Context;
use crate::error::{Error, Result};
use crate::ledger::{KeyState, PersonStatus};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The person: name, email, an account identifier, or #ID.
    pub person: String,
    /// Write the page to this file: HTML (printable) when it ends in `.html` or `.htm`,
    /// Markdown otherwise. Without it the Markdown goes to standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the `--output` file if it exists (else keyward asks at a terminal, and
    /// refuses without one).
    #[arg(long)]
    pub force: bool,
}

/// Where the help desk's contact line comes from: `KEYWARD_HELPDESK`, else the first line of
/// `<config dir>/keyward/helpdesk.txt`.
pub const HELPDESK_ENV: &str = "KEYWARD_HELPDESK";

pub fn helpdesk_contact() -> Option<String> {
    if let Ok(v) = std::env::var(HELPDESK_ENV) {
        if !v.trim().is_empty() {
            return Some(v.trim().to_string());
        }
    }
    let file = dirs::config_dir()?.join("keyward").join("helpdesk.txt");
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// One titled part of the page; each item is one line of plain text (a URL stays a URL).
#[derive(Debug, Serialize)]
pub struct Section {
    pub title: String,
    pub items: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub person: String,
    pub sections: Vec<Section>,
}

pub fn build(status: &PersonStatus, book: &HowToBook, helpdesk: Option<&str>) -> Summary {
    let mut sections = Vec::new();
    let active: Vec<_> = status
        .keys
        .iter()
        .filter(|k| k.state == KeyState::Active)
        .collect();
    let keys = active
        .iter()
        .map(|k| {
            let letter = k.label.trim_start_matches("Key ");
            let opens: Vec<String> = status
                .accounts
                .iter()
                .filter(|a| {
                    a.enrollments
                        .iter()
                        .any(|e| e.enrollment.key_id == k.id && !e.enrollment.needs_replacement)
                })
                .map(|a| {
                    format!(
                        "{} ({})",
                        book.provider(&a.account.playbook),
                        a.account.identifier
                    )
                })
                .collect();
            let mut line = format!("{} (marked {letter}", k.label);
            if let Some(m) = &k.model {
                line.push_str(&format!(", {m}"));
            }
            if let Some(sn) = &k.serial {
                line.push_str(&format!(", serial {sn}"));
            }
            line.push(')');
            if let Some(where_) = &k.location {
                line.push_str(&format!(", kept {}", place(where_)));
            }
            line.push_str(": ");
            if opens.is_empty() {
                line.push_str("not in any account yet");
            } else {
                line.push_str(&format!("opens {}", opens.join(", ")));
            }
            line
        })
        .collect::<Vec<_>>();
    sections.push(Section {
        title: "Your keys".into(),
        items: if keys.is_empty() {
            vec!["No key is recorded yet.".into()]
        } else {
            let mut v = keys;
            v.push(
                "Keep one key with you and the other somewhere else (at home, in a safe): if one \
                 is lost, the other still opens your accounts."
                    .into(),
            );
            v
        },
    });
    let mut todo = Vec::new();
    if let Some(at) = &status.unfinished {
        todo.push(format!(
            "Finish the enrollment: it stopped at {at}. Run `keyward enroll --person \"{}\"` \
             (or ask the help desk).",
            status.person.name
        ));
    }
    for r in &status.remaining {
        let how = book.get(&r.playbook, &r.method);
        let name = book.method_name(&r.playbook, &r.method);
        let mut line = format!(
            "Turn off {name} on {} ({})",
            book.provider(&r.playbook),
            r.identifier
        );
        if let Some(url) = how.as_ref().and_then(|h| h.url.clone()) {
            line.push_str(&format!(": {url}"));
        }
        todo.push(line);
    }
    for r in &status.waiting {
        todo.push(format!(
            "Later, once a key is in {} ({}): look at its weaker sign-in methods",
            book.provider(&r.playbook),
            r.identifier
        ));
    }
    todo.dedup();
    for t in super::replacement::of_status(status, book) {
        let state = t.state.as_str();
        let mut line = if t.remove_only {
            format!("Remove the {state} {} from {}", t.key, t.account)
        } else {
            format!(
                "{} needs another key in place of the {state} {}: run `keyward enroll --person \"{}\"` \
                 (or ask the help desk), then remove the {state} key there",
                t.account, t.key, status.person.name
            )
        };
        if let Some(u) = &t.url {
            line.push_str(&format!(": {u}"));
        }
        todo.push(line);
    }
    sections.push(Section {
        title: "Still to do".into(),
        items: if status.accounts.is_empty() {
            vec![format!(
                "Choose the accounts to protect: run `keyward enroll --person \"{}\"` (or ask \
                 the help desk).",
                status.person.name
            )]
        } else if todo.is_empty() {
            vec!["Nothing: every account is done.".into()]
        } else {
            todo
        },
    });
    let call = helpdesk
        .map(|c| format!("Call the help desk: {c}."))
        .unwrap_or_else(|| "Call your help desk.".into());
    sections.push(Section {
        title: "If a key is lost or stolen".into(),
        items: vec![
            format!("{call} Say which key it is (the letter written on it)."),
            "Use your other key meanwhile: it opens the same accounts.".into(),
            "The lost key is then removed from each account and a new key takes its place.".into(),
            "Never write your PIN on a key or keep it with the key.".into(),
        ],
    });
    Summary {
        person: status.person.name.clone(),
        sections,
    }
}

/// Where a key is kept, as the person said it, readable after "kept": "on my keyring" stays,
/// a bare "desk drawer" becomes "at: desk drawer".
pub fn place(location: &str) -> String {
    const LEADS: &[&str] = &[
        "on ", "in ", "at ", "with ", "under ", "inside ", "near ", "by ", "behind ",
    ];
    let lower = location.to_lowercase();
    if LEADS.iter().any(|w| lower.starts_with(w)) {
        location.to_string()
    } else {
        format!("at: {location}")
    }
}

pub fn markdown(s: &Summary) -> String {
    let mut out = format!("# Your security keys: {}\n", s.person);
    for sec in &s.sections {
        out.push_str(&format!("\n## {}\n\n", sec.title));
        for i in &sec.items {
            out.push_str(&format!("- {i}\n"));
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A page that prints on one sheet: plain HTML, no script, no external resource.
pub fn html(s: &Summary) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Your security keys: {name}</title>\n<style>body{{font-family:sans-serif;\
         max-width:42em;margin:2em auto;line-height:1.4}}h1{{font-size:1.4em}}\
         h2{{font-size:1.1em;margin-top:1.4em}}@media print{{body{{margin:0}}}}</style>\
         </head><body>\n<h1>Your security keys: {name}</h1>\n",
        name = escape(&s.person)
    );
    for sec in &s.sections {
        out.push_str(&format!("<h2>{}</h2>\n<ul>\n", escape(&sec.title)));
        for i in &sec.items {
            out.push_str(&format!("<li>{}</li>\n", escape(i)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// Whether the page may go to `path`, asked before any work: `Ok(false)` when nothing is
/// there, `Ok(true)` when an existing file may be replaced (`--force`, or the person at the
/// terminal said yes). The page says where each key is kept: it never silently replaces
/// another file.
pub fn may_write(ctx: &Context, path: &Path, force: bool) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    if force {
        return Ok(true);
    }
    if !ctx.interactive {
        return Err(exists(path));
    }
    if ctx.confirm(
        &format!("{} exists already. Replace it?", path.display()),
        false,
    )? {
        Ok(true)
    } else {
        Err(Error::Cancelled(format!(
            "{} was left as it was",
            path.display()
        )))
    }
}

fn exists(path: &Path) -> Error {
    Error::ConfirmationNeeded(format!(
        "{} exists already and keyward does not write over it: choose another file, or pass \
         --force to replace it",
        path.display()
    ))
}

/// Write the page for `status` to `path` (HTML by extension, else Markdown), readable by its
/// owner only (mode 0600: it says where each key is kept). `replace` as [`may_write`] said.
pub fn write(ctx: &Context, status: &PersonStatus, path: &Path, replace: bool) -> Result<()> {
    use std::io::Write as _;
    let book = HowToBook::load(ctx);
    let s = build(status, &book, helpdesk_contact().as_deref());
    let is_html = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
    let text = if is_html { html(&s) } else { markdown(&s) };
    let failed = |e| Error::io(format!("writing {}", path.display()), e);
    let mut tmp = crate::temp_file::TempFile::beside(path).map_err(failed)?;
    tmp.file().write_all(text.as_bytes()).map_err(failed)?;
    tmp.file().sync_all().map_err(failed)?;
    let placed = if replace {
        tmp.replace(path)
    } else {
        tmp.place_new(path)
    };
    match placed {
        Ok(_) => Ok(()),
        // Made by someone else since keyward looked.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists(path)),
        Err(e) => Err(failed(e)),
    }
}

pub fn run(ctx: &Context, args: SummaryArgs) -> Result<()> {
    let ledger = ctx.existing_ledger()?;
    let person = ledger.find_person(&args.person)?;
    let status = ledger.person_status(person.id)?;
    match &args.output {
        Some(path) => {
            let replace = may_write(ctx, path, args.force)?;
            write(ctx, &status, path, replace)?;
            ctx.out.note(format!(
                "The summary for {} is in {}.",
                person.name,
                path.display()
            ));
            Ok(())
        }
        None => {
            let book = HowToBook::load(ctx);
            let s = build(&status, &book, helpdesk_contact().as_deref());
            ctx.out.emit(&s, || markdown(&s));
            Ok(())
        }
    }
}
