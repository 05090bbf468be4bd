//! The resolved deny-report plan: arguments turned into a time window in microseconds, typed filters and
//! grouping settings. Built once from the command line; the engine, the live source and the renderers read it.

use std::path::PathBuf;

use crate::cli::args::{
    Cidr, DenyReportArgs, DestinationPattern, FilterArgs, GroupArgs, InputArgs, InputFormat,
    ReportFormat, WindowArgs,
};
use crate::error::user;
use crate::event::Kind;

#[derive(Debug, Clone)]
pub struct ReportPlan {
    /// Inclusive lower bound (µs since the epoch, UTC).
    pub from_us: Option<i64>,
    /// Exclusive upper bound.
    pub to_us: Option<i64>,
    pub sources: Vec<Cidr>,
    pub destination: Option<DestinationPattern>,
    pub port: Option<u16>,
    pub protocol: Option<String>,
    pub kind: Option<Kind>,
    pub prefix_v4: u8,
    pub prefix_v6: u8,
    pub by_source_ip: bool,
    pub top: Option<usize>,
    pub inputs: Vec<String>,
    pub input_format: Option<InputFormat>,
    pub keep_duplicates: bool,
    pub format: ReportFormat,
    pub output: Option<PathBuf>,
}

impl ReportPlan {
    pub fn from_args(args: &DenyReportArgs, now_us: i64) -> anyhow::Result<ReportPlan> {
        let mut plan =
            Self::from_parts(&args.input, &args.window, &args.filter, &args.group, now_us)?;
        plan.format = args.output.format;
        plan.output = args.output.output.clone();
        Ok(plan)
    }

    /// The plan from the argument groups every reporting command shares (`recommend` too); the output format
    /// and path are left at table / stdout.
    pub fn from_parts(
        input: &InputArgs,
        w: &WindowArgs,
        filter: &FilterArgs,
        group: &GroupArgs,
        now_us: i64,
    ) -> anyhow::Result<ReportPlan> {
        let from_us = match (w.since, w.from) {
            (Some(d), _) => Some(now_us - d.micros()),
            (None, f) => f,
        };
        let to_us = match (w.since, w.to) {
            (_, Some(t)) => Some(t),
            (Some(_), None) => Some(now_us),
            (None, None) => None,
        };
        if let (Some(f), Some(t)) = (from_us, to_us)
            && f >= t
        {
            return Err(user(
                "the time window is empty: --from/--since must be before --to",
            ));
        }
        Ok(ReportPlan {
            from_us,
            to_us,
            sources: filter.sources.clone(),
            destination: filter.destination.clone(),
            port: filter.port,
            protocol: filter.protocol.clone(),
            kind: filter.kind,
            prefix_v4: group.prefix_v4,
            prefix_v6: group.prefix_v6,
            by_source_ip: group.by_source_ip,
            top: group.top,
            inputs: input.inputs.clone(),
            input_format: input.input_format,
            keep_duplicates: input.keep_duplicates,
            format: ReportFormat::Table,
            output: None,
        })
    }
}
