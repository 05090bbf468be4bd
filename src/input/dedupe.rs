//! The fingerprints of the events seen so far, for dropping an event archived twice.
//!
//! A duplicate is one event written twice (both diagnostic modes on, overlapping exports): it has the same
//! time as the event it repeats. So the table is kept in buckets of [`BUCKET_US`] of event time, and a bucket
//! that no insert has touched for [`IDLE_INSERTS`] inserts is written to a temporary file as a run and
//! dropped from memory. Nearly time-ordered input (every export) leaves the minutes behind it idle, so memory
//! holds the events of the last minutes, not the input (the earlier table of every fingerprint took 2 GiB at
//! 100M rows). Input in no time order keeps every bucket busy; it is held in memory up to
//! [`HOT_FINGERPRINTS`] (a file of 5M denies in random order), and only beyond that are the buckets touched
//! longest ago written out, to be read back when met again: slower, never inexact. (The first version spilled
//! at 2M fingerprints whatever the order, and a month of 5M denies in random order took 10 s instead of 1 s,
//! reading buckets back on nearly every row.)

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::os::unix::fs::FileExt as _;

use super::row::Row;
use crate::event::normalize::Host;

/// Event time covered by one bucket: a minute holds a few thousand denies of a busy firewall.
pub const BUCKET_US: i64 = 60_000_000;

/// Fingerprints held in memory at most before the least recently touched buckets are written out (~14 bytes
/// each in the sets: ~110 MiB at most, reached only by input in no time order).
pub const HOT_FINGERPRINTS: usize = 8 << 20;

/// Inserts after which an untouched bucket is written out: at a busy firewall's ~2k denies a minute, the last
/// ~2 hours of time-ordered input (~260k fingerprints, ~4 MiB). A minute met again after that is read back
/// (a few microseconds); the 8 hours held before cost ~10 MiB more at every input size.
pub const IDLE_INSERTS: u64 = 1 << 18;

/// How often (in inserts) the idle buckets are looked for.
const IDLE_CHECK: u64 = 1 << 16;

/// Runs are gathered in memory and written to the temporary file this many bytes at a time: a write for each
/// minute's run (~7,000 writes of a few KiB for 10M rows) cost 6% of a report's CPU, and sorting them
/// another 1% (a run read back goes into a hash set, so its order is of no use).
const SPILL_WRITE: usize = 1 << 18;

/// Emptied sets kept for the next buckets: time-ordered input opens a minute as it writes one out, and a new
/// set for each minute kept the heap growing into fresh pages.
const SPARE_SETS: usize = 8;

/// The bucket of an event at `time_us`, clamped to 32 bits (beyond year 6000 either way): an event and its
/// repeat have the same time, so they still meet in one bucket, and the fingerprint tells apart the events
/// sharing it. 32 bits keep a part's list of fingerprints at 16 bytes a row.
pub fn bucket(time_us: i64) -> i32 {
    time_us
        .div_euclid(BUCKET_US)
        .clamp(i32::MIN.into(), i32::MAX.into()) as i32
}

/// Fingerprints are already uniform 64-bit hashes: the sets use them as their own hash.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type FpSet = HashSet<u64, BuildHasherDefault<Identity>>;

struct Bucket {
    set: FpSet,
    /// When the bucket was last touched (a counter of inserts).
    touched: u64,
    /// Holds fingerprints its run on disk (if any) does not.
    dirty: bool,
}

impl Bucket {
    /// Add a fingerprint at insert `clock`; whether it is new.
    #[inline]
    fn add(&mut self, clock: u64, fp: u64) -> bool {
        self.touched = clock;
        let new = self.set.insert(fp);
        self.dirty |= new;
        new
    }
}

