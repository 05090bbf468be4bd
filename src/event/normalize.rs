//! Value normalisation shared by every reader and by the legacy parser: hosts and IPs, protocols, actions,
//! reasons and timestamps. Each function takes the text as a log wrote it and returns the canonical form
//! documented in [`crate::event`].

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

use super::{Action, Reason};

/// A destination or source as logged: an address or a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

impl Host<'_> {
    /// The canonical text: compressed lower-case IP, or the name lower-cased without a trailing dot.
    pub fn canonical(&self) -> String {
        match self {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(n) => canonical_name(n).into_owned(),
        }
    }
}

/// Classify a host string: bracketed or bare IPv4/IPv6 (expanded or compressed) becomes an address,
/// anything else a name. Empty (after trimming) is `None`.
pub fn host(raw: &str) -> Option<Host<'_>> {
    let t = trim(raw);
    if t.is_empty() {
        return None;
    }
    let inner = t
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(t);
    // An address literal holds only hex digits, dots and colons; names (nearly every destination) are told
    // apart without running the address parsers.
    if inner
        .bytes()
        .all(|c| c.is_ascii_hexdigit() || c == b'.' || c == b':')
        && let Ok(ip) = inner.parse::<IpAddr>()
    {
        return Some(Host::Ip(canonical_ip(ip)));
    }
    Some(Host::Name(t))
}

/// Whether a destination or source as logged is a real host: an IP address (bare, or IPv6 in brackets) or a
/// DNS name that a firewall rule can name. Names come from the logs and are chosen by whoever sends the
/// request (SNI, `Host` header), so they may hold spaces, sentences, quotes, shell syntax, control and escape
/// sequences or invisible characters; [`host`] keeps them as written (the canonical columns stay identical),
/// and this tells downstream which ones must never become a rule or be printed as a name.
///
/// A name is checked as its canonical form is written ([`name_text`]: trimmed, one trailing dot dropped):
/// at most 253 bytes, labels of 1–63 bytes of ASCII letters, digits, `-` (not first or last) and `_` (Azure
/// and DNS service names use it: `_dmarc`, `_ldap._tcp`, private-link names), punycode `xn--` labels
/// included, non-ASCII (unencoded IDN) refused, and a last label that is not all digits (so `10.0.0.256` is
/// neither an address nor a name).
pub fn is_valid_host(raw: &str) -> bool {
    match host(raw) {
        None => false,
        Some(Host::Ip(_)) => true,
        Some(Host::Name(n)) => is_dns_name(name_text(n)),
    }
}

/// A DNS name as [`is_valid_host`] accepts it (already canonical: no trailing dot, no surrounding space).
pub fn is_dns_name(n: &str) -> bool {
    if n.is_empty() || n.len() > 253 {
        return false;
    }
    let mut last = "";
    for label in n.split('.') {
        let b = label.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-';
        if !ok {
            return false;
        }
        last = label;
    }
    !last.bytes().all(|c| c.is_ascii_digit())
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 address for grouping and matching.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Canonical text of a host given as text (see [`host`]); `None` for empty input.
pub fn canonical_host(raw: &str) -> Option<String> {
    host(raw).map(|h| h.canonical())
}

/// `str::trim`, skipped when both ends are plain ASCII: logged values are rarely padded, and these run for
/// every row, where the Unicode-aware trim showed in profiles.
#[inline]
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(f), Some(l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// A name trimmed and without one trailing dot: [`canonical_name`] before lower-casing.
#[inline]
pub fn name_text(name: &str) -> &str {
    let n = trim(name);
    n.strip_suffix('.').unwrap_or(n)
}

/// Lower-case a DNS name and drop one trailing dot; borrows when nothing changes.
pub fn canonical_name(name: &str) -> Cow<'_, str> {
    let n = name_text(name);
    if n.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(n.to_ascii_lowercase())
    } else {
        Cow::Borrowed(n)
    }
}

