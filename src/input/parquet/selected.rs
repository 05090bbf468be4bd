//! The selected rows of a structured part, counted straight into its tally. A Parquet column holds a
//! dictionary of a few thousand values repeated over a quarter of a million rows, and polars decodes a value of
//! the dictionary to the same 16-byte view on every row it appears in: so a value's table, action, protocol id,
//! host id and fingerprint word are worked out once per view, and a selected row costs a handful of lookups
//! instead of trimming, parsing and interning its texts again (which was most of a deny report's CPU).
//!
//! Only a row whose every value this path can vouch for is taken here: an application or network rule
//! (named by its `Type`), a deny in the window, typed time, count and ports in range. Any other row goes through
//! [`fields::fill_row`], so what is counted, selected, skipped and fingerprinted stays exactly what the
//! generic path gives (the tests compare both on every row).

use std::collections::HashMap;

use polars_arrow::array::{Array as _, PrimitiveArray, Utf8ViewArray};

use super::Data;
use crate::event::normalize::{self, Host};
use crate::event::tally::{DenyTally, NONE, Pair};
use crate::event::{Action, Kind};
use crate::input::Pushdown;
use crate::input::batcher::PartBuilder;
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

/// Values worked out once per distinct view of one column.
struct Memo<T>(HashMap<u128, T, Fast>);

impl<T: Copy> Memo<T> {
    fn new() -> Self {
        Memo(HashMap::default())
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
        if let Some(v) = self.0.get(&key) {
            return *v;
        }
        // SAFETY: `i < a.len()`: the caller checked the row against the part's height, which every column has.
        let v = work(unsafe { a.value_unchecked(i) });
        self.0.insert(key, v);
        v
    }
}

/// The columns of a part and the memos of their values.
pub(super) struct Selected<'c> {
    pushdown: Pushdown,
    time: &'c PrimitiveArray<i64>,
    counts: Vec<&'c PrimitiveArray<i64>>,
    table: &'c Utf8ViewArray,
    action: &'c Utf8ViewArray,
    protocol: Option<&'c Utf8ViewArray>,
    source: Option<&'c Utf8ViewArray>,
    source_port: Option<&'c PrimitiveArray<i64>>,
    destination_port: Option<&'c PrimitiveArray<i64>>,
    /// Every port column, when all are typed: a row that is not selected is counted only when all its ports
    /// are in range (a bad translated port skips a NAT row); `None` leaves such rows to `fill_row`.
    ports: Option<Vec<&'c PrimitiveArray<i64>>>,
    fqdn: Option<&'c Utf8ViewArray>,
    destination_ip: Option<&'c Utf8ViewArray>,
    kinds: Memo<Option<Kind>>,
    actions: Memo<Option<Action>>,
    protocols: Memo<(u32, u64)>,
    sources: Memo<Resolved>,
    /// `None`: no text, the destination address is taken instead.
    fqdns: Memo<Option<Resolved>>,
    destination_ips: Memo<Resolved>,
}

impl<'c> Selected<'c> {
    /// `None` when the part's columns are not all of the kind this path reads: it then takes no row.
    pub(super) fn new(
        cols: &'c [(Field, Data)],
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
        Some(Selected {
            pushdown: *pushdown,
            time: int(Field::Time)?,
            counts: [Field::Count, Field::Hits]
                .into_iter()
                .filter_map(int)
                .collect(),
            table: text(Field::Table)?,
            action: text(Field::Action)?,
            protocol: text(Field::Protocol),
            source: text(Field::SourceIp),
            source_port: int(Field::SourcePort),
            destination_port: int(Field::DestinationPort),
            ports: [
                Field::SourcePort,
                Field::DestinationPort,
                Field::TranslatedPort,
            ]
            .into_iter()
            .filter(|f| index.has(*f))
            .map(int)
            .collect(),
            fqdn: text(Field::Fqdn),
            destination_ip: text(Field::DestinationIp),
            kinds: Memo::new(),
            actions: Memo::new(),
            protocols: Memo::new(),
            sources: Memo::new(),
            fqdns: Memo::new(),
            destination_ips: Memo::new(),
        })
    }

