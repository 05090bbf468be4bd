//! `fwlog deny-report`: what was denied, grouped by source subnet, protocol, destination and port, labelled
//! with the AKS catalog — from exported files or a Log Analytics workspace, once or `--follow`ing.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::args::{ClusterArgs, FilterArgs, GroupArgs, InputArgs, LiveArgs, WindowArgs};
use super::follow::FollowArgs;
use super::pipeline::{Source, deny_groups, print_diagnostics};
use crate::error::user;
use crate::live::kql::{self, FirewallId};
use crate::query::{Filters, Query, Window};
use crate::render::ReportFormat;

#[derive(Debug, Clone, Args)]
pub struct DenyReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub group: GroupArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(flatten)]
    pub follow: FollowArgs,
}

/// Where and how to write the result.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,

    /// Write to this file (atomically: a temporary file renamed into place) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: DenyReportArgs) -> anyhow::Result<ExitCode> {
    let now = super::now_us();
    let query = Query {
        window: args.window.window(now)?,
        filters: args.filter.filters(),
        grouping: args.group.grouping(),
    };
    if args.live.print_kql {
        let firewall = crate::live::config::configured_firewall(&args.live.request())?;
        print_summary_kql(&query.window, &query.filters, firewall.as_ref(), now)?;
        return Ok(ExitCode::SUCCESS);
    }
    let source = Source::choose(&args.input, &args.live, args.cluster.cloud)?;
    if args.follow.follow {
        let Source::Live(cfg) = source else {
            return Err(user(
                "--follow needs a Log Analytics workspace: --workspace GUID (or FWLOG_WORKSPACE / the config file)",
            ));
        };
        super::follow::run(&cfg, query, &args.follow, args.output.format, now)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (catalog, ctx) = args.cluster.resolve()?;
    let format = args.output.format;
    let to_file = args.output.output.as_deref();
    if format == ReportFormat::Parquet && to_file.is_none() && std::io::stdout().is_terminal() {
        return Err(user(
            "--format parquet writes binary data: give --output FILE",
        ));
    }
    let denies = deny_groups(&source, query, now, to_file)?;
    let report = crate::report::build(
        &denies.window,
        args.group.top,
        denies.groups,
        &denies.stats,
        denies.sources,
        &catalog,
        &ctx,
    );
    print_diagnostics(&denies.stats, &report.sources);
    let terminal = to_file.is_none() && std::io::stdout().is_terminal();
    let bytes = crate::render::report::render(&report, format, terminal)?;
    crate::output::emit(to_file, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// `--print-kql` of a deny summary: the table list and the summary queries over the window.
pub fn print_summary_kql(
    window: &Window,
    filters: &Filters,
    firewall: Option<&FirewallId>,
    now_us: i64,
) -> anyhow::Result<()> {
    let window = crate::live::window_of(window, now_us);
    let opts = crate::live::summary::summary_options(filters, firewall.cloned());
    let qs = vec![
        kql::sources(window, firewall)?,
        kql::deny_summary(window, &opts)?,
    ];
    crate::output::emit(None, kql::join_for_print(&qs).as_bytes())
}
