//! The command line, on top of everything: one clap definition from which help, the man page and shell
//! completions are all generated, and one file per command that turns its arguments into a plan and runs it —
//! source → engine → report or recommend → renderer → output.
//!
//! * [`args`] — argument groups several commands share, parsed into the domain types below.
//! * [`deny_report`], [`follow`], [`recommend`], [`fetch`], [`catalog`] — the commands.
//! * [`pipeline`] — choosing the source and reading it into the engine (deny-report and recommend).
//!
//! A new command goes here as one file with its clap arguments and its `run`, and one variant of [`Command`].

pub mod args;
pub mod catalog;
pub mod deny_report;
pub mod fetch;
pub mod follow;
pub mod pipeline;
pub mod recommend;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::error;

/// What was denied, which of it AKS needs, and the exact rule to add.
#[derive(Debug, Parser)]
#[command(name = "fwlog", version = crate::version_line(), about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More detail on stderr: skipped records with file:line, unparsed messages, sources used (-vv: more examples).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only warnings and errors on stderr: no progress, no details.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Lay tables out for this many columns (default: the terminal's width; 100 when not a terminal).
    #[arg(long, global = true, value_name = "COLUMNS", value_parser = clap::value_parser!(u16).range(40..=1000))]
    pub width: Option<u16>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Group denied traffic by source subnet, protocol, destination and port, from exported logs or Log Analytics.
    DenyReport(Box<deny_report::DenyReportArgs>),
    /// Browse the AKS egress catalog and test destinations against it.
    Catalog(catalog::CatalogArgs),
    /// Recommend the Azure Firewall rules (Bicep, Terraform, ARM, az CLI) that fix what AKS needs and was denied.
    Recommend(Box<recommend::RecommendArgs>),
    /// Download raw firewall logs from Log Analytics into a Parquet file the other commands read with --input.
    Fetch(Box<fetch::FetchArgs>),
    /// Print shell completions for fwlog.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the fwlog man page (roff) to stdout.
    Man,
}

/// Settings every command shares.
#[derive(Debug, Clone, Copy, Default)]
pub struct Globals {
    /// `--width`: table width.
    pub width: Option<u16>,
}

/// The exit code of a finished command: [`crate::error::EXIT_GATE`] when `--fail-on` finds denies at its
/// level (saying so on stderr), else success.
pub fn gate(
    level: Option<crate::query::FailOn>,
    found: impl Fn(crate::query::FailOn) -> u64,
) -> ExitCode {
    let Some(level) = level else {
        return ExitCode::SUCCESS;
    };
    match found(level) {
        0 => ExitCode::SUCCESS,
        n => {
            crate::note!(
                "--fail-on {}: {n} denies at that level",
                clap::ValueEnum::to_possible_value(&level)
                    .map(|p| p.get_name().to_string())
                    .unwrap_or_default()
            );
            ExitCode::from(crate::error::EXIT_GATE)
        }
    }
}

/// Now, in microseconds since the epoch: the reference point of `--since`.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    crate::messages::set_verbosity(cli.verbose);
    crate::messages::set_quiet(cli.quiet);
    crate::messages::register_environment_secrets();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            crate::note!("error: {}", format_chain(&err));
            ExitCode::from(error::exit_code(&err))
        }
    }
}

fn format_chain(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let globals = Globals { width: cli.width };
    match cli.command {
        Command::DenyReport(args) => deny_report::run(*args, &globals),
        Command::Catalog(args) => catalog::run(args, &globals),
        Command::Recommend(args) => recommend::run(*args, &globals),
        Command::Fetch(args) => fetch::run(&args),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "fwlog", &mut out);
            crate::output::emit(None, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            crate::output::emit(None, &out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
