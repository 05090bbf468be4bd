//! The recommendation as data: rules with their evidence, denies that need no rule (`known`), and denies no rule
//! covers (`unmatched`). This is the JSON contract; every renderer reads only these types.
//!
//! ```json
//! {"rules": [{"kind": "application", "collection": "aks-core", "priority": 200, "name": "mcr-microsoft-com",
//!             "source_addresses": ["10.240.0.0/24"], "protocols": ["Https:443"], "target_fqdns": ["mcr.microsoft.com"],
//!             "destination_addresses": [], "destination_ports": [], "feature": "core", "requirement": "required",
//!             "evidence": {"hits": 12, "distinct_sources": 3, "first_seen": "…", "last_seen": "…",
//!                          "destinations": ["mcr.microsoft.com"]}}],
//!  "unmatched": [{"protocol": "HTTPS", "destination": "x.blob.core.windows.net", "destination_port": 443, "hits": 2,
//!                 "source_subnets": ["10.244.1.0/24"], "hint": "…"}],
//!  "known": [{"destination": "registry-1.docker.io", "verdict": "non-aks", "reason": "…", …}]}
//! ```

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Application,
    Network,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Application => "application",
            RuleKind::Network => "network",
        }
    }
}

/// Why a rule is recommended: its catalog entry is required (or conditional for a feature in use) or
/// recommended, or the deny is not in the catalog and `--include-unmatched` asked for an exact rule. The order
/// is the order of collections in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleRequirement {
    Required,
    Recommended,
    Unmatched,
}

impl RuleRequirement {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleRequirement::Required => "required",
            RuleRequirement::Recommended => "recommended",
            RuleRequirement::Unmatched => "unmatched",
        }
    }
}

impl std::fmt::Display for RuleRequirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a deny needs no rule, or no rule fwlog can write without more input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    // Declared in the alphabetical order of their names, which is how ties have always been ordered.
    /// The user's policy (`--policy`) already allows it.
    AllowedByPolicy,
    /// Left out on request (`--no-recommended`).
    Excluded,
    /// Platform traffic whose denial is harmless.
    Informational,
    /// A rule needs a value fwlog does not have (e.g. the API server's IP).
    NeedsInput,
    /// A known service AKS does not need.
    NonAks,
    /// The catalog pattern is not an Azure Firewall target.
    NotExpressible,
    /// The cluster description makes the endpoint unnecessary.
    NotNeeded,
    /// A retired endpoint.
    Retired,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Informational => "informational",
            Verdict::NonAks => "non-aks",
            Verdict::NotNeeded => "not-needed",
            Verdict::Retired => "retired",
            Verdict::NotExpressible => "not-expressible",
            Verdict::NeedsInput => "needs-input",
            Verdict::Excluded => "excluded",
            Verdict::AllowedByPolicy => "allowed-by-policy",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a feature in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureSource {
    /// Named with `--features`.
    Given,
    /// Denies to endpoints only this feature's agents call.
    Inferred,
}

/// A deny that shows a feature is in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureEvidence {
    pub destination: String,
    pub hits: u64,
}

/// A feature the rules were written for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureUse {
    pub name: String,
    pub source: FeatureSource,
    /// For inferred features: the denies to its own endpoints, most hits first.
    pub evidence: Vec<FeatureEvidence>,
}

/// What the observed denies say about a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub hits: u64,
    pub distinct_sources: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// Denied destinations this rule covers (hosts, or addresses for network rules; `(no SNI)` for denies
    /// without destination).
    pub destinations: Vec<String>,
    pub source_subnets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub kind: RuleKind,
    pub collection: String,
    /// Priority of the rule's collection.
    pub priority: u32,
    pub name: String,
    pub description: String,
    pub source_addresses: Vec<String>,
    pub source_ip_groups: Vec<String>,
    /// Application rules: `Https:443`; network rules: IP protocols (`TCP`, `UDP`).
    pub protocols: Vec<String>,
    pub target_fqdns: Vec<String>,
    pub destination_addresses: Vec<String>,
    pub destination_ports: Vec<String>,
    pub feature: String,
    pub requirement: RuleRequirement,
    /// Catalog entry id and pattern that justify the rule (`unmatched` for `--include-unmatched` rules).
    pub catalog_id: Option<String>,
    pub pattern: Option<String>,
    pub status: Option<String>,
    /// URL of the catalog's source document.
    pub source: Option<String>,
    /// Caveats: retiring endpoint, region unknown, pattern narrowed to observed hosts, …
    pub notes: Vec<String>,
    pub evidence: Evidence,
}

/// A deny that needs no rule, or needs information fwlog does not have, with the catalog's reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Known {
    pub protocol: Option<String>,
    pub destination: Option<String>,
    pub destination_port: Option<u32>,
    pub hits: u64,
    pub source_subnets: Vec<String>,
    pub verdict: Verdict,
    /// One line for people: "known: …, no rule needed" / "non-AKS: …".
    pub summary: String,
    pub feature: String,
    pub pattern: String,
    pub reason: Option<String>,
    pub source: String,
}

