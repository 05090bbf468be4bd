//! Rows in, canonical batches out: the [`RowBatcher`] every file reader pushes rows into. It counts every
//! event, drops exact duplicates of an event already seen (unless told to keep them), and hands on the rows the
//! [`Pushdown`] selects: built into canonical batches (through a transform) for commands that read the
//! columns, or counted straight into a [`DenyTally`] for the deny report, on the thread that read them. Parts
//! of a file can be built on worker threads ([`PartBuilder`]) and taken in input order
//! ([`RowBatcher::absorb`]).

use std::sync::Arc;

use polars::prelude::*;

use super::Pushdown;
use super::dedupe::{Print, TimedFingerprints, fingerprint};
use super::row::{CanonicalBuilder, Row};
use crate::event::stats::{MAX_UNPARSED_EXAMPLES, ReadStats, max_opt, min_opt};
use crate::event::tally::{DenyTally, Flow, Pair};

/// What happens to a part's canonical rows before they leave the thread that built them. The result must keep a
/// signed (Int64) `hits` column: duplicates found later are subtracted by feeding their transformed rows back
/// with negated hits.
pub type Transform = Arc<dyn Fn(DataFrame) -> anyhow::Result<DataFrame> + Send + Sync>;

/// Where a reader puts the records of one file: a [`PartBuilder`] on a worker thread, or the [`RowBatcher`]
/// itself through [`FileSink`]. Format readers that are used both ways write to this.
pub trait Sink {
    fn push(&mut self, row: &Row<'_>, line: u64) -> anyhow::Result<()>;
    fn skip(&mut self, line: u64, category: &str, detail: &dyn std::fmt::Display);
    /// Whether only the core columns of denies are built (legacy messages then need only those parsed).
    fn core_only(&self) -> bool;
}

impl Sink for PartBuilder {
    fn push(&mut self, row: &Row<'_>, line: u64) -> anyhow::Result<()> {
        PartBuilder::push(self, row, line);
        Ok(())
    }

    fn skip(&mut self, line: u64, category: &str, detail: &dyn std::fmt::Display) {
        PartBuilder::skip(self, line, category, detail);
    }

    fn core_only(&self) -> bool {
        self.config.pushdown.denies_core()
    }
}

/// The records of file `name`, straight into a [`RowBatcher`].
pub struct FileSink<'b, 'f> {
    pub batcher: &'b mut RowBatcher<'f>,
    pub name: &'b str,
}

impl Sink for FileSink<'_, '_> {
    fn push(&mut self, row: &Row<'_>, line: u64) -> anyhow::Result<()> {
        self.batcher.push(row, self.name, line)
    }

    fn skip(&mut self, line: u64, category: &str, detail: &dyn std::fmt::Display) {
        self.batcher.stats.skip(self.name, line, category, detail);
    }

    fn core_only(&self) -> bool {
        self.batcher.config.pushdown.denies_core()
    }
}

/// A part of the input read and built on its own: its selected rows (a transformed canonical frame, or a
/// tally), its statistics, and the fingerprints the sink checks for duplicates when it takes the part.
pub struct Part {
    frame: Option<DataFrame>,
    tally: Option<DenyTally>,
    stats: ReadStats,
    fingerprinted: Prints,
    /// The built rows before the transform, kept to subtract duplicates found when the part is taken.
    built: Option<DataFrame>,
}

#[cfg(test)]
impl Part {
    pub fn frame(&self) -> Option<&DataFrame> {
        self.frame.as_ref()
    }

    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    pub fn tally(&self) -> Option<&DenyTally> {
        self.tally.as_ref()
    }

    /// (time bucket, fingerprint, events, in the window, entry) of every fingerprinted row, in order.
    pub fn prints(&self) -> Vec<(i64, u64, u64, bool, u32)> {
        let p = &self.fingerprinted;
        p.rows
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let (hits, in_window) = p.counts(i);
                (f.bucket.into(), f.fp, hits, in_window, f.handle)
            })
            .collect()
    }
}

/// A selected row's fingerprint and where it was counted, to take it back when it turns out to be a duplicate.
#[derive(Debug, Clone, Copy)]
struct Fingerprinted {
    fp: u64,
    /// Its event's time bucket ([`super::dedupe::bucket`]).
    bucket: i32,
    /// The row of `Part::built`, or the entry of `Part::tally`.
    handle: u32,
}

