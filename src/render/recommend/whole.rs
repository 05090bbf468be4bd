//! Whole rule collection groups (`recommend --policy`): the user's rules exactly as they are plus the rules fwlog
//! adds, as one ordered description per rule that the Bicep, ARM and az CLI renderers print in their own syntax.
//!
//! A group is replaced whole by every deployment (a PUT of the group,
//! <https://learn.microsoft.com/rest/api/virtualnetwork/firewall-policy-rule-collection-groups/create-or-update>), so
//! a file that held only the new rules under the name of an existing group would delete the user's rules. Property
//! names are those of the resource schema
//! (<https://learn.microsoft.com/azure/templates/microsoft.network/firewallpolicies/rulecollectiongroups>). Empty
//! lists and unset values are left out, as Azure does when it reads a group back.

use crate::policy::{
    Action, AppProtocol, Destination, PortRange, Rule, RuleKind, model::resource_name, texts_of,
};
use crate::recommend::model::{CollectionChange, GroupChange, Recommendation};

/// One property value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum V {
    Str(String),
    Int(u64),
    Bool(bool),
    Strs(Vec<String>),
    /// IP Group references, as written by the user or given with `--source-ip-group`.
    IpGroups(Vec<String>),
    Objs(Vec<Fields>),
}

/// Properties in the order they are written.
pub type Fields = Vec<(&'static str, V)>;

fn push_strs(f: &mut Fields, key: &'static str, v: Vec<String>) {
    if !v.is_empty() {
        f.push((key, V::Strs(v)));
    }
}

/// A rule's properties (REST names), `ruleType` and `name` first.
pub fn rule_fields(rule: &Rule) -> Fields {
    let mut f: Fields = Vec::new();
    let rt = match rule {
        Rule::Application(_) => "ApplicationRule",
        Rule::Network(_) => "NetworkRule",
        Rule::Nat(_) => "NatRule",
    };
    f.push(("ruleType", V::Str(rt.into())));
    f.push(("name", V::Str(rule.name().into())));
    let desc = match rule {
        Rule::Application(r) => &r.description,
        Rule::Network(r) => &r.description,
        Rule::Nat(r) => &r.description,
    };
    if let Some(d) = desc {
        f.push(("description", V::Str(d.clone())));
    }
    let ip_groups = |f: &mut Fields, key: &'static str, v: &[String]| {
        if !v.is_empty() {
            f.push((key, V::IpGroups(v.to_vec())));
        }
    };
    match rule {
        Rule::Application(r) => {
            push_strs(
                &mut f,
                "sourceAddresses",
                texts_of(&r.source_addresses, &r.written.source_addresses),
            );
            ip_groups(&mut f, "sourceIpGroups", &r.source_ip_groups);
            if !r.protocols.is_empty() {
                f.push((
                    "protocols",
                    V::Objs(r.protocols.iter().map(protocol).collect()),
                ));
            }
            push_strs(
                &mut f,
                "targetFqdns",
                texts_of(&r.target_fqdns, &r.written.destinations),
            );
            push_strs(&mut f, "fqdnTags", r.fqdn_tags.clone());
            push_strs(&mut f, "targetUrls", r.target_urls.clone());
            push_strs(&mut f, "webCategories", r.web_categories.clone());
            push_strs(
                &mut f,
                "destinationAddresses",
                r.destination_addresses.clone(),
            );
            if r.terminate_tls {
                f.push(("terminateTLS", V::Bool(true)));
            }
            if !r.http_headers.is_empty() {
                f.push((
                    "httpHeadersToInsert",
                    V::Objs(
                        r.http_headers
                            .iter()
                            .map(|h| {
                                vec![
                                    ("headerName", V::Str(h.name.clone())),
                                    ("headerValue", V::Str(h.value.clone())),
                                ]
                            })
                            .collect(),
                    ),
                ));
            }
        }
        Rule::Network(r) => {
            push_strs(
                &mut f,
                "ipProtocols",
                r.protocols.iter().map(|p| p.as_str().to_string()).collect(),
            );
            push_strs(
                &mut f,
                "sourceAddresses",
                texts_of(&r.source_addresses, &r.written.source_addresses),
            );
            ip_groups(&mut f, "sourceIpGroups", &r.source_ip_groups);
            push_strs(
                &mut f,
                "destinationAddresses",
                destinations(&r.destination_addresses, &r.written.destinations),
            );
            ip_groups(&mut f, "destinationIpGroups", &r.destination_ip_groups);
            push_strs(
                &mut f,
                "destinationFqdns",
                texts_of(&r.destination_fqdns, &r.written.destination_fqdns),
            );
            push_strs(&mut f, "destinationPorts", ports(&r.destination_ports));
        }
        Rule::Nat(r) => {
            push_strs(
                &mut f,
                "ipProtocols",
                r.protocols.iter().map(|p| p.as_str().to_string()).collect(),
            );
            push_strs(
                &mut f,
                "sourceAddresses",
                texts_of(&r.source_addresses, &r.written.source_addresses),
            );
            ip_groups(&mut f, "sourceIpGroups", &r.source_ip_groups);
            push_strs(
                &mut f,
                "destinationAddresses",
                destinations(&r.destination_addresses, &r.written.destinations),
            );
            push_strs(&mut f, "destinationPorts", ports(&r.destination_ports));
            for (k, v) in [
                ("translatedAddress", &r.translated_address),
                ("translatedFqdn", &r.translated_fqdn),
                ("translatedPort", &r.translated_port),
            ] {
                if let Some(v) = v {
                    f.push((k, V::Str(v.clone())));
                }
            }
        }
    }
    f
}

