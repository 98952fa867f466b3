use super::{GlobalArgs, Output};
use crate::device::{self, Authenticator, DeviceError, DeviceSpec, PinRetries};
use crate::error::{Error, Result};
use crate::ledger::{Actor, Ledger};
use crate::pin::{self, PinReader, PinSources};

/// Below or at this many retries, a PIN attempt needs an explicit yes (or
/// `--allow-low-retries` in a script).
pub const LOW_RETRIES: u32 = 3;

/// What every command gets: the global flags, where output goes, and whether a person can be
/// asked.
pub struct Context {
    pub global: GlobalArgs,
    pub out: Output,
    /// Prompts are allowed: stdin and stderr are terminals and `--no-input` was not given.
    pub interactive: bool,
}

impl Context {
    pub fn new(global: GlobalArgs) -> Context {
        let interactive = !global.no_input && pin::terminal_available();
        Context {
            out: Output { json: global.json },
            interactive,
            global,
        }
    }

    /// The ledger from `--ledger` / `KEYWARD_LEDGER`, else the default in the data folder;
    /// created when it does not exist yet.
    pub fn ledger(&self) -> Result<Ledger> {
        self.open_ledger(true)
    }

    /// The ledger, for commands that only read or change existing records: a missing file is
    /// an error, not a new empty ledger.
    pub fn existing_ledger(&self) -> Result<Ledger> {
        self.open_ledger(false)
    }

    /// Where the ledger is: `--ledger` / `KEYWARD_LEDGER`, else the user's data folder.
    pub fn ledger_path(&self) -> Result<std::path::PathBuf> {
        match &self.global.ledger {
            Some(p) if !p.as_os_str().is_empty() => Ok(p.clone()),
            _ => Ledger::default_path().ok_or_else(|| {
                Error::Usage(
                    "cannot find your data folder for the ledger; give one with --ledger PATH"
                        .into(),
                )
            }),
        }
    }

    /// The ledger, for commands that only read: opened read-only, so that it can be read in a
    /// read-only folder and nothing beside it is created or removed.
    pub fn read_ledger(&self) -> Result<Ledger> {
        self.open_ledger(None)
    }

