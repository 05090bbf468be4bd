//! Parquet files: resource-specific `AZFW*` columns, `AzureDiagnostics` columns (`msg_s`, `Category`, …), and
//! fwlog's own canonical files (`fwlog fetch`). Only the columns fwlog maps are decoded, a row group (or a
//! slice of one, [`PART_BYTES`]) at a time, so memory stays bounded whatever the file size.

mod codes;
mod guard;
mod selected;

use std::io::Cursor;

use polars::prelude::*;
use polars_arrow::array::{Array as _, DictionaryArray};
use polars_parquet::read::Filter;

use super::batcher::{Counted, PartBuilder, PartConfig, RowBatcher};
use super::fields::{self, Expect, Field, FieldIndex, Val};
use crate::error::user;
use crate::legacy::LegacyEvent;

/// Decoded bytes (of the columns read) per part: parts of a few tens of MiB keep two workers and the parts
/// waiting for the merge well under 1 GiB.
pub const PART_BYTES: usize = 80 << 20;

/// Rows per part at most, whatever their size. Decoded columns take ~16 bytes a row each, so this, more than
/// the byte budget, bounds the memory of the parts in flight: 256k-row parts measured as fast as whole 1M-row
/// groups and hold 180 MiB peak at 10M realistic rows where whole groups held 420 MiB (418 against 478 at
/// 100M); smaller parts also leave less of a tail for one worker to finish alone.
pub const MAX_PART_ROWS: usize = 1 << 18;

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
        // Strict casts: a value that does not fit (a UInt64 past i64::MAX, bytes that are not UTF-8) is an
        // error naming the file, not a null.
        Ok(match s.dtype() {
            DataType::String => Data::Str(one(s.str()?)?),
            DataType::Datetime(_, _) | DataType::Date => {
                let us = s.strict_cast(&DataType::Datetime(TimeUnit::Microseconds, None))?;
                Data::Int(one(us.strict_cast(&DataType::Int64)?.i64()?)?)
            }
            DataType::Boolean => Data::Bool(one(s.bool()?)?),
            DataType::Float32 | DataType::Float64 => {
                Data::Float(one(s.cast(&DataType::Float64)?.f64()?)?)
            }
            dt if dt.is_integer() => Data::Int(one(s.strict_cast(&DataType::Int64)?.i64()?)?),
            _ => Data::Str(one(s.strict_cast(&DataType::String)?.str()?)?),
        })
    }
}

/// Why a column of this type cannot carry `field`, or `None` when it can. Checked once per file: a column of
/// the wrong type used to read as all-absent (an integer `Fqdn` made every deny "no SNI", a struct `Action`
/// gave no denies at all) without a word.
fn type_mismatch(field: Field, dt: &DataType) -> Option<String> {
    let text = matches!(
        dt,
        DataType::String
            | DataType::Categorical(_, _)
            | DataType::Enum(_, _)
            | DataType::Binary
            | DataType::BinaryOffset
    );
    let number = dt.is_integer() || dt.is_float();
    let time = matches!(dt, DataType::Datetime(_, _) | DataType::Date);
    let fits = matches!(dt, DataType::Null)
        || match field.expects() {
            Expect::Text => text,
            Expect::Number => number || text,
            Expect::Time => time || dt.is_integer() || text,
        };
    (!fits).then(|| {
        format!(
            "{dt} values, but fwlog reads it as {} ({})",
            field.name(),
            field.expects().describe()
        )
    })
}

/// Decoding under `catch_unwind`, with the panic message kept off stderr.
///
/// polars-parquet panics on some corrupt page contents (an assertion in `Bitmap::sliced` when definition
/// levels and values disagree) that no check of the headers can foresee. The panic is caught and becomes an
/// error naming the file. The default hook would still print the panic message and a backtrace hint first,
/// so while a thread decodes, a hook installed here stays silent for that thread (polars decodes on the
/// calling thread with `ParallelStrategy::None`) and hands every other panic to the previous hook. The hook
/// is installed by the first decoding thread and the previous one put back by the last.
mod quiet {
    use std::cell::Cell;
    use std::panic::{self, AssertUnwindSafe, PanicHookInfo};
    use std::sync::Once;

    thread_local! {
        static QUIET: Cell<bool> = const { Cell::new(false) };
    }

    /// Put a hook in front of the one in force, once: it hands every panic to that hook except those on a
    /// thread inside [`catch`]. Installed once and never taken down, so concurrent decodes (and tests that run
    /// in parallel) never race to swap hooks.
    fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let previous = panic::take_hook();
            panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
                if !QUIET.try_with(Cell::get).unwrap_or(false) {
                    previous(info);
                }
            }));
        });
    }

    /// Run `f`; a panic in it becomes `Err` with the panic message, printed by no hook.
    pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
        install();
        QUIET.with(|q| q.set(true));
        let result = panic::catch_unwind(AssertUnwindSafe(f));
        QUIET.with(|q| q.set(false));
        result.map_err(|payload| {
            payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the decoder panicked".to_string())
        })
    }
}

/// The fields a core row needs: its time, events, table, protocol, endpoints, ports and action, plus the
/// translated port, whose bad values make a NAT row a skipped record.
const CORE_FIELDS: [Field; 17] = [
    Field::Time,
    Field::Count,
    Field::Hits,
    Field::Msg,
    Field::Kind,
    Field::Table,
    Field::Category,
    Field::OperationName,
    Field::Protocol,
    Field::SourceIp,
    Field::SourcePort,
    Field::DestinationPort,
    Field::DestinationIp,
    Field::Fqdn,
    Field::QueryName,
    Field::Action,
    Field::TranslatedPort,
];

/// The fields [`fields::kind_from_columns`] looks at (besides core ones) to tell a row's table when it has no
/// kind, table or category.
const KIND_HINT_FIELDS: [Field; 4] = [
    Field::SignatureId,
    Field::ThreatDescription,
    Field::TranslatedIp,
    Field::TargetUrl,
];

/// Whether a row of these columns has no message and no kind, table or category that names its table (then
/// its kind comes from the columns it has, and the hint columns must be decoded).
fn needs_kind_hints(cols: &[(Field, Data)]) -> bool {
    fn text(d: Option<&Data>, i: usize) -> Option<&str> {
        d.and_then(|d| d.get(i)).and_then(Val::as_str)
    }
    let col = |f: Field| cols.iter().find(|(g, _)| *g == f).map(|(_, d)| d);
    let (msg, kind, table, category) = (
        col(Field::Msg),
        col(Field::Kind),
        col(Field::Table),
        col(Field::Category),
    );
    let height = cols.first().map_or(0, |(_, d)| d.len());
    // Tables repeat row after row: the last one looked up is remembered.
    let mut last: Option<(&str, bool)> = None;
    for i in 0..height {
        if text(msg, i).is_some_and(|m| !m.trim().is_empty())
            || text(kind, i)
                .map(str::trim)
                .is_some_and(|k| crate::event::Kind::parse(k).is_some())
        {
            continue;
        }
        let mut named = false;
        for t in [text(table, i), text(category, i)].into_iter().flatten() {
            let k = match last {
                Some((l, k)) if l == t => k,
                _ => fields::kind_for_table(t).is_some(),
            };
            last = Some((t, k));
            if k {
                named = true;
                break;
            }
        }
        if !named {
            return true;
        }
    }
    false
}

/// The cheap test of a structured row for a report of denies: from its typed time, count, port and action
/// columns alone, whether it is a valid row the pushdown does not select. Such a row is only counted; every
/// other row (selected, or with any value the test does not vouch for) goes through [`fields::fill_row`], so
/// statistics and skipped-row reasons stay exactly those of a full build.
///
/// Files of legacy messages carry the action inside the message, so there the test vouches only for rows
/// outside the window: their message is never parsed (about 30% of a report's parsing on a week of data with a
/// five-day window), which is why unparsed messages are counted within the window.
struct Unselected<'c> {
    pushdown: Pushdown,
    time: &'c polars_arrow::array::PrimitiveArray<i64>,
    counts: Vec<&'c Data>,
    ports: Vec<&'c Data>,
    action: Option<&'c Data>,
    last_action: Option<(&'c str, bool)>,
    /// The message and firewall columns of a file of legacy messages.
    legacy: Option<(&'c Data, Option<&'c Data>)>,
    /// Legacy messages in the window are parsed here for a deny report (`Pushdown::denies_core`): most are not
    /// denies, and are then counted without building their rows.
    parse_in_window: bool,
}