/// The fingerprints of a part's selected rows, in order. Nearly every row stands for one event in the window;
/// the counts of the others are kept aside, so each row costs 16 bytes instead of 32 (a part in flight holds
/// one for each of its ~75k selected rows, and several parts are in flight).
#[derive(Default)]
struct Prints {
    rows: Vec<Fingerprinted>,
    /// (index in `rows`, events, in the window) of the rows that are not one event in the window, in order.
    unusual: Vec<(u32, u64, bool)>,
}

impl Prints {
    fn push(&mut self, time_us: i64, fp: u64, events: u64, in_window: bool, handle: u32) {
        if events != 1 || !in_window {
            self.unusual
                .push((self.rows.len() as u32, events, in_window));
        }
        self.rows.push(Fingerprinted {
            fp,
            bucket: super::dedupe::bucket(time_us),
            handle,
        });
    }

    /// The events row `i` stands for, and whether they are in the window.
    fn counts(&self, i: usize) -> (u64, bool) {
        match self.unusual.binary_search_by_key(&(i as u32), |u| u.0) {
            Ok(at) => (self.unusual[at].1, self.unusual[at].2),
            Err(_) => (1, true),
        }
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// The sink's settings a [`PartBuilder`] needs; cheap to clone to worker threads.
#[derive(Clone)]
pub struct PartConfig {
    pub(super) pushdown: Pushdown,
    dedupe: bool,
    keep_messages: bool,
    transform: Option<Transform>,
    /// Count selected rows into a [`DenyTally`] instead of building canonical columns.
    tally: bool,
}

impl PartConfig {
    pub fn builder(&self, capacity: usize, file: &str) -> PartBuilder {
        let capacity = if self.tally { 0 } else { capacity };
        PartBuilder {
            builder: CanonicalBuilder::sized(capacity, self.pushdown.core_only)
                .keep_parsed_messages(self.keep_messages),
            tally: self.tally.then(DenyTally::new),
            selected: 0,
            stats: ReadStats::default(),
            fingerprinted: Prints::default(),
            config: self.clone(),
            file: file.to_string(),
        }
    }

    /// The pushdown of the rows wanted (readers may test rows against it before building them).
    pub fn pushdown(&self) -> &Pushdown {
        &self.pushdown
    }

    /// Whether selected rows are counted into a tally (no canonical columns are built).
    pub fn tallies(&self) -> bool {
        self.tally
    }
}

/// Rows that are valid and not selected, summed: how many, their events (each row at least one), those in the
/// window, their earliest and latest time.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    pub rows: u64,
    pub events: u64,
    pub events_in_window: u64,
    pub first_us: i64,
    pub last_us: i64,
}

impl Default for Counted {
    fn default() -> Self {
        Counted {
            rows: 0,
            events: 0,
            events_in_window: 0,
            first_us: i64::MAX,
            last_us: i64::MIN,
        }
    }
}

/// Counts and builds the rows of one part, recording fingerprints for the duplicate check; runs on any thread.
pub struct PartBuilder {
    builder: CanonicalBuilder,
    tally: Option<DenyTally>,
    selected: usize,
    stats: ReadStats,
    fingerprinted: Prints,
    config: PartConfig,
    file: String,
}

impl PartBuilder {
    pub fn push(&mut self, row: &Row<'_>, line: u64) {
        let hits = row.hits.max(1);
        let in_window = self.config.pushdown.in_window(row.time_us);
        self.count(row.time_us, hits, in_window);
        // Counted within the window, as the live source does (readers may skip parsing the messages outside it).
        if in_window && row.kind == Some(crate::event::Kind::Unparsed) {
            let st = &mut self.stats;
            st.unparsed += 1;
            if st.unparsed_examples.len() < MAX_UNPARSED_EXAMPLES {
                st.unparsed_examples.push((
                    self.file.clone(),
                    line,
                    row.message.unwrap_or("").to_string(),
                ));
            }
        }
        if !self.config.pushdown.selects(row) {
            return;
        }
        self.selected += 1;
        let handle = match &mut self.tally {
            Some(t) => t.add(&Flow {
                kind: row.kind,
                protocol: row.protocol,
                source: row.source,
                destination: row.destination,
                destination_port: row.destination_port,
                hits,
                time_us: row.time_us,
            }),
            None => {
                self.builder.push(row, &self.file, line);
                (self.builder.len() - 1) as u32
            }
        };
        // Only selected rows are fingerprinted: a duplicate has the same action and time as the event it
        // repeats, so it is selected exactly when that event is, and the rows dropped here can never be
        // duplicates of rows kept (see `ReadStats::duplicates`).
        if self.config.dedupe
            && let (Some(fp), Some(time_us)) = (fingerprint(row), row.time_us)
        {
            self.fingerprinted
                .push(time_us, fp, hits, in_window, handle);
        }
    }

