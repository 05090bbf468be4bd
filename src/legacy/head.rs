//! The head of a rule message, `<proto> request from <src> [to <dst>] [was DNAT'ed to <target>]`, endpoints,
//! and the assembly of a rule message's fields from its sentences.

use memchr::{memchr, memchr_iter};

use super::sentences::{Key, Sentences};
use super::{Endpoint, LegacyEvent, split_collection, value};
use crate::event::normalize::{Host, host, reason_from_text};
use crate::event::{Action, Kind, Reason};

const REQUEST_FROM: &[u8] = b"request from ";
/// The protocol token is short (`ICMPv6 Type=128`); look no further for `request from`.
const MAX_PROTO: usize = 40;

/// Parse an endpoint token (`[v6]:p`, `v4:p`, `name:p`, `ip:`, `ip`), trailing sentence dots already removed.
pub fn endpoint(tok: &str) -> Option<Endpoint<'_>> {
    let b = tok.as_bytes();
    let (h, port) = if b.first() == Some(&b'[') {
        match memchr(b']', b) {
            Some(close) => {
                let after = &tok[close + 1..];
                let port = match after.strip_prefix(':') {
                    Some(p) => port(p),
                    None => None,
                };
                (&tok[..=close], port)
            }
            None => (tok, None),
        }
    } else {
        let mut colons = memchr_iter(b':', b);
        match (colons.next(), colons.next()) {
            (Some(i), None) => (&tok[..i], port(&tok[i + 1..])),
            // More than one colon without brackets: a bare IPv6 address, no port.
            (Some(_), Some(_)) => (tok, None),
            (None, _) => (tok, None),
        }
    };
    Some(Endpoint {
        host: host(h)?,
        port,
    })
}

/// Decimal port ≤ 65535; anything else (empty, sign, letters, overflow) is `None`.
#[inline]
pub fn port(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 5 {
        return None;
    }
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    (n <= 65535).then_some(n)
}

/// The next space-delimited token of `s` (which starts at the token) and the rest after it.
#[inline]
fn token(s: &str) -> (&str, &str) {
    match memchr(b' ', s.as_bytes()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// An endpoint token at the end of a clause: drop the sentence's trailing dots.
#[inline]
fn endpoint_tok(tok: &str) -> Option<Endpoint<'_>> {
    endpoint(tok.trim_end_matches('.'))
}

fn is_application(proto: &str) -> bool {
    let p = proto.as_bytes();
    p.eq_ignore_ascii_case(b"HTTPS")
        || p.eq_ignore_ascii_case(b"HTTP")
        || p.eq_ignore_ascii_case(b"MSSQL")
        || (p.len() > 5 && p[..5].eq_ignore_ascii_case(b"HTTP/"))
}

/// `<proto> request from …` messages: application, network, NAT, threat intel, IDS.
pub fn parse_rule_message(t: &str) -> Option<LegacyEvent<'_>> {
    let b = t.as_bytes();
    let window = &b[..b.len().min(MAX_PROTO + REQUEST_FROM.len() + 1)];
    let at = memchr_iter(b'r', window)
        .find(|&i| i > 0 && b[i - 1] == b' ' && b[i..].starts_with(REQUEST_FROM))?;
    let proto = t[..at].trim_matches(' ');
    if !proto.as_bytes().first()?.is_ascii_alphabetic() {
        return None;
    }

    let mut ev = LegacyEvent {
        protocol: Some(proto),
        ..LegacyEvent::default()
    };
    let rest = t[at + REQUEST_FROM.len()..].trim_start_matches(' ');
    let (src, mut rest) = token(rest);
    ev.source = Some(endpoint_tok(src)?);

    if let Some(r) = rest.trim_start_matches(' ').strip_prefix("to ") {
        let (dst, r) = token(r.trim_start_matches(' '));
        ev.destination = endpoint_tok(dst);
        rest = r;
    }
    let mut nat = false;
    let mut denied = false;
    let after_ws = rest.trim_start_matches(' ');
    if let Some(r) = after_ws.strip_prefix("was DNAT'ed to ") {
        let (target, r) = token(r.trim_start_matches(' '));
        ev.translated = endpoint_tok(target);
        nat = true;
        rest = r;
    } else if let Some(r) = after_ws.strip_prefix("was denied") {
        denied = true;
        rest = r;
    }

    let mut unknown: Option<&str> = None;
    let mut explicit_reason: Option<(Reason, &str)> = None;
    for (key, raw) in Sentences::new(rest) {
        let v = value(raw);
        let slot = match key {
            Key::Url => &mut ev.url,
            Key::Policy => &mut ev.policy,
            Key::RuleCollectionGroup => &mut ev.rule_collection_group,
            Key::RuleCollection => &mut ev.rule_collection,
            Key::Rule => &mut ev.rule,
            Key::WebCategory => &mut ev.web_category,
            Key::ThreatIntel => &mut ev.threat,
            Key::Signature => &mut ev.signature_id,
            Key::Ids => &mut ev.signature,
            Key::Classification => &mut ev.classification,
            Key::Action => {
                if ev.action.is_none() {
                    ev.action = v.and_then(Action::parse);
                }
                continue;
            }
            Key::Priority => {
                if ev.severity.is_none() {
                    ev.severity = v.and_then(port_like_u32);
                }
                continue;
            }
            Key::NoRuleMatched => {
                if let (None, Some(v)) = (explicit_reason, v) {
                    explicit_reason = Some((Reason::DefaultAction, v));
                }
                continue;
            }
            Key::FailedToResolve => {
                if let (None, Some(v)) = (explicit_reason, v) {
                    explicit_reason = Some((Reason::ResolveFailure, v));
                }
                continue;
            }
            Key::Reason | Key::Error => {
                if let (None, Some(v)) = (explicit_reason, v) {
                    explicit_reason = Some((reason_from_text(v), v));
                }
                continue;
            }
            Key::Unknown => {
                if unknown.is_none() {
                    unknown = v;
                }
                continue;
            }
        };
        if slot.is_none() {
            *slot = v;
        }
    }
    if denied && ev.action.is_none() {
        ev.action = Some(Action::Deny);
    }
    split_collection(&mut ev);

    ev.kind = Some(if nat {
        Kind::Nat
    } else if ev.threat.is_some() {
        Kind::ThreatIntel
    } else if ev.signature_id.is_some() || ev.signature.is_some() {
        Kind::Idps
    } else if is_application(proto) {
        Kind::Application
    } else {
        Kind::Network
    });

    let explicit_reason = explicit_reason.or_else(|| unknown.map(|u| (reason_from_text(u), u)));
    match ev.kind {
        Some(Kind::ThreatIntel) => ev.reason = Some(Reason::ThreatIntel),
        Some(Kind::Idps) => ev.reason = Some(Reason::IdpsSignature),
        _ => {
            if let Some((r, text)) = explicit_reason {
                ev.reason = Some(r);
                ev.reason_text = Some(text);
            } else if ev.rule.is_some() {
                ev.reason = Some(Reason::RuleMatch);
            } else if ev.action == Some(Action::Deny) {
                ev.reason = Some(Reason::DefaultAction);
            }
        }
    }
    Some(ev)
}

/// A small decimal number (IDS priority).
fn port_like_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `Host::Name` for a name that must not be read as an address (DNS query names).
pub(crate) fn name_endpoint(name: &str) -> Option<Endpoint<'_>> {
    let n = name.trim_matches(' ');
    let n = n.strip_suffix('.').unwrap_or(n);
    (!n.is_empty()).then_some(Endpoint {
        host: Host::Name(n),
        port: None,
    })
}
