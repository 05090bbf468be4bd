//! Which workspace to query, where, and how to sign in: command line, then environment, then the config file.
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
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use super::kql::{FirewallId, WorkspaceId};
pub use crate::catalog::context::Cloud;
use crate::error::user;

/// What the command line asked for; the environment and the config file fill in the rest ([`resolve`]).
#[derive(Debug, Clone, Default)]
pub struct LiveRequest {
    /// `--workspace` (repeatable).
    pub workspaces: Vec<WorkspaceId>,
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
    pub workspaces: Vec<WorkspaceId>,
    pub firewall: Option<FirewallId>,
    pub cloud: Cloud,
    /// Base URL without trailing slash.
    pub endpoint: String,
    pub auth: Option<AuthMethod>,
    /// Where the workspace came from, for messages.
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

fn load_file() -> anyhow::Result<(Option<PathBuf>, FileLogAnalytics)> {
    let Some(path) = config_path() else {
        return Ok((None, FileLogAnalytics::default()));
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((None, FileLogAnalytics::default()));
        }
        Err(e) => return Err(user(format!("{}: cannot read: {e}", path.display()))),
    };
    let cfg: FileConfig = toml::from_str(&text)
        .map_err(|e| user(format!("{}: {}", path.display(), e.to_string().trim())))?;
    Ok((Some(path), cfg.log_analytics))
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
    let mut origin = "--workspace";
    let mut workspaces = args.workspaces.clone();
    if workspaces.is_empty()
        && let Ok(v) = std::env::var("FWLOG_WORKSPACE")
        && !v.trim().is_empty()
    {
        origin = "FWLOG_WORKSPACE";
        for w in v.split(',').filter(|w| !w.trim().is_empty()) {
            workspaces.push(
                w.parse()
                    .map_err(|e: String| user(format!("FWLOG_WORKSPACE: {e}")))?,
            );
        }
    }
    if workspaces.is_empty() && !file.workspaces.is_empty() {
        origin = "the config file";
        for w in &file.workspaces {
            workspaces.push(
                w.parse()
                    .map_err(|e: String| user(format!("{}: {e}", at("workspaces"))))?,
            );
        }
    }
    if workspaces.is_empty() {
        return Ok(None);
    }
    if explicit_input {
        if !args.workspaces.is_empty() {
            return Err(user(
                "give either --input (exported files) or --workspace (Log Analytics), not both",
            ));
        }
        return Ok(None);
    }
    workspaces.sort();
    workspaces.dedup();
    let firewall = match (&args.firewall, &file.firewall) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(f)) => Some(
            f.parse()
                .map_err(|e: String| user(format!("{}: {e}", at("firewall"))))?,
        ),
        (None, None) => None,
    };
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
        .or(file.endpoint)
        .unwrap_or_else(|| endpoint_of(cloud).to_string());
    let endpoint = check_endpoint(&endpoint)?;
    Ok(Some(LiveConfig {
        workspaces,
        firewall,
        cloud,
        endpoint,
        auth: args.auth.or(file.auth),
        workspace_origin: origin,
        timeout: args.timeout.unwrap_or(DEFAULT_TIMEOUT),
    }))
}

/// The firewall to keep: `--firewall`, else the config file's (for `--print-kql`, which needs no workspace).
pub fn configured_firewall(args: &LiveRequest) -> anyhow::Result<Option<FirewallId>> {
    if let Some(f) = &args.firewall {
        return Ok(Some(f.clone()));
    }
    let (path, file) = load_file()?;
    file.firewall
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
    }
}
