//! The partial deny aggregate the readers fill and the engine merges: hits and first/last seen per distinct
//! (kind, protocol, destination, port, source), keyed by small integer ids.
//!
//! It lives here, below both the sources and the engine, so that a reader's worker thread can aggregate the
//! rows it selects straight into it (no canonical string columns, no per-part polars query) and the engine can
//! merge the parts and turn them into groups without either importing the other. Hosts and protocols are
//! interned once per tally: a row costs one lookup per field and one in the pair table, and the memory is
//! proportional to the distinct (group, source) pairs, never to the rows read. Text (canonical names,
//! subnets, orderings) is derived from the ids once, at the end, by the engine.

use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::net::IpAddr;

use super::Kind;
use super::normalize::{self, Host};

type Fast = foldhash::fast::RandomState;

/// No id: a null host or protocol.
pub const NONE: u32 = u32::MAX;

/// One selected event as the grouping sees it (values as logged; they are made canonical when interned).
#[derive(Debug, Clone, Copy, Default)]
pub struct Flow<'a> {
    pub kind: Option<Kind>,
    /// Protocol as logged (`HTTP `, `udp`, `ICMP Type=8`).
    pub protocol: Option<&'a str>,
    pub source: Option<Host<'a>>,
    pub destination: Option<Host<'a>>,
    pub destination_port: Option<u32>,
    /// Events this row stands for (at least 1).
    pub hits: u64,
    pub time_us: Option<i64>,
}

/// A host's identity: an address, or a canonical name (trimmed, lower case, no trailing dot).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostKey {
    Ip(IpAddr),
    Name(Box<str>),
}

impl HostKey {
    /// The canonical text, as the canonical columns write it.
    pub fn text(&self) -> String {
        match self {
            HostKey::Ip(ip) => ip.to_string(),
            HostKey::Name(n) => n.to_string(),
        }
    }
}

/// Hosts interned to dense ids. Addresses are keyed by their bits, names by their canonical text, so a lookup
/// allocates only for a name not seen before.
#[derive(Debug, Default, Clone)]
pub struct Hosts {
    v4: HashMap<u32, u32, Fast>,
    v6: HashMap<u128, u32, Fast>,
    /// Ids of names, hashed and compared by their text in `keys`: each name is held once (a map keyed by the
    /// name held a second copy of each: 108k destinations, ~5 MB at 100M rows).
    names: hashbrown::HashTable<u32>,
    hasher: Fast,
    keys: Vec<HostKey>,
}

impl Hosts {
    /// The id of a host; [`NONE`] for a name that is empty once canonical (the canonical column holds null).
    pub fn id(&mut self, h: Host<'_>) -> u32 {
        match h {
            Host::Ip(ip) => self.ip_id(ip),
            Host::Name(n) => {
                let c = normalize::canonical_name(n);
                if c.is_empty() {
                    return NONE;
                }
                let hash = self.hasher.hash_one(c.as_ref());
                let keys = &self.keys;
                let same = |&id: &u32| matches!(&keys[id as usize], HostKey::Name(k) if **k == *c);
                if let Some(&id) = self.names.find(hash, same) {
                    return id;
                }
                let id = self.keys.len() as u32;
                self.keys.push(HostKey::Name(c.into()));
                let (keys, hasher) = (&self.keys, &self.hasher);
                self.names
                    .insert_unique(hash, id, |&id| match &keys[id as usize] {
                        HostKey::Name(k) => hasher.hash_one(&**k),
                        HostKey::Ip(_) => 0,
                    });
                id
            }
        }
    }

    fn ip_id(&mut self, ip: IpAddr) -> u32 {
        let next = self.keys.len() as u32;
        let id = match ip {
            IpAddr::V4(v4) => *self.v4.entry(v4.to_bits()).or_insert(next),
            IpAddr::V6(v6) => *self.v6.entry(v6.to_bits()).or_insert(next),
        };
        if id == next {
            self.keys.push(HostKey::Ip(ip));
        }
        id
    }

    fn key_id(&mut self, k: &HostKey) -> u32 {
        match k {
            HostKey::Ip(ip) => self.ip_id(*ip),
            HostKey::Name(n) => self.id(Host::Name(n)),
        }
    }

