//! Writing results: to stdout, to a device or FIFO as it is, or atomically to a file (a temporary file in the
//! same folder, renamed into place), so a reader never sees a half-written rule file or report.
//!
//! fwlog runs as root in pipelines, so `-o` must never replace what it does not own: `-o /dev/null` or a FIFO
//! is written through, a symlink keeps pointing where it did (its target is replaced atomically), an existing
//! file keeps its permissions, and an output that is also one of the inputs is refused before any work.
//! A temporary file left by a killed run carries the process id in its name and is removed by the next write
//! to the same output once that process is gone.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::error::user;

/// Where `-o PATH` leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    /// A character device or FIFO: written through, never replaced.
    Device(PathBuf),
    /// A regular file (existing or not), after following symlinks: replaced atomically.
    File(PathBuf),
}

/// Resolve `-o`: `None` or `-` is stdout; symlinks are followed to the file they name.
pub fn target(path: Option<&Path>) -> anyhow::Result<Target> {
    let Some(path) = path else {
        return Ok(Target::Stdout);
    };
    if path.as_os_str() == "-" {
        return Ok(Target::Stdout);
    }
    // The kernel follows the links itself first: `/dev/stdout` is `/proc/self/fd/1`, whose target names a pipe
    // (`pipe:[N]`) that is no path, so resolving the chain by hand took a pipe for a new file.
    if let Ok(m) = fs::metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if m.file_type().is_char_device() || m.file_type().is_fifo() {
            return Ok(Target::Device(path.to_path_buf()));
        }
    }
    let resolved = resolve_links(path)?;
    match fs::metadata(&resolved) {
        Ok(m) => {
            use std::os::unix::fs::FileTypeExt;
            let t = m.file_type();
            if t.is_char_device() || t.is_fifo() {
                Ok(Target::Device(resolved))
            } else if t.is_file() {
                Ok(Target::File(resolved))
            } else {
                Err(user(format!(
                    "{}: not a file fwlog can write (a folder, socket or block device)",
                    path.display()
                )))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Target::File(resolved)),
        Err(e) => Err(user(format!("{}: cannot write: {e}", path.display()))),
    }
}

/// Follow a chain of symlinks to the path they name (which may not exist yet); a loop is an error.
fn resolve_links(path: &Path) -> anyhow::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = fs::read_link(&p)
                    .map_err(|e| user(format!("{}: cannot read the link: {e}", p.display())))?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(user(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// Refuse an output that is one of the inputs (the same file, however it is named): writing it would destroy
/// the data being read.
pub fn check_not_input(out: Option<&Path>, inputs: &[PathBuf]) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Ok(Target::File(out)) = target(out) else {
        return Ok(());
    };
    let Ok(o) = fs::metadata(&out) else {
        return Ok(());
    };
    for i in inputs {
        if let Ok(m) = fs::metadata(i)
            && m.dev() == o.dev()
            && m.ino() == o.ino()
        {
            return Err(user(format!(
                "{}: the output is also an input ({}); choose another --output",
                out.display(),
                i.display()
            )));
        }
    }
    Ok(())
}

/// A file being written that appears under its name only when committed.
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
    permissions: Option<fs::Permissions>,
    /// Bytes written, and how many of them the kernel was asked to start writing to disk.
    written: u64,
    started: u64,
}

/// Writeback is started every this many bytes ([`AtomicFile::start_writeback`]).
const WRITEBACK_STEP: u64 = 4 << 20;

