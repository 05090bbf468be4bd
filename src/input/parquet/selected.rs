//! The selected rows of a structured part, counted straight into its tally. A Parquet column holds a
//! dictionary of a few thousand values repeated over a quarter of a million rows, and polars decodes a value of
//! the dictionary to the same 16-byte view on every row it appears in: so a value's table, action, protocol id,
//! host id and fingerprint word are worked out once per view, and a selected row costs a handful of lookups
//! instead of trimming, parsing and interning its texts again (which was most of a deny report's CPU).
//!
//! The wide text columns ([`WIDE`]), which only selected rows read, can also come as dictionary codes decoded
//! for the selected rows alone (`super::codes`): [`Selected::plan`] classifies a part's rows from its other
//! columns and makes the mask, and [`Selected::push_planned`] counts the selected ones, a value worked out once
//! per code.
//!
//! Only a row whose every value this path can vouch for is taken here: an application or network rule
//! (named by its `Type`), a deny in the window, typed time, count and ports in range. Any other row goes through
//! [`fields::fill_row`], so what is counted, selected, skipped and fingerprinted stays exactly what the
//! generic path gives (the tests compare both on every row).

use std::collections::HashMap;

use polars_arrow::array::{Array as _, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::bitmap::{Bitmap, BitmapBuilder};

use super::{Data, within};
use crate::event::normalize::{self, Host};
use crate::event::tally::{DenyTally, NONE, Pair};
use crate::event::{Action, Kind};
use crate::input::Pushdown;
use crate::input::batcher::{Counted, PartBuilder};
use crate::input::dedupe::{self, Print};
use crate::input::fields::{self, Field, FieldIndex};
use crate::input::row::text;

type Fast = foldhash::fast::RandomState;

/// A host as the tally and the fingerprint take it.
#[derive(Debug, Clone, Copy)]
struct Resolved {
    /// Whether there is a host (its id may still be [`NONE`]: a name that is empty once canonical).
    present: bool,
    id: u32,
    word: u64,
}

const ABSENT: Resolved = Resolved {
    present: false,
    id: NONE,
    word: 0,
};

/// Values worked out once per distinct view of one column. The first few views are kept in a list compared
/// one by one: a table or action column holds two or three values, and comparing a 16-byte view with each is
/// cheaper than hashing it on every row (the hashed lookup was a fifth of a report's CPU).
struct Memo<T> {
    few: Vec<(u128, T)>,
    many: HashMap<u128, T, Fast>,
}

/// Views compared one by one before the hash table.
const FEW: usize = 4;

impl<T: Copy> Memo<T> {
    fn new() -> Self {
        Memo {
            few: Vec::with_capacity(FEW),
            many: HashMap::default(),
        }
    }

    /// The value for row `i` of `a`: `null` for a null, else the memo's or `work`'s (`work` sees the text).
    #[inline]
    fn get(&mut self, a: &Utf8ViewArray, i: usize, null: T, work: impl FnOnce(&str) -> T) -> T {
        if !a.is_valid(i) {
            return null;
        }
        // Equal views are equal strings: a view holds the length and either the whole text (up to 12 bytes)
        // or a prefix with its buffer and offset. Equal strings with different views only miss the memo.
        let key = a.views()[i].as_u128();
        if let Some((_, v)) = self.few.iter().find(|(k, _)| *k == key) {
            return *v;
        }
        if let Some(v) = self.many.get(&key) {
            return *v;
        }
        // SAFETY: `i < a.len()`: the caller checked the row against the part's height, which every column has.
        let v = work(unsafe { a.value_unchecked(i) });
        if self.few.len() < FEW {
            self.few.push((key, v));
        } else {
            self.many.insert(key, v);
        }
        v
    }
}

/// The text columns only selected rows read (protocol, source, FQDN, destination address), and where their
/// values come from: the column as polars decoded it for every row (a memo by view), or dictionary codes
/// decoded for the selected rows only, in row order (a memo by code: no hashing, and no view built per row).
pub(super) const WIDE: [Field; 4] = [
    Field::Protocol,
    Field::SourceIp,
    Field::Fqdn,
    Field::DestinationIp,
];

/// The text columns every row's classification reads (table, action): two or three values, read as one
/// dictionary code per row (4 bytes, against polars' 16-byte view) when the file allows it.
pub(super) const NARROW_TEXT: [Field; 2] = [Field::Table, Field::Action];

enum Values<'c> {
    Rows(&'c Utf8ViewArray),
    Codes {
        keys: &'c PrimitiveArray<u32>,
        dict: &'c Utf8ViewArray,
    },
}

struct Lookup<'c, T> {
    values: Values<'c>,
    by_view: Memo<T>,
    by_code: Vec<Option<T>>,
}

impl<'c, T: Copy> Lookup<'c, T> {
    fn rows(a: &'c Utf8ViewArray) -> Self {
        Lookup {
            values: Values::Rows(a),
            by_view: Memo::new(),
            by_code: Vec::new(),
        }
    }

    /// `None` when a code lies outside the dictionary (a corrupt file; the caller reads the part the other way).
    fn codes(d: &'c DictionaryArray<u32>) -> Option<Self> {
        let dict = d.values().as_any().downcast_ref::<Utf8ViewArray>()?;
        let keys = d.keys();
        if keys.values().iter().any(|&k| k as usize >= dict.len()) {
            return None;
        }
        Some(Lookup {
            values: Values::Codes { keys, dict },
            by_view: Memo::new(),
            by_code: vec![None; dict.len()],
        })
    }

