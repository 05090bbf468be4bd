//! Parquet files: resource-specific `AZFW*` columns, `AzureDiagnostics` columns (`msg_s`, `Category`, …), and
//! fwlog's own canonical files (`fwlog fetch`). Only the columns fwlog maps are decoded, a row group (or a
//! slice of one, [`PART_BYTES`]) at a time, so memory stays bounded whatever the file size.

use std::io::Cursor;

use polars::prelude::*;
use polars_arrow::array::Array as _;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use super::batcher::RowBatcher;
use super::fields::{self, Field, FieldIndex, Val};
use crate::error::user;

/// Decoded bytes (of the columns read) per part: parts of a few tens of MiB keep two workers and the parts
/// waiting for the merge well under 1 GiB.
pub const PART_BYTES: usize = 80 << 20;

/// Rows per part at most, whatever their size (narrow columns).
pub const MAX_PART_ROWS: usize = 1 << 20;

/// One decoded column as a single Arrow array, so a row's value is an index (the chunked array's `get` looks
/// up the chunk and checks bounds on every call, twice per row).
enum Data {
    Str(<StringType as PolarsDataType>::Array),
    Int(<Int64Type as PolarsDataType>::Array),
    Float(<Float64Type as PolarsDataType>::Array),
    Bool(<BooleanType as PolarsDataType>::Array),
}

impl Data {
    /// The value of row `i`; `None` when null or past the end.
    #[inline]
    fn get(&self, i: usize) -> Option<Val<'_>> {
        if i >= self.len() {
            return None;
        }
        macro_rules! at {
            ($a:expr, $v:path) => {
                $a.validity()
                    .is_none_or(|b| b.get_bit(i))
                    // SAFETY: `i < len` was checked above.
                    .then(|| $v(unsafe { $a.value_unchecked(i) }))
            };
        }
        match self {
            Data::Str(a) => at!(a, Val::Str),
            Data::Int(a) => at!(a, Val::Int),
            Data::Float(a) => at!(a, Val::Float),
            Data::Bool(a) => at!(a, Val::Bool),
        }
    }

    fn len(&self) -> usize {
        match self {
            Data::Str(a) => a.len(),
            Data::Int(a) => a.len(),
            Data::Float(a) => a.len(),
            Data::Bool(a) => a.len(),
        }
    }

    /// Whether every row holds a message with more than spaces (then the category columns are not needed).
    fn all_text(&self) -> bool {
        let Data::Str(a) = self else { return false };
        if a.null_count() > 0 {
            return false;
        }
        // A view holds a string's length and first bytes: only a message starting with a space needs its
        // text read (reading every message here cost a cache miss per row).
        a.views().iter().enumerate().all(|(i, v)| {
            v.length > 0
                && (v.prefix.to_le_bytes()[0] != b' '
                    // SAFETY: `i` indexes `views`, which has one view per row.
                    || unsafe { a.value_unchecked(i) }.bytes().any(|b| b != b' '))
        })
    }

    fn from_column(c: &Column) -> PolarsResult<Data> {
        /// The one chunk of a rechunked array.
        fn one<T: PolarsDataType>(ca: &ChunkedArray<T>) -> PolarsResult<T::Array>
        where
            T::Array: Clone,
        {
            ca.rechunk()
                .downcast_iter()
                .next()
                .cloned()
                .ok_or_else(|| polars_err!(ComputeError: "a decoded column has no data"))
        }
        let s = c.as_materialized_series();
        Ok(match s.dtype() {
            DataType::String => Data::Str(one(s.str()?)?),
            DataType::Datetime(_, _) => {
                let us = s.cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
                Data::Int(one(us.cast(&DataType::Int64)?.i64()?)?)
            }
            DataType::Boolean => Data::Bool(one(s.bool()?)?),
            DataType::Float32 | DataType::Float64 => {
                Data::Float(one(s.cast(&DataType::Float64)?.f64()?)?)
            }
            dt if dt.is_integer() => Data::Int(one(s.cast(&DataType::Int64)?.i64()?)?),
            _ => Data::Str(one(s.cast(&DataType::String)?.str()?)?),
        })
    }
}

