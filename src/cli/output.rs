use crate::error::Error;
use serde::Serialize;
use std::io::Write;

/// Where results and messages go: results (text or JSON) on stdout, everything meant for a
/// person watching (progress, prompts, warnings) on stderr.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// Print a command's result: `value` as JSON with `--json`, otherwise the text `human`
    /// builds.
    pub fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let text = serde_json::to_string_pretty(value).expect("results serialise to JSON");
            let _ = writeln!(stdout, "{text}");
        } else {
            let text = human();
            let _ = write!(stdout, "{text}");
            if !text.ends_with('\n') && !text.is_empty() {
                let _ = writeln!(stdout);
            }
        }
        let _ = stdout.flush();
    }

    /// One JSON object per line (for streams of events); text mode prints `human`.
    pub fn event<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let text = serde_json::to_string(value).expect("events serialise to JSON");
            let _ = writeln!(stdout, "{text}");
        } else {
            let _ = writeln!(stdout, "{}", human());
        }
        let _ = stdout.flush();
    }

    /// A message for the person at the terminal, never part of the result.
    pub fn note(&self, message: impl AsRef<str>) {
        eprintln!("{}", message.as_ref());
    }

    pub fn warn(&self, message: impl AsRef<str>) {
        eprintln!("warning: {}", message.as_ref());
    }

    /// Report an error: always a line on stderr, and with `--json` also an object on stdout
    /// so a script reading stdout learns what happened, unless the command's own report is
    /// already there (stdout then stays one JSON document).
    pub fn error(&self, e: &Error) {
        eprintln!("error: {e}");
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
