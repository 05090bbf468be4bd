//! Evaluating one flow against a policy, in Azure Firewall's processing order.
//!
//! # Processing order
//!
//! From "Azure Firewall rule processing logic" (<https://learn.microsoft.com/azure/firewall/rule-processing>) and
//! "Azure Firewall Policy rule sets" (<https://learn.microsoft.com/azure/firewall/policy-rule-sets>):
//!
//! 1. DNAT rules, then network rules, then application rules (application rules only for HTTP, HTTPS and MSSQL).
//! 2. Within a rule type: rule collection groups by priority (100 first), then the collections of that type in the
//!    group by priority; rules of a collection top-down.
//! 3. Rules inherited from a parent (base) policy are processed before the child policy's, within each rule type.
//! 4. Rules are terminating: the first matching rule decides (its collection's action: Allow, Deny, or DNAT, which
//!    implicitly allows the translated traffic). No match: the built-in infrastructure collection, then deny.
//!
//! Equal priorities are broken by name, so the order is deterministic; Azure does not document that case.
//! Threat intelligence (processed before all rules) and IDPS are not modelled: the policy export does not say what
//! they matched.
//!
//! # Three answers, never a guess
//!
//! Each rule is checked on four dimensions (destination, protocol, port, source), each answering yes, no or
//! *unknown* when a fact is missing offline: an IP Group or service tag that was not given, a web category, a
//! target URL, the contents of an FQDN tag that fwlog's catalog does not document, a network-rule FQDN against an
//! address (the firewall resolves names; fwlog cannot). Walking the rules in order, the first rule that matches
//! decides, unless an earlier *unknown* rule has the opposite action: then the outcome is [`Outcome::Unknown`],
//! naming that rule and why.
//!
//! # Protocols
//!
//! [`Flow::protocol`] is the protocol as fwlog logs it (`HTTPS`, `HTTP`, `TCP`, `UDP`, `ICMP`).
//! * Application rules list `protocolType:port` pairs (`Https:443`). An `HTTPS` flow needs an `Https` entry with its
//!   port, `HTTP` an `Http` entry; the firewall logs TLS-inspected HTTPS as `HTTP` (`HTTP/1.1`), so an `HTTP` flow also
//!   matches the `Https` entries of a rule with `terminateTLS`. `MSSQL` needs `Mssql`. A `TCP` flow (an HTTPS deny that
//!   reached the network log as TCP/443) matches any entry with its port, since the payload type is not logged.
//! * Network and NAT rules list `TCP`, `UDP`, `ICMP`, `Any`; HTTP(S) and MSSQL flows are TCP. ICMP has no ports.
//! * An application flow (logged by the application rules) has a name, not an address, so network rules whose
//!   destinations are addresses, service tags or IP Groups cannot be judged; since such a flow reached the
//!   application rules, network rules did not match it when it was logged. Those rules are reported as
//!   [`DestCheck::NotApplicable`] and do not change the outcome; `*` destinations and FQDNs are still compared.
//! * A network flow with an address reaches application rules only with a name (SNI or Host) fwlog does not have,
//!   so application rules are not evaluated for it; the evaluation says so.

use std::fmt;

use ipnet::IpNet;
use serde::Serialize;

use super::addr::{AddrSet, Address, Coverage, net_text};
use super::fqdn::{FqdnPattern, canonical};
use super::load::PolicyInputs;
use super::model::*;
use crate::catalog::{Catalog, Context};

/// What fwlog knows about a (usually denied) flow: one group of log rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flow {
    pub kind: FlowKind,
    /// Canonical upper case as fwlog logs it: `HTTPS`, `HTTP`, `TCP`, `UDP`, `ICMP`.
    pub protocol: String,
    /// One address (`/32`, `/128`) or the subnet the denies were grouped by.
    #[serde(serialize_with = "super::addr::ser_net")]
    pub source: IpNet,
    /// Lower-case FQDN or canonical IP; `None` = TLS without SNI. A leading `*` makes it a wildcard pattern (used
    /// for candidate rules: every name it matches must be allowed).
    pub destination: Option<String>,
    pub port: Option<u16>,
    /// When the flow was last logged (µs since the epoch), for the "log older than the rule" explanation.
    pub last_seen_us: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Logged by application rules (a name, HTTP/HTTPS).
    Application,
    /// Logged by network rules (an address, TCP/UDP/ICMP).
    Network,
}

/// Facts the evaluation may need besides the policy.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    pub ip_groups: &'a IpGroups,
    pub service_tags: Option<&'a ServiceTags>,
    /// fwlog's AKS catalog: its model of the `AzureKubernetesService` FQDN tag (entries with `in_fqdn_tag`).
    pub catalog: &'a Catalog,
    pub context: &'a Context,
    /// Whether an `AzureKubernetesService` tag rule matches the names fwlog's catalog documents as part of the tag.
    /// `false` makes every such check unknown: used where only proof counts (see [`super::missing_rules`]).
    pub use_tag_model: bool,
}

