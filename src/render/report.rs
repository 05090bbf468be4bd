//! Deny-report renderers: table (fits the terminal), JSON (the contract), CSV, Markdown and Parquet.
//! All output is deterministic: groups are already sorted, and nothing here depends on time or locale.

use std::io::Cursor;

use comfy_table::{Cell, CellAlignment, Color, ColumnConstraint, Width};
use polars::prelude::*;

use super::ReportFormat;
use super::escape;
use super::table::new_table;
use crate::catalog::Requirement;
use crate::report::model::{DenyReport, ReportGroup as Group};

pub fn render(
    report: &DenyReport,
    format: ReportFormat,
    terminal: bool,
) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        ReportFormat::Json => {
            let mut s = serde_json::to_string_pretty(report)?;
            s.push('\n');
            s.into_bytes()
        }
        ReportFormat::Table => table(report, terminal).into_bytes(),
        ReportFormat::Markdown => markdown(report).into_bytes(),
        ReportFormat::Csv => csv(report)?,
        ReportFormat::Parquet => parquet(report)?,
    })
}

/// The one-line summary printed under a table and above Markdown.
pub fn summary(r: &DenyReport) -> String {
    let mut s = format!(
        "{} events read ({} in window), {} denies in {} group{}",
        r.events,
        r.events_in_window,
        r.denies,
        r.total_groups,
        if r.total_groups == 1 { "" } else { "s" }
    );
    if (r.groups.len() as u64) < r.total_groups {
        s.push_str(&format!(" (top {} shown)", r.groups.len()));
    }
    s.push_str(&format!(", {} skipped", r.skipped));
    if !r.skipped_by_reason.is_empty() {
        let parts: Vec<String> = r
            .skipped_by_reason
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        s.push_str(&format!(" ({})", parts.join(", ")));
    }
    if r.duplicates > 0 {
        s.push_str(&format!(", {} duplicates ignored", r.duplicates));
    }
    if r.unparsed > 0 {
        s.push_str(&format!(", {} unparsed legacy messages", r.unparsed));
    }
    match (&r.data_from, &r.data_to) {
        (Some(a), Some(b)) => s.push_str(&format!("; data covers {a} .. {b}")),
        _ => s.push_str("; no events in the input"),
    }
    s
}

/// What the catalog says about a group, in one short cell.
pub fn catalog_label(g: &Group) -> String {
    if g.group
        .destination
        .as_deref()
        .is_some_and(|d| !crate::event::normalize::is_valid_host(d))
    {
        return "not a valid host name".to_string();
    }
    if g.catalog.is_empty() {
        return "not in catalog".to_string();
    }
    let labels: Vec<String> = g
        .catalog
        .iter()
        .map(|m| {
            let mut l = format!("{}: {}", m.feature, m.requirement);
            if m.status != crate::catalog::Status::Current {
                l.push_str(&format!(" ({})", m.status));
            }
            if let Some(why) = &m.not_needed {
                l.push_str(&format!(" [not needed: {why}]"));
            }
            l
        })
        .collect();
    labels.join("; ")
}

fn or_dash(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".to_string())
}

fn port(p: Option<u32>) -> String {
    p.map(|p| p.to_string()).unwrap_or_else(|| "-".to_string())
}

const HEADERS: [&str; 11] = [
    "Kind",
    "Source subnet",
    "Protocol",
    "Destination",
    "Port",
    "Hits",
    "Sources",
    "First seen",
    "Last seen",
    "Examples",
    "Catalog",
];

fn cells(g: &Group) -> [String; 11] {
    [
        g.group.kind.clone(),
        or_dash(&g.group.source_subnet),
        or_dash(&g.group.protocol),
        g.group
            .destination
            .clone()
            .unwrap_or_else(|| "(none)".into()),
        port(g.group.destination_port),
        g.group.hits.to_string(),
        g.group.distinct_sources.to_string(),
        g.group.first_seen.clone(),
        g.group.last_seen.clone(),
        g.group.example_sources.join(" "),
        catalog_label(g),
    ]
}

fn table(r: &DenyReport, terminal: bool) -> String {
    let mut t = new_table(&HEADERS, terminal);
    let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    for g in &r.groups {
        let tone = requirement_color(g);
        let c = if terminal {
            terminal_cells(g)
        } else {
            cells(g)
        }
        .map(|v| escape::terminal(&v).into_owned());
        t.add_row(c.into_iter().enumerate().map(|(i, v)| {
            let cell = Cell::new(v);
            let cell = if (4..=6).contains(&i) {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            };
            match (color, tone) {
                (true, Some(c)) if i == 10 => cell.fg(c),
                _ => cell,
            }
        }));
    }
    if terminal {
        // Short columns keep their full width so only destinations and labels wrap; narrow terminals drop the
        // example sources, then the first-seen time (both are in every other format).
        let rows: Vec<[String; 11]> = r.groups.iter().map(terminal_cells).collect();
        let width = t.width().unwrap_or(200);
        let mut hidden = Vec::new();
        if width < 170 {
            hidden.push(9);
        }
        if width < 140 {
            hidden.push(7);
        }
        for i in 0..HEADERS.len() {
            let Some(col) = t.column_mut(i) else { continue };
            if hidden.contains(&i) {
                col.set_constraint(ColumnConstraint::Hidden);
                continue;
            }
            let widest = rows.iter().map(|c| c[i].chars().count()).max().unwrap_or(0);
            let widest = widest.max(HEADERS[i].split(' ').map(str::len).max().unwrap_or(0));
            // Names and labels (kind, subnet, destination, catalog) share what is left and wrap.
            if matches!(i, 0 | 1 | 3 | 10) {
                continue;
            }
            let cap = 16;
            // The boundary counts the cell padding (one space each side).
            col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(
                widest.min(cap) as u16 + 2,
            )));
        }
    }
    let mut out = String::new();
    if r.groups.is_empty() {
        out.push_str("No denied traffic matches.\n");
    } else {
        out.push_str(&t.to_string());
        out.push('\n');
    }
    out.push_str(&summary(r));
    out.push('\n');
    out
}

