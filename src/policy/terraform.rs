//! `terraform show -json` output: a state (`values.root_module`) or a plan (`planned_values.root_module`), with
//! resources in `resources` and nested modules in `child_modules`
//! (<https://developer.hashicorp.com/terraform/internals/json-format>).
//!
//! Read: `azurerm_firewall_policy` (`name`, `id`, `base_policy_id`, `dns[0].proxy_enabled`),
//! `azurerm_firewall_policy_rule_collection_group` (`priority`, `firewall_policy_id`, `application_rule_collection`,
//! `network_rule_collection`, `nat_rule_collection`, with the attribute names of
//! <https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/firewall_policy_rule_collection_group>),
//! `azurerm_ip_group` (`cidrs`) and `azurerm_ip_group_cidr`. A plan leaves values that are only known after apply
//! out of `planned_values`; a group whose `firewall_policy_id` is unknown belongs to the plan's only policy, and is
//! an error when there are several. Classic `azurerm_firewall_*_rule_collection` resources are not read.

use super::arm::{PolicyHead, TemplateParts};
use super::fqdn::{FqdnPattern, canonical};
use super::json::{J, Res};
use super::model::*;
use super::rest::{parse_action, sort_collections};

pub(crate) fn is_terraform(j: &J<'_>) -> bool {
    j.has("format_version") && (j.has("values") || j.has("planned_values"))
}

fn collect<'a>(module: &J<'a>, out: &mut Vec<J<'a>>) -> Res<()> {
    out.extend(module.list("resources")?);
    for child in module.list("child_modules")? {
        collect(&child, out)?;
    }
    Ok(())
}

pub(crate) fn terraform(j: &J<'_>) -> Res<TemplateParts> {
    let top = match j.get("planned_values") {
        Some(p) => p,
        None => j.req("values")?,
    };
    let mut resources = Vec::new();
    if let Some(root) = top.get("root_module") {
        collect(&root, &mut resources)?;
    }
    let mut out = TemplateParts::default();
    let mut policy_ids: Vec<(Option<String>, String)> = Vec::new();
    let mut groups = Vec::new();
    let mut cidrs = Vec::new();
    for r in &resources {
        if r.opt_str("mode")?.is_some_and(|m| m != "managed") {
            continue;
        }
        let ty = r.req_str("type")?;
        let Some(v) = r.get("values") else {
            continue;
        };
        match ty {
            "azurerm_firewall_policy" => {
                let name = v.req_str("name")?.to_string();
                let id = v.opt_str("id")?.map(str::to_string);
                // `dns = []` is a policy without DNS settings (proxy off); no `dns` at all says nothing.
                let dns_proxy = match v.get("dns") {
                    None => None,
                    Some(d) => match d.items()?.first() {
                        Some(first) => Some(first.bool_or("proxy_enabled", false)?),
                        None => Some(false),
                    },
                };
                policy_ids.push((id.clone(), name.clone()));
                // The provider reads back the ids of every group of the policy, wherever they are managed: a
                // group missing from this file would make answers wrong, so it is checked like az's listing.
                let listed_groups = v
                    .string_list("rule_collection_groups")?
                    .iter()
                    .map(|g| resource_name(g).to_string())
                    .collect();
                out.policies.push(PolicyHead {
                    name,
                    id,
                    base: v
                        .opt_str("base_policy_id")?
                        .map(|b| resource_name(b).to_string()),
                    dns_proxy,
                    listed_groups,
                });
            }
            "azurerm_firewall_policy_rule_collection_group" => groups.push(v),
            "azurerm_ip_group" => out.ip_groups.push(IpGroup {
                id: v.opt_str("id")?.map(str::to_string),
                name: v.req_str("name")?.to_string(),
                addresses: v.addresses("cidrs")?,
            }),
            "azurerm_ip_group_cidr" => cidrs.push(v),
            _ => {}
        }
    }
    for v in cidrs {
        let (Some(id), Some(c)) = (v.opt_str("ip_group_id")?, v.get("cidr")) else {
            continue;
        };
        let a = super::addr::Address::parse(c.str()?).or_else(|e| c.err(e))?;
        if let Some(g) = out.ip_groups.iter_mut().find(|g| {
            g.id.as_deref()
                .is_some_and(|gid| gid.eq_ignore_ascii_case(id))
        }) {
            g.addresses.push(a);
        }
    }
    for v in groups {
        let policy = match v.opt_str("firewall_policy_id")? {
            Some(id) => policy_ids
                .iter()
                .find(|(pid, _)| pid.as_deref().is_some_and(|p| p.eq_ignore_ascii_case(id)))
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| resource_name(id).to_string()),
            None if policy_ids.len() == 1 => policy_ids[0].1.clone(),
            None => {
                return v.err(format!(
                    "firewall_policy_id is not known until apply and the file holds {} firewall policies: \
                     fwlog cannot tell which one this group belongs to (use `terraform show -json` of the state)",
                    policy_ids.len()
                ));
            }
        };
        out.groups.push((policy, group(&v)?));
        out.group_paths.push(v.path.clone());
    }
    Ok(out)
}

