//! The normalized firewall policy every export shape is read into.
//!
//! It follows the resource schema of `Microsoft.Network/firewallPolicies/ruleCollectionGroups`
//! (<https://learn.microsoft.com/azure/templates/microsoft.network/firewallpolicies/rulecollectiongroups>): a policy
//! holds rule collection groups (priority 100-65000), a group holds rule collections (priority, action, NAT or
//! filter), a collection holds rules of one type (application, network or NAT). Classic firewall rules
//! (`Microsoft.Network/azureFirewalls` `applicationRuleCollections` / `networkRuleCollections` /
//! `natRuleCollections`, <https://learn.microsoft.com/azure/templates/microsoft.network/azurefirewalls>) have no
//! groups: they are read as one unnamed group (see [`PolicyKind::Classic`]).
//!
//! Values are parsed once, on load (addresses, ports, patterns), so evaluation never meets a malformed value; the
//! original spelling survives in `Display`.

use std::collections::BTreeMap;
use std::fmt;

use ipnet::IpNet;
use serde::Serialize;

use super::addr::Address;
use super::fqdn::FqdnPattern;

/// What a policy was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// A `Microsoft.Network/firewallPolicies` resource and its rule collection groups.
    FirewallPolicy,
    /// Classic rules on a `Microsoft.Network/azureFirewalls` resource: `name` is the firewall's, `groups` holds one
    /// group with an empty name.
    Classic,
}

/// A firewall policy, with its base (parent) policy when that was given too.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub name: String,
    pub kind: PolicyKind,
    /// Files the policy was read from, in the order given.
    pub origin: Vec<String>,
    /// The parent policy, when its export was given: its rules are processed before this policy's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<Box<Policy>>,
    /// Name of a base policy this policy names but whose export was not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_base: Option<String>,
    /// `dnsSettings.enableProxy`, when the export carries the policy's settings (FQDNs in network rules need it).
    pub dns_proxy: Option<bool>,
    /// Sorted by priority, then name.
    pub groups: Vec<RuleCollectionGroup>,
}

impl Policy {
    /// Policies in processing order: the root base policy first, this policy last.
    pub fn chain(&self) -> Vec<&Policy> {
        let mut v = match &self.base {
            Some(b) => b.chain(),
            None => Vec::new(),
        };
        v.push(self);
        v
    }

