//! From labelled denies to rules: which catalog match explains each deny, whether it becomes a rule, a `known`
//! explanation or an `unmatched` entry, and the rules' targets, sources, names and priorities.
//!
//! Decisions (see docs/recommend.md):
//! * The explaining match of a deny is the most specific non-retired match. Matches that say only "some account"
//!   (`<storage-account>.blob.core.windows.net`) or "some address on this port" (`<custom-DNS-server-IP>`) for a
//!   feature the user did not declare are demoted: they identify a kind of service, not this cluster's need.
//! * Within equal specificity: required (including conditional entries of `--features`) > recommended > known
//!   (informational, non-AKS, not needed) > conditional entries of undeclared features.
//! * Required and recommended matches become rules (one per catalog entry); conditional entries of undeclared
//!   features become `unmatched` with a hint naming the feature, so nothing is allowed on a guess.
//! * Targets are the catalog pattern with placeholders filled by observed values; a pattern Azure Firewall cannot
//!   express is never emitted; a wildcard on a shared suffix is narrowed to the observed hosts.

use crate::event::normalize::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::guard;
use super::model::{
    Evidence, FeatureEvidence, FeatureSource, FeatureUse, InvalidName, Known, Recommendation, Rule,
    RuleKind, RuleRequirement, Unmatched, Verdict,
};
use super::options::ScopeItem;
use crate::catalog::pattern::{Label, Pattern, Proto};
use crate::catalog::{Catalog, CatalogMatch, Context, Requirement};
use crate::engine::Group;
use crate::query::subnet_of;

/// Collection step between consecutive rule collections.
pub const PRIORITY_STEP: u32 = 10;
/// Name of the collections `--include-unmatched` adds.
pub const UNMATCHED_APP: &str = "unmatched-exact-fqdns";
pub const UNMATCHED_NET: &str = "unmatched-exact-network";

#[derive(Debug, Clone)]
pub struct Options {
    pub scope: Vec<ScopeItem>,
    pub source_ip_group: Option<String>,
    pub prefix_v4: u8,
    pub prefix_v6: u8,
    pub collection_group: String,
    pub group_priority: u32,
    pub priority_base: u32,
    pub api_server_ip: Option<IpAddr>,
    pub include_unmatched: bool,
    pub no_recommended: bool,
    /// Switch on the features whose own endpoints were denied (only when `--features` was not given).
    pub infer_features: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            scope: vec![ScopeItem::Subnet],
            source_ip_group: None,
            prefix_v4: 24,
            prefix_v6: 64,
            collection_group: "fwlog-aks-egress".into(),
            group_priority: 500,
            priority_base: 200,
            api_server_ip: None,
            include_unmatched: false,
            no_recommended: false,
            infer_features: true,
        }
    }
}

/// Observed denies folded together.
#[derive(Debug, Clone, Default)]
struct Obs {
    hits: u64,
    sources: BTreeSet<IpAddr>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    destinations: BTreeSet<String>,
    addresses: BTreeSet<IpAddr>,
}

impl Obs {
    fn add(&mut self, g: &Group) {
        self.hits += g.hits;
        if let Some(ip) = source_ip(g) {
            self.sources.insert(ip);
        }
        if self.first.as_ref().is_none_or(|f| g.first_seen < *f) {
            self.first = Some(g.first_seen);
        }
        if self.last.as_ref().is_none_or(|l| g.last_seen > *l) {
            self.last = Some(g.last_seen);
        }
        let d = g.destination.as_deref().unwrap_or("(no SNI)").to_string();
        if let Some(ip) = g
            .destination
            .as_deref()
            .and_then(|d| d.parse::<IpAddr>().ok())
        {
            self.addresses.insert(ip);
        }
        self.destinations.insert(d);
    }

    fn subnets(&self, o: &Options) -> Vec<String> {
        let set: BTreeSet<IpNet> = self
            .sources
            .iter()
            .map(|ip| subnet_of(*ip, o.prefix_v4, o.prefix_v6))
            .collect();
        set.iter().map(|n| n.to_string()).collect()
    }

    fn evidence(&self, o: &Options) -> Evidence {
        Evidence {
            hits: self.hits,
            distinct_sources: self.sources.len() as u64,
            first_seen: self.first.map(|t| t.to_string()).unwrap_or_default(),
            last_seen: self.last.map(|t| t.to_string()).unwrap_or_default(),
            destinations: self.destinations.iter().cloned().collect(),
            source_subnets: self.subnets(o),
        }
    }
}

/// The group's source address (the engine runs with one group per source IP).
fn source_ip(g: &Group) -> Option<IpAddr> {
    let s = g.source_subnet.as_deref()?;
    s.parse::<IpNet>()
        .map(|n| n.addr())
        .or_else(|_| s.parse::<IpAddr>())
        .ok()
}

/// Rule sources for a set of observed source addresses, per `--source-scope`.
pub fn source_addresses(sources: &BTreeSet<IpAddr>, o: &Options) -> Vec<String> {
    if o.source_ip_group.is_some() {
        return Vec::new();
    }
    if o.scope.contains(&ScopeItem::Any) {
        return vec!["*".into()];
    }
    let mut nets: BTreeSet<IpNet> = BTreeSet::new();
    for item in &o.scope {
        match item {
            ScopeItem::Subnet => nets.extend(
                sources
                    .iter()
                    .map(|ip| subnet_of(*ip, o.prefix_v4, o.prefix_v6)),
            ),
            ScopeItem::Ip => nets.extend(sources.iter().map(|ip| IpNet::from(*ip))),
            ScopeItem::Cidr(c) => {
                nets.insert(c.0);
            }
            ScopeItem::Any => {}
        }
    }
    nets.iter()
        .map(|n| {
            if n.prefix_len() == n.max_prefix_len() {
                n.addr().to_string()
            } else {
                n.to_string()
            }
        })
        .collect()
}

/// How a match ranks when choosing the one that explains a deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Required,
    Recommended,
    Known,
    Undeclared,
}

