//! `recommend --policy`: the rules the user's policy does not already allow, placed where they belong in it.
//!
//! A candidate rule is dropped when every flow it describes is allowed by a rule that names it (fwlog's model
//! of an FQDN tag is no proof: the deny says the tag did not allow it); what is dropped is listed as known,
//! allowed by the policy. A kept rule goes to the user's own allow collection whose rules already name its
//! domain (or port) and sources, else to a new collection in the group that serves these sources.

use super::model::{Known, Recommendation, Rule, RuleKind, Verdict};
use crate::catalog::{Catalog, Context};
use crate::policy::{Env, PolicyInputs, RuleSpec};

fn spec_of(r: &Rule) -> RuleSpec {
    RuleSpec {
        name: r.name.clone(),
        kind: match r.kind {
            RuleKind::Application => crate::policy::RuleKind::Application,
            RuleKind::Network => crate::policy::RuleKind::Network,
        },
        source_addresses: r.source_addresses.clone(),
        protocols: r.protocols.clone(),
        target_fqdns: r.target_fqdns.clone(),
        destination_addresses: r.destination_addresses.clone(),
        destination_ports: r.destination_ports.clone(),
    }
}

/// The recommendation against the user's policy: only what is missing, in the user's own groups and
/// collections.
pub fn against_policy(
    mut rec: Recommendation,
    inputs: &PolicyInputs,
    catalog: &Catalog,
    ctx: &Context,
) -> Recommendation {
    let env = Env::new(inputs, catalog, ctx);
    let policy = &inputs.policy;
    let specs: Vec<RuleSpec> = rec.rules.iter().map(spec_of).collect();
    let missing = crate::policy::missing_rules(policy, &env, &specs);
    let mut kept = Vec::new();
    let mut group: Option<(String, u32)> = None;
    for (rule, spec) in std::mem::take(&mut rec.rules).into_iter().zip(&specs) {
        // Rules come from the source IP groups of the user when --source-ip-group is given: the policy
        // cannot be asked about their addresses, so such a rule is kept.
        let allowed = !missing.contains(spec) && rule.source_ip_groups.is_empty();
        if allowed {
            rec.denies_covered = rec.denies_covered.saturating_sub(rule.evidence.hits);
            let (protocol, port) = match rule.kind {
                RuleKind::Application => {
                    let p = rule.protocols.first().map(String::as_str).unwrap_or("");
                    let (name, port) = p.split_once(':').unwrap_or((p, ""));
                    (name.to_ascii_uppercase(), port.parse().ok())
                }
                RuleKind::Network => (
                    rule.protocols.first().cloned().unwrap_or_default(),
                    rule.destination_ports.first().and_then(|p| p.parse().ok()),
                ),
            };
            rec.known.push(Known {
                protocol: Some(protocol),
                destination: rule.evidence.destinations.first().cloned(),
                destination_port: port,
                hits: rule.evidence.hits,
                source_subnets: rule.evidence.source_subnets.clone(),
                verdict: Verdict::AllowedByPolicy,
                summary: format!(
                    "{} ({}): already allowed by policy {}: the denies are older than the rule, or the policy \
                     given is not the one in force",
                    rule.target_fqdns
                        .first()
                        .or(rule.destination_addresses.first())
                        .cloned()
                        .unwrap_or_default(),
                    rule.feature,
                    policy.name
                ),
                feature: rule.feature.clone(),
                pattern: rule.pattern.clone().unwrap_or_default(),
                reason: None,
                source: rule.source.clone().unwrap_or_default(),
            });
            continue;
        }
        let mut rule = rule;
        let p = crate::policy::placement_for(policy, spec, &env);
        rule.collection = p.collection.clone();
        rule.priority = p.collection_priority;
        rule.notes.push(format!(
            "placed in {} {} (priority {}) of group {}: {}",
            if p.new_collection {
                "new collection"
            } else {
                "your collection"
            },
            p.collection,
            p.collection_priority,
            p.group,
            p.reason
        ));
        group.get_or_insert((p.group.clone(), p.group_priority));
        kept.push(rule);
    }
    if let Some((name, priority)) = group {
        rec.collection_group = name;
        rec.group_priority = priority;
    }
    rec.rules = kept;
    rec.known.sort_by(|a, b| {
        b.hits
            .cmp(&a.hits)
            .then_with(|| a.destination.cmp(&b.destination))
    });
    rec
}
