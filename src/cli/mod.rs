//! Command-line definitions, dispatch and output.
//!
//! Every command that reports has `--json`. Prompts go to stderr, results to stdout, and
//! nothing prompts when stdin is not a terminal. Errors are mapped to exit codes once, in
//! [`crate::error`].

mod context;
mod devices;
mod enroll;
mod entra;
mod entra_confirm;
mod entra_intent;
mod generate;
mod howto;
mod key;
mod key_record;
mod ledger_cmd;
mod mds;
mod output;
mod playbooks;
mod provision;
mod provision_entra;
mod readiness;
mod records;
mod replacement;
mod selftest;
mod summary;
mod version;
mod virtual_cmd;

pub use context::{Context, LOW_RETRIES};
pub use output::Output;

use crate::device::DeviceSpec;
use crate::error::ExitCode;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    long_version = version::long(),
    about = "Get FIDO2 security keys into accounts, and track the weaker sign-in methods still to disable",
    after_help = "Exit codes are listed in docs/exit-codes.md. PINs are never taken as flags: \
                  use the prompt, --pin-stdin, --pin-fd or KEYWARD_PIN / KEYWARD_NEW_PIN."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Which key: auto, hid:PATH, virtual:FILE or virtual-dir:DIR.
    #[arg(long, global = true, env = "KEYWARD_DEVICE", default_value = "auto", value_parser = parse_device)]
    pub device: DeviceSpec,

    /// The ledger file (default: keyward/ledger.sqlite in your data folder).
    #[arg(long, global = true, env = "KEYWARD_LEDGER", value_name = "PATH")]
    pub ledger: Option<PathBuf>,

    /// A folder of playbooks that add to or override the built-in ones.
    #[arg(long, global = true, env = "KEYWARD_PLAYBOOKS", value_name = "DIR")]
    pub playbooks: Option<PathBuf>,

    /// Name of the help-desk operator running this session; recorded with every change.
    #[arg(long, global = true, env = "KEYWARD_OPERATOR", value_name = "NAME")]
    pub operator: Option<String>,

    /// Read PINs from standard input, one per line: the current PIN first, then the new one.
    #[arg(long, global = true)]
    pub pin_stdin: bool,

    /// Read PINs from this open file descriptor, one per line, like --pin-stdin.
    #[arg(long, global = true, value_name = "N")]
    pub pin_fd: Option<i32>,

    /// Allow a PIN attempt even when 3 or fewer retries remain on the key (scripts only).
    #[arg(long, global = true)]
    pub allow_low_retries: bool,

    /// Never prompt, even on a terminal; fail instead where a person would be asked.
    #[arg(long, global = true)]
    pub no_input: bool,

    /// Colour: auto (on a terminal, unless NO_COLOR is set or CLICOLOR=0), always or never.
    /// JSON is never coloured.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: crate::style::ColorChoice,
}

fn parse_device(s: &str) -> Result<DeviceSpec, String> {
    s.parse()
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// See what keyward does: the whole enrollment on two virtual keys, in seconds.
    Demo(enroll::DemoArgs),
    /// Guide a person through getting their keys into their accounts; resumes when run again.
    Enroll(enroll::EnrollArgs),
    /// One person's record, what remains to disable first; without PERSON, everyone briefly.
    Status(records::StatusArgs),
    /// One person or the whole fleet, as text, Markdown, JSON or CSV.
    Report(records::ReportArgs),
    /// The one page a person keeps: which key is which, what is still to do, what if a key is
    /// lost (Markdown, or printable HTML with --output FILE.html).
    Summary(summary::SummaryArgs),
    /// Record a later change to a weaker sign-in method (e.g. SMS removed a week later).
    Method(ledger_cmd::MethodArgs),
    /// List the security keys present.
    Devices,
    /// Inspect and manage one security key.
    Key(key::KeyArgs),
    /// Provider playbooks: what each account needs and which weaker methods to remove.
    Playbooks(playbooks::PlaybooksArgs),
    /// Prepare many keys in a row from a roster and a policy, recording who got which.
    Provision(provision::ProvisionArgs),
    /// FIDO Metadata Service: import the blob that lets `key test` confirm who made a key.
    Mds(mds::MdsArgs),
    /// Microsoft Entra ID through Microsoft Graph: connect, see and remove methods, register keys.
    Entra(entra::EntraArgs),
    /// Check the ledger's audit trail.
    Audit(ledger_cmd::AuditArgs),
    /// Export or import the whole ledger as JSON; where it is.
    Ledger(ledger_cmd::LedgerArgs),
    /// Create and drive virtual keys (software stand-ins for tests, demos and training).
    Virtual(virtual_cmd::VirtualArgs),
    /// Print shell completions for bash, zsh, fish, powershell or elvish (see docs/install.md).
    Completions(generate::CompletionsArgs),
    /// Write the manual pages into a folder (for packaging).
    #[command(hide = true)]
    Man(generate::ManArgs),
}

/// Parse the arguments, run the command, print the result or the error, and return the exit
/// code.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            crate::style::init_from_raw_args(&args);
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::Ok.code()
                }
                _ => ExitCode::Usage.code(),
            };
        }
    };
    crate::style::init(cli.global.color);
    let ctx = Context::new(cli.global.clone());
    let result = match cli.command {
        Command::Devices => devices::run(&ctx),
        Command::Key(args) => key::run(&ctx, args),
        Command::Virtual(args) => virtual_cmd::run(&ctx, args),
        Command::Status(args) => records::status(&ctx, args),
        Command::Report(args) => records::report(&ctx, args),
        Command::Summary(args) => summary::run(&ctx, args),
        Command::Method(args) => ledger_cmd::method(&ctx, args),
        Command::Audit(args) => ledger_cmd::audit(&ctx, args),
        Command::Ledger(args) => ledger_cmd::ledger(&ctx, args),
        Command::Provision(args) => provision::run(&ctx, args),
        Command::Playbooks(args) => playbooks::run(&ctx, args),
        Command::Enroll(args) => enroll::enroll(&ctx, args),
        Command::Demo(args) => enroll::demo(&ctx, args),
        Command::Mds(args) => mds::run(&ctx, args),
        Command::Entra(args) => entra::run(&ctx, args),
        Command::Completions(args) => generate::completions(args),
        Command::Man(args) => generate::man(&ctx, args),
    };
    match result {
        Ok(()) => ExitCode::Ok.code(),
        Err(e) => {
            ctx.out.error(&e);
            e.exit_code().code()
        }
    }
}
