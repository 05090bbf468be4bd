//! `fwlog recommend`: the rules (Bicep, Terraform, ARM, az CLI, JSON) that fix what AKS needs and was denied.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::Globals;
use super::args::{
    ClusterArgs, FilterArgs, InputArgs, LiveArgs, PolicyArgs, WindowArgs, output_file,
};
use super::pipeline::{Source, deny_groups, print_diagnostics};
use crate::query::{FailOn, Grouping, Query};
use crate::recommend::options::{ScopeItem, parse_name};
use crate::recommend::select::Options;
use crate::render::RecommendFormat;

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
    pub live: LiveArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,

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
    #[arg(short, long, value_name = "FILE", value_parser = output_file::<RecommendFormat>)]
    pub output: Option<PathBuf>,

    /// With --policy: print the change as a unified diff of this export of your policy (an ARM template,
    /// `terraform show -json`, or az CLI / REST JSON of the rule collection groups) against the same file with
    /// the new rules inserted where they belong. Replaces --format.
    #[arg(long, value_name = "FILE", help_heading = "Firewall policy")]
    pub against: Option<PathBuf>,

    /// Exit 1 when a rule is needed (for pipelines): `required` (a rule for an endpoint AKS needs), `needed`
    /// (any rule), `any` (any deny at all).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<FailOn>,
}

impl RecommendArgs {
    pub fn options(&self) -> Options {
        Options {
            scope: self.source_scope.clone(),
            source_ip_group: self.source_ip_group.clone(),
            prefix_v4: self.prefix_v4,
            prefix_v6: self.prefix_v6,
            collection_group: self.collection_group.clone(),
            group_priority: self.group_priority,
            priority_base: self.priority_base,
            api_server_ip: self.api_server_ip,
            include_unmatched: self.include_unmatched,
            no_recommended: self.no_recommended,
            infer_features: self.cluster.spec().infers_features(),
        }
    }
}

pub fn run(args: RecommendArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let now = super::now_us();
    // One group per source address: evidence counts exact distinct sources and `--source-scope` can use them.
    let query = Query {
        window: args.window.window(now)?,
        filters: args.filter.filters(),
        grouping: Grouping {
            prefix_v4: args.prefix_v4,
            prefix_v6: args.prefix_v6,
            by_source_ip: true,
        },
    };
    if args.live.print_kql {
        super::deny_report::print_summary_kql(
            &args.live.request(),
            &query.window,
            &query.filters,
            now,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let (catalog, ctx) = args.cluster.resolve()?;
    let policy = args.policy.load(args.cluster.cloud, args.live.auth)?;
    let source = Source::choose(&args.input, &args.live, args.cluster.cloud)?;
    let denies = deny_groups(&source, query, now, args.output.as_deref())?;
    let groups = denies.groups.into_vec()?;
    print_diagnostics(&denies.stats, &denies.sources);
    let mut rec = crate::recommend::select::recommend(&catalog, &ctx, &groups, &args.options());
    if let Some(p) = &policy {
        // IaC formats then write every group the rules go into whole (a deployment replaces a group): the
        // user's rules unchanged plus the new ones.
        rec = crate::recommend::policy::against_policy(rec, p, &catalog, &ctx);
        // Classic rules live on the firewall resource, in collections without groups: no rule collection group
        // fwlog could write would change them.
        let iac = matches!(
            args.format,
            RecommendFormat::Bicep
                | RecommendFormat::Terraform
                | RecommendFormat::Arm
                | RecommendFormat::Azcli
        );
        if p.policy.kind == crate::policy::PolicyKind::Classic
            && !rec.rules.is_empty()
            && (iac || args.against.is_some())
        {
            return Err(crate::error::user(format!(
                "firewall {} uses classic rules (no firewall policy): fwlog writes firewall policy rule collection \
                 groups, which would not change them. Use --format table, markdown or json to see the rules, and \
                 add them to the firewall's rule collections yourself (or migrate the firewall to a policy)",
                p.policy.name
            )));
        }
    }
    if let Some(file) = &args.against {
        return against(&args, &rec, file);
    }
    let iac = matches!(
        args.format,
        RecommendFormat::Bicep
            | RecommendFormat::Terraform
            | RecommendFormat::Arm
            | RecommendFormat::Azcli
    );
    if iac && rec.rules.is_empty() {
        crate::note!(
            "no rules to write ({} denies, {} known, {} unmatched): nothing written. A rule collection group \
             without rules, deployed, would replace the group written last time and remove its rules.",
            rec.denies,
            rec.known.len(),
            rec.unmatched.len()
        );
        return Ok(ExitCode::from(crate::error::EXIT_NOTHING_TO_WRITE));
    }
    let terminal = args.output.is_none() && std::io::stdout().is_terminal();
    if let Some(line) = rec.inferred_line()
        && !matches!(
            args.format,
            RecommendFormat::Table | RecommendFormat::Markdown
        )
    {
        crate::note!("{line}");
    }
    let layout = crate::render::table::Layout::detect(terminal, globals.width);
    let bytes = crate::render::recommend::render(&rec, args.format, &layout)?;
    crate::output::emit(args.output.as_deref(), &bytes)?;
    Ok(super::gate(args.fail_on, |level| rec.gate(level)))
}

/// `--against FILE`: the change as a unified diff of the user's own export (see [`crate::render::against`]).
fn against(
    args: &RecommendArgs,
    rec: &crate::recommend::model::Recommendation,
    file: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let shown = file.display().to_string();
    if !args.policy.given() {
        return Err(crate::error::user(
            "--against needs --policy or --policy-id: the policy decides which rules are missing and where they go",
        ));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| crate::error::user(format!("{shown}: cannot read: {e}")))?;
    let sites = crate::policy::sites::sites(&shown, &text)?;
    if rec.groups.is_empty() {
        crate::note!(
            "the policy already allows everything the denies need ({} denies, {} known): no change to {shown}",
            rec.denies,
            rec.known.len()
        );
        return Ok(ExitCode::from(crate::error::EXIT_NOTHING_TO_WRITE));
    }
    let (before, after) = crate::render::against::update(&shown, &text, &sites, rec)?;
    let diff = crate::render::against::unified(&before, &after, &shown);
    crate::output::emit(args.output.as_deref(), diff.as_bytes())?;
    Ok(super::gate(args.fail_on, |level| rec.gate(level)))
}
