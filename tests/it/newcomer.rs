//! A newcomer's path: tables that fit 80 columns, the next step, safe IaC defaults, the pipeline gate, the
//! conventions az and kubectl users expect, and help that teaches.

use crate::util::{MAIN, fwlog, stdout_of};

/// Rows of a compact table: each group is a line starting at the first column, continuation lines start
/// with spaces.
fn group_line_counts(table: &str) -> Vec<usize> {
    let body: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with('═'))
        .skip(1)
        .take_while(|l| !l.starts_with('─'))
        .collect();
    let mut counts = Vec::new();
    for l in body {
        if l.starts_with(' ') {
            *counts.last_mut().expect("a continuation after a row") += 1;
        } else {
            counts.push(1);
        }
    }
    counts
}

#[test]
fn the_sample_fits_80_columns_in_one_or_two_lines_per_group() {
    for (flag, env) in [(Some("80"), None), (None, Some("80"))] {
        let mut cmd = fwlog();
        cmd.args(["deny-report", "-i", MAIN]);
        if let Some(w) = flag {
            cmd.args(["--width", w]);
        }
        if let Some(c) = env {
            cmd.env("COLUMNS", c);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        for l in text.lines() {
            assert!(l.chars().count() <= 80, "{} > 80: {l}", l.chars().count());
        }
        let counts = group_line_counts(&text);
        assert_eq!(counts.len(), 16, "{text}");
        assert!(counts.iter().all(|c| *c <= 2), "{counts:?}\n{text}");
        assert!(text.contains("required"), "{text}");
        assert!(text.contains("not AKS"), "{text}");
    }
}

#[test]
fn the_table_ends_with_the_next_step() {
    let text = stdout_of(&["deny-report", "-i", MAIN, "--width", "200"]);
    assert!(
        text.contains(
            "65 of these denies are to endpoints AKS needs or advises: `fwlog recommend -i \
             fixtures/aks-provision-failure` writes the rules."
        ),
        "{text}"
    );
    // The command it names works.
    stdout_of(&["recommend", "-i", MAIN]);
}

#[test]
fn piped_tables_have_a_fixed_width_and_scripts_get_tsv() {
    let text = stdout_of(&["deny-report", "-i", MAIN]);
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    let tsv = stdout_of(&["deny-report", "-i", MAIN, "--format", "tsv"]);
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines.len(), 17);
    assert!(lines[0].starts_with("kind\tsource_subnet\tprotocol\tdestination"));
    assert!(lines.iter().all(|l| l.split('\t').count() == 11), "{tsv}");
}

