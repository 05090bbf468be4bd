//! The deny report: the engine's groups, cut to `--top`, labelled with the catalog, with what the sources saw
//! ([`model`] is the JSON contract). Pure: no I/O, no formats — renderers live in `crate::render`.

pub mod changes;
pub mod model;

use crate::catalog::Catalog;
use crate::catalog::context::Context;
use crate::engine::{Group, Groups};
use crate::event::normalize::format_time_us;
use crate::event::stats::ReadStats;
use crate::query::Window;
use model::{DenyReport, EntryTexts, Label, Labels, ReportGroup};
use std::collections::{HashMap, HashSet};

/// What a group's catalog labels depend on: destination, port and protocol.
type LabelKey<'a> = (Option<&'a str>, Option<u32>, Option<&'a str>);

/// Build the report from groups (sorted by the engine) and what the source read. Every group is labelled (the
/// counts of denies AKS needs cover all of them); `top` then keeps the first ones. Groups still to be made are
/// made into report groups chunk by chunk, so the engine's groups and the report's are never all held at once.
pub fn build(
    window: &Window,
    top: Option<usize>,
    groups: impl Into<Groups>,
    stats: &ReadStats,
    sources: Vec<String>,
    catalog: &Catalog,
    ctx: &Context,
) -> anyhow::Result<DenyReport> {
    let unlabelled = Labels::default();
    let mut labelled: Vec<ReportGroup> = Vec::new();
    groups.into().for_each_chunk(&mut |total, chunk| {
        if labelled.is_empty() {
            labelled.reserve_exact(total);
        }
        labelled.extend(chunk.into_iter().map(|group| ReportGroup {
            group,
            catalog: unlabelled.clone(),
            policy: None,
        }));
        Ok(())
    })?;
    let total_groups = labelled.len() as u64;
    let denies = labelled
        .iter()
        .map(|g| g.group.hits)
        .fold(0, u64::saturating_add);
    let (mut required_denies, mut needed_denies) = (0u64, 0u64);
    // The labels and the verdict depend on the destination, port and protocol only: each is worked out once,
    // on every core (a catalog lookup per key; a week of random-subdomain hosts makes 100k keys).
    {
        let mut index: HashMap<LabelKey<'_>, u32, foldhash::fast::RandomState> = HashMap::default();
        let mut keys: Vec<LabelKey<'_>> = Vec::new();
        let key_of: Vec<u32> = labelled
            .iter()
            .map(|g| {
                let g = &g.group;
                let key = (
                    g.destination.as_deref(),
                    g.destination_port,
                    g.protocol.as_deref(),
                );
                *index.entry(key).or_insert_with(|| {
                    keys.push(key);
                    (keys.len() - 1) as u32
                })
            })
            .collect();
        drop(index);
        let chunks: Vec<&[LabelKey<'_>]> = keys.chunks(LABEL_CHUNK).collect();
        // Destinations of one kind get equal lists (every random-subdomain host of a wildcard entry: 108k
        // destinations, 12 distinct lists in a week's data); each list is kept once (60 MB at 100M rows).
        let mut lists: HashSet<Labels, foldhash::fast::RandomState> = HashSet::default();
        let mut per_key: Vec<(Labels, bool, bool)> = Vec::with_capacity(keys.len());
        crate::parallel::ordered(
            chunks.len(),
            |i| {
                let mut texts = EntryTexts::default();
                Ok(chunks[i]
                    .iter()
                    .map(|&(destination, port, protocol)| {
                        let list =
                            labels_for(destination, port, protocol, catalog, ctx, &mut texts);
                        let v = verdict_of(destination, &list);
                        (list, v == Verdict::Required, v.wants_rule())
                    })
                    .collect::<Vec<_>>())
            },
            |_, part| {
                for (list, required, wanted) in part {
                    let labels = match lists.get(list.as_slice()) {
                        Some(same) => same.clone(),
                        None => {
                            let new = Labels::from(list);
                            lists.insert(new.clone());
                            new
                        }
                    };
                    per_key.push((labels, required, wanted));
                }
                Ok(())
            },
        )?;
        drop(lists);
        drop(chunks);
        drop(keys);
        for (g, &k) in labelled.iter_mut().zip(&key_of) {
            let (labels, required, wanted) = &per_key[k as usize];
            if *required {
                required_denies = required_denies.saturating_add(g.group.hits);
            }
            if *wanted {
                needed_denies = needed_denies.saturating_add(g.group.hits);
            }
            g.catalog = labels.clone();
        }
    }
    if let Some(n) = top {
        labelled.truncate(n);
    }
    Ok(DenyReport {
        from: window.from_us.map(format_time_us),
        to: window.to_us.map(format_time_us),
        events: stats.events,
        denies,
        skipped: stats.skipped,
        groups: labelled,
        events_in_window: stats.events_in_window,
        total_groups,
        duplicates: stats.duplicates,
        unparsed: stats.unparsed,
        skipped_by_reason: stats.skipped_by_reason.clone(),
        data_from: stats.first_us.map(format_time_us),
        data_to: stats.last_us.map(format_time_us),
        sources,
        required_denies,
        needed_denies,
        policy: None,
    })
}

/// The flow a group of denies stands for, as the policy evaluator takes it: application or network, its
/// protocol, the source subnet, destination and port. `None` for kinds no filter rule decides (threat
/// intelligence, IDPS, …) and sources that are not addresses.
pub fn flow_of(g: &Group) -> Option<crate::policy::Flow> {
    use crate::policy::{Flow, FlowKind};
    let kind = match &*g.kind {
        "application" => FlowKind::Application,
        "network" => FlowKind::Network,
        _ => return None,
    };
    let source = g.source_subnet.as_deref()?;
    let source = source
        .parse::<ipnet::IpNet>()
        .or_else(|_| source.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .ok()?;
    Some(Flow {
        kind,
        protocol: g.protocol.as_deref().unwrap_or_default().to_string(),
        source,
        destination: g.destination.as_deref().map(str::to_string),
        port: g.destination_port.and_then(|p| u16::try_from(p).ok()),
        last_seen_us: Some(g.last_seen.0),
    })
}

/// Explain every shown group against the user's policy (why the policy denied it).
pub fn explain_against(
    report: &mut DenyReport,
    inputs: &crate::policy::PolicyInputs,
    catalog: &Catalog,
    ctx: &Context,
) {
    let env = crate::policy::Env::new(inputs, catalog, ctx);
    for g in &mut report.groups {
        if let Some(flow) = flow_of(&g.group) {
            let x = crate::policy::explain(&inputs.policy, &flow, &env);
            g.policy = Some(Box::new(model::PolicyNote::of(&x.explanation, x.notes)));
        }
    }
    report.policy = Some(inputs.policy.name.clone());
}

/// Keys labelled per task by [`build`].
const LABEL_CHUNK: usize = 512;

/// The catalog entries a destination, port and protocol match, most specific first. A destination
/// that is not a valid host name matches nothing: a name chosen inside the cluster must not borrow an entry's
/// standing (`*.evil.microsoft.com` is not Azure Backup's `*.microsoft.com`).
fn labels_for<'c>(
    destination: Option<&str>,
    port: Option<u32>,
    protocol: Option<&str>,
    catalog: &'c Catalog,
    ctx: &Context,
    texts: &mut EntryTexts<'c>,
) -> Vec<Label> {
    if destination.is_some_and(|d| !crate::event::normalize::is_valid_host(d)) {
        return Vec::new();
    }
    catalog
        .lookup(destination, port, protocol, ctx)
        .iter()
        .map(|m| Label::of(m, texts))
        .collect()
}

/// What a deny group means for the cluster, in the words a user acts on: the most relevant catalog label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// AKS needs it (a required entry, or a conditional one of a feature in use).
    Required,
    /// Needed when this feature is in use.
    NeededFor(String),
    /// Optional but advised.
    Recommended,
    /// Known traffic whose denial is harmless, or an endpoint this cluster does not need.
    NoRuleNeeded,
    /// A known service AKS does not need.
    NotAks,
    /// No catalog entry.
    NotInCatalog,
    /// A destination that is not a valid host name.
    InvalidName,
}