impl<'a> Env<'a> {
    pub fn new(inputs: &'a PolicyInputs, catalog: &'a Catalog, context: &'a Context) -> Env<'a> {
        Env {
            ip_groups: &inputs.ip_groups,
            service_tags: inputs.service_tags.as_ref(),
            catalog,
            context,
            use_tag_model: true,
        }
    }
}

/// The FQDN tag fwlog has a model of, through its catalog.
pub const AKS_FQDN_TAG: &str = "AzureKubernetesService";

/// Where a rule sits, for messages and for finding it again. Equality ignores the internal position: names are
/// unique per level in Azure (policy, group, collection, rule).
#[derive(Debug, Clone, Eq, Serialize)]
pub struct RuleRef {
    pub policy: String,
    /// The rule comes from a base (parent) policy of the policy evaluated.
    pub inherited: bool,
    /// `None` for classic firewall rules, which have no groups.
    pub group: Option<String>,
    pub group_priority: Option<u32>,
    pub collection: String,
    pub collection_priority: u32,
    pub action: Action,
    pub kind: RuleKind,
    pub rule: String,
    #[serde(skip)]
    pub(crate) pos: Pos,
}

impl PartialEq for RuleRef {
    fn eq(&self, o: &Self) -> bool {
        self.policy == o.policy
            && self.inherited == o.inherited
            && self.group == o.group
            && self.group_priority == o.group_priority
            && self.collection == o.collection
            && self.collection_priority == o.collection_priority
            && self.action == o.action
            && self.kind == o.kind
            && self.rule == o.rule
    }
}

/// Indices: policy in [`Policy::chain`], group, collection, rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub chain: usize,
    pub group: usize,
    pub collection: usize,
    pub rule: usize,
}

impl RuleRef {
    /// The collection part: `deny collection block-egress (priority 150) of group aks-egress (priority 200)`.
    pub fn collection_text(&self) -> String {
        let action = self.action.to_string().to_ascii_lowercase();
        let base = if self.inherited {
            format!(" of base policy {}", self.policy)
        } else {
            String::new()
        };
        match (&self.group, self.group_priority) {
            (Some(g), Some(gp)) => format!(
                "{action} collection {} (priority {}) of group {g} (priority {gp}){base}",
                self.collection, self.collection_priority
            ),
            _ => format!(
                "classic {action} collection {} (priority {}) of firewall {}",
                self.collection, self.collection_priority, self.policy
            ),
        }
    }
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} in {}", self.rule, self.collection_text())
    }
}

/// Why fwlog cannot decide a dimension offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Unknown {
    /// No IP Group export was given.
    IpGroupNotGiven {
        group: String,
        field: &'static str,
    },
    /// IP Groups were given, but not this one.
    IpGroupNotInFile {
        group: String,
        field: &'static str,
    },
    ServiceTagNotGiven {
        tag: String,
    },
    ServiceTagNotInFile {
        tag: String,
    },
    /// Web categories are Microsoft's classification of names, not available offline.
    WebCategories {
        categories: Vec<String>,
    },
    /// Target URLs need the request path, which TLS inspection sees and fwlog's flow does not carry.
    TargetUrls {
        urls: Vec<String>,
    },
    /// An FQDN tag fwlog has no model of.
    FqdnTagNotModelled {
        tag: String,
    },
    /// fwlog's catalog knows the name but does not document it as part of the tag.
    FqdnTagUnclear {
        tag: String,
        entry: Option<String>,
    },
    /// A network-rule FQDN against an address: the firewall resolves the name with its DNS proxy; fwlog cannot.
    NetworkFqdnNeedsResolution {
        fqdn: String,
    },
    /// An application rule that also limits destination addresses, against a name.
    AppRuleDestinationAddresses {
        addresses: Vec<String>,
    },
    /// The flow has no port and the rule does not allow every port.
    PortNotLogged,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unknown::IpGroupNotGiven { group, field } => write!(
                f,
                "IP group {} ({field}) was not given (add the output of `az network ip-group list`)",
                resource_name(group)
            ),
            Unknown::IpGroupNotInFile { group, field } => write!(
                f,
                "IP group {} ({field}) is not in the IP Group export given",
                resource_name(group)
            ),
            Unknown::ServiceTagNotGiven { tag } => write!(
                f,
                "service tag {tag} cannot be resolved without the Service Tags file (ServiceTags_Public_*.json)"
            ),
            Unknown::ServiceTagNotInFile { tag } => {
                write!(f, "service tag {tag} is not in the Service Tags file given")
            }
            Unknown::WebCategories { categories } => write!(
                f,
                "web categories ({}) are not evaluable offline",
                categories.join(", ")
            ),
            Unknown::TargetUrls { urls } => write!(
                f,
                "URL rules ({}) need the TLS-inspected request path and are not evaluable offline",
                urls.join(", ")
            ),
            Unknown::FqdnTagNotModelled { tag } => {
                write!(f, "fwlog has no model of the contents of FQDN tag {tag}")
            }
            Unknown::FqdnTagUnclear { tag, entry } => match entry {
                Some(e) => write!(
                    f,
                    "fwlog's catalog (entry {e}) does not document whether FQDN tag {tag} covers this name"
                ),
                None => write!(
                    f,
                    "fwlog's catalog does not document whether FQDN tag {tag} covers this name"
                ),
            },
            Unknown::NetworkFqdnNeedsResolution { fqdn } => write!(
                f,
                "the network rule names {fqdn}, which the firewall resolves with its DNS proxy; fwlog cannot resolve it offline"
            ),
            Unknown::AppRuleDestinationAddresses { addresses } => write!(
                f,
                "the application rule also limits destination addresses ({}), which the application log does not carry",
                addresses.join(", ")
            ),
            Unknown::PortNotLogged => f.write_str("the flow has no port"),
        }
    }
}

