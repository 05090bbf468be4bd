//! The AKS egress endpoint catalog (issue 4): which destinations AKS needs, for which feature, how badly.
//!
//! * Data: `data/aks.toml` (embedded), fwlog's own format, derived from the shared research file; users add
//!   entries with `--catalog FILE` (same format). Reference for users: `docs/catalog.md`.
//! * [`Catalog::lookup`] labels one denied destination with every matching entry, most specific first, with the
//!   requirement *for this cluster* ([`Context`]: cloud, features in use, private cluster, konnectivity).
//! * Matching semantics (Azure Firewall wildcards, placeholders, protocols): see [`pattern`].

pub mod context;
mod index;
mod load;
pub mod pattern;
pub mod summary;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

pub use context::{CONDITIONS, Cloud, ClusterSpec, Context};
use index::Index;
use pattern::{Label, Pattern, ProtocolSpec};

const BUILTIN_TEXT: &str = include_str!("data/aks.toml");
const BUILTIN_NAME: &str = "builtin:aks.toml";

/// How much AKS needs an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Requirement {
    /// Part of the base cluster.
    Required,
    /// Needed when a feature / add-on / scenario is in use.
    Conditional,
    /// Optional but advised (e.g. Ubuntu security updates).
    Recommended,
    /// Platform traffic the docs mention whose denial is harmless (managed disks, VM agent).
    Informational,
    /// A known service AKS does not need (Docker Hub, Ubuntu motd/ESM, …).
    NonAks,
    /// Only as an effective requirement: the cluster context makes the entry unnecessary.
    NotNeeded,
}

impl Requirement {
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Required => "required",
            Requirement::Conditional => "conditional",
            Requirement::Recommended => "recommended",
            Requirement::Informational => "informational",
            Requirement::NonAks => "non-aks",
            Requirement::NotNeeded => "not-needed",
        }
    }

    /// Levels a catalog file may declare (`not-needed` only results from the context).
    pub fn parse_declared(s: &str) -> Option<Requirement> {
        [
            Requirement::Required,
            Requirement::Conditional,
            Requirement::Recommended,
            Requirement::Informational,
            Requirement::NonAks,
        ]
        .into_iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lifecycle of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Current,
    /// Still listed, being replaced (e.g. `acs-mirror.azureedge.net`).
    Retiring,
    /// Seen in code or logs, not documented.
    Observed,
    /// Not documented, derived.
    Inferred,
    /// No longer needed; kept to explain old clusters' logs.
    Retired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Current => "current",
            Status::Retiring => "retiring",
            Status::Observed => "observed",
            Status::Inferred => "inferred",
            Status::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Current,
            Status::Retiring,
            Status::Observed,
            Status::Inferred,
            Status::Retired,
        ]
        .into_iter()
        .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Destination kind: an FQDN pattern, or a network destination (address, range, service tag, address placeholder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Fqdn,
    Network,
}

/// Which file an entry or feature comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Builtin,
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builtin => f.write_str(BUILTIN_NAME),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

impl Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Origin::Builtin => s.serialize_str("builtin"),
            Origin::File(p) => s.collect_str(&p.display()),
        }
    }
}

/// A source document of the catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: String,
    pub title: String,
    pub url: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

/// A feature, add-on or scenario name.
#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    pub name: String,
    pub description: String,
    pub origin: Origin,
}

/// The `[catalog]` table: name, version, date, primary document version.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    pub name: String,
    pub version: String,
    pub as_of: Option<String>,
    pub description: Option<String>,
    pub document: BTreeMap<String, String>,
}