    /// The codes, without nulls, and `work`'s value of each entry of a small dictionary; `None` otherwise.
    fn per_code<U>(&self, work: impl Fn(&str) -> U) -> Option<(&'c [u32], Vec<U>)> {
        match self.values {
            Values::Codes { keys, dict }
                if keys.null_count() == 0 && dict.len() <= MAX_COLUMNAR_CODES =>
            {
                let values = (0..dict.len()).map(|c| work(dict.value(c))).collect();
                Some((keys.values().as_slice(), values))
            }
            _ => None,
        }
    }

    /// The value of row `row` of the part, the `nth` of the codes (of a wide column: the `nth` selected row; of
    /// a narrow one, `row` itself).
    #[inline]
    fn get(&mut self, row: usize, nth: usize, null: T, work: impl FnOnce(&str) -> T) -> T {
        match self.values {
            Values::Rows(a) => self.by_view.get(a, row, null, work),
            Values::Codes { keys, dict } => {
                if nth >= keys.len() || !keys.is_valid(nth) {
                    return null;
                }
                let code = keys.value(nth) as usize;
                if let Some(v) = self.by_code[code] {
                    return v;
                }
                // SAFETY: every code was checked against the dictionary's length in `codes`.
                let v = work(unsafe { dict.value_unchecked(code) });
                self.by_code[code] = Some(v);
                v
            }
        }
    }
}

/// What a row's typed columns, table and action say about it.
enum Narrow {
    /// Left to `fill_row`.
    Generic,
    /// Valid and not selected: only counted.
    Unselected { time_us: i64, hits: u64 },
    /// A deny in the window of an application or network rule, ports in range.
    Selected(Chosen),
}

/// A selected row, with what its typed columns, table and action said.
#[derive(Debug, Clone, Copy)]
struct Chosen {
    row: usize,
    time_us: i64,
    hits: u64,
    kind: Kind,
    source_port: Option<u32>,
    destination_port: Option<u32>,
}

/// The columns of a part and the memos of their values.
pub(super) struct Selected<'c> {
    pushdown: Pushdown,
    time: &'c PrimitiveArray<i64>,
    counts: Vec<&'c PrimitiveArray<i64>>,
    source_port: Option<&'c PrimitiveArray<i64>>,
    destination_port: Option<&'c PrimitiveArray<i64>>,
    /// Every port column, when all are typed: a row that is not selected is counted only when all its ports
    /// are in range (a bad translated port skips a NAT row); `None` leaves such rows to `fill_row`.
    ports: Option<Vec<&'c PrimitiveArray<i64>>>,
    /// What holds for every row of the part, checked once for the part instead of on each row: every time is
    /// there and in range; the first count column has a count in range on every row (its values); every port
    /// column's values are ports.
    all_times: bool,
    all_hits: Option<&'c [i64]>,
    all_ports: bool,
    /// The table and action of each row ([`NARROW_TEXT`]: by view, or by a code per row of the part).
    kinds: Lookup<'c, Option<Kind>>,
    actions: Lookup<'c, Option<Action>>,
    protocol: Option<Lookup<'c, (u32, u64)>>,
    source: Option<Lookup<'c, Resolved>>,
    /// `None`: no text, the destination address is taken instead.
    fqdn: Option<Lookup<'c, Option<Resolved>>>,
    destination_ip: Option<Lookup<'c, Resolved>>,
    /// Selected rows met so far: the index of the next one's codes.
    nth: usize,
    /// The part's rows classified a column at a time, when it is clean (see [`Columnar`]).
    columnar: Option<Columnar<'c>>,
}

/// A clean part: every time, count and port in range, the table and action as codes without nulls. Its rows
/// are classified by what each code says, in one pass without a branch per column, and the selected ones are
/// read again without classifying them twice (the per-row classification was a sixth of a report's CPU).
struct Columnar<'c> {
    table: &'c [u32],
    action: &'c [u32],
    /// Per action code: a deny.
    deny: Vec<bool>,
    /// Per table code: an application or network rule (what this path takes), else `None`.
    kind: Vec<Option<Kind>>,
}

/// Per-code values are worked out for dictionaries up to this size (a table or action column holds a handful).
const MAX_COLUMNAR_CODES: usize = 4096;