fn protocol(p: &AppProtocol) -> Fields {
    vec![
        ("protocolType", V::Str(p.kind.as_str().into())),
        ("port", V::Int(u64::from(p.port))),
    ]
}

fn destinations(parsed: &[Destination], written: &[String]) -> Vec<String> {
    texts_of(parsed, written)
}

fn ports(p: &[PortRange]) -> Vec<String> {
    p.iter().map(ToString::to_string).collect()
}

/// `FirewallPolicyFilterRuleCollection` or `FirewallPolicyNatRuleCollection`.
pub fn collection_type(c: &CollectionChange) -> &'static str {
    if c.kind == RuleKind::Nat {
        "FirewallPolicyNatRuleCollection"
    } else {
        "FirewallPolicyFilterRuleCollection"
    }
}

/// The collection's action type as the API spells it.
pub fn action(a: Action) -> &'static str {
    match a {
        Action::Allow => "Allow",
        Action::Deny => "Deny",
        Action::Dnat => "DNAT",
    }
}

/// Where an IP Group reference points. A full id is used as written; an ARM template export refers to IP Groups
/// with `resourceId('Microsoft.Network/ipGroups', …)`, which fwlog evaluates offline without a subscription
/// (`/providers/Microsoft.Network/ipGroups/NAME`, or `/resourceGroups/RG/providers/…`): such a reference is written
/// back as a lookup in the deployment's own scope, as the export meant it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpGroupRef {
    Id(String),
    Scoped {
        resource_group: Option<String>,
        name: String,
    },
}

pub fn ip_group_ref(raw: &str) -> IpGroupRef {
    let t = raw.trim();
    if t.to_ascii_lowercase().starts_with("/subscriptions/") {
        return IpGroupRef::Id(t.to_string());
    }
    let lower = t.to_ascii_lowercase();
    let resource_group = lower.find("/resourcegroups/").map(|i| {
        let rest = &t[i + "/resourcegroups/".len()..];
        rest.split('/').next().unwrap_or_default().to_string()
    });
    IpGroupRef::Scoped {
        resource_group: resource_group.filter(|g| !g.is_empty()),
        name: resource_name(t).to_string(),
    }
}

/// Short description of what changes in a group, for a comment above it.
pub fn group_summary(g: &GroupChange) -> String {
    let added: usize = g
        .collections
        .iter()
        .flat_map(|c| &c.rules)
        .filter(|r| r.added.is_some())
        .count();
    let kept: usize = g
        .collections
        .iter()
        .flat_map(|c| &c.rules)
        .filter(|r| r.added.is_none())
        .count();
    let new_cols: Vec<&str> = g
        .collections
        .iter()
        .filter(|c| c.new_collection)
        .map(|c| c.name.as_str())
        .collect();
    let into: Vec<&str> = g
        .collections
        .iter()
        .filter(|c| !c.new_collection && c.rules.iter().any(|r| r.added.is_some()))
        .map(|c| c.name.as_str())
        .collect();
    let mut parts = vec![format!(
        "{} {} (priority {}): {}",
        if g.new_group { "new group" } else { "group" },
        g.name,
        g.priority,
        if g.new_group {
            format!("{added} new rule(s)")
        } else {
            format!("{kept} rule(s) of yours unchanged, {added} added")
        }
    )];
    if !into.is_empty() {
        parts.push(format!("added to your collection(s) {}", into.join(", ")));
    }
    if !new_cols.is_empty() {
        parts.push(format!("new collection(s) {}", new_cols.join(", ")));
    }
    crate::render::escape::comment(&parts.join("; ")).into_owned()
}

