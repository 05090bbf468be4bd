//! Argument groups shared by commands, with their cheap validation (clap value parsers).
//!
//! Values that may later be placed into KQL (durations, CIDRs, destination patterns) are parsed into typed
//! values here, so nothing downstream ever handles the raw text.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, ValueEnum};
use ipnet::IpNet;

use crate::event::Kind;

/// Where events come from.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Exported log files, folders (read recursively) or glob patterns; `.gz` files are decompressed.
    #[arg(short, long = "input", value_name = "PATH", num_args = 1..)]
    pub inputs: Vec<String>,

    /// Skip content detection and read every input as this format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<InputFormat>,

    /// Count an event archived twice (e.g. both diagnostic modes on) every time it appears.
    #[arg(long)]
    pub keep_duplicates: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Parquet with resource-specific (`AZFW*`) or `AzureDiagnostics` columns.
    Parquet,
    /// Any JSON shape: JSON lines records, `{"records":[…]}`, `{"tables":[…]}`, arrays of row objects.
    Json,
    /// Portal "Export to CSV".
    Csv,
}

/// Which time range to report on.
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// Only events newer than this, relative to now: `90s`, `30m`, `1h`, `7d`, `2w`.
    #[arg(long, value_name = "DURATION", conflicts_with = "from")]
    pub since: Option<Duration>,

    /// Only events at or after this time (RFC 3339, e.g. `2026-09-07T09:00:00Z`).
    #[arg(long, value_name = "TIME", value_parser = parse_rfc3339)]
    pub from: Option<i64>,

    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_rfc3339)]
    pub to: Option<i64>,
}

/// Which denies to keep.
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Only traffic from this source range (CIDR or single IP); repeatable.
    #[arg(long = "source", value_name = "CIDR")]
    pub sources: Vec<Cidr>,

    /// Only this destination: an FQDN, `*.example.com` (any depth below), or an IP / CIDR.
    #[arg(long, value_name = "PATTERN")]
    pub destination: Option<DestinationPattern>,

    /// Only this destination port.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Only this protocol (HTTPS, HTTP, TCP, UDP, ICMP, …; case-insensitive).
    #[arg(long, value_name = "PROTOCOL", value_parser = parse_protocol)]
    pub protocol: Option<String>,

    /// Only this kind of log (application, network, nat, threat-intel, idps, dns, …).
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    pub kind: Option<Kind>,
}

/// How to group.
#[derive(Debug, Clone, Args)]
pub struct GroupArgs {
    /// Group IPv4 sources into subnets of this prefix length.
    #[arg(long, value_name = "N", default_value_t = 24, value_parser = clap::value_parser!(u8).range(0..=32))]
    pub prefix_v4: u8,

    /// Group IPv6 sources into subnets of this prefix length.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u8).range(0..=128))]
    pub prefix_v6: u8,

    /// Group by single source IP instead of subnet.
    #[arg(long)]
    pub by_source_ip: bool,

    /// Show only the N groups with most hits.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
}

/// Where and how to write the result.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,

    /// Write to this file (atomically: a temporary file renamed into place) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
    Markdown,
    Parquet,
}

#[derive(Debug, Clone, Args)]
pub struct DenyReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub group: GroupArgs,
    #[command(flatten)]
    pub cluster: crate::catalog::context::ClusterArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub live: crate::live::config::LiveArgs,
    #[command(flatten)]
    pub follow: crate::live::follow::FollowArgs,
}

/// A span of time written `<number><unit>` with unit s, m, h, d or w (units may be combined: `1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    pub seconds: u64,
}

impl Duration {
    pub fn micros(self) -> i64 {
        (self.seconds as i64).saturating_mul(1_000_000)
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid duration {s:?}: expected a number and a unit (s, m, h, d, w), e.g. 30m, 1h, 7d"
            )
        };
        if s.is_empty() || !s.is_ascii() {
            return Err(bad());
        }
        let mut total: u64 = 0;
        let mut num = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return Err(bad()),
            };
            let n: u64 = num.parse().map_err(|_| bad())?;
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(bad)?;
            num.clear();
        }
        if !num.is_empty() || total == 0 || total > 3650 * 86_400 {
            return Err(bad());
        }
        Ok(Duration { seconds: total })
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.seconds)
    }
}

