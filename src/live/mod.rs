//! The live source: query Log Analytics workspaces, or the databases of an Azure Data Explorer cluster or Fabric
//! Eventhouse, instead of reading exported files. Every one of them speaks KQL, so the same templates run on
//! each; only the wire protocol and the table names differ.
//!
//! * [`kql`] — the query templates (`queries/*.kql`) and their typed, validated parameters.
//! * [`tables`] — what the service calls each Log Analytics table (table names are data).
//! * [`target`] — what a query runs against: a workspace, or a database of a cluster.
//! * [`config`] — workspace or cluster, cloud, endpoint and sign-in settings (flags, environment, config file).
//! * [`auth`] — the credential chain (env secret, workload identity, managed identity, Azure CLI).
//! * [`transport`] — the HTTP both services share: retries, back-off, the deadline, the answer cap.
//! * [`client`] — the query client and the Log Analytics Query API; [`kusto`] — the Kusto REST API (v2 frames).
//! * [`summary`] — the deny summary pushed down to the service, read back as canonical batches.
//! * [`follow`] — the state of `deny-report --follow`: overlapping minute-bucketed windows.
//! * [`arm`] — a firewall policy read from Azure Resource Manager (`--policy-id`).
//! * [`fetch`] — `fwlog fetch`: raw rows into canonical Parquet, in planned windows, resumable.
//! * [`archive`] — the control commands that present a storage archive to a cluster as fwlog's tables.
//!
//! Like the file source, it knows only its output: canonical batches and what it read.

pub mod archive;
pub mod arm;
pub mod auth;
pub mod client;
pub mod config;
pub mod fetch;
pub mod follow;
pub mod kql;
pub mod kusto;
pub mod summary;
pub mod tables;
pub mod target;
pub mod transport;

use auth::{Chain, Tokens};
use client::QueryClient;
use config::LiveConfig;
use kql::Window;

/// Window used when neither `--since` nor `--from` is given for a live query.
pub const DEFAULT_LIVE_WINDOW_US: i64 = 24 * 3600 * 1_000_000;

/// The closed window of a query window, defaulting to the last 24 hours for live queries.
pub fn window_of(window: &crate::query::Window, now_us: i64) -> Window {
    let (from_us, to_us) = window.bounded(now_us, DEFAULT_LIVE_WINDOW_US);
    Window { from_us, to_us }
}

/// Build the query client for a resolved configuration.
pub fn client_for(cfg: &LiveConfig) -> anyhow::Result<QueryClient> {
    // In the public cloud azure_identity is left to read AZURE_AUTHORITY_HOST (public authority when unset).
    let cloud = (cfg.cloud != config::Cloud::Public).then_some(cfg.cloud);
    let tokens = Tokens::Chain(Chain::new(cloud, &cfg.scope, cfg.auth));
    let mut c = QueryClient::for_service(cfg.service, &cfg.endpoint, tokens)?;
    c.deadline = Some(std::time::Instant::now() + cfg.timeout);
    if let Some(secs) = std::env::var("FWLOG_HTTP_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        c.http_timeout = std::time::Duration::from_secs(secs.max(1));
    }
    if let Some(ms) = std::env::var("FWLOG_MAX_RETRY_AFTER_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        c.max_retry_after = std::time::Duration::from_millis(ms);
    }
    if let Some(n) = std::env::var("FWLOG_MAX_RESPONSE_BYTES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        c.max_response_bytes = n;
    }
    if let Some(ms) = std::env::var("FWLOG_RETRY_BASE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        c.retry.base = std::time::Duration::from_millis(ms);
    }
    Ok(c)
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
