//! `TerminalPrompter`: a person at a terminal answers, through `dialoguer` on stderr.

use super::prompt::{Choice, Prompter, SecretKind};
use crate::error::{Error, Result};
use crate::pin::{Pin, PinReader};
use dialoguer::console::Term;

pub struct TerminalPrompter {
    term: Term,
    pins: PinReader,
}

impl TerminalPrompter {
    /// Callers check first that there is a terminal (`Context::interactive`).
    pub fn new(pins: PinReader) -> TerminalPrompter {
        TerminalPrompter {
            term: Term::stderr(),
            pins,
        }
    }
}

fn cancelled(e: dialoguer::Error) -> Error {
    match e {
        dialoguer::Error::IO(e) if e.kind() == std::io::ErrorKind::Interrupted => {
            Error::Cancelled("stopped at a question; run `keyward enroll` again to go on".into())
        }
        e => Error::Cancelled(format!("the question could not be asked: {e}")),
    }
}

impl Prompter for TerminalPrompter {
    fn info(&mut self, text: &str) {
        let _ = self.term.write_line(text);
    }

    fn confirm(&mut self, _id: &str, question: &str, default: bool) -> Result<bool> {
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(default)
            .wait_for_newline(true)
            .interact_on(&self.term)
            .map_err(cancelled)
    }

    fn choose(
        &mut self,
        _id: &str,
        question: &str,
        choices: &[Choice],
        default: usize,
    ) -> Result<String> {
        let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
        let i = dialoguer::Select::new()
            .with_prompt(question)
            .items(&labels)
            .default(default.min(choices.len().saturating_sub(1)))
            .interact_on(&self.term)
            .map_err(cancelled)?;
        Ok(choices[i].value.clone())
    }

    fn text(&mut self, _id: &str, question: &str, default: Option<&str>) -> Result<String> {
        loop {
            let mut input = dialoguer::Input::<String>::new()
                .with_prompt(question)
                .allow_empty(default.is_some());
            if let Some(d) = default {
                input = input.default(d.to_string());
            }
            let s = input.interact_text_on(&self.term).map_err(cancelled)?;
            let s = s.trim().to_string();
            if !s.is_empty() {
                return Ok(s);
            }
            if let Some(d) = default {
                return Ok(d.to_string());
            }
        }
    }

    fn secret(&mut self, _id: &str, question: &str, kind: SecretKind) -> Result<Pin> {
        Ok(match kind {
            SecretKind::Current => self.pins.current(question)?,
            SecretKind::New { min_code_points } => self.pins.new_pin(question, min_code_points)?,
        })
    }

    fn can_open_urls(&self) -> bool {
        super::browser::display_available()
    }
}