/// Normalised protocol and ICMP type. `"HTTP "` (legacy padding) → `HTTP`; `HTTP/1.1` → `HTTP`
/// (the firewall writes it for TLS-inspected and explicit-proxy requests, which are HTTP rules);
/// `ICMP Type=8` → (`ICMP`, 8); `ICMPv6 Type=128` → (`ICMPV6`, 128); `udp` → `UDP`.
pub fn protocol(raw: &str) -> Option<(Cow<'_, str>, Option<u32>)> {
    let (name, rest) = protocol_word(raw)?;
    let icmp_type = rest
        .trim()
        .strip_prefix("Type=")
        .and_then(|n| n.trim().parse::<u32>().ok());
    let name = if name.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(name.to_ascii_uppercase())
    } else {
        Cow::Borrowed(name)
    };
    Some((name, icmp_type))
}

/// The word naming the protocol, not yet upper-cased (`HTTP/x` as `HTTP`), and the text after it; `None` for
/// blank input.
#[inline]
fn protocol_word(raw: &str) -> Option<(&str, &str)> {
    let t = trim(raw);
    if t.is_empty() {
        return None;
    }
    let (name, rest) = match t.as_bytes().iter().position(|&b| b == b' ') {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, ""),
    };
    let name = if name.len() > 5 && name[..5].eq_ignore_ascii_case("HTTP/") {
        "HTTP"
    } else {
        name
    };
    Some((name, rest))
}

pub fn action(raw: &str) -> Option<Action> {
    Action::parse(raw.trim().trim_end_matches('.'))
}

/// Classify a structured `ActionReason` together with the rule fields.
///
/// An empty reason with a named rule is a rule match. A deny with neither reason nor rule is the default action
/// (the reference notes the app-rule default-deny text is uncertain, so "empty rule + deny" counts as default).
pub fn reason(text: Option<&str>, rule: Option<&str>, action: Option<Action>) -> Option<Reason> {
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    let has_rule = rule.map(str::trim).is_some_and(|r| !r.is_empty());
    match text {
        Some(t) => Some(reason_from_text(t)),
        None if has_rule => Some(Reason::RuleMatch),
        None if action == Some(Action::Deny) => Some(Reason::DefaultAction),
        None => None,
    }
}

/// Classify a reason sentence (structured `ActionReason` or the legacy text).
pub fn reason_from_text(t: &str) -> Reason {
    let has = |needle: &str| contains_ignore_case(t, needle);
    if has("default action") || has("no rule matched") {
        Reason::DefaultAction
    } else if has("sni") {
        Reason::SniMissing
    } else if has("resolve") {
        Reason::ResolveFailure
    } else if has("threat") {
        Reason::ThreatIntel
    } else {
        Reason::Other
    }
}

/// ASCII case-insensitive substring test without allocating (`needle` must be lower case).
pub fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty()
        || h.windows(n.len())
            .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

/// A port as logged: number or numeric string; empty, negative or out of range is `None`.
pub fn port_str(raw: &str) -> Option<u32> {
    let t = raw.trim();
    let n: u64 = t.parse().ok().or_else(|| {
        t.parse::<f64>()
            .ok()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .map(|f| f as u64)
    })?;
    (n <= 65535).then_some(n as u32)
}

/// Parse a timestamp as the exports write it, to microseconds since the epoch (UTC).
///
/// Accepts RFC 3339 with 0–9 fractional digits and `Z` or an offset (7-digit `…8295030Z` and 6-digit `+00:00`
/// forms), the same without a zone (assumed UTC, as portal exports are), a space instead of `T`,
/// and the portal's US-locale display form `7/18/2025, 12:26:46.737 PM`.
pub fn time_us(raw: &str) -> Option<i64> {
    let t = raw.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_micros());
    }
    if t.as_bytes().first().is_some_and(u8::is_ascii_digit) && t.contains('/') {
        return us_locale(t);
    }
    let norm = t.replacen(' ', "T", 1);
    if let Ok(dt) = DateTime::parse_from_rfc3339(&norm) {
        return Some(dt.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        let s = norm.trim_end_matches('Z');
        if let Ok(ndt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(ndt.and_utc().timestamp_micros());
        }
    }
    None
}

