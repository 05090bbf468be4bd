//! `fwlog deny-report`: what was denied, grouped by source subnet, protocol, destination and port, labelled
//! with the AKS catalog — from exported files or a Log Analytics workspace, once or `--follow`ing.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Globals;
use super::args::{
    ClusterArgs, FilterArgs, GroupArgs, InputArgs, LiveArgs, PolicyArgs, WindowArgs, output_file,
};
use super::follow::FollowArgs;
pub use super::pipeline::print_summary_kql;
use super::pipeline::{Source, deny_groups_by, print_diagnostics};
use crate::error::user;
use crate::query::{FailOn, Query};
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
    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Exit 1 when there are denies at this level (for pipelines): `required` (endpoints AKS needs), `needed`
    /// (also features not given and recommended endpoints), `any`.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<FailOn>,
}

/// Where and how to write the result.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,

    /// Write to this file (atomically: a temporary file renamed into place) instead of stdout.
    #[arg(short, long, value_name = "FILE", value_parser = output_file::<ReportFormat>)]
    pub output: Option<PathBuf>,
}

pub fn run(args: DenyReportArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let now = super::now_us();
    let query = Query {
        window: args.window.window(now)?,
        filters: args.filter.filters(),
        grouping: args.group.grouping(),
    };
    if args.live.print_kql {
        print_summary_kql(&args.live.request(), &query.window, &query.filters, now)?;
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
    let policy = args.policy.load(args.cluster.cloud, args.live.auth)?;
    let format = args.output.format;
    let to_file = args.output.output.as_deref();
    if format == ReportFormat::Parquet && to_file.is_none() && std::io::stdout().is_terminal() {
        return Err(user(
            "--format parquet writes binary data: give --output FILE",
        ));
    }
    let denies = deny_groups_by(&source, query, now, to_file, args.group.by_origin)?;
    let report = crate::report::build(
        &denies.window,
        args.group.top,
        denies.groups,
        &denies.stats,
        denies.sources,
        &catalog,
        &ctx,
    )?;
    // What making the groups freed (their keys, sums and order, the tally) stays in the main thread's arena,
    // where the printing workers cannot reuse it: handed back, the 100M-row report's printing no longer raises
    // the run's peak above it.
    super::pipeline::release_free_memory();
    let mut report = report;
    if let Some(p) = &policy {
        crate::report::explain_against(&mut report, p, &catalog, &ctx);
    }
    print_diagnostics(&denies.stats, &report.sources);
    let terminal = to_file.is_none() && std::io::stdout().is_terminal();
    let layout = crate::render::table::Layout::detect(terminal, globals.width);
    let footer = next_step(&report, &args);
    if format == ReportFormat::Json {
        crate::output::emit_with(to_file, &mut |w| {
            crate::render::report::write_json(&mut report, w)
        })?;
    } else {
        let bytes = crate::render::report::render(&report, format, &layout, &footer)?;
        crate::output::emit(to_file, &bytes)?;
    }
    let code = super::gate(args.fail_on, |level| report.gate(level));
    // The process ends here: its memory goes back whole, so the report (a million groups of small strings
    // at high cardinality) is not freed piece by piece (~0.4 s of allocator work for 600k groups).
    std::mem::forget(report);
    Ok(code)
}

/// What to do next, under the table: the `recommend` command that writes the rules for these denies.
fn next_step(report: &crate::report::model::DenyReport, args: &DenyReportArgs) -> Vec<String> {
    if report.denies == 0 {
        return Vec::new();
    }
    if report.needed_denies == 0 {
        return vec![
            "None of these denies is to an endpoint the AKS catalog lists as needed; `fwlog catalog match HOST` \
             explains any destination."
                .to_string(),
        ];
    }
    let mut words = vec!["fwlog".to_string(), "recommend".to_string()];
    for i in &args.input.inputs {
        words.extend(["-i".to_string(), i.clone()]);
    }
    for w in &args.live.workspaces {
        words.extend(["--workspace".to_string(), w.to_string()]);
    }
    if let Some(c) = &args.live.cluster {
        words.extend(["--cluster".to_string(), c.to_string()]);
    }
    for d in &args.live.databases {
        words.extend(["--database".to_string(), d.to_string()]);
    }
    for (t, e) in &args.live.table_map {
        words.extend(["--table-map".to_string(), format!("{t}={e}")]);
    }
    if let Some(s) = args.window.since {
        words.extend(["--since".to_string(), s.to_string()]);
    }
    for (flag, t) in [("--from", args.window.from), ("--to", args.window.to)] {
        if let Some(t) = t {
            words.extend([flag.to_string(), crate::event::normalize::format_time_us(t)]);
        }
    }
    words.extend(args.cluster.as_words());
    // Flags as they are; values quoted where a shell needs it.
    let command: Vec<String> = words
        .iter()
        .map(|w| match crate::render::escape::shell_word(w) {
            _ if w.starts_with('-') => w.clone(),
            Some(q) => q,
            None => format!("'{}'", w.replace('\'', "'\\''")),
        })
        .collect();
    vec![format!(
        "{} of these denies are to endpoints AKS needs or advises: `{}` writes the rules.",
        report.needed_denies,
        command.join(" ")
    )]
}
