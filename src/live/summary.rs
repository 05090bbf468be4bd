//! The deny summary pushed down to the service: the live source of `deny-report` and `recommend`.
//!
//! Per target (a Log Analytics workspace or a cluster database): (1) the `sources` query says which firewall tables hold rows in the window; (2) the
//! `deny-summary` query returns denies pre-aggregated per (table, kind, source IP, protocol, destination, port)
//! and legacy messages without their source port, with hits and first/last time; a `PartialError` halves the
//! window and asks again (the rows merge exactly). (3) Each summary row becomes two canonical events — at its
//! first time with its hits, and at its last time with zero hits — filled straight from the response columns
//! through the same field mapping as files, so the engine's sum/min/max give hits, first and last seen and the
//! groups are exactly the offline report's.

use std::sync::Arc;

use polars::prelude::{DataFrame, DataType, IntoLazy, lit};
use serde_json::Value;

use super::client::{Missing, Outcome, QueryClient};
use super::config::LiveConfig;
use super::kql::{self, FirewallId, SummaryOptions, Window};
use super::target::Target;
use crate::event::normalize::format_time_us;
use crate::event::stats::{MAX_UNPARSED_EXAMPLES, ReadStats};
use crate::input::batcher::RowBatcher;
use crate::input::fields::{self, Field, Val};
use crate::input::tables::{ResultTable, result_tables};
use crate::query::Filters;

/// Windows are not split below this when the service answers `PartialError`.
const MIN_SPLIT_US: i64 = 60 * 1_000_000;

/// One row of the `sources` query.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRow {
    pub table: String,
    pub category: String,
    pub rows: u64,
    pub first_us: Option<i64>,
    pub last_us: Option<i64>,
}

impl SourceRow {
    fn is_legacy(&self) -> bool {
        self.table == "AzureDiagnostics"
    }
}

/// A cell as text: strings as they are, numbers and other values in their JSON form, null as empty.
fn text(cells: &[Value], i: Option<usize>) -> String {
    match i.and_then(|i| cells.get(i)) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

fn number(cells: &[Value], i: Option<usize>) -> Option<i64> {
    match cells.get(i?)? {
        Value::Number(x) => x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)),
        Value::String(t) => t.trim().parse().ok(),
        _ => None,
    }
}

fn time(cells: &[Value], i: Option<usize>) -> Option<i64> {
    cells
        .get(i?)?
        .as_str()
        .and_then(crate::event::normalize::time_us)
}

/// Rows of every table of a response, each as its cells, with a column lookup.
fn each_row<'a>(
    origin: &str,
    body: &'a Value,
    mut f: impl FnMut(&ResultTable<'a>, &'a [Value]),
) -> anyhow::Result<()> {
    for t in result_tables(origin, body)? {
        for i in 0..t.rows.len() {
            if let Some(cells) = t.cells(i) {
                f(&t, cells);
            }
        }
    }
    Ok(())
}

pub fn parse_sources(body: &Value) -> anyhow::Result<Vec<SourceRow>> {
    let mut out = Vec::new();
    each_row("Log Analytics (sources)", body, |t, c| {
        out.push(SourceRow {
            table: text(c, t.column("SourceTable")),
            category: text(c, t.column("Category")),
            rows: number(c, t.column("Rows")).unwrap_or(0).max(0) as u64,
            first_us: time(c, t.column("FirstSeen")),
            last_us: time(c, t.column("LastSeen")),
        })
    })?;
    Ok(out)
}

/// Per-hour row counts (`hourly-count`), for planning `fetch` windows.
pub fn parse_hourly(body: &Value) -> anyhow::Result<Vec<(i64, u64)>> {
    let mut out = Vec::new();
    each_row("Log Analytics (hourly count)", body, |t, c| {
        let hour = time(c, t.column("Hour"));
        let rows = match t.column("Rows").and_then(|i| c.get(i)) {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        if let (Some(h), Some(n)) = (hour, rows) {
            out.push((h, n));
        }
    })?;
    Ok(out)
}

/// One row of the deny summary: denies of one table, kind, source, protocol, destination and port (or one
/// legacy message without its source port) in one time bucket.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SummaryRow {
    pub table: String,
    /// The canonical kind, or `legacy` for an `AzureDiagnostics` message.
    pub kind: String,
    pub source_ip: String,
    pub protocol: String,
    pub destination: String,
    pub destination_port: Option<i64>,
    pub message: String,
    /// As the service answered: a negative or huge count makes the row a skipped bad row, never a total.
    pub hits: i64,
    pub first_seen: String,
    pub last_seen: String,
    /// Start of the row's time bucket (`--follow`), when the query was bucketed.
    pub bin: Option<i64>,
}

