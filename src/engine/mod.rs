//! The analysis engine: deny grouping.
//!
//! Denies arrive as [`DenyTally`]s — hits and first/last seen per distinct (kind, protocol, destination, port,
//! source), keyed by interned ids, filled by the readers on the threads that read them — or as canonical
//! batches (Log Analytics), which are tallied here. Tallies merge exactly (sums, minima, maxima), so memory is
//! bounded by the number of distinct (group, source) pairs, not by the number of events; the final step
//! ([`DenyAggregator::finish`]) works out each distinct source's text, subnet and order once, applies the
//! query's filters per distinct pair, and turns the pairs into [`Group`]s with distinct sources and examples.
//! The engine sees only the canonical schema, the tally and the [`Query`]; it knows nothing of files, services
//! or formats.

use std::cmp::Reverse;
use std::collections::HashMap;

type Fast = foldhash::fast::RandomState;
use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context as _;
use polars::prelude::*;

use serde::{Deserialize, Serialize};

use crate::event::tally::{DenyTally, Flow, NONE};
use crate::event::{self as ev, Kind, normalize::Timestamp};
use crate::query::Query;

/// Denied traffic of one (kind, source subnet, protocol, destination, destination port), as reports show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The workspace or cluster database the group was read from, when a report keeps origins apart
    /// (`deny-report --by-origin`); absent otherwise, so other reports keep their shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    // The texts are shared (`Arc<str>`): a week of random-subdomain hosts makes 100k groups with a handful of
    // kinds, subnets and protocols, and each group's own copies were a fifth of the memory at the end of a
    // 100M-row report.
    pub kind: Arc<str>,
    pub source_subnet: Option<Arc<str>>,
    pub protocol: Option<Arc<str>>,
    /// FQDN or IP; `null` for denies without destination ("SNI TLS extension was missing").
    pub destination: Option<Arc<str>>,
    pub destination_port: Option<u32>,
    pub hits: u64,
    pub distinct_sources: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Up to three sources, lowest address first. Shared texts: a source is an example in many groups (a
    /// group's own copies were 15% of a 100M-row report's peak memory).
    pub example_sources: Vec<Arc<str>>,
}

pub struct DenyAggregator {
    query: Query,
    tally: DenyTally,
}

impl DenyAggregator {
    pub fn new(query: Query) -> Self {
        DenyAggregator {
            query,
            tally: DenyTally::merged(),
        }
    }

    /// Take one canonical batch: its denies inside the window are tallied.
    pub fn add(&mut self, batch: DataFrame) -> anyhow::Result<()> {
        if batch.height() == 0 {
            return Ok(());
        }
        let int = |name: &str| -> anyhow::Result<Int64Chunked> {
            Ok(batch
                .column(name)?
                .as_materialized_series()
                .cast(&DataType::Int64)?
                .i64()?
                .clone())
        };
        let (time, hits) = (int(ev::TIME)?, int(ev::HITS)?);
        let port = batch
            .column(ev::DESTINATION_PORT)?
            .as_materialized_series()
            .cast(&DataType::UInt32)?;
        let port = port.u32()?;
        let str_col = |name: &str| -> anyhow::Result<StringChunked> {
            Ok(batch.column(name)?.str()?.clone())
        };
        let (action, kind, proto, dest, src) = (
            str_col(ev::ACTION)?,
            str_col(ev::KIND)?,
            str_col(ev::PROTOCOL)?,
            str_col(ev::DESTINATION)?,
            str_col(ev::SOURCE_IP)?,
        );
        let w = &self.query.window;
        let windowed = w.from_us.is_some() || w.to_us.is_some();
        for i in 0..batch.height() {
            if action.get(i) != Some(ev::Action::Deny.as_str()) {
                continue;
            }
            let t = time.get(i);
            if windowed && !t.is_some_and(|t| w.contains(t)) {
                continue;
            }
            self.tally.add(&Flow {
                kind: kind.get(i).and_then(Kind::parse),
                protocol: proto.get(i),
                source: src.get(i).and_then(ev::normalize::host),
                destination: dest.get(i).and_then(ev::normalize::host),
                destination_port: port.get(i),
                hits: hits.get(i).map_or(0, |h| h.max(0) as u64),
                time_us: t,
            });
        }
        Ok(())
    }

    /// Take a tally of denies the reader selected (in the window, duplicates already out).
    pub fn add_tally(&mut self, tally: DenyTally) {
        self.tally.merge(tally);
    }

