//! Rows in, canonical batches out: the [`RowBatcher`] every file reader pushes rows into. It counts every
//! event, drops exact duplicates of an event already seen (unless told to keep them), builds the rows the
//! [`Pushdown`] selects into canonical batches and hands each batch — through a transform, for a deny report the
//! engine's pre-aggregation — to the consumer. Parts of a file can be built on worker threads
//! ([`PartBuilder`]) and taken in input order ([`RowBatcher::absorb`]).

use std::sync::Arc;

use polars::prelude::*;

use super::Pushdown;
use super::dedupe::{self, fingerprint};
use super::row::{CanonicalBuilder, Row};
use crate::event::stats::{MAX_UNPARSED_EXAMPLES, ReadStats, max_opt, min_opt};

/// What happens to a part's canonical rows before they leave the thread that built them (for a deny report: the
/// engine's pre-aggregation, so it too runs on every core). The result must keep a signed (Int64) `hits` column:
/// duplicates found later are subtracted by feeding their transformed rows back with negated hits.
pub type Transform = Arc<dyn Fn(DataFrame) -> anyhow::Result<DataFrame> + Send + Sync>;

/// Where a reader puts the records of one file: a [`PartBuilder`] on a worker thread, or the [`RowBatcher`]
/// itself through [`FileSink`]. Format readers that are used both ways write to this.
pub trait Sink {
    fn push(&mut self, row: &Row<'_>, line: u64) -> anyhow::Result<()>;
    fn skip(&mut self, line: u64, category: &str, detail: &dyn std::fmt::Display);
    /// Whether only the core columns are built (legacy messages then need only their core fields parsed).
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
        self.config.pushdown.core_only
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
        self.batcher.config.pushdown.core_only
    }
}

/// A part of the input read and built on its own: its canonical rows (transformed), its statistics, and the
/// fingerprints the sink checks for duplicates when it takes the part.
pub struct Part {
    frame: Option<DataFrame>,
    stats: ReadStats,
    fingerprints: Vec<u64>,
    fingerprinted: Vec<Fingerprinted>,
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
}

/// What to undo when a fingerprinted row turns out to be a duplicate.
#[derive(Debug, Clone, Copy)]
struct Fingerprinted {
    hits: u64,
    in_window: bool,
    /// Row of `Part::built`, when the row was built.
    built_row: Option<IdxSize>,
}

/// The sink's settings a [`PartBuilder`] needs; cheap to clone to worker threads.
#[derive(Clone)]
pub struct PartConfig {
    pub(super) pushdown: Pushdown,
    dedupe: bool,
    keep_messages: bool,
    transform: Option<Transform>,
}

impl PartConfig {
    pub fn builder(&self, capacity: usize, file: &str) -> PartBuilder {
        PartBuilder {
            builder: CanonicalBuilder::sized(capacity, self.pushdown.core_only)
                .keep_parsed_messages(self.keep_messages),
            stats: ReadStats::default(),
            fingerprints: Vec::new(),
            fingerprinted: Vec::new(),
            config: self.clone(),
            file: file.to_string(),
        }
    }
}

/// Counts and builds the rows of one part, recording fingerprints for the duplicate check; runs on any thread.
pub struct PartBuilder {
    builder: CanonicalBuilder,
    stats: ReadStats,
    fingerprints: Vec<u64>,
    fingerprinted: Vec<Fingerprinted>,
    config: PartConfig,
    file: String,
}

impl PartBuilder {
    pub fn push(&mut self, row: &Row<'_>, line: u64) {
        let st = &mut self.stats;
        st.records += 1;
        let hits = row.hits.max(1);
        let in_window = self.config.pushdown.in_window(row.time_us);
        st.events += hits;
        st.first_us = min_opt(st.first_us, row.time_us);
        st.last_us = max_opt(st.last_us, row.time_us);
        if in_window {
            st.events_in_window += hits;
        }
        if row.kind == Some(crate::event::Kind::Unparsed) {
            st.unparsed += 1;
            if st.unparsed_examples.len() < MAX_UNPARSED_EXAMPLES {
                st.unparsed_examples.push((
                    self.file.clone(),
                    line,
                    row.message.unwrap_or("").to_string(),
                ));
            }
        }
        let built = self.config.pushdown.selects(row);
        if self.config.dedupe
            && let Some(fp) = fingerprint(row)
        {
            self.fingerprints.push(fp);
            self.fingerprinted.push(Fingerprinted {
                hits,
                in_window,
                built_row: built.then_some(self.builder.len() as IdxSize),
            });
        }
        if built {
            self.builder.push(row, &self.file, line);
        }
    }

