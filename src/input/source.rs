//! Opening one input as a stream: a file, a named pipe or process substitution (`-i <(zcat x.gz)`), or stdin
//! (`-i -`), plain or gzip-compressed. The first bytes (after decompression) are kept aside so the format is told
//! from the content before the rest is read; a regular uncompressed file can also be memory-mapped (Parquet).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::error::user;

/// The `--input` that names stdin.
pub const STDIN: &str = "-";

/// How stdin is named in messages and statistics.
pub const STDIN_NAME: &str = "<stdin>";

/// Bytes read ahead to tell the format: the Parquet magic, the first JSON character, or a CSV header line.
pub const HEAD_BYTES: usize = 64 << 10;

/// Largest Parquet file held in memory: one that arrives through gzip or a pipe cannot be mapped, and Parquet is
/// read from its end. 1 GiB is larger than any export fwlog writes or Azure produces per blob, yet fails clearly
/// before a decompression bomb takes the machine's memory; a larger file can be decompressed to disk first, and
/// files on disk are mapped whatever their size.
pub const MAX_PARQUET_IN_MEMORY: usize = 1 << 30;

/// An input, opened: its first bytes are at the start of `stream` and also in `head`.
pub struct Opened {
    pub head: Vec<u8>,
    pub stream: Head<Box<dyn Read + Send>>,
    /// The file, when it is a regular uncompressed file (which can be memory-mapped).
    pub file: Option<File>,
}

/// Open `path` (or stdin for [`STDIN`]); `name` is used in messages. Gzip is recognised by its magic bytes and
/// decompressed as it is read (every member of a concatenated file).
pub fn open(path: &Path, name: &str) -> anyhow::Result<Opened> {
    let cannot = |e: io::Error| user(format!("{name}: cannot read: {e}"));
    let (raw, file): (Box<dyn Read + Send>, Option<File>) = if path.as_os_str() == STDIN {
        (Box::new(io::stdin()), None)
    } else {
        let f = File::open(path).map_err(cannot)?;
        let regular = f.metadata().map_err(cannot)?.is_file();
        let mapped = if regular {
            Some(f.try_clone().map_err(cannot)?)
        } else {
            None
        };
        (Box::new(f), mapped)
    };
    let raw: Box<dyn Read + Send> = Box::new(Counted(raw));
    let plain = Head::new(Box::new(Tagged::new(raw, "cannot read")) as Box<dyn Read + Send>)
        .map_err(|e| user(format!("{name}: {e}")))?;
    if !plain.head().starts_with(&[0x1f, 0x8b]) {
        return Ok(Opened {
            head: plain.head().to_vec(),
            stream: plain,
            file,
        });
    }
    let inflated =
        flate2::bufread::MultiGzDecoder::new(io::BufReader::with_capacity(256 << 10, plain));
    let stream =
        Head::new(Box::new(Tagged::new(inflated, "not a valid gzip file")) as Box<dyn Read + Send>)
            .map_err(|e| user(format!("{name}: {e}")))?;
    Ok(Opened {
        head: stream.head().to_vec(),
        stream,
        file: None,
    })
}

/// Read a whole stream into memory, failing past `cap` bytes with a message from `too_large`.
pub fn read_capped(
    mut stream: impl Read,
    cap: usize,
    name: &str,
    too_large: impl FnOnce() -> String,
) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    (&mut stream)
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| user(format!("{name}: {e}")))?;
    if out.len() > cap {
        return Err(user(format!("{name}: {}", too_large())));
    }
    Ok(out)
}

/// A reader whose first bytes (up to [`HEAD_BYTES`], fewer at the end of the stream) were read ahead and are
/// handed out first.
pub struct Head<R> {
    head: Vec<u8>,
    pos: usize,
    inner: R,
}