impl SummaryRow {
    pub fn is_legacy(&self) -> bool {
        self.kind == "legacy"
    }

    /// The row's identity within a bucket (everything but the counts and times).
    pub fn key(&self) -> (&str, &str, &str, &str, &str, Option<i64>, &str) {
        (
            &self.table,
            &self.kind,
            &self.source_ip,
            &self.protocol,
            &self.destination,
            self.destination_port,
            &self.message,
        )
    }
}

pub fn parse_summary(body: &Value) -> anyhow::Result<Vec<SummaryRow>> {
    let mut out = Vec::new();
    each_row("Log Analytics (deny summary)", body, |t, c| {
        out.push(SummaryRow {
            table: text(c, t.column("SourceTable")),
            kind: text(c, t.column("Kind")),
            source_ip: text(c, t.column("SourceIp")),
            protocol: text(c, t.column("Protocol")),
            destination: text(c, t.column("Destination")),
            destination_port: number(c, t.column("DestinationPort")).filter(|p| *p >= 0),
            message: text(c, t.column("Message")),
            hits: number(c, t.column("Hits")).unwrap_or(0),
            first_seen: text(c, t.column("FirstSeen")),
            last_seen: text(c, t.column("LastSeen")),
            bin: time(c, t.column("Bin")),
        })
    })?;
    Ok(out)
}

/// Which tables the summary reads, given what exists; and the "sources used" lines.
pub fn choose(
    sources: &[SourceRow],
    base: &SummaryOptions,
    target: &Target,
) -> (SummaryOptions, Vec<String>, bool) {
    let find = |t: &str| sources.iter().find(|r| r.table == t && r.rows > 0);
    let mut o = base.clone();
    let mut used = Vec::new();
    let app_raw = find("AZFWApplicationRule");
    let app_agg = find("AZFWApplicationRuleAggregation");
    let net_raw = find("AZFWNetworkRule");
    let net_agg = find("AZFWNetworkRuleAggregation");
    o.use_application_aggregation = app_raw.is_none() && app_agg.is_some();
    o.use_network_aggregation = net_raw.is_none() && net_agg.is_some();
    let app = app_raw.or(app_agg);
    let net = net_raw.or(net_agg);
    o.legacy_application_until = app.and_then(|r| r.first_us);
    o.legacy_network_until = net.and_then(|r| r.first_us);
    let mut any = false;
    for r in sources.iter().filter(|r| r.rows > 0) {
        let name = if r.is_legacy() {
            format!("AzureDiagnostics/{}", r.category)
        } else {
            r.table.clone()
        };
        let note = match r.table.as_str() {
            "AZFWApplicationRuleAggregation" if !o.use_application_aggregation => {
                Some("not used: AZFWApplicationRule has the events".to_string())
            }
            "AZFWNetworkRuleAggregation" if !o.use_network_aggregation => {
                Some("not used: AZFWNetworkRule has the events".to_string())
            }
            "AZFWNatRule" | "AZFWNatRuleAggregation" | "AZFWDnsQuery" => {
                Some("not used: holds no denies".to_string())
            }
            "AzureDiagnostics" => match r.category.as_str() {
                "AzureFirewallApplicationRule" => o
                    .legacy_application_until
                    .map(|u| format!("only before {} (resource-specific logs from then on)", format_time_us(u))),
                "AzureFirewallNetworkRule" => o
                    .legacy_network_until
                    .map(|u| format!("only before {} (resource-specific logs from then on)", format_time_us(u))),
                c if c.starts_with("AZFW") => {
                    Some("not used: resource-specific category sent in Azure diagnostics mode is not read live; use fwlog fetch".to_string())
                }
                _ => Some("not used: holds no denies".to_string()),
            },
            _ => None,
        };
        if note.as_deref().is_none_or(|n| !n.starts_with("not used")) {
            any = true;
        }
        used.push(format!(
            "{target}: {name} ({} rows{})",
            r.rows,
            note.map(|n| format!("; {n}")).unwrap_or_default()
        ));
    }
    (o, used, any)
}