/// What [`Unselected::check`] found out about a row.
enum Quick<'c> {
    /// Valid and not selected: its time and events, to be counted.
    Counted(i64, u64),
    /// A legacy message it parsed (whether it was understood; the fields are in the caller's event) whose
    /// row must be built: a deny in the window, a message not understood, or a count `fill_row` refuses.
    Parsed(&'c str, bool),
    /// The row must be read by `fill_row`.
    Read,
}

use super::Pushdown;

impl<'c> Unselected<'c> {
    /// `None` when the test does not apply: every row is selected, rows are legacy messages and there is no
    /// window, or times are not typed.
    fn new(cols: &'c [(Field, Data)], index: &FieldIndex, pushdown: &Pushdown) -> Option<Self> {
        let col = |f: Field| index.get(f).map(|c| &cols[c].1);
        let windowed = pushdown.from_us.is_some() || pushdown.to_us.is_some();
        let legacy = col(Field::Msg).map(|m| (m, col(Field::ResourceId)));
        if !pushdown.deny_only || (legacy.is_some() && !windowed) {
            return None;
        }
        let Some(Data::Int(time)) = col(Field::Time) else {
            return None;
        };
        Some(Unselected {
            pushdown: *pushdown,
            time,
            counts: [Field::Count, Field::Hits]
                .into_iter()
                .filter_map(col)
                .collect(),
            ports: [
                Field::SourcePort,
                Field::DestinationPort,
                Field::TranslatedPort,
            ]
            .into_iter()
            .filter_map(col)
            .collect(),
            action: col(Field::Action),
            last_action: None,
            legacy,
            parse_in_window: pushdown.denies_core(),
        })
    }

