//! Parser for the legacy `AzureDiagnostics` firewall messages (`msg_s` / `properties.msg`).
//!
//! Owned by the legacy-parser work (issue 3). The contract the readers rely on: [`parse`] takes one message and
//! returns the fields it holds, borrowing from the message, or `None` when the text is not a firewall message
//! it understands (the caller then records an `unparsed` event with the raw text).

use crate::event::normalize::Host;
use crate::event::{Action, Kind, Reason};

/// An address or name with its port as written in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint<'a> {
    pub host: Host<'a>,
    pub port: Option<u32>,
}

/// The fields of one legacy message. `&str` values are trimmed slices of the message, not yet canonical
/// (the reader applies `crate::event::normalize` to protocol and names).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LegacyEvent<'a> {
    pub kind: Option<Kind>,
    /// Protocol token as written: `HTTP`, `HTTPS`, `TCP`, `ICMP Type=8`, `udp` (DNS proxy transport).
    pub protocol: Option<&'a str>,
    pub source: Option<Endpoint<'a>>,
    /// Destination of the request; for DNS proxy and resolve-failure messages, the queried name.
    pub destination: Option<Endpoint<'a>>,
    pub action: Option<Action>,
    pub url: Option<&'a str>,
    pub policy: Option<&'a str>,
    pub rule_collection_group: Option<&'a str>,
    pub rule_collection: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub web_category: Option<&'a str>,
    pub reason: Option<Reason>,
    pub reason_text: Option<&'a str>,
    pub threat: Option<&'a str>,
    pub signature_id: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub severity: Option<u32>,
    pub classification: Option<&'a str>,
    /// DNAT target.
    pub translated: Option<Endpoint<'a>>,
    pub dns_query_type: Option<&'a str>,
    pub dns_response_code: Option<&'a str>,
}

/// Parse one legacy message; `None` when it is not a message this parser understands.
pub fn parse(msg: &str) -> Option<LegacyEvent<'_>> {
    let _ = msg;
    None
}
