//! Destination patterns and protocol specs of catalog entries, and how one destination is tested against them.
//!
//! # FQDN wildcard semantics
//!
//! Azure Firewall application rules accept `*` only at the left-most side of a target FQDN; a left-most asterisk
//! means that *anything* to its left matches, so `*.contoso.com` matches `any.contoso.com` and also
//! `sub1.any.contoso.com` (several labels), but not the apex `contoso.com` (it must be listed on its own);
//! `www.contoso.*`, `*.contoso.*` and an asterisk inside a label (`www.*contoso.com`) are not supported as targets.
//! Source: Azure Firewall FAQ, "How do wildcards work in target URLs and target FQDNs in application rules?",
//! <https://learn.microsoft.com/azure/firewall/firewall-faq#how-do-wildcards-work-in-target-urls-and-target-fqdns-in-application-rules>
//! (MicrosoftDocs/azure-docs `articles/firewall/firewall-faq.yml`). FQDN filtering in *network* rules does not
//! support wildcards at all (<https://learn.microsoft.com/azure/firewall/fqdn-filtering-network-rules>).
//!
//! The firewall also accepts `*contoso.com` (no dot: matches `anycontoso.com` too); the catalog refuses it, as the
//! FAQ itself warns it matches unwanted look-alike names.
//!
//! Catalog-only syntax, where the firewall has no semantics and we choose the narrowest reading that still labels
//! the documented log examples:
//! * `<name>` (optionally with literal text around it inside the label, e.g. `azds-<guid>`, `<region>-1`) matches
//!   exactly one non-empty DNS label and captures it; region placeholders (`<location>`, `<region>`,
//!   `<cluster-region-name>`) only match `[a-z0-9]+`, GUID placeholders only a GUID.
//! * `*` *inside* the first label (`umsa*.blob.core.windows.net`, `md-*.blob.storage.azure.net`) is for labelling
//!   log lines only: it is not a valid firewall target, so such entries are `expressible_as_rule = false`. The
//!   literal text before the `*` must start the name and the text after it must end the first label of the
//!   pattern; the `*` itself may span dots, because the documented managed-disk hosts carry an extra label
//!   (`md-hdd-<id>.z38.blob.storage.azure.net`, source S25).
//!
//! Matching is ASCII case-insensitive (patterns are stored lower-case; destinations arrive lower-case) and a
//! trailing dot on the destination is ignored.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

/// One label of an FQDN pattern (natural left-to-right order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Label {
    Literal(String),
    /// `prefix<name>suffix`: exactly one label, captured.
    Placeholder {
        prefix: String,
        name: String,
        suffix: String,
    },
    /// `prefix*suffix` in the first label: labelling only (see module docs).
    Glob {
        prefix: String,
        suffix: String,
    },
}

/// A parsed `pattern`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// DNS name pattern. `wildcard` = leading `*.` (one or more labels); `labels` excludes that `*`.
    Fqdn { wildcard: bool, labels: Vec<Label> },
    /// Concrete address or range.
    Ip(IpNet),
    /// Azure service tag such as `AzureCloud.<region>` or `AzureMonitor` (logs show IPs, not tags).
    ServiceTag(String),
    /// Cluster-specific address such as `<API-server-public-IP>`.
    IpPlaceholder(String),
}

/// Region-like placeholder names: one label of `[a-z0-9]+`.
pub fn is_region_placeholder(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "location" | "region" | "cluster-region-name"
    )
}

fn is_guid_placeholder(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("guid")
}

fn valid_placeholder_value(name: &str, value: &str) -> bool {
    if value.is_empty() {
        return false;
    }
    if is_region_placeholder(name) {
        return value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    }
    if is_guid_placeholder(name) {
        return is_guid(value);
    }
    true
}