fn group(v: &J<'_>) -> Res<RuleCollectionGroup> {
    let mut collections = Vec::new();
    let kinds = [
        ("application_rule_collection", RuleKind::Application),
        ("network_rule_collection", RuleKind::Network),
        ("nat_rule_collection", RuleKind::Nat),
    ];
    for (key, kind) in kinds {
        for c in v.list(key)? {
            let a = c.req("action")?;
            let text = a.str()?;
            let action = match (parse_action(text), kind) {
                (Some(Action::Dnat), RuleKind::Nat) => Action::Dnat,
                (
                    Some(x @ (Action::Allow | Action::Deny)),
                    RuleKind::Network | RuleKind::Application,
                ) => x,
                _ => {
                    let want = if kind == RuleKind::Nat {
                        "Dnat"
                    } else {
                        "Allow or Deny"
                    };
                    return a.err(format!("expected {want}, found {text:?}"));
                }
            };
            let mut rules = Vec::new();
            for r in c.list("rule")? {
                rules.push(match kind {
                    RuleKind::Application => Rule::Application(app_rule(&r)?),
                    RuleKind::Network => Rule::Network(net_rule(&r)?),
                    RuleKind::Nat => Rule::Nat(nat_rule(&r)?),
                });
            }
            collections.push(RuleCollection {
                name: c.req_str("name")?.to_string(),
                priority: c.req("priority")?.priority()?,
                action,
                kind,
                rules,
            });
        }
    }
    sort_collections(&mut collections);
    Ok(RuleCollectionGroup {
        name: v.req_str("name")?.to_string(),
        priority: v.req("priority")?.priority()?,
        collections,
    })
}

fn net_protocols(r: &J<'_>) -> Res<Vec<NetProtocol>> {
    r.strings("protocols")?
        .into_iter()
        .map(|(s, node)| match NetProtocol::parse(&s) {
            Some(p) => Ok(p),
            None => node.err(format!("expected TCP, UDP, ICMP or Any, found {s:?}")),
        })
        .collect()
}

fn app_rule(r: &J<'_>) -> Res<ApplicationRule> {
    let mut protocols = Vec::new();
    for p in r.list("protocols")? {
        let t = p.req("type")?;
        let text = t.str()?;
        let Some(kind) = AppProtocolType::parse(text) else {
            return t.err(format!("expected Http, Https or Mssql, found {text:?}"));
        };
        protocols.push(AppProtocol {
            kind,
            port: p.req("port")?.port()?,
        });
    }
    let mut http_headers = Vec::new();
    for h in r.list("http_headers")? {
        http_headers.push(HttpHeader {
            name: h.req_str("name")?.to_string(),
            value: h.opt_str("value")?.unwrap_or_default().to_string(),
        });
    }
    Ok(ApplicationRule {
        name: r.req_str("name")?.to_string(),
        description: description(r)?,
        source_addresses: r.addresses("source_addresses")?,
        source_ip_groups: r.string_list("source_ip_groups")?,
        protocols,
        target_fqdns: r
            .string_list("destination_fqdns")?
            .iter()
            .map(|s| FqdnPattern::parse(s))
            .collect(),
        fqdn_tags: r.string_list("destination_fqdn_tags")?,
        target_urls: r.string_list("destination_urls")?,
        web_categories: r.string_list("web_categories")?,
        destination_addresses: r.string_list("destination_addresses")?,
        terminate_tls: r.bool_or("terminate_tls", false)?,
        http_headers,
        written: Written {
            source_addresses: r.string_list("source_addresses")?,
            destinations: r.string_list("destination_fqdns")?,
            destination_fqdns: Vec::new(),
        },
    })
}

/// A rule's `description`; blank is none (the provider reads an unset description back as "").
fn description(r: &J<'_>) -> Res<Option<String>> {
    Ok(r.opt_str("description")?
        .filter(|d| !d.is_empty())
        .map(str::to_string))
}

fn net_rule(r: &J<'_>) -> Res<NetworkRule> {
    Ok(NetworkRule {
        name: r.req_str("name")?.to_string(),
        description: description(r)?,
        protocols: net_protocols(r)?,
        source_addresses: r.addresses("source_addresses")?,
        source_ip_groups: r.string_list("source_ip_groups")?,
        destination_addresses: r.destinations("destination_addresses")?,
        destination_ip_groups: r.string_list("destination_ip_groups")?,
        destination_fqdns: r
            .string_list("destination_fqdns")?
            .iter()
            .map(|s| canonical(s))
            .collect(),
        destination_ports: r.ports("destination_ports")?,
        written: Written {
            source_addresses: r.string_list("source_addresses")?,
            destinations: r.string_list("destination_addresses")?,
            destination_fqdns: r.string_list("destination_fqdns")?,
        },
    })
}

fn nat_rule(r: &J<'_>) -> Res<NatRule> {
    let mut destination_addresses = Vec::new();
    let mut written_destinations = Vec::new();
    if let Some(d) = r.get("destination_address") {
        let s = d.str()?;
        if !s.trim().is_empty() {
            destination_addresses.push(Destination::parse(s).or_else(|e| d.err(e))?);
            written_destinations.push(s.trim().to_string());
        }
    }
    Ok(NatRule {
        name: r.req_str("name")?.to_string(),
        description: description(r)?,
        protocols: net_protocols(r)?,
        source_addresses: r.addresses("source_addresses")?,
        source_ip_groups: r.string_list("source_ip_groups")?,
        destination_addresses,
        destination_ports: r.ports("destination_ports")?,
        translated_address: r.opt_text("translated_address")?,
        translated_fqdn: r.opt_text("translated_fqdn")?,
        translated_port: r.opt_text("translated_port")?,
        written: Written {
            source_addresses: r.string_list("source_addresses")?,
            destinations: written_destinations,
            destination_fqdns: Vec::new(),
        },
    })
}