/// A part of a file: first row, row count, and the byte range of its row group when it is the group's last.
type PartPlan = (usize, usize, Option<std::ops::Range<usize>>);

/// Split row groups (rows, decoded bytes of the columns read, byte range in the file) into parts: a group is
/// one part, or equal slices when its bytes exceed [`PART_BYTES`] or its rows [`MAX_PART_ROWS`].
fn plan_parts(
    groups: impl Iterator<Item = (usize, usize, std::ops::Range<usize>)>,
) -> Vec<PartPlan> {
    let mut out = Vec::new();
    let mut start = 0usize;
    for (n, bytes, range) in groups {
        let pieces = bytes
            .div_ceil(PART_BYTES)
            .max(n.div_ceil(MAX_PART_ROWS))
            .max(1);
        let rows = n.div_ceil(pieces).max(1);
        let mut o = 0;
        while o < n {
            let len = rows.min(n - o);
            let last = o + len >= n;
            out.push((start + o, len, last.then(|| range.clone())));
            o += len;
        }
        start += n;
    }
    out
}

/// Read a Parquet file held in `bytes`. `release` is told the byte range of each row group once all its rows
/// are taken, so a memory-mapped file can drop those pages (they stay in the page cache, not in fwlog).
pub fn read(
    name: &str,
    bytes: &[u8],
    release: Option<&dyn Fn(std::ops::Range<usize>)>,
    batcher: &mut RowBatcher<'_>,
) -> anyhow::Result<()> {
    let bad = |e: PolarsError| user(format!("{name}: unreadable or corrupt Parquet: {e}"));
    let mut reader = ParquetReader::new(Cursor::new(bytes));
    let schema = reader.schema().map_err(bad)?;
    let mut mapped: Vec<(String, Field)> = Vec::new();
    for (col, _) in schema.iter() {
        if let Some(f) = super::json::field_of(col.as_str())
            && !mapped.iter().any(|(_, g)| *g == f)
        {
            mapped.push((col.to_string(), f));
        }
    }
    if !fields::has_event_columns(|f| mapped.iter().any(|(_, g)| *g == f)) {
        return Err(user(format!(
            "{name}: no Azure Firewall columns: expected TimeGenerated and msg_s (AzureDiagnostics) or \
             SourceIp/Fqdn/DestinationIp (AZFW* tables); found: {}",
            fields::found_columns(schema.iter_names().map(|n| n.as_str()))
        )));
    }
    // Parts are whole row groups, or equal slices of a row group whose decoded columns exceed PART_BYTES: a
    // slice of a group re-reads its dictionary and the pages before it, so fewer, larger parts are cheaper
    // (10M legacy rows in 500k-row groups: 2.54 s with 192k-row slices, 2.27 s with whole groups), and the
    // byte budget keeps memory bounded whatever the group size. Each part also says which row group's bytes
    // can be released once it is taken (its group's last part).
    let parts = {
        let md = reader.get_metadata().map_err(bad)?;
        plan_parts(md.row_groups.iter().map(|rg| {
            let bytes: i64 = mapped
                .iter()
                .filter_map(|(c, _)| rg.columns_under_root_iter(c))
                .flatten()
                .map(|c| c.uncompressed_size())
                .sum();
            let range = rg.full_byte_range();
            (
                rg.num_rows(),
                bytes.max(0) as usize,
                range.start as usize..range.end as usize,
            )
        }))
    };
    // A row with a legacy message needs only its time, message, firewall and counts: the category and table
    // columns are decoded only for parts that hold rows without a message (about 15% of decode time saved on
    // AzureDiagnostics files).
    let by_msg_only =
        |f: &Field| matches!(f, Field::Category | Field::OperationName | Field::Table);
    let has_msg = mapped.iter().any(|(_, f)| *f == Field::Msg);
    type Columns = Vec<(String, Field)>;
    let (first, extra): (Columns, Columns) = mapped
        .iter()
        .cloned()
        .partition(|(_, f)| !(has_msg && by_msg_only(f)));
    let decode = |columns: &[(String, Field)], offset: usize, len: usize| {
        let df = ParquetReader::new(Cursor::new(bytes))
            .with_columns(Some(columns.iter().map(|(c, _)| c.clone()).collect()))
            .with_slice(Some((offset, len)))
            .finish()?;
        columns
            .iter()
            .map(|(c, f)| Ok((*f, Data::from_column(df.column(c)?)?)))
            .collect::<PolarsResult<Vec<(Field, Data)>>>()
    };
    // Parts are decoded and built on every core; the batcher takes them in input order as they complete, so the
    // main thread's merging overlaps the workers and at most a few parts are in memory at once.
    let config = batcher.part_config();
    let build = |offset: usize, len: usize| -> anyhow::Result<crate::input::batcher::Part> {
        let mut cols = decode(&first, offset, len).map_err(bad)?;
        let msg_everywhere = cols.iter().any(|(f, d)| *f == Field::Msg && d.all_text());
        if !extra.is_empty() && !msg_everywhere {
            cols.extend(decode(&extra, offset, len).map_err(bad)?);
        }
        let height = cols.first().map_or(0, |(_, d)| d.len());
        let index = FieldIndex::new(cols.iter().map(|(f, _)| Some(*f)));
        let table_col = index.get(Field::Table);
        let mut part = config.builder(len, name);
        let (mut row, mut legacy) = (Default::default(), Default::default());
        let core = config.pushdown.core_only;
        for i in 0..height {
            let get = |f: Field| index.get(f).and_then(|c| cols[c].1.get(i));
            let table = table_col
                .and_then(|t| cols[t].1.get(i))
                .and_then(Val::as_str);
            let rowno = (offset + i + 1) as u64;
            match fields::fill_row(&get, table, &mut row, &mut legacy, core) {
                Ok(()) => part.push(&row, rowno),
                Err(p) => part.skip(rowno, "bad row", p),
            }
        }
        part.take()
    };
    let parts = &parts;
    batcher.expect_rows(parts.iter().map(|p| p.1).sum());
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(parts.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, anyhow::Result<crate::input::batcher::Part>)>(1);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, build) = (&next, &build);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(offset, len, _)) = parts.get(i) else {
                        break;
                    };
                    // A send fails only when the taker stopped (an error): then stop too.
                    if tx.send((i, build(offset, len))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = 0usize;
        // The receiver moves into the closure, so it is dropped when taking stops and blocked workers return.
        let result = (move || {
            for (i, part) in rx {
                pending.insert(i, part);
                while let Some(part) = pending.remove(&want) {
                    batcher.absorb(part?)?;
                    if let (Some(release), Some(range)) = (release, parts[want].2.clone()) {
                        release(range);
                    }
                    want += 1;
                }
            }
            Ok(())
        })();
        if result.is_err() {
            // Make the workers stop taking parts; the ones running finish and their sends fail.
            next.store(usize::MAX / 2, Ordering::Relaxed);
        }
        result
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parquet_bytes(mut df: DataFrame) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        ParquetWriter::new(&mut buf)
            .with_row_group_size(Some(2))
            .finish(&mut df)
            .unwrap();
        buf.into_inner()
    }

    #[test]
    fn resource_specific_columns_with_typed_time_and_counts() {
        let times = Int64Chunked::from_vec(
            "TimeGenerated".into(),
            vec![1_000_000, 2_000_000, 3_000_000],
        )
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_series();
        let df = DataFrame::new(
            3,
            vec![
                times.into(),
                Column::new("SourceIp".into(), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
                Column::new(
                    "Fqdn".into(),
                    ["a.example.com", "b.example.com", "c.example.com"],
                ),
                Column::new("DestinationPort".into(), [443i32, 443, 80]),
                Column::new("Action".into(), ["Deny", "Allow", "Deny"]),
                Column::new("ApplicationRuleCount".into(), [5i64, 1, 2]),
                Column::new("Type".into(), ["AZFWApplicationRuleAggregation"; 3]),
            ],
        )
        .unwrap();
        let mut frames = Vec::new();
        let mut on = |df| {
            frames.push(df);
            Ok(())
        };
        let mut batcher = RowBatcher::new(1000, false, true, &mut on);
        read("t.parquet", &parquet_bytes(df), None, &mut batcher).unwrap();
        let st = batcher.finish().unwrap();
        let out = crate::input::concat_frames(frames).unwrap();
        assert_eq!(st.records, 3);
        assert_eq!(
            out.column("hits").unwrap().u64().unwrap().to_vec(),
            vec![Some(5), Some(1), Some(2)]
        );
        assert_eq!(
            out.column("kind").unwrap().str().unwrap().get(0),
            Some("application")
        );
        let t = out
            .column("time")
            .unwrap()
            .as_materialized_series()
            .cast(&DataType::Int64)
            .unwrap();
        assert_eq!(t.i64().unwrap().get(2), Some(3_000_000));
        assert_eq!(
            out.column("origin_line").unwrap().u64().unwrap().get(2),
            Some(3)
        );
    }

    #[test]
    fn decoded_columns_keep_nulls_and_types() {
        let col = Column::new("msg_s".into(), [Some("a"), None, Some("ccccccccccccccccc")]);
        let d = Data::from_column(&col).unwrap();
        assert_eq!(
            (0..4).map(|i| d.get(i)).collect::<Vec<_>>(),
            vec![
                Some(Val::Str("a")),
                None,
                Some(Val::Str("ccccccccccccccccc")),
                None
            ]
        );
        assert!(!d.all_text());
        let col = Column::new("SourcePort".into(), [Some(443i32), None]);
        let d = Data::from_column(&col).unwrap();
        assert_eq!((d.get(0), d.get(1)), (Some(Val::Int(443)), None));
        let col = Column::new("x".into(), [Some(true), None]);
        let d = Data::from_column(&col).unwrap();
        assert_eq!((d.get(0), d.get(1)), (Some(Val::Bool(true)), None));
        let col = Column::new("x".into(), [1.5f32]);
        assert_eq!(
            Data::from_column(&col).unwrap().get(0),
            Some(Val::Float(1.5))
        );
        let empty = Column::new("msg_s".into(), Vec::<&str>::new());
        assert_eq!(Data::from_column(&empty).unwrap().len(), 0);
    }

    #[test]
    fn parts_are_row_groups_split_by_decoded_size() {
        let parts = plan_parts(
            [
                (500_000, 71 << 20, 0..10),
                (300, 3 * PART_BYTES - 1, 10..20),
                (0, 0, 20..21),
                (3 * MAX_PART_ROWS, 1 << 20, 21..30),
            ]
            .into_iter(),
        );
        let rows = MAX_PART_ROWS;
        assert_eq!(
            parts,
            vec![
                (0, 500_000, Some(0..10)),
                (500_000, 100, None),
                (500_100, 100, None),
                (500_200, 100, Some(10..20)),
                (500_300, rows, None),
                (500_300 + rows, rows, None),
                (500_300 + 2 * rows, rows, Some(21..30)),
            ]
        );
    }

    #[test]
    fn corrupt_and_foreign_parquet_are_user_errors() {
        let mut on = |_df| Ok(());
        let mut batcher = RowBatcher::new(10, false, true, &mut on);
        let e = read("bad.parquet", b"PAR1 garbage PAR1", None, &mut batcher).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("bad.parquet: unreadable or corrupt Parquet"),
            "{e}"
        );
        let df = DataFrame::new(1, vec![Column::new("fruit".into(), ["kiwi"])]).unwrap();
        let e = read("fruit.parquet", &parquet_bytes(df), None, &mut batcher).unwrap_err();
        assert!(
            e.to_string()
                .contains("fruit.parquet: no Azure Firewall columns"),
            "{e}"
        );
        assert_eq!(crate::error::exit_code(&e), 2);
    }
}
