//! Parser for the legacy `AzureDiagnostics` firewall messages (`msg_s` / `properties.msg`).
//!
//! Owned by the legacy-parser work (issue 3). The contract the readers rely on: [`parse`] takes one message and
//! returns the fields it holds, borrowing from the message, or `None` when the text is not a firewall message
//! it understands (the caller then records an `unparsed` event with the raw text).
//!
//! # Message shapes
//!
//! Dispatch is on the message text only, never on `Category`/`OperationName` (threat-intel and IDS lines are
//! logged under `AzureFirewallNetworkRuleLog` too). The message is trimmed first (the DNS error form starts with
//! a space), then:
//!
//! * `DNS Request: <client> - <id> <type> <class> <name> <proto> <size> <do> <bufsize> <rcode> <flags> <size> <dur>`
//!   → [`Kind::Dns`] ([`dns`]). The separator may be `-` or the en dash `–` the docs print.
//! * `Error: <n> <name> <TYPE>: <text>` (DNS proxy failure) → [`Kind::Dns`].
//! * `Failed to resolve FQDN <name>. Error <text>. Rule Collection: … Rule: …` → [`Kind::ResolveFailure`].
//! * `<proto> request from <src> [to <dst>] [was DNAT'ed to <target>] [was denied]` followed by sentences
//!   ([`head`], [`sentences`]) → Nat / ThreatIntel / Idps / Application / Network.
//!
//! Anything else is `None`.
//!
//! # Decisions on the ambiguous parts
//!
//! * **Endpoints.** `[v6]:port`, `v4:port`, `name:port` (split at the last colon), `ip:` (empty port → `None`),
//!   `:0` ports are kept as `Some(0)` (that is what the newer ICMP messages write), no colon → no port. A token
//!   with more than one colon and no brackets is an unbracketed IPv6 address without port (the legacy text always
//!   brackets IPv6 when it writes a port). A port that is not a number ≤ 65535 is `None` (the host is kept). An
//!   endpoint with an empty host (`:80`) is `None`. Hosts go through [`crate::event::normalize::host`].
//! * **Sentences.** A sentence starts at the beginning of the tail or after `". "` (so also after `".. "`) but
//!   only when a known keyword follows; values may therefore contain `.`, `, ` and `". "` followed by anything
//!   that is not a keyword. `Action:`, `Signature:` and `Priority:` are one-word values and end at the first
//!   `". "` whatever follows. Values are trimmed of spaces and trailing dots; an empty value is `None`.
//!   A repeated keyword keeps the first value.
//! * **Reason**, in priority order: `ThreatIntel:` → `ThreatIntel` (text in `threat`, `reason_text` `None`);
//!   `Signature:`/`IDS:` → `IdpsSignature` (`reason_text` `None`); `No rule matched. Proceeding with default
//!   action` → `DefaultAction` with that text; `Failed to resolve address …` → `ResolveFailure` with the whole
//!   sentence (from "Failed" to the end of the message or the next keyword sentence); `Reason: <text>` →
//!   [`crate::event::normalize::reason_from_text`] with the text (SNI missing → `SniMissing`); a named `Rule:` →
//!   `RuleMatch`; a `Deny` with none of these → `DefaultAction`, `reason_text` `None`. An unrecognised sentence
//!   in the tail is treated like a `Reason:` text when nothing else gave a reason (so a new firewall wording is
//!   kept instead of lost); with no action and no reason, `reason` is `None` (e.g. `Allow` without rule, DNAT
//!   without rule).
//! * **Old `was denied` form** (`… request from ip:port was denied. Reason: …`): action `Deny`.
//! * **Action** is `None` for NAT and DNS messages (they carry none) and for a head without an `Action:`
//!   sentence.
//! * **Kind**: DNAT → `Nat`; a `ThreatIntel:` sentence → `ThreatIntel`; `Signature:`/`IDS:` → `Idps`; otherwise
//!   `HTTP`, `HTTPS`, `HTTP/x` and `MSSQL` → `Application`, every other protocol → `Network`.
//! * **`Rule Collection: pol:rcg:rc`** is split into policy / group / collection when neither `Policy:` nor
//!   `Rule Collection Group:` is present and the value has exactly two colons (empty parts are `None`).
//! * **DNS proxy.** `destination` is the queried name with its trailing root dot removed, always
//!   `Host::Name` (a reverse-lookup name is not an address); `protocol` is the transport token (`udp`/`tcp`).
//!   Missing trailing fields of a truncated line are `None`. For the `Error:` form, `source` is `None` (the
//!   addresses in the error text are the firewall's own socket and the upstream server, not the client),
//!   `protocol` is the `udp`/`tcp` word of the error text if any, `reason_text` is the text after `TYPE:`,
//!   `dns_response_code` is `None`, and the number after `Error:` goes to [`LegacyEvent::dns_error_number`]
//!   (the structured `AZFWDnsQuery.ErrorNumber`; it looks like an rcode but that is not documented).
//! * **Resolve failure.** `destination` is the FQDN (no port), `reason_text` the text after `Error`/`Error:`,
//!   action `None`.
//! * **Forged sentences.** Names and URLs in a message are chosen by whoever sends the request (SNI, `Host`
//!   header, request path) and may hold spaces and whole sentences: the SNI `evil.com. Action: Allow. Rule
//!   Collection: x.com` on a default deny gives `… to evil.com. Action: Allow. Rule Collection: x.com:443.
//!   Action: Deny. No rule matched …`, which the first-`Action:` rule read as an allow. Taking the last
//!   `Action:` instead is no better: a name is echoed again after the action in resolve failures (A7). Across
//!   every variant the firewall writes exactly one `Action:` sentence, preceded by nothing but `Url:`; a
//!   threat-intel or IDS sentence follows the action directly (`Signature:` then `IDS:`); NAT messages carry no
//!   action and are TCP/UDP. A rule message breaking any of these is **not understood** (`None`: the reader
//!   keeps it as an `unparsed` event with its text, counted and shown), since which action is the firewall's
//!   cannot be told. Names are kept as written; `crate::event::normalize::is_valid_host` tells whether one is
//!   a real host name.
//! * **Partial input.** Half a head (`TCP request from`) with no usable source is `None`. Garbage after a valid
//!   head gives the head fields, and the garbage as an unrecognised sentence (see *Reason*).
//!
//! # Performance
//!
//! No allocation and no regex: the head is a byte scanner, sentences are found with `memchr` on `.`, keywords
//! are matched by their first byte, values are trimmed with byte loops. Dotted-quad IPv4 and fully expanded
//! IPv6 take strict fast paths ([`head::fast_host`]) and everything else goes to
//! [`crate::event::normalize::host`]; reason texts are classified by an allocation-free twin of
//! [`crate::event::normalize::reason_from_text`]. Property tests check both agree with the shared functions. [`parse_into`] fills a caller-owned event and saves the ~360-byte move
//! out of [`parse`]; [`parse_core_into`] skips the sentence tail when the core fields cannot change, and
//! [`parse_deny_core_into`] also the destination of what is not a deny.
//! `benches/legacy_parse.rs` measures a realistic mix (148 ns/message for `parse_into`, 140 ns for
//! `parse_core_into`, one core of the shared 2-core box, 2026-11; see `benches/README.md`).

