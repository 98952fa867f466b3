//! The ledger's side of `keyward key pin|policy|reset|credentials delete`: a change to a key
//! the ledger knows is recorded as begun before the key is touched and settled after, by
//! asking the key; one a crash left unsettled is settled at the next run the same way.
//!
//! A key is known by its serial number. No ledger, a key without a serial, or one the ledger
//! has never seen: nothing to record, and the command works on the key alone.

use super::Context;
use crate::device::Authenticator;
use crate::error::Result;
use crate::ledger::{Actor, Key, KeyErased, KeySeen, Ledger, PinState};

/// The ledger's record of the key plugged in, open for writing.
pub(super) struct Recorded {
    ledger: Ledger,
    key: Key,
    actor: Actor,
}

/// What the key says now. Retries are asked only when it has a PIN (never spending one).
pub(super) fn seen(key: &mut dyn Authenticator) -> Result<KeySeen> {
    let info = key.info()?;
    let pin_set = info.pin_is_set();
    let retries = match pin_set {
        Some(true) => key.pin_retries().ok().map(|r| r.retries),
        _ => None,
    };
    Ok(KeySeen {
        pin_set,
        force_pin_change: info.force_pin_change,
        retries,
    })
}

/// The ledger's record of this key, when there is a ledger and it knows the key; a change an
/// earlier run began on it and never settled is settled first, from what the key says.
pub(super) fn recorded(ctx: &Context, key: &mut dyn Authenticator) -> Result<Option<Recorded>> {
    let path = ctx.ledger_path()?;
    let Some(serial) = key.descriptor().serial.clone() else {
        return Ok(None);
    };
    if !path.exists() {
        return Ok(None);
    }
    // Read-only first: a key the ledger does not know needs nothing written, nor a writable
    // folder.
    let Some(known) = Ledger::open_read_only(&path)?.key_by_serial(&serial)? else {
        return Ok(None);
    };
    let mut rec = Recorded {
        ledger: ctx.existing_ledger()?,
        key: known,
        actor: ctx.actor(),
    };
    rec.settle_pending(ctx, key)?;
    Ok(Some(rec))
}

