//! Azure Data Explorer / Fabric Eventhouse as the live source, end to end: the real binary, its real credential
//! chain (managed identity through the fake's token endpoint, which records the audience asked for) and a fake
//! cluster speaking the Kusto REST API v2 (tests/it/fake_kusto.rs), serving the same rows as the fake Log
//! Analytics, so every report is compared with the offline report of those rows.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

use crate::fake_kusto::{FakeKusto, Scripted, split_rows};
use crate::fake_la::{IDENTITY_SECRET, TOKEN};
use crate::live::{FROM, TO, fixture, offline_report, without_sources};
use crate::util::{as_fake_identity, fwlog_clean, json_of};

const DB: &str = "fw";

fn fwlog(fake: &FakeKusto, home: &Path) -> Command {
    let mut c = fwlog_clean(home);
    as_fake_identity(&mut c, &fake.identity_endpoint());
    c
}

/// `fwlog COMMAND --cluster FAKE --database fw --auth msi --from FROM --to TO --format json`.
fn on_cluster(fake: &FakeKusto, home: &Path, command: &str) -> Command {
    let mut c = fwlog(fake, home);
    c.args([
        command,
        "--cluster",
        &fake.url(),
        "--database",
        DB,
        "--auth",
        "msi",
        "--from",
        FROM,
        "--to",
        TO,
    ]);
    c
}

fn report(fake: &FakeKusto, extra: &[&str]) -> (Value, String) {
    let home = tempfile::tempdir().unwrap();
    let out = on_cluster(fake, home.path(), "deny-report")
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "deny-report --cluster failed: {err}");
    (json_of(&out.stdout), err)
}

