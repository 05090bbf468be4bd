//! `fwlog deny-report --workspace …`: the deny summary pushed down to Log Analytics.
//!
//! Per workspace: (1) the `sources` query says which firewall tables hold rows in the window; (2) the
//! `deny-summary` query returns denies pre-aggregated per (table, kind, source IP, protocol, destination, port)
//! and legacy messages without their source port, with hits and first/last time; a `PartialError` halves the
//! window and asks again (the rows merge exactly). (3) Those rows become canonical events — each row twice, at
//! its first time with its hits and at its last time with zero hits — and go through the same engine as files,
//! so subnets, distinct sources, examples, filters and ordering are exactly the offline report's.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::client::{Missing, Outcome, QueryClient};
use super::config::LiveConfig;
use super::kql::{self, FirewallId, SummaryOptions, Window, WorkspaceId};
use crate::engine::DenyAggregator;
use crate::event::normalize::format_time_us;
use crate::input::ReadStats;
use crate::report::model::DenyReport;
use crate::report::plan::ReportPlan;

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

/// Read a result table into objects keyed by column name.
pub fn rows_of(body: &Value) -> Vec<BTreeMap<String, Value>> {
    let mut out = Vec::new();
    let Some(tables) = body.get("tables").and_then(Value::as_array) else {
        return out;
    };
    for t in tables {
        let cols: Vec<String> = t
            .get("columns")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .map(|c| {
                        c.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default();
        for r in t
            .get("rows")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(cells) = r.as_array() else { continue };
            out.push(cols.iter().cloned().zip(cells.iter().cloned()).collect());
        }
    }
    out
}

fn s(m: &BTreeMap<String, Value>, k: &str) -> String {
    match m.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

fn n(m: &BTreeMap<String, Value>, k: &str) -> Option<i64> {
    match m.get(k)? {
        Value::Number(x) => x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)),
        Value::String(t) => t.trim().parse().ok(),
        _ => None,
    }
}

fn t(m: &BTreeMap<String, Value>, k: &str) -> Option<i64> {
    m.get(k)
        .and_then(Value::as_str)
        .and_then(crate::event::normalize::time_us)
}

pub fn parse_sources(body: &Value) -> Vec<SourceRow> {
    rows_of(body)
        .iter()
        .map(|r| SourceRow {
            table: s(r, "SourceTable"),
            category: s(r, "Category"),
            rows: n(r, "Rows").unwrap_or(0).max(0) as u64,
            first_us: t(r, "FirstSeen"),
            last_us: t(r, "LastSeen"),
        })
        .collect()
}

/// Which tables the summary reads, given what exists; and the "sources used" lines.
pub fn choose(
    sources: &[SourceRow],
    base: &SummaryOptions,
    ws: &WorkspaceId,
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
            "workspace {ws}: {name} ({} rows{})",
            r.rows,
            note.map(|n| format!("; {n}")).unwrap_or_default()
        ));
    }
    (o, used, any)
}

