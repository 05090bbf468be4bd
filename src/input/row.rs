//! One event on its way into the canonical schema, and the builder that turns rows into canonical batches.
//!
//! Every reader fills a [`Row`] with values as the log wrote them; [`CanonicalBuilder::push`] applies the
//! normalisation of `crate::event::normalize` exactly once and appends to polars column builders, writing
//! canonical text into reusable scratch buffers so the hot path allocates nothing per row.

use std::fmt::Write as _;

use polars::prelude::*;

use crate::event::normalize::{self, Host};
use crate::event::{self as ev, Action, Kind, Reason};

/// Field values of one event, borrowed from the reader's buffer and not yet canonical.
#[derive(Debug, Clone, Default)]
pub struct Row<'a> {
    pub time_us: Option<i64>,
    pub kind: Option<Kind>,
    pub action: Option<Action>,
    /// Protocol as logged (`HTTP `, `HTTP/1.1`, `ICMP Type=8`, `udp`).
    pub protocol: Option<&'a str>,
    pub source: Option<Host<'a>>,
    pub source_port: Option<u32>,
    pub destination: Option<Host<'a>>,
    pub destination_port: Option<u32>,
    pub url: Option<&'a str>,
    pub policy: Option<&'a str>,
    pub rule_collection_group: Option<&'a str>,
    pub rule_collection: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub reason: Option<Reason>,
    pub reason_text: Option<&'a str>,
    pub web_category: Option<&'a str>,
    pub threat: Option<&'a str>,
    pub signature_id: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub severity: Option<u32>,
    pub classification: Option<&'a str>,
    pub translated: Option<Host<'a>>,
    pub translated_port: Option<u32>,
    pub dns_query_type: Option<&'a str>,
    pub dns_response_code: Option<&'a str>,
    pub firewall: Option<&'a str>,
    pub message: Option<&'a str>,
    pub hits: u64,
}

impl<'a> Row<'a> {
    /// Unset every field (hits 1), one store per field: resetting the whole struct at once (`Default` then a
    /// move) made the reads right after stall on store forwarding.
    #[inline]
    pub fn clear(&mut self) {
        self.time_us = None;
        self.kind = None;
        self.action = None;
        self.protocol = None;
        self.source = None;
        self.source_port = None;
        self.destination = None;
        self.destination_port = None;
        self.url = None;
        self.policy = None;
        self.rule_collection_group = None;
        self.rule_collection = None;
        self.rule = None;
        self.reason = None;
        self.reason_text = None;
        self.web_category = None;
        self.threat = None;
        self.signature_id = None;
        self.signature = None;
        self.severity = None;
        self.classification = None;
        self.translated = None;
        self.translated_port = None;
        self.dns_query_type = None;
        self.dns_response_code = None;
        self.firewall = None;
        self.message = None;
        self.hits = 1;
    }

    /// [`Row::apply_legacy`] for the fields `crate::legacy::parse_core_into` guarantees (the row builder in
    /// core-only mode reads no others).
    pub fn apply_legacy_core(&mut self, msg: &'a str, parsed: &crate::legacy::LegacyEvent<'a>) {
        self.message = Some(msg);
        self.kind = parsed.kind.or(self.kind);
        self.protocol = parsed.protocol.or(self.protocol);
        if let Some(s) = parsed.source {
            self.source = Some(s.host);
            self.source_port = s.port;
        }
        if let Some(d) = parsed.destination {
            self.destination = Some(d.host);
            self.destination_port = d.port;
        }
        self.action = parsed.action.or(self.action);
    }

    /// Fill the fields of a parsed legacy message (the raw text is kept in `message`).
    pub fn apply_legacy(&mut self, msg: &'a str, parsed: &crate::legacy::LegacyEvent<'a>) {
        self.apply_legacy_core(msg, parsed);
        if let Some(t) = parsed.translated {
            self.translated = Some(t.host);
            self.translated_port = t.port;
        }
        self.url = parsed.url;
        self.policy = parsed.policy;
        self.rule_collection_group = parsed.rule_collection_group;
        self.rule_collection = parsed.rule_collection;
        self.rule = parsed.rule;
        self.web_category = parsed.web_category;
        self.reason = parsed.reason;
        self.reason_text = parsed.reason_text;
        self.threat = parsed.threat;
        self.signature_id = parsed.signature_id;
        self.signature = parsed.signature;
        self.severity = parsed.severity;
        self.classification = parsed.classification;
        self.dns_query_type = parsed.dns_query_type;
        self.dns_response_code = parsed.dns_response_code;
    }
}

