//! `recommend --policy`: the rules the user's policy does not already allow, placed where they belong in it.
//!
//! A candidate rule is dropped when every flow it describes is allowed by a rule that names it (fwlog's model
//! of an FQDN tag is no proof: the deny says the tag did not allow it); what is dropped is listed as known,
//! allowed by the policy. A kept rule goes to the user's own allow collection whose rules already name its
//! domain (or port) and sources, else to a new collection in the group that serves these sources.

use super::model::{
    CollectionChange, GroupChange, Known, PlannedRule, Recommendation, Rule, RuleKind, Verdict,
};
use crate::catalog::{Catalog, Context};
use crate::policy::fqdn::FqdnPattern;
use crate::policy::{
    Action, Address, AppProtocol, ApplicationRule, Destination, NetProtocol, NetworkRule,
    Placement, Policy, PortRange, RuleSpec, Written,
};
use crate::policy::{Env, PolicyInputs};

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
    let mut kept: Vec<(Rule, Placement)> = Vec::new();
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
        let p = crate::policy::placement_for(policy, spec, &env);
        kept.push((rule, p));
    }
    rec.groups = plan(policy, &mut kept);
    if let Some(g) = rec.groups.first() {
        rec.collection_group = g.name.clone();
        rec.group_priority = g.priority;
    }
    let kept: Vec<Rule> = kept.into_iter().map(|(r, _)| r).collect();
    rec.rules = kept;
    rec.known.sort_by(|a, b| {
        b.hits
            .cmp(&a.hits)
            .then_with(|| a.destination.cmp(&b.destination))
    });
    rec
}

