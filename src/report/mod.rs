//! The deny report: [`plan`] (arguments resolved), [`model`] (the JSON contract), [`render`] (formats), and
//! [`run_deny_report`], which wires inputs → engine → catalog labels → renderer.

pub mod model;
pub mod plan;
pub mod render;

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::catalog::Catalog;
use crate::catalog::context::Context;
use crate::cli::args::{DenyReportArgs, ReportFormat};
use crate::engine::DenyAggregator;
use crate::error::user;
use crate::event::normalize::format_time_us;
use crate::input::{self, ReadStats};
use model::{DenyReport, Group};
use plan::ReportPlan;

/// Rows per canonical batch handed to the engine.
pub const BATCH_ROWS: usize = 256 * 1024;

pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Read the plan's files and group their denies.
pub fn report_from_files(plan: &ReportPlan) -> anyhow::Result<(DenyReport, ReadStats)> {
    if plan.inputs.is_empty() {
        return Err(user(
            "no input: give --input PATH (exported logs: files, folders or globs) or --workspace GUID for Log Analytics",
        ));
    }
    let found = input::discover(&plan.inputs)?;
    let files = found.files;
    let mut agg = DenyAggregator::new(plan.clone());
    let mut on_batch = |part| agg.add_partial(part);
    let pushdown = input::Pushdown {
        from_us: plan.from_us,
        to_us: plan.to_us,
        deny_only: true,
        core_only: true,
    };
    // The engine's pre-aggregation runs where each batch is built, so on every core for Parquet.
    let engine_plan = plan.clone();
    let mut sink = input::Sink::new(BATCH_ROWS, plan.keep_duplicates, false, &mut on_batch)
        .with_pushdown(pushdown)
        .with_transform(std::sync::Arc::new(move |df| {
            DenyAggregator::partial(&engine_plan, df)
        }));
    input::read_files(&files, plan.input_format, &mut sink)?;
    let mut stats = sink.finish()?;
    stats.passed_over = found.passed_over;
    let groups = agg.finish()?;
    let report = assemble(plan, groups, &stats, stats.files.clone());
    Ok((report, stats))
}

/// Build the report from groups and counts (shared by the file and the live paths).
pub fn assemble(
    plan: &ReportPlan,
    mut groups: Vec<Group>,
    stats: &ReadStats,
    sources: Vec<String>,
) -> DenyReport {
    let total_groups = groups.len() as u64;
    let denies = groups.iter().map(|g| g.hits).sum();
    if let Some(n) = plan.top {
        groups.truncate(n);
    }
    DenyReport {
        from: plan.from_us.map(format_time_us),
        to: plan.to_us.map(format_time_us),
        events: stats.events,
        denies,
        skipped: stats.skipped,
        groups,
        events_in_window: stats.events_in_window,
        total_groups,
        duplicates: stats.duplicates,
        unparsed: stats.unparsed,
        skipped_by_reason: stats.skipped_by_reason.clone(),
        data_from: stats.first_us.map(format_time_us),
        data_to: stats.last_us.map(format_time_us),
        sources,
    }
}

/// Print what a user needs to know about the input on stderr: skips with file:line under `-v`, unparsed
/// examples, and an empty window.
pub fn print_diagnostics(report: &DenyReport, stats: &ReadStats, verbose: u8) {
    if report.window_is_empty_but_data_exists() {
        eprintln!(
            "fwlog: the time window holds no events, but the input does: it covers {} .. {}",
            report.data_from.as_deref().unwrap_or("?"),
            report.data_to.as_deref().unwrap_or("?")
        );
    }
    if !stats.passed_over.is_empty() {
        eprintln!(
            "fwlog: {} file(s) in the input folders passed over (not a log file ending){}",
            stats.passed_over.len(),
            if verbose == 0 { "; -v lists them" } else { ":" }
        );
        if verbose > 0 {
            for f in &stats.passed_over {
                eprintln!("fwlog:   {f}");
            }
        }
    }
    if verbose == 0 {
        if stats.skipped > 0 || stats.unparsed > 0 {
            eprintln!(
                "fwlog: {} record(s) skipped, {} unparsed; run with -v to list them",
                stats.skipped, stats.unparsed
            );
        }
        return;
    }
    let limit = if verbose > 1 { usize::MAX } else { 10 };
    for s in stats.skip_examples.iter().take(limit) {
        eprintln!("fwlog: skipped {}:{}: {}", s.file, s.line, s.reason);
    }
    for (f, l, m) in stats.unparsed_examples.iter().take(limit) {
        eprintln!("fwlog: unparsed {f}:{l}: {m}");
    }
    if verbose > 0 {
        for s in &report.sources {
            eprintln!("fwlog: read {s}");
        }
    }
}

/// Catalog keys copied into each group's `catalog` list (the full match is in `fwlog catalog match`).
const CATALOG_KEYS: [&str; 10] = [
    "pattern",
    "filled_pattern",
    "feature",
    "requirement",
    "declared_requirement",
    "status",
    "retired",
    "not_needed",
    "source",
    "note",
];

/// Label every group with the catalog entries its destination, port and protocol match (most specific first).
pub fn label_groups(groups: &mut [Group], catalog: &Catalog, ctx: &Context) -> anyhow::Result<()> {
    for g in groups {
        let matches = catalog.lookup(
            g.destination.as_deref(),
            g.destination_port,
            g.protocol.as_deref(),
            ctx,
        );
        g.catalog = matches
            .iter()
            .map(|m| {
                let full = serde_json::to_value(m)?;
                let slim: serde_json::Map<String, serde_json::Value> = CATALOG_KEYS
                    .iter()
                    .filter_map(|k| full.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect();
                Ok(serde_json::Value::Object(slim))
            })
            .collect::<anyhow::Result<_>>()?;
    }
    Ok(())
}

/// Refuse binary output to a terminal before any work is done.
pub fn check_output(plan: &ReportPlan) -> anyhow::Result<()> {
    if plan.format == ReportFormat::Parquet
        && plan.output.is_none()
        && std::io::stdout().is_terminal()
    {
        return Err(user(
            "--format parquet writes binary data: give --output FILE",
        ));
    }
    Ok(())
}

/// The common end of every deny report, from files or live: catalog labels, diagnostics, render, write.
pub fn finish_report(
    mut report: DenyReport,
    stats: &ReadStats,
    plan: &ReportPlan,
    catalog: &Catalog,
    ctx: &Context,
    verbose: u8,
) -> anyhow::Result<ExitCode> {
    label_groups(&mut report.groups, catalog, ctx)?;
    print_diagnostics(&report, stats, verbose);
    let terminal = plan.output.is_none() && std::io::stdout().is_terminal();
    let bytes = render::render(&report, plan.format, terminal)?;
    crate::output::emit(plan.output.as_deref(), &bytes)?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_deny_report(args: DenyReportArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    if let Some(code) = crate::live::deny_report(&args, verbose)? {
        return Ok(code);
    }
    let plan = ReportPlan::from_args(&args, now_us())?;
    let (catalog, ctx) = args.cluster.resolve()?;
    check_output(&plan)?;
    let (report, stats) = report_from_files(&plan)?;
    finish_report(report, &stats, &plan, &catalog, &ctx, verbose)
}