    /// Every rule of this policy (not its base), in the order Azure processes them within a phase.
    pub fn rule_count(&self) -> usize {
        self.groups
            .iter()
            .flat_map(|g| &g.collections)
            .map(|c| c.rules.len())
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCollectionGroup {
    pub name: String,
    pub priority: u32,
    /// Sorted by priority, then name.
    pub collections: Vec<RuleCollection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCollection {
    pub name: String,
    pub priority: u32,
    pub action: Action,
    /// The rule type of the collection. Azure requires every rule of a collection to share one type; an empty
    /// filter collection is read as an application collection.
    pub kind: RuleKind,
    /// In the order written: rules of a collection are processed top-down.
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    Allow,
    Deny,
    Dnat,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Allow => "Allow",
            Action::Deny => "Deny",
            Action::Dnat => "DNAT",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    Nat,
    Network,
    Application,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Nat => "nat",
            RuleKind::Network => "network",
            RuleKind::Application => "application",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule_type", rename_all = "snake_case")]
pub enum Rule {
    Application(ApplicationRule),
    Network(NetworkRule),
    Nat(NatRule),
}

impl Rule {
    pub fn name(&self) -> &str {
        match self {
            Rule::Application(r) => &r.name,
            Rule::Network(r) => &r.name,
            Rule::Nat(r) => &r.name,
        }
    }

    pub fn kind(&self) -> RuleKind {
        match self {
            Rule::Application(_) => RuleKind::Application,
            Rule::Network(_) => RuleKind::Network,
            Rule::Nat(_) => RuleKind::Nat,
        }
    }

    pub fn source_addresses(&self) -> &[Address] {
        match self {
            Rule::Application(r) => &r.source_addresses,
            Rule::Network(r) => &r.source_addresses,
            Rule::Nat(r) => &r.source_addresses,
        }
    }

    pub fn source_ip_groups(&self) -> &[String] {
        match self {
            Rule::Application(r) => &r.source_ip_groups,
            Rule::Network(r) => &r.source_ip_groups,
            Rule::Nat(r) => &r.source_ip_groups,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplicationRule {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub source_addresses: Vec<Address>,
    /// IP Group resource ids (or names) as written.
    pub source_ip_groups: Vec<String>,
    pub protocols: Vec<AppProtocol>,
    pub target_fqdns: Vec<FqdnPattern>,
    pub fqdn_tags: Vec<String>,
    pub target_urls: Vec<String>,
    pub web_categories: Vec<String>,
    /// Rarely used with application rules; kept so evaluation can say it cannot check them against a name.
    pub destination_addresses: Vec<String>,
    pub terminate_tls: bool,
    /// `httpHeadersToInsert`: headers the firewall adds to HTTP requests (needs TLS inspection for HTTPS).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHeader>,
    #[serde(skip)]
    pub written: Written,
}

/// A header an application rule inserts (`headerName`, `headerValue`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// Entries as the export wrote them (trimmed), where parsing normalizes them (`10.0.0.5/24` is read as
/// `10.0.0.0/24`, names are lower-cased). A rule collection group is replaced whole when deployed, so fwlog writes
/// the user's own rules back from these texts: a rule the user had comes out as they wrote it. Evaluation never
/// reads them. Empty when the rule was built in code (then the parsed values are written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub source_addresses: Vec<String>,
    /// Application rules: target FQDNs; network and NAT rules: destination addresses and service tags.
    pub destinations: Vec<String>,
    /// Network rules: destination FQDNs.
    pub destination_fqdns: Vec<String>,
}

/// `written` when it has one text per parsed entry, else the parsed entries' own spelling.
pub fn texts_of<T: fmt::Display>(parsed: &[T], written: &[String]) -> Vec<String> {
    if written.len() == parsed.len() {
        written.to_vec()
    } else {
        parsed.iter().map(ToString::to_string).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkRule {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub protocols: Vec<NetProtocol>,
    pub source_addresses: Vec<Address>,
    pub source_ip_groups: Vec<String>,
    pub destination_addresses: Vec<Destination>,
    pub destination_ip_groups: Vec<String>,
    /// Exact names (lower case): network rules take no wildcards.
    pub destination_fqdns: Vec<String>,
    pub destination_ports: Vec<PortRange>,
    #[serde(skip)]
    pub written: Written,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NatRule {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub protocols: Vec<NetProtocol>,
    pub source_addresses: Vec<Address>,
    pub source_ip_groups: Vec<String>,
    pub destination_addresses: Vec<Destination>,
    pub destination_ports: Vec<PortRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translated_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translated_fqdn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translated_port: Option<String>,
    #[serde(skip)]
    pub written: Written,
}

/// A destination address entry of a network or NAT rule: an address form or a service tag name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Address(Address),
    ServiceTag(String),
}

impl Destination {
    pub fn parse(raw: &str) -> Result<Destination, String> {
        if Address::looks_like_address(raw) {
            Address::parse(raw).map(Destination::Address)
        } else {
            let t = raw.trim();
            if t.is_empty()
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
            {
                return Err(format!(
                    "{raw:?} is neither an address (IP, CIDR, range a-b, *) nor a service tag name"
                ));
            }
            Ok(Destination::ServiceTag(t.to_string()))
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Address(a) => a.fmt(f),
            Destination::ServiceTag(t) => f.write_str(t),
        }
    }
}

impl Serialize for Destination {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Application rule protocol types (`protocolType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AppProtocolType {
    Http,
    Https,
    Mssql,
}

impl AppProtocolType {
    pub fn parse(s: &str) -> Option<AppProtocolType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "http" => Some(AppProtocolType::Http),
            "https" => Some(AppProtocolType::Https),
            "mssql" => Some(AppProtocolType::Mssql),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AppProtocolType::Http => "Http",
            AppProtocolType::Https => "Https",
            AppProtocolType::Mssql => "Mssql",
        }
    }
}

/// One `protocolType:port` entry of an application rule (`Https:443`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AppProtocol {
    pub kind: AppProtocolType,
    pub port: u16,
}

impl AppProtocol {
    /// `Https:443` or `https=443` (the az CLI form).
    pub fn parse(s: &str) -> Option<AppProtocol> {
        let (k, p) = s.split_once([':', '='])?;
        Some(AppProtocol {
            kind: AppProtocolType::parse(k)?,
            port: p.trim().parse().ok().filter(|p| *p > 0)?,
        })
    }
}

impl fmt::Display for AppProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.port)
    }
}

impl Serialize for AppProtocol {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Network rule protocols (`ipProtocols`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum NetProtocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "ICMP")]
    Icmp,
    Any,
}

impl NetProtocol {
    pub fn parse(s: &str) -> Option<NetProtocol> {
        match s.trim().to_ascii_uppercase().as_str() {
            "TCP" => Some(NetProtocol::Tcp),
            "UDP" => Some(NetProtocol::Udp),
            "ICMP" => Some(NetProtocol::Icmp),
            "ANY" => Some(NetProtocol::Any),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NetProtocol::Tcp => "TCP",
            NetProtocol::Udp => "UDP",
            NetProtocol::Icmp => "ICMP",
            NetProtocol::Any => "Any",
        }
    }
}

impl fmt::Display for NetProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A destination port entry: `443`, `1000-2000` or `*` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    pub const ANY: PortRange = PortRange { lo: 0, hi: 65535 };

    pub fn single(p: u16) -> PortRange {
        PortRange { lo: p, hi: p }
    }

    pub fn parse(raw: &str) -> Result<PortRange, String> {
        let t = raw.trim();
        if t == "*" {
            return Ok(PortRange::ANY);
        }
        let bad = || format!("{raw:?}: expected a port number 1-65535, a range lo-hi or *");
        let num = |s: &str| s.trim().parse::<u16>().ok().filter(|p| *p > 0);
        match t.split_once('-') {
            Some((a, b)) => {
                let (lo, hi) = (num(a).ok_or_else(bad)?, num(b).ok_or_else(bad)?);
                if lo > hi {
                    return Err(format!("{raw:?} is an empty port range (start after end)"));
                }
                Ok(PortRange { lo, hi })
            }
            None => num(t).map(PortRange::single).ok_or_else(bad),
        }
    }

    pub fn contains(&self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == PortRange::ANY {
            f.write_str("*")
        } else if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

impl Serialize for PortRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Whether the union of `ranges` covers every port of `want`.
pub fn ports_cover(ranges: &[PortRange], want: PortRange) -> bool {
    let mut v: Vec<PortRange> = ranges.to_vec();
    v.sort();
    let mut next = want.lo as u32;
    for r in v {
        if (r.lo as u32) > next {
            break;
        }
        next = next.max(r.hi as u32 + 1);
        if next > want.hi as u32 {
            return true;
        }
    }
    next > want.hi as u32
}

/// An IP Group (`Microsoft.Network/ipGroups`): named address list referenced by rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpGroup {
    /// Resource id when the export carries it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    pub addresses: Vec<Address>,
}

/// The last segment of a resource id (`…/ipGroups/ipg-aks-nodes` → `ipg-aks-nodes`), or the text itself.
pub fn resource_name(id: &str) -> &str {
    let t = id.trim().trim_end_matches('/');
    t.rsplit('/').next().unwrap_or(t)
}

/// IP Groups given to fwlog, looked up by resource id or by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IpGroups {
    /// Keyed by lower-case name.
    groups: BTreeMap<String, Vec<IpGroup>>,
    /// Whether any IP Group export was given at all (changes the wording of "unknown").
    pub given: bool,
}

impl IpGroups {
    pub fn add(&mut self, g: IpGroup) {
        self.given = true;
        let list = self.groups.entry(g.name.to_ascii_lowercase()).or_default();
        if !list.contains(&g) {
            list.push(g);
        }
    }

    /// Note that an IP Group export was given even if it listed no group.
    pub fn mark_given(&mut self) {
        self.given = true;
    }

    /// Resolve a reference: the group with the same resource id (case-insensitive); else the only group with that
    /// name. Two groups of the same name in different resource groups and a reference without id stay unresolved.
    pub fn get(&self, reference: &str) -> Option<&IpGroup> {
        let list = self
            .groups
            .get(&resource_name(reference).to_ascii_lowercase())?;
        let by_id = list.iter().find(|g| {
            g.id.as_deref()
                .is_some_and(|id| id.eq_ignore_ascii_case(reference.trim()))
        });
        by_id.or(if list.len() == 1 { list.first() } else { None })
    }

    pub fn len(&self) -> usize {
        self.groups.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// Azure service tags with their prefixes (the weekly `ServiceTags_Public_*.json` download, or
/// `az network list-service-tags`): `values[].name` and `values[].properties.addressPrefixes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceTags {
    /// The file it came from.
    pub origin: String,
    /// `changeNumber` of the file, when present.
    pub change_number: Option<String>,
    /// Keyed by lower-case tag name.
    #[serde(serialize_with = "ser_tag_map")]
    pub tags: BTreeMap<String, Vec<IpNet>>,
}

fn ser_tag_map<S: serde::Serializer>(
    m: &BTreeMap<String, Vec<IpNet>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(m.iter().map(|(k, v)| {
        (
            k,
            v.iter()
                .map(|n| super::addr::net_text(*n))
                .collect::<Vec<_>>(),
        )
    }))
}

impl ServiceTags {
    pub fn get(&self, tag: &str) -> Option<&[IpNet]> {
        self.tags
            .get(&tag.trim().to_ascii_lowercase())
            .map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_and_cover() {
        assert_eq!(PortRange::parse("*").unwrap(), PortRange::ANY);
        assert_eq!(PortRange::parse(" 443 ").unwrap(), PortRange::single(443));
        assert_eq!(
            PortRange::parse("1000-2000").unwrap().to_string(),
            "1000-2000"
        );
        assert_eq!(
            PortRange::parse("0").unwrap_err(),
            "\"0\": expected a port number 1-65535, a range lo-hi or *"
        );
        assert_eq!(
            PortRange::parse("https").unwrap_err(),
            "\"https\": expected a port number 1-65535, a range lo-hi or *"
        );
        assert_eq!(
            PortRange::parse("90-80").unwrap_err(),
            "\"90-80\" is an empty port range (start after end)"
        );
        let r = [PortRange::single(80), PortRange::parse("443-444").unwrap()];
        assert!(ports_cover(&r, PortRange::single(443)));
        assert!(ports_cover(&r, PortRange::parse("443-444").unwrap()));
        assert!(!ports_cover(&r, PortRange::parse("80-443").unwrap()));
        assert!(ports_cover(&[PortRange::ANY], PortRange::ANY));
        assert!(ports_cover(
            &[
                PortRange::parse("1-100").unwrap(),
                PortRange::parse("101-200").unwrap()
            ],
            PortRange::parse("50-150").unwrap()
        ));
    }

    #[test]
    fn protocols_parse() {
        assert_eq!(
            AppProtocol::parse("Https:443").unwrap().to_string(),
            "Https:443"
        );
        assert_eq!(
            AppProtocol::parse("http=80").unwrap().to_string(),
            "Http:80"
        );
        assert_eq!(AppProtocol::parse("Ftp:21"), None);
        assert_eq!(NetProtocol::parse("any"), Some(NetProtocol::Any));
        assert_eq!(NetProtocol::parse("SCTP"), None);
    }

    #[test]
    fn destinations_are_addresses_or_tags() {
        assert_eq!(
            Destination::parse("AzureCloud.westeurope").unwrap(),
            Destination::ServiceTag("AzureCloud.westeurope".into())
        );
        assert_eq!(
            Destination::parse("10.0.0.0/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert!(Destination::parse("10.0.0.0/33").is_err());
        assert!(Destination::parse("Azure Cloud").is_err());
    }

    #[test]
    fn ip_groups_resolve_by_id_then_unique_name() {
        let mut g = IpGroups::default();
        assert!(!g.given);
        let a = IpGroup {
            id: Some(
                "/subscriptions/s/resourceGroups/rg-a/providers/Microsoft.Network/ipGroups/ipg"
                    .into(),
            ),
            name: "ipg".into(),
            addresses: vec![Address::parse("10.0.0.0/24").unwrap()],
        };
        g.add(a.clone());
        assert_eq!(g.get("IPG"), Some(&a));
        assert_eq!(g.get("/providers/Microsoft.Network/ipGroups/ipg"), Some(&a));
        let b = IpGroup {
            id: Some(
                "/subscriptions/s/resourceGroups/rg-b/providers/Microsoft.Network/ipGroups/ipg"
                    .into(),
            ),
            ..a.clone()
        };
        g.add(b.clone());
        assert_eq!(g.get("ipg"), None);
        assert_eq!(
            g.get("/subscriptions/s/resourceGroups/RG-B/providers/Microsoft.Network/ipGroups/ipg"),
            Some(&b)
        );
        assert_eq!(g.len(), 2);
        assert_eq!(resource_name("/a/b/ipGroups/x/"), "x");
    }
}