/// On a terminal: times to the second without the year and only the most specific catalog label, so rows
/// stay readable; files, JSON and Markdown keep everything.
fn terminal_cells(g: &Group) -> [String; 11] {
    let mut c = cells(g);
    c[7] = short_time(&g.group.first_seen);
    c[8] = short_time(&g.group.last_seen);
    c[10] = first_catalog_label(g);
    c
}

/// `2026-09-07T09:00:07.919000Z` → `09-07 09:00:07`.
fn short_time(t: &str) -> String {
    t.get(5..19)
        .map(|s| s.replacen('T', " ", 1))
        .unwrap_or_else(|| t.to_string())
}

/// The most specific catalog label, and how many more matched.
fn first_catalog_label(g: &Group) -> String {
    let full = catalog_label(g);
    match g.catalog.len() {
        0 | 1 => full,
        n => format!(
            "{} (+{} more)",
            full.split("; ").next().unwrap_or(""),
            n - 1
        ),
    }
}

/// Colour of the catalog cell on a terminal: required red, conditional yellow, recommended cyan, the rest grey.
fn requirement_color(g: &Group) -> Option<Color> {
    Some(match g.catalog.first()?.requirement {
        Requirement::Required => Color::Red,
        Requirement::Conditional => Color::Yellow,
        Requirement::Recommended => Color::Cyan,
        _ => Color::DarkGrey,
    })
}

fn markdown(r: &DenyReport) -> String {
    let mut out = String::from("# Denied traffic\n\n");
    out.push_str(&summary(r));
    out.push_str("\n\n");
    if r.groups.is_empty() {
        out.push_str("No denied traffic matches.\n");
        return out;
    }
    out.push_str(&format!("| {} |\n", HEADERS.join(" | ")));
    out.push_str(&format!("|{}\n", "---|".repeat(HEADERS.len())));
    for g in &r.groups {
        let c: Vec<String> = cells(g).iter().map(|v| escape::markdown(v)).collect();
        out.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    out
}

fn csv(r: &DenyReport) -> anyhow::Result<Vec<u8>> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record([
        "kind",
        "source_subnet",
        "protocol",
        "destination",
        "destination_port",
        "hits",
        "distinct_sources",
        "first_seen",
        "last_seen",
        "example_sources",
        "catalog",
    ])?;
    for g in &r.groups {
        w.write_record(
            [
                g.group.kind.clone(),
                g.group.source_subnet.clone().unwrap_or_default(),
                g.group.protocol.clone().unwrap_or_default(),
                g.group.destination.clone().unwrap_or_default(),
                g.group
                    .destination_port
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                g.group.hits.to_string(),
                g.group.distinct_sources.to_string(),
                g.group.first_seen.clone(),
                g.group.last_seen.clone(),
                g.group.example_sources.join(" "),
                if g.catalog.is_empty() {
                    String::new()
                } else {
                    catalog_label(g)
                },
            ]
            .iter()
            .map(|v| escape::csv_cell(v).into_owned()),
        )?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

fn parquet(r: &DenyReport) -> anyhow::Result<Vec<u8>> {
    let g = &r.groups;
    let strs = |f: &dyn Fn(&Group) -> Option<String>| g.iter().map(f).collect::<Vec<_>>();
    let mut df = DataFrame::new(
        g.len(),
        vec![
            Column::new("kind".into(), strs(&|x| Some(x.group.kind.clone()))),
            Column::new(
                "source_subnet".into(),
                strs(&|x| x.group.source_subnet.clone()),
            ),
            Column::new("protocol".into(), strs(&|x| x.group.protocol.clone())),
            Column::new("destination".into(), strs(&|x| x.group.destination.clone())),
            Column::new(
                "destination_port".into(),
                g.iter()
                    .map(|x| x.group.destination_port)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "hits".into(),
                g.iter().map(|x| x.group.hits).collect::<Vec<_>>(),
            ),
            Column::new(
                "distinct_sources".into(),
                g.iter()
                    .map(|x| x.group.distinct_sources)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "first_seen".into(),
                strs(&|x| Some(x.group.first_seen.clone())),
            ),
            Column::new(
                "last_seen".into(),
                strs(&|x| Some(x.group.last_seen.clone())),
            ),
            Column::new(
                "example_sources".into(),
                strs(&|x| Some(x.group.example_sources.join(" "))),
            ),
            Column::new(
                "catalog".into(),
                strs(&|x| (!x.catalog.is_empty()).then(|| catalog_label(x))),
            ),
        ],
    )?;
    let mut buf = Cursor::new(Vec::new());
    ParquetWriter::new(&mut buf).finish(&mut df)?;
    Ok(buf.into_inner())
}
