//! `fwlog deny-report --workspace … --follow`: keep asking Log Analytics and print only new or grown groups.
//!
//! Every `--interval` the deny summary is asked again over an overlapping window: from whole minutes
//! [`OVERLAP_US`] back (rows arrive in Log Analytics minutes late) to now. The summary is bucketed by minute, and
//! a fresh answer *replaces* every bucket it covers, so rows seen in two windows are never counted twice and
//! late rows are picked up. Groups are formed from all buckets since the start with the same engine as every
//! report; a group is printed when it is new or its hits grew. `--until-quiet D` stops after no new denies for D;
//! Ctrl-C stops too.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

use clap::Args;
use serde_json::Value;

use super::client::QueryClient;
use super::config::LiveConfig;
use super::kql::Window;
use super::report::{summary_events, summary_options, workspace_summary};
use crate::cli::args::{Duration, ReportFormat};
use crate::engine::DenyAggregator;
use crate::report::model::Group;
use crate::report::plan::ReportPlan;

/// How far back each follow query reaches before the previous one ended.
pub const OVERLAP_US: i64 = 10 * 60 * 1_000_000;
const MINUTE_US: i64 = 60 * 1_000_000;

#[derive(Debug, Clone, Args)]
pub struct FollowArgs {
    /// Keep querying Log Analytics and print groups that are new or got more hits (needs a workspace).
    #[arg(long, help_heading = "Log Analytics")]
    pub follow: bool,

    /// Time between queries with --follow.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "60s",
        requires = "follow",
        help_heading = "Log Analytics"
    )]
    pub interval: Duration,

    /// With --follow: stop after no new denies for this long (e.g. 10m).
    #[arg(
        long,
        value_name = "DURATION",
        requires = "follow",
        help_heading = "Log Analytics"
    )]
    pub until_quiet: Option<Duration>,
}

type GroupKey = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u32>,
);

fn key_of(g: &Group) -> GroupKey {
    (
        g.kind.clone(),
        g.source_subnet.clone(),
        g.protocol.clone(),
        g.destination.clone(),
        g.destination_port,
    )
}

/// Summary rows by (workspace, row key, minute bucket); a new answer replaces the buckets it covers.
#[derive(Default)]
pub struct Buckets {
    rows: BTreeMap<(String, String, i64), BTreeMap<String, Value>>,
}

impl Buckets {
    /// Replace every bucket at or after `from_us` of workspace `ws` by `fresh`.
    pub fn replace(&mut self, ws: &str, from_us: i64, fresh: Vec<BTreeMap<String, Value>>) {
        self.rows.retain(|(w, _, b), _| w != ws || *b < from_us);
        for r in fresh {
            let bin = r
                .get("Bin")
                .and_then(Value::as_str)
                .and_then(crate::event::normalize::time_us)
                .unwrap_or(0);
            let key = [
                "SourceTable",
                "Kind",
                "SourceIp",
                "Protocol",
                "Destination",
                "DestinationPort",
                "Message",
            ]
            .iter()
            .map(|k| r.get(*k).map(Value::to_string).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\u{1f}");
            self.rows.insert((ws.to_string(), key, bin), r);
        }
    }

    pub fn groups(&self, plan: &ReportPlan) -> anyhow::Result<Vec<Group>> {
        let rows: Vec<BTreeMap<String, Value>> = self.rows.values().cloned().collect();
        let mut agg = DenyAggregator::new(plan.clone());
        if !rows.is_empty() {
            let (frames, _) = summary_events(&rows)?;
            for f in frames {
                agg.add(f)?;
            }
        }
        agg.finish()
    }
}

/// Groups that are new or grew since `seen`, with their previous hits; updates `seen`.
pub fn changes(groups: &[Group], seen: &mut HashMap<GroupKey, u64>) -> Vec<(Group, Option<u64>)> {
    let mut out = Vec::new();
    for g in groups {
        let k = key_of(g);
        match seen.get(&k) {
            Some(&h) if h >= g.hits => {}
            prev => {
                out.push((g.clone(), prev.copied()));
                seen.insert(k, g.hits);
            }
        }
    }
    out
}

fn print_changes(changes: &[(Group, Option<u64>)], format: ReportFormat) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let now =
        crate::event::normalize::format_time_us(crate::report::now_us() / 1_000_000 * 1_000_000);
    for (g, prev) in changes {
        if format == ReportFormat::Json {
            let mut v = serde_json::to_value(g).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "change".into(),
                    Value::from(if prev.is_some() { "grown" } else { "new" }),
                );
                o.insert(
                    "previous_hits".into(),
                    prev.map(Value::from).unwrap_or(Value::Null),
                );
                o.remove("catalog");
            }
            writeln!(out, "{v}")?;
        } else {
            let dest = match (&g.destination, g.destination_port) {
                (Some(d), Some(p)) if d.contains(':') => format!("[{d}]:{p}"),
                (Some(d), Some(p)) => format!("{d}:{p}"),
                (Some(d), None) => d.clone(),
                (None, _) => "(no destination)".into(),
            };
            let change = match prev {
                None => "new  ".to_string(),
                Some(p) => format!("+{:<4}", g.hits - p),
            };
            writeln!(
                out,
                "{now} {change} {:<12} {:<18} {:<6} {dest}  hits={} sources={} last={}",
                g.kind,
                g.source_subnet.as_deref().unwrap_or("-"),
                g.protocol.as_deref().unwrap_or("-"),
                g.hits,
                g.distinct_sources,
                g.last_seen
            )?;
        }
    }
    out.flush()
}