/// One catalog entry.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Stable identifier (`core.mcr-microsoft-com.https443.public`).
    pub id: String,
    pub pattern: String,
    /// The doc's own spelling when the pattern differs (`vault.azure.net` matched as `*.vault.azure.net`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc_pattern: Option<String>,
    pub kind: Kind,
    pub protocols: Vec<ProtocolSpec>,
    pub clouds: Vec<Cloud>,
    pub feature: String,
    /// The declared requirement (see [`Context::effective`] for a cluster's).
    pub requirement: Requirement,
    pub status: Status,
    /// URL of the primary source.
    pub source: String,
    pub refs: Vec<String>,
    pub evidence: Option<String>,
    pub in_fqdn_tag: Option<String>,
    pub not_needed_when: Vec<String>,
    pub explains: Vec<String>,
    pub alternatives: Vec<String>,
    pub log_examples: Vec<String>,
    pub category: Option<String>,
    pub added: Option<String>,
    pub removed: Option<String>,
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    pub section: Option<String>,
    pub note: Option<String>,
    /// False when no Azure Firewall rule can express the pattern (`*` inside a label; wildcard FQDN with only
    /// network protocols): the recommender never emits it.
    pub expressible_as_rule: bool,
    pub origin: Origin,
    /// Line of the entry in its file.
    pub line: usize,
    /// `signals_feature = true` in the file: only the agents of this entry's feature call the destination, so a
    /// deny to it is evidence that the feature is in use (an address that several features or ordinary workloads
    /// call is not). Only conditional entries with a name or a concrete address can carry it; default false.
    pub signals_feature: bool,
    #[serde(skip)]
    pub(crate) parsed: Pattern,
}

impl Entry {
    pub fn pattern(&self) -> &Pattern {
        &self.parsed
    }

    pub fn retired(&self) -> bool {
        self.status == Status::Retired
    }

    fn in_cloud(&self, cloud: Cloud) -> bool {
        self.clouds.contains(&cloud)
    }

    #[inline]
    fn accepts(&self, protocol: Option<&str>, port: Option<u32>) -> bool {
        self.protocols.iter().any(|p| p.accepts(protocol, port))
    }
}

/// One catalog entry matching a destination, with what it means for this cluster.
#[derive(Debug, Clone)]
pub struct CatalogMatch<'a> {
    pub entry: &'a Entry,
    /// Effective requirement for the context (conditional → required when the feature is in use; not-needed).
    pub requirement: Requirement,
    /// Why the entry is not needed for this cluster, when `requirement` is `NotNeeded`.
    pub not_needed: Option<&'static str>,
    /// Placeholder values read from the destination (`location` → `westeurope`).
    pub captures: Vec<(&'a str, String)>,
    /// The pattern with placeholders replaced by captured values (or the context region).
    pub filled_pattern: Cow<'a, str>,
    /// Remarks about this match for this cluster (e.g. a region other than `--region`).
    pub context_notes: Vec<String>,
}

impl CatalogMatch<'_> {
    pub fn retired(&self) -> bool {
        self.entry.retired()
    }

    pub fn capture(&self, name: &str) -> Option<&str> {
        self.captures
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Serialize for CatalogMatch<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let e = self.entry;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &e.id)?;
        m.serialize_entry("pattern", &e.pattern)?;
        m.serialize_entry("filled_pattern", &self.filled_pattern)?;
        m.serialize_entry("kind", &e.kind)?;
        m.serialize_entry("feature", &e.feature)?;
        m.serialize_entry("requirement", &self.requirement)?;
        m.serialize_entry("declared_requirement", &e.requirement)?;
        m.serialize_entry("not_needed", &self.not_needed)?;
        m.serialize_entry("status", &e.status)?;
        m.serialize_entry("retired", &e.retired())?;
        m.serialize_entry("source", &e.source)?;
        m.serialize_entry("refs", &e.refs)?;
        let caps: BTreeMap<&str, &str> = self
            .captures
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        m.serialize_entry("captures", &caps)?;
        m.serialize_entry("protocols", &e.protocols)?;
        m.serialize_entry("clouds", &e.clouds)?;
        m.serialize_entry("expressible_as_rule", &e.expressible_as_rule)?;
        m.serialize_entry("note", &e.note)?;
        m.serialize_entry("context_notes", &self.context_notes)?;
        m.serialize_entry("replaced_by", &e.replaced_by)?;
        m.serialize_entry("evidence", &e.evidence)?;
        m.serialize_entry("origin", &e.origin)?;
        m.serialize_entry("signals_feature", &e.signals_feature)?;
        m.end()
    }
}

