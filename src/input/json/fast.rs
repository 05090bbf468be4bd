//! The values [`super::line_values`] gives for a line, read without serde_json for the lines archives hold:
//! objects and arrays of records, no escapes. Anything else, or anything not certainly valid JSON, is left to
//! serde_json (`None`), which then words the error: this reader must never accept a line serde_json refuses nor
//! read a value otherwise. serde_json was 35% of a JSON-lines run, and looking keys up another 10%.
//!
//! It reads bytes, and takes only lines that are UTF-8: outside strings it takes ASCII alone, and a string with
//! bytes above ASCII is checked (the chunk is not: that pass over it was 5-8% of a run).

use std::borrow::Cow;

use super::{Fv, Level, Obj, Parsed, Role, role_of};
use crate::input::fields::Field;

/// Containers nested in a skipped value before giving up (serde_json itself refuses 128 in the values it reads):
/// skipping needs no stack, only one bit per level.
const MAX_SKIP_DEPTH: u32 = 64;

/// Key positions per level remembered by [`Keys`]: enough for any record, while an object of a million keys
/// does not copy them all.
const MAX_KEY_POSITIONS: usize = 256;

/// Emptied lists [`Spare`] keeps of each sort: more than a line of records needs.
const MAX_SPARE: usize = 64;

/// The values of the line at `start` of a chunk's `data` into `out` (empty on entry), as `line_values` would
/// give them for the line `Chunk::lines` cuts, and where that line ends (at its `\n`, `\r\n`, or a last `\r`):
/// the line is cut as it is read, sparing a search for its end (3% of a run). `None` (and `out` empty) when the
/// line is left to serde_json.
pub(super) fn line_values<'a>(
    data: &'a [u8],
    start: usize,
    keys: &mut Keys,
    spare: &mut Spare<'a>,
    out: &mut Vec<Parsed<'a>>,
) -> Option<usize> {
    let mut p = Parser {
        b: data,
        i: start,
        keys,
        spare,
    };
    let end = p.values(out);
    if end.is_none() {
        out.clear();
    }
    end
}

/// The keys of the objects last read at each level, by position, with their roles: the records of a file repeat
/// their keys in one order, so comparing a key with the one at its position before spares the case-insensitive
/// look-up. Two keys per position, so that two shapes of record (application and network rules) may alternate.
#[derive(Default)]
pub(super) struct Keys {
    levels: [Vec<[(String, Role); 2]>; 3],
}

impl Keys {
    /// The length and role of the key `rest` starts with (after its opening quote) when it is one of those seen at
    /// position `n` of an object at `level`. Those were read as strings, so the same bytes followed by a quote are
    /// the same string: a known key is neither scanned nor looked up.
    fn known(&mut self, level: Level, n: usize, rest: &[u8]) -> Option<(usize, Role)> {
        let ways = self.levels[level as usize].get_mut(n)?;
        let starts =
            |k: &str| rest.get(k.len()) == Some(&b'"') && same(&rest[..k.len()], k.as_bytes());
        if !starts(&ways[0].0) {
            if !starts(&ways[1].0) {
                return None;
            }
            ways.swap(0, 1);
        }
        Some((ways[0].0.len(), ways[0].1))
    }

    /// The role of a key not [`Self::known`] at its position, which it now is.
    fn learn(&mut self, level: Level, n: usize, key: &str) -> Role {
        let role = role_of(level, key);
        let seen = &mut self.levels[level as usize];
        if let Some(ways) = seen.get_mut(n) {
            ways.swap(0, 1);
            ways[0].0.clear();
            ways[0].0.push_str(key);
            ways[0].1 = role;
        } else if n == seen.len() && n < MAX_KEY_POSITIONS {
            seen.push([(key.to_owned(), role), (key.to_owned(), role)]);
        }
        role
    }
}

/// Emptied lists of the objects of lines read, for the next lines' objects (three allocations and frees per
/// record were 4% of a run).
#[derive(Default)]
pub(super) struct Spare<'a> {
    fields: Vec<Vec<(Field, Cow<'a, str>, Fv<'a>)>>,
    props: Vec<Vec<(Cow<'a, str>, Option<Obj<'a>>)>>,
}

impl<'a> Spare<'a> {
    /// Empties `values`, keeping the lists of its objects.
    pub(super) fn recycle(&mut self, values: &mut Vec<Parsed<'a>>) {
        values.iter_mut().for_each(|v| self.recycle_value(v));
        values.clear();
    }

