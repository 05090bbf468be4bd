//! The file source: finding files (paths, folders, globs, `.gz`, named pipes, `-` for stdin; see [`walk`] for
//! folders), telling their format from their content, and reading them into canonical batches. Inputs are read
//! as streams ([`source`]): only Parquet files on disk are memory-mapped, and memory is bounded per record
//! ([`lines::MAX_LINE_BYTES`]) or per document ([`json::MAX_DOCUMENT_BYTES`]), never by the input's size.
//!
//! Each format module ([`json`], [`csv`], [`parquet`], [`tables`]) only maps its shape onto [`fields::Field`]s;
//! [`fields::to_row`] and [`row::CanonicalBuilder`] do the normalising, so every format lands in the same schema.
//! Readers push rows into a [`batcher::RowBatcher`], which hands canonical batches to the consumer and counts
//! what it saw in a [`ReadStats`]; records that cannot become events are counted with file and line.
//! A new log shape goes here: a module that maps its records onto fields, and a case in [`detect`].

pub mod batcher;
pub mod csv;
pub mod dedupe;
pub mod fields;
pub mod json;
pub mod lines;
pub mod parquet;
pub mod row;
pub mod source;
pub mod tables;
pub mod walk;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use polars::prelude::*;

use crate::error::user;
pub use crate::event::stats::{ReadStats, Skip};
use batcher::{RowBatcher, Transform};
pub use row::{CanonicalBuilder, Row};

/// Rows per canonical batch handed to the consumer.
pub const BATCH_ROWS: usize = 256 * 1024;

/// A file format fwlog reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// Parquet with resource-specific (`AZFW*`) or `AzureDiagnostics` columns.
    Parquet,
    /// Any JSON shape: JSON lines records, `{"records":[…]}`, `{"tables":[…]}`, arrays of row objects.
    Json,
    /// Portal "Export to CSV".
    Csv,
}

/// Exported log files to read: what `--input` named, expanded.
#[derive(Debug, Clone)]
pub struct FileSource {
    /// Files, named pipes, or [`source::STDIN`].
    pub files: Vec<PathBuf>,
    /// What input folders held that was not read, each with the reason (reported, never dropped silently).
    pub passed_over: Vec<String>,
    /// Read every file as this format instead of detecting it.
    pub format: Option<InputFormat>,
    /// Count an event archived twice every time it appears.
    pub keep_duplicates: bool,
}

impl FileSource {
    /// Expand `--input` arguments (see [`discover`]).
    pub fn open(
        inputs: &[String],
        format: Option<InputFormat>,
        keep_duplicates: bool,
    ) -> anyhow::Result<FileSource> {
        if inputs.is_empty() {
            return Err(user(
                "no input: give --input PATH (exported logs: files, folders or globs) or --workspace GUID for Log Analytics",
            ));
        }
        let found = discover(inputs)?;
        Ok(FileSource {
            files: found.files,
            passed_over: found.passed_over,
            format,
            keep_duplicates,
        })
    }

    /// Read every file: rows the pushdown selects are built into canonical batches, passed through `transform`
    /// on the thread that built them, and handed to `on_batch`; every event is counted in the statistics.
    pub fn read(
        &self,
        pushdown: Pushdown,
        transform: Option<Transform>,
        keep_messages: bool,
        on_batch: &mut dyn FnMut(DataFrame) -> anyhow::Result<()>,
    ) -> anyhow::Result<ReadStats> {
        let mut batcher =
            RowBatcher::new(BATCH_ROWS, self.keep_duplicates, keep_messages, on_batch)
                .with_pushdown(pushdown);
        if let Some(t) = transform {
            batcher = batcher.with_transform(t);
        }
        read_files(&self.files, self.format, &mut batcher)?;
        let mut stats = batcher.finish()?;
        stats.passed_over = self.passed_over.clone();
        Ok(stats)
    }

    /// Read every file, counting the rows the pushdown selects into tallies (one per part, built on the thread
    /// that read it, duplicates already taken out) handed to `on_tally`; no canonical columns are built.
    pub fn tally(
        &self,
        pushdown: Pushdown,
        on_tally: &mut dyn FnMut(crate::event::tally::DenyTally) -> anyhow::Result<()>,
    ) -> anyhow::Result<ReadStats> {
        let mut batcher = RowBatcher::tallying(BATCH_ROWS, self.keep_duplicates, on_tally)
            .with_pushdown(pushdown);
        read_files(&self.files, self.format, &mut batcher)?;
        let mut stats = batcher.finish()?;
        stats.passed_over = self.passed_over.clone();
        Ok(stats)
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
    /// Build only the core columns (`row::CORE_COLUMNS`); the others are null. Only with `deny_only`:
    /// readers then leave the destination of rows of other actions unset (see `fields::fill_row`).
    pub core_only: bool,
}

impl Pushdown {
    /// Whether only the core columns of denies are built: what `fields::fill_row` calls `core`.
    pub fn denies_core(&self) -> bool {
        self.deny_only && self.core_only
    }

    /// Whether a row is built into canonical columns.
    pub fn selects(&self, row: &Row<'_>) -> bool {
        !self.deny_only
            || (row.action == Some(crate::event::Action::Deny) && self.in_window(row.time_us))
    }

    /// The window as `from <= t < to`, an open end as the extreme time: for any time but `i64::MAX`, what
    /// [`Pushdown::in_window`] tests.
    pub fn bounds(&self) -> (i64, i64) {
        (
            self.from_us.unwrap_or(i64::MIN),
            self.to_us.unwrap_or(i64::MAX),
        )
    }