    /// What the aggregate holds, for `-vv`.
    pub fn describe(&self) -> String {
        format!(
            "tally: {} distinct (group, source) pairs, {} sources, {} destinations, {} protocols",
            self.tally.len(),
            self.tally.sources().len(),
            self.tally.destinations().len(),
            self.tally.protocols().len()
        )
    }

    /// The groups, sorted by hits (descending) then keys.
    pub fn finish(self) -> anyhow::Result<Vec<Group>> {
        Groups::Pending(Box::new(self)).into_vec()
    }
}

/// The groups of a query: made, or still to be made by the aggregate. Made from it, they come chunk by chunk
/// in their order, so a caller that turns them into something else (the report's labelled groups) never holds
/// both: at the end of a 100M-row report the two were 17.5 and 20.3 MB side by side.
pub enum Groups {
    Made(Vec<Group>),
    Pending(Box<DenyAggregator>),
}

impl From<Vec<Group>> for Groups {
    fn from(groups: Vec<Group>) -> Groups {
        Groups::Made(groups)
    }
}

impl Groups {
    /// Hand the groups over in order, a chunk at a time, each with the number of groups in all.
    pub fn for_each_chunk(
        self,
        each: &mut dyn FnMut(usize, Vec<Group>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        match self {
            Groups::Made(groups) => each(groups.len(), groups),
            Groups::Pending(agg) => {
                to_groups(agg.tally, &agg.query, each).context("building groups")
            }
        }
    }

    pub fn into_vec(self) -> anyhow::Result<Vec<Group>> {
        let mut all = Vec::new();
        self.for_each_chunk(&mut |total, chunk| {
            if all.is_empty() {
                all.reserve_exact(total);
            }
            all.extend(chunk);
            Ok(())
        })?;
        Ok(all)
    }
}

/// Groups built per task by [`to_groups`].
const GROUP_CHUNK: usize = 8192;

/// What a group accumulates from its pairs.
struct GroupAcc {
    hits: u64,
    first: i64,
    last: i64,
    /// Ranks of its sources in address order (see [`to_groups`]).
    sources: Sources,
}

/// Ranks of a group's sources. Most groups have one (every group of `--by-source-ip`; 107k of the 115k groups
/// of a 100M-row report), kept without an allocation of its own: as small as a vector, and the vectors
/// were 3.4 MB at the end of that report.
enum Sources {
    None,
    One(u32),
    Many(Vec<u32>),
}

impl Sources {
    fn push(&mut self, rank: u32) {
        match self {
            Sources::None => *self = Sources::One(rank),
            Sources::One(first) => *self = Sources::Many(vec![*first, rank]),
            Sources::Many(all) => all.push(rank),
        }
    }

    /// Sort the ranks and drop repeats (a source text met under two ids).
    fn make_distinct(&mut self) {
        if let Sources::Many(all) = self {
            all.sort_unstable();
            all.dedup();
        }
    }

