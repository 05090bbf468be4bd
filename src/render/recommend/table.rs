//! Human formats: a terminal table (rules, then what needs no rule, then what no rule covers) and Markdown
//! with the same three sections.

use comfy_table::{Cell, CellAlignment};

use super::summary;
use crate::recommend::model::{InvalidName, Known, Recommendation, Rule, RuleKind, Unmatched};
use crate::render::escape;
use crate::render::table::{Layout, new_table, wrap};

const RULE_HEADERS: [&str; 9] = [
    "Collection",
    "Prio",
    "Rule",
    "Sources",
    "Protocols",
    "Destinations",
    "Requirement",
    "Hits",
    "Covers",
];

fn rule_cells(r: &Rule) -> [String; 9] {
    let sources = if r.source_ip_groups.is_empty() {
        r.source_addresses.join(" ")
    } else {
        format!("ipgroup:{}", r.source_ip_groups.join(" "))
    };
    let (protocols, dest) = match r.kind {
        RuleKind::Application => (r.protocols.join(" "), r.target_fqdns.join(" ")),
        RuleKind::Network => (
            format!(
                "{}/{}",
                r.protocols.join(","),
                r.destination_ports.join(",")
            ),
            [r.destination_addresses.clone(), r.target_fqdns.clone()]
                .concat()
                .join(" "),
        ),
    };
    [
        r.collection.clone(),
        r.priority.to_string(),
        r.name.clone(),
        sources,
        protocols,
        dest,
        format!("{} ({})", r.requirement, r.feature),
        r.evidence.hits.to_string(),
        r.evidence.destinations.join(" "),
    ]
}

/// `PROTO host:port`, with what the log lacked said in words.
fn denied(protocol: Option<&str>, destination: Option<&str>, port: Option<u32>) -> String {
    let dest = match (destination, port) {
        (None, _) => "(no SNI: a client called an IP)".to_string(),
        (Some(d), Some(p)) if d.contains(':') => format!("[{d}]:{p}"),
        (Some(d), Some(p)) => format!("{d}:{p}"),
        (Some(d), None) => d.to_string(),
    };
    format!("{} {dest}", protocol.unwrap_or("-"))
}

/// `1 hit`, `2 hits`.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn known_line(k: &Known) -> String {
    format!(
        "{} — {} from {} — {}",
        denied(
            k.protocol.as_deref(),
            k.destination.as_deref(),
            k.destination_port
        ),
        count(k.hits, "hit", "hits"),
        k.source_subnets.join(" "),
        k.summary
    )
}

fn unmatched_line(u: &Unmatched) -> String {
    format!(
        "{} — {} from {} — {}",
        denied(
            u.protocol.as_deref(),
            u.destination.as_deref(),
            u.destination_port
        ),
        count(u.hits, "hit", "hits"),
        u.source_subnets.join(" "),
        u.hint
    )
}

fn invalid_line(n: &InvalidName) -> String {
    format!(
        "{} — {} from {}",
        denied(
            n.protocol.as_deref(),
            Some(&n.destination),
            n.destination_port
        ),
        count(n.hits, "hit", "hits"),
        n.source_subnets.join(" "),
    )
}

const INVALID_HEADING: &str = "Not a valid host name: no rule written";

const COMPACT_HEADERS: [&str; 4] = ["Collection", "Allow", "From", "Hits"];

/// Four columns that fit 80 characters: the collection, what the rule allows, from where, and the denies it
/// covers (rule names, requirements and evidence are in every other format).
fn compact_row(r: &Rule) -> [String; 4] {
    let c = rule_cells(r);
    [
        r.collection.clone(),
        format!("{} {}", c[4], c[5]),
        c[3].clone(),
        c[7].clone(),
    ]
}

pub fn table(r: &Recommendation, layout: &Layout) -> String {
    let mut out = String::new();
    if let Some(line) = r.inferred_line() {
        out.push_str(&wrap(&line, layout.width));
        out.push_str("\n\n");
    }
    if r.rules.is_empty() {
        out.push_str("No rules to recommend.\n");
    } else {
        let wide = layout.wide();
        let headers: &[&str] = if wide {
            &RULE_HEADERS
        } else {
            &COMPACT_HEADERS
        };
        let mut t = new_table(headers, layout);
        if !wide {
            crate::render::table::without_vertical_lines(&mut t);
        }
        let right = if wide { [1, 7] } else { [3, 3] };
        for rule in &r.rules {
            let cells: Vec<String> = if wide {
                rule_cells(rule).to_vec()
            } else {
                compact_row(rule).to_vec()
            };
            t.add_row(cells.into_iter().enumerate().map(|(i, v)| {
                let c = Cell::new(escape::terminal(&v));
                if right.contains(&i) {
                    c.set_alignment(CellAlignment::Right)
                } else {
                    c
                }
            }));
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    let mut section = |title: String, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        out.push_str(&format!("\n{title}\n"));
        for l in lines {
            let text = wrap(&escape::terminal(&l), layout.width.saturating_sub(4));
            out.push_str(&format!("  {}\n", text.replace('\n', "\n    ")));
        }
    };
    section(
        "Known, no rule written:".into(),
        r.known.iter().map(known_line).collect(),
    );
    section(
        "Not explained by the catalog (no rule written):".into(),
        r.unmatched.iter().map(unmatched_line).collect(),
    );
    section(
        format!("{INVALID_HEADING} ({}):", r.invalid_names.len()),
        r.invalid_names.iter().map(invalid_line).collect(),
    );
    out.push('\n');
    // With --policy: where the rules go, and that the IaC formats write each of these groups whole.
    for g in &r.groups {
        out.push_str(&wrap(
            &format!(
                "{}; --format bicep|terraform|arm|azcli writes it whole, --against FILE shows the change in your export",
                super::whole::group_summary(g)
            ),
            layout.width,
        ));
        out.push('\n');
    }
    out.push_str(&wrap(&summary(r), layout.width));
    out.push('\n');
    out
}

fn md(s: &str) -> String {
    escape::markdown(s)
}

pub fn markdown(r: &Recommendation) -> String {
    let mut out = String::from("# Recommended Azure Firewall rules\n\n");
    if let Some(line) = r.inferred_line() {
        out.push_str(&md(&line));
        out.push_str("\n\n");
    }
    out.push_str(&summary(r));
    out.push_str("\n\n## Rules\n\n");
    if r.rules.is_empty() {
        out.push_str("No rules to recommend.\n");
    } else {
        out.push_str(&format!(
            "| {} |\n|{}\n",
            RULE_HEADERS.join(" | "),
            "---|".repeat(RULE_HEADERS.len())
        ));
        for rule in &r.rules {
            let c: Vec<String> = rule_cells(rule).iter().map(|v| md(v)).collect();
            out.push_str(&format!("| {} |\n", c.join(" | ")));
        }
    }
    if !r.known.is_empty() {
        out.push_str("\n## Known, no rule written\n\n");
        for k in &r.known {
            out.push_str(&format!("- {}\n", md(&known_line(k))));
        }
    }
    if !r.unmatched.is_empty() {
        out.push_str("\n## Not explained by the catalog\n\n");
        for u in &r.unmatched {
            out.push_str(&format!("- {}\n", md(&unmatched_line(u))));
        }
    }
    if !r.invalid_names.is_empty() {
        out.push_str(&format!(
            "\n## {INVALID_HEADING} ({})\n\n",
            r.invalid_names.len()
        ));
        for n in &r.invalid_names {
            out.push_str(&format!("- {}\n", md(&invalid_line(n))));
        }
    }
    out
}
