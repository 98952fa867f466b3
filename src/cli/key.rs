//! `keyward key ...`: inspect and manage one security key.

use super::key_record::{self, recorded};
use super::Context;
use crate::device::{Authenticator, DeviceDescriptor, DeviceError, KeyInfo, RpCredentials};
use crate::error::{Error, Result};
use crate::ledger::KeyErased;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    pub command: KeyCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// What the key is and what it supports.
    Info,
    /// The key's PIN: status, set a first PIN, change it.
    Pin(PinArgs),
    /// Discoverable credentials (passkeys) stored on the key.
    Credentials(CredentialsArgs),
    /// Key-wide policy: minimum PIN length, forced PIN change, always-UV.
    Policy(PolicyArgs),
    /// Erase everything on the key (credentials and PIN). Needs a specific confirmation.
    Reset(ResetArgs),
    /// Record in the ledger that a key is retired; its accounts need a replacement.
    Retire(super::ledger_cmd::KeyStateArgs),
    /// Record in the ledger that a key is lost; its accounts need a replacement.
    Lost(super::ledger_cmd::KeyStateArgs),
    /// Record in the ledger that a key was removed from an account at the provider (settles
    /// a lost or retired key there).
    Removed(super::ledger_cmd::KeyRemovedArgs),
    /// Self-test: register a throwaway credential and sign in with it, checking the PIN, the
    /// attestation (who made the key) and the signatures. Uses no passkey slot.
    Test,
    /// Is this key ready for each provider (PIN, passkey slots, certification, number of keys)?
    Check(super::readiness::CheckArgs),
}

#[derive(Debug, Args)]
pub struct PinArgs {
    #[command(subcommand)]
    pub command: PinCommand,
}

#[derive(Debug, Subcommand)]
pub enum PinCommand {
    /// Whether a PIN is set and how many attempts remain.
    Status,
    /// Set the first PIN on a key that has none.
    Set,
    /// Change the PIN (needs the current one).
    Change,
}

#[derive(Debug, Args)]
pub struct CredentialsArgs {
    #[command(subcommand)]
    pub command: CredentialsCommand,
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// List discoverable credentials, grouped by website (relying party).
    List,
    /// Delete one discoverable credential by its ID (hex, as `list` shows it).
    Delete {
        /// Credential ID in hex.
        id: String,
        /// Do not ask for confirmation (scripts).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Raise the key's minimum PIN length (it can only be lowered by a reset).
    #[arg(long, value_name = "N")]
    pub min_pin_length: Option<u32>,
    /// A website allowed to read the minimum PIN length (repeatable).
    #[arg(long = "min-pin-length-rp", value_name = "RP_ID")]
    pub min_pin_length_rps: Vec<String>,
    /// Make the key demand a new PIN before its next use.
    #[arg(long)]
    pub force_pin_change: bool,
    /// Require the PIN for every use, even where a website does not ask for it.
    #[arg(long, value_name = "on|off")]
    pub always_uv: Option<OnOff>,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Confirm, in a script, that this key is to be erased. Interactive use types a
    /// confirmation instead.
    #[arg(long)]
    pub yes_erase_key: bool,
}

pub fn run(ctx: &Context, args: KeyArgs) -> Result<()> {
    match args.command {
        KeyCommand::Info => info(ctx),
        KeyCommand::Pin(p) => match p.command {
            PinCommand::Status => pin_status(ctx),
            PinCommand::Set => pin_set(ctx),
            PinCommand::Change => pin_change(ctx),
        },
        KeyCommand::Credentials(c) => match c.command {
            CredentialsCommand::List => credentials_list(ctx),
            CredentialsCommand::Delete { id, yes } => credentials_delete(ctx, &id, yes),
        },
        KeyCommand::Policy(p) => policy(ctx, p),
        KeyCommand::Reset(r) => reset(ctx, r),
        KeyCommand::Retire(a) => {
            super::ledger_cmd::key_state(ctx, a, crate::ledger::KeyState::Retired)
        }
        KeyCommand::Lost(a) => super::ledger_cmd::key_state(ctx, a, crate::ledger::KeyState::Lost),
        KeyCommand::Removed(a) => super::ledger_cmd::key_removed(ctx, a),
        KeyCommand::Test => super::selftest::run(ctx),
        KeyCommand::Check(args) => super::readiness::run(ctx, args),
    }
}

#[derive(Debug, Serialize)]
pub struct PinStatus {
    /// None when the key has no PIN support (U2F-only).
    pub pin_set: Option<bool>,
    pub retries: Option<u32>,
    pub power_cycle_required: bool,
    pub min_pin_length: u32,
    pub force_pin_change: bool,
}

fn read_pin_status(key: &mut dyn Authenticator, info: &KeyInfo) -> Result<PinStatus> {
    let pin_set = info.pin_is_set();
    let (retries, power_cycle_required) = if info.supports_fido2() && pin_set.is_some() {
        let r = key.pin_retries()?;
        (Some(r.retries), r.power_cycle_required)
    } else {
        (None, false)
    };
    Ok(PinStatus {
        pin_set,
        retries,
        power_cycle_required,
        min_pin_length: info.min_pin_length,
        force_pin_change: info.force_pin_change,
    })
}

fn describe_pin(s: &PinStatus) -> String {
    match s.pin_set {
        None => "not supported (U2F-only key)".to_string(),
        Some(false) => "not set".to_string(),
        Some(true) => {
            let mut t = format!("set, {} left", crate::pin::attempts(s.retries.unwrap_or(0)));
            if s.retries == Some(0) {
                t = "BLOCKED (no attempts left; only a reset recovers the key)".into();
            } else if s.power_cycle_required {
                t.push_str(" (3 wrong in a row: unplug and replug before the next try)");
            }
            if s.force_pin_change {
                t.push_str("; must be changed before next use");
            }
            t
        }
    }
}

#[derive(Serialize)]
struct InfoReport<'a> {
    device: &'a DeviceDescriptor,
    info: &'a KeyInfo,
    pin: PinStatus,
    /// What keyward's model catalog says about this AAGUID.
    model: Option<&'a crate::catalog::Model>,
}

