//! Deny-report renderers: table (fits the width it is given), JSON (the contract), CSV, TSV, Markdown and
//! Parquet. All output is deterministic: groups are already sorted, and nothing here depends on time or locale.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use comfy_table::{Cell, CellAlignment, Color, ColumnConstraint, Width};
use polars::prelude::*;

use super::ReportFormat;
use super::escape;
use super::table::{Layout, new_table, wrap};

use crate::report::model::{DenyReport, Label, ReportGroup as Group};
use crate::report::{Verdict, verdict};

/// `footer`: lines for people shown under the table and the Markdown summary (the next step).
pub fn render(
    report: &DenyReport,
    format: ReportFormat,
    layout: &Layout,
    footer: &[String],
) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        ReportFormat::Json => {
            let mut s = serde_json::to_string_pretty(report)?;
            s.push('\n');
            s.into_bytes()
        }
        ReportFormat::Table => table(report, layout, footer).into_bytes(),
        ReportFormat::Markdown => markdown(report, footer).into_bytes(),
        ReportFormat::Csv => delimited(report, b',')?,
        ReportFormat::Tsv => delimited(report, b'\t')?,
        ReportFormat::Parquet => parquet(report)?,
    })
}

/// The JSON report, written as it is serialised (the same bytes as [`render`]; a report of a million groups is
/// about a gigabyte of text, which is never held in memory). The groups are serialised on every core in
/// chunks written in order: printing 600k groups took a second on one core, a fifth of a high-cardinality
/// report. `report` is left as it was.
pub fn write_json(report: &mut DenyReport, w: &mut dyn std::io::Write) -> anyhow::Result<()> {
    write_json_chunked(report, w, JSON_CHUNK_GROUPS)
}

/// Groups serialised per task by [`write_json`] (a few hundred KB of text; a few chunks wait while the file is
/// written, and 1,024 made them 20 MB).
const JSON_CHUNK_GROUPS: usize = 256;

fn write_json_chunked(
    report: &mut DenyReport,
    w: &mut dyn std::io::Write,
    chunk: usize,
) -> anyhow::Result<()> {
    if report.groups.len() <= chunk {
        serde_json::to_writer_pretty(&mut *w, &*report)?;
        w.write_all(b"\n")?;
        return Ok(());
    }
    // The report around its groups, printed with none: its `"groups": []` (the only one at the first level: a
    // line break inside a string is escaped) is where the groups go, as serde_json's printer would put them.
    let groups = std::mem::take(&mut report.groups);
    let skeleton = serde_json::to_string_pretty(&*report);
    report.groups = groups;
    let skeleton = skeleton?;
    const EMPTY: &str = "\n  \"groups\": []";
    let at = skeleton
        .find(EMPTY)
        .ok_or_else(|| anyhow::anyhow!("internal error: no groups field in the JSON report"))?;
    w.write_all(&skeleton.as_bytes()[..at + EMPTY.len() - 2])?;
    w.write_all(b"[\n")?;
    let chunks: Vec<&[Group]> = report.groups.chunks(chunk).collect();
    crate::parallel::ordered(
        chunks.len(),
        |i| json_groups(chunks[i], i == 0),
        |_, bytes| Ok(w.write_all(&bytes)?),
    )?;
    w.write_all(b"\n  ]")?;
    w.write_all(&skeleton.as_bytes()[at + EMPTY.len()..])?;
    w.write_all(b"\n")?;
    Ok(())
}

/// Groups as elements of the report's `groups` array, in the bytes serde_json's pretty printer gives them
/// (the chunk test compares the two). They are written field by field, not printed alone and re-indented:
/// printing then indenting was most of the time of a 132 MB report (`--by-source-ip`, 172k groups). A
/// catalog list is written once per chunk and copied into each group that has it: groups share a few lists
/// (every random-subdomain host of an entry has the same one), and their texts were two thirds of a report's
/// bytes.
fn json_groups(groups: &[Group], first: bool) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(groups.len() * 768);
    let mut lists: HashMap<*const Label, Vec<u8>, foldhash::fast::RandomState> = HashMap::default();
    for (i, g) in groups.iter().enumerate() {
        if !(first && i == 0) {
            out.extend_from_slice(b",\n");
        }
        json_group(&mut out, g, &mut lists)?;
    }
    Ok(out)
}

