//! Argument groups several commands share, and the clap side of the domain types they parse into.
//!
//! Values are checked cheaply here by calling the domain parsers below (`crate::query` value types, catalog
//! and live settings); each group then turns into the domain value the lower layers take (a [`Window`],
//! [`Filters`], a [`Grouping`], a cluster spec, a live request). Nothing below `src/cli` knows clap.

use std::path::PathBuf;

use clap::Args;
use clap::builder::PossibleValue;

use crate::catalog::context::{Cloud, ClusterSpec};
use crate::catalog::{Catalog, Context, Requirement};
use crate::event::Kind;
use crate::input::InputFormat;
use crate::live::config::{AuthMethod, LiveRequest};
use crate::live::kql::{FirewallId, WorkspaceId};
use crate::live::tables::{Entity, LaTable, parse_map_entry};
use crate::live::target::{ClusterUrl, DatabaseName};
use crate::query::values::{parse_kind, parse_protocol, parse_time};
use crate::query::{Cidr, DestinationPattern, Duration, FailOn, Filters, Grouping, Window};
use crate::render::{CatalogFormat, RecommendFormat, ReportFormat};

/// `clap::ValueEnum` for a domain enum: its variants, their command-line names and help.
macro_rules! value_enum {
    ($ty:ty { $($variant:path => $name:literal $(: $help:literal)?),+ $(,)? }) => {
        impl clap::ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($variant),+]
            }
            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $($variant => PossibleValue::new($name)$(.help($help))?),+
                })
            }
        }
    };
}

value_enum!(InputFormat {
    InputFormat::Parquet => "parquet": "Parquet with resource-specific (`AZFW*`) or `AzureDiagnostics` columns",
    InputFormat::Json => "json": "Any JSON shape: JSON lines records, `{\"records\":[…]}`, `{\"tables\":[…]}`, arrays of row objects",
    InputFormat::Csv => "csv": "Portal \"Export to CSV\"",
});

value_enum!(ReportFormat {
    ReportFormat::Table => "table",
    ReportFormat::Json => "json",
    ReportFormat::Csv => "csv",
    ReportFormat::Tsv => "tsv",
    ReportFormat::Markdown => "markdown",
    ReportFormat::Parquet => "parquet",
});

value_enum!(RecommendFormat {
    RecommendFormat::Table => "table",
    RecommendFormat::Json => "json",
    RecommendFormat::Markdown => "markdown",
    RecommendFormat::Bicep => "bicep",
    RecommendFormat::Terraform => "terraform",
    RecommendFormat::Arm => "arm",
    RecommendFormat::Azcli => "azcli",
});

value_enum!(CatalogFormat {
    CatalogFormat::Table => "table",
    CatalogFormat::Json => "json",
});

value_enum!(Cloud {
    Cloud::Public => "public": "Azure global (public) cloud",
    Cloud::China => "china": "Microsoft Azure operated by 21Vianet",
    Cloud::Usgov => "usgov": "Azure US Government",
});

value_enum!(AuthMethod {
    AuthMethod::Env => "env": "Service principal secret: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET",
    AuthMethod::Workload => "workload": "Workload identity (AKS pods, GitHub OIDC): AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID",
    AuthMethod::Msi => "msi": "Managed identity of the VM, App Service or container (IDENTITY_ENDPOINT or the instance metadata service)",
    AuthMethod::Cli => "cli": "The Azure CLI's signed-in account (`az login`)",
});

value_enum!(Requirement {
    Requirement::Required => "required": "Part of the base cluster",
    Requirement::Conditional => "conditional": "Needed when a feature / add-on / scenario is in use",
    Requirement::Recommended => "recommended": "Optional but advised (e.g. Ubuntu security updates)",
    Requirement::Informational => "informational": "Platform traffic the docs mention whose denial is harmless (managed disks, VM agent)",
    Requirement::NonAks => "non-aks": "A known service AKS does not need (Docker Hub, Ubuntu motd/ESM, …)",
    Requirement::NotNeeded => "not-needed": "Only as an effective requirement: the cluster context makes the entry unnecessary",
});