impl<'c> Selected<'c> {
    /// `None` when the part's columns are not all of the kind this path reads: it then takes no row. The text
    /// columns ([`WIDE`], [`NARROW_TEXT`]) are taken from `codes` when there, else from `cols` (absent from
    /// both: no value; the table and the action must be somewhere). The codes of a wide column are those of the
    /// selected rows, in order; those of a narrow one, one per row of the part.
    pub(super) fn new(
        cols: &'c [(Field, Data)],
        codes: &'c [(Field, DictionaryArray<u32>)],
        index: &FieldIndex,
        pushdown: &Pushdown,
        part: &mut PartBuilder,
    ) -> Option<Self> {
        if !pushdown.deny_only || !pushdown.core_only || part.tally_mut().is_none() {
            return None;
        }
        // Every column is one this path reads with the type it reads, or one `fill_row` does not look at for
        // an application or network row (or looks at only when `Type` names no table, which goes the other
        // way).
        for (f, d) in cols {
            let ok = match f {
                Field::Time
                | Field::Count
                | Field::Hits
                | Field::SourcePort
                | Field::DestinationPort => matches!(d, Data::Int(_)),
                Field::Table
                | Field::Action
                | Field::Protocol
                | Field::SourceIp
                | Field::Fqdn
                | Field::DestinationIp
                // Read as text for these rows, so only text cannot fail.
                | Field::ResourceId
                | Field::TargetUrl
                | Field::Policy
                | Field::RuleCollectionGroup
                | Field::RuleCollection
                | Field::Rule
                | Field::ActionReason
                | Field::WebCategory => matches!(d, Data::Str(_)),
                Field::Msg | Field::Kind => false,
                _ => true,
            };
            if !ok {
                return None;
            }
        }
        let col = |f: Field| index.get(f).map(|c| &cols[c].1);
        let text = |f: Field| match col(f) {
            Some(Data::Str(a)) => Some(a),
            _ => None,
        };
        let int = |f: Field| match col(f) {
            Some(Data::Int(a)) => Some(a),
            _ => None,
        };
        fn lookup<'c, T: Copy>(
            f: Field,
            codes: &'c [(Field, DictionaryArray<u32>)],
            rows: Option<&'c Utf8ViewArray>,
        ) -> Result<Option<Lookup<'c, T>>, ()> {
            match codes.iter().find(|(g, _)| *g == f) {
                Some((_, d)) => Lookup::codes(d).map(Some).ok_or(()),
                None => Ok(rows.map(Lookup::rows)),
            }
        }
        let time = int(Field::Time)?;
        let counts: Vec<&PrimitiveArray<i64>> = [Field::Count, Field::Hits]
            .into_iter()
            .filter_map(int)
            .collect();
        let ports: Option<Vec<&PrimitiveArray<i64>>> = [
            Field::SourcePort,
            Field::DestinationPort,
            Field::TranslatedPort,
        ]
        .into_iter()
        .filter(|f| index.has(*f))
        .map(int)
        .collect();
        let all_times =
            time.null_count() == 0 && within(time, fields::MIN_TIME_US..=fields::MAX_TIME_US - 1);
        let all_hits = counts
            .first()
            .filter(|c| c.null_count() == 0 && within(c, 0..=fields::MAX_HITS as i64))
            .map(|c| c.values().as_slice());
        // A null slot's value is not a port, but it is never read as one: checking every slot can only make
        // the part take the per-row check.
        let all_ports = ports
            .as_ref()
            .is_some_and(|ps| ps.iter().all(|p| within(p, 0..=i64::from(u16::MAX))));
        let kinds: Lookup<'c, Option<Kind>> =
            lookup(Field::Table, codes, text(Field::Table)).ok()??;
        let actions: Lookup<'c, Option<Action>> =
            lookup(Field::Action, codes, text(Field::Action)).ok()??;
        let clean = all_times && (counts.is_empty() || all_hits.is_some()) && all_ports;
        let columnar = clean
            .then(|| {
                let (table, kind) = kinds.per_code(|t| {
                    kind_of(t).filter(|k| matches!(k, Kind::Application | Kind::Network))
                })?;
                let (action, deny) = actions.per_code(|a| action_of(a) == Some(Action::Deny))?;
                (table.len() == time.len() && action.len() == time.len()).then_some(Columnar {
                    table,
                    action,
                    deny,
                    kind,
                })
            })
            .flatten();
        Some(Selected {
            pushdown: *pushdown,
            time,
            counts,
            source_port: int(Field::SourcePort),
            destination_port: int(Field::DestinationPort),
            ports,
            all_times,
            all_hits,
            all_ports,
            kinds,
            actions,
            protocol: lookup(Field::Protocol, codes, text(Field::Protocol)).ok()?,
            source: lookup(Field::SourceIp, codes, text(Field::SourceIp)).ok()?,
            fqdn: lookup(Field::Fqdn, codes, text(Field::Fqdn)).ok()?,
            destination_ip: lookup(Field::DestinationIp, codes, text(Field::DestinationIp)).ok()?,
            nth: 0,
            columnar,
        })
    }

    /// The wide columns' codes of the selected rows (those [`Selected::plan`] chose), for
    /// [`Selected::push_planned`]; `None` when they cannot be read (a code outside its dictionary).
    pub(super) fn with_codes(mut self, codes: &'c [(Field, DictionaryArray<u32>)]) -> Option<Self> {
        for (f, d) in codes {
            match f {
                Field::Protocol => self.protocol = Some(Lookup::codes(d)?),
                Field::SourceIp => self.source = Some(Lookup::codes(d)?),
                Field::Fqdn => self.fqdn = Some(Lookup::codes(d)?),
                Field::DestinationIp => self.destination_ip = Some(Lookup::codes(d)?),
                _ => return None,
            }
        }
        self.nth = 0;
        Some(self)
    }

    /// A part's rows (`height` rows from row `at` of a row group of `group_rows`) read from the columns other
    /// than the wide ones: the rows not selected are counted into `part`, and the selected ones returned, with
    /// their mask over the row group (what the wide columns' codes are decoded for). `None` when any row is left
    /// to `fill_row`: the caller then drops `part` and reads the part with every column decoded.
    pub(super) fn plan(
        &mut self,
        height: usize,
        at: usize,
        group_rows: usize,
        part: &mut PartBuilder,
    ) -> Option<Bitmap> {
        let mut mask = BitmapBuilder::with_capacity(group_rows);
        mask.extend_constant(at, false);
        if let Some(c) = &self.columnar {
            let (from, to) = self.pushdown.bounds();
            let time = self.time.values().get(..height)?;
            let mut counted = Counted::default();
            for (i, &t) in time.iter().enumerate() {
                let in_window = t >= from && t < to;
                if in_window && c.deny[c.action[i] as usize] {
                    // A deny of another table is `fill_row`'s: the part goes the other way.
                    c.kind[c.table[i] as usize]?;
                    mask.push(true);
                } else {
                    let hits = self.all_hits.map_or(1, |h| (h[i] as u64).max(1));
                    counted.rows += 1;
                    counted.events += hits;
                    if in_window {
                        counted.events_in_window += hits;
                    }
                    counted.first_us = counted.first_us.min(t);
                    counted.last_us = counted.last_us.max(t);
                    mask.push(false);
                }
            }
            part.count_unselected_rows(&counted);
            mask.extend_constant(group_rows.checked_sub(at + height)?, false);
            return Some(mask.freeze());
        }
        for i in 0..height {
            match self.narrow(i) {
                Narrow::Generic => return None,
                Narrow::Unselected { time_us, hits } => {
                    part.count_unselected(time_us, hits);
                    mask.push(false);
                }
                Narrow::Selected(_) => mask.push(true),
            }
        }
        mask.extend_constant(group_rows.checked_sub(at + height)?, false);
        Some(mask.freeze())
    }

    /// Count the part's selected rows (row `i` is selected when bit `at + i` of `mask` is set, as
    /// [`Selected::plan`] made it) into its tally; `false` if a row says otherwise now (it cannot: the same
    /// columns, the same test).
    pub(super) fn push_planned(
        &mut self,
        mask: &Bitmap,
        at: usize,
        height: usize,
        part: &mut PartBuilder,
    ) -> bool {
        if let Some(c) = self.columnar.take() {
            let port = |p: Option<&PrimitiveArray<i64>>, i: usize| {
                p.filter(|p| p.is_valid(i)).map(|p| p.value(i) as u32)
            };
            for (i, set) in mask.clone().sliced(at, height).iter().enumerate() {
                if !set {
                    continue;
                }
                let Some(kind) = c.kind[c.table[i] as usize] else {
                    return false;
                };
                let chosen = Chosen {
                    row: i,
                    time_us: self.time.value(i),
                    hits: self.all_hits.map_or(1, |h| h[i] as u64),
                    kind,
                    source_port: port(self.source_port, i),
                    destination_port: port(self.destination_port, i),
                };
                if !self.push_chosen(&chosen, part) {
                    return false;
                }
            }
            return true;
        }
        for i in 0..height {
            if mask.get_bit(at + i) {
                match self.narrow(i) {
                    Narrow::Selected(c) if self.push_chosen(&c, part) => {}
                    _ => return false,
                }
            }
        }
        true
    }

    /// What row `i`'s typed columns, table and action say (the wide columns are not looked at).
    #[inline]
    fn narrow(&mut self, i: usize) -> Narrow {
        if i >= self.time.len() {
            return Narrow::Generic;
        }
        let time_us = self.time.value(i);
        if !self.all_times
            && (!self.time.is_valid(i)
                || !(fields::MIN_TIME_US..fields::MAX_TIME_US).contains(&time_us))
        {
            return Narrow::Generic;
        }
        // As `fill_row`: the first count column with a value, which must be a count in range.
        let mut hits = 1;
        if let Some(all) = self.all_hits {
            hits = all[i] as u64;
        } else {
            for c in &self.counts {
                if c.is_valid(i) {
                    match u64::try_from(c.value(i)) {
                        Ok(n) if n <= fields::MAX_HITS => hits = n,
                        _ => return Narrow::Generic,
                    }
                    break;
                }
            }
        }
        let action = self.actions.get(i, i, None, action_of);
        if action != Some(Action::Deny) || !self.pushdown.in_window(Some(time_us)) {
            let Some(ports) = &self.ports else {
                return Narrow::Generic;
            };
            return if self.all_ports
                || ports
                    .iter()
                    .all(|p| !p.is_valid(i) || u16::try_from(p.value(i)).is_ok())
            {
                Narrow::Unselected { time_us, hits }
            } else {
                Narrow::Generic
            };
        }
        let kind = self.kinds.get(i, i, None, kind_of);
        let Some(kind @ (Kind::Application | Kind::Network)) = kind else {
            return Narrow::Generic;
        };
        let port = |p: Option<&PrimitiveArray<i64>>| -> Result<Option<u32>, ()> {
            match p {
                Some(p) if p.is_valid(i) => u16::try_from(p.value(i))
                    .map(|v| Some(u32::from(v)))
                    .map_err(|_| ()),
                _ => Ok(None),
            }
        };
        match (port(self.source_port), port(self.destination_port)) {
            (Ok(source_port), Ok(destination_port)) => Narrow::Selected(Chosen {
                row: i,
                time_us,
                hits,
                kind,
                source_port,
                destination_port,
            }),
            _ => Narrow::Generic,
        }
    }

    /// Count row `i` into `part` when it is a row this path vouches for (a valid row that is not selected is
    /// only counted, as [`super::Unselected`] does); `false` leaves it to `fill_row`.
    #[inline]
    pub(super) fn push(&mut self, i: usize, part: &mut PartBuilder) -> bool {
        match self.narrow(i) {
            Narrow::Generic => false,
            Narrow::Unselected { time_us, hits } => {
                part.count_unselected(time_us, hits);
                true
            }
            Narrow::Selected(c) => self.push_chosen(&c, part),
        }
    }

    /// Count a selected row into the part's tally: its wide values looked up (by view, or by the codes of the
    /// selected rows in order), then tallied and fingerprinted.
    #[inline]
    fn push_chosen(&mut self, c: &Chosen, part: &mut PartBuilder) -> bool {
        let Chosen {
            row: i,
            time_us,
            hits,
            kind,
            source_port,
            destination_port,
        } = *c;
        let Some(tally) = part.tally_mut() else {
            return false;
        };
        let nth = self.nth;
        self.nth += 1;
        let (protocol, protocol_word) = match &mut self.protocol {
            Some(p) => p.get(i, nth, (NONE, 0), |raw| match text(Some(raw)) {
                Some(t) => (tally.protocol_id(t), dedupe::protocol_word(Some(t))),
                None => (NONE, 0),
            }),
            None => (NONE, 0),
        };
        let source = match &mut self.source {
            Some(s) => s.get(i, nth, ABSENT, |raw| {
                resolve(raw, tally, DenyTally::source_id)
            }),
            None => ABSENT,
        };
        let by_name = match &mut self.fqdn {
            Some(f) => f.get(i, nth, None, |raw| {
                text(Some(raw)).map(|_| resolve(raw, tally, DenyTally::destination_id))
            }),
            None => None,
        };
        let destination = match (by_name, &mut self.destination_ip) {
            (Some(d), _) => d,
            (None, Some(d)) => d.get(i, nth, ABSENT, |raw| {
                resolve(raw, tally, DenyTally::destination_id)
            }),
            (None, None) => ABSENT,
        };
        // A port without a host is not kept (as `fill_row`).
        let destination_port = destination_port.filter(|_| destination.present);
        let pair = Pair {
            kind: Some(kind),
            protocol,
            destination: destination.id,
            destination_port,
            source: source.id,
        };
        let print = source_port.map(|source_port| Print {
            time_us,
            source_port,
            destination_port,
            kind: Some(kind),
            action: Some(Action::Deny),
            hits,
            protocol: protocol_word,
            source: source.word,
            destination: destination.word,
        });
        part.push_tallied(time_us, hits, pair, print);
        true
    }
}

