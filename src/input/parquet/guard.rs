//! Structural checks of a Parquet file before polars decodes it.
//!
//! polars-parquet 0.55 trusts the numbers in a file. Two of them abort the process, which no `catch_unwind`
//! can stop:
//!
//! * a data page header's `num_values` is an `i32` read with `as usize`: a negative count becomes ~2^64 and
//!   the validity bitmap reserves ~2^61 bytes (`decode_page_validity` → `BitmapBuilder::reserve`, then
//!   `handle_alloc_error`; this is `fixtures/bad/abort-sigabrt.parquet`);
//! * the footer decoder sizes each list with `Vec::with_capacity(count)` from the list header before reading
//!   a single element, so a flipped count byte asks for up to 2^31 elements of a few hundred bytes each.
//!
//! Others panic (`checked_add(..).unwrap()` on a column chunk's byte range, `expect("thrift bool field")`
//! when a flag has another wire type), and a deep schema recurses once per level. So before polars sees the
//! file, this module walks the footer and the page headers of the columns fwlog decodes with a Thrift compact
//! reader of its own that reads the same fields as polars (same field ids, same byte consumption), is
//! stricter where polars is lenient (a known field must have its declared wire type, a list cannot claim more
//! elements than bytes left, nesting is bounded), and then checks the numbers: row counts add up, column
//! chunks and pages lie inside the file and inside their chunk, sizes and counts are non-negative, page value
//! counts add up to the chunk's, and a dictionary holds no more entries than its bytes can.
//!
//! Sizes are not checked against compression ratios: a run-length encoded column of one repeated value
//! (`Type`, `_ResourceId`) legitimately holds a million values in a few bytes. Every count polars allocates
//! from is an `i32` once it is known to be non-negative, so the largest allocation a file can still ask for is
//! bounded (a 2^31-bit validity bitmap, 256 MiB) instead of arbitrary.
//!
//! What remains (corrupt bytes inside a page: run lengths, offsets, dictionary indices) is found by the
//! decoder, which returns an error or panics; the reader turns both into an error naming the file.

/// Wire types of the Thrift compact protocol.
const STOP: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const STRUCT: u8 = 12;

/// Nesting of Thrift structs and lists, and of the Parquet schema tree. A log file's footer nests six levels
/// (FileMetaData → RowGroup → ColumnChunk → ColumnMetaData → Statistics) and its schema two; polars recurses
/// once per schema level, so an unbounded depth could overflow the stack (an abort, not a panic).
const MAX_DEPTH: usize = 32;

/// More rows than one file could hold for fwlog to finish reading it (~10^12; fwlog reads ~5·10^6 rows/s).
/// Run-length encoding lets a small file declare any row count, and fwlog sizes its plan from it.
pub const MAX_ROWS: u64 = 1 << 40;

/// Page types (`PageType` in parquet.thrift).
const DATA_PAGE: i32 = 0;
const DICTIONARY_PAGE: i32 = 2;
const DATA_PAGE_V2: i32 = 3;

type Res<T> = Result<T, String>;

