//! `deny-report --follow` output: one line per group that is new or got more hits (NDJSON with `change` and
//! `previous_hits` under `--format json`), stamped with the time of the query round.

use std::fmt::Write as _;

use serde_json::Value;

use super::ReportFormat;
use crate::report::changes::Change;

/// The lines for one round of changes; `now` is the round's time as RFC 3339.
pub fn changes(changes: &[Change], format: ReportFormat, now: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = String::new();
    for Change {
        group: g,
        previous_hits: prev,
    } in changes
    {
        if format == ReportFormat::Json {
            let mut v = serde_json::to_value(g)?;
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "change".into(),
                    Value::from(if prev.is_some() { "grown" } else { "new" }),
                );
                o.insert(
                    "previous_hits".into(),
                    prev.map(Value::from).unwrap_or(Value::Null),
                );
            }
            writeln!(out, "{v}")?;
        } else {
            let dest = match (&g.destination, g.destination_port) {
                (Some(d), Some(p)) if d.contains(':') => format!("[{d}]:{p}"),
                (Some(d), Some(p)) => format!("{d}:{p}"),
                (Some(d), None) => d.to_string(),
                (None, _) => "(no destination)".into(),
            };
            let change = match prev {
                None => "new  ".to_string(),
                Some(p) => format!("+{:<4}", g.hits - p),
            };
            let line = format!(
                "{now} {change} {:<12} {:<18} {:<6} {dest}  hits={} sources={} last={}",
                g.kind,
                g.source_subnet.as_deref().unwrap_or("-"),
                g.protocol.as_deref().unwrap_or("-"),
                g.hits,
                g.distinct_sources,
                g.last_seen
            );
            writeln!(out, "{}", super::escape::terminal(&line))?;
        }
    }
    Ok(out.into_bytes())
}
