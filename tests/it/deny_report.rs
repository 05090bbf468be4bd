//! End-to-end tests of `fwlog deny-report` on the fixtures of every input shape.

use crate::util::{MAIN, fwlog};
use predicates::prelude::*;
use serde_json::Value;

fn report(args: &[&str]) -> Value {
    let out = fwlog()
        .arg("deny-report")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn group<'a>(r: &'a Value, dest: Option<&str>, port: u64) -> &'a Value {
    r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["destination"].as_str() == dest && g["destination_port"] == port)
        .unwrap_or_else(|| panic!("no group for {dest:?}:{port}"))
}

/// The groups without the catalog labels (compared across shapes).
fn groups(r: &Value) -> Vec<Value> {
    r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let mut g = g.clone();
            g.as_object_mut().unwrap().remove("catalog");
            g
        })
        .collect()
}

#[test]
fn main_sample_exact_groups() {
    let r = report(&["-i", MAIN]);
    assert_eq!(r["events"], 78);
    assert_eq!(r["denies"], 73);
    assert_eq!(r["skipped"], 0);
    assert_eq!(r["groups"].as_array().unwrap().len(), 16);
    let mcr = group(&r, Some("mcr.microsoft.com"), 443);
    assert_eq!(mcr["kind"], "application");
    assert_eq!(mcr["source_subnet"], "10.240.0.0/24");
    assert_eq!(mcr["protocol"], "HTTPS");
    assert_eq!(mcr["hits"], 12);
    assert_eq!(mcr["distinct_sources"], 3);
    assert_eq!(mcr["first_seen"], "2026-09-07T09:00:07.919000Z");
    assert_eq!(mcr["last_seen"], "2026-09-07T09:03:47.028000Z");
    assert_eq!(
        mcr["example_sources"],
        serde_json::json!(["10.240.0.4", "10.240.0.5", "10.240.0.6"])
    );
    let sni = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["destination"].is_null())
        .unwrap();
    assert!(sni["destination_port"].is_null());
    assert_eq!(sni["hits"], 3);
    assert_eq!(sni["source_subnet"], "10.244.1.0/24");
    assert_eq!(sni["distinct_sources"], 2);
    assert_eq!(
        sni["example_sources"],
        serde_json::json!(["10.244.1.7", "10.244.1.12"])
    );
    let tunnel = group(&r, Some("20.50.1.2"), 1194);
    assert_eq!(tunnel["kind"], "network");
    assert_eq!(tunnel["protocol"], "UDP");
    assert_eq!(tunnel["hits"], 6);
    // Sorted by hits, then keys.
    let hits: Vec<u64> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["hits"].as_u64().unwrap())
        .collect();
    assert!(hits.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(r["groups"][0]["destination"], "mcr.microsoft.com");
}

#[test]
fn every_structured_shape_gives_the_same_groups() {
    let want = groups(&report(&["-i", MAIN]));
    for f in [
        "fixtures/shapes/eventhub-records.json",
        "fixtures/shapes/data-export-PT05M.json",
        "fixtures/shapes/query-api-response.json",
        "fixtures/shapes/az-cli-query.json",
        "fixtures/shapes/portal-structured-export.csv",
    ] {
        let r = report(&["-i", f]);
        assert_eq!(r["events"], 78, "{f}");
        assert_eq!(r["skipped"], 0, "{f}");
        assert_eq!(groups(&r), want, "{f}");
    }
    // The two resource-specific Parquet tables together.
    let r = report(&[
        "-i",
        "fixtures/shapes/AZFWApplicationRule.parquet",
        "fixtures/shapes/AZFWNetworkRule.parquet",
    ]);
    assert_eq!(groups(&r), want);
}

#[test]
fn every_legacy_shape_gives_the_same_groups_as_its_structured_twin() {
    let want = groups(&report(&["-i", MAIN]));
    for f in [
        "fixtures/shapes/legacy-archive-PT1H.json",
        "fixtures/shapes/legacy-archive-PT1H.json.gz",
        "fixtures/shapes/portal-legacy-export.csv",
        "fixtures/shapes/AzureDiagnostics.parquet",
    ] {
        let r = report(&["-i", f]);
        assert_eq!(r["unparsed"], 0, "{f}");
        assert_eq!(r["events"], 78, "{f}");
        assert_eq!(groups(&r), want, "{f}");
    }
}