fn class(m: &CatalogMatch<'_>) -> Class {
    match m.requirement {
        Requirement::Required => Class::Required,
        Requirement::Recommended => Class::Recommended,
        Requirement::Conditional => Class::Undeclared,
        Requirement::Informational | Requirement::NonAks | Requirement::NotNeeded => Class::Known,
    }
}

/// A match that identifies only a kind of service or a port, for a feature the user did not declare.
fn weak(m: &CatalogMatch<'_>) -> bool {
    if m.requirement != Requirement::Conditional {
        return false;
    }
    match m.entry.pattern() {
        Pattern::IpPlaceholder(_) | Pattern::ServiceTag(_) => true,
        Pattern::Fqdn { labels, .. } => labels.iter().any(|l| {
            matches!(l, Label::Placeholder { name, .. }
                if !crate::catalog::pattern::is_region_placeholder(name)
                    && !name.to_ascii_lowercase().ends_with("guid"))
        }),
        Pattern::Ip(_) => false,
    }
}

fn effective_specificity(m: &CatalogMatch<'_>) -> u32 {
    if weak(m) {
        0
    } else {
        m.entry.pattern().specificity()
    }
}

/// The match that explains a deny, among non-retired matches (see module docs).
fn explaining<'m, 'c>(matches: &'m [CatalogMatch<'c>]) -> Option<&'m CatalogMatch<'c>> {
    let live: Vec<&CatalogMatch<'c>> = matches.iter().filter(|m| !m.retired()).collect();
    let top = live.iter().map(|m| effective_specificity(m)).max()?;
    live.into_iter()
        .filter(|m| effective_specificity(m) == top)
        .min_by_key(|m| class(m))
}

/// Key of an output row while folding denies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RuleKey {
    order: (RuleRequirement, bool, String),
    collection: String,
    entry_id: String,
}

#[derive(Debug, Clone)]
struct RuleDraft {
    kind: RuleKind,
    feature: String,
    requirement: RuleRequirement,
    catalog_id: Option<String>,
    pattern: Option<String>,
    status: Option<String>,
    source: Option<String>,
    notes: BTreeSet<String>,
    protocols: Vec<String>,
    ports: Vec<String>,
    /// Filled catalog patterns (FQDN) or fixed destinations (network).
    targets: BTreeSet<String>,
    /// Destinations come from the observed addresses (service tag without region, address placeholder).
    use_observed_addresses: bool,
    /// Narrow wildcard targets on shared suffixes to the observed hosts.
    obs: Obs,
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let t = out.trim_end_matches('-').to_string();
    if t.is_empty() { "rule".into() } else { t }
}

fn collection_name(feature: &str, kind: RuleKind) -> String {
    let f = slug(feature);
    match kind {
        RuleKind::Application => format!("aks-{f}"),
        RuleKind::Network => format!("aks-{f}-network"),
    }
}

fn app_protocol(p: Proto) -> Option<&'static str> {
    match p {
        Proto::Http => Some("Http"),
        Proto::Https => Some("Https"),
        Proto::Mssql => Some("Mssql"),
        _ => None,
    }
}

fn ip_protocol(p: Proto) -> &'static str {
    match p {
        Proto::Udp => "UDP",
        Proto::Icmp => "ICMP",
        Proto::Any => "Any",
        _ => "TCP",
    }
}

