//! `keyward virtual ...`: create and drive virtual keys.

use super::Context;
use crate::error::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct VirtualArgs {
    #[command(subcommand)]
    pub command: VirtualCommand,
}

#[derive(Debug, Subcommand)]
pub enum VirtualCommand {
    /// Create a new virtual key file.
    Create { file: PathBuf },
}

pub fn run(_ctx: &Context, _args: VirtualArgs) -> Result<()> {
    Err(crate::Error::Usage("virtual keys are not built yet".into()))
}
