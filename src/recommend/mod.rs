//! `fwlog recommend`: the deny report's groups (one per source IP) → catalog matches → rules with evidence
//! ([`select`], checked by [`guard`]) → a renderer ([`render`]). [`model`] is the JSON contract.

pub mod args;
pub mod guard;
pub mod model;
pub mod render;
pub mod select;

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::args::GroupArgs;
use crate::report::plan::ReportPlan;
use crate::report::{now_us, print_diagnostics, report_from_files};
use args::RecommendArgs;
use select::Options;

impl RecommendArgs {
    pub fn options(&self) -> Options {
        Options {
            scope: self.source_scope.clone(),
            source_ip_group: self.source_ip_group.clone(),
            prefix_v4: self.prefix_v4,
            prefix_v6: self.prefix_v6,
            collection_group: self.collection_group.clone(),
            group_priority: self.group_priority,
            priority_base: self.priority_base,
            api_server_ip: self.api_server_ip,
            include_unmatched: self.include_unmatched,
            no_recommended: self.no_recommended,
        }
    }
}

pub fn run_recommend(args: RecommendArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    // One group per source address: evidence counts exact distinct sources and `--source-scope` can use them.
    let group = GroupArgs {
        prefix_v4: args.prefix_v4,
        prefix_v6: args.prefix_v6,
        by_source_ip: true,
        top: None,
    };
    let now = now_us();
    let plan = ReportPlan::from_parts(&args.input, &args.window, &args.filter, &group, now)?;
    if args.live.print_kql {
        crate::live::print_summary_kql(&plan, args.live.firewall.as_ref(), now)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (catalog, ctx) = args.cluster.resolve()?;
    // A configured workspace is queried (the same pushdown as deny-report); otherwise the files are read.
    let live = crate::live::config::resolve(
        &args.live,
        args.cluster.cloud,
        !args.input.inputs.is_empty(),
    )?;
    let (report, stats) = match live {
        Some(cfg) => {
            let (report, stats, _) = crate::live::pushdown_report(&cfg, plan, now, verbose)?;
            (report, stats)
        }
        None => report_from_files(&plan)?,
    };
    print_diagnostics(&report, &stats, verbose);
    let rec = select::recommend(&catalog, &ctx, &report.groups, &args.options());
    let terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let bytes = render::render(&rec, args.format, terminal)?;
    crate::output::emit(args.output.as_deref(), &bytes)?;
    Ok(ExitCode::SUCCESS)
}
