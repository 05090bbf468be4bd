//! Records the deny report only counts, counted without building their rows. Four in five records of a report
//! are allowed or outside the window: all the statistics need of them is their time, yet `fields::fill_row`
//! trimmed every text, parsed both addresses and the ports, and parsed the time with chrono's general parser
//! (together a sixth of a JSON-lines run).
//!
//! A record is taken here only when `fill_row` would certainly accept it and the pushdown would not select the
//! row: an application or network rule named by its category, every field it reads of the sort it expects,
//! ports in range, no count, no legacy message, a time in the window's range written as archives write it.
//! Anything else goes through `fill_row`, so what is counted, skipped and selected stays what it gives (the
//! tests compare both on every record).

use super::Fv;
use crate::event::normalize;
use crate::event::{Action, Kind};
use crate::input::Pushdown;
use crate::input::fields::{self, Field, MAX_TIME_US, MIN_TIME_US};
use crate::input::row::text;

/// Text fields `fill_row` reads of an application or network rule: any other sort of value is its error.
const TEXT: [Field; 13] = [
    Field::ResourceId,
    Field::Protocol,
    Field::SourceIp,
    Field::Fqdn,
    Field::DestinationIp,
    Field::TargetUrl,
    Field::Action,
    Field::Policy,
    Field::RuleCollectionGroup,
    Field::RuleCollection,
    Field::Rule,
    Field::ActionReason,
    Field::WebCategory,
];

/// Fields that send `fill_row` another way when present: a count of events, a legacy message, a kind of its
/// own.
const OTHER_WAYS: [Field; 4] = [Field::Count, Field::Hits, Field::Msg, Field::Kind];

