//! Text inputs as streams of lines, with a cap on one line: [`LineChunker`] cuts a stream into chunks of whole
//! lines (JSON lines are parsed a chunk per worker), [`CappedLines`] guards a reader that parses on its own (CSV),
//! and [`in_parallel`] builds chunks on every core and hands the results back in input order.
//!
//! Line numbers are carried along, never recounted from the start of the file: a chunk knows the number of its
//! first line, and a line longer than the cap is not kept — an empty placeholder line takes its place so the
//! numbers of the lines after it stay exact, and the chunk lists it to be reported.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Longest line fwlog reads (JSON lines, CSV rows). A record of a firewall log is well under 100 KiB (a legacy
/// message is a few hundred bytes, an Event Hub body holds at most 1 MB of records); 64 MiB is far above any
/// real line yet keeps one line, with its parsed copy, at a size any machine can hold. A longer line is not
/// buffered: it is passed over to its end and reported.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Bytes of whole lines per chunk handed to a worker: a few MiB is thousands of records, so the per-chunk cost
/// (a canonical part, the pre-aggregation) is small against the parsing, while the chunks in flight
/// ([`CHUNKS_IN_FLIGHT_PER_WORKER`]) stay a few tens of MiB.
pub const CHUNK_BYTES: usize = 2 << 20;

/// Chunks read ahead of the one being taken, per worker: enough that no worker waits for the reader.
pub const CHUNKS_IN_FLIGHT_PER_WORKER: usize = 2;

/// How much is asked of the reader at once.
const READ_BYTES: usize = 256 << 10;

/// Whole lines of a stream: the bytes, the number of the first line, and the lines passed over for their size
/// (each left as an empty line in [`Chunk::data`]).
#[derive(Debug, Default)]
pub struct Chunk {
    /// A buffer of the reader's: the lines are `buf[..len]`, the rest is room read into before (see [`Pool`]).
    buf: Vec<u8>,
    len: usize,
    pub first_line: u64,
    /// Numbers of the lines longer than the cap, ascending.
    pub oversized: Vec<u64>,
}

impl Drop for Chunk {
    fn drop(&mut self) {
        POOL.give(std::mem::take(&mut self.buf));
    }
}

impl Chunk {
    /// The bytes of the chunk's lines.
    pub fn data(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The lines with their numbers, without their line ends (`\n` or `\r\n`); the last one may lack its end.
    /// Only the tests' reference now: the JSON reader cuts lines as it parses them, and its tests check the
    /// cuts against this.
    #[cfg(test)]
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let data = self.data();
        let mut rest = data;
        let mut n = self.first_line;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = next;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            n += 1;
            Some((n - 1, line))
        })
    }

    /// Whether line `n` of this chunk was passed over for its size.
    pub fn is_oversized(&self, n: u64) -> bool {
        self.oversized.binary_search(&n).is_ok()
    }
}

/// Buffers of chunks read, kept for the next chunks: reading straight into a buffer that is already initialized
/// (and already faulted in) spares copying every read from a scratch buffer, growing a new buffer by doubling
/// and zeroing fresh room for each read (the reader thread was a third of a JSON-lines run, two cores busy).
/// Shared by every file read, so that each file does not start with fresh buffers; only buffers of the size
/// chunkers ask for are kept, and at most [`MAX_POOLED`] of them.
struct Pool(Mutex<Vec<Vec<u8>>>);

/// Buffers kept by [`POOL`]: more than the chunks in flight on a small machine, few enough that what is kept
/// after reading (a few MiB each) does not matter on a large one.
const MAX_POOLED: usize = 16;

/// The size of the buffers kept: those of chunkers of [`CHUNK_BYTES`] (see [`LineChunker::buffer_len`]).
const POOLED_LEN: usize = CHUNK_BYTES + 2 * READ_BYTES;

static POOL: Pool = Pool(Mutex::new(Vec::new()));

