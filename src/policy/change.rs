//! The smallest policy change that allows a denied flow, and filtering candidate rules down to what is missing.
//!
//! A rule collection group is replaced whole on every update (a PUT of the group,
//! <https://learn.microsoft.com/rest/api/virtualnetwork/firewall-policy-rule-collection-groups/create-or-update>), so a
//! change is always expressed against the user's real group, collection and rule: widen the rule that nearly
//! matched, or add a rule to an existing collection, or add a collection to an existing group, in that order of
//! preference. Renderers turn the data into Bicep, Terraform, ARM or az CLI.
//!
//! Decisions:
//! * Widening is chosen only when one field of one rule changes (a protocol entry `Https:443` counts as one, even
//!   though it fixes protocol and port); otherwise a precise new rule goes into that rule's collection, so other
//!   traffic of the rule is not widened twice.
//! * Base (parent) policies are not edited: their rules are processed first and usually belong to another team.
//!   A deny in the base policy cannot be overridden by the child, which the change says.
//! * A new rule goes into an allow collection of the right kind in the evaluated policy, preferring one whose rules
//!   already name the same domain (two or more shared trailing labels) or, for network rules, the same port; then
//!   one whose rules cover the same sources; ties by processing order. With no such collection, a new collection
//!   `fwlog-allow-<kind>` is added to the group that already holds rules for these sources (else the first group),
//!   at a free priority after the group's collections; a policy without groups gets a group `fwlog-egress` at
//!   priority 1000 (an arbitrary, documented default).
//! * To get past a deny rule in the same policy, a new allow collection goes into the deny's group at the nearest
//!   free priority before the deny collection; if none is free, the change is left undecided.

use ipnet::IpNet;
use serde::Serialize;

use super::addr::{AddrSet, Address, Coverage, net_text};
use super::eval::*;
use super::explain::{Explained, Explanation};
use super::fqdn::{FqdnPattern, pattern_domain, shared_labels};
use super::model::*;

/// A rule to add, or a candidate rule from the recommender (application: `protocols` as `Https:443`; network:
/// `protocols` as `TCP`/`UDP`/`ICMP`/`Any`, with `destination_ports`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSpec {
    pub name: String,
    pub kind: RuleKind,
    pub source_addresses: Vec<String>,
    pub protocols: Vec<String>,
    pub target_fqdns: Vec<String>,
    pub destination_addresses: Vec<String>,
    pub destination_ports: Vec<String>,
}

/// The field of an existing rule that gains values (ARM property names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleField {
    SourceAddresses,
    /// Application rule `protocols` (`Https:443`).
    Protocols,
    IpProtocols,
    DestinationPorts,
    TargetFqdns,
}

/// Where a new rule goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub policy: String,
    pub group: String,
    pub group_priority: u32,
    /// The group does not exist yet.
    pub new_group: bool,
    pub collection: String,
    pub collection_priority: u32,
    /// The collection does not exist yet (an allow collection of the rule's kind).
    pub new_collection: bool,
    /// Why this place.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// The policy given needs no change.
    None { reason: String },
    WidenRule {
        rule: RuleRef,
        field: RuleField,
        add: Vec<String>,
    },
    /// The rule takes its sources from an IP Group: that group gains the prefixes.
    WidenIpGroup {
        rule: RuleRef,
        ip_group: String,
        add: Vec<String>,
    },
    AddRule {
        placement: Placement,
        rule: RuleSpec,
    },
    /// A policy setting, not a rule.
    PolicySetting {
        setting: String,
        value: String,
        reason: String,
    },
    /// fwlog cannot propose a change; `reason` says what is missing.
    Undecided { reason: String },
}