/// For commands that only read the key (`key info`, `key pin status`): settle what a crash
/// left, if anything, and otherwise write nothing. A ledger problem is a warning here.
pub(super) fn settle_if_pending(ctx: &Context, key: &mut dyn Authenticator) {
    let pending = || -> Result<bool> {
        let path = ctx.ledger_path()?;
        let Some(serial) = key.descriptor().serial.clone() else {
            return Ok(false);
        };
        if !path.exists() {
            return Ok(false);
        }
        let ledger = Ledger::open_read_only(&path)?;
        Ok(match ledger.key_by_serial(&serial)? {
            Some(k) => ledger.pending_key_change(k.id)?.is_some(),
            None => false,
        })
    };
    let settled = match pending() {
        Ok(true) => recorded(ctx, key).map(|_| ()),
        Ok(false) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = settled {
        ctx.out
            .warn(format!("the ledger could not be checked for this key: {e}"));
    }
}

impl Recorded {
    fn settle_pending(&mut self, ctx: &Context, key: &mut dyn Authenticator) -> Result<()> {
        let Some(change) = self.ledger.pending_key_change(self.key.id)? else {
            return Ok(());
        };
        let now = seen(key)?;
        // A reset is the one change that takes a PIN away: a key that had one and has none now
        // was reset. Without a PIN before, the key cannot say, and the ledger is not guessed at.
        let had_pin = matches!(
            self.key.pin_state,
            Some(PinState::Set | PinState::SetMustChange)
        );
        let erased = if change == "reset" && had_pin && now.pin_set == Some(false) {
            KeyErased::Everything
        } else {
            KeyErased::Nothing
        };
        let (settled, touched) =
            self.ledger
                .settle_key_erase(&self.actor, self.key.id, &now, true, &erased)?;
        self.key = settled;
        ctx.out.note(format!(
            "{}: the last run was interrupted while changing this key ({}); the ledger now \
             records what the key says: {}.",
            self.key.label,
            change.replace('_', " "),
            self.key
                .pin_state
                .map(|p| p.describe())
                .unwrap_or("no PIN support")
        ));
        // A key that had a PIN and still has one was not reset; one that had none cannot say.
        if change == "reset" && !had_pin {
            ctx.out.warn(format!(
                "keyward cannot tell from the key whether that reset happened. If `keyward key \
                 credentials list` shows no passkeys, record it: keyward key retire \"{}\"",
                self.key.label
            ));
        }
        self.tell(ctx, &erased, touched);
        Ok(())
    }

    /// What an erase did to the accounts the ledger records this key as opening.
    fn tell(&self, ctx: &Context, erased: &KeyErased, touched: usize) {
        if touched == 0 {
            return;
        }
        let accounts = if touched == 1 {
            "1 account".to_string()
        } else {
            format!("{touched} accounts")
        };
        match erased {
            KeyErased::Nothing => {}
            KeyErased::Everything => ctx.out.warn(format!(
                "{label} opened {accounts} in the ledger and now opens none: it is recorded as \
                 retired. Remove {label} from each of those accounts (`keyward status` lists \
                 them); to use this key again, enroll it under a new label.",
                label = self.key.label
            )),
            KeyErased::Credential(_) => ctx.out.warn(format!(
                "{label} no longer opens {accounts} it was recorded for: the ledger no longer \
                 counts it there. Remove {label} from that account's list of keys too.",
                label = self.key.label
            )),
        }
    }

    /// Record the intent (`set_pin`, `change_pin`, `policy`, `reset`, `erase`) before the key is
    /// touched.
    pub(super) fn begin(&mut self, change: &str) -> Result<()> {
        Ok(self
            .ledger
            .begin_key_change(&self.actor, self.key.id, change)?)
    }

    /// After acting, whether or not the key accepted: record what it says now, and what the
    /// act erased.
    pub(super) fn settle(
        &mut self,
        ctx: &Context,
        key: &mut dyn Authenticator,
        erased: &KeyErased,
    ) -> Result<()> {
        crate::ledger::test_kill_point("key-changed");
        let now = seen(key)?;
        let (settled, touched) =
            self.ledger
                .settle_key_erase(&self.actor, self.key.id, &now, false, erased)?;
        self.key = settled;
        self.tell(ctx, erased, touched);
        Ok(())
    }
}

/// Intent, act, settle, for a key the ledger may know (`rec`). `erased` is what the act
/// erases when the key accepts it. The act's own error is returned after the settle, which
/// records the key as it is either way.
pub(super) fn change<T>(
    ctx: &Context,
    rec: &mut Option<Recorded>,
    key: &mut dyn Authenticator,
    change: &str,
    erased: KeyErased,
    act: impl FnOnce(&mut dyn Authenticator) -> Result<T>,
) -> Result<T> {
    if let Some(r) = rec.as_mut() {
        r.begin(change)?;
    }
    let done = act(key);
    settle_after(ctx, rec, key, erased, done)
}

/// The end of [`change`], for a command that acts on the key itself between `begin` and here
/// (`key reset`, which may ask for the key to be replugged): settle, with `erased` counted
/// only when the key accepted.
pub(super) fn settle_after<T>(
    ctx: &Context,
    rec: &mut Option<Recorded>,
    key: &mut dyn Authenticator,
    erased: KeyErased,
    done: Result<T>,
) -> Result<T> {
    let erased = if done.is_ok() {
        erased
    } else {
        KeyErased::Nothing
    };
    let settled = match rec.as_mut() {
        Some(r) => r.settle(ctx, key, &erased),
        None => Ok(()),
    };
    // The key's refusal says more than a failure to record after it; either way an intent
    // left open is settled at the next run.
    let value = done?;
    settled?;
    Ok(value)
}
