//! The deny report: plan, query, result and renderers.

use std::process::ExitCode;

use crate::cli::args::DenyReportArgs;

pub fn run_deny_report(args: DenyReportArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    let _ = (args, verbose);
    anyhow::bail!("deny-report is not built yet")
}
