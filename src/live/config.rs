//! Which workspace or cluster database to query, where, and how to sign in: command line, then environment,
//! then the config file.
//!
//! Config file: `$FWLOG_CONFIG`, else `$XDG_CONFIG_HOME/fwlog/config.toml`, else `~/.config/fwlog/config.toml`:
//!
//! ```toml
//! [log_analytics]
//! workspaces = ["0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"]   # workspace IDs (GUIDs)
//! firewall = "/subscriptions/…/resourceGroups/rg-hub/providers/Microsoft.Network/azureFirewalls/fw-hub"
//! cloud = "public"          # public | usgov | china (a non-public --cloud wins)
//! auth = "cli"              # env | workload | msi | cli (default: try them in that order)
//! endpoint = "https://api.loganalytics.azure.com"   # only to override the cloud's default
//!
//! [kusto]
//! cluster = "https://fwlogs.westeurope.kusto.windows.net"   # or a Fabric Eventhouse query URI
//! database = "firewall"                                     # or ["hub-weu", "hub-neu"]
//! table_map = { AZFWNetworkRule = "FirewallNetwork", AzureDiagnostics = "FwArchive_AzureDiagnostics(window)" }
//! auth = "cli"              # as above; default: [log_analytics] auth, else the chain
//! cloud = "public"          # the sign-in authority
//! audience = "https://kusto.kusto.windows.net"              # only to override the cluster's token audience
//! ```
//!
//! A run reads either Log Analytics or a cluster. The command line decides first (`--workspace` or `--cluster`,
//! `--database`, `--table-map`); then the environment (`FWLOG_WORKSPACE` or `FWLOG_KUSTO_CLUSTER` with
//! `FWLOG_KUSTO_DATABASE`); then the config file. Naming both at the same level is an error that says so.

use std::path::PathBuf;

use serde::Deserialize;

use super::client::Service;
use super::kql::{FirewallId, WorkspaceId};
use super::tables::{Entity, LaTable, Tables};
use super::target::{ClusterUrl, DatabaseName, Target};
pub use crate::catalog::context::Cloud;
use crate::error::user;

/// What the command line asked for; the environment and the config file fill in the rest ([`resolve`]).
#[derive(Debug, Clone, Default)]
pub struct LiveRequest {
    /// `--workspace` (repeatable).
    pub workspaces: Vec<WorkspaceId>,
    /// `--cluster`: a Kusto query URI.
    pub cluster: Option<ClusterUrl>,
    /// `--database` (repeatable).
    pub databases: Vec<DatabaseName>,
    /// `--table-map TABLE=ENTITY` (repeatable).
    pub table_map: Vec<(LaTable, Entity)>,
    /// `--firewall`: only rows of this firewall.
    pub firewall: Option<FirewallId>,
    /// `--endpoint`: the Query API base URL.
    pub endpoint: Option<String>,
    /// `--auth`: sign in only this way.
    pub auth: Option<AuthMethod>,
    /// `--timeout`: how long all requests of the run may take together.
    pub timeout: Option<std::time::Duration>,
}

/// How long all Log Analytics requests of one run may take together unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Query API base URL of a cloud. Sovereign hosts follow Microsoft's published pattern (reference §5.1 marks
/// them uncertain); `--endpoint` overrides.
pub fn endpoint_of(c: Cloud) -> &'static str {
    match c {
        Cloud::Public => "https://api.loganalytics.azure.com",
        Cloud::Usgov => "https://api.loganalytics.us",
        Cloud::China => "https://api.loganalytics.azure.cn",
    }
}

/// Token scope (audience) for the Query API of a cloud.
pub fn scope_of(c: Cloud) -> &'static str {
    match c {
        Cloud::Public => "https://api.loganalytics.io/.default",
        Cloud::Usgov => "https://api.loganalytics.us/.default",
        Cloud::China => "https://api.loganalytics.azure.cn/.default",
    }
}