    pub fn key(&self, id: u32) -> Option<&HostKey> {
        self.keys.get(id as usize)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Hits and the time span of one (group keys, source) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acc {
    pub hits: u64,
    /// Earliest and latest time; `i64::MAX` / `i64::MIN` when no event of the pair had a time.
    pub first: i64,
    pub last: i64,
}

/// The key of a pair, unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pair {
    pub kind: Option<Kind>,
    /// Protocol id ([`NONE`]: null).
    pub protocol: u32,
    pub destination: u32,
    pub destination_port: Option<u32>,
    pub source: u32,
}

impl Pair {
    /// Packed into one word for the hash table: source 32 bits, destination 32, port 33 (a presence bit),
    /// protocol 27, kind 4.
    fn pack(&self) -> u128 {
        let port = self
            .destination_port
            .map_or(0u128, |p| 1 << 32 | u128::from(p));
        let kind = self.kind.map_or(0u128, |k| k as u128 + 1);
        u128::from(self.source)
            | u128::from(self.destination) << 32
            | port << 64
            | u128::from(self.protocol & PROTOCOL_MASK) << 97
            | kind << 124
    }

    fn unpack(w: u128) -> Pair {
        let port = (w >> 64) as u64 & ((1 << 33) - 1);
        let protocol = (w >> 97) as u32 & PROTOCOL_MASK;
        let kind = (w >> 124) as usize;
        Pair {
            kind: kind.checked_sub(1).and_then(|k| Kind::ALL.get(k).copied()),
            protocol: if protocol == PROTOCOL_MASK {
                NONE
            } else {
                protocol
            },
            destination: (w >> 32) as u32,
            destination_port: (port >> 32 == 1).then_some(port as u32),
            source: w as u32,
        }
    }
}

/// Protocol ids take 27 bits of a packed pair; all ones is [`NONE`].
const PROTOCOL_MASK: u32 = (1 << 27) - 1;

/// A handle to a pair of a tally, to take back the hits of an event found to be a duplicate later.
pub type Entry = u32;

/// Hits and first/last seen per distinct (kind, protocol, destination, port, source) (see the module docs).
#[derive(Debug, Default, Clone)]
pub struct DenyTally {
    sources: Hosts,
    destinations: Hosts,
    protocols: Vec<Box<str>>,
    protocol_ids: HashMap<Box<str>, u32, Fast>,
    /// The last protocol as logged and its id: a column of a part holds a handful of values, so most rows
    /// compare a few bytes instead of normalising and hashing.
    last_protocol: Option<(Box<str>, u32)>,
    /// Packed pair -> its sums and its entry. The sums sit beside the key: one cache miss per row in a table
    /// of a few hundred thousand pairs, where a separate vector of sums cost a second (measured: this insert was
    /// the largest single cost of a report, ~10% of its CPU).
    index: HashMap<u128, (Acc, Entry), Fast>,
    /// Packed pairs by entry, to find a pair again when an event turns out to be a duplicate.
    keys: Vec<u128>,
    /// Only merged into (see [`DenyTally::merged`]): no entries kept, and the pairs are in `merged` instead
    /// of `index`.
    merged_only: bool,
    /// The pairs of a tally only merged into: the packed pair as two words (a `u128` key aligns each slot to
    /// 16 bytes) and its sums, 40 bytes a slot instead of 48 (368k pairs at 100M rows).
    merged: Merged,
}

/// The tables of a tally only merged into, the pairs spread over them by a few bits of the source and
/// destination ids. Each table grows on its own, so a doubling holds the old and new copies of a sixteenth of
/// the pairs, not of all: at 368k pairs (100M rows) the last doubling of a single table held 10.5 + 21 MB,
/// the peak of the whole read.
#[derive(Debug, Default, Clone)]
struct Merged([HashMap<[u64; 2], Acc, Fast>; MERGED_TABLES]);

const MERGED_TABLES: usize = 16;

impl Merged {
    fn table(&mut self, key: &[u64; 2]) -> &mut HashMap<[u64; 2], Acc, Fast> {
        // The low word is the source id and the destination id.
        &mut self.0[((key[0] ^ key[0] >> 32) as usize) & (MERGED_TABLES - 1)]
    }

    fn add(&mut self, key: [u64; 2], a: Acc) {
        self.table(&key)
            .entry(key)
            .and_modify(|acc| add_to(acc, a))
            .or_insert(a);
    }

    fn len(&self) -> usize {
        self.0.iter().map(HashMap::len).sum()
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(HashMap::is_empty)
    }

    fn iter(&self) -> impl Iterator<Item = (&[u64; 2], &Acc)> {
        self.0.iter().flat_map(|t| t.iter())
    }

