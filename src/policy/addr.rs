//! Rule addresses and address sets.
//!
//! Azure Firewall rules take source and destination addresses as `*`, a single address, a CIDR prefix or a range
//! `a-b` (<https://learn.microsoft.com/azure/firewall/policy-rule-sets>; the Terraform provider documents the same
//! forms: "IP addresses (including CIDR, IP range and `*`)"). A flow's source is a subnet when fwlog has grouped
//! denies by subnet, so the question is not "is the address in the list" but "how much of the subnet does the list
//! cover": all of it, part of it, or none. Sets are kept as merged inclusive integer spans per address family so that
//! the answer (and the missing part, which is what a widened rule must add) is exact.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use serde::Serialize;

use crate::event::normalize::canonical_ip;

/// One address entry of a rule, as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `*`: every address of both families.
    Any,
    Net(IpNet),
    /// Inclusive range `a-b` (same family, `a <= b`).
    Range(IpAddr, IpAddr),
}

impl Address {
    /// Parse `*`, `10.0.0.4`, `10.0.0.0/24` or `10.0.0.4-10.0.0.9`; the error says what was expected.
    pub fn parse(raw: &str) -> Result<Address, String> {
        let t = raw.trim();
        if t == "*" {
            return Ok(Address::Any);
        }
        let bad = || {
            format!(
                "{raw:?} is not an address: expected an IP address, a CIDR prefix, a range a-b or *"
            )
        };
        if let Some((a, b)) = t.split_once('-') {
            let a: IpAddr = a.trim().parse().map_err(|_| bad())?;
            let b: IpAddr = b.trim().parse().map_err(|_| bad())?;
            let (a, b) = (canonical_ip(a), canonical_ip(b));
            if a.is_ipv4() != b.is_ipv4() {
                return Err(format!("{raw:?} mixes IPv4 and IPv6 in one range"));
            }
            if a > b {
                return Err(format!("{raw:?} is an empty range (start after end)"));
            }
            return Ok(Address::Range(a, b));
        }
        if t.contains('/') {
            let net: IpNet = t.parse().map_err(|_| bad())?;
            // Azure accepts host bits in a prefix (`10.0.0.5/24`) and means the network.
            return Ok(Address::Net(net.trunc()));
        }
        let ip: IpAddr = t.parse().map_err(|_| bad())?;
        Ok(Address::Net(IpNet::from(canonical_ip(ip))))
    }

    /// Whether `s` is written like an address (digits, hex, dots, colons, `/`, `-`) rather than a service tag name.
    pub fn looks_like_address(s: &str) -> bool {
        let t = s.trim();
        t == "*"
            || (!t.is_empty()
                && t.bytes().any(|b| b.is_ascii_digit() || b == b':')
                && t.bytes()
                    .all(|b| b.is_ascii_hexdigit() || b"./:-".contains(&b)))
    }

    pub(crate) fn spans(&self) -> Vec<Span> {
        match self {
            Address::Any => vec![Span::ALL_V4, Span::ALL_V6],
            Address::Net(n) => vec![Span::of_net(*n)],
            Address::Range(a, b) => vec![Span {
                v6: a.is_ipv6(),
                lo: ip_num(*a),
                hi: ip_num(*b),
            }],
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Any => f.write_str("*"),
            Address::Net(n) => f.write_str(&net_text(*n)),
            Address::Range(a, b) => write!(f, "{a}-{b}"),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Serialize a prefix as rule text (see [`net_text`]).
pub(crate) fn ser_net<S: serde::Serializer>(n: &IpNet, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&net_text(*n))
}

/// Serialize prefixes as rule text.
pub(crate) fn ser_nets<S: serde::Serializer>(v: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|n| net_text(*n)))
}

/// A prefix as rule text: a host prefix is written as the bare address, as Azure shows it.
pub fn net_text(n: IpNet) -> String {
    if n.prefix_len() == n.max_prefix_len() {
        n.addr().to_string()
    } else {
        n.to_string()
    }
}

fn ip_num(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// An inclusive span of addresses of one family, as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Span {
    pub v6: bool,
    pub lo: u128,
    pub hi: u128,
}

