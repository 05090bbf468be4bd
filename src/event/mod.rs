//! The canonical event schema: the one shape every input is normalised into.
//!
//! Readers (`crate::input`) and the live fetcher (`crate::live`) turn their rows into these columns exactly once;
//! the engine (`crate::engine`), the report and the recommender only ever see this schema, so nothing downstream
//! knows whether a row came from Parquet, a storage archive, a portal CSV or the Query API.
//!
//! | column | dtype | meaning |
//! |---|---|---|
//! | `time` | Datetime(µs, UTC) | when the firewall logged the event (`TimeGenerated` / `time`) |
//! | `kind` | String | [`Kind`]: application, network, nat, threat-intel, idps, dns, resolve-failure, flow-trace, fat-flow, unparsed |
//! | `action` | String | [`Action`] lower case: allow, deny, alert, drop, log; null where the log has no action (NAT, DNS) |
//! | `protocol` | String | upper case, trimmed: `HTTPS`, `HTTP` (also for the legacy `"HTTP "` padding and for `HTTP/1.1`, which the firewall writes for TLS-inspected or explicit-proxy requests), `TCP`, `UDP`, `ICMP`, `ICMPV6` (the `Type=N` suffix moves to `icmp_type`), `DNS` stays the transport for DNS logs |
//! | `icmp_type` | UInt32 | ICMP type when the protocol carried `Type=N` |
//! | `source_ip` | String | canonical textual IP (IPv6 compressed, no brackets, lower case) |
//! | `source_port` | UInt32 | null when the log has none (aggregation tables, ICMP without port) |
//! | `destination` | String | FQDN lower-cased without trailing dot, or canonical IP; null when unknown (SNI missing) |
//! | `destination_port` | UInt32 | null when the destination is (no port without a host) |
//! | `url` | String | target URL when logged (HTTP, TLS inspection) |
//! | `policy`, `rule_collection_group`, `rule_collection`, `rule` | String | the matching rule; null when none matched. The legacy `pol:rcg:rc` form is split |
//! | `reason` | String | [`Reason`] class: default-action, sni-missing, resolve-failure, rule-match, threat-intel, idps-signature, other |
//! | `reason_text` | String | the original reason text as logged (`ActionReason`, or the legacy sentence) |
//! | `web_category` | String | |
//! | `threat` | String | threat-intel description |
//! | `signature_id`, `signature`, `severity`, `classification` | String, String, UInt32, String | IDPS fields (`severity` is `Priority` in legacy text) |
//! | `translated_ip`, `translated_port` | String, UInt32 | DNAT target |
//! | `dns_query_type`, `dns_response_code` | String | DNS proxy fields (the query name is `destination`) |
//! | `firewall` | String | firewall resource id, lower case |
//! | `message` | String | the raw legacy message (`msg_s` / `properties.msg`); null for structured rows |
//! | `hits` | UInt64 | how many events this row stands for: 1, or the count column of an `*Aggregation` table |
//! | `origin_file`, `origin_line` | String, UInt64 | where the row was read (1-based line or data row), for diagnostics only |

pub mod normalize;
pub mod stats;
pub mod tally;

use polars::prelude::{DataType, Field, Schema, TimeUnit, TimeZone};