/// The fingerprints seen, in time buckets, the cold ones on disk (see the module docs).
#[derive(Default)]
pub struct TimedFingerprints {
    /// Looked up for every selected row: keyed with a fast hash, not the default SipHash (~1% of a report).
    hot: HashMap<i64, Bucket, foldhash::fast::RandomState>,
    hot_len: usize,
    /// Bucket → (offset, count) of its run: in `spill` below `spill_len`, in `pending` from there on.
    cold: HashMap<i64, (u64, usize), foldhash::fast::RandomState>,
    spill: Option<File>,
    spill_len: u64,
    /// Runs not yet written to `spill` (at most about [`SPILL_WRITE`] bytes).
    pending: Vec<u8>,
    /// Emptied sets of buckets written out, to be filled again.
    spare: Vec<FpSet>,
    clock: u64,
    /// The next insert (`clock`) at which idle buckets are looked for.
    next_check: u64,
    limit: usize,
    idle: u64,
    /// Runs read back (a measure of how far the input is from time order).
    pub reloads: u64,
}

impl TimedFingerprints {
    pub fn new() -> Self {
        Self::with_limit(HOT_FINGERPRINTS)
    }

    /// A table that keeps at most about `limit` fingerprints in memory.
    pub fn with_limit(limit: usize) -> Self {
        Self::with_limits(limit, IDLE_INSERTS)
    }

    /// A table that keeps at most about `limit` fingerprints in memory and writes out a bucket `idle` inserts
    /// after it was last touched.
    pub fn with_limits(limit: usize, idle: u64) -> Self {
        TimedFingerprints {
            limit: limit.max(1),
            idle: idle.max(1),
            ..Default::default()
        }
    }

    /// Record the fingerprint of an event in [`bucket`] `b`; `false` when it was already there (a duplicate).
    pub fn insert(&mut self, b: i32, fp: u64) -> anyhow::Result<bool> {
        let b = i64::from(b);
        self.clock += 1;
        // One lookup when the bucket is in memory, as it nearly always is (the main thread does this for every
        // deny).
        let new = match self.hot.get_mut(&b) {
            Some(bucket) => bucket.add(self.clock, fp),
            None => {
                self.load(b)?;
                self.hot
                    .get_mut(&b)
                    .expect("loaded above")
                    .add(self.clock, fp)
            }
        };
        if new {
            self.hot_len += 1;
        }
        self.after_insert(new)?;
        Ok(new)
    }

    /// Bring bucket `b` into memory: read back from its run on disk, or empty.
    fn load(&mut self, b: i64) -> anyhow::Result<()> {
        let mut set = self.reload(b)?;
        // Sized as the minute before, which time-ordered input has just filled: growing each minute's set from
        // empty rehashed it eight times (a tenth of the main thread's time in a report).
        let before = self.hot.get(&(b - 1)).map_or(0, |k| k.set.len());
        if set.is_empty()
            && let Some(spare) = self.spare.pop()
        {
            set = spare;
        }
        set.reserve(before.saturating_sub(set.len()));
        self.hot_len += set.len();
        self.hot.insert(
            b,
            Bucket {
                set,
                touched: 0,
                dirty: false,
            },
        );
        Ok(())
    }

    /// Keep memory within the limit and write out the idle buckets, every [`IDLE_CHECK`] inserts (or the idle
    /// span when shorter). A countdown rather than `clock % step`: a division for every deny showed.
    #[inline]
    fn after_insert(&mut self, new: bool) -> anyhow::Result<()> {
        if new && self.hot_len > self.limit {
            self.evict()?;
        }
        if self.clock >= self.next_check {
            let step = IDLE_CHECK.min(self.idle);
            // The same inserts as `clock % step == 0`: the next multiple of the step.
            self.next_check = (self.clock / step + 1) * step;
            if self.clock % step == 0 {
                self.evict_idle()?;
            }
        }
        Ok(())
    }

    /// Fingerprints in memory.
    pub fn hot_len(&self) -> usize {
        self.hot_len
    }