/// The header lines every whole-group format starts with (without comment markers).
pub fn header_lines(r: &Recommendation) -> Vec<String> {
    let policy = r
        .groups
        .first()
        .map(|g| g.policy.as_str())
        .unwrap_or_default();
    let mut v = vec![format!(
        "Generated by fwlog recommend --policy: {}",
        super::summary(r)
    )];
    if let Some(line) = r.inferred_line() {
        v.push(line);
    }
    v.push(format!(
        "A deployment replaces a rule collection group whole, so each group the new rules go into is written \
         whole: every collection and rule it has in policy {policy}, unchanged, plus the new rules (those with \
         evidence comments). Review before deploying."
    ));
    if r.groups.len() > 1 {
        v.push(
            "The groups are deployed one after another: Azure Firewall updates one group of a policy at a time."
                .into(),
        );
    }
    v.into_iter()
        .map(|l| crate::render::escape::comment(&l).into_owned())
        .collect()
}

/// A rule's properties as JSON; `text` writes a string (ARM templates escape a leading `[`), `ip_group` an IP Group
/// reference.
pub fn to_json(
    f: &Fields,
    text: &dyn Fn(&str) -> String,
    ip_group: &dyn Fn(&str) -> String,
) -> serde_json::Value {
    use serde_json::Value;
    let mut m = serde_json::Map::new();
    for (k, v) in f {
        let j = match v {
            V::Str(s) => Value::String(text(s)),
            V::Int(n) => Value::from(*n),
            V::Bool(b) => Value::Bool(*b),
            V::Strs(items) => Value::Array(items.iter().map(|s| Value::String(text(s))).collect()),
            V::IpGroups(items) => {
                Value::Array(items.iter().map(|g| Value::String(ip_group(g))).collect())
            }
            V::Objs(objs) => {
                Value::Array(objs.iter().map(|o| to_json(o, text, ip_group)).collect())
            }
        };
        m.insert((*k).to_string(), j);
    }
    Value::Object(m)
}