    /// Count row `i` into `part` when it is a row this path vouches for (a valid row that is not selected is
    /// only counted, as [`super::Unselected`] does); `false` leaves it to `fill_row`.
    #[inline]
    pub(super) fn push(&mut self, i: usize, part: &mut PartBuilder) -> bool {
        if i >= self.time.len() || !self.time.is_valid(i) {
            return false;
        }
        let time_us = self.time.value(i);
        if !(fields::MIN_TIME_US..fields::MAX_TIME_US).contains(&time_us) {
            return false;
        }
        // As `fill_row`: the first count column with a value, which must be a count in range.
        let mut hits = 1;
        for c in &self.counts {
            if c.is_valid(i) {
                match u64::try_from(c.value(i)) {
                    Ok(n) if n <= fields::MAX_HITS => hits = n,
                    _ => return false,
                }
                break;
            }
        }
        let action = self.actions.get(self.action, i, None, |a| {
            text(Some(a)).and_then(normalize::action)
        });
        if action != Some(Action::Deny) || !self.pushdown.in_window(Some(time_us)) {
            let Some(ports) = &self.ports else {
                return false;
            };
            let valid = ports
                .iter()
                .all(|p| !p.is_valid(i) || u16::try_from(p.value(i)).is_ok());
            if valid {
                part.count_unselected(time_us, hits);
            }
            return valid;
        }
        let kind = self.kinds.get(self.table, i, None, |t| {
            fields::kind_for_table(t).or_else(|| text(Some(t)).and_then(fields::kind_for_table))
        });
        let Some(kind @ (Kind::Application | Kind::Network)) = kind else {
            return false;
        };
        let port = |p: Option<&PrimitiveArray<i64>>| -> Result<Option<u32>, ()> {
            match p {
                Some(p) if p.is_valid(i) => u16::try_from(p.value(i))
                    .map(|v| Some(u32::from(v)))
                    .map_err(|_| ()),
                _ => Ok(None),
            }
        };
        let (Ok(source_port), Ok(destination_port)) =
            (port(self.source_port), port(self.destination_port))
        else {
            return false;
        };
        let Some(tally) = part.tally_mut() else {
            return false;
        };
        let (protocol, protocol_word) = match self.protocol {
            Some(p) => self
                .protocols
                .get(p, i, (NONE, 0), |raw| match text(Some(raw)) {
                    Some(t) => (tally.protocol_id(t), dedupe::protocol_word(Some(t))),
                    None => (NONE, 0),
                }),
            None => (NONE, 0),
        };
        let source = match self.source {
            Some(s) => self.sources.get(s, i, ABSENT, |raw| {
                resolve(raw, tally, DenyTally::source_id)
            }),
            None => ABSENT,
        };
        let by_name = match self.fqdn {
            Some(f) => self.fqdns.get(f, i, None, |raw| {
                text(Some(raw)).map(|_| resolve(raw, tally, DenyTally::destination_id))
            }),
            None => None,
        };
        let destination = match (by_name, self.destination_ip) {
            (Some(d), _) => d,
            (None, Some(d)) => self.destination_ips.get(d, i, ABSENT, |raw| {
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
            action,
            hits,
            protocol: protocol_word,
            source: source.word,
            destination: destination.word,
        });
        part.push_tallied(time_us, hits, pair, print);
        true
    }
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

    use super::super::{Data, rows_into};
    use crate::event::tally::DenyTally;
    use crate::input::Pushdown;
    use crate::input::batcher::{Part, RowBatcher};
    use crate::input::fields::Field;

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
        let mut d = Draw(seed);
        let long = "a-destination-name-longer-than-twelve-bytes.example.com";
        let times: Vec<Option<i64>> = (0..rows)
            .map(|i| {
                d.pick(&[
                    Some(T0 + (i as i64) * 1_000_003),
                    Some(T0 + (i as i64) * 1_000_003),
                    Some(T0 + (i as i64) * 1_000_003),
                    Some(T0 - 5),
                    Some(T0 + DAY),
                    None,
                    Some(i64::MAX / 2),
                ])
            })
            .collect();
        let types = d.column(
            rows,
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
        );
        let actions = d.column(
            rows,
            &[
                Some("Deny"),
                Some("Deny"),
                Some("deny"),
                Some(" Deny. "),
                Some("Allow"),
                Some(""),
                None,
                Some("Alert"),
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
        let sports = d.column(
            rows,
            &[
                Some(1234),
                Some(0),
                Some(65535),
                Some(65536),
                Some(-1),
                None,
            ],
        );
        let dports = d.column(rows, &[Some(443), Some(80), None, Some(70000), Some(443)]);
        let counts = d.column(
            rows,
            &[
                None,
                None,
                Some(1),
                Some(0),
                Some(5),
                Some(-1),
                Some(1i64 << 40),
            ],
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
        ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
        let df = ParquetReader::new(Cursor::new(buf.into_inner()))
            .finish()
            .unwrap();
        df.columns()
            .iter()
            .map(|c| {
                let f = crate::input::json::field_of(c.name()).unwrap();
                (f, Data::from_column(c).unwrap())
            })
            .collect()
    }

    /// The tally as text: every pair with its hosts and protocol spelt out, sorted.
    fn tally_text(t: &DenyTally) -> Vec<String> {
        let mut out: Vec<String> = t
            .pairs()
            .map(|(p, acc)| {
                let host = |h: &crate::event::tally::Hosts, id: u32| h.key(id).map(|k| k.text());
                format!(
                    "{:?} {:?} {:?} {:?} {:?} {:?}",
                    p.kind,
                    t.protocols().get(p.protocol as usize),
                    host(t.destinations(), p.destination),
                    p.destination_port,
                    host(t.sources(), p.source),
                    acc
                )
            })
            .collect();
        out.sort();
        out
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
            let (ft, st) = (fast.tally().unwrap(), slow.tally().unwrap());
            assert!(st.len() > 50);
            assert_eq!(tally_text(ft), tally_text(st), "seed {seed}");
            assert_eq!(fast.prints(), slow.prints(), "seed {seed}");
            assert_eq!(
                format!("{:?}", fast.stats()),
                format!("{:?}", slow.stats()),
                "seed {seed}"
            );
            assert!(fast.stats().skipped > 0);
        }
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
