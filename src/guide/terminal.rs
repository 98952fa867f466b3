//! `TerminalPrompter`: a person at a terminal answers, through `dialoguer` on stderr.

use super::prompt::{Choice, Prompter, SecretKind};
use crate::error::{Error, Result};
use crate::pin::{Pin, PinInputError, PinReader};
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

impl TerminalPrompter {
    /// dialoguer's own report repeats the prompt text verbatim; ours marks the answer, so a
    /// transcript (or a test reading the terminal) never mistakes it for a new question.
    /// `question` is the last line of the question (see [`TerminalPrompter::fit`]): the lines
    /// above it stay on the screen, so the question reads once, with its answer.
    fn echo(&self, question: &str, answer: &str) {
        let _ = self.term.write_line(&format!("{question} -> {answer}"));
    }

    /// The question as dialoguer gets it: a last line short enough to stay one row of the
    /// terminal (with `reserve` columns left for what dialoguer adds after it), every line
    /// before it written here, once. dialoguer redraws and clears a question by the lines it
    /// wrote, so a question the terminal wrapped left a piece of itself behind at every redraw
    /// (a yes/no question showed three times). Where the width is unknown nothing is wrapped.
    fn fit(&self, question: &str, reserve: usize) -> String {
        let Some((_, cols)) = self.term.size_checked() else {
            return question.to_string();
        };
        let width = usize::from(cols).saturating_sub(reserve).max(12);
        let mut lines = crate::style::wrap_lines(question, width);
        let last = lines.pop().unwrap_or_default();
        for line in lines {
            let _ = self.term.write_line(&line);
        }
        last
    }
}

impl TerminalPrompter {
    /// When dialoguer closes a menu it clears one row per entry, but an entry wider than the
    /// terminal took more (each is drawn after a `marker`-wide `> ` or `> [x] `): those rows
    /// would stay on the screen under the answer. Clear them. A long, paged menu is cleared
    /// page by page by dialoguer itself and left alone.
    fn clear_wrapped(&self, labels: &[&str], marker: usize) {
        let Some((rows, cols)) = self.term.size_checked() else {
            return;
        };
        let cols = usize::from(cols);
        if labels.len() + 2 > usize::from(rows) {
            return;
        }
        let extra: usize = labels
            .iter()
            .map(|l| {
                (dialoguer::console::measure_text_width(l) + marker)
                    .div_ceil(cols)
                    .saturating_sub(1)
            })
            .sum();
        if extra > 0 {
            let _ = self.term.clear_last_lines(extra);
        }
    }
}

/// Columns kept free after a yes/no question: dialoguer's ` [Y/n] `, and the last column (a
/// character written there moves some terminals to the next row).
const CONFIRM_RESERVE: usize = " [Y/n] ".len() + 1;
/// After a menu's or checklist's title: its `:`.
const MENU_RESERVE: usize = 2;
/// Before each entry of a menu (`> `) and of a checklist (`> [x] `).
const SELECT_MARKER: usize = 2;
const CHECKLIST_MARKER: usize = 6;

impl Prompter for TerminalPrompter {
    fn info(&mut self, text: &str) {
        // Through anstream, not `term`, so `--color never` on a terminal drops style codes.
        anstream::eprintln!("{text}");
    }

    fn confirm(&mut self, _id: &str, question: &str, default: bool) -> Result<bool> {
        let question = &self.fit(question, CONFIRM_RESERVE);
        let yes = dialoguer::Confirm::new()
            .with_prompt(question)
            .default(default)
            .wait_for_newline(true)
            .report(false)
            .interact_on(&self.term)
            .map_err(cancelled)?;
        self.echo(question, if yes { "yes" } else { "no" });
        Ok(yes)
    }