/// A Thrift compact-protocol reader over a byte slice that never allocates from a count it has not checked.
struct Thrift<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Thrift<'a> {
    fn new(b: &'a [u8]) -> Self {
        Thrift { b, at: 0 }
    }

    fn left(&self) -> usize {
        self.b.len() - self.at
    }

    fn byte(&mut self) -> Res<u8> {
        let c = *self
            .b
            .get(self.at)
            .ok_or_else(|| "ends in the middle of a value".to_string())?;
        self.at += 1;
        Ok(c)
    }

    fn advance(&mut self, n: usize) -> Res<()> {
        if n > self.left() {
            return Err(format!(
                "a value of {n} bytes where {} are left",
                self.left()
            ));
        }
        self.at += n;
        Ok(())
    }

    /// ULEB128; ten bytes hold any 64-bit value, longer runs are corruption.
    fn vlq(&mut self) -> Res<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let c = self.byte()?;
            v |= u64::from(c & 0x7f) << (7 * i);
            if c & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a variable-length integer longer than 10 bytes".into())
    }

    fn zigzag(&mut self) -> Res<i64> {
        let v = self.vlq()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn i32(&mut self, what: &str) -> Res<i32> {
        let v = self.zigzag()?;
        i32::try_from(v).map_err(|_| format!("{what} {v} does not fit a 32-bit field"))
    }

    fn bytes(&mut self) -> Res<&'a [u8]> {
        let n = self.vlq()?;
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.left())
            .ok_or_else(|| format!("a byte string of {n} bytes where {} are left", self.left()))?;
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    /// The next field header of a struct: `None` at its end. Field ids are computed as polars computes them
    /// (delta from the previous id, or a full zigzag id cut to 16 bits), so both readers see the same fields.
    fn field(&mut self, last: &mut i16) -> Res<Option<(i16, u8)>> {
        let h = self.byte()?;
        let (delta, ty) = (h >> 4, h & 0x0f);
        if ty == STOP {
            return Ok(None);
        }
        if ty > STRUCT {
            return Err(format!("unknown Thrift field type {ty}"));
        }
        let id = if delta != 0 {
            last.checked_add(i16::from(delta))
                .ok_or_else(|| "a field id past 32767".to_string())?
        } else {
            self.zigzag()? as i16
        };
        *last = id;
        Ok(Some((id, ty)))
    }

    /// A list header: element type and count. Every element takes at least one byte, so a count above the
    /// bytes left is corruption (polars would reserve room for it before reading any element).
    fn list(&mut self) -> Res<(u8, usize)> {
        let h = self.byte()?;
        let (short, ty) = (h >> 4, h & 0x0f);
        // polars reads the long form as `vlq as i32`.
        let n = if short != 15 {
            i64::from(short)
        } else {
            i64::from(self.vlq()? as i32)
        };
        if n < 0 || n as u64 > self.left() as u64 {
            return Err(format!(
                "a list of {n} elements where {} bytes are left",
                self.left()
            ));
        }
        if !((TRUE..=STRUCT).contains(&ty) || (ty == 0 && n == 0)) {
            return Err(format!("unknown Thrift element type {ty}"));
        }
        Ok((ty, n as usize))
    }

    /// A list whose elements must be of type `elem`, each read by `one`.
    fn list_of<T>(
        &mut self,
        elem: u8,
        depth: usize,
        mut one: impl FnMut(&mut Self, usize) -> Res<T>,
    ) -> Res<Vec<T>> {
        let (ty, n) = self.list()?;
        if n > 0 && ty != elem {
            return Err(format!(
                "a list of Thrift type {ty} where type {elem} belongs"
            ));
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(one(self, depth + 1)?);
        }
        Ok(out)
    }

    /// Skip a value of wire type `ty`. Sets, maps and lists of booleans never occur in Parquet metadata (and
    /// polars skips boolean list elements without consuming their byte), so they are refused.
    fn skip(&mut self, ty: u8, depth: usize) -> Res<()> {
        if depth > MAX_DEPTH {
            return Err(format!("Thrift values nested deeper than {MAX_DEPTH}"));
        }
        match ty {
            TRUE | FALSE => Ok(()),
            BYTE => self.advance(1),
            I16 | I32 | I64 => self.vlq().map(drop),
            DOUBLE => self.advance(8),
            BINARY => self.bytes().map(drop),
            LIST => {
                let (elem, n) = self.list()?;
                if n > 0 && !(BYTE..=LIST).contains(&elem) && elem != STRUCT {
                    return Err(format!("a list of Thrift type {elem}"));
                }
                for _ in 0..n {
                    self.skip(elem, depth + 1)?;
                }
                Ok(())
            }
            STRUCT => self.walk(depth, &mut |_, _, _, _| Ok(false)),
            _ => Err(format!("a Thrift value of type {ty} (set or map)")),
        }
    }

    /// Walk the fields of a struct: `known` reads a field it knows and returns `true`, or returns `false` to
    /// have it skipped.
    fn walk(
        &mut self,
        depth: usize,
        known: &mut dyn FnMut(&mut Self, i16, u8, usize) -> Res<bool>,
    ) -> Res<()> {
        if depth > MAX_DEPTH {
            return Err(format!("Thrift values nested deeper than {MAX_DEPTH}"));
        }
        let mut last = 0i16;
        while let Some((id, ty)) = self.field(&mut last)? {
            if !known(self, id, ty, depth + 1)? {
                self.skip(ty, depth + 1)?;
            }
        }
        Ok(())
    }
}