/// A deny no rule covers; never turned into a rule unless `--include-unmatched`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmatched {
    pub kind: String,
    pub protocol: Option<String>,
    pub destination: Option<String>,
    pub destination_port: Option<u32>,
    pub hits: u64,
    pub distinct_sources: u64,
    pub source_subnets: Vec<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub hint: String,
    /// Catalog features that would explain the deny if the cluster used them (pass `--features`).
    pub candidate_features: Vec<String>,
}

/// A deny whose destination is neither a valid host name nor an address. Anyone in a cluster chooses the names
/// that reach the logs (SNI, Host header), so such a name never becomes a rule in any format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidName {
    pub kind: String,
    pub protocol: Option<String>,
    pub destination: String,
    pub destination_port: Option<u32>,
    pub hits: u64,
    pub source_subnets: Vec<String>,
}

/// A rule collection as the IaC renderers need it: rules of one kind, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection<'a> {
    pub name: &'a str,
    pub priority: u32,
    pub kind: RuleKind,
    pub rules: Vec<&'a Rule>,
}

/// With `--policy`: a rule collection group of the user's policy as deploying the recommendation leaves it. A
/// group is replaced whole on every deployment, so the IaC formats write it whole: every collection and rule the
/// user has, as they are, plus the rules fwlog adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupChange {
    pub policy: String,
    pub name: String,
    pub priority: u32,
    /// The group does not exist yet (a policy without groups).
    pub new_group: bool,
    /// By priority, then name.
    pub collections: Vec<CollectionChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionChange {
    pub name: String,
    pub priority: u32,
    pub action: crate::policy::Action,
    pub kind: crate::policy::RuleKind,
    pub new_collection: bool,
    /// The user's rules first, in their order; then the rules fwlog adds.
    pub rules: Vec<PlannedRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedRule {
    pub rule: crate::policy::Rule,
    /// For a rule fwlog adds: its index in [`Recommendation::rules`] (evidence and notes). `None` for the user's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    /// Features in use: given with `--features`, or inferred from the denies.
    pub features: Vec<FeatureUse>,
    pub collection_group: String,
    pub group_priority: u32,
    pub rules: Vec<Rule>,
    pub unmatched: Vec<Unmatched>,
    pub known: Vec<Known>,
    /// Denies to names that are not valid host names: never a rule.
    pub invalid_names: Vec<InvalidName>,
    /// Denies read and covered, for the summary line.
    pub denies: u64,
    pub denies_covered: u64,
    pub catalog_version: String,
    /// With `--policy`: every group the rules change, whole, by priority (empty otherwise: the rules then form
    /// the new group `collection_group`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupChange>,
}

impl Recommendation {
    /// The line that says which features were inferred and from what, when any was.
    pub fn inferred_line(&self) -> Option<String> {
        let parts: Vec<String> = self
            .features
            .iter()
            .filter(|f| f.source == FeatureSource::Inferred)
            .map(|f| {
                let hits: u64 = f
                    .evidence
                    .iter()
                    .map(|e| e.hits)
                    .fold(0, u64::saturating_add);
                let shown: Vec<&str> = f
                    .evidence
                    .iter()
                    .take(2)
                    .map(|e| e.destination.as_str())
                    .collect();
                let more = f.evidence.len().saturating_sub(2);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                format!(
                    "{} ({hits} {} to {}{more})",
                    f.name,
                    if hits == 1 { "deny" } else { "denies" },
                    shown.join(", ")
                )
            })
            .collect();
        (!parts.is_empty()).then(|| {
            format!(
                "features inferred from the denies: {}; pass --features to set them yourself (--features none: no feature)",
                parts.join(", ")
            )
        })
    }

    /// What makes `--fail-on level` fail the run: rules for required endpoints, any rule, or any deny.
    pub fn gate(&self, level: crate::query::FailOn) -> u64 {
        let rules = |pred: &dyn Fn(&Rule) -> bool| {
            self.rules
                .iter()
                .filter(|r| pred(r))
                .map(|r| r.evidence.hits)
                .fold(0, u64::saturating_add)
        };
        match level {
            crate::query::FailOn::Required => {
                rules(&|r: &Rule| r.requirement == RuleRequirement::Required)
            }
            crate::query::FailOn::Needed => {
                rules(&|r: &Rule| r.requirement != RuleRequirement::Unmatched)
            }
            crate::query::FailOn::Any => self.denies,
        }
    }

    /// Rules grouped into their collections, in priority order (rules keep their order).
    pub fn collections(&self) -> Vec<Collection<'_>> {
        let mut out: Vec<Collection<'_>> = Vec::new();
        for r in &self.rules {
            match out.iter_mut().find(|c| c.name == r.collection) {
                Some(c) => c.rules.push(r),
                None => out.push(Collection {
                    name: &r.collection,
                    priority: r.priority,
                    kind: r.kind,
                    rules: vec![r],
                }),
            }
        }
        out.sort_by_key(|c| c.priority);
        out
    }
}