/// A row's action, as `fill_row` reads it.
fn action_of(raw: &str) -> Option<Action> {
    text(Some(raw)).and_then(normalize::action)
}

/// A row's table (its kind), as `fill_row` reads it.
fn kind_of(raw: &str) -> Option<Kind> {
    fields::kind_for_table(raw).or_else(|| text(Some(raw)).and_then(fields::kind_for_table))
}

/// A host as logged, as `fill_row` reads it (trimmed text, then [`normalize::host`]), interned by `id`.
fn resolve(raw: &str, tally: &mut DenyTally, id: fn(&mut DenyTally, Host<'_>) -> u32) -> Resolved {
    match text(Some(raw)).and_then(normalize::host) {
        Some(h) => Resolved {
            present: true,
            id: id(tally, h),
            word: dedupe::host_word(Some(h)),
        },
        None => ABSENT,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use polars::prelude::*;

    use polars_parquet::read::Filter;

    use super::super::{Data, codes, rows_into};
    use super::{NARROW_TEXT, WIDE};
    use crate::input::Pushdown;
    use crate::input::batcher::{Part, RowBatcher};
    use crate::input::fields::{Field, FieldIndex};

    /// 2026-01-01T00:00:00Z in microseconds; the window is its first day.
    const T0: i64 = 1_767_225_600_000_000;
    const DAY: i64 = 86_400_000_000;

    /// Deterministic values drawn from pools (a tiny xorshift).
    struct Draw(u64);

    impl Draw {
        fn pick<T: Copy>(&mut self, pool: &[T]) -> T {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            pool[(self.0 % pool.len() as u64) as usize]
        }

        fn column<T: Copy>(&mut self, rows: usize, pool: &[T]) -> Vec<T> {
            (0..rows).map(|_| self.pick(pool)).collect()
        }
    }

    /// Rows mixing what the fast path takes with everything it must leave to `fill_row`: other tables, actions
    /// that are not denies, times outside the window or out of range, bad counts and ports, blank and odd
    /// names, addresses written several ways, nulls everywhere. Written to Parquet and read back, so text
    /// columns come dictionary-decoded, as from a real file.
    fn part_columns(rows: usize, seed: u64, extra: bool) -> Vec<(Field, Data)> {
        columns(&parquet_file(rows, seed, extra, false), None, |_| true)
    }

    /// The Parquet file of [`part_columns`]; `clean` keeps to values the codes path takes (every deny of an
    /// application or network rule, times, counts and ports in range), names and addresses as odd as ever.
    fn parquet_file(rows: usize, seed: u64, extra: bool, clean: bool) -> Vec<u8> {
        let mut d = Draw(seed);
        let pool =
            |all: &'static [Option<&'static str>], n: usize| if clean { &all[..n] } else { all };
        let long = "a-destination-name-longer-than-twelve-bytes.example.com";
        let times: Vec<Option<i64>> = (0..rows)
            .map(|i| {
                d.pick(&[
                    Some(T0 + (i as i64) * 1_000_003),
                    Some(T0 + (i as i64) * 1_000_003),
                    Some(T0 + (i as i64) * 1_000_003),
                    Some(T0 - 5),
                    Some(T0 + DAY),
                    if clean { Some(T0) } else { None },
                    if clean {
                        Some(T0 + 7)
                    } else {
                        Some(i64::MAX / 2)
                    },
                ])
            })
            .collect();
        let types = d.column(
            rows,
            pool(
                &[
                    Some("AZFWApplicationRule"),
                    Some("AZFWApplicationRule"),
                    Some("AZFWNetworkRule"),
                    Some(" azfwnetworkrule "),
                    Some("AZFWNatRule"),
                    Some("AZFWDnsQuery"),
                    Some("AZFWThreatIntel"),
                    Some("Unknown"),
                    None,
                ],
                4,
            ),
        );
        // Clean files of even seeds have no null action or count (the columnar path takes their parts).
        let actions = d.column(
            rows,
            &[
                Some("Deny"),
                Some("Deny"),
                Some("deny"),
                Some(" Deny. "),
                Some("Allow"),
                Some(""),
                Some("Alert"),
                if clean && seed % 2 == 0 {
                    Some("Allow")
                } else {
                    None
                },
            ],
        );
        let protocols = d.column(
            rows,
            &[
                Some("HTTPS"),
                Some("TCP"),
                Some("udp"),
                Some(" HTTP "),
                Some("HTTP/1.1"),
                Some(""),
                None,
                Some("ICMP Type=8"),
                Some("SomeVeryLongProtocolName"),
            ],
        );
        let sources = d.column(
            rows,
            &[
                Some("10.0.0.1"),
                Some("10.0.0.2"),
                Some(" 10.0.0.3"),
                Some("10.0.0.1 "),
                Some("fd00::1"),
                Some("[FD00::1]"),
                Some("::ffff:10.0.0.1"),
                Some("not-an-ip"),
                Some(""),
                None,
            ],
        );
        let fqdns = d.column(
            rows,
            &[
                Some("a.example"),
                Some("A.Example."),
                Some(long),
                Some("A-DESTINATION-NAME-LONGER-THAN-TWELVE-BYTES.example.com."),
                Some(""),
                Some("   "),
                Some("."),
                None,
                None,
                Some("bücher.example"),
                Some("\u{1b}[31mred.example"),
            ],
        );
        let dest_ips = d.column(
            rows,
            &[
                Some("1.2.3.4"),
                Some(" 1.2.3.4 "),
                Some(""),
                None,
                Some("::1"),
                Some("5.6.7.8"),
            ],
        );
        let ints = |all: &'static [Option<i64>], n: usize| if clean { &all[..n] } else { all };
        let sports = d.column(
            rows,
            ints(
                &[
                    Some(1234),
                    Some(0),
                    Some(65535),
                    None,
                    Some(65536),
                    Some(-1),
                ],
                4,
            ),
        );
        let dports = d.column(
            rows,
            ints(&[Some(443), Some(80), None, Some(443), Some(70000)], 4),
        );
        let counts = d.column(
            rows,
            if clean && seed % 2 == 0 {
                &[Some(1), Some(0), Some(5)]
            } else {
                ints(
                    &[
                        None,
                        None,
                        Some(1),
                        Some(0),
                        Some(5),
                        Some(-1),
                        Some(1i64 << 40),
                    ],
                    5,
                )
            },
        );
        let mut columns = vec![
            Column::new("TimeGenerated".into(), times)
                .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
                .unwrap(),
            Column::new("Type".into(), types),
            Column::new("Action".into(), actions),
            Column::new("Protocol".into(), protocols),
            Column::new("SourceIp".into(), sources),
            Column::new("SourcePort".into(), sports),
            Column::new("DestinationPort".into(), dports),
            Column::new("Fqdn".into(), fqdns),
            Column::new("DestinationIp".into(), dest_ips),
        ];
        if extra {
            let urls = d.column(rows, &[Some("https://a.example/x"), None, Some("")]);
            let categories = d.column(rows, &[Some("AZFWApplicationRule"), None]);
            columns.push(Column::new("ApplicationRuleCount".into(), counts));
            columns.push(Column::new("TargetUrl".into(), urls));
            columns.push(Column::new("Category".into(), categories));
        }
        let mut df = DataFrame::new(rows, columns).unwrap();
        let mut buf = Cursor::new(Vec::new());
        // Every codec path: an uncompressed chunk is decoded from a copy, a compressed one from the file's bytes.
        let codec = match seed % 3 {
            0 => ParquetCompression::Uncompressed,
            1 => ParquetCompression::Snappy,
            _ => ParquetCompression::Zstd(None),
        };
        ParquetWriter::new(&mut buf)
            .with_compression(codec)
            .finish(&mut df)
            .unwrap();
        buf.into_inner()
    }

    /// The columns of a Parquet file that `keep` keeps, as the reader decodes them (rows `slice` only).
    fn columns(
        bytes: &[u8],
        slice: Option<(usize, usize)>,
        keep: impl Fn(Field) -> bool,
    ) -> Vec<(Field, Data)> {
        let df = ParquetReader::new(Cursor::new(bytes))
            .with_slice(slice)
            .finish()
            .unwrap();
        df.columns()
            .iter()
            .filter_map(|c| {
                let f = crate::input::json::field_of(c.name()).unwrap();
                keep(f).then(|| (f, Data::from_column(c).unwrap()))
            })
            .collect()
    }

    /// The fast path's part counts, tallies and fingerprints exactly what the row-by-row path's does.
    fn assert_same(fast: &Part, slow: &Part, case: &str) {
        let (ft, st) = (fast.tally().unwrap(), slow.tally().unwrap());
        assert_eq!(ft.pairs_text(), st.pairs_text(), "{case}");
        assert_eq!(fast.prints(), slow.prints(), "{case}");
        assert_eq!(
            format!("{:?}", fast.stats()),
            format!("{:?}", slow.stats()),
            "{case}"
        );
    }

    fn run(cols: &[(Field, Data)], fast: bool, dedupe: bool, window: bool) -> (Part, usize) {
        let mut on = |_t| Ok(());
        let batcher = RowBatcher::tallying(1000, !dedupe, &mut on).with_pushdown(Pushdown {
            from_us: window.then_some(T0),
            to_us: window.then_some(T0 + DAY),
            deny_only: true,
            core_only: true,
        });
        let mut part = batcher.part_config().builder(0, "t.parquet");
        let taken = rows_into(cols, 100, &mut part, batcher.part_config().pushdown(), fast);
        (part.take().unwrap(), taken)
    }

    #[test]
    fn selected_rows_tally_as_the_row_by_row_path_counts_them() {
        for (seed, extra, dedupe, window) in [
            (7, false, true, true),
            (8, true, true, true),
            (9, true, false, true),
            (10, false, false, true),
            (11, true, true, false),
        ] {
            let cols = part_columns(20_000, seed, extra);
            let (fast, taken) = run(&cols, true, dedupe, window);
            let (slow, none) = run(&cols, false, dedupe, window);
            assert_eq!(none, 0);
            assert!(taken > 500, "the fast path took only {taken} rows");
            assert!(slow.tally().unwrap().len() > 50);
            assert_same(&fast, &slow, &format!("seed {seed}"));
            assert!(fast.stats().skipped > 0);
        }
    }

    #[test]
    fn one_bad_value_in_a_column_without_nulls_is_still_left_to_the_row_by_row_path() {
        // The part-wide checks (every time, count and port in range) must not vouch for a column with no null
        // but one value out of range: each such column alone, then all at once.
        let rows = 5000;
        let replace = |cols: &mut Vec<(Field, Data)>, f: Field, c: Column| {
            let at = cols.iter().position(|(g, _)| *g == f).unwrap();
            cols[at].1 = Data::from_column(&c).unwrap();
        };
        let bad_at = |i: usize| i % 997 == 5;
        let time = Column::new(
            "TimeGenerated".into(),
            (0..rows)
                .map(|i| {
                    if bad_at(i) {
                        i64::MAX / 2
                    } else {
                        T0 + i as i64
                    }
                })
                .collect::<Vec<i64>>(),
        );
        let count = Column::new(
            "ApplicationRuleCount".into(),
            (0..rows)
                .map(|i| {
                    if bad_at(i) {
                        1i64 << 40
                    } else {
                        1 + (i % 3) as i64
                    }
                })
                .collect::<Vec<i64>>(),
        );
        let port = |name: &str, bad: i64| {
            Column::new(
                name.into(),
                (0..rows)
                    .map(|i| if bad_at(i) { bad } else { 443 })
                    .collect::<Vec<i64>>(),
            )
        };
        let variants: Vec<Vec<(Field, Column)>> = vec![
            vec![(Field::Time, time.clone())],
            vec![(Field::Count, count.clone())],
            vec![(Field::SourcePort, port("SourcePort", 70_000))],
            vec![(Field::DestinationPort, port("DestinationPort", -1))],
            vec![
                (Field::Time, time),
                (Field::Count, count),
                (Field::SourcePort, port("SourcePort", 65_536)),
                (Field::DestinationPort, port("DestinationPort", 70_000)),
            ],
        ];
        for (n, variant) in variants.into_iter().enumerate() {
            let mut cols = part_columns(rows, 31, true);
            for (f, c) in variant {
                replace(&mut cols, f, c);
            }
            let (fast, taken) = run(&cols, true, true, true);
            let (slow, _) = run(&cols, false, true, true);
            assert!(
                taken > 100,
                "variant {n}: the fast path took only {taken} rows"
            );
            assert!(slow.stats().skipped >= 5, "variant {n}");
            assert_same(&fast, &slow, &format!("variant {n}"));
        }
    }

    #[test]
    fn selected_rows_read_through_dictionary_codes_tally_as_the_row_by_row_path_counts_them() {
        use super::super::{PartConfig, by_codes};
        let rows = 30_000;
        let mut taken = 0;
        // Cases read by rows and a column at a time.
        let mut columnar = [0; 2];
        for (seed, extra, window, slice) in [
            (21, false, true, (0, rows)),
            (22, true, true, (0, rows)),
            (23, true, false, (0, rows)),
            // A part that is a slice of its row group: the mask covers the group, set only inside the slice.
            (24, true, true, (rows / 3, rows / 3)),
        ] {
            let bytes = parquet_file(rows, seed, extra, true);
            let md = polars_parquet::read::read_metadata(&mut Cursor::new(&bytes)).unwrap();
            assert_eq!(md.row_groups.len(), 1);
            let narrow = columns(&bytes, Some(slice), |f| !WIDE.contains(&f));
            let all = columns(&bytes, Some(slice), |_| true);
            let wide: Vec<(String, Field)> = all
                .iter()
                .filter(|(f, _)| WIDE.contains(f))
                .map(|(f, _)| (f.name().to_string(), *f))
                .collect();
            assert_eq!(wide.len(), 4);
            let mut on = |_t| Ok(());
            let batcher = RowBatcher::tallying(1000, false, &mut on).with_pushdown(Pushdown {
                from_us: window.then_some(T0),
                to_us: window.then_some(T0 + DAY),
                deny_only: true,
                core_only: true,
            });
            let config: PartConfig = batcher.part_config();
            // The table and action as decoded views, or as one code per row of the part.
            let typed = columns(&bytes, Some(slice), |f| {
                !WIDE.contains(&f) && !NARROW_TEXT.contains(&f)
            });
            let text: Vec<_> = NARROW_TEXT
                .iter()
                .map(|f| {
                    let rows = Filter::new_ranged(slice.0, slice.0 + slice.1);
                    let d = codes::codes(&bytes, &md.row_groups[0], f.name(), rows).unwrap();
                    assert_eq!(d.len(), slice.1);
                    (*f, d)
                })
                .collect();
            let (slow, _) = run(&all, false, true, window);
            let st = slow.tally().unwrap();
            assert!(st.len() > 50, "{}", st.len());
            {
                let index = FieldIndex::new(typed.iter().map(|(f, _)| Some(*f)));
                let mut part = config.builder(0, "t");
                let s = super::Selected::new(&typed, &text, &index, config.pushdown(), &mut part);
                columnar[usize::from(s.unwrap().columnar.is_some())] += 1;
            }
            for (cols, text) in [(&narrow, &[][..]), (&typed, &text[..])] {
                let fast = by_codes(
                    &bytes,
                    (&md.row_groups[0], slice.0),
                    cols,
                    text,
                    &wide,
                    &config,
                    "t",
                    0,
                )
                .unwrap()
                .expect("a part of clean rows goes through the codes");
                assert_same(&fast, &slow, &format!("seed {seed}"));
                taken += fast.tally().unwrap().len();
            }
        }
        assert!(taken > 1000);
        assert!(columnar[0] > 0 && columnar[1] > 0, "{columnar:?}");
        // A part with a row `fill_row` must read is left whole to the other path, nothing counted.
        let bytes = parquet_file(2000, 5, true, false);
        let md = polars_parquet::read::read_metadata(&mut Cursor::new(&bytes)).unwrap();
        let narrow = columns(&bytes, None, |f| !WIDE.contains(&f));
        let wide: Vec<(String, Field)> = WIDE.iter().map(|f| (f.name().to_string(), *f)).collect();
        let mut on = |_t| Ok(());
        let batcher = RowBatcher::tallying(1000, false, &mut on).with_pushdown(Pushdown {
            from_us: Some(T0),
            to_us: Some(T0 + DAY),
            deny_only: true,
            core_only: true,
        });
        let part = by_codes(
            &bytes,
            (&md.row_groups[0], 0),
            &narrow,
            &[],
            &wide,
            &batcher.part_config(),
            "t",
            0,
        );
        assert!(part.unwrap().is_none());
    }

    #[test]
    fn columns_it_cannot_vouch_for_leave_every_row_to_the_row_by_row_path() {
        let mut cols = part_columns(200, 3, false);
        // An integer Fqdn column: `fill_row` refuses each row that reads it.
        let ints = Column::new("Fqdn".into(), vec![Some(1i64); 200]);
        let at = cols.iter().position(|(f, _)| *f == Field::Fqdn).unwrap();
        cols[at].1 = Data::from_column(&ints).unwrap();
        let (fast, taken) = run(&cols, true, true, true);
        let (slow, _) = run(&cols, false, true, true);
        assert_eq!(taken, 0);
        assert_eq!(format!("{:?}", fast.stats()), format!("{:?}", slow.stats()));
        // A legacy message column changes how every row is read.
        let mut cols = part_columns(200, 3, false);
        let msgs = Column::new("msg_s".into(), vec![None::<&str>; 200]);
        cols.push((Field::Msg, Data::from_column(&msgs).unwrap()));
        assert_eq!(run(&cols, true, true, true).1, 0);
    }
}