fn info(ctx: &Context) -> Result<()> {
    let mut key = ctx.open_key()?;
    key_record::settle_if_pending(ctx, key.as_mut());
    let info = key.info()?;
    let pin = read_pin_status(key.as_mut(), &info)?;
    let device = key.descriptor().clone();
    let catalog = crate::catalog::Catalog::builtin()?;
    let model = info.aaguid.and_then(|a| catalog.lookup(&a));
    let report = InfoReport {
        device: &device,
        info: &info,
        pin,
        model,
    };
    ctx.out.emit(&report, || {
        let mut s = String::new();
        let _ = writeln!(s, "Key:            {}", device.display_name());
        if let (Some(v), Some(p)) = (device.vendor_id, device.product_id) {
            let _ = writeln!(s, "USB id:         {v:04x}:{p:04x}");
        }
        let _ = writeln!(s, "Protocols:      {}", info.versions.join(", "));
        if let Some(a) = info.aaguid {
            let _ = writeln!(s, "AAGUID:         {a}");
        }
        let _ = writeln!(
            s,
            "Model:          {}",
            describe_model(report.model, &device)
        );
        if let Some(fw) = info.firmware_version {
            let _ = writeln!(s, "Firmware:       {fw}");
        }
        let _ = writeln!(s, "PIN:            {}", describe_pin(&report.pin));
        let _ = writeln!(s, "Min PIN length: {}", info.min_pin_length);
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let _ = writeln!(
            s,
            "Passkeys:       {}{}",
            yes_no(info.supports_discoverable()),
            info.remaining_discoverable_credentials
                .map(|n| format!(" ({n} slots free)"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "Manage passkeys:{}",
            if info.supports_credential_management() {
                " yes"
            } else {
                " no (this key cannot list or delete its credentials)"
            }
        );
        let _ = writeln!(s, "Always UV:      {}", yes_no(info.always_uv()));
        if !info.extensions.is_empty() {
            let _ = writeln!(s, "Extensions:     {}", info.extensions.join(", "));
        }
        if !info.pin_uv_protocols.is_empty() {
            let protos: Vec<String> = info
                .pin_uv_protocols
                .iter()
                .map(|p| p.to_string())
                .collect();
            let _ = writeln!(s, "PIN protocols:  {}", protos.join(", "));
        }
        s
    });
    Ok(())
}

fn describe_model(model: Option<&crate::catalog::Model>, device: &DeviceDescriptor) -> String {
    match model {
        Some(m) => {
            let mut t = format!("{} ({})", m.display_name(), m.certification.label());
            if !m.uncertain.is_empty() {
                t.push_str(&format!(" [not certain: {}]", m.uncertain.join("; ")));
            }
            t
        }
        None if device.is_virtual() => "keyward virtual key (virtual: not a security key)".into(),
        None => "not in keyward's catalog (`keyward key test` can still check it)".into(),
    }
}

fn require_fido2(info: &KeyInfo, what: &str) -> Result<()> {
    if !info.supports_fido2() {
        return Err(DeviceError::Unsupported {
            what: format!("{what} (it is a U2F-only key, with no FIDO2 PIN)"),
        }
        .into());
    }
    Ok(())
}

fn pin_status(ctx: &Context) -> Result<()> {
    let mut key = ctx.open_key()?;
    key_record::settle_if_pending(ctx, key.as_mut());
    let info = key.info()?;
    let status = read_pin_status(key.as_mut(), &info)?;
    ctx.out
        .emit(&status, || format!("PIN: {}", describe_pin(&status)));
    Ok(())
}

#[derive(Serialize)]
struct Done<'a> {
    ok: bool,
    action: &'a str,
}

fn pin_set(ctx: &Context) -> Result<()> {
    let mut key = ctx.open_key()?;
    let mut rec = recorded(ctx, key.as_mut())?;
    let info = key.info()?;
    require_fido2(&info, "a PIN")?;
    if info.pin_is_set() == Some(true) {
        return Err(Error::KeyState(
            "this key already has a PIN; use `keyward key pin change`".into(),
        ));
    }
    let mut reader = ctx.pin_reader();
    let new_pin = reader.new_pin(
        &format!("New PIN (at least {} characters)", info.min_pin_length),
        info.min_pin_length,
    )?;
    key_record::change(
        ctx,
        &mut rec,
        key.as_mut(),
        "set_pin",
        KeyErased::Nothing,
        |k| Ok(k.set_pin(&new_pin)?),
    )?;
    ctx.out.emit(
        &Done {
            ok: true,
            action: "pin_set",
        },
        || "PIN set.".into(),
    );
    Ok(())
}

fn pin_change(ctx: &Context) -> Result<()> {
    let mut key = ctx.open_key()?;
    let mut rec = recorded(ctx, key.as_mut())?;
    let info = key.info()?;
    require_fido2(&info, "a PIN")?;
    if info.pin_is_set() != Some(true) {
        return Err(DeviceError::PinNotSet.into());
    }
    ctx.guard_pin_attempt(key.as_mut())?;
    let mut reader = ctx.pin_reader();
    let current = reader.current("Current PIN")?;
    let new_pin = reader.new_pin(
        &format!("New PIN (at least {} characters)", info.min_pin_length),
        info.min_pin_length,
    )?;
    if new_pin == current && info.force_pin_change {
        return Err(Error::BadInput(
            "the key requires a different PIN from the current one; nothing was changed".into(),
        ));
    }
    key_record::change(
        ctx,
        &mut rec,
        key.as_mut(),
        "change_pin",
        KeyErased::Nothing,
        |k| {
            k.change_pin(&current, &new_pin)
                .map_err(|e| ctx.with_retries(k, e))
        },
    )?;
    ctx.out.emit(
        &Done {
            ok: true,
            action: "pin_changed",
        },
        || "PIN changed.".into(),
    );
    Ok(())
}

/// Open the key, check it can manage credentials, and unlock it with the PIN.
fn open_for_credentials(ctx: &Context) -> Result<Box<dyn Authenticator>> {
    let mut key = ctx.open_key()?;
    let info = key.info()?;
    require_fido2(&info, "listing credentials")?;
    if !info.supports_credential_management() {
        return Err(DeviceError::Unsupported {
            what: "credential management (a CTAP 2.0 key cannot list or delete its passkeys; \
                   they can only be removed by resetting the key)"
                .into(),
        }
        .into());
    }
    if info.pin_is_set() != Some(true) {
        return Err(DeviceError::PinNotSet.into());
    }
    let mut reader = ctx.pin_reader();
    ctx.unlock(key.as_mut(), &mut reader)?;
    Ok(key)
}

#[derive(Serialize)]
struct CredentialList {
    existing: u32,
    remaining: u32,
    relying_parties: Vec<RpCredentials>,
}

fn credentials_list(ctx: &Context) -> Result<()> {
    let mut key = open_for_credentials(ctx)?;
    let meta = key.credential_metadata()?;
    let rps = key.list_credentials()?;
    let list = CredentialList {
        existing: meta.existing,
        remaining: meta.remaining,
        relying_parties: rps,
    };
    ctx.out.emit(&list, || {
        let mut s = format!(
            "{} discoverable credential(s) on the key, {} slot(s) free.\n",
            list.existing, list.remaining
        );
        for rp in &list.relying_parties {
            let _ = writeln!(s, "\n{}", rp.rp_id);
            for c in &rp.credentials {
                let who = c
                    .user_name
                    .clone()
                    .or_else(|| c.user_display_name.clone())
                    .unwrap_or_else(|| "(no user name)".into());
                let _ = writeln!(s, "  {who}\n    id {}", hex::encode(&c.credential_id));
            }
        }
        s
    });
    Ok(())
}

fn credentials_delete(ctx: &Context, id: &str, yes: bool) -> Result<()> {
    let id_bytes = hex::decode(id.trim()).map_err(|_| {
        Error::BadInput(format!(
            "`{id}` is not a credential ID: give it in hex, as `keyward key credentials list` shows it"
        ))
    })?;
    let mut key = open_for_credentials(ctx)?;
    let mut rec = recorded(ctx, key.as_mut())?;
    let rps = key.list_credentials()?;
    let found = rps.iter().find_map(|rp| {
        rp.credentials
            .iter()
            .find(|c| c.credential_id == id_bytes)
            .map(|c| (rp.rp_id.clone(), c.user_name.clone().unwrap_or_default()))
    });
    let Some((rp_id, user)) = found else {
        return Err(Error::BadInput(format!(
            "no credential with ID {id} on this key; `keyward key credentials list` shows them"
        )));
    };
    if !yes {
        let question = format!(
            "Delete the credential for {user} at {rp_id}? That account will stop accepting this key."
        );
        if !ctx.interactive {
            return Err(Error::ConfirmationNeeded(format!(
                "deleting the credential for {user} at {rp_id} needs confirmation: pass --yes"
            )));
        }
        if !ctx.confirm(&question, false)? {
            return Err(Error::Cancelled("nothing deleted".into()));
        }
    }
    let erased = KeyErased::Credential(hex::encode(&id_bytes));
    key_record::change(ctx, &mut rec, key.as_mut(), "erase", erased, |k| {
        Ok(k.delete_credential(&id_bytes)?)
    })?;
    #[derive(Serialize)]
    struct Deleted<'a> {
        ok: bool,
        rp_id: &'a str,
        user_name: &'a str,
        #[serde(with = "hex::serde")]
        credential_id: &'a [u8],
    }
    ctx.out.emit(
        &Deleted {
            ok: true,
            rp_id: &rp_id,
            user_name: &user,
            credential_id: &id_bytes,
        },
        || format!("Deleted the credential for {user} at {rp_id}."),
    );
    Ok(())
}

