//! The value types of a query, each parsed from text once at the edge and typed from then on. Values that may
//! later be placed into KQL (durations, CIDRs, destination patterns, protocol names) can only be built through
//! these parsers, so nothing downstream handles raw user text.

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;

use crate::event::Kind;

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
    /// `<number><unit>` pairs (s, m, h, d, w; `1h30m`), or an ISO 8601 span as az and ARM write them
    /// (`P1D`, `PT1H`, `PT30M`, `P1DT12H`, `P2W`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid duration {s:?}: expected a number and a unit (s, m, h, d, w), e.g. 30m, 1h, 7d, \
                 or an ISO 8601 span such as PT1H or P1D"
            )
        };
        let t = s.trim();
        if t.is_empty() || !t.is_ascii() {
            return Err(bad());
        }
        let total = match t.strip_prefix(['P', 'p']) {
            Some(iso) => iso_span(iso).ok_or_else(bad)?,
            None => units(t).ok_or_else(bad)?,
        };
        if total == 0 || total > 3650 * 86_400 {
            return Err(bad());
        }
        Ok(Duration { seconds: total })
    }
}

/// `1h30m`-style text in seconds.
fn units(t: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in t.chars() {
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
            _ => return None,
        };
        let n: u64 = num.parse().ok()?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v))?;
        num.clear();
    }
    num.is_empty().then_some(total)
}

/// The part of an ISO 8601 duration after `P`: `[nW][nD][T[nH][nM][nS]]` in seconds. Years and months have
/// no fixed length, so they are refused rather than guessed.
fn iso_span(t: &str) -> Option<u64> {
    let (date, time) = match t.split_once(['T', 't']) {
        Some((d, tm)) if !tm.is_empty() => (d, Some(tm)),
        Some(_) => return None,
        None => (t, None),
    };
    let part = |text: &str, units: &[(char, u64)]| -> Option<u64> {
        let mut total = 0u64;
        let mut num = String::new();
        let mut next = 0;
        for c in text.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let i = units[next..]
                .iter()
                .position(|(u, _)| u.eq_ignore_ascii_case(&c))?
                + next;
            let n: u64 = num.parse().ok()?;
            total = n
                .checked_mul(units[i].1)
                .and_then(|v| total.checked_add(v))?;
            num.clear();
            next = i + 1;
        }
        num.is_empty().then_some(total)
    };
    let d = part(date, &[('W', 604_800), ('D', 86_400)])?;
    let tm = match time {
        Some(tm) => part(tm, &[('H', 3600), ('M', 60), ('S', 1)])?,
        None => 0,
    };
    (!(date.is_empty() && time.is_none())).then_some(d + tm)
}

impl fmt::Display for Duration {
    /// The shortest `1w2d3h4m5s` form, which parses back to the same span.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.seconds;
        if rest == 0 {
            return f.write_str("0s");
        }
        for (unit, secs) in [
            ('w', 604_800),
            ('d', 86_400),
            ('h', 3600),
            ('m', 60),
            ('s', 1),
        ] {
            if rest >= secs {
                write!(f, "{}{unit}", rest / secs)?;
                rest %= secs;
            }
        }
        Ok(())
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

/// Letters, digits, `-` and `_` in dot-separated labels of 1–63 bytes, 253 bytes at most, the last label not
/// all digits: the one definition of a host name (`crate::event::normalize::is_dns_name`).
pub fn is_dns_name(name: &str) -> bool {
    crate::event::normalize::is_dns_name(name)
}

/// A point in time as microseconds since the epoch: RFC 3339 (`2026-09-07T09:00:00Z`, any offset), a date
/// (`2026-09-07`, midnight UTC), or a date and time without offset (`2026-09-07T09:00`, taken as UTC — the
/// firewall logs in UTC).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let t = s.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(d.timestamp_micros());
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(t, f).ok())
    .or_else(|| {
        chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    });
    naive.map(|n| n.and_utc().timestamp_micros()).ok_or_else(|| {
        format!(
            "invalid time {s:?}: expected RFC 3339 (2026-09-07T09:00:00Z), a date (2026-09-07) or a UTC time \
             (2026-09-07T09:00)"
        )
    })
}

/// Protocols as fwlog's canonical events name them (`HTTP/1.1` and `ICMP Type=8` are folded into these).
pub const PROTOCOLS: [&str; 8] = [
    "HTTPS", "HTTP", "TCP", "UDP", "ICMP", "ICMPV6", "MSSQL", "DNS",
];

/// A protocol name, checked against [`PROTOCOLS`] (case-insensitive) and upper-cased: a typo would otherwise
/// filter everything out and report nothing.
pub fn parse_protocol(s: &str) -> Result<String, String> {
    let t = s.trim().to_ascii_uppercase();
    if PROTOCOLS.contains(&t.as_str()) {
        return Ok(t);
    }
    let near = PROTOCOLS
        .iter()
        .find(|p| edit_distance(p, &t) <= 2)
        .map(|p| format!(" (did you mean {p}?)"))
        .unwrap_or_default();
    Err(format!(
        "unknown protocol {s:?}{near}: expected one of {}",
        PROTOCOLS.join(", ")
    ))
}