/// A value parser that checks a value with a domain parser and lists the values help and shell completions
/// offer (the check stays the domain's: `--features` accepts the features of user catalogs too).
#[derive(Clone)]
pub struct Listed<T: Clone + Send + Sync + 'static> {
    values: fn() -> Vec<&'static str>,
    parse: fn(&str) -> Result<T, String>,
}

impl<T: Clone + Send + Sync + 'static> Listed<T> {
    pub fn new(values: fn() -> Vec<&'static str>, parse: fn(&str) -> Result<T, String>) -> Self {
        Listed { values, parse }
    }
}

impl<T: Clone + Send + Sync + 'static> clap::builder::TypedValueParser for Listed<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        clap::builder::TypedValueParser::parse_ref(&self.parse, cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            (self.values)().into_iter().map(PossibleValue::new),
        ))
    }
}

fn protocols() -> Vec<&'static str> {
    crate::query::values::PROTOCOLS.to_vec()
}

fn kinds() -> Vec<&'static str> {
    Kind::ALL.iter().map(|k| k.as_str()).collect()
}

/// The built-in catalog's feature names (user catalogs may add more; they are checked when loaded).
fn feature_names() -> Vec<&'static str> {
    let mut names = crate::catalog::Catalog::builtin().feature_names();
    names.push("none");
    names
}

fn feature_name(s: &str) -> Result<String, String> {
    Ok(s.trim().to_ascii_lowercase())
}

/// `-o FILE`, refusing a bare format name: `-o json` (az and kubectl's spelling of `--format json`) would
/// otherwise write a file named `json`. `./json` still names that file.
pub fn output_file<F: clap::ValueEnum>(s: &str) -> Result<PathBuf, String> {
    let is_format = F::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value())
        .any(|p| p.matches(s, true));
    if is_format {
        return Err(format!(
            "{s:?} is a format name, and -o/--output takes a file: use --format {s} (or -o ./{s} for a file named {s})"
        ));
    }
    Ok(PathBuf::from(s))
}

value_enum!(FailOn {
    FailOn::Required => "required": "a deny to an endpoint AKS needs (the base cluster, or a feature given with --features)",
    FailOn::Needed => "needed": "also endpoints of features not given, and recommended ones",
    FailOn::Any => "any": "any deny",
});

/// Shell words of the cluster options as given, to repeat them in a suggested command.
impl ClusterArgs {
    pub fn as_words(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.cloud != Cloud::Public {
            w.extend(["--cloud".to_string(), self.cloud.to_string()]);
        }
        if let Some(r) = &self.region {
            w.extend(["--region".to_string(), r.clone()]);
        }
        if !self.features.is_empty() {
            w.extend(["--features".to_string(), self.features.join(",")]);
        }
        for (on, flag) in [
            (self.private_cluster, "--private-cluster"),
            (self.konnectivity, "--konnectivity"),
            (
                self.api_server_vnet_integration,
                "--api-server-vnet-integration",
            ),
        ] {
            if on {
                w.push(flag.to_string());
            }
        }
        for c in &self.catalogs {
            w.extend(["--catalog".to_string(), c.display().to_string()]);
        }
        w
    }
}

/// Where events come from.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Exported log files, folders (read recursively) or glob patterns; `.gz` files are decompressed; `-` reads
    /// stdin, and a named pipe (`<(zcat logs.gz)`) is read as a stream. Files
    /// suit an incident's export; for recent days query Log Analytics (--workspace), for months or years of
    /// archives a cluster (--cluster).
    #[arg(short, long = "input", value_name = "PATH", num_args = 1..)]
    pub inputs: Vec<String>,

    /// Skip content detection and read every input as this format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<InputFormat>,

    /// Count an event archived twice (e.g. both diagnostic modes on) every time it appears.
    #[arg(long)]
    pub keep_duplicates: bool,
}