impl AtomicFile {
    /// Start writing `dest` (a regular file's path, symlinks already followed; see [`target`]).
    pub fn create(dest: &Path) -> anyhow::Result<AtomicFile> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(user(format!(
                "{}: the folder {} does not exist",
                dest.display(),
                dir.display()
            )));
        }
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        remove_stale(dir, &name);
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.fwlog-{}-", std::process::id()))
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        Ok(AtomicFile {
            tmp,
            dest: dest.to_path_buf(),
            permissions: fs::metadata(dest).ok().map(|m| m.permissions()),
            written: 0,
            started: 0,
        })
    }

    /// Ask the kernel to start writing what has been written so far to disk, without waiting: the `fsync` of
    /// [`AtomicFile::commit`] then waits for the last few MiB only instead of the whole file (a 33 MB report:
    /// 16 ms of a run's serial end). Only a hint: its failure changes nothing, `fsync` still decides.
    fn start_writeback(&mut self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let (from, len) = (self.started, self.written - self.started);
            // SAFETY: sync_file_range only starts writeback of a range of an open file descriptor.
            unsafe {
                libc::sync_file_range(
                    self.tmp.as_file().as_raw_fd(),
                    from as libc::off64_t,
                    len as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
        self.started = self.written;
    }

    /// Flush to disk and rename into place, keeping an existing file's permissions.
    pub fn commit(self) -> anyhow::Result<()> {
        let f = self.tmp.as_file();
        if let Some(p) = self.permissions {
            f.set_permissions(p)?;
        }
        f.sync_all()?;
        self.tmp
            .persist(&self.dest)
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {}", self.dest.display(), e.error))?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITEBACK_STEP {
            self.start_writeback();
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tmp.flush()
    }
}

/// Remove `.NAME.fwlog-PID-*.tmp` files whose process is gone (left by a killed run).
fn remove_stale(dir: &Path, name: &str) {
    let prefix = format!(".{name}.fwlog-");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if !file.ends_with(".tmp") || pid == std::process::id() as i32 {
            continue;
        }
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Write `bytes` atomically to `path` (a regular file).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

/// Write to `path` as [`target`] resolves it, or to stdout when there is none. A closed pipe on stdout is not
/// an error (`fwlog … | head`); any other failure to write is.
pub fn emit(path: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    emit_with(path, &mut |w| Ok(w.write_all(bytes)?))
}

/// [`emit`] for output written piece by piece: `write` gets a buffered writer straight to the file (written
/// atomically) or to stdout, so the whole output is never held in memory. Devices (`/dev/stdout`, a terminal)
/// get the bytes in one write.
pub fn emit_with(
    path: Option<&Path>,
    write: &mut dyn FnMut(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    const BUFFER: usize = 1 << 16;
    match target(path)? {
        Target::File(p) => {
            let mut f = AtomicFile::create(&p)?;
            {
                let mut w = std::io::BufWriter::with_capacity(BUFFER, &mut f);
                write(&mut w)?;
                w.flush()?;
            }
            f.commit()
        }
        Target::Device(p) => {
            let mut bytes = Vec::new();
            write(&mut bytes)?;
            let mut f = fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .map_err(|e| user(format!("{}: cannot write: {e}", p.display())))?;
            f.write_all(&bytes)
                .and_then(|_| f.flush())
                .map_err(|e| user(format!("{}: cannot write: {e}", p.display())))
        }
        Target::Stdout => {
            let mut out = Stdout {
                inner: std::io::stdout().lock(),
                closed: false,
                failed: None,
            };
            let result = {
                let mut w = std::io::BufWriter::with_capacity(BUFFER, &mut out);
                write(&mut w).and_then(|()| Ok(w.flush()?))
            };
            match (out.failed, result) {
                (Some(e), _) => Err(anyhow::anyhow!("cannot write to standard output: {e}")),
                (None, r) => r,
            }
        }
    }
}

/// Standard output for [`emit_with`]: once the reader has gone (`fwlog … | head`) the rest is dropped without
/// an error, as [`emit`] does; any other failure is kept to be reported as [`emit`] words it.
struct Stdout<'a> {
    inner: std::io::StdoutLock<'a>,
    closed: bool,
    failed: Option<std::io::Error>,
}

impl Write for Stdout<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            Err(e) => {
                let kind = e.kind();
                self.failed = Some(e);
                Err(kind.into())
            }
            ok => ok,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => {
                let kind = e.kind();
                self.failed = Some(e);
                Err(kind.into())
            }
            ok => ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_pipe_named_through_proc_is_a_device() {
        let mut fds = [0i32; 2];
        // SAFETY: pipe fills two descriptors, closed below.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let p = PathBuf::from(format!("/proc/self/fd/{}", fds[1]));
        let got = target(Some(&p)).unwrap();
        // SAFETY: the descriptors were opened above and are not used after.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        assert!(matches!(got, Target::Device(_)), "{got:?}");
    }
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    /// Writes that cross the writeback step several times (and one that straddles it) land whole and in order.
    #[test]
    fn a_large_file_is_written_whole_while_writeback_is_started() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.json");
        let mut f = AtomicFile::create(&p).unwrap();
        let mut want = Vec::new();
        for i in 0..11u32 {
            let piece: Vec<u8> = (0..(1 << 20) + i as usize * 4099)
                .map(|j| (j as u32 ^ i) as u8)
                .collect();
            f.write_all(&piece).unwrap();
            want.extend_from_slice(&piece);
        }
        assert!(f.started > 0 && f.started <= f.written && f.written == want.len() as u64);
        f.commit().unwrap();
        assert!(fs::read(&p).unwrap() == want);
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
        assert!(write_atomic(&dir.path().join("no/such/dir/x"), b"").is_err());
    }

    #[test]
    fn devices_are_written_through_and_links_keep_pointing() {
        // /dev/zero rather than /dev/null: other programs on a shared machine may write /dev/null.
        assert_eq!(
            target(Some(Path::new("/dev/zero"))).unwrap(),
            Target::Device("/dev/zero".into())
        );
        emit(Some(Path::new("/dev/zero")), b"x").unwrap();
        assert!(
            fs::metadata("/dev/zero").unwrap().permissions().mode() & 0o170000 == 0o020000,
            "/dev/zero is still a character device"
        );
        let fifo_dir = tempfile::tempdir().unwrap();
        let fifo = fifo_dir.path().join("out.fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid C string path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        emit(Some(&fifo), b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(target(Some(Path::new("-"))).unwrap(), Target::Stdout);
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.tf");
        fs::write(&real, "old").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.tf");
        std::os::unix::fs::symlink("real.tf", &link).unwrap();
        emit(Some(&link), b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        assert!(emit(Some(&a), b"x").is_err());
    }

    #[test]
    fn an_output_that_is_an_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("logs.json");
        fs::write(&input, "{}").unwrap();
        let link = dir.path().join("out.json");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let e = check_not_input(Some(&link), std::slice::from_ref(&input)).unwrap_err();
        assert!(e.to_string().contains("also an input"), "{e}");
        assert!(check_not_input(Some(&dir.path().join("new.json")), &[input]).is_ok());
    }

    #[test]
    fn stale_temporary_files_of_dead_runs_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // PIDs are below 2^22 on Linux: this one cannot be running.
        let stale = dir.path().join(".out.json.fwlog-99999999-abc.tmp");
        let mine = dir
            .path()
            .join(format!(".out.json.fwlog-{}-abc.tmp", std::process::id()));
        fs::write(&stale, "").unwrap();
        fs::write(&mine, "").unwrap();
        write_atomic(&dir.path().join("out.json"), b"x").unwrap();
        assert!(!stale.exists());
        assert!(mine.exists(), "a live run's file is left alone");
    }
}
