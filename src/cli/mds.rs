//! `keyward mds ...`: import and inspect the FIDO Metadata Service blob.

use super::Context;
use crate::error::Result;
use crate::mds::{self, Anchor, Metadata};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct MdsArgs {
    #[command(subcommand)]
    pub command: MdsCommand,
}

#[derive(Debug, Subcommand)]
pub enum MdsCommand {
    /// Verify a FIDO metadata blob (downloaded from https://mds3.fidoalliance.org/) and keep it.
    /// Nothing in it is used unless its signature chains to the FIDO Alliance's root; a blob
    /// that fails leaves the previous metadata untouched.
    Import {
        /// The blob file (a JWS, as downloaded).
        file: PathBuf,
        /// FOR TESTS AND LABS ONLY: trust this root certificate (PEM or DER) instead of the
        /// FIDO Alliance. Metadata imported this way is recorded and reported as TEST
        /// metadata, never as FIDO metadata.
        #[arg(long, value_name = "CERT")]
        test_root: Option<PathBuf>,
    },
    /// Show the metadata in use: who signed it, its serial number, its next-update date.
    Status,
}

#[derive(Serialize)]
struct Summary {
    ok: bool,
    signed_by: String,
    fido_alliance: bool,
    serial: u64,
    next_update: String,
    stale: bool,
    imported_at: String,
    models: usize,
    skipped_entries: Vec<String>,
    cache: String,
}

fn summary(m: &Metadata) -> Result<Summary> {
    Ok(Summary {
        ok: true,
        signed_by: m.anchor.label(),
        fido_alliance: m.anchor.is_fido(),
        serial: m.serial,
        next_update: m.next_update.clone(),
        stale: m.is_stale(),
        imported_at: m.imported_at.clone(),
        models: m.entries.len(),
        skipped_entries: m.skipped.clone(),
        cache: mds::cache_path()?.display().to_string(),
    })
}

fn render(s: &Summary, verb: &str) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{verb} FIDO metadata no. {} ({} models).",
        s.serial, s.models
    );
    let _ = writeln!(t, "Signed by:   {}", s.signed_by);
    let _ = writeln!(
        t,
        "Next update: {}{}",
        s.next_update,
        if s.stale {
            " (PASSED: download a fresh blob)"
        } else {
            ""
        }
    );
    if !s.fido_alliance {
        let _ = writeln!(
            t,
            "WARNING: this is TEST metadata, not the FIDO Alliance's; it proves nothing about real keys."
        );
    }
    if !s.skipped_entries.is_empty() {
        let _ = writeln!(t, "Entries left out (unusable data):");
        for e in &s.skipped_entries {
            let _ = writeln!(t, "  {e}");
        }
    }
    let _ = writeln!(t, "Kept in:     {}", s.cache);
    t
}

pub fn run(ctx: &Context, args: MdsArgs) -> Result<()> {
    match args.command {
        MdsCommand::Import { file, test_root } => {
            let anchor = match &test_root {
                Some(p) => {
                    ctx.out.warn(format!(
                        "trusting the test root {} instead of the FIDO Alliance (tests only)",
                        p.display()
                    ));
                    mds::read_test_root(p)?
                }
                None => Anchor::FidoAlliance,
            };
            let m = mds::import(&file, anchor)?;
            let s = summary(&m)?;
            ctx.out.emit(&s, || render(&s, "Imported"));
            Ok(())
        }
        MdsCommand::Status => {
            match mds::load()? {
                Some(m) => {
                    let s = summary(&m)?;
                    ctx.out.emit(&s, || render(&s, "Using"));
                }
                None => {
                    #[derive(Serialize)]
                    struct NoneYet {
                        ok: bool,
                        imported: bool,
                    }
                    ctx.out.emit(
                        &NoneYet {
                            ok: true,
                            imported: false,
                        },
                        || {
                            "No FIDO metadata imported: `keyward key test` checks signatures but \
                             cannot confirm who made a key. Download the blob from \
                             https://mds3.fidoalliance.org/ and run `keyward mds import FILE`."
                                .into()
                        },
                    );
                }
            }
            Ok(())
        }
    }
}