    /// The ranks, lowest first once [`Sources::make_distinct`] has run.
    fn distinct(&self) -> &[u32] {
        match self {
            Sources::None => &[],
            Sources::One(rank) => std::slice::from_ref(rank),
            Sources::Many(all) => all,
        }
    }
}

/// The key of a group, with host ids replaced by ids of their text (an address and a name can have the same
/// canonical text, and the canonical columns never told them apart).
type GroupKey = (Option<Kind>, u32, u32, u32, Option<u32>);

/// The groups of `tally`, handed to `each` in order, a chunk at a time.
fn to_groups(
    tally: DenyTally,
    query: &Query,
    each: &mut dyn FnMut(usize, Vec<Group>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if tally.is_empty() {
        return Ok(());
    }
    let f = &query.filters;
    let grouping = &query.grouping;
    // Per distinct source, once: its text, subnet, rank in address order, and whether the filter keeps it.
    let src_text: Vec<String> = (0..tally.sources().len() as u32)
        .map(|id| {
            tally
                .sources()
                .key(id)
                .map(|k| k.text())
                .unwrap_or_default()
        })
        .collect();
    let parsed: Vec<Option<IpAddr>> = src_text.iter().map(|t| t.parse().ok()).collect();
    let mut order: Vec<u32> = (0..src_text.len() as u32).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        ip_order_parsed(parsed[a], &src_text[a], parsed[b], &src_text[b])
    });
    // Equal texts get one rank, so a group counts them as one source.
    let mut rank = vec![0u32; src_text.len()];
    let mut rank_text: Vec<usize> = Vec::new();
    for &id in &order {
        let id = id as usize;
        if rank_text
            .last()
            .is_none_or(|&last| src_text[last] != src_text[id])
        {
            rank_text.push(id);
        }
        rank[id] = (rank_text.len() - 1) as u32;
    }
    let mut subnet_ids: HashMap<String, u32, Fast> = HashMap::default();
    let mut subnets: Vec<Arc<str>> = Vec::new();
    let src_subnet: Vec<u32> = src_text
        .iter()
        .zip(&parsed)
        .map(|(text, ip)| {
            let s = match ip {
                Some(ip) => grouping.subnet_of(*ip).to_string(),
                None => text.clone(),
            };
            let next = subnets.len() as u32;
            *subnet_ids.entry(s).or_insert_with_key(|s| {
                subnets.push(Arc::from(s.as_str()));
                next
            })
        })
        .collect();
    let src_ok: Vec<bool> = parsed
        .iter()
        .map(|ip| {
            f.sources.is_empty() || ip.is_some_and(|ip| f.sources.iter().any(|c| c.0.contains(&ip)))
        })
        .collect();
    // Per destination: its text (one copy), the first destination of the same text (an address and a name can
    // have the same canonical text, and the canonical columns never told them apart), and whether the filter
    // keeps it.
    let dests: Vec<Arc<str>> = (0..tally.destinations().len() as u32)
        .map(|id| {
            Arc::from(
                tally
                    .destinations()
                    .key(id)
                    .map(|k| k.text())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let dest_tid: Vec<u32> = {
        let mut first: HashMap<&str, u32, Fast> = HashMap::default();
        dests
            .iter()
            .enumerate()
            .map(|(id, t)| *first.entry(&**t).or_insert(id as u32))
            .collect()
    };
    let dest_ok: Vec<bool> = dests
        .iter()
        .map(|t| f.destination.as_ref().is_none_or(|p| p.matches(t)))
        .collect();
    let protocols: Vec<Arc<str>> = tally.protocols().iter().map(|p| Arc::from(&**p)).collect();
    // Each group's key and sums sit in two vectors, found through a map of key to index: map entries of key and
    // sums were 72 bytes, and 115k groups (a 100M-row report) took the table to 262k buckets, 19 MB, with the
    // 9 MB table it grew from beside it.
    let mut index: HashMap<GroupKey, u32, Fast> = HashMap::default();
    let mut keys: Vec<GroupKey> = Vec::new();
    let mut accs: Vec<GroupAcc> = Vec::new();
    for (p, a) in tally.pairs() {
        let dest = (p.destination != NONE).then(|| dest_tid[p.destination as usize]);
        let src = (p.source != NONE).then_some(p.source as usize);
        let keep = src.map_or(f.sources.is_empty(), |s| src_ok[s])
            && dest.map_or(f.destination.is_none(), |d| dest_ok[d as usize])
            && f.port
                .is_none_or(|port| p.destination_port == Some(u32::from(port)))
            && f.protocol
                .as_deref()
                .is_none_or(|want| p.protocol != NONE && *protocols[p.protocol as usize] == *want)
            && f.kind.is_none_or(|k| p.kind == Some(k));
        if !keep {
            continue;
        }
        let key: GroupKey = (
            p.kind,
            src.map_or(NONE, |s| src_subnet[s]),
            p.protocol,
            dest.unwrap_or(NONE),
            p.destination_port,
        );
        let (first, last) = (
            if a.first == i64::MAX { 0 } else { a.first },
            if a.last == i64::MIN { 0 } else { a.last },
        );
        let i = *index.entry(key).or_insert_with(|| {
            keys.push(key);
            accs.push(GroupAcc {
                hits: 0,
                first,
                last,
                sources: Sources::None,
            });
            (keys.len() - 1) as u32
        });
        let g = &mut accs[i as usize];
        g.hits = g.hits.saturating_add(a.hits);
        g.first = g.first.min(first);
        g.last = g.last.max(last);
        if let Some(s) = src {
            g.sources.push(rank[s]);
        }
    }
    drop(index);
    // The pairs are summed into groups: the tally goes before the groups' texts are made (a fifth of the
    // memory at the end of a 100M-row report).
    drop(tally);
    for a in &mut accs {
        a.sources.make_distinct();
    }
    let text = |ids: &[Arc<str>], id: u32| (id != NONE).then(|| ids[id as usize].clone());
    // Hits descending, then the keys in order (`None` first, text byte-wise): the order reports always had,
    // sorted on the ranks of the texts so that a million groups are not compared string by string, and on
    // keys worked out once per group, not at each comparison.
    let rank_of = |texts: &[&str]| -> Vec<u32> {
        let mut order: Vec<u32> = (0..texts.len() as u32).collect();
        order.sort_unstable_by_key(|&i| texts[i as usize]);
        let mut rank = vec![0u32; texts.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32 + 1;
        }
        rank
    };
    let subnet_rank = rank_of(&subnets.iter().map(|s| &**s).collect::<Vec<_>>());
    let dest_rank = rank_of(&dests.iter().map(|d| &**d).collect::<Vec<_>>());
    let proto_rank = rank_of(&protocols.iter().map(|p| &**p).collect::<Vec<_>>());
    let by_rank = |ranks: &[u32], id: u32| if id == NONE { 0 } else { ranks[id as usize] };
    // The kinds present with their texts, in text order (a kind's rank is its place here).
    let mut kinds: Vec<(Option<Kind>, Arc<str>)> = Vec::new();
    for (kind, ..) in &keys {
        if !kinds.iter().any(|(k, _)| k == kind) {
            kinds.push((*kind, Arc::from(kind.map_or("", Kind::as_str))));
        }
    }
    kinds.sort_by(|a, b| a.1.cmp(&b.1));
    let kind_at = |kind: Option<Kind>| kinds.iter().position(|(k, _)| *k == kind).unwrap_or(0);
    let order: Vec<u32> = {
        let mut by_key: Vec<_> = keys
            .iter()
            .zip(&accs)
            .enumerate()
            .map(|(i, (&(kind, subnet, protocol, dest, port), a))| {
                (
                    (
                        Reverse(a.hits),
                        kind_at(kind) as u8,
                        by_rank(&subnet_rank, subnet),
                        by_rank(&proto_rank, protocol),
                        by_rank(&dest_rank, dest),
                        port,
                    ),
                    i as u32,
                )
            })
            .collect();
        by_key.sort_unstable();
        by_key.into_iter().map(|(_, i)| i).collect()
    };
    let rank_arc: Vec<Arc<str>> = rank_text
        .iter()
        .map(|&id| Arc::from(src_text[id].as_str()))
        .collect();
    // The groups' texts are built on every core, in chunks taken in order (600k groups: seven strings each,
    // half a second on one core).
    let build = |i: u32| {
        let (kind, subnet, protocol, dest, port) = keys[i as usize];
        let a = &accs[i as usize];
        let sources = a.sources.distinct();
        Group {
            origin: None,
            kind: kinds[kind_at(kind)].1.clone(),
            source_subnet: text(&subnets, subnet),
            protocol: text(&protocols, protocol),
            destination: text(&dests, dest),
            destination_port: port,
            hits: a.hits,
            distinct_sources: sources.len() as u64,
            first_seen: Timestamp(a.first),
            last_seen: Timestamp(a.last),
            example_sources: sources
                .iter()
                .take(3)
                .map(|&r| rank_arc[r as usize].clone())
                .collect(),
        }
    };
    let chunks: Vec<&[u32]> = order.chunks(GROUP_CHUNK).collect();
    crate::parallel::ordered(
        chunks.len(),
        |i| Ok(chunks[i].iter().map(|&g| build(g)).collect::<Vec<Group>>()),
        |_, part| each(order.len(), part),
    )
}

/// Sort groups as the engine does — most hits first, then by kind, subnet, protocol, destination and port — with
/// the origin as the last key, for groups of several origins put together.
pub fn sort_groups(groups: &mut [Group]) {
    groups.sort_by(|a, b| {
        b.hits
            .cmp(&a.hits)
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.source_subnet.cmp(&b.source_subnet))
            .then_with(|| a.protocol.cmp(&b.protocol))
            .then_with(|| a.destination.cmp(&b.destination))
            .then_with(|| a.destination_port.cmp(&b.destination_port))
            .then_with(|| a.origin.cmp(&b.origin))
    });
}

/// [`ip_order`] of texts already parsed.
fn ip_order_parsed(a: Option<IpAddr>, at: &str, b: Option<IpAddr>, bt: &str) -> std::cmp::Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        _ => at.cmp(bt),
    }
}