    pub fn skip(&mut self, line: u64, category: &str, detail: impl std::fmt::Display) {
        self.stats.skip(&self.file, line, category, detail);
    }

    /// Rows built so far (after the pushdown).
    pub fn built(&self) -> usize {
        self.builder.len()
    }

    /// The part: built rows through the transform, statistics and fingerprints; the builder is left empty.
    pub fn take(&mut self) -> anyhow::Result<Part> {
        let (frame, built) = if self.builder.is_empty() {
            (None, None)
        } else {
            let df = self.builder.finish()?;
            let keep = (self.config.dedupe && !self.fingerprints.is_empty()).then(|| df.clone());
            let frame = match &self.config.transform {
                Some(t) => t(df)?,
                None => df,
            };
            (Some(frame), keep)
        };
        Ok(Part {
            frame,
            stats: std::mem::take(&mut self.stats),
            fingerprints: std::mem::take(&mut self.fingerprints),
            fingerprinted: std::mem::take(&mut self.fingerprinted),
            built,
        })
    }
}

/// Where readers put rows (see the module docs): batches of `batch_rows` go to `on_batch`. Rows arrive one by
/// one ([`RowBatcher::push`]) or as parts built on other threads ([`RowBatcher::absorb`], in input order, so
/// examples and counts do not depend on threads).
pub struct RowBatcher<'f> {
    current: Option<PartBuilder>,
    batch_rows: usize,
    on_batch: &'f mut dyn FnMut(DataFrame) -> anyhow::Result<()>,
    config: PartConfig,
    seen: Option<dedupe::FingerprintSet>,
    pub stats: ReadStats,
}

impl<'f> RowBatcher<'f> {
    pub fn new(
        batch_rows: usize,
        keep_duplicates: bool,
        keep_messages: bool,
        on_batch: &'f mut dyn FnMut(DataFrame) -> anyhow::Result<()>,
    ) -> Self {
        RowBatcher {
            current: None,
            batch_rows,
            on_batch,
            config: PartConfig {
                pushdown: Pushdown::default(),
                dedupe: !keep_duplicates,
                keep_messages,
                transform: None,
            },
            seen: (!keep_duplicates).then(dedupe::FingerprintSet::new),
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

    /// Expect this many more rows (sizes the duplicate table once instead of growing it).
    pub fn expect_rows(&mut self, rows: usize) {
        if let Some(seen) = &mut self.seen {
            seen.reserve_for(rows);
        }
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
    /// from the counts, and from the rows (removed, or fed back with negated hits through the transform).
    pub fn absorb(&mut self, part: Part) -> anyhow::Result<()> {
        if let Some(mut current) = self.current.take() {
            let earlier = current.take()?;
            self.absorb(earlier)?;
        }
        let Part {
            frame,
            stats,
            fingerprints,
            fingerprinted,
            built,
        } = part;
        self.stats.merge(stats);
        let mut removed: Vec<IdxSize> = Vec::new();
        if let Some(seen) = &mut self.seen {
            for pos in seen.insert_batch(&fingerprints) {
                let f = fingerprinted[pos];
                self.stats.duplicates += 1;
                self.stats.events -= f.hits;
                if f.in_window {
                    self.stats.events_in_window -= f.hits;
                }
                removed.extend(f.built_row);
            }
        }
        let Some(frame) = frame else { return Ok(()) };
        if removed.is_empty() {
            return (self.on_batch)(frame);
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
                (self.on_batch)(built.filter(&mask)?)
            }
            Some(t) => {
                (self.on_batch)(frame)?;
                let idx = IdxCa::from_vec("idx".into(), removed);
                let negative = t(built.take(&idx)?)?
                    .lazy()
                    .with_column(-col(crate::event::HITS))
                    .collect()?;
                (self.on_batch)(negative)
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
        Ok(self.stats)
    }
}