/// The sign-in authority of a cloud, as azure_core names it.
pub fn authority_of(c: Cloud) -> azure_core::cloud::CloudConfiguration {
    use azure_core::cloud::CloudConfiguration as C;
    match c {
        Cloud::Public => C::AzurePublic,
        Cloud::Usgov => C::AzureGovernment,
        Cloud::China => C::AzureChina,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// Service principal secret: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET.
    Env,
    /// Workload identity (AKS pods, GitHub OIDC): AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID.
    Workload,
    /// Managed identity of the VM, App Service or container (IDENTITY_ENDPOINT or the instance metadata service).
    Msi,
    /// The Azure CLI's signed-in account (`az login`).
    Cli,
}

impl AuthMethod {
    pub const CHAIN: [AuthMethod; 4] = [
        AuthMethod::Env,
        AuthMethod::Workload,
        AuthMethod::Msi,
        AuthMethod::Cli,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Env => "env (client secret)",
            AuthMethod::Workload => "workload identity",
            AuthMethod::Msi => "managed identity",
            AuthMethod::Cli => "Azure CLI",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    log_analytics: FileLogAnalytics,
    #[serde(default)]
    kusto: FileKusto,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKusto {
    cluster: Option<String>,
    database: Option<OneOrMany>,
    #[serde(default)]
    table_map: std::collections::BTreeMap<String, String>,
    auth: Option<AuthMethod>,
    cloud: Option<Cloud>,
    audience: Option<String>,
}

/// `database = "x"` or `database = ["x", "y"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLogAnalytics {
    #[serde(default)]
    workspaces: Vec<String>,
    firewall: Option<String>,
    cloud: Option<Cloud>,
    auth: Option<AuthMethod>,
    endpoint: Option<String>,
}

/// Everything resolved: where to send queries and how to sign in.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// The workspaces, or the databases of one cluster, in a fixed order.
    pub targets: Vec<Target>,
    pub service: Service,
    pub firewall: Option<FirewallId>,
    pub cloud: Cloud,
    /// Base URL without trailing slash: the Query API endpoint or the cluster's query URI.
    pub endpoint: String,
    /// The token scope (`<audience>/.default`).
    pub scope: String,
    /// What the service calls each table.
    pub tables: Tables,
    pub auth: Option<AuthMethod>,
    /// Where the workspace or cluster came from, for messages.
    pub workspace_origin: &'static str,
    /// How long all requests of the run may take together.
    pub timeout: std::time::Duration,
}

pub fn config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FWLOG_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("fwlog").join("config.toml"))
}

fn load_file() -> anyhow::Result<(Option<PathBuf>, FileConfig)> {
    let Some(path) = config_path() else {
        return Ok((None, FileConfig::default()));
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((None, FileConfig::default()));
        }
        Err(e) => return Err(user(format!("{}: cannot read: {e}", path.display()))),
    };
    let cfg: FileConfig = toml::from_str(&text)
        .map_err(|e| user(format!("{}: {}", path.display(), e.to_string().trim())))?;
    Ok((Some(path), cfg))
}

/// Which service a run reads, and at which level it was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    LogAnalytics(&'static str),
    Kusto(&'static str),
}

fn env_set(k: &str) -> bool {
    std::env::var(k).is_ok_and(|v| !v.trim().is_empty())
}

/// Log Analytics or a cluster, and where that was said; `None` when nothing names either.
fn choose(
    args: &LiveRequest,
    file: &FileConfig,
    at: &dyn Fn(&str) -> String,
    env_set: &dyn Fn(&str) -> bool,
) -> anyhow::Result<Option<Choice>> {
    let cli_la = !args.workspaces.is_empty();
    let cli_kusto =
        args.cluster.is_some() || !args.databases.is_empty() || !args.table_map.is_empty();
    match (cli_la, cli_kusto) {
        (true, true) => {
            return Err(user(
                "give either --workspace (Log Analytics) or --cluster/--database (Azure Data Explorer, Fabric), not both",
            ));
        }
        (true, false) => return Ok(Some(Choice::LogAnalytics("--workspace"))),
        (false, true) => return Ok(Some(Choice::Kusto("--cluster"))),
        (false, false) => {}
    }
    match (env_set("FWLOG_WORKSPACE"), env_set("FWLOG_KUSTO_CLUSTER")) {
        (true, true) => {
            return Err(user(
                "both FWLOG_WORKSPACE and FWLOG_KUSTO_CLUSTER are set: unset one, or choose with --workspace or --cluster",
            ));
        }
        (true, false) => return Ok(Some(Choice::LogAnalytics("FWLOG_WORKSPACE"))),
        (false, true) => return Ok(Some(Choice::Kusto("FWLOG_KUSTO_CLUSTER"))),
        (false, false) => {}
    }
    match (
        !file.log_analytics.workspaces.is_empty(),
        file.kusto.cluster.is_some(),
    ) {
        (true, true) => Err(user(format!(
            "{}: names both Log Analytics workspaces and a cluster: choose with --workspace or --cluster",
            at("log_analytics.workspaces, kusto.cluster")
        ))),
        (true, false) => Ok(Some(Choice::LogAnalytics("the config file"))),
        (false, true) => Ok(Some(Choice::Kusto("the config file"))),
        (false, false) => Ok(None),
    }
}

