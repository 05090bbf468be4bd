//! Every JSON shape the firewall's logs are kept in:
//! diagnostic-setting archives (`PT1H.json`, JSON lines of `{time, resourceId, category, properties}` records,
//! structured or legacy `properties.msg`), Log Analytics data-export blobs (`PT05M.json`, column names at the
//! top level), Event Hub bodies (`{"records":[…]}`, one per line or concatenated), saved Query-API responses
//! (`{"tables":[…]}`) and `az monitor log-analytics query` output (an array of row objects, values as strings).
//!
//! Input is read as a stream. When its first line is a whole JSON value (or several) it is JSON lines: chunks of
//! lines are parsed on every core ([`super::lines::in_parallel`]) into parts taken in input order, with exact line
//! numbers, and a line that is not JSON is skipped and counted. Otherwise it is one document (pretty-printed
//! responses and arrays) and is read whole, up to [`MAX_DOCUMENT_BYTES`].
//!
//! A line's records are parsed into borrowed, typed fields (`Parsed`): by `fast` when the line is plain (no
//! escapes), otherwise by serde_json, which gives the same values. A saved response's rows are read as they are
//! parsed (`tables::TablesSeed`); only a `tables` response on one line still goes through `serde_json::Value`.
//! Both paths resolve keys alike (see `resolve`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::sync::LazyLock;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess};
use serde_json::{Map, Value};

use super::batcher::{FileSink, Part, PartBuilder, PartConfig, RowBatcher, Sink};
use super::fields::{self, Field, Val};
use super::lines::{self, Chunk, LineChunker, MAX_LINE_BYTES};
use super::tables;
use crate::error::user;

mod fast;
mod unselected;

/// Largest JSON document (anything that is not JSON lines) read, which is held in memory whole. The largest
/// such documents are saved query answers: the Query API caps one at 500,000 rows and ~100 MiB, and
/// `az monitor log-analytics query` prints the same rows pretty-printed with every column name repeated, up to
/// about five times larger. 512 MiB holds those; a larger document is refused with a message saying how to
/// split it, instead of taking the machine's memory.
pub const MAX_DOCUMENT_BYTES: usize = 512 << 20;

// `resolve` keeps one bit per field.
const _: () = assert!(Field::COUNT <= 64);

/// For each key length, the lower-cased aliases of that length and their fields. A record's keys are looked up
/// here for every record: comparing a key with the few aliases of its length measured faster than hashing it
/// (8.5% of a JSON-lines run with a hash map, lower-casing keys with capitals first).
static FIELDS_BY_LEN: LazyLock<Vec<Vec<(&'static str, Field)>>> = LazyLock::new(|| {
    let longest = Field::ALL
        .iter()
        .flat_map(|f| f.aliases())
        .map(|a| a.len())
        .max()
        .unwrap_or(0);
    let mut by_len = vec![Vec::new(); longest + 1];
    for &f in Field::ALL {
        for a in f.aliases() {
            let lower: &'static str = a.to_ascii_lowercase().leak();
            let same: &mut Vec<(&'static str, Field)> = &mut by_len[lower.len()];
            // The first field to claim a spelling keeps it.
            if !same.iter().any(|(k, _)| *k == lower) {
                same.push((lower, f));
            }
        }
    }
    by_len
});

/// The field a key carries, compared case-insensitively.
pub fn field_of(key: &str) -> Option<Field> {
    FIELDS_BY_LEN
        .get(key.len())?
        .iter()
        .find(|(alias, _)| alias.as_bytes().eq_ignore_ascii_case(key.as_bytes()))
        .map(|(_, f)| *f)
}

pub fn val(v: &Value) -> Option<Val<'_>> {
    match v {
        Value::String(s) => Some(Val::Str(s)),
        Value::Number(n) => Some(
            n.as_i64()
                .map(Val::Int)
                .unwrap_or_else(|| Val::Float(n.as_f64().unwrap_or(f64::NAN))),
        ),
        Value::Bool(b) => Some(Val::Bool(*b)),
        // Reported by `fields::fill_row` as a value of the wrong sort instead of read as absent.
        Value::Array(_) | Value::Object(_) => Some(Val::Nested),
        Value::Null => None,
    }
}

