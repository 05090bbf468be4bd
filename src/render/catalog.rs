//! `fwlog catalog list | match | features` output: a table or JSON.

use std::fmt::Write as _;

use super::CatalogFormat;
use super::table::{Layout, new_table};
use crate::catalog::context::Context;
use crate::catalog::summary::FeatureSummary;
use crate::catalog::{CatalogMatch, Origin};

fn protocols_text(m: &CatalogMatch<'_>) -> String {
    m.entry
        .protocols
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn json_bytes(v: &impl serde::Serialize) -> anyhow::Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v)?;
    out.push(b'\n');
    Ok(out)
}

/// The requirement for this cluster, with the declared one when the context changed it.
fn requirement_text(m: &CatalogMatch<'_>) -> String {
    let mut req = m.requirement.to_string();
    if m.requirement != m.entry.requirement {
        req.push_str(&format!(" (declared {})", m.entry.requirement));
    }
    req
}

/// `catalog list`: entries with their requirement for the described cluster.
pub fn list(
    rows: &[CatalogMatch<'_>],
    ctx: &Context,
    version: &str,
    format: CatalogFormat,
    layout: &Layout,
) -> anyhow::Result<Vec<u8>> {
    if format == CatalogFormat::Json {
        return json_bytes(&rows);
    }
    let mut t = new_table(
        &[
            "pattern",
            "protocols",
            "feature",
            "requirement",
            "status",
            "id",
        ],
        layout,
    );
    for m in rows {
        t.add_row(vec![
            m.filled_pattern.to_string(),
            protocols_text(m),
            m.entry.feature.clone(),
            requirement_text(m),
            m.entry.status.to_string(),
            m.entry.id.clone(),
        ]);
    }
    let mut out = String::new();
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "{} entries (cloud {}; catalog {version})",
        rows.len(),
        ctx.cloud
    )?;
    Ok(out.into_bytes())
}

/// What `catalog match` was asked about.
pub struct Target<'a> {
    pub host: &'a str,
    pub port: Option<u32>,
    pub protocol: Option<&'a str>,
}

/// `catalog match`: every entry a destination matches, most specific first, explained.
pub fn matches(
    target: &Target<'_>,
    matches: &[CatalogMatch<'_>],
    ctx: &Context,
    version: &str,
    format: CatalogFormat,
) -> anyhow::Result<Vec<u8>> {
    let Target {
        host,
        port,
        protocol,
    } = *target;
    if format == CatalogFormat::Json {
        return json_bytes(&serde_json::json!({
            "destination": host,
            "port": port,
            "protocol": protocol,
            "cloud": ctx.cloud,
            "catalog_version": version,
            "catalog": matches,
        }));
    }
    let what = match (port, protocol) {
        (Some(p), Some(pr)) => format!("{host} ({pr}/{p})"),
        (Some(p), None) => format!("{host}:{p}"),
        (None, Some(pr)) => format!("{host} ({pr})"),
        (None, None) => host.to_string(),
    };
    let mut out = String::new();
    if matches.is_empty() {
        writeln!(
            out,
            "{what}: not in the catalog (cloud {}; catalog {version})",
            ctx.cloud
        )?;
        return Ok(out.into_bytes());
    }
    writeln!(
        out,
        "{what}: {} catalog match{} (cloud {}; catalog {version}), most specific first",
        matches.len(),
        if matches.len() == 1 { "" } else { "es" },
        ctx.cloud,
    )?;
    for (i, m) in matches.iter().enumerate() {
        let e = m.entry;
        writeln!(out)?;
        writeln!(out, "{}. {}  [{}]", i + 1, e.pattern, e.id)?;
        if m.filled_pattern != e.pattern {
            writeln!(out, "   filled pattern: {}", m.filled_pattern)?;
        }
        writeln!(out, "   feature:        {}", e.feature)?;
        writeln!(out, "   requirement:    {}", requirement_text(m))?;
        if let Some(why) = m.not_needed {
            writeln!(out, "   not needed:     {why}")?;
        }
        writeln!(out, "   status:         {}", e.status)?;
        writeln!(out, "   protocols:      {}", protocols_text(m))?;
        if !m.captures.is_empty() {
            let caps: Vec<String> = m.captures.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(out, "   captures:       {}", caps.join(", "))?;
        }
        if !e.expressible_as_rule {
            writeln!(
                out,
                "   rule:           not expressible as an Azure Firewall rule (labelling only)"
            )?;
        }
        if let Some(r) = &e.replaced_by {
            writeln!(out, "   replaced by:    {r}")?;
        }
        for n in &m.context_notes {
            writeln!(out, "   context:        {n}")?;
        }
        if let Some(note) = &e.note {
            writeln!(out, "   note:           {note}")?;
        }
        writeln!(out, "   source:         {}", e.source)?;
        if !matches!(e.origin, Origin::Builtin) {
            writeln!(out, "   from:           {}:{}", e.origin, e.line)?;
        }
    }
    Ok(out.into_bytes())
}

/// `catalog features`: the feature names usable with `--features`.
pub fn features(
    rows: &[FeatureSummary<'_>],
    format: CatalogFormat,
    layout: &Layout,
) -> anyhow::Result<Vec<u8>> {
    if format == CatalogFormat::Json {
        return json_bytes(&rows);
    }
    let mut t = new_table(&["feature", "entries", "clouds", "description"], layout);
    for r in rows {
        t.add_row(vec![
            r.name.to_string(),
            r.entries.to_string(),
            r.clouds.join(", "),
            r.description.to_string(),
        ]);
    }
    let mut out = String::new();
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "Use --features a,b to mark features in use: their conditional entries become required."
    )?;
    Ok(out.into_bytes())
}