pub async fn follow(
    client: Arc<QueryClient>,
    cfg: &LiveConfig,
    plan: &ReportPlan,
    start_us: i64,
    args: &FollowArgs,
    verbose: u8,
) -> anyhow::Result<()> {
    let mut base = summary_options(plan, cfg.firewall.clone());
    base.bin_secs = Some(60);
    let mut buckets = Buckets::default();
    let mut seen = HashMap::new();
    let mut last_change = crate::report::now_us();
    let mut first = true;
    let interval = std::time::Duration::from_secs(args.interval.seconds);
    loop {
        let now = crate::report::now_us();
        let from = if first {
            start_us
        } else {
            ((now - OVERLAP_US).div_euclid(MINUTE_US) * MINUTE_US).max(start_us)
        };
        let window = Window {
            from_us: from,
            to_us: now.max(from + 1),
        };
        let mut set = tokio::task::JoinSet::new();
        for ws in &cfg.workspaces {
            let (c, w, b) = (client.clone(), ws.clone(), base.clone());
            set.spawn(async move { (w.clone(), workspace_summary(c, w, window, b).await) });
        }
        while let Some(r) = set.join_next().await {
            let (ws, res) = r?;
            match res {
                Ok(r) => {
                    if first && verbose > 0 {
                        for u in &r.used {
                            eprintln!("fwlog: read {u}");
                        }
                    }
                    // The first window may start mid-bucket; later ones are minute-aligned.
                    let cut = if first { i64::MIN } else { from };
                    buckets.replace(ws.as_str(), cut, r.rows);
                }
                // One failed round is not fatal while following: report it and try again next time.
                Err(e) if !first => eprintln!(
                    "fwlog: workspace {ws}: {e:#}; retrying in {}s",
                    interval.as_secs()
                ),
                Err(e) => return Err(e),
            }
        }
        let mut p = plan.clone();
        p.from_us = Some(start_us);
        p.to_us = Some(now.max(start_us + 1));
        let groups = buckets.groups(&p)?;
        let ch = changes(&groups, &mut seen);
        if !ch.is_empty() {
            last_change = now;
            print_changes(&ch, plan.format)?;
        }
        first = false;
        if let Some(q) = args.until_quiet
            && crate::report::now_us() - last_change >= q.micros()
        {
            if verbose > 0 {
                eprintln!("fwlog: no new denies for {}; stopping", q);
            }
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(ip: &str, hits: i64, bin: &str) -> BTreeMap<String, Value> {
        let v = json!({"SourceTable":"AZFWNetworkRule","Kind":"network","SourceIp":ip,"Protocol":"TCP",
            "Destination":"20.1.2.3","DestinationPort":9000,"Message":"","Hits":hits,
            "FirstSeen":bin,"LastSeen":bin,"Bin":bin});
        v.as_object().unwrap().clone().into_iter().collect()
    }

    fn plan() -> ReportPlan {
        let cli = <crate::cli::Cli as clap::Parser>::parse_from([
            "fwlog",
            "deny-report",
            "--since",
            "1h",
        ]);
        match cli.command {
            crate::cli::Command::DenyReport(a) => {
                ReportPlan::from_args(&a, 1_788_825_600_000_000).unwrap()
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn overlapping_answers_replace_buckets_instead_of_adding() {
        let p = plan();
        let mut b = Buckets::default();
        b.replace(
            "ws",
            i64::MIN,
            vec![
                row("10.0.1.4", 2, "2026-09-07T23:10:00Z"),
                row("10.0.1.5", 1, "2026-09-07T23:20:00Z"),
            ],
        );
        let mut seen = HashMap::new();
        let g = b.groups(&p).unwrap();
        let ch = changes(&g, &mut seen);
        assert_eq!(ch.len(), 1);
        assert_eq!((ch[0].0.hits, ch[0].1), (3, None));
        // The overlap re-reads 23:20 (same data) → nothing changes.
        let from = crate::event::normalize::time_us("2026-09-07T23:15:00Z").unwrap();
        b.replace("ws", from, vec![row("10.0.1.5", 1, "2026-09-07T23:20:00Z")]);
        assert!(changes(&b.groups(&p).unwrap(), &mut seen).is_empty());
        // A late row in the 23:20 bucket and a new bucket → grown by exactly 3.
        b.replace(
            "ws",
            from,
            vec![
                row("10.0.1.5", 2, "2026-09-07T23:20:00Z"),
                row("10.0.1.6", 2, "2026-09-07T23:30:00Z"),
            ],
        );
        let ch = changes(&b.groups(&p).unwrap(), &mut seen);
        assert_eq!(
            (ch[0].0.hits, ch[0].1, ch[0].0.distinct_sources),
            (6, Some(3), 3)
        );
    }
}