/// The limits on what is held at once (tests use small ones).
#[derive(Debug, Clone, Copy)]
struct Caps {
    line: usize,
    document: usize,
}

const CAPS: Caps = Caps {
    line: MAX_LINE_BYTES,
    document: MAX_DOCUMENT_BYTES,
};

/// Read JSON from a stream: JSON lines on every core, or one document (see the module docs).
pub fn read<R: Read + Send>(
    name: &str,
    reader: R,
    batcher: &mut RowBatcher<'_>,
) -> anyhow::Result<()> {
    read_capped(name, reader, batcher, CAPS)
}

fn read_capped<R: Read + Send>(
    name: &str,
    mut reader: R,
    batcher: &mut RowBatcher<'_>,
    caps: Caps,
) -> anyhow::Result<()> {
    let read_error = |e: std::io::Error| user(format!("{name}: {e}"));
    let (mut head, shape) = probe(&mut reader, caps.line).map_err(read_error)?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        head.drain(..3);
    }
    match shape {
        Shape::Lines => read_lines(
            name,
            std::io::Cursor::new(head).chain(reader),
            batcher,
            caps,
        ),
        Shape::Document => {
            let mut doc = head;
            (&mut reader)
                .take((caps.document + 1 - doc.len().min(caps.document)) as u64)
                .read_to_end(&mut doc)
                .map_err(read_error)?;
            if doc.len() <= caps.document {
                return read_document(name, &doc, batcher, caps);
            }
            if looks_like_lines(&doc) {
                // A first line cut short, then records: JSON lines after all.
                return read_lines(name, std::io::Cursor::new(doc).chain(reader), batcher, caps);
            }
            Err(user(format!(
                "{name}: a JSON document larger than {}: fwlog holds a whole document (anything but JSON \
                 lines) in memory; export it as JSON lines (one record per line) or split the query into \
                 shorter time windows",
                lines::size(caps.document)
            )))
        }
    }
}

/// How a JSON input is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One or more whole values per line.
    Lines,
    /// A value spanning lines.
    Document,
}

/// Read up to the end of the first line that holds more than spaces, and tell the shape from it: whole values
/// (or text that is no JSON at all: a bad line) make JSON lines, a value that goes on past the line end a
/// document. A first line longer than a JSON-lines record may be is a one-line document (a compact saved
/// response). Returns the bytes read.
fn probe(reader: &mut impl Read, line_cap: usize) -> std::io::Result<(Vec<u8>, Shape)> {
    let mut head = Vec::new();
    let mut line_start = 0;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = loop {
            match reader.read(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        let old = head.len();
        head.extend_from_slice(&buf[..n]);
        let mut at = old;
        while let Some(i) = memchr::memchr(b'\n', &head[at..]) {
            let line = &head[line_start..at + i];
            if !blank(strip_bom(line, line_start)) {
                let shape = shape_of(strip_bom(line, line_start));
                return Ok((head, shape));
            }
            at += i + 1;
            line_start = at;
        }
        if n == 0 {
            let last = &head[line_start..];
            let shape = if blank(strip_bom(last, line_start)) {
                Shape::Lines
            } else {
                shape_of(strip_bom(last, line_start))
            };
            return Ok((head, shape));
        }
        if head.len() - line_start > line_cap {
            return Ok((head, Shape::Document));
        }
        if line_start > line_cap {
            // Only blank lines so far: whatever follows is read as lines.
            return Ok((head, Shape::Lines));
        }
    }
}

fn strip_bom(line: &[u8], start: usize) -> &[u8] {
    if start == 0 {
        line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
    } else {
        line
    }
}

fn shape_of(line: &[u8]) -> Shape {
    let mut values = serde_json::Deserializer::from_slice(line).into_iter::<IgnoredAny>();
    loop {
        match values.next() {
            None => return Shape::Lines,
            Some(Ok(_)) => {}
            Some(Err(e)) if e.is_eof() => return Shape::Document,
            Some(Err(_)) => return Shape::Lines,
        }
    }
}

/// Whether a line holds only spaces (as `str::trim` sees them).
fn blank(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    t.is_empty() || (t[0] >= 0x80 && std::str::from_utf8(t).is_ok_and(|s| s.trim().is_empty()))
}

/// Whether a document too large to hold is JSON lines whose first line is broken: the next lines are each
/// whole values (no line of a pretty-printed document is one: elements end in a comma).
fn looks_like_lines(doc: &[u8]) -> bool {
    let mut next = doc
        .split(|b| *b == b'\n')
        .skip(1)
        .filter(|l| !blank(l))
        .take(3)
        .peekable();
    next.peek().is_some()
        && next.all(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            serde_json::from_slice::<IgnoredAny>(l).is_ok()
        })
}