fn is_guid(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn label_chars_ok(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn placeholder_name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Pattern {
    /// Parse a catalog pattern; the error says what is wrong in words.
    pub fn parse(raw: &str) -> Result<Pattern, String> {
        let p = raw.trim();
        if p.is_empty() {
            return Err("pattern is empty".into());
        }
        if p != raw {
            return Err("pattern has leading or trailing spaces".into());
        }
        if let Ok(net) = p.parse::<IpNet>() {
            return Ok(Pattern::Ip(net.trunc()));
        }
        if let Ok(ip) = p.parse::<IpAddr>() {
            return Ok(Pattern::Ip(IpNet::from(ip)));
        }
        // `<API-server-public-IP>`: a whole-pattern placeholder is a cluster-specific address.
        if let Some(inner) = p.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
            if placeholder_name_ok(inner) {
                return Ok(Pattern::IpPlaceholder(inner.to_string()));
            }
            return Err(format!(
                "malformed placeholder {p:?}: expected <name> with letters, digits, '-' or '_'"
            ));
        }
        // Service tags are written in Azure's spelling, which starts with a capital letter.
        if p.as_bytes()[0].is_ascii_uppercase() {
            let (tag, region) = match p.split_once('.') {
                Some((t, r)) => (t, Some(r)),
                None => (p, None),
            };
            let tag_ok = tag.bytes().all(|b| b.is_ascii_alphanumeric());
            let region_ok = region.is_none_or(|r| {
                let inner = r.strip_prefix('<').and_then(|s| s.strip_suffix('>'));
                match inner {
                    Some(n) => placeholder_name_ok(n),
                    None => !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()),
                }
            });
            if tag_ok && region_ok {
                return Ok(Pattern::ServiceTag(p.to_string()));
            }
            return Err(format!(
                "malformed service tag {p:?}: expected e.g. AzureMonitor or AzureCloud.<region> (FQDN patterns are lower case)"
            ));
        }
        Self::parse_fqdn(p)
    }

    fn parse_fqdn(p: &str) -> Result<Pattern, String> {
        let (wildcard, rest) = match p.strip_prefix("*.") {
            Some(r) => (true, r),
            None => (false, p),
        };
        if rest.is_empty() {
            return Err("a wildcard needs a domain after `*.`".into());
        }
        if rest.ends_with('.') {
            return Err("pattern ends with a dot".into());
        }
        let parts: Vec<&str> = rest.split('.').collect();
        if parts.len() < 2 && !wildcard {
            // A single label such as `localhost` is not a public FQDN.
            return Err(format!(
                "{p:?} is not a fully qualified name (needs at least two labels)"
            ));
        }
        let mut labels = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() {
                return Err(format!("empty label in {p:?}"));
            }
            if part.len() > 63 {
                return Err(format!("label {part:?} is longer than 63 characters"));
            }
            if part.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(format!("pattern {p:?} must be lower case"));
            }
            let stars = part.matches('*').count();
            let opens = part.matches('<').count();
            if stars > 0 && opens > 0 {
                return Err(format!(
                    "label {part:?} mixes `*` and a placeholder; use one of them"
                ));
            }
            if stars > 0 {
                if stars > 1 || i != 0 || wildcard {
                    return Err(format!(
                        "malformed wildcard in {p:?}: `*` is allowed as the whole first label (`*.example.com`) or once inside the first label (`prefix*.example.com`)"
                    ));
                }
                let (prefix, suffix) = part.split_once('*').unwrap_or((part, ""));
                if prefix.is_empty() {
                    return Err(format!(
                        "malformed wildcard in {p:?}: `*` without a dot (like `*example.com`) matches look-alike names; write `*.example.com`"
                    ));
                }
                if !label_chars_ok(prefix) || !label_chars_ok(suffix) {
                    return Err(format!("invalid characters in label {part:?}"));
                }
                labels.push(Label::Glob {
                    prefix: prefix.to_string(),
                    suffix: suffix.to_string(),
                });
                continue;
            }
            if opens > 0 {
                let (prefix, after) = part.split_once('<').unwrap_or(("", part));
                let Some((name, suffix)) = after.split_once('>') else {
                    return Err(format!("unclosed placeholder in label {part:?}"));
                };
                if opens > 1 || suffix.contains('<') || suffix.contains('>') {
                    return Err(format!(
                        "label {part:?} has more than one placeholder; a placeholder matches exactly one whole label"
                    ));
                }
                if !placeholder_name_ok(name) {
                    return Err(format!("malformed placeholder <{name}> in {p:?}"));
                }
                if !label_chars_ok(prefix) || !label_chars_ok(suffix) {
                    return Err(format!("invalid characters in label {part:?}"));
                }
                labels.push(Label::Placeholder {
                    prefix: prefix.to_string(),
                    name: name.to_string(),
                    suffix: suffix.to_string(),
                });
                continue;
            }
            if part.contains('>') {
                return Err(format!("stray `>` in label {part:?}"));
            }
            if !label_chars_ok(part) || part.starts_with('-') || part.ends_with('-') {
                return Err(format!(
                    "invalid label {part:?}: letters, digits, '-' and '_' only, not starting or ending with '-'"
                ));
            }
            labels.push(Label::Literal(part.to_string()));
        }
        if let Some(Label::Literal(tld)) = labels.last()
            && tld.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(format!("{p:?} looks like a malformed IP address"));
        }
        if !matches!(labels.last(), Some(Label::Literal(_))) {
            return Err(format!(
                "the last label of {p:?} must be literal (a top-level domain)"
            ));
        }
        if wildcard && labels.len() < 2 {
            return Err(format!(
                "{p:?} is a public-suffix wildcard; name at least `*.example.com`"
            ));
        }
        Ok(Pattern::Fqdn { wildcard, labels })
    }

    pub fn is_fqdn(&self) -> bool {
        matches!(self, Pattern::Fqdn { .. })
    }

    /// Placeholder names in order of appearance.
    pub fn placeholders(&self) -> Vec<&str> {
        match self {
            Pattern::Fqdn { labels, .. } => labels
                .iter()
                .filter_map(|l| match l {
                    Label::Placeholder { name, .. } => Some(name.as_str()),
                    _ => None,
                })
                .collect(),
            Pattern::ServiceTag(t) => t
                .split_once('<')
                .and_then(|(_, r)| r.strip_suffix('>'))
                .into_iter()
                .collect(),
            Pattern::IpPlaceholder(n) => vec![n.as_str()],
            Pattern::Ip(_) => vec![],
        }
    }

    pub fn has_glob(&self) -> bool {
        matches!(self, Pattern::Fqdn { labels, .. } if labels.iter().any(|l| matches!(l, Label::Glob { .. })))
    }

    /// Higher = more specific: exact names > names with placeholders > deeper `*.` > shallower `*.` > port-only
    /// network entries (service tags, address placeholders).
    pub fn specificity(&self) -> u32 {
        match self {
            Pattern::Fqdn { wildcard, labels } => {
                let literal = labels
                    .iter()
                    .filter(|l| matches!(l, Label::Literal(_)))
                    .count() as u32;
                let globs = labels
                    .iter()
                    .filter(|l| matches!(l, Label::Glob { .. }))
                    .count() as u32;
                let other = labels.len() as u32 - literal;
                let base = if *wildcard {
                    1000
                } else if other > 0 {
                    2000
                } else {
                    3000
                };
                // A glob's literal prefix (`umsa*`) constrains more than a bare placeholder.
                base + literal * 10 + other * 5 + globs * 3
            }
            Pattern::Ip(net) => 3000 + net.prefix_len() as u32,
            Pattern::ServiceTag(_) | Pattern::IpPlaceholder(_) => 100,
        }
    }

    /// Test an FQDN (lower case, no trailing dot) against an FQDN pattern; `Some(captures)` on a match.
    pub fn match_fqdn<'p>(&'p self, host: &str) -> Option<Vec<(&'p str, String)>> {
        let Pattern::Fqdn { wildcard, labels } = self else {
            return None;
        };
        let mut caps = Vec::new();
        match_labels(labels, *wildcard, host, &mut caps).then_some(caps)
    }
}

