//! `keyward completions SHELL` and the hidden `keyward man DIR`: shell completions and manual
//! pages made from the same clap definitions as the parser, so they cannot drift from it.

use super::{Cli, Context};
use crate::error::{Error, Result};
use clap::{Args, CommandFactory};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, powershell or elvish.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The folder for the pages (created if missing): keyward.1 and one page per command.
    pub dir: PathBuf,
}

pub fn completions(args: CompletionsArgs) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "keyward", &mut script);
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(&script).and_then(|()| stdout.flush()) {
        // `keyward completions bash | head` is looking, not failing.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(|e| Error::io("writing the completion script to standard output", e)),
    }
}

#[derive(Serialize)]
struct ManPages {
    dir: PathBuf,
    pages: Vec<String>,
}

pub fn man(ctx: &Context, args: ManArgs) -> Result<()> {
    let context = || format!("writing manual pages into {}", args.dir.display());
    std::fs::create_dir_all(&args.dir).map_err(|e| Error::io(context(), e))?;
    clap_mangen::generate_to(Cli::command(), &args.dir).map_err(|e| Error::io(context(), e))?;
    let mut pages: Vec<String> = std::fs::read_dir(&args.dir)
        .map_err(|e| Error::io(context(), e))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("keyward") && name.ends_with(".1"))
        .collect();
    pages.sort();
    let out = ManPages {
        dir: args.dir,
        pages,
    };
    ctx.out.emit(&out, || {
        format!(
            "{} manual pages in {} (read one with `man -l {}`)",
            out.pages.len(),
            out.dir.display(),
            out.dir.join("keyward.1").display()
        )
    });
    Ok(())
}