/// The time of a record (its fields as `obj_record` resolved them, its category) that `fill_row` would accept
/// as a row of one event that `pushdown` does not select; `None` when it may be anything else.
pub(super) fn time_us(
    slots: &[Option<&Fv<'_>>; Field::COUNT],
    table: Option<&str>,
    pushdown: &Pushdown,
) -> Option<i64> {
    if !pushdown.deny_only {
        return None;
    }
    let get = |f: Field| slots[f as usize].filter(|v| !matches!(v, Fv::Null));
    let time_us = match get(Field::Time)? {
        Fv::Str(t) => archive_time_us(t)?,
        Fv::Int(us) => *us,
        _ => return None,
    };
    if !(MIN_TIME_US..MAX_TIME_US).contains(&time_us)
        || OTHER_WAYS.iter().any(|f| get(*f).is_some())
    {
        return None;
    }
    if !matches!(
        table.and_then(fields::kind_for_table),
        Some(Kind::Application | Kind::Network)
    ) {
        return None;
    }
    if !TEXT
        .iter()
        .all(|f| matches!(get(*f), None | Some(Fv::Str(_))))
    {
        return None;
    }
    if ![Field::SourcePort, Field::DestinationPort]
        .iter()
        .all(|f| matches!(get(*f), None | Some(Fv::Int(0..=65535))))
    {
        return None;
    }
    if pushdown.in_window(Some(time_us)) {
        let deny = match get(Field::Action) {
            Some(Fv::Str(a)) => match &**a {
                "Allow" => false,
                "Deny" => true,
                a => text(Some(a)).and_then(normalize::action) == Some(Action::Deny),
            },
            _ => false,
        };
        if deny {
            return None;
        }
    }
    Some(time_us)
}

/// What `normalize::time_us` gives for a time written as archives write it, `2026-10-01T01:59:58.248057+00:00`
/// or `…Z`, with up to nine fractional digits (chrono's general parser was 4% of a run); `None` for any other
/// form, which is left to it.
fn archive_time_us(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let digit = |i: usize| {
        let d = b[i].wrapping_sub(b'0');
        (d < 10).then_some(i64::from(d))
    };
    let two = |i: usize| Some(digit(i)? * 10 + digit(i + 1)?);
    let year = two(0)? * 100 + two(2)?;
    let (month, day, hour, minute, second) = (two(5)?, two(8)?, two(11)?, two(14)?, two(17)?);
    let mut i = 19;
    let mut nanos = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while let Some(d) = b.get(i).and_then(|_| digit(i)) {
            if i - start == 9 {
                return None;
            }
            nanos = nanos * 10 + d;
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        nanos *= 10i64.pow(9 - digits as u32);
    }
    if !matches!(&b[i..], b"Z" | b"+00:00") {
        return None;
    }
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(seconds * 1_000_000 + nanos / 1000)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::super::{line_values, record_slots, value};
    use super::*;
    use crate::input::batcher::{Part, RowBatcher};
    use serde_json::Value;

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[self.below(from.len())]
        }
    }

    /// A time as archives write it, or nearly: dates that do not exist, leap seconds, other zones and
    /// separators, fractions of every length, bytes replaced.
    fn time(r: &mut Rng) -> String {
        if r.below(3) == 0 {
            return format!(
                "20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{}",
                r.below(100),
                1 + r.below(12),
                1 + r.below(28),
                r.below(24),
                r.below(60),
                r.below(60),
                r.below(1_000_000),
                r.pick(&["Z", "+00:00"])
            );
        }
        let year = [1969, 1970, 1999, 2000, 2024, 2026, 2100, 2400, 1900, 9999][r.below(10)];
        let month = [1, 2, 2, 2, 3, 10, 12, 0, 13][r.below(9)];
        let day = [1, 28, 29, 30, 31, 0, 32, 15][r.below(8)];
        let (hour, minute, second) = (
            [0, 1, 12, 23, 24][r.below(5)],
            [0, 30, 59, 60][r.below(4)],
            [0, 7, 59, 60, 61][r.below(5)],
        );
        let fraction = match r.below(6) {
            0 => String::new(),
            1 => ".".to_string(),
            n => {
                let digits = [1, 3, 6, 7, 9, 10, 12][r.below(7)] * usize::from(n > 1);
                let f: String = (0..digits)
                    .map(|_| char::from(b'0' + r.below(10) as u8))
                    .collect();
                format!(".{f}")
            }
        };
        let zone = r.pick(&[
            "Z", "Z", "+00:00", "+00:00", "-00:00", "+01:00", "z", "", "+0000", " ",
        ]);
        let sep = r.pick(&["T", "T", "T", "t", " "]);
        let mut s = format!(
            "{year:04}-{month:02}-{day:02}{sep}{hour:02}:{minute:02}:{second:02}{fraction}{zone}"
        );
        if r.below(8) == 0 {
            let at = r.below(s.len());
            let c = r.pick(&["x", "-", ":", " ", "9", "."]);
            s.replace_range(at..at + 1, c);
        }
        if r.below(20) == 0 {
            s = format!(" {s}");
        }
        s
    }

    #[test]
    fn archive_times_are_read_as_normalize_reads_them() {
        let mut r = Rng(3);
        let mut fast = 0;
        for _ in 0..200_000 {
            let t = time(&mut r);
            if let Some(us) = archive_time_us(&t) {
                fast += 1;
                assert_eq!(normalize::time_us(&t), Some(us), "{t}");
            }
        }
        assert!(fast > 60_000, "{fast}");
        for (t, us) in [
            ("2026-10-01T01:59:58.248057+00:00", 1_790_819_998_248_057),
            ("2024-02-29T23:59:59.9999999Z", 1_709_251_199_999_999),
            ("2000-01-01T00:00:00Z", MIN_TIME_US),
        ] {
            assert_eq!(archive_time_us(t), Some(us), "{t}");
            assert_eq!(normalize::time_us(t), Some(us), "{t}");
        }
    }

    /// A record as archives hold it, its values now and then of another sort, out of range or missing.
    fn record(r: &mut Rng) -> String {
        let time = match r.below(10) {
            0 => r
                .pick(&[
                    "1790900000000000",
                    "5",
                    "1.7909e15",
                    "null",
                    "[]",
                    "\"\"",
                    "\" \"",
                ])
                .to_string(),
            1 => format!("\"{}\"", time(r)),
            n => format!(
                "\"2026-10-0{}T{:02}:00:00.{:06}{}\"",
                1 + n % 8,
                r.below(24),
                r.below(1_000_000),
                r.pick(&["+00:00", "Z"])
            ),
        };
        let category = r.pick(&[
            "\"AZFWApplicationRule\"",
            "\"AZFWNetworkRule\"",
            "\"AZFWApplicationRule\"",
            "\"AZFWNetworkRule\"",
            "\"AZFWApplicationRule\"",
            "\"AZFWNetworkRule\"",
            "\"azfwnetworkrule \"",
            "\"AZFWNatRule\"",
            "\"AZFWDnsQuery\"",
            "\"Other\"",
            "5",
            "null",
        ]);
        let action = r.pick(&[
            "\"Deny\"",
            "\"Allow\"",
            "\"Deny\"",
            "\"Allow\"",
            "\"Deny\"",
            "\"Allow\"",
            "\"Deny\"",
            "\"Allow\"",
            "\" deny \"",
            "\"Deny.\"",
            "\"DENY\"",
            "\"\"",
            "\"Drop\"",
            "1",
            "null",
            "[\"Deny\"]",
        ]);
        let port = |r: &mut Rng| match r.below(4) {
            0 => r
                .pick(&[
                    "65535", "65536", "-1", "\"443\"", "\" 80 \"", "443.0", "1.5", "true", "null",
                    "\"x\"", "\"\"",
                ])
                .to_string(),
            _ => r.below(65536).to_string(),
        };
        let text = |r: &mut Rng, usual: &str| match r.below(40) {
            0 => r
                .pick(&["\"\"", "\" \"", "7", "true", "[1]", "{}", "null"])
                .to_string(),
            _ => format!("\"{usual}\""),
        };
        let mut props = vec![
            format!("\"Protocol\":{}", text(r, "TCP")),
            format!("\"SourceIp\":{}", text(r, "10.0.0.1")),
            format!("\"SourcePort\":{}", port(r)),
            format!("\"DestinationPort\":{}", port(r)),
            format!("\"Action\":{action}"),
            format!("\"Policy\":{}", text(r, "fwp")),
            format!("\"Rule\":{}", text(r, "")),
            format!("\"ActionReason\":{}", text(r, "Default Action")),
        ];
        if r.below(2) == 0 {
            props.push(format!("\"Fqdn\":{}", text(r, "a.example.com")));
            props.push(format!("\"TargetUrl\":{}", text(r, "")));
            props.push(format!("\"WebCategory\":{}", text(r, "Business")));
        } else {
            props.push(format!("\"DestinationIp\":{}", text(r, "1.2.3.4")));
        }
        match r.below(24) {
            0 => props.push(format!(
                "\"msg\":{}",
                r.pick(&[
                    "\"\"",
                    "\"TCP request from 10.0.0.1:5 to 1.2.3.4:80. Action: Deny\""
                ])
            )),
            1 => props.push(format!(
                "\"kind\":{}",
                r.pick(&["\"network\"", "\"x\"", "1"])
            )),
            2 => props.push(format!("\"Count\":{}", r.pick(&["2", "0", "-1", "\"3\""]))),
            3 => props.push(format!("\"hits\":{}", r.pick(&["2", "\"\""]))),
            4 => props.push(format!("\"RuleCollection\":{}", text(r, "rc"))),
            5 => {
                let at = r.below(props.len());
                props.remove(at);
            }
            _ => {}
        }
        format!(
            "{{\"time\":{time},\"resourceId\":{},\"category\":{category},\"properties\":{{{}}}}}",
            text(r, "/SUBSCRIPTIONS/X/FW"),
            props.join(",")
        )
    }

    /// A part from `lines` through the typed path (where this module counts what it can), and one through
    /// `Value` (always `fill_row`), for a report's pushdown; and how many records were counted here.
    fn both_paths(lines: &[String], pushdown: Pushdown) -> (Part, Part, usize) {
        let mut on = |_| Ok(());
        let batcher = RowBatcher::tallying(1000, false, &mut on).with_pushdown(pushdown);
        let config = batcher.part_config();
        let mut typed = config.builder(16, "t.json");
        let mut plain = config.builder(16, "t.json");
        let mut here = 0;
        for (i, line) in lines.iter().enumerate() {
            let n = i as u64 + 1;
            let mut values = Vec::new();
            line_values(serde_json::Deserializer::from_str(line), &mut values).unwrap();
            for v in &values {
                if let super::super::Parsed::Obj(o) = v {
                    let (slots, table) = record_slots(o);
                    here += usize::from(time_us(&slots, table, &pushdown).is_some());
                }
            }
            super::super::line_records("t.json", n, line.as_bytes(), &values, &mut typed).unwrap();
            let v: Value = serde_json::from_str(line).unwrap();
            value("t.json", n, &v, &mut plain).unwrap();
        }
        (typed.take().unwrap(), plain.take().unwrap(), here)
    }

    #[test]
    fn records_counted_here_are_counted_as_fill_row_counts_them() {
        let mut r = Rng(5);
        let lines: Vec<String> = (0..20_000).map(|_| record(&mut r)).collect();
        let window = Pushdown {
            from_us: normalize::time_us("2026-10-02T00:00:00Z"),
            to_us: normalize::time_us("2026-10-07T00:00:00Z"),
            deny_only: true,
            core_only: true,
        };
        for (pushdown, counted_here) in [
            (window, true),
            (
                Pushdown {
                    from_us: None,
                    to_us: None,
                    ..window
                },
                true,
            ),
            (
                Pushdown {
                    deny_only: false,
                    ..window
                },
                false,
            ),
        ] {
            let (typed, plain, here) = both_paths(&lines, pushdown);
            let (ts, ps) = (typed.stats(), plain.stats());
            assert_eq!(
                (ts.records, ts.events, ts.events_in_window),
                (ps.records, ps.events, ps.events_in_window)
            );
            assert_eq!((ts.first_us, ts.last_us), (ps.first_us, ps.last_us));
            assert_eq!(
                (ts.skipped, &ts.skipped_by_reason),
                (ps.skipped, &ps.skipped_by_reason)
            );
            assert_eq!(ts.skip_examples, ps.skip_examples);
            assert_eq!(ts.unparsed, ps.unparsed);
            assert_eq!(typed.prints(), plain.prints());
            let hits = |p: &Part| {
                let t = p.tally().unwrap();
                (
                    t.pairs().count(),
                    t.pairs().map(|(_, a)| a.hits).sum::<u64>(),
                )
            };
            assert_eq!(hits(&typed), hits(&plain));
            assert!(ts.skipped > 1_000 && ts.records > 5_000, "{ts:?}");
            assert_eq!(here > 2_000, counted_here, "{here} {pushdown:?}");
        }
    }
}