    /// The tally this part counts its selected rows into (`None` when it builds canonical columns): a reader
    /// interns values with it to push rows with [`PartBuilder::push_tallied`].
    pub fn tally_mut(&mut self) -> Option<&mut DenyTally> {
        self.tally.as_mut()
    }

    /// A row the reader found valid and selected (a deny in the window) and resolved itself to the ids of
    /// [`PartBuilder::tally_mut`], with its fingerprint's makings (`None` without a source port): counted,
    /// tallied and fingerprinted as [`PartBuilder::push`] does the same row. `hits` is as logged.
    ///
    /// # Panics
    /// When the part builds canonical columns instead of a tally (a reader's mistake, never input).
    pub fn push_tallied(&mut self, time_us: i64, hits: u64, pair: Pair, print: Option<Print>) {
        debug_assert!(self.config.pushdown.in_window(Some(time_us)));
        let events = hits.max(1);
        self.count(Some(time_us), events, true);
        self.selected += 1;
        let handle = self
            .tally
            .as_mut()
            .expect("push_tallied on a part that builds columns")
            .add_ids(pair, events, Some(time_us));
        if self.config.dedupe
            && let Some(print) = print
        {
            self.fingerprinted
                .push(time_us, print.hash(), events, true, handle);
        }
    }

    /// Room for `rows` more selected rows' fingerprints, when a reader knows how many it will push: grown as
    /// they came, the list was copied at each doubling into fresh pages (~4% of a report's page faults).
    pub fn reserve_selected(&mut self, rows: usize) {
        if self.config.dedupe {
            self.fingerprinted.rows.reserve(rows);
        }
    }

    /// The rows wanted: a reader that finds a row valid and not selected may count it without building it.
    pub fn pushdown(&self) -> &Pushdown {
        &self.config.pushdown
    }

    /// Count a row that the reader found valid and not selected, without building it: its time and events
    /// are all the statistics need.
    pub fn count_unselected(&mut self, time_us: i64, hits: u64) {
        let in_window = self.config.pushdown.in_window(Some(time_us));
        self.count(Some(time_us), hits.max(1), in_window);
    }

    /// Rows counted as [`PartBuilder::count_unselected`] counts them one at a time, summed by the reader.
    pub fn count_unselected_rows(&mut self, c: &Counted) {
        if c.rows == 0 {
            return;
        }
        let st = &mut self.stats;
        st.records += c.rows;
        st.events += c.events;
        st.events_in_window += c.events_in_window;
        st.first_us = min_opt(st.first_us, Some(c.first_us));
        st.last_us = max_opt(st.last_us, Some(c.last_us));
    }

    #[inline]
    fn count(&mut self, time_us: Option<i64>, hits: u64, in_window: bool) {
        let st = &mut self.stats;
        st.records += 1;
        st.events += hits;
        st.first_us = min_opt(st.first_us, time_us);
        st.last_us = max_opt(st.last_us, time_us);
        if in_window {
            st.events_in_window += hits;
        }
    }

    pub fn skip(&mut self, line: u64, category: &str, detail: impl std::fmt::Display) {
        self.stats.skip(&self.file, line, category, detail);
    }

    /// Rows selected so far (built or tallied).
    pub fn built(&self) -> usize {
        self.selected
    }

    /// The part: built rows through the transform (or the tally), statistics and fingerprints; the builder is
    /// left empty.
    pub fn take(&mut self) -> anyhow::Result<Part> {
        self.selected = 0;
        let tally = self.tally.as_mut().map(std::mem::take);
        let (frame, built) = if self.builder.is_empty() {
            (None, None)
        } else {
            let df = self.builder.finish()?;
            let keep = (self.config.dedupe && !self.fingerprinted.is_empty()).then(|| df.clone());
            let frame = match &self.config.transform {
                Some(t) => t(df)?,
                None => df,
            };
            (Some(frame), keep)
        };
        Ok(Part {
            frame,
            tally,
            stats: std::mem::take(&mut self.stats),
            fingerprinted: std::mem::take(&mut self.fingerprinted),
            built,
        })
    }
}

/// Where the selected rows go.
enum Output<'f> {
    Frames(&'f mut dyn FnMut(DataFrame) -> anyhow::Result<()>),
    Tally(&'f mut dyn FnMut(DenyTally) -> anyhow::Result<()>),
}

/// Where readers put rows (see the module docs): batches of `batch_rows` go to `on_batch` (or tallies to
/// `on_tally`). Rows arrive one by one ([`RowBatcher::push`]) or as parts built on other threads
/// ([`RowBatcher::absorb`], in input order, so examples and counts do not depend on threads).
pub struct RowBatcher<'f> {
    current: Option<PartBuilder>,
    batch_rows: usize,
    output: Output<'f>,
    config: PartConfig,
    seen: Option<TimedFingerprints>,
    pub stats: ReadStats,
}

impl<'f> RowBatcher<'f> {
    pub fn new(
        batch_rows: usize,
        keep_duplicates: bool,
        keep_messages: bool,
        on_batch: &'f mut dyn FnMut(DataFrame) -> anyhow::Result<()>,
    ) -> Self {
        Self::with_output(
            batch_rows,
            keep_duplicates,
            keep_messages,
            Output::Frames(on_batch),
        )
    }

