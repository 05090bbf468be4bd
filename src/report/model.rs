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

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub kind: String,
    pub source_subnet: Option<String>,
    pub protocol: Option<String>,
    /// FQDN or IP; `null` for denies without destination ("SNI TLS extension was missing").
    pub destination: Option<String>,
    pub destination_port: Option<u32>,
    pub hits: u64,
    pub distinct_sources: u64,
    pub first_seen: String,
    pub last_seen: String,
    /// Up to three sources, lowest address first.
    pub example_sources: Vec<String>,
    /// Catalog entries this destination matches, most specific first; empty when it is not in the catalog.
    #[serde(default)]
    pub catalog: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenyReport {
    pub from: Option<String>,
    pub to: Option<String>,
    pub events: u64,
    pub denies: u64,
    pub skipped: u64,
    pub groups: Vec<Group>,
    /// Events inside the window (before filters).
    pub events_in_window: u64,
    /// Number of groups before `--top`.
    pub total_groups: u64,
    /// Exact repeats of an event already read (e.g. both diagnostic modes archived), not counted.
    pub duplicates: u64,
    /// Legacy messages the parser did not understand (kept as kind `unparsed`).
    pub unparsed: u64,
    pub skipped_by_reason: BTreeMap<String, u64>,
    /// First and last event time in the whole input.
    pub data_from: Option<String>,
    pub data_to: Option<String>,
    /// Where the events came from (files, or Log Analytics tables).
    pub sources: Vec<String>,
}

impl DenyReport {
    /// True when the input has events but none inside the window.
    pub fn window_is_empty_but_data_exists(&self) -> bool {
        self.events > 0 && self.events_in_window == 0
    }
}