    fn open_ledger(&self, create: impl Into<Option<bool>>) -> Result<Ledger> {
        let path = self.ledger_path()?;
        let ledger = match create.into() {
            Some(true) => Ledger::open(&path)?,
            Some(false) => Ledger::open_existing(&path)?,
            None => Ledger::open_read_only(&path)?,
        };
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(&path) {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                self.out.warn(format!(
                    "the ledger {} can be read by other users (mode {mode:o}); it says who has which key: `chmod 600 {}`",
                    path.display(),
                    path.display()
                ));
            }
        }
        Ok(ledger)
    }

    /// Who is making changes: `--operator NAME` when given, else the OS user.
    pub fn actor(&self) -> Actor {
        Actor::from_operator(self.global.operator.as_deref())
    }

    pub fn pin_reader(&self) -> PinReader {
        PinReader::new(PinSources {
            stdin: self.global.pin_stdin,
            fd: self.global.pin_fd,
            interactive: self.interactive && !self.global.pin_stdin,
        })
    }

    /// The playbooks in effect: built-in, then `<config dir>/keyward/playbooks/` when it
    /// exists, then `--playbooks DIR` (which must exist). Later folders override by id.
    /// Loading warnings (stale reviews) are printed on stderr.
    pub fn playbooks(&self) -> Result<crate::playbook::Catalog> {
        let config = dirs::config_dir()
            .map(|d| d.join("keyward").join("playbooks"))
            .filter(|d| d.is_dir());
        let dirs: Vec<&std::path::Path> = config
            .as_deref()
            .into_iter()
            .chain(self.global.playbooks.as_deref())
            .collect();
        let catalog = crate::playbook::Catalog::load_layers(
            &dirs,
            &crate::playbook::ValidateOptions::default(),
        )?;
        for w in catalog.warnings() {
            self.out.warn(w.to_string());
        }
        Ok(catalog)
    }

    /// Ask a yes/no question on stderr. Without a terminal this is an error, never a hang.
    pub fn confirm(&self, question: &str, default: bool) -> Result<bool> {
        if !self.interactive {
            return Err(Error::ConfirmationNeeded(format!(
                "{question} (needs a person to answer, and there is no terminal)"
            )));
        }
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(default)
            .interact_on(&dialoguer::console::Term::stderr())
            .map_err(|e| Error::Cancelled(e.to_string()))
    }

    /// Ask for a line of text on stderr.
    pub fn ask_text(&self, question: &str) -> Result<String> {
        if !self.interactive {
            return Err(Error::ConfirmationNeeded(format!(
                "{question} (needs a person to answer, and there is no terminal)"
            )));
        }
        dialoguer::Input::<String>::new()
            .with_prompt(question)
            .allow_empty(true)
            .interact_text_on(&dialoguer::console::Term::stderr())
            .map_err(|e| Error::Cancelled(e.to_string()))
    }

    /// Open the one key this command is about. With several keys present, a person is asked
    /// to touch or pick one; a script gets the list and how to choose.
    pub fn open_key(&self) -> Result<Box<dyn Authenticator>> {
        let spec = &self.global.device;
        let keys = device::discover(spec)?;
        match keys.len() {
            0 => Err(DeviceError::NoKey {
                diagnosis: match spec {
                    DeviceSpec::Auto => device::hid::diagnose_no_key(),
                    _ => Some(format!("nothing present for --device {spec}")),
                },
            }
            .into()),
            1 => Ok(device::open(&keys[0])?),
            _ if !self.interactive => Err(DeviceError::SeveralKeys { keys }.into()),
            _ => {
                let mut items = vec!["Touch the key I mean (they will all blink)".to_string()];
                items.extend(keys.iter().map(|k| k.display_name()));
                let choice = dialoguer::Select::new()
                    .with_prompt(format!("{} keys are plugged in. Which one?", keys.len()))
                    .items(&items)
                    .default(0)
                    .interact_on(&dialoguer::console::Term::stderr())
                    .map_err(|e| Error::Cancelled(e.to_string()))?;
                let index = if choice == 0 {
                    self.out.note("Touch the key you want to use...");
                    device::select_by_touch(&keys, device::TOUCH_TIMEOUT)?
                } else {
                    choice - 1
                };
                Ok(device::open(&keys[index])?)
            }
        }
    }

    /// Before any attempt with a PIN that could be wrong: say how many retries remain, refuse
    /// when the key is blocked, and require an explicit yes when few remain.
    pub fn guard_pin_attempt(&self, key: &mut dyn Authenticator) -> Result<PinRetries> {
        let retries = key.pin_retries()?;
        if retries.retries == 0 {
            return Err(DeviceError::PinBlocked.into());
        }
        if retries.power_cycle_required {
            return Err(DeviceError::PinAuthBlocked.into());
        }
        self.out.note(format!(
            "PIN attempts left on this key: {}",
            retries.retries
        ));
        if retries.retries <= LOW_RETRIES && !self.global.allow_low_retries {
            let question = format!(
                "Only {}; when they run out the key must be reset, which erases it. Try a PIN now?",
                crate::pin::pin_attempts_remain(retries.retries)
            );
            if !self.interactive {
                return Err(Error::ConfirmationNeeded(format!(
                    "only {} on this key; stopping rather than risk locking it \
                     (a script may pass --allow-low-retries to go on)",
                    crate::pin::pin_attempts_remain(retries.retries)
                )));
            }
            if !self.confirm(&question, false)? {
                return Err(Error::Cancelled("no PIN attempt made".into()));
            }
        }
        Ok(retries)
    }

    /// Guard, read the current PIN and unlock the key for the rest of this command.
    pub fn unlock(&self, key: &mut dyn Authenticator, reader: &mut PinReader) -> Result<()> {
        self.guard_pin_attempt(key)?;
        let pin = reader.current("PIN of the key")?;
        key.unlock(&pin).map_err(|e| self.with_retries(key, e))
    }

    /// A wrong PIN is more useful with how many attempts are left.
    pub fn with_retries(&self, key: &mut dyn Authenticator, e: DeviceError) -> Error {
        e.with_retries_from(key).into()
    }
}