    fn recycle_value(&mut self, v: &mut Parsed<'a>) {
        match v {
            Parsed::Obj(o) => self.recycle_obj(o),
            Parsed::Array(items) => items.iter_mut().for_each(|v| self.recycle_value(v)),
            Parsed::Other => {}
        }
    }

    fn recycle_obj(&mut self, o: &mut Obj<'a>) {
        for p in o.props.iter_mut().filter_map(|(_, p)| p.as_mut()) {
            self.recycle_obj(p);
        }
        if let Some(Some(items)) = &mut o.records {
            items.iter_mut().for_each(|v| self.recycle_value(v));
        }
        if self.fields.len() < MAX_SPARE {
            let mut fields = std::mem::take(&mut o.fields);
            fields.clear();
            self.fields.push(fields);
        }
        if o.props.capacity() > 0 && self.props.len() < MAX_SPARE {
            let mut props = std::mem::take(&mut o.props);
            props.clear();
            self.props.push(props);
        }
    }
}

struct Parser<'a, 'k> {
    b: &'a [u8],
    i: usize,
    keys: &'k mut Keys,
    spare: &'k mut Spare<'a>,
}

impl<'a> Parser<'a, '_> {
    /// The next byte, 0 at the end (which no rule but [`Self::values`]'s takes). No rule takes a line end either,
    /// nor do strings hold one, so nothing is read past the line.
    fn peek(&self) -> u8 {
        self.b.get(self.i).copied().unwrap_or(0)
    }

    /// The next byte after spaces (the only whitespace archives hold).
    fn ws(&mut self) -> u8 {
        while self.peek() == b' ' {
            self.i += 1;
        }
        self.peek()
    }

    /// Values one after another up to the line's end, as serde_json's stream reads them: objects and arrays need
    /// nothing between them.
    fn values(&mut self, out: &mut Vec<Parsed<'a>>) -> Option<usize> {
        loop {
            match self.ws() {
                b'{' => {
                    let o = self.object(Level::Top)?;
                    out.push(Parsed::Obj(o));
                }
                b'[' => {
                    let items = self.records()?;
                    out.push(Parsed::Array(items));
                }
                b'\n' => return Some(self.i),
                b'\r' if matches!(self.b.get(self.i + 1), None | Some(b'\n')) => {
                    return Some(self.i);
                }
                _ if self.i == self.b.len() => return Some(self.i),
                // A scalar of its own is no record; a stream of them has rules of its own.
                _ => return None,
            }
        }
    }

    /// An object at `self.i`, as `Node::visit_map` reads it.
    fn object(&mut self, level: Level) -> Option<Obj<'a>> {
        self.i += 1;
        let fields = self.spare.fields.pop();
        let mut o = Obj {
            fields: fields
                .unwrap_or_else(|| Vec::with_capacity(if level == Level::Top { 8 } else { 16 })),
            props: match level {
                Level::Props => Vec::new(),
                _ => self.spare.props.pop().unwrap_or_default(),
            },
            ..Obj::default()
        };
        if self.ws() == b'}' {
            self.i += 1;
            return Some(o);
        }
        for n in 0.. {
            let (key, role) = self.object_key(level, n)?;
            let at = self.ws();
            match role {
                Role::Field(f) => {
                    let v = self.field_value()?;
                    push(&mut o.fields, (f, Cow::Borrowed(key), v));
                }
                Role::Props => {
                    let p = if at == b'{' {
                        Some(self.object(Level::Props)?)
                    } else {
                        self.other()?;
                        None
                    };
                    o.props.push((Cow::Borrowed(key), p));
                }
                Role::Records => {
                    o.records = Some(if at == b'[' {
                        Some(self.records()?)
                    } else {
                        self.other()?;
                        None
                    });
                }
                // A saved response is read through `Value` anyway.
                Role::Tables => return None,
                Role::Ignored => self.skip()?,
            }
            match self.ws() {
                b',' => self.i += 1,
                b'}' => break,
                _ => return None,
            }
        }
        self.i += 1;
        Some(o)
    }

    /// A list of records at `self.i`: objects read, anything else `Other`.
    fn records(&mut self) -> Option<Vec<Parsed<'a>>> {
        self.i += 1;
        let mut items = Vec::new();
        if self.ws() == b']' {
            self.i += 1;
            return Some(items);
        }
        loop {
            if self.ws() == b'{' {
                let o = self.object(Level::Record)?;
                items.push(Parsed::Obj(o));
            } else {
                self.other()?;
                items.push(Parsed::Other);
            }
            match self.ws() {
                b',' => self.i += 1,
                b']' => break,
                _ => return None,
            }
        }
        self.i += 1;
        Some(items)
    }

    /// A value read as `Parsed::Other` (where no object is read): a number is read whole, as serde_json does,
    /// which refuses numbers beyond `f64`; anything else is only checked.
    fn other(&mut self) -> Option<()> {
        match self.ws() {
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => self.skip(),
        }
    }

    /// A field's value, as `FieldValue` reads it.
    fn field_value(&mut self) -> Option<Fv<'a>> {
        Some(match self.peek() {
            b'"' => Fv::Str(Cow::Borrowed(self.string()?)),
            b'-' | b'0'..=b'9' => self.number()?,
            b't' => {
                self.word(b"true")?;
                Fv::Bool(true)
            }
            b'f' => {
                self.word(b"false")?;
                Fv::Bool(false)
            }
            b'n' => {
                self.word(b"null")?;
                Fv::Null
            }
            b'[' | b'{' => {
                self.skip()?;
                Fv::Nested
            }
            _ => return None,
        })
    }

    /// The key at position `n` of an object at `level` and its role, up to its colon.
    fn object_key(&mut self, level: Level, n: usize) -> Option<(&'a str, Role)> {
        if self.ws() != b'"' {
            return None;
        }
        let start = self.i + 1;
        let (key, role) = match self.keys.known(level, n, &self.b[start..]) {
            Some((len, role)) => {
                self.i = start + len + 1;
                (known_text(&self.b[start..start + len]), role)
            }
            None => {
                let key = self.string()?;
                (key, self.keys.learn(level, n, key))
            }
        };
        (self.ws() == b':').then(|| self.i += 1)?;
        Some((key, role))
    }

    /// A key and its colon; spaces before it skipped.
    fn key(&mut self) -> Option<&'a str> {
        if self.ws() != b'"' {
            return None;
        }
        let key = self.string()?;
        (self.ws() == b':').then(|| self.i += 1)?;
        Some(key)
    }

    /// A string at `self.i`, a slice of the line: one with an escape (or a control character, which JSON
    /// refuses) is left to serde_json.
    fn string(&mut self) -> Option<&'a str> {
        let b = self.b;
        let start = self.i + 1;
        let end = start + ascii_len(&b[start..]);
        if b.get(end) != Some(&b'"') {
            return self.unicode_string(start, end);
        }
        self.i = end + 1;
        Some(known_text(&b[start..end]))
    }

    /// The rest of a string with bytes above ASCII from `end` on, which must be UTF-8 (kept apart: it is rare,
    /// and made the common path spill registers).
    #[cold]
    fn unicode_string(&mut self, start: usize, mut end: usize) -> Option<&'a str> {
        let b = self.b;
        while b.get(end).is_some_and(|c| *c >= 0x80) {
            end += 1;
            end += ascii_len(&b[end..]);
        }
        if b.get(end) != Some(&b'"') {
            return None;
        }
        self.i = end + 1;
        std::str::from_utf8(&b[start..end]).ok()
    }

    fn word(&mut self, word: &[u8]) -> Option<()> {
        self.b[self.i..]
            .starts_with(word)
            .then(|| self.i += word.len())
    }

    /// A number as serde_json's `deserialize_any` gives it (`parse_integer`): integers of 64 bits here, the rest
    /// by serde_json itself.
    fn number(&mut self) -> Option<Fv<'a>> {
        let start = self.i;
        let negative = self.peek() == b'-';
        self.i += usize::from(negative);
        let mut n = 0u64;
        match self.peek() {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                while let d @ b'0'..=b'9' = self.peek() {
                    match n
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(d - b'0')))
                    {
                        Some(m) => n = m,
                        None => return self.float(start),
                    }
                    self.i += 1;
                }
            }
            _ => return None,
        }
        if matches!(self.peek(), b'0'..=b'9' | b'.' | b'e' | b'E') {
            return self.float(start);
        }
        Some(if !negative {
            // `FieldValue::visit_u64`.
            i64::try_from(n).map_or_else(|_| Fv::Float(n as f64), Fv::Int)
        } else {
            // `parse_number`: -0 and what is below `i64::MIN` are floats.
            let neg = (n as i64).wrapping_neg();
            if neg >= 0 {
                Fv::Float(-(n as f64))
            } else {
                Fv::Int(neg)
            }
        })
    }

    /// A fraction, an exponent or an integer beyond 64 bits: serde_json's own reading of it, to the bit, and its
    /// refusal of what is no number or beyond `f64`.
    fn float(&mut self, start: usize) -> Option<Fv<'a>> {
        let len = self.b[start..]
            .iter()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(self.b.len() - start);
        let f: f64 = serde_json::from_slice(&self.b[start..start + len]).ok()?;
        self.i = start + len;
        Some(Fv::Float(f))
    }

    /// Past a value whose content is not kept, checked as serde_json's `IgnoredAny` checks it (which reads no
    /// number: `1e999` passes).
    fn skip(&mut self) -> Option<()> {
        // One bit per open container, set for an object.
        let mut open = 0u64;
        let mut depth = 0;
        loop {
            match self.ws() {
                b'"' => {
                    self.string()?;
                }
                b'-' | b'0'..=b'9' => self.skip_number()?,
                b't' => self.word(b"true")?,
                b'f' => self.word(b"false")?,
                b'n' => self.word(b"null")?,
                c @ (b'[' | b'{') => {
                    if depth == MAX_SKIP_DEPTH {
                        return None;
                    }
                    self.i += 1;
                    let object = c == b'{';
                    if self.ws() != if object { b'}' } else { b']' } {
                        depth += 1;
                        open = open << 1 | u64::from(object);
                        if object {
                            self.key()?;
                        }
                        continue;
                    }
                    self.i += 1;
                }
                _ => return None,
            }
            // After a value: close what ends here, then on to the next element.
            loop {
                if depth == 0 {
                    return Some(());
                }
                let in_object = open & 1 == 1;
                match self.ws() {
                    b',' => {
                        self.i += 1;
                        if in_object {
                            self.key()?;
                        }
                        break;
                    }
                    b'}' if in_object => {}
                    b']' if !in_object => {}
                    _ => return None,
                }
                self.i += 1;
                depth -= 1;
                open >>= 1;
            }
        }
    }

    /// Past a number, with serde_json's `ignore_integer` grammar.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == b'-' {
            self.i += 1;
        }
        match self.peek() {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == b'.' {
            self.i += 1;
            if !self.peek().is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        if matches!(self.peek(), b'e' | b'E') {
            self.i += 1;
            if matches!(self.peek(), b'+' | b'-') {
                self.i += 1;
            }
            if !self.peek().is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_ascii_digit() {
            self.i += 1;
        }
    }
}

/// `v.push(x)`, with `x` stored in place when there is room: built before a possible call to grow the vector,
/// a field was kept on the stack and copied back in 16-byte loads over 8-byte stores, a store-forwarding stall
/// (a third of `Parser::object`).
#[inline(always)]
fn push<T>(v: &mut Vec<T>, x: T) {
    #[cold]
    #[inline(never)]
    fn grow<T>(v: &mut Vec<T>, x: T) {
        v.push(x);
    }
    if v.len() < v.capacity() {
        v.push(x);
    } else {
        grow(v, x);
    }
}

/// Bytes seen to be UTF-8 as text: ASCII, or the same bytes as a key read before.
fn known_text(b: &[u8]) -> &str {
    debug_assert!(std::str::from_utf8(b).is_ok());
    // SAFETY: the callers' bytes are UTF-8 (see above).
    unsafe { std::str::from_utf8_unchecked(b) }
}

/// The bytes before the first quote, backslash, control character or byte above ASCII: 16 at a time where the
/// machine compares bytes in vectors (the scan was a tenth of a JSON-lines run 8 at a time), else 8 at a time
/// (as serde_json's `skip_to_escape`). Strings are mostly short, where `memchr` costs more than it saves; `b`
/// runs on to the end of the chunk, so even a short string is scanned in one vector.
fn ascii_len(b: &[u8]) -> usize {
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        while i + 16 <= b.len() {
            // SAFETY: the 16 bytes read, `b[i..i + 16]`, lie in `b`, and the load needs no alignment; SSE2, which
            // the instructions need, is part of every x86_64 machine.
            let hits = unsafe {
                let x = _mm_loadu_si128(b.as_ptr().add(i).cast());
                // Signed, the bytes above ASCII are below zero: one comparison finds them and the control bytes.
                let stop = _mm_or_si128(
                    _mm_or_si128(
                        _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8)),
                        _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8)),
                    ),
                    _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
                );
                _mm_movemask_epi8(stop) as u32
            };
            if hits != 0 {
                return i + hits.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    i + ascii_len_by_words(&b[i..])
}

