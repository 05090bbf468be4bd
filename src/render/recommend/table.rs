//! Human formats: a terminal table (rules, then what needs no rule, then what no rule covers) and Markdown
//! with the same three sections.

use comfy_table::{Cell, CellAlignment};

use super::summary;
use crate::recommend::model::{InvalidName, Known, Recommendation, Rule, RuleKind, Unmatched};
use crate::render::escape;

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

fn known_line(k: &Known) -> String {
    format!(
        "{} {}:{} — {} hits from {} — {}",
        k.protocol.as_deref().unwrap_or("-"),
        k.destination.as_deref().unwrap_or("(no SNI)"),
        k.destination_port
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into()),
        k.hits,
        k.source_subnets.join(" "),
        k.summary
    )
}

fn unmatched_line(u: &Unmatched) -> String {
    format!(
        "{} {}:{} — {} hits from {} — {}",
        u.protocol.as_deref().unwrap_or("-"),
        u.destination.as_deref().unwrap_or("(no SNI)"),
        u.destination_port
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into()),
        u.hits,
        u.source_subnets.join(" "),
        u.hint
    )
}

fn invalid_line(n: &InvalidName) -> String {
    format!(
        "{} {}:{} — {} hits from {}",
        n.protocol.as_deref().unwrap_or("-"),
        n.destination,
        n.destination_port
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into()),
        n.hits,
        n.source_subnets.join(" "),
    )
}

const INVALID_HEADING: &str = "Not a valid host name: no rule written";

pub fn table(r: &Recommendation, terminal: bool) -> String {
    let mut out = String::new();
    if r.rules.is_empty() {
        out.push_str("No rules to recommend.\n");
    } else {
        let mut t = crate::render::table::new_table(&RULE_HEADERS, terminal);
        for rule in &r.rules {
            t.add_row(rule_cells(rule).into_iter().enumerate().map(|(i, v)| {
                let c = Cell::new(escape::terminal(&v));
                if i == 1 || i == 7 {
                    c.set_alignment(CellAlignment::Right)
                } else {
                    c
                }
            }));
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    if !r.known.is_empty() {
        out.push_str("\nKnown, no rule written:\n");
        for k in &r.known {
            out.push_str(&format!("  {}\n", escape::terminal(&known_line(k))));
        }
    }
    if !r.unmatched.is_empty() {
        out.push_str("\nNot explained by the catalog (no rule written):\n");
        for u in &r.unmatched {
            out.push_str(&format!("  {}\n", escape::terminal(&unmatched_line(u))));
        }
    }
    if !r.invalid_names.is_empty() {
        out.push_str(&format!(
            "\n{INVALID_HEADING} ({}):\n",
            r.invalid_names.len()
        ));
        for n in &r.invalid_names {
            out.push_str(&format!("  {}\n", escape::terminal(&invalid_line(n))));
        }
    }
    out.push('\n');
    out.push_str(&summary(r));
    out.push('\n');
    out
}

fn md(s: &str) -> String {
    escape::markdown(s)
}

pub fn markdown(r: &Recommendation) -> String {
    let mut out = String::from("# Recommended Azure Firewall rules\n\n");
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