/// Resolve the live settings. `Ok(None)` when no workspace is configured anywhere (the offline path applies).
/// `explicit_input`: the user gave `--input`, which then wins over a workspace from the environment or file.
///
/// `cloud` is the shared `--cloud` (the cluster's cloud, default public): a sovereign cloud given there wins,
/// else the config file's `cloud`, else public.
pub fn resolve(
    args: &LiveRequest,
    cloud: Cloud,
    explicit_input: bool,
) -> anyhow::Result<Option<LiveConfig>> {
    let (path, file) = load_file()?;
    let at = |what: &str| match &path {
        Some(p) => format!("{} ({what})", p.display()),
        None => what.to_string(),
    };
    // Files named on the command line win over a workspace or cluster from the environment or the config file
    // (which are then not even looked at); a live source named on the command line too is a contradiction.
    if explicit_input {
        let live_flags = !args.workspaces.is_empty()
            || args.cluster.is_some()
            || !args.databases.is_empty()
            || !args.table_map.is_empty();
        if live_flags {
            return Err(user(
                "give either --input (exported files) or --workspace/--cluster (a live source), not both",
            ));
        }
        return Ok(None);
    }
    let Some(choice) = choose(args, &file, &at, &env_set)? else {
        return Ok(None);
    };
    let firewall = match (&args.firewall, &file.log_analytics.firewall) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(f)) => Some(
            f.parse()
                .map_err(|e: String| user(format!("{}: {e}", at("firewall"))))?,
        ),
        (None, None) => None,
    };
    let timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
    match choice {
        Choice::LogAnalytics(origin) => resolve_log_analytics(
            args,
            &file.log_analytics,
            &at,
            origin,
            cloud,
            firewall,
            timeout,
        ),
        Choice::Kusto(origin) => resolve_kusto(args, &file, &at, origin, cloud, firewall, timeout),
    }
    .map(Some)
}

fn resolve_log_analytics(
    args: &LiveRequest,
    file: &FileLogAnalytics,
    at: &dyn Fn(&str) -> String,
    origin: &'static str,
    cloud: Cloud,
    firewall: Option<FirewallId>,
    timeout: std::time::Duration,
) -> anyhow::Result<LiveConfig> {
    let mut workspaces = args.workspaces.clone();
    if workspaces.is_empty()
        && let Ok(v) = std::env::var("FWLOG_WORKSPACE")
    {
        for w in v.split(',').filter(|w| !w.trim().is_empty()) {
            workspaces.push(
                w.parse()
                    .map_err(|e: String| user(format!("FWLOG_WORKSPACE: {e}")))?,
            );
        }
    }
    if workspaces.is_empty() {
        for w in &file.workspaces {
            workspaces.push(
                w.parse()
                    .map_err(|e: String| user(format!("{}: {e}", at("workspaces"))))?,
            );
        }
    }
    workspaces.sort();
    workspaces.dedup();
    let cloud = if cloud != Cloud::Public {
        cloud
    } else {
        file.cloud.unwrap_or(Cloud::Public)
    };
    let endpoint = args
        .endpoint
        .clone()
        .or_else(|| {
            std::env::var("FWLOG_LOGANALYTICS_ENDPOINT")
                .ok()
                .filter(|v| !v.is_empty())
        })
        .or(file.endpoint.clone())
        .unwrap_or_else(|| endpoint_of(cloud).to_string());
    let endpoint = check_endpoint(&endpoint)?;
    Ok(LiveConfig {
        targets: workspaces.into_iter().map(Target::Workspace).collect(),
        service: Service::LogAnalytics,
        firewall,
        cloud,
        endpoint,
        scope: scope_of(cloud).to_string(),
        tables: Tables::log_analytics(),
        auth: args.auth.or(file.auth),
        workspace_origin: origin,
        timeout,
    })
}

