//! `fwlog fetch`: download raw firewall rows from Log Analytics (or a cluster database) into one Parquet file in
//! the canonical schema, which every command reads back with `--input`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::args::{LiveArgs, WindowArgs, output_file};
use crate::catalog::Cloud;
use crate::error::user;
use crate::live::fetch::TARGET_ROWS;
use crate::live::kql::{self, Window};
use crate::note;
use crate::render::ReportFormat;

#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub window: WindowArgs,

    /// Parquet file to write (canonical schema; read it back with `--input FILE`).
    #[arg(
        short,
        long = "output",
        visible_alias = "out",
        value_name = "FILE",
        required_unless_present = "print_kql",
        value_parser = output_file::<ReportFormat>
    )]
    pub out: Option<PathBuf>,

    /// Azure cloud: selects the Log Analytics endpoint and the sign-in authority (for a cluster: the authority).
    #[arg(long, value_enum, default_value_t = Cloud::Public)]
    pub cloud: Cloud,

    #[command(flatten)]
    pub live: LiveArgs,
}

pub fn run(args: &FetchArgs) -> anyhow::Result<ExitCode> {
    let now = super::now_us();
    let window = args.window.window(now)?;
    let (from_us, to_us) = window.bounded(now, crate::live::DEFAULT_LIVE_WINDOW_US);
    if from_us >= to_us {
        return Err(user(
            "the time window is empty: --from/--since must be before --to",
        ));
    }
    let window = Window { from_us, to_us };
    if args.live.print_kql {
        let firewall = crate::live::config::configured_firewall(&args.live.request())?;
        let tables = crate::live::config::configured_tables(&args.live.request())?;
        let qs = vec![
            kql::hourly_count(window, firewall.as_ref(), &tables)?,
            kql::raw_window(window, firewall.as_ref(), &tables)?,
        ];
        crate::output::emit(None, kql::join_for_print(&qs).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let out = args
        .out
        .clone()
        .ok_or_else(|| user("fetch needs -o FILE"))?;
    let crate::output::Target::File(out) = crate::output::target(Some(&out))? else {
        return Err(user(format!(
            "{}: fetch writes a Parquet file: -o must name a file, not a device or standard output",
            out.display()
        )));
    };
    let Some(cfg) = crate::live::config::resolve(&args.live.request(), args.cloud, false)? else {
        return Err(user(
            "fetch needs a workspace or a cluster: --workspace GUID (or FWLOG_WORKSPACE, `workspaces` in the config \
             file), or --cluster URL --database NAME (or FWLOG_KUSTO_CLUSTER, the config file's [kusto] section)",
        ));
    };
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(user(format!(
            "{}: the folder {} does not exist",
            out.display(),
            dir.display()
        )));
    }
    let client = Arc::new(crate::live::client_for(&cfg)?);
    let target = std::env::var("FWLOG_FETCH_TARGET_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TARGET_ROWS);
    let summary = crate::live::runtime()?.block_on(crate::live::fetch::fetch(
        client.clone(),
        &cfg,
        window,
        &out,
        target,
    ))?;
    note!(
        "wrote {} rows from {} window(s) to {} ({} request(s), {} retried)",
        summary.rows,
        summary.windows,
        out.display(),
        client.requests.load(std::sync::atomic::Ordering::Relaxed),
        client.retries.load(std::sync::atomic::Ordering::Relaxed)
    );
    if summary.rows != summary.expected {
        note!(
            "note: the hourly count said {} rows; late-arriving rows can make these differ",
            summary.expected
        );
    }
    Ok(ExitCode::SUCCESS)
}