/// One group at the depth of the report's groups (its braces indented 4 spaces, its keys 6).
fn json_group(
    out: &mut Vec<u8>,
    g: &Group,
    lists: &mut HashMap<*const Label, Vec<u8>, foldhash::fast::RandomState>,
) -> anyhow::Result<()> {
    const KEY: &str = "\n      ";
    let e = &g.group;
    out.extend_from_slice(b"    {");
    let key = |out: &mut Vec<u8>, name: &str, first: bool| json_key(out, KEY, name, first);
    if let Some(origin) = &e.origin {
        key(out, "origin", true);
        json_value(out, origin)?;
    }
    key(out, "kind", e.origin.is_none());
    json_value(out, &*e.kind)?;
    key(out, "source_subnet", false);
    json_value(out, &e.source_subnet)?;
    key(out, "protocol", false);
    json_value(out, &e.protocol)?;
    key(out, "destination", false);
    json_value(out, &e.destination)?;
    key(out, "destination_port", false);
    json_value(out, &e.destination_port)?;
    key(out, "hits", false);
    json_value(out, &e.hits)?;
    key(out, "distinct_sources", false);
    json_value(out, &e.distinct_sources)?;
    key(out, "first_seen", false);
    json_time(out, e.first_seen.0);
    key(out, "last_seen", false);
    json_time(out, e.last_seen.0);
    key(out, "example_sources", false);
    json_array(out, &e.example_sources, 6, |out, s| json_value(out, &**s))?;
    key(out, "catalog", false);
    if g.catalog.is_empty() {
        out.extend_from_slice(b"[]");
    } else {
        let list = match lists.entry(g.catalog.as_ptr()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut text = Vec::with_capacity(512 * g.catalog.len());
                json_array(&mut text, &g.catalog, 6, json_label)?;
                e.insert(text)
            }
        };
        out.extend_from_slice(list);
    }
    if let Some(policy) = &g.policy {
        key(out, "policy", false);
        // Rare (`--policy`), and free-form: printed alone and indented to its depth.
        let alone = serde_json::to_vec_pretty(policy)?;
        let mut rest = &alone[..];
        while let Some(n) = memchr::memchr(b'\n', rest) {
            out.extend_from_slice(&rest[..=n]);
            out.extend_from_slice(b"      ");
            rest = &rest[n + 1..];
        }
        out.extend_from_slice(rest);
    }
    out.extend_from_slice(b"\n    }");
    Ok(())
}

/// A catalog label as an element of a group's `catalog` array (braces indented 8 spaces, keys 10); keys in
/// the order [`Label`] serialises them.
fn json_label(out: &mut Vec<u8>, l: &Label) -> anyhow::Result<()> {
    const KEY: &str = "\n          ";
    out.push(b'{');
    json_key(out, KEY, "declared_requirement", true);
    json_value(out, &l.declared_requirement)?;
    json_key(out, KEY, "feature", false);
    json_value(out, &*l.feature)?;
    json_key(out, KEY, "filled_pattern", false);
    json_value(out, &l.filled_pattern)?;
    json_key(out, KEY, "not_needed", false);
    json_value(out, &l.not_needed)?;
    json_key(out, KEY, "note", false);
    json_value(out, &l.note)?;
    json_key(out, KEY, "pattern", false);
    json_value(out, &*l.pattern)?;
    json_key(out, KEY, "requirement", false);
    json_value(out, &l.requirement)?;
    json_key(out, KEY, "retired", false);
    json_value(out, &l.retired)?;
    json_key(out, KEY, "source", false);
    json_value(out, &*l.source)?;
    json_key(out, KEY, "status", false);
    json_value(out, &l.status)?;
    out.extend_from_slice(b"\n        }");
    Ok(())
}

/// `"name": ` on a line of its own starting with `line` (a line break and the indentation), after a comma
/// unless it is the object's first key.
fn json_key(out: &mut Vec<u8>, line: &str, name: &str, first: bool) {
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(line.as_bytes());
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\": ");
}

/// A scalar (string, number, bool, `null`, a unit enum) as serde_json writes it: compact and pretty agree.
fn json_value<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    Ok(())
}

