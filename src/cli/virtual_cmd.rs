//! `keyward virtual ...`: create and drive virtual keys (software stand-ins for tests, demos and
//! help-desk training; never security keys).

use super::Context;
use crate::device::virtual_key::{self, Knobs, Profile, TouchOutcome};
use crate::device::{DeviceDescriptor, MakeCredentialRequest};
use crate::error::{Error, Result};
use crate::webauthn_export::{self, CeremonyType};
use clap::{Args, Subcommand, ValueEnum};
use crypto_glue::s256::Sha256;
use crypto_glue::traits::Digest;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct VirtualArgs {
    #[command(subcommand)]
    pub command: VirtualCommand,
}

#[derive(Debug, Subcommand)]
pub enum VirtualCommand {
    /// Create a new virtual key file (never overwrites an existing file).
    Create {
        file: PathBuf,
        /// What kind of key to imitate.
        #[arg(long, value_enum, default_value = "ctap21")]
        profile: Profile,
        /// How many discoverable credentials (passkeys) the key can hold.
        #[arg(long, value_name = "N", default_value_t = virtual_key::DEFAULT_SLOTS)]
        slots: u32,
    },
    /// Do what a website does when it enrolls the key: create a credential for an account.
    Register(RegisterArgs),
    /// Unplug the key and plug it back in (a power cycle).
    Replug { file: PathBuf },
    /// Unplug the key: it disappears until `virtual replug`.
    Unplug { file: PathBuf },
    /// Make the key misbehave on purpose, for tests. Without options, shows the knobs set.
    Knob(KnobArgs),
    /// Run the key as an authenticator for another program: raw 64-byte CTAPHID reports on
    /// standard input, the key's reports on standard output, until standard input closes.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    pub file: PathBuf,
    /// Carry the reports over standard input and output (exactly 64 bytes each, no report
    /// ID, no framing). Required: it is the only bridge there is.
    #[arg(long, required = true)]
    pub stdio: bool,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    pub file: PathBuf,
    /// The website's relying-party ID, e.g. accounts.google.com.
    #[arg(long, value_name = "RP_ID")]
    pub rp: String,
    /// The account's user name at that website.
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// Store a discoverable credential (a passkey), which takes one of the key's slots.
    #[arg(long)]
    pub discoverable: bool,
    /// The account's display name.
    #[arg(long, value_name = "NAME")]
    pub display_name: Option<String>,
    /// The website's display name.
    #[arg(long, value_name = "NAME")]
    pub rp_name: Option<String>,
    /// A credential ID (hex) the website already knows; the key refuses to register again.
    #[arg(long = "exclude", value_name = "ID")]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct KnobArgs {
    pub file: PathBuf,
    /// The next touch is refused (the command gets "declined on the key").
    #[arg(long, conflicts_with = "time_out_next_touch")]
    pub deny_next_touch: bool,
    /// The next touch never comes (the command gets a timeout at once, without waiting).
    #[arg(long)]
    pub time_out_next_touch: bool,
    /// Answer N more commands, then disappear until `virtual replug`.
    #[arg(long, value_name = "N")]
    pub unplug_after: Option<u32>,
    /// Answer the next command with this CTAP status (hex like 0x27, or decimal).
    #[arg(long, value_name = "STATUS", value_parser = parse_status)]
    pub fail_next: Option<u8>,
    /// Pretend the key was plugged in this many seconds ago (the reset window is 10 s).
    #[arg(long, value_name = "SECONDS")]
    pub powered_up_ago: Option<u64>,
    /// Sign assertions wrongly (their signatures do not verify).
    #[arg(long, value_name = "on|off")]
    pub bad_signature: Option<Switch>,
    /// Attest with a certificate outside the FIDO packed profile.
    #[arg(long, value_name = "on|off")]
    pub attest_out_of_profile: Option<Switch>,
    /// Attest under another AAGUID than the one in the certificate.
    #[arg(long, value_name = "on|off")]
    pub attest_wrong_aaguid: Option<Switch>,
    /// Answer every PIN as wrong (retries are not spent).
    #[arg(long, value_name = "on|off")]
    pub refuse_pin: Option<Switch>,
    /// Every touch comes this many seconds after the key asks for it (0: at once).
    #[arg(long, value_name = "SECONDS")]
    pub touch_after: Option<u64>,
    /// Clear every knob first.
    #[arg(long)]
    pub clear: bool,
}

