//! Readers for the REST resource shape, shared by the az CLI output, ARM templates and `az rest` / REST `GET`
//! responses: rule collection groups, classic firewall rule collections, IP Groups and service tags.
//!
//! REST and ARM nest a resource's settings under `properties`; the az CLI flattens them (`priority` at the top of
//! a group). [`J::props`] accepts both. Rule objects are never nested, in any shape.
//! Schemas: <https://learn.microsoft.com/azure/templates/microsoft.network/firewallpolicies/rulecollectiongroups>,
//! <https://learn.microsoft.com/azure/templates/microsoft.network/azurefirewalls>,
//! <https://learn.microsoft.com/azure/templates/microsoft.network/ipgroups>.

use super::fqdn::{FqdnPattern, canonical};
use super::json::{J, Res, show};
use super::model::*;

/// A rule collection group from its resource JSON; `name` when the caller knows it better (ARM `policy/group`).
pub(crate) fn group(j: &J<'_>, name: Option<String>) -> Res<RuleCollectionGroup> {
    let name = match name {
        Some(n) => n,
        None => j.req_str("name")?.to_string(),
    };
    let p = j.props();
    let priority = p.req("priority")?.priority()?;
    let mut collections = Vec::new();
    for c in p.list("ruleCollections")? {
        collections.push(policy_collection(&c)?);
    }
    sort_collections(&mut collections);
    Ok(RuleCollectionGroup {
        name,
        priority,
        collections,
    })
}

pub(crate) fn sort_collections(v: &mut [RuleCollection]) {
    v.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| a.name.cmp(&b.name))
    });
}

fn policy_collection(j: &J<'_>) -> Res<RuleCollection> {
    let name = j.req_str("name")?.to_string();
    let priority = j.req("priority")?.priority()?;
    let action_node = j.req("action")?;
    let action_text = match action_node.get("type") {
        Some(t) => t.str()?,
        None => action_node.str()?,
    };
    let action = parse_action(action_text).ok_or_else(|| super::json::PathError {
        path: action_node.path.clone(),
        msg: format!("expected Allow, Deny or DNAT, found {action_text:?}"),
    })?;
    let declared = j.opt_str("ruleCollectionType")?;
    let is_nat = match declared {
        Some(t) if t.eq_ignore_ascii_case("FirewallPolicyNatRuleCollection") => true,
        Some(t) if t.eq_ignore_ascii_case("FirewallPolicyFilterRuleCollection") => false,
        Some(t) => {
            return j.req("ruleCollectionType")?.err(format!(
                "expected FirewallPolicyFilterRuleCollection or FirewallPolicyNatRuleCollection, found {t:?}"
            ));
        }
        None => action == Action::Dnat,
    };
    if is_nat != (action == Action::Dnat) {
        return action_node.err(format!(
            "a {} collection cannot have action {action}",
            if is_nat { "NAT" } else { "filter" }
        ));
    }
    let mut rules = Vec::new();
    for r in j.list("rules")? {
        let t = r.req_str("ruleType")?;
        let rule = match t.to_ascii_lowercase().as_str() {
            "applicationrule" => Rule::Application(app_rule(&r, "protocols")?),
            "networkrule" => Rule::Network(net_rule(&r, "ipProtocols")?),
            "natrule" => Rule::Nat(nat_rule(&r, "ipProtocols")?),
            _ => {
                return r.req("ruleType")?.err(format!(
                    "expected ApplicationRule, NetworkRule or NatRule, found {t:?}"
                ));
            }
        };
        rules.push((rule, r));
    }
    let kind = if is_nat {
        RuleKind::Nat
    } else {
        rules
            .first()
            .map(|(r, _)| r.kind())
            .unwrap_or(RuleKind::Application)
    };
    for (r, node) in &rules {
        if r.kind() != kind {
            let what = if is_nat {
                "a NAT collection holds only NatRule rules".to_string()
            } else {
                format!(
                    "a filter collection holds rules of one type; this one starts with {} rules",
                    kind.as_str()
                )
            };
            return node.req("ruleType")?.err(what);
        }
    }
    Ok(RuleCollection {
        name,
        priority,
        action,
        kind,
        rules: rules.into_iter().map(|(r, _)| r).collect(),
    })
}

