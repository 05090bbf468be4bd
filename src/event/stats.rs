//! What a source saw while reading: records, events, the data's time span, duplicates, unparsed legacy
//! messages and skipped records by reason (with examples naming file and line). Every source fills one and the
//! report shows it, so nothing is dropped silently.

use std::collections::BTreeMap;

/// A record that did not become an event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skip {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

/// How many examples of skipped records are kept (all are counted).
pub const MAX_SKIP_EXAMPLES: usize = 50;

/// How many examples of unparsed legacy messages are kept (all are counted).
pub const MAX_UNPARSED_EXAMPLES: usize = 20;

/// What reading saw: files, records, events, duplicates, unparsed messages and skipped records by reason.
#[derive(Debug, Clone, Default)]
pub struct ReadStats {
    pub files: Vec<String>,
    /// Records that became rows (duplicates included).
    pub records: u64,
    /// Events read, duplicates excluded; a row counts its hits (aggregation tables). Duplicates are looked for
    /// among the rows the command selects (for reports: denies in the window), so an event outside them that
    /// was archived twice counts twice here.
    pub events: u64,
    /// Events inside the pushed-down window (all events when there is none).
    pub events_in_window: u64,
    pub first_us: Option<i64>,
    pub last_us: Option<i64>,
    /// Selected events dropped because an identical event (same time, endpoints, ports, protocol, action,
    /// hits) was read before. Only selected rows are fingerprinted: a duplicate has its original's action and
    /// time, so it is selected exactly when the original is, and the groups are exact; checking the other ~80%
    /// of rows cost a canonical row and a table insert each for a number no group depends on.
    pub duplicates: u64,
    pub unparsed: u64,
    /// (file, line, message) of the first unparsed legacy messages in the window.
    pub unparsed_examples: Vec<(String, u64, String)>,
    pub skipped: u64,
    pub skipped_by_reason: BTreeMap<String, u64>,
    pub skip_examples: Vec<Skip>,
    /// Files in input folders not read because of their ending.
    pub passed_over: Vec<String>,
}

impl ReadStats {
    pub fn skip(&mut self, file: &str, line: u64, category: &str, detail: impl std::fmt::Display) {
        self.skipped += 1;
        *self
            .skipped_by_reason
            .entry(category.to_string())
            .or_default() += 1;
        if self.skip_examples.len() < MAX_SKIP_EXAMPLES {
            self.skip_examples.push(Skip {
                file: file.to_string(),
                line,
                reason: format!("{category}: {detail}"),
            });
        }
    }

    pub fn merge(&mut self, other: ReadStats) {
        self.files.extend(other.files);
        self.records += other.records;
        self.events += other.events;
        self.events_in_window += other.events_in_window;
        self.first_us = min_opt(self.first_us, other.first_us);
        self.last_us = max_opt(self.last_us, other.last_us);
        self.unparsed += other.unparsed;
        let room = MAX_UNPARSED_EXAMPLES.saturating_sub(self.unparsed_examples.len());
        self.unparsed_examples
            .extend(other.unparsed_examples.into_iter().take(room));
        self.duplicates += other.duplicates;
        self.skipped += other.skipped;
        for (k, v) in other.skipped_by_reason {
            *self.skipped_by_reason.entry(k).or_default() += v;
        }
        let room = MAX_SKIP_EXAMPLES.saturating_sub(self.skip_examples.len());
        self.skip_examples
            .extend(other.skip_examples.into_iter().take(room));
    }
}

pub fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

pub fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}