/// A known field must have the wire type the Parquet format declares: polars reads known fields by id
/// whatever their wire type, so another type would make it read different bytes than this walker did.
fn want(id: i16, ty: u8, wanted: &[u8], what: &str) -> Res<()> {
    if wanted.contains(&ty) {
        Ok(())
    } else {
        Err(format!(
            "{what} field {id} has Thrift type {ty}, expected {wanted:?}"
        ))
    }
}

const BOOL: &[u8] = &[TRUE, FALSE];
const INT: &[u8] = &[I32];
const LONG: &[u8] = &[I64];
const VARINT: &[u8] = &[I16, I32, I64];

/// What fwlog needs from a schema leaf.
#[derive(Debug, Clone)]
struct Leaf {
    /// Name of its top-level column.
    root: String,
    /// No repeated ancestor: one value (or null) per row, so its value counts equal row counts.
    flat: bool,
    physical: Option<i32>,
    type_length: Option<i32>,
}

#[derive(Debug, Default)]
struct SchemaElement {
    physical: Option<i32>,
    type_length: Option<i32>,
    repetition: Option<i32>,
    name: String,
    children: Option<i32>,
}

#[derive(Debug, Default, Clone)]
struct Chunk {
    codec: Option<i32>,
    num_values: Option<i64>,
    uncompressed: Option<i64>,
    compressed: Option<i64>,
    data_page: Option<i64>,
    dictionary_page: Option<i64>,
}

#[derive(Debug, Default)]
struct Group {
    rows: Option<i64>,
    chunks: Vec<Chunk>,
}

/// The footer, checked: what the page check needs.
#[derive(Debug)]
pub struct Footer {
    leaves: Vec<Leaf>,
    /// Per row group: rows and (byte range, chunk) of each leaf's column chunk.
    groups: Vec<(u64, Vec<Chunk>)>,
}