    fn into_iter(self) -> impl Iterator<Item = ([u64; 2], Acc)> {
        self.0.into_iter().flat_map(|t| t.into_iter())
    }
}

fn split(key: u128) -> [u64; 2] {
    [key as u64, (key >> 64) as u64]
}

fn join(words: [u64; 2]) -> u128 {
    u128::from(words[0]) | u128::from(words[1]) << 64
}

fn add_to(acc: &mut Acc, a: Acc) {
    acc.hits = acc.hits.saturating_add(a.hits);
    acc.first = acc.first.min(a.first);
    acc.last = acc.last.max(a.last);
}

impl DenyTally {
    pub fn new() -> Self {
        Self::default()
    }

    /// A tally that other tallies are merged into and nothing is taken back from (duplicates are taken back
    /// from a part's tally before it is merged): it keeps no entries ([`DenyTally::retract`] does nothing),
    /// 16 bytes a pair less (6 MB at 100M rows).
    pub fn merged() -> Self {
        DenyTally {
            merged_only: true,
            ..Self::default()
        }
    }

    /// Count one event; the handle takes it back ([`DenyTally::retract`]).
    pub fn add(&mut self, f: &Flow<'_>) -> Entry {
        let pair = Pair {
            kind: f.kind,
            protocol: f.protocol.map_or(NONE, |p| self.protocol_id(p)),
            destination: f.destination.map_or(NONE, |h| self.destination_id(h)),
            destination_port: f.destination_port,
            source: f.source.map_or(NONE, |h| self.source_id(h)),
        };
        self.add_ids(pair, f.hits, f.time_us)
    }

    /// Count one event whose values the caller interned with this tally's ids ([`DenyTally::source_id`],
    /// [`DenyTally::destination_id`], [`DenyTally::protocol_id`]): a reader that meets the same value on many
    /// rows looks it up once.
    pub fn add_ids(&mut self, pair: Pair, hits: u64, time_us: Option<i64>) -> Entry {
        self.add_pair(
            pair.pack(),
            Acc {
                hits,
                first: time_us.unwrap_or(i64::MAX),
                last: time_us.unwrap_or(i64::MIN),
            },
        )
    }

    pub fn source_id(&mut self, h: Host<'_>) -> u32 {
        self.sources.id(h)
    }

    pub fn destination_id(&mut self, h: Host<'_>) -> u32 {
        self.destinations.id(h)
    }