/// What the lines of one chunk gave: the part, the lines holding something, and those that parsed.
struct LinesPart {
    part: Part,
    lines: u64,
    parsed: u64,
}

/// JSON lines: chunks parsed on every core, parts taken in input order.
fn read_lines<R: Read + Send>(
    name: &str,
    reader: R,
    batcher: &mut RowBatcher<'_>,
    caps: Caps,
) -> anyhow::Result<()> {
    let config = batcher.part_config();
    let (mut lines, mut parsed) = (0u64, 0u64);
    lines::in_parallel(
        LineChunker::new(reader, caps.line, lines::CHUNK_BYTES),
        &|chunk| chunk_part(name, &config, chunk, caps.line),
        &|e| user(format!("{name}: {e}")),
        &mut |p: LinesPart| {
            lines += p.lines;
            parsed += p.parsed;
            batcher.absorb(p.part)
        },
    )?;
    if lines > 0 && parsed == 0 {
        return Err(user(format!(
            "{name}: not valid JSON: expected JSON lines, {{\"records\":[…]}}, {{\"tables\":[…]}} or an array of rows \
             ({lines} line(s), none parsed)"
        )));
    }
    Ok(())
}

/// Parse the lines of a chunk into a part (runs on a worker thread).
fn chunk_part(
    name: &str,
    config: &PartConfig,
    chunk: Chunk,
    line_cap: usize,
) -> anyhow::Result<LinesPart> {
    // Records run 300–600 bytes: a first guess for the builder, which grows as needed.
    let mut part = config.builder((chunk.data().len() / 256).clamp(16, 1 << 16), name);
    let (mut lines, mut parsed) = (0u64, 0u64);
    let mut values = Vec::new();
    let mut keys = fast::Keys::default();
    let mut spare = fast::Spare::default();
    let data = chunk.data();
    // The lines of `Chunk::lines`, each cut where the fast parser finds its end, or else at the next `\n`.
    let mut at = 0;
    for n in chunk.first_line.. {
        if at == data.len() {
            break;
        }
        let oversized = chunk.is_oversized(n);
        let read = if oversized {
            None
        } else {
            fast::line_values(data, at, &mut keys, &mut spare, &mut values)
        };
        let (line, next) = match read {
            Some(end) => (
                &data[at..end],
                end + if data.get(end) == Some(&b'\r') { 2 } else { 1 },
            ),
            None => {
                let end = memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |i| at + i);
                let line = &data[at..end];
                (line.strip_suffix(b"\r").unwrap_or(line), end + 1)
            }
        };
        at = next.min(data.len());
        if oversized {
            lines += 1;
            part.skip(
                n,
                &format!("record larger than {}", lines::size(line_cap)),
                format_args!(
                    "the line is longer than {} and was passed over unread (a firewall record is under 100 KiB)",
                    lines::size(line_cap)
                ),
            );
            continue;
        }
        if blank(line) {
            continue;
        }
        lines += 1;
        // A line the fast parser read is UTF-8 (see `fast`). Another is checked whole, so that serde_json need
        // not check each string (5% of a run); one that is not UTF-8 is parsed from bytes, where it fails.
        let parsed_line = if read.is_some() {
            Ok(())
        } else if let Ok(line) = std::str::from_utf8(line) {
            line_values(serde_json::Deserializer::from_str(line), &mut values)
        } else {
            line_values(serde_json::Deserializer::from_slice(line), &mut values)
        };
        match parsed_line {
            Ok(()) => {
                parsed += 1;
                line_records(name, n, line, &values, &mut part)?;
            }
            Err(e) => part.skip(n, "malformed JSON", e),
        }
        spare.recycle(&mut values);
    }
    Ok(LinesPart {
        part: part.take()?,
        lines,
        parsed,
    })
}

