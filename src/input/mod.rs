//! Offline inputs: finding files (paths, folders, globs, `.gz`), telling their format from their content, and
//! reading them into canonical batches.
//!
//! Each format module ([`json`], [`csv`], [`parquet`], [`tables`]) only maps its shape onto [`fields::Field`]s;
//! [`fields::to_row`] and [`row::CanonicalBuilder`] do the normalising, so every format lands in the same schema.
//! Records that cannot become events are counted and kept as [`Skip`] examples with file and line.

pub mod csv;
pub mod dedupe;
pub mod fields;
pub mod json;
pub mod parquet;
pub mod row;
pub mod tables;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use std::sync::Arc;

use polars::prelude::*;

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
    /// Build only the core columns (`row::CORE_COLUMNS`); the others are null.
    pub core_only: bool,
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

/// What happens to a part's canonical rows before they leave the thread that built them (for a deny report: the
/// engine's pre-aggregation, so it too runs on every core). The result must keep a signed (Int64) `hits` column:
/// duplicates found later are subtracted by feeding their transformed rows back with negated hits.
pub type Transform = Arc<dyn Fn(DataFrame) -> anyhow::Result<DataFrame> + Send + Sync>;

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
    pushdown: Pushdown,
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

/// Where readers put rows: counts every event, drops exact duplicates of an event already seen (unless told to
/// keep them), builds the rows the [`Pushdown`] selects into canonical batches of `batch_rows`, and hands each
/// batch (through the transform, if any) to `on_batch`. Rows arrive one by one ([`Sink::push`]) or as parts
/// built on other threads ([`Sink::absorb`], in input order, so examples and counts do not depend on threads).
pub struct Sink<'f> {
    current: Option<PartBuilder>,
    batch_rows: usize,
    on_batch: &'f mut dyn FnMut(DataFrame) -> anyhow::Result<()>,
    config: PartConfig,
    seen: Option<dedupe::FingerprintSet>,
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

    /// How to build parts of a file elsewhere (on worker threads) so that [`Sink::absorb`] can take them.
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

/// Identity of one logged event across both diagnostic modes: the same event written as a structured
/// `AZFW*` record and as a legacy message has the same time, endpoints, ports, protocol, action and hits.
/// Rows without a source port (aggregation tables, old ICMP) are never treated as duplicates.
///
/// Computed for every row read, so the fixed-width fields are packed into two words and the protocol into a
/// third without building its canonical text (the generic `Hash` of each field and the protocol's
/// normalisation were ~0.3 s of CPU on 10M rows).
fn fingerprint(row: &Row<'_>) -> Option<u64> {
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

/// Expand `--input` arguments into files: folders are walked recursively (sorted, hidden files skipped),
/// glob patterns expanded; a path that matches nothing is an error.
pub fn discover(inputs: &[String]) -> anyhow::Result<Discovered> {
    let mut found = Discovered::default();
    for arg in inputs {
        let p = Path::new(arg);
        if p.is_dir() {
            walk(p, &mut found).with_context(|| format!("reading folder {arg}"))?;
        } else if p.exists() {
            found.files.push(p.to_path_buf());
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
                    walk(&m, &mut found)?;
                } else {
                    found.files.push(m);
                }
            }
        } else {
            return Err(user(format!("{arg}: no such file or folder")));
        }
    }
    if found.files.is_empty() {
        return Err(user(format!(
            "no input files found (give --input PATH: a file, a folder or a glob; in folders only files ending in \
             {} are read)",
            LOG_EXTENSIONS.map(|e| format!(".{e}")).join(", ")
        )));
    }
    Ok(found)
}

/// File endings a folder walk reads; other files in a log folder (READMEs, scripts) are passed over and
/// listed under `-v`. Files named explicitly are always read.
pub const LOG_EXTENSIONS: [&str; 7] = ["json", "jsonl", "ndjson", "csv", "parquet", "gz", "log"];

/// The files to read, and those a folder walk passed over because of their ending (reported, never dropped
/// silently).
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<PathBuf>,
    pub passed_over: Vec<String>,
}

fn walk(dir: &Path, found: &mut Discovered) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            walk(&p, found)?;
        } else if !p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| LOG_EXTENSIONS.iter().any(|l| l.eq_ignore_ascii_case(x)))
        {
            found.passed_over.push(p.display().to_string());
        } else {
            found.files.push(p);
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
            InputFormat::Parquet => {
                // Row groups already read leave the process's memory (the kernel keeps them cached): the file is
                // never held whole, whatever its size.
                // SAFETY: MADV_DONTNEED on a read-only private file mapping only drops pages; touching them
                // again reloads the same bytes from the file.
                let release = |r: std::ops::Range<usize>| {
                    let _ = unsafe {
                        map.unchecked_advise_range(
                            memmap2::UncheckedAdvice::DontNeed,
                            r.start,
                            r.len(),
                        )
                    };
                };
                let mapped = std::ptr::eq(bytes.as_ptr(), map.as_ptr());
                parquet::read(
                    &name,
                    bytes,
                    mapped.then_some(&release as &dyn Fn(std::ops::Range<usize>)),
                    sink,
                )?
            }
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
    let files = discover(inputs)?.files;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

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
