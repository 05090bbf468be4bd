//! Helpers every test module uses: the binary, the fixtures, JSON output.

use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// fwlog with a clean environment: no Azure, fwlog or managed-identity variables, `home` as the home and config
/// folder (so no config file unless a test writes one), quick retries, and a time limit.
pub fn fwlog_clean(home: &Path) -> Command {
    let mut c = Command::cargo_bin("fwlog").unwrap();
    for (k, _) in std::env::vars() {
        if k.starts_with("AZURE_")
            || k.starts_with("FWLOG_")
            || k.starts_with("IDENTITY_")
            || k.starts_with("MSI_")
            || k == "IMDS_ENDPOINT"
        {
            c.env_remove(k);
        }
    }
    c.env("XDG_CONFIG_HOME", home).env("HOME", home);
    c.env("FWLOG_RETRY_BASE_MS", "20");
    c.timeout(Duration::from_secs(60));
    c
}

/// Sign in as the managed identity a fake service serves at `endpoint` (the App Service protocol).
pub fn as_fake_identity(c: &mut Command, endpoint: &str) {
    c.env("IDENTITY_ENDPOINT", endpoint)
        .env("IDENTITY_HEADER", crate::fake_la::IDENTITY_SECRET);
}
