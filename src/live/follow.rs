//! State of `deny-report --follow`: the deny summary, asked again every interval over an overlapping window, kept
//! in one-minute buckets.
//!
//! Each query reaches [`OVERLAP_US`] back from now to whole minutes (rows arrive in Log Analytics minutes late).
//! A fresh answer *replaces* every bucket it covers, so rows seen in two windows are never counted twice and late
//! rows are picked up; the buckets since the start become canonical batches for the same engine as every report.

use std::collections::BTreeMap;

use polars::prelude::DataFrame;

use super::kql::Window;
use super::summary::{SummaryRow, summary_events};

/// How far back each follow query reaches before the previous one ended.
pub const OVERLAP_US: i64 = 10 * 60 * 1_000_000;
const MINUTE_US: i64 = 60 * 1_000_000;

/// The window of one follow round: the whole span since `start_us` the first time, then from whole minutes
/// [`OVERLAP_US`] before now.
pub fn round_window(start_us: i64, now_us: i64, first: bool) -> Window {
    let from = if first {
        start_us
    } else {
        ((now_us - OVERLAP_US).div_euclid(MINUTE_US) * MINUTE_US).max(start_us)
    };
    Window {
        from_us: from,
        to_us: now_us.max(from + 1),
    }
}

/// Summary rows by (workspace, row, minute bucket); a new answer replaces the buckets it covers.
#[derive(Default)]
pub struct Buckets {
    rows: BTreeMap<(String, SummaryRow, i64), SummaryRow>,
}

impl Buckets {
    /// Replace every bucket at or after `from_us` of workspace `ws` by `fresh`.
    pub fn replace(&mut self, ws: &str, from_us: i64, fresh: Vec<SummaryRow>) {
        self.rows.retain(|(w, _, b), _| w != ws || *b < from_us);
        for r in fresh {
            let bin = r.bin.unwrap_or(0);
            let mut key = r.clone();
            (key.hits, key.first_seen, key.last_seen, key.bin) =
                (0, String::new(), String::new(), None);
            self.rows.insert((ws.to_string(), key, bin), r);
        }
    }

    /// Every bucket's rows as canonical batches.
    pub fn batches(&self) -> anyhow::Result<Vec<DataFrame>> {
        let rows: Vec<SummaryRow> = self.rows.values().cloned().collect();
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        Ok(summary_events(&rows)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_overlap_by_whole_minutes() {
        let start = 0;
        let now = 3 * 3_600_000_000 + 30_000_000;
        assert_eq!(round_window(start, now, true).from_us, 0);
        let w = round_window(start, now, false);
        assert_eq!(w.from_us, 3 * 3_600_000_000 - OVERLAP_US);
        assert_eq!(w.to_us, now);
    }
}