#[test]
fn an_empty_recommendation_writes_no_deployable_group() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["bicep", "terraform", "arm", "azcli"] {
        let out_file = dir.path().join(format!("rules.{format}"));
        let out = fwlog()
            .args([
                "recommend",
                "-i",
                MAIN,
                "--from",
                "2020-01-01",
                "--to",
                "2020-01-02",
            ])
            .args(["--format", format, "-o"])
            .arg(&out_file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{format}");
        assert!(!out_file.exists(), "{format}: a file was written");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no rules to write"), "{err}");
    }
    // The human and JSON formats still say what they found.
    let out = fwlog()
        .args(["recommend", "-i", MAIN, "--since", "1h", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn fail_on_gates_a_pipeline() {
    for (cmd, level, code) in [
        ("deny-report", "required", 1),
        ("deny-report", "any", 1),
        ("recommend", "required", 1),
        ("recommend", "needed", 1),
    ] {
        let out = fwlog()
            .args([cmd, "-i", MAIN, "--fail-on", level, "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{cmd} {level}");
        assert!(!out.stdout.is_empty(), "the output is still written");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("--fail-on {level}:")), "{err}");
    }
    // Nothing at that level: success. Docker Hub alone is not an AKS endpoint.
    let out = fwlog()
        .args([
            "deny-report",
            "-i",
            MAIN,
            "--destination",
            "registry-1.docker.io",
        ])
        .args(["--fail-on", "required"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = fwlog()
        .args(["deny-report", "-i", MAIN, "--fail-on", "sometimes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn dash_o_takes_a_file_and_refuses_a_format_name() {
    let out = fwlog()
        .args(["recommend", "-i", MAIN, "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("use --format json"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let out = fwlog()
        .current_dir(dir.path())
        .args(["deny-report", "-i"])
        .arg(crate::util::root().join(MAIN))
        .args(["-o", "./json", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(dir.path().join("json").exists());
    // fetch takes -o too (and still --out).
    for flag in ["-o", "--output", "--out"] {
        let out = fwlog()
            .args(["fetch", "--since", "1h", flag, "x.parquet", "--print-kql"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{flag}");
    }
}

#[test]
fn dates_and_iso_8601_spans_are_windows() {
    let denies = |args: &[&str]| -> u64 {
        let text = stdout_of(&[&["deny-report", "-i", MAIN, "--format", "json"], args].concat());
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["denies"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(denies(&["--from", "2026-09-07", "--to", "2026-09-08"]), 73);
    assert_eq!(
        denies(&["--from", "2026-09-07T09:05"]),
        denies(&["--from", "2026-09-07T09:05:00Z"])
    );
    assert_eq!(denies(&["--since", "P3650D"]), 73);
    assert_eq!(denies(&["--from", "2026-09-08"]), 0);
    let out = fwlog()
        .args(["deny-report", "-i", MAIN, "--protocol", "htps"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean HTTPS?"), "{err}");
}

#[test]
fn a_path_without_dash_i_gets_a_tip() {
    let out = fwlog().args(["deny-report", MAIN]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tip: to read fixtures/aks-provision-failure, pass it with -i"),
        "{err}"
    );
}

#[test]
fn help_teaches_and_man_pages_cover_every_command() {
    for cmd in ["deny-report", "recommend", "catalog", "fetch"] {
        let help = stdout_of(&[cmd, "--help"]);
        assert!(help.contains("Examples:\n  fwlog "), "{cmd}: {help}");
        let page = stdout_of(&["man", cmd]);
        assert!(page.contains(&format!(".TH fwlog-{cmd} 1")), "{cmd}");
        assert!(page.contains("Examples:"), "{cmd}");
    }
    let top = stdout_of(&["--help"]);
    assert!(top.contains("Exit status:"), "{top}");
    let bash = stdout_of(&["completions", "bash"]);
    for value in [
        "monitoring",
        "azure-policy",
        "threat-intel",
        "HTTPS",
        "usgov",
        "terraform",
    ] {
        assert!(bash.contains(value), "completions lack {value}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = fwlog()
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    for page in [
        "fwlog.1",
        "fwlog-deny-report.1",
        "fwlog-recommend.1",
        "fwlog-fetch.1",
    ] {
        assert!(dir.path().join(page).exists(), "{page}");
    }
}

/// Long reads show progress on a terminal (files, bytes, records), never with -q or when stderr is not one.
#[test]
fn progress_shows_on_a_terminal_only() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` (a pseudo-terminal) is not installed");
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("fwlog");
    let dir = tempfile::tempdir().unwrap();
    let run = |quiet: bool| -> String {
        let typescript = dir.path().join(if quiet { "q.txt" } else { "t.txt" });
        let cmd = format!(
            "{} {}deny-report -i {} --format json -o {}",
            bin.display(),
            if quiet { "-q " } else { "" },
            crate::util::root().join(MAIN).display(),
            dir.path().join("out.json").display()
        );
        let out = std::process::Command::new("script")
            .args(["-qec", &cmd])
            .arg(&typescript)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&typescript).unwrap()
    };
    let shown = run(false);
    assert!(shown.contains("reading 0/1 files"), "{shown}");
    assert!(shown.contains("KiB"), "{shown}");
    assert!(!run(true).contains("reading"));
    let piped = fwlog()
        .args(["deny-report", "-i", MAIN, "--format", "json"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&piped.stderr).contains("reading"));
}