/// The region the rules are for: `--region`, else the single region seen in `<location>` captures.
pub fn infer_region(ctx: &Context, groups: &[(Group, Vec<CatalogMatch<'_>>)]) -> Option<String> {
    if let Some(r) = &ctx.region {
        return Some(r.clone());
    }
    let seen: BTreeSet<&str> = groups
        .iter()
        .flat_map(|(_, ms)| ms.iter())
        .flat_map(|m| m.captures.iter())
        .filter(|(k, _)| crate::catalog::pattern::is_region_placeholder(k))
        .map(|(_, v)| v.as_str())
        .collect();
    (seen.len() == 1).then(|| seen.into_iter().next().unwrap_or_default().to_string())
}

fn first_sentence(s: &str) -> String {
    match s.find(". ") {
        Some(i) => s[..i].to_string(),
        None => s.trim_end_matches('.').to_string(),
    }
}

fn draft_for(m: &CatalogMatch<'_>, region: Option<&str>) -> RuleDraft {
    let e = m.entry;
    let app: Vec<String> = e
        .protocols
        .iter()
        .filter_map(|p| app_protocol(p.proto).map(|n| format!("{n}:{}", p.port())))
        .collect();
    let fqdn = e.pattern().is_fqdn();
    let kind = if fqdn && !app.is_empty() {
        RuleKind::Application
    } else {
        RuleKind::Network
    };
    let mut notes = BTreeSet::new();
    if e.status == crate::catalog::Status::Retiring {
        let by = e
            .replaced_by
            .as_deref()
            .map(|r| format!(", being replaced by {r}"))
            .unwrap_or_default();
        notes.insert(format!("retiring endpoint{by}"));
    }
    notes.extend(m.context_notes.iter().cloned());
    let (protocols, ports) = match kind {
        RuleKind::Application => (app, Vec::new()),
        RuleKind::Network => {
            let protos: BTreeSet<&str> = e.protocols.iter().map(|p| ip_protocol(p.proto)).collect();
            let ports: BTreeSet<String> = e
                .protocols
                .iter()
                .map(|p| {
                    if p.port_lo == 0 && p.port_hi == u16::MAX {
                        "*".to_string()
                    } else if p.port_lo == p.port_hi {
                        p.port_lo.to_string()
                    } else {
                        format!("{}-{}", p.port_lo, p.port_hi)
                    }
                })
                .collect();
            (
                protos.into_iter().map(String::from).collect(),
                ports.into_iter().collect(),
            )
        }
    };
    let mut targets = BTreeSet::new();
    let mut use_observed = false;
    match e.pattern() {
        Pattern::Fqdn { .. } => {
            targets.insert(m.filled_pattern.to_string());
            if kind == RuleKind::Network {
                notes.insert("FQDN in a network rule: needs DNS proxy on the firewall".into());
            }
        }
        Pattern::Ip(net) => {
            targets.insert(net.to_string());
        }
        Pattern::ServiceTag(tag) => match (tag.split_once('<'), region) {
            (None, _) => {
                targets.insert(tag.clone());
            }
            (Some((head, _)), Some(r)) => {
                targets.insert(format!("{head}{r}"));
            }
            (Some(_), None) => {
                use_observed = true;
                notes.insert(format!(
                    "region unknown: allowing the observed addresses instead of the {tag} service tag; pass --region"
                ));
            }
        },
        Pattern::IpPlaceholder(name) => {
            use_observed = true;
            notes.insert(format!("{name}: the observed addresses"));
        }
    }
    RuleDraft {
        kind,
        feature: e.feature.clone(),
        requirement: if m.requirement == Requirement::Recommended {
            RuleRequirement::Recommended
        } else {
            RuleRequirement::Required
        },
        catalog_id: Some(e.id.clone()),
        pattern: Some(e.pattern.clone()),
        status: Some(e.status.as_str().to_string()),
        source: Some(e.source.clone()),
        notes,
        protocols,
        ports,
        targets,
        use_observed_addresses: use_observed,
        obs: Obs::default(),
    }
}

fn unmatched_hint(g: &Group, candidates: &[String]) -> String {
    let dest = g.destination.as_deref().unwrap_or("");
    let port = g.destination_port.unwrap_or(0);
    let proto = g.protocol.as_deref().unwrap_or("");
    let is_ip = dest.parse::<IpAddr>().is_ok();
    let mut hint = if let Some(svc) = storage_service(dest) {
        format!(
            "Azure Storage {svc} endpoint of one storage account: if the cluster needs it, allow exactly {dest} — never *.{}, which would open every storage account in Azure",
            dest.split_once('.').map(|x| x.1).unwrap_or(dest)
        )
    } else if dest.ends_with(".azurecr.io") {
        format!(
            "Azure Container Registry: allow exactly {dest} (and its data endpoint <registry>.<region>.data.azurecr.io), never *.azurecr.io"
        )
    } else if proto == "UDP" && port == 123 {
        "NTP: AKS nodes provisioned after March 2021 take time from the host clock; if something still needs NTP, allow UDP 123 to this address only".to_string()
    } else if port == 53 {
        "DNS: if this is your custom DNS server, pass --features custom-dns to get the rule"
            .to_string()
    } else if is_ip && port == 443 {
        "HTTPS to an address: if this is the API server's public IP, pass --api-server-ip"
            .to_string()
    } else if g.destination.is_none() {
        "no destination logged: nothing a rule can match".to_string()
    } else if !candidates.is_empty() {
        // Listed, but only for features not in use: say that, not "not in the catalog".
        return format!(
            "listed in the AKS egress catalog only for {}: if the cluster uses {}, pass --features {} \
             (otherwise allow exactly {dest}:{port} only if your workloads need it; --include-unmatched writes that \
             rule)",
            candidates.join(", "),
            if candidates.len() == 1 {
                "it"
            } else {
                "one of them"
            },
            candidates.join(",")
        );
    } else {
        format!(
            "not in the AKS egress catalog: allow exactly {dest}:{port} only if your workloads need it (--include-unmatched writes that rule)"
        )
    };
    if !candidates.is_empty() {
        hint.push_str(&format!(
            "; the catalog lists it for {}: if the cluster uses {}, pass --features {}",
            candidates.join(", "),
            if candidates.len() == 1 {
                "it"
            } else {
                "one of them"
            },
            candidates.join(",")
        ));
    }
    hint
}

fn storage_service(dest: &str) -> Option<&'static str> {
    let (_, rest) = dest.split_once('.')?;
    Some(match rest {
        "blob.core.windows.net" | "blob.storage.azure.net" => "blob",
        "queue.core.windows.net" => "queue",
        "table.core.windows.net" => "table",
        "file.core.windows.net" => "file",
        "dfs.core.windows.net" => "Data Lake",
        "web.core.windows.net" => "static website",
        _ => return None,
    })
}

/// What to do with one deny group, decided from its catalog matches.
enum Decision<'m, 'c> {
    /// Allow it with a rule drafted from a catalog entry.
    Rule(Box<RuleDraft>),
    /// No rule: the catalog explains why (`m` is the entry that says so).
    Known {
        verdict: Verdict,
        summary: String,
        m: &'m CatalogMatch<'c>,
    },
    /// No catalog entry explains it; `candidates` are features whose conditional entries would.
    Unmatched { candidates: BTreeSet<String> },
    /// The destination is not a valid host name or address: never a rule, never matched to the catalog.
    Invalid,
}

/// The decision for one group (see the module docs).
fn decide<'m, 'c>(
    g: &Group,
    ms: &'m [CatalogMatch<'c>],
    o: &Options,
    region: Option<&str>,
) -> Decision<'m, 'c> {
    let Some(dest) = g.destination.as_deref() else {
        return decide_without_destination(ms, o, region);
    };
    if !crate::event::normalize::is_valid_host(dest) {
        return Decision::Invalid;
    }
    if let Some(d) = api_server_address(g, ms, o, region) {
        return Decision::Rule(Box::new(d));
    }
    let Some(m) = explaining(ms) else {
        return match ms.first() {
            Some(r) => Decision::Known {
                verdict: Verdict::Retired,
                summary: format!(
                    "known: {} (retired endpoint), no rule needed",
                    r.filled_pattern
                ),
                m: r,
            },
            None => Decision::Unmatched {
                candidates: BTreeSet::new(),
            },
        };
    };
    match class(m) {
        Class::Undeclared => Decision::Unmatched {
            candidates: undeclared_features(ms),
        },
        Class::Known => known(m),
        Class::Recommended if o.no_recommended => Decision::Known {
            verdict: Verdict::Excluded,
            summary: format!(
                "recommended: {} ({}), left out by --no-recommended",
                m.filled_pattern, m.entry.feature
            ),
            m,
        },
        Class::Required | Class::Recommended if !m.entry.expressible_as_rule => Decision::Known {
            verdict: Verdict::NotExpressible,
            summary: format!(
                "known: {} ({}), but Azure Firewall cannot express the pattern as a rule",
                m.entry.pattern, m.entry.feature
            ),
            m,
        },
        Class::Required | Class::Recommended => Decision::Rule(Box::new(draft_for(m, region))),
    }
}