/// The columns a [`CanonicalBuilder`] fills in core-only mode: what grouping denies needs.
pub const CORE_COLUMNS: [&str; 10] = [
    ev::TIME,
    ev::KIND,
    ev::ACTION,
    ev::PROTOCOL,
    ev::ICMP_TYPE,
    ev::SOURCE_IP,
    ev::SOURCE_PORT,
    ev::DESTINATION,
    ev::DESTINATION_PORT,
    ev::HITS,
];

/// Non-empty, trimmed text or `None`: logs write "no value" as `""`.
pub fn text(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|t| !t.is_empty())
}

/// Appends rows to canonical column builders; `finish` yields a DataFrame in [`crate::event::schema`] order.
pub struct CanonicalBuilder {
    time: Vec<Option<i64>>,
    kind: StringChunkedBuilder,
    action: StringChunkedBuilder,
    protocol: StringChunkedBuilder,
    icmp_type: Vec<Option<u32>>,
    source_ip: StringChunkedBuilder,
    source_port: Vec<Option<u32>>,
    destination: StringChunkedBuilder,
    destination_port: Vec<Option<u32>>,
    url: StringChunkedBuilder,
    policy: StringChunkedBuilder,
    rcg: StringChunkedBuilder,
    rc: StringChunkedBuilder,
    rule: StringChunkedBuilder,
    reason: StringChunkedBuilder,
    reason_text: StringChunkedBuilder,
    web_category: StringChunkedBuilder,
    threat: StringChunkedBuilder,
    signature_id: StringChunkedBuilder,
    signature: StringChunkedBuilder,
    severity: Vec<Option<u32>>,
    classification: StringChunkedBuilder,
    translated_ip: StringChunkedBuilder,
    translated_port: Vec<Option<u32>>,
    dns_query_type: StringChunkedBuilder,
    dns_response_code: StringChunkedBuilder,
    firewall: StringChunkedBuilder,
    message: StringChunkedBuilder,
    hits: Vec<u64>,
    origin_file: StringChunkedBuilder,
    origin_line: Vec<Option<u64>>,
    scratch: String,
    len: usize,
    keep_message: bool,
    core_only: bool,
}

fn sb(name: &str, cap: usize) -> StringChunkedBuilder {
    StringChunkedBuilder::new(name.into(), cap)
}

impl CanonicalBuilder {
    pub fn new(capacity: usize) -> Self {
        Self::with_capacities(capacity, capacity)
    }

    /// Room for `capacity` rows in the core columns, and in the others unless `core_only` (they stay empty).
    pub(crate) fn sized(capacity: usize, core_only: bool) -> Self {
        Self::with_capacities(capacity, if core_only { 0 } else { capacity }).core_only(core_only)
    }