pub(crate) fn parse_action(s: &str) -> Option<Action> {
    match s.trim().to_ascii_lowercase().as_str() {
        "allow" => Some(Action::Allow),
        "deny" => Some(Action::Deny),
        "dnat" => Some(Action::Dnat),
        _ => None,
    }
}

fn fqdn_patterns(j: &J<'_>, key: &str) -> Res<Vec<FqdnPattern>> {
    Ok(j.string_list(key)?
        .iter()
        .map(|s| FqdnPattern::parse(s))
        .collect())
}

/// An application rule; classic rules call their protocol list the same.
pub(crate) fn app_rule(j: &J<'_>, protocols_key: &str) -> Res<ApplicationRule> {
    let mut protocols = Vec::new();
    for p in j.list(protocols_key)? {
        let t = p.req("protocolType")?;
        let text = t.str()?;
        let kind = match AppProtocolType::parse(text) {
            Some(k) => k,
            None => return t.err(format!("expected Http, Https or Mssql, found {text:?}")),
        };
        let port = p.req("port")?.port()?;
        protocols.push(AppProtocol { kind, port });
    }
    let mut http_headers = Vec::new();
    for h in j.list("httpHeadersToInsert")? {
        http_headers.push(HttpHeader {
            name: h.req_str("headerName")?.to_string(),
            value: h.opt_str("headerValue")?.unwrap_or_default().to_string(),
        });
    }
    Ok(ApplicationRule {
        name: j.req_str("name")?.to_string(),
        description: description(j)?,
        source_addresses: j.addresses("sourceAddresses")?,
        source_ip_groups: j.string_list("sourceIpGroups")?,
        protocols,
        target_fqdns: fqdn_patterns(j, "targetFqdns")?,
        fqdn_tags: j.string_list("fqdnTags")?,
        target_urls: j.string_list("targetUrls")?,
        web_categories: j.string_list("webCategories")?,
        destination_addresses: j.string_list("destinationAddresses")?,
        terminate_tls: j.bool_or("terminateTLS", false)?,
        http_headers,
        written: Written {
            source_addresses: j.string_list("sourceAddresses")?,
            destinations: j.string_list("targetFqdns")?,
            destination_fqdns: Vec::new(),
        },
    })
}

/// A rule's `description`; blank is none.
fn description(j: &J<'_>) -> Res<Option<String>> {
    Ok(j.opt_str("description")?
        .filter(|d| !d.is_empty())
        .map(str::to_string))
}

fn net_protocols(j: &J<'_>, key: &str) -> Res<Vec<NetProtocol>> {
    j.strings(key)?
        .into_iter()
        .map(|(s, node)| {
            NetProtocol::parse(&s)
                .map(Ok)
                .unwrap_or_else(|| node.err(format!("expected TCP, UDP, ICMP or Any, found {s:?}")))
        })
        .collect()
}

fn network_fqdns(j: &J<'_>, key: &str) -> Res<Vec<String>> {
    Ok(j.string_list(key)?.iter().map(|s| canonical(s)).collect())
}

pub(crate) fn net_rule(j: &J<'_>, protocols_key: &str) -> Res<NetworkRule> {
    Ok(NetworkRule {
        name: j.req_str("name")?.to_string(),
        description: description(j)?,
        protocols: net_protocols(j, protocols_key)?,
        source_addresses: j.addresses("sourceAddresses")?,
        source_ip_groups: j.string_list("sourceIpGroups")?,
        destination_addresses: j.destinations("destinationAddresses")?,
        destination_ip_groups: j.string_list("destinationIpGroups")?,
        destination_fqdns: network_fqdns(j, "destinationFqdns")?,
        destination_ports: j.ports("destinationPorts")?,
        written: Written {
            source_addresses: j.string_list("sourceAddresses")?,
            destinations: j.string_list("destinationAddresses")?,
            destination_fqdns: j.string_list("destinationFqdns")?,
        },
    })
}