/// Features whose conditional (not retired) entries match: what `--features` would need to name.
fn undeclared_features(ms: &[CatalogMatch<'_>]) -> BTreeSet<String> {
    ms.iter()
        .filter(|m| !m.retired() && m.requirement == Requirement::Conditional)
        .map(|m| m.entry.feature.clone())
        .collect()
}

/// A deny without destination ("SNI TLS extension was missing"): pods calling the API server by its IP.
fn decide_without_destination<'m, 'c>(
    ms: &'m [CatalogMatch<'c>],
    o: &Options,
    region: Option<&str>,
) -> Decision<'m, 'c> {
    let Some(m) = ms.iter().find(|m| !m.retired()) else {
        return Decision::Unmatched {
            candidates: BTreeSet::new(),
        };
    };
    if m.requirement == Requirement::NotNeeded {
        return Decision::Known {
            verdict: Verdict::NotNeeded,
            summary: format!("not needed: {}", m.not_needed.unwrap_or("")),
            m,
        };
    }
    match o.api_server_ip {
        Some(ip) => {
            let mut d = draft_for(m, region);
            d.use_observed_addresses = false;
            d.notes.clear();
            d.notes.insert(
                "TLS without SNI: pods reach the API server through its service IP; an FQDN rule cannot match".into(),
            );
            d.targets = BTreeSet::from([ip.to_string()]);
            d.requirement = RuleRequirement::Required;
            Decision::Rule(Box::new(d))
        }
        None => Decision::Known {
            verdict: Verdict::NeedsInput,
            summary: "pods calling the API server by IP (TLS without SNI): needs a TCP 443 network rule to the API server's public IP; pass --api-server-ip IP to write it".into(),
            m,
        },
    }
}