    fn with_capacities(core: usize, rest: usize) -> Self {
        CanonicalBuilder {
            time: Vec::with_capacity(core),
            kind: sb(ev::KIND, core),
            action: sb(ev::ACTION, core),
            protocol: sb(ev::PROTOCOL, core),
            icmp_type: Vec::with_capacity(core),
            source_ip: sb(ev::SOURCE_IP, core),
            source_port: Vec::with_capacity(core),
            destination: sb(ev::DESTINATION, core),
            destination_port: Vec::with_capacity(core),
            url: sb(ev::URL, rest),
            policy: sb(ev::POLICY, rest),
            rcg: sb(ev::RULE_COLLECTION_GROUP, rest),
            rc: sb(ev::RULE_COLLECTION, rest),
            rule: sb(ev::RULE, rest),
            reason: sb(ev::REASON, rest),
            reason_text: sb(ev::REASON_TEXT, rest),
            web_category: sb(ev::WEB_CATEGORY, rest),
            threat: sb(ev::THREAT, rest),
            signature_id: sb(ev::SIGNATURE_ID, rest),
            signature: sb(ev::SIGNATURE, rest),
            severity: Vec::with_capacity(rest),
            classification: sb(ev::CLASSIFICATION, rest),
            translated_ip: sb(ev::TRANSLATED_IP, rest),
            translated_port: Vec::with_capacity(rest),
            dns_query_type: sb(ev::DNS_QUERY_TYPE, rest),
            dns_response_code: sb(ev::DNS_RESPONSE_CODE, rest),
            firewall: sb(ev::FIREWALL, rest),
            message: sb(ev::MESSAGE, rest),
            hits: Vec::with_capacity(core),
            origin_file: sb(ev::ORIGIN_FILE, rest),
            origin_line: Vec::with_capacity(rest),
            scratch: String::with_capacity(256),
            len: 0,
            keep_message: true,
            core_only: false,
        }
    }

    /// Fill only [`CORE_COLUMNS`]; the others come out as all-null columns. Reports that group denies need no
    /// more, and skipping the rest halves the cost of a row.
    pub fn core_only(mut self, core_only: bool) -> Self {
        self.core_only = core_only;
        self
    }

    /// Drop the raw legacy text of rows that parsed (unparsed rows always keep it). Large reports do not
    /// need it and it is most of a legacy row's size.
    pub fn keep_parsed_messages(mut self, keep: bool) -> Self {
        self.keep_message = keep;
        self
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, row: &Row<'_>, origin_file: &str, origin_line: u64) {
        self.len += 1;
        self.time.push(row.time_us);
        self.kind.append_option(row.kind.map(Kind::as_str));
        self.action.append_option(row.action.map(Action::as_str));
        match row.protocol.and_then(normalize::protocol) {
            Some((p, t)) => {
                self.protocol.append_value(&p);
                self.icmp_type.push(t);
            }
            None => {
                self.protocol.append_null();
                self.icmp_type.push(None);
            }
        }
        push_host(&mut self.source_ip, &mut self.scratch, row.source);
        self.source_port.push(row.source_port);
        push_host(&mut self.destination, &mut self.scratch, row.destination);
        self.destination_port.push(row.destination_port);
        self.hits.push(row.hits.max(1));
        if self.core_only {
            return;
        }
        self.url.append_option(text(row.url));
        self.policy.append_option(text(row.policy));
        self.rcg.append_option(text(row.rule_collection_group));
        self.rc.append_option(text(row.rule_collection));
        self.rule.append_option(text(row.rule));
        let reason = row
            .reason
            .or_else(|| normalize::reason(row.reason_text, row.rule, row.action));
        self.reason.append_option(reason.map(Reason::as_str));
        self.reason_text.append_option(text(row.reason_text));
        self.web_category.append_option(text(row.web_category));
        self.threat.append_option(text(row.threat));
        self.signature_id.append_option(text(row.signature_id));
        self.signature.append_option(text(row.signature));
        self.severity.push(row.severity);
        self.classification.append_option(text(row.classification));
        push_host(&mut self.translated_ip, &mut self.scratch, row.translated);
        self.translated_port.push(row.translated_port);
        self.dns_query_type.append_option(text(row.dns_query_type));
        self.dns_response_code
            .append_option(text(row.dns_response_code));
        match text(row.firewall) {
            Some(f) if f.bytes().any(|b| b.is_ascii_uppercase()) => {
                self.scratch.clear();
                self.scratch.push_str(f);
                self.scratch.make_ascii_lowercase();
                self.firewall.append_value(&self.scratch);
            }
            other => self.firewall.append_option(other),
        }
        let keep = self.keep_message || row.kind == Some(Kind::Unparsed);
        self.message
            .append_option(if keep { row.message } else { None });
        self.origin_file.append_value(origin_file);
        self.origin_line.push(Some(origin_line));
    }