fn parse_status(s: &str) -> std::result::Result<u8, String> {
    let t = s.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => t.parse::<u8>(),
    };
    match parsed {
        Ok(0) => Err("0x00 is success, not an error".into()),
        Ok(v) => Ok(v),
        Err(_) => Err(format!(
            "`{s}` is not a CTAP status byte: give it in hex (0x27) or decimal (39)"
        )),
    }
}

pub fn run(ctx: &Context, args: VirtualArgs) -> Result<()> {
    match args.command {
        VirtualCommand::Create {
            file,
            profile,
            slots,
        } => create(ctx, &file, profile, slots),
        VirtualCommand::Register(r) => register(ctx, r),
        VirtualCommand::Replug { file } => {
            let device = virtual_key::replug(&file)?;
            emit_action(ctx, "replugged", &device, || {
                format!(
                    "Plugged back in: {}. The 10-second reset window starts now.",
                    device.display_name()
                )
            });
            Ok(())
        }
        VirtualCommand::Unplug { file } => {
            virtual_key::unplug(&file)?;
            let status = virtual_key::status(&file)?;
            emit_action(ctx, "unplugged", &status.device, || {
                format!(
                    "Unplugged: {}. `keyward virtual replug {}` plugs it back in.",
                    status.device.display_name(),
                    file.display()
                )
            });
            Ok(())
        }
        VirtualCommand::Knob(k) => knob(ctx, k),
        VirtualCommand::Serve(s) => {
            // stdout carries reports only: nothing else may be written there.
            let _ = s.stdio;
            virtual_key::serve_stdio(&s.file)?;
            Ok(())
        }
    }
}

#[derive(Serialize)]
struct Action<'a> {
    ok: bool,
    action: &'a str,
    device: &'a DeviceDescriptor,
}

fn emit_action(
    ctx: &Context,
    action: &str,
    device: &DeviceDescriptor,
    human: impl FnOnce() -> String,
) {
    ctx.out.emit(
        &Action {
            ok: true,
            action,
            device,
        },
        human,
    );
}

fn create(ctx: &Context, file: &Path, profile: Profile, slots: u32) -> Result<()> {
    let device = virtual_key::create(file, profile, slots)?;
    emit_action(ctx, "created", &device, || {
        format!(
            "Created {}.\nThis is a virtual key: NOT a security key. Its secrets are in the file \
             in the clear; use it for tests, demos and training only.\nUse it with --device {}",
            device.display_name(),
            device.spec
        )
    });
    Ok(())
}

#[derive(Serialize)]
struct Registered {
    ok: bool,
    rp_id: String,
    user_name: String,
    discoverable: bool,
    user_verified: bool,
    #[serde(with = "hex::serde")]
    credential_id: Vec<u8>,
    attestation_format: String,
    aaguid: Option<uuid::Uuid>,
    /// The registration as a browser hands it to the website (base64url).
    webauthn: crate::webauthn_export::Credential<crate::webauthn_export::AttestationResponse>,
}

fn register(ctx: &Context, args: RegisterArgs) -> Result<()> {
    let mut exclude = Vec::new();
    for id in &args.exclude {
        exclude.push(hex::decode(id.trim()).map_err(|_| {
            Error::BadInput(format!("--exclude `{id}` is not a credential ID in hex"))
        })?);
    }
    let mut key = virtual_key::open(&args.file)?;
    let info = key.info()?;
    let user_verification = info.pin_is_set() == Some(true);
    if user_verification {
        let mut reader = ctx.pin_reader();
        ctx.unlock(key.as_mut(), &mut reader)?;
    }
    // What a browser would hash: a fresh challenge from the website, in clientDataJSON.
    let client_data = webauthn_export::client_data_json(
        CeremonyType::Create,
        &webauthn_export::random_challenge(),
        &args.rp,
    );
    // A website keeps one stable user handle per account.
    let user_id = Sha256::digest(format!("{}\n{}", args.rp, args.user).as_bytes())[..16].to_vec();
    let req = MakeCredentialRequest {
        client_data_hash: Sha256::digest(&client_data).into(),
        rp_id: args.rp.clone(),
        rp_name: args.rp_name.clone(),
        user_id,
        user_name: args.user.clone(),
        user_display_name: args.display_name.clone(),
        discoverable: args.discoverable,
        user_verification,
        exclude_credentials: exclude,
    };
    ctx.out.note("Touch the key...");
    let made = key.make_credential(&req)?;
    let webauthn = webauthn_export::registration(&made, &client_data);
    let result = Registered {
        ok: true,
        rp_id: args.rp,
        user_name: args.user,
        discoverable: args.discoverable,
        user_verified: made.user_verified,
        credential_id: made.credential_id,
        attestation_format: made.attestation_format,
        aaguid: made.aaguid,
        webauthn,
    };
    ctx.out.emit(&result, || {
        format!(
            "Registered {} at {} ({}, {} attestation).\nCredential ID {}",
            result.user_name,
            result.rp_id,
            if result.discoverable {
                "passkey stored on the key"
            } else {
                "non-discoverable"
            },
            result.attestation_format,
            hex::encode(&result.credential_id)
        )
    });
    Ok(())
}

