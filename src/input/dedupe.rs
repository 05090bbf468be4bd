//! The set of event fingerprints seen so far, for dropping an event archived twice.
//!
//! Fingerprints are already well-mixed 64-bit hashes, so the table uses their top bits as the slot (open
//! addressing, linear probing, no second hash). Inserts miss the cache (ten million events make a 128 MiB
//! table), so each insert prefetches the slot of one a little further on: the misses overlap instead of
//! queueing. An earlier version sorted each batch by slot first: ten million inserts took 0.25 s that way and
//! take 0.16 s with the prefetch (16 ahead; 8 gave 0.19 s, 32 the same, 64 0.17 s).

use std::hash::{BuildHasher, Hasher};

use super::row::Row;
use crate::event::normalize::Host;

/// Open-addressing set of non-zero `u64` fingerprints (0 is stored as 1; a collision costs nothing but a
/// one-in-2^64 false duplicate).
pub struct FingerprintSet {
    slots: Vec<u64>,
    bits: u32,
    len: usize,
}

/// How many fingerprints ahead the slot is prefetched (enough to cover a memory access).
const PREFETCH_AHEAD: usize = 16;

impl FingerprintSet {
    pub fn new() -> Self {
        FingerprintSet {
            slots: zeroed_slots(1 << 16),
            bits: 16,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Insert every fingerprint of a batch; returns the positions (into `fps`) of those already present,
    /// including repeats within the batch (every copy after the first).
    pub fn insert_batch(&mut self, fps: &[u64]) -> Vec<usize> {
        self.reserve(fps.len());
        let mut dups = Vec::new();
        for (pos, &f) in fps.iter().enumerate() {
            // The table is far larger than the caches: ask for the slot of a later fingerprint now, so its
            // cache line is on its way by the time it is inserted (inserts in input order then run at memory
            // parallelism instead of one miss after another).
            if let Some(&ahead) = fps.get(pos + PREFETCH_AHEAD) {
                self.prefetch(ahead);
            }
            if !self.insert_one(f) {
                dups.push(pos);
            }
        }
        dups
    }

    #[inline]
    fn prefetch(&self, f: u64) {
        let i = (f.max(1) >> (64 - self.bits)) as usize;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `i` is below `slots.len()` (the top `bits` bits of a u64 index a table of 2^bits slots), and
        // a prefetch only hints the cache; it reads nothing and cannot fault.
        unsafe {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            _mm_prefetch::<_MM_HINT_T0>(self.slots.as_ptr().add(i).cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    fn insert_one(&mut self, f: u64) -> bool {
        let f = f.max(1);
        let mask = self.slots.len() - 1;
        let mut i = (f >> (64 - self.bits)) as usize;
        loop {
            match self.slots[i] {
                0 => {
                    self.slots[i] = f;
                    self.len += 1;
                    return true;
                }
                s if s == f => return false,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Make room for `more` further fingerprints at once (readers that know their row count call this, so the
    /// table never grows while full).
    pub fn reserve_for(&mut self, more: usize) {
        self.reserve(more);
    }

    /// Keep the load factor at or under three quarters after `more` inserts (the keys are uniform hashes, so
    /// linear probing stays short).
    fn reserve(&mut self, more: usize) {
        let need = (self.len + more) * 4 / 3 + 1;
        if need <= self.slots.len() {
            return;
        }
        let bits = need.next_power_of_two().trailing_zeros();
        let old = std::mem::replace(&mut self.slots, zeroed_slots(1 << bits));
        self.bits = bits;
        self.len = 0;
        for f in old.into_iter().filter(|f| *f != 0) {
            self.insert_one(f);
        }
    }
}

/// A table of empty slots, written rather than allocated zeroed: a zeroed allocation maps the kernel's shared
/// zero page, and the first insert into each page (a read, then a write) then replaced that mapping, one
/// TLB shootdown across cores per 4 KiB: 32,747 interrupts on 10M rows, against 25 for the rest of the run.
#[allow(clippy::slow_vector_initialization)] // `vec![0; n]` is exactly the zeroed allocation avoided here
fn zeroed_slots(n: usize) -> Vec<u64> {
    let mut v = Vec::with_capacity(n);
    v.resize(n, 0);
    v
}

impl Default for FingerprintSet {
    fn default() -> Self {
        Self::new()
    }
}

/// Identity of one logged event across both diagnostic modes: the same event written as a structured
/// `AZFW*` record and as a legacy message has the same time, endpoints, ports, protocol, action and hits.
/// Rows without a source port (aggregation tables, old ICMP) are never treated as duplicates.
///
/// Computed for every row read, so the fixed-width fields are packed into two words and the protocol into a
/// third without building its canonical text (the generic `Hash` of each field and the protocol's
/// normalisation were ~0.3 s of CPU on 10M rows).
pub fn fingerprint(row: &Row<'_>) -> Option<u64> {
    let (time, sport) = (row.time_us?, row.source_port?);
    let mut h = foldhash::quality::FixedState::with_seed(0x6677_6c6f_6700_0002).build_hasher();
    h.write_u64(time as u64);
    let dport = row.destination_port.map_or(1 << 32, u64::from);
    let kind = row.kind.map_or(0, |k| k as u64 + 1);
    let action = row.action.map_or(0, |a| a as u64 + 1);
    h.write_u64(u64::from(sport) | dport << 16 | kind << 49 | action << 57);
    h.write_u64(row.hits);
    h.write_u64(row.protocol.map_or(0, protocol_key));
    hash_host(&mut h, row.source);
    hash_host(&mut h, row.destination);
    Some(h.finish())
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

fn hash_host(h: &mut impl Hasher, host: Option<Host<'_>>) {
    match host {
        None => h.write_u8(0),
        Some(Host::Ip(std::net::IpAddr::V4(v4))) => h.write_u64(1 << 32 | u64::from(v4.to_bits())),
        Some(Host::Ip(std::net::IpAddr::V6(v6))) => {
            h.write_u8(2);
            h.write_u128(v6.to_bits());
        }
        Some(Host::Name(n)) => {
            h.write_u8(3);
            hash_name(h, n);
        }
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
    fn finds_repeats_across_and_within_batches() {
        let mut s = FingerprintSet::new();
        assert!(s.insert_batch(&[5, 9, u64::MAX, 0]).is_empty());
        assert_eq!(s.insert_batch(&[7, 9, 7, 1 << 63, 0]), vec![1, 2, 4]);
        assert_eq!(s.len(), 6);
    }

    #[test]
    fn grows_and_keeps_everything() {
        let mut s = FingerprintSet::new();
        let fps: Vec<u64> = (1..300_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        assert!(s.insert_batch(&fps).is_empty());
        assert_eq!(s.insert_batch(&fps[..1000]).len(), 1000);
        assert_eq!(s.len(), fps.len());
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