pub mod dns;
pub mod head;
pub mod sentences;

#[cfg(test)]
mod tests;

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
    /// DNS proxy `Error: N …` form only: the number `N` (the structured table's `ErrorNumber`).
    pub dns_error_number: Option<u32>,
}

impl LegacyEvent<'_> {
    /// Unset every field, one store per field: resetting the whole struct at once (`Default` then a move) made
    /// the reads right after parsing stall on store forwarding.
    #[inline]
    pub fn clear(&mut self) {
        self.kind = None;
        self.protocol = None;
        self.source = None;
        self.destination = None;
        self.action = None;
        self.url = None;
        self.policy = None;
        self.rule_collection_group = None;
        self.rule_collection = None;
        self.rule = None;
        self.web_category = None;
        self.reason = None;
        self.reason_text = None;
        self.threat = None;
        self.signature_id = None;
        self.signature = None;
        self.severity = None;
        self.classification = None;
        self.translated = None;
        self.dns_query_type = None;
        self.dns_response_code = None;
        self.dns_error_number = None;
    }
}

/// Parse one legacy message; `None` when it is not a message this parser understands.
#[inline]
pub fn parse(msg: &str) -> Option<LegacyEvent<'_>> {
    let mut ev = LegacyEvent::default();
    parse_into(msg, &mut ev).then_some(ev)
}

