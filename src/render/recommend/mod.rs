//! Recommendation renderers. Every format is deterministic (rules, collections and lists are already sorted;
//! nothing depends on time or locale), so the same input gives byte-identical output.

pub mod arm;
pub mod azcli;
pub mod bicep;
pub mod table;
pub mod terraform;
pub mod whole;

use super::RecommendFormat;
use crate::recommend::model::{Recommendation, Rule};

/// API version of `Microsoft.Network/firewallPolicies/ruleCollectionGroups` the templates use.
pub const API_VERSION: &str = "2024-05-01";

pub fn render(
    r: &Recommendation,
    format: RecommendFormat,
    layout: &crate::render::table::Layout,
) -> anyhow::Result<Vec<u8>> {
    Ok(match format {
        RecommendFormat::Json => {
            let mut s = serde_json::to_string_pretty(r)?;
            s.push('\n');
            // `groups` carries the user's own rules as they wrote them: inert, the same JSON value.
            crate::render::escape::json_text(&s)
                .into_owned()
                .into_bytes()
        }
        RecommendFormat::Table => table::table(r, layout).into_bytes(),
        RecommendFormat::Markdown => table::markdown(r).into_bytes(),
        RecommendFormat::Bicep => bicep::render(r).into_bytes(),
        RecommendFormat::Terraform => terraform::render(r).into_bytes(),
        RecommendFormat::Arm => arm::render(r)?.into_bytes(),
        RecommendFormat::Azcli => azcli::render(r)?.into_bytes(),
    })
}

/// Comment lines with a rule's full evidence (IaC formats put them above the rule).
pub fn evidence_lines(rule: &Rule) -> Vec<String> {
    let e = &rule.evidence;
    let mut v = vec![format!(
        "{} ({}): {} from {} in {}, {} .. {}",
        rule.feature,
        rule.requirement,
        table::count(e.hits, "deny", "denies"),
        table::count(e.distinct_sources, "source", "sources"),
        e.source_subnets.join(" "),
        e.first_seen,
        e.last_seen
    )];
    v.push(format!("denied: {}", e.destinations.join(" ")));
    if let Some(p) = &rule.pattern {
        v.push(format!(
            "catalog: {} [{}]{}",
            p,
            rule.catalog_id.as_deref().unwrap_or(""),
            rule.source
                .as_deref()
                .map(|s| format!(" {s}"))
                .unwrap_or_default()
        ));
    }
    for n in &rule.notes {
        v.push(format!("note: {n}"));
    }
    v.into_iter()
        .map(|l| crate::render::escape::comment(&l).into_owned())
        .collect()
}

/// A summary line shared by the text formats.
pub fn summary(r: &Recommendation) -> String {
    let invalid = if r.invalid_names.is_empty() {
        String::new()
    } else {
        format!(", {} not a valid host name", r.invalid_names.len())
    };
    format!(
        "{} rule(s) in {} collection(s) cover {} of {} denies; {} known (no rule needed), {} unmatched{invalid}; catalog {}",
        r.rules.len(),
        r.collections().len(),
        r.denies_covered,
        r.denies,
        r.known.len(),
        r.unmatched.len(),
        r.catalog_version
    )
}