#[test]
fn aggregation_table_counts_are_hits() {
    let r = report(&[
        "-i",
        "fixtures/shapes/AZFWApplicationRuleAggregation.parquet",
    ]);
    let mcr = group(&r, Some("mcr.microsoft.com"), 443);
    assert_eq!(mcr["hits"], 12);
    assert_eq!(mcr["distinct_sources"], 3);
    assert_eq!(r["events"], 60);
    assert_eq!(r["denies"], 59);
}

#[test]
fn an_event_archived_twice_counts_once() {
    let single = report(&["-i", MAIN]);
    let both = report(&[
        "-i",
        MAIN,
        "fixtures/shapes/legacy-archive-PT1H.json",
        "fixtures/shapes/eventhub-records.json",
    ]);
    assert_eq!(groups(&both), groups(&single));
    assert_eq!(both["denies"], single["denies"]);
    // Duplicates are looked for among the denies in the window (the events the groups count): 146 of them.
    // The 10 repeated allowed events are not fingerprinted, so `events` counts them twice (78 + 10).
    assert_eq!(both["duplicates"], 146);
    assert_eq!(both["events"], 88);
    let kept = report(&[
        "-i",
        MAIN,
        "fixtures/shapes/eventhub-records.json",
        "--keep-duplicates",
    ]);
    assert_eq!(kept["denies"], 146);
}

#[test]
fn folders_globs_and_mixed_formats() {
    let r = report(&[
        "-i",
        "fixtures/shapes/*.parquet",
        "fixtures/shapes/az-cli-query.json",
    ]);
    // The aggregation table has no source ports, so its rows are never treated as duplicates.
    assert_eq!(r["sources"].as_array().unwrap().len(), 5);
    assert!(r["duplicates"].as_u64().unwrap() > 0);
}

#[test]
fn window_filters_and_grouping() {
    let r = report(&[
        "-i",
        MAIN,
        "--from",
        "2026-09-07T09:07:00Z",
        "--to",
        "2026-09-07T09:08:00Z",
    ]);
    assert_eq!(r["from"], "2026-09-07T09:07:00Z");
    assert_eq!(r["to"], "2026-09-07T09:08:00Z");
    assert!(r["events_in_window"].as_u64().unwrap() < 78);
    for g in r["groups"].as_array().unwrap() {
        assert!(g["first_seen"].as_str().unwrap() >= "2026-09-07T09:07:00");
        assert!(g["last_seen"].as_str().unwrap() < "2026-09-07T09:08:00");
    }

    let r = report(&["-i", MAIN, "--source", "10.244.0.0/16"]);
    assert_eq!(r["denies"], 9);
    let r = report(&["-i", MAIN, "--destination", "*.microsoft.com"]);
    assert_eq!(r["groups"].as_array().unwrap().len(), 3);
    let r = report(&["-i", MAIN, "--destination", "*.MCR.microsoft.com."]);
    assert_eq!(r["denies"], 6);
    let r = report(&["-i", MAIN, "--port", "9000"]);
    assert_eq!(r["denies"], 6);
    let r = report(&["-i", MAIN, "--protocol", "udp"]);
    assert_eq!(r["denies"], 8);
    let r = report(&["-i", MAIN, "--kind", "network"]);
    assert_eq!(r["denies"], 14);
    let r = report(&["-i", MAIN, "--top", "2"]);
    assert_eq!(r["groups"].as_array().unwrap().len(), 2);
    assert_eq!(r["total_groups"], 16);
    assert_eq!(r["denies"], 73);
    let r = report(&[
        "-i",
        MAIN,
        "--by-source-ip",
        "--destination",
        "mcr.microsoft.com",
    ]);
    assert_eq!(r["groups"].as_array().unwrap().len(), 3);
    assert_eq!(r["groups"][0]["source_subnet"], "10.240.0.4/32");
    let r = report(&[
        "-i",
        MAIN,
        "--prefix-v4",
        "8",
        "--destination",
        "*.docker.io",
    ]);
    assert_eq!(r["groups"][0]["source_subnet"], "10.0.0.0/8");
}

#[test]
fn empty_window_says_where_the_data_is() {
    fwlog()
        .args(["deny-report", "-i", MAIN, "--since", "1h"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "the time window holds no events, but the input does",
        ))
        .stderr(predicate::str::contains("2026-09-07T09:00:07.919000Z"));
}

#[test]
fn ipv6_real_samples_group_by_64() {
    let r = report(&[
        "-i",
        "fixtures/samples/azfwwatch-ipv6-AZFWNetworkRule.excerpt.jsonl",
    ]);
    let g = group(&r, Some("2001:4860:4860::8888"), 8080);
    assert_eq!(g["source_subnet"], "fd10:3:5:1::/64");
    assert_eq!(g["example_sources"], serde_json::json!(["fd10:3:5:1::4"]));
}