    /// The rows so far as a canonical DataFrame; the builder is left empty and reusable.
    pub fn finish(&mut self) -> PolarsResult<DataFrame> {
        let cap = self.time.capacity().max(1);
        let old = std::mem::replace(
            self,
            CanonicalBuilder::sized(cap, self.core_only).keep_parsed_messages(self.keep_message),
        );
        let n = old.len;
        let time = Int64Chunked::from_iter_options(ev::TIME.into(), old.time.into_iter())
            .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
            .into_series();
        let u32col = |name: &str, v: Vec<Option<u32>>| {
            UInt32Chunked::from_iter_options(name.into(), v.into_iter()).into_series()
        };
        let columns: Vec<Column> = vec![
            time.into(),
            old.kind.finish().into_series().into(),
            old.action.finish().into_series().into(),
            old.protocol.finish().into_series().into(),
            u32col(ev::ICMP_TYPE, old.icmp_type).into(),
            old.source_ip.finish().into_series().into(),
            u32col(ev::SOURCE_PORT, old.source_port).into(),
            old.destination.finish().into_series().into(),
            u32col(ev::DESTINATION_PORT, old.destination_port).into(),
            old.url.finish().into_series().into(),
            old.policy.finish().into_series().into(),
            old.rcg.finish().into_series().into(),
            old.rc.finish().into_series().into(),
            old.rule.finish().into_series().into(),
            old.reason.finish().into_series().into(),
            old.reason_text.finish().into_series().into(),
            old.web_category.finish().into_series().into(),
            old.threat.finish().into_series().into(),
            old.signature_id.finish().into_series().into(),
            old.signature.finish().into_series().into(),
            u32col(ev::SEVERITY, old.severity).into(),
            old.classification.finish().into_series().into(),
            old.translated_ip.finish().into_series().into(),
            u32col(ev::TRANSLATED_PORT, old.translated_port).into(),
            old.dns_query_type.finish().into_series().into(),
            old.dns_response_code.finish().into_series().into(),
            old.firewall.finish().into_series().into(),
            old.message.finish().into_series().into(),
            UInt64Chunked::from_vec(ev::HITS.into(), old.hits)
                .into_series()
                .into(),
            old.origin_file.finish().into_series().into(),
            UInt64Chunked::from_iter_options(ev::ORIGIN_LINE.into(), old.origin_line.into_iter())
                .into_series()
                .into(),
        ];
        let columns = columns
            .into_iter()
            .map(|c| {
                if c.len() == n {
                    c
                } else {
                    Column::full_null(c.name().clone(), n, c.dtype())
                }
            })
            .collect();
        DataFrame::new(n, columns)
    }
}

fn push_host(b: &mut StringChunkedBuilder, scratch: &mut String, h: Option<Host<'_>>) {
    match h {
        None => b.append_null(),
        Some(Host::Ip(std::net::IpAddr::V4(v4))) => {
            let mut buf = [0u8; 15];
            b.append_value(format_ipv4(v4, &mut buf));
        }
        Some(Host::Ip(ip)) => {
            scratch.clear();
            let _ = write!(scratch, "{ip}");
            b.append_value(scratch.as_str());
        }
        Some(Host::Name(n)) => {
            let c = normalize::canonical_name(n);
            if c.is_empty() {
                b.append_null();
            } else {
                b.append_value(&c);
            }
        }
    }
}

/// Dotted-quad text of an IPv4 address without the formatting machinery (it showed up at ~5% of a 10M-row run).
fn format_ipv4(ip: std::net::Ipv4Addr, buf: &mut [u8; 15]) -> &str {
    let mut n = 0;
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + (o / 10) % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    // Only ASCII digits and dots were written.
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ipv4_text_matches_display() {
        for ip in [
            "0.0.0.0",
            "10.240.0.4",
            "255.255.255.255",
            "1.20.100.9",
            "100.0.10.1",
        ] {
            let ip: std::net::Ipv4Addr = ip.parse().unwrap();
            let mut buf = [0u8; 15];
            assert_eq!(super::format_ipv4(ip, &mut buf), ip.to_string());
        }
    }
}