/// The `properties` of a group resource (`priority`, `ruleCollections`) as JSON.
pub fn group_properties(
    g: &GroupChange,
    text: &dyn Fn(&str) -> String,
    ip_group: &dyn Fn(&str) -> String,
) -> serde_json::Value {
    let collections: Vec<serde_json::Value> = g
        .collections
        .iter()
        .map(|c| {
            serde_json::json!({
                "ruleCollectionType": collection_type(c),
                "name": text(&c.name),
                "priority": c.priority,
                "action": {"type": action(c.action)},
                "rules": c.rules.iter().map(|r| to_json(&rule_fields(&r.rule), text, ip_group)).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({"priority": g.priority, "ruleCollections": collections})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_group_references_keep_full_ids_and_scope_the_rest() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/ipGroups/ipg";
        assert_eq!(ip_group_ref(id), IpGroupRef::Id(id.into()));
        assert_eq!(
            ip_group_ref("/providers/Microsoft.Network/ipGroups/ipg-aks"),
            IpGroupRef::Scoped {
                resource_group: None,
                name: "ipg-aks".into()
            }
        );
        assert_eq!(
            ip_group_ref("/resourceGroups/rg-hub/providers/Microsoft.Network/ipGroups/ipg"),
            IpGroupRef::Scoped {
                resource_group: Some("rg-hub".into()),
                name: "ipg".into()
            }
        );
        assert_eq!(
            ip_group_ref("ipg-aks"),
            IpGroupRef::Scoped {
                resource_group: None,
                name: "ipg-aks".into()
            }
        );
    }

    use crate::policy::{Action, RuleKind};
    use crate::recommend::model::{
        CollectionChange, Evidence, PlannedRule, Recommendation, Rule as RecRule,
        RuleKind as RecKind, RuleRequirement,
    };

    const GROUP: &str = r#"[{"name": "edge", "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/fwpol/ruleCollectionGroups/edge",
      "priority": 300, "ruleCollections": [
        {"ruleCollectionType": "FirewallPolicyNatRuleCollection", "name": "inbound", "priority": 100, "action": {"type": "DNAT"},
         "rules": [{"ruleType": "NatRule", "name": "ssh", "description": "jump host", "ipProtocols": ["TCP"],
           "sourceAddresses": ["203.0.113.5/24"], "destinationAddresses": ["20.31.40.50"], "destinationPorts": ["2222"],
           "translatedAddress": "10.250.0.4", "translatedPort": "22"}]},
        {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "web", "priority": 200, "action": {"type": "Allow"},
         "rules": [{"ruleType": "ApplicationRule", "name": "partner", "protocols": [{"protocolType": "Https", "port": 443}],
           "sourceIpGroups": ["/providers/Microsoft.Network/ipGroups/ipg-nodes"], "targetFqdns": ["api.partner.example.com"],
           "terminateTLS": true, "httpHeadersToInsert": [{"headerName": "X-Team", "headerValue": "it's ${x}"}]},
           {"ruleType": "ApplicationRule", "name": "news", "protocols": [{"protocolType": "Http", "port": 80}],
           "sourceAddresses": ["*"], "webCategories": ["News"], "targetUrls": ["www.example.com/a/*"]}]},
        {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "dns", "priority": 300, "action": {"type": "Deny"},
         "rules": [{"ruleType": "NetworkRule", "name": "no-dns", "ipProtocols": ["UDP"], "sourceAddresses": ["10.0.0.0/8"],
           "destinationIpGroups": ["/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.Network/ipGroups/resolvers"],
           "destinationPorts": ["53"]}]}]}]"#;

    fn loaded() -> crate::policy::RuleCollectionGroup {
        crate::policy::load_texts(&[("g.json".into(), GROUP.into())], None)
            .unwrap()
            .policy
            .groups
            .remove(0)
    }

    /// The user's group plus one new collection with one new rule, as `against_policy` builds it.
    fn rec() -> Recommendation {
        let g = loaded();
        let new_rule = RecRule {
            kind: RecKind::Application,
            collection: "fwlog-allow-application".into(),
            priority: 400,
            name: "mcr-microsoft-com".into(),
            description: "fwlog: core (required)".into(),
            source_addresses: vec!["10.240.0.0/24".into()],
            source_ip_groups: Vec::new(),
            protocols: vec!["Https:443".into()],
            target_fqdns: vec!["mcr.microsoft.com".into()],
            destination_addresses: Vec::new(),
            destination_ports: Vec::new(),
            feature: "core".into(),
            requirement: RuleRequirement::Required,
            catalog_id: None,
            pattern: Some("mcr.microsoft.com".into()),
            status: None,
            source: None,
            notes: Vec::new(),
            evidence: Evidence {
                hits: 3,
                distinct_sources: 1,
                first_seen: "a".into(),
                last_seen: "b".into(),
                destinations: vec!["mcr.microsoft.com".into()],
                source_subnets: vec!["10.240.0.0/24".into()],
            },
        };
        let mut added = match &g.collections[1].rules[0] {
            crate::policy::Rule::Application(a) => a.clone(),
            _ => unreachable!(),
        };
        added.name = new_rule.name.clone();
        added.description = Some(new_rule.description.clone());
        added.source_ip_groups.clear();
        added.source_addresses = vec![crate::policy::Address::parse("10.240.0.0/24").unwrap()];
        added.target_fqdns = vec![crate::policy::fqdn::FqdnPattern::parse("mcr.microsoft.com")];
        added.terminate_tls = false;
        added.http_headers.clear();
        added.written = crate::policy::Written::default();
        let mut collections: Vec<CollectionChange> = g
            .collections
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
            .collect();
        collections.push(CollectionChange {
            name: "fwlog-allow-application".into(),
            priority: 400,
            action: Action::Allow,
            kind: RuleKind::Application,
            new_collection: true,
            rules: vec![PlannedRule {
                rule: crate::policy::Rule::Application(added),
                added: Some(0),
            }],
        });
        Recommendation {
            features: Vec::new(),
            collection_group: "edge".into(),
            group_priority: 300,
            rules: vec![new_rule],
            unmatched: Vec::new(),
            known: Vec::new(),
            invalid_names: Vec::new(),
            denies: 3,
            denies_covered: 3,
            catalog_version: "test".into(),
            groups: vec![GroupChange {
                policy: "fwpol".into(),
                name: "edge".into(),
                priority: 300,
                new_group: false,
                collections,
            }],
        }
    }

    /// The group read back has every rule the user had, unchanged (NAT, headers, web categories, URLs, TLS
    /// inspection, IP Groups, spelling), and the new collection.
    fn assert_round_trip(back: &crate::policy::RuleCollectionGroup) {
        let had = loaded();
        assert_eq!(back.priority, 300);
        assert_eq!(&back.collections[..3], &had.collections[..]);
        assert_eq!(back.collections[3].name, "fwlog-allow-application");
        assert_eq!(back.collections[3].rules[0].name(), "mcr-microsoft-com");
    }

    #[test]
    fn arm_writes_the_group_back_verbatim_and_valid() {
        let r = rec();
        let text = super::super::arm::render(&r).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let schema_text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/schemas/rule-collection-group.schema.json"),
        )
        .unwrap();
        let schema =
            jsonschema::validator_for(&serde_json::from_str(&schema_text).unwrap()).unwrap();
        let res = &v["resources"][0];
        let errors: Vec<String> = schema.iter_errors(res).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(
            res["properties"]["ruleCollections"][1]["rules"][0]["sourceIpGroups"][0],
            "[resourceId('Microsoft.Network/ipGroups', 'ipg-nodes')]"
        );
        let back = crate::policy::load_texts(&[("t.json".into(), text)], None).unwrap();
        assert_round_trip(&back.policy.groups[0]);
    }

    #[test]
    fn the_az_body_writes_the_group_back_verbatim() {
        let r = rec();
        let script = super::super::azcli::render(&r).unwrap();
        let body = script
            .split("<<'FWLOG_GROUP_JSON'\n")
            .nth(1)
            .unwrap()
            .split("\nFWLOG_GROUP_JSON")
            .next()
            .unwrap()
            .replace(
                "@FWLOG_SUBSCRIPTION@",
                "00000000-0000-4000-8000-000000000002",
            )
            .replace("@FWLOG_RESOURCE_GROUP@", "rg");
        let mut v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["properties"]["ruleCollections"][1]["rules"][0]["sourceIpGroups"][0],
            "/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/rg/providers/Microsoft.Network/ipGroups/ipg-nodes"
        );
        v["properties"]["ruleCollections"][1]["rules"][0]["sourceIpGroups"][0] =
            "/providers/Microsoft.Network/ipGroups/ipg-nodes".into();
        v["name"] = "edge".into();
        v["id"] = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/fwpol/ruleCollectionGroups/edge".into();
        let back = crate::policy::load_texts(&[("b.json".into(), v.to_string())], None).unwrap();
        assert_round_trip(&back.policy.groups[0]);
    }

    #[test]
    fn terraform_and_bicep_carry_nat_headers_and_scoped_ip_groups() {
        let r = rec();
        let tf = super::super::terraform::render(&r);
        let body: hcl::Body = hcl::parse(&tf).expect("valid HCL");
        assert_eq!(
            body.blocks()
                .filter(|b| b.identifier() == "resource")
                .count(),
            1
        );
        for want in [
            "  nat_rule_collection {\n    name     = \"inbound\"\n    priority = 100\n    action   = \"Dnat\"",
            "destination_address = \"20.31.40.50\"",
            "translated_port = 22",
            "http_headers {\n        name  = \"X-Team\"\n        value = \"it's $${x}\"",
            "source_ip_groups = [data.azurerm_ip_group.ipg_nodes.id]",
            "destination_fqdns = [\"api.partner.example.com\"]",
            "web_categories = [\"News\"]",
            "destination_urls = [\"www.example.com/a/*\"]",
            "  network_rule_collection {\n    name     = \"dns\"\n    priority = 300\n    action   = \"Deny\"",
            "destination_ip_groups = [\"/subscriptions/00000000-0000-4000-8000-000000000001/",
        ] {
            assert!(tf.contains(want), "{want}\n{tf}");
        }
        let bicep = super::super::bicep::render(&r);
        for want in [
            "ruleCollectionType: 'FirewallPolicyNatRuleCollection'",
            "type: 'DNAT'",
            "resourceId('Microsoft.Network/ipGroups', 'ipg-nodes')",
            "headerValue: 'it\\'s \\${x}'",
            "sourceAddresses: [\n              '203.0.113.5/24'",
        ] {
            assert!(bicep.contains(want), "{want}\n{bicep}");
        }
        assert_eq!(bicep.matches("// denied: ").count(), 1);
    }
}
