//! End-to-end tests of `fwlog catalog …`.

use std::io::Write;

use crate::util::fwlog;
use predicates::prelude::*;

fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

const TEAM: &str = r#"[[entry]]
pattern = "*.registry.example.com"
protocols = ["https:443"]
clouds = ["public"]
feature = "team-registry"
requirement = "required"
status = "current"
source = "https://wiki.example.com/egress"
"#;

fn json(args: &[&str]) -> serde_json::Value {
    let out = fwlog()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn version_shows_catalog_version() {
    fwlog()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains("catalog aks "));
}

#[test]
fn list_json() {
    let v = json(&["catalog", "list", "--format", "json", "--feature", "core"]);
    let rows = v.as_array().unwrap();
    assert!(rows.len() > 10);
    for r in rows {
        for key in [
            "pattern",
            "feature",
            "requirement",
            "status",
            "source",
            "id",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        assert_eq!(r["feature"], "core");
    }
    assert!(rows.iter().any(|r| r["pattern"] == "mcr.microsoft.com"));
}

#[test]
fn list_filters_and_features_flag() {
    let v = json(&[
        "catalog",
        "list",
        "--format",
        "json",
        "--features",
        "monitoring",
        "--feature",
        "monitoring",
        "--requirement",
        "required",
    ]);
    let rows = v.as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r["requirement"] == "required" && r["declared_requirement"] == "conditional")
    );
    fwlog()
        .args(["catalog", "list", "--cloud", "china"])
        .assert()
        .success()
        .stdout(predicate::str::contains("mcr.azure.cn"));
}

#[test]
fn match_hit_explains() {
    fwlog()
        .args([
            "catalog",
            "match",
            "aks-0a1b2c3d.hcp.westeurope.azmk8s.io:443",
            "--protocol",
            "https",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("*.hcp.<location>.azmk8s.io"))
        .stdout(predicate::str::contains("location=westeurope"))
        .stdout(predicate::str::contains("*.hcp.westeurope.azmk8s.io"))
        .stdout(predicate::str::contains("requirement:    required"))
        .stdout(predicate::str::contains(
            "https://learn.microsoft.com/azure/aks/outbound-rules-control-egress",
        ));
    fwlog()
        .args([
            "catalog",
            "match",
            "aks-1.hcp.westeurope.azmk8s.io",
            "--private-cluster",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("not-needed"))
        .stdout(predicate::str::contains("Private Link"));
}

#[test]
fn match_json_contract() {
    let v = json(&[
        "catalog",
        "match",
        "login.microsoftonline.com:443",
        "--format",
        "json",
        "--features",
        "defender",
    ]);
    let cat = v["catalog"].as_array().unwrap();
    assert_eq!(cat[0]["feature"], "core");
    assert_eq!(cat[1]["feature"], "defender");
    assert_eq!(cat[1]["requirement"], "required");
    for key in ["pattern", "feature", "requirement", "status", "source"] {
        assert!(cat[0].get(key).is_some(), "{key}");
    }
}

#[test]
fn match_ipv6_and_miss() {
    fwlog()
        .args(["catalog", "match", "[2001:db8::1]:8443"])
        .assert()
        .success()
        .stdout(predicate::str::contains("not in the catalog"));
    fwlog()
        .args(["catalog", "match", "www.example.org:443"])
        .assert()
        .success()
        .stdout(predicate::str::contains("not in the catalog"));
    fwlog()
        .args(["catalog", "match", "host:notaport"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid port"));
}

#[test]
fn features_command() {
    fwlog()
        .args(["catalog", "features"])
        .assert()
        .success()
        .stdout(predicate::str::contains("monitoring"))
        .stdout(predicate::str::contains("workload-identity"));
    fwlog()
        .args(["catalog", "list", "--features", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown feature \"nope\""));
}

#[test]
fn user_catalog_is_merged() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(&dir, "team.toml", TEAM);
    fwlog()
        .args([
            "catalog",
            "match",
            "acr.registry.example.com:443",
            "--catalog",
        ])
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains("team-registry"))
        .stdout(predicate::str::contains("team.toml:1"));
}

#[test]
fn bad_user_catalogs_exit_2_with_file_line_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "syntax.toml",
            TEAM.replace("clouds = [\"public\"]", "clouds = [\"public\""),
            vec!["syntax.toml:5:1", "missing comma"],
        ),
        (
            "unknown.toml",
            format!("{TEAM}colour = \"red\"\n"),
            vec!["unknown.toml:9", "colour"],
        ),
        (
            "pattern.toml",
            TEAM.replace("*.registry", "reg*.*.registry"),
            vec!["pattern.toml:2", "`pattern`", "malformed"],
        ),
        (
            "missing.toml",
            TEAM.replace("status = \"current\"\n", ""),
            vec!["missing.toml:1", "status"],
        ),
    ];
    for (name, text, needles) in cases {
        let p = file(&dir, name, &text);
        let mut a = fwlog()
            .args(["catalog", "list", "--catalog"])
            .arg(&p)
            .assert()
            .code(2);
        for n in needles {
            a = a.stderr(predicate::str::contains(n));
        }
    }
}

#[test]
fn conflicting_user_entry_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        &dir,
        "mine.toml",
        &TEAM.replace("*.registry.example.com", "mcr.microsoft.com"),
    );
    fwlog()
        .args(["catalog", "list", "--catalog"])
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("conflict"))
        .stderr(predicate::str::contains("mine.toml:1"))
        .stderr(predicate::str::contains("builtin:aks.toml:"));
}
