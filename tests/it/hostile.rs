//! Log content is untrusted: `fixtures/bad/hostile-names.json` holds 50 destination names anyone in a cluster
//! could send (quotes, `$()`, backticks, `${}`, `%{}`, newlines, ESC/OSC sequences, bidi overrides, zero-width
//! characters, NUL, over-long labels and names, leading `-`/`@`, wildcards, Markdown, HTML, spreadsheet
//! formulas). Each output format is checked by its real consumer: Terraform by an HCL parser, ARM and JSON by a
//! JSON parser, the az CLI script by `bash -n` and by running it with a fake `az`, CSV by a CSV reader.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::util::{fwlog, json_of, stdout_of};

const HOSTILE: &str = "fixtures/bad/hostile-names.json";

/// The names of the fixture that are valid host names (the only ones a rule may ever name).
const VALID: [&str; 4] = [
    "mcr.microsoft.com",
    "api.example.com",
    "next.example.com",
    "xn--nxasmq6b.example.com",
];

fn recommend(format: &str) -> String {
    stdout_of(&[
        "recommend",
        "-i",
        HOSTILE,
        "--include-unmatched",
        "--features",
        "azure-backup",
        "--format",
        format,
    ])
}

/// Bytes that change what a terminal shows: C0 controls but newline, DEL, C1 controls, bidi and zero-width.
fn raw_controls(text: &str) -> Vec<String> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}')
        })
        .map(|c| format!("U+{:04X}", c as u32))
        .collect()
}

#[test]
fn no_invalid_name_becomes_a_rule_and_each_is_listed_with_a_count() {
    let v: Value = serde_json::from_str(&recommend("json")).unwrap();
    let mut targets = BTreeSet::new();
    for r in v["rules"].as_array().unwrap() {
        for t in r["target_fqdns"].as_array().unwrap() {
            targets.insert(t.as_str().unwrap().to_string());
        }
        for t in r["destination_addresses"].as_array().unwrap() {
            targets.insert(t.as_str().unwrap().to_string());
        }
        assert!(
            !r["source_addresses"].as_array().unwrap().is_empty(),
            "a rule without sources: {r}"
        );
    }
    let allowed: BTreeSet<String> = VALID.iter().map(|s| s.to_string()).collect();
    assert!(
        targets.is_subset(&allowed),
        "rules name {:?}",
        targets.difference(&allowed).collect::<Vec<_>>()
    );
    assert!(
        targets.contains("api.example.com"),
        "the valid unmatched name still gets its exact rule"
    );
    // 46 of the 50 names are not valid host names (the fixture's U+0085 is trimmed away as white space).
    let invalid = v["invalid_names"].as_array().unwrap();
    assert_eq!(invalid.len(), 46, "{invalid:#?}");
    assert!(
        invalid
            .iter()
            .any(|n| n["destination"] == "*.evil.microsoft.com")
    );
    assert!(invalid.iter().any(|n| n["destination"] == "*.ngrok.io"));
    let table = recommend("table").replace('\n', " ");
    assert!(
        table.contains("Not a valid host name: no rule written (46):"),
        "{table}"
    );
    assert!(table.contains(", 46 not a valid host name;"), "{table}");
}

#[test]
fn terraform_parses_with_no_extra_blocks() {
    let tf = recommend("terraform");
    let body: hcl::Body = hcl::from_str(&tf).unwrap_or_else(|e| panic!("{e}\n{tf}"));
    let blocks: Vec<&hcl::Block> = body.blocks().collect();
    let kinds: Vec<&str> = blocks.iter().map(|b| b.identifier()).collect();
    assert_eq!(kinds, vec!["variable", "resource"], "{tf}");
    let rules: usize = blocks[1]
        .body()
        .blocks()
        .flat_map(|c| c.body().blocks())
        .filter(|b| b.identifier() == "rule")
        .count();
    let json: Value = serde_json::from_str(&recommend("json")).unwrap();
    assert_eq!(rules, json["rules"].as_array().unwrap().len());
    assert!(raw_controls(&tf).is_empty(), "{:?}", raw_controls(&tf));
}