pub(crate) fn nat_rule(j: &J<'_>, protocols_key: &str) -> Res<NatRule> {
    Ok(NatRule {
        name: j.req_str("name")?.to_string(),
        description: description(j)?,
        protocols: net_protocols(j, protocols_key)?,
        source_addresses: j.addresses("sourceAddresses")?,
        source_ip_groups: j.string_list("sourceIpGroups")?,
        destination_addresses: j.destinations("destinationAddresses")?,
        destination_ports: j.ports("destinationPorts")?,
        translated_address: j.opt_text("translatedAddress")?,
        translated_fqdn: j.opt_text("translatedFqdn")?,
        translated_port: j.opt_text("translatedPort")?,
        written: Written {
            source_addresses: j.string_list("sourceAddresses")?,
            destinations: j.string_list("destinationAddresses")?,
            destination_fqdns: Vec::new(),
        },
    })
}

/// Classic rule collections of an `azureFirewalls` resource, as one unnamed group.
pub(crate) fn classic_group(j: &J<'_>) -> Res<RuleCollectionGroup> {
    let p = j.props();
    let mut collections = Vec::new();
    let kinds = [
        ("natRuleCollections", RuleKind::Nat),
        ("networkRuleCollections", RuleKind::Network),
        ("applicationRuleCollections", RuleKind::Application),
    ];
    for (key, kind) in kinds {
        for c in p.list(key)? {
            let name = c.req_str("name")?.to_string();
            let cp = c.props();
            let priority = cp.req("priority")?.priority()?;
            let action_node = cp.req("action")?;
            let text = match action_node.get("type") {
                Some(t) => t.str()?,
                None => action_node.str()?,
            };
            let action = match (parse_action(text), kind) {
                (Some(Action::Dnat), RuleKind::Nat) => Action::Dnat,
                (
                    Some(a @ (Action::Allow | Action::Deny)),
                    RuleKind::Network | RuleKind::Application,
                ) => a,
                _ => {
                    let want = if kind == RuleKind::Nat {
                        "Dnat"
                    } else {
                        "Allow or Deny"
                    };
                    return action_node.err(format!("expected {want}, found {text:?}"));
                }
            };
            let mut rules = Vec::new();
            for r in cp.list("rules")? {
                rules.push(match kind {
                    RuleKind::Application => Rule::Application(app_rule(&r, "protocols")?),
                    RuleKind::Network => Rule::Network(net_rule(&r, "protocols")?),
                    RuleKind::Nat => Rule::Nat(nat_rule(&r, "protocols")?),
                });
            }
            collections.push(RuleCollection {
                name,
                priority,
                action,
                kind,
                rules,
            });
        }
    }
    sort_collections(&mut collections);
    Ok(RuleCollectionGroup {
        name: String::new(),
        priority: 0,
        collections,
    })
}

/// Whether an object carries classic rule collections.
pub(crate) fn has_classic_rules(j: &J<'_>) -> bool {
    let p = j.props();
    [
        "applicationRuleCollections",
        "networkRuleCollections",
        "natRuleCollections",
    ]
    .iter()
    .any(|k| p.get(k).and_then(|c| c.v.as_array().map(|a| !a.is_empty())) == Some(true))
}

/// An IP Group resource (`az network ip-group list` item, REST or ARM).
pub(crate) fn ip_group(j: &J<'_>, name: Option<String>) -> Res<IpGroup> {
    let name = match name {
        Some(n) => n,
        None => j.req_str("name")?.to_string(),
    };
    Ok(IpGroup {
        id: j.opt_str("id")?.map(str::to_string),
        name,
        addresses: j.props().addresses("ipAddresses")?,
    })
}

/// A service tags document: `values[].name`, `values[].properties.addressPrefixes`.
pub(crate) fn service_tags(j: &J<'_>, origin: &str) -> Res<ServiceTags> {
    let mut out = ServiceTags {
        origin: origin.to_string(),
        change_number: j.opt_text("changeNumber")?,
        ..ServiceTags::default()
    };
    for v in j.req("values")?.items()? {
        let name = v.req_str("name")?;
        let mut nets = Vec::new();
        for (s, node) in v.req("properties")?.strings("addressPrefixes")? {
            match s.trim().parse::<ipnet::IpNet>() {
                Ok(n) => nets.push(n.trunc()),
                Err(_) => {
                    return node.err(format!("expected a CIDR prefix, found {}", show(node.v)));
                }
            }
        }
        out.tags
            .entry(name.to_ascii_lowercase())
            .or_default()
            .extend(nets);
    }
    Ok(out)
}
