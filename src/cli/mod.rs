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
pub mod kusto;
pub mod pipeline;
pub mod recommend;
pub mod why;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::error;

const EXIT_CODES: &str = "Exit status:
  0  done
  1  --fail-on found denies at its level
  2  bad input or usage: the message names the file, line or option to fix
  3  nothing to write: recommend found no rule for an IaC format and wrote nothing
  4  could not finish: the service did not answer, an I/O error, an internal error

Start with: fwlog deny-report -i LOGS, then fwlog recommend -i LOGS --format bicep -o egress.bicep";

/// What was denied, which of it AKS needs, and the exact rule to add.
#[derive(Debug, Parser)]
#[command(
    name = "fwlog",
    version = crate::version_line(),
    about,
    long_about = None,
    propagate_version = true,
    after_help = EXIT_CODES
)]
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

/// Shown by `--help` (not `-h`) of the commands that read logs: which source suits which job, with its limits.
macro_rules! sources {
    () => {
        "Where the logs come from (docs/kusto.md compares them):
  -i FILES                     an incident: a storage-account download, a portal or query export.
                               Read here, no setup; fine for days of logs, slow for months.
  --workspace ID               recent logs, and --follow while a cluster provisions. Only within the
                               workspace's retention (often 30-90 days); 500,000 rows per answer,
                               so fwlog splits the window.
  --cluster URL --database DB  Azure Data Explorer or Fabric Eventhouse: months or years of
                               archives, many firewalls, counted in the cluster. Needs a cluster,
                               set up once with `fwlog kusto external-table`.

"
    };
}
macro_rules! deny_report_examples {
    () => {
        "Examples:
  fwlog deny-report -i fixtures/aks-provision-failure          the bundled sample
  fwlog deny-report -i ./logs --since 2h                       a storage-account download
  fwlog deny-report -i 'exports/*.parquet' --from 2026-09-07 --to 2026-09-08
  fwlog deny-report -i ./logs --destination '*.azmk8s.io' --format json -o denies.json
  fwlog deny-report --workspace $WS --since 1h --follow        while a cluster provisions
  fwlog deny-report --cluster $ADX --database fw --since 52w   a year of archives, in the cluster
  fwlog deny-report -i ./logs --fail-on required               exit 1 when AKS endpoints are denied"
    };
}
const DENY_REPORT_EXAMPLES: &str = deny_report_examples!();

macro_rules! recommend_examples {
    () => {
        "Examples:
  fwlog recommend -i fixtures/aks-provision-failure            rules, what needs none, what is unknown
  fwlog recommend -i ./logs --format bicep -o egress-aks.bicep
  fwlog recommend -i ./logs --features monitoring,azure-policy --region westeurope --format terraform
  fwlog recommend -i ./logs --source-ip-group ipg-aks-nodes --api-server-ip 20.61.0.10 --format arm
  fwlog recommend --workspace $WS --since 24h --format azcli -o egress.sh"
    };
}
const RECOMMEND_EXAMPLES: &str = recommend_examples!();

const CATALOG_EXAMPLES: &str = "Examples:
  fwlog catalog features
  fwlog catalog list --feature monitoring
  fwlog catalog match aks-weu-dns-4f2a9c1e.hcp.westeurope.azmk8s.io:443
  fwlog catalog match https://mcr.microsoft.com/v2/ --format json";

const WHY_EXAMPLES: &str = "Examples:
  fwlog why 10.240.0.4 mcr.microsoft.com:443 --policy policy.json rcgs.json
  fwlog why 10.240.0.0/24 mcr.microsoft.com:443 -i ./logs --policy arm-export.json
  fwlog why 10.240.0.4 20.50.1.2:1194 --protocol udp --policy policy.json --format json";

