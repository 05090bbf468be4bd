//! `fwlog why SRC DEST[:PORT]`: one flow explained — the last decision the logs recorded for it, the rule of
//! the given policy that decides it now (or why none does), and the smallest change that would allow it.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use polars::prelude::*;

use super::Globals;
use super::args::{ClusterArgs, InputArgs, Listed, PolicyArgs, WindowArgs};
use crate::error::user;
use crate::event as ev;
use crate::input::{FileSource, Pushdown};
use crate::policy::{Flow, FlowKind};
use crate::query::Cidr;
use crate::query::values::{PROTOCOLS, parse_protocol, parse_target};
use crate::render::CatalogFormat;
use crate::render::policy::{Logged, Why, why_text};

#[derive(Debug, Clone, Args)]
pub struct WhyArgs {
    /// Where the flow comes from: an address (10.240.0.4) or a subnet (10.240.0.0/24).
    #[arg(value_name = "SRC")]
    pub source: Cidr,

    /// Where it goes: HOST, HOST:PORT, [IPv6]:PORT or a URL.
    #[arg(value_name = "DEST[:PORT]")]
    pub destination: String,

    /// The protocol (default: the URL's scheme, else HTTPS on 443, HTTP on 80, TCP on any other port).
    #[arg(long, value_name = "PROTOCOL", value_parser = Listed::new(|| PROTOCOLS.to_vec(), parse_protocol))]
    pub protocol: Option<String>,

    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub window: WindowArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Output format: `table` (text for people) or `json`.
    #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
    pub format: CatalogFormat,
}

pub fn run(args: WhyArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let (host, port, scheme) = parse_target(&args.destination).map_err(user)?;
    let is_ip = host.parse::<IpAddr>().is_ok();
    let protocol = args
        .protocol
        .clone()
        .or(scheme.map(str::to_string))
        .unwrap_or_else(|| {
            match port {
                Some(443) if !is_ip => "HTTPS",
                Some(80) if !is_ip => "HTTP",
                _ => "TCP",
            }
            .to_string()
        });
    let kind = if !is_ip && matches!(protocol.as_str(), "HTTP" | "HTTPS" | "MSSQL") {
        FlowKind::Application
    } else {
        FlowKind::Network
    };
    let port16 = port.and_then(|p| u16::try_from(p).ok());
    let source = args.source.0;
    let source_text = if source.prefix_len() == source.max_prefix_len() {
        source.addr().to_string()
    } else {
        source.to_string()
    };
    let flow_text = format!(
        "{protocol} {host}{} from {source_text}",
        port.map(|p| format!(":{p}")).unwrap_or_default()
    );
    let logged = if args.input.inputs.is_empty() {
        None
    } else {
        let window = args.window.window(super::now_us())?;
        last_logged(&args.input, &window, &args.source, &host, port)?
    };
    let mut why = Why::new(flow_text, logged);
    // `why` has no --auth: a live policy signs in with the credential chain.
    if let Some(inputs) = args.policy.load(args.cluster.cloud, None)? {
        let (catalog, ctx) = args.cluster.resolve()?;
        let env = crate::policy::Env::new(&inputs, &catalog, &ctx);
        let flow = Flow {
            kind,
            protocol,
            source: args.source.0,
            destination: Some(host),
            port: port16,
            last_seen_us: why
                .logged
                .as_ref()
                .and_then(|l| crate::event::normalize::time_us(&l.time)),
        };
        let x = crate::policy::explain(&inputs.policy, &flow, &env);
        let change = crate::policy::smallest_change(&inputs.policy, &x, &env);
        why = why.with_policy(&inputs.policy.name, &x, &change);
    }
    let bytes = match args.format {
        CatalogFormat::Json => {
            let mut v = serde_json::to_vec_pretty(&why)?;
            v.push(b'\n');
            v
        }
        CatalogFormat::Table => {
            let terminal = std::io::stdout().is_terminal();
            let layout = crate::render::table::Layout::detect(terminal, globals.width);
            why_text(&why, &layout).into_bytes()
        }
    };
    crate::output::emit(None, &bytes)?;
    Ok(ExitCode::SUCCESS)
}

/// The last event of the flow in the inputs, any action: its time, verdict and the rule (or reason) behind it.
fn last_logged(
    input: &InputArgs,
    window: &crate::query::Window,
    source: &Cidr,
    host: &str,
    port: Option<u32>,
) -> anyhow::Result<Option<Logged>> {
    let files = FileSource::open(&input.inputs, input.input_format, input.keep_duplicates)?;
    let pushdown = Pushdown {
        from_us: window.from_us,
        to_us: window.to_us,
        deny_only: false,
        core_only: false,
    };
    // Only rows to this destination leave the reader threads.
    let (h, p) = (host.to_string(), port);
    let transform = Arc::new(move |df: DataFrame| -> anyhow::Result<DataFrame> {
        let mut pred = col(ev::DESTINATION).eq(lit(h.clone()));
        if let Some(p) = p {
            pred = pred.and(col(ev::DESTINATION_PORT).eq(lit(p)));
        }
        Ok(df.lazy().filter(pred).collect()?)
    });
    let mut frames = Vec::new();
    let stats = files.read(pushdown, Some(transform), false, &mut |df| {
        frames.push(df);
        Ok(())
    })?;
    let df = crate::input::concat_frames(frames)?;
    let mut best: Option<(i64, usize)> = None;
    let (mut events, mut first) = (0u64, i64::MAX);
    let src = df.column(ev::SOURCE_IP)?.str()?.clone();
    let times = df
        .column(ev::TIME)?
        .as_materialized_series()
        .cast(&DataType::Int64)?;
    let times = times.i64()?;
    let hits = df.column(ev::HITS)?.u64()?.clone();
    for i in 0..df.height() {
        let in_source = src
            .get(i)
            .and_then(|s| s.parse::<IpAddr>().ok())
            .is_some_and(|ip| source.0.contains(&ip));
        let Some(t) = times.get(i) else { continue };
        if !in_source {
            continue;
        }
        events += hits.get(i).unwrap_or(1);
        first = first.min(t);
        if best.is_none_or(|(bt, _)| t >= bt) {
            best = Some((t, i));
        }
    }
    let Some((t, i)) = best else {
        return Ok(None);
    };
    let text = |c: &str| -> anyhow::Result<Option<String>> {
        Ok(df.column(c)?.str()?.get(i).map(str::to_string))
    };
    let rule: Vec<String> = [
        ev::POLICY,
        ev::RULE_COLLECTION_GROUP,
        ev::RULE_COLLECTION,
        ev::RULE,
    ]
    .iter()
    .filter_map(|c| text(c).ok().flatten())
    .filter(|s| !s.is_empty())
    .collect();
    let decided_by = if rule.is_empty() {
        text(ev::REASON_TEXT)?
            .filter(|s| !s.is_empty())
            .or(text(ev::REASON)?)
            .unwrap_or_else(|| "no rule named".into())
    } else {
        format!("rule {}", rule.join(" / "))
    };
    Ok(Some(Logged {
        time: crate::event::normalize::format_time_us(t),
        action: text(ev::ACTION)?.unwrap_or_else(|| "-".into()),
        decided_by,
        events,
        first_seen: crate::event::normalize::format_time_us(first),
        origin: text(ev::ORIGIN_FILE)?
            .or_else(|| stats.files.first().cloned())
            .unwrap_or_default(),
    }))
}
