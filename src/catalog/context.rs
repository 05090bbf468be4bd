//! The cluster context: what the user told us about the cluster, and how it changes an entry's requirement.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Catalog, Entry, Requirement};

/// Azure cloud the cluster runs in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// Azure global (public) cloud.
    #[default]
    Public,
    /// Microsoft Azure operated by 21Vianet.
    China,
    /// Azure US Government.
    Usgov,
}

impl Cloud {
    pub const ALL: [Cloud; 3] = [Cloud::Public, Cloud::China, Cloud::Usgov];

    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::China => "china",
            Cloud::Usgov => "usgov",
        }
    }

    pub fn parse(s: &str) -> Option<Cloud> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Situations in which an entry is not needed (`not_needed_when` in the catalog).
pub const CONDITIONS: &[(&str, &str)] = &[
    (
        "konnectivity-agent",
        "the cluster uses konnectivity-agent (--konnectivity), not the legacy tunnel",
    ),
    (
        "private-cluster",
        "private clusters reach the API server over Private Link (--private-cluster)",
    ),
    (
        "api-server-vnet-integration",
        "with API Server VNet Integration nodes reach the API server on an internal IP (--api-server-vnet-integration)",
    ),
    (
        "nodes-provisioned-after-2021-03",
        "nodes provisioned after March 2021 take time from the host clock",
    ),
    (
        "pods-use-set-kube-service-host-fqdn",
        "pods annotated kubernetes.azure.com/set-kube-service-host-fqdn use the API server FQDN",
    ),
];

/// What the cluster looks like, as far as the catalog cares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Context {
    pub cloud: Cloud,
    /// Lower-case region short name (`westeurope`), when known.
    pub region: Option<String>,
    /// Features / add-ons in use: their "conditional" entries are "required" for this cluster.
    pub features: BTreeSet<String>,
    pub private_cluster: bool,
    pub konnectivity: bool,
    pub api_server_vnet_integration: bool,
}

impl Context {
    /// Whether a `not_needed_when` condition holds for this cluster. Conditions fwlog cannot know from flags
    /// (node provisioning date, pod annotations) never apply; the entry note explains them.
    pub fn condition_applies(&self, condition: &str) -> bool {
        match condition {
            "konnectivity-agent" => self.konnectivity,
            "private-cluster" => self.private_cluster,
            "api-server-vnet-integration" => self.api_server_vnet_integration,
            _ => false,
        }
    }

    /// The requirement of `entry` for this cluster, and why it is not needed when that is the case.
    pub fn effective(&self, entry: &Entry) -> (Requirement, Option<&'static str>) {
        for c in &entry.not_needed_when {
            if self.condition_applies(c) {
                let why = CONDITIONS
                    .iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| *v)
                    .unwrap_or("not needed for this cluster");
                return (Requirement::NotNeeded, Some(why));
            }
        }
        if entry.requirement == Requirement::Conditional && self.features.contains(&entry.feature) {
            return (Requirement::Required, None);
        }
        (entry.requirement, None)
    }
}

/// What the user said about the cluster, before it is checked against the catalog: the cluster options
/// `deny-report`, `recommend` and `catalog` share.
#[derive(Debug, Clone, Default)]
pub struct ClusterSpec {
    pub cloud: Cloud,
    /// Region short name as given (e.g. `West Europe`); checked and lower-cased by [`ClusterSpec::context_for`].
    pub region: Option<String>,
    /// Feature names as given (`--features`).
    pub features: Vec<String>,
    pub private_cluster: bool,
    pub konnectivity: bool,
    pub api_server_vnet_integration: bool,
    /// User catalog files (`--catalog`).
    pub catalogs: Vec<PathBuf>,
}

impl ClusterSpec {
    /// Whether features may be inferred from the denies: only when `--features` was not given at all
    /// (`--features none` says no feature is in use).
    pub fn infers_features(&self) -> bool {
        self.features.iter().all(|f| f.trim().is_empty())
    }

    /// Load the catalog (built-in plus `--catalog` files) and check the context against it.
    pub fn resolve(&self) -> anyhow::Result<(Catalog, Context)> {
        let catalog = Catalog::load(&self.catalogs)?;
        let ctx = self.context_for(&catalog)?;
        Ok((catalog, ctx))
    }

    /// Build the context, validating feature names against `catalog` and the region's spelling.
    pub fn context_for(&self, catalog: &Catalog) -> anyhow::Result<Context> {
        let mut features = BTreeSet::new();
        let known = catalog.feature_names();
        for f in &self.features {
            let f = f.trim().to_ascii_lowercase();
            // `--features none`: no feature in use, and none inferred (see `ClusterSpec::infers_features`).
            if f.is_empty() || f == "none" {
                continue;
            }
            if !known.iter().any(|k| *k == f) {
                return Err(crate::error::user(format!(
                    "unknown feature {f:?} in --features: expected one of {} (see `fwlog catalog features`)",
                    known.join(", ")
                )));
            }
            features.insert(f);
        }
        let region = match &self.region {
            None => None,
            Some(r) => {
                let n: String = r
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .to_ascii_lowercase();
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(crate::error::user(format!(
                        "invalid region {r:?}: expected an Azure region short name such as westeurope or eastus2"
                    )));
                }
                Some(n)
            }
        };
        Ok(Context {
            cloud: self.cloud,
            region,
            features,
            private_cluster: self.private_cluster,
            konnectivity: self.konnectivity,
            api_server_vnet_integration: self.api_server_vnet_integration,
        })
    }
}
