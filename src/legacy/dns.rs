//! DNS proxy messages (`DNS Request: …`, ` Error: …`) and network-rule FQDN resolution failures
//! (`Failed to resolve FQDN …`).

use memchr::memchr;

use super::head::{endpoint, name_endpoint};
use super::sentences::{Key, Sentences};
use super::{LegacyEvent, split_collection, value};
use crate::event::{Kind, Reason};

pub const REQUEST: &[u8] = b"DNS Request:";
pub const ERROR: &[u8] = b"Error:";
pub const RESOLVE_FQDN: &[u8] = b"Failed to resolve FQDN ";

/// `DNS Request: <client> - <id> <type> <class> <name> <proto> <size> <do> <bufsize> <rcode> <flags> <size> <dur>`.
/// Fields missing from a truncated line are `None`; a line without a usable client is `None`.
pub fn parse_request<'a>(t: &'a str, ev: &mut LegacyEvent<'a>) -> Option<()> {
    let mut it = t[REQUEST.len()..].split_ascii_whitespace();
    ev.source = Some(endpoint(it.next()?)?);
    ev.kind = Some(Kind::Dns);
    let mut tok = it.next();
    if matches!(tok, Some("-" | "–" | "—")) {
        tok = it.next();
    }
    // `tok` is the query id (not kept).
    if tok.is_none() {
        return Some(());
    }
    ev.dns_query_type = it.next();
    let _class = it.next();
    ev.destination = it.next().and_then(name_endpoint);
    ev.protocol = it.next();
    let _request_size = it.next();
    let _do_bit = it.next();
    let _buffer = it.next();
    ev.dns_response_code = it.next();
    Some(())
}

/// ` Error: <n> <name> <TYPE>: <error text>` (already trimmed, so it starts at `Error:`).
pub fn parse_error<'a>(t: &'a str, ev: &mut LegacyEvent<'a>) -> Option<()> {
    let r = t[ERROR.len()..].trim_start_matches(' ');
    let (n, r) = split_word(r)?;
    let (name, r) = split_word(r)?;
    let (ty, r) = split_word(r)?;
    let ty = ty.strip_suffix(':')?;
    let text = value(r);
    let protocol = text.and_then(|x| {
        x.split_ascii_whitespace()
            .take(3)
            .find(|w| matches!(*w, "udp" | "tcp"))
    });
    ev.kind = Some(Kind::Dns);
    ev.protocol = protocol;
    ev.destination = name_endpoint(name);
    ev.dns_query_type = value(ty);
    ev.dns_error_number = n.parse().ok();
    ev.reason_text = text;
    Some(())
}

/// `Failed to resolve FQDN <name>. Error <text>. Rule Collection: pol:rcg:rc. Rule: r`.
pub fn parse_resolve_failure<'a>(t: &'a str, ev: &mut LegacyEvent<'a>) -> Option<()> {
    let r = t[RESOLVE_FQDN.len()..].trim_start_matches(' ');
    let (name, rest) = match memchr(b' ', r.as_bytes()) {
        Some(i) => (&r[..i], &r[i..]),
        None => (r, ""),
    };
    let name = name.trim_end_matches('.');
    ev.kind = Some(Kind::ResolveFailure);
    ev.destination = name_endpoint(name);
    ev.reason = Some(Reason::ResolveFailure);
    for (key, raw) in Sentences::new(rest) {
        let v = value(raw);
        let slot = match key {
            Key::Error | Key::Unknown | Key::Reason => &mut ev.reason_text,
            Key::Policy => &mut ev.policy,
            Key::RuleCollectionGroup => &mut ev.rule_collection_group,
            Key::RuleCollection => &mut ev.rule_collection,
            Key::Rule => &mut ev.rule,
            _ => continue,
        };
        if slot.is_none() {
            *slot = v;
        }
    }
    split_collection(ev);
    Some(())
}

/// The first space-delimited word and the rest (leading spaces removed); `None` when `s` is empty.
fn split_word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(' ');
    if s.is_empty() {
        return None;
    }
    Some(match memchr(b' ', s.as_bytes()) {
        Some(i) => (&s[..i], s[i + 1..].trim_start_matches(' ')),
        None => (s, ""),
    })
}
