//! Offline inputs: finding files (paths, folders, globs, `.gz`), telling their format from their content, and
//! reading them into canonical batches.
//!
//! Each format module ([`json`], [`csv`], [`parquet`], [`tables`]) only maps its shape onto [`fields::Field`]s;
//! [`fields::to_row`] and [`row::CanonicalBuilder`] do the normalising, so every format lands in the same schema.
//! Records that cannot become events are counted and kept as [`Skip`] examples with file and line.

pub mod csv;
pub mod fields;
pub mod json;
pub mod parquet;
pub mod row;
pub mod tables;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use polars::prelude::{BooleanChunked, DataFrame, NewChunkedArray, PlHashSet, PolarsResult};

use crate::cli::args::InputFormat;
use crate::error::user;
use crate::event::normalize::Host;

pub use row::{CanonicalBuilder, Row};

/// Canonical events read from one source, with what was skipped.
#[derive(Debug)]
pub struct Events {
    pub frame: DataFrame,
    pub stats: ReadStats,
}

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
    /// Events read, duplicates excluded; a row counts its hits (aggregation tables).
    pub events: u64,
    /// Events inside the pushed-down window (all events when there is none).
    pub events_in_window: u64,
    pub first_us: Option<i64>,
    pub last_us: Option<i64>,
    pub duplicates: u64,
    pub unparsed: u64,
    /// (file, line, message) of the first unparsed legacy messages.
    pub unparsed_examples: Vec<(String, u64, String)>,
    pub skipped: u64,
    pub skipped_by_reason: BTreeMap<String, u64>,
    pub skip_examples: Vec<Skip>,
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

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// Which rows the query downstream needs: rows outside are counted in [`ReadStats`] but never built into
/// canonical columns (predicate pushdown into the readers).
#[derive(Debug, Clone, Copy, Default)]
pub struct Pushdown {
    pub from_us: Option<i64>,
    pub to_us: Option<i64>,
    /// Build only denied events.
    pub deny_only: bool,
}

impl Pushdown {
    /// Whether a row is built into canonical columns.
    pub fn selects(&self, row: &Row<'_>) -> bool {
        !self.deny_only
            || (row.action == Some(crate::event::Action::Deny) && self.in_window(row.time_us))
    }

    pub fn in_window(&self, t: Option<i64>) -> bool {
        match t {
            None => self.from_us.is_none() && self.to_us.is_none(),
            Some(t) => self.from_us.is_none_or(|f| t >= f) && self.to_us.is_none_or(|e| t < e),
        }
    }
}

/// What the accounting needs to know of one row, taken where the row is read (possibly on a worker thread).
#[derive(Debug, Clone)]
pub struct RowMeta {
    /// Identity for duplicate detection; `None` never counts as a duplicate.
    pub fingerprint: Option<u64>,
    pub hits: u64,
    pub time_us: Option<i64>,
    pub line: u64,
    /// The legacy text of an unparsed message (kept for the examples).
    pub unparsed: Option<String>,
    /// Whether the row was built into the canonical batch (the pushdown selected it).
    pub built: bool,
}

/// Rows of one part of a file, read and built independently of the others: the canonical rows the pushdown
/// selected, a [`RowMeta`] for every row, and the records skipped (line, category, detail).
pub struct Part {
    pub frame: Option<DataFrame>,
    pub metas: Vec<RowMeta>,
    pub skips: Vec<(u64, &'static str, String)>,
}

/// The sink's settings a [`PartBuilder`] needs; plain data, so it can go to worker threads.
#[derive(Debug, Clone, Copy)]
pub struct PartConfig {
    pushdown: Pushdown,
    dedupe: bool,
    keep_messages: bool,
}

impl PartConfig {
    pub fn builder(&self, capacity: usize) -> PartBuilder {
        PartBuilder::new(capacity, self.pushdown, self.dedupe, self.keep_messages)
    }
}

/// Builds the rows of one [`Part`]; used by readers that read parts in parallel.
pub struct PartBuilder {
    builder: CanonicalBuilder,
    metas: Vec<RowMeta>,
    skips: Vec<(u64, &'static str, String)>,
    pushdown: Pushdown,
    dedupe: bool,
}

impl PartBuilder {
    pub fn new(capacity: usize, pushdown: Pushdown, dedupe: bool, keep_messages: bool) -> Self {
        PartBuilder {
            builder: CanonicalBuilder::new(capacity).keep_parsed_messages(keep_messages),
            metas: Vec::with_capacity(capacity),
            skips: Vec::new(),
            pushdown,
            dedupe,
        }
    }