/// The catalog: built-in entries plus user files, with a lookup index.
#[derive(Debug, Clone)]
pub struct Catalog {
    meta: Meta,
    sources: Vec<Source>,
    features: Vec<Feature>,
    entries: Vec<Entry>,
    user_files: Vec<PathBuf>,
    index: Index,
}

static BUILTIN: LazyLock<Catalog> = LazyLock::new(|| {
    let parsed = load::parse(BUILTIN_TEXT, &Origin::Builtin, true)
        .unwrap_or_else(|e| panic!("the built-in catalog is invalid: {e}"));
    Catalog::assemble(
        parsed.meta.expect("checked by parse"),
        parsed.sources,
        parsed.features,
        parsed.entries,
        Vec::new(),
    )
});

/// Version of the built-in catalog, read without parsing the whole file (for `fwlog --version`).
pub fn builtin_version() -> String {
    let mut in_catalog = false;
    let (mut name, mut version) = (None, None);
    for line in BUILTIN_TEXT.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            in_catalog = t == "[catalog]";
            continue;
        }
        if !in_catalog {
            continue;
        }
        if let Some((k, v)) = t.split_once('=') {
            let v = v.trim().trim_matches('"').to_string();
            match k.trim() {
                "name" => name = Some(v),
                "version" => version = Some(v),
                _ => {}
            }
        }
    }
    format!(
        "{} {}",
        name.unwrap_or_default(),
        version.unwrap_or_default()
    )
}