impl<R: Read> Head<R> {
    pub fn new(mut inner: R) -> io::Result<Self> {
        let mut head = vec![0u8; HEAD_BYTES];
        let mut n = 0;
        // A pipe hands out what its writer wrote so far: read until the head is full or the stream ends.
        while n < head.len() {
            match inner.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        head.truncate(n);
        Ok(Head {
            head,
            pos: 0,
            inner,
        })
    }

    pub fn head(&self) -> &[u8] {
        &self.head
    }
}

impl<R: Read> Read for Head<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.head.len() {
            let n = buf.len().min(self.head.len() - self.pos);
            buf[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            if self.pos == self.head.len() {
                self.head = Vec::new();
                self.pos = 0;
            }
            return Ok(n);
        }
        self.inner.read(buf)
    }
}

/// An error that already says what went wrong reading (so an outer layer does not say it again).
#[derive(Debug)]
struct TaggedError(String);

impl std::fmt::Display for TaggedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TaggedError {}

/// A reader that reports the bytes it reads to the progress bar (as stored: compressed bytes of a `.gz`).
struct Counted<R>(R);

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        crate::messages::progress_bytes(n as u64);
        Ok(n)
    }
}

/// A reader whose errors say what was being read: "cannot read: …" for the file, "not a valid gzip file: …"
/// for the decompressor.
struct Tagged<R> {
    inner: R,
    what: &'static str,
}

impl<R> Tagged<R> {
    fn new(inner: R, what: &'static str) -> Self {
        Tagged { inner, what }
    }
}

impl<R: Read> Read for Tagged<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted
                || e.get_ref().is_some_and(|i| i.is::<TaggedError>())
            {
                e
            } else {
                io::Error::new(e.kind(), TaggedError(format!("{}: {e}", self.what)))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn head_is_read_ahead_and_handed_out_first() {
        let text: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut h = Head::new(&text[..]).unwrap();
        assert_eq!(h.head(), &text[..HEAD_BYTES]);
        let mut all = Vec::new();
        h.read_to_end(&mut all).unwrap();
        assert_eq!(all, text);
        let mut short = Head::new(&b"abc"[..]).unwrap();
        assert_eq!(short.head(), b"abc");
        let mut s = String::new();
        short.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
    }

    #[test]
    fn gzip_is_inflated_as_it_is_read_and_errors_name_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"a\":1}\n").unwrap();
        let mut bytes = gz.finish().unwrap();
        // A second member, as `cat a.gz b.gz` makes.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"b\":2}\n").unwrap();
        bytes.extend(gz.finish().unwrap());
        std::fs::write(&path, &bytes).unwrap();
        let mut o = open(&path, "x.json.gz").unwrap();
        assert!(o.file.is_none());
        assert_eq!(o.head, b"{\"a\":1}\n{\"b\":2}\n");
        let mut s = String::new();
        o.stream.read_to_string(&mut s).unwrap();
        assert_eq!(s, "{\"a\":1}\n{\"b\":2}\n");

        // Cut short: the error comes when the stream is read past the damage.
        let cut = &bytes[..bytes.len() / 2 + 3];
        let big: Vec<u8> = {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            for i in 0..200_000 {
                writeln!(gz, "{{\"n\":{i}}}").unwrap();
            }
            gz.finish().unwrap()
        };
        for damaged in [cut, &big[..big.len() - 100]] {
            std::fs::write(&path, damaged).unwrap();
            let e = match open(&path, "x.json.gz") {
                Err(e) => e.to_string(),
                Ok(mut o) => {
                    let mut sink = Vec::new();
                    format!(
                        "x.json.gz: {}",
                        o.stream.read_to_end(&mut sink).unwrap_err()
                    )
                }
            };
            assert!(e.starts_with("x.json.gz: not a valid gzip file: "), "{e}");
        }
    }

    #[test]
    fn regular_files_can_be_mapped_and_parquet_in_memory_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.parquet");
        std::fs::write(&path, b"PAR1....").unwrap();
        let o = open(&path, "a.parquet").unwrap();
        assert!(o.file.is_some());
        assert_eq!(o.head, b"PAR1....");
        let e = read_capped(&b"PAR1...."[..], 4, "p", || "too large".into()).unwrap_err();
        assert_eq!(e.to_string(), "p: too large");
        assert_eq!(crate::error::exit_code(&e), 2);
        assert_eq!(
            read_capped(&b"PAR1"[..], 4, "p", || "too large".into()).unwrap(),
            b"PAR1"
        );
    }
}