fn knob(ctx: &Context, k: KnobArgs) -> Result<()> {
    let changes = k.clear
        || k.deny_next_touch
        || k.time_out_next_touch
        || k.unplug_after.is_some()
        || k.fail_next.is_some()
        || k.bad_signature.is_some()
        || k.attest_out_of_profile.is_some()
        || k.attest_wrong_aaguid.is_some()
        || k.refuse_pin.is_some()
        || k.touch_after.is_some();
    if changes {
        virtual_key::set_knobs(&k.file, |knobs| {
            if k.clear {
                *knobs = Knobs::default();
            }
            if k.deny_next_touch {
                knobs.next_touch = Some(TouchOutcome::Deny);
            }
            if k.time_out_next_touch {
                knobs.next_touch = Some(TouchOutcome::Timeout);
            }
            if let Some(n) = k.unplug_after {
                knobs.unplug_after_commands = Some(n);
            }
            if let Some(code) = k.fail_next {
                knobs.fail_next_with = Some(code);
            }
            let on =
                |s: Option<Switch>, current: bool| s.map(|s| s == Switch::On).unwrap_or(current);
            knobs.bad_assertion_signature = on(k.bad_signature, knobs.bad_assertion_signature);
            knobs.attestation_out_of_profile =
                on(k.attest_out_of_profile, knobs.attestation_out_of_profile);
            knobs.attestation_wrong_aaguid =
                on(k.attest_wrong_aaguid, knobs.attestation_wrong_aaguid);
            knobs.refuse_pin = on(k.refuse_pin, knobs.refuse_pin);
            if let Some(secs) = k.touch_after {
                knobs.touch_after_ms = (secs > 0).then(|| secs.saturating_mul(1000));
            }
        })?;
    }
    if let Some(secs) = k.powered_up_ago {
        virtual_key::set_powered_up_ago(&k.file, secs)?;
    }
    let status = virtual_key::status(&k.file)?;
    ctx.out.emit(&status, || {
        let mut s = format!("{}\n", status.device.display_name());
        let n = &status.knobs;
        let mut lines: Vec<String> = Vec::new();
        let mut line = |t: String| lines.push(t);
        match n.next_touch {
            Some(TouchOutcome::Deny) => line("next touch: refused".into()),
            Some(TouchOutcome::Timeout) => line("next touch: times out".into()),
            None => {}
        }
        if let Some(c) = n.unplug_after_commands {
            line(format!("disappears after {c} more command(s)"));
        }
        if let Some(c) = n.fail_next_with {
            line(format!(
                "next command answers CTAP status 0x{c:02X} ({})",
                crate::device::ctap_status_name(c)
            ));
        }
        if n.bad_assertion_signature {
            line("signs assertions wrongly".into());
        }
        if n.attestation_out_of_profile {
            line("attests with a certificate outside the FIDO profile".into());
        }
        if n.attestation_wrong_aaguid {
            line("attests under another AAGUID than its certificate's".into());
        }
        if n.refuse_pin {
            line("refuses every PIN".into());
        }
        if let Some(ms) = n.touch_after_ms {
            line(format!("every touch comes {} s late", ms / 1000));
        }
        if lines.is_empty() {
            lines.push("no knobs set: behaves like a well-made key".into());
        }
        for t in &lines {
            let _ = writeln!(s, "  {t}");
        }
        if !status.plugged_in {
            let _ = writeln!(
                s,
                "  (unplugged: `keyward virtual replug` plugs it back in)"
            );
        }
        s
    });
    Ok(())
}