fn resolve_kusto(
    args: &LiveRequest,
    file: &FileConfig,
    at: &dyn Fn(&str) -> String,
    origin: &'static str,
    cloud: Cloud,
    firewall: Option<FirewallId>,
    timeout: std::time::Duration,
) -> anyhow::Result<LiveConfig> {
    let k = &file.kusto;
    if args.endpoint.is_some() {
        return Err(user(
            "--endpoint is the Log Analytics endpoint; a cluster is given with --cluster (its query URI)",
        ));
    }
    let cluster: ClusterUrl = match &args.cluster {
        Some(c) => c.clone(),
        None => match std::env::var("FWLOG_KUSTO_CLUSTER")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(v) => v
                .parse()
                .map_err(|e: String| user(format!("FWLOG_KUSTO_CLUSTER: {e}")))?,
            None => match &k.cluster {
                Some(c) => c
                    .parse()
                    .map_err(|e: String| user(format!("{}: {e}", at("kusto.cluster"))))?,
                None => {
                    return Err(user(
                        "--database and --table-map need a cluster: --cluster URL, FWLOG_KUSTO_CLUSTER, or `cluster`                          in the config file's [kusto] section",
                    ));
                }
            },
        },
    };
    let mut databases = args.databases.clone();
    if databases.is_empty()
        && let Ok(v) = std::env::var("FWLOG_KUSTO_DATABASE")
    {
        for d in v.split(',').filter(|d| !d.trim().is_empty()) {
            databases.push(
                d.parse()
                    .map_err(|e: String| user(format!("FWLOG_KUSTO_DATABASE: {e}")))?,
            );
        }
    }
    if databases.is_empty()
        && let Some(d) = &k.database
    {
        for d in d.items() {
            databases.push(
                d.parse()
                    .map_err(|e: String| user(format!("{}: {e}", at("kusto.database"))))?,
            );
        }
    }
    if databases.is_empty() {
        return Err(user(format!(
            "the cluster {cluster} needs a database: --database NAME, FWLOG_KUSTO_DATABASE, or `database` in the              config file's [kusto] section"
        )));
    }
    databases.sort();
    databases.dedup();
    // The config file's map first, then --table-map entries, which win table by table.
    let mut map = std::collections::BTreeMap::new();
    for (t, e) in &k.table_map {
        let entry = super::tables::parse_map_entry(&format!("{t}={e}"))
            .map_err(|e| user(format!("{}: {e}", at("kusto.table_map"))))?;
        map.insert(entry.0, entry.1);
    }
    for (t, e) in &args.table_map {
        map.insert(*t, e.clone());
    }
    let cloud = if cloud != Cloud::Public {
        cloud
    } else {
        k.cloud
            .or(file.log_analytics.cloud)
            .unwrap_or(Cloud::Public)
    };
    let audience = match &k.audience {
        Some(a) => check_endpoint(a).map_err(|_| {
            user(format!(
                "{}: expected an https URL such as {}",
                at("kusto.audience"),
                super::target::KUSTO_AUDIENCE
            ))
        })?,
        None => cluster.audience(),
    };
    Ok(LiveConfig {
        targets: databases.into_iter().map(Target::Database).collect(),
        service: Service::Kusto,
        firewall,
        cloud,
        endpoint: cluster.to_string(),
        scope: format!("{audience}/.default"),
        tables: Tables::cluster(map),
        auth: args.auth.or(k.auth).or(file.log_analytics.auth),
        workspace_origin: origin,
        timeout,
    })
}

/// The tables `--print-kql` writes queries for: a cluster's when the command line, environment or config file
/// names one (with its table map), else Log Analytics'. Needs no database and no sign-in.
pub fn configured_tables(args: &LiveRequest) -> anyhow::Result<Tables> {
    let (path, file) = load_file()?;
    let at = |what: &str| match &path {
        Some(p) => format!("{} ({what})", p.display()),
        None => what.to_string(),
    };
    match choose(args, &file, &at, &env_set)? {
        Some(Choice::Kusto(_)) => {
            let mut map = std::collections::BTreeMap::new();
            for (t, e) in &file.kusto.table_map {
                let entry = super::tables::parse_map_entry(&format!("{t}={e}"))
                    .map_err(|e| user(format!("{}: {e}", at("kusto.table_map"))))?;
                map.insert(entry.0, entry.1);
            }
            for (t, e) in &args.table_map {
                map.insert(*t, e.clone());
            }
            Ok(Tables::cluster(map))
        }
        _ => Ok(Tables::log_analytics()),
    }
}

/// The firewall to keep: `--firewall`, else the config file's (for `--print-kql`, which needs no workspace).
pub fn configured_firewall(args: &LiveRequest) -> anyhow::Result<Option<FirewallId>> {
    if let Some(f) = &args.firewall {
        return Ok(Some(f.clone()));
    }
    let (path, file) = load_file()?;
    file.log_analytics
        .firewall
        .map(|f| {
            f.parse().map_err(|e: String| {
                let at = path
                    .map(|p| format!("{} (firewall)", p.display()))
                    .unwrap_or_else(|| "firewall".into());
                user(format!("{at}: {e}"))
            })
        })
        .transpose()
}

