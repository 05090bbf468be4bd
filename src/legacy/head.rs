//! The head of a rule message, `<proto> request from <src> [to <dst>] [was DNAT'ed to <target>]`, endpoints,
//! and the assembly of a rule message's fields from its sentences.

use super::sentences::{Key, Sentences};
use super::{Endpoint, LegacyEvent, Need, skip, split_collection, trim_end, value};
use crate::event::normalize::reason_from_text as classify_reason;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::event::normalize::{Host, canonical_ip, host};
use crate::event::{Action, Kind, Reason};

const REQUEST_FROM: &[u8] = b"request from ";
/// The protocol token is short (`ICMPv6 Type=128`); look no further for `request from`.
const MAX_PROTO: usize = 40;

/// A host: dotted-quad IPv4 and the fully expanded IPv6 the legacy text writes (`[fd10:0003:…:0004]`) by fast
/// paths, everything else (and anything the fast paths do not accept) by [`crate::event::normalize::host`],
/// so the result is always what `host()` returns.
#[inline]
pub fn fast_host(h: &str) -> Option<Host<'_>> {
    let b = h.as_bytes();
    if let Some(v4) = ipv4(b) {
        return Some(Host::Ip(IpAddr::V4(v4)));
    }
    let inner = match b {
        [b'[', inner @ .., b']'] => inner,
        _ => b,
    };
    match expanded_ipv6(inner) {
        Some(v6) => Some(Host::Ip(canonical_ip(IpAddr::V6(v6)))),
        None => host(h),
    }
}

/// Exactly eight groups of four hex digits separated by colons (39 bytes): the form legacy messages write
/// IPv6 in. The standard parser takes three times as long on it.
#[inline]
fn expanded_ipv6(b: &[u8]) -> Option<Ipv6Addr> {
    if b.len() != 39 {
        return None;
    }
    let mut groups = [0u16; 8];
    for (k, group) in groups.iter_mut().enumerate() {
        let at = k * 5;
        if k > 0 && b[at - 1] != b':' {
            return None;
        }
        for &c in &b[at..at + 4] {
            let d = char::from(c).to_digit(16)?;
            *group = *group << 4 | d as u16;
        }
    }
    Some(Ipv6Addr::from(groups))
}

/// Strict `a.b.c.d`: 1–3 digits per octet, no leading zero, ≤ 255. Accepts a subset of what the standard
/// library accepts (which also rejects leading zeros), with the same value.
#[inline]
fn ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut n = 0u32;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 3 {
            n = n * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || n > 255 || (len > 1 && b[start] == b'0') {
            return None;
        }
        *octet = n as u8;
    }
    (i == b.len()).then(|| Ipv4Addr::from(octets))
}

