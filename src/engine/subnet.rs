//! Source grouping: each source IP becomes its subnet (IPv4 /24 and IPv6 /64 by default) or stays itself.

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use polars::prelude::*;

use crate::event as ev;
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

/// Add a `name` column with each row's source subnet; sources that are not addresses keep their text.
pub fn with_subnet_column(
    mut df: DataFrame,
    name: &str,
    plan: &ReportPlan,
) -> PolarsResult<DataFrame> {
    let src = df.column(ev::SOURCE_IP)?.str()?.clone();
    let mut b = StringChunkedBuilder::new(name.into(), src.len());
    let mut buf = String::new();
    for s in src.iter() {
        match s {
            None => b.append_null(),
            Some(s) => match s.parse::<IpAddr>() {
                Ok(ip) => {
                    buf.clear();
                    let _ = write!(buf, "{}", subnet_of(ip, plan));
                    b.append_value(&buf);
                }
                Err(_) => b.append_value(s),
            },
        }
    }
    df.with_column(b.finish().into_series().into())?;
    Ok(df)
}