/// How a rule's destination matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Via {
    TargetFqdn {
        pattern: String,
    },
    /// fwlog's model of the tag: a catalog entry documented as part of it.
    FqdnTag {
        tag: String,
        entry: String,
    },
    /// FQDNs in network rules work only with the policy's DNS proxy on (`dns_proxy`: what the export says).
    NetworkFqdn {
        fqdn: String,
        dns_proxy: Option<bool>,
    },
    Address {
        address: String,
    },
    ServiceTag {
        tag: String,
    },
    IpGroup {
        group: String,
    },
    AnyDestination,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::TargetFqdn { pattern } => write!(f, "target FQDN {pattern}"),
            Via::FqdnTag { tag, entry } => {
                write!(f, "FQDN tag {tag} (fwlog's catalog entry {entry})")
            }
            Via::NetworkFqdn { fqdn, dns_proxy } => match dns_proxy {
                Some(true) => write!(
                    f,
                    "destination FQDN {fqdn} (resolved by the policy's DNS proxy)"
                ),
                _ => write!(
                    f,
                    "destination FQDN {fqdn} (network-rule FQDNs need the policy's DNS proxy, which the files given do not show)"
                ),
            },
            Via::Address { address } => write!(f, "destination {address}"),
            Via::ServiceTag { tag } => write!(f, "service tag {tag}"),
            Via::IpGroup { group } => write!(f, "IP group {}", resource_name(group)),
            Via::AnyDestination => f.write_str("destination *"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "miss", rename_all = "snake_case")]