#[derive(Serialize, Default)]
struct PolicyResult {
    min_pin_length: Option<u32>,
    min_pin_length_rps: Vec<String>,
    force_pin_change: bool,
    always_uv: Option<bool>,
}

fn policy(ctx: &Context, args: PolicyArgs) -> Result<()> {
    let wants_min = args.min_pin_length.is_some() || !args.min_pin_length_rps.is_empty();
    if !wants_min && !args.force_pin_change && args.always_uv.is_none() {
        return Err(Error::Usage(
            "nothing to change: give --min-pin-length N, --min-pin-length-rp RP, \
             --force-pin-change or --always-uv on|off"
                .into(),
        ));
    }
    let mut key = ctx.open_key()?;
    let mut rec = recorded(ctx, key.as_mut())?;
    let info = key.info()?;
    require_fido2(&info, "PIN policy")?;
    if (wants_min || args.force_pin_change) && !info.supports_min_pin_length() {
        return Err(DeviceError::Unsupported {
            what: "setting a minimum PIN length or forcing a PIN change (needs CTAP 2.1)".into(),
        }
        .into());
    }
    if args.always_uv.is_some() && !info.supports_always_uv() {
        return Err(DeviceError::Unsupported {
            what: "the always-UV setting (needs CTAP 2.1 authenticatorConfig)".into(),
        }
        .into());
    }
    if let Some(n) = args.min_pin_length {
        if n < info.min_pin_length {
            return Err(Error::BadInput(format!(
                "the key's minimum PIN length is already {}; it can only be raised (a reset lowers it)",
                info.min_pin_length
            )));
        }
        if n > 63 {
            return Err(Error::BadInput(
                "a PIN can be at most 63 bytes, so the minimum length cannot exceed 63".into(),
            ));
        }
    }
    if info.pin_is_set() != Some(true) {
        return Err(DeviceError::PinNotSet.into());
    }
    let mut reader = ctx.pin_reader();
    ctx.unlock(key.as_mut(), &mut reader)?;
    let mut result = PolicyResult::default();
    key_record::change(
        ctx,
        &mut rec,
        key.as_mut(),
        "policy",
        KeyErased::Nothing,
        |key| {
            if wants_min || args.force_pin_change {
                key.set_min_pin_length(
                    args.min_pin_length,
                    &args.min_pin_length_rps,
                    args.force_pin_change,
                )?;
                result.min_pin_length = args.min_pin_length;
                result.min_pin_length_rps = args.min_pin_length_rps.clone();
                result.force_pin_change = args.force_pin_change;
            }
            if let Some(want) = args.always_uv {
                let want = want == OnOff::On;
                let now = if info.always_uv() != want {
                    key.toggle_always_uv()?
                } else {
                    want
                };
                result.always_uv = Some(now);
            }
            Ok(())
        },
    )?;
    ctx.out.emit(&result, || {
        let mut s = String::new();
        if let Some(n) = result.min_pin_length {
            let _ = writeln!(s, "Minimum PIN length is now {n}.");
        }
        if !result.min_pin_length_rps.is_empty() {
            let _ = writeln!(
                s,
                "Websites allowed to read it: {}.",
                result.min_pin_length_rps.join(", ")
            );
        }
        if result.force_pin_change {
            let _ = writeln!(s, "The key will ask for a new PIN before its next use.");
        }
        if let Some(on) = result.always_uv {
            let _ = writeln!(s, "Always-UV is {}.", if on { "on" } else { "off" });
        }
        s
    });
    Ok(())
}