impl Catalog {
    /// The built-in catalog (parsed once).
    pub fn builtin() -> &'static Catalog {
        &BUILTIN
    }

    /// The built-in catalog plus user catalog files, merged. Conflicting entries (same pattern, protocol and
    /// cloud with another feature or requirement in a different file) are an error naming both files.
    pub fn load(user_files: &[PathBuf]) -> anyhow::Result<Catalog> {
        let base = Self::builtin();
        if user_files.is_empty() {
            return Ok(base.clone());
        }
        let mut features = base.features.clone();
        let mut sources = base.sources.clone();
        let mut entries = base.entries.clone();
        for path in user_files {
            let parsed = load::read_user_file(path)?;
            for f in parsed.features {
                if !features.iter().any(|x| x.name == f.name) {
                    features.push(f);
                }
            }
            for s in parsed.sources {
                if !sources.iter().any(|x| x.id == s.id) {
                    sources.push(s);
                }
            }
            for e in parsed.entries {
                let mut duplicate = false;
                for x in entries.iter().filter(|x| x.origin != e.origin) {
                    if !x.pattern.eq_ignore_ascii_case(&e.pattern) {
                        continue;
                    }
                    let proto = x.protocols.iter().find(|p| e.protocols.contains(p));
                    let cloud = x.clouds.iter().find(|c| e.clouds.contains(c));
                    let (Some(proto), Some(cloud)) = (proto, cloud) else {
                        continue;
                    };
                    if x.feature != e.feature || x.requirement != e.requirement {
                        return Err(crate::error::user(format!(
                            "catalog conflict: {} {proto} ({cloud}) is {} for feature {:?} in {}:{} but {} for feature {:?} in {}:{}",
                            e.pattern,
                            x.requirement,
                            x.feature,
                            x.origin,
                            x.line,
                            e.requirement,
                            e.feature,
                            e.origin,
                            e.line
                        )));
                    }
                    duplicate = true;
                }
                if duplicate {
                    continue;
                }
                if let Some(other) = entries.iter().find(|x| x.id == e.id) {
                    return Err(crate::error::user(format!(
                        "catalog conflict: id {:?} is used by {}:{} and {}:{}",
                        e.id, other.origin, other.line, e.origin, e.line
                    )));
                }
                if !features.iter().any(|f| f.name == e.feature) {
                    features.push(Feature {
                        name: e.feature.clone(),
                        description: format!("(declared by {})", e.origin),
                        origin: e.origin.clone(),
                    });
                }
                entries.push(e);
            }
        }
        Ok(Self::assemble(
            base.meta.clone(),
            sources,
            features,
            entries,
            user_files.to_vec(),
        ))
    }

    fn assemble(
        meta: Meta,
        sources: Vec<Source>,
        features: Vec<Feature>,
        entries: Vec<Entry>,
        user_files: Vec<PathBuf>,
    ) -> Catalog {
        let index = Index::build(&entries);
        Catalog {
            meta,
            sources,
            features,
            entries,
            user_files,
            index,
        }
    }

    /// `aks 2026.08.21-1`, plus `+ FILE` for each user catalog.
    pub fn version(&self) -> String {
        let mut v = format!("{} {}", self.meta.name, self.meta.version);
        for f in &self.user_files {
            let name = f.file_name().map(Path::new).unwrap_or(f);
            v.push_str(&format!(" + {}", name.display()));
        }
        v
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    pub fn feature_names(&self) -> Vec<&str> {
        self.features.iter().map(|f| f.name.as_str()).collect()
    }

    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// Every entry matching a denied destination, most specific first (exact name > deeper wildcard > shallower;
    /// then by effective requirement, status and id).
    ///
    /// * `destination`: canonical FQDN (lower case, no trailing dot) or canonical IP text. A trailing dot and upper
    ///   case are tolerated. `None` (a deny without destination, e.g. "SNI TLS extension was missing") returns
    ///   the entries that explain that situation when the protocol is HTTPS/TCP or unknown (see
    ///   [`Catalog::explain_sni_missing`]).
    /// * `port`, `protocol`: as logged (`HTTPS`, `TCP`, …); `None` does not filter.
    /// * FQDN destinations match FQDN entries; IP destinations match network entries: concrete addresses and
    ///   ranges by containment, service tags and address placeholders (`<API-server-public-IP>`) on protocol and
    ///   port alone (logs carry IPs, not tags), so those matches are the least specific.
    pub fn lookup(
        &self,
        destination: Option<&str>,
        port: Option<u32>,
        protocol: Option<&str>,
        ctx: &Context,
    ) -> Vec<CatalogMatch<'_>> {
        let Some(dest) = destination else {
            return self.sni_missing(port, protocol, ctx);
        };
        let dest = dest.strip_suffix('.').unwrap_or(dest);
        if dest.is_empty() {
            return Vec::new();
        }
        let lowered;
        let dest = if dest.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = dest.to_ascii_lowercase();
            lowered.as_str()
        } else {
            dest
        };
        let mut out = Vec::new();
        if let Some(ip) = parse_ip(dest) {
            for &i in &self.index.network {
                let e = &self.entries[i as usize];
                if !e.in_cloud(ctx.cloud) || !e.accepts(protocol, port) {
                    continue;
                }
                let hit = match &e.parsed {
                    Pattern::Ip(net) => net.contains(&ip),
                    Pattern::ServiceTag(_) | Pattern::IpPlaceholder(_) => true,
                    Pattern::Fqdn { .. } => false,
                };
                if hit {
                    out.push(self.make_match(e, Vec::new(), ctx));
                }
            }
        } else {
            let mut hits = Vec::new();
            self.index.fqdn_hits(&self.entries, dest, &mut hits);
            for (i, caps) in hits {
                let e = &self.entries[i as usize];
                if e.in_cloud(ctx.cloud) && e.accepts(protocol, port) {
                    out.push(self.make_match(e, caps, ctx));
                }
            }
        }
        sort_matches(&mut out);
        out
    }

    /// The entries that explain an HTTPS deny without destination ("SNI TLS extension was missing": pods that
    /// call the API server by its service IP, MicrosoftDocs/azure-docs issue #59077).
    pub fn explain_sni_missing(&self, ctx: &Context) -> Vec<CatalogMatch<'_>> {
        self.sni_missing(None, None, ctx)
    }

    fn sni_missing(
        &self,
        port: Option<u32>,
        protocol: Option<&str>,
        ctx: &Context,
    ) -> Vec<CatalogMatch<'_>> {
        let ok_proto = protocol
            .is_none_or(|p| p.eq_ignore_ascii_case("HTTPS") || p.eq_ignore_ascii_case("TCP"));
        if !ok_proto {
            return Vec::new();
        }
        let mut out: Vec<_> = self
            .index
            .sni_missing
            .iter()
            .map(|&i| &self.entries[i as usize])
            .filter(|e| e.in_cloud(ctx.cloud) && e.accepts(protocol, port))
            .map(|e| self.make_match(e, Vec::new(), ctx))
            .collect();
        sort_matches(&mut out);
        out
    }

    fn make_match<'a>(
        &'a self,
        e: &'a Entry,
        captures: Vec<(&'a str, String)>,
        ctx: &Context,
    ) -> CatalogMatch<'a> {
        let (requirement, not_needed) = ctx.effective(e);
        let mut context_notes = Vec::new();
        if let Some(region) = &ctx.region {
            for (name, value) in &captures {
                if pattern::is_region_placeholder(name) && value != region {
                    context_notes.push(format!(
                        "region {value} differs from the cluster region {region} (--region)"
                    ));
                }
            }
        }
        let filled_pattern = fill(e, &captures, ctx.region.as_deref());
        CatalogMatch {
            entry: e,
            requirement,
            not_needed,
            captures,
            filled_pattern,
            context_notes,
        }
    }

    /// Entries of the context's cloud as matches (effective requirement, no captures), in catalog order.
    pub fn list(&self, ctx: &Context) -> Vec<CatalogMatch<'_>> {
        self.entries
            .iter()
            .filter(|e| e.in_cloud(ctx.cloud))
            .map(|e| self.make_match(e, Vec::new(), ctx))
            .collect()
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let b = s.as_bytes();
    let looks_ip = b.contains(&b':') || b.iter().all(|c| c.is_ascii_digit() || *c == b'.');
    if !looks_ip {
        return None;
    }
    let inner = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    inner
        .parse::<IpAddr>()
        .ok()
        .map(crate::event::normalize::canonical_ip)
}