/// Match `labels` (right-aligned) against `host`; a leading wildcard needs at least one more label.
pub(crate) fn match_labels<'p>(
    labels: &'p [Label],
    wildcard: bool,
    host: &str,
    caps: &mut Vec<(&'p str, String)>,
) -> bool {
    let mut rest = host;
    for (i, label) in labels.iter().enumerate().rev() {
        if let Label::Glob { prefix, suffix } = label {
            // First label only (validated): the remaining text must be `prefix…suffix`, `*` may span dots.
            debug_assert_eq!(i, 0);
            return rest.len() >= prefix.len() + suffix.len()
                && rest.starts_with(prefix.as_str())
                && rest.ends_with(suffix.as_str());
        }
        let (head, last) = match rest.rfind('.') {
            Some(dot) => (Some(&rest[..dot]), &rest[dot + 1..]),
            None => (None, rest),
        };
        if last.is_empty() {
            return false;
        }
        match label {
            Label::Literal(l) => {
                if !last.eq_ignore_ascii_case(l) {
                    return false;
                }
            }
            Label::Placeholder {
                prefix,
                name,
                suffix,
            } => {
                if last.len() <= prefix.len() + suffix.len()
                    || !last.starts_with(prefix.as_str())
                    || !last.ends_with(suffix.as_str())
                {
                    return false;
                }
                let value = &last[prefix.len()..last.len() - suffix.len()];
                if !valid_placeholder_value(name, value) {
                    return false;
                }
                caps.push((name.as_str(), value.to_string()));
            }
            Label::Glob { .. } => unreachable!(),
        }
        match head {
            Some(h) => {
                if i == 0 {
                    // Labels exhausted, host has more: only a leading `*.` accepts that.
                    return wildcard && !h.is_empty();
                }
                rest = h;
            }
            None => {
                // Host exhausted.
                return i == 0 && !wildcard;
            }
        }
    }
    // No labels at all (not produced by the parser).
    false
}