/// The words a person types to confirm erasing this particular key.
fn reset_phrase(desc: &DeviceDescriptor) -> String {
    let name = desc
        .serial
        .clone()
        .or_else(|| desc.product.clone())
        .unwrap_or_else(|| "key".into());
    format!("erase {name}")
}

const RESET_WINDOW_TEXT: &str =
    "A key accepts a reset only within about 10 seconds of being plugged in, \
and only after you touch it. The reset erases every passkey and credential on the key and its PIN: \
every account that uses this key will stop accepting it.";

fn reset(ctx: &Context, args: ResetArgs) -> Result<()> {
    let mut key = ctx.open_key()?;
    let mut rec = recorded(ctx, key.as_mut())?;
    let desc = key.descriptor().clone();
    ctx.out.note(RESET_WINDOW_TEXT);
    if !args.yes_erase_key {
        if !ctx.interactive {
            return Err(Error::ConfirmationNeeded(
                "resetting a key erases it; in a script pass --yes-erase-key".into(),
            ));
        }
        let phrase = reset_phrase(&desc);
        let typed = ctx.ask_text(&format!("To erase {}, type: {phrase}", desc.display_name()))?;
        if typed.trim() != phrase {
            return Err(Error::Cancelled(
                "the confirmation did not match; the key was not reset".into(),
            ));
        }
    }
    ctx.out.note("Touch the key when it blinks...");
    if let Some(r) = rec.as_mut() {
        r.begin("reset")?;
    }
    let outcome = match key.reset() {
        Err(DeviceError::NotAllowed { .. }) if ctx.interactive => {
            drop(key);
            ctx.out.note(
                "The key is past its 10-second reset window. Unplug it, plug it back in, \
                 then press Enter at once.",
            );
            ctx.ask_text("Press Enter when the key is plugged back in")?;
            key = ctx.open_key()?;
            if key.descriptor().serial != desc.serial {
                // The confirmation was for the first key; the record too.
                return Err(Error::Cancelled(format!(
                    "this is not {}; nothing was reset",
                    desc.display_name()
                )));
            }
            ctx.out.note("Touch the key when it blinks...");
            key.reset()
        }
        Err(DeviceError::NotAllowed { .. }) => Err(DeviceError::NotAllowed {
            reason: "the reset came more than 10 seconds after the key was plugged in; \
                     unplug it, plug it back in and run the command again at once"
                .into(),
        }),
        other => other,
    };
    key_record::settle_after(
        ctx,
        &mut rec,
        key.as_mut(),
        KeyErased::Everything,
        outcome.map_err(Error::from),
    )?;
    ctx.out.emit(
        &Done {
            ok: true,
            action: "reset",
        },
        || "The key was reset: no PIN, no credentials.".into(),
    );
    Ok(())
}