/// A source range: CIDR, or a single address (taken as /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(pub IpNet);

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Ok(net) = t.parse::<IpNet>() {
            return Ok(Cidr(net.trunc()));
        }
        if let Ok(ip) = t.parse::<std::net::IpAddr>() {
            return Ok(Cidr(IpNet::from(ip)));
        }
        Err(format!(
            "invalid CIDR {s:?}: expected e.g. 10.0.0.0/16, 10.0.1.4 or fd00::/64"
        ))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A destination filter: an exact FQDN, `*.suffix` (any name below the suffix), or an IP range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationPattern {
    Exact(String),
    Suffix(String),
    Range(IpNet),
}

impl DestinationPattern {
    pub fn matches(&self, destination: &str) -> bool {
        match self {
            DestinationPattern::Exact(n) => destination == n,
            DestinationPattern::Suffix(s) => {
                destination.len() > s.len() + 1
                    && destination.ends_with(s.as_str())
                    && destination.as_bytes()[destination.len() - s.len() - 1] == b'.'
            }
            DestinationPattern::Range(net) => destination
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| net.contains(&ip)),
        }
    }
}

impl FromStr for DestinationPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Ok(c) = t.parse::<Cidr>() {
            return Ok(DestinationPattern::Range(c.0));
        }
        let (wild, name) = match t.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let name = crate::event::normalize::canonical_name(name).into_owned();
        if !is_dns_name(&name) {
            return Err(format!(
                "invalid destination {s:?}: expected an FQDN (mcr.microsoft.com), a wildcard (*.azmk8s.io) or an IP/CIDR"
            ));
        }
        Ok(if wild {
            DestinationPattern::Suffix(name)
        } else {
            DestinationPattern::Exact(name)
        })
    }
}

impl fmt::Display for DestinationPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DestinationPattern::Exact(n) => f.write_str(n),
            DestinationPattern::Suffix(s) => write!(f, "*.{s}"),
            DestinationPattern::Range(n) => write!(f, "{n}"),
        }
    }
}

/// Letters, digits, `-` and `_` in dot-separated labels of 1–63 bytes, 253 bytes at most.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

fn parse_rfc3339(s: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|d| d.timestamp_micros())
        .map_err(|_| format!("invalid time {s:?}: expected RFC 3339, e.g. 2026-09-07T09:00:00Z"))
}

fn parse_protocol(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || t.len() > 16 || !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "invalid protocol {s:?}: expected a name such as HTTPS, HTTP, TCP, UDP, ICMP"
        ));
    }
    Ok(t.to_ascii_uppercase())
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s.trim()).ok_or_else(|| {
        let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("invalid kind {s:?}: expected one of {}", all.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!("1h".parse::<Duration>().unwrap().seconds, 3600);
        assert_eq!("1h30m".parse::<Duration>().unwrap().seconds, 5400);
        assert_eq!("7d".parse::<Duration>().unwrap().seconds, 604_800);
        for bad in [
            "",
            "1",
            "h",
            "1x",
            "-1h",
            "0m",
            "1h'; drop",
            "99999999999999999999h",
        ] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        assert_eq!(
            "10.0.1.7/24".parse::<Cidr>().unwrap().to_string(),
            "10.0.1.0/24"
        );
        assert_eq!(
            "10.0.1.7".parse::<Cidr>().unwrap().to_string(),
            "10.0.1.7/32"
        );
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("10.0.0.0/8\" or 1==1".parse::<Cidr>().is_err());
    }

    #[test]
    fn destination_patterns() {
        let p: DestinationPattern = "*.Example.com.".parse().unwrap();
        assert!(p.matches("a.example.com"));
        assert!(p.matches("a.b.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("badexample.com"));
        let e: DestinationPattern = "mcr.microsoft.com".parse().unwrap();
        assert!(e.matches("mcr.microsoft.com"));
        let r: DestinationPattern = "20.0.0.0/8".parse().unwrap();
        assert!(r.matches("20.1.2.3"));
        for bad in ["", "*", "*.", "a b.com", "x.com' | take 1", "*.*.com"] {
            assert!(bad.parse::<DestinationPattern>().is_err(), "{bad}");
        }
    }
}
