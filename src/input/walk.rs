//! Walking input folders safely: symbolic links are followed, but a folder reached again (a link to itself or
//! to a folder above it, two links forming a loop) is read once, and special files (named pipes, sockets,
//! devices) are never opened — opening a pipe nobody writes to would block the run. What is passed over is
//! listed with the reason.

use std::collections::HashSet;
use std::path::Path;

use super::{Discovered, LOG_EXTENSIONS};

/// Why a folder reached again is not read again.
pub const REPEATED_FOLDER: &str =
    "a folder already read: a symbolic link loop or a second link to it";

/// Why a file is passed over for its ending.
pub const NOT_A_LOG_ENDING: &str = "not a log file ending";

/// Walk `dir` recursively in name order, hidden entries skipped: log files are kept, the rest passed over.
pub fn walk(dir: &Path, found: &mut Discovered) -> std::io::Result<()> {
    let mut seen = HashSet::new();
    walk_in(dir, found, &mut seen)
}

fn walk_in(
    dir: &Path,
    found: &mut Discovered,
    seen: &mut HashSet<FolderId>,
) -> std::io::Result<()> {
    if !seen.insert(folder_id(dir)?) {
        found.pass_over(dir, REPEATED_FOLDER);
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            walk_in(&p, found, seen)?;
        } else if let Some(kind) = special(&p) {
            found.pass_over(&p, kind);
        } else if !p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| LOG_EXTENSIONS.iter().any(|l| l.eq_ignore_ascii_case(x)))
        {
            found.pass_over(&p, NOT_A_LOG_ENDING);
        } else {
            // A dangling link lands here too: opening it fails with an error naming it.
            found.files.push(p);
        }
    }
    Ok(())
}

/// What a folder is, whatever path reached it.
#[cfg(unix)]
type FolderId = (u64, u64);
#[cfg(not(unix))]
type FolderId = std::path::PathBuf;

#[cfg(unix)]
fn folder_id(dir: &Path) -> std::io::Result<FolderId> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(dir)?;
    Ok((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn folder_id(dir: &Path) -> std::io::Result<FolderId> {
    std::fs::canonicalize(dir)
}

/// Why `path` (links followed) is a special file not to open in a walk, or `None` for a file or folder (or
/// something that cannot be looked at, left for opening to report).
pub fn special(path: &Path) -> Option<&'static str> {
    let ft = std::fs::metadata(path).ok()?.file_type();
    if ft.is_file() || ft.is_dir() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if ft.is_fifo() {
            return Some(
                "a named pipe: special files in folders are not opened; name it with -i to read it",
            );
        }
        if ft.is_socket() {
            return Some("a socket: special files in folders are not opened");
        }
        if ft.is_block_device() || ft.is_char_device() {
            return Some("a device: special files in folders are not opened");
        }
    }
    Some("not a regular file: special files in folders are not opened")
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    fn names(d: &Discovered, root: &Path) -> (Vec<String>, Vec<String>) {
        let strip = |s: String| s.replace(&format!("{}/", root.display()), "");
        (
            d.files
                .iter()
                .map(|f| strip(f.display().to_string()))
                .collect(),
            d.passed_over.iter().map(|s| strip(s.clone())).collect(),
        )
    }

    #[test]
    fn a_link_to_itself_and_two_links_in_a_loop_are_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/x.json"), "{}").unwrap();
        std::fs::write(root.join("a/b/y.json"), "{}").unwrap();
        symlink(".", root.join("a/self")).unwrap();
        // b/up -> .. (a), and a/c -> b: a loop through two links.
        symlink("..", root.join("a/b/up")).unwrap();
        symlink("b", root.join("a/c")).unwrap();
        let mut d = Discovered::default();
        walk(&root.join("a"), &mut d).unwrap();
        let (files, over) = names(&d, root);
        assert_eq!(files, vec!["a/b/y.json", "a/x.json"]);
        assert_eq!(
            over,
            vec![
                format!("a/b/up ({REPEATED_FOLDER})"),
                format!("a/c ({REPEATED_FOLDER})"),
                format!("a/self ({REPEATED_FOLDER})"),
            ]
        );
    }

    #[test]
    fn special_files_are_passed_over_unopened_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.json"), "{}").unwrap();
        std::fs::write(root.join("README.md"), "hi").unwrap();
        // Nobody writes to it: opening it would block this test forever.
        mkfifo(&root.join("pipe.json"));
        symlink("pipe.json", root.join("link-to-pipe.json")).unwrap();
        let sock = std::os::unix::net::UnixListener::bind(root.join("s.json")).unwrap();
        let mut d = Discovered::default();
        walk(root, &mut d).unwrap();
        drop(sock);
        let (files, over) = names(&d, root);
        assert_eq!(files, vec!["a.json"]);
        assert_eq!(over.len(), 4, "{over:?}");
        assert_eq!(over[0], format!("README.md ({NOT_A_LOG_ENDING})"));
        assert!(
            over[1].starts_with("link-to-pipe.json (a named pipe"),
            "{over:?}"
        );
        assert!(over[2].starts_with("pipe.json (a named pipe"), "{over:?}");
        assert!(over[3].starts_with("s.json (a socket"), "{over:?}");
    }
}