/// The smallest change that allows the flow explained (a deny that should be allowed).
pub fn smallest_change(policy: &Policy, x: &Explained, env: &Env<'_>) -> Change {
    let flow = &x.flow;
    match &x.explanation {
        Explanation::AllowedByPolicy { rule, .. } => Change::None {
            reason: format!("the policy given already allows it by {rule}"),
        },
        Explanation::Unknown { because, .. } => Change::Undecided {
            reason: format!("unknown because {because}"),
        },
        Explanation::NoSni { .. } => Change::Undecided {
            reason: "the log has no destination name or address (TLS without SNI): allow the address the client \
                     calls with a network rule (for AKS pods calling the API server by its service IP: the API \
                     server address, TCP 443)"
                .into(),
        },
        Explanation::NetworkFqdnWithoutDnsProxy { fqdn, .. } => Change::PolicySetting {
            setting: "dnsSettings.enableProxy".into(),
            value: "true".into(),
            reason: format!("network rules match {fqdn} only when the firewall resolves it with its DNS proxy"),
        },
        Explanation::ShadowedByDeny { deny, .. } | Explanation::DeniedByRule { rule: deny } => {
            before_deny(policy, flow, deny)
        }
        Explanation::FqdnTagNotCovering { rule, .. } => {
            let spec = spec_for(flow);
            let preferred = (!rule.inherited).then_some(rule);
            Change::AddRule {
                placement: place(policy, flow, spec.kind, preferred, env),
                rule: spec,
            }
        }
        Explanation::ProtocolMismatch { rule, .. }
        | Explanation::PortMismatch { rule, .. }
        | Explanation::SourceNotCovered { rule, .. }
        | Explanation::WildcardMissesApex { rule, .. }
        | Explanation::RejectedPattern { rule, .. } => widen(policy, x, rule, env),
        Explanation::DefaultDeny { .. } => {
            let spec = spec_for(flow);
            Change::AddRule {
                placement: place(policy, flow, spec.kind, None, env),
                rule: spec,
            }
        }
    }
}

/// The rule kind and fields that allow exactly this flow.
fn spec_for(flow: &Flow) -> RuleSpec {
    let q = Query::of_flow(flow);
    let src = net_text(flow.source);
    let port = flow
        .port
        .map(|p| p.to_string())
        .unwrap_or_else(|| "*".into());
    let app = matches!(
        (&q.dest, &q.proto),
        (
            Dest::Name(_) | Dest::Suffix(_),
            Proto::Http | Proto::Https | Proto::Mssql | Proto::Tcp
        )
    );
    let dest = flow.destination.clone().unwrap_or_default();
    if app {
        let kind = match q.proto {
            Proto::Http => "Http",
            Proto::Mssql => "Mssql",
            _ => "Https",
        };
        RuleSpec {
            name: rule_name(&dest, kind, &port),
            kind: RuleKind::Application,
            source_addresses: vec![src],
            protocols: vec![format!("{kind}:{port}")],
            target_fqdns: vec![dest],
            destination_addresses: Vec::new(),
            destination_ports: Vec::new(),
        }
    } else {
        let proto = match q.proto {
            Proto::Udp => "UDP",
            Proto::Icmp => "ICMP",
            _ => "TCP",
        };
        let port = if q.proto == Proto::Icmp {
            "*".into()
        } else {
            port
        };
        RuleSpec {
            name: rule_name(&dest, proto, &port),
            kind: RuleKind::Network,
            source_addresses: vec![src],
            protocols: vec![proto.into()],
            target_fqdns: Vec::new(),
            destination_addresses: vec![dest],
            destination_ports: vec![port],
        }
    }
}

