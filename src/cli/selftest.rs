//! `keyward key test`: the self-test ceremony, reported check by check.

use super::Context;
use crate::catalog::{Catalog, Model};
use crate::device::{DeviceDescriptor, DeviceError};
use crate::error::{Error, Result};
use crate::mds;
use crate::selftest::{self, PinOutcome, Report, Status, TrustSources};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use crypto_glue::traits::DecodeDer;
use crypto_glue::x509::Certificate;
use serde::Serialize;
use std::fmt::Write as _;

/// A virtual key's attestation CA, shown so trainers (and tests) can build metadata for it.
#[derive(Serialize)]
struct VirtualCa {
    subject: String,
    certificate_der_base64: String,
}

#[derive(Serialize)]
struct TestOutput<'a> {
    device: &'a DeviceDescriptor,
    model: Option<&'a Model>,
    #[serde(skip_serializing_if = "Option::is_none")]
    virtual_ca: Option<VirtualCa>,
    #[serde(flatten)]
    report: &'a Report,
}

/// The trust sources for a key: its virtual CA when it is a virtual key, and the imported FIDO
/// metadata. A damaged metadata cache is reported, and the test goes on without it.
pub fn trust_sources(
    ctx: &Context,
    desc: &DeviceDescriptor,
    virtual_root: Option<Vec<u8>>,
) -> TrustSources {
    let (metadata, metadata_problem) = match mds::load() {
        Ok(m) => (m, None),
        Err(e) => {
            ctx.out.warn(e.to_string());
            (
                None,
                Some(format!("the imported metadata is unusable ({e})")),
            )
        }
    };
    if let Some(m) = &metadata {
        if m.is_stale() {
            ctx.out.warn(format!(
                "the FIDO metadata is past its next-update date ({}); download a fresh blob",
                m.next_update
            ));
        }
    }
    TrustSources {
        virtual_root: if desc.is_virtual() {
            virtual_root
        } else {
            None
        },
        metadata,
        metadata_problem,
    }
}

pub fn run(ctx: &Context) -> Result<()> {
    let mut key = ctx.open_key()?;
    let info = key.info()?;
    let pin = match info.pin_is_set() {
        _ if !info.supports_fido2() => PinOutcome::Unsupported,
        None => PinOutcome::Unsupported,
        Some(false) => PinOutcome::NotSet,
        Some(true) => {
            let mut reader = ctx.pin_reader();
            match ctx.unlock(key.as_mut(), &mut reader) {
                Ok(()) => PinOutcome::Unlocked,
                Err(Error::Device(e @ DeviceError::PinInvalid { .. })) => {
                    PinOutcome::Refused(e.to_string())
                }
                Err(e) => return Err(e),
            }
        }
    };
    let desc = key.descriptor().clone();
    let virtual_root = key.virtual_attestation_root().filter(|_| desc.is_virtual());
    let sources = trust_sources(ctx, &desc, virtual_root.clone());
    ctx.out
        .note("Running the self-test (touch the key if it blinks)...");
    let report = selftest::run(key.as_mut(), &info, pin, &sources)?;
    let catalog = Catalog::builtin()?;
    let model = info.aaguid.and_then(|a| catalog.lookup(&a));
    let out = TestOutput {
        device: &desc,
        model,
        virtual_ca: virtual_root.map(|der| VirtualCa {
            subject: Certificate::from_der(&der)
                .map(|c| c.tbs_certificate().subject().to_string())
                .unwrap_or_default(),
            certificate_der_base64: STANDARD.encode(der),
        }),
        report: &report,
    };
    ctx.out.emit(&out, || render(&out));
    if report.ok {
        Ok(())
    } else {
        let failed: Vec<String> = report
            .failed()
            .iter()
            .map(|c| format!("{} ({})", c.id.id(), c.title))
            .collect();
        Err(Error::CheckFailed(format!(
            "key test failed: {}",
            failed.join(", ")
        )))
    }
}

fn render(out: &TestOutput) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Self-test of {}", out.device.display_name());
    match out.model {
        Some(m) => {
            let _ = writeln!(
                s,
                "Model (catalog): {} ({})",
                m.display_name(),
                m.certification.label()
            );
        }
        None if out.report.is_virtual => {
            let _ = writeln!(
                s,
                "Model: keyward virtual key (virtual: not a security key)"
            );
        }
        None => {
            let _ = writeln!(s, "Model: not in keyward's catalog");
        }
    }
    let _ = writeln!(s);
    for c in &out.report.checks {
        let _ = writeln!(s, "  {}  {}", c.status.label(), c.title);
        let _ = writeln!(s, "        {}", c.detail);
        if let Some(fix) = &c.fix {
            if matches!(c.status, Status::Fail | Status::Warn) {
                let _ = writeln!(s, "        what to do: {fix}");
            }
        }
    }
    let _ = writeln!(s);
    match &out.report.trusted_by {
        Some(t) => {
            let _ = writeln!(s, "Trusted by: {t}");
        }
        None => {
            let _ = writeln!(s, "Trusted by: nobody: the maker could not be confirmed.");
        }
    }
    if out.report.is_virtual {
        let _ = writeln!(s, "This is a virtual key: not a security key.");
    }
    let failed = out.report.failed();
    if failed.is_empty() {
        let _ = writeln!(s, "Result: no check failed.");
    } else {
        let names: Vec<&str> = failed.iter().map(|c| c.title).collect();
        let _ = writeln!(s, "Result: FAILED: {}.", names.join("; "));
    }
    s
}