impl Pool {
    /// A buffer of `len` initialized bytes (what was read into it before, or zeros).
    fn take(&self, len: usize) -> Vec<u8> {
        let kept = if len == POOLED_LEN {
            self.0.lock().ok().and_then(|mut p| p.pop())
        } else {
            None
        };
        kept.unwrap_or_else(|| vec![0u8; len])
    }

    fn give(&self, buf: Vec<u8>) {
        if buf.len() != POOLED_LEN {
            return;
        }
        if let Ok(mut p) = self.0.lock()
            && p.len() < MAX_POOLED
        {
            p.push(buf);
        }
    }
}

/// Cuts a stream into [`Chunk`]s of whole lines of about `target` bytes; lines longer than `cap` are skipped to
/// their end without being buffered.
pub struct LineChunker<R> {
    reader: R,
    cap: usize,
    target: usize,
    /// Whole lines not yet handed out, then the start of the current line, in `pending[..filled]`; the rest of
    /// `pending` is initialized room that reads land in.
    pending: Vec<u8>,
    filled: usize,
    /// Where the current (unfinished) line starts in `pending`.
    line_start: usize,
    /// Number of the first line in `pending`.
    first_line: u64,
    /// Lines in `pending[..line_start]`.
    lines_pending: u64,
    oversized: Vec<u64>,
    /// Passing over a line longer than the cap, to its end.
    skipping: bool,
    eof: bool,
}

impl<R: Read> LineChunker<R> {
    pub fn new(reader: R, cap: usize, target: usize) -> Self {
        LineChunker {
            reader,
            cap,
            target: target.max(1),
            pending: Vec::new(),
            filled: 0,
            line_start: 0,
            first_line: 1,
            lines_pending: 0,
            oversized: Vec::new(),
            skipping: false,
            eof: false,
        }
    }

    /// The size of a buffer: a chunk's lines, the read that passes the target, and the start of the next line.
    fn buffer_len(&self) -> usize {
        self.target + 2 * READ_BYTES
    }

