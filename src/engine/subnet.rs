//! Source grouping: each source IP becomes its subnet (IPv4 /24 and IPv6 /64 by default) or stays itself.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::report::plan::ReportPlan;

/// The subnet text for one source: `10.10.1.0/24`, `fd10:3:5:1::/64`, or `10.10.1.4/32` with `--by-source-ip`.
pub fn subnet_of(ip: IpAddr, plan: &ReportPlan) -> IpNet {
    let prefix = match (plan.by_source_ip, ip) {
        (true, IpAddr::V4(_)) => 32,
        (true, IpAddr::V6(_)) => 128,
        (false, IpAddr::V4(_)) => plan.prefix_v4,
        (false, IpAddr::V6(_)) => plan.prefix_v6,
    };
    IpNet::new(ip, prefix)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(ip))
}

/// The subnet text of one source as the canonical schema writes it; a source that is not an address keeps
/// its text.
pub fn subnet_text(source: &str, plan: &ReportPlan) -> String {
    match source.parse::<IpAddr>() {
        Ok(ip) => subnet_of(ip, plan).to_string(),
        Err(_) => source.to_string(),
    }
}