    pub fn push(&mut self, row: &Row<'_>, file: &str, line: u64) {
        let built = self.pushdown.selects(row);
        self.metas.push(meta(row, line, built, self.dedupe));
        if built {
            self.builder.push(row, file, line);
        }
    }

    pub fn skip(&mut self, line: u64, category: &'static str, detail: impl std::fmt::Display) {
        self.skips.push((line, category, detail.to_string()));
    }

    pub fn finish(mut self) -> PolarsResult<Part> {
        let frame = if self.builder.is_empty() {
            None
        } else {
            Some(self.builder.finish()?)
        };
        Ok(Part {
            frame,
            metas: self.metas,
            skips: self.skips,
        })
    }
}

fn meta(row: &Row<'_>, line: u64, built: bool, dedupe: bool) -> RowMeta {
    RowMeta {
        fingerprint: if dedupe { fingerprint(row) } else { None },
        hits: row.hits.max(1),
        time_us: row.time_us,
        line,
        unparsed: (row.kind == Some(crate::event::Kind::Unparsed))
            .then(|| row.message.unwrap_or("").to_string()),
        built,
    }
}

/// Where readers put rows: counts every event, drops exact duplicates of an event already seen (unless told to
/// keep them), builds the rows the [`Pushdown`] selects into canonical batches of `batch_rows` and hands each
/// batch to `on_batch`. Rows arrive one by one ([`Sink::push`]) or as parts built elsewhere ([`Sink::absorb`]);
/// either way the accounting runs here, in input order, so results do not depend on threads.
pub struct Sink<'f> {
    builder: CanonicalBuilder,
    batch_rows: usize,
    on_batch: &'f mut dyn FnMut(DataFrame) -> anyhow::Result<()>,
    seen: Option<PlHashSet<u64>>,
    pushdown: Pushdown,
    keep_messages: bool,
    pub stats: ReadStats,
}

impl<'f> Sink<'f> {
    pub fn new(
        batch_rows: usize,
        keep_duplicates: bool,
        keep_messages: bool,
        on_batch: &'f mut dyn FnMut(DataFrame) -> anyhow::Result<()>,
    ) -> Self {
        Sink {
            builder: CanonicalBuilder::new(batch_rows.min(1 << 20))
                .keep_parsed_messages(keep_messages),
            batch_rows,
            on_batch,
            seen: (!keep_duplicates).then(PlHashSet::default),
            pushdown: Pushdown::default(),
            keep_messages,
            stats: ReadStats::default(),
        }
    }

    /// Build only the rows this pushdown selects (all rows are still counted).
    pub fn with_pushdown(mut self, pushdown: Pushdown) -> Self {
        self.pushdown = pushdown;
        self
    }

    /// How to build parts of a file elsewhere (on worker threads) so that [`Sink::absorb`] can take them.
    pub fn part_config(&self) -> PartConfig {
        PartConfig {
            pushdown: self.pushdown,
            dedupe: self.seen.is_some(),
            keep_messages: self.keep_messages,
        }
    }

    /// Count one row; false when it duplicates an event already read.
    fn account(&mut self, m: &RowMeta, file: &str) -> bool {
        self.stats.records += 1;
        if let Some(seen) = &mut self.seen
            && let Some(fp) = m.fingerprint
            && !seen.insert(fp)
        {
            self.stats.duplicates += 1;
            return false;
        }
        let st = &mut self.stats;
        st.events += m.hits;
        st.first_us = min_opt(st.first_us, m.time_us);
        st.last_us = max_opt(st.last_us, m.time_us);
        if self.pushdown.in_window(m.time_us) {
            st.events_in_window += m.hits;
        }
        if let Some(msg) = &m.unparsed {
            st.unparsed += 1;
            if st.unparsed_examples.len() < MAX_UNPARSED_EXAMPLES {
                st.unparsed_examples
                    .push((file.to_string(), m.line, msg.clone()));
            }
        }
        true
    }