macro_rules! fetch_examples {
    () => {
        "Examples:
  fwlog fetch --workspace $WS --since 24h -o logs.parquet
  fwlog fetch --workspace $WS --from 2026-09-07 --to 2026-09-08 -o day.parquet --firewall $FW_ID
  fwlog fetch --since 1h --print-kql                           the queries, without signing in"
    };
}
const FETCH_EXAMPLES: &str = fetch_examples!();

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Group denied traffic by source subnet, protocol, destination and port, from exported logs, Log Analytics or
    /// an Azure Data Explorer cluster / Fabric Eventhouse.
    #[command(after_help = DENY_REPORT_EXAMPLES, after_long_help = concat!(sources!(), deny_report_examples!()))]
    DenyReport(Box<deny_report::DenyReportArgs>),
    /// Browse the AKS egress catalog and test destinations against it.
    #[command(after_help = CATALOG_EXAMPLES)]
    Catalog(catalog::CatalogArgs),
    /// Recommend the Azure Firewall rules (Bicep, Terraform, ARM, az CLI) that fix what AKS needs and was denied.
    #[command(after_help = RECOMMEND_EXAMPLES, after_long_help = concat!(sources!(), recommend_examples!()))]
    Recommend(Box<recommend::RecommendArgs>),
    /// Explain one flow: its last logged decision, the policy rule that decides it, the smallest change to allow it.
    #[command(after_help = WHY_EXAMPLES)]
    Why(Box<why::WhyArgs>),
    /// Download raw firewall logs from Log Analytics (or a cluster) into a Parquet file the other commands read
    /// with --input.
    #[command(after_help = FETCH_EXAMPLES, after_long_help = concat!(sources!(), fetch_examples!()))]
    Fetch(Box<fetch::FetchArgs>),
    /// Set up Azure Data Explorer or a Fabric Eventhouse for fwlog: query years of storage archives there.
    Kusto(kusto::KustoArgs),
    /// Print shell completions for fwlog (bash, zsh, fish, powershell, elvish).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): fwlog's, or one command's; --dir writes them all.
    Man {
        /// The command whose page to print (deny-report, recommend, catalog, fetch, completions).
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
        /// Write fwlog.1 and one fwlog-COMMAND.1 per command into this folder instead.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        dir: Option<std::path::PathBuf>,
    },
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
            if let Some(tip) = stray_path_tip(&e) {
                eprintln!("{tip}");
            }
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

/// `fwlog deny-report logs/`: a path given without `-i` is the commonest first mistake; say how to pass it.
fn stray_path_tip(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    if arg.starts_with('-') || !std::path::Path::new(arg).exists() {
        return None;
    }
    Some(format!(
        "tip: to read {arg}, pass it with -i: fwlog deny-report -i {arg} (or fwlog recommend -i {arg})"
    ))
}

/// fwlog(1) and one page per command, named `fwlog-COMMAND`, all from the one clap definition.
fn man_pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut root = Cli::command();
    root.build();
    let mut pages = Vec::new();
    let mut out = Vec::new();
    clap_mangen::Man::new(root.clone()).render(&mut out)?;
    pages.push(("fwlog".to_string(), out));
    for sub in root.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("fwlog-{}", sub.get_name());
        let bin = format!("fwlog {}", sub.get_name());
        let mut out = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name.clone()).bin_name(bin)).render(&mut out)?;
        pages.push((name, out));
    }
    Ok(pages)
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
        Command::Why(args) => why::run(*args, &globals),
        Command::Fetch(args) => fetch::run(&args),
        Command::Kusto(args) => kusto::run(args),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "fwlog", &mut out);
            crate::output::emit(None, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { command, dir } => {
            let pages = man_pages()?;
            if let Some(dir) = dir {
                for (name, page) in &pages {
                    crate::output::write_atomic(&dir.join(format!("{name}.1")), page)?;
                }
                crate::note!("wrote {} man pages to {}", pages.len(), dir.display());
                return Ok(ExitCode::SUCCESS);
            }
            let want = command.map_or("fwlog".to_string(), |c| format!("fwlog-{c}"));
            let Some((_, page)) = pages.iter().find(|(n, _)| *n == want) else {
                return Err(error::user(format!(
                    "no man page for {want:?}: expected one of {}",
                    pages
                        .iter()
                        .map(|(n, _)| n.trim_start_matches("fwlog-"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            crate::output::emit(None, page)?;
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
