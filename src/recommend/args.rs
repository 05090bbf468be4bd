//! `fwlog recommend` arguments: the deny-report input, window and filter groups, the cluster context, and the
//! options that shape the rules (sources, names, priorities, format). Kept here so `cli/args.rs` only gains one
//! enum variant.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, ValueEnum};

use crate::catalog::context::ClusterArgs;
use crate::cli::args::{Cidr, FilterArgs, InputArgs, WindowArgs};

#[derive(Debug, Clone, Args)]
pub struct RecommendArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub live: crate::live::config::LiveArgs,

    /// Rule sources: `subnet` (observed source subnets), `ip` (observed source addresses), `any`, or CIDRs
    /// (comma-separated or repeated) used for every rule.
    #[arg(
        long,
        value_name = "SCOPE",
        value_delimiter = ',',
        default_value = "subnet"
    )]
    pub source_scope: Vec<ScopeItem>,

    /// Use this IP group (name in the policy's resource group, or full resource ID) as every rule's source.
    #[arg(long, value_name = "NAME")]
    pub source_ip_group: Option<String>,

    /// Prefix length of observed IPv4 source subnets (`--source-scope subnet`).
    #[arg(long, value_name = "N", default_value_t = 24, value_parser = clap::value_parser!(u8).range(0..=32))]
    pub prefix_v4: u8,

    /// Prefix length of observed IPv6 source subnets.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u8).range(0..=128))]
    pub prefix_v6: u8,

    /// Name of the rule collection group.
    #[arg(long, value_name = "NAME", default_value = "fwlog-aks-egress", value_parser = parse_name)]
    pub collection_group: String,

    /// Priority of the rule collection group (100-65000).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(100..=65000))]
    pub group_priority: u32,

    /// Priority of the first rule collection; the next ones follow in steps of 10.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(100..=65000))]
    pub priority_base: u32,

    /// The API server's public IP: turns "SNI TLS extension was missing" denies (pods calling the API server by
    /// IP) into a TCP 443 network rule.
    #[arg(long, value_name = "IP")]
    pub api_server_ip: Option<std::net::IpAddr>,

    /// Also write exact-FQDN / exact-address rules for denies the catalog does not explain, in a separate
    /// collection named `unmatched-…`.
    #[arg(long)]
    pub include_unmatched: bool,

    /// Leave out recommended (optional) endpoints such as Ubuntu security updates.
    #[arg(long)]
    pub no_recommended: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = RecommendFormat::Table)]
    pub format: RecommendFormat,

    /// Write to this file (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecommendFormat {
    Table,
    Json,
    Markdown,
    Bicep,
    Terraform,
    Arm,
    Azcli,
}

/// One `--source-scope` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeItem {
    Subnet,
    Ip,
    Any,
    Cidr(Cidr),
}

impl FromStr for ScopeItem {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "subnet" => Ok(ScopeItem::Subnet),
            "ip" => Ok(ScopeItem::Ip),
            "any" => Ok(ScopeItem::Any),
            _ => s.parse::<Cidr>().map(ScopeItem::Cidr).map_err(|_| {
                format!("invalid source scope {s:?}: expected subnet, ip, any, or CIDRs such as 10.240.0.0/16")
            }),
        }
    }
}

impl fmt::Display for ScopeItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeItem::Subnet => f.write_str("subnet"),
            ScopeItem::Ip => f.write_str("ip"),
            ScopeItem::Any => f.write_str("any"),
            ScopeItem::Cidr(c) => write!(f, "{c}"),
        }
    }
}

/// Resource names: letters, digits, `-`, `_`, `.`; 1-80 characters, starting with a letter or digit.
fn parse_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 80
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "invalid name {s:?}: use 1-80 letters, digits, '-', '_' or '.', starting with a letter or digit"
        ))
    }
}