    /// Rows selected by the pushdown are counted into a [`DenyTally`] per part, handed to `on_tally` with the
    /// duplicates taken out; no canonical columns are built.
    pub fn tallying(
        batch_rows: usize,
        keep_duplicates: bool,
        on_tally: &'f mut dyn FnMut(DenyTally) -> anyhow::Result<()>,
    ) -> Self {
        Self::with_output(batch_rows, keep_duplicates, false, Output::Tally(on_tally))
    }

    fn with_output(
        batch_rows: usize,
        keep_duplicates: bool,
        keep_messages: bool,
        output: Output<'f>,
    ) -> Self {
        let tally = matches!(output, Output::Tally(_));
        RowBatcher {
            current: None,
            batch_rows,
            output,
            config: PartConfig {
                pushdown: Pushdown::default(),
                dedupe: !keep_duplicates,
                keep_messages,
                transform: None,
                tally,
            },
            seen: (!keep_duplicates).then(TimedFingerprints::new),
            stats: ReadStats::default(),
        }
    }

    /// Build only the rows this pushdown selects (all rows are still counted).
    pub fn with_pushdown(mut self, pushdown: Pushdown) -> Self {
        self.config.pushdown = pushdown;
        self
    }

    /// Apply this to every batch before `on_batch`, on the thread that built it.
    pub fn with_transform(mut self, transform: Transform) -> Self {
        self.config.transform = Some(transform);
        self
    }

    /// How to build parts of a file elsewhere (on worker threads) so that [`RowBatcher::absorb`] can take them.
    pub fn part_config(&self) -> PartConfig {
        self.config.clone()
    }