/// Transport or application protocol of a catalog entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Http,
    Https,
    Mssql,
    Tcp,
    Udp,
    Icmp,
    Any,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Http => "http",
            Proto::Https => "https",
            Proto::Mssql => "mssql",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Any => "any",
        }
    }

    /// Application-rule protocols (an Azure Firewall application rule can express them).
    pub fn is_application(self) -> bool {
        matches!(self, Proto::Http | Proto::Https | Proto::Mssql)
    }

    /// Does a logged protocol (normalised upper case: HTTPS, HTTP, TCP, UDP, ICMP, …) fit this entry protocol?
    ///
    /// Decision: an `https:443` entry also matches a *network*-rule deny logged as TCP/443 (the same connection
    /// seen before TLS), and an HTTP log on 443 (TLS-inspected requests are logged as `HTTP/1.1`, normalised to
    /// HTTP); `http:80` matches HTTP and TCP. A `tcp:N` entry matches TCP and the TCP-based application
    /// protocols; `udp` only UDP; `icmp` ICMP and ICMPv6. The port then decides.
    pub fn accepts(self, logged: &str) -> bool {
        let l = logged.trim();
        let is = |s: &str| l.eq_ignore_ascii_case(s);
        match self {
            Proto::Https => is("HTTPS") || is("TCP") || is("HTTP"),
            Proto::Http => is("HTTP") || is("TCP"),
            Proto::Mssql => is("MSSQL") || is("TCP"),
            Proto::Tcp => is("TCP") || is("HTTPS") || is("HTTP") || is("MSSQL"),
            Proto::Udp => is("UDP"),
            Proto::Icmp => is("ICMP") || is("ICMPV6"),
            Proto::Any => true,
        }
    }
}

/// `https:443`, `tcp:1000-2000`, `udp:*`, `icmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolSpec {
    pub proto: Proto,
    pub port_lo: u16,
    pub port_hi: u16,
}

impl ProtocolSpec {
    pub fn parse(raw: &str) -> Result<ProtocolSpec, String> {
        let t = raw.trim().to_ascii_lowercase();
        let (name, ports) = match t.split_once(':') {
            Some((n, p)) => (n.to_string(), Some(p.to_string())),
            None => (t.clone(), None),
        };
        let proto = match name.as_str() {
            "http" => Proto::Http,
            "https" => Proto::Https,
            "mssql" => Proto::Mssql,
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "icmp" => Proto::Icmp,
            "any" => Proto::Any,
            _ => {
                return Err(format!(
                    "unknown protocol {name:?} in {raw:?}: expected http, https, mssql, tcp, udp, icmp or any"
                ));
            }
        };
        let bad_port = || {
            format!(
                "malformed port in {raw:?}: expected protocol:port, protocol:low-high or protocol:*"
            )
        };
        let (lo, hi) = match ports.as_deref() {
            None if matches!(proto, Proto::Icmp | Proto::Any) => (0, u16::MAX),
            None => return Err(format!("{raw:?} needs a port, e.g. {name}:443")),
            Some("*") => (0, u16::MAX),
            Some(p) => match p.split_once('-') {
                Some((a, b)) => (
                    a.parse::<u16>().map_err(|_| bad_port())?,
                    b.parse::<u16>().map_err(|_| bad_port())?,
                ),
                None => {
                    let n = p.parse::<u16>().map_err(|_| bad_port())?;
                    (n, n)
                }
            },
        };
        if lo > hi || (ports.is_some() && lo == 0 && hi == 0) {
            return Err(bad_port());
        }
        Ok(ProtocolSpec {
            proto,
            port_lo: lo,
            port_hi: hi,
        })
    }

    /// Protocol and port as logged; `None` means unknown and does not filter.
    #[inline]
    pub fn accepts(&self, protocol: Option<&str>, port: Option<u32>) -> bool {
        if let Some(p) = port
            && (p < self.port_lo as u32 || p > self.port_hi as u32)
        {
            return false;
        }
        protocol.is_none_or(|p| self.proto.accepts(p))
    }

    /// The port to show in examples: the single port, or the low end of a range.
    pub fn port(&self) -> u16 {
        self.port_lo
    }
}

