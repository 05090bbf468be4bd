//! Every query fwlog can generate passes Microsoft's Kusto analyzer with zero errors
//! (tools/kql-check: @kusto/language-service-next + declared table schemas): the Log Analytics queries, the same
//! queries as a cluster runs them (with the Log Analytics table names and over the storage-archive functions,
//! checked against the external tables' schema), and the control commands `fwlog kusto external-table` prints.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use fwlog::live::archive::{Archive, Category, Credential};
use fwlog::live::tables::Tables;

fn analyzer_installed() -> bool {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/kql-check");
    let ok = tool
        .join("node_modules/@kusto/language-service-next")
        .is_dir();
    if !ok {
        let msg = "\n\n!!!!!!!! SKIPPED: KQL analyzer check — tools/kql-check/node_modules is missing.\n\
                   !!!!!!!! Run `npm ci --prefix tools/kql-check` to enable it (CI does).\n\n";
        assert!(
            std::env::var_os("FWLOG_KQL_CHECK_REQUIRED").is_none(),
            "{msg}FWLOG_KQL_CHECK_REQUIRED is set, so skipping is an error"
        );
        eprintln!("{msg}");
    }
    ok
}

/// Run check.js over `input` (queries separated by `// ---`), with the database symbols of `extra` when given:
/// (success, stdout).
fn analyze(input: &str, extra: Option<&serde_json::Value>) -> (bool, String) {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/kql-check");
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(tool.join("check.js"));
    if let Some(x) = extra {
        let f = dir.path().join("database.json");
        std::fs::write(&f, x.to_string()).unwrap();
        cmd.arg("--database").arg(&f);
    }
    let mut child = cmd
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
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), stdout)
}

/// Every category, read with a SAS and with a managed identity.
fn archives() -> Vec<Archive> {
    [
        Credential::managed_identity("system").unwrap(),
        Credential::managed_identity("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0").unwrap(),
        Credential::sas("sv=2022-11-02&ss=b&srt=co&sp=rl&se=2027-01-01T00:00:00Z&sig=abc%2Bdef%3D")
            .unwrap(),
    ]
    .into_iter()
    .map(|c| {
        Archive::new(
            "https://fwarchive.blob.core.windows.net".parse().unwrap(),
            c,
            "FwArchive",
            Vec::new(),
        )
        .unwrap()
    })
    .collect()
}

#[test]
fn every_generated_query_passes_the_kusto_analyzer() {
    if !analyzer_installed() {
        return;
    }
    let queries = fwlog::live::kql::all_variants();
    let (ok, stdout) = analyze(&fwlog::live::kql::join_for_print(&queries), None);
    eprintln!("{stdout}");
    assert!(ok, "the Kusto analyzer reported errors:\n{stdout}");
    assert!(
        stdout.contains(&format!("kql-check: {} queries, 0 errors", queries.len())),
        "{stdout}"
    );
}

/// What a cluster is sent: every query variant with the Log Analytics table names (ingested tables) and with
/// every table mapped to the storage-archive functions, checked against the functions' bodies over the external
/// tables' schema; and the archive's control commands (one by one and as the script), for every credential.
#[test]
fn every_cluster_query_and_archive_command_passes_the_kusto_analyzer() {
    if !analyzer_installed() {
        return;
    }
    let mut checked = 0;
    for (i, archive) in archives().iter().enumerate() {
        let mut queries = Vec::new();
        if i == 0 {
            queries.extend(fwlog::live::kql::variants(&Tables::cluster(
                Default::default(),
            )));
            // Options change only literals, never a query's structure (the Log Analytics and cluster matrices
            // above prove every combination analyses); over the archive functions the analyzer re-reads every
            // function body per query, so the three templates' queries and every 16th summary variant are
            // checked — every table map and template shape, at a quarter of a minute instead of a minute and a
            // half.
            let all = fwlog::live::kql::variants(&Tables::cluster(archive.table_map()));
            queries.extend(
                all.into_iter()
                    .enumerate()
                    .filter(|(i, _)| *i < 6 || i % 16 == 0)
                    .map(|(_, q)| q),
            );
        }
        queries.extend(archive.commands().unwrap());
        queries.push(archive.script().unwrap());
        let extra = archive.analyzer_schema().unwrap();
        let (ok, stdout) = analyze(&fwlog::live::kql::join_for_print(&queries), Some(&extra));
        let summary = stdout.lines().last().unwrap_or("").to_string();
        eprintln!("{summary}");
        assert!(ok, "the Kusto analyzer reported errors:\n{stdout}");
        assert!(
            stdout.contains(&format!("kql-check: {} queries, 0 errors", queries.len())),
            "{stdout}"
        );
        checked += queries.len();
    }
    assert!(checked > 390, "{checked}");
}

/// The cluster checks really look into the functions and the commands: a function that projects a column the
/// external table does not have, a query over a function that lacks a column, and a malformed command all fail.
#[test]
fn the_checker_rejects_broken_archive_functions_and_commands() {
    if !analyzer_installed() {
        return;
    }
    let archive = Archive::new(
        "https://fwarchive.blob.core.windows.net".parse().unwrap(),
        Credential::managed_identity("system").unwrap(),
        "FwArchive",
        vec![Category::parse("AZFWNetworkRule").unwrap()],
    )
    .unwrap();
    let extra = archive.analyzer_schema().unwrap();
    let good = archive.commands().unwrap();
    let bad_function = good.last().unwrap().replace(
        "tostring(properties.SourceIp)",
        "tostring(NoSuchRecordColumn)",
    );
    let bad_query =
        "FwArchive_AZFWNetworkRule(datetime(2026-01-01), now()) | project Fqdn".to_string();
    let bad_command = good[1].replace("kind=storage", "kind=nowhere");
    let input =
        fwlog::live::kql::join_for_print(&[bad_function, bad_query, bad_command, good[1].clone()]);
    let (ok, stdout) = analyze(&input, Some(&extra));
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("4 queries, 3 errors"), "{stdout}");
}

/// The checker really fails on a bad query (guards against a checker that passes everything).
#[test]
fn the_checker_rejects_an_unknown_column() {
    if !analyzer_installed() {
        return;
    }
    let (ok, stdout) = analyze(
        "AZFWNetworkRule | where NoSuchColumn == 1\n// ---\nAZFWNetworkRule | take 1\n",
        None,
    );
    assert!(!ok);
    assert!(stdout.contains("2 queries, 1 errors"), "{stdout}");
}