    pub fn push(&mut self, row: &Row<'_>, file: &str, line: u64) -> anyhow::Result<()> {
        if self.current.as_ref().is_some_and(|c| c.file != file) {
            self.flush()?;
        }
        let current = self
            .current
            .get_or_insert_with(|| self.config.builder(self.batch_rows.min(1 << 20), file));
        current.push(row, line);
        if current.built() >= self.batch_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Take a part built elsewhere; parts must arrive in input order. Events already seen are subtracted here:
    /// from the counts, and from the rows (removed, fed back with negated hits through the transform, or taken
    /// out of the tally).
    pub fn absorb(&mut self, part: Part) -> anyhow::Result<()> {
        if let Some(mut current) = self.current.take() {
            let earlier = current.take()?;
            self.absorb(earlier)?;
        }
        let Part {
            frame,
            mut tally,
            stats,
            fingerprinted,
            built,
        } = part;
        self.stats.merge(stats);
        let mut removed: Vec<IdxSize> = Vec::new();
        if let Some(seen) = &mut self.seen {
            for (i, f) in fingerprinted.rows.iter().enumerate() {
                if seen.insert(f.bucket, f.fp)? {
                    continue;
                }
                let (hits, in_window) = fingerprinted.counts(i);
                self.stats.duplicates += 1;
                self.stats.events -= hits;
                if in_window {
                    self.stats.events_in_window -= hits;
                }
                match &mut tally {
                    Some(t) => t.retract(f.handle, hits),
                    None => removed.push(f.handle as IdxSize),
                }
            }
        }
        let on_batch = match &mut self.output {
            Output::Tally(on_tally) => {
                return match tally {
                    Some(t) if !t.is_empty() => on_tally(t),
                    _ => Ok(()),
                };
            }
            Output::Frames(on_batch) => on_batch,
        };
        let Some(frame) = frame else { return Ok(()) };
        if removed.is_empty() {
            return on_batch(frame);
        }
        let built =
            built.ok_or_else(|| anyhow::anyhow!("internal: duplicate rows without their part"))?;
        match &self.config.transform {
            None => {
                let mut keep = vec![true; built.height()];
                for r in &removed {
                    keep[*r as usize] = false;
                }
                let mask: BooleanChunked = keep.into_iter().map(Some).collect();
                on_batch(built.filter(&mask)?)
            }
            Some(t) => {
                on_batch(frame)?;
                let idx = IdxCa::from_vec("idx".into(), removed);
                let negative = t(built.take(&idx)?)?
                    .lazy()
                    .with_column(-col(crate::event::HITS))
                    .collect()?;
                on_batch(negative)
            }
        }
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        if let Some(mut current) = self.current.take() {
            let part = current.take()?;
            self.absorb(part)?;
        }
        Ok(())
    }

    /// Flush what is left and return the statistics.
    pub fn finish(mut self) -> anyhow::Result<ReadStats> {
        self.flush()?;
        if let Some(seen) = &self.seen
            && seen.reloads > 0
            && crate::messages::verbose(3)
        {
            crate::messages::emit(format_args!(
                "duplicate table: {} bucket(s) read back from disk (input not in time order)",
                seen.reloads
            ));
        }
        Ok(self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::normalize::host;
    use crate::event::{Action, Kind};
    use crate::input::dedupe::BUCKET_US;

    fn row(t: i64, sport: u32, action: Action) -> Row<'static> {
        Row {
            time_us: Some(t),
            kind: Some(Kind::Network),
            action: Some(action),
            protocol: Some("TCP"),
            source: host("10.0.0.1"),
            source_port: Some(sport),
            destination: host("10.1.0.1"),
            destination_port: Some(22),
            hits: 1,
            ..Row::default()
        }
    }

    /// The rows through a tallying batcher of two rows a batch: the hits left in its tallies, and its statistics.
    fn tally_hits(rows: &[Row<'_>]) -> (u64, ReadStats) {
        let mut tallies = Vec::new();
        let mut on = |t| {
            tallies.push(t);
            Ok(())
        };
        let pushdown = Pushdown {
            deny_only: true,
            core_only: true,
            ..Pushdown::default()
        };
        let mut b = RowBatcher::tallying(2, false, &mut on).with_pushdown(pushdown);
        for r in rows {
            b.push(r, "f", 1).unwrap();
        }
        let st = b.finish().unwrap();
        let mut all = DenyTally::new();
        for t in tallies {
            all.merge(t);
        }
        (all.pairs().map(|(_, a)| a.hits).sum(), st)
    }

    #[test]
    fn duplicates_of_selected_rows_come_out_of_the_tallies() {
        // The same deny in two batches (the second flushed separately), an allowed event twice.
        let (hits, st) = tally_hits(&[
            row(10, 1, Action::Deny),
            row(11, 2, Action::Allow),
            row(10, 1, Action::Deny),
            row(11, 2, Action::Allow),
            row(12, 3, Action::Deny),
        ]);
        assert_eq!(hits, 2);
        // Only selected rows are fingerprinted: the allowed repeat counts as an event.
        assert_eq!((st.duplicates, st.events, st.records), (1, 4, 5));
    }

    #[test]
    fn prints_keep_the_counts_of_rows_that_are_not_one_event_in_the_window() {
        let mut p = Prints::default();
        let rows = [
            (1, true),
            (7, true),
            (1, false),
            (1, true),
            (u64::MAX, false),
            (1, true),
        ];
        for (i, (events, in_window)) in rows.iter().enumerate() {
            p.push(
                i as i64 * BUCKET_US,
                i as u64,
                *events,
                *in_window,
                i as u32,
            );
        }
        assert_eq!(p.unusual.len(), 3);
        for (i, want) in rows.iter().enumerate() {
            assert_eq!(p.counts(i), *want, "row {i}");
            assert_eq!((p.rows[i].bucket, p.rows[i].handle), (i as i32, i as u32));
        }
        // Times beyond 32-bit buckets keep their order's ends.
        p.push(i64::MAX, 9, 1, true, 9);
        p.push(i64::MIN, 9, 1, true, 10);
        assert_eq!((p.rows[6].bucket, p.rows[7].bucket), (i32::MAX, i32::MIN));
    }

    #[test]
    fn duplicates_of_rows_of_many_events_take_back_their_events() {
        let with_hits = |t, sport, hits| Row {
            hits,
            ..row(t, sport, Action::Deny)
        };
        // A row of 5 events and one of 1, each twice, in separate batches; a third row of 3 events once.
        let (hits, st) = tally_hits(&[
            with_hits(10, 1, 5),
            with_hits(20, 2, 1),
            with_hits(10, 1, 5),
            with_hits(20, 2, 1),
            with_hits(30, 3, 3),
        ]);
        assert_eq!(hits, 9);
        assert_eq!((st.duplicates, st.events, st.events_in_window), (2, 9, 9));
    }
}
