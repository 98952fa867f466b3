//! PINs: where they come from, how they are checked, and how they are kept out of sight.
//!
//! A PIN never comes from a command-line flag. It is read from a hidden prompt, from standard
//! input (`--pin-stdin`, one PIN per line: current first, then new), from a file descriptor
//! (`--pin-fd N`), or from `KEYWARD_PIN` / `KEYWARD_NEW_PIN`. The value is zeroized when
//! dropped and its `Debug` form is redacted, so it cannot leak through `{:?}` in an error.

use std::io::{BufRead, BufReader, IsTerminal, Read};
use zeroize::Zeroizing;

pub const ENV_PIN: &str = "KEYWARD_PIN";
pub const ENV_NEW_PIN: &str = "KEYWARD_NEW_PIN";

/// CTAP 2.1: a PIN is at most 63 bytes of UTF-8.
pub const MAX_PIN_BYTES: usize = 63;

pub struct Pin(Zeroizing<String>);

impl Pin {
    pub fn new(value: impl Into<String>) -> Pin {
        Pin(Zeroizing::new(value.into()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
    /// Length in Unicode code points, which is how CTAP counts the minimum.
    pub fn code_points(&self) -> usize {
        self.0.chars().count()
    }

    /// Check a new PIN against the key's policy before it is sent, so a bad choice costs
    /// nothing on the key.
    pub fn check_policy(&self, min_code_points: u32) -> Result<(), String> {
        let n = self.code_points();
        if n < min_code_points as usize {
            return Err(format!(
                "the PIN must have at least {min_code_points} characters (it has {n})"
            ));
        }
        if self.0.len() > MAX_PIN_BYTES {
            return Err(format!(
                "the PIN must be at most {MAX_PIN_BYTES} bytes long (it has {})",
                self.0.len()
            ));
        }
        if self.0.contains(['\n', '\r', '\0']) {
            return Err("the PIN must not contain line breaks or NUL characters".into());
        }
        Ok(())
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl PartialEq for Pin {
    fn eq(&self, other: &Pin) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PinInputError {
    #[error("the {what} is needed but there is no terminal to ask on; give it with --pin-stdin, --pin-fd N or the {env} environment variable")]
    NoSource {
        what: &'static str,
        env: &'static str,
    },
    #[error("--pin-stdin was given but standard input has no line for the {what} (expected one PIN per line: current PIN first, then the new one)")]
    StdinExhausted { what: &'static str },
    #[error("the two PINs typed do not match; nothing was changed")]
    Mismatch,
    #[error("{0}; nothing was sent to the key")]
    Policy(String),
    #[error("could not read the PIN: {0}")]
    Io(String),
    #[error("cancelled")]
    Cancelled,
}

/// Where PINs come from for this command.
#[derive(Debug, Clone, Default)]
pub struct PinSources {
    pub stdin: bool,
    pub fd: Option<i32>,
    /// Prompting is allowed: stderr is a terminal and the caller did not forbid it.
    pub interactive: bool,
}

/// Reads the PINs one command needs, in order, from its configured source.
pub struct PinReader {
    sources: PinSources,
    lines: Option<std::vec::IntoIter<Pin>>,
}

impl PinReader {
    pub fn new(sources: PinSources) -> PinReader {
        PinReader {
            sources,
            lines: None,
        }
    }

    /// True when a PIN can be had without asking anyone.
    pub fn is_scripted(&self) -> bool {
        self.sources.stdin || self.sources.fd.is_some()
    }

    /// Whether the next PIN of this kind is typed at the hidden prompt (not read from stdin, a
    /// file descriptor or a variable).
    pub fn prompts_for(&self, new: bool) -> bool {
        let env = if new { ENV_NEW_PIN } else { ENV_PIN };
        self.sources.interactive && !self.is_scripted() && std::env::var_os(env).is_none()
    }

    fn next_line(&mut self, what: &'static str) -> Result<Option<Pin>, PinInputError> {
        if !self.is_scripted() {
            return Ok(None);
        }
        if self.lines.is_none() {
            let reader: Box<dyn Read> = match self.sources.fd {
                Some(fd) => Box::new(fd_reader(fd)?),
                None => Box::new(std::io::stdin()),
            };
            let mut pins = Vec::new();
            for line in BufReader::new(reader).lines() {
                let line = Zeroizing::new(line.map_err(|e| PinInputError::Io(e.to_string()))?);
                pins.push(Pin::new(line.trim_end_matches('\r').to_string()));
            }
            self.lines = Some(pins.into_iter());
        }
        match self.lines.as_mut().and_then(|l| l.next()) {
            Some(p) => Ok(Some(p)),
            None => Err(PinInputError::StdinExhausted { what }),
        }
    }

    /// The PIN the key has now.
    pub fn current(&mut self, prompt: &str) -> Result<Pin, PinInputError> {
        if let Some(p) = self.next_line("current PIN")? {
            return Ok(p);
        }
        if let Some(p) = take_env(ENV_PIN) {
            return Ok(p);
        }
        if !self.sources.interactive {
            return Err(PinInputError::NoSource {
                what: "current PIN",
                env: ENV_PIN,
            });
        }
        prompt_hidden(prompt, false)
    }

    /// A new PIN, checked against `min_code_points` before anything is sent. On a terminal it
    /// is asked twice.
    pub fn new_pin(&mut self, prompt: &str, min_code_points: u32) -> Result<Pin, PinInputError> {
        let pin = if let Some(p) = self.next_line("new PIN")? {
            p
        } else if let Some(p) = take_env(ENV_NEW_PIN) {
            p
        } else if self.sources.interactive {
            prompt_hidden(prompt, true)?
        } else {
            return Err(PinInputError::NoSource {
                what: "new PIN",
                env: ENV_NEW_PIN,
            });
        };
        pin.check_policy(min_code_points)
            .map_err(PinInputError::Policy)?;
        Ok(pin)
    }
}

fn take_env(name: &str) -> Option<Pin> {
    std::env::var(name).ok().map(Pin::new)
}

fn prompt_hidden(prompt: &str, confirm: bool) -> Result<Pin, PinInputError> {
    let theme = dialoguer::theme::SimpleTheme;
    let term = dialoguer::console::Term::stderr();
    // No report line ("PIN: [hidden]") afterwards: it reads like the question asked again.
    let mut p = dialoguer::Password::with_theme(&theme)
        .with_prompt(prompt)
        .report(false);
    if confirm {
        p = p.with_confirmation("Type it again", "The two PINs do not match");
    }
    match p.interact_on(&term) {
        Ok(s) => Ok(Pin::new(s)),
        Err(dialoguer::Error::IO(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
            Err(PinInputError::Cancelled)
        }
        Err(e) => Err(PinInputError::Io(e.to_string())),
    }
}

#[cfg(unix)]
fn fd_reader(fd: i32) -> Result<std::fs::File, PinInputError> {
    use std::os::fd::FromRawFd;
    if fd < 0 {
        return Err(PinInputError::Io(format!(
            "--pin-fd {fd} is not a file descriptor"
        )));
    }
    // SAFETY: the fd was given to us by the caller for exactly this purpose; we own it now.
    // fcntl checks it is open first so a wrong number is an error, not undefined behaviour.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Err(PinInputError::Io(format!(
            "file descriptor {fd} is not open"
        )));
    }
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

#[cfg(not(unix))]
fn fd_reader(_fd: i32) -> Result<std::fs::File, PinInputError> {
    Err(PinInputError::Io(
        "--pin-fd is only available on Unix".into(),
    ))
}

/// "1 attempt", "3 attempts": a count of PIN attempts in plain English.
pub fn attempts(n: u32) -> String {
    format!("{n} attempt{}", if n == 1 { "" } else { "s" })
}

/// "1 PIN attempt remains", "2 PIN attempts remain".
pub fn pin_attempts_remain(n: u32) -> String {
    if n == 1 {
        "1 PIN attempt remains".to_string()
    } else {
        format!("{n} PIN attempts remain")
    }
}

/// Whether prompts can be shown: both stdin and stderr are terminals.
pub fn terminal_available() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_pin() {
        let p = Pin::new("493817");
        assert!(!format!("{p:?}").contains("493817"));
    }

    #[test]
    fn policy_counts_code_points_and_bytes() {
        assert!(Pin::new("123").check_policy(4).is_err());
        assert!(Pin::new("1234").check_policy(4).is_ok());
        // four code points, eight bytes
        assert!(Pin::new("éééé").check_policy(4).is_ok());
        assert!(Pin::new("x".repeat(64)).check_policy(4).is_err());
        assert!(Pin::new("x".repeat(63)).check_policy(4).is_ok());
        assert!(Pin::new("12345").check_policy(6).is_err());
    }

    #[test]
    fn no_source_without_terminal_is_an_error_not_a_hang() {
        let mut r = PinReader::new(PinSources::default());
        std::env::remove_var(ENV_NEW_PIN);
        assert!(matches!(
            r.new_pin("PIN", 4),
            Err(PinInputError::NoSource { .. })
        ));
    }
}