#[test]
fn malformed_records_are_skipped_counted_and_listed() {
    let out = fwlog()
        .args([
            "deny-report",
            "-i",
            "fixtures/bad/some-malformed-lines.json",
            "-v",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["skipped"], 3);
    assert_eq!(r["unparsed"], 1);
    assert_eq!(r["events"], 6);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("some-malformed-lines.json:4: malformed JSON"),
        "{err}"
    );
    assert!(
        err.contains("some-malformed-lines.json:5: bad record: no TimeGenerated/time value"),
        "{err}"
    );
    assert!(
        err.contains("some-malformed-lines.json:6: bad record: time \"not a time\""),
        "{err}"
    );
    assert!(
        err.contains("unparsed fixtures/bad/some-malformed-lines.json:7: Garbled text"),
        "{err}"
    );
}

#[test]
fn bad_inputs_exit_2_with_one_clear_message() {
    for (args, msg) in [
        (
            vec!["-i", "no/such/file.json"],
            "no/such/file.json: no such file or folder",
        ),
        (
            vec!["-i", "fixtures/bad/corrupt.parquet"],
            "fixtures/bad/corrupt.parquet: unreadable or corrupt Parquet",
        ),
        (
            vec!["-i", "fixtures/bad/no-columns.csv"],
            "fixtures/bad/no-columns.csv: none of the expected columns",
        ),
        (
            vec!["-i", "fixtures/*.nomatch"],
            "the pattern matches no file",
        ),
        (vec!["-i", MAIN, "--from", "yesterday"], "invalid time"),
        (vec!["-i", MAIN, "--source", "10.0.0.0/40"], "invalid CIDR"),
        (vec!["-i", MAIN, "--since", "1 hour"], "invalid duration"),
        (
            vec![
                "-i",
                MAIN,
                "--from",
                "2026-09-08T00:00:00Z",
                "--to",
                "2026-09-07T00:00:00Z",
            ],
            "time window is empty",
        ),
        (vec![], "no input"),
    ] {
        fwlog()
            .arg("deny-report")
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(msg))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn output_formats_and_atomic_file() {
    let dir = tempfile::tempdir().unwrap();
    for (fmt, check) in [
        (
            "csv",
            "kind,source_subnet,protocol,destination,destination_port,hits",
        ),
        ("markdown", "| Kind | Source subnet |"),
        ("table", "mcr.microsoft.com"),
    ] {
        let path = dir.path().join(format!("out.{fmt}"));
        fwlog()
            .args(["deny-report", "-i", MAIN, "--format", fmt, "--output"])
            .arg(&path)
            .assert()
            .success()
            .stdout("");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(check), "{fmt}: {text}");
    }
    let pq = dir.path().join("groups.parquet");
    fwlog()
        .args(["deny-report", "-i", MAIN, "--format", "parquet", "-o"])
        .arg(&pq)
        .assert()
        .success();
    assert!(std::fs::read(&pq).unwrap().starts_with(b"PAR1"));
    // Deterministic: the same input renders byte-identical output.
    let a = fwlog()
        .args(["deny-report", "-i", MAIN, "--format", "json"])
        .output()
        .unwrap()
        .stdout;
    let b = fwlog()
        .args(["deny-report", "-i", MAIN, "--format", "json"])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(a, b);
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        fwlog()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("deny-report"));
    }
    fwlog()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".TH fwlog"));
}