/// The endpoint must be https, except plain http to this machine (a local proxy or a test double).
/// (Also used for the `[kusto] audience` override, which is a URL of the same kind.)
pub fn check_endpoint(raw: &str) -> anyhow::Result<String> {
    let t = raw.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(t)
        .map_err(|e| user(format!("invalid Log Analytics endpoint {raw:?}: {e}")))?;
    let local = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let ok = url.scheme() == "https" || (url.scheme() == "http" && local);
    if !ok || url.query().is_some() || url.username() != "" || url.password().is_some() {
        return Err(user(format!(
            "invalid Log Analytics endpoint {raw:?}: expected https://host[/path] (plain http only to localhost)"
        )));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_or_local() {
        assert_eq!(
            check_endpoint("https://api.loganalytics.azure.com/").unwrap(),
            "https://api.loganalytics.azure.com"
        );
        assert!(check_endpoint("http://127.0.0.1:8080").is_ok());
        assert!(check_endpoint("http://example.com").is_err());
        assert!(check_endpoint("https://user:pw@example.com").is_err());
        assert!(check_endpoint("not a url").is_err());
    }

    #[test]
    fn config_file_shape() {
        let cfg: FileConfig = toml::from_str(
            r#"[log_analytics]
workspaces = ["0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"]
cloud = "usgov"
auth = "cli"
"#,
        )
        .unwrap();
        assert_eq!(cfg.log_analytics.cloud, Some(Cloud::Usgov));
        assert_eq!(cfg.log_analytics.auth, Some(AuthMethod::Cli));
        assert!(toml::from_str::<FileConfig>("[log_analytics]\nworkspace = \"x\"\n").is_err());
        let k: FileConfig = toml::from_str(
            r#"[kusto]
cluster = "https://fwlogs.westeurope.kusto.windows.net"
database = ["hub-weu", "hub-neu"]
table_map = { AZFWNetworkRule = "FirewallNetwork" }
"#,
        )
        .unwrap();
        assert_eq!(
            k.kusto.database.unwrap().items(),
            vec!["hub-weu", "hub-neu"]
        );
        assert_eq!(k.kusto.table_map["AZFWNetworkRule"], "FirewallNetwork");
        assert!(toml::from_str::<FileConfig>("[kusto]\ntables = 1\n").is_err());
    }

    /// The command line decides first, then the environment, then the file; naming both services at one level
    /// is an error, at another level it is not.
    #[test]
    fn the_first_level_that_names_a_service_decides() {
        let at = |w: &str| format!("config.toml ({w})");
        let file: FileConfig = toml::from_str(
            "[log_analytics]\nworkspaces = [\"0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\"]\n\
             [kusto]\ncluster = \"https://c.kusto.windows.net\"\n",
        )
        .unwrap();
        let none = |_: &str| false;
        let la_env = |k: &str| k == "FWLOG_WORKSPACE";
        let both_env = |k: &str| k == "FWLOG_WORKSPACE" || k == "FWLOG_KUSTO_CLUSTER";
        let cli_kusto = LiveRequest {
            databases: vec!["fw".parse().unwrap()],
            ..Default::default()
        };
        let cli_la = LiveRequest {
            workspaces: vec!["0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".parse().unwrap()],
            ..Default::default()
        };
        let empty = FileConfig::default();
        let pick = |a: &LiveRequest, f: &FileConfig, e: &dyn Fn(&str) -> bool| {
            choose(a, f, &at, e).map_err(|e| e.to_string())
        };
        assert_eq!(
            pick(&cli_kusto, &file, &both_env),
            Ok(Some(Choice::Kusto("--cluster")))
        );
        assert_eq!(
            pick(&LiveRequest::default(), &file, &la_env),
            Ok(Some(Choice::LogAnalytics("FWLOG_WORKSPACE")))
        );
        assert_eq!(pick(&LiveRequest::default(), &empty, &none), Ok(None));
        let e = pick(&LiveRequest::default(), &file, &none).unwrap_err();
        assert!(e.contains("config.toml") && e.contains("both"), "{e}");
        let e = pick(&LiveRequest::default(), &empty, &both_env).unwrap_err();
        assert!(e.contains("FWLOG_KUSTO_CLUSTER"), "{e}");
        let mut both = cli_la.clone();
        both.cluster = Some("https://c.kusto.windows.net".parse().unwrap());
        assert!(pick(&both, &empty, &none).unwrap_err().contains("not both"));
    }
}