impl Span {
    const ALL_V4: Span = Span {
        v6: false,
        lo: 0,
        hi: u32::MAX as u128,
    };
    const ALL_V6: Span = Span {
        v6: true,
        lo: 0,
        hi: u128::MAX,
    };

    pub fn of_net(n: IpNet) -> Span {
        Span {
            v6: n.addr().is_ipv6(),
            lo: ip_num(n.network()),
            hi: ip_num(n.broadcast()),
        }
    }

    /// The span as the fewest CIDR prefixes.
    fn to_nets(self) -> Vec<IpNet> {
        if self.v6 {
            Ipv6Subnets::new(Ipv6Addr::from(self.lo), Ipv6Addr::from(self.hi), 0)
                .map(IpNet::V6)
                .collect()
        } else {
            Ipv4Subnets::new(
                Ipv4Addr::from(self.lo as u32),
                Ipv4Addr::from(self.hi as u32),
                0,
            )
            .map(IpNet::V4)
            .collect()
        }
    }
}

/// A set of addresses: sorted, merged spans.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AddrSet {
    spans: Vec<Span>,
}

impl AddrSet {
    pub fn from_spans(mut v: Vec<Span>) -> AddrSet {
        v.sort();
        let mut out: Vec<Span> = Vec::with_capacity(v.len());
        for s in v {
            match out.last_mut() {
                Some(last) if last.v6 == s.v6 && s.lo <= last.hi.saturating_add(1) => {
                    last.hi = last.hi.max(s.hi);
                }
                _ => out.push(s),
            }
        }
        AddrSet { spans: out }
    }

    pub fn of_addresses<'a>(a: impl IntoIterator<Item = &'a Address>) -> AddrSet {
        AddrSet::from_spans(a.into_iter().flat_map(Address::spans).collect())
    }

    pub fn of_nets<'a>(a: impl IntoIterator<Item = &'a IpNet>) -> AddrSet {
        AddrSet::from_spans(a.into_iter().map(|n| Span::of_net(*n)).collect())
    }

    pub fn union(&self, other: &AddrSet) -> AddrSet {
        let mut v = self.spans.clone();
        v.extend_from_slice(&other.spans);
        AddrSet::from_spans(v)
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The part of `target` inside this set and the part outside, as spans.
    fn split(&self, target: Span) -> (Vec<Span>, Vec<Span>) {
        let mut inside = Vec::new();
        let mut outside = Vec::new();
        let mut cursor = target.lo;
        let mut done = false;
        for s in self.spans.iter().filter(|s| s.v6 == target.v6) {
            if s.hi < cursor || done {
                continue;
            }
            if s.lo > target.hi {
                break;
            }
            if s.lo > cursor {
                outside.push(Span {
                    v6: target.v6,
                    lo: cursor,
                    hi: s.lo - 1,
                });
            }
            let hi = s.hi.min(target.hi);
            inside.push(Span {
                v6: target.v6,
                lo: s.lo.max(cursor),
                hi,
            });
            if hi == target.hi {
                done = true;
            } else {
                cursor = hi + 1;
            }
        }
        if !done {
            outside.push(Span {
                v6: target.v6,
                lo: cursor,
                hi: target.hi,
            });
        }
        (inside, outside)
    }

    /// How much of `net` this set covers.
    pub fn coverage(&self, net: IpNet) -> Coverage {
        let (inside, outside) = self.split(Span::of_net(net));
        if outside.is_empty() {
            Coverage::All
        } else if inside.is_empty() {
            Coverage::None
        } else {
            Coverage::Part {
                covered: inside.into_iter().flat_map(Span::to_nets).collect(),
                missing: outside.into_iter().flat_map(Span::to_nets).collect(),
            }
        }
    }

    /// The set as the fewest CIDR prefixes.
    pub fn nets(&self) -> Vec<IpNet> {
        self.spans.iter().flat_map(|s| s.to_nets()).collect()
    }

    /// Whether every address of `other` is in this set.
    pub fn contains_set(&self, other: &AddrSet) -> bool {
        other.spans.iter().all(|s| self.split(*s).1.is_empty())
    }
}

