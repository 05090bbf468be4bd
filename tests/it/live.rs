//! The live Log Analytics source end to end: the real binary, its real credential chain (managed identity via
//! the `IDENTITY_ENDPOINT` seam) and a fake Query API (tests/it/fake_la.rs).

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

use crate::fake_la::{FakeLa, IDENTITY_SECRET, Scripted, TOKEN};
use crate::util::json_of;

const WS: &str = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
const WS2: &str = "1b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
pub const FROM: &str = "2026-09-07T00:00:00Z";
pub const TO: &str = "2026-09-08T00:00:00Z";

pub fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/live/workspace.json")
}

pub fn fixture() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture_path()).unwrap()).unwrap()
}

/// fwlog with a clean environment: no Azure variables, no config file, and the fake as endpoint and identity.
fn fwlog(fake: Option<&FakeLa>, cfg_home: &Path) -> Command {
    let mut c = crate::util::fwlog_clean(cfg_home);
    if let Some(f) = fake {
        crate::util::as_fake_identity(&mut c, &f.identity_endpoint());
        c.env("FWLOG_LOGANALYTICS_ENDPOINT", f.url());
    }
    c
}

/// `fwlog COMMAND --workspace WS --auth msi --from FROM --to TO --format json` against the fake.
fn on_workspace(fake: &FakeLa, home: &Path, command: &str) -> Command {
    let mut c = fwlog(Some(fake), home);
    c.args([
        command,
        "--workspace",
        WS,
        "--auth",
        "msi",
        "--from",
        FROM,
        "--to",
        TO,
        "--format",
        "json",
    ]);
    c
}

fn live_report(fake: &FakeLa, extra: &[&str]) -> (Value, String) {
    let home = tempfile::tempdir().unwrap();
    let out = on_workspace(fake, home.path(), "deny-report")
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "live deny-report failed: {err}");
    (json_of(&out.stdout), err)
}