/// The summary rows of one workspace over a window, splitting on partial results.
pub async fn summary_rows(
    client: Arc<QueryClient>,
    ws: WorkspaceId,
    window: Window,
    opts: SummaryOptions,
) -> anyhow::Result<Vec<BTreeMap<String, Value>>> {
    let q = kql::deny_summary(window, &opts)?;
    match client.query(&ws, "deny summary", &q, window).await {
        Ok(Outcome::Complete(b)) => Ok(rows_of(&b)),
        Ok(Outcome::NoContent) => Ok(Vec::new()),
        Ok(Outcome::Partial { message, .. }) => {
            let len = window.to_us - window.from_us;
            if len < 2 * MIN_SPLIT_US {
                anyhow::bail!(
                    "Log Analytics returned incomplete results for {} even for a {}-second window ({message}); \
                     narrow the query with --source/--destination/--firewall",
                    window.timespan(),
                    len / 1_000_000
                );
            }
            if client.verbose > 0 {
                eprintln!(
                    "fwlog: workspace {ws}: partial result for {} ({message}); splitting the window",
                    window.timespan()
                );
            }
            let mid = window.from_us + len / 2;
            let a = Window {
                from_us: window.from_us,
                to_us: mid,
            };
            let b = Window {
                from_us: mid,
                to_us: window.to_us,
            };
            let fa = Box::pin(summary_rows(client.clone(), ws.clone(), a, opts.clone()));
            let fb = Box::pin(summary_rows(client, ws, b, opts));
            let (ra, rb) = tokio::join!(fa, fb);
            let mut rows = ra?;
            rows.extend(rb?);
            Ok(rows)
        }
        Err(e) if e.downcast_ref::<Missing>().is_some() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Turn summary rows into a Query-API-shaped body the canonical reader takes, each row at its first time
/// (`last = false`, with its hits) or at its last time (`last = true`; the caller zeroes those hits), so the
/// engine's sum/min/max give hits, first and last seen.
pub fn summary_as_events_body(rows: &[BTreeMap<String, Value>], last: bool) -> Value {
    let columns = json!([
        {"name": "TimeGenerated", "type": "datetime"},
        {"name": "kind", "type": "string"},
        {"name": "Action", "type": "string"},
        {"name": "SourceIp", "type": "string"},
        {"name": "Protocol", "type": "string"},
        {"name": "DestinationIp", "type": "string"},
        {"name": "DestinationPort", "type": "long"},
        {"name": "hits", "type": "long"},
        {"name": "msg_s", "type": "string"},
    ]);
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let kind = s(r, "Kind");
        let legacy = kind == "legacy";
        let hits = n(r, "Hits").unwrap_or(0).max(0);
        let port = n(r, "DestinationPort").filter(|p| *p >= 0);
        let time = r.get(if last { "LastSeen" } else { "FirstSeen" });
        out.push(json!([
            time.cloned().unwrap_or(Value::Null),
            if legacy {
                Value::Null
            } else {
                Value::String(kind.clone())
            },
            if legacy {
                Value::Null
            } else {
                Value::String("Deny".into())
            },
            s(r, "SourceIp"),
            s(r, "Protocol"),
            s(r, "Destination"),
            port,
            hits,
            if legacy {
                s(r, "Message")
            } else {
                String::new()
            },
        ]));
    }
    json!({"tables": [{"name": "PrimaryResult", "columns": columns, "rows": out}]})
}

/// Canonical events for summary rows: one event per row at its first time with its hits, and one at its last
/// time with zero hits (the builder writes at least 1, so the zero is set on the frame afterwards).
pub fn summary_events(
    rows: &[BTreeMap<String, Value>],
) -> anyhow::Result<(Vec<polars::prelude::DataFrame>, ReadStats)> {
    use polars::prelude::{DataType, IntoLazy, lit};
    let first = crate::input::tables::canonical_from_query_response(
        &summary_as_events_body(rows, false),
        "log analytics",
    )?;
    let last = crate::input::tables::canonical_from_query_response(
        &summary_as_events_body(rows, true),
        "log analytics",
    )?;
    let zeroed = last
        .frame
        .lazy()
        .with_column(lit(0u64).cast(DataType::UInt64).alias(crate::event::HITS))
        .collect()?;
    Ok((vec![first.frame, zeroed], first.stats))
}

/// Everything one workspace contributed.
pub struct WorkspaceResult {
    pub sources: Vec<SourceRow>,
    pub used: Vec<String>,
    pub rows: Vec<BTreeMap<String, Value>>,
}

pub async fn workspace_summary(
    client: Arc<QueryClient>,
    ws: WorkspaceId,
    window: Window,
    base: SummaryOptions,
) -> anyhow::Result<WorkspaceResult> {
    let q = kql::sources(window, base.firewall.as_ref())?;
    let sources = match client.query(&ws, "sources", &q, window).await {
        Ok(Outcome::Complete(b)) => parse_sources(&b),
        Ok(Outcome::NoContent) => Vec::new(),
        Ok(Outcome::Partial { message, .. }) => {
            anyhow::bail!(
                "Log Analytics returned an incomplete table list for workspace {ws}: {message}"
            )
        }
        Err(e) if e.downcast_ref::<Missing>().is_some() => {
            eprintln!("fwlog: {e}");
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let (opts, used, any) = choose(&sources, &base, &ws);
    let rows = if any {
        summary_rows(client, ws, window, opts).await?
    } else {
        Vec::new()
    };
    Ok(WorkspaceResult {
        sources,
        used,
        rows,
    })
}

/// The deny report for a plan from Log Analytics.
pub async fn live_report(
    client: Arc<QueryClient>,
    cfg: &LiveConfig,
    plan: &ReportPlan,
    window: Window,
) -> anyhow::Result<(DenyReport, ReadStats)> {
    let base = summary_options(plan, cfg.firewall.clone());
    let mut set = tokio::task::JoinSet::new();
    for ws in &cfg.workspaces {
        set.spawn(workspace_summary(
            client.clone(),
            ws.clone(),
            window,
            base.clone(),
        ));
    }
    let mut results = Vec::new();
    while let Some(r) = set.join_next().await {
        results.push(r??);
    }
    let mut agg = DenyAggregator::new(plan.clone());
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
        for row in r.rows.iter().filter(|row| s(row, "Kind") == "legacy") {
            let msg = s(row, "Message");
            if crate::legacy::parse(&msg).is_none() {
                unparsed += n(row, "Hits").unwrap_or(0).max(0) as u64;
                if unparsed_examples.len() < crate::input::MAX_UNPARSED_EXAMPLES {
                    unparsed_examples.push(("log analytics".to_string(), 0, msg));
                }
            }
        }
        if r.rows.is_empty() {
            continue;
        }
        let (frames, st) = summary_events(&r.rows)?;
        for f in frames {
            agg.add(f)?;
        }
        stats.merge(st);
    }
    stats.files.clear();
    stats.records = 0;
    stats.duplicates = 0;
    let groups = agg.finish()?;
    stats.events = events;
    stats.events_in_window = events;
    stats.first_us = first;
    stats.last_us = last;
    stats.unparsed = unparsed;
    stats.unparsed_examples = unparsed_examples;
    used.sort();
    let report = crate::report::assemble(plan, groups, &stats, used);
    Ok((report, stats))
}

pub fn summary_options(plan: &ReportPlan, firewall: Option<FirewallId>) -> SummaryOptions {
    SummaryOptions {
        firewall,
        kind: plan.kind,
        sources: plan.sources.clone(),
        destination: plan.destination.clone(),
        port: plan.port,
        protocol: plan.protocol.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let ws: WorkspaceId = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".parse().unwrap();
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
        let rows = rows_of(&body);
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
}