    fn add_pair(&mut self, key: u128, a: Acc) -> Entry {
        if self.merged_only {
            self.merged.add(split(key), a);
            return 0;
        }
        match self.index.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let (acc, e) = o.get_mut();
                add_to(acc, a);
                *e
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                let e = self.keys.len() as Entry;
                v.insert((a, e));
                self.keys.push(key);
                e
            }
        }
    }

    /// The id of a protocol as logged ([`NONE`] when it has no name).
    pub fn protocol_id(&mut self, raw: &str) -> u32 {
        if let Some((last, id)) = &self.last_protocol
            && **last == *raw
        {
            return *id;
        }
        let id = match normalize::protocol(raw) {
            None => NONE,
            Some((name, _)) => self.protocol_text_id(&name),
        };
        self.last_protocol = Some((raw.into(), id));
        id
    }

    fn protocol_text_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.protocol_ids.get(name) {
            return id;
        }
        let id = self.protocols.len() as u32;
        // Ids are packed in 27 bits: 134 million distinct protocol names among the denies of one input is
        // beyond any log (and beyond memory); a wrong group is never printed for it.
        assert!(id < PROTOCOL_MASK, "too many distinct protocol names");
        self.protocols.push(name.into());
        self.protocol_ids.insert(name.into(), id);
        id
    }

    /// Take back `hits` events of an entry (an event found to be a duplicate after it was counted). Its time
    /// stays in the span: a duplicate has the same time as the event it repeats, which is counted.
    pub fn retract(&mut self, e: Entry, hits: u64) {
        let Some(key) = self.keys.get(e as usize) else {
            return;
        };
        if let Some((acc, _)) = self.index.get_mut(key) {
            acc.hits = acc.hits.saturating_sub(hits);
        }
    }

    /// Add another tally's pairs (ids are re-mapped once per distinct host and protocol). Pairs left with no
    /// hits (every event of them was a duplicate) are dropped.
    pub fn merge(&mut self, other: DenyTally) {
        if self.is_empty() && other.pairs_with_keys().all(|(_, a)| a.hits > 0) {
            let merged_only = self.merged_only;
            *self = other;
            self.last_protocol = None;
            if merged_only && !self.merged_only {
                self.merged_only = true;
                self.keys = Vec::new();
                for (k, (a, _)) in std::mem::take(&mut self.index) {
                    self.merged.add(split(k), a);
                }
            }
            return;
        }
        let src: Vec<u32> = other
            .sources
            .keys
            .iter()
            .map(|k| self.sources.key_id(k))
            .collect();
        let dst: Vec<u32> = other
            .destinations
            .keys
            .iter()
            .map(|k| self.destinations.key_id(k))
            .collect();
        let proto: Vec<u32> = other
            .protocols
            .iter()
            .map(|p| self.protocol_text_id(p))
            .collect();
        let map = |ids: &[u32], id: u32| if id == NONE { NONE } else { ids[id as usize] };
        let pairs = other.index.into_iter().map(|(k, (a, _))| (k, a));
        let merged = other.merged.into_iter().map(|(k, a)| (join(k), a));
        for (key, acc) in pairs.chain(merged) {
            if acc.hits == 0 {
                continue;
            }
            let p = Pair::unpack(key);
            let p = Pair {
                protocol: map(&proto, p.protocol),
                destination: map(&dst, p.destination),
                source: map(&src, p.source),
                ..p
            };
            self.add_pair(p.pack(), acc);
        }
    }

    /// Distinct pairs.
    pub fn len(&self) -> usize {
        self.index.len() + self.merged.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty() && self.merged.is_empty()
    }

    /// Every pair, packed, with its sums (also those left with no hits).
    fn pairs_with_keys(&self) -> impl Iterator<Item = (u128, &Acc)> {
        self.index
            .iter()
            .map(|(k, (a, _))| (*k, a))
            .chain(self.merged.iter().map(|(k, a)| (join(*k), a)))
    }

    /// Every pair with hits, in no particular order.
    pub fn pairs(&self) -> impl Iterator<Item = (Pair, &Acc)> {
        self.pairs_with_keys()
            .filter(|(_, a)| a.hits > 0)
            .map(|(k, a)| (Pair::unpack(k), a))
    }

    pub fn sources(&self) -> &Hosts {
        &self.sources
    }

    pub fn destinations(&self) -> &Hosts {
        &self.destinations
    }

    /// Canonical protocol names by id.
    pub fn protocols(&self) -> &[Box<str>] {
        &self.protocols
    }
}