pub enum DestMiss {
    /// Nothing in the rule names this destination.
    NoTarget,
    /// `*.x` against `x`.
    ApexOnly { pattern: String },
    /// A target the product rejects (`www.contoso.*`), which a naive reading would match.
    RejectedPattern { pattern: String, why: String },
    /// TLS without SNI: application rules match names.
    NoSni,
    /// An address flow against an application rule.
    NotAName,
    /// fwlog's catalog records the name as not part of the tag.
    TagExcludes { tag: String, entry: String },
    /// A network-rule FQDN while the policy's DNS proxy is off.
    DnsProxyOff { fqdn: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum DestCheck {
    Match {
        via: Via,
    },
    Miss {
        why: DestMiss,
    },
    Unknown {
        because: Unknown,
    },
    /// Cannot be judged for this flow offline, and the flow's own log shows the rule did not apply.
    NotApplicable {
        why: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ProtoCheck {
    Match,
    Miss { flow: String, rule: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PortCheck {
    Match,
    Miss { flow: String, rule: Vec<String> },
    Unknown { because: Unknown },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum SourceCheck {
    All,
    Part {
        #[serde(serialize_with = "super::addr::ser_nets")]
        covered: Vec<IpNet>,
        #[serde(serialize_with = "super::addr::ser_nets")]
        missing: Vec<IpNet>,
    },
    None,
    Unknown {
        because: Unknown,
    },
}

/// One rule checked against the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCheck {
    pub rule: RuleRef,
    pub destination: DestCheck,
    pub protocol: ProtoCheck,
    pub port: PortCheck,
    pub source: SourceCheck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Match,
    Miss,
    Unknown,
    NotApplicable,
}

impl RuleCheck {
    pub fn state(&self) -> State {
        if matches!(self.destination, DestCheck::NotApplicable { .. }) {
            return State::NotApplicable;
        }
        let miss = matches!(self.destination, DestCheck::Miss { .. })
            || matches!(self.protocol, ProtoCheck::Miss { .. })
            || matches!(self.port, PortCheck::Miss { .. })
            || matches!(self.source, SourceCheck::Part { .. } | SourceCheck::None);
        if miss {
            return State::Miss;
        }
        if self.unknown().is_some() {
            State::Unknown
        } else {
            State::Match
        }
    }

    /// The first unknown dimension, destination first.
    pub fn unknown(&self) -> Option<&Unknown> {
        match (&self.destination, &self.port, &self.source) {
            (DestCheck::Unknown { because }, _, _) => Some(because),
            (_, PortCheck::Unknown { because }, _) => Some(because),
            (_, _, SourceCheck::Unknown { because }) => Some(because),
            _ => None,
        }
    }

    /// Whether everything but the destination matches (protocol, port and the whole source).
    pub fn matches_besides_destination(&self) -> bool {
        matches!(self.protocol, ProtoCheck::Match)
            && matches!(self.port, PortCheck::Match)
            && matches!(self.source, SourceCheck::All)
    }
}

/// The result for the whole flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Allowed {
        rule: RuleRef,
    },
    Denied {
        rule: RuleRef,
    },
    /// A DNAT rule translates the flow (the translated traffic is implicitly allowed).
    Translated {
        rule: RuleRef,
    },
    /// No rule matches: the default action denies it.
    DefaultDeny,
    /// An earlier rule could decide otherwise and fwlog cannot tell whether it matches.
    Unknown {
        rule: RuleRef,
        because: Unknown,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub flow: Flow,
    pub outcome: Outcome,
    /// Every rule checked, in processing order.
    pub checks: Vec<RuleCheck>,
    /// Facts that bear on the outcome but do not change it (plain English).
    pub notes: Vec<String>,
}

/// The flow as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    pub kind: FlowKind,
    pub proto: Proto,
    pub source: IpNet,
    pub dest: Dest,
    pub ports: Option<PortRange>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Proto {
    Http,
    Https,
    Mssql,
    Tcp,
    Udp,
    Icmp,
    Other(String),
}

impl Proto {
    pub fn parse(s: &str) -> Proto {
        match s.trim().to_ascii_uppercase().as_str() {
            "HTTP" => Proto::Http,
            "HTTPS" => Proto::Https,
            "MSSQL" => Proto::Mssql,
            "TCP" => Proto::Tcp,
            "UDP" => Proto::Udp,
            "ICMP" | "ICMPV6" => Proto::Icmp,
            other if other.starts_with("HTTP/") => Proto::Http,
            other => Proto::Other(other.to_string()),
        }
    }

    fn text(&self) -> &str {
        match self {
            Proto::Http => "HTTP",
            Proto::Https => "HTTPS",
            Proto::Mssql => "MSSQL",
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
            Proto::Icmp => "ICMP",
            Proto::Other(s) => s,
        }
    }

    fn is_tcp(&self) -> bool {
        matches!(self, Proto::Http | Proto::Https | Proto::Mssql | Proto::Tcp)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    NoSni,
    Name(String),
    /// Every name ending with this text (a candidate rule's `*.x` target).
    Suffix(String),
    Net(IpNet),
    Tag(String),
}

impl Query {
    pub fn of_flow(f: &Flow) -> Query {
        let dest = match f.destination.as_deref().map(str::trim) {
            None | Some("") => Dest::NoSni,
            Some(d) => match crate::event::normalize::host(d) {
                Some(crate::event::normalize::Host::Ip(ip)) => Dest::Net(IpNet::from(ip)),
                _ => match canonical(d).strip_prefix('*') {
                    Some(rest) => Dest::Suffix(rest.to_string()),
                    None => Dest::Name(canonical(d)),
                },
            },
        };
        Query {
            kind: f.kind,
            proto: Proto::parse(&f.protocol),
            source: f.source,
            dest,
            ports: f.port.map(PortRange::single),
        }
    }

    fn ports_text(&self) -> String {
        match self.ports {
            Some(p) => p.to_string(),
            None => "none".into(),
        }
    }
}

/// Evaluate a flow against the policy (and its base policies, first).
pub fn evaluate(policy: &Policy, flow: &Flow, env: &Env<'_>) -> Evaluation {
    let q = Query::of_flow(flow);
    let (outcome, checks, notes) = evaluate_query(policy, &q, env);
    Evaluation {
        flow: flow.clone(),
        outcome,
        checks,
        notes,
    }
}

/// Rules in processing order with where they sit.
pub(crate) fn ordered<'p>(policy: &'p Policy, phases: &[RuleKind]) -> Vec<(RuleRef, &'p Rule)> {
    let chain = policy.chain();
    let last = chain.len() - 1;
    let mut out = Vec::new();
    for &phase in phases {
        for (ci, p) in chain.iter().enumerate() {
            for (gi, g) in p.groups.iter().enumerate() {
                for (cj, c) in g.collections.iter().enumerate() {
                    if c.kind != phase {
                        continue;
                    }
                    for (ri, r) in c.rules.iter().enumerate() {
                        let classic = p.kind == PolicyKind::Classic;
                        let rr = RuleRef {
                            policy: p.name.clone(),
                            inherited: ci != last,
                            group: (!classic).then(|| g.name.clone()),
                            group_priority: (!classic).then_some(g.priority),
                            collection: c.name.clone(),
                            collection_priority: c.priority,
                            action: c.action,
                            kind: c.kind,
                            rule: r.name().to_string(),
                            pos: Pos {
                                chain: ci,
                                group: gi,
                                collection: cj,
                                rule: ri,
                            },
                        };
                        out.push((rr, r));
                    }
                }
            }
        }
    }
    out
}

/// The policy, group, collection and rule a [`RuleRef`] points at.
pub(crate) fn locate<'p>(
    policy: &'p Policy,
    r: &RuleRef,
) -> (
    &'p Policy,
    &'p RuleCollectionGroup,
    &'p RuleCollection,
    &'p Rule,
) {
    let p = policy.chain()[r.pos.chain];
    let g = &p.groups[r.pos.group];
    let c = &g.collections[r.pos.collection];
    (p, g, c, &c.rules[r.pos.rule])
}

fn effect(a: Action) -> Action {
    match a {
        Action::Dnat => Action::Allow,
        other => other,
    }
}

pub(crate) fn evaluate_query(
    policy: &Policy,
    q: &Query,
    env: &Env<'_>,
) -> (Outcome, Vec<RuleCheck>, Vec<String>) {
    let mut notes = Vec::new();
    if let Some(b) = &policy.chain()[0].missing_base {
        notes.push(format!(
            "base policy {b} was not given: its rules are processed before these and could decide this flow"
        ));
    }
    let app_phase = match (&q.kind, &q.dest) {
        (FlowKind::Application, _) => true,
        (FlowKind::Network, Dest::Name(_) | Dest::Suffix(_)) => q.proto.is_tcp(),
        (FlowKind::Network, _) => {
            if q.proto.is_tcp() {
                notes.push(
                    "application rules match names (SNI or Host header); this flow was logged with an address only, \
                     so fwlog did not evaluate them"
                        .into(),
                );
            }
            false
        }
    };
    let mut phases = Vec::new();
    if q.kind == FlowKind::Network {
        phases.push(RuleKind::Nat);
    }
    phases.push(RuleKind::Network);
    if app_phase {
        phases.push(RuleKind::Application);
    }
    // The firewall resolves network-rule FQDNs with the DNS proxy of the policy it runs, the evaluated (child) one,
    // for inherited rules too.
    let dns_proxy = policy.dns_proxy;
    let checks: Vec<RuleCheck> = ordered(policy, &phases)
        .into_iter()
        .map(|(rr, rule)| check(rr, rule, q, env, dns_proxy))
        .collect();

    let mut pending: Vec<(&RuleCheck, &Unknown)> = Vec::new();
    let mut decided: Option<&RuleCheck> = None;
    for c in &checks {
        match c.state() {
            State::Match => {
                decided = Some(c);
                break;
            }
            State::Unknown => pending.extend(c.unknown().map(|u| (c, u))),
            State::Miss => {}
            State::NotApplicable => {
                if c.matches_besides_destination() {
                    let DestCheck::NotApplicable { why } = &c.destination else {
                        continue;
                    };
                    notes.push(format!("{} was not evaluated: {why}", c.rule));
                }
            }
        }
    }
    let want = decided
        .map(|d| effect(d.rule.action))
        .unwrap_or(Action::Deny);
    let conflicting = pending.iter().find(|(p, _)| effect(p.rule.action) != want);
    let outcome = match (conflicting, decided) {
        (Some((p, because)), _) => Outcome::Unknown {
            rule: p.rule.clone(),
            because: (*because).clone(),
        },
        (None, Some(d)) => match d.rule.action {
            Action::Allow => Outcome::Allowed {
                rule: d.rule.clone(),
            },
            Action::Deny => Outcome::Denied {
                rule: d.rule.clone(),
            },
            Action::Dnat => Outcome::Translated {
                rule: d.rule.clone(),
            },
        },
        (None, None) => Outcome::DefaultDeny,
    };
    if !matches!(outcome, Outcome::Unknown { .. }) {
        for (p, u) in &pending {
            notes.push(format!(
                "{} may also match ({u}); the result is the same",
                p.rule
            ));
        }
    }
    (outcome, checks, notes)
}

fn check(rule: RuleRef, r: &Rule, q: &Query, env: &Env<'_>, dns_proxy: Option<bool>) -> RuleCheck {
    let source = source_check(r.source_addresses(), r.source_ip_groups(), q.source, env);
    match r {
        Rule::Application(a) => {
            let (protocol, port) = app_proto_port(a, q);
            RuleCheck {
                rule,
                destination: app_dest(a, q, env),
                protocol,
                port,
                source,
            }
        }
        Rule::Network(n) => RuleCheck {
            rule,
            destination: net_dest(n, q, env, dns_proxy),
            protocol: net_proto(&n.protocols, q),
            port: net_port(&n.protocols, &n.destination_ports, q),
            source,
        },
        Rule::Nat(n) => {
            let destination = match &q.dest {
                Dest::Net(net) => {
                    let (known, _) = destinations_set(&n.destination_addresses, &[], env);
                    if known.coverage(*net) == Coverage::All {
                        DestCheck::Match {
                            via: Via::Address {
                                address: net_text(*net),
                            },
                        }
                    } else {
                        DestCheck::Miss {
                            why: DestMiss::NoTarget,
                        }
                    }
                }
                _ => DestCheck::Miss {
                    why: DestMiss::NoTarget,
                },
            };
            RuleCheck {
                rule,
                destination,
                protocol: net_proto(&n.protocols, q),
                port: net_port(&n.protocols, &n.destination_ports, q),
                source,
            }
        }
    }
}

fn source_check(addrs: &[Address], groups: &[String], source: IpNet, env: &Env<'_>) -> SourceCheck {
    let mut known = AddrSet::of_addresses(addrs);
    let mut unresolved = None;
    for g in groups {
        match env.ip_groups.get(g) {
            Some(ig) => known = known.union(&AddrSet::of_addresses(&ig.addresses)),
            None => {
                unresolved.get_or_insert_with(|| ip_group_unknown(g, "source", env));
            }
        }
    }
    match (known.coverage(source), unresolved) {
        (Coverage::All, _) => SourceCheck::All,
        (_, Some(u)) => SourceCheck::Unknown { because: u },
        (Coverage::Part { covered, missing }, None) => SourceCheck::Part { covered, missing },
        (Coverage::None, None) => SourceCheck::None,
    }
}

fn ip_group_unknown(g: &str, field: &'static str, env: &Env<'_>) -> Unknown {
    if env.ip_groups.given {
        Unknown::IpGroupNotInFile {
            group: g.to_string(),
            field,
        }
    } else {
        Unknown::IpGroupNotGiven {
            group: g.to_string(),
            field,
        }
    }
}

fn app_proto_port(a: &ApplicationRule, q: &Query) -> (ProtoCheck, PortCheck) {
    let compatible = |p: &AppProtocol| match q.proto {
        Proto::Https => p.kind == AppProtocolType::Https,
        // TLS-inspected HTTPS is logged as HTTP (`HTTP/1.1`).
        Proto::Http => {
            p.kind == AppProtocolType::Http || (a.terminate_tls && p.kind == AppProtocolType::Https)
        }
        Proto::Mssql => p.kind == AppProtocolType::Mssql,
        Proto::Tcp => true,
        _ => false,
    };
    let rule_text: Vec<String> = a.protocols.iter().map(ToString::to_string).collect();
    let typed: Vec<&AppProtocol> = a.protocols.iter().filter(|p| compatible(p)).collect();
    let protocol = if typed.is_empty() {
        ProtoCheck::Miss {
            flow: format!("{}:{}", q.proto.text(), q.ports_text()),
            rule: rule_text.clone(),
        }
    } else {
        ProtoCheck::Match
    };
    // With the right type missing, the port is judged against every entry, so a rule saying Http:443 for an
    // HTTPS flow on 443 reports only the protocol.
    let pool: Vec<&AppProtocol> = if typed.is_empty() {
        a.protocols.iter().collect()
    } else {
        typed
    };
    let port = match q.ports {
        None => PortCheck::Unknown {
            because: Unknown::PortNotLogged,
        },
        Some(want) => {
            let ranges: Vec<PortRange> = pool.iter().map(|p| PortRange::single(p.port)).collect();
            if ports_cover(&ranges, want) {
                PortCheck::Match
            } else {
                PortCheck::Miss {
                    flow: want.to_string(),
                    rule: rule_text,
                }
            }
        }
    };
    (protocol, port)
}

fn net_proto(protocols: &[NetProtocol], q: &Query) -> ProtoCheck {
    let ok = protocols.iter().any(|p| match p {
        NetProtocol::Any => true,
        NetProtocol::Tcp => q.proto.is_tcp(),
        NetProtocol::Udp => q.proto == Proto::Udp,
        NetProtocol::Icmp => q.proto == Proto::Icmp,
    });
    if ok {
        ProtoCheck::Match
    } else {
        ProtoCheck::Miss {
            flow: q.proto.text().to_string(),
            rule: protocols.iter().map(ToString::to_string).collect(),
        }
    }
}

fn net_port(protocols: &[NetProtocol], ports: &[PortRange], q: &Query) -> PortCheck {
    // ICMP has no ports; a rule for ICMP still lists `*`.
    if q.proto == Proto::Icmp
        && protocols
            .iter()
            .any(|p| matches!(p, NetProtocol::Icmp | NetProtocol::Any))
    {
        return PortCheck::Match;
    }
    let rule: Vec<String> = ports.iter().map(ToString::to_string).collect();
    match q.ports {
        None if ports_cover(ports, PortRange::ANY) => PortCheck::Match,
        None => PortCheck::Unknown {
            because: Unknown::PortNotLogged,
        },
        Some(want) if ports_cover(ports, want) => PortCheck::Match,
        Some(want) => PortCheck::Miss {
            flow: want.to_string(),
            rule,
        },
    }
}

/// Addresses, resolved service tags and (for network rules) IP Groups as one set, plus the first entry that could
/// not be resolved.
fn destinations_set(
    dests: &[Destination],
    groups: &[String],
    env: &Env<'_>,
) -> (AddrSet, Option<Unknown>) {
    let mut spans = Vec::new();
    let mut unresolved = None;
    for d in dests {
        match d {
            Destination::Address(a) => spans.extend(a.spans()),
            Destination::ServiceTag(t) => match env.service_tags {
                None => {
                    unresolved.get_or_insert(Unknown::ServiceTagNotGiven { tag: t.clone() });
                }
                Some(st) => match st.get(t) {
                    Some(nets) => spans.extend(nets.iter().map(|n| super::addr::Span::of_net(*n))),
                    None => {
                        unresolved.get_or_insert(Unknown::ServiceTagNotInFile { tag: t.clone() });
                    }
                },
            },
        }
    }
    for g in groups {
        match env.ip_groups.get(g) {
            Some(ig) => spans.extend(ig.addresses.iter().flat_map(Address::spans)),
            None => {
                unresolved.get_or_insert_with(|| ip_group_unknown(g, "destination", env));
            }
        }
    }
    (AddrSet::from_spans(spans), unresolved)
}

/// The destination entry to name when a set matched: the first whose own set covers the target.
fn via_for(n: &NetworkRule, target: &AddrSet, env: &Env<'_>) -> Via {
    for d in &n.destination_addresses {
        let (s, _) = destinations_set(std::slice::from_ref(d), &[], env);
        if s.contains_set(target) {
            return match d {
                Destination::Address(Address::Any) => Via::AnyDestination,
                Destination::Address(a) => Via::Address {
                    address: a.to_string(),
                },
                Destination::ServiceTag(t) => Via::ServiceTag { tag: t.clone() },
            };
        }
    }
    for g in &n.destination_ip_groups {
        let (s, _) = destinations_set(&[], std::slice::from_ref(g), env);
        if s.contains_set(target) {
            return Via::IpGroup { group: g.clone() };
        }
    }
    Via::Address {
        address: n
            .destination_addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn net_dest(n: &NetworkRule, q: &Query, env: &Env<'_>, dns_proxy: Option<bool>) -> DestCheck {
    let any = n
        .destination_addresses
        .iter()
        .any(|d| matches!(d, Destination::Address(Address::Any)));
    match &q.dest {
        Dest::Net(_) | Dest::Tag(_) if any => DestCheck::Match {
            via: Via::AnyDestination,
        },
        Dest::Net(net) => {
            let target = AddrSet::of_nets(std::slice::from_ref(net));
            let (known, unresolved) =
                destinations_set(&n.destination_addresses, &n.destination_ip_groups, env);
            if known.contains_set(&target) {
                return DestCheck::Match {
                    via: via_for(n, &target, env),
                };
            }
            if let Some(u) = unresolved {
                return DestCheck::Unknown { because: u };
            }
            match (n.destination_fqdns.first(), dns_proxy) {
                (Some(f), Some(false)) => DestCheck::Miss {
                    why: DestMiss::DnsProxyOff { fqdn: f.clone() },
                },
                (Some(f), _) => DestCheck::Unknown {
                    because: Unknown::NetworkFqdnNeedsResolution { fqdn: f.clone() },
                },
                (None, _) => DestCheck::Miss {
                    why: DestMiss::NoTarget,
                },
            }
        }
        Dest::Tag(t) => {
            if n.destination_addresses
                .iter()
                .any(|d| matches!(d, Destination::ServiceTag(x) if x.eq_ignore_ascii_case(t)))
            {
                return DestCheck::Match {
                    via: Via::ServiceTag { tag: t.clone() },
                };
            }
            let Some(nets) = env.service_tags.and_then(|st| st.get(t)) else {
                let because = if env.service_tags.is_some() {
                    Unknown::ServiceTagNotInFile { tag: t.clone() }
                } else {
                    Unknown::ServiceTagNotGiven { tag: t.clone() }
                };
                return DestCheck::Unknown { because };
            };
            let target = AddrSet::of_nets(nets);
            let (known, unresolved) =
                destinations_set(&n.destination_addresses, &n.destination_ip_groups, env);
            if !target.is_empty() && known.contains_set(&target) {
                DestCheck::Match {
                    via: via_for(n, &target, env),
                }
            } else if let Some(u) = unresolved {
                DestCheck::Unknown { because: u }
            } else {
                DestCheck::Miss {
                    why: DestMiss::NoTarget,
                }
            }
        }
        Dest::Name(name) => {
            if let Some(f) = n.destination_fqdns.iter().find(|f| *f == name) {
                return if dns_proxy == Some(false) {
                    DestCheck::Miss {
                        why: DestMiss::DnsProxyOff { fqdn: f.clone() },
                    }
                } else {
                    DestCheck::Match {
                        via: Via::NetworkFqdn {
                            fqdn: f.clone(),
                            dns_proxy,
                        },
                    }
                };
            }
            if any {
                return DestCheck::Match {
                    via: Via::AnyDestination,
                };
            }
            name_vs_addresses(n, name)
        }
        Dest::Suffix(s) => {
            if any {
                return DestCheck::Match {
                    via: Via::AnyDestination,
                };
            }
            name_vs_addresses(n, &format!("*{s}"))
        }
        Dest::NoSni => {
            if any {
                return DestCheck::Match {
                    via: Via::AnyDestination,
                };
            }
            if n.destination_addresses.is_empty() && n.destination_ip_groups.is_empty() {
                return DestCheck::Miss {
                    why: DestMiss::NoTarget,
                };
            }
            DestCheck::NotApplicable {
                why: "the flow was logged without a destination; its address is unknown".into(),
            }
        }
    }
}

fn name_vs_addresses(n: &NetworkRule, name: &str) -> DestCheck {
    if n.destination_addresses.is_empty() && n.destination_ip_groups.is_empty() {
        return DestCheck::Miss {
            why: DestMiss::NoTarget,
        };
    }
    let mut listed: Vec<String> = n
        .destination_addresses
        .iter()
        .map(ToString::to_string)
        .collect();
    listed.extend(
        n.destination_ip_groups
            .iter()
            .map(|g| resource_name(g).to_string()),
    );
    DestCheck::NotApplicable {
        why: format!(
            "the application log carries the name {name}, not its address, so fwlog cannot tell whether it falls in \
             {}; a flow logged by application rules had passed the network rules without a match",
            listed.join(", ")
        ),
    }
}

fn app_dest(a: &ApplicationRule, q: &Query, env: &Env<'_>) -> DestCheck {
    let name = match &q.dest {
        Dest::NoSni => {
            return DestCheck::Miss {
                why: DestMiss::NoSni,
            };
        }
        Dest::Net(_) | Dest::Tag(_) => {
            return DestCheck::Miss {
                why: DestMiss::NotAName,
            };
        }
        Dest::Name(n) => n.as_str(),
        Dest::Suffix(s) => {
            if let Some(p) = a.target_fqdns.iter().find(|p| p.covers_suffix(s)) {
                return DestCheck::Match {
                    via: Via::TargetFqdn {
                        pattern: p.to_string(),
                    },
                };
            }
            let pattern = format!("*{s}");
            let mut unknown = None;
            for tag in &a.fqdn_tags {
                if !tag.eq_ignore_ascii_case(AKS_FQDN_TAG) {
                    unknown.get_or_insert(Unknown::FqdnTagNotModelled { tag: tag.clone() });
                    continue;
                }
                // A wildcard is covered only by a catalog entry with the very same pattern.
                let entry = env.catalog.entries().iter().find(|e| {
                    env.use_tag_model
                        && e.pattern == pattern
                        && tag_says(e.in_fqdn_tag.as_deref(), tag) == Some(true)
                });
                match entry {
                    Some(e) => {
                        return DestCheck::Match {
                            via: Via::FqdnTag {
                                tag: tag.clone(),
                                entry: e.id.clone(),
                            },
                        };
                    }
                    None => {
                        unknown.get_or_insert(Unknown::FqdnTagUnclear {
                            tag: tag.clone(),
                            entry: None,
                        });
                    }
                }
            }
            if let Some(u) = unknown {
                return DestCheck::Unknown { because: u };
            }
            return other_app_unknowns(a, None).map_or(
                DestCheck::Miss {
                    why: DestMiss::NoTarget,
                },
                |because| DestCheck::Unknown { because },
            );
        }
    };
    if let Some(p) = a.target_fqdns.iter().find(|p| p.matches(name)) {
        if !a.destination_addresses.is_empty() {
            return DestCheck::Unknown {
                because: Unknown::AppRuleDestinationAddresses {
                    addresses: a.destination_addresses.clone(),
                },
            };
        }
        return DestCheck::Match {
            via: Via::TargetFqdn {
                pattern: p.to_string(),
            },
        };
    }
    let mut unknown = None;
    let mut excluded = None;
    for tag in &a.fqdn_tags {
        if !tag.eq_ignore_ascii_case(AKS_FQDN_TAG) {
            unknown.get_or_insert(Unknown::FqdnTagNotModelled { tag: tag.clone() });
            continue;
        }
        if !env.use_tag_model {
            unknown.get_or_insert(Unknown::FqdnTagUnclear {
                tag: tag.clone(),
                entry: None,
            });
            continue;
        }
        let matches = env.catalog.lookup(Some(name), None, None, env.context);
        if let Some(m) = matches
            .iter()
            .find(|m| tag_says(m.entry.in_fqdn_tag.as_deref(), tag) == Some(true))
        {
            return DestCheck::Match {
                via: Via::FqdnTag {
                    tag: tag.clone(),
                    entry: m.entry.id.clone(),
                },
            };
        }
        if let Some(m) = matches
            .iter()
            .find(|m| tag_says(m.entry.in_fqdn_tag.as_deref(), tag) == Some(false))
        {
            excluded.get_or_insert(DestMiss::TagExcludes {
                tag: tag.clone(),
                entry: m.entry.id.clone(),
            });
        } else if let Some(m) = matches.first() {
            unknown.get_or_insert(Unknown::FqdnTagUnclear {
                tag: tag.clone(),
                entry: Some(m.entry.id.clone()),
            });
        }
    }
    if let Some(u) = unknown.or_else(|| other_app_unknowns(a, Some(name))) {
        return DestCheck::Unknown { because: u };
    }
    if let Some(p) = a.target_fqdns.iter().find(|p| p.misses_only_apex(name)) {
        return DestCheck::Miss {
            why: DestMiss::ApexOnly {
                pattern: p.to_string(),
            },
        };
    }
    if let Some(FqdnPattern::Rejected { text, why }) =
        a.target_fqdns.iter().find(|p| p.would_match_naively(name))
    {
        return DestCheck::Miss {
            why: DestMiss::RejectedPattern {
                pattern: text.clone(),
                why: (*why).to_string(),
            },
        };
    }
    DestCheck::Miss {
        why: excluded.unwrap_or(DestMiss::NoTarget),
    }
}

/// What the catalog's `in_fqdn_tag` says about a tag: `yes` (or the tag's name) = in it, `no` = not in it, anything
/// else (`unclear`, `n/a`, absent) = not documented.
fn tag_says(value: Option<&str>, tag: &str) -> Option<bool> {
    let v = value?.trim();
    if v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case(tag) {
        Some(true)
    } else if v.eq_ignore_ascii_case("no") {
        Some(false)
    } else {
        None
    }
}

/// Web categories and target URLs, which fwlog cannot check offline. A URL is only in doubt when its host part
/// matches the name (the path is what fwlog does not know); `name` is `None` for a wildcard candidate.
fn other_app_unknowns(a: &ApplicationRule, name: Option<&str>) -> Option<Unknown> {
    let urls: Vec<String> = a
        .target_urls
        .iter()
        .filter(|u| {
            let t = u.trim();
            let t = t.split_once("://").map_or(t, |(_, rest)| rest);
            let host = t.split(['/', '?']).next().unwrap_or(t);
            name.is_none_or(|n| FqdnPattern::parse(host).matches(n))
        })
        .cloned()
        .collect();
    if !urls.is_empty() {
        return Some(Unknown::TargetUrls { urls });
    }
    if !a.web_categories.is_empty() {
        return Some(Unknown::WebCategories {
            categories: a.web_categories.clone(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_as_logged() {
        assert_eq!(Proto::parse("HTTPS"), Proto::Https);
        assert_eq!(Proto::parse("http/1.1"), Proto::Http);
        assert_eq!(Proto::parse("ICMPv6"), Proto::Icmp);
        assert_eq!(Proto::parse("gre"), Proto::Other("GRE".into()));
        assert!(Proto::Https.is_tcp() && !Proto::Udp.is_tcp());
    }

    #[test]
    fn flows_become_queries() {
        let f = |d: Option<&str>| Flow {
            kind: FlowKind::Application,
            protocol: "HTTPS".into(),
            source: "10.0.0.1/32".parse().unwrap(),
            destination: d.map(str::to_string),
            port: Some(443),
            last_seen_us: None,
        };
        assert_eq!(Query::of_flow(&f(None)).dest, Dest::NoSni);
        assert_eq!(Query::of_flow(&f(Some(" "))).dest, Dest::NoSni);
        assert_eq!(
            Query::of_flow(&f(Some("MCR.Microsoft.com."))).dest,
            Dest::Name("mcr.microsoft.com".into())
        );
        assert_eq!(
            Query::of_flow(&f(Some("*.data.mcr.microsoft.com"))).dest,
            Dest::Suffix(".data.mcr.microsoft.com".into())
        );
        assert_eq!(
            Query::of_flow(&f(Some("[fd10:0003:0000:0000:0000:0000:0000:0004]"))).dest,
            Dest::Net("fd10:3::4/128".parse().unwrap())
        );
        assert_eq!(
            Query::of_flow(&f(Some("20.50.1.2"))).ports,
            Some(PortRange::single(443))
        );
    }

    #[test]
    fn catalog_tag_values() {
        assert_eq!(tag_says(Some("yes"), AKS_FQDN_TAG), Some(true));
        assert_eq!(
            tag_says(Some("AzureKubernetesService"), AKS_FQDN_TAG),
            Some(true)
        );
        assert_eq!(tag_says(Some("no"), AKS_FQDN_TAG), Some(false));
        assert_eq!(tag_says(Some("unclear"), AKS_FQDN_TAG), None);
        assert_eq!(tag_says(Some("n/a"), AKS_FQDN_TAG), None);
        assert_eq!(tag_says(None, AKS_FQDN_TAG), None);
    }
}
