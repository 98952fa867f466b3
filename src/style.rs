//! Colour for a person reading a terminal: warnings, errors, what is still to disable and what
//! was verified stand out.
//!
//! Styled text carries ANSI codes only after [`init`] decided that some stream may show them
//! (`--color`, `NO_COLOR`, `CLICOLOR`, `CLICOLOR_FORCE`, whether the stream is a terminal, as
//! anstream judges them). Before that (library use, unit tests) it is plain. Print styled text
//! through [`crate::cli::Output`] or `anstream::println!` / `anstream::eprintln!`: they strip
//! the codes again on a stream that must stay plain (stdout piped while stderr is a terminal).
//! JSON never carries colour: serde_json escapes the ESC byte, so a code cannot survive into it.
//!
//! Use: `format!("{}: {label} is not ready", style::warn("warning"))`.

use anstyle::{AnsiColor, Style};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

pub use clap::ColorChoice;

/// Whether styled text carries codes at all; off until [`init`] says otherwise.
static ENABLED: AtomicBool = AtomicBool::new(false);

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const TODO: Style = AnsiColor::Yellow.on_default();
const GOOD: Style = AnsiColor::Green.on_default().bold();

/// Decide once, at start-up, from `--color` and the environment. `Auto` follows anstream:
/// `NO_COLOR` (any value) and `CLICOLOR=0` turn colour off, `CLICOLOR_FORCE` on, otherwise
/// colour only on a terminal.
pub fn init(choice: ColorChoice) {
    to_anstream(choice).write_global();
    let stdout = anstream::AutoStream::choice(&std::io::stdout());
    let stderr = anstream::AutoStream::choice(&std::io::stderr());
    let on = |c| c != anstream::ColorChoice::Never;
    ENABLED.store(on(stdout) || on(stderr), Ordering::Relaxed);
}

/// Make clap's own output (help, usage errors) follow `--color` even when parsing failed and
/// [`init`] never ran: the choice is looked up in the raw arguments.
pub fn init_from_raw_args<T: AsRef<std::ffi::OsStr>>(args: &[T]) {
    init(choice_in_args(args));
}

/// The last valid `--color` in `args` (before any `--`), else `Auto`.
fn choice_in_args<T: AsRef<std::ffi::OsStr>>(args: &[T]) -> ColorChoice {
    let mut choice = ColorChoice::Auto;
    let mut args = args.iter().map(|a| a.as_ref().to_string_lossy());
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--color") {
            Some("") => args.next().map(|v| v.into_owned()),
            Some(rest) => rest.strip_prefix('=').map(str::to_string),
            None if arg == "--" => break,
            None => continue,
        };
        if let Some(c) = value.and_then(|v| clap::ValueEnum::from_str(&v, true).ok()) {
            choice = c;
        }
    }
    choice
}

fn to_anstream(choice: ColorChoice) -> anstream::ColorChoice {
    match choice {
        ColorChoice::Auto => anstream::ColorChoice::Auto,
        ColorChoice::Always => anstream::ColorChoice::Always,
        ColorChoice::Never => anstream::ColorChoice::Never,
    }
}

/// Text in a style; `Display` adds the codes when colour is on.
#[derive(Debug, Clone, Copy)]
pub struct Styled<T> {
    style: Style,
    text: T,
}

impl<T: fmt::Display> fmt::Display for Styled<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if ENABLED.load(Ordering::Relaxed) {
            write!(f, "{}{}{:#}", self.style, self.text, self.style)
        } else {
            self.text.fmt(f)
        }
    }
}

fn styled<T: fmt::Display>(style: Style, text: T) -> Styled<T> {
    Styled { style, text }
}

/// Something went wrong (the `error:` label).
pub fn error<T: fmt::Display>(text: T) -> Styled<T> {
    styled(ERROR, text)
}

/// Worth stopping to read: a risk, a key not ready, a lost key still in an account.
pub fn warn<T: fmt::Display>(text: T) -> Styled<T> {
    styled(WARN, text)
}

/// A weaker sign-in method still to disable, work left to do.
pub fn todo<T: fmt::Display>(text: T) -> Styled<T> {
    styled(TODO, text)
}

/// Confirmed: verified on the key, nothing left to do, a check that passed.
pub fn good<T: fmt::Display>(text: T) -> Styled<T> {
    styled(GOOD, text)
}

/// `text` broken into lines of at most `width` columns at spaces (a word longer than that
/// keeps its own line), its own line breaks kept. Style codes take no room.
pub fn wrap_lines(text: &str, width: usize) -> Vec<String> {
    let cols = dialoguer::console::measure_text_width;
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && cols(&line) + 1 + cols(word) > width {
                out.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrap_lines_breaks_at_spaces_within_the_width_and_keeps_line_breaks() {
        assert_eq!(
            super::wrap_lines("Ada Lovelace is not in the ledger yet. Add them?", 20),
            ["Ada Lovelace is not", "in the ledger yet.", "Add them?"]
        );
        assert_eq!(
            super::wrap_lines("one\ntwo three", 5),
            ["one", "two", "three"]
        );
        assert_eq!(
            super::wrap_lines("\x1b[1mbold\x1b[0m word", 9),
            ["\x1b[1mbold\x1b[0m word"]
        );
    }

    use super::*;

    #[test]
    fn colour_choice_is_found_in_raw_arguments() {
        assert_eq!(
            choice_in_args(&["keyward", "--color", "never"]),
            ColorChoice::Never
        );
        assert_eq!(
            choice_in_args(&["keyward", "--color=always", "x"]),
            ColorChoice::Always
        );
        assert_eq!(choice_in_args(&["keyward", "status"]), ColorChoice::Auto);
        assert_eq!(
            choice_in_args(&["keyward", "--color", "purple"]),
            ColorChoice::Auto
        );
        assert_eq!(
            choice_in_args(&["keyward", "--", "--color=never"]),
            ColorChoice::Auto
        );
    }

    #[test]
    fn styled_text_is_plain_until_colour_is_turned_on() {
        // No test here calls `init`, so every unit test sees plain text.
        assert_eq!(warn("warning").to_string(), "warning");
        assert_eq!(format!("{}", good(3)), "3");
    }
}