/// Which time range to report on.
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// Only events newer than this, relative to now: `90s`, `30m`, `1h`, `7d`, `2w`.
    #[arg(long, value_name = "DURATION", conflicts_with = "from")]
    pub since: Option<Duration>,

    /// Only events at or after this time (RFC 3339, e.g. `2026-09-07T09:00:00Z`).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<i64>,

    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: Option<i64>,
}

impl WindowArgs {
    pub fn window(&self, now_us: i64) -> anyhow::Result<Window> {
        Window::resolve(self.since, self.from, self.to, now_us)
    }
}

/// Which denies to keep.
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Only traffic from this source range (CIDR or single IP); repeatable.
    #[arg(long = "source", value_name = "CIDR")]
    pub sources: Vec<Cidr>,

    /// Only this destination: an FQDN, `*.example.com` (any depth below), or an IP / CIDR.
    #[arg(long, value_name = "PATTERN")]
    pub destination: Option<DestinationPattern>,

    /// Only this destination port.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Only this protocol (case-insensitive).
    #[arg(long, value_name = "PROTOCOL", value_parser = Listed::new(protocols, parse_protocol))]
    pub protocol: Option<String>,

    /// Only this kind of log.
    #[arg(long, value_name = "KIND", value_parser = Listed::new(kinds, parse_kind))]
    pub kind: Option<Kind>,
}

impl FilterArgs {
    pub fn filters(&self) -> Filters {
        Filters {
            sources: self.sources.clone(),
            destination: self.destination.clone(),
            port: self.port,
            protocol: self.protocol.clone(),
            kind: self.kind,
        }
    }
}

/// How to group.
#[derive(Debug, Clone, Args)]
pub struct GroupArgs {
    /// Group IPv4 sources into subnets of this prefix length.
    #[arg(long, value_name = "N", default_value_t = 24, value_parser = clap::value_parser!(u8).range(0..=32))]
    pub prefix_v4: u8,

    /// Group IPv6 sources into subnets of this prefix length.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u8).range(0..=128))]
    pub prefix_v6: u8,

    /// Group by single source IP instead of subnet.
    #[arg(long)]
    pub by_source_ip: bool,

    /// Show only the N groups with most hits.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,

    /// Keep each workspace's (or cluster database's) denies apart: every group gets an `origin`, so a
    /// hub-and-spoke estate read in one run says which workspace saw what. Totals are the same either way.
    #[arg(long)]
    pub by_origin: bool,
}

impl GroupArgs {
    pub fn grouping(&self) -> Grouping {
        Grouping {
            prefix_v4: self.prefix_v4,
            prefix_v6: self.prefix_v6,
            by_source_ip: self.by_source_ip,
        }
    }
}

/// Cluster options shared by `deny-report`, `recommend` and `catalog`.
#[derive(Debug, Clone, Default, Args)]
pub struct ClusterArgs {
    /// Azure cloud of the cluster.
    #[arg(long, value_enum, default_value_t = Cloud::Public)]
    pub cloud: Cloud,

    /// Cluster region short name (e.g. westeurope); fills `<region>` placeholders in suggested rules.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Features and add-ons in use (comma-separated, see `fwlog catalog features`): their conditional endpoints
    /// become required.
    #[arg(
        long,
        value_name = "FEATURE,...",
        value_delimiter = ',',
        value_parser = Listed::new(feature_names, feature_name),
        hide_possible_values = true
    )]
    pub features: Vec<String>,

    /// The cluster is a private cluster (API server reached over Private Link).
    #[arg(long)]
    pub private_cluster: bool,

    /// The cluster uses konnectivity-agent (no legacy tunnel on UDP 1194 / TCP 9000).
    #[arg(long)]
    pub konnectivity: bool,

    /// The cluster uses API Server VNet Integration.
    #[arg(long)]
    pub api_server_vnet_integration: bool,

    /// Extra catalog file in fwlog's catalog format (e.g. your team's registries); repeatable.
    #[arg(long = "catalog", value_name = "FILE")]
    pub catalogs: Vec<PathBuf>,
}