/// The values of one line (usually one; Event Hub bodies may be concatenated); on an error, none.
fn line_values<'a, R: serde_json::de::Read<'a>>(
    line: serde_json::Deserializer<R>,
    out: &mut Vec<Parsed<'a>>,
) -> Result<(), serde_json::Error> {
    for v in line.into_iter::<TopValue<'a>>() {
        match v {
            Ok(v) => out.push(v.0),
            Err(e) => {
                out.clear();
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The records of one parsed line.
fn line_records(
    name: &str,
    n: u64,
    line: &[u8],
    values: &[Parsed<'_>],
    part: &mut PartBuilder,
) -> anyhow::Result<()> {
    if values
        .iter()
        .any(|v| matches!(v, Parsed::Obj(o) if o.tables))
    {
        // A saved response on one line: read through `Value`, like a document.
        for v in serde_json::Deserializer::from_slice(line).into_iter::<Value>() {
            value(name, n, &v?, part)?;
        }
        return Ok(());
    }
    for v in values {
        match v {
            Parsed::Obj(o) => match &o.records {
                Some(Some(items)) => items.iter().try_for_each(|r| parsed_record(n, r, part))?,
                _ => obj_record(n, o, part)?,
            },
            Parsed::Array(items) => items.iter().try_for_each(|r| parsed_record(n, r, part))?,
            Parsed::Other => part.skip(n, "not a record", "expected a JSON object"),
        }
    }
    Ok(())
}

fn parsed_record(line: u64, r: &Parsed<'_>, part: &mut PartBuilder) -> anyhow::Result<()> {
    match r {
        Parsed::Obj(o) => obj_record(line, o, part),
        _ => {
            part.skip(line, "not a record", "expected a JSON object");
            Ok(())
        }
    }
}

/// One record of the typed path: top-level fields, then those under `properties`, which win.
fn obj_record(line: u64, o: &Obj<'_>, part: &mut PartBuilder) -> anyhow::Result<()> {
    let (slots, table) = record_slots(o);
    if let Some(time_us) = unselected::time_us(&slots, table, part.pushdown()) {
        part.count_unselected(time_us, 1);
        return Ok(());
    }
    let get = |f: Field| slots[f as usize].and_then(Fv::val);
    let mut row = super::Row::default();
    let mut legacy = crate::legacy::LegacyEvent::default();
    match fields::fill_row(&get, table, &mut row, &mut legacy, part.core_only()) {
        Ok(()) => {
            part.push(&row, line);
            Ok(())
        }
        Err(problem) => {
            part.skip(line, "bad record", &problem);
            Ok(())
        }
    }
}

/// A record's value of each field (top-level fields, then those under `properties`, which win) and its
/// category.
#[allow(clippy::type_complexity)]
fn record_slots<'o, 'a>(o: &'o Obj<'a>) -> ([Option<&'o Fv<'a>>; Field::COUNT], Option<&'o str>) {
    let mut slots: [Option<&Fv<'_>>; Field::COUNT] = [None; Field::COUNT];
    resolve(&o.fields, &mut slots, false);
    if let Some(Some(props)) = first_by_key(o.props.iter().map(|(k, p)| (k, p))) {
        resolve(&props.fields, &mut slots, true);
    }
    let table = first_by_key(
        o.fields
            .iter()
            .filter(|(_, k, _)| k.eq_ignore_ascii_case("category"))
            .map(|(_, k, v)| (k, v)),
    )
    .and_then(|v| match v {
        Fv::Str(s) => Some(&**s),
        _ => None,
    });
    (slots, table)
}

/// The value of the key a `serde_json::Map` (sorted by key, the last of equal keys kept) would list first.
fn first_by_key<'k, T>(entries: impl Iterator<Item = (&'k Cow<'k, str>, T)>) -> Option<T> {
    let mut best: Option<(&Cow<'_, str>, T)> = None;
    for (k, v) in entries {
        // `<=`: among equal keys the last one is kept.
        if best.as_ref().is_none_or(|(b, _)| k.as_ref() <= b.as_ref()) {
            best = Some((k, v));
        }
    }
    best.map(|(_, v)| v)
}

/// For each field, the value the `Value` path would take from an object: its keys as a `serde_json::Map` holds
/// them (the last of equal keys), in key order, the last non-null key of a field winning. Objects nearly always
/// have one key per field, which is taken directly. `over`: the object lies over the fields in `slots` (the
/// `properties` over the top level), replacing only those it has a value for.
fn resolve<'o, 'a>(
    entries: &'o [(Field, Cow<'a, str>, Fv<'a>)],
    slots: &mut [Option<&'o Fv<'a>>; Field::COUNT],
    over: bool,
) {
    let mut seen = 0u64;
    let mut multi = 0u64;
    for (f, _, _) in entries {
        let bit = 1u64 << (*f as usize);
        multi |= seen & bit;
        seen |= bit;
    }
    for (f, _, v) in entries {
        let null = matches!(v, Fv::Null);
        if multi & (1u64 << (*f as usize)) == 0 && !(over && null) {
            slots[*f as usize] = (!null).then_some(v);
        }
    }
    while multi != 0 {
        let fi = multi.trailing_zeros() as usize;
        multi &= multi - 1;
        let same = || {
            entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.0 as usize == fi)
        };
        let mut best: Option<(&str, &Fv<'a>)> = None;
        for (i, (_, k, v)) in same() {
            let overridden = same().any(|(j, e)| j > i && e.1 == *k);
            if overridden || matches!(v, Fv::Null) {
                continue;
            }
            if best.is_none_or(|(b, _)| k.as_ref() > b) {
                best = Some((k, v));
            }
        }
        if !over || best.is_some() {
            slots[fi] = best.map(|(_, v)| v);
        }
    }
}

/// A field's value as parsed, borrowed from the line when it has no escapes.
#[derive(Debug, Clone, PartialEq)]
enum Fv<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nested,
    Null,
}

impl Fv<'_> {
    /// As [`val`] reads the same JSON value.
    fn val(&self) -> Option<Val<'_>> {
        match self {
            Fv::Str(s) => Some(Val::Str(s)),
            Fv::Int(i) => Some(Val::Int(*i)),
            Fv::Float(f) => Some(Val::Float(*f)),
            Fv::Bool(b) => Some(Val::Bool(*b)),
            Fv::Nested => Some(Val::Nested),
            Fv::Null => None,
        }
    }
}

/// An object's keys that matter: fields (with their spelling), `properties`, and at the top of a line `records`
/// and whether there is a `tables` key.
#[derive(Debug, Default)]
struct Obj<'a> {
    fields: Vec<(Field, Cow<'a, str>, Fv<'a>)>,
    /// Keys spelt `properties` in any case, with the object they hold (`None`: not an object).
    props: Vec<(Cow<'a, str>, Option<Obj<'a>>)>,
    /// The last `records` key: its elements when it is an array.
    records: Option<Option<Vec<Parsed<'a>>>>,
    tables: bool,
}

/// A JSON value as the record reader needs it.
#[derive(Debug)]
enum Parsed<'a> {
    Obj(Obj<'a>),
    Array(Vec<Parsed<'a>>),
    /// A scalar, or a list where no list of records is expected.
    Other,
}

/// Where a value sits, which decides what of it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// A value of its own on a line: a record, `{"records":[…]}`, `{"tables":[…]}` or an array of records.
    Top,
    /// An element of a list of records (or a `records` value).
    Record,
    /// A `properties` object: fields only.
    Props,
}

/// What a key of an object at a level stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Field(Field),
    /// `properties` in any case, above the `properties` object itself.
    Props,
    /// `records`, spelt so, at the top of a line.
    Records,
    /// `tables` in any case, at the top of a line.
    Tables,
    Ignored,
}