fn logical_type(t: &mut Thrift<'_>, depth: usize) -> Res<()> {
    t.walk(depth, &mut |t, id, ty, d| {
        match id {
            1..=4 | 6 | 11..=15 => {
                want(id, ty, &[STRUCT], "LogicalType")?;
                t.skip(ty, d)?;
            }
            5 => {
                want(id, ty, &[STRUCT], "LogicalType")?;
                t.walk(d, &mut |t, id, ty, _| match id {
                    1 | 2 => {
                        want(id, ty, INT, "DecimalType")?;
                        t.i32("decimal scale or precision").map(|_| true)
                    }
                    _ => Ok(false),
                })?;
            }
            7 | 8 => {
                want(id, ty, &[STRUCT], "LogicalType")?;
                t.walk(d, &mut |t, id, ty, d| match id {
                    1 => want(id, ty, BOOL, "TimestampType").map(|_| true),
                    2 => {
                        want(id, ty, &[STRUCT], "TimestampType")?;
                        t.walk(d, &mut |t, id, ty, d| match id {
                            1..=3 => {
                                want(id, ty, &[STRUCT], "TimeUnit")?;
                                t.skip(ty, d).map(|_| true)
                            }
                            _ => Ok(false),
                        })
                        .map(|_| true)
                    }
                    _ => Ok(false),
                })?;
            }
            10 => {
                want(id, ty, &[STRUCT], "LogicalType")?;
                t.walk(d, &mut |t, id, ty, _| match id {
                    1 => {
                        want(id, ty, &[BYTE], "IntType")?;
                        t.advance(1).map(|_| true)
                    }
                    2 => want(id, ty, BOOL, "IntType").map(|_| true),
                    _ => Ok(false),
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })
}

fn schema_element(t: &mut Thrift<'_>, depth: usize) -> Res<SchemaElement> {
    let mut e = SchemaElement::default();
    t.walk(depth, &mut |t, id, ty, d| {
        match id {
            1 => {
                want(id, ty, INT, "SchemaElement")?;
                e.physical = Some(t.i32("physical type")?);
            }
            2 => {
                want(id, ty, INT, "SchemaElement")?;
                e.type_length = Some(t.i32("type length")?);
            }
            3 => {
                want(id, ty, INT, "SchemaElement")?;
                e.repetition = Some(t.i32("repetition")?);
            }
            4 => {
                want(id, ty, &[BINARY], "SchemaElement")?;
                e.name = String::from_utf8_lossy(t.bytes()?).into_owned();
            }
            5 => {
                want(id, ty, INT, "SchemaElement")?;
                e.children = Some(t.i32("number of children")?);
            }
            6..=9 => {
                want(id, ty, INT, "SchemaElement")?;
                t.i32("schema field")?;
            }
            10 => {
                want(id, ty, &[STRUCT], "SchemaElement")?;
                logical_type(t, d)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(e)
}

fn statistics(t: &mut Thrift<'_>, depth: usize) -> Res<()> {
    t.walk(depth, &mut |t, id, ty, _| {
        match id {
            1 | 2 | 5 | 6 => {
                want(id, ty, &[BINARY], "Statistics")?;
                t.bytes()?;
            }
            3 | 4 => {
                want(id, ty, LONG, "Statistics")?;
                t.vlq()?;
            }
            7 | 8 => want(id, ty, BOOL, "Statistics")?,
            _ => return Ok(false),
        }
        Ok(true)
    })
}

fn column_meta(t: &mut Thrift<'_>, depth: usize, c: &mut Chunk) -> Res<()> {
    t.walk(depth, &mut |t, id, ty, d| {
        match id {
            1 => {
                want(id, ty, INT, "ColumnMetaData")?;
                t.vlq()?;
            }
            2 | 3 => {
                want(id, ty, &[LIST], "ColumnMetaData")?;
                let elem = if id == 2 { I32 } else { BINARY };
                t.list_of(elem, d, |t, d| t.skip(elem, d))?;
            }
            4 => {
                want(id, ty, INT, "ColumnMetaData")?;
                c.codec = Some(t.i32("codec")?);
            }
            5..=7 | 9..=11 | 14 => {
                want(id, ty, LONG, "ColumnMetaData")?;
                let v = t.zigzag()?;
                match id {
                    5 => c.num_values = Some(v),
                    6 => c.uncompressed = Some(v),
                    7 => c.compressed = Some(v),
                    9 => c.data_page = Some(v),
                    11 => c.dictionary_page = Some(v),
                    _ => {}
                }
            }
            12 => {
                want(id, ty, &[STRUCT], "ColumnMetaData")?;
                statistics(t, d)?;
            }
            15 => {
                want(id, ty, INT, "ColumnMetaData")?;
                t.vlq()?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })
}

fn column_chunk(t: &mut Thrift<'_>, depth: usize) -> Res<Chunk> {
    let mut c = Chunk::default();
    let mut has_meta = false;
    t.walk(depth, &mut |t, id, ty, d| {
        match id {
            1 => {
                want(id, ty, &[BINARY], "ColumnChunk")?;
                t.bytes()?;
            }
            2 | 4 | 6 => {
                want(id, ty, LONG, "ColumnChunk")?;
                t.vlq()?;
            }
            3 => {
                want(id, ty, &[STRUCT], "ColumnChunk")?;
                column_meta(t, d, &mut c)?;
                has_meta = true;
            }
            5 | 7 => {
                want(id, ty, INT, "ColumnChunk")?;
                t.vlq()?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if !has_meta {
        return Err("a column chunk without metadata".into());
    }
    Ok(c)
}

fn row_group(t: &mut Thrift<'_>, depth: usize) -> Res<Group> {
    let mut g = Group::default();
    t.walk(depth, &mut |t, id, ty, d| {
        match id {
            1 => {
                want(id, ty, &[LIST], "RowGroup")?;
                g.chunks = t.list_of(STRUCT, d, column_chunk)?;
            }
            2 => {
                want(id, ty, LONG, "RowGroup")?;
                t.vlq()?;
            }
            3 => {
                want(id, ty, LONG, "RowGroup")?;
                g.rows = Some(t.zigzag()?);
            }
            4 => {
                want(id, ty, &[LIST], "RowGroup")?;
                t.list_of(STRUCT, d, |t, d| {
                    t.walk(d, &mut |t, id, ty, _| match id {
                        1 => {
                            want(id, ty, INT, "SortingColumn")?;
                            t.vlq().map(|_| true)
                        }
                        2 | 3 => want(id, ty, BOOL, "SortingColumn").map(|_| true),
                        _ => Ok(false),
                    })
                })?;
            }
            // polars skips these as varints whatever their wire type.
            5..=7 => {
                want(id, ty, VARINT, "RowGroup")?;
                t.vlq()?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(g)
}

/// The schema's leaves in order, from the flattened tree (`num_children` per element), without recursion.
fn leaves(elements: &[SchemaElement]) -> Res<Vec<Leaf>> {
    let root = elements.first().ok_or("the schema has no root element")?;
    let n = root.children.unwrap_or(0);
    if n < 0 {
        return Err(format!("the schema root has {n} children"));
    }
    // (children still to come, a repeated ancestor, top-level name)
    let mut stack: Vec<(i32, bool, Option<String>)> = vec![(n, false, None)];
    let mut out = Vec::new();
    for e in &elements[1..] {
        while stack.last().is_some_and(|s| s.0 == 0) {
            stack.pop();
        }
        let Some(parent) = stack.last_mut() else {
            return Err("the schema has elements after its root's last child".into());
        };
        parent.0 -= 1;
        let repeated = parent.1 || e.repetition == Some(2);
        let root = parent.2.clone().unwrap_or_else(|| e.name.clone());
        if e.repetition.is_none() {
            return Err(format!("schema element {:?} has no repetition", e.name));
        }
        match e.children {
            Some(c) if c < 0 => {
                return Err(format!("schema element {:?} has {c} children", e.name));
            }
            Some(c) if c > 0 => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("the schema nests deeper than {MAX_DEPTH} levels"));
                }
                stack.push((c, repeated, Some(root)));
            }
            _ => {
                if e.physical.is_none() {
                    return Err(format!("schema column {:?} has no physical type", e.name));
                }
                out.push(Leaf {
                    root,
                    flat: !repeated,
                    physical: e.physical,
                    type_length: e.type_length,
                });
            }
        }
    }
    if stack.iter().any(|s| s.0 > 0) {
        return Err("the schema declares more children than it has elements".into());
    }
    Ok(out)
}

/// Check the footer of the Parquet file in `bytes`: magic, length, Thrift structure and the numbers in it.
pub fn footer(bytes: &[u8]) -> Res<Footer> {
    let len = bytes.len();
    if len < 12 || !bytes.starts_with(b"PAR1") || !bytes.ends_with(b"PAR1") {
        return Err("not a Parquet file (no PAR1 at both ends)".into());
    }
    let meta_len = u32::from_le_bytes([
        bytes[len - 8],
        bytes[len - 7],
        bytes[len - 6],
        bytes[len - 5],
    ]) as usize;
    if meta_len > len - 12 {
        return Err(format!(
            "the footer claims {meta_len} bytes in a file of {len}"
        ));
    }
    let data_end = len - 8 - meta_len;
    let mut t = Thrift::new(&bytes[data_end..len - 8]);
    let mut schema = None;
    let mut rows = None;
    let mut groups = None;
    t.walk(0, &mut |t, id, ty, d| {
        match id {
            1 => {
                want(id, ty, INT, "FileMetaData")?;
                t.vlq()?;
            }
            2 => {
                want(id, ty, &[LIST], "FileMetaData")?;
                schema = Some(t.list_of(STRUCT, d, schema_element)?);
            }
            3 => {
                want(id, ty, LONG, "FileMetaData")?;
                rows = Some(t.zigzag()?);
            }
            4 => {
                want(id, ty, &[LIST], "FileMetaData")?;
                groups = Some(t.list_of(STRUCT, d, row_group)?);
            }
            5 => {
                want(id, ty, &[LIST], "FileMetaData")?;
                t.list_of(STRUCT, d, |t, d| {
                    t.walk(d, &mut |t, id, ty, _| match id {
                        1 | 2 => {
                            want(id, ty, &[BINARY], "KeyValue")?;
                            t.bytes().map(|_| true)
                        }
                        _ => Ok(false),
                    })
                })?;
            }
            6 => {
                want(id, ty, &[BINARY], "FileMetaData")?;
                t.bytes()?;
            }
            7 => {
                want(id, ty, &[LIST], "FileMetaData")?;
                t.list_of(STRUCT, d, |t, d| {
                    t.walk(d, &mut |t, id, ty, d| match id {
                        1 | 2 => {
                            want(id, ty, &[STRUCT], "ColumnOrder")?;
                            t.skip(ty, d).map(|_| true)
                        }
                        _ => Ok(false),
                    })
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })
    .map_err(|e| format!("footer: {e}"))?;
    let schema = schema.ok_or("the footer has no schema")?;
    let rows = rows.ok_or("the footer has no row count")?;
    let groups = groups.ok_or("the footer has no row groups")?;
    let leaves = leaves(&schema)?;
    let rows = u64::try_from(rows).map_err(|_| format!("the footer declares {rows} rows"))?;
    if rows > MAX_ROWS {
        return Err(format!(
            "the footer declares {rows} rows, more than fwlog reads from one file ({MAX_ROWS})"
        ));
    }
    let mut sum = 0u64;
    let mut checked = Vec::with_capacity(groups.len());
    for (gi, g) in groups.into_iter().enumerate() {
        let n = g
            .rows
            .ok_or_else(|| format!("row group {gi} has no row count"))?;
        let n = u64::try_from(n).map_err(|_| format!("row group {gi} declares {n} rows"))?;
        sum = sum.saturating_add(n);
        if g.chunks.len() != leaves.len() {
            return Err(format!(
                "row group {gi} has {} column chunks for {} schema columns",
                g.chunks.len(),
                leaves.len()
            ));
        }
        for (c, leaf) in g.chunks.iter().zip(&leaves) {
            chunk_range(c, data_end)
                .map_err(|e| format!("row group {gi}, column {:?}: {e}", leaf.root))?;
        }
        checked.push((n, g.chunks));
    }
    if sum != rows {
        return Err(format!(
            "the row groups hold {sum} rows but the footer declares {rows}"
        ));
    }
    Ok(Footer {
        leaves,
        groups: checked,
    })
}

/// The byte range of a column chunk, checked to lie in the data part of the file (after the leading magic,
/// before the footer), with non-negative counts and sizes.
fn chunk_range(c: &Chunk, data_end: usize) -> Res<std::ops::Range<usize>> {
    let (Some(data), Some(compressed), Some(values), Some(uncompressed)) =
        (c.data_page, c.compressed, c.num_values, c.uncompressed)
    else {
        return Err("its metadata lacks offsets, sizes or the value count".into());
    };
    if compressed < 0 || values < 0 || uncompressed < 0 {
        return Err(format!(
            "negative size or count ({compressed} bytes compressed, {uncompressed} uncompressed, {values} values)"
        ));
    }
    // polars starts a chunk at its dictionary page when there is one.
    let start = c.dictionary_page.unwrap_or(data);
    let inside = |v: i64| {
        usize::try_from(v)
            .ok()
            .filter(|v| (4..=data_end).contains(v))
    };
    match (
        inside(start),
        start.checked_add(compressed).and_then(inside),
        inside(data),
    ) {
        (Some(s), Some(e), Some(d)) if (s..=e).contains(&d) => Ok(s..e),
        _ => Err(format!(
            "its {compressed} bytes from offset {start} (data page at {data}) are not inside the file's data \
             (bytes 4 to {data_end})"
        )),
    }
}

/// Smallest size in bits of one plain-encoded dictionary entry of a physical type.
fn entry_bits(leaf: &Leaf) -> u64 {
    match leaf.physical {
        Some(0) => 1,
        Some(1) | Some(4) | Some(6) => 32,
        Some(2) | Some(5) => 64,
        Some(3) => 96,
        Some(7) => 8 * leaf.type_length.unwrap_or(1).max(1) as u64,
        _ => 1,
    }
}

/// A page header, as polars reads it.
#[derive(Debug, Default)]
struct PageHeader {
    kind: Option<i32>,
    uncompressed: Option<i32>,
    compressed: Option<i32>,
    /// `num_values` of the v1 data page header.
    data: Option<i32>,
    /// `num_values` of the dictionary page header.
    dictionary: Option<i32>,
    /// The v2 data page header: values, nulls, rows, definition and repetition level bytes.
    v2: Option<[Option<i32>; 5]>,
}

fn page_header(t: &mut Thrift<'_>) -> Res<PageHeader> {
    let mut h = PageHeader::default();
    t.walk(0, &mut |t, id, ty, d| {
        match id {
            1..=4 => {
                want(id, ty, INT, "PageHeader")?;
                let v = t.i32("page header field")?;
                match id {
                    1 => h.kind = Some(v),
                    2 => h.uncompressed = Some(v),
                    3 => h.compressed = Some(v),
                    _ => {}
                }
            }
            5 | 7 | 8 => {
                want(id, ty, &[STRUCT], "PageHeader")?;
                let mut f = [None; 5];
                t.walk(d, &mut |t, fid, fty, d| {
                    match (id, fid) {
                        (5, 1..=4) | (7, 1..=2) | (8, 1..=6) => {
                            want(fid, fty, INT, "page header")?;
                            let v = t.i32("page header field")?;
                            // v2 fields 1, 2, 3, 5, 6: values, nulls, rows, level bytes (4 is the encoding).
                            match (id, fid) {
                                (_, 1) => f[0] = Some(v),
                                (8, 2) => f[1] = Some(v),
                                (8, 3) => f[2] = Some(v),
                                (8, 5) => f[3] = Some(v),
                                (8, 6) => f[4] = Some(v),
                                _ => {}
                            }
                        }
                        (5, 5) | (8, 8) => {
                            want(fid, fty, &[STRUCT], "page header")?;
                            statistics(t, d)?;
                        }
                        (7, 3) | (8, 7) => want(fid, fty, BOOL, "page header")?,
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?;
                match id {
                    5 => h.data = f[0],
                    7 => h.dictionary = f[0],
                    _ => h.v2 = Some(f),
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(h)
}

impl Footer {
    /// Row groups.
    pub fn row_groups(&self) -> usize {
        self.groups.len()
    }

    /// Check the page headers of row group `gi`'s column chunks under the top-level columns `roots` (the ones
    /// fwlog decodes), as polars will walk them: an optional dictionary page first, then data pages until their
    /// value counts reach the chunk's.
    pub fn check_group(&self, bytes: &[u8], gi: usize, roots: &[&str]) -> Res<()> {
        let data_end = bytes.len().saturating_sub(8);
        let (rows, chunks) = self
            .groups
            .get(gi)
            .ok_or_else(|| format!("no row group {gi}"))?;
        for (c, leaf) in chunks.iter().zip(&self.leaves) {
            if !roots.contains(&leaf.root.as_str()) {
                continue;
            }
            let at = |e: String| format!("row group {gi}, column {:?}: {e}", leaf.root);
            let range = chunk_range(c, data_end).map_err(at)?;
            let total = c.num_values.unwrap_or(0);
            if leaf.flat && total as u64 != *rows {
                return Err(at(format!(
                    "{total} values for {rows} rows in a column with one value per row"
                )));
            }
            pages(&bytes[range], c, leaf, total).map_err(at)?;
        }
        Ok(())
    }
}

/// Read and check the page header at `at` of a chunk: its sizes, and that the page ends inside the chunk.
/// Returns the header and where the page ends.
fn page_at(chunk: &[u8], at: usize, n: usize, c: &Chunk) -> Res<(PageHeader, i32, i32, usize)> {
    let mut t = Thrift::new(&chunk[at..]);
    let h = page_header(&mut t).map_err(|e| format!("page {n} header at byte {at}: {e}"))?;
    let (Some(_), Some(un), Some(comp)) = (h.kind, h.uncompressed, h.compressed) else {
        return Err(format!("page {n} header lacks its type or sizes"));
    };
    let chunk_un = c.uncompressed.unwrap_or(0);
    if un < 0 || comp < 0 || i64::from(un) > chunk_un {
        return Err(format!(
            "page {n} is {comp} bytes compressed, {un} uncompressed (its column chunk: {chunk_un} uncompressed)"
        ));
    }
    let end = at + t.at + comp as usize;
    if end > chunk.len() {
        return Err(format!(
            "page {n} ends at byte {end} of a {}-byte column chunk",
            chunk.len()
        ));
    }
    Ok((h, un, comp, end))
}

/// Walk one column chunk's pages as polars does.
fn pages(chunk: &[u8], c: &Chunk, leaf: &Leaf, total: i64) -> Res<()> {
    let mut at = 0usize;
    let mut n = 0usize;
    // polars reads the first header for a dictionary page (unless the chunk is empty) and reads it again as
    // the first data page when it is not one.
    if !chunk.is_empty() {
        let (h, un, comp, end) = page_at(chunk, 0, 0, c)?;
        if h.kind == Some(DICTIONARY_PAGE) {
            let v = h
                .dictionary
                .filter(|v| *v >= 0)
                .ok_or_else(|| format!("dictionary value count {:?}", h.dictionary))?;
            // Plain-encoded entries; the page of an uncompressed chunk holds just its stored bytes.
            let bytes = if c.codec == Some(0) { un.min(comp) } else { un };
            if v as u64 * entry_bits(leaf) > bytes as u64 * 8 {
                return Err(format!("a dictionary of {v} entries in {bytes} bytes"));
            }
            at = end;
            n = 1;
        }
    }
    let mut seen = 0i64;
    while seen < total {
        if at >= chunk.len() {
            return Err(format!(
                "the column chunk ends after {seen} of its {total} values"
            ));
        }
        let (h, _, comp, end) = page_at(chunk, at, n, c)?;
        let v = match (h.kind, h.data, h.v2) {
            (Some(DATA_PAGE), Some(v), _) if v >= 0 => v,
            (
                Some(DATA_PAGE_V2),
                _,
                Some([Some(v), Some(nulls), Some(rows), Some(def), Some(rep)]),
            ) if v >= 0
                && (0..=v).contains(&nulls)
                && (0..=v).contains(&rows)
                && def >= 0
                && rep >= 0
                && i64::from(def) + i64::from(rep) <= i64::from(comp) =>
            {
                v
            }
            (kind, data, v2) => {
                return Err(format!(
                    "page {n}: type {kind:?} with value counts {data:?} / {v2:?} is not a valid data page"
                ));
            }
        };
        seen += i64::from(v);
        if seen > total {
            return Err(format!(
                "its pages hold more values ({seen}) than the column chunk declares ({total})"
            ));
        }
        at = end;
        n += 1;
    }
    Ok(())
}

/// Where each column chunk of a valid file starts (for the mutation tests to aim at page headers).
#[cfg(test)]
pub fn chunk_starts(bytes: &[u8]) -> Vec<usize> {
    let Ok(f) = footer(bytes) else {
        return Vec::new();
    };
    f.groups
        .iter()
        .flat_map(|(_, chunks)| chunks.iter())
        .filter_map(|c| usize::try_from(c.dictionary_page.or(c.data_page)?).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_counts_beyond_the_bytes_left_are_refused() {
        // A list header with the long count form: 2^30 structs in two bytes.
        let mut t = Thrift::new(&[0xfc, 0x80, 0x80, 0x80, 0x80, 0x04, 0x00]);
        assert!(
            t.list()
                .unwrap_err()
                .contains("a list of 1073741824 elements")
        );
        // A negative count after the `as i32` polars applies.
        let mut t = Thrift::new(&[0xfc, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(t.list().is_err());
    }

    #[test]
    fn known_fields_must_have_their_wire_type() {
        // Statistics field 7 (a flag) written as an i32: polars would `expect` a bool and panic.
        let mut t = Thrift::new(&[0x75, 0x02, 0x00]);
        assert!(statistics(&mut t, 0).unwrap_err().contains("field 7"));
        let mut t = Thrift::new(&[0x71, 0x00]);
        assert!(statistics(&mut t, 0).is_ok());
    }

    #[test]
    fn deep_nesting_is_refused() {
        // 40 nested structs in an unknown field.
        let mut b = vec![0x1c; 40];
        b.extend([0u8; 41]);
        let mut t = Thrift::new(&b);
        assert!(t.skip(STRUCT, 0).unwrap_err().contains("nested deeper"));
    }
}