    /// The next chunk, `None` at the end of the stream.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        while !self.eof && self.line_start < self.target {
            self.fill()?;
        }
        if self.eof && self.filled == 0 {
            return Ok(None);
        }
        // At the end the unfinished last line (no final newline) goes too.
        let cut = if self.eof {
            self.filled
        } else {
            self.line_start
        };
        let rest = self.filled - cut;
        // The last chunk leaves nothing to read into.
        let mut next = if self.eof {
            Vec::new()
        } else {
            POOL.take(self.buffer_len())
        };
        if !self.eof && next.len() < rest + READ_BYTES {
            next.resize(rest + READ_BYTES, 0);
        }
        next[..rest].copy_from_slice(&self.pending[cut..self.filled]);
        let buf = std::mem::replace(&mut self.pending, next);
        self.filled = rest;
        let lines = self.lines_pending
            + u64::from(self.eof && buf[..cut].last().is_some_and(|b| *b != b'\n'));
        let chunk = Chunk {
            buf,
            len: cut,
            first_line: self.first_line,
            oversized: std::mem::take(&mut self.oversized),
        };
        self.first_line += lines;
        self.lines_pending = 0;
        self.line_start -= cut.min(self.line_start);
        Ok(Some(chunk))
    }

    /// Room for `n` more bytes after `filled`. The first buffer comes from the pool; a long line grows it at once
    /// to all the cap allows, instead of doubling (which could reserve twice the cap and, where the allocator
    /// copies, briefly touch it twice).
    fn room(&mut self, n: usize) {
        let need = self.filled + n;
        if self.pending.len() >= need {
            return;
        }
        if self.pending.is_empty() {
            self.pending = POOL.take(self.buffer_len());
            if self.pending.len() >= need {
                return;
            }
        }
        let most = self.line_start + self.cap + READ_BYTES;
        let grown = if self.filled - self.line_start > self.target {
            most
        } else {
            (2 * self.pending.len()).min(most)
        };
        self.pending.resize(grown.max(need), 0);
    }

    /// Read once more into `pending`, finding line ends; a line growing past the cap is dropped to its end.
    fn fill(&mut self) -> io::Result<()> {
        if self.skipping {
            return self.skip_to_line_end();
        }
        self.room(READ_BYTES);
        let old = self.filled;
        let n = read_retrying(&mut self.reader, &mut self.pending[old..old + READ_BYTES])?;
        self.filled += n;
        if n == 0 {
            self.eof = true;
            return Ok(());
        }
        self.scan(old);
        Ok(())
    }

    /// Find the line ends from `from` on: a finished line longer than the cap is emptied, an unfinished one
    /// longer than the cap is dropped and the rest of it skipped by the next reads.
    fn scan(&mut self, from: usize) {
        let mut at = from;
        while let Some(i) = memchr::memchr(b'\n', &self.pending[at..self.filled]) {
            let end = at + i;
            if end - self.line_start > self.cap {
                self.pending.copy_within(end..self.filled, self.line_start);
                self.filled -= end - self.line_start;
                self.oversized.push(self.first_line + self.lines_pending);
                at = self.line_start + 1;
            } else {
                at = end + 1;
            }
            self.lines_pending += 1;
            self.line_start = at;
        }
        if self.filled - self.line_start > self.cap {
            self.filled = self.line_start;
            // Give the line's memory back now rather than with the chunk.
            let len = self.buffer_len().max(self.filled + READ_BYTES);
            if self.pending.len() > len {
                self.pending.truncate(len);
                self.pending.shrink_to_fit();
            }
            self.skipping = true;
        }
    }

    /// Read and forget up to the end of the line being skipped; it becomes an empty line, and what follows its
    /// end is kept.
    fn skip_to_line_end(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; READ_BYTES];
        loop {
            let n = read_retrying(&mut self.reader, &mut buf)?;
            let end = memchr::memchr(b'\n', &buf[..n]);
            if n > 0 && end.is_none() {
                continue;
            }
            self.skipping = false;
            self.oversized.push(self.first_line + self.lines_pending);
            self.room(1);
            self.pending[self.filled] = b'\n';
            self.filled += 1;
            self.lines_pending += 1;
            self.line_start = self.filled;
            match end {
                Some(i) => {
                    let old = self.filled;
                    let tail = &buf[i + 1..n];
                    self.room(tail.len());
                    self.pending[old..old + tail.len()].copy_from_slice(tail);
                    self.filled += tail.len();
                    self.scan(old);
                }
                None => self.eof = true,
            }
            return Ok(());
        }
    }
}

/// A size for messages: whole MiB, or bytes below one.
pub fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

fn read_retrying(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A line longer than the cap, met by [`CappedLines`].
#[derive(Debug)]
pub struct LineTooLong {
    pub line: u64,
    pub cap: usize,
}

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} is longer than {}", self.line, size(self.cap))
    }
}

impl std::error::Error for LineTooLong {}

/// A reader that fails with [`LineTooLong`] (inside an `io::Error`) as soon as a line grows past the cap, so a
/// parser that buffers a whole line (the CSV reader) never holds more than that.
pub struct CappedLines<R> {
    inner: R,
    cap: usize,
    line: u64,
    since_newline: usize,
}

impl<R: Read> CappedLines<R> {
    pub fn new(inner: R, cap: usize) -> Self {
        CappedLines {
            inner,
            cap,
            line: 1,
            since_newline: 0,
        }
    }
}

impl<R: Read> Read for CappedLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut from = 0;
        for i in memchr::memchr_iter(b'\n', &buf[..n]) {
            if self.since_newline + (i - from) > self.cap {
                break;
            }
            self.line += 1;
            self.since_newline = 0;
            from = i + 1;
        }
        self.since_newline += n - from;
        if self.since_newline > self.cap {
            return Err(io::Error::other(LineTooLong {
                line: self.line,
                cap: self.cap,
            }));
        }
        Ok(n)
    }
}