/// The groups the kept rules change, whole: each rule goes to the collection its placement names (the user's, or a
/// new one); the rules' own `collection`, `priority` and notes are updated to where they end up.
///
/// Placements are computed one rule at a time against the unchanged policy, so two new collections can land on one
/// priority (an application and a network collection after the same last collection) and a new rule can share a
/// name with a rule of its collection; Azure rejects both in one group, so the later one moves to the next free
/// priority and the rule name gains a `-2` suffix.
fn plan(policy: &Policy, kept: &mut [(Rule, Placement)]) -> Vec<GroupChange> {
    let mut groups: Vec<GroupChange> = Vec::new();
    for (i, (rule, p)) in kept.iter_mut().enumerate() {
        let gi = match groups.iter().position(|g| g.name == p.group) {
            Some(gi) => gi,
            None => {
                let existing = policy.groups.iter().find(|g| g.name == p.group);
                groups.push(GroupChange {
                    policy: policy.name.clone(),
                    name: p.group.clone(),
                    priority: p.group_priority,
                    new_group: existing.is_none(),
                    collections: existing
                        .map(|g| {
                            g.collections
                                .iter()
                                .map(|c| CollectionChange {
                                    name: c.name.clone(),
                                    priority: c.priority,
                                    action: c.action,
                                    kind: c.kind,
                                    new_collection: false,
                                    rules: c
                                        .rules
                                        .iter()
                                        .map(|r| PlannedRule {
                                            rule: r.clone(),
                                            added: None,
                                        })
                                        .collect(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[gi];
        let kind = match rule.kind {
            RuleKind::Application => crate::policy::RuleKind::Application,
            RuleKind::Network => crate::policy::RuleKind::Network,
        };
        let ci = match g
            .collections
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(&p.collection) && c.kind == kind)
        {
            Some(ci) => ci,
            None => {
                let used: Vec<u32> = g.collections.iter().map(|c| c.priority).collect();
                let prio = (p.collection_priority..=65000)
                    .chain((100..p.collection_priority).rev())
                    .find(|x| !used.contains(x))
                    .unwrap_or(p.collection_priority);
                let mut name = p.collection.clone();
                let mut n = 2;
                while g
                    .collections
                    .iter()
                    .any(|c| c.name.eq_ignore_ascii_case(&name))
                {
                    name = format!("{}-{n}", p.collection);
                    n += 1;
                }
                g.collections.push(CollectionChange {
                    name,
                    priority: prio,
                    action: Action::Allow,
                    kind,
                    new_collection: true,
                    rules: Vec::new(),
                });
                g.collections.sort_by(|a, b| {
                    a.priority
                        .cmp(&b.priority)
                        .then_with(|| a.name.cmp(&b.name))
                });
                g.collections
                    .iter()
                    .position(|c| c.priority == prio)
                    .expect("just added")
            }
        };
        let c = &mut g.collections[ci];
        let base = rule.name.clone();
        let mut n = 2;
        while c
            .rules
            .iter()
            .any(|r| r.rule.name().eq_ignore_ascii_case(&rule.name))
        {
            rule.name = format!("{base}-{n}");
            n += 1;
        }
        rule.collection = c.name.clone();
        rule.priority = c.priority;
        rule.notes.push(format!(
            "placed in {} {} (priority {}) of {}group {} (priority {}): {}",
            if c.new_collection {
                "new collection"
            } else {
                "your collection"
            },
            c.name,
            c.priority,
            if g.new_group { "new " } else { "" },
            g.name,
            g.priority,
            p.reason
        ));
        c.rules.push(PlannedRule {
            rule: policy_rule(rule),
            added: Some(i),
        });
    }
    groups.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| a.name.cmp(&b.name))
    });
    groups
}

/// A recommended rule in the policy model, so renderers write the user's rules and fwlog's the same way. Values
/// that do not parse (none do: the recommender writes valid ones) are left out of the parsed lists; the written
/// texts keep every value.
fn policy_rule(r: &Rule) -> crate::policy::Rule {
    let description = (!r.description.is_empty()).then(|| r.description.clone());
    let sources: Vec<Address> = r
        .source_addresses
        .iter()
        .filter_map(|a| Address::parse(a).ok())
        .collect();
    match r.kind {
        RuleKind::Application => crate::policy::Rule::Application(ApplicationRule {
            name: r.name.clone(),
            description,
            source_addresses: sources,
            source_ip_groups: r.source_ip_groups.clone(),
            protocols: r
                .protocols
                .iter()
                .filter_map(|p| AppProtocol::parse(p))
                .collect(),
            target_fqdns: r
                .target_fqdns
                .iter()
                .map(|f| FqdnPattern::parse(f))
                .collect(),
            fqdn_tags: Vec::new(),
            target_urls: Vec::new(),
            web_categories: Vec::new(),
            destination_addresses: r.destination_addresses.clone(),
            terminate_tls: false,
            http_headers: Vec::new(),
            written: Written {
                source_addresses: r.source_addresses.clone(),
                destinations: r.target_fqdns.clone(),
                destination_fqdns: Vec::new(),
            },
        }),
        RuleKind::Network => crate::policy::Rule::Network(NetworkRule {
            name: r.name.clone(),
            description,
            protocols: r
                .protocols
                .iter()
                .filter_map(|p| NetProtocol::parse(p))
                .collect(),
            source_addresses: sources,
            source_ip_groups: r.source_ip_groups.clone(),
            destination_addresses: r
                .destination_addresses
                .iter()
                .filter_map(|d| Destination::parse(d).ok())
                .collect(),
            destination_ip_groups: Vec::new(),
            destination_fqdns: r.target_fqdns.clone(),
            destination_ports: r
                .destination_ports
                .iter()
                .filter_map(|p| PortRange::parse(p).ok())
                .collect(),
            written: Written {
                source_addresses: r.source_addresses.clone(),
                destinations: r.destination_addresses.clone(),
                destination_fqdns: r.target_fqdns.clone(),
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::model::{Evidence, RuleRequirement};

    const POLICY: &str = r#"[
      {"name": "a", "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/p/ruleCollectionGroups/a",
       "priority": 200, "ruleCollections": [
         {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "app", "priority": 100, "action": {"type": "Allow"},
          "rules": [{"ruleType": "ApplicationRule", "name": "mcr-microsoft-com", "protocols": [{"protocolType": "Http", "port": 80}],
                     "sourceAddresses": ["10.0.0.0/24"], "targetFqdns": ["mcr.microsoft.com"]}]}]},
      {"name": "b", "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/p/ruleCollectionGroups/b",
       "priority": 100, "ruleCollections": [
         {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "net", "priority": 100, "action": {"type": "Allow"},
          "rules": [{"ruleType": "NetworkRule", "name": "dns", "ipProtocols": ["UDP"], "sourceAddresses": ["10.0.0.0/24"],
                     "destinationAddresses": ["10.0.0.4"], "destinationPorts": ["53"]}]}]}]"#;

    fn rule(kind: RuleKind, name: &str) -> Rule {
        Rule {
            kind,
            collection: String::new(),
            priority: 0,
            name: name.into(),
            description: "fwlog".into(),
            source_addresses: vec!["10.0.0.0/24".into()],
            source_ip_groups: Vec::new(),
            protocols: vec![match kind {
                RuleKind::Application => "Https:443".into(),
                RuleKind::Network => "TCP".into(),
            }],
            target_fqdns: match kind {
                RuleKind::Application => vec!["mcr.microsoft.com".into()],
                RuleKind::Network => Vec::new(),
            },
            destination_addresses: match kind {
                RuleKind::Application => Vec::new(),
                RuleKind::Network => vec!["AzureCloud.westeurope".into()],
            },
            destination_ports: match kind {
                RuleKind::Application => Vec::new(),
                RuleKind::Network => vec!["9000".into()],
            },
            feature: "core".into(),
            requirement: RuleRequirement::Required,
            catalog_id: None,
            pattern: None,
            status: None,
            source: None,
            notes: Vec::new(),
            evidence: Evidence {
                hits: 1,
                distinct_sources: 1,
                first_seen: String::new(),
                last_seen: String::new(),
                destinations: Vec::new(),
                source_subnets: Vec::new(),
            },
        }
    }

    fn place(group: &str, prio: u32, collection: &str, cprio: u32, new: bool) -> Placement {
        Placement {
            policy: "p".into(),
            group: group.into(),
            group_priority: prio,
            new_group: false,
            collection: collection.into(),
            collection_priority: cprio,
            new_collection: new,
            reason: "test".into(),
        }
    }

    #[test]
    fn placements_in_several_groups_give_each_group_whole() {
        let policy = crate::policy::load_texts(&[("p.json".into(), POLICY.into())], None)
            .unwrap()
            .policy;
        let mut kept = vec![
            // Same name as the user's rule in "app": renamed.
            (
                rule(RuleKind::Application, "mcr-microsoft-com"),
                place("a", 200, "app", 100, false),
            ),
            // Two new collections on one priority in group b: the second moves on.
            (
                rule(RuleKind::Application, "x"),
                place("b", 100, "fwlog-allow-application", 200, true),
            ),
            (
                rule(RuleKind::Network, "y"),
                place("b", 100, "fwlog-allow-network", 200, true),
            ),
        ];
        let groups = plan(&policy, &mut kept);
        let names: Vec<(&str, u32)> = groups
            .iter()
            .map(|g| (g.name.as_str(), g.priority))
            .collect();
        assert_eq!(names, [("b", 100), ("a", 200)]);
        let b = &groups[0];
        let cols: Vec<(&str, u32, bool, usize)> = b
            .collections
            .iter()
            .map(|c| (c.name.as_str(), c.priority, c.new_collection, c.rules.len()))
            .collect();
        assert_eq!(
            cols,
            [
                ("net", 100, false, 1),
                ("fwlog-allow-application", 200, true, 1),
                ("fwlog-allow-network", 201, true, 1)
            ]
        );
        assert_eq!(b.collections[0].rules[0].added, None);
        assert_eq!(kept[2].0.priority, 201);
        assert_eq!(kept[2].0.collection, "fwlog-allow-network");
        let a = &groups[1];
        let app: Vec<(&str, Option<usize>)> = a.collections[0]
            .rules
            .iter()
            .map(|r| (r.rule.name(), r.added))
            .collect();
        assert_eq!(
            app,
            [
                ("mcr-microsoft-com", None),
                ("mcr-microsoft-com-2", Some(0))
            ]
        );
        assert_eq!(kept[0].0.name, "mcr-microsoft-com-2");
        assert!(
            kept[0].0.notes[0]
                .starts_with("placed in your collection app (priority 100) of group a")
        );
    }
}
