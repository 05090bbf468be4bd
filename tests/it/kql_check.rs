//! Every query fwlog can generate passes Microsoft's Kusto analyzer with zero errors
//! (tools/kql-check: @kusto/language-service-next + declared table schemas).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn every_generated_query_passes_the_kusto_analyzer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tool = root.join("tools/kql-check");
    if !tool
        .join("node_modules/@kusto/language-service-next")
        .is_dir()
    {
        let msg = "\n\n!!!!!!!! SKIPPED: KQL analyzer check — tools/kql-check/node_modules is missing.\n\
                   !!!!!!!! Run `npm ci --prefix tools/kql-check` to enable it (CI does).\n\n";
        assert!(
            std::env::var_os("FWLOG_KQL_CHECK_REQUIRED").is_none(),
            "{msg}FWLOG_KQL_CHECK_REQUIRED is set, so skipping is an error"
        );
        eprintln!("{msg}");
        return;
    }
    let queries = fwlog::live::kql::all_variants();
    let input = fwlog::live::kql::join_for_print(&queries);
    let mut child = Command::new("node")
        .arg(tool.join("check.js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node must be installed to run the KQL check");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the Kusto analyzer reported errors:\n{stdout}"
    );
    assert!(
        stdout.contains(&format!("kql-check: {} queries, 0 errors", queries.len())),
        "{stdout}"
    );
}

/// The checker really fails on a bad query (guards against a checker that passes everything).
#[test]
fn the_checker_rejects_an_unknown_column() {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/kql-check");
    if !tool
        .join("node_modules/@kusto/language-service-next")
        .is_dir()
    {
        eprintln!("!!!!!!!! SKIPPED: tools/kql-check/node_modules is missing");
        return;
    }
    let mut child = Command::new("node")
        .arg(tool.join("check.js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"AZFWNetworkRule | where NoSuchColumn == 1\n// ---\nAZFWNetworkRule | take 1\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 queries, 1 errors"));
}
