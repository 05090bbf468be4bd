//! End-to-end tests of how inputs are read: streams (stdin, named pipes, `.gz`), lines too long to hold, line
//! numbers in skip listings, and folders with symbolic link loops and special files.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::util::{fwlog, json_of, root};
use serde_json::Value;

/// The archive sample every stream test reads (78 events).
const ARCHIVE: &str = "fixtures/shapes/legacy-archive-PT1H.json";

/// Long enough for any of these runs on a loaded machine; a run that blocks fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(120);

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// A structured deny record with a distinct time and source port for `n`, on one line.
fn record(n: u64) -> String {
    format!(
        r#"{{"time":"2026-09-07T09:{:02}:{:02}.000000+00:00","resourceId":"/SUBSCRIPTIONS/X/AZUREFIREWALLS/FW","category":"AZFWNetworkRule","properties":{{"Protocol":"TCP","SourceIp":"10.240.0.4","SourcePort":{},"DestinationIp":"20.50.1.2","DestinationPort":9000,"Action":"Deny","ActionReason":"Default Action"}}}}"#,
        (n / 60) % 60,
        n % 60,
        1024 + n % 60000
    )
}

/// Run fwlog, wait for it and return (exit code, stdout, stderr, peak resident memory in KiB).
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped with wait4, which also gives its peak memory"
)]
fn run_measured(args: &[&str]) -> (i32, String, String, i64) {
    let bin = assert_cmd::cargo::cargo_bin("fwlog");
    let child = std::process::Command::new(bin)
        .args(args)
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (mut out, mut err) = (child.stdout.unwrap(), child.stderr.unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).unwrap();
        s
    });
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut out, &mut stdout).unwrap();
    let stderr = reader.join().unwrap();
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for (the `Child` was consumed without waiting).
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid);
    (libc::WEXITSTATUS(status), stdout, stderr, usage.ru_maxrss)
}

/// A gzip member holding `text`.
fn gz_member(text: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text).unwrap();
    gz.finish().unwrap()
}

#[test]
fn a_100_mib_line_in_a_gz_is_skipped_unread_and_the_lines_after_it_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("PT1H.json.gz");
    let small = dir.path().join("small.json.gz");
    // Members are concatenated (as `cat a.gz b.gz` does) so the 100 MiB line costs one compressed MiB of
    // pattern written 100 times, not 100 MiB compressed in the test.
    let head = format!("{}\n{}\n", record(1), record(2));
    let tail = format!("\n{}\n{}\n", record(4), record(5));
    let mib = gz_member(&br#"{"x":"0123456789abcdef"},"#.repeat((1 << 20) / 25 + 1)[..1 << 20]);
    let mut f = std::fs::File::create(&big).unwrap();
    f.write_all(&gz_member(head.as_bytes())).unwrap();
    for _ in 0..100 {
        f.write_all(&mib).unwrap();
    }
    f.write_all(&gz_member(tail.as_bytes())).unwrap();
    drop(f);
    std::fs::write(
        &small,
        gz_member(format!("{head}{}\n{}\n{}\n", record(3), record(4), record(5)).as_bytes()),
    )
    .unwrap();

    let args = |p: &Path| {
        vec![
            "-v".to_string(),
            "deny-report".into(),
            "-i".into(),
            p.display().to_string(),
            "--format".into(),
            "json".into(),
        ]
    };
    let a = args(&big);
    let (code, out, err, peak) = run_measured(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let r = json_of(out.as_bytes());
    assert_eq!(r["events"], 4, "{err}");
    assert_eq!(r["skipped"], 1);
    assert!(
        err.contains("PT1H.json.gz:3: record larger than 64 MiB: the line is longer than 64 MiB"),
        "{err}"
    );
    // The same records without the long line: the long line may cost at most the 64 MiB the cap lets one line
    // hold (measured: a few MiB more than without it), never its 100 MiB.
    let a = args(&small);
    let (code, _, err, base) = run_measured(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    assert!(
        peak - base < 64 * 1024,
        "peak {peak} KiB with the long line, {base} KiB without"
    );
}

#[test]
fn stdin_is_read_with_dash() {
    let want = json_of(
        &fwlog()
            .args(["deny-report", "-i", ARCHIVE, "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    );
    let text = std::fs::read(root().join(ARCHIVE)).unwrap();
    for input in [text.clone(), gz_member(&text)] {
        let out = fwlog()
            .args(["-v", "deny-report", "-i", "-", "--format", "json"])
            .write_stdin(input)
            .timeout(TIMEOUT)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(json_of(&out.stdout)["groups"], want["groups"]);
        assert!(err.contains("read <stdin>"), "{err}");
    }
    fwlog()
        .args(["deny-report", "-i", "-", "-i", "-"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("stdin can be read once"));
}

#[test]
fn a_named_pipe_given_with_i_is_read_as_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("events");
    mkfifo(&fifo);
    let text = std::fs::read(root().join(ARCHIVE)).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            // In pieces, as a producer behind `<(…)` writes.
            for piece in text.chunks(1000) {
                f.write_all(piece).unwrap();
            }
        })
    };
    let out = fwlog()
        .args(["deny-report", "-i"])
        .arg(&fifo)
        .args(["--format", "json"])
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out.stdout)["events"], 78);
}