/// Run `build` on every chunk of `chunker`, on every core, and hand each result to `take` in input order. The
/// reader stays at most a few chunks ahead of `take`, so memory is bounded whatever the input size. A read
/// error is handed over in its place in the order (after the results of the chunks before it).
pub fn in_parallel<R, T>(
    mut chunker: LineChunker<R>,
    build: &(dyn Fn(Chunk) -> anyhow::Result<T> + Sync),
    read_error: &(dyn Fn(io::Error) -> anyhow::Error + Sync),
    take: &mut dyn FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<()>
where
    R: Read + Send,
    T: Send,
{
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let in_flight = workers * CHUNKS_IN_FLIGHT_PER_WORKER + 1;
    let (token_tx, token_rx) = mpsc::channel::<()>();
    for _ in 0..in_flight {
        let _ = token_tx.send(());
    }
    let (work_tx, work_rx) = mpsc::channel::<(usize, Chunk)>();
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = mpsc::channel::<(usize, anyhow::Result<T>)>();
    std::thread::scope(|scope| {
        let done = done_tx.clone();
        scope.spawn(move || {
            let mut i = 0usize;
            // A token per chunk: `take` gives one back for each result it takes.
            while token_rx.recv().is_ok() {
                match chunker.next_chunk() {
                    Ok(Some(chunk)) => {
                        if work_tx.send((i, chunk)).is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = done.send((i, Err(read_error(e))));
                        break;
                    }
                }
                i += 1;
            }
        });
        for _ in 0..workers {
            let (work_rx, done) = (work_rx.clone(), done_tx.clone());
            scope.spawn(move || {
                loop {
                    // The lock is held only to take the next chunk; a poisoned lock means a worker panicked,
                    // which the scope reports when it ends.
                    let next = match work_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok((i, chunk)) = next else { break };
                    if done.send((i, build(chunk))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        // The receiver and the token sender move into the closure: when taking stops (at the end or on an
        // error) they are dropped, and the reader and the workers stop at their next send or receive.
        let take_all = move || -> anyhow::Result<()> {
            let mut pending = BTreeMap::new();
            let mut want = 0usize;
            for (i, result) in done_rx {
                pending.insert(i, result);
                while let Some(result) = pending.remove(&want) {
                    take(result?)?;
                    let _ = token_tx.send(());
                    want += 1;
                }
            }
            Ok(())
        };
        take_all()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every chunk of `text` read in reads of `step` bytes with the given cap and target.
    fn chunks(text: &[u8], cap: usize, target: usize, step: usize) -> Vec<Chunk> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(self.1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut c = LineChunker::new(Trickle(text, step), cap, target);
        let mut out = Vec::new();
        while let Some(ch) = c.next_chunk().unwrap() {
            out.push(ch);
        }
        out
    }

    /// (line number, text) of every line of every chunk, and the oversized line numbers.
    fn lines_of(chunks: &[Chunk]) -> (Vec<(u64, String)>, Vec<u64>) {
        let mut lines = Vec::new();
        let mut over = Vec::new();
        for c in chunks {
            for (n, l) in c.lines() {
                lines.push((n, String::from_utf8_lossy(l).into_owned()));
            }
            over.extend(&c.oversized);
        }
        (lines, over)
    }

    #[test]
    fn line_numbers_are_exact_across_chunk_boundaries_whatever_the_read_sizes() {
        let text: String = (1..=1000).map(|i| format!("line {i}\n")).collect();
        for (target, step) in [(1, 1), (7, 3), (64, 5), (100, 4096), (1 << 20, 13)] {
            let cs = chunks(text.as_bytes(), 1 << 10, target, step);
            let (lines, over) = lines_of(&cs);
            assert!(over.is_empty());
            assert_eq!(lines.len(), 1000, "target {target} step {step}");
            for (n, l) in &lines {
                assert_eq!(l, &format!("line {n}"), "target {target} step {step}");
            }
            // Chunks hold whole lines only.
            for c in &cs {
                assert!(c.data().ends_with(b"\n"));
            }
        }
    }

    #[test]
    fn buffers_read_into_again_show_nothing_of_what_they_held() {
        // Chunks of the size whose buffers are kept, dropped, and their buffers read into again by the next
        // stream: a long text, then a short one and one without a final newline, whose chunks end before the
        // old bytes do.
        let long: String = (0..120_000)
            .map(|i| format!("line {i:07} of a long text, padded out\n"))
            .collect();
        let short: String = (0..100_000).map(|i| format!("{i}\n")).collect();
        let unended = format!("{short}no end");
        for (text, step) in [
            (&long, READ_BYTES),
            (&short, 1000),
            (&long, 4097),
            (&unended, READ_BYTES),
        ] {
            let cs = chunks(text.as_bytes(), MAX_LINE_BYTES, CHUNK_BYTES, step);
            assert!(cs.len() > 1 || text.len() < CHUNK_BYTES);
            let joined: Vec<u8> = cs.iter().flat_map(|c| c.data().iter().copied()).collect();
            assert_eq!(joined, text.as_bytes(), "step {step}");
            let (lines, _) = lines_of(&cs);
            assert_eq!(lines.len(), text.lines().count());
            for ((n, l), expected) in lines.iter().zip(text.lines()) {
                assert_eq!(l, expected, "line {n}");
            }
        }
    }

    #[test]
    fn crlf_missing_final_newline_and_blank_lines() {
        let cs = chunks(b"a\r\n\r\nb\nlast", 100, 1, 2);
        let (lines, _) = lines_of(&cs);
        assert_eq!(
            lines,
            vec![
                (1, "a".to_string()),
                (2, String::new()),
                (3, "b".to_string()),
                (4, "last".to_string()),
            ]
        );
        assert!(chunks(b"", 100, 1, 2).is_empty());
        let (lines, _) = lines_of(&chunks(b"\n\n", 100, 10, 1));
        assert_eq!(lines, vec![(1, String::new()), (2, String::new())]);
    }

    #[test]
    fn a_bom_is_kept_for_the_reader_to_strip() {
        // The chunker is format-blind: the JSON and CSV readers strip the BOM of the first line.
        let (lines, _) = lines_of(&chunks("\u{feff}{}\n{}".as_bytes(), 100, 1, 1));
        assert_eq!(lines[0], (1, "\u{feff}{}".to_string()));
        assert_eq!(lines[1], (2, "{}".to_string()));
    }

    #[test]
    fn lines_over_the_cap_are_dropped_counted_and_later_lines_keep_their_numbers() {
        let long = "x".repeat(50);
        for step in [1, 3, 8, 17, 64, 4096] {
            let text = format!("a\n{long}\nb\n{long}{long}\r\nc\n{long}");
            let cs = chunks(text.as_bytes(), 20, 4, step);
            let (lines, over) = lines_of(&cs);
            assert_eq!(over, vec![2, 4, 6], "step {step}");
            let kept: Vec<_> = lines.iter().filter(|(_, l)| !l.is_empty()).collect();
            assert_eq!(
                kept,
                vec![
                    &(1, "a".to_string()),
                    &(3, "b".to_string()),
                    &(5, "c".to_string())
                ],
                "step {step}"
            );
            for (n, l) in &lines {
                if over.contains(n) {
                    assert!(l.is_empty());
                    assert!(cs.iter().any(|c| c.is_oversized(*n)));
                }
            }
        }
        // A line of exactly the cap is kept.
        let (lines, over) = lines_of(&chunks(
            format!("{}\n", "y".repeat(20)).as_bytes(),
            20,
            4,
            3,
        ));
        assert!(over.is_empty());
        assert_eq!(lines[0].1.len(), 20);
    }

    #[test]
    fn an_oversized_line_is_never_held() {
        // A reader of 128 MiB of one line: the chunker must not grow past the cap (a few reads), whatever the
        // length of the line.
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    let msg = b"\n{\"ok\":1}\n";
                    let n = msg.len().min(buf.len());
                    buf[..n].copy_from_slice(&msg[..n]);
                    self.0 = u64::MAX;
                    return Ok(n);
                }
                if self.0 == u64::MAX {
                    return Ok(0);
                }
                let n = (buf.len() as u64).min(self.0) as usize;
                buf[..n].fill(b'z');
                self.0 -= n as u64;
                Ok(n)
            }
        }
        let mut c = LineChunker::new(Endless(128 << 20), 1 << 20, 1 << 16);
        let mut all = Vec::new();
        while let Some(ch) = c.next_chunk().unwrap() {
            assert!(ch.buf.capacity() < 4 << 20, "{}", ch.buf.capacity());
            all.push(ch);
        }
        let (lines, over) = lines_of(&all);
        assert_eq!(over, vec![1]);
        assert_eq!(lines.last().unwrap(), &(2, "{\"ok\":1}".to_string()));
    }

    #[test]
    fn capped_lines_name_the_line_past_the_cap() {
        let text = format!("a,b\n1,2\n{}\n3,4\n", "z".repeat(30));
        let mut r = CappedLines::new(text.as_bytes(), 20);
        let mut out = Vec::new();
        let e = r.read_to_end(&mut out).unwrap_err();
        let inner = e.get_ref().unwrap().downcast_ref::<LineTooLong>().unwrap();
        assert_eq!(inner.line, 3);
        let mut ok = CappedLines::new(&b"a,b\n1,2"[..], 3);
        ok.read_to_end(&mut out).unwrap();
    }

    #[test]
    fn results_come_back_in_input_order() {
        let text: String = (1..=5000).map(|i| format!("{i}\n")).collect();
        let chunker = LineChunker::new(text.as_bytes(), 100, 64);
        let mut seen = Vec::new();
        in_parallel(
            chunker,
            &|c: Chunk| {
                Ok(c.lines()
                    .map(|(n, l)| (n, std::str::from_utf8(l).unwrap().parse::<u64>().unwrap()))
                    .collect::<Vec<_>>())
            },
            &|e| e.into(),
            &mut |v: Vec<(u64, u64)>| {
                seen.extend(v);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen.len(), 5000);
        assert!(
            seen.iter()
                .enumerate()
                .all(|(i, (n, v))| *n == i as u64 + 1 && n == v)
        );
    }

    #[test]
    fn an_error_stops_everything_and_comes_after_the_results_before_it() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("broken stream"));
                }
                self.0 -= 1;
                let n = buf.len().min(10);
                buf[..n].copy_from_slice(&b"123456789\n"[..n]);
                Ok(n)
            }
        }
        let mut taken = 0;
        let e = in_parallel(
            LineChunker::new(Failing(50), 100, 1),
            &|c: Chunk| Ok(c.lines().count()),
            &|e| anyhow::anyhow!("read: {e}"),
            &mut |n| {
                taken += n;
                Ok(())
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "read: broken stream");
        assert_eq!(taken, 50);
        // An error in taking stops the reader and the workers too (the call returns).
        let text: String = (1..=100_000).map(|i| format!("{i}\n")).collect();
        let e = in_parallel(
            LineChunker::new(text.as_bytes(), 100, 16),
            &|c: Chunk| Ok(c.first_line),
            &|e| e.into(),
            &mut |first| {
                if first > 500 {
                    anyhow::bail!("stop at {first}")
                }
                Ok(())
            },
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("stop at"));
    }
}