/// The summary rows of one target over a window, splitting on partial results.
pub async fn summary_rows(
    client: Arc<QueryClient>,
    target: Target,
    window: Window,
    opts: SummaryOptions,
) -> anyhow::Result<Vec<SummaryRow>> {
    let q = kql::deny_summary(window, &opts)?;
    match client.query(&target, "deny summary", &q, window).await {
        Ok(Outcome::Complete(b)) => parse_summary(&b),
        Ok(Outcome::NoContent) => Ok(Vec::new()),
        Ok(Outcome::Partial { message, .. }) => {
            let len = window.to_us - window.from_us;
            if len < 2 * MIN_SPLIT_US {
                anyhow::bail!(
                    "{} returned incomplete results for {} even for a {}-second window ({message}); \
                     narrow the query with --source/--destination/--firewall",
                    client.names().name,
                    window.timespan(),
                    len / 1_000_000
                );
            }
            crate::info!(
                "{target}: partial result for {} ({message}); splitting the window",
                window.timespan()
            );
            let mid = window.from_us + len / 2;
            let a = Window {
                from_us: window.from_us,
                to_us: mid,
            };
            let b = Window {
                from_us: mid,
                to_us: window.to_us,
            };
            let fa = Box::pin(summary_rows(
                client.clone(),
                target.clone(),
                a,
                opts.clone(),
            ));
            let fb = Box::pin(summary_rows(client, target, b, opts));
            let (ra, rb) = tokio::join!(fa, fb);
            let mut rows = ra?;
            rows.extend(rb?);
            Ok(rows)
        }
        Err(e) if e.downcast_ref::<Missing>().is_some() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Canonical events for summary rows: one event per row at its first time with its hits, and one at its last
/// time with zero hits (the builder writes at least 1, so the zero is set on the batch afterwards). Rows that
/// cannot become events are counted in the statistics.
pub fn summary_events(rows: &[SummaryRow]) -> anyhow::Result<(Vec<DataFrame>, ReadStats)> {
    // Only a name for skip reports: the row numbers count summary rows, whichever service sent them.
    let origin = "log analytics";
    let build = |last: bool| -> anyhow::Result<(DataFrame, ReadStats)> {
        let mut frames = Vec::new();
        let mut collect = |df| {
            frames.push(df);
            Ok(())
        };
        let mut batcher = RowBatcher::new(1 << 20, true, true, &mut collect);
        for (i, r) in rows.iter().enumerate() {
            let legacy = r.is_legacy();
            let time = if last { &r.last_seen } else { &r.first_seen };
            let get = |f: Field| -> Option<Val<'_>> {
                match f {
                    Field::Time => Some(Val::Str(time)),
                    Field::Kind if !legacy => Some(Val::Str(&r.kind)),
                    Field::Action if !legacy => Some(Val::Str("Deny")),
                    Field::SourceIp => Some(Val::Str(&r.source_ip)),
                    Field::Protocol => Some(Val::Str(&r.protocol)),
                    Field::DestinationIp => Some(Val::Str(&r.destination)),
                    Field::DestinationPort => r.destination_port.map(Val::Int),
                    Field::Hits => Some(Val::Int(r.hits)),
                    Field::Msg => Some(Val::Str(if legacy { &r.message } else { "" })),
                    _ => None,
                }
            };
            let line = i as u64 + 1;
            match fields::to_row(&get, None) {
                Ok(row) => batcher.push(&row, origin, line)?,
                Err(p) => batcher.stats.skip(origin, line, "bad row", p),
            }
        }
        let stats = batcher.finish()?;
        Ok((crate::input::concat_frames(frames)?, stats))
    };
    let (first, stats) = build(false)?;
    let (last, _) = build(true)?;
    let zeroed = last
        .lazy()
        .with_column(lit(0u64).cast(DataType::UInt64).alias(crate::event::HITS))
        .collect()?;
    Ok((vec![first, zeroed], stats))
}

/// Everything one target contributed.
pub struct TargetResult {
    pub target: Target,
    pub sources: Vec<SourceRow>,
    pub used: Vec<String>,
    pub rows: Vec<SummaryRow>,
}

pub async fn target_summary(
    client: Arc<QueryClient>,
    target: Target,
    window: Window,
    base: SummaryOptions,
) -> anyhow::Result<TargetResult> {
    let q = kql::sources(window, base.firewall.as_ref(), &base.tables)?;
    let sources = match client.query(&target, "sources", &q, window).await {
        Ok(Outcome::Complete(b)) => parse_sources(&b)?,
        Ok(Outcome::NoContent) => Vec::new(),
        Ok(Outcome::Partial { message, .. }) => {
            anyhow::bail!(
                "{} returned an incomplete table list for {target}: {message}",
                client.names().name
            )
        }
        Err(e) if e.downcast_ref::<Missing>().is_some() => {
            crate::note!("{e}");
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let (opts, used, any) = choose(&sources, &base, &target);
    let rows = if any {
        summary_rows(client, target.clone(), window, opts).await?
    } else {
        Vec::new()
    };
    Ok(TargetResult {
        target,
        sources,
        used,
        rows,
    })
}

/// What the live source read for a report: canonical batches for the engine (each with the key of the target it
/// came from, for `--by-origin`), the statistics and the tables used.
pub struct LiveRead {
    pub batches: Vec<(String, DataFrame)>,
    pub stats: ReadStats,
    pub sources: Vec<String>,
}

/// Read the denies of every configured target over a window as canonical batches.
pub async fn read(
    client: Arc<QueryClient>,
    cfg: &LiveConfig,
    filters: &Filters,
    window: Window,
) -> anyhow::Result<LiveRead> {
    let mut base = summary_options(filters, cfg.firewall.clone());
    base.tables = cfg.tables.clone();
    let mut set = tokio::task::JoinSet::new();
    for target in &cfg.targets {
        set.spawn(target_summary(
            client.clone(),
            target.clone(),
            window,
            base.clone(),
        ));
    }
    let mut results = Vec::new();
    while let Some(r) = set.join_next().await {
        results.push(r??);
    }
    // Targets answer in any order; batches and statistics are merged in the configured order.
    results.sort_by(|a, b| a.target.cmp(&b.target));
    let mut batches = Vec::new();
    let mut stats = ReadStats::default();
    let (mut events, mut first, mut last) = (0u64, None::<i64>, None::<i64>);
    let mut used = Vec::new();
    let mut unparsed = 0u64;
    let mut unparsed_examples = Vec::new();
    for r in &results {
        for src in &r.sources {
            let counted = !src.table.ends_with("Aggregation")
                && (!src.is_legacy() || src.category.starts_with("AzureFirewall"));
            if counted {
                events += src.rows;
            }
            first = src.first_us.map(|f| first.map_or(f, |g: i64| g.min(f)));
            last = src.last_us.map(|l| last.map_or(l, |g: i64| g.max(l)));
        }
        used.extend(r.used.iter().cloned());
        for row in r.rows.iter().filter(|row| row.is_legacy()) {
            if crate::legacy::parse(&row.message).is_none() {
                unparsed = unparsed.saturating_add(row.hits.clamp(0, i64::from(u32::MAX)) as u64);
                if unparsed_examples.len() < MAX_UNPARSED_EXAMPLES {
                    unparsed_examples.push(("log analytics".to_string(), 0, row.message.clone()));
                }
            }
        }
        if r.rows.is_empty() {
            continue;
        }
        let (frames, st) = summary_events(&r.rows)?;
        batches.extend(frames.into_iter().map(|f| (r.target.key().to_string(), f)));
        stats.merge(st);
    }
    stats.files.clear();
    stats.records = 0;
    stats.duplicates = 0;
    stats.events = events;
    stats.events_in_window = events;
    stats.first_us = first;
    stats.last_us = last;
    stats.unparsed = unparsed;
    stats.unparsed_examples = unparsed_examples;
    used.sort();
    Ok(LiveRead {
        batches,
        stats,
        sources: used,
    })
}

/// The deny-summary options for the filters of a query.
pub fn summary_options(filters: &Filters, firewall: Option<FirewallId>) -> SummaryOptions {
    SummaryOptions {
        firewall,
        kind: filters.kind,
        sources: filters.sources.clone(),
        destination: filters.destination.clone(),
        port: filters.port,
        protocol: filters.protocol.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn src(table: &str, cat: &str, rows: u64, first: i64) -> SourceRow {
        SourceRow {
            table: table.into(),
            category: cat.into(),
            rows,
            first_us: Some(first),
            last_us: Some(first + 10),
        }
    }

    #[test]
    fn raw_tables_win_over_aggregations_and_legacy_stops_where_structured_starts() {
        let ws = Target::Workspace("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".parse().unwrap());
        let s = vec![
            src("AZFWApplicationRuleAggregation", "", 5, 100),
            src("AZFWNetworkRule", "", 7, 200),
            src("AZFWNetworkRuleAggregation", "", 3, 150),
            src("AzureDiagnostics", "AzureFirewallNetworkRule", 9, 50),
            src("AzureDiagnostics", "AzureFirewallDnsProxy", 9, 50),
        ];
        let (o, used, any) = choose(&s, &SummaryOptions::default(), &ws);
        assert!(any);
        assert!(o.use_application_aggregation);
        assert!(!o.use_network_aggregation);
        assert_eq!(o.legacy_network_until, Some(200));
        assert_eq!(o.legacy_application_until, Some(100));
        assert!(
            used.iter()
                .any(|u| u.contains("AZFWNetworkRuleAggregation (3 rows; not used")),
            "{used:?}"
        );
        assert!(
            used.iter()
                .any(|u| u
                    .contains("AzureDiagnostics/AzureFirewallNetworkRule (9 rows; only before"))
        );
        let (_, _, any) = choose(
            &[src("AZFWDnsQuery", "", 4, 1)],
            &SummaryOptions::default(),
            &ws,
        );
        assert!(!any, "no deny-bearing table: skip the summary query");
    }

    #[test]
    fn summary_rows_become_two_events_each() {
        let body = json!({"tables":[{"name":"PrimaryResult","columns":[
            {"name":"SourceTable"},{"name":"Kind"},{"name":"SourceIp"},{"name":"Protocol"},{"name":"Destination"},
            {"name":"DestinationPort"},{"name":"Message"},{"name":"Hits"},{"name":"FirstSeen"},{"name":"LastSeen"}],
            "rows":[["AZFWNetworkRule","network","fd10:0003:0005:0001:0000:0000:0000:0004","TCP","2001:4860:4860::8888",8080,"",3,
                     "2026-09-07T09:49:11.932464Z","2026-09-07T10:00:00Z"]]}]});
        let rows = parse_summary(&body).unwrap();
        let (frames, _) = summary_events(&rows).unwrap();
        assert_eq!(frames.iter().map(|f| f.height()).sum::<usize>(), 2);
        let hits: u64 = frames
            .iter()
            .map(|f| {
                f.column("hits")
                    .unwrap()
                    .u64()
                    .unwrap()
                    .iter()
                    .flatten()
                    .sum::<u64>()
            })
            .sum();
        assert_eq!(hits, 3);
        assert_eq!(
            frames[1].column("hits").unwrap().dtype(),
            &polars::prelude::DataType::UInt64
        );
        let src = frames[0]
            .column("source_ip")
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .map(str::to_string);
        assert_eq!(src.as_deref(), Some("fd10:3:5:1::4"));
    }

    #[test]
    fn negative_and_huge_counts_are_skipped_rows_never_totals() {
        let body = json!({"tables":[{"name":"PrimaryResult","columns":[
            {"name":"SourceTable"},{"name":"Kind"},{"name":"SourceIp"},{"name":"Protocol"},{"name":"Destination"},
            {"name":"DestinationPort"},{"name":"Message"},{"name":"Hits"},{"name":"FirstSeen"},{"name":"LastSeen"}],
            "rows":[
              ["AZFWNetworkRule","network","10.0.0.1","TCP","20.1.2.3",443,"",-5,"2026-09-07T09:00:00Z","2026-09-07T09:00:00Z"],
              ["AZFWNetworkRule","network","10.0.0.2","TCP","20.1.2.3",443,"",9223372036854775807u64,"2026-09-07T09:00:00Z","2026-09-07T09:00:00Z"],
              ["AZFWNetworkRule","network","10.0.0.3","TCP","20.1.2.3",443,"",2,"2026-09-07T09:00:00Z","2026-09-07T09:00:00Z"]]}]});
        let rows = parse_summary(&body).unwrap();
        let (frames, stats) = summary_events(&rows).unwrap();
        assert_eq!(stats.skipped, 2, "{:?}", stats.skip_examples);
        assert_eq!(frames[0].height(), 1);
    }

    #[test]
    fn a_response_without_tables_is_an_error() {
        let e = parse_summary(&json!({"tables": {}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"tables\" is not an array"), "{e}");
    }
}