pub const TIME: &str = "time";
pub const KIND: &str = "kind";
pub const ACTION: &str = "action";
pub const PROTOCOL: &str = "protocol";
pub const ICMP_TYPE: &str = "icmp_type";
pub const SOURCE_IP: &str = "source_ip";
pub const SOURCE_PORT: &str = "source_port";
pub const DESTINATION: &str = "destination";
pub const DESTINATION_PORT: &str = "destination_port";
pub const URL: &str = "url";
pub const POLICY: &str = "policy";
pub const RULE_COLLECTION_GROUP: &str = "rule_collection_group";
pub const RULE_COLLECTION: &str = "rule_collection";
pub const RULE: &str = "rule";
pub const REASON: &str = "reason";
pub const REASON_TEXT: &str = "reason_text";
pub const WEB_CATEGORY: &str = "web_category";
pub const THREAT: &str = "threat";
pub const SIGNATURE_ID: &str = "signature_id";
pub const SIGNATURE: &str = "signature";
pub const SEVERITY: &str = "severity";
pub const CLASSIFICATION: &str = "classification";
pub const TRANSLATED_IP: &str = "translated_ip";
pub const TRANSLATED_PORT: &str = "translated_port";
pub const DNS_QUERY_TYPE: &str = "dns_query_type";
pub const DNS_RESPONSE_CODE: &str = "dns_response_code";
pub const FIREWALL: &str = "firewall";
pub const MESSAGE: &str = "message";
pub const HITS: &str = "hits";
pub const ORIGIN_FILE: &str = "origin_file";
pub const ORIGIN_LINE: &str = "origin_line";

/// Every canonical column with its dtype, in schema order.
pub fn columns() -> Vec<(&'static str, DataType)> {
    let s = DataType::String;
    let u32 = DataType::UInt32;
    vec![
        (TIME, time_dtype()),
        (KIND, s.clone()),
        (ACTION, s.clone()),
        (PROTOCOL, s.clone()),
        (ICMP_TYPE, u32.clone()),
        (SOURCE_IP, s.clone()),
        (SOURCE_PORT, u32.clone()),
        (DESTINATION, s.clone()),
        (DESTINATION_PORT, u32.clone()),
        (URL, s.clone()),
        (POLICY, s.clone()),
        (RULE_COLLECTION_GROUP, s.clone()),
        (RULE_COLLECTION, s.clone()),
        (RULE, s.clone()),
        (REASON, s.clone()),
        (REASON_TEXT, s.clone()),
        (WEB_CATEGORY, s.clone()),
        (THREAT, s.clone()),
        (SIGNATURE_ID, s.clone()),
        (SIGNATURE, s.clone()),
        (SEVERITY, u32.clone()),
        (CLASSIFICATION, s.clone()),
        (TRANSLATED_IP, s.clone()),
        (TRANSLATED_PORT, u32.clone()),
        (DNS_QUERY_TYPE, s.clone()),
        (DNS_RESPONSE_CODE, s.clone()),
        (FIREWALL, s.clone()),
        (MESSAGE, s.clone()),
        (HITS, DataType::UInt64),
        (ORIGIN_FILE, s.clone()),
        (ORIGIN_LINE, DataType::UInt64),
    ]
}

pub fn time_dtype() -> DataType {
    DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
}

pub fn schema() -> Schema {
    columns()
        .into_iter()
        .map(|(name, dt)| Field::new(name.into(), dt))
        .collect()
}

macro_rules! str_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        ///
        /// Four bytes wide (`repr(u32)`): the legacy parser stores these and the reader loads them right after,
        /// and byte-wide fields were loaded a word at a time, stalling on store forwarding once per message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

str_enum!(
    /// What sort of firewall log an event comes from.
    Kind {
        Application => "application",
        Network => "network",
        Nat => "nat",
        ThreatIntel => "threat-intel",
        Idps => "idps",
        Dns => "dns",
        ResolveFailure => "resolve-failure",
        FlowTrace => "flow-trace",
        FatFlow => "fat-flow",
        Unparsed => "unparsed",
    }
);

str_enum!(
    /// The firewall's verdict, lower-cased (`alert`/`drop` come from IDPS, `log` from flow trace).
    Action {
        Allow => "allow",
        Deny => "deny",
        Alert => "alert",
        Drop => "drop",
        Log => "log",
    }
);

str_enum!(
    /// Why the firewall acted, classified from `ActionReason` or the legacy sentences.
    Reason {
        DefaultAction => "default-action",
        SniMissing => "sni-missing",
        ResolveFailure => "resolve-failure",
        RuleMatch => "rule-match",
        ThreatIntel => "threat-intel",
        IdpsSignature => "idps-signature",
        Other => "other",
    }
);
