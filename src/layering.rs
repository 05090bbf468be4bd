//! The direction of imports, checked: every `crate::…` path in `src/**/*.rs` (outside test code) must name a
//! module its own top-level module may use. The allowed direction is written once, as data, in [`ALLOWED`];
//! adding an import that points up fails `cargo test` with the file and line.

use std::collections::BTreeSet;
use std::path::Path;

/// Each top-level module and the modules it may import. Modules not listed may not be imported from anywhere
/// but the command line.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("messages", &[]),
    ("output", &["error"]),
    ("parallel", &[]),
    ("event", &["error", "messages"]),
    ("legacy", &["event", "error"]),
    ("query", &["event", "error"]),
    ("catalog", &["query", "event", "error", "messages"]),
    // Sources. `catalog` only for the Azure cloud names the catalog and the live endpoints share.
    (
        "input",
        &["query", "event", "legacy", "parallel", "error", "messages"],
    ),
    (
        "live",
        &[
            "input", "query", "event", "legacy", "catalog", "output", "error", "messages",
        ],
    ),
    (
        "engine",
        &["query", "event", "parallel", "error", "messages"],
    ),
    // The user's firewall policy: read from exports, evaluated against flows.
    (
        "policy",
        &["catalog", "query", "event", "error", "messages"],
    ),
    (
        "report",
        &[
            "engine", "policy", "catalog", "query", "event", "parallel", "error", "messages",
        ],
    ),
    (
        "recommend",
        &[
            "engine", "policy", "catalog", "query", "event", "error", "messages",
        ],
    ),
    (
        "render",
        &[
            "report",
            "recommend",
            "policy",
            "engine",
            "catalog",
            "query",
            "event",
            "parallel",
            "error",
            "messages",
        ],
    ),
    (
        "cli",
        &[
            "render",
            "output",
            "report",
            "recommend",
            "engine",
            "input",
            "live",
            "policy",
            "catalog",
            "query",
            "legacy",
            "event",
            "error",
            "messages",
            "version_line",
        ],
    ),
];

/// Items at the crate root that belong to a module: the message macros are exported there.
fn owner(name: &str) -> &str {
    match name {
        "note" | "info" | "debug" => "messages",
        other => other,
    }
}

/// A forbidden import: file, line, the importing module and the module it names.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    file: String,
    line: usize,
    from: String,
    to: String,
}

/// The top-level modules a piece of source text names through `crate::` paths, with their line numbers.
/// Test code (from the first `#[cfg(test)]` on) and comments are not read.
fn imports(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let line = raw.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(p) = rest.find("crate::") {
            let before = rest[..p].chars().last();
            rest = &rest[p + "crate::".len()..];
            // `$crate::` in macros and `fwlog_crate::`-style names are not this crate's paths.
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push((i + 1, name));
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push((i + 1, name));
                }
            }
        }
    }
    out
}

fn check(module: &str, file: &str, text: &str) -> Vec<Violation> {
    let allowed: BTreeSet<&str> = ALLOWED
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, a)| a.iter().copied().collect())
        .unwrap_or_default();
    imports(text)
        .into_iter()
        .map(|(line, name)| (line, owner(&name).to_string()))
        .filter(|(_, to)| to != module && !allowed.contains(to.as_str()))
        .map(|(line, to)| Violation {
            file: file.to_string(),
            line,
            from: module.to_string(),
            to,
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src is readable")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut violations = Vec::new();
    let mut unknown = BTreeSet::new();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src");
        let first = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("");
        let module = first.trim_end_matches(".rs");
        // The crate root and the binary declare modules; test-only files are test code.
        if matches!(module, "lib" | "main" | "layering") || rel.ends_with("tests.rs") {
            continue;
        }
        if !ALLOWED.iter().any(|(m, _)| *m == module) {
            unknown.insert(module.to_string());
            continue;
        }
        let text = std::fs::read_to_string(f).expect("readable source");
        violations.extend(check(module, &rel.display().to_string(), &text));
    }
    assert!(
        unknown.is_empty(),
        "modules missing from the layering table in src/layering.rs: {unknown:?}"
    );
    assert!(
        violations.is_empty(),
        "imports against the layering (src/layering.rs):\n{}",
        violations
            .iter()
            .map(|v| format!(
                "  {}:{}: {} imports crate::{}",
                v.file, v.line, v.from, v.to
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn a_forbidden_import_is_found() {
    let sample = "use crate::event::Kind;\n\
                  use crate::{query::Query, report::model::DenyReport};\n\
                  // use crate::cli::args; (a comment)\n\
                  fn f() { let _ = crate::cli::now_us(); crate::info!(\"x\"); }\n\
                  macro_rules! m { () => { $crate::cli::x() } }\n\
                  #[cfg(test)]\n\
                  mod tests { use crate::input::Row; }\n";
    let v = check("engine", "engine/x.rs", sample);
    let found: Vec<(usize, &str)> = v.iter().map(|v| (v.line, v.to.as_str())).collect();
    assert_eq!(found, vec![(2, "report"), (4, "cli")]);
    assert!(check("cli", "cli/x.rs", sample).is_empty());
}