    fn choose(
        &mut self,
        _id: &str,
        question: &str,
        choices: &[Choice],
        default: usize,
    ) -> Result<String> {
        let question = &self.fit(question, MENU_RESERVE);
        let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
        let i = dialoguer::Select::new()
            .with_prompt(question)
            .items(&labels)
            .default(default.min(choices.len().saturating_sub(1)))
            .report(false)
            .interact_on(&self.term)
            .map_err(cancelled)?;
        self.clear_wrapped(&labels, SELECT_MARKER);
        self.echo(question, &choices[i].label);
        Ok(choices[i].value.clone())
    }

    fn checklist(
        &mut self,
        _id: &str,
        question: &str,
        choices: &[Choice],
        ticked: &[bool],
    ) -> Result<Vec<String>> {
        let question = &self.fit(question, MENU_RESERVE);
        let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
        let defaults: Vec<bool> = (0..choices.len())
            .map(|i| ticked.get(i).copied().unwrap_or(false))
            .collect();
        let picked = dialoguer::MultiSelect::new()
            .with_prompt(question)
            .items(&labels)
            .defaults(&defaults)
            .report(false)
            .interact_on(&self.term)
            .map_err(cancelled)?;
        self.clear_wrapped(&labels, CHECKLIST_MARKER);
        let names: Vec<&str> = picked.iter().map(|&i| choices[i].label.as_str()).collect();
        self.echo(
            question,
            &if names.is_empty() {
                "none".to_string()
            } else {
                names.join("; ")
            },
        );
        Ok(picked
            .into_iter()
            .map(|i| choices[i].value.clone())
            .collect())
    }

    fn text(&mut self, _id: &str, question: &str, default: Option<&str>) -> Result<String> {
        // Room for ` [default]: ` and for what the person types on the same row: an answer
        // the terminal wrapped would leave a piece behind just the same.
        let cols = self.term.size_checked().map_or(0, |(_, c)| usize::from(c));
        let reserve = (default.map_or(0, str::len) + 4).max(cols / 2);
        let question = &self.fit(question, reserve);
        loop {
            let mut input = dialoguer::Input::<String>::new()
                .with_prompt(question)
                .allow_empty(default.is_some())
                .report(false);
            // An empty default (Enter goes on) is not drawn as `[]`.
            if let Some(d) = default.filter(|d| !d.is_empty()) {
                input = input.default(d.to_string());
            }
            let s = input.interact_text_on(&self.term).map_err(cancelled)?;
            let s = s.trim().to_string();
            let answer = match (s.is_empty(), default) {
                (false, _) => s,
                (true, Some(d)) => d.to_string(),
                (true, None) => continue,
            };
            self.echo(
                question,
                if answer.is_empty() {
                    "(nothing: going on)"
                } else {
                    &answer
                },
            );
            return Ok(answer);
        }
    }

    fn secret(&mut self, _id: &str, question: &str, kind: SecretKind) -> Result<Pin> {
        Ok(match kind {
            SecretKind::Current => self.pins.current(question)?,
            SecretKind::New { min_code_points } => loop {
                let typed = self.pins.prompts_for(true);
                match self.pins.new_pin(question, min_code_points) {
                    // A PIN the key would refuse costs nothing yet: say the rule, ask again.
                    Err(PinInputError::Policy(rule)) if typed => {
                        self.warn(&format!("That PIN cannot be used: {rule}. Choose another."));
                    }
                    other => break other?,
                }
            },
        })
    }

    fn warn(&mut self, text: &str) {
        // Stands out on a terminal that shows colour; plain with NO_COLOR or --color never.
        // Text styled already (a "warning:" prefix) keeps its own styling.
        let line = if text.contains('\x1b') {
            text.to_string()
        } else {
            crate::style::warn(text).to_string()
        };
        let _ = self.term.write_line(&line);
    }

    fn pin_is_typed(&self, kind: SecretKind) -> bool {
        self.pins
            .prompts_for(matches!(kind, SecretKind::New { .. }))
    }

    fn can_open_urls(&self) -> bool {
        super::browser::display_available()
    }
}