fn role_of(level: Level, key: &str) -> Role {
    if level == Level::Top && key == "records" {
        Role::Records
    } else if level == Level::Top && key.eq_ignore_ascii_case("tables") {
        Role::Tables
    } else if level != Level::Props && key.eq_ignore_ascii_case("properties") {
        Role::Props
    } else {
        field_of(key).map_or(Role::Ignored, Role::Field)
    }
}

struct TopValue<'a>(Parsed<'a>);

impl<'de> de::Deserialize<'de> for TopValue<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Node(Level::Top).deserialize(d).map(TopValue)
    }
}

struct Node(Level);

impl<'de> DeserializeSeed<'de> for Node {
    type Value = Parsed<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Parsed<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for Node {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }
    fn visit_unit<E>(self) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed<'de>, A::Error> {
        if self.0 == Level::Top {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(Node(Level::Record))? {
                items.push(item);
            }
            return Ok(Parsed::Array(items));
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Parsed::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed<'de>, A::Error> {
        // Room for a structured record's fields at once (growing 4, 8, 16 showed in profiles).
        let mut o = Obj {
            fields: Vec::with_capacity(if self.0 == Level::Top { 8 } else { 16 }),
            ..Obj::default()
        };
        while let Some(Key(k)) = map.next_key()? {
            match role_of(self.0, &k) {
                Role::Records => {
                    o.records = Some(match map.next_value_seed(Records)? {
                        Parsed::Array(items) => Some(items),
                        _ => None,
                    });
                }
                Role::Tables => {
                    o.tables = true;
                    map.next_value::<IgnoredAny>()?;
                }
                Role::Props => {
                    let p = match map.next_value_seed(Node(Level::Props))? {
                        Parsed::Obj(p) => Some(p),
                        _ => None,
                    };
                    o.props.push((k, p));
                }
                Role::Field(f) => {
                    let v = map.next_value_seed(FieldValue)?;
                    o.fields.push((f, k, v));
                }
                Role::Ignored => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Parsed::Obj(o))
    }
}

/// A `records` value: a list of records, anything else skipped.
struct Records;

impl<'de> DeserializeSeed<'de> for Records {
    type Value = Parsed<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Parsed<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for Records {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Parsed<'de>, A::Error> {
        Node(Level::Top).visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Parsed::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }
    fn visit_unit<E>(self) -> Result<Parsed<'de>, E> {
        Ok(Parsed::Other)
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A field's value: scalars kept, lists and objects skipped and marked.
struct FieldValue;

impl<'de> DeserializeSeed<'de> for FieldValue {
    type Value = Fv<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Fv<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for FieldValue {
    type Value = Fv<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Fv<'de>, E> {
        Ok(Fv::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Fv<'de>, E> {
        Ok(Fv::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Fv<'de>, E> {
        // As `Value`'s `as_i64`, then `as_f64`.
        Ok(i64::try_from(u).map_or(Fv::Float(u as f64), Fv::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Fv<'de>, E> {
        Ok(Fv::Float(f))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Fv<'de>, E> {
        Ok(Fv::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Fv<'de>, E> {
        Ok(Fv::Str(Cow::Owned(s.to_string())))
    }
    fn visit_string<E>(self, s: String) -> Result<Fv<'de>, E> {
        Ok(Fv::Str(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<Fv<'de>, E> {
        Ok(Fv::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Fv<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Fv::Nested)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fv<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Fv::Nested)
    }
}

/// A whole document (see [`MAX_DOCUMENT_BYTES`]): every value in it, each at the line it starts on. When it does
/// not parse as a whole, its lines are read as JSON lines, bad lines skipped.
fn read_document(
    name: &str,
    bytes: &[u8],
    batcher: &mut RowBatcher<'_>,
    caps: Caps,
) -> anyhow::Result<()> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| user(format!("{name}: not UTF-8 text: {e}")))?;
    // First check that the whole text parses (nothing is read from a document that does not), noting where
    // each value starts and on which line; line numbers are counted on from the previous value.
    let mut values = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<IgnoredAny>();
    let (mut start, mut counted, mut line) = (0usize, 0usize, 1u64);
    loop {
        let before = start + text[start..].len() - text[start..].trim_start().len();
        match stream.next() {
            Some(Ok(_)) => {
                line += memchr::memchr_iter(b'\n', &bytes[counted..before]).count() as u64;
                counted = before;
                start = stream.byte_offset();
                values.push((line, before..start));
            }
            Some(Err(_)) => return read_lines(name, bytes, batcher, caps),
            None => break,
        }
    }
    let mut sink = FileSink { batcher, name };
    for (line, range) in values {
        let mut failed = None;
        let mut de = serde_json::Deserializer::from_str(&text[range]);
        let seed = DocValue {
            name,
            line,
            sink: &mut sink,
            failed: &mut failed,
        };
        let parsed = seed.deserialize(&mut de);
        if let Some(e) = failed {
            return Err(e);
        }
        parsed.map_err(|e| user(format!("{name}:{line}: {e}")))?;
    }
    Ok(())
}

/// One value of a document, read into the sink as it is parsed: the elements of a top-level array one at a
/// time (an `az` answer is one such array), any other value whole.
struct DocValue<'s, 'b, 'f> {
    name: &'s str,
    line: u64,
    sink: &'s mut FileSink<'b, 'f>,
    /// The sink's error, which a deserializer error cannot carry.
    failed: &'s mut Option<anyhow::Error>,
}

impl<'de> DeserializeSeed<'de> for DocValue<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl DocValue<'_, '_, '_> {
    fn take<E: de::Error>(self, v: &Value) -> Result<(), E> {
        value(self.name, self.line, v, self.sink).map_err(|e| {
            *self.failed = Some(e);
            E::custom("stopped")
        })
    }

    fn not_a_record<E>(self) -> Result<(), E> {
        self.sink
            .skip(self.line, "not a record", &"expected a JSON object");
        Ok(())
    }
}

impl<'de> de::Visitor<'de> for DocValue<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.not_a_record()
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.not_a_record()
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.not_a_record()
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.not_a_record()
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        self.not_a_record()
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.not_a_record()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            if let Err(e) = record(self.line, &v, self.sink) {
                *self.failed = Some(e);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // A `tables` key decides the object (as in `value`): its rows are streamed, the rest is dropped.
        // Other keys are kept, to be read as a record or a `records` envelope at the end.
        let mut rest = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if k.eq_ignore_ascii_case("tables") {
                map.next_value_seed(tables::TablesSeed {
                    name: self.name,
                    sink: &mut *self.sink,
                    failed: &mut *self.failed,
                })?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(());
            }
            rest.insert(k, map.next_value()?);
        }
        self.take(&Value::Object(rest))
    }
}

/// One value through `serde_json::Value`: a record, a `records` or `tables` envelope, or an array of records.
fn value(name: &str, line: u64, v: &Value, sink: &mut dyn Sink) -> anyhow::Result<()> {
    match v {
        Value::Object(obj) => {
            if let Some((_, t)) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case("tables")) {
                return tables::read_tables(name, t, sink);
            }
            if let Some(Value::Array(records)) = obj.get("records") {
                for r in records {
                    record(line, r, sink)?;
                }
                return Ok(());
            }
            record(line, v, sink)
        }
        Value::Array(items) => {
            for r in items {
                record(line, r, sink)?;
            }
            Ok(())
        }
        _ => {
            sink.skip(line, "not a record", &"expected a JSON object");
            Ok(())
        }
    }
}

