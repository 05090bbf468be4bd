//! Helpers every test module uses: the binary, the fixtures, JSON output.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

/// The provisioning-failure sample every command is tried on first.
pub const MAIN: &str = "fixtures/aks-provision-failure";

/// The project root (tests run there; fixtures are relative to it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fwlog binary, started in the project root.
pub fn fwlog() -> Command {
    let mut c = Command::cargo_bin("fwlog").unwrap();
    c.current_dir(root());
    c
}

/// Parse a command's stdout as JSON, showing the text when it is not.
pub fn json_of(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)))
}

/// Run fwlog with `args`, expect success, and return stdout.
pub fn stdout_of(args: &[&str]) -> String {
    let out = fwlog().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "fwlog {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