    pub fn in_window(&self, t: Option<i64>) -> bool {
        match t {
            None => self.from_us.is_none() && self.to_us.is_none(),
            Some(t) => self.from_us.is_none_or(|f| t >= f) && self.to_us.is_none_or(|e| t < e),
        }
    }
}

/// Expand `--input` arguments into files: folders are walked recursively (sorted, hidden files skipped, see
/// [`walk`]), glob patterns expanded; `-` is stdin; a path that matches nothing is an error. A file named
/// explicitly is read whatever it is (a named pipe is read as a stream); special files a walk or a glob meets
/// are passed over.
pub fn discover(inputs: &[String]) -> anyhow::Result<Discovered> {
    let mut found = Discovered::default();
    for arg in inputs {
        let p = Path::new(arg);
        if arg == source::STDIN {
            if found.files.iter().any(|f| f.as_os_str() == source::STDIN) {
                return Err(user("-i - (stdin) is given twice: stdin can be read once"));
            }
            found.files.push(p.to_path_buf());
        } else if p.is_dir() {
            walk::walk(p, &mut found).with_context(|| format!("reading folder {arg}"))?;
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
                    walk::walk(&m, &mut found)?;
                } else if let Some(kind) = walk::special(&m) {
                    found.pass_over(&m, kind);
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

/// The files to read, and what a folder walk passed over, each with the reason (reported, never dropped
/// silently).
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<PathBuf>,
    pub passed_over: Vec<String>,
}

impl Discovered {
    /// Note `path` as passed over for `reason`; `-v` lists it as "path (reason)".
    pub fn pass_over(&mut self, path: &Path, reason: &str) {
        self.passed_over
            .push(format!("{} ({reason})", path.display()));
    }
}

/// Read every input into `batcher`, detecting each one's format from its first bytes unless `format` is given.
/// Parquet files on disk are memory-mapped; everything else is read as a stream (see [`source`]).
pub fn read_files(
    files: &[PathBuf],
    format: Option<InputFormat>,
    batcher: &mut RowBatcher<'_>,
) -> anyhow::Result<()> {
    let total: u64 = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    crate::messages::start_progress(files.len(), total);
    for (i, path) in files.iter().enumerate() {
        crate::messages::progress_file(i, files.len(), batcher.stats.records);
        let name = if path.as_os_str() == source::STDIN {
            source::STDIN_NAME.to_string()
        } else {
            path.display().to_string()
        };
        batcher.stats.files.push(name.clone());
        let opened = source::open(path, &name)?;
        let fmt = match format {
            Some(f) => f,
            None => detect(&opened.head).ok_or_else(|| {
                user(format!(
                    "{name}: unrecognised content: expected Parquet, JSON (lines, records, tables) or a CSV export \
                     with a TimeGenerated column"
                ))
            })?,
        };
        match fmt {
            InputFormat::Parquet => read_parquet(&name, opened, batcher)?,
            InputFormat::Json => json::read(&name, opened.stream, batcher)?,
            InputFormat::Csv => csv::read(&name, opened.stream, batcher)?,
        }
    }
    crate::messages::finish_progress();
    Ok(())
}

/// A Parquet file is read from its end, so it must be whole: mapped when it is a file on disk, else held in
/// memory up to [`source::MAX_PARQUET_IN_MEMORY`].
fn read_parquet(
    name: &str,
    opened: source::Opened,
    batcher: &mut RowBatcher<'_>,
) -> anyhow::Result<()> {
    let Some(file) = opened.file else {
        let bytes = source::read_capped(
            opened.stream,
            source::MAX_PARQUET_IN_MEMORY,
            name,
            || {
                format!(
                    "a Parquet file that arrives compressed or through a pipe is held in memory, and this one is larger \
                 than {} GiB: decompress it to a file and give that file (files on disk are mapped, not held)",
                    source::MAX_PARQUET_IN_MEMORY >> 30
                )
            },
        )?;
        return parquet::read(name, &bytes, None, batcher);
    };
    // Map the file rather than copy it: Parquet parts are decoded straight from the mapping.
    // SAFETY: the mapping is read-only and fwlog does not write its inputs; a file truncated by another
    // process while it is read is outside what fwlog can guard against, as for any reader of mapped files.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| user(format!("{name}: cannot read: {e}")))?;
    let mapped = MappedFile { map: &map };
    parquet::read(name, &map, Some(&mapped), batcher)
}

/// A Parquet file mapped into memory, dropping the pages fwlog is done with (see [`parquet::Mapping`]).
struct MappedFile<'m> {
    map: &'m memmap2::Mmap,
}

impl MappedFile<'_> {
    fn drop_pages(&self, r: std::ops::Range<usize>) {
        // SAFETY: MADV_DONTNEED on a read-only private file mapping only drops pages; touching them again
        // reloads the same bytes from the file.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, r.start, r.len())
        };
    }
}

impl parquet::Mapping for MappedFile<'_> {
    fn decoded(&self, range: std::ops::Range<usize>) {
        self.drop_pages(range);
    }

    fn taken(&self, group: std::ops::Range<usize>) {
        crate::messages::progress_bytes(group.len() as u64);
        // Everything before the group's end, not only its own range: read-ahead maps pages around each
        // fault, and pages of column chunks no group's range covered stayed mapped (~1 MB per row group).
        self.drop_pages(0..group.end);
    }
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