/// An IP destination equal to `--api-server-ip` is the API server, whatever else matches.
fn api_server_address(
    g: &Group,
    ms: &[CatalogMatch<'_>],
    o: &Options,
    region: Option<&str>,
) -> Option<RuleDraft> {
    let ip = o.api_server_ip?;
    if g.destination.as_deref()?.parse::<IpAddr>().ok() != Some(ip) {
        return None;
    }
    let m = ms
        .iter()
        .find(|m| matches!(m.entry.pattern(), Pattern::IpPlaceholder(_)) && !m.retired())?;
    let mut d = draft_for(m, region);
    d.use_observed_addresses = false;
    d.targets = BTreeSet::from([ip.to_string()]);
    d.requirement = RuleRequirement::Required;
    Some(d)
}

/// The verdict for a match that needs no rule: informational, non-AKS or not needed for this cluster.
fn known<'m, 'c>(m: &'m CatalogMatch<'c>) -> Decision<'m, 'c> {
    let note = || {
        m.entry
            .note
            .as_deref()
            .map(first_sentence)
            .unwrap_or_else(|| m.filled_pattern.to_string())
    };
    let (verdict, summary) = match m.requirement {
        Requirement::NonAks => (Verdict::NonAks, format!("non-AKS: {}", note())),
        Requirement::NotNeeded => (
            Verdict::NotNeeded,
            format!(
                "known: {} ({}), not needed for this cluster: {}",
                m.filled_pattern,
                m.entry.feature,
                m.not_needed.unwrap_or("")
            ),
        ),
        _ => (
            Verdict::Informational,
            format!("known: {} ({}), no rule needed", note(), m.entry.feature),
        ),
    };
    Decision::Known {
        verdict,
        summary,
        m,
    }
}

/// Denies folded into rule drafts, known rows and unmatched rows, in deterministic order.
#[derive(Default)]
struct Folded {
    drafts: BTreeMap<RuleKey, RuleDraft>,
    known: BTreeMap<(Verdict, Option<String>, Option<u32>, String), KnownAcc>,
    unmatched: BTreeMap<UnmatchedKey, UnmatchedAcc>,
    invalid: BTreeMap<UnmatchedKey, (InvalidName, Obs)>,
}

struct KnownAcc {
    row: Known,
    obs: Obs,
}

/// kind, protocol, port, destination.
type UnmatchedKey = (String, Option<String>, Option<u32>, Option<String>);

#[derive(Default)]
struct UnmatchedAcc {
    g: Option<Group>,
    candidates: BTreeSet<String>,
    obs: Obs,
}

impl Folded {
    fn add(&mut self, g: &Group, decision: Decision<'_, '_>) {
        match decision {
            Decision::Rule(d) => {
                let d = *d;
                let key = RuleKey {
                    order: collection_order(d.requirement, &d.feature),
                    collection: collection_name(&d.feature, d.kind),
                    entry_id: format!(
                        "{}|{}",
                        d.catalog_id.clone().unwrap_or_default(),
                        d.targets.iter().cloned().collect::<Vec<_>>().join(",")
                    ),
                };
                self.drafts.entry(key).or_insert(d).obs.add(g);
            }
            Decision::Known {
                verdict,
                summary,
                m,
            } => {
                let key = (
                    verdict,
                    g.protocol.as_deref().map(str::to_string),
                    g.destination_port,
                    g.destination.as_deref().unwrap_or_default().to_string(),
                );
                let acc = self.known.entry(key).or_insert_with(|| KnownAcc {
                    row: Known {
                        protocol: g.protocol.as_deref().map(str::to_string),
                        destination: g.destination.as_deref().map(str::to_string),
                        destination_port: g.destination_port,
                        hits: 0,
                        source_subnets: Vec::new(),
                        verdict,
                        summary,
                        feature: m.entry.feature.clone(),
                        pattern: m.filled_pattern.to_string(),
                        reason: m
                            .not_needed
                            .map(str::to_string)
                            .or_else(|| m.entry.note.clone()),
                        source: m.entry.source.clone(),
                    },
                    obs: Obs::default(),
                });
                acc.obs.add(g);
            }
            Decision::Unmatched { candidates } => {
                let key = (
                    g.kind.to_string(),
                    g.protocol.as_deref().map(str::to_string),
                    g.destination_port,
                    g.destination.as_deref().map(str::to_string),
                );
                let acc = self.unmatched.entry(key).or_default();
                acc.obs.add(g);
                acc.candidates.extend(candidates);
                acc.g.get_or_insert_with(|| g.clone());
            }
            Decision::Invalid => {
                let key = (
                    g.kind.to_string(),
                    g.protocol.as_deref().map(str::to_string),
                    g.destination_port,
                    g.destination.as_deref().map(str::to_string),
                );
                let (_, obs) = self.invalid.entry(key).or_insert_with(|| {
                    (
                        InvalidName {
                            kind: g.kind.to_string(),
                            protocol: g.protocol.as_deref().map(str::to_string),
                            destination: g.destination.as_deref().unwrap_or_default().to_string(),
                            destination_port: g.destination_port,
                            hits: 0,
                            source_subnets: Vec::new(),
                        },
                        Obs::default(),
                    )
                });
                obs.add(g);
            }
        }
    }
}

/// The features in use: those given, and — unless `--features` was given — those whose own endpoints
/// (entries marked `signals_feature`) were denied. Only such an endpoint switches a feature on: a broad or
/// shared one (any storage account, `*.microsoft.com`) says nothing about which feature called it.
pub fn features_in_use(
    catalog: &Catalog,
    ctx: &Context,
    groups: &[Group],
    infer: bool,
) -> (Context, Vec<FeatureUse>) {
    let mut uses: Vec<FeatureUse> = ctx
        .features
        .iter()
        .map(|f| FeatureUse {
            name: f.clone(),
            source: FeatureSource::Given,
            evidence: Vec::new(),
        })
        .collect();
    if !infer {
        return (ctx.clone(), uses);
    }
    let mut seen: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for g in groups {
        let Some(dest) = g.destination.as_deref() else {
            continue;
        };
        if !crate::event::normalize::is_valid_host(dest) {
            continue;
        }
        for m in catalog.lookup(Some(dest), g.destination_port, g.protocol.as_deref(), ctx) {
            if m.entry.signals_feature && !m.retired() && m.requirement == Requirement::Conditional
            {
                let hits = seen
                    .entry(m.entry.feature.clone())
                    .or_default()
                    .entry(dest.to_string())
                    .or_default();
                *hits = hits.saturating_add(g.hits);
            }
        }
    }
    let mut ctx = ctx.clone();
    for (feature, dests) in seen {
        let mut evidence: Vec<FeatureEvidence> = dests
            .into_iter()
            .map(|(destination, hits)| FeatureEvidence { destination, hits })
            .collect();
        evidence.sort_by(|a, b| {
            b.hits
                .cmp(&a.hits)
                .then_with(|| a.destination.cmp(&b.destination))
        });
        ctx.features.insert(feature.clone());
        uses.push(FeatureUse {
            name: feature,
            source: FeatureSource::Inferred,
            evidence,
        });
    }
    (ctx, uses)
}

/// Build the recommendation from deny groups (one per source IP) and their catalog matches.
pub fn recommend(
    catalog: &Catalog,
    ctx: &Context,
    groups: &[Group],
    o: &Options,
) -> Recommendation {
    let (ctx, features) = features_in_use(catalog, ctx, groups, o.infer_features);
    let ctx = &ctx;
    let labelled: Vec<(Group, Vec<CatalogMatch<'_>>)> = groups
        .iter()
        .map(|g| {
            let ms = catalog.lookup(
                g.destination.as_deref(),
                g.destination_port,
                g.protocol.as_deref(),
                ctx,
            );
            (g.clone(), ms)
        })
        .collect();
    let region = infer_region(ctx, &labelled);
    let mut folded = Folded::default();
    for (g, ms) in &labelled {
        folded.add(g, decide(g, ms, o, region.as_deref()));
    }
    let mut rules = Vec::new();
    let mut not_written = Vec::new();
    let mut covered = 0;
    for d in folded.drafts.into_values() {
        match finish(d, o) {
            Ok(r) => {
                covered += r.evidence.hits;
                rules.push(r);
            }
            Err(k) => not_written.push(*k),
        }
    }
    let unmatched = unmatched_rows(folded.unmatched, o);
    if o.include_unmatched {
        for u in &unmatched {
            if let Some(r) = unmatched_rule(u, o) {
                covered += u.hits;
                rules.push(r);
            }
        }
    }
    let mut known: Vec<Known> = folded
        .known
        .into_values()
        .map(|acc| Known {
            hits: acc.obs.hits,
            source_subnets: acc.obs.subnets(o),
            ..acc.row
        })
        .chain(not_written)
        .collect();
    known.sort_by(|a, b| {
        b.hits
            .cmp(&a.hits)
            .then_with(|| a.destination.cmp(&b.destination))
    });
    let mut invalid_names: Vec<InvalidName> = folded
        .invalid
        .into_values()
        .map(|(row, obs)| InvalidName {
            hits: obs.hits,
            source_subnets: obs.subnets(o),
            ..row
        })
        .collect();
    invalid_names.sort_by(|a, b| {
        b.hits
            .cmp(&a.hits)
            .then_with(|| a.destination.cmp(&b.destination))
    });
    assign_collections(&mut rules, o);
    Recommendation {
        features,
        collection_group: o.collection_group.clone(),
        group_priority: o.group_priority,
        rules,
        unmatched,
        known,
        invalid_names,
        denies: groups.iter().map(|g| g.hits).fold(0, u64::saturating_add),
        denies_covered: covered,
        catalog_version: catalog.version(),
        groups: Vec::new(),
    }
}

/// Unmatched denies with their hints, most hits first.
fn unmatched_rows(acc: BTreeMap<UnmatchedKey, UnmatchedAcc>, o: &Options) -> Vec<Unmatched> {
    let mut rows: Vec<Unmatched> = acc
        .into_values()
        .filter_map(|acc| {
            let g = acc.g?;
            let cands: Vec<String> = acc.candidates.into_iter().collect();
            Some(Unmatched {
                kind: g.kind.to_string(),
                protocol: g.protocol.as_deref().map(str::to_string),
                destination: g.destination.as_deref().map(str::to_string),
                destination_port: g.destination_port,
                hits: acc.obs.hits,
                distinct_sources: acc.obs.sources.len() as u64,
                source_subnets: acc.obs.subnets(o),
                first_seen: acc.obs.first.map(|t| t.to_string()).unwrap_or_default(),
                last_seen: acc.obs.last.map(|t| t.to_string()).unwrap_or_default(),
                hint: unmatched_hint(&g, &cands),
                candidate_features: cands,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.hits
            .cmp(&a.hits)
            .then_with(|| a.destination.cmp(&b.destination))
            .then_with(|| a.destination_port.cmp(&b.destination_port))
            .then_with(|| a.protocol.cmp(&b.protocol))
    });
    rows
}

/// Where a rule's collection goes: by requirement, core first, then by feature name. Drafts are kept and
/// collections numbered in this order.
fn collection_order(
    requirement: RuleRequirement,
    feature: &str,
) -> (RuleRequirement, bool, String) {
    (requirement, feature != "core", feature.to_string())
}

/// Turn a draft into a rule: targets (narrowed when needed), sources, description. A rule that would have no
/// target or no source is never written: the denies are listed as needing input instead.
fn finish(mut d: RuleDraft, o: &Options) -> Result<Rule, Box<Known>> {
    let mut target_fqdns = Vec::new();
    let mut destination_addresses = Vec::new();
    let observed_hosts: Vec<String> = d
        .obs
        .destinations
        .iter()
        .filter(|h| h.parse::<IpAddr>().is_err() && !h.starts_with('('))
        .cloned()
        .collect();
    if d.pattern
        .as_deref()
        .is_some_and(|p| Pattern::parse(p).is_ok_and(|p| p.is_fqdn()))
    {
        for t in std::mem::take(&mut d.targets) {
            match guard::reject_fqdn(&t) {
                None => target_fqdns.push(t),
                Some(why) => {
                    let narrowed: Vec<String> = observed_hosts
                        .iter()
                        .filter(|h| guard::within(h, &t) && guard::reject_fqdn(h).is_none())
                        .cloned()
                        .collect();
                    d.notes.insert(format!(
                        "catalog pattern {t} not emitted ({why}); narrowed to the observed hosts"
                    ));
                    target_fqdns.extend(narrowed);
                }
            }
        }
    } else if d.use_observed_addresses {
        destination_addresses = d.obs.addresses.iter().map(|a| a.to_string()).collect();
    } else {
        destination_addresses = d
            .targets
            .iter()
            .filter(|a| guard::reject_address(a).is_none())
            .cloned()
            .collect();
    }
    target_fqdns.sort();
    target_fqdns.dedup();
    let evidence = d.obs.evidence(o);
    let first_target = target_fqdns
        .first()
        .or(destination_addresses.first())
        .cloned()
        .unwrap_or_else(|| "rule".into());
    let mut name = slug(&first_target.replace("*.", "wildcard."));
    if d.kind == RuleKind::Network {
        let p = d.protocols.join("-").to_ascii_lowercase();
        name = format!("{name}-{p}-{}", d.ports.join("-").replace('*', "any"));
    }
    name.truncate(80);
    let description = describe(&d, &evidence);
    let source_addresses = source_addresses(&d.obs.sources, o);
    let missing = if target_fqdns.is_empty() && destination_addresses.is_empty() {
        Some("no valid target was observed for the catalog pattern".to_string())
    } else if source_addresses.is_empty() && o.source_ip_group.is_none() {
        Some(
            "no usable source address was observed; pass --source-scope CIDR or --source-ip-group NAME"
                .to_string(),
        )
    } else {
        None
    };
    if let Some(why) = missing {
        return Err(Box::new(Known {
            protocol: None,
            destination: evidence.destinations.first().cloned(),
            destination_port: None,
            hits: evidence.hits,
            source_subnets: evidence.source_subnets.clone(),
            verdict: Verdict::NeedsInput,
            summary: format!(
                "{} ({}): no rule written: {why}",
                d.pattern.as_deref().unwrap_or("-"),
                d.feature
            ),
            feature: d.feature,
            pattern: d.pattern.unwrap_or_default(),
            reason: Some(why),
            source: d.source.unwrap_or_default(),
        }));
    }
    Ok(Rule {
        kind: d.kind,
        collection: collection_name(&d.feature, d.kind),
        priority: 0,
        name,
        description,
        source_addresses,
        source_ip_groups: o.source_ip_group.iter().cloned().collect(),
        protocols: d.protocols,
        target_fqdns: if d.kind == RuleKind::Application || !target_fqdns.is_empty() {
            target_fqdns
        } else {
            Vec::new()
        },
        destination_addresses,
        destination_ports: d.ports,
        feature: d.feature,
        requirement: d.requirement,
        catalog_id: d.catalog_id,
        pattern: d.pattern,
        status: d.status,
        source: d.source,
        notes: d.notes.into_iter().collect(),
        evidence,
    })
}

/// The one-line evidence every rule carries in its description / comment.
pub fn describe_evidence(feature: &str, requirement: &str, e: &Evidence) -> String {
    const SHOWN: usize = 5;
    let mut covers: Vec<&str> = e
        .destinations
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect();
    let more = e.destinations.len().saturating_sub(SHOWN);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    if covers.is_empty() {
        covers.push("-");
    }
    format!(
        "fwlog: {feature} ({requirement}); {} {} from {} {}, {} .. {}; covers {}{tail}",
        e.hits,
        if e.hits == 1 { "deny" } else { "denies" },
        e.distinct_sources,
        if e.distinct_sources == 1 {
            "source"
        } else {
            "sources"
        },
        e.first_seen,
        e.last_seen,
        covers.join(", ")
    )
}

fn describe(d: &RuleDraft, e: &Evidence) -> String {
    let mut s = describe_evidence(&d.feature, d.requirement.as_str(), e);
    if let Some(src) = &d.source {
        s.push_str(&format!("; source {src}"));
    }
    s
}

/// The exact rule for an unmatched deny (`--include-unmatched`): the observed FQDN or address, nothing wider.
fn unmatched_rule(u: &Unmatched, o: &Options) -> Option<Rule> {
    let dest = u.destination.clone()?;
    let port = u.destination_port?;
    let proto = u.protocol.clone().unwrap_or_default();
    let is_ip = dest.parse::<IpAddr>().is_ok();
    let sources: BTreeSet<IpAddr> = BTreeSet::new();
    let evidence = Evidence {
        hits: u.hits,
        distinct_sources: u.distinct_sources,
        first_seen: u.first_seen.clone(),
        last_seen: u.last_seen.clone(),
        destinations: vec![dest.clone()],
        source_subnets: u.source_subnets.clone(),
    };
    let mut description = describe_evidence("unmatched", "not in catalog", &evidence);
    description.push_str("; added by --include-unmatched");
    let source_addresses = if matches!(o.scope.as_slice(), [ScopeItem::Subnet]) {
        u.source_subnets.clone()
    } else if o.scope.contains(&ScopeItem::Ip) {
        // Observed IPs are not kept for unmatched rows: the subnets are the narrowest honest choice.
        u.source_subnets.clone()
    } else {
        source_addresses(&sources, o)
    };
    let source_addresses = if o.source_ip_group.is_some() {
        Vec::new()
    } else if source_addresses.is_empty() {
        u.source_subnets.clone()
    } else {
        source_addresses
    };
    if source_addresses.is_empty() && o.source_ip_group.is_none() {
        return None;
    }
    let app = !is_ip && matches!(proto.as_str(), "HTTP" | "HTTPS");
    if !is_ip && !app {
        return None;
    }
    if !is_ip && guard::reject_fqdn(&dest).is_some() {
        return None;
    }
    let (kind, collection, protocols, target_fqdns, destination_addresses, destination_ports) =
        if app {
            let p = if proto == "HTTP" { "Http" } else { "Https" };
            (
                RuleKind::Application,
                UNMATCHED_APP,
                vec![format!("{p}:{port}")],
                vec![dest.clone()],
                Vec::new(),
                Vec::new(),
            )
        } else {
            let ip_proto = match proto.as_str() {
                "UDP" => "UDP",
                "ICMP" => "ICMP",
                _ => "TCP",
            };
            (
                RuleKind::Network,
                UNMATCHED_NET,
                vec![ip_proto.to_string()],
                Vec::new(),
                vec![dest.clone()],
                vec![port.to_string()],
            )
        };
    let mut name = slug(&dest);
    if kind == RuleKind::Network {
        name = format!("{name}-{}-{port}", protocols[0].to_ascii_lowercase());
    }
    Some(Rule {
        kind,
        collection: collection.to_string(),
        priority: 0,
        name,
        description,
        source_addresses,
        source_ip_groups: o.source_ip_group.iter().cloned().collect(),
        protocols,
        target_fqdns,
        destination_addresses,
        destination_ports,
        feature: "unmatched".into(),
        requirement: RuleRequirement::Unmatched,
        catalog_id: None,
        pattern: None,
        status: None,
        source: None,
        notes: vec![u.hint.clone()],
        evidence,
    })
}

/// Order collections (core first, then required features, recommended, unmatched; application before network)
/// and give them priorities `base, base+10, …`; sort rules by name and make names unique in a collection.
fn assign_collections(rules: &mut [Rule], o: &Options) {
    let rank = |r: &Rule| (collection_order(r.requirement, &r.feature), r.kind);
    rules.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| a.collection.cmp(&b.collection))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.target_fqdns.cmp(&b.target_fqdns))
            .then_with(|| a.destination_addresses.cmp(&b.destination_addresses))
    });
    let mut order: Vec<String> = Vec::new();
    for r in rules.iter() {
        if !order.contains(&r.collection) {
            order.push(r.collection.clone());
        }
    }
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    for r in rules.iter_mut() {
        let i = order.iter().position(|c| *c == r.collection).unwrap_or(0) as u32;
        r.priority = o.priority_base.saturating_add(i * PRIORITY_STEP).min(65000);
        let base = r.name.clone();
        let mut n = 2;
        while !used.insert((r.collection.clone(), r.name.clone())) {
            r.name = format!("{base}-{n}");
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ClusterSpec;

    fn group(proto: &str, dest: Option<&str>, port: Option<u32>, src: &str, hits: u64) -> Group {
        Group {
            origin: None,
            kind: if proto == "UDP" || proto == "TCP" {
                "network"
            } else {
                "application"
            }
            .into(),
            source_subnet: Some(format!("{src}/32").into()),
            protocol: Some(proto.into()),
            destination: dest.map(Into::into),
            destination_port: port,
            hits,
            distinct_sources: 1,
            first_seen: crate::event::normalize::Timestamp::parse("2026-09-07T09:00:00Z").unwrap(),
            last_seen: crate::event::normalize::Timestamp::parse("2026-09-07T09:05:00Z").unwrap(),
            example_sources: vec![src.into()],
        }
    }

    fn rec(groups: &[Group], features: &[&str], o: &Options) -> Recommendation {
        let args = ClusterSpec {
            features: features.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let (cat, ctx) = args.resolve().unwrap();
        recommend(&cat, &ctx, groups, o)
    }

    #[test]
    fn selection_prefers_required_then_recommended_and_never_guesses_features() {
        let gs = [
            group("HTTPS", Some("mcr.microsoft.com"), Some(443), "10.0.0.4", 5),
            group("HTTP", Some("security.ubuntu.com"), Some(80), "10.0.0.4", 2),
            group(
                "HTTPS",
                Some("acct1.blob.core.windows.net"),
                Some(443),
                "10.0.0.5",
                1,
            ),
        ];
        let r = rec(&gs, &[], &Options::default());
        let got: Vec<(&str, &str, &str)> = r
            .rules
            .iter()
            .map(|x| {
                (
                    x.collection.as_str(),
                    x.feature.as_str(),
                    x.requirement.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("aks-core", "core", "required"),
                ("aks-ubuntu-updates", "ubuntu-updates", "recommended")
            ]
        );
        assert_eq!(r.unmatched.len(), 1);
        assert!(
            r.unmatched[0]
                .candidate_features
                .contains(&"azure-ml".to_string())
        );

        // Declared: the storage account becomes an exact-FQDN rule for the feature.
        let r = rec(&gs, &["azure-ml"], &Options::default());
        let ml = r.rules.iter().find(|x| x.feature == "azure-ml").unwrap();
        assert_eq!(ml.target_fqdns, ["acct1.blob.core.windows.net"]);
        assert_eq!(ml.requirement, RuleRequirement::Required);

        // --no-recommended moves Ubuntu updates to `known`.
        let o = Options {
            no_recommended: true,
            ..Options::default()
        };
        let r = rec(&gs, &[], &o);
        assert!(
            r.rules
                .iter()
                .all(|x| x.requirement != RuleRequirement::Recommended)
        );
        assert!(r.known.iter().any(|k| k.verdict == Verdict::Excluded));
    }

    #[test]
    fn informational_and_unexpressible_patterns_are_never_rules() {
        let gs = [
            group(
                "HTTPS",
                Some("md-abc.z1.blob.storage.azure.net"),
                Some(443),
                "10.0.0.4",
                1,
            ),
            group(
                "HTTPS",
                Some("registry-1.docker.io"),
                Some(443),
                "10.0.0.4",
                1,
            ),
        ];
        let r = rec(&gs, &[], &Options::default());
        assert!(r.rules.is_empty());
        let v: Vec<&str> = r.known.iter().map(|k| k.verdict.as_str()).collect();
        assert!(
            v.contains(&"informational") && v.contains(&"non-aks"),
            "{v:?}"
        );
    }

    #[test]
    fn names_priorities_and_collections_are_deterministic() {
        let gs = [
            group("HTTP", Some("security.ubuntu.com"), Some(80), "10.0.0.4", 2),
            group("UDP", Some("20.50.1.2"), Some(1194), "10.0.0.4", 1),
            group(
                "HTTPS",
                Some("a.hcp.westeurope.azmk8s.io"),
                Some(443),
                "10.0.0.4",
                1,
            ),
            group(
                "HTTPS",
                Some("b.hcp.westeurope.azmk8s.io"),
                Some(443),
                "10.0.1.9",
                1,
            ),
        ];
        let o = Options {
            priority_base: 300,
            ..Options::default()
        };
        let r = rec(&gs, &[], &o);
        let got: Vec<(String, u32, String)> = r
            .rules
            .iter()
            .map(|x| (x.collection.clone(), x.priority, x.name.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "aks-core".into(),
                    300,
                    "wildcard-hcp-westeurope-azmk8s-io".into()
                ),
                (
                    "aks-core-network".into(),
                    310,
                    "azurecloud-westeurope-udp-1194".into()
                ),
                (
                    "aks-ubuntu-updates".into(),
                    320,
                    "security-ubuntu-com".into()
                ),
            ]
        );
        // One rule per catalog entry; the wildcard lists both hosts it covers.
        assert_eq!(
            r.rules[0].evidence.destinations,
            ["a.hcp.westeurope.azmk8s.io", "b.hcp.westeurope.azmk8s.io"]
        );
        assert_eq!(r.rules[0].source_addresses, ["10.0.0.0/24", "10.0.1.0/24"]);
        let mut reversed = gs.to_vec();
        reversed.reverse();
        assert_eq!(rec(&reversed, &[], &o), r);
    }

    #[test]
    fn source_scopes() {
        let ips: BTreeSet<IpAddr> = ["10.0.0.4", "10.0.0.5", "10.0.3.1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let with = |scope: &[&str]| Options {
            scope: scope.iter().map(|s| s.parse().unwrap()).collect(),
            ..Options::default()
        };
        assert_eq!(
            source_addresses(&ips, &with(&["subnet"])),
            ["10.0.0.0/24", "10.0.3.0/24"]
        );
        assert_eq!(
            source_addresses(&ips, &with(&["ip"])),
            ["10.0.0.4", "10.0.0.5", "10.0.3.1"]
        );
        assert_eq!(source_addresses(&ips, &with(&["any"])), ["*"]);
        assert_eq!(
            source_addresses(&ips, &with(&["10.0.0.0/16"])),
            ["10.0.0.0/16"]
        );
        let o = Options {
            prefix_v4: 16,
            ..Options::default()
        };
        assert_eq!(source_addresses(&ips, &o), ["10.0.0.0/16"]);
        let o = Options {
            source_ip_group: Some("ipg".into()),
            ..Options::default()
        };
        assert!(source_addresses(&ips, &o).is_empty());
        assert!("bogus".parse::<ScopeItem>().is_err());
    }
}