    fn reload(&mut self, b: i64) -> anyhow::Result<FpSet> {
        let Some(&(offset, n)) = self.cold.get(&b) else {
            return Ok(FpSet::default());
        };
        self.reloads += 1;
        let mut read = Vec::new();
        let bytes = match offset.checked_sub(self.spill_len) {
            // Still gathered in memory: a run is written whole, so it is all here or all in the file.
            Some(at) => &self.pending[at as usize..at as usize + n * 8],
            None => {
                let file = self.spill.as_ref().expect("a written run has a spill file");
                read.resize(n * 8, 0u8);
                file.read_exact_at(&mut read, offset).map_err(|e| {
                    anyhow::anyhow!("reading the duplicate table's temporary file: {e}")
                })?;
                &read[..]
            }
        };
        let mut set = FpSet::with_capacity_and_hasher(n, Default::default());
        set.extend(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))),
        );
        Ok(set)
    }

    /// Write out the buckets no insert touched for [`IDLE_INSERTS`] inserts.
    fn evict_idle(&mut self) -> anyhow::Result<()> {
        let Some(before) = self.clock.checked_sub(self.idle) else {
            return Ok(());
        };
        let idle: Vec<i64> = self
            .hot
            .iter()
            .filter(|(_, k)| k.touched < before)
            .map(|(b, _)| *b)
            .collect();
        for b in idle {
            self.write_out(b)?;
        }
        Ok(())
    }

    /// Drop a bucket from memory, writing its run first when the file does not hold all of it.
    fn write_out(&mut self, b: i64) -> anyhow::Result<()> {
        let mut bucket = self.hot.remove(&b).expect("a bucket in memory");
        self.hot_len -= bucket.set.len();
        if bucket.dirty || !self.cold.contains_key(&b) {
            self.write_run(b, &bucket.set)?;
        }
        if self.spare.len() < SPARE_SETS {
            bucket.set.clear();
            self.spare.push(bucket.set);
        }
        Ok(())
    }

    /// Write out the buckets touched longest ago until half the limit is left in memory.
    fn evict(&mut self) -> anyhow::Result<()> {
        let mut order: Vec<(u64, i64)> = self.hot.iter().map(|(b, k)| (k.touched, *b)).collect();
        order.sort_unstable();
        for (_, b) in order {
            if self.hot_len <= self.limit / 2 || self.hot.len() == 1 {
                break;
            }
            self.write_out(b)?;
        }
        Ok(())
    }

    /// Gather a bucket's run (replacing any earlier run of it), writing the gathered runs out once they fill
    /// [`SPILL_WRITE`].
    fn write_run(&mut self, b: i64, set: &FpSet) -> anyhow::Result<()> {
        let offset = self.spill_len + self.pending.len() as u64;
        self.pending.reserve(set.len() * 8);
        for fp in set {
            self.pending.extend_from_slice(&fp.to_le_bytes());
        }
        self.cold.insert(b, (offset, set.len()));
        if self.pending.len() >= SPILL_WRITE {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> anyhow::Result<()> {
        let spill_err = |e: std::io::Error| {
            anyhow::anyhow!("writing the duplicate table's temporary file: {e}")
        };
        if self.spill.is_none() {
            self.spill = Some(tempfile::tempfile().map_err(spill_err)?);
        }
        let file = self.spill.as_mut().expect("created above");
        file.write_all_at(&self.pending, self.spill_len)
            .map_err(spill_err)?;
        self.spill_len += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }
}

/// Identity of one logged event across both diagnostic modes: the same event written as a structured
/// `AZFW*` record and as a legacy message has the same time, endpoints, ports, protocol, action and hits.
/// Rows without a source port (aggregation tables, old ICMP) are never treated as duplicates.
pub fn fingerprint(row: &Row<'_>) -> Option<u64> {
    Some(
        Print {
            time_us: row.time_us?,
            source_port: row.source_port?,
            destination_port: row.destination_port,
            kind: row.kind,
            action: row.action,
            hits: row.hits,
            protocol: protocol_word(row.protocol),
            source: host_word(row.source),
            destination: host_word(row.destination),
        }
        .hash(),
    )
}

/// What a fingerprint is made of. The protocol and the hosts come as words of their own
/// ([`protocol_word`], [`host_word`]), so a reader that meets the same value row after row (a Parquet
/// dictionary) works each out once.
///
/// Computed for every row read, so the fixed-width fields are packed into words and the protocol folded
/// without building its canonical text (the generic `Hash` of each field and the protocol's normalisation
/// were ~0.3 s of CPU on 10M rows).
#[derive(Debug, Clone, Copy)]
pub struct Print {
    pub time_us: i64,
    pub source_port: u32,
    pub destination_port: Option<u32>,
    pub kind: Option<crate::event::Kind>,
    pub action: Option<crate::event::Action>,
    /// As logged (a count of 0 stays 0 here).
    pub hits: u64,
    pub protocol: u64,
    pub source: u64,
    pub destination: u64,
}

impl Print {
    pub fn hash(&self) -> u64 {
        let mut h = foldhash::quality::FixedState::with_seed(0x6677_6c6f_6700_0003).build_hasher();
        h.write_u64(self.time_us as u64);
        let dport = self.destination_port.map_or(1 << 32, u64::from);
        let kind = self.kind.map_or(0, |k| k as u64 + 1);
        let action = self.action.map_or(0, |a| a as u64 + 1);
        h.write_u64(u64::from(self.source_port) | dport << 16 | kind << 49 | action << 57);
        h.write_u64(self.hits);
        h.write_u64(self.protocol);
        h.write_u64(self.source);
        h.write_u64(self.destination);
        h.finish()
    }
}

/// A protocol as logged, folded as [`Print`] takes it (0: none).
pub fn protocol_word(raw: Option<&str>) -> u64 {
    raw.map_or(0, protocol_key)
}

/// A host as [`Print`] takes it: an IPv4 address as itself, anything else hashed; 0 for none.
pub fn host_word(host: Option<Host<'_>>) -> u64 {
    let mut h = foldhash::quality::FixedState::with_seed(0x6677_6c6f_6700_0004).build_hasher();
    match host {
        None => return 0,
        Some(Host::Ip(std::net::IpAddr::V4(v4))) => return 1 << 32 | u64::from(v4.to_bits()),
        Some(Host::Ip(std::net::IpAddr::V6(v6))) => {
            h.write_u8(2);
            h.write_u128(v6.to_bits());
        }
        Some(Host::Name(n)) => {
            h.write_u8(3);
            hash_name(&mut h, n);
        }
    }
    // Tagged above an address's 33 bits, so a hash never meets an IPv4 address or none.
    h.finish() | 1 << 63
}

/// The canonical protocol name of [`crate::event::normalize::protocol`] (first word, upper case, `HTTP/x` as
/// `HTTP`) folded into a word without allocating: names of up to 8 bytes are the word itself, longer ones a
/// hash of their upper-cased bytes (tagged so the two cannot meet).
fn protocol_key(raw: &str) -> u64 {
    // The usual `HTTPS`, `TCP`, `HTTP ` or `ICMP Type=8` is read here without trimming; anything else
    // (leading spaces, tabs, non-ASCII) goes through the shared normaliser. Calling `protocol_word` for every
    // row instead measured ~0.3 G more cycles on 10M rows.
    let b = raw.as_bytes();
    let word = &b[..b.iter().position(|&c| c == b' ').unwrap_or(b.len())];
    if !word.first().is_some_and(u8::is_ascii_alphabetic) || !word.iter().all(u8::is_ascii_graphic)
    {
        return crate::event::normalize::protocol(raw)
            .map_or(0, |(name, _)| name_key(name.as_bytes()));
    }
    let word: &[u8] = if word.len() > 5 && word[..5].eq_ignore_ascii_case(b"HTTP/") {
        b"HTTP"
    } else {
        word
    };
    name_key(word)
}

fn name_key(name: &[u8]) -> u64 {
    if name.len() <= 8 {
        name.iter()
            .fold(0u64, |k, b| k << 8 | u64::from(b.to_ascii_uppercase()))
    } else {
        let mut h = foldhash::quality::FixedState::with_seed(7).build_hasher();
        for b in name {
            h.write_u8(b.to_ascii_uppercase());
        }
        h.finish() | 1 << 63
    }
}

/// Hash a name as its canonical form (trimmed, one trailing dot dropped, ASCII lower case) without building
/// it: eight bytes at a time, capitals lowered in the word (SWAR), so names with capitals cost no allocation
/// and names without cost no separate scan.
fn hash_name(h: &mut impl Hasher, raw: &str) {
    let name = crate::event::normalize::name_text(raw).as_bytes();
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Lowered words gather in a buffer hashed in one write (a write per word cost a multiply each).
    let mut buf = [0u8; 64];
    let mut n = 0;
    for chunk in name.chunks(8) {
        let mut bytes = [0u8; 8];
        bytes[..chunk.len()].copy_from_slice(chunk);
        let w = u64::from_le_bytes(bytes);
        // Per byte: high bit of `ge_a` set when the low seven bits are >= 'A', of `gt_z` when > 'Z'; bytes
        // with their own high bit set (UTF-8) are left alone.
        let x = w & LOW7;
        let ge_a = x + 0x3f3f_3f3f_3f3f_3f3f;
        let gt_z = x + 0x2525_2525_2525_2525;
        let upper = ge_a & !gt_z & !w & HIGH;
        buf[n..n + 8].copy_from_slice(&(w | upper >> 2).to_le_bytes());
        n += 8;
        if n == buf.len() {
            h.write(&buf);
            n = 0;
        }
    }
    h.write(&buf[..n]);
    h.write_usize(name.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_repeats_across_and_within_buckets() {
        let mut s = TimedFingerprints::new();
        let t = 1_700_000_000_000_000;
        assert!(s.insert(bucket(t), 5).unwrap());
        assert!(s.insert(bucket(t), 9).unwrap());
        assert!(!s.insert(bucket(t), 9).unwrap());
        assert!(
            s.insert(bucket(t + BUCKET_US), 9).unwrap(),
            "another bucket"
        );
        assert!(s.insert(bucket(-1), 0).unwrap() && !s.insert(bucket(-1), 0).unwrap());
        assert_eq!(s.hot_len(), 4);
    }

    #[test]
    fn cold_buckets_are_written_out_and_read_back_exactly() {
        // A limit of 1,000 fingerprints over 20 buckets of 500: the table keeps spilling, and a second pass over
        // the same events (a copy of the input given again) must find every one of them.
        let mut s = TimedFingerprints::with_limit(1000);
        let events: Vec<(i64, u64)> = (0..10_000u64)
            .map(|i| {
                (
                    (i / 500) as i64 * BUCKET_US + (i % 7) as i64,
                    i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                )
            })
            .collect();
        for &(t, f) in &events {
            assert!(s.insert(bucket(t), f).unwrap());
        }
        assert!(s.hot_len() <= 1000);
        for &(t, f) in events.iter().rev() {
            assert!(!s.insert(bucket(t), f).unwrap(), "{t} {f}");
        }
        assert!(s.reloads > 0);
        // New events in reloaded buckets are kept too.
        for &(t, f) in &events {
            assert!(s.insert(bucket(t), f ^ 1).unwrap());
        }
        for &(t, f) in &events {
            assert!(!s.insert(bucket(t), f ^ 1).unwrap());
        }
    }

    #[test]
    fn runs_are_read_back_from_the_file_and_from_memory_alike() {
        // 310 buckets of 1,000 in time order with a short idle span: more runs than one write holds, so some
        // are read back from the file and the last ones from the runs not yet written.
        let mut s = TimedFingerprints::with_limits(1 << 20, 2000);
        let fp = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 7;
        let time = |i: u64| (i / 1000) as i64 * BUCKET_US;
        for i in 0..310_000u64 {
            assert!(s.insert(bucket(time(i)), fp(i)).unwrap());
        }
        assert!(s.spill_len >= SPILL_WRITE as u64, "{}", s.spill_len);
        assert!(!s.pending.is_empty());
        for i in (0..310_000u64).step_by(997) {
            assert!(!s.insert(bucket(time(i)), fp(i)).unwrap(), "{i}");
            assert!(s.insert(bucket(time(i)), fp(i) ^ 1).unwrap(), "{i}");
        }
        // All but the last few minutes (still in memory) were read back.
        assert!(s.reloads >= 300, "{}", s.reloads);
    }

    #[test]
    fn time_ordered_input_keeps_only_recent_buckets_and_never_reads_back() {
        let mut s = TimedFingerprints::with_limits(1 << 20, 1000);
        // 100 fingerprints a minute for 500 minutes, in time order, then repeats of the last minute.
        let fp = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for i in 0..50_000u64 {
            assert!(
                s.insert(bucket((i / 100) as i64 * BUCKET_US), fp(i))
                    .unwrap()
            );
            // At most the idle span, the span between two looks for idle buckets and one bucket.
            assert!(s.hot_len() <= 2 * 1000 + 100, "{}", s.hot_len());
        }
        for i in 49_900..50_000u64 {
            assert!(
                !s.insert(bucket((i / 100) as i64 * BUCKET_US), fp(i))
                    .unwrap()
            );
        }
        assert_eq!(s.reloads, 0);
        // A repeat of a minute long written out is still found.
        assert!(!s.insert(bucket(0), fp(5)).unwrap());
        assert_eq!(s.reloads, 1);
    }

    #[test]
    fn input_in_no_time_order_stays_in_memory_below_the_limit() {
        let mut s = TimedFingerprints::with_limits(1 << 20, 1000);
        let fp = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // 300 buckets met in turn: every bucket is touched every 300 inserts, so none is ever idle.
        for i in 0..60_000u64 {
            assert!(
                s.insert(bucket((i % 300) as i64 * BUCKET_US), fp(i))
                    .unwrap()
            );
        }
        for i in 0..60_000u64 {
            assert!(
                !s.insert(bucket((i % 300) as i64 * BUCKET_US), fp(i))
                    .unwrap()
            );
        }
        assert_eq!((s.reloads, s.hot_len()), (0, 60_000));
    }

    fn name_hash(n: &str) -> u64 {
        let mut h = foldhash::quality::FixedState::with_seed(1).build_hasher();
        hash_name(&mut h, n);
        h.finish()
    }

    #[test]
    fn names_hash_as_their_canonical_form() {
        let names = [
            "mcr.microsoft.com",
            "MCR.Microsoft.COM.",
            " Login.MicrosoftOnline.com ",
            "aks-hcp-1234ABCD.hcp.westeurope.azmk8s.io",
            "Ünïcode.Example.ORG",
            "x",
            "@[`{Z",
            "Very-Long-Name-Of-A-Storage-Account-For-Diagnostics.Blob.Core.Windows.NET.",
            "exactly-sixty-four-bytes-long-name-000000000000000000000.EXAMPLE",
            "exactly-sixty-four-bytes-long-name-0000000000000000000000.EXAMPLE",
        ];
        for n in names {
            let canonical = crate::event::normalize::canonical_name(n);
            assert_eq!(name_hash(n), name_hash(&canonical), "{n:?}");
        }
        assert_ne!(name_hash("a.example.com"), name_hash("b.example.com"));
        assert_ne!(name_hash("Ünïcode.org"), name_hash("ünïcode.org"));
        assert_ne!(name_hash("@[`{z"), name_hash("`{@[z"));
    }

    #[test]
    fn host_words_take_hosts_as_their_canonical_form_and_keep_kinds_apart() {
        use std::net::IpAddr;
        let name = |n| host_word(Some(Host::Name(n)));
        let ip = |a: &str| host_word(Some(Host::Ip(a.parse::<IpAddr>().unwrap())));
        assert_eq!(name("MCR.Microsoft.COM."), name("mcr.microsoft.com"));
        assert_ne!(name("a.example"), name("b.example"));
        let words = [
            host_word(None),
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            ip("0.0.0.0"),
            ip("::1"),
            ip("::"),
            name("10.0.0.1"),
            name(""),
        ];
        for (i, a) in words.iter().enumerate() {
            for b in &words[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn protocol_keys_follow_the_normaliser() {
        let same =
            |a: &str, b: &str| assert_eq!(protocol_key(a), protocol_key(b), "{a:?} vs {b:?}");
        same("HTTP ", "HTTP");
        same("http/1.1", "HTTP");
        same("ICMP Type=8", "icmp");
        same(" udp", "UDP");
        same("TCP\t", "tcp");
        same("ICMPv6 Type=128", "ICMPV6");
        same("SomeVeryLongProtocol", "SOMEVERYLONGPROTOCOL");
        assert_ne!(protocol_key("TCP"), protocol_key("UDP"));
        assert_ne!(protocol_key("HTTP"), protocol_key("HTTPS"));
        assert_eq!(protocol_key(""), 0);
    }
}