impl fmt::Display for ProtocolSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.proto.as_str();
        if self.port_lo == 0 && self.port_hi == u16::MAX {
            if matches!(self.proto, Proto::Icmp | Proto::Any) {
                f.write_str(name)
            } else {
                write!(f, "{name}:*")
            }
        } else if self.port_lo == self.port_hi {
            write!(f, "{name}:{}", self.port_lo)
        } else {
            write!(f, "{name}:{}-{}", self.port_lo, self.port_hi)
        }
    }
}

impl Serialize for ProtocolSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, host: &str) -> Option<Vec<(String, String)>> {
        let pat = Pattern::parse(p).unwrap();
        pat.match_fqdn(host).map(|c| {
            c.into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<Vec<_>>()
        })
    }

    #[test]
    fn wildcard_depth_and_apex() {
        assert!(m("*.contoso.com", "a.contoso.com").is_some());
        assert!(m("*.contoso.com", "a.b.contoso.com").is_some());
        assert!(m("*.contoso.com", "contoso.com").is_none());
        assert!(m("*.contoso.com", "acontoso.com").is_none());
        assert!(m("contoso.com", "a.contoso.com").is_none());
        assert!(m("contoso.com", "contoso.com").is_some());
    }

    #[test]
    fn placeholders_capture_one_label() {
        let c = m("*.hcp.<location>.azmk8s.io", "x-1.hcp.westeurope.azmk8s.io").unwrap();
        assert_eq!(c, vec![("location".into(), "westeurope".into())]);
        assert!(m("*.hcp.<location>.azmk8s.io", "x.hcp.a.b.azmk8s.io").is_none());
        assert!(m("*.hcp.<location>.azmk8s.io", "hcp.westeurope.azmk8s.io").is_none());
        assert!(
            m(
                "<region>.dp.kubernetesconfiguration.azure.com",
                "a.eastus.dp.kubernetesconfiguration.azure.com"
            )
            .is_none()
        );
        assert!(
            m(
                "<region>.dp.kubernetesconfiguration.azure.com",
                "east-us.dp.kubernetesconfiguration.azure.com"
            )
            .is_none()
        );
        let c = m(
            "azds-<guid>.<location>.azds.io",
            "azds-38c1758a-197e-44fc-83f8-31bb7619a8bc.eastus.azds.io",
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert!(m("azds-<guid>.<location>.azds.io", "azds-.eastus.azds.io").is_none());
    }

    #[test]
    fn globs_label_only() {
        assert!(
            m(
                "umsa*.blob.core.windows.net",
                "umsaabc.blob.core.windows.net"
            )
            .is_some()
        );
        assert!(
            m(
                "umsa*.blob.core.windows.net",
                "xumsaabc.blob.core.windows.net"
            )
            .is_none()
        );
        assert!(
            m(
                "md-*.blob.storage.azure.net",
                "md-hdd-x.z38.blob.storage.azure.net"
            )
            .is_some()
        );
        assert!(m("md-*.blob.storage.azure.net", "blob.storage.azure.net").is_none());
    }

    #[test]
    fn malformed_patterns() {
        for bad in [
            "",
            " a.com",
            "*",
            "*.",
            "*.com",
            "a.*.com",
            "www.contoso.*",
            "*contoso.com",
            "a*b*.com",
            "*.a*.com",
            "<x.com",
            "a.<b>c<d>.com",
            "Foo.com.",
            "a..com",
            "localhost",
            "a.com.",
            "1.2.3.999",
            "-a.com",
            "Azure Cloud",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        for good in [
            "AzureCloud.<region>",
            "AzureMonitor",
            "<API-server-public-IP>",
            "168.63.129.16",
            "10.0.0.0/8",
            "*.hcp.<location>.azmk8s.io",
            "md-*.blob.storage.azure.net",
        ] {
            assert!(Pattern::parse(good).is_ok(), "{good:?} should parse");
        }
    }

    #[test]
    fn protocol_specs() {
        let s = ProtocolSpec::parse("https:443").unwrap();
        assert!(s.accepts(Some("HTTPS"), Some(443)));
        assert!(s.accepts(Some("TCP"), Some(443)));
        assert!(!s.accepts(Some("UDP"), Some(443)));
        assert!(!s.accepts(Some("HTTPS"), Some(8443)));
        assert!(s.accepts(None, None));
        let r = ProtocolSpec::parse("tcp:1000-2000").unwrap();
        assert!(r.accepts(Some("TCP"), Some(1500)));
        assert_eq!(r.to_string(), "tcp:1000-2000");
        for bad in ["https", "foo:1", "tcp:x", "tcp:5-1", "tcp:70000"] {
            assert!(ProtocolSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