impl Verdict {
    /// Whether the deny is to an endpoint AKS needs or advises (what `recommend` writes rules for).
    pub fn wants_rule(&self) -> bool {
        matches!(
            self,
            Verdict::Required | Verdict::NeededFor(_) | Verdict::Recommended
        )
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Required => f.write_str("required"),
            Verdict::NeededFor(feature) => write!(f, "needed for {feature}"),
            Verdict::Recommended => f.write_str("recommended"),
            Verdict::NoRuleNeeded => f.write_str("no rule needed"),
            Verdict::NotAks => f.write_str("not AKS"),
            Verdict::NotInCatalog => f.write_str("not in catalog"),
            Verdict::InvalidName => f.write_str("not a valid host name"),
        }
    }
}

/// The verdict of a group: required if any live label says so, else recommended if any does, else the most
/// specific live label decides (a conditional label names its feature and how many others also list it).
pub fn verdict(g: &ReportGroup) -> Verdict {
    verdict_of(g.group.destination.as_deref(), &g.catalog)
}

/// The verdict of a destination with its labels (all a group's verdict depends on).
fn verdict_of(destination: Option<&str>, catalog: &[Label]) -> Verdict {
    use crate::catalog::Requirement as R;
    if destination.is_some_and(|d| !crate::event::normalize::is_valid_host(d)) {
        return Verdict::InvalidName;
    }
    let live: Vec<&Label> = catalog.iter().filter(|l| !l.retired).collect();
    if catalog.is_empty() {
        return Verdict::NotInCatalog;
    }
    if live.iter().any(|l| l.requirement == R::Required) {
        return Verdict::Required;
    }
    if live.iter().any(|l| l.requirement == R::Recommended) {
        return Verdict::Recommended;
    }
    let Some(first) = live.first() else {
        return Verdict::NoRuleNeeded;
    };
    match first.requirement {
        R::Conditional => {
            let mut features: Vec<&str> = live
                .iter()
                .filter(|l| l.requirement == R::Conditional)
                .map(|l| &*l.feature)
                .collect();
            features.dedup();
            Verdict::NeededFor(match features.len() {
                0 | 1 => first.feature.to_string(),
                n => format!("{} +{}", first.feature, n - 1),
            })
        }
        R::NonAks => Verdict::NotAks,
        _ => Verdict::NoRuleNeeded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::context::ClusterSpec;

    /// The report of `groups` with no window and no statistics.
    fn report_of(
        top: Option<usize>,
        groups: Vec<Group>,
        catalog: &Catalog,
        ctx: &Context,
    ) -> DenyReport {
        build(
            &Window::default(),
            top,
            groups,
            &ReadStats::default(),
            Vec::new(),
            catalog,
            ctx,
        )
        .unwrap()
    }

    fn group(destination: &str, hits: u64) -> Group {
        Group {
            origin: None,
            kind: "application".into(),
            source_subnet: Some("10.0.0.0/24".into()),
            protocol: Some("HTTPS".into()),
            destination: Some(destination.into()),
            destination_port: Some(443),
            hits,
            distinct_sources: 1,
            first_seen: crate::event::normalize::Timestamp::parse("2026-09-07T09:00:00Z").unwrap(),
            last_seen: crate::event::normalize::Timestamp::parse("2026-09-07T09:10:00Z").unwrap(),
            example_sources: vec!["10.0.0.4".into()],
        }
    }

    /// Destinations with equal label lists share one list (random subdomains of one wildcard entry), and the
    /// verdict counts worked out once per destination are those of `verdict` on every group.
    #[test]
    fn equal_label_lists_are_shared_and_counts_match_verdicts() {
        let (catalog, ctx) = ClusterSpec::default().resolve().unwrap();
        let groups = vec![
            group(
                "0f3c1c7e00004000800000000000aa01.ods.opinsights.azure.com",
                9,
            ),
            group("mcr.microsoft.com", 8),
            group(
                "77aa1c7e00004000800000000000bb02.ods.opinsights.azure.com",
                7,
            ),
            group("login.microsoftonline.com", 6),
            group("not-in-any-catalog.example", 5),
            group("bad name!", 4),
        ];
        let r = report_of(Some(2), groups.clone(), &catalog, &ctx);
        let all = report_of(None, groups, &catalog, &ctx);
        let (a, b) = (&all.groups[0].catalog, &all.groups[2].catalog);
        assert!(!a.is_empty());
        assert!(std::ptr::eq(a.as_ptr(), b.as_ptr()), "one shared list");
        assert!(!std::ptr::eq(a.as_ptr(), all.groups[1].catalog.as_ptr()));
        let sum = |keep: &dyn Fn(&Verdict) -> bool| -> u64 {
            all.groups
                .iter()
                .filter(|g| keep(&verdict(g)))
                .map(|g| g.group.hits)
                .sum()
        };
        assert_eq!(all.required_denies, sum(&|v| *v == Verdict::Required));
        assert_eq!(all.needed_denies, sum(&|v| v.wants_rule()));
        assert!(all.required_denies > 0 && all.needed_denies > all.required_denies);
        // `--top` cuts the groups shown, not the counts.
        assert_eq!(r.groups.len(), 2);
        assert_eq!(
            (r.required_denies, r.needed_denies, r.total_groups),
            (all.required_denies, all.needed_denies, 6)
        );
    }

    /// A report built from groups the engine hands over chunk by chunk is the report of the same groups made
    /// first.
    #[test]
    fn groups_made_chunk_by_chunk_make_the_same_report() {
        let (catalog, ctx) = ClusterSpec::default().resolve().unwrap();
        let tally = crate::engine::tests::tally_of_many_groups(20_000);
        let agg = || {
            let mut a = crate::engine::DenyAggregator::new(crate::query::Query::default());
            a.add_tally(tally.clone());
            a
        };
        let made = report_of(Some(50), agg().finish().unwrap(), &catalog, &ctx);
        let chunked = build(
            &Window::default(),
            Some(50),
            Groups::Pending(Box::new(agg())),
            &ReadStats::default(),
            Vec::new(),
            &catalog,
            &ctx,
        )
        .unwrap();
        assert_eq!(chunked, made);
        let more = (0..20_000).filter(|i| i % 5 == 0 && i % 3 != 0).count();
        assert_eq!(made.total_groups as usize, 20_000 + more);
    }

    /// Keys are labelled in chunks on every core: across chunks, each group still gets the labels `labels_for`
    /// gives it alone, equal lists stay one list, and a destination met again (another port or subnet) gets
    /// its own key's labels.
    #[test]
    fn labels_worked_out_in_chunks_are_each_groups_own() {
        let (catalog, ctx) = ClusterSpec::default().resolve().unwrap();
        let n = LABEL_CHUNK * 2 + 77;
        let groups: Vec<Group> = (0..n)
            .map(|i| {
                let mut g = match i % 4 {
                    0 => group(&format!("{i:032x}.ods.opinsights.azure.com"), 1),
                    1 => group(&format!("{i:024x}.blob.core.windows.net"), 1),
                    2 => group("mcr.microsoft.com", 1),
                    _ => group(&format!("host-{i}.example"), 1),
                };
                g.destination_port = Some(if i % 3 == 0 { 443 } else { 80 });
                g
            })
            .collect();
        let report = report_of(None, groups.clone(), &catalog, &ctx);
        let mut texts = EntryTexts::default();
        for (g, r) in groups.iter().zip(&report.groups) {
            assert_eq!(g.destination, r.group.destination);
            assert_eq!(
                *r.catalog,
                *labels_for(
                    g.destination.as_deref(),
                    g.destination_port,
                    g.protocol.as_deref(),
                    &catalog,
                    &ctx,
                    &mut texts
                ),
                "{:?}",
                g.destination
            );
        }
        let ods = |i: usize| &report.groups[i].catalog;
        assert!(!ods(0).is_empty());
        // The same entry and port, in the last chunk.
        let last = (n - 1) / 12 * 12;
        assert!(last >= 2 * LABEL_CHUNK);
        assert!(
            std::ptr::eq(ods(0).as_ptr(), ods(last).as_ptr()),
            "one list across chunks"
        );
    }
}