impl ClusterArgs {
    pub fn spec(&self) -> ClusterSpec {
        ClusterSpec {
            cloud: self.cloud,
            region: self.region.clone(),
            features: self.features.clone(),
            private_cluster: self.private_cluster,
            konnectivity: self.konnectivity,
            api_server_vnet_integration: self.api_server_vnet_integration,
            catalogs: self.catalogs.clone(),
        }
    }

    /// Load the catalog (built-in plus `--catalog` files) and check the cluster description against it.
    pub fn resolve(&self) -> anyhow::Result<(Catalog, Context)> {
        self.spec().resolve()
    }
}

/// The user's firewall policy, to explain denies against and to recommend only what it lacks.
#[derive(Debug, Clone, Default, Args)]
pub struct PolicyArgs {
    /// Your firewall policy as exported: an ARM template, the JSON of `az network firewall policy show` and
    /// `… rule-collection-group list`, `terraform show -json`, or `az network firewall show` (classic rules);
    /// IP Group lists (`az network ip-group list`) too. Repeatable; each file's kind is told from its content.
    #[arg(long = "policy", value_name = "FILE", num_args = 1.., help_heading = "Firewall policy")]
    pub policy: Vec<PathBuf>,

    /// The Service Tags JSON download (ServiceTags_Public_*.json), to resolve service tags in network rules.
    #[arg(long, value_name = "FILE", help_heading = "Firewall policy")]
    pub service_tags: Option<PathBuf>,

    /// When the files hold several policies: the one to use (its base policy comes along).
    #[arg(long, value_name = "NAME", help_heading = "Firewall policy")]
    pub policy_name: Option<String>,

    /// Read the policy live from Azure Resource Manager instead of files: its resource ID
    /// (/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/firewallPolicies/NAME). Its rule
    /// collection groups, base policy and IP Groups come along. Signs in like the Log Analytics source
    /// (--auth); needs Reader on the policy.
    #[arg(
        long,
        value_name = "RESOURCE_ID",
        conflicts_with_all = ["policy", "policy_name"],
        help_heading = "Firewall policy"
    )]
    pub policy_id: Option<crate::live::arm::PolicyId>,

    /// Azure Resource Manager base URL for --policy-id (default: the cloud's); also FWLOG_ARM_ENDPOINT.
    #[arg(
        long,
        value_name = "URL",
        env = "FWLOG_ARM_ENDPOINT",
        hide_env_values = true,
        help_heading = "Firewall policy"
    )]
    pub arm_endpoint: Option<String>,
}

impl PolicyArgs {
    /// Whether a policy was given at all (files or --policy-id).
    pub fn given(&self) -> bool {
        !self.policy.is_empty() || self.policy_id.is_some()
    }

    /// Load the policy files, or read the policy from Resource Manager (`--policy-id`, signing in for `cloud`,
    /// `auth` pinning the method), or `None` when neither was given.
    pub fn load(
        &self,
        cloud: crate::live::config::Cloud,
        auth: Option<AuthMethod>,
    ) -> anyhow::Result<Option<crate::policy::PolicyInputs>> {
        if let Some(id) = &self.policy_id {
            let endpoint = crate::live::arm::endpoint(self.arm_endpoint.as_deref(), cloud)?;
            let client = crate::live::arm::client(&endpoint, cloud, auth)?;
            let mut docs =
                crate::live::runtime()?.block_on(crate::live::arm::fetch_policy(&client, id))?;
            if let Some(p) = &self.service_tags {
                let shown = p.display().to_string();
                let text = std::fs::read_to_string(p)
                    .map_err(|e| crate::error::user(format!("{shown}: cannot read: {e}")))?;
                docs.push((shown, text));
            }
            return crate::policy::load_texts(&docs, Some(id.name())).map(Some);
        }
        if self.policy.is_empty() {
            if self.service_tags.is_some() {
                return Err(crate::error::user(
                    "--service-tags needs --policy: the tags resolve the policy's network rules",
                ));
            }
            return Ok(None);
        }
        let mut files = self.policy.clone();
        files.extend(self.service_tags.clone());
        crate::policy::load_named(&files, self.policy_name.as_deref()).map(Some)
    }
}

