//! The query vocabulary: what a report asks of the data — a time [`Window`], [`Filters`] and a [`Grouping`] —
//! and the value types they are made of ([`values`]). It sits below everything that runs: sources push the
//! window and filters down into their readers or KQL, the engine groups by it, and commands build it from their
//! arguments. No I/O and no clap here; clap value parsers call into these types, never the other way round.

pub mod values;

use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::user;
use crate::event::Kind;
pub use values::{Cidr, DestinationPattern, Duration, is_dns_name};

/// A half-open time range `[from, to)` in microseconds since the epoch (UTC); either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Inclusive lower bound.
    pub from_us: Option<i64>,
    /// Exclusive upper bound.
    pub to_us: Option<i64>,
}

impl Window {
    /// The window of `--since` / `--from` / `--to`: `since` reaches back from `now_us` and ends at `to` or now.
    pub fn resolve(
        since: Option<Duration>,
        from_us: Option<i64>,
        to_us: Option<i64>,
        now_us: i64,
    ) -> anyhow::Result<Window> {
        let from = match (since, from_us) {
            (Some(d), _) => Some(now_us - d.micros()),
            (None, f) => f,
        };
        let to = match (since, to_us) {
            (_, Some(t)) => Some(t),
            (Some(_), None) => Some(now_us),
            (None, None) => None,
        };
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(user(
                "the time window is empty: --from/--since must be before --to",
            ));
        }
        Ok(Window {
            from_us: from,
            to_us: to,
        })
    }

    pub fn contains(&self, t_us: i64) -> bool {
        self.from_us.is_none_or(|f| t_us >= f) && self.to_us.is_none_or(|e| t_us < e)
    }

    /// Both ends closed: an open end becomes `now_us`, an open start `default_span_us` before the end.
    pub fn bounded(&self, now_us: i64, default_span_us: i64) -> (i64, i64) {
        let to = self.to_us.unwrap_or(now_us);
        (self.from_us.unwrap_or(to - default_span_us), to)
    }
}

/// Which denies to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Source ranges; empty keeps every source.
    pub sources: Vec<Cidr>,
    pub destination: Option<DestinationPattern>,
    pub port: Option<u16>,
    /// Canonical (upper-case) protocol name.
    pub protocol: Option<String>,
    pub kind: Option<Kind>,
}

/// How sources are grouped: into subnets of these prefix lengths, or each address on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouping {
    pub prefix_v4: u8,
    pub prefix_v6: u8,
    pub by_source_ip: bool,
}

impl Default for Grouping {
    fn default() -> Self {
        Grouping {
            prefix_v4: 24,
            prefix_v6: 64,
            by_source_ip: false,
        }
    }
}

impl Grouping {
    /// The subnet a source falls in: `10.10.1.0/24`, `fd10:3:5:1::/64`, or the address itself with
    /// `by_source_ip`.
    pub fn subnet_of(&self, ip: IpAddr) -> IpNet {
        if self.by_source_ip {
            IpNet::from(ip)
        } else {
            subnet_of(ip, self.prefix_v4, self.prefix_v6)
        }
    }

    /// The subnet text of one source as reports write it; a source that is not an address keeps its text.
    pub fn subnet_text(&self, source: &str) -> String {
        match source.parse::<IpAddr>() {
            Ok(ip) => self.subnet_of(ip).to_string(),
            Err(_) => source.to_string(),
        }
    }
}

/// The subnet of `ip` with the prefix length of its family.
pub fn subnet_of(ip: IpAddr, prefix_v4: u8, prefix_v6: u8) -> IpNet {
    let prefix = if ip.is_ipv4() { prefix_v4 } else { prefix_v6 };
    IpNet::new(ip, prefix)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(ip))
}

/// When a run fails a pipeline (`--fail-on`, exit 1): denies to endpoints AKS needs (`required`: the base
/// cluster or a feature named with `--features`), to anything the catalog wants allowed (`needed`: also
/// conditional entries of other features and recommended ones), or any deny at all (`any`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailOn {
    Required,
    Needed,
    Any,
}

/// One question asked of the data: denies in a window, filtered, grouped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub window: Window,
    pub filters: Filters,
    pub grouping: Grouping,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_resolve_since_from_and_to() {
        let now = 10_000_000_000;
        let d: Duration = "1h".parse().unwrap();
        let w = Window::resolve(Some(d), None, None, now).unwrap();
        assert_eq!(w.from_us, Some(now - 3_600_000_000));
        assert_eq!(w.to_us, Some(now));
        let w = Window::resolve(None, Some(5), None, now).unwrap();
        assert_eq!((w.from_us, w.to_us), (Some(5), None));
        assert!(Window::resolve(None, Some(5), Some(5), now).is_err());
        assert!(w.contains(5) && !w.contains(4));
        assert_eq!(
            Window::default().bounded(100, 40),
            (60, 100),
            "open ends close at now and a default span before"
        );
    }

    #[test]
    fn subnets_follow_the_grouping() {
        let g = Grouping::default();
        assert_eq!(g.subnet_text("10.0.1.7"), "10.0.1.0/24");
        assert_eq!(g.subnet_text("fd00:1:2:3:4::1"), "fd00:1:2:3::/64");
        assert_eq!(g.subnet_text("not-an-ip"), "not-an-ip");
        let ip = Grouping {
            by_source_ip: true,
            ..g
        };
        assert_eq!(ip.subnet_text("10.0.1.7"), "10.0.1.7/32");
        assert_eq!(ip.subnet_text("fd00::1"), "fd00::1/128");
    }
}
