//! `fwlog deny-report --follow`: keep asking Log Analytics (or a cluster) and print only groups that are new or
//! grew.
//!
//! Every `--interval` the live source is asked again over an overlapping window (see `crate::live::follow`);
//! the buckets since the start go through the same engine as every report, and the changes through the follow
//! renderer. `--until-quiet D` stops after no new denies for D; Ctrl-C stops too.

use std::sync::Arc;

use clap::Args;

use crate::engine::DenyAggregator;
use crate::live::config::LiveConfig;
use crate::live::follow::{Buckets, round_window};
use crate::live::summary::{summary_options, target_summary};
use crate::query::{Duration, Query, Window};
use crate::render::ReportFormat;
use crate::report::changes::ChangeTracker;
use crate::{info, note};

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

/// Follow from the query's start (the last hour when it has none) until quiet or interrupted.
pub fn run(
    cfg: &LiveConfig,
    query: Query,
    args: &FollowArgs,
    format: ReportFormat,
    now_us: i64,
) -> anyhow::Result<()> {
    let start = query.window.from_us.unwrap_or(now_us - 3600 * 1_000_000);
    let client = Arc::new(crate::live::client_for(cfg)?);
    crate::live::runtime()?.block_on(follow(client, cfg, query, start, args, format))
}

async fn follow(
    client: Arc<crate::live::client::QueryClient>,
    cfg: &LiveConfig,
    query: Query,
    start_us: i64,
    args: &FollowArgs,
    format: ReportFormat,
) -> anyhow::Result<()> {
    let mut base = summary_options(&query.filters, cfg.firewall.clone());
    base.bin_secs = Some(60);
    base.tables = cfg.tables.clone();
    let mut buckets = Buckets::default();
    let mut tracker = ChangeTracker::default();
    let mut last_change = super::now_us();
    let mut first = true;
    let interval = std::time::Duration::from_secs(args.interval.seconds);
    loop {
        let now = super::now_us();
        let window = round_window(start_us, now, first);
        let mut set = tokio::task::JoinSet::new();
        for target in &cfg.targets {
            let (c, t, b) = (client.clone(), target.clone(), base.clone());
            set.spawn(async move { (t.clone(), target_summary(c, t, window, b).await) });
        }
        while let Some(r) = set.join_next().await {
            let (target, res) = r?;
            match res {
                Ok(r) => {
                    if first {
                        for u in &r.used {
                            info!("read {u}");
                        }
                    }
                    // The first window may start mid-bucket; later ones are minute-aligned.
                    let cut = if first { i64::MIN } else { window.from_us };
                    buckets.replace(target.key(), cut, r.rows);
                }
                // One failed round is not fatal while following: report it and try again next time.
                Err(e) if !first => {
                    note!("{target}: {e:#}; retrying in {}s", interval.as_secs())
                }
                Err(e) => return Err(e),
            }
        }
        let mut q = query.clone();
        q.window = Window {
            from_us: Some(start_us),
            to_us: Some(now.max(start_us + 1)),
        };
        let mut agg = DenyAggregator::new(q);
        for b in buckets.batches()? {
            agg.add(b)?;
        }
        let changes = tracker.update(&agg.finish()?);
        if !changes.is_empty() {
            last_change = now;
            let stamp =
                crate::event::normalize::format_time_us(super::now_us() / 1_000_000 * 1_000_000);
            let bytes = crate::render::follow::changes(&changes, format, &stamp)?;
            crate::output::emit(None, &bytes)?;
        }
        first = false;
        if let Some(quiet) = args.until_quiet
            && super::now_us() - last_change >= quiet.micros()
        {
            info!("no new denies for {quiet}; stopping");
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
    use crate::live::summary::SummaryRow;

    fn row(ip: &str, hits: i64, bin: &str) -> SummaryRow {
        SummaryRow {
            table: "AZFWNetworkRule".into(),
            kind: "network".into(),
            source_ip: ip.into(),
            protocol: "TCP".into(),
            destination: "20.1.2.3".into(),
            destination_port: Some(9000),
            message: String::new(),
            hits,
            first_seen: bin.into(),
            last_seen: bin.into(),
            bin: crate::event::normalize::time_us(bin),
        }
    }

    fn groups(b: &Buckets) -> Vec<crate::engine::Group> {
        let mut agg = DenyAggregator::new(Query::default());
        for f in b.batches().unwrap() {
            agg.add(f).unwrap();
        }
        agg.finish().unwrap()
    }

    #[test]
    fn overlapping_answers_replace_buckets_instead_of_adding() {
        let mut b = Buckets::default();
        b.replace(
            "ws",
            i64::MIN,
            vec![
                row("10.0.1.4", 2, "2026-09-07T23:10:00Z"),
                row("10.0.1.5", 1, "2026-09-07T23:20:00Z"),
            ],
        );
        let mut seen = ChangeTracker::default();
        let ch = seen.update(&groups(&b));
        assert_eq!(ch.len(), 1);
        assert_eq!((ch[0].group.hits, ch[0].previous_hits), (3, None));
        // The overlap re-reads 23:20 (same data) → nothing changes.
        let from = crate::event::normalize::time_us("2026-09-07T23:15:00Z").unwrap();
        b.replace("ws", from, vec![row("10.0.1.5", 1, "2026-09-07T23:20:00Z")]);
        assert!(seen.update(&groups(&b)).is_empty());
        // A late row in the 23:20 bucket and a new bucket → grown by exactly 3.
        b.replace(
            "ws",
            from,
            vec![
                row("10.0.1.5", 2, "2026-09-07T23:20:00Z"),
                row("10.0.1.6", 2, "2026-09-07T23:30:00Z"),
            ],
        );
        let ch = seen.update(&groups(&b));
        assert_eq!(
            (
                ch[0].group.hits,
                ch[0].previous_hits,
                ch[0].group.distinct_sources
            ),
            (6, Some(3), 3)
        );
    }
}