/// Live-source options shared by `deny-report`, `recommend` and `fetch`: Log Analytics workspaces, or the
/// databases of an Azure Data Explorer cluster or Fabric Eventhouse.
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Query this Log Analytics workspace (its workspace ID, a GUID) instead of reading files: for the days
    /// the workspace keeps (30–90 typically). Repeatable: one query per workspace, merged exactly.
    /// Also FWLOG_WORKSPACE (comma-separated) or `workspaces` in the config file.
    #[arg(
        long = "workspace",
        value_name = "GUID",
        help_heading = "Log Analytics"
    )]
    pub workspaces: Vec<WorkspaceId>,

    /// Query this Azure Data Explorer cluster or Fabric Eventhouse (its query URI) instead: for months or years
    /// of archived logs, or a hub-and-spoke estate whose firewalls log there; the grouping runs in the cluster
    /// and only the counts come back. Needs --database. Also FWLOG_KUSTO_CLUSTER or `[kusto] cluster` in the
    /// config file; see docs/kusto.md.
    #[arg(
        long,
        value_name = "URL",
        help_heading = "Azure Data Explorer / Fabric"
    )]
    pub cluster: Option<ClusterUrl>,

    /// The cluster database that holds the firewall tables (repeatable: one query per database, merged exactly).
    /// Also FWLOG_KUSTO_DATABASE or `[kusto] database`.
    #[arg(
        long = "database",
        value_name = "NAME",
        help_heading = "Azure Data Explorer / Fabric"
    )]
    pub databases: Vec<DatabaseName>,

    /// What the cluster calls a Log Analytics table: TABLE=NAME (a table, view or function with the table's
    /// columns) or TABLE=NAME(window) (a function of the query window, as `fwlog kusto external-table` creates
    /// over a storage archive). Repeatable; unmapped tables keep their Log Analytics names
    /// (AZFWApplicationRule, …, AzureDiagnostics). Also `[kusto] table_map`.
    #[arg(
        long = "table-map",
        value_name = "TABLE=NAME",
        value_parser = parse_map_entry,
        help_heading = "Azure Data Explorer / Fabric"
    )]
    pub table_map: Vec<(LaTable, Entity)>,

    /// Only rows of this firewall (its resource ID), when several firewalls log to the workspace.
    #[arg(long, value_name = "RESOURCE_ID", help_heading = "Log Analytics")]
    pub firewall: Option<FirewallId>,

    /// Log Analytics API base URL (default: the cloud's); also FWLOG_LOGANALYTICS_ENDPOINT.
    #[arg(long, value_name = "URL", help_heading = "Log Analytics")]
    pub endpoint: Option<String>,

    /// Sign in only this way instead of trying env, workload, msi, cli in turn (Log Analytics and clusters alike).
    #[arg(
        long,
        value_enum,
        value_name = "METHOD",
        help_heading = "Log Analytics"
    )]
    pub auth: Option<AuthMethod>,

    /// Give up on the service after this long in total (all requests, retries and waits of the run).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "15m",
        help_heading = "Log Analytics"
    )]
    pub timeout: Duration,

    /// Print the KQL queries this command would send (separated by `// ---` lines) and exit; needs no sign-in.
    #[arg(long, help_heading = "Log Analytics")]
    pub print_kql: bool,
}

impl LiveArgs {
    pub fn request(&self) -> LiveRequest {
        LiveRequest {
            workspaces: self.workspaces.clone(),
            cluster: self.cluster.clone(),
            databases: self.databases.clone(),
            table_map: self.table_map.clone(),
            firewall: self.firewall.clone(),
            endpoint: self.endpoint.clone(),
            auth: self.auth,
            timeout: Some(std::time::Duration::from_secs(self.timeout.seconds)),
        }
    }
}
