//! The deny report: the engine's groups, cut to `--top`, labelled with the catalog, with what the sources saw
//! ([`model`] is the JSON contract). Pure: no I/O, no formats — renderers live in `crate::render`.

pub mod changes;
pub mod model;

use crate::catalog::Catalog;
use crate::catalog::context::Context;
use crate::engine::Group;
use crate::event::normalize::format_time_us;
use crate::event::stats::ReadStats;
use crate::query::Window;
use model::{DenyReport, Label, ReportGroup};

/// Build the report from groups (sorted by the engine) and what the source read; only the groups kept by
/// `top` are labelled.
pub fn build(
    window: &Window,
    top: Option<usize>,
    mut groups: Vec<Group>,
    stats: &ReadStats,
    sources: Vec<String>,
    catalog: &Catalog,
    ctx: &Context,
) -> DenyReport {
    let total_groups = groups.len() as u64;
    let denies = groups.iter().map(|g| g.hits).fold(0, u64::saturating_add);
    if let Some(n) = top {
        groups.truncate(n);
    }
    DenyReport {
        from: window.from_us.map(format_time_us),
        to: window.to_us.map(format_time_us),
        events: stats.events,
        denies,
        skipped: stats.skipped,
        groups: groups
            .into_iter()
            .map(|g| {
                let catalog = labels(&g, catalog, ctx);
                ReportGroup { group: g, catalog }
            })
            .collect(),
        events_in_window: stats.events_in_window,
        total_groups,
        duplicates: stats.duplicates,
        unparsed: stats.unparsed,
        skipped_by_reason: stats.skipped_by_reason.clone(),
        data_from: stats.first_us.map(format_time_us),
        data_to: stats.last_us.map(format_time_us),
        sources,
    }
}

/// The catalog entries a group's destination, port and protocol match, most specific first. A destination
/// that is not a valid host name matches nothing: a name chosen inside the cluster must not borrow an entry's
/// standing (`*.evil.microsoft.com` is not Azure Backup's `*.microsoft.com`).
pub fn labels(g: &Group, catalog: &Catalog, ctx: &Context) -> Vec<Label> {
    if g.destination
        .as_deref()
        .is_some_and(|d| !crate::event::normalize::is_valid_host(d))
    {
        return Vec::new();
    }
    catalog
        .lookup(
            g.destination.as_deref(),
            g.destination_port,
            g.protocol.as_deref(),
            ctx,
        )
        .iter()
        .map(Label::of)
        .collect()
}