/// [`ascii_len`] 8 bytes at a time. Each test below can flag a byte above a true hit, never below one, so the
/// lowest flag is exact.
fn ascii_len_by_words(b: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    let mut i = 0;
    while let Some(w) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(w.try_into().unwrap());
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let hit = (x.wrapping_sub(ONES * 0x20) & !x
            | quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | x)
            & (ONES << 7);
        if hit != 0 {
            return i + hit.trailing_zeros() as usize / 8;
        }
        i += 8;
    }
    i + b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
        .unwrap_or(b.len() - i)
}

/// Whether two keys are the same bytes: keys are short, compared in two words where a call to `memcmp` cost
/// more (2.5% of a run).
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap());
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap());
    match n {
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: the same lines on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'s>(&mut self, from: &[&'s str]) -> &'s str {
            from[self.below(from.len())]
        }
        fn pick_bytes<'s>(&mut self, from: &[&'s [u8]]) -> &'s [u8] {
            from[self.below(from.len())]
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
    }

    const KEYS: &[&str] = &[
        "time",
        "TIME",
        "TimeGenerated",
        "timestamp",
        "category",
        "Category",
        "CATEGORY",
        "resourceId",
        "operationName",
        "Type",
        "Protocol",
        "SourceIp",
        "sourceip",
        "SOURCEIP",
        "SourceIP_s",
        "SourcePort",
        "DestinationIp",
        "destination",
        "DestinationPort",
        "Fqdn",
        "fqdn",
        "FQDN",
        "Fqdn_s",
        "TargetUrl",
        "Action",
        "action",
        "msg",
        "msg_s",
        "Message",
        "count_",
        "hits",
        "kind",
        "Extra",
        "IsTlsInspected",
        "properties",
        "Properties",
        "PROPERTIES",
        "records",
        "Records",
        "RECORDS",
        "tables",
        "Tables",
        "",
        "é",
        "Fqdn\\u0073",
        "\\\"",
        "k\\u0065y",
        "\u{1}",
        "a b",
    ];

    const STRINGS: &[&str] = &[
        "\"\"",
        "\"Deny\"",
        "\"10.0.0.1\"",
        "\"2026-01-01T00:00:00Z\"",
        "\"mcr.microsoft.com\"",
        "\"é日本\"",
        "\"a\\\"b\"",
        "\"a\\\\b\"",
        "\"\\/\\b\\f\\n\\r\\t\"",
        "\"\\u0000\"",
        "\"\\u002e\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud83d\"",
        "\"\\ude00\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\",
        "\"tab\there\"",
        "\"ctl\u{1}\"",
        "\"del\u{7f}\"",
        "\"unterminated",
    ];

    const NUMBERS: &[&str] = &[
        "0",
        "-0",
        "1",
        "-1",
        "443",
        "01",
        "-01",
        "00",
        "1.0",
        "1.",
        ".5",
        "-",
        "+1",
        "1e5",
        "1E+5",
        "1e-5",
        "1e",
        "1e+",
        "1.5e3",
        "-0.0",
        "0.1",
        "1e999",
        "-1e999",
        "0x10",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "18446744073709551616",
        "-18446744073709551615",
        "-18446744073709551616",
        "123456789012345678901234567890",
        "1-2",
        "1.2.3",
        "2e308",
        "4.9e-324",
    ];

    const WORDS: &[&str] = &[
        "true", "false", "null", "tru", "nul", "True", "nulll", "fals",
    ];

    const SPACES: &[&str] = &["", "", "", " ", "  ", "\t", "\r", "\n", "\u{a0}", "\u{c}"];

    fn sp(r: &mut Rng) -> &'static str {
        if r.chance(85) { "" } else { r.pick(SPACES) }
    }

    /// Lists and objects broken in one place each.
    const BROKEN: &[&str] = &[
        "[1,]",
        "[,1]",
        "[1 2]",
        "[1,,2]",
        "[[]",
        "[]]",
        "[}",
        "{]",
        "{\"a\":1,}",
        "{,\"a\":1}",
        "{\"a\"}",
        "{\"a\":}",
        "{1:2}",
        "{\"a\":1 \"b\":2}",
        "{\"a\" 1}",
        "{\"a\":1}}",
        "{\"a\"::1}",
        "[1]]",
    ];

    fn value(r: &mut Rng, depth: u32) -> String {
        if r.chance(3) {
            return r.pick(BROKEN).to_string();
        }
        match r.below(if depth == 0 { 4 } else { 7 }) {
            0 => r.pick(STRINGS).to_string(),
            1 => r.pick(NUMBERS).to_string(),
            2 => r.pick(WORDS).to_string(),
            3 => r.pick(STRINGS).to_string(),
            4 | 5 => object(r, depth - 1),
            _ => {
                let n = r.below(4);
                let items: Vec<String> = (0..n).map(|_| value(r, depth - 1)).collect();
                let trailing = if r.chance(3) { "," } else { "" };
                format!(
                    "[{}{}{trailing}{}]",
                    sp(r),
                    items.join(&format!("{},{}", sp(r), sp(r))),
                    sp(r)
                )
            }
        }
    }

    fn object(r: &mut Rng, depth: u32) -> String {
        let n = r.below(7);
        let entries: Vec<String> = (0..n)
            .map(|_| {
                let k = r.pick(KEYS);
                let v = value(r, depth);
                format!("{}\"{k}\"{}:{}{v}", sp(r), sp(r), sp(r))
            })
            .collect();
        let trailing = if r.chance(3) { "," } else { "" };
        format!("{{{}{trailing}{}}}", entries.join(","), sp(r))
    }

    /// A record as archives hold it, in one of two shapes, with values that vary.
    fn record(r: &mut Rng) -> String {
        let ip = format!("10.{}.{}.{}", r.below(256), r.below(256), r.below(256));
        let (port, dport) = (
            r.below(65536),
            r.pick(&["443", "80", "53", "-0", "18446744073709551615"]),
        );
        let action = r.pick(&["Allow", "Deny", ""]);
        let time = format!(
            "2026-10-01T{:02}:{:02}:{:02}.{:06}+00:00",
            r.below(24),
            r.below(60),
            r.below(60),
            r.below(1_000_000)
        );
        let head = format!(
            r#""time":"{time}","resourceId":"/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/FW""#
        );
        if r.chance(60) {
            format!(
                r#"{{{head},"category":"AZFWApplicationRule","properties":{{"Protocol":"HTTPS","SourceIp":"{ip}","SourcePort":{port},"DestinationPort":{dport},"Fqdn":"mirror.portal{}.example.io","TargetUrl":"","Action":"{action}","Policy":"fwp","RuleCollectionGroup":"","RuleCollection":"","Rule":"","ActionReason":"Default Action","IsTlsInspected":false,"WebCategory":"","IsExplicitProxyRequest":{},"Extra":[1,{{"a":[]}}],"Nothing":null}}}}"#,
                r.below(1000),
                r.pick(&["true", "false", "null"]),
            )
        } else {
            format!(
                r#"{{{head},"category":"AZFWNetworkRule","properties":{{"Protocol":"TCP","SourceIp":"{ip}","SourcePort":{port},"DestinationIp":"204.36.51.{}","DestinationPort":{dport},"Action":"{action}","Policy":"","RuleCollectionGroup":"","RuleCollection":"","Rule":"","ActionReason":"","Ratio":{}}}}}"#,
                r.below(256),
                r.pick(&["0.5", "-2", "1e3", "7"]),
            )
        }
    }

    /// A realistic line: a record, an envelope of records, an array of them, or several values.
    fn realistic(r: &mut Rng) -> String {
        match r.below(6) {
            0..=2 => record(r),
            3 => format!("{{\"records\":[{},{}]}}", record(r), record(r)),
            4 => format!("[{}, {}]", record(r), record(r)),
            _ => format!("{} {}{}  ", record(r), record(r), record(r)),
        }
    }

    const HOSTILE: &[&str] = &[
        "\"",
        "\r",
        "\n",
        "\r\n",
        ",",
        ":",
        "{",
        "}",
        "[",
        "]",
        "\\",
        " ",
        "\t",
        "\u{1}",
        "é",
        "0",
        "-",
        ".",
        "e",
        "x",
        "n",
        ",}",
        ",]",
        "{}",
        "[]",
        "\"\":1",
        "\"records\":[{}]",
        "\"tables\":[]",
        "\\u0000",
    ];

    /// A realistic line broken somewhere, or values no archive holds.
    fn hostile(r: &mut Rng) -> String {
        let mut s = realistic(r);
        match r.below(12) {
            0 => {
                let at = boundary(&s, r.below(s.len() + 1));
                s.truncate(at);
            }
            1 | 2 => {
                let at = boundary(&s, r.below(s.len() + 1));
                s.insert_str(at, r.pick(HOSTILE));
            }
            3 => {
                let at = boundary(&s, r.below(s.len()));
                s.remove(at);
            }
            4 => s.push_str(r.pick(&[
                "x", " x", "{}", " {}", "1", " 1", "]", "}", ",", "\"s\"", " null", "\u{a0}",
                "\u{feff}", "\r", "\r ", " \r", "\r\r", "\r x", "\rx", "\r{}", "\t", "\n", "\n x",
                "\r\n", "\r\n x", "\n\r",
            ])),
            5 => {
                s = r
                    .pick(&[
                        "{}{}",
                        "{} {}",
                        "{} x",
                        "{}1",
                        "1",
                        "\"s\"",
                        "[]",
                        "[1,]",
                        "{,}",
                        "[{}]{}",
                        "",
                        "  ",
                        "{\"a\":1,}",
                        "{\"a\" 1}",
                        "{'a':1}",
                        "[,1]",
                    ])
                    .to_string()
            }
            6 => {
                let n = r
                    .pick(&[
                        "1", "62", "63", "64", "65", "126", "127", "128", "129", "300",
                    ])
                    .parse()
                    .unwrap();
                let (open, close) = if r.chance(50) {
                    ("[", "]")
                } else {
                    ("{\"a\":", "}")
                };
                let inner = format!("{}1{}", open.repeat(n), close.repeat(n));
                s = match r.below(4) {
                    0 => inner,
                    1 => format!("{{\"Extra\":{inner}}}"),
                    2 => format!("{{\"Fqdn\":{inner}}}"),
                    _ => format!("[{inner}]"),
                };
            }
            7 | 8 => s = object(r, 3),
            9 => s = format!("[{},{}]", object(r, 2), value(r, 2)),
            10 => {
                s = format!(
                    "{{\"records\":{},\"properties\":{}}}",
                    value(r, 2),
                    value(r, 2)
                )
            }
            _ => s = format!("{{\"properties\":{}}}", object(r, 2)),
        }
        s
    }

    fn boundary(s: &str, at: usize) -> usize {
        (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
    }

    /// What serde_json gives for the line, in the same form.
    fn by_serde(line: &str) -> Option<String> {
        let mut values = Vec::new();
        super::super::line_values(serde_json::Deserializer::from_str(line), &mut values)
            .ok()
            .map(|()| format!("{values:?}"))
    }

    /// The line `Chunk::lines` cuts from the start of `data`.
    fn first_line(data: &[u8]) -> &[u8] {
        let line = data.split(|b| *b == b'\n').next().unwrap();
        line.strip_suffix(b"\r").unwrap_or(line)
    }

    /// The fast parser's reading of the first line of `data` (a chunk's lines from there on), which must end where
    /// `Chunk::lines` ends that line, be UTF-8, and give what serde_json gives for it. The lists of its objects are
    /// kept in `spare` for the next lines, as a chunk's reader keeps them.
    fn ours<'a>(data: &'a [u8], keys: &mut Keys, spare: &mut Spare<'a>) -> Option<String> {
        let mut values = Vec::new();
        let end = line_values(data, 0, keys, spare, &mut values);
        assert!(end.is_some() || values.is_empty());
        let shown = String::from_utf8_lossy(data);
        let line = first_line(data);
        assert_eq!(&data[..end?], line, "{shown}");
        let line = std::str::from_utf8(line).unwrap_or_else(|e| panic!("{e}: {shown}"));
        let read = format!("{values:?}");
        assert_eq!(Some(&read), by_serde(line).as_ref(), "{shown}");
        spare.recycle(&mut values);
        Some(read)
    }

    /// Every line read here is read alike by serde_json, which refuses none of them; realistic lines are all read
    /// here. One key cache for all lines, as in a chunk, so that keys meet other spellings at their positions, and
    /// one store of emptied lists for a few hundred lines.
    #[test]
    fn reads_what_serde_json_reads_and_nothing_else() {
        let mut r = Rng(7);
        let mut keys = Keys::default();
        let (mut read, mut hostile_read, mut hostile_lines) = (0, 0, 0);
        for _ in 0..100 {
            // Each line as a chunk holds it: last, or followed by a line end and another line.
            let texts: Vec<(bool, String)> = (0..400)
                .flat_map(|i| {
                    let realistic_line = i % 4 == 0;
                    let line = if realistic_line {
                        realistic(&mut r)
                    } else {
                        hostile(&mut r)
                    };
                    let texts = [format!("{line}\n{{}}"), format!("{line}\r\n["), line];
                    texts.map(|t| (realistic_line, t))
                })
                .collect();
            let mut spare = Spare::default();
            for (realistic_line, text) in &texts {
                let fast = ours(text.as_bytes(), &mut keys, &mut spare);
                if *realistic_line {
                    assert!(fast.is_some(), "not read: {text}");
                } else {
                    hostile_lines += 1;
                    hostile_read += usize::from(fast.is_some());
                }
                read += usize::from(fast.is_some());
            }
        }
        // The hostile lines read are still many: the cases above are not all left to serde_json.
        assert!(
            hostile_read * 5 > hostile_lines,
            "{hostile_read} of {hostile_lines}"
        );
        assert!(read > 30_000);
    }

    /// Lines with bytes that are not UTF-8 (or are, above ASCII) put anywhere: read only when they are UTF-8.
    #[test]
    fn takes_only_utf8() {
        const ODD: &[&[u8]] = &[
            b"\xff",
            b"\xc3",
            b"\xc3(",
            b"\xe2\x82",
            b"\xed\xa0\x80",
            b"\xc0\xaf",
            b"\xf4\x90\x80\x80",
            b"\x80",
            "é".as_bytes(),
            "日本".as_bytes(),
            "😀".as_bytes(),
            "\u{85}".as_bytes(),
        ];
        let mut r = Rng(11);
        let mut keys = Keys::default();
        let lines: Vec<Vec<u8>> = (0..20_000)
            .map(|_| {
                let mut line = realistic(&mut r).into_bytes();
                for _ in 0..1 + r.below(2) {
                    let at = r.below(line.len() + 1);
                    line.splice(at..at, r.pick_bytes(ODD).iter().copied());
                }
                line
            })
            .collect();
        let mut spare = Spare::default();
        let (mut odd, mut read) = (0, 0);
        for line in &lines {
            odd += usize::from(std::str::from_utf8(line).is_err());
            read += usize::from(ours(line, &mut keys, &mut spare).is_some());
        }
        assert!(odd > 5_000 && read > 1_000, "{odd} {read}");
    }

    #[test]
    fn word_scans_agree_with_byte_loops() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ ~!#$%&'()*+,-./:;<=>?@[]^_`{|}";
        for len in 0..text.len() {
            let a = &text.as_bytes()[..len];
            assert!(same(a, a));
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!same(a, &b), "{len} {at}");
                for c in [b'"', b'\\', 0, 0x1f, b'\n', 0x80, 0xc3, 0xff] {
                    b[at] = c;
                    assert_eq!(ascii_len(&b), at, "{len} {at} {c}");
                }
            }
            assert_eq!(ascii_len(a), len);
            assert_eq!(ascii_len("\u{7f} ~".repeat(len).as_bytes()), 3 * len);
        }
    }

    /// Random bytes, mostly plain, with the bytes that end a scan here and there, at every offset and length:
    /// the vector scan, the word scan and a byte loop find the same first stop.
    #[test]
    fn scans_stop_where_a_byte_loop_stops() {
        let mut r = Rng(13);
        let by_bytes = |b: &[u8]| {
            b.iter()
                .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
        };
        for _ in 0..20_000 {
            let len = r.below(80);
            let b: Vec<u8> = (0..len)
                .map(|_| match r.below(40) {
                    0 => [b'"', b'\\', 0, 0x1f, 0x7f, 0x80, 0xc3, 0xff, b' ', b'~'][r.below(10)],
                    _ => b'a' + r.below(26) as u8,
                })
                .collect();
            let expected = by_bytes(&b).unwrap_or(b.len());
            assert_eq!(ascii_len(&b), expected, "{b:?}");
            assert_eq!(ascii_len_by_words(&b), expected, "{b:?}");
        }
    }

    #[test]
    fn deep_nesting_is_left_to_serde_json() {
        let mut keys = Keys::default();
        for line in [
            "[".repeat(100_000),
            format!("{{\"Extra\":{}}}", "[".repeat(100_000)),
        ] {
            assert_eq!(
                ours(line.as_bytes(), &mut keys, &mut Spare::default()),
                None
            );
            assert_eq!(by_serde(&line), None);
        }
        let deep = format!("{{\"Extra\":{}{}}}", "[".repeat(64), "]".repeat(64));
        assert!(ours(deep.as_bytes(), &mut keys, &mut Spare::default()).is_some());
    }
}