/// Addresses in numeric order (IPv4 before IPv6), anything else after them by text.
pub fn ip_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        _ => a.cmp(b),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::normalize::host;
    use crate::event::{Action, Kind};
    use crate::input::{CanonicalBuilder, Row};

    fn batch(rows: &[(&str, &str, i64, Action)]) -> DataFrame {
        let mut b = CanonicalBuilder::new(8);
        for (i, (src, dst, t, action)) in rows.iter().enumerate() {
            let row = Row {
                time_us: Some(*t),
                kind: Some(Kind::Application),
                action: Some(*action),
                protocol: Some("HTTPS"),
                source: host(src),
                source_port: Some(1000 + i as u32),
                destination: host(dst),
                destination_port: Some(443),
                hits: 1,
                ..Row::default()
            };
            b.push(&row, "t", i as u64 + 1);
        }
        b.finish().unwrap()
    }

    #[test]
    fn partials_from_several_batches_merge_exactly() {
        let mut agg = DenyAggregator::new(Query::default());
        agg.add(batch(&[
            ("10.0.0.9", "mcr.microsoft.com", 30, Action::Deny),
            ("10.0.0.10", "mcr.microsoft.com", 10, Action::Deny),
            ("10.0.0.9", "mcr.microsoft.com", 20, Action::Allow),
        ]))
        .unwrap();
        agg.add(batch(&[
            ("10.0.0.9", "mcr.microsoft.com", 5, Action::Deny),
            ("10.0.1.1", "mcr.microsoft.com", 50, Action::Deny),
            ("fd00::1", "mcr.microsoft.com", 60, Action::Deny),
        ]))
        .unwrap();
        let groups = agg.finish().unwrap();
        assert_eq!(groups.len(), 3);
        let g = &groups[0];
        assert_eq!(g.source_subnet.as_deref(), Some("10.0.0.0/24"));
        assert_eq!((g.hits, g.distinct_sources), (3, 2));
        assert_eq!(g.example_sources, ["10.0.0.9", "10.0.0.10"].map(Arc::from));
        assert_eq!((g.first_seen, g.last_seen), (Timestamp(5), Timestamp(30)));
        assert_eq!(groups[1].source_subnet.as_deref(), Some("10.0.1.0/24"));
        assert_eq!(groups[2].source_subnet.as_deref(), Some("fd00::/64"));
    }

    /// Equal hits are ordered by kind, subnet, protocol, destination and port, a missing value first and text
    /// byte-wise (the ranks the sort uses must give the order the texts give).
    #[test]
    fn groups_of_equal_hits_sort_by_their_keys_as_text() {
        use crate::event::tally::Flow;
        let flow = |kind, src: &'static str, dst: Option<&'static str>, port, proto| Flow {
            kind: Some(kind),
            protocol: proto,
            source: host(src),
            destination: dst.and_then(host),
            destination_port: Some(port),
            hits: 1,
            time_us: Some(100),
        };
        let mut t = DenyTally::new();
        // Added in an order unlike the expected one; ids follow the order of first sight.
        t.add(&flow(
            Kind::Network,
            "10.0.1.1",
            Some("b.example"),
            443,
            Some("TCP"),
        ));
        t.add(&flow(
            Kind::Application,
            "10.0.2.1",
            Some("b.example"),
            443,
            Some("HTTPS"),
        ));
        t.add(&flow(
            Kind::Application,
            "10.0.1.1",
            Some("z.example"),
            443,
            Some("HTTPS"),
        ));
        t.add(&flow(
            Kind::Application,
            "10.0.1.1",
            Some("a.example"),
            443,
            Some("HTTPS"),
        ));
        t.add(&flow(
            Kind::Application,
            "10.0.1.1",
            None,
            443,
            Some("HTTPS"),
        ));
        t.add(&flow(
            Kind::Application,
            "10.0.1.1",
            Some("a.example"),
            80,
            Some("HTTP"),
        ));
        t.add(&flow(
            Kind::Application,
            "10.0.1.1",
            Some("a.example"),
            443,
            None,
        ));
        t.add(&flow(
            Kind::Application,
            "10.0.1.1",
            Some("a.example"),
            8443,
            Some("HTTPS"),
        ));
        let mut agg = DenyAggregator::new(Query::default());
        agg.add_tally(t);
        let got: Vec<String> = agg
            .finish()
            .unwrap()
            .iter()
            .map(|g| {
                format!(
                    "{} {} {} {} {}",
                    g.kind,
                    g.source_subnet.as_deref().unwrap_or("-"),
                    g.protocol.as_deref().unwrap_or("-"),
                    g.destination.as_deref().unwrap_or("-"),
                    g.destination_port.unwrap_or(0)
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                "application 10.0.1.0/24 - a.example 443",
                "application 10.0.1.0/24 HTTP a.example 80",
                "application 10.0.1.0/24 HTTPS - 443",
                "application 10.0.1.0/24 HTTPS a.example 443",
                "application 10.0.1.0/24 HTTPS a.example 8443",
                "application 10.0.1.0/24 HTTPS z.example 443",
                "application 10.0.2.0/24 HTTPS b.example 443",
                "network 10.0.1.0/24 TCP b.example 443",
            ]
        );
    }

    /// A tally of more groups than one chunk holds: one group per destination and subnet, some with two
    /// sources and a pair seen twice.
    pub(crate) fn tally_of_many_groups(n: usize) -> DenyTally {
        use crate::event::tally::Flow;
        let mut t = DenyTally::new();
        for i in 0..n {
            let dst = format!("h{i}.example");
            let flow = |src: &'static str| Flow {
                kind: Some(Kind::Application),
                protocol: Some("HTTPS"),
                source: host(src),
                destination: host(&dst),
                destination_port: Some(443),
                hits: (i % 97) as u64 + 1,
                time_us: Some(i as i64),
            };
            t.add(&flow(if i % 3 == 0 { "10.0.0.1" } else { "10.0.1.1" }));
            if i % 5 == 0 {
                t.add(&flow("10.0.0.9"));
                t.add(&flow("10.0.0.1"));
            }
        }
        t
    }

    /// Groups made from the aggregate come in chunks, in order, each told the number of groups in all; put
    /// together they are what `finish` gives, sources counted once each.
    #[test]
    fn groups_come_in_ordered_chunks() {
        let n = GROUP_CHUNK * 2 + 123;
        let t = tally_of_many_groups(n);
        let agg = || {
            let mut a = DenyAggregator::new(Query::default());
            a.add_tally(t.clone());
            a
        };
        let all = agg().finish().unwrap();
        let more = (0..n).filter(|i| i % 5 == 0 && i % 3 != 0).count();
        assert_eq!(all.len(), n + more);
        assert!(all.windows(2).all(|w| w[0].hits >= w[1].hits));
        let mut chunks = Vec::new();
        Groups::Pending(Box::new(agg()))
            .for_each_chunk(&mut |total, chunk| {
                assert_eq!(total, n + more);
                chunks.push(chunk);
                Ok(())
            })
            .unwrap();
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        assert_eq!(chunks.concat(), all);
        let h0 = all
            .iter()
            .find(|g| g.destination.as_deref() == Some("h0.example"))
            .unwrap();
        assert_eq!(h0.source_subnet.as_deref(), Some("10.0.0.0/24"));
        assert_eq!((h0.hits, h0.distinct_sources), (3, 2));
        assert_eq!(h0.example_sources, ["10.0.0.1", "10.0.0.9"].map(Arc::from));
    }

    #[test]
    fn filters_apply_per_pair_and_texts_merge() {
        use crate::event::tally::Flow;
        let flow = |src: &'static str, dst: &'static str, port: u32, proto: &'static str| Flow {
            kind: Some(Kind::Network),
            protocol: Some(proto),
            source: host(src),
            destination: host(dst),
            destination_port: Some(port),
            hits: 2,
            time_us: Some(100),
        };
        let mut t = DenyTally::new();
        t.add(&flow("10.0.0.9", "1.2.3.4", 22, "TCP"));
        // A name whose canonical text is an address is the same destination as the address.
        t.add(&flow("10.0.0.10", "1.2.3.4.", 22, "tcp"));
        t.add(&flow("10.9.0.1", "1.2.3.4", 22, "TCP"));
        t.add(&flow("10.0.0.9", "5.6.7.8", 53, "UDP"));
        let mut q = Query::default();
        q.filters.port = Some(22);
        q.filters.sources = vec!["10.0.0.0/16".parse().unwrap()];
        let mut agg = DenyAggregator::new(q);
        agg.add_tally(t);
        let g = agg.finish().unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].destination.as_deref(), Some("1.2.3.4"));
        assert_eq!(g[0].protocol.as_deref(), Some("TCP"));
        assert_eq!((g[0].hits, g[0].distinct_sources), (4, 2));
        assert_eq!(
            g[0].example_sources,
            ["10.0.0.9", "10.0.0.10"].map(Arc::from)
        );
    }

    #[test]
    fn ip_order_is_numeric() {
        let mut v = vec!["10.0.0.10", "fd00::1", "10.0.0.9", "host"];
        v.sort_by(|a, b| ip_order(a, b));
        assert_eq!(v, vec!["10.0.0.9", "10.0.0.10", "fd00::1", "host"]);
    }
}
