//! `fwlog catalog list | match | features`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

use super::{CatalogMatch, ClusterArgs, Requirement};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CatalogFormat {
    Table,
    Json,
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

pub fn run(args: CatalogArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match args.command {
        CatalogCommand::List(a) => list(a, &mut out)?,
        CatalogCommand::Match(a) => run_match(a, &mut out)?,
        CatalogCommand::Features(a) => features(a, &mut out)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

fn protocols_text(m: &CatalogMatch<'_>) -> String {
    m.entry
        .protocols
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(a: ListArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let (catalog, ctx) = a.cluster.resolve()?;
    let known = catalog.feature_names();
    for f in &a.feature {
        if !known.contains(&f.as_str()) {
            return Err(crate::error::user(format!(
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
    match a.format {
        CatalogFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)?;
        }
        CatalogFormat::Table => {
            let mut t = new_table(&[
                "pattern",
                "protocols",
                "feature",
                "requirement",
                "status",
                "id",
            ]);
            for m in &rows {
                let mut req = m.requirement.to_string();
                if m.requirement != m.entry.requirement {
                    req.push_str(&format!(" (declared {})", m.entry.requirement));
                }
                t.add_row(vec![
                    m.filled_pattern.to_string(),
                    protocols_text(m),
                    m.entry.feature.clone(),
                    req,
                    m.entry.status.to_string(),
                    m.entry.id.clone(),
                ]);
            }
            writeln!(out, "{t}")?;
            writeln!(
                out,
                "{} entries (cloud {}; catalog {})",
                rows.len(),
                ctx.cloud,
                catalog.version()
            )?;
        }
    }
    Ok(())
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
    if canonical.parse::<std::net::IpAddr>().is_err() && !crate::cli::args::is_dns_name(&canonical)
    {
        return Err(format!(
            "invalid destination {raw:?}: expected a host name or IP address, optionally with :PORT"
        ));
    }
    Ok((canonical, port.or(scheme_port), scheme_proto))
}

fn run_match(a: MatchArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let (host, port, scheme_proto) = parse_target(&a.destination).map_err(crate::error::user)?;
    let protocol = a
        .protocol
        .as_deref()
        .map(|p| p.trim().to_ascii_uppercase())
        .or(scheme_proto.map(str::to_string));
    let (catalog, ctx) = a.cluster.resolve()?;
    let matches = catalog.lookup(Some(&host), port, protocol.as_deref(), &ctx);
    if a.format == CatalogFormat::Json {
        let v = serde_json::json!({
            "destination": host,
            "port": port,
            "protocol": protocol,
            "cloud": ctx.cloud,
            "catalog_version": catalog.version(),
            "catalog": matches,
        });
        serde_json::to_writer_pretty(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    let what = match (port, &protocol) {
        (Some(p), Some(pr)) => format!("{host} ({pr}/{p})"),
        (Some(p), None) => format!("{host}:{p}"),
        (None, Some(pr)) => format!("{host} ({pr})"),
        (None, None) => host.clone(),
    };
    if matches.is_empty() {
        writeln!(
            out,
            "{what}: not in the catalog (cloud {}; catalog {})",
            ctx.cloud,
            catalog.version()
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{what}: {} catalog match{} (cloud {}; catalog {}), most specific first",
        matches.len(),
        if matches.len() == 1 { "" } else { "es" },
        ctx.cloud,
        catalog.version()
    )?;
    for (i, m) in matches.iter().enumerate() {
        let e = m.entry;
        writeln!(out)?;
        writeln!(out, "{}. {}  [{}]", i + 1, e.pattern, e.id)?;
        if m.filled_pattern != e.pattern {
            writeln!(out, "   filled pattern: {}", m.filled_pattern)?;
        }
        let mut req = m.requirement.to_string();
        if m.requirement != e.requirement {
            req.push_str(&format!(" (declared {})", e.requirement));
        }
        writeln!(out, "   feature:        {}", e.feature)?;
        writeln!(out, "   requirement:    {req}")?;
        if let Some(why) = m.not_needed {
            writeln!(out, "   not needed:     {why}")?;
        }
        writeln!(out, "   status:         {}", e.status)?;
        writeln!(out, "   protocols:      {}", protocols_text(m))?;
        if !m.captures.is_empty() {
            let caps: Vec<String> = m.captures.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(out, "   captures:       {}", caps.join(", "))?;
        }
        if !e.expressible_as_rule {
            writeln!(
                out,
                "   rule:           not expressible as an Azure Firewall rule (labelling only)"
            )?;
        }
        if let Some(r) = &e.replaced_by {
            writeln!(out, "   replaced by:    {r}")?;
        }
        for n in &m.context_notes {
            writeln!(out, "   context:        {n}")?;
        }
        if let Some(note) = &e.note {
            writeln!(out, "   note:           {note}")?;
        }
        writeln!(out, "   source:         {}", e.source)?;
        if !matches!(e.origin, super::Origin::Builtin) {
            writeln!(out, "   from:           {}:{}", e.origin, e.line)?;
        }
    }
    Ok(())
}

fn features(a: FeaturesArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let catalog = super::Catalog::load(&a.catalogs)?;
    #[derive(serde::Serialize)]
    struct Row<'a> {
        name: &'a str,
        description: &'a str,
        entries: usize,
        conditional: usize,
        clouds: Vec<&'static str>,
        origin: &'a super::Origin,
    }
    let rows: Vec<Row<'_>> = catalog
        .features()
        .iter()
        .map(|f| {
            let es: Vec<_> = catalog
                .entries()
                .iter()
                .filter(|e| e.feature == f.name)
                .collect();
            let mut clouds: Vec<&'static str> = super::Cloud::ALL
                .into_iter()
                .filter(|c| es.iter().any(|e| e.clouds.contains(c)))
                .map(|c| c.as_str())
                .collect();
            clouds.dedup();
            Row {
                name: &f.name,
                description: &f.description,
                entries: es.len(),
                conditional: es
                    .iter()
                    .filter(|e| e.requirement == Requirement::Conditional)
                    .count(),
                clouds,
                origin: &f.origin,
            }
        })
        .collect();
    match a.format {
        CatalogFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)?;
        }
        CatalogFormat::Table => {
            let mut t = new_table(&["feature", "entries", "clouds", "description"]);
            for r in &rows {
                t.add_row(vec![
                    r.name.to_string(),
                    r.entries.to_string(),
                    r.clouds.join(", "),
                    r.description.to_string(),
                ]);
            }
            writeln!(out, "{t}")?;
            writeln!(
                out,
                "Use --features a,b to mark features in use: their conditional entries become required."
            )?;
        }
    }
    Ok(())
}