/// `allow-mcr-microsoft-com-https-443`: letters, digits and `-`, at most 80 characters (Azure's name limit).
fn rule_name(dest: &str, proto: &str, port: &str) -> String {
    let raw = format!("allow-{dest}-{proto}-{port}").to_ascii_lowercase();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out = out.trim_matches('-').to_string();
    out.chars()
        .take(80)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

fn app_protocol_for(flow: &Flow) -> String {
    let port = flow
        .port
        .map(|p| p.to_string())
        .unwrap_or_else(|| "443".into());
    let kind = match Proto::parse(&flow.protocol) {
        Proto::Http => "Http",
        Proto::Mssql => "Mssql",
        _ => "Https",
    };
    format!("{kind}:{port}")
}

fn widen(policy: &Policy, x: &Explained, r: &RuleRef, env: &Env<'_>) -> Change {
    let flow = &x.flow;
    let spec = spec_for(flow);
    if r.inherited {
        return Change::AddRule {
            placement: place(policy, flow, spec.kind, None, env),
            rule: spec,
        };
    }
    let e = evaluate(policy, flow, env);
    let Some(c) = e.checks.iter().find(|c| c.rule == *r) else {
        return Change::AddRule {
            placement: place(policy, flow, spec.kind, None, env),
            rule: spec,
        };
    };
    let (_, _, _, rule) = locate(policy, r);
    let mut edits: Vec<Change> = Vec::new();
    // A miss no single field edit fixes (a destination the rule does not name, a source behind an IP Group fwlog
    // cannot see) rules widening out.
    let mut inexpressible = false;
    if let DestCheck::Miss { why } = &c.destination {
        let add = match why {
            DestMiss::ApexOnly { .. } | DestMiss::RejectedPattern { .. } => {
                flow.destination.clone()
            }
            _ => None,
        };
        match add {
            Some(d) => edits.push(Change::WidenRule {
                rule: r.clone(),
                field: RuleField::TargetFqdns,
                add: vec![d],
            }),
            None => inexpressible = true,
        }
    }
    let proto_miss = matches!(c.protocol, ProtoCheck::Miss { .. });
    let port_miss = matches!(c.port, PortCheck::Miss { .. });
    match rule {
        Rule::Application(_) if proto_miss || port_miss => edits.push(Change::WidenRule {
            rule: r.clone(),
            field: RuleField::Protocols,
            add: vec![app_protocol_for(flow)],
        }),
        Rule::Network(_) | Rule::Nat(_) => {
            if proto_miss {
                edits.push(Change::WidenRule {
                    rule: r.clone(),
                    field: RuleField::IpProtocols,
                    add: vec![match Proto::parse(&flow.protocol) {
                        Proto::Udp => "UDP".into(),
                        Proto::Icmp => "ICMP".into(),
                        _ => "TCP".into(),
                    }],
                });
            }
            if port_miss {
                edits.push(Change::WidenRule {
                    rule: r.clone(),
                    field: RuleField::DestinationPorts,
                    add: vec![
                        flow.port
                            .map(|p| p.to_string())
                            .unwrap_or_else(|| "*".into()),
                    ],
                });
            }
        }
        _ => {}
    }
    let missing: Option<Vec<IpNet>> = match &c.source {
        SourceCheck::All => None,
        SourceCheck::Part { missing, .. } => Some(missing.clone()),
        SourceCheck::None => Some(vec![flow.source]),
        SourceCheck::Unknown { .. } => Some(Vec::new()),
    };
    if let Some(missing) = missing {
        let add: Vec<String> = missing.iter().map(|n| net_text(*n)).collect();
        if add.is_empty() {
            inexpressible = true;
        } else if rule.source_addresses().is_empty()
            && let Some(g) = rule
                .source_ip_groups()
                .iter()
                .find(|g| env.ip_groups.get(g).is_some())
        {
            edits.push(Change::WidenIpGroup {
                rule: r.clone(),
                ip_group: g.clone(),
                add,
            });
        } else {
            edits.push(Change::WidenRule {
                rule: r.clone(),
                field: RuleField::SourceAddresses,
                add,
            });
        }
    }
    if edits.len() == 1 && !inexpressible {
        return edits.remove(0);
    }
    let (p, g, col, _) = locate(policy, r);
    Change::AddRule {
        placement: Placement {
            policy: p.name.clone(),
            group: g.name.clone(),
            group_priority: g.priority,
            new_group: false,
            collection: col.name.clone(),
            collection_priority: col.priority,
            new_collection: false,
            reason: format!(
                "next to {}, which misses this flow on more than one field",
                r.rule
            ),
        },
        rule: spec,
    }
}

fn before_deny(policy: &Policy, flow: &Flow, deny: &RuleRef) -> Change {
    if deny.inherited {
        return Change::Undecided {
            reason: format!(
                "{deny} is in base policy {}, whose rules are processed before this policy's: only a change to the \
                 base policy can allow this flow",
                deny.policy
            ),
        };
    }
    let (p, g, col, _) = locate(policy, deny);
    let used: Vec<u32> = g.collections.iter().map(|c| c.priority).collect();
    let Some(prio) = (100..col.priority).rev().find(|x| !used.contains(x)) else {
        return Change::Undecided {
            reason: format!(
                "no free collection priority below {} in group {}: narrow {deny} instead",
                col.priority, g.name
            ),
        };
    };
    let spec = spec_for(flow);
    Change::AddRule {
        placement: Placement {
            policy: p.name.clone(),
            group: g.name.clone(),
            group_priority: g.priority,
            new_group: false,
            collection: unique_name(g, &format!("fwlog-allow-before-{}", col.name)),
            collection_priority: prio,
            new_collection: true,
            reason: format!(
                "processed before {} collection {} (priority {})",
                col.action.to_string().to_ascii_lowercase(),
                col.name,
                col.priority
            ),
        },
        rule: spec,
    }
}

fn unique_name(g: &RuleCollectionGroup, base: &str) -> String {
    let base: String = base.chars().take(80).collect();
    if !g
        .collections
        .iter()
        .any(|c| c.name.eq_ignore_ascii_case(&base))
    {
        return base;
    }
    (2..)
        .map(|i| format!("{base}-{i}"))
        .find(|n| !g.collections.iter().any(|c| c.name.eq_ignore_ascii_case(n)))
        .unwrap_or(base)
}

/// How well a collection's rules fit the flow: (same destination, same sources, names destinations itself).
/// The last part prefers a collection of explicit target FQDNs over one holding only FQDN tag rules.
fn fit(c: &RuleCollection, q: &Query, env: &Env<'_>) -> (usize, usize, usize) {
    let mut dest = 0;
    let mut src = 0;
    let explicit = usize::from(c.rules.iter().any(|r| match r {
        Rule::Application(a) => !a.target_fqdns.is_empty(),
        _ => true,
    }));
    for r in &c.rules {
        let d = match (r, &q.dest) {
            (Rule::Application(a), Dest::Name(n)) => a
                .target_fqdns
                .iter()
                .map(|p| shared_labels(pattern_domain(p), n))
                .max()
                .unwrap_or(0),
            (Rule::Application(a), Dest::Suffix(s)) => {
                let probe = FqdnPattern::Suffix(s.clone());
                a.target_fqdns
                    .iter()
                    .map(|p| shared_labels(pattern_domain(p), pattern_domain(&probe)))
                    .max()
                    .unwrap_or(0)
            }
            (Rule::Network(n), _) => match q.ports {
                Some(want)
                    if n.destination_ports
                        .iter()
                        .any(|p| p.lo <= want.lo && want.hi <= p.hi) =>
                {
                    2
                }
                _ => 0,
            },
            _ => 0,
        };
        dest = dest.max(if d >= 2 { d } else { 0 });
        let mut set = AddrSet::of_addresses(r.source_addresses());
        for g in r.source_ip_groups() {
            if let Some(ig) = env.ip_groups.get(g) {
                set = set.union(&AddrSet::of_addresses(&ig.addresses));
            }
        }
        let s = match set.coverage(q.source) {
            Coverage::All => 2,
            Coverage::Part { .. } => 1,
            Coverage::None => 0,
        };
        src = src.max(s);
    }
    (dest, src, explicit)
}

fn place(
    policy: &Policy,
    flow: &Flow,
    kind: RuleKind,
    preferred: Option<&RuleRef>,
    env: &Env<'_>,
) -> Placement {
    let q = Query::of_flow(flow);
    let mut best: Option<((usize, usize, usize), &RuleCollectionGroup, &RuleCollection)> = None;
    for g in &policy.groups {
        for c in &g.collections {
            if c.action != Action::Allow || c.kind != kind {
                continue;
            }
            let f = fit(c, &q, env);
            if (f.0, f.1) == (0, 0) {
                continue;
            }
            if best.as_ref().is_none_or(|(bf, _, _)| f > *bf) {
                best = Some((f, g, c));
            }
        }
    }
    // The collection of the rule the explanation is about (an FQDN tag rule), unless another collection already
    // names this domain.
    if let Some(r) = preferred
        && best.as_ref().is_none_or(|((d, _, _), _, _)| *d == 0)
    {
        let (p, g, c, _) = locate(policy, r);
        return Placement {
            policy: p.name.clone(),
            group: g.name.clone(),
            group_priority: g.priority,
            new_group: false,
            collection: c.name.clone(),
            collection_priority: c.priority,
            new_collection: false,
            reason: format!(
                "the collection of {}, an allow collection for these sources",
                r.rule
            ),
        };
    }
    if let Some(((d, s, _), g, c)) = best {
        let reason = match (d > 0, s > 0) {
            (true, true) => {
                "an allow collection whose rules already name this domain and these sources"
            }
            (true, false) => "an allow collection whose rules already name this domain",
            _ => "an allow collection whose rules already cover these sources",
        };
        let reason = if kind == RuleKind::Network && d > 0 {
            reason.replace("this domain", "this port")
        } else {
            reason.to_string()
        };
        return Placement {
            policy: policy.name.clone(),
            group: g.name.clone(),
            group_priority: g.priority,
            new_group: false,
            collection: c.name.clone(),
            collection_priority: c.priority,
            new_collection: false,
            reason,
        };
    }
    // A new collection in the group whose rules already serve these sources, else the first group.
    let group = policy
        .groups
        .iter()
        .map(|g| {
            let s = g
                .collections
                .iter()
                .map(|c| fit(c, &q, env).1)
                .max()
                .unwrap_or(0);
            (s, g)
        })
        .fold(
            None::<(usize, &RuleCollectionGroup)>,
            |acc, (s, g)| match acc {
                Some((bs, _)) if bs >= s => acc,
                _ => Some((s, g)),
            },
        )
        .map(|(_, g)| g);
    let name = format!("fwlog-allow-{}", kind.as_str());
    match group {
        Some(g) => {
            let used: Vec<u32> = g.collections.iter().map(|c| c.priority).collect();
            let top = used.iter().copied().max().unwrap_or(0);
            let prio = if top + 100 <= 65000 {
                (top + 100).max(100)
            } else {
                (100..=65000)
                    .rev()
                    .find(|x| !used.contains(x))
                    .unwrap_or(65000)
            };
            Placement {
                policy: policy.name.clone(),
                group: g.name.clone(),
                group_priority: g.priority,
                new_group: false,
                collection: unique_name(g, &name),
                collection_priority: prio,
                new_collection: true,
                reason: format!(
                    "no allow {} collection of this policy names this destination or these sources",
                    kind.as_str()
                ),
            }
        }
        None => Placement {
            policy: policy.name.clone(),
            group: "fwlog-egress".into(),
            group_priority: 1000,
            new_group: true,
            collection: name,
            collection_priority: 100,
            new_collection: true,
            reason: "the policy has no rule collection group".into(),
        },
    }
}

/// Where a candidate rule (from the recommender) goes in the user's policy: the existing allow collection of
/// its kind whose rules already name its domain (or port) and sources, else a new collection in the group
/// that serves these sources (see `place`).
pub fn placement_for(policy: &Policy, spec: &RuleSpec, env: &Env<'_>) -> Placement {
    let port_of = |p: &str| -> Option<u16> {
        p.rsplit(':')
            .next()
            .and_then(|n| n.split('-').next())
            .and_then(|n| n.parse().ok())
    };
    let (kind, protocol, port) = match spec.kind {
        RuleKind::Application => {
            let first = spec
                .protocols
                .first()
                .map(String::as_str)
                .unwrap_or("Https:443");
            let name = first
                .split(':')
                .next()
                .unwrap_or("Https")
                .to_ascii_uppercase();
            (FlowKind::Application, name, port_of(first))
        }
        _ => (
            FlowKind::Network,
            spec.protocols
                .first()
                .cloned()
                .unwrap_or_else(|| "TCP".into())
                .to_ascii_uppercase(),
            spec.destination_ports.first().and_then(|p| port_of(p)),
        ),
    };
    let source = spec
        .source_addresses
        .first()
        .and_then(|a| nets_of(a))
        .and_then(|v| v.into_iter().next())
        .unwrap_or_else(|| "0.0.0.0/0".parse().expect("valid net"));
    let flow = Flow {
        kind,
        protocol,
        source,
        destination: spec
            .target_fqdns
            .first()
            .or(spec.destination_addresses.first())
            .cloned(),
        port,
        last_seen_us: None,
    };
    place(policy, &flow, spec.kind, None, env)
}

/// The candidate rules the policy does not already allow, in input order. A candidate is dropped only when every
/// flow it describes (each source × target × protocol/port) is allowed by a rule that names it (an address, a
/// target FQDN, a service tag, an IP Group); anything unknown, and a match only through fwlog's model of the
/// `AzureKubernetesService` FQDN tag, keeps it.
pub fn missing_rules(policy: &Policy, env: &Env<'_>, candidates: &[RuleSpec]) -> Vec<RuleSpec> {
    // Candidates come from observed denies: fwlog's model of the FQDN tag is no proof that the firewall allows a
    // name (the deny says it did not), so tag rules count as unknown here; a later explicit rule still decides.
    let env = Env {
        use_tag_model: false,
        ..*env
    };
    candidates
        .iter()
        .filter(|c| !allowed(policy, &env, c))
        .cloned()
        .collect()
}

fn nets_of(addr: &str) -> Option<Vec<IpNet>> {
    match Address::parse(addr).ok()? {
        Address::Any => Some(vec!["0.0.0.0/0".parse().ok()?, "::/0".parse().ok()?]),
        Address::Net(n) => Some(vec![n]),
        a @ Address::Range(..) => {
            let set = AddrSet::of_addresses(std::slice::from_ref(&a));
            Some(set.nets())
        }
    }
}

fn allowed(policy: &Policy, env: &Env<'_>, c: &RuleSpec) -> bool {
    let mut sources = Vec::new();
    for s in &c.source_addresses {
        match nets_of(s) {
            Some(v) => sources.extend(v),
            None => return false,
        }
    }
    if sources.is_empty() {
        return false;
    }
    let mut queries: Vec<(FlowKind, Proto, Dest, Option<PortRange>)> = Vec::new();
    match c.kind {
        RuleKind::Application => {
            let mut protos = Vec::new();
            for p in &c.protocols {
                let Some(ap) = AppProtocol::parse(p) else {
                    return false;
                };
                let proto = match ap.kind {
                    AppProtocolType::Http => Proto::Http,
                    AppProtocolType::Https => Proto::Https,
                    AppProtocolType::Mssql => Proto::Mssql,
                };
                protos.push((proto, PortRange::single(ap.port)));
            }
            for t in &c.target_fqdns {
                let t = super::fqdn::canonical(t);
                let dest = match t.strip_prefix('*') {
                    Some(rest) => Dest::Suffix(rest.to_string()),
                    None => Dest::Name(t.clone()),
                };
                for (p, port) in &protos {
                    queries.push((FlowKind::Application, p.clone(), dest.clone(), Some(*port)));
                }
            }
        }
        RuleKind::Network | RuleKind::Nat => {
            let mut dests = Vec::new();
            for d in &c.destination_addresses {
                match Destination::parse(d) {
                    Ok(Destination::ServiceTag(t)) => dests.push(Dest::Tag(t)),
                    Ok(Destination::Address(_)) => match nets_of(d) {
                        Some(v) => dests.extend(v.into_iter().map(Dest::Net)),
                        None => return false,
                    },
                    Err(_) => return false,
                }
            }
            for f in &c.target_fqdns {
                dests.push(Dest::Name(super::fqdn::canonical(f)));
            }
            let mut protos = Vec::new();
            for p in &c.protocols {
                match NetProtocol::parse(p) {
                    Some(NetProtocol::Tcp) => protos.push(Proto::Tcp),
                    Some(NetProtocol::Udp) => protos.push(Proto::Udp),
                    Some(NetProtocol::Icmp) => protos.push(Proto::Icmp),
                    Some(NetProtocol::Any) => protos.extend([Proto::Tcp, Proto::Udp, Proto::Icmp]),
                    None => return false,
                }
            }
            let mut ports = Vec::new();
            for p in &c.destination_ports {
                match PortRange::parse(p) {
                    Ok(r) => ports.push(r),
                    Err(_) => return false,
                }
            }
            if ports.is_empty() {
                ports.push(PortRange::ANY);
            }
            for d in &dests {
                for p in &protos {
                    for r in &ports {
                        queries.push((FlowKind::Network, p.clone(), d.clone(), Some(*r)));
                    }
                }
            }
        }
    }
    if queries.is_empty() {
        return false;
    }
    sources.iter().all(|src| {
        queries.iter().all(|(kind, proto, dest, ports)| {
            let q = Query {
                kind: *kind,
                proto: proto.clone(),
                source: *src,
                dest: dest.clone(),
                ports: *ports,
            };
            matches!(evaluate_query(policy, &q, env).0, Outcome::Allowed { .. })
        })
    })
}
