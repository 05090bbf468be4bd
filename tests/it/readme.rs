//! Every example in the README runs: each `fwlog …` line of its ```sh blocks is run (in a scratch folder that
//! sees the repository's fixtures) and must succeed. The set-up commands (`cargo run`, `bash .ci/test`) are what
//! CI itself runs.

use std::path::Path;

use crate::util::{fwlog, root};

/// The `fwlog` command lines of the README's ```sh blocks, without trailing comments.
fn examples() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let cmd = line.split(" #").next().unwrap_or("").trim();
        if cmd.starts_with("fwlog ") {
            out.push(cmd.to_string());
        }
    }
    out
}

/// Split a command line into words, honouring single quotes (the README's only quoting).
fn words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in cmd.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[test]
fn every_readme_example_runs() {
    let examples = examples();
    assert!(examples.len() >= 5, "{examples:?}");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("fixtures"), dir.path().join("fixtures")).unwrap();
    for cmd in &examples {
        let args = words(cmd);
        let out = fwlog()
            .current_dir(dir.path())
            .args(&args[1..])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README example failed: {cmd}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The files the quick start writes exist and are what they say.
    for f in ["aks-egress.bicep", "aks-egress.tf"] {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert!(text.contains("fwlog-aks-egress"), "{f}");
    }
    assert!(Path::new(&dir.path().join("aks-egress.tf")).exists());
}

#[test]
fn the_readme_stays_short() {
    let text = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        text.lines().count() <= 200,
        "README has {} lines",
        text.lines().count()
    );
}