fn status_rank(s: Status) -> u8 {
    s as u8
}

fn sort_matches(v: &mut [CatalogMatch<'_>]) {
    if v.len() > 1 {
        v.sort_by(|a, b| {
            b.entry
                .parsed
                .specificity()
                .cmp(&a.entry.parsed.specificity())
                .then(a.requirement.cmp(&b.requirement))
                .then(status_rank(a.entry.status).cmp(&status_rank(b.entry.status)))
                // Lazily: comparing ids is the costly part and is rarely needed.
                .then_with(|| a.entry.id.cmp(&b.entry.id))
        });
    }
}

/// Replace placeholders by captured values (or the context region for region placeholders).
fn fill<'a>(e: &'a Entry, captures: &[(&str, String)], region: Option<&str>) -> Cow<'a, str> {
    let value_for = |name: &str| -> Option<&str> {
        captures
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .or_else(|| region.filter(|_| pattern::is_region_placeholder(name)))
    };
    match &e.parsed {
        Pattern::Fqdn { wildcard, labels } => {
            if !labels
                .iter()
                .any(|l| matches!(l, Label::Placeholder { name, .. } if value_for(name).is_some()))
            {
                return Cow::Borrowed(&e.pattern);
            }
            let mut out = String::with_capacity(e.pattern.len() + 16);
            if *wildcard {
                out.push('*');
            }
            for l in labels {
                if !out.is_empty() {
                    out.push('.');
                }
                match l {
                    Label::Literal(s) => out.push_str(s),
                    Label::Glob { prefix, suffix } => {
                        out.push_str(prefix);
                        out.push('*');
                        out.push_str(suffix);
                    }
                    Label::Placeholder {
                        prefix,
                        name,
                        suffix,
                    } => {
                        out.push_str(prefix);
                        match value_for(name) {
                            Some(v) => out.push_str(v),
                            None => {
                                out.push('<');
                                out.push_str(name);
                                out.push('>');
                            }
                        }
                        out.push_str(suffix);
                    }
                }
            }
            Cow::Owned(out)
        }
        Pattern::ServiceTag(t) => match t.split_once(".<") {
            Some((tag, rest)) => match rest.strip_suffix('>').and_then(value_for) {
                Some(v) => Cow::Owned(format!("{tag}.{v}")),
                None => Cow::Borrowed(&e.pattern),
            },
            None => Cow::Borrowed(&e.pattern),
        },
        _ => Cow::Borrowed(&e.pattern),
    }
}

#[cfg(test)]
mod tests;