/// `7/18/2025, 12:26:46.737 PM` (month/day/year, 12-hour clock, optional fraction), UTC.
fn us_locale(t: &str) -> Option<i64> {
    let (date, rest) = t.split_once(',').or_else(|| t.split_once(' '))?;
    let mut dparts = date.trim().split('/');
    let month: u32 = dparts.next()?.parse().ok()?;
    let day: u32 = dparts.next()?.parse().ok()?;
    let year: i32 = dparts.next()?.parse().ok()?;
    if dparts.next().is_some() {
        return None;
    }
    let rest = rest.trim();
    let (clock, ampm) = match rest.rsplit_once(' ') {
        Some((c, ap)) if ap.eq_ignore_ascii_case("AM") || ap.eq_ignore_ascii_case("PM") => {
            (c, Some(ap))
        }
        _ => (rest, None),
    };
    let time = NaiveTime::parse_from_str(clock.trim(), "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(clock.trim(), "%H:%M"))
        .ok()?;
    let time = match ampm {
        Some(ap) => {
            use chrono::Timelike;
            let h = time.hour();
            if h == 0 || h > 12 {
                return None;
            }
            let h24 = match (ap.eq_ignore_ascii_case("PM"), h) {
                (false, 12) => 0,
                (false, h) => h,
                (true, 12) => 12,
                (true, h) => h + 12,
            };
            time.with_hour(h24)?
        }
        None => time,
    };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    Some(date.and_time(time).and_utc().timestamp_micros())
}

/// RFC 3339 text (UTC, `Z`, seconds, and microseconds only when present) for a microsecond timestamp.
pub fn format_time_us(us: i64) -> String {
    let mut out = Vec::with_capacity(27);
    write_time_us(&mut out, us);
    // Only ASCII digits and separators are written.
    String::from_utf8(out).unwrap_or_default()
}

/// [`format_time_us`] appended to `out`, digit by digit: reports write two times per group, and chrono's
/// writer made a string of each (a tenth of printing a 172k-group report). Years outside 0–9999 (never in
/// logs) take chrono's writer, which signs them.
pub fn write_time_us(out: &mut Vec<u8>, us: i64) {
    use chrono::{Datelike, Timelike};
    let dt = DateTime::from_timestamp_micros(us).unwrap_or_default();
    let digits = if us % 1_000_000 == 0 {
        chrono::SecondsFormat::Secs
    } else {
        chrono::SecondsFormat::Micros
    };
    let year = dt.year();
    if !(0..=9999).contains(&year) {
        out.extend_from_slice(dt.to_rfc3339_opts(digits, true).as_bytes());
        return;
    }
    fn put(out: &mut Vec<u8>, mut n: u32, width: usize) {
        let mut buf = [b'0'; 6];
        for b in buf[..width].iter_mut().rev() {
            *b = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.extend_from_slice(&buf[..width]);
    }
    put(out, year as u32, 4);
    out.push(b'-');
    put(out, dt.month(), 2);
    out.push(b'-');
    put(out, dt.day(), 2);
    out.push(b'T');
    put(out, dt.hour(), 2);
    out.push(b':');
    put(out, dt.minute(), 2);
    out.push(b':');
    put(out, dt.second(), 2);
    if digits == chrono::SecondsFormat::Micros {
        out.push(b'.');
        put(out, dt.nanosecond() / 1000, 6);
    }
    out.push(b'Z');
}

/// A point in time, in microseconds since the Unix epoch (UTC), written as [`format_time_us`] writes it. Groups
/// keep their first and last times as numbers and print them when they are written: two strings per group were
/// a tenth of the memory at the end of a 100M-row report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// A time as [`time_us`] reads it.
    pub fn parse(text: &str) -> Option<Timestamp> {
        time_us(text).map(Timestamp)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_time_us(self.0))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_time_us(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?} is not a time (RFC 3339 expected)"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit-by-digit writer gives chrono's RFC 3339 text for every time, the years chrono signs, and
    /// the times it cannot hold (printed as the epoch).
    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let chrono_text = |us: i64| {
            let digits = if us % 1_000_000 == 0 {
                chrono::SecondsFormat::Secs
            } else {
                chrono::SecondsFormat::Micros
            };
            DateTime::from_timestamp_micros(us)
                .unwrap_or_default()
                .to_rfc3339_opts(digits, true)
        };
        let year_10000 = 253_402_300_800_000_000i64;
        let year_0 = -62_167_219_200_000_000i64;
        let mut times = vec![
            0,
            1,
            -1,
            999_999,
            -1_000_000,
            1_692_776_050_123_456,
            year_10000,
            year_10000 - 1,
            year_0,
            year_0 - 1,
            i64::MIN,
            i64::MAX,
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Times within ±300 years of 1970, with and without microseconds.
            let t = (x % 20_000_000_000_000_000) as i64 - 10_000_000_000_000_000;
            times.push(t);
            times.push(t - t % 1_000_000);
        }
        for t in times {
            assert_eq!(format_time_us(t), chrono_text(t), "{t}");
        }
    }

    #[test]
    fn timestamps_print_as_their_text_and_order_as_numbers() {
        let whole = Timestamp(time_us("2026-10-02T00:00:00Z").unwrap());
        let later = Timestamp(whole.0 + 500_000);
        assert_eq!(whole.to_string(), "2026-10-02T00:00:00Z");
        assert_eq!(later.to_string(), "2026-10-02T00:00:00.500000Z");
        // As texts the later one sorts first ('.' < 'Z'); as times it does not.
        assert!(later.to_string() < whole.to_string() && later > whole);
        let json = serde_json::to_string(&[whole, later]).unwrap();
        assert_eq!(
            json,
            r#"["2026-10-02T00:00:00Z","2026-10-02T00:00:00.500000Z"]"#
        );
        assert_eq!(
            serde_json::from_str::<Vec<Timestamp>>(&json).unwrap(),
            [whole, later]
        );
        let err = serde_json::from_str::<Timestamp>(r#""yesterday""#).unwrap_err();
        assert!(
            err.to_string().contains("\"yesterday\" is not a time"),
            "{err}"
        );
    }

    #[test]
    fn hosts_are_canonical() {
        assert_eq!(
            canonical_host("MCR.Microsoft.com.").as_deref(),
            Some("mcr.microsoft.com")
        );
        assert_eq!(
            canonical_host("[fd10:0003:0005:0001:0000:0000:0000:0004]").as_deref(),
            Some("fd10:3:5:1::4")
        );
        assert_eq!(
            canonical_host("2001:4860:4860:0000:0000:0000:0000:8888").as_deref(),
            Some("2001:4860:4860::8888")
        );
        assert_eq!(
            canonical_host("::ffff:10.1.2.3").as_deref(),
            Some("10.1.2.3")
        );
        assert_eq!(canonical_host(" 10.0.0.1 ").as_deref(), Some("10.0.0.1"));
        assert_eq!(canonical_host("  "), None);
        // Names made only of hex letters still go through the address parser and stay names.
        assert_eq!(host("cafe.de"), Some(Host::Name("cafe.de")));
        assert_eq!(
            host("FD00::1A").map(|h| h.canonical()).as_deref(),
            Some("fd00::1a")
        );
        assert_eq!(
            host("10.0.0.1\u{a0}"),
            Some(Host::Ip("10.0.0.1".parse().unwrap()))
        );
        assert_eq!(host("fe80::1%eth0"), Some(Host::Name("fe80::1%eth0")));
    }

    #[test]
    fn valid_hosts_are_addresses_and_dns_names() {
        let label63 = "a".repeat(63);
        let name253 = format!("{0}.{0}.{0}.{1}", "c".repeat(63), "d".repeat(61));
        assert_eq!(name253.len(), 253);
        for ok in [
            "mcr.microsoft.com",
            "MCR.Microsoft.COM.",
            " login.microsoftonline.com ",
            "aks-hcp-1234abcd.hcp.westeurope.azmk8s.io",
            "xn--bcher-kva.example",
            "_dmarc.example.com",
            "_ldap._tcp.dc._msdcs.example.com",
            "md-zz400hv4xnwl.z32.blob.storage.azure.net",
            "localhost",
            "a",
            "3com.com",
            "example.c0m",
            label63.as_str(),
            name253.as_str(),
            "10.0.0.1",
            "[fd10:0003:0005:0001:0000:0000:0000:0004]",
            "2001:4860:4860::8888",
            "::ffff:10.1.2.3",
        ] {
            assert!(is_valid_host(ok), "{ok:?}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{name253}e");
        let long_name2 = format!("{}.com", "b.".repeat(130));
        for bad in [
            "",
            "   ",
            ".",
            "..",
            "a..b",
            ".a.com",
            "-a.com",
            "a-.com",
            "a.-b.com",
            "evil.com. Action: Allow. Rule Collection: x.com",
            "evil.com Action",
            "a b.com",
            "\"quoted\".com",
            "it's.com",
            "$(reboot).com",
            "`id`.com",
            "a;rm -rf /",
            "a\nb.com",
            "a\r.com",
            "\u{1b}[31mred.com",
            "\u{1b}]8;;http://x\u{7}.com",
            "evil\u{202e}moc.com",
            "zero\u{200b}width.com",
            "\u{feff}bom.com",
            "nul\0.com",
            "ünïcode.example",
            "*.example.com",
            "a/b.com",
            "a:b.com",
            "user@host.com",
            "%41.com",
            "[evil.com]",
            "[10.0.0.1",
            "10.0.0.256",
            "010.0.0.1",
            "1.2.3.4.5",
            "fe80::1%eth0",
            long_label.as_str(),
            long_name.as_str(),
            long_name2.as_str(),
        ] {
            assert!(!is_valid_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn protocols_are_normalised() {
        let p = |s| protocol(s).map(|(n, t)| (n.into_owned(), t));
        assert_eq!(p("HTTP "), Some(("HTTP".into(), None)));
        assert_eq!(p("HTTP/1.1"), Some(("HTTP".into(), None)));
        assert_eq!(p("https"), Some(("HTTPS".into(), None)));
        assert_eq!(p("ICMP Type=8"), Some(("ICMP".into(), Some(8))));
        assert_eq!(p("ICMPv6 Type=128"), Some(("ICMPV6".into(), Some(128))));
        assert_eq!(p("udp"), Some(("UDP".into(), None)));
        assert_eq!(p(""), None);
    }

    #[test]
    fn reasons_are_classified() {
        assert_eq!(
            reason(Some("Default Action"), None, Some(Action::Deny)),
            Some(Reason::DefaultAction)
        );
        assert_eq!(
            reason(
                Some("No rule matched. Proceeding with default action."),
                Some(""),
                Some(Action::Deny)
            ),
            Some(Reason::DefaultAction)
        );
        assert_eq!(
            reason(Some(""), Some("allow-web"), Some(Action::Allow)),
            Some(Reason::RuleMatch)
        );
        assert_eq!(
            reason(None, Some(""), Some(Action::Deny)),
            Some(Reason::DefaultAction)
        );
        assert_eq!(reason(None, None, Some(Action::Allow)), None);
        assert_eq!(
            reason_from_text("SNI TLS extension was missing."),
            Reason::SniMissing
        );
    }

    #[test]
    fn times_in_every_export_form() {
        let want = 1_692_776_050_123_456; // 2023-08-23T07:34:10.123456Z
        assert_eq!(time_us("2023-08-23T07:34:10.1234560Z"), Some(want));
        assert_eq!(time_us("2023-08-23T07:34:10.123456+00:00"), Some(want));
        assert_eq!(time_us("2023-08-23 07:34:10.123456"), Some(want));
        assert_eq!(time_us("8/23/2023, 7:34:10.123456 AM"), Some(want));
        assert_eq!(
            time_us("7/18/2025, 12:26:46.737 PM"),
            time_us("2025-07-18T12:26:46.737Z")
        );
        assert_eq!(
            time_us("7/18/2025, 12:26:46.737 AM"),
            time_us("2025-07-18T00:26:46.737Z")
        );
        assert_eq!(time_us("13/45/2025, 1:00:00 PM"), None);
        assert_eq!(time_us("yesterday"), None);
        assert_eq!(format_time_us(want), "2023-08-23T07:34:10.123456Z");
        assert_eq!(
            format_time_us(1_692_776_050_000_000),
            "2023-08-23T07:34:10Z"
        );
    }

    #[test]
    fn ports() {
        assert_eq!(port_str("443"), Some(443));
        assert_eq!(port_str("443.0"), Some(443));
        assert_eq!(port_str("70000"), None);
        assert_eq!(port_str(""), None);
    }
}