#[test]
fn a_folder_with_a_link_loop_and_a_named_pipe_is_read_once_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("h=09")).unwrap();
    std::fs::copy(root().join(ARCHIVE), logs.join("h=09/PT1H.json")).unwrap();
    std::os::unix::fs::symlink("..", logs.join("h=09/parent")).unwrap();
    std::os::unix::fs::symlink(".", logs.join("self")).unwrap();
    // Nobody ever writes to it: opening it would block the run.
    mkfifo(&logs.join("h=09/pipe.json"));
    let out = fwlog()
        .args(["-v", "deny-report", "-i"])
        .arg(&logs)
        .args(["--format", "json", "--keep-duplicates"])
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let r: Value = json_of(&out.stdout);
    // Read once, not once per way round the loop (duplicates kept, so a second reading would count).
    assert_eq!(r["events"], 78, "{err}");
    assert!(
        err.contains("3 file(s) in the input folders passed over"),
        "{err}"
    );
    for want in [
        "h=09/parent (a folder already read: a symbolic link loop or a second link to it)",
        "self (a folder already read",
        "h=09/pipe.json (a named pipe: special files in folders are not opened",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn skip_listings_give_exact_line_numbers_far_into_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("PT1H.json");
    let bad = [3u64, 25_000, 49_999];
    let mut text = String::new();
    for n in 1..=50_000u64 {
        if bad.contains(&n) {
            text.push_str("{\"time\":\"2026-09-07T09:00:00Z\",\"properties\":{\"msg\":\"cut sho");
        } else {
            text.push_str(&record(n));
        }
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    let out = fwlog()
        .args(["-v", "deny-report", "-i"])
        .arg(&file)
        .args(["--format", "json", "--keep-duplicates"])
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let r = json_of(&out.stdout);
    assert_eq!(r["skipped"], 3);
    assert_eq!(r["events"], 50_000 - 3);
    let name = file.display().to_string();
    let listed: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("malformed JSON"))
        .collect();
    assert_eq!(listed.len(), 3, "{err}");
    for (l, n) in listed.iter().zip(bad) {
        assert!(
            l.starts_with(&format!(
                "fwlog: skipped {name}:{n}: malformed JSON: EOF while parsing"
            )),
            "{l}"
        );
    }
}

#[test]
fn parquet_through_gzip_or_a_pipe_is_read_in_memory() {
    let plain = "fixtures/shapes/AZFWNetworkRule.parquet";
    let want = json_of(
        &fwlog()
            .args(["deny-report", "-i", plain, "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    );
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("AZFWNetworkRule.parquet.gz");
    std::fs::write(&gz, gz_member(&std::fs::read(root().join(plain)).unwrap())).unwrap();
    let out = fwlog()
        .args(["deny-report", "-i"])
        .arg(&gz)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out.stdout)["groups"], want["groups"]);
    let out = fwlog()
        .args(["deny-report", "-i", "-", "--format", "json"])
        .write_stdin(std::fs::read(root().join(plain)).unwrap())
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json_of(&out.stdout)["groups"], want["groups"]);
}

#[test]
fn a_damaged_gz_is_an_error_naming_the_file() {
    fwlog()
        .args(["deny-report", "-i", "fixtures/bad/truncated.json.gz"])
        .timeout(TIMEOUT)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "fixtures/bad/truncated.json.gz: not a valid gzip file:",
        ));
}
