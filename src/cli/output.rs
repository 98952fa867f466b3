use crate::error::Error;
use crate::style;
use serde::Serialize;
use std::io::Write;

/// Where results and messages go: results (text or JSON) on stdout, everything meant for a
/// person watching (progress, prompts, warnings) on stderr. Text goes through anstream, which
/// drops [`style`] codes on a stream that must stay plain; JSON goes out untouched (it cannot
/// hold a raw escape code).
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// Print a command's result: `value` as JSON with `--json`, otherwise the text `human`
    /// builds.
    pub fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            let mut stdout = std::io::stdout().lock();
            let text = serde_json::to_string_pretty(value).expect("results serialise to JSON");
            let _ = writeln!(stdout, "{text}");
            let _ = stdout.flush();
        } else {
            let mut stdout = anstream::stdout().lock();
            let text = human();
            let _ = write!(stdout, "{text}");
            if !text.ends_with('\n') && !text.is_empty() {
                let _ = writeln!(stdout);
            }
            let _ = stdout.flush();
        }
    }

    /// A document for other programs (CSV, Markdown): written exactly as given, never styled
    /// nor stripped.
    pub fn document(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    /// One JSON object per line (for streams of events); text mode prints `human`.
    pub fn event<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            let mut stdout = std::io::stdout().lock();
            let text = serde_json::to_string(value).expect("events serialise to JSON");
            let _ = writeln!(stdout, "{text}");
            let _ = stdout.flush();
        } else {
            let mut stdout = anstream::stdout().lock();
            let _ = writeln!(stdout, "{}", human());
            let _ = stdout.flush();
        }
    }

    /// A message for the person at the terminal, never part of the result.
    pub fn note(&self, message: impl AsRef<str>) {
        anstream::eprintln!("{}", message.as_ref());
    }

    pub fn warn(&self, message: impl AsRef<str>) {
        anstream::eprintln!("{}: {}", style::warn("warning"), message.as_ref());
    }

    /// Report an error: always a line on stderr, and with `--json` also an object on stdout
    /// so a script reading stdout learns what happened, unless the command's own report is
    /// already there (stdout then stays one JSON document).
    pub fn error(&self, e: &Error) {
        anstream::eprintln!("{}: {e}", style::error("error"));
        if self.json && !e.report_on_stdout() {
            let code = e.exit_code();
            let obj = serde_json::json!({
                "ok": false,
                "error": { "kind": code, "exit_code": code.code(), "message": e.to_string() }
            });
            println!("{obj}");
        }
    }
}