/// How much of a subnet a rule's address list covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "coverage", rename_all = "snake_case")]
pub enum Coverage {
    All,
    Part {
        #[serde(serialize_with = "ser_nets")]
        covered: Vec<IpNet>,
        #[serde(serialize_with = "ser_nets")]
        missing: Vec<IpNet>,
    },
    None,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(a: &[&str]) -> AddrSet {
        let v: Vec<Address> = a.iter().map(|s| Address::parse(s).unwrap()).collect();
        AddrSet::of_addresses(&v)
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_documented_form() {
        assert_eq!(Address::parse("*").unwrap(), Address::Any);
        assert_eq!(
            Address::parse(" 10.240.0.4 ").unwrap(),
            Address::Net(net("10.240.0.4/32"))
        );
        assert_eq!(
            Address::parse("10.240.0.5/24").unwrap(),
            Address::Net(net("10.240.0.0/24"))
        );
        assert_eq!(
            Address::parse("192.168.1.1-192.168.1.12")
                .unwrap()
                .to_string(),
            "192.168.1.1-192.168.1.12"
        );
        assert_eq!(
            Address::parse("fd00::/64").unwrap().to_string(),
            "fd00::/64"
        );
        assert_eq!(
            Address::parse("10.0.0.300").unwrap_err(),
            "\"10.0.0.300\" is not an address: expected an IP address, a CIDR prefix, a range a-b or *"
        );
        assert_eq!(
            Address::parse("10.0.0.9-10.0.0.1").unwrap_err(),
            "\"10.0.0.9-10.0.0.1\" is an empty range (start after end)"
        );
        assert_eq!(
            Address::parse("10.0.0.1-fd00::1").unwrap_err(),
            "\"10.0.0.1-fd00::1\" mixes IPv4 and IPv6 in one range"
        );
    }

    #[test]
    fn tells_addresses_from_service_tags() {
        assert!(Address::looks_like_address("10.0.0.0/8"));
        assert!(Address::looks_like_address("fd00::1"));
        assert!(Address::looks_like_address("1.2.3.4-1.2.3.9"));
        assert!(Address::looks_like_address("*"));
        assert!(!Address::looks_like_address("AzureCloud.westeurope"));
        assert!(!Address::looks_like_address("AzureMonitor"));
        assert!(!Address::looks_like_address("Storage.EastUS2"));
    }

    #[test]
    fn coverage_all_part_none() {
        let s = set(&["10.240.0.0/24", "10.240.1.0-10.240.1.127"]);
        assert_eq!(s.coverage(net("10.240.0.4/32")), Coverage::All);
        assert_eq!(s.coverage(net("10.240.0.0/24")), Coverage::All);
        assert_eq!(s.coverage(net("10.10.2.0/24")), Coverage::None);
        assert_eq!(
            s.coverage(net("10.240.0.0/23")),
            Coverage::Part {
                covered: vec![net("10.240.0.0/24"), net("10.240.1.0/25")],
                missing: vec![net("10.240.1.128/25")],
            }
        );
        // Adjacent prefixes merge; IPv6 is its own family.
        let s = set(&["10.0.0.0/25", "10.0.0.128/25"]);
        assert_eq!(s.coverage(net("10.0.0.0/24")), Coverage::All);
        assert_eq!(s.coverage(net("fd00::1/128")), Coverage::None);
        assert_eq!(set(&["*"]).coverage(net("fd00::/64")), Coverage::All);
        assert_eq!(set(&[]).coverage(net("10.0.0.1/32")), Coverage::None);
    }

    #[test]
    fn set_containment() {
        let big = set(&["10.0.0.0/8"]);
        assert!(big.contains_set(&set(&["10.1.0.0/16", "10.2.3.4"])));
        assert!(!big.contains_set(&set(&["10.1.0.0/16", "11.0.0.1"])));
        assert!(
            big.union(&set(&["11.0.0.1"]))
                .contains_set(&set(&["11.0.0.1"]))
        );
        assert!(set(&[]).is_empty());
    }

    #[test]
    fn host_prefix_is_written_bare() {
        assert_eq!(net_text(net("10.0.0.4/32")), "10.0.0.4");
        assert_eq!(net_text(net("10.0.0.0/24")), "10.0.0.0/24");
    }
}