/// Levenshtein distance, for "did you mean" hints on short words.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A log kind by name (`application`, `network`, …).
pub fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s.trim()).ok_or_else(|| {
        let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("invalid kind {s:?}: expected one of {}", all.join(", "))
    })
}

/// Split `HOST[:PORT]`, `[v6]:PORT`, bare IPv6 or `scheme://host[:port]/path` into canonical host and port.
pub fn parse_target(raw: &str) -> Result<(String, Option<u32>, Option<&'static str>), String> {
    let mut t = raw.trim();
    let mut scheme_port = None;
    let mut scheme_proto = None;
    if let Some((scheme, rest)) = t.split_once("://") {
        match scheme.to_ascii_lowercase().as_str() {
            "https" => {
                scheme_port = Some(443);
                scheme_proto = Some("HTTPS");
            }
            "http" => {
                scheme_port = Some(80);
                scheme_proto = Some("HTTP");
            }
            _ => return Err(format!("unsupported URL scheme {scheme:?} in {raw:?}")),
        }
        t = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    }
    let bad_port = |p: &str| format!("invalid port {p:?} in {raw:?}: expected 1-65535");
    let parse_port = |p: &str| -> Result<u32, String> {
        p.parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .map(u32::from)
            .ok_or_else(|| bad_port(p))
    };
    let (host, port) = if let Some(rest) = t.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in {raw:?}"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected text after ']' in {raw:?}")),
        };
        (h, port)
    } else if t.matches(':').count() > 1 {
        (t, None) // bare IPv6
    } else if let Some((h, p)) = t.split_once(':') {
        (h, Some(parse_port(p)?))
    } else {
        (t, None)
    };
    let canonical = crate::event::normalize::canonical_host(host)
        .ok_or_else(|| format!("empty host in {raw:?}"))?;
    if canonical.parse::<std::net::IpAddr>().is_err() && !is_dns_name(&canonical) {
        return Err(format!(
            "invalid destination {raw:?}: expected a host name or IP address, optionally with :PORT"
        ));
    }
    Ok((canonical, port.or(scheme_port), scheme_proto))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_spans_dates_and_protocols() {
        for (text, secs) in [
            ("P1D", 86_400),
            ("PT1H", 3600),
            ("PT30M", 1800),
            ("P1DT12H", 129_600),
            ("P2W", 1_209_600),
            ("pt90s", 90),
            ("PT1H30M", 5400),
        ] {
            assert_eq!(text.parse::<Duration>().unwrap().seconds, secs, "{text}");
        }
        for bad in ["P", "PT", "P1M", "P1Y", "PT1D", "P1H", "PT1M1H", "P-1D"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
        let midnight = parse_time("2026-09-07").unwrap();
        assert_eq!(midnight, parse_time("2026-09-07T00:00:00Z").unwrap());
        assert_eq!(
            parse_time("2026-09-07T09:30").unwrap(),
            parse_time("2026-09-07T09:30:00Z").unwrap()
        );
        assert_eq!(
            parse_time("2026-09-07T11:30:00+02:00").unwrap(),
            parse_time("2026-09-07T09:30:00Z").unwrap()
        );
        assert!(parse_time("07/09/2026").is_err());
        assert_eq!(parse_protocol("https").unwrap(), "HTTPS");
        let e = parse_protocol("htps").unwrap_err();
        assert!(e.contains("did you mean HTTPS?"), "{e}");
        assert!(parse_protocol("HTTPS' or 1==1").is_err());
    }

    #[test]
    fn durations() {
        for text in ["1h", "7d", "90s", "1h30m", "1w2d3h4m5s"] {
            let d: Duration = text.parse().unwrap();
            assert_eq!(d.to_string().parse::<Duration>().unwrap(), d, "{text}");
        }
        assert_eq!("PT90M".parse::<Duration>().unwrap().to_string(), "1h30m");
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

    #[test]
    fn targets_split_host_and_port() {
        assert_eq!(
            parse_target("[::1]:443").unwrap(),
            ("::1".into(), Some(443), None)
        );
        assert_eq!(parse_target("2001:db8::1").unwrap().0, "2001:db8::1");
        assert_eq!(
            parse_target("MCR.microsoft.com.:443").unwrap(),
            ("mcr.microsoft.com".into(), Some(443), None)
        );
        assert_eq!(
            parse_target("https://mcr.microsoft.com/v2/").unwrap(),
            ("mcr.microsoft.com".into(), Some(443), Some("HTTPS"))
        );
        assert!(parse_target("host:0").is_err());
        assert!(parse_target("a b:1").is_err());
    }
}
