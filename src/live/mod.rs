//! Live Log Analytics source (issue 6): query a workspace instead of reading exported files.
//!
//! * [`kql`] — the query templates (`queries/*.kql`) and their typed, validated parameters.
//! * [`config`] — workspace, cloud, endpoint and sign-in settings (flags, environment, config file).
//! * [`auth`] — the credential chain (env secret, workload identity, managed identity, Azure CLI).
//! * [`fetch`] — `fwlog fetch`: raw rows into canonical Parquet, in planned windows, resumable.
//! * [`follow`] — `deny-report --follow`: overlapping minute-bucketed windows, new or grown groups only.
//! * [`client`] — the Query API client: retries, back-off, at most 4 requests in flight, partial results.

pub mod auth;
pub mod client;
pub mod config;
pub mod fetch;
pub mod follow;
pub mod kql;
pub mod report;

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::args::DenyReportArgs;
use crate::report::plan::ReportPlan;
use auth::{Chain, Tokens};
use client::QueryClient;
use config::LiveConfig;
use kql::Window;

/// Window used when neither `--since` nor `--from` is given for a live query.
pub const DEFAULT_LIVE_WINDOW_US: i64 = 24 * 3600 * 1_000_000;

/// The half-open window of a plan, defaulting to the last 24 hours for live queries.
pub fn window_of(plan: &ReportPlan, now_us: i64) -> Window {
    let to_us = plan.to_us.unwrap_or(now_us);
    let from_us = plan.from_us.unwrap_or(to_us - DEFAULT_LIVE_WINDOW_US);
    Window { from_us, to_us }
}

/// Build the query client for a resolved configuration.
pub fn client_for(cfg: &LiveConfig, verbose: u8) -> anyhow::Result<QueryClient> {
    // In the public cloud azure_identity is left to read AZURE_AUTHORITY_HOST (public authority when unset).
    let cloud = (cfg.cloud != config::Cloud::Public).then_some(cfg.cloud);
    let tokens = Tokens::Chain(Chain::new(cloud, config::scope_of(cfg.cloud), cfg.auth));
    let mut c = QueryClient::new(&cfg.endpoint, tokens, verbose)?;
    if let Some(secs) = std::env::var("FWLOG_HTTP_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        c.http_timeout = std::time::Duration::from_secs(secs.max(1));
    }
    if let Some(ms) = std::env::var("FWLOG_RETRY_BASE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        c.retry.base = std::time::Duration::from_millis(ms);
    }
    Ok(c)
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Run the pushdown deny report against a resolved configuration; the plan's window is made explicit (the last
/// 24 hours when none was given) and returned with the report.
pub fn pushdown_report(
    cfg: &LiveConfig,
    mut plan: ReportPlan,
    now: i64,
    verbose: u8,
) -> anyhow::Result<(
    crate::report::model::DenyReport,
    crate::input::ReadStats,
    ReportPlan,
)> {
    let window = window_of(&plan, now);
    plan.from_us = Some(window.from_us);
    plan.to_us = Some(window.to_us);
    let client = Arc::new(client_for(cfg, verbose)?);
    let (report, stats) =
        runtime()?.block_on(report::live_report(client.clone(), cfg, &plan, window))?;
    if verbose > 0 {
        eprintln!(
            "fwlog: {} Log Analytics request(s), {} retried",
            client.requests.load(std::sync::atomic::Ordering::Relaxed),
            client.retries.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    Ok((report, stats, plan))
}

/// The queries `--print-kql` shows for a deny summary over the plan's window.
pub fn print_summary_kql(
    plan: &ReportPlan,
    firewall: Option<&kql::FirewallId>,
    now: i64,
) -> anyhow::Result<()> {
    let window = window_of(plan, now);
    let opts = report::summary_options(plan, firewall.cloned());
    let qs = vec![
        kql::sources(window, firewall)?,
        kql::deny_summary(window, &opts)?,
    ];
    print!("{}", kql::join_for_print(&qs));
    Ok(())
}

/// The deny-report hook: `Ok(None)` when no workspace is configured (the file path applies), otherwise the
/// report from Log Analytics (or the queries, with `--print-kql`).
pub fn deny_report(args: &DenyReportArgs, verbose: u8) -> anyhow::Result<Option<ExitCode>> {
    let now = crate::report::now_us();
    let live = &args.live;
    if live.print_kql {
        print_summary_kql(
            &ReportPlan::from_args(args, now)?,
            live.firewall.as_ref(),
            now,
        )?;
        return Ok(Some(ExitCode::SUCCESS));
    }
    let Some(cfg) = config::resolve(live, args.cluster.cloud, !args.input.inputs.is_empty())?
    else {
        if args.follow.follow {
            return Err(crate::error::user(
                "--follow needs a Log Analytics workspace: --workspace GUID (or FWLOG_WORKSPACE / the config file)",
            ));
        }
        return Ok(None);
    };
    if args.follow.follow {
        let plan = ReportPlan::from_args(args, now)?;
        let start = plan.from_us.unwrap_or(now - 3600 * 1_000_000);
        let client = Arc::new(client_for(&cfg, verbose)?);
        runtime()?.block_on(follow::follow(
            client,
            &cfg,
            &plan,
            start,
            &args.follow,
            verbose,
        ))?;
        return Ok(Some(ExitCode::SUCCESS));
    }
    let plan = ReportPlan::from_args(args, now)?;
    crate::report::check_output(&plan)?;
    let (catalog, ctx) = args.cluster.resolve()?;
    let (report, stats, plan) = pushdown_report(&cfg, plan, now, verbose)?;
    crate::report::finish_report(report, &stats, &plan, &catalog, &ctx, verbose).map(Some)
}