/// The offline report of the fixture's rows over the test window.
pub fn offline_report(extra: &[&str]) -> Value {
    let home = tempfile::tempdir().unwrap();
    let out = fwlog(None, home.path())
        .args(["deny-report", "--input"])
        .arg(fixture_path())
        .args(["--from", FROM, "--to", TO, "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out.stdout)
}

pub fn without_sources(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("sources");
    v
}

#[test]
fn print_kql_needs_no_credentials_and_passes_typed_values() {
    let home = tempfile::tempdir().unwrap();
    let out = fwlog(None, home.path())
        .args([
            "deny-report",
            "--print-kql",
            "--since",
            "2h",
            "--source",
            "10.0.0.0/16",
            "--port",
            "443",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let parts: Vec<&str> = text.split("\n// ---\n").collect();
    assert_eq!(parts.len(), 2, "{text}");
    assert!(parts[0].starts_with("// fwlog:query=sources"));
    assert!(parts[1].starts_with("// fwlog:query=deny-summary"));
    assert!(parts[1].contains(r#"let source_ranges_v4 = dynamic(["10.0.0.0/16"]);"#));
    assert!(parts[1].contains("let destination_port = 443;"));
}

#[test]
fn injection_through_the_command_line_is_rejected_with_exit_2() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["--workspace", "x\" | take 1"],
        vec!["--firewall", "/subscriptions/x/resourceGroups/a\"|take 1"],
        vec!["--destination", "a.com\" or 1==1 //"],
        vec!["--source", "10.0.0.0/8\" or true"],
        vec!["--protocol", "TCP\" or true"],
        vec!["--since", "1h\"; drop"],
    ] {
        let out = fwlog(None, home.path())
            .arg("deny-report")
            .arg("--print-kql")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid"), "{args:?}: {err}");
        assert!(
            out.stdout.is_empty(),
            "no query may be printed for {args:?}"
        );
    }
}

/// The same data read offline and served by Log Analytics gives the same deny report.
#[test]
fn live_pushdown_report_equals_offline_report() {
    let fake = FakeLa::start(&fixture());
    let (live, err) = live_report(&fake, &["-v"]);
    let offline = offline_report(&[]);
    assert_eq!(
        without_sources(live.clone()),
        without_sources(offline),
        "stderr: {err}"
    );
    assert!(live["groups"].as_array().unwrap().len() >= 5, "{live}");
    // Sources used: the tables read, and what was not used and why.
    let sources: Vec<String> = serde_json::from_value(live["sources"].clone()).unwrap();
    assert!(
        sources
            .iter()
            .any(|s| s.contains("AZFWNetworkRule (9 rows)")),
        "{sources:?}"
    );
    assert!(
        sources
            .iter()
            .any(|s| s.contains("AZFWDnsQuery (1 rows; not used")),
        "{sources:?}"
    );
    assert!(
        sources
            .iter()
            .any(|s| s.contains("AzureDiagnostics/AzureFirewallNetworkRule (2 rows; only before")),
        "{sources:?}"
    );
    // Exactly two queries: the table list and the summary; one token for both.
    let log = fake.log();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log.iter().all(|l| l.authorized && l.workspace == WS));
    assert_eq!(fake.state.lock().unwrap().token_requests, 1);
}

/// Filters are applied locally too, so the report is right even though the fake ignores them server-side.
#[test]
fn filters_match_offline_even_if_the_server_ignores_them() {
    let fake = FakeLa::start(&fixture());
    for extra in [
        vec!["--source", "10.0.1.0/28"],
        vec!["--destination", "*.microsoft.com"],
        vec!["--port", "9000", "--by-source-ip"],
        vec!["--kind", "network", "--prefix-v6", "48"],
        vec!["--protocol", "http"],
    ] {
        let (live, _) = live_report(&fake, &extra);
        let (mut live, mut offline) = (
            without_sources(live),
            without_sources(offline_report(&extra)),
        );
        if extra.contains(&"--kind") {
            // Offline counts every unparsed message it read; live only sees the legacy categories the kind
            // filter asks for.
            live.as_object_mut().unwrap().remove("unparsed");
            offline.as_object_mut().unwrap().remove("unparsed");
        }
        assert_eq!(live, offline, "{extra:?}");
    }
}

#[test]
fn throttling_and_unavailability_are_retried_honouring_retry_after() {
    let fake = FakeLa::start(&fixture());
    fake.script(
        "deny-summary",
        Scripted::TooMany {
            retry_after: Some(1),
        },
    );
    fake.script("deny-summary", Scripted::Unavailable);
    let started = std::time::Instant::now();
    let (live, err) = live_report(&fake, &["-v"]);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
    assert_eq!(without_sources(live), without_sources(offline_report(&[])));
    let statuses: Vec<u16> = fake
        .requests_for("deny-summary")
        .iter()
        .map(|l| l.status)
        .collect();
    assert_eq!(statuses, vec![429, 503, 200]);
    assert!(err.contains("retrying"), "{err}");
}

#[test]
fn a_stalled_request_times_out_and_is_retried() {
    let fake = FakeLa::start(&fixture());
    fake.script("sources", Scripted::Stall(Duration::from_secs(4)));
    let home = tempfile::tempdir().unwrap();
    let out = on_workspace(&fake, home.path(), "deny-report")
        .env("FWLOG_HTTP_TIMEOUT_SECS", "1")
        .args(["-v"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("no answer within 1s"), "{err}");
    assert_eq!(
        without_sources(json_of(&out.stdout)),
        without_sources(offline_report(&[]))
    );
}

#[test]
fn partial_results_split_the_window_until_complete() {
    let fake = FakeLa::start(&fixture());
    // Any summary over more than 6 hours is "too large": 24 h must be split into 4+ windows.
    fake.state.lock().unwrap().partial_over_us = Some(6 * 3600 * 1_000_000);
    let (live, err) = live_report(&fake, &["-v"]);
    assert_eq!(
        without_sources(live),
        without_sources(offline_report(&[])),
        "{err}"
    );
    let summaries = fake.requests_for("deny-summary");
    let partial = summaries.iter().filter(|l| l.status == 200).count();
    assert!(
        summaries.len() >= 7,
        "1 + 2 + 4 requests expected: {summaries:?}"
    );
    assert!(partial >= 4);
    assert!(err.contains("splitting the window"), "{err}");
}

#[test]
fn an_always_partial_answer_is_an_error_never_a_report() {
    let fake = FakeLa::start(&fixture());
    fake.state.lock().unwrap().partial_over_us = Some(1);
    let home = tempfile::tempdir().unwrap();
    let out = fwlog(Some(&fake), home.path())
        .args([
            "deny-report",
            "--workspace",
            WS,
            "--auth",
            "msi",
            "--from",
            "2026-09-07T07:00:00Z",
            "--to",
            "2026-09-07T07:10:00Z",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("incomplete"));
}

#[test]
fn missing_tables_and_empty_workspaces_give_an_empty_report() {
    let fake = FakeLa::start(&fixture());
    fake.script("sources", Scripted::MissingTable);
    let (live, err) = live_report(&fake, &[]);
    assert_eq!(live["groups"].as_array().unwrap().len(), 0);
    assert!(err.contains("none of the Azure Firewall tables"), "{err}");
    assert!(fake.requests_for("deny-summary").is_empty());

    let fake = FakeLa::start(&fixture());
    fake.script("sources", Scripted::NoContent);
    let (live, _) = live_report(&fake, &[]);
    assert_eq!(live["denies"], 0);
}

#[test]
fn forbidden_says_which_role_is_needed() {
    let fake = FakeLa::start(&fixture());
    fake.script("sources", Scripted::Forbidden);
    let home = tempfile::tempdir().unwrap();
    let out = fwlog(Some(&fake), home.path())
        .args([
            "deny-report",
            "--workspace",
            WS,
            "--auth",
            "msi",
            "--since",
            "1h",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Log Analytics Reader"), "{err}");
}

#[test]
fn at_most_four_queries_are_in_flight() {
    let fake = FakeLa::start(&fixture());
    fake.state.lock().unwrap().delay = Some(Duration::from_millis(300));
    let home = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..7)
        .map(|i| format!("{i}b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"))
        .collect();
    let mut cmd = fwlog(Some(&fake), home.path());
    cmd.args([
        "deny-report",
        "--auth",
        "msi",
        "--from",
        FROM,
        "--to",
        TO,
        "--format",
        "json",
    ]);
    for id in &ids {
        cmd.args(["--workspace", id]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let max = fake.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!((2..=4).contains(&max), "max in flight {max}");
    assert_eq!(fake.log().len(), 14);
    // Seven copies of the same data: seven times the hits.
    let one = offline_report(&[]);
    assert_eq!(
        json_of(&out.stdout)["denies"],
        one["denies"].as_u64().unwrap() * 7
    );
}

/// The bearer token, the identity secret and a client secret never appear in any output, even at -vv and on
/// failure paths.
#[test]
fn secrets_never_appear_in_output() {
    const CLIENT_SECRET: &str = "client-SECRET-value-3e4f5a";
    let fake = FakeLa::start(&fixture());
    fake.script("deny-summary", Scripted::TooMany { retry_after: None });
    let home = tempfile::tempdir().unwrap();
    let check = |out: &std::process::Output| {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for s in [TOKEN, IDENTITY_SECRET, CLIENT_SECRET] {
            assert!(!all.contains(s), "secret {s} leaked:\n{all}");
        }
        all
    };
    // Chain: env secret incomplete (no tenant) → skipped, workload absent → managed identity via the fake.
    let out = fwlog(Some(&fake), home.path())
        .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        .env("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
        .args([
            "deny-report",
            "--workspace",
            WS,
            "--workspace",
            WS2,
            "--from",
            FROM,
            "--to",
            TO,
            "-vv",
        ])
        .output()
        .unwrap();
    let all = check(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("POST"), "-vv shows requests: {all}");
    // Failure path: the identity endpoint rejects a wrong header secret.
    let out = fwlog(Some(&fake), home.path())
        .env("IDENTITY_HEADER", "wrong-header")
        .env("AZURE_CLIENT_SECRET", CLIENT_SECRET)
        .args([
            "deny-report",
            "--workspace",
            WS,
            "--auth",
            "msi",
            "--since",
            "1h",
            "-vv",
        ])
        .output()
        .unwrap();
    let all = check(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains("managed identity"), "{all}");
    assert!(!all.contains("wrong-header"), "{all}");
}

#[test]
fn sign_in_failure_lists_what_was_tried() {
    let home = tempfile::tempdir().unwrap();
    let out = fwlog(None, home.path())
        .env("FWLOG_LOGANALYTICS_ENDPOINT", "http://127.0.0.1:9")
        .env("PATH", "/nonexistent")
        .args([
            "deny-report",
            "--workspace",
            WS,
            "--auth",
            "cli",
            "--since",
            "1h",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Azure CLI") && err.contains("az login"),
        "{err}"
    );
}

#[test]
fn workspace_from_environment_and_config_file() {
    let fake = FakeLa::start(&fixture());
    let home = tempfile::tempdir().unwrap();
    let out = fwlog(Some(&fake), home.path())
        .env("FWLOG_WORKSPACE", WS)
        .args([
            "deny-report",
            "--auth",
            "msi",
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
    assert_eq!(fake.log()[0].workspace, WS);

    std::fs::create_dir_all(home.path().join("fwlog")).unwrap();
    std::fs::write(
        home.path().join("fwlog/config.toml"),
        format!("[log_analytics]\nworkspaces = [\"{WS2}\"]\nauth = \"msi\"\n"),
    )
    .unwrap();
    let out = fwlog(Some(&fake), home.path())
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
    assert_eq!(fake.log().last().unwrap().workspace, WS2);

    // An explicit --input wins over a configured workspace.
    let before = fake.log().len();
    let out = fwlog(Some(&fake), home.path())
        .args(["deny-report", "--input"])
        .arg(fixture_path())
        .args(["--from", FROM, "--to", TO, "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(fake.log().len(), before);

    std::fs::write(
        home.path().join("fwlog/config.toml"),
        "[log_analytics]\nworkspace = \"typo\"\n",
    )
    .unwrap();
    let out = fwlog(Some(&fake), home.path())
        .args(["deny-report", "--since", "1h"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config.toml"));
}

fn fetch_cmd(fake: &FakeLa, home: &Path, out: &Path, target_rows: u64) -> Command {
    let mut c = fwlog(Some(fake), home);
    c.env("FWLOG_FETCH_TARGET_ROWS", target_rows.to_string())
        .args([
            "fetch",
            "--workspace",
            WS,
            "--auth",
            "msi",
            "--from",
            FROM,
            "--to",
            TO,
            "--out",
        ])
        .arg(out);
    c
}

fn report_of_file(path: &Path) -> Value {
    let home = tempfile::tempdir().unwrap();
    let out = fwlog(None, home.path())
        .args(["deny-report", "--input"])
        .arg(path)
        .args(["--from", FROM, "--to", TO, "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out.stdout)
}

fn parts_of(out: &Path) -> PathBuf {
    out.with_file_name(format!(
        ".{}.fwlog-parts",
        out.file_name().unwrap().to_string_lossy()
    ))
}

#[test]
fn fetch_print_kql_shows_the_count_and_window_queries() {
    let home = tempfile::tempdir().unwrap();
    let out = fwlog(None, home.path())
        .args(["fetch", "--since", "24h", "--print-kql"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("// fwlog:query=hourly-count"));
    assert!(text.contains("\n// ---\n// fwlog:query=raw-window"));
}

/// Windows planned from the hourly count (target 4 rows → several windows, the busiest hour split), every row
/// fetched exactly once, and the Parquet file reads back into the same report as the original data.
#[test]
fn fetch_writes_canonical_parquet_the_offline_reader_takes() {
    let fake = FakeLa::start(&fixture());
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("logs.parquet");
    let res = fetch_cmd(&fake, home.path(), &out, 4)
        .arg("-v")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{err}");
    assert!(err.contains("wrote 19 rows"), "{err}");
    assert!(
        !err.contains("note: the hourly count"),
        "counts add up exactly: {err}"
    );
    assert!(!parts_of(&out).exists(), "parts folder removed");
    let windows = fake.requests_for("raw-window");
    assert!(windows.len() >= 5, "{windows:?}");
    assert_eq!(
        without_sources(report_of_file(&out)),
        without_sources(offline_report(&[]))
    );
}

#[test]
fn fetch_halves_windows_on_partial_results_and_retries() {
    let fake = FakeLa::start(&fixture());
    fake.state.lock().unwrap().partial_over_us = Some(20 * 60 * 1_000_000);
    fake.script("raw-window", Scripted::TooMany { retry_after: None });
    fake.script("raw-window", Scripted::Unavailable);
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("logs.parquet");
    let res = fetch_cmd(&fake, home.path(), &out, 1000)
        .arg("-v")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{err}");
    assert!(err.contains("wrote 19 rows"), "{err}");
    assert!(err.contains("halving"), "{err}");
    let statuses: Vec<u16> = fake
        .requests_for("raw-window")
        .iter()
        .map(|l| l.status)
        .collect();
    assert!(
        statuses.contains(&429) && statuses.contains(&503),
        "{statuses:?}"
    );
    assert_eq!(
        without_sources(report_of_file(&out)),
        without_sources(offline_report(&[]))
    );
}

/// An interrupted fetch leaves no output file, only parts; the same command resumes and fetches only what is
/// missing.
#[test]
fn an_interrupted_fetch_resumes_without_refetching() {
    let fake = FakeLa::start(&fixture());
    fake.state.lock().unwrap().raw_budget = Some(2);
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("logs.parquet");
    let res = fetch_cmd(&fake, home.path(), &out, 3).output().unwrap();
    assert_eq!(
        res.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(
        !out.exists(),
        "an interrupted fetch must not leave a complete-looking file"
    );
    let parts: Vec<_> = std::fs::read_dir(parts_of(&out))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
        .collect();
    assert!(!parts.is_empty() && parts.len() <= 2, "{parts:?}");
    let planned = fake.requests_for("raw-window").len();
    let first_ok = fake
        .requests_for("raw-window")
        .iter()
        .filter(|l| l.status == 200)
        .count();

    fake.state.lock().unwrap().raw_budget = None;
    let res = fetch_cmd(&fake, home.path(), &out, 3).output().unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(res.status.success(), "{err}");
    assert!(err.contains("resuming"), "{err}");
    assert!(err.contains("wrote 19 rows"), "{err}");
    // No second hourly count, and windows already written are not asked again.
    assert_eq!(fake.requests_for("hourly-count").len(), 1);
    let second = fake.requests_for("raw-window").len() - planned;
    let total_windows: usize = err
        .split("from ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(second, total_windows - parts.len(), "{err}");
    assert!(first_ok >= parts.len());
    assert!(!parts_of(&out).exists());
    assert_eq!(
        without_sources(report_of_file(&out)),
        without_sources(offline_report(&[]))
    );
}

/// `--follow`: overlapping windows never double count, only new or grown groups are printed, and
/// `--until-quiet` ends the run.
#[test]
fn follow_prints_new_and_grown_groups_once_and_stops_when_quiet() {
    let now = chrono::Utc::now();
    let ago = |secs: i64| {
        (now - chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    };
    let cols = [
        "TimeGenerated",
        "Protocol",
        "SourceIp",
        "SourcePort",
        "DestinationIp",
        "DestinationPort",
        "Action",
    ];
    let row = |t: String, src: &str, dst: &str, port: u16| {
        serde_json::json!([
            t,
            if port == 53 { "UDP" } else { "TCP" },
            src,
            40000,
            dst,
            port,
            "Deny"
        ])
    };
    let fx = serde_json::json!({"tables":[{"name":"AZFWNetworkRule",
        "columns": cols.iter().map(|c| serde_json::json!({"name": c})).collect::<Vec<_>>(),
        "rows": [row(ago(300), "10.0.1.4", "20.1.2.3", 9000), row(ago(240), "10.0.1.5", "20.1.2.3", 9000)]}]});
    let fake = FakeLa::start(&fx);
    let state = fake.state.clone();
    let pusher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2500));
        let t = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut s = state.lock().unwrap();
        s.fixture[0].rows.push(
            row(t.clone(), "10.0.1.6", "20.1.2.3", 9000)
                .as_array()
                .unwrap()
                .clone(),
        );
        s.fixture[0].rows.push(
            row(t, "10.0.1.4", "1.1.1.1", 53)
                .as_array()
                .unwrap()
                .clone(),
        );
    });
    let home = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = fwlog(Some(&fake), home.path())
        .args([
            "deny-report",
            "--workspace",
            WS,
            "--auth",
            "msi",
            "--since",
            "1h",
            "--follow",
            "--interval",
            "1s",
        ])
        .args(["--until-quiet", "4s", "--format", "json"])
        .output()
        .unwrap();
    pusher.join().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        (lines[0]["change"].as_str(), lines[0]["hits"].as_u64()),
        (Some("new"), Some(2))
    );
    let grown = lines
        .iter()
        .find(|l| l["change"] == "grown")
        .expect("a grown group");
    assert_eq!(
        (grown["hits"].as_u64(), grown["previous_hits"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(grown["distinct_sources"], 3);
    assert!(
        lines
            .iter()
            .any(|l| l["change"] == "new" && l["destination"] == "1.1.1.1")
    );
    // Several overlapping queries ran, yet the counts above are exact.
    assert!(fake.requests_for("deny-summary").len() >= 5);
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn follow_needs_a_workspace() {
    let home = tempfile::tempdir().unwrap();
    let out = fwlog(None, home.path())
        .args(["deny-report", "--input"])
        .arg(fixture_path())
        .args(["--follow"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--follow needs a Log Analytics workspace")
    );
}

/// The request carries `Prefer: wait=…` and a JSON body; a 401 (expired token) makes fwlog sign in again once.
#[test]
fn requests_are_well_formed_and_a_rejected_token_is_renewed_once() {
    let fake = FakeLa::start(&fixture());
    fake.state.lock().unwrap().reject_tokens = 1;
    let (live, err) = live_report(&fake, &["-v"]);
    assert_eq!(
        without_sources(live),
        without_sources(offline_report(&[])),
        "{err}"
    );
    let log = fake.log();
    assert_eq!(log[0].status, 401);
    assert!(
        log.iter().all(
            |l| l.prefer.starts_with("wait=") && l.content_type.starts_with("application/json")
        ),
        "{log:?}"
    );
    assert!(
        log[0].timespan.starts_with("2026-09-07T00:00:00"),
        "{log:?}"
    );
    assert_eq!(
        fake.state.lock().unwrap().token_requests,
        2,
        "signed in again after the 401"
    );

    // A token that keeps being rejected is an error, not a loop.
    let fake = FakeLa::start(&fixture());
    fake.state.lock().unwrap().reject_tokens = 100;
    let home = tempfile::tempdir().unwrap();
    let out = fwlog(Some(&fake), home.path())
        .args([
            "deny-report",
            "--workspace",
            WS,
            "--auth",
            "msi",
            "--since",
            "1h",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 401"));
    assert_eq!(fake.log().len(), 2);
}

#[test]
fn a_pinned_method_says_what_is_missing() {
    let home = tempfile::tempdir().unwrap();
    for (method, needle) in [
        (
            "env",
            "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are not all set",
        ),
        ("workload", "AZURE_FEDERATED_TOKEN_FILE is not set"),
    ] {
        let out = fwlog(None, home.path())
            .env("FWLOG_LOGANALYTICS_ENDPOINT", "http://127.0.0.1:9")
            .args([
                "deny-report",
                "--workspace",
                WS,
                "--auth",
                method,
                "--since",
                "1h",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{method}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{method}: {err}");
        assert!(
            !err.contains("Azure CLI"),
            "only the pinned method is tried: {err}"
        );
    }
}

/// `recommend --workspace` uses the same pushdown and recommends exactly what the offline run does.
#[test]
fn live_recommend_equals_offline_recommend() {
    let fake = FakeLa::start(&fixture());
    let home = tempfile::tempdir().unwrap();
    let common = ["--from", FROM, "--to", TO, "--format", "json"];
    let live = fwlog(Some(&fake), home.path())
        .args(["recommend", "--workspace", WS, "--auth", "msi"])
        .args(common)
        .output()
        .unwrap();
    assert!(
        live.status.success(),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    let offline = fwlog(None, home.path())
        .args(["recommend", "--input"])
        .arg(fixture_path())
        .args(common)
        .output()
        .unwrap();
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert_eq!(json_of(&live.stdout), json_of(&offline.stdout));
    assert_eq!(fake.log().len(), 2);
    // --print-kql needs no workspace credentials and prints the two queries.
    let printed = fwlog(None, home.path())
        .args([
            "recommend",
            "--workspace",
            WS,
            "--since",
            "1h",
            "--print-kql",
        ])
        .output()
        .unwrap();
    assert!(printed.status.success());
    let text = String::from_utf8_lossy(&printed.stdout);
    assert_eq!(text.matches("// ---").count(), 1, "{text}");
    assert!(text.contains("fwlog:query=deny-summary"), "{text}");
}

#[test]
fn a_token_echoed_by_the_server_is_redacted() {
    let fake = FakeLa::start(&fixture());
    fake.script("deny-summary", Scripted::EchoAuthorization);
    let home = tempfile::tempdir().unwrap();
    let out = on_workspace(&fake, home.path(), "deny-report")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("Authorization: Bearer [redacted]"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
}

#[test]
fn a_day_long_retry_after_is_capped_and_said() {
    let fake = FakeLa::start(&fixture());
    fake.script(
        "deny-summary",
        Scripted::TooMany {
            retry_after: Some(86_400),
        },
    );
    let home = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = on_workspace(&fake, home.path(), "deny-report")
        .env("FWLOG_MAX_RETRY_AFTER_MS", "300")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("asked to wait 86400s before retrying; waiting at most"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn an_oversized_answer_is_refused() {
    let fake = FakeLa::start(&fixture());
    fake.script("deny-summary", Scripted::Huge(4096));
    let home = tempfile::tempdir().unwrap();
    let out = on_workspace(&fake, home.path(), "deny-report")
        .env("FWLOG_MAX_RESPONSE_BYTES", "2048")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the answer to deny summary is larger than 2048 bytes"),
        "{err}"
    );
}

#[test]
fn the_run_gives_up_at_its_deadline_and_says_so() {
    let fake = FakeLa::start(&fixture());
    for _ in 0..6 {
        fake.script("sources", Scripted::Stall(Duration::from_secs(3)));
    }
    let home = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let out = on_workspace(&fake, home.path(), "deny-report")
        .args(["--timeout", "2s"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("before the deadline"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "{err}");
}

#[test]
fn print_kql_uses_the_config_files_firewall() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("fwlog")).unwrap();
    let fw = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-hub/providers/Microsoft.Network/azureFirewalls/fw-hub";
    std::fs::write(
        home.path().join("fwlog/config.toml"),
        format!("[log_analytics]\nfirewall = \"{fw}\"\n"),
    )
    .unwrap();
    for cmd in ["deny-report", "recommend", "fetch"] {
        let out = fwlog(None, home.path())
            .args([cmd, "--print-kql", "--since", "1h"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{cmd}");
        assert!(text.contains(&fw.to_ascii_lowercase()), "{cmd}: {text}");
    }
}

/// A hub-and-spoke estate: two workspaces holding different rows give one report whose totals are the sum of
/// the two single-workspace reports, group by group; with --by-origin every group keeps its workspace and each
/// workspace's groups are exactly its own report's.
#[test]
fn two_workspaces_give_one_report_whose_totals_are_the_sum() {
    let (a, b) = crate::fake_kusto::split_rows(&fixture());
    let fake = FakeLa::start(&fixture());
    {
        let mut st = fake.state.lock().unwrap();
        st.workspaces
            .insert(WS.into(), crate::fake_la::tables_of(&a));
        st.workspaces
            .insert(WS2.into(), crate::fake_la::tables_of(&b));
    }
    let home = tempfile::tempdir().unwrap();
    let run = |wss: &[&str], extra: &[&str]| -> Value {
        let mut c = fwlog(Some(&fake), home.path());
        c.args(["deny-report", "--auth", "msi", "--from", FROM, "--to", TO])
            .args(["--format", "json"]);
        for w in wss {
            c.args(["--workspace", w]);
        }
        let out = c.args(extra).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_of(&out.stdout)
    };
    let (ra, rb) = (run(&[WS], &[]), run(&[WS2], &[]));
    let both = run(&[WS, WS2], &[]);
    assert!(ra["denies"].as_u64().unwrap() > 0 && rb["denies"].as_u64().unwrap() > 0);
    for k in ["events", "denies", "unparsed"] {
        assert_eq!(
            both[k].as_u64().unwrap(),
            ra[k].as_u64().unwrap() + rb[k].as_u64().unwrap(),
            "{k}"
        );
    }
    // Group by group: hits add up, and nothing is counted that neither workspace has.
    let key = |g: &Value| {
        format!(
            "{}|{}|{}|{}|{}",
            g["kind"], g["source_subnet"], g["protocol"], g["destination"], g["destination_port"]
        )
    };
    let mut sums = std::collections::BTreeMap::new();
    for r in [&ra, &rb] {
        for g in r["groups"].as_array().unwrap() {
            *sums.entry(key(g)).or_insert(0) += g["hits"].as_u64().unwrap();
        }
    }
    let combined: std::collections::BTreeMap<String, u64> = both["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (key(g), g["hits"].as_u64().unwrap()))
        .collect();
    assert_eq!(combined, sums);
    // The same rows in one workspace give the same groups as the two together.
    assert_eq!(
        both["groups"],
        without_sources(offline_report(&[]))["groups"]
    );

    let by = run(&[WS, WS2], &["--by-origin"]);
    assert_eq!(by["denies"], both["denies"]);
    for (ws, single) in [(WS, &ra), (WS2, &rb)] {
        let mine: Vec<Value> = by["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["origin"] == ws)
            .map(|g| {
                let mut g = g.clone();
                g.as_object_mut().unwrap().remove("origin");
                g
            })
            .collect();
        assert_eq!(&Value::Array(mine), &single["groups"], "{ws}");
    }
    // Files have no origin to key on.
    let out = fwlog(None, home.path())
        .args(["deny-report", "--input"])
        .arg(fixture_path())
        .args(["--by-origin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--by-origin"));
}
