//! `keyward key check [--for PLAYBOOK...]`: is this key ready for each provider?

use super::Context;
use crate::catalog::{Catalog, Model};
use crate::device::{Authenticator, DeviceDescriptor, KeyInfo};
use crate::error::{Error, Result};
use crate::mds;
use crate::readiness::{self, KeyFacts, Readiness, Severity, Verdict};
use clap::Args;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check only this playbook (repeatable; default: every playbook).
    #[arg(long = "for", id = "for_playbook", value_name = "PLAYBOOK")]
    pub for_playbooks: Vec<String>,
    /// How many keys the person has for these accounts, this one included.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub keys: u32,
}

/// Certification according to FIDO-signed metadata; a damaged cache is a warning here.
fn metadata_certified(ctx: &Context, info: &KeyInfo) -> Option<bool> {
    match mds::load() {
        Ok(Some(md)) => {
            if !md.anchor.is_fido() {
                ctx.out.note(
                    "note: the imported metadata is TEST metadata; it is not used to decide FIDO certification",
                );
            }
            readiness::certified_in(&md, info.aaguid)
        }
        Ok(None) => None,
        Err(e) => {
            ctx.out.warn(e.to_string());
            None
        }
    }
}

/// PIN attempts left, when the key has a PIN.
fn pin_retries(key: &mut dyn Authenticator, info: &KeyInfo) -> Result<Option<u32>> {
    if info.supports_fido2() && info.pin_is_set() == Some(true) {
        Ok(Some(key.pin_retries()?.retries))
    } else {
        Ok(None)
    }
}

#[derive(Serialize)]
struct CheckOutput<'a> {
    ok: bool,
    device: &'a DeviceDescriptor,
    model: Option<&'a Model>,
    keys_available: u32,
    verdicts: &'a [Verdict],
}

pub fn run(ctx: &Context, args: CheckArgs) -> Result<()> {
    let playbooks = ctx.playbooks()?;
    let selected: Vec<_> = if args.for_playbooks.is_empty() {
        playbooks.all().collect()
    } else {
        args.for_playbooks
            .iter()
            .map(|id| playbooks.require(id))
            .collect::<std::result::Result<_, _>>()?
    };
    let mut key = ctx.open_key()?;
    let info = key.info()?;
    let retries = pin_retries(key.as_mut(), &info)?;
    let desc = key.descriptor().clone();
    let catalog = Catalog::builtin()?;
    let model = info.aaguid.and_then(|a| catalog.lookup(&a));
    let facts = KeyFacts {
        info: &info,
        model,
        metadata_certified: metadata_certified(ctx, &info),
        pin_retries: retries,
        is_virtual: desc.is_virtual(),
        keys_available: args.keys,
    };
    let verdicts: Vec<Verdict> = selected
        .iter()
        .map(|p| readiness::check(&facts, p))
        .collect();
    let ok = verdicts.iter().all(|v| v.ready);
    let out = CheckOutput {
        ok,
        device: &desc,
        model,
        keys_available: args.keys,
        verdicts: &verdicts,
    };
    ctx.out.emit(&out, || render(&out));
    if ok {
        Ok(())
    } else {
        let not: Vec<&str> = verdicts
            .iter()
            .filter(|v| !v.ready)
            .map(|v| v.playbook.as_str())
            .collect();
        Err(Error::CheckFailed(format!(
            "the key is not ready for: {}",
            not.join(", ")
        )))
    }
}

fn render(out: &CheckOutput) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Key: {}", out.device.display_name());
    if let Some(m) = out.model {
        let _ = writeln!(
            s,
            "Model: {} ({})",
            m.display_name(),
            m.certification.label()
        );
    }
    if out.keys_available > 1 {
        let _ = writeln!(s, "Keys the person has: {}", out.keys_available);
    }
    for v in out.verdicts {
        let head = match v.readiness {
            Readiness::Ready => "READY",
            Readiness::NotReady => "NOT READY",
            Readiness::Unsuitable => "NOT READY (this key cannot be used)",
        };
        let _ = writeln!(s, "\n{}: {head}", v.provider);
        for f in &v.findings {
            let mark = match f.severity {
                Severity::Blocker => "  x ",
                Severity::Action => "  ! ",
                Severity::Note => "  - ",
            };
            let _ = writeln!(s, "{mark}{}", f.problem);
            if f.severity > Severity::Note {
                if !f.reason.is_empty() {
                    let _ = writeln!(s, "      why: {}", f.reason);
                }
                let _ = writeln!(s, "      fix: {}", f.fix);
            }
            if let Some(nc) = &f.not_certain {
                let _ = writeln!(s, "      not certain: {nc}");
            }
        }
    }
    s
}