/// The cluster's grouping gives the offline report's groups; the token was asked for the cluster's audience;
/// requests have the documented shape.
#[test]
fn cluster_report_equals_offline_report_with_the_clusters_audience() {
    let fake = FakeKusto::start(DB, &fixture());
    let (live, err) = report(&fake, &["-v"]);
    assert_eq!(
        without_sources(live.clone()),
        without_sources(offline_report(&[])),
        "{err}"
    );
    assert!(live["groups"].as_array().unwrap().len() >= 5, "{live}");
    let sources: Vec<String> = serde_json::from_value(live["sources"].clone()).unwrap();
    assert!(
        sources
            .iter()
            .any(|s| s.contains("database fw: AZFWNetworkRule (9 rows)")),
        "{sources:?}"
    );
    assert!(
        sources.iter().any(|s| s.contains(
            "database fw: AzureDiagnostics/AzureFirewallNetworkRule (2 rows; only before"
        )),
        "{sources:?}"
    );
    let st = fake.state.lock().unwrap();
    assert_eq!(
        st.token_resources,
        vec![fake.url()],
        "the audience is the cluster URI"
    );
    assert_eq!(st.log.len(), 2, "the table list and the summary");
    for l in &st.log {
        assert!(l.authorized, "{l:?}");
        assert_eq!(l.path, "/v2/rest/query");
        assert_eq!(l.accept, "application/json");
        assert_eq!(l.content_type, "application/json; charset=utf-8");
        assert!(l.request_id.starts_with("fwlog;"), "{l:?}");
        assert_eq!(l.body["db"], DB);
        assert_eq!(l.body["properties"]["Options"]["servertimeout"], "10m");
        if l.template == "sources" {
            let csl = l.body["csl"].as_str().unwrap();
            assert!(
                csl.contains(r#"(AZFWNetworkRule | extend SourceTable = "AZFWNetworkRule""#),
                "the table list labels its legs: {csl}"
            );
        }
    }
}

/// `recommend --cluster` recommends exactly what the offline run does.
#[test]
fn cluster_recommend_equals_offline_recommend() {
    let fake = FakeKusto::start(DB, &fixture());
    let home = tempfile::tempdir().unwrap();
    let live = on_cluster(&fake, home.path(), "recommend")
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        live.status.success(),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    let offline = fwlog_clean(home.path())
        .args(["recommend", "--input"])
        .arg(crate::live::fixture_path())
        .args(["--from", FROM, "--to", TO, "--format", "json"])
        .output()
        .unwrap();
    assert!(offline.status.success());
    assert_eq!(json_of(&live.stdout), json_of(&offline.stdout));
}

/// Renamed tables are found through --table-map (a table, and a window function as the archive setup makes)
/// or the config file's [kusto] section; without the map the cluster has no such tables.
#[test]
fn the_table_map_reaches_the_clusters_own_names() {
    let fake = FakeKusto::start(DB, &fixture());
    fake.rename("AZFWNetworkRule", "FirewallNetwork");
    fake.rename("AzureDiagnostics", "FwArchive_AzureDiagnostics");
    let offline = without_sources(offline_report(&[]));
    let (unmapped, _) = report(&fake, &[]);
    assert_ne!(without_sources(unmapped.clone()), offline);
    assert!(
        unmapped["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["kind"] != "network"),
        "no network table without the map: {unmapped}"
    );
    let (mapped, err) = report(
        &fake,
        &[
            "--table-map",
            "AZFWNetworkRule=FirewallNetwork",
            "--table-map",
            "AzureDiagnostics=FwArchive_AzureDiagnostics(window)",
        ],
    );
    assert_eq!(without_sources(mapped), offline, "{err}");
    let summary = fake.requests_for("deny-summary");
    let csl = summary.last().unwrap().body["csl"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(csl.contains("(['FirewallNetwork']\n"), "{csl}");
    assert!(
        csl.contains("(['FwArchive_AzureDiagnostics'](from_time, to_time)\n"),
        "{csl}"
    );

    // The same from the config file; the command line names only the time window.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("fwlog")).unwrap();
    std::fs::write(
        home.path().join("fwlog/config.toml"),
        format!(
            "[kusto]\ncluster = \"{}\"\ndatabase = \"{DB}\"\nauth = \"msi\"\n\
             table_map = {{ AZFWNetworkRule = \"FirewallNetwork\", AzureDiagnostics = \"FwArchive_AzureDiagnostics(window)\" }}\n",
            fake.url()
        ),
    )
    .unwrap();
    let out = fwlog(&fake, home.path())
        .args([
            "deny-report",
            "--from",
            FROM,
            "--to",
            TO,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(without_sources(json_of(&out.stdout)), offline);
}

/// Throttling (429 with and without Retry-After) and a transient service error are retried; the report is
/// still exact.
#[test]
fn throttling_and_transient_errors_are_retried() {
    let fake = FakeKusto::start(DB, &fixture());
    fake.script(
        "deny-summary",
        Scripted::Throttled {
            retry_after: Some(1),
        },
    );
    fake.script("deny-summary", Scripted::Throttled { retry_after: None });
    fake.script("deny-summary", Scripted::ServiceError { permanent: false });
    let started = std::time::Instant::now();
    let (live, err) = report(&fake, &["-v"]);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After: 1"
    );
    assert_eq!(without_sources(live), without_sources(offline_report(&[])));
    let statuses: Vec<u16> = fake
        .requests_for("deny-summary")
        .iter()
        .map(|l| l.status)
        .collect();
    assert_eq!(statuses, vec![429, 429, 520, 200]);
    assert!(err.contains("HTTP 429 TooManyRequests"), "{err}");
    assert!(err.contains("retrying"), "{err}");
}

/// Errors come back in the service's words, with what to fix, and exit 2 when the user can fix them.
#[test]
fn errors_keep_the_services_words() {
    let home = tempfile::tempdir().unwrap();
    // A mapped table without the Log Analytics columns: a semantic error.
    let fake = FakeKusto::start(DB, &fixture());
    fake.script(
        "deny-summary",
        Scripted::SemanticError(
            "SEM0001: 'project' operator: Failed to resolve scalar expression named 'Fqdn'".into(),
        ),
    );
    let out = on_cluster(&fake, home.path(), "deny-report")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Semantic error: SEM0001"), "{err}");
    assert!(err.contains("--table-map"), "{err}");
    assert!(out.stdout.is_empty());
    // A permanent service error is not retried.
    let fake = FakeKusto::start(DB, &fixture());
    fake.script("sources", Scripted::ServiceError { permanent: true });
    let out = on_cluster(&fake, home.path(), "deny-report")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 520"));
    assert_eq!(fake.log().len(), 1);
    // No such database; no permission.
    let fake = FakeKusto::start("other", &fixture());
    let out = on_cluster(&fake, home.path(), "deny-report")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no database fw"), "{err}");
    let fake = FakeKusto::start(DB, &fixture());
    fake.script("sources", Scripted::Forbidden);
    let out = on_cluster(&fake, home.path(), "deny-report")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Viewer"), "{err}");
    // An answer cut off before its completion frame is never a report.
    let fake = FakeKusto::start(DB, &fixture());
    for _ in 0..3 {
        fake.script("deny-summary", Scripted::CutOff);
    }
    let out = on_cluster(&fake, home.path(), "deny-report")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DataSetCompletion"));
    // Secrets stay out of every one of these.
    for l in [TOKEN, IDENTITY_SECRET] {
        assert!(!String::from_utf8_lossy(&out.stderr).contains(l));
    }
}

/// A result over the cluster's row limit is a partial query failure: the report splits the window, `fetch`
/// halves its windows, and both end exactly at the offline data; an answer that stays partial is an error in
/// the service's words.
#[test]
fn results_over_the_row_limit_are_split_until_complete() {
    let fake = FakeKusto::start(DB, &fixture());
    fake.state.lock().unwrap().row_limit = Some(4);
    let (live, err) = report(&fake, &["-v"]);
    assert_eq!(
        without_sources(live),
        without_sources(offline_report(&[])),
        "{err}"
    );
    assert!(err.contains("Partial query failure"), "{err}");
    assert!(err.contains("splitting the window"), "{err}");
    assert!(fake.requests_for("deny-summary").len() >= 3);

    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("logs.parquet");
    let res = on_cluster(&fake, home.path(), "fetch")
        .env("FWLOG_FETCH_TARGET_ROWS", "1000")
        .arg("--out")
        .arg(&out)
        .arg("-v")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{err}");
    assert!(err.contains("wrote 19 rows"), "{err}");
    assert!(err.contains("halving"), "{err}");
    let back = fwlog_clean(home.path())
        .args(["deny-report", "--input"])
        .arg(&out)
        .args(["--from", FROM, "--to", TO, "--format", "json"])
        .output()
        .unwrap();
    assert!(back.status.success());
    assert_eq!(
        without_sources(json_of(&back.stdout)),
        without_sources(offline_report(&[]))
    );

    // Always over the limit: no report, the service's words.
    let fake = FakeKusto::start(DB, &fixture());
    fake.state.lock().unwrap().row_limit = Some(0);
    let out = fwlog(&fake, home.path())
        .args([
            "deny-report",
            "--cluster",
            &fake.url(),
            "--database",
            DB,
            "--auth",
            "msi",
        ])
        .args([
            "--from",
            "2026-09-07T07:00:00Z",
            "--to",
            "2026-09-07T07:10:00Z",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(err.contains("incomplete"), "{err}");
    assert!(err.contains("E_QUERY_RESULT_SET_TOO_LARGE"), "{err}");
}

/// Two databases in one run: one report whose totals are the sum of the two single-database reports, and with
/// --by-origin each database's groups are exactly its own report's.
#[test]
fn two_databases_give_one_report() {
    let (a, b) = split_rows(&fixture());
    let fake = FakeKusto::start("hub-a", &a);
    fake.state
        .lock()
        .unwrap()
        .databases
        .insert("hub-b".into(), crate::fake_la::tables_of(&b));
    let home = tempfile::tempdir().unwrap();
    let run = |dbs: &[&str], extra: &[&str]| -> Value {
        let mut c = fwlog(&fake, home.path());
        c.args(["deny-report", "--cluster", &fake.url(), "--auth", "msi"])
            .args(["--from", FROM, "--to", TO, "--format", "json"]);
        for d in dbs {
            c.args(["--database", d]);
        }
        let out = c.args(extra).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&out.stdout)
    };
    let (ra, rb, both) = (
        run(&["hub-a"], &[]),
        run(&["hub-b"], &[]),
        run(&["hub-a", "hub-b"], &[]),
    );
    for k in ["events", "denies"] {
        assert_eq!(
            both[k].as_u64().unwrap(),
            ra[k].as_u64().unwrap() + rb[k].as_u64().unwrap(),
            "{k}"
        );
    }
    let by = run(&["hub-a", "hub-b"], &["--by-origin"]);
    assert_eq!(by["denies"], both["denies"]);
    for (origin, single) in [("hub-a", &ra), ("hub-b", &rb)] {
        let mine: Vec<Value> = by["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["origin"] == origin)
            .map(|g| {
                let mut g = g.clone();
                g.as_object_mut().unwrap().remove("origin");
                g
            })
            .collect();
        assert_eq!(&Value::Array(mine), &single["groups"], "{origin}");
    }
}

/// `--print-kql` for a cluster needs no sign-in and labels every leg; table names and databases are values
/// that never become KQL.
#[test]
fn print_kql_for_a_cluster_and_injection_through_its_options() {
    let home = tempfile::tempdir().unwrap();
    let out = fwlog_clean(home.path())
        .args([
            "deny-report",
            "--print-kql",
            "--since",
            "2h",
            "--cluster",
            "https://fwlogs.westeurope.kusto.windows.net",
            "--table-map",
            "AZFWNetworkRule=FirewallNetwork",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("withsource=SourceEntity"), "{text}");
    assert!(
        text.contains(r#"(['FirewallNetwork'] | extend SourceTable = "AZFWNetworkRule", Type = "AZFWNetworkRule")"#),
        "{text}"
    );
    assert!(text.contains("    (['FirewallNetwork']\n"), "{text}");
    for args in [
        vec!["--table-map", "AZFWNetworkRule=x'] | take 1 //"],
        vec!["--table-map", "AZFWNetworkRule=x\"); print 1; //"],
        vec!["--table-map", "NoSuchTable=x"],
        vec!["--database", "fw'] | take 1"],
        vec!["--cluster", "https://help.kusto.windows.net/Samples"],
        vec!["--cluster", "http://evil.example.com"],
    ] {
        let out = fwlog_clean(home.path())
            .args(["deny-report", "--print-kql", "--since", "1h"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            out.stdout.is_empty(),
            "no query may be printed for {args:?}"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invalid"),
            "{args:?}"
        );
    }
    // Both services named at once.
    let out = fwlog_clean(home.path())
        .args([
            "deny-report",
            "--since",
            "1h",
            "--workspace",
            "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
        ])
        .args([
            "--cluster",
            "https://fwlogs.westeurope.kusto.windows.net",
            "--database",
            "fw",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not both"));
    // A cluster without a database says what to add.
    let out = fwlog_clean(home.path())
        .args([
            "deny-report",
            "--since",
            "1h",
            "--cluster",
            "https://fwlogs.westeurope.kusto.windows.net",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--database NAME"));
}

/// `fwlog kusto external-table` prints the setup script; a SAS token goes to a file or pipe only, and never to
/// stderr.
#[test]
fn external_table_setup_script() {
    const SAS: &str =
        "sv=2022-11-02&ss=b&srt=co&sp=rl&se=2027-01-01T00:00:00Z&sig=SECRETsig0123456789%3D";
    let home = tempfile::tempdir().unwrap();
    let out = fwlog_clean(home.path())
        .args([
            "kusto",
            "external-table",
            "--storage",
            "https://fwarchive.blob.core.windows.net",
            "--managed-identity",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.starts_with(".execute database script with (ContinueOnErrors=false) <|\n"));
    assert_eq!(
        script.matches(".create external table").count(),
        24,
        "12 tables, 12 mappings"
    );
    assert_eq!(script.matches(".create-or-alter function").count(), 10);
    assert!(script.contains(";managed_identity=system'"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--table-map 'AZFWNetworkRule=FwArchive_AZFWNetworkRule(window)'"),
        "{err}"
    );
    // Deterministic.
    let again = fwlog_clean(home.path())
        .args([
            "kusto",
            "external-table",
            "--storage",
            "https://fwarchive.blob.core.windows.net",
        ])
        .args(["--managed-identity"])
        .output()
        .unwrap();
    assert_eq!(again.stdout, script.as_bytes());

    let file = home.path().join("archive.kql");
    let out = fwlog_clean(home.path())
        .env("FW_SAS", format!("?{SAS}"))
        .args([
            "kusto",
            "external-table",
            "--storage",
            "https://fwarchive.blob.core.windows.net",
        ])
        .args([
            "--sas-env",
            "FW_SAS",
            "--category",
            "AZFWNetworkRule",
            "-v",
            "-o",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("SECRETsig"), "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains(&format!("insights-logs-azfwnetworkrule?{SAS}'")),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o077,
        0
    );

    for (args, env, needle) in [
        (vec!["--sas-env", "NOPE"], None, "NOPE is not set"),
        (vec!["--sas-env", "FW_SAS"], Some("sig=x' .drop"), "not one"),
        (vec!["--managed-identity", "me"], None, "object ID"),
        (
            vec!["--managed-identity", "--category", "AZFWNope"],
            None,
            "unknown category",
        ),
        (
            vec!["--managed-identity", "--prefix", "Fw'x"],
            None,
            "--prefix",
        ),
    ] {
        let mut c = fwlog_clean(home.path());
        if let Some(v) = env {
            c.env("FW_SAS", v);
        }
        let out = c
            .args([
                "kusto",
                "external-table",
                "--storage",
                "https://fwarchive.blob.core.windows.net",
            ])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = fwlog_clean(home.path())
        .args(["kusto", "external-table", "--managed-identity", "--storage"])
        .arg("https://fwarchive.blob.core.windows.net/insights-logs-azfwnetworkrule")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no container"));
}