#[test]
fn arm_and_json_parse_and_carry_no_expression() {
    let arm: Value = serde_json::from_str(&recommend("arm")).unwrap();
    let text = arm.to_string();
    assert!(
        !text.contains("$(touch"),
        "a hostile name reached the template"
    );
    let json = recommend("json");
    json_of(json.as_bytes());
}

#[test]
fn bicep_and_markdown_and_tables_carry_no_raw_controls() {
    for format in ["bicep", "markdown", "table"] {
        let out = recommend(format);
        assert!(
            raw_controls(&out).is_empty(),
            "{format}: {:?}",
            raw_controls(&out)
        );
    }
    for format in ["table", "markdown", "csv"] {
        let out = stdout_of(&["deny-report", "-i", HOSTILE, "--format", format]);
        assert!(
            raw_controls(&out).is_empty(),
            "deny-report {format}: {:?}",
            raw_controls(&out)
        );
    }
    let out = fwlog()
        .args(["-vv", "deny-report", "-i", HOSTILE, "--format", "json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(raw_controls(&err).is_empty(), "stderr: {err}");
}

#[test]
fn markdown_cells_cannot_break_the_table_or_start_links() {
    let md = stdout_of(&["deny-report", "-i", HOSTILE, "--format", "markdown"]);
    for line in md.lines().filter(|l| l.starts_with('|')) {
        let mut pipes = 0;
        let mut escaped = false;
        for c in line.chars() {
            match c {
                '\\' if !escaped => escaped = true,
                '|' if !escaped => pipes += 1,
                _ => escaped = false,
            }
        }
        assert_eq!(pipes, 12, "a cell broke the table: {line}");
    }
    assert!(!md.contains("[click](http"), "{md}");
    assert!(!md.contains("<script>"), "{md}");
}

#[test]
fn csv_cells_are_never_live_formulas() {
    let csv_text = stdout_of(&["deny-report", "-i", HOSTILE, "--format", "csv"]);
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let mut rows = 0;
    for rec in rdr.records() {
        rows += 1;
        for cell in rec.unwrap().iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula cell {cell:?}"
            );
        }
    }
    assert_eq!(rows, 50);
}

#[test]
fn the_az_cli_script_parses_and_runs_only_az() {
    let script = recommend("azcli");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.sh");
    std::fs::write(&path, &script).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    run_with_fake_az(&path, dir.path());
    // The fixture's own script (the case bash rejected before) too.
    let fixture_script = stdout_of(&["recommend", "-i", crate::util::MAIN, "--format", "azcli"]);
    let p2 = dir.path().join("fixture.sh");
    std::fs::write(&p2, &fixture_script).unwrap();
    run_with_fake_az(&p2, dir.path());
}

/// Run a generated script with a fake `az` first in PATH that records its argv; it must call nothing else and
/// create nothing.
fn run_with_fake_az(script: &Path, dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("az.log");
    let _ = std::fs::remove_file(&log);
    let az = bin.join("az");
    std::fs::write(
        &az,
        format!(
            "#!/bin/bash\nprintf '%s\\x1f' \"$@\" >> {}\nprintf '\\n' >> {}\n",
            log.display(),
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let canary = Path::new("/tmp/fwlog-pwned");
    let _ = std::fs::remove_file(canary);
    let out = std::process::Command::new("bash")
        .arg(script)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("RG", "rg-hub")
        .env("POLICY", "fwpol-hub")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!canary.exists(), "the script ran a command from a log");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(!calls.is_empty());
    for call in calls.lines() {
        let argv: Vec<&str> = call.split('\x1f').filter(|a| !a.is_empty()).collect();
        assert_eq!(
            &argv[..3],
            ["network", "firewall", "policy"],
            "unexpected az call {argv:?}"
        );
        for a in &argv {
            assert!(!a.starts_with('@'), "an @file argument: {argv:?}");
        }
    }
}