/// A time as [`crate::event::normalize::Timestamp`] serialises it.
fn json_time(out: &mut Vec<u8>, us: i64) {
    out.push(b'"');
    crate::event::normalize::write_time_us(out, us);
    out.push(b'"');
}

/// An array of `items` in a value whose key is indented `depth` spaces: `[]` when empty, else one item per
/// line two spaces deeper.
fn json_array<T>(
    out: &mut Vec<u8>,
    items: &[T],
    depth: usize,
    mut item: impl FnMut(&mut Vec<u8>, &T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if items.is_empty() {
        out.extend_from_slice(b"[]");
        return Ok(());
    }
    const SPACES: &[u8] = b"                ";
    out.push(b'[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'\n');
        out.extend_from_slice(&SPACES[..depth + 2]);
        item(out, x)?;
    }
    out.push(b'\n');
    out.extend_from_slice(&SPACES[..depth]);
    out.push(b']');
    Ok(())
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

fn or_dash(v: &Option<Arc<str>>) -> String {
    v.as_deref().unwrap_or("-").to_string()
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
        g.group.kind.to_string(),
        or_dash(&g.group.source_subnet),
        or_dash(&g.group.protocol),
        g.group
            .destination
            .as_deref()
            .unwrap_or("(none)")
            .to_string(),
        port(g.group.destination_port),
        g.group.hits.to_string(),
        g.group.distinct_sources.to_string(),
        g.group.first_seen.to_string(),
        g.group.last_seen.to_string(),
        g.group.example_sources.join(" "),
        catalog_label(g),
    ]
}

/// The report's groups by origin (`--by-origin`), each as a report of its own, origins in order; `None` when
/// the groups have no origin.
fn by_origin(r: &DenyReport) -> Option<Vec<(String, DenyReport)>> {
    if r.groups.iter().all(|g| g.group.origin.is_none()) {
        return None;
    }
    let mut parts: std::collections::BTreeMap<String, Vec<Group>> = Default::default();
    for g in &r.groups {
        parts
            .entry(g.group.origin.clone().unwrap_or_default())
            .or_default()
            .push(g.clone());
    }
    Some(
        parts
            .into_iter()
            .map(|(origin, groups)| {
                let mut part = r.clone();
                part.groups = groups;
                (origin, part)
            })
            .collect(),
    )
}

/// One table, or one per origin under its name (a column of workspace IDs would crowd out the destinations).
fn tables(r: &DenyReport, layout: &Layout) -> String {
    let one = |r: &DenyReport| {
        if layout.wide() {
            wide_table(r, layout)
        } else {
            compact_table(r, layout)
        }
    };
    match by_origin(r) {
        None => one(r),
        Some(parts) => parts
            .iter()
            .map(|(origin, part)| {
                let hits: u64 = part.groups.iter().map(|g| g.group.hits).sum();
                format!(
                    "{} ({hits} denies in {} groups)\n{}",
                    escape::terminal(origin),
                    part.groups.len(),
                    one(part)
                )
            })
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}

fn table(r: &DenyReport, layout: &Layout, footer: &[String]) -> String {
    let mut out = String::new();
    if r.groups.is_empty() {
        out.push_str("No denied traffic matches.\n");
    } else {
        out.push_str(&tables(r, layout));
        out.push('\n');
    }
    if let Some(policy) = &r.policy {
        out.push_str(&wrap(
            &format!("\nWhy policy {policy} denied them:"),
            layout.width,
        ));
        out.push('\n');
        // Notes every group carries (a base policy not given, …) are said once.
        let notes: Vec<&crate::report::model::PolicyNote> = r
            .groups
            .iter()
            .filter_map(|g| g.policy.as_deref())
            .collect();
        let common: Vec<String> = notes
            .first()
            .map(|first| {
                first
                    .notes
                    .iter()
                    .filter(|n| notes.iter().all(|x| x.notes.contains(n)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for n in &common {
            let text = wrap(
                &escape::terminal(&format!("note: {n}")),
                layout.width.saturating_sub(2),
            );
            out.push_str(&format!("  {}\n", text.replace('\n', "\n    ")));
        }
        for g in &r.groups {
            let Some(note) = &g.policy else { continue };
            let line = format!(
                "{} {} from {}: {}",
                or_dash(&g.group.protocol),
                destination_text(g),
                or_dash(&g.group.source_subnet),
                note.text
            );
            let text = wrap(&escape::terminal(&line), layout.width.saturating_sub(4));
            out.push_str(&format!("  {}\n", text.replace('\n', "\n    ")));
            for n in note.notes.iter().filter(|n| !common.contains(n)) {
                let text = wrap(
                    &escape::terminal(&format!("note: {n}")),
                    layout.width.saturating_sub(6),
                );
                out.push_str(&format!("    {}\n", text.replace('\n', "\n      ")));
            }
        }
        out.push('\n');
    }
    out.push_str(&wrap(&summary(r), layout.width));
    out.push('\n');
    for line in footer {
        out.push_str(&wrap(line, layout.width));
        out.push('\n');
    }
    out
}

/// Every column; short columns keep their full width so only destinations and labels wrap, and narrower
/// widths drop the example sources (they are in every other format).
fn wide_table(r: &DenyReport, layout: &Layout) -> String {
    let mut headers = HEADERS;
    headers[10] = "AKS";
    let mut t = new_table(&headers, layout);
    let rows: Vec<[String; 11]> = r
        .groups
        .iter()
        .map(|g| wide_cells(g).map(|v| escape::terminal(&v).into_owned()))
        .collect();
    for (g, c) in r.groups.iter().zip(&rows) {
        let tone = layout.color.then(|| verdict_color(&verdict(g)));
        t.add_row(c.iter().enumerate().map(|(i, v)| {
            let cell = Cell::new(v);
            let cell = if (4..=6).contains(&i) {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            };
            match tone {
                Some(c) if i == 10 => cell.fg(c),
                _ => cell,
            }
        }));
    }
    for i in 0..HEADERS.len() {
        let Some(col) = t.column_mut(i) else { continue };
        if i == 9 && layout.width < 170 {
            col.set_constraint(ColumnConstraint::Hidden);
            continue;
        }
        // Names and labels (kind, subnet, destination, catalog) share what is left and wrap.
        if matches!(i, 0 | 1 | 3 | 10) {
            continue;
        }
        let widest = rows.iter().map(|c| c[i].chars().count()).max().unwrap_or(0);
        let widest = widest.max(HEADERS[i].split(' ').map(str::len).max().unwrap_or(0));
        // The boundary counts the cell padding (one space each side).
        col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(
            widest.min(16) as u16 + 2,
        )));
    }
    t.to_string()
}

const COMPACT_HEADERS: [&str; 5] = ["Proto", "Destination", "From", "Hits", "AKS"];

/// Five columns that fit 80 characters with each group on one or two lines: protocol, destination and port,
/// source subnet, hits, and what AKS makes of it. The short columns keep their width; the destination takes
/// what is left and breaks after dots, not inside labels.
fn compact_table(r: &DenyReport, layout: &Layout) -> String {
    let rows: Vec<([String; 5], Verdict)> = r
        .groups
        .iter()
        .map(|g| {
            let v = verdict(g);
            let cells = [
                or_dash(&g.group.protocol),
                destination_text(g),
                or_dash(&g.group.source_subnet),
                g.group.hits.to_string(),
                v.to_string(),
            ]
            .map(|c| escape::terminal(&c).into_owned());
            (cells, v)
        })
        .collect();
    let widest = |i: usize| {
        rows.iter()
            .map(|(c, _)| c[i].chars().count())
            .max()
            .unwrap_or(0)
            .max(COMPACT_HEADERS[i].len())
    };
    // Columns have one space of padding on each inner side (none at the table's edges, which have no border)
    // and one space between them.
    let fixed = [
        (0, widest(0).min(6)),
        (2, widest(2).min(26)),
        (3, widest(3).min(10)),
        (4, widest(4).min(19)),
    ];
    let used: usize = fixed.iter().map(|(_, w)| w + 2).sum::<usize>() + 4;
    let dest = usize::from(layout.width)
        .saturating_sub(used)
        .clamp(16, widest(1).max(16));
    let mut t = new_table(&COMPACT_HEADERS, layout);
    crate::render::table::without_vertical_lines(&mut t);
    for (cells, v) in &rows {
        t.add_row(cells.iter().enumerate().map(|(i, c)| match i {
            1 => Cell::new(break_name(c, dest)),
            3 => Cell::new(c).set_alignment(CellAlignment::Right),
            4 if layout.color => Cell::new(c).fg(verdict_color(v)),
            _ => Cell::new(c),
        }));
    }
    for (i, w) in fixed.into_iter().chain([(1, dest)]) {
        if let Some(col) = t.column_mut(i) {
            let edge = u16::from(i == 0 || i == 4);
            col.set_padding((1 - u16::from(i == 0), 1 - u16::from(i == 4)));
            col.set_constraint(ColumnConstraint::Absolute(Width::Fixed(
                w as u16 + 2 - edge,
            )));
        }
    }
    t.to_string()
}

/// A host name in lines of at most `width` characters, broken after a `.` or `:` where possible.
fn break_name(name: &str, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for piece in name.split_inclusive(['.', ':']) {
        if !line.is_empty() && line.chars().count() + piece.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        line.push_str(piece);
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            line = line.chars().skip(width).collect();
            lines.push(head);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines.join("\n")
}

/// `host:port`, `[v6]:port`, or what the log lacked.
fn destination_text(g: &Group) -> String {
    match (&g.group.destination, g.group.destination_port) {
        (Some(d), Some(p)) if d.contains(':') => format!("[{d}]:{p}"),
        (Some(d), Some(p)) => format!("{d}:{p}"),
        (Some(d), None) => d.to_string(),
        (None, _) => "(no SNI: called an IP)".to_string(),
    }
}

/// Every column, with times to the second without the year and the verdict instead of every label.
fn wide_cells(g: &Group) -> [String; 11] {
    let mut c = cells(g);
    c[7] = short_time(&g.group.first_seen.to_string());
    c[8] = short_time(&g.group.last_seen.to_string());
    c[10] = verdict(g).to_string();
    c
}

/// `2026-09-07T09:00:07.919000Z` → `09-07 09:00:07`.
fn short_time(t: &str) -> String {
    t.get(5..19)
        .map(|s| s.replacen('T', " ", 1))
        .unwrap_or_else(|| t.to_string())
}

/// Colour of the verdict on a terminal: required red, needed-for-a-feature yellow, recommended cyan, the rest
/// grey.
fn verdict_color(v: &Verdict) -> Color {
    match v {
        Verdict::Required => Color::Red,
        Verdict::NeededFor(_) => Color::Yellow,
        Verdict::Recommended => Color::Cyan,
        _ => Color::DarkGrey,
    }
}

fn markdown(r: &DenyReport, footer: &[String]) -> String {
    let mut out = String::from("# Denied traffic\n\n");
    out.push_str(&summary(r));
    out.push_str("\n\n");
    for line in footer {
        out.push_str(&escape::markdown(line));
        out.push_str("\n\n");
    }
    if r.groups.is_empty() {
        out.push_str("No denied traffic matches.\n");
        return out;
    }
    let origins = by_origin(r).is_some();
    let mut headers = HEADERS.to_vec();
    if origins {
        headers.insert(0, "Origin");
    }
    if r.policy.is_some() {
        headers.push("Why (policy)");
    }
    out.push_str(&format!("| {} |\n", headers.join(" | ")));
    out.push_str(&format!("|{}\n", "---|".repeat(headers.len())));
    for g in &r.groups {
        let mut c: Vec<String> = cells(g).iter().map(|v| escape::markdown(v)).collect();
        if origins {
            c.insert(0, escape::markdown(g.group.origin.as_deref().unwrap_or("")));
        }
        if r.policy.is_some() {
            c.push(escape::markdown(
                g.policy.as_ref().map_or("-", |p| p.text.as_str()),
            ));
        }
        out.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    out
}

/// CSV (`,`) or TSV (tab): one header line, one line per group.
fn delimited(r: &DenyReport, delimiter: u8) -> anyhow::Result<Vec<u8>> {
    let mut w = ::csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_writer(Vec::new());
    // The origin leads when the report keeps origins apart (`--by-origin`); other reports keep their columns.
    let origins = by_origin(r).is_some();
    let mut header = vec![
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
    ];
    if origins {
        header.insert(0, "origin");
    }
    if r.policy.is_some() {
        header.push("policy");
    }
    w.write_record(&header)?;
    for g in &r.groups {
        let origin = origins.then(|| g.group.origin.clone().unwrap_or_default());
        let policy = r.policy.is_some().then(|| {
            g.policy
                .as_ref()
                .map(|p| p.text.clone())
                .unwrap_or_default()
        });
        w.write_record(
            origin
                .into_iter()
                .chain([
                    g.group.kind.to_string(),
                    g.group
                        .source_subnet
                        .as_deref()
                        .unwrap_or_default()
                        .to_string(),
                    g.group.protocol.as_deref().unwrap_or_default().to_string(),
                    g.group
                        .destination
                        .as_deref()
                        .unwrap_or_default()
                        .to_string(),
                    g.group
                        .destination_port
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    g.group.hits.to_string(),
                    g.group.distinct_sources.to_string(),
                    g.group.first_seen.to_string(),
                    g.group.last_seen.to_string(),
                    g.group.example_sources.join(" "),
                    if g.catalog.is_empty() {
                        String::new()
                    } else {
                        catalog_label(g)
                    },
                ])
                .chain(policy)
                .map(|v| escape::csv_cell(&v).into_owned()),
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
            Column::new("kind".into(), strs(&|x| Some(x.group.kind.to_string()))),
            Column::new(
                "source_subnet".into(),
                strs(&|x| x.group.source_subnet.as_deref().map(str::to_string)),
            ),
            Column::new(
                "protocol".into(),
                strs(&|x| x.group.protocol.as_deref().map(str::to_string)),
            ),
            Column::new(
                "destination".into(),
                strs(&|x| x.group.destination.as_deref().map(str::to_string)),
            ),
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
                strs(&|x| Some(x.group.first_seen.to_string())),
            ),
            Column::new(
                "last_seen".into(),
                strs(&|x| Some(x.group.last_seen.to_string())),
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
    if by_origin(r).is_some() {
        df.insert_column(
            0,
            Column::new("origin".into(), strs(&|x| x.group.origin.clone())),
        )?;
    }
    let mut buf = Cursor::new(Vec::new());
    ParquetWriter::new(&mut buf).finish(&mut df)?;
    Ok(buf.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::context::ClusterSpec;

    fn report(origins: &[Option<&str>]) -> DenyReport {
        let groups = origins
            .iter()
            .enumerate()
            .map(|(i, o)| crate::engine::Group {
                origin: o.map(str::to_string),
                kind: "application".into(),
                source_subnet: Some("10.0.0.0/24".into()),
                protocol: Some("HTTPS".into()),
                destination: Some(format!("host{i}.example.com").into()),
                destination_port: Some(443),
                hits: 10 - i as u64,
                distinct_sources: 1,
                first_seen: crate::event::normalize::Timestamp::parse("2026-09-07T09:00:00Z")
                    .unwrap(),
                last_seen: crate::event::normalize::Timestamp::parse("2026-09-07T09:10:00Z")
                    .unwrap(),
                example_sources: vec!["10.0.0.4".into()],
            })
            .collect();
        report_of(groups)
    }

    /// A report of `groups` with the default catalog, no window and no statistics.
    fn report_of(groups: Vec<crate::engine::Group>) -> DenyReport {
        let (catalog, ctx) = ClusterSpec::default().resolve().unwrap();
        crate::report::build(
            &crate::query::Window::default(),
            None,
            groups,
            &crate::event::stats::ReadStats::default(),
            Vec::new(),
            &catalog,
            &ctx,
        )
        .unwrap()
    }

    /// The groups printed in parallel chunks are the bytes serde_json prints for the whole report, whatever
    /// the chunk size, with names that need escaping, catalog labels (nested arrays) and the optional fields.
    #[test]
    fn json_in_chunks_is_the_whole_report_printed_at_once() {
        let hosts = [
            "mcr.microsoft.com",
            "a\"b\n  \"groups\": []",
            "\u{202e}evil\\.com",
            "login.microsoftonline.com",
        ];
        let groups = (0..12)
            .map(|i| crate::engine::Group {
                origin: (i >= 10).then(|| format!("fw-{i}")),
                kind: "application".into(),
                source_subnet: Some("10.0.0.0/24".into()),
                protocol: Some("HTTPS".into()),
                destination: Some(hosts[i % hosts.len()].into()),
                destination_port: (i != 4).then_some(443),
                hits: 100 - i as u64,
                distinct_sources: 1,
                first_seen: crate::event::normalize::Timestamp::parse("2026-09-07T09:00:00Z")
                    .unwrap(),
                last_seen: crate::event::normalize::Timestamp::parse("2026-09-07T09:10:00Z")
                    .unwrap(),
                example_sources: vec!["10.0.0.4".into(), "\u{1b}[31m".into()],
            })
            .collect();
        let mut r = report_of(groups);
        r.policy = Some("pol\"icy".into());
        // A list equal to another but its own copy, and policy notes (a field after the catalog).
        r.groups[8].catalog = r.groups[0].catalog.to_vec().into();
        // Missing values and every optional label text, each way.
        r.groups[5].group.example_sources.clear();
        r.groups[5].group.destination = None;
        r.groups[6].group.source_subnet = None;
        r.groups[6].group.protocol = None;
        r.groups[7].group.last_seen = crate::event::normalize::Timestamp(1_692_776_050_123_456);
        let mut odd = r.groups[0].catalog.to_vec();
        odd[0].not_needed = Some("not \"needed\"\u{7}".into());
        odd[0].note = None;
        odd[0].retired = true;
        odd.push(odd[0].clone());
        r.groups[9].catalog = odd.into();
        for i in [0, 3, 8] {
            r.groups[i].policy = Some(Box::new(crate::report::model::PolicyNote {
                explanation: serde_json::json!({"catalog": [], "rule": "deny \"all\"\n  \"catalog\": []"}),
                text: format!("note {i}"),
                notes: vec!["an IP Group was not given".into()],
            }));
        }
        let labelled = r.groups.iter().filter(|g| !g.catalog.is_empty()).count();
        assert!(labelled >= 6, "{labelled} groups with labels");
        assert!(r.groups[0].catalog.as_ptr() == r.groups[4].catalog.as_ptr());
        assert!(r.groups[0].catalog.as_ptr() != r.groups[8].catalog.as_ptr());
        let whole = format!("{}\n", serde_json::to_string_pretty(&r).unwrap());
        assert!(
            whole.contains("\"catalog\": [\n"),
            "labels make nested arrays"
        );
        let before = r.clone();
        for chunk in [1, 2, 3, 5, 11, 12, 100] {
            let mut out = Vec::new();
            write_json_chunked(&mut r, &mut out, chunk).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), whole, "chunk {chunk}");
            assert_eq!(r, before);
        }
        let mut empty = report(&[]);
        let mut out = Vec::new();
        write_json_chunked(&mut empty, &mut out, 1).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{}\n", serde_json::to_string_pretty(&empty).unwrap())
        );
    }

    fn text(r: &DenyReport, f: ReportFormat) -> String {
        let layout = Layout {
            width: 200,
            color: false,
            terminal: false,
        };
        String::from_utf8(render(r, f, &layout, &[]).unwrap()).unwrap()
    }

    /// Origins appear only when a report keeps them apart: as a leading column, or a table per origin.
    #[test]
    fn origins_show_only_in_reports_by_origin() {
        let plain = report(&[None, None]);
        assert!(!text(&plain, ReportFormat::Json).contains("origin"));
        assert!(text(&plain, ReportFormat::Csv).starts_with("kind,"));
        let by = report(&[Some("ws-b"), Some("ws-a"), Some("ws-b")]);
        let json = text(&by, ReportFormat::Json);
        assert!(json.contains("\"origin\": \"ws-b\""), "{json}");
        let csv = text(&by, ReportFormat::Csv);
        assert!(csv.starts_with("origin,kind,"), "{csv}");
        assert!(
            csv.lines().nth(1).unwrap().starts_with("ws-b,application,"),
            "{csv}"
        );
        let md = text(&by, ReportFormat::Markdown);
        assert!(md.contains("| Origin | Kind |"), "{md}");
        let table = text(&by, ReportFormat::Table);
        let (a, b) = (
            table.find("ws-a (9 denies in 1 groups)"),
            table.find("ws-b (18 denies in 2 groups)"),
        );
        assert!(a.is_some() && b.is_some() && a < b, "{table}");
    }
}