/// Parse an endpoint token (`[v6]:p`, `v4:p`, `name:p`, `ip:`, `ip`), trailing sentence dots already removed.
/// Inlined: returning the endpoint through memory from a call cost a store-forwarding stall per endpoint.
#[inline(always)]
pub fn endpoint(tok: &str) -> Option<Endpoint<'_>> {
    let b = tok.as_bytes();
    let (h, port) = if b.first() == Some(&b'[') {
        match b.iter().position(|&c| c == b']') {
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
        match memchr::memrchr(b':', b) {
            // More than one colon without brackets: a bare IPv6 address, no port.
            Some(i) if memchr::memchr(b':', &b[..i]).is_some() => (tok, None),
            Some(i) => (&tok[..i], port(&tok[i + 1..])),
            None => (tok, None),
        }
    };
    Some(Endpoint {
        host: fast_host(h)?,
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
    match memchr::memchr(b' ', s.as_bytes()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// An endpoint token at the end of a clause: drop the sentence's trailing dots.
#[inline]
fn endpoint_tok(tok: &str) -> Option<Endpoint<'_>> {
    endpoint(trim_end(tok, b'.'))
}

fn is_application(proto: &str) -> bool {
    let p = proto.as_bytes();
    p.eq_ignore_ascii_case(b"HTTPS")
        || p.eq_ignore_ascii_case(b"HTTP")
        || p.eq_ignore_ascii_case(b"MSSQL")
        || (p.len() > 5 && p[..5].eq_ignore_ascii_case(b"HTTP/"))
}

/// `<proto> request from …` messages: application, network, NAT, threat intel, IDS. With less than
/// [`Need::All`], only the fields of [`super::CORE_FIELDS`] need to be right (see [`Need`]), and the sentence
/// tail is skipped when that is exact.
pub fn parse_rule_message<'a>(t: &'a str, ev: &mut LegacyEvent<'a>, need: Need) -> Option<()> {
    let b = t.as_bytes();
    // Walk the space-separated words of the protocol (`HTTP  `, `ICMP Type=8 `) until `request from`.
    let limit = b.len().min(MAX_PROTO);
    let mut i = 0;
    let at = loop {
        i += b[i..limit].iter().position(|&c| c == b' ')?;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if b[i..].starts_with(REQUEST_FROM) {
            break i;
        }
        if i >= limit {
            return None;
        }
    };
    let proto = trim_end(&t[..at], b' ');
    if !proto.as_bytes().first()?.is_ascii_alphabetic() {
        return None;
    }

    let rest = skip(&t[at + REQUEST_FROM.len()..], b' ');
    let (src, mut rest) = token(rest);
    ev.source = Some(endpoint_tok(src)?);
    ev.protocol = Some(proto);

    // Parsed once the action is known: a deny report throws away the host of every other action.
    let mut dst_tok: Option<&str> = None;
    if let Some(r) = skip(rest, b' ').strip_prefix("to ") {
        let (dst, r) = token(skip(r, b' '));
        dst_tok = Some(dst);
        rest = r;
    }
    let mut nat = false;
    let mut denied = false;
    let after_ws = skip(rest, b' ');
    if let Some(r) = after_ws.strip_prefix("was DNAT'ed to ") {
        let (target, r) = token(skip(r, b' '));
        ev.translated = endpoint_tok(target);
        nat = true;
        rest = r;
    } else if let Some(r) = after_ws.strip_prefix("was denied") {
        denied = true;
        rest = r;
    }

    if need != Need::All && !nat && !denied && core_tail(rest, ev) {
        if need == Need::Core || ev.action == Some(Action::Deny) {
            ev.destination = dst_tok.and_then(endpoint_tok);
        }
        ev.kind = Some(if is_application(proto) {
            Kind::Application
        } else {
            Kind::Network
        });
        return Some(());
    }

    ev.destination = dst_tok.and_then(endpoint_tok);
    let mut unknown: Option<&str> = None;
    let mut explicit_reason: Option<(Reason, &str)> = None;
    // The shape checks of "Forged sentences" in the module docs: how many `Action:` sentences, whether one
    // other than `Url:` came before the first (that only matters when an action follows: garbage after a head
    // without one is kept as an unrecognised reason), and the previous sentence.
    let mut actions = 0u32;
    let mut before_action = false;
    let mut previous: Option<Key> = None;
    for (key, raw) in Sentences::new(rest) {
        match key {
            Key::Action => {
                actions += 1;
                if actions > 1 || before_action {
                    return None;
                }
            }
            Key::Url => {}
            _ if actions == 0 => before_action = true,
            // Threat-intel and IDS sentences come right after the action (`Action: Deny. ThreatIntel: …`,
            // `Action: drop. Signature: n. IDS: …`); anywhere else they were written by someone else.
            Key::ThreatIntel | Key::Signature if previous != Some(Key::Action) => return None,
            Key::Ids if previous != Some(Key::Signature) => return None,
            _ => {}
        }
        previous = Some(key);
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
                    ev.action = v.and_then(|v| match v {
                        "Allow" => Some(Action::Allow),
                        "Deny" => Some(Action::Deny),
                        _ => Action::parse(v),
                    });
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
                    explicit_reason = Some((classify_reason(v), v));
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
    // A NAT message carries no action, and DNAT is done on TCP/UDP, never on an application protocol.
    if nat && (actions > 0 || is_application(proto)) {
        return None;
    }
    if denied && ev.action.is_none() {
        ev.action = Some(Action::Deny);
    }
    split_collection(ev);

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

    let explicit_reason = explicit_reason.or_else(|| unknown.map(|u| (classify_reason(u), u)));
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
    Some(())
}

/// The action of a tail whose first sentence is `Action: <word>` with a known word, when the tail names no
/// threat-intel or IDS sentence (the only sentences that change the kind): then the rest of the tail cannot
/// change a core field and the full sentence walk is skipped. Sets the action and returns `true`, or leaves
/// the event alone and returns `false` (the caller walks the sentences).
#[inline]
fn core_tail<'a>(rest: &'a str, ev: &mut LegacyEvent<'a>) -> bool {
    let Some((Key::Action, raw)) = Sentences::new(rest).next() else {
        return false;
    };
    let action = match value(raw) {
        Some("Allow") => Action::Allow,
        Some("Deny") => Action::Deny,
        Some(v) => match Action::parse(v) {
            Some(a) => a,
            None => return false,
        },
        None => return false,
    };
    // Any `ThreatIntel:`, `Signature:` or `IDS:` text, at a sentence start or not, sends the message down the
    // full walk; without one, no sentence of those kinds exists. So does a second `Action:` (the full walk
    // refuses a message with two action sentences: one of them was forged). Both are found in one pass over
    // the colons.
    let b = rest.as_bytes();
    let mut action_colons = 0;
    let names_kind = memchr::memchr_iter(b':', b).any(|i| {
        let before = &b[..i];
        if before.ends_with(b"Action") {
            action_colons += 1;
            return action_colons > 1;
        }
        before.ends_with(b"ThreatIntel")
            || before.ends_with(b"Signature")
            || before.ends_with(b"IDS")
    });
    if names_kind {
        return false;
    }
    ev.action = Some(action);
    true
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