/// The tally as text for tests that compare two ways of filling one: every pair with its hosts and protocol
/// spelt out, sorted.
#[cfg(test)]
impl DenyTally {
    pub fn pairs_text(&self) -> Vec<String> {
        let host = |h: &Hosts, id: u32| h.key(id).map(HostKey::text);
        let mut out: Vec<String> = self
            .pairs()
            .map(|(p, acc)| {
                format!(
                    "{:?} {:?} {:?} {:?} {:?} {:?}",
                    p.kind,
                    self.protocols().get(p.protocol as usize),
                    host(self.destinations(), p.destination),
                    p.destination_port,
                    host(self.sources(), p.source),
                    acc
                )
            })
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow<'a>(src: &'a str, dst: &'a str, proto: &'a str, t: i64) -> Flow<'a> {
        Flow {
            kind: Some(Kind::Application),
            protocol: Some(proto),
            source: normalize::host(src),
            destination: normalize::host(dst),
            destination_port: Some(443),
            hits: 1,
            time_us: Some(t),
        }
    }

    #[test]
    fn pairs_pack_and_unpack() {
        for p in [
            Pair {
                kind: Some(Kind::Unparsed),
                protocol: PROTOCOL_MASK - 1,
                destination: NONE,
                destination_port: Some(0),
                source: 7,
            },
            Pair {
                kind: None,
                protocol: NONE,
                destination: 3,
                destination_port: None,
                source: NONE,
            },
            Pair {
                kind: Some(Kind::Application),
                protocol: 2,
                destination: u32::MAX - 1,
                destination_port: Some(u32::MAX),
                source: 0,
            },
        ] {
            assert_eq!(Pair::unpack(p.pack()), p);
        }
    }

    #[test]
    fn canonical_forms_share_an_id() {
        let mut t = DenyTally::new();
        t.add(&flow("10.0.0.1", "MCR.Microsoft.com.", "https", 5));
        t.add(&flow(" 10.0.0.1", "mcr.microsoft.com", "HTTPS", 3));
        t.add(&flow("10.0.0.1", "mcr.microsoft.com", "HTTP/1.1", 9));
        assert_eq!(t.len(), 2);
        assert_eq!(t.protocols(), &["HTTPS".into(), "HTTP".into()]);
        let (_, a) = t
            .pairs()
            .find(|(p, _)| &*t.protocols()[p.protocol as usize] == "HTTPS")
            .unwrap();
        assert_eq!((a.hits, a.first, a.last), (2, 3, 5));
        // A name that is empty once canonical is a null, as in the canonical columns.
        let mut t = DenyTally::new();
        t.add(&flow("10.0.0.1", ".", "TCP", 1));
        assert_eq!(t.pairs().next().unwrap().0.destination, NONE);
    }

    /// Names are held once and found through their ids: the same canonical name gets the same id before and
    /// after the table grows, addresses and names never share one.
    #[test]
    fn hosts_intern_each_name_once() {
        let mut h = Hosts::default();
        let first = h.id(Host::Name("Mcr.Microsoft.com."));
        let ip = h.id(normalize::host("10.0.0.1").unwrap());
        let ids: Vec<u32> = (0..5000)
            .map(|i| h.id(Host::Name(&format!("h{i}.example"))))
            .collect();
        assert_eq!(ids, (2..5002).collect::<Vec<u32>>());
        assert_eq!(h.id(Host::Name("mcr.microsoft.com")), first);
        assert_eq!(h.id(Host::Name(" MCR.microsoft.COM ")), first);
        assert_eq!(h.id(normalize::host("10.0.0.1").unwrap()), ip);
        assert_eq!(h.id(Host::Name("h4999.EXAMPLE.")), ids[4999]);
        assert_eq!(h.id(Host::Name(".")), NONE);
        assert_eq!(h.len(), 5002);
        assert_eq!(h.key(first).unwrap().text(), "mcr.microsoft.com");
        assert_eq!(h.key(ids[17]).unwrap().text(), "h17.example");
    }

    #[test]
    fn merges_remap_ids_and_drop_retracted_pairs() {
        let mut a = DenyTally::new();
        a.add(&flow("10.0.0.1", "a.example", "HTTPS", 10));
        let mut b = DenyTally::new();
        b.add(&flow("10.0.0.2", "b.example", "TCP", 1));
        b.add(&flow("10.0.0.1", "a.example", "HTTPS", 20));
        let dup = b.add(&flow("10.0.0.3", "c.example", "UDP", 30));
        b.retract(dup, 1);
        // Both merged into a tally that keeps no entries: the same pairs.
        let mut m = DenyTally::merged();
        m.merge(a.clone());
        m.merge(b.clone());
        a.merge(b);
        let listed = |t: &DenyTally| {
            let mut got: Vec<(String, String, String, u64, i64, i64)> = t
                .pairs()
                .map(|(p, acc)| {
                    (
                        t.sources().key(p.source).unwrap().text(),
                        t.destinations().key(p.destination).unwrap().text(),
                        t.protocols()[p.protocol as usize].to_string(),
                        acc.hits,
                        acc.first,
                        acc.last,
                    )
                })
                .collect();
            got.sort();
            got
        };
        let got = listed(&a);
        assert_eq!(listed(&m), got);
        assert!(m.keys.is_empty() && m.len() == a.len());
        assert!(m.index.is_empty() && m.merged.len() == a.len());
        // A merged tally merged again, into another such tally (taken whole) and into a plain one that has
        // pairs of its own (pair by pair), keeps its pairs.
        let mut again = DenyTally::merged();
        again.merge(m.clone());
        assert_eq!(listed(&again), got);
        let mut plain = DenyTally::new();
        plain.add(&flow("10.0.0.9", "z.example", "TCP", 5));
        plain.merge(m.clone());
        let mut with_own = got.clone();
        with_own.push(("10.0.0.9".into(), "z.example".into(), "TCP".into(), 1, 5, 5));
        with_own.sort();
        assert_eq!(listed(&plain), with_own);
        for k in [
            0u128,
            1,
            u128::MAX,
            1 << 64,
            (1 << 64) - 1,
            0x1234_5678_9abc_def0_0fed_cba9_8765_4321,
        ] {
            assert_eq!(join(split(k)), k);
        }
        assert_eq!(
            got,
            vec![
                (
                    "10.0.0.1".into(),
                    "a.example".into(),
                    "HTTPS".into(),
                    2,
                    10,
                    20
                ),
                ("10.0.0.2".into(), "b.example".into(), "TCP".into(), 1, 1, 1),
            ]
        );
    }
}