/// [`parse`] into a caller-owned event (reset first), returning whether the message was understood. For readers
/// that parse millions of lines: `LegacyEvent` is ~360 bytes and moving it out of `parse` costs a memcpy per
/// message that this avoids. On `false` the event holds whatever was filled before the parser gave up.
pub fn parse_into<'a>(msg: &'a str, ev: &mut LegacyEvent<'a>) -> bool {
    parse_with(msg, ev, Need::All)
}

/// The fields a deny grouping needs (and the duplicate check): kind, protocol, source, destination and action.
/// [`parse_core_into`] guarantees these, with the same values as [`parse_into`].
pub const CORE_FIELDS: [&str; 5] = ["kind", "protocol", "source", "destination", "action"];

/// [`parse_into`] for readers that need only [`CORE_FIELDS`]: the common rule messages (`… Action: Allow|Deny.
/// …` without threat-intel or IDS sentences) skip the walk over their sentence tail, about a third of the
/// parse. Other fields may be left unset; whether the message is understood is the same as for `parse_into`.
pub fn parse_core_into<'a>(msg: &'a str, ev: &mut LegacyEvent<'a>) -> bool {
    parse_with(msg, ev, Need::Core)
}

/// [`parse_core_into`] for readers that keep denies only (a deny report): the destination of a rule message
/// whose action is not `Deny` may be left unset. Every other core field, a deny's destination, and whether
/// the message is understood are as [`parse_core_into`] gives them. Allowed traffic is most of a log, and its
/// destination names were parsed and checked only to be dropped (4% of a legacy report's CPU).
pub fn parse_deny_core_into<'a>(msg: &'a str, ev: &mut LegacyEvent<'a>) -> bool {
    parse_with(msg, ev, Need::DenyCore)
}

/// The fields a caller needs from a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Every field ([`parse_into`]).
    All,
    /// [`CORE_FIELDS`] ([`parse_core_into`]).
    Core,
    /// [`CORE_FIELDS`], and a destination only for denies ([`parse_deny_core_into`]).
    DenyCore,
}

fn parse_with<'a>(msg: &'a str, ev: &mut LegacyEvent<'a>, need: Need) -> bool {
    ev.clear();
    // The DNS error form starts with a space.
    let t = crate::event::normalize::trim(msg);
    let b = t.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    let ok = match first {
        b'D' if b.starts_with(dns::REQUEST) => dns::parse_request(t, ev),
        b'E' if b.starts_with(dns::ERROR) => dns::parse_error(t, ev),
        b'F' if b.starts_with(dns::RESOLVE_FQDN) => dns::parse_resolve_failure(t, ev),
        _ => head::parse_rule_message(t, ev, need),
    };
    ok.is_some()
}

/// Trim spaces and trailing dots from a value; empty is `None`. Byte loops: the `str::trim_matches` family
/// decodes chars and was visible in profiles; cutting at ASCII bytes keeps UTF-8 boundaries.
#[inline]
pub(crate) fn value(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| c != b' ')?;
    let end = b.iter().rposition(|&c| c != b' ' && c != b'.')? + 1;
    (start < end).then(|| &s[start..end])
}

/// `s` without leading `c` bytes (ASCII `c`).
#[inline]
pub(crate) fn skip(s: &str, c: u8) -> &str {
    let n = s.bytes().take_while(|&x| x == c).count();
    &s[n..]
}

/// `s` without trailing `c` bytes (ASCII `c`).
#[inline]
pub(crate) fn trim_end(s: &str, c: u8) -> &str {
    let n = s.bytes().rev().take_while(|&x| x == c).count();
    &s[..s.len() - n]
}

/// Split a classic `policy:rcg:rc` collection into its parts when the message has no separate policy/group.
pub(crate) fn split_collection(ev: &mut LegacyEvent<'_>) {
    if ev.policy.is_some() || ev.rule_collection_group.is_some() {
        return;
    }
    let Some(rc) = ev.rule_collection else { return };
    let mut parts = rc.split(':');
    if let (Some(p), Some(g), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    {
        ev.policy = value(p);
        ev.rule_collection_group = value(g);
        ev.rule_collection = value(c);
    }
}