/// One record: a diagnostic-setting record (fields under `properties`, plus `time`, `resourceId`, `category`)
/// or a row with Log Analytics column names at the top level.
fn record(line: u64, v: &Value, sink: &mut dyn Sink) -> anyhow::Result<()> {
    let Value::Object(obj) = v else {
        sink.skip(line, "not a record", &"expected a JSON object");
        return Ok(());
    };
    let mut map: HashMap<Field, &Value> = HashMap::with_capacity(24);
    collect(obj, &mut map);
    let props = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("properties"))
        .map(|(_, v)| v);
    let table = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("category"))
        .and_then(|(_, v)| v.as_str());
    if let Some(Value::Object(p)) = props {
        // Properties win over top-level keys of the same meaning.
        collect(p, &mut map);
    }
    let get = |f: Field| map.get(&f).and_then(|v| val(v));
    let mut row = super::Row::default();
    let mut legacy = crate::legacy::LegacyEvent::default();
    match fields::fill_row(&get, table, &mut row, &mut legacy, sink.core_only()) {
        Ok(()) => sink.push(&row, line),
        Err(problem) => {
            sink.skip(line, "bad record", &problem);
            Ok(())
        }
    }
}

fn collect<'a>(obj: &'a Map<String, Value>, map: &mut HashMap<Field, &'a Value>) {
    for (k, v) in obj {
        if v.is_null() {
            continue;
        }
        if let Some(f) = field_of(k) {
            map.insert(f, v);
        }
    }
}

#[cfg(test)]
mod tests;
