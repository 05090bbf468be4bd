//! The deny report as data: the JSON contract that later tools and tests rely on.
//!
//! ```json
//! {"from": "…", "to": "…", "events": N, "denies": N, "skipped": N,
//!  "groups": [{"kind": "application", "source_subnet": "10.10.1.0/24", "protocol": "HTTPS",
//!              "destination": "mcr.microsoft.com", "destination_port": 443, "hits": 50, "distinct_sources": 3,
//!              "first_seen": "2023-05-23T08:34:10Z", "last_seen": "…", "example_sources": ["10.10.1.4"],
//!              "catalog": [{"pattern": …, "feature": …, "requirement": …, "status": …, "source": …}]}]}
//! ```
//! `events` counts every event read, `denies` the denied events in the window that pass the filters (the sum of
//! all groups' hits, also those cut by `--top`). The further keys describe the data and what was left out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::catalog::{CatalogMatch, Requirement, Status};
use crate::engine::Group;
use crate::policy::Explanation;

/// What one catalog entry says about a group's destination (the full match is in `fwlog catalog match`).
/// Keys are serialised in alphabetical order, as the contract has always had them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Label {
    pub declared_requirement: Requirement,
    pub feature: Arc<str>,
    /// Shared with `pattern` when no placeholder was filled: a week's random-subdomain hosts make 36k label
    /// lists, and each label's own copies of these two texts were 7 MB at the end of a 100M-row report.
    pub filled_pattern: Arc<str>,
    /// Why the entry is not needed for this cluster, when `requirement` is `not-needed` (one copy per reason).
    pub not_needed: Option<Arc<str>>,
    pub note: Option<Arc<str>>,
    pub pattern: Arc<str>,
    /// The requirement for this cluster (conditional entries of features in use are required).
    pub requirement: Requirement,
    pub retired: bool,
    pub source: Arc<str>,
    pub status: Status,
}

impl Label {
    /// The label of a match, its entry's texts shared through `texts`.
    pub fn of<'c>(m: &CatalogMatch<'c>, texts: &mut EntryTexts<'c>) -> Label {
        let e = m.entry;
        let (feature, note, pattern, source) = texts.of(e).clone();
        let filled_pattern = match &m.filled_pattern {
            std::borrow::Cow::Borrowed(p) if *p == &*pattern => pattern.clone(),
            filled => Arc::from(&**filled),
        };
        Label {
            declared_requirement: e.requirement,
            feature,
            filled_pattern,
            not_needed: m.not_needed.map(|why| texts.reason(why)),
            note,
            pattern,
            requirement: m.requirement,
            retired: m.retired(),
            source,
            status: e.status,
        }
    }
}

/// The texts of the catalog entries labels were made of, one copy each: a destination with a random
/// subdomain matches the same entry as every other, and each label used to copy the entry's note and source
/// (100 MB for 115k groups of a week's data).
/// Keyed by the entry's address: the entries outlive the cache (`'c`), so an address names one entry.
#[derive(Default)]
pub struct EntryTexts<'c>(
    HashMap<usize, EntryText>,
    HashMap<&'static str, Arc<str>>,
    std::marker::PhantomData<&'c crate::catalog::Entry>,
);

type EntryText = (Arc<str>, Option<Arc<str>>, Arc<str>, Arc<str>);

impl<'c> EntryTexts<'c> {
    /// A reason an entry is not needed, one copy each.
    fn reason(&mut self, why: &'static str) -> Arc<str> {
        self.1.entry(why).or_insert_with(|| Arc::from(why)).clone()
    }

    fn of(&mut self, e: &'c crate::catalog::Entry) -> &EntryText {
        self.0.entry(e as *const _ as usize).or_insert_with(|| {
            (
                e.feature.as_str().into(),
                e.note.as_deref().map(Arc::from),
                e.pattern.as_str().into(),
                e.source.as_str().into(),
            )
        })
    }
}

/// The catalog labels of a group, shared by every group of the same destination, port and protocol (a
/// destination recurs across subnets, and its labels hold the entries' notes: 100k groups used to clone
/// ~200 MB of them). Serialised as a list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Labels(std::sync::Arc<[Label]>);

/// Looked up by content in a set of the lists already made (see `report::build`).
impl std::borrow::Borrow<[Label]> for Labels {
    fn borrow(&self) -> &[Label] {
        &self.0
    }
}

impl std::ops::Deref for Labels {
    type Target = [Label];
    fn deref(&self) -> &[Label] {
        &self.0
    }
}

impl From<Vec<Label>> for Labels {
    fn from(v: Vec<Label>) -> Labels {
        Labels(v.into())
    }
}

impl Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
        Vec::<Label>::deserialize(d).map(Labels::from)
    }
}

/// A group of the report: the engine's group and the catalog entries its destination matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportGroup {
    #[serde(flatten)]
    pub group: Group,
    /// Catalog entries this destination matches, most specific first; empty when it is not in the catalog.
    #[serde(default)]
    pub catalog: Labels,
    /// Why the user's firewall policy (`--policy`) denied it; absent without a policy.
    /// Boxed: most reports have no policy, and inline it made each of a 100M-row report's 115k groups 72
    /// bytes larger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Box<PolicyNote>>,
}

/// The policy's explanation of a group's denies, as data and as a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyNote {
    pub explanation: serde_json::Value,
    pub text: String,
    /// Caveats of the evaluation (an IP Group not given, a base policy missing, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl PolicyNote {
    pub fn of(explanation: &Explanation, notes: Vec<String>) -> PolicyNote {
        PolicyNote {
            explanation: serde_json::to_value(explanation).unwrap_or(serde_json::Value::Null),
            text: explanation.to_string(),
            notes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenyReport {
    pub from: Option<String>,
    pub to: Option<String>,
    pub events: u64,
    pub denies: u64,
    pub skipped: u64,
    pub groups: Vec<ReportGroup>,
    /// Events inside the window (before filters).
    pub events_in_window: u64,
    /// Number of groups before `--top`.
    pub total_groups: u64,
    /// Exact repeats of a selected event (a deny in the window) already read, e.g. both diagnostic modes
    /// archived; not counted. Repeats of other events are not looked for (see `ReadStats::duplicates`).
    pub duplicates: u64,
    /// Legacy messages in the window the parser did not understand (kept as kind `unparsed`).
    pub unparsed: u64,
    pub skipped_by_reason: BTreeMap<String, u64>,
    /// First and last event time in the whole input.
    pub data_from: Option<String>,
    pub data_to: Option<String>,
    /// Where the events came from (files, or Log Analytics tables).
    pub sources: Vec<String>,
    /// Denies (of all groups, also those cut by `--top`) to endpoints AKS needs: required ones.
    pub required_denies: u64,
    /// Denies to endpoints the catalog wants allowed: required, needed for a feature, or recommended.
    pub needed_denies: u64,
    /// The policy the denies were explained against (`--policy`), by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl DenyReport {
    /// True when the input has events but none inside the window.
    pub fn window_is_empty_but_data_exists(&self) -> bool {
        self.events > 0 && self.events_in_window == 0
    }

    /// The denies that make `--fail-on level` fail the run.
    pub fn gate(&self, level: crate::query::FailOn) -> u64 {
        match level {
            crate::query::FailOn::Required => self.required_denies,
            crate::query::FailOn::Needed => self.needed_denies,
            crate::query::FailOn::Any => self.denies,
        }
    }
}
