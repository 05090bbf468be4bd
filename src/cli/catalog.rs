//! `fwlog catalog list | match | features`: browse the AKS egress catalog and test destinations against it.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::args::ClusterArgs;
use crate::catalog::{Catalog, CatalogMatch, Requirement};
use crate::error::user;
use crate::query::values::parse_target;
use crate::render::CatalogFormat;
use crate::render::catalog::{self as render, Target};
use crate::render::table::Layout;

/// Browse the AKS egress catalog and test destinations against it.
#[derive(Debug, Clone, Args)]
pub struct CatalogArgs {
    #[command(subcommand)]
    pub command: CatalogCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum CatalogCommand {
    /// List catalog entries for a cloud, with their requirement for the described cluster.
    List(ListArgs),
    /// Explain which catalog entries match a destination (HOST, HOST:PORT, [IPv6]:PORT or a URL).
    Match(MatchArgs),
    /// List the feature names usable with --features.
    Features(FeaturesArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Only entries of these features (repeatable or comma-separated).
    #[arg(long, value_name = "FEATURE", value_delimiter = ',')]
    pub feature: Vec<String>,

    /// Only entries with this effective requirement (repeatable or comma-separated).
    #[arg(long, value_enum, value_name = "LEVEL", value_delimiter = ',')]
    pub requirement: Vec<Requirement>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
    pub format: CatalogFormat,
}

#[derive(Debug, Clone, Args)]
pub struct MatchArgs {
    /// Destination: `mcr.microsoft.com`, `x.hcp.westeurope.azmk8s.io:443`, `20.1.2.3:1194`, `[2001:db8::1]:443`,
    /// `https://host/path`.
    #[arg(value_name = "HOST[:PORT]")]
    pub destination: String,

    /// Protocol as a firewall log writes it (HTTPS, HTTP, TCP, UDP, ICMP); default: any.
    #[arg(long, value_name = "PROTOCOL")]
    pub protocol: Option<String>,

    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
    pub format: CatalogFormat,
}

#[derive(Debug, Clone, Args)]
pub struct FeaturesArgs {
    /// Extra catalog file; repeatable.
    #[arg(long = "catalog", value_name = "FILE")]
    pub catalogs: Vec<std::path::PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
    pub format: CatalogFormat,
}

pub fn run(args: CatalogArgs, globals: &super::Globals) -> anyhow::Result<ExitCode> {
    let layout = Layout::detect(std::io::stdout().is_terminal(), globals.width);
    let bytes = match args.command {
        CatalogCommand::List(a) => list(a, &layout)?,
        CatalogCommand::Match(a) => matches(a)?,
        CatalogCommand::Features(a) => {
            let catalog = Catalog::load(&a.catalogs)?;
            render::features(&catalog.feature_summaries(), a.format, &layout)?
        }
    };
    crate::output::emit(None, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

fn list(a: ListArgs, layout: &Layout) -> anyhow::Result<Vec<u8>> {
    let (catalog, ctx) = a.cluster.resolve()?;
    let known = catalog.feature_names();
    for f in &a.feature {
        if !known.contains(&f.as_str()) {
            return Err(user(format!(
                "unknown feature {f:?} in --feature: expected one of {}",
                known.join(", ")
            )));
        }
    }
    let rows: Vec<CatalogMatch<'_>> = catalog
        .list(&ctx)
        .into_iter()
        .filter(|m| a.feature.is_empty() || a.feature.contains(&m.entry.feature))
        .filter(|m| a.requirement.is_empty() || a.requirement.contains(&m.requirement))
        .collect();
    render::list(&rows, &ctx, &catalog.version(), a.format, layout)
}

fn matches(a: MatchArgs) -> anyhow::Result<Vec<u8>> {
    let (host, port, scheme_proto) = parse_target(&a.destination).map_err(user)?;
    let protocol = a
        .protocol
        .as_deref()
        .map(|p| p.trim().to_ascii_uppercase())
        .or(scheme_proto.map(str::to_string));
    let (catalog, ctx) = a.cluster.resolve()?;
    let found = catalog.lookup(Some(&host), port, protocol.as_deref(), &ctx);
    let target = Target {
        host: &host,
        port,
        protocol: protocol.as_deref(),
    };
    render::matches(&target, &found, &ctx, &catalog.version(), a.format)
}