/// The first (most specific) catalog label of each group of the failed-provisioning sample.
#[test]
fn main_sample_groups_carry_catalog_labels() {
    let r = report(&["-i", MAIN]);
    let first = |dest: Option<&str>, port: u64| -> (String, String, String) {
        let g = group(&r, dest, port);
        let m = &g["catalog"][0];
        (
            m["feature"].as_str().unwrap_or("").to_string(),
            m["requirement"].as_str().unwrap_or("").to_string(),
            m["status"].as_str().unwrap_or("").to_string(),
        )
    };
    let lbl = |f: &str, r: &str, s: &str| (f.to_string(), r.to_string(), s.to_string());
    assert_eq!(
        first(Some("mcr.microsoft.com"), 443),
        lbl("core", "required", "current")
    );
    assert_eq!(
        first(Some("westeurope.data.mcr.microsoft.com"), 443),
        lbl("core", "required", "current")
    );
    assert_eq!(
        first(Some("aks-weu-dns-4f2a9c1e.hcp.westeurope.azmk8s.io"), 443),
        lbl("core", "required", "current")
    );
    assert_eq!(
        first(Some("management.azure.com"), 443),
        lbl("core", "required", "current")
    );
    assert_eq!(
        first(Some("login.microsoftonline.com"), 443),
        lbl("core", "required", "current")
    );
    assert_eq!(
        first(Some("packages.aks.azure.com"), 443),
        lbl("core", "required", "current")
    );
    assert_eq!(
        first(Some("packages.microsoft.com"), 443),
        lbl("core", "required", "current")
    );
    assert_eq!(
        first(Some("acs-mirror.azureedge.net"), 443),
        lbl("core", "required", "retiring")
    );
    assert_eq!(
        first(Some("20.50.1.2"), 1194),
        lbl("core", "required", "current")
    );
    assert_eq!(
        first(Some("20.50.1.2"), 9000),
        lbl("core", "required", "current")
    );
    assert_eq!(
        first(Some("registry-1.docker.io"), 443),
        lbl("non-aks", "non-aks", "current")
    );
    assert_eq!(
        first(Some("md-hdd-xk2lz0q1vw3p.z12.blob.storage.azure.net"), 443),
        lbl("platform-managed-disks", "informational", "current")
    );
    let none = |r: &Value| {
        r["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["destination"].is_null())
            .unwrap()
            .clone()
    };
    assert_eq!(none(&r)["catalog"][0]["feature"], "apiserver-ip-access");
    assert_eq!(none(&r)["catalog"][0]["requirement"], "conditional");
    let ubuntu: Vec<&str> = group(&r, Some("security.ubuntu.com"), 80)["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["feature"].as_str().unwrap())
        .collect();
    assert!(ubuntu.contains(&"ubuntu-updates"));
    // Not in the catalog: explicit empty list, and the table says so.
    assert_eq!(
        group(&r, Some("91.189.91.157"), 123)["catalog"],
        serde_json::json!([])
    );
    // Features in use turn conditional into required.
    let r = report(&["-i", MAIN, "--features", "apiserver-ip-access"]);
    assert_eq!(none(&r)["catalog"][0]["requirement"], "required");
    // With konnectivity the tunnel ports are not needed.
    let r = report(&["-i", MAIN, "--konnectivity"]);
    assert!(group(&r, Some("20.50.1.2"), 1194)["catalog"][0]["not_needed"].is_string());
}

#[test]
fn the_same_parquet_read_twice_counts_once() {
    let once = report(&["-i", "fixtures/shapes/AZFWApplicationRule.parquet"]);
    let twice = report(&[
        "-i",
        "fixtures/shapes/AZFWApplicationRule.parquet",
        "fixtures/shapes/AZFWApplicationRule.parquet",
    ]);
    assert_eq!(groups(&twice), groups(&once));
    assert_eq!(twice["denies"], once["denies"]);
    // Every deny of the second copy is a duplicate; its one allowed event counts again in `events`.
    assert_eq!(twice["duplicates"], 59);
    assert_eq!(twice["events"], 61);
    assert_eq!(twice["events_in_window"], 61);
    // Legacy twins inside Parquet are duplicates of the structured rows too.
    let mixed = report(&[
        "-i",
        "fixtures/shapes/AzureDiagnostics.parquet",
        "fixtures/shapes/AZFWNetworkRule.parquet",
    ]);
    assert_eq!(mixed["duplicates"], 14);
    assert_eq!(mixed["events"], 82);
}

/// The real public samples: structured and legacy twins of the same lab events count once, and the folder's
/// non-log files are passed over and reported, not read and not silently dropped.
#[test]
fn real_sample_folder_twins_count_once_and_other_files_are_reported() {
    let out = fwlog()
        .args([
            "deny-report",
            "-i",
            "fixtures/samples",
            "--format",
            "json",
            "-v",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    // 2 denies archived in both modes (the 7 allowed twins are not fingerprinted and count twice).
    assert_eq!(r["events"], 17);
    assert_eq!(r["duplicates"], 2);
    assert_eq!(r["unparsed"], 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("3 file(s) in the input folders passed over"),
        "{err}"
    );
    assert!(err.contains("PROVENANCE.md"), "{err}");
    // Named explicitly, a file is read whatever its ending.
    fwlog()
        .args(["deny-report", "-i", "fixtures/samples/PROVENANCE.md"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "PROVENANCE.md: none of the expected columns",
        ));
}