    pub fn push(&mut self, row: &Row<'_>, file: &str, line: u64) -> anyhow::Result<()> {
        let built = self.pushdown.selects(row);
        let m = meta(row, line, built, self.seen.is_some());
        if self.account(&m, file) && built {
            self.builder.push(row, file, line);
            if self.builder.len() >= self.batch_rows {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Take a part built elsewhere: account its rows in order and pass on the built rows that are not duplicates.
    pub fn absorb(&mut self, part: Part, file: &str) -> anyhow::Result<()> {
        let mut keep = Vec::with_capacity(part.frame.as_ref().map_or(0, |f| f.height()));
        let mut skips = part.skips.into_iter().peekable();
        for m in &part.metas {
            while let Some((line, cat, detail)) = skips.next_if(|s| s.0 < m.line) {
                self.stats.skip(file, line, cat, detail);
            }
            let fresh = self.account(m, file);
            if m.built {
                keep.push(fresh);
            }
        }
        for (line, cat, detail) in skips {
            self.stats.skip(file, line, cat, detail);
        }
        if let Some(frame) = part.frame {
            let frame = if keep.iter().all(|k| *k) {
                frame
            } else {
                frame.filter(&BooleanChunked::from_slice("keep".into(), &keep))?
            };
            if frame.height() > 0 {
                self.flush()?;
                (self.on_batch)(frame)?;
            }
        }
        Ok(())
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        if !self.builder.is_empty() {
            let df = self.builder.finish()?;
            (self.on_batch)(df)?;
        }
        Ok(())
    }

    /// Flush what is left and return the statistics.
    pub fn finish(mut self) -> anyhow::Result<ReadStats> {
        self.flush()?;
        Ok(self.stats)
    }
}

/// Identity of one logged event across both diagnostic modes: the same event written as a structured
/// `AZFW*` record and as a legacy message has the same time, endpoints, ports, protocol and action.
/// Rows without a source port (aggregation tables, old ICMP) are never treated as duplicates.
fn fingerprint(row: &Row<'_>) -> Option<u64> {
    let (time, sport) = (row.time_us?, row.source_port?);
    let mut h = foldhash::quality::FixedState::with_seed(0x6677_6c6f_6700_0001).build_hasher();
    time.hash(&mut h);
    sport.hash(&mut h);
    row.kind.hash(&mut h);
    row.action.hash(&mut h);
    row.destination_port.hash(&mut h);
    hash_host(&mut h, row.source);
    hash_host(&mut h, row.destination);
    if let Some((p, _)) = row.protocol.and_then(crate::event::normalize::protocol) {
        p.hash(&mut h);
    }
    Some(h.finish())
}

fn hash_host(h: &mut impl Hasher, host: Option<Host<'_>>) {
    match host {
        None => 0u8.hash(h),
        Some(Host::Ip(ip)) => ip.hash(h),
        Some(Host::Name(n)) => {
            let n = n.trim().trim_end_matches('.');
            for b in n.bytes() {
                h.write_u8(b.to_ascii_lowercase());
            }
        }
    }
}

/// Expand `--input` arguments into files: folders are walked recursively (sorted, hidden files skipped),
/// glob patterns expanded; a path that matches nothing is an error.
pub fn discover(inputs: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for arg in inputs {
        let p = Path::new(arg);
        if p.is_dir() {
            walk(p, &mut out).with_context(|| format!("reading folder {arg}"))?;
        } else if p.exists() {
            out.push(p.to_path_buf());
        } else if arg.contains(['*', '?', '[']) {
            let mut matched: Vec<PathBuf> = glob::glob(arg)
                .map_err(|e| user(format!("{arg}: invalid glob pattern: {e}")))?
                .filter_map(Result::ok)
                .collect();
            if matched.is_empty() {
                return Err(user(format!("{arg}: the pattern matches no file")));
            }
            matched.sort();
            for m in matched {
                if m.is_dir() {
                    walk(&m, &mut out)?;
                } else {
                    out.push(m);
                }
            }
        } else {
            return Err(user(format!("{arg}: no such file or folder")));
        }
    }
    if out.is_empty() {
        return Err(user(
            "no input files found (give --input PATH: a file, a folder or a glob)",
        ));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Read every file into `sink`, detecting each file's format from its content unless `format` is given.
pub fn read_files(
    files: &[PathBuf],
    format: Option<InputFormat>,
    sink: &mut Sink<'_>,
) -> anyhow::Result<()> {
    for path in files {
        let name = path.display().to_string();
        sink.stats.files.push(name.clone());
        let file =
            std::fs::File::open(path).map_err(|e| user(format!("{name}: cannot read: {e}")))?;
        // Map the file rather than copy it: Parquet parts are decoded straight from the mapping.
        // SAFETY: the mapping is read-only and fwlog does not write its inputs; a file truncated by another
        // process while it is read is outside what fwlog can guard against, as for any reader of mapped files.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| user(format!("{name}: cannot read: {e}")))?;
        let inflated;
        let bytes: &[u8] = if map.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(&map[..])
                .read_to_end(&mut out)
                .map_err(|e| user(format!("{name}: not a valid gzip file: {e}")))?;
            inflated = out;
            &inflated
        } else {
            &map
        };
        let fmt = match format {
            Some(f) => f,
            None => detect(bytes).ok_or_else(|| {
                user(format!(
                    "{name}: unrecognised content: expected Parquet, JSON (lines, records, tables) or a CSV export \
                     with a TimeGenerated column"
                ))
            })?,
        };
        match fmt {
            InputFormat::Parquet => parquet::read(&name, bytes, sink)?,
            InputFormat::Json => json::read(&name, bytes, sink)?,
            InputFormat::Csv => csv::read(&name, bytes, sink)?,
        }
    }
    Ok(())
}

/// Tell the format from the first bytes: Parquet magic, a JSON value, or text with a header line.
pub fn detect(bytes: &[u8]) -> Option<InputFormat> {
    if bytes.starts_with(b"PAR1") {
        return Some(InputFormat::Parquet);
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    match first {
        b'{' | b'[' => Some(InputFormat::Json),
        _ => {
            let line_end = memchr::memchr(b'\n', body).unwrap_or(body.len());
            let header = String::from_utf8_lossy(&body[..line_end]).to_ascii_lowercase();
            // Any comma-separated header: the CSV reader then says which columns it expected.
            (header.contains(',') && !header.contains('\0')).then_some(InputFormat::Csv)
        }
    }
}

/// Read files fully into one canonical frame (for small inputs and tests).
pub fn read_to_frame(
    inputs: &[String],
    format: Option<InputFormat>,
    keep_duplicates: bool,
) -> anyhow::Result<Events> {
    let files = discover(inputs)?;
    let mut frames: Vec<DataFrame> = Vec::new();
    let mut collect = |df: DataFrame| {
        frames.push(df);
        Ok(())
    };
    let mut sink = Sink::new(1 << 20, keep_duplicates, true, &mut collect);
    read_files(&files, format, &mut sink)?;
    let stats = sink.finish()?;
    Ok(Events {
        frame: concat_frames(frames)?,
        stats,
    })
}

/// Vertically concatenate canonical frames (an empty canonical frame when there are none).
pub fn concat_frames(frames: Vec<DataFrame>) -> anyhow::Result<DataFrame> {
    let mut it = frames.into_iter();
    let Some(mut first) = it.next() else {
        return Ok(CanonicalBuilder::new(0).finish()?);
    };
    for f in it {
        first.vstack_mut(&f)?;
    }
    Ok(first)
}