    /// Whether row `i` is valid and not selected (then its time and events), or a legacy message parsed here
    /// into `legacy` whose row must be built, or neither.
    #[inline]
    fn check(&mut self, i: usize, legacy: &mut LegacyEvent<'c>) -> Quick<'c> {
        if i >= self.time.len() || !self.time.is_valid(i) {
            return Quick::Read;
        }
        let t = self.time.value(i);
        if !(fields::MIN_TIME_US..fields::MAX_TIME_US).contains(&t) {
            return Quick::Read;
        }
        let counted = |hits: Option<u64>| hits.map_or(Quick::Read, |h| Quick::Counted(t, h));
        if let Some((msg, firewall)) = self.legacy {
            // Only a row `fill_row` would read as a legacy message: a message of visible text first (a blank
            // one makes it a structured row) and a firewall that is text.
            let Some(Val::Str(m)) = msg.get(i) else {
                return Quick::Read;
            };
            let legacy_row = m.as_bytes().first().is_some_and(u8::is_ascii_graphic)
                && matches!(firewall.and_then(|f| f.get(i)), None | Some(Val::Str(_)));
            if !legacy_row {
                return Quick::Read;
            }
            if !self.pushdown.in_window(Some(t)) {
                return counted(self.hits(i));
            }
            if !self.parse_in_window {
                return Quick::Read;
            }
            let understood = crate::legacy::parse_deny_core_into(m, legacy);
            return match self.hits(i) {
                Some(h) if understood && legacy.action != Some(crate::event::Action::Deny) => {
                    Quick::Counted(t, h)
                }
                _ => Quick::Parsed(m, understood),
            };
        }
        let deny = match self.action.and_then(|a| a.get(i)) {
            None => false,
            Some(Val::Str(a)) => match self.last_action {
                Some((l, d)) if l == a => d,
                _ => {
                    let d = crate::event::normalize::action(a) == Some(crate::event::Action::Deny);
                    self.last_action = Some((a, d));
                    d
                }
            },
            Some(_) => return Quick::Read,
        };
        if deny && self.pushdown.in_window(Some(t)) {
            return Quick::Read;
        }
        for p in &self.ports {
            match p.get(i) {
                None => {}
                Some(Val::Int(n)) if (0..=65535).contains(&n) => {}
                Some(_) => return Quick::Read,
            }
        }
        counted(self.hits(i))
    }

    /// The events of row `i`: its first count column with a value, as `fill_row` reads it; `None` for a count
    /// `fill_row` would refuse.
    #[inline]
    fn hits(&self, i: usize) -> Option<u64> {
        let mut hits = 1;
        for c in &self.counts {
            match c.get(i) {
                None => continue,
                Some(Val::Int(n)) if (0..=fields::MAX_HITS as i64).contains(&n) => {
                    hits = n as u64;
                    break;
                }
                Some(_) => return None,
            }
        }
        Some(hits)
    }
}

/// Whether every value of `a` (a null's slot too) lies in `range`; without a branch per value, so that it runs
/// on vectors.
fn within(
    a: &polars_arrow::array::PrimitiveArray<i64>,
    range: std::ops::RangeInclusive<i64>,
) -> bool {
    let (lo, hi) = (*range.start(), *range.end());
    a.values()
        .iter()
        .fold(true, |ok, &v| ok & (v >= lo) & (v <= hi))
}

/// The rows of a part outside the window, decoded for counting alone, summed in one pass when every value is
/// one [`Unselected`] would vouch for (every time there, in range and outside the window; the first count
/// column without nulls and in range; every port column's values ports); `None` leaves them to it, row by row.
fn count_outside(cols: &[(Field, Data)], pushdown: &Pushdown) -> Option<Counted> {
    let col = |f: Field| cols.iter().find(|(g, _)| *g == f).map(|(_, d)| d);
    let Some(Data::Int(time)) = col(Field::Time) else {
        return None;
    };
    if time.null_count() != 0 || !within(time, fields::MIN_TIME_US..=fields::MAX_TIME_US - 1) {
        return None;
    }
    let hits = match [Field::Count, Field::Hits].into_iter().find_map(col) {
        None => None,
        Some(Data::Int(c)) if c.null_count() == 0 && within(c, 0..=fields::MAX_HITS as i64) => {
            Some(c.values().as_slice())
        }
        Some(_) => return None,
    };
    for p in [
        Field::SourcePort,
        Field::DestinationPort,
        Field::TranslatedPort,
    ] {
        match col(p) {
            None => {}
            Some(Data::Int(a)) if within(a, 0..=i64::from(u16::MAX)) => {}
            Some(_) => return None,
        }
    }
    let (from, to) = pushdown.bounds();
    let mut counted = Counted::default();
    for (i, &t) in time.values().iter().enumerate() {
        if t >= from && t < to {
            return None;
        }
        counted.rows += 1;
        counted.events += hits.map_or(1, |h| (h[i] as u64).max(1));
        counted.first_us = counted.first_us.min(t);
        counted.last_us = counted.last_us.max(t);
    }
    Some(counted)
}

/// For each row group, whether its time statistics show every row outside the pushdown's window (so a report of
/// denies in the window selects none of them). Only for a time column of timestamps with min/max statistics;
/// `false` wherever anything is unknown.
fn groups_outside_window(
    schema: &polars_arrow::datatypes::ArrowSchema,
    metadata: &FileMetadata,
    mapped: &[(String, Field)],
    pushdown: &Pushdown,
) -> Vec<bool> {
    use polars_parquet::parquet::statistics::Statistics;
    let none = vec![false; metadata.row_groups.len()];
    if !pushdown.deny_only || (pushdown.from_us.is_none() && pushdown.to_us.is_none()) {
        return none;
    }
    let Some((column, _)) = mapped.iter().find(|(_, f)| *f == Field::Time) else {
        return none;
    };
    // Values as `Data::from_column` gives them: microseconds, nanoseconds truncated.
    let to_us: fn(i64) -> Option<i64> =
        match schema.get(column.as_str()).map(DataType::from_arrow_field) {
            Some(DataType::Datetime(TimeUnit::Microseconds, _)) => Some,
            Some(DataType::Datetime(TimeUnit::Nanoseconds, _)) => |v| Some(v / 1000),
            Some(DataType::Datetime(TimeUnit::Milliseconds, _)) => |v| v.checked_mul(1000),
            _ => return none,
        };
    metadata
        .row_groups
        .iter()
        .map(|rg| {
            let mut chunks = rg.columns_under_root_iter(column).into_iter().flatten();
            let (Some(chunk), None) = (chunks.next(), chunks.next()) else {
                return false;
            };
            let Some(Ok(Statistics::Int64(st))) = chunk.statistics(&metadata.footer_buf) else {
                return false;
            };
            let (Some(min), Some(max)) =
                (st.min_value.and_then(to_us), st.max_value.and_then(to_us))
            else {
                return false;
            };
            pushdown.from_us.is_some_and(|f| max < f) || pushdown.to_us.is_some_and(|e| min >= e)
        })
        .collect()
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

/// What a memory-mapped file is told as it is read, so that the pages fwlog is done with leave its memory
/// (they stay in the page cache): a mapped file is never resident whole, whatever its size.
pub trait Mapping: Sync {
    /// The pages of `range` (a row group) are decoded into copies: they can go.
    fn decoded(&self, range: std::ops::Range<usize>);
    /// Every row up to the end of `group` is taken (progress is counted here, once per group).
    fn taken(&self, group: std::ops::Range<usize>);
}

/// Read a Parquet file held in `bytes`; `mapping` is told how far the read got when `bytes` is a mapped file.
/// Count and build the rows of a part's decoded columns (`offset`: the part's first row in the file). A row
/// [`Unselected`] vouches for is only counted, a selected row [`selected::Selected`] vouches for goes straight
/// into the tally (`fast`; tests turn it off to compare), and every other row goes through
/// [`fields::fill_row`]; with `fast`, a legacy message in the window that is not a deny is parsed and counted
/// without its row being built. Returns the rows the fast path took.
fn rows_into(
    cols: &[(Field, Data)],
    offset: usize,
    part: &mut PartBuilder,
    pushdown: &super::Pushdown,
    fast: bool,
) -> usize {
    let mut taken = 0;
    let height = cols.first().map_or(0, |(_, d)| d.len());
    let index = FieldIndex::new(cols.iter().map(|(f, _)| Some(*f)));
    let table_col = index.get(Field::Table);
    let (mut row, mut legacy) = (Default::default(), Default::default());
    let core = pushdown.denies_core();
    let mut selected = fast
        .then(|| selected::Selected::new(cols, &[], &index, pushdown, part))
        .flatten();
    let mut quick = selected
        .is_none()
        .then(|| Unselected::new(cols, &index, pushdown))
        .flatten()
        .map(|mut q| {
            q.parse_in_window &= fast;
            q
        });
    for i in 0..height {
        if let Some(s) = &mut selected
            && s.push(i, part)
        {
            taken += 1;
            continue;
        }
        let get = |f: Field| index.get(f).and_then(|c| cols[c].1.get(i));
        if let Some(q) = &mut quick {
            match q.check(i, &mut legacy) {
                Quick::Counted(time_us, hits) => {
                    part.count_unselected(time_us, hits);
                    continue;
                }
                Quick::Parsed(msg, understood) => {
                    let rowno = (offset + i + 1) as u64;
                    match fields::fill_parsed_legacy_row(&get, &mut row, msg, &legacy, understood) {
                        Ok(()) => part.push(&row, rowno),
                        Err(p) => part.skip(rowno, "bad row", p),
                    }
                    continue;
                }
                Quick::Read => {}
            }
        }
        let table = table_col
            .and_then(|t| cols[t].1.get(i))
            .and_then(Val::as_str);
        let rowno = (offset + i + 1) as u64;
        match fields::fill_row(&get, table, &mut row, &mut legacy, core) {
            Ok(()) => part.push(&row, rowno),
            Err(p) => part.skip(rowno, "bad row", p),
        }
    }
    taken
}

/// A part of a report of denies through the dictionary codes of its wide text columns (`wide`, decoded for
/// the selected rows only), given its other columns: `cols`, and `narrow` (table and action as one code per
/// row, or empty when they are in `cols`); rows `at..` of row group `rg`, `offset` its first row in the file.
/// `None` when it must be read the other way (what was counted went with the dropped part).
#[allow(clippy::too_many_arguments)]
fn by_codes(
    bytes: &[u8],
    (rg, at): (&polars_parquet::read::RowGroupMetadata, usize),
    cols: &[(Field, Data)],
    narrow: &[(Field, DictionaryArray<u32>)],
    wide: &[(String, Field)],
    config: &PartConfig,
    name: &str,
    offset: usize,
) -> anyhow::Result<Option<super::batcher::Part>> {
    let height = cols.first().map_or(0, |(_, d)| d.len());
    let index = FieldIndex::new(cols.iter().map(|(f, _)| Some(*f)));
    let mut part = config.builder(height, name);
    let Some(mut s) = selected::Selected::new(cols, narrow, &index, config.pushdown(), &mut part)
    else {
        return Ok(None);
    };
    let Some(mask) = s.plan(height, at, rg.num_rows(), &mut part) else {
        return Ok(None);
    };
    part.reserve_selected(mask.set_bits());
    let codes = quiet::catch(|| {
        wide.iter()
            .map(|(c, f)| {
                codes::codes(bytes, rg, c, Filter::new_masked(mask.clone())).map(|d| (*f, d))
            })
            .collect::<Option<Vec<_>>>()
    });
    let Ok(Some(codes)) = codes else {
        return Ok(None);
    };
    let Some(mut s) = s.with_codes(&codes) else {
        return Ok(None);
    };
    if !s.push_planned(&mask, at, height, &mut part) {
        return Err(anyhow::anyhow!(
            "{name}: internal error: rows {}..{} were classified twice differently",
            offset + 1,
            offset + height
        ));
    }
    part.take().map(Some)
}

pub fn read(
    name: &str,
    bytes: &[u8],
    mapping: Option<&dyn Mapping>,
    batcher: &mut RowBatcher<'_>,
) -> anyhow::Result<()> {
    let corrupt = |e: &dyn std::fmt::Display| {
        user(format!("{name}: unreadable or corrupt Parquet file: {e}"))
    };
    let bad = |e: PolarsError| corrupt(&e);
    // Checked before polars reads anything: some corrupt numbers make polars abort the process.
    let footer = guard::footer(bytes).map_err(|e| corrupt(&e))?;
    let (schema, metadata) = quiet::catch(|| -> PolarsResult<_> {
        let mut reader = ParquetReader::new(Cursor::new(bytes));
        let schema = reader.schema()?;
        let metadata = reader.get_metadata()?.clone();
        Ok((schema, metadata))
    })
    .map_err(|p| corrupt(&format_args!("the footer decoder failed: {p}")))?
    .map_err(bad)?;
    let mut mapped: Vec<(String, Field)> = Vec::new();
    for (col, f) in schema.iter() {
        if let Some(field) = super::json::field_of(col.as_str())
            && !mapped.iter().any(|(_, g)| *g == field)
        {
            let dt = DataType::from_arrow_field(f);
            if let Some(why) = type_mismatch(field, &dt) {
                return Err(user(format!("{name}: column {col} holds {why}")));
            }
            mapped.push((col.to_string(), field));
        }
    }
    if !fields::has_event_columns(|f| mapped.iter().any(|(_, g)| *g == f)) {
        return Err(user(format!(
            "{name}: no Azure Firewall columns: expected TimeGenerated and msg_s (AzureDiagnostics) or \
             SourceIp/Fqdn/DestinationIp (AZFW* tables); found: {}",
            fields::found_columns(schema.iter_names().map(|n| n.as_str()))
        )));
    }
    let config = batcher.part_config();
    // A report that groups denies reads only the columns a core row, its fingerprint and its validity need
    // (on the structured tables 9 of 21 columns, ~40% of the decoded bytes: `_ResourceId`, URLs and rule names
    // are the widest). The columns that only tell a row's table when nothing else does are decoded for a part
    // only if one of its rows needs them.
    type Columns = Vec<(String, Field)>;
    let (mapped, infer): (Columns, Columns) = if config.pushdown().core_only {
        let kind_known = mapped
            .iter()
            .any(|(_, f)| matches!(f, Field::Kind | Field::Table | Field::Category | Field::Msg));
        let (core, rest): (Columns, Columns) = mapped
            .into_iter()
            .partition(|(_, f)| CORE_FIELDS.contains(f));
        let infer: Columns = rest
            .into_iter()
            .filter(|(_, f)| KIND_HINT_FIELDS.contains(f))
            .collect();
        if kind_known {
            (core, infer)
        } else {
            (core.into_iter().chain(infer).collect(), Vec::new())
        }
    } else {
        (mapped, Vec::new())
    };
    let roots: Vec<&str> = mapped
        .iter()
        .chain(&infer)
        .map(|(c, _)| c.as_str())
        .collect();
    // A row group's page headers are checked by the first of its parts to be built, before polars reads it
    // (the others wait for that check): checking the whole file first was a serial start of ~25 ms per 10M
    // rows, most of it faulting in the pages around each header, which the group's decode then reads anyway.
    if footer.row_groups() != metadata.row_groups.len() {
        return Err(corrupt(&format_args!(
            "its footer lists {} row groups to one reader and {} to another",
            footer.row_groups(),
            metadata.row_groups.len()
        )));
    }
    let checks: Vec<std::sync::OnceLock<Result<(), String>>> = (0..footer.row_groups())
        .map(|_| std::sync::OnceLock::new())
        .collect();
    // Parts are whole row groups, or equal slices of a row group over PART_BYTES or MAX_PART_ROWS: a slice
    // re-reads its group's dictionary pages, which costs little now that polars is given the group alone (it
    // used to walk every earlier group too, and whole groups were then cheaper). Each part also says which row
    // group's bytes can be released once it is taken (its group's last part).
    let parts = {
        let md = &metadata;
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
    let (first, extra): (Columns, Columns) = mapped
        .iter()
        .cloned()
        .partition(|(_, f)| !(has_msg && by_msg_only(f)));
    // The footer is decoded once and shared: every part used to decode it again. Decoding runs on the worker
    // thread (`ParallelStrategy::None`; the workers already keep every core busy) so that a panic in it is
    // caught here silently (see `quiet`).
    //
    // polars is given a footer that holds only the part's row group: given the whole footer and a slice, it
    // visits every row group before the slice and sets up its column chunks (a dictionary page decompressed
    // each, ~1.6 ms per group), which made reading a file quadratic in its row groups (100M rows in 96 groups:
    // 13.8 s of CPU to decode, against 0.73 s for the first 10M).
    let group_starts: Vec<usize> = metadata
        .row_groups
        .iter()
        .scan(0usize, |start, rg| {
            let s = *start;
            *start += rg.num_rows();
            Some(s)
        })
        .collect();
    let bare = {
        let mut m = (*metadata).clone();
        m.row_groups = Vec::new();
        m
    };
    let group_of = |offset: usize| {
        group_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    };
    let footer_of_group = |offset: usize| {
        let g = group_of(offset);
        let rg = &metadata.row_groups[g];
        let mut m = bare.clone();
        m.num_rows = rg.num_rows();
        m.row_groups = vec![rg.clone()];
        (std::sync::Arc::new(m), offset - group_starts[g])
    };
    let outside = groups_outside_window(&schema, &metadata, &mapped, config.pushdown());
    // What counting a row needs: its time, count and ports (the values `fill_row` can refuse in a row of typed
    // columns).
    let counting: Columns = mapped
        .iter()
        .filter(|(_, f)| {
            matches!(
                f,
                Field::Time
                    | Field::Count
                    | Field::Hits
                    | Field::SourcePort
                    | Field::DestinationPort
                    | Field::TranslatedPort
            )
        })
        .cloned()
        .collect();
    let decode = |columns: &[(String, Field)], offset: usize, len: usize| {
        quiet::catch(|| {
            let (footer, at) = footer_of_group(offset);
            let mut reader = ParquetReader::new(Cursor::new(bytes))
                .with_columns(Some(columns.iter().map(|(c, _)| c.clone()).collect()))
                .with_slice(Some((at, len)))
                .read_parallel(ParallelStrategy::None);
            reader.set_metadata(footer);
            let df = reader.finish()?;
            columns
                .iter()
                .map(|(c, f)| Ok((*f, Data::from_column(df.column(c)?)?)))
                .collect::<PolarsResult<Vec<(Field, Data)>>>()
        })
        .map_err(|p| {
            corrupt(&format_args!(
                "the decoder failed on rows {}..{}: {p}",
                offset + 1,
                offset + len
            ))
        })?
        .map_err(bad)
    };
    // A report of denies on a tally reads the wide text columns (`selected::WIDE`) only for the rows it selects,
    // as dictionary codes (`codes`): the other columns are decoded first, the rows classified, and the wide
    // columns decoded for the selected rows of the part. A part with any row `fill_row` must read, or a wide
    // column that is not all dictionary pages, is read with every column decoded, as before.
    let split: Option<(Columns, Columns, Columns)> = {
        let pushdown = config.pushdown();
        let is_text = |c: &str| {
            schema.get(c).is_some_and(|f| {
                matches!(
                    f.dtype(),
                    ArrowDataType::Utf8 | ArrowDataType::LargeUtf8 | ArrowDataType::Utf8View
                )
            })
        };
        let (wide, narrow): (Columns, Columns) = first
            .iter()
            .cloned()
            .partition(|(c, f)| selected::WIDE.contains(f) && is_text(c));
        let (narrow_text, narrow): (Columns, Columns) = narrow
            .into_iter()
            .partition(|(c, f)| selected::NARROW_TEXT.contains(f) && is_text(c));
        (config.tallies()
            && pushdown.deny_only
            && pushdown.core_only
            && !wide.is_empty()
            && !first
                .iter()
                .any(|(_, f)| matches!(f, Field::Msg | Field::Kind)))
        .then_some((narrow, narrow_text, wide))
    };
    let build = |offset: usize, len: usize| -> anyhow::Result<crate::input::batcher::Part> {
        let g = group_of(offset);
        checks[g]
            .get_or_init(|| footer.check_group(bytes, g, &roots))
            .clone()
            .map_err(|e| corrupt(&e))?;
        // A row group whose time statistics put it outside the window holds no selected row: its rows are only
        // counted, from the columns counting needs (a tenth of the bytes; the whole message on legacy files).
        // Any row those columns do not vouch for sends the part down the full path, so statistics and skipped
        // rows stay exactly those of a full build.
        if outside.get(group_of(offset)).copied().unwrap_or(false) {
            let cols = decode(&counting, offset, len)?;
            let index = FieldIndex::new(cols.iter().map(|(f, _)| Some(*f)));
            let height = cols.first().map_or(0, |(_, d)| d.len());
            if height == len
                && let Some(counted) = count_outside(&cols, config.pushdown())
            {
                let mut part = config.builder(0, name);
                part.count_unselected_rows(&counted);
                return part.take();
            }
            if let Some(mut quick) = Unselected::new(&cols, &index, config.pushdown())
                && height == len
            {
                let mut part = config.builder(0, name);
                let mut scratch = LegacyEvent::default();
                let counted = (0..height).all(|i| match quick.check(i, &mut scratch) {
                    Quick::Counted(time_us, hits)
                        if !config.pushdown().in_window(Some(time_us)) =>
                    {
                        part.count_unselected(time_us, hits);
                        true
                    }
                    _ => false,
                });
                if counted {
                    return part.take();
                }
            }
        }
        let mut cols = match &split {
            Some((narrow, narrow_text, wide)) => {
                let mut cols = decode(narrow, offset, len)?;
                let g = group_of(offset);
                let in_group = (&metadata.row_groups[g], offset - group_starts[g]);
                let rows = Filter::new_ranged(in_group.1, in_group.1 + len);
                let text = quiet::catch(|| {
                    narrow_text
                        .iter()
                        .map(|(c, f)| {
                            codes::codes(bytes, in_group.0, c, rows.clone()).map(|d| (*f, d))
                        })
                        .collect::<Option<Vec<_>>>()
                });
                let text = match text {
                    Ok(Some(text)) => text,
                    _ => {
                        cols.extend(decode(narrow_text, offset, len)?);
                        Vec::new()
                    }
                };
                if let Some(part) =
                    by_codes(bytes, in_group, &cols, &text, wide, &config, name, offset)?
                {
                    return Ok(part);
                }
                if !text.is_empty() {
                    cols.extend(decode(narrow_text, offset, len)?);
                }
                cols.extend(decode(wide, offset, len)?);
                cols
            }
            None => decode(&first, offset, len)?,
        };
        let msg_everywhere = cols.iter().any(|(f, d)| *f == Field::Msg && d.all_text());
        if !extra.is_empty() && !msg_everywhere {
            cols.extend(decode(&extra, offset, len)?);
        }
        if !infer.is_empty() && needs_kind_hints(&cols) {
            cols.extend(decode(&infer, offset, len)?);
        }
        let mut part = config.builder(len, name);
        rows_into(&cols, offset, &mut part, config.pushdown(), true);
        part.take()
    };
    // Parts are decoded and built on every core; the batcher takes them in input order as they complete, so the
    // main thread's merging overlaps the workers and at most a few parts are in memory at once.
    crate::parallel::ordered(
        parts.len(),
        |i| {
            let (offset, len, group) = parts[i].clone();
            // When a part fails, a bad page header anywhere in the file is named instead (the first, as when
            // every header was checked before reading): it says more than a decoder's complaint.
            let part = build(offset, len).map_err(|e| {
                match (0..footer.row_groups())
                    .find_map(|g| footer.check_group(bytes, g, &roots).err())
                {
                    Some(header) => corrupt(&header),
                    None => e,
                }
            });
            // The decoded columns are copies: the group's pages can leave the process as soon as its last part
            // is built, instead of when the main thread takes it (parts finished out of order kept several
            // groups mapped: 145 MB at 100M rows).
            if let (Some(m), Some(range)) = (mapping, group) {
                m.decoded(range);
            }
            part
        },
        |i, part| {
            batcher.absorb(part)?;
            if let (Some(m), Some(range)) = (mapping, parts[i].2.clone()) {
                m.taken(range);
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-01T00:00:00Z in microseconds.
    const T0: i64 = 1_767_225_600_000_000;

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// Read `bytes` as a Parquet file named `name`: the rows' frames and the statistics, or the error.
    fn read_all(name: &str, bytes: &[u8]) -> anyhow::Result<(DataFrame, crate::input::ReadStats)> {
        let mut frames = Vec::new();
        let mut on = |df| {
            frames.push(df);
            Ok(())
        };
        let mut batcher = RowBatcher::new(1000, false, true, &mut on);
        read(name, bytes, None, &mut batcher)?;
        let st = batcher.finish()?;
        Ok((crate::input::concat_frames(frames)?, st))
    }

    /// (hits, first, last) of every pair of the tallies merged.
    fn merged_pairs(tallies: Vec<crate::event::tally::DenyTally>) -> Vec<(u64, i64, i64)> {
        let mut all = crate::event::tally::DenyTally::new();
        for t in tallies {
            all.merge(t);
        }
        all.pairs()
            .map(|(_, a)| (a.hits, a.first, a.last))
            .collect()
    }

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
            vec![T0 + 1_000_000, T0 + 2_000_000, T0 + 3_000_000],
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
        assert_eq!(t.i64().unwrap().get(2), Some(T0 + 3_000_000));
        assert_eq!(
            out.column("origin_line").unwrap().u64().unwrap().get(2),
            Some(3)
        );
    }

    /// A deny report's read (tally, window, core columns) counts every row exactly as a full build would:
    /// unselected rows go through the cheap test, odd values through `fill_row`, with the same reasons.
    #[test]
    fn unselected_rows_are_counted_exactly_without_being_built() {
        let s = 1_000_000;
        let times = Int64Chunked::from_vec(
            "TimeGenerated".into(),
            vec![
                T0 + s,
                T0 + 2 * s,
                T0 + 3 * s,
                T0 + 9 * s,
                T0 + 4 * s,
                T0 + 5 * s,
            ],
        )
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_series();
        let df = DataFrame::new(
            6,
            vec![
                times.into(),
                Column::new("SourceIp".into(), ["10.0.0.1"; 6]),
                Column::new("SourcePort".into(), [1i32, 2, 3, 4, 5, 6]),
                Column::new(
                    "Fqdn".into(),
                    [
                        "a.example",
                        "b.example",
                        "c.example",
                        "a.example",
                        "a.example",
                        "A.Example.",
                    ],
                ),
                Column::new(
                    "DestinationPort".into(),
                    [443i32, 443, 70000, 443, 443, 443],
                ),
                Column::new(
                    "Action".into(),
                    ["Deny", "Allow", "Allow", "Deny", "Allow", "deny"],
                ),
                Column::new("Protocol".into(), ["HTTPS"; 6]),
                Column::new(
                    "ApplicationRuleCount".into(),
                    [Some(1i64), None, None, Some(2), Some(5), None],
                ),
                Column::new("TargetUrl".into(), ["https://x"; 6]),
                Column::new("Type".into(), ["AZFWApplicationRule"; 6]),
            ],
        )
        .unwrap();
        let mut tallies = Vec::new();
        let mut on = |t| {
            tallies.push(t);
            Ok(())
        };
        let pushdown = Pushdown {
            from_us: Some(T0),
            to_us: Some(T0 + 8 * s),
            deny_only: true,
            core_only: true,
        };
        let mut batcher = RowBatcher::tallying(1000, false, &mut on).with_pushdown(pushdown);
        read("t.parquet", &parquet_bytes(df), None, &mut batcher).unwrap();
        let st = batcher.finish().unwrap();
        // Row 3's bad port is skipped with the full build's reason although the row is allowed.
        assert_eq!(st.skipped, 1);
        assert_eq!(
            st.skip_examples[0].reason,
            "bad row: DestinationPort \"70000\" is not a port (a whole number from 0 to 65535)"
        );
        assert_eq!((st.records, st.events, st.events_in_window), (5, 10, 8));
        assert_eq!((st.first_us, st.last_us), (Some(T0 + s), Some(T0 + 9 * s)));
        // The denies in the window: rows 1 and 6, one pair (the names are the same host).
        assert_eq!(merged_pairs(tallies), vec![(2, T0 + s, T0 + 5 * s)]);
    }

    /// A deny report's legacy messages in the window that are not denies are parsed once and counted without
    /// their rows; the part counts, tallies and fingerprints exactly what building every row does: allowed and
    /// denied messages, DNS and NAT lines, messages not understood (a forged second action), a count `fill_row`
    /// refuses, messages led by a space or blank, times outside the window.
    #[test]
    fn legacy_messages_in_the_window_count_as_their_rows_would() {
        let msgs = [
            "HTTPS request from 10.0.0.4:5000 to a.example.com:443. Action: Allow. Policy: p. Rule Collection Group: g. Rule Collection: c. Rule: r",
            "HTTPS request from 10.0.0.5:5001 to B.Example.com.:443. Action: Deny. No rule matched. Proceeding with default action",
            "TCP request from 10.0.0.6:5002 to 192.0.2.7:22. Action: Deny.. Policy: p. Rule Collection Group: g. Rule Collection: c. Rule: r",
            "UDP request from 10.0.0.7:5003 to 192.0.2.8:123. Action: Allow.. Policy: p. Rule Collection Group: g. Rule Collection: c. Rule: r",
            "DNS Request: 10.0.0.8:5353 - 1 A IN example.com. udp 52 false 1232 NOERROR qr,rd,ra 68 0.000092102s",
            "TCP request from 10.0.0.9:5004 to 192.0.2.9:3389 was DNAT'ed to 10.1.0.4:3389",
            "HTTPS request from 10.0.0.4:5005 to evil.com. Action: Allow. Rule Collection: x.com:443. Action: Deny. No rule matched",
            "HTTP request from 10.0.0.4:5006 to c.example.com:80. Action: Deny. ThreatIntel: Bot Networks",
            "hello, not a firewall message",
            " HTTPS request from 10.0.0.4:5007 to d.example.com:443. Action: Allow. Rule: r",
            "   ",
        ];
        let s = 1_000_000i64;
        let n = 700usize;
        let time = Column::new(
            "TimeGenerated".into(),
            (0..n)
                .map(|i| match i % 13 {
                    0 => T0 - s,
                    1 => T0 + 30 * s,
                    _ => T0 + (i as i64) * 1000,
                })
                .collect::<Vec<i64>>(),
        );
        let msg = Column::new(
            "msg_s".into(),
            (0..n).map(|i| msgs[i % msgs.len()]).collect::<Vec<&str>>(),
        );
        let firewall = Column::new("ResourceId".into(), vec!["/subscriptions/x/fw"; n]);
        let count = Column::new(
            "Count".into(),
            (0..n)
                .map(|i| match i % 17 {
                    0 => None,
                    1 => Some(-4i64),
                    2 => Some(3),
                    _ => Some(1),
                })
                .collect::<Vec<Option<i64>>>(),
        );
        let cols: Vec<(Field, Data)> = [
            (Field::Time, &time),
            (Field::Msg, &msg),
            (Field::ResourceId, &firewall),
            (Field::Count, &count),
        ]
        .into_iter()
        .map(|(f, c)| (f, Data::from_column(c).unwrap()))
        .collect();
        let run = |fast: bool| {
            let mut on = |_t| Ok(());
            let batcher = RowBatcher::tallying(1000, false, &mut on).with_pushdown(Pushdown {
                from_us: Some(T0),
                to_us: Some(T0 + 10 * s),
                deny_only: true,
                core_only: true,
            });
            let mut part = batcher.part_config().builder(0, "t.parquet");
            rows_into(
                &cols,
                100,
                &mut part,
                batcher.part_config().pushdown(),
                fast,
            );
            part.take().unwrap()
        };
        let (fast, slow) = (run(true), run(false));
        let pairs = |p: &super::super::batcher::Part| p.tally().unwrap().pairs_text();
        assert_eq!(pairs(&fast), pairs(&slow));
        assert_eq!(fast.prints(), slow.prints());
        assert_eq!(format!("{:?}", fast.stats()), format!("{:?}", slow.stats()));
        let st = slow.stats();
        assert!(pairs(&slow).len() >= 3, "{:?}", pairs(&slow));
        assert!(st.unparsed > 0 && st.skipped > 0, "{st:?}");
    }

    /// Row groups whose time statistics put them outside the window are only counted, from their time, count
    /// and port columns; a value those columns cannot vouch for (a bad port, a missing time) sends the group down
    /// the full path, so the statistics and skipped rows are those of a full build. Legacy messages outside the
    /// window are never parsed: unparsed ones are counted within the window.
    #[test]
    fn row_groups_outside_the_window_are_counted_exactly() {
        let s = 1_000_000i64;
        let times = Int64Chunked::from_iter_options(
            "TimeGenerated".into(),
            [
                Some(T0 - 10 * s), // group 0: before the window
                Some(T0 - 9 * s),
                Some(T0 - 8 * s), // group 1: before, with a bad port
                Some(T0 - 7 * s),
                Some(T0 + s), // group 2: in the window
                Some(T0 + 2 * s),
                Some(T0 + 20 * s), // group 3: after, with a missing time
                None,
            ]
            .into_iter(),
        )
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_series();
        let df = DataFrame::new(
            8,
            vec![
                times.into(),
                Column::new("SourceIp".into(), ["10.0.0.1"; 8]),
                Column::new("Fqdn".into(), ["a.example"; 8]),
                Column::new(
                    "DestinationPort".into(),
                    [443i32, 443, 70000, 443, 443, 443, 443, 443],
                ),
                Column::new("Action".into(), ["Deny"; 8]),
                Column::new("Protocol".into(), ["HTTPS"; 8]),
                Column::new(
                    "ApplicationRuleCount".into(),
                    [
                        // A count of 0 is one event.
                        Some(0i64),
                        Some(2),
                        // Counts without nulls: only the bad port keeps the group from being summed at once.
                        Some(5),
                        Some(3),
                        Some(4),
                        None,
                        Some(7),
                        None,
                    ],
                ),
                Column::new("Type".into(), ["AZFWApplicationRule"; 8]),
            ],
        )
        .unwrap();
        let bytes = parquet_bytes(df);
        let pushdown = Pushdown {
            from_us: Some(T0),
            to_us: Some(T0 + 8 * s),
            deny_only: true,
            core_only: true,
        };
        let (schema, metadata) = {
            let mut r = ParquetReader::new(Cursor::new(&bytes[..]));
            (r.schema().unwrap(), r.get_metadata().unwrap().clone())
        };
        let time = vec![("TimeGenerated".to_string(), Field::Time)];
        assert_eq!(
            groups_outside_window(&schema, &metadata, &time, &pushdown),
            vec![true, true, false, true]
        );
        let all_selected = Pushdown {
            deny_only: false,
            ..pushdown
        };
        assert_eq!(
            groups_outside_window(&schema, &metadata, &time, &all_selected),
            vec![false; 4]
        );
        let mut tallies = Vec::new();
        let mut on = |t| {
            tallies.push(t);
            Ok(())
        };
        let mut batcher = RowBatcher::tallying(1000, false, &mut on).with_pushdown(pushdown);
        read("t.parquet", &bytes, None, &mut batcher).unwrap();
        let st = batcher.finish().unwrap();
        let reasons: Vec<_> = st
            .skip_examples
            .iter()
            .map(|e| (e.line, e.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (
                    3,
                    "bad row: DestinationPort \"70000\" is not a port (a whole number from 0 to 65535)"
                ),
                (8, "bad row: no TimeGenerated/time value"),
            ]
        );
        assert_eq!((st.records, st.events, st.events_in_window), (6, 18, 5));
        assert_eq!(
            (st.first_us, st.last_us),
            (Some(T0 - 10 * s), Some(T0 + 20 * s))
        );
        assert_eq!(merged_pairs(tallies), vec![(5, T0 + s, T0 + 2 * s)]);

        // Legacy messages: the unparsed one before the window is not parsed, the one inside is counted.
        let times = Int64Chunked::from_vec(
            "TimeGenerated".into(),
            vec![T0 - 9 * s, T0 - 8 * s, T0 + s, T0 + 2 * s],
        )
        .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
        .into_series();
        let deny =
            "HTTPS request from 10.0.0.1:1234 to a.example:443. Action: Deny. No rule matched.";
        let df = DataFrame::new(
            4,
            vec![
                times.into(),
                Column::new("Category".into(), ["AzureFirewallApplicationRule"; 4]),
                Column::new(
                    "msg_s".into(),
                    ["gibberish before", deny, "gibberish inside", deny],
                ),
            ],
        )
        .unwrap();
        let mut tallies = Vec::new();
        let mut on = |t| {
            tallies.push(t);
            Ok(())
        };
        let mut batcher = RowBatcher::tallying(1000, false, &mut on).with_pushdown(pushdown);
        read("legacy.parquet", &parquet_bytes(df), None, &mut batcher).unwrap();
        let st = batcher.finish().unwrap();
        assert_eq!((st.records, st.events, st.events_in_window), (4, 4, 2));
        assert_eq!(st.unparsed, 1);
        assert_eq!(st.unparsed_examples[0].1, 3);
        let hits: u64 = tallies
            .iter()
            .flat_map(|t| t.pairs().map(|(_, a)| a.hits))
            .sum();
        assert_eq!(hits, 1);
    }

    /// Statistics in milliseconds and nanoseconds are read in microseconds, as the decoded values are; a time
    /// column of text has no usable statistics and no group is skipped.
    #[test]
    fn time_statistics_of_every_unit_and_none_for_text() {
        let s = 1_000_000i64;
        let pushdown = Pushdown {
            from_us: Some(T0),
            to_us: Some(T0 + 8 * s),
            deny_only: true,
            core_only: true,
        };
        let time = vec![("TimeGenerated".to_string(), Field::Time)];
        // Two rows a group: before, in, at the end (exclusive), after.
        let us = [T0 - 2 * s, T0 - 1, T0, T0 + s, T0 + 8 * s, T0 + 9 * s];
        for (unit, scale) in [
            (TimeUnit::Milliseconds, 1_000i64),
            (TimeUnit::Microseconds, 1),
            (TimeUnit::Nanoseconds, -1_000),
        ] {
            let values = us
                .iter()
                .map(|&v| if scale > 0 { v / scale } else { v * -scale })
                .collect::<Vec<_>>();
            let times = Int64Chunked::from_vec("TimeGenerated".into(), values)
                .into_datetime(unit, Some(TimeZone::UTC))
                .into_series();
            let df = DataFrame::new(
                6,
                vec![times.into(), Column::new("Fqdn".into(), ["a.example"; 6])],
            )
            .unwrap();
            let bytes = parquet_bytes(df);
            let mut r = ParquetReader::new(Cursor::new(&bytes[..]));
            let (schema, metadata) = (r.schema().unwrap(), r.get_metadata().unwrap().clone());
            // T0 - 1 µs is T0 - 1 ms in milliseconds: still before the window.
            assert_eq!(
                groups_outside_window(&schema, &metadata, &time, &pushdown),
                vec![true, false, true],
                "{unit:?}"
            );
        }
        let df = DataFrame::new(
            2,
            vec![
                Column::new("TimeGenerated".into(), ["2020-01-01T00:00:00Z"; 2]),
                Column::new("Fqdn".into(), ["a.example"; 2]),
            ],
        )
        .unwrap();
        let bytes = parquet_bytes(df);
        let mut r = ParquetReader::new(Cursor::new(&bytes[..]));
        let (schema, metadata) = (r.schema().unwrap(), r.get_metadata().unwrap().clone());
        assert_eq!(
            groups_outside_window(&schema, &metadata, &time, &pushdown),
            vec![false]
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

    /// A mapped file is told each row group's pages as the check passes them, as decoding finishes them and as
    /// their rows are taken; progress counts every group's bytes once.
    #[test]
    fn a_mapping_hears_of_every_row_group_in_order() {
        use std::sync::Mutex;
        type Ranges = Vec<std::ops::Range<usize>>;
        /// Ranges decoded, ranges taken.
        #[derive(Default)]
        struct Heard(Mutex<(Ranges, Ranges)>);
        impl Mapping for Heard {
            fn decoded(&self, r: std::ops::Range<usize>) {
                self.0.lock().unwrap().0.push(r);
            }
            fn taken(&self, r: std::ops::Range<usize>) {
                self.0.lock().unwrap().1.push(r);
            }
        }
        let df = DataFrame::new(
            5,
            vec![
                Column::new(
                    "TimeGenerated".into(),
                    (1..=5)
                        .map(|s| format!("2026-10-01T00:00:0{s}Z"))
                        .collect::<Vec<_>>(),
                ),
                Column::new("SourceIp".into(), ["10.0.0.1"; 5]),
                Column::new("Fqdn".into(), ["a.example"; 5]),
                Column::new("Action".into(), ["Deny"; 5]),
                Column::new("Type".into(), ["AZFWApplicationRule"; 5]),
            ],
        )
        .unwrap();
        let bytes = parquet_bytes(df);
        let heard = Heard::default();
        let mut on = |_| Ok(());
        let mut b = RowBatcher::new(1000, false, false, &mut on);
        read("t.parquet", &bytes, Some(&heard), &mut b).unwrap();
        assert_eq!(b.finish().unwrap().records, 5);
        let (mut decoded, taken) = heard.0.into_inner().unwrap();
        // Several row groups: taken in order, each decoded once.
        assert!(taken.len() >= 2, "{taken:?}");
        assert!(
            taken.windows(2).all(|w| w[0].end <= w[1].start)
                && taken[taken.len() - 1].end < bytes.len()
        );
        decoded.sort_by_key(|r| r.start);
        assert_eq!(decoded, taken);
    }

    #[test]
    fn parts_are_row_groups_split_by_decoded_size() {
        let parts = plan_parts(
            [
                (200_000, 71 << 20, 0..10),
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
                (0, 200_000, Some(0..10)),
                (200_000, 100, None),
                (200_100, 100, None),
                (200_200, 100, Some(10..20)),
                (200_300, rows, None),
                (200_300 + rows, rows, None),
                (200_300 + 2 * rows, rows, Some(21..30)),
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

    #[test]
    fn repro_files_are_errors_naming_the_file_not_crashes() {
        // `abort-sigabrt.parquet` aborted the process (a page header's value count of -1024 became a 2^61-byte
        // bitmap); `panic-bitmap.parquet` panicked in the decoder. An abort here kills the test binary, which
        // fails the run as surely as an assertion.
        for (file, why) in [
            ("abort-sigabrt.parquet", "value counts Some(-1024)"),
            (
                "panic-bitmap.parquet",
                "more values (1002) than the column chunk declares (1000)",
            ),
        ] {
            // In the first file a corrupt compressed page of the row group before the bad header is met first:
            // the bad header is still the error named.
            let e = read_all(file, &fixture(&format!("bad/{file}"))).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("{file}: unreadable or corrupt Parquet file: ")),
                "{msg}"
            );
            assert!(msg.contains(why), "{msg}");
            assert_eq!(crate::error::exit_code(&e), 2);
        }
    }

    #[test]
    fn decoder_panics_become_errors_and_print_nothing() {
        // The panic hook is process-wide, so the check runs in a child copy of this test binary where nothing
        // else touches it: a panic inside `catch` prints nothing; one outside still reaches the default hook.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "input::parquet::tests::quiet_child",
                "--nocapture",
            ])
            .env("FWLOG_QUIET_CHILD", "1")
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("caught: assertion failed: offset + length <= self.length"),
            "{stdout}"
        );
        assert!(!stderr.contains("offset + length"), "printed: {stderr}");
        assert!(stderr.contains("outside a decode"), "{stderr}");
    }

    /// The child of [`decoder_panics_become_errors_and_print_nothing`]; does nothing unless asked.
    #[test]
    fn quiet_child() {
        if std::env::var_os("FWLOG_QUIET_CHILD").is_none() {
            return;
        }
        let caught =
            quiet::catch(|| -> u8 { panic!("assertion failed: offset + length <= self.length") });
        println!("caught: {}", caught.unwrap_err());
        assert_eq!(quiet::catch(|| 7), Ok(7));
        let _ = std::panic::catch_unwind(|| panic!("outside a decode"));
    }

    #[test]
    fn columns_of_the_wrong_type_are_errors_naming_file_column_and_types() {
        let times = Int64Chunked::from_vec("TimeGenerated".into(), vec![T0])
            .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            .into_series();
        let with = |col: Column| {
            let df = DataFrame::new(
                1,
                vec![
                    times.clone().into(),
                    Column::new("SourceIp".into(), ["10.0.0.1"]),
                    col,
                ],
            )
            .unwrap();
            read_all("t.parquet", &parquet_bytes(df))
        };
        // An integer Fqdn made every deny "no SNI".
        let e = with(Column::new("Fqdn".into(), [42i64])).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 2);
        assert_eq!(
            e.to_string(),
            "t.parquet: column Fqdn holds i64 values, but fwlog reads it as Fqdn (text)"
        );
        // A struct Action gave 0 denies and no warning.
        let action = StructChunked::from_series(
            "Action".into(),
            1,
            [Series::new("value".into(), ["Deny"])].iter(),
        )
        .unwrap()
        .into_series();
        let e = with(action.into()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.parquet: column Action holds struct[1] values, but fwlog reads it as Action (text)"),
            "{e}"
        );
        let e = with(Column::new("DestinationPort".into(), [true])).unwrap_err();
        assert!(
            e.to_string()
                .contains("column DestinationPort holds bool values"),
            "{e}"
        );
        // Numbers in text, and integer times, still read.
        assert!(with(Column::new("DestinationPort".into(), ["443"])).is_ok());
    }

    #[test]
    fn out_of_range_ports_and_times_skip_the_row_naming_the_field() {
        let df = DataFrame::new(
            4,
            vec![
                Column::new("TimeGenerated".into(), [T0, T0 + 1, i64::MAX, i64::MIN]),
                Column::new("SourceIp".into(), ["10.0.0.1"; 4]),
                Column::new("Fqdn".into(), ["a.example.com"; 4]),
                Column::new("DestinationPort".into(), [443i64, 70000, 443, 443]),
                Column::new("Action".into(), ["Deny"; 4]),
                Column::new("Protocol".into(), ["HTTPS"; 4]),
            ],
        )
        .unwrap();
        let (out, st) = read_all("t.parquet", &parquet_bytes(df)).unwrap();
        assert_eq!(out.height(), 1);
        assert_eq!(st.skipped, 3);
        let reasons: Vec<_> = st
            .skip_examples
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (
                    2,
                    "bad row: DestinationPort \"70000\" is not a port (a whole number from 0 to 65535)"
                ),
                (
                    3,
                    "bad row: TimeGenerated 9223372036854775807 (microseconds since 1970) is outside 2000-01-01..2100-01-01"
                ),
                (
                    4,
                    "bad row: TimeGenerated -9223372036854775808 (microseconds since 1970) is outside 2000-01-01..2100-01-01"
                ),
            ]
        );
    }

    /// splitmix64: a deterministic generator for the mutation cases (no seed from the environment unless
    /// asked, so a failure reproduces).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// The valid Parquet fixtures every mutation starts from.
    const FUZZ_BASES: [&str; 4] = [
        "shapes/AZFWApplicationRule.parquet",
        "shapes/AZFWApplicationRuleAggregation.parquet",
        "shapes/AZFWNetworkRule.parquet",
        "shapes/AzureDiagnostics.parquet",
    ];

    /// Mutation `case` of the fixtures: a byte flip in a page (header, dictionary or data), in the footer,
    /// a varint pushed to an extreme, a copied run of bytes, or a truncation.
    fn mutation(bases: &[Vec<u8>], seed: u64, case: u64) -> (String, Vec<u8>) {
        let mut rng = Rng(seed ^ case.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let bi = rng.below(bases.len());
        let mut b = bases[bi].clone();
        let len = b.len();
        let meta_len = u32::from_le_bytes(b[len - 8..len - 4].try_into().unwrap()) as usize;
        let footer = len - 8 - meta_len..len - 8;
        // Column chunks start with their dictionary page or first data page header: most mutations go there.
        let starts: Vec<usize> = guard::chunk_starts(&b);
        let kind = rng.below(7);
        let what = match kind {
            0 | 1 => {
                // Flip bits near a chunk start (page header, dictionary) or anywhere in the data.
                let at = if kind == 0 && !starts.is_empty() {
                    (starts[rng.below(starts.len())] + rng.below(48)).min(footer.start - 1)
                } else {
                    4 + rng.below(footer.start - 4)
                };
                let n = 1 + rng.below(4);
                for i in 0..n {
                    let j = (at + i).min(len - 1);
                    b[j] ^= 1 << rng.below(8);
                }
                format!("flip {n} byte(s) at {at}")
            }
            2 => {
                let at = footer.start + rng.below(footer.len());
                let x = 1 + rng.below(255) as u8;
                b[at] ^= x;
                format!("footer byte {at} ^= {x:#x}")
            }
            3 => {
                // Overwrite with a long varint: huge or negative counts and sizes.
                let at = if rng.below(2) == 0 && !starts.is_empty() {
                    starts[rng.below(starts.len())] + rng.below(24)
                } else {
                    footer.start + rng.below(footer.len())
                };
                let pat: &[u8] = match rng.below(3) {
                    0 => &[0xff, 0xff, 0xff, 0xff, 0x0f],
                    1 => &[0xfe, 0xff, 0xff, 0xff, 0x0f],
                    _ => &[0x80, 0x80, 0x80, 0x80, 0x08],
                };
                for (i, p) in pat.iter().enumerate() {
                    if at + i < len - 8 {
                        b[at + i] = *p;
                    }
                }
                format!("varint {pat:x?} at {at}")
            }
            4 => {
                // Copy a run of bytes over another place (a page header over data, data over a header).
                let n = 1 + rng.below(64);
                let from = 4 + rng.below(len - 12 - n);
                let to = 4 + rng.below(len - 12 - n);
                b.copy_within(from..from + n, to);
                format!("copy {n} bytes from {from} to {to}")
            }
            5 => {
                // Truncate, keeping the tail so that the footer length and magic still look right.
                let cut = 4 + rng.below(len - 12);
                let tail = b[len - 8..].to_vec();
                b.truncate(cut);
                b.extend(tail);
                format!("truncate to {cut} + tail")
            }
            _ => {
                let cut = rng.below(len);
                b.truncate(cut);
                format!("truncate to {cut}")
            }
        };
        (format!("{} {what}", FUZZ_BASES[bi]), b)
    }

    /// Child half of [`parquet_mutations_never_panic_or_abort`]: runs the cases in this process and prints
    /// each before reading it, so the parent can name the one that killed it. Does nothing unless the parent
    /// asked for it.
    #[test]
    fn parquet_mutation_child() {
        let Ok(spec) = std::env::var("FWLOG_PARQUET_FUZZ_CHILD") else {
            return;
        };
        let (seed, cases) = spec.split_once(':').unwrap();
        let (seed, cases): (u64, u64) = (seed.parse().unwrap(), cases.parse().unwrap());
        let bases: Vec<Vec<u8>> = FUZZ_BASES.iter().map(|f| fixture(f)).collect();
        let mut panics = Vec::new();
        let mut errors = 0;
        let repros = ["bad/abort-sigabrt.parquet", "bad/panic-bitmap.parquet"];
        for case in 0..cases + repros.len() as u64 {
            let (what, bytes) = match repros.get(case as usize) {
                Some(f) => (f.to_string(), fixture(f)),
                None => mutation(&bases, seed, case - repros.len() as u64),
            };
            println!("fuzz case {case}: {what}");
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
            match std::panic::catch_unwind(|| read_all("m.parquet", &bytes).map(|_| ())) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    errors += 1;
                    if std::env::var_os("FWLOG_PARQUET_FUZZ_VERBOSE").is_some() {
                        println!("  error: {e}");
                    }
                    assert_eq!(crate::error::exit_code(&e), 2, "case {case} ({what}): {e}");
                    assert!(e.to_string().starts_with("m.parquet: "), "case {case}: {e}");
                }
                Err(_) => panics.push(format!("case {case}: {what}")),
            }
        }
        println!(
            "fuzz: {cases} mutations, {errors} errors, {} panics",
            panics.len()
        );
        assert!(panics.is_empty(), "panics escaped the reader: {panics:#?}");
    }

    /// Mutation fuzzing of the Parquet reader: a few hundred deterministic mutations of the valid fixtures
    /// (byte flips in page headers, dictionaries, data and the footer, extreme varints, copied runs,
    /// truncations) must each read or fail with an error, never panic and never abort. The cases run in a
    /// child process (this test binary again), because an abort cannot be caught in-process: a child killed by
    /// a signal fails this test and names the last case it started.
    ///
    /// Longer runs: `FWLOG_PARQUET_FUZZ_CASES=20000 FWLOG_PARQUET_FUZZ_SEED=7 cargo test --release --lib
    /// parquet_mutations -- --nocapture` (default: 300 cases, seed 1).
    #[test]
    fn parquet_mutations_never_panic_or_abort() {
        let num = |k: &str, d: u64| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let (seed, cases) = (
            num("FWLOG_PARQUET_FUZZ_SEED", 1),
            num("FWLOG_PARQUET_FUZZ_CASES", 300),
        );
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "input::parquet::tests::parquet_mutation_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("FWLOG_PARQUET_FUZZ_CHILD", format!("{seed}:{cases}"))
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout
            .lines()
            .rfind(|l| l.starts_with("fuzz case"))
            .unwrap_or("no case started");
        assert!(
            out.status.success(),
            "the fuzz child failed ({}), last case started: {last}\n{}\n{}",
            out.status,
            stdout.lines().rev().take(20).collect::<Vec<_>>().join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("fuzz: {cases} mutations")),
            "the child ran no cases:\n{stdout}"
        );
    }
}
