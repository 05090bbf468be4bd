//! Throughput of `fwlog::legacy::parse` on a realistic mix of legacy messages.
//!
//! `cargo bench --bench legacy_parse [-- N]` (release). N defaults to 1,000,000 (or `LEGACY_BENCH_N`).
//! Messages are generated with a fixed-seed xorshift so runs are comparable; the parse loop runs 5 times and the
//! median is reported as ns/message and messages/s.
//!
//! Mix: 45 % application (default deny, rule allow/deny with policy, HTTP with Url, SNI missing, resolve failure),
//! 40 % network (IPv4 and expanded IPv6, allow/deny, `.`/`..` forms, ICMP), 4 % NAT, 6 % DNS proxy (incl. errors),
//! 2 % threat intel, 2 % IDPS, 1 % FQDN resolution failure.

use std::hint::black_box;
use std::time::Instant;

use fwlog::legacy::{LegacyEvent, parse, parse_core_into, parse_into};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn v4(&mut self) -> String {
        let x = self.next();
        format!(
            "{}.{}.{}.{}",
            10 + (x & 0x7f),
            (x >> 8) & 0xff,
            (x >> 16) & 0xff,
            1 + ((x >> 24) % 254)
        )
    }
    fn v6_expanded(&mut self) -> String {
        let x = self.next();
        format!(
            "[fd10:0003:{:04x}:0001:0000:0000:0000:{:04x}]",
            x & 0xffff,
            (x >> 16) & 0xffff
        )
    }
    fn ip(&mut self) -> String {
        if self.below(5) == 0 {
            self.v6_expanded()
        } else {
            self.v4()
        }
    }
    fn port(&mut self) -> u64 {
        1024 + self.below(64000)
    }
}

const FQDNS: &[&str] = &[
    "mcr.microsoft.com",
    "westeurope.data.mcr.microsoft.com",
    "management.azure.com",
    "login.microsoftonline.com",
    "packages.microsoft.com",
    "acs-mirror.azureedge.net",
    "md-zz400hv4xnwl.z32.blob.storage.azure.net",
    "aks-hcp-1234abcd.hcp.westeurope.azmk8s.io",
    "registry-1.docker.io",
    "ghcr.io",
    "api.snapcraft.io",
    "settings-win.data.microsoft.com",
];
const RULES: &[&str] = &[
    "allow-aks-core",
    "Azure-to-AllowedServices, HTTP",
    "deny.bad.sites",
    "allow_ntp",
    "AllowInternetOut",
];
const RCS: &[&str] = &[
    "aks-app-rules",
    "generic-allow-500",
    "NetworkRulesAllow",
    "block-sites",
];
const RCGS: &[&str] = &[
    "DefaultApplicationRuleCollectionGroup",
    "DefaultNetworkRuleCollectionGroup",
    "aks-rcg",
];

fn rule_tail(r: &mut Rng, out: &mut String) {
    out.push_str(&format!(
        "Policy: fwp-hub-prd-weu. Rule Collection Group: {}. Rule Collection: {}. Rule: {}",
        r.pick(RCGS),
        r.pick(RCS),
        r.pick(RULES)
    ));
}

/// One message of the mix.
fn message(r: &mut Rng) -> String {
    let roll = r.below(100);
    let (src, sport) = (r.v4(), r.port());
    let fqdn = r.pick(FQDNS);
    let mut m = String::with_capacity(256);
    match roll {
        // Application, 45 %.
        0..=19 => m.push_str(&format!(
            "HTTPS request from {src}:{sport} to {fqdn}:443. Action: Deny. No rule matched. Proceeding with default action"
        )),
        20..=33 => {
            let action = if r.below(4) == 0 { "Deny" } else { "Allow" };
            m.push_str(&format!("HTTPS request from {src}:{sport} to {fqdn}:443. Action: {action}. "));
            rule_tail(r, &mut m);
        }
        34..=39 => {
            let action = if r.below(2) == 0 { "Deny. No rule matched. Proceeding with default action" } else { "Allow. Rule Collection: c. Rule: Azure-to-AllowedServices, HTTP" };
            m.push_str(&format!("HTTP  request from {src}:{sport} to {fqdn}:80. Url: {fqdn}/MFQwTjBMMEowSDAJ=. Action: {action}"));
        }
        40..=42 => m.push_str(&format!("HTTPS request from {src}:{sport}. Action: Deny. Reason: SNI TLS extension was missing.")),
        43..=44 => m.push_str(&format!(
            "HTTPS request from {src}:{sport} to {fqdn}:443. Action: Deny. Failed to resolve address {fqdn}:443: lookup {fqdn} on 10.0.0.53:53: no such host"
        )),
        // Network, 40 %.
        45..=64 => {
            let (s, d) = (r.ip(), r.ip());
            let (p, dp) = (r.port(), r.pick(&["443", "80", "8080", "9000", "1194", "123"]));
            let proto = r.pick(&["TCP", "TCP", "UDP"]);
            let dots = r.pick(&[". ", ".. "]);
            m.push_str(&format!("{proto} request from {s}:{p} to {d}:{dp}. Action: Deny{dots}"));
        }
        65..=79 => {
            let (s, d) = (r.ip(), r.ip());
            let p = r.port();
            m.push_str(&format!("TCP request from {s}:{p} to {d}:443. Action: Allow.. "));
            rule_tail(r, &mut m);
        }
        80..=84 => {
            let d = r.v4();
            if r.below(2) == 0 {
                m.push_str(&format!("ICMP Type=8 request from {src}:0 to {d}:0. Action: Deny.."));
            } else {
                m.push_str(&format!("ICMP Type=8 request from {src} to {d}. Action: Allow."));
            }
        }
        // NAT 4 %.
        85..=88 => {
            let d = r.v4();
            m.push_str(&format!(
                "TCP request from {src}:{sport} to 40.119.154.83:3389 was DNAT'ed to {d}:3389. Policy: p. Rule Collection Group: DefaultDnatRuleCollectionGroup. Rule Collection: DNAT. Rule: rdp"
            ));
        }
        // DNS 6 %.
        89..=93 => {
            let ty = r.pick(&["A", "AAAA"]);
            let rc = r.pick(&["NOERROR", "NOERROR", "NXDOMAIN"]);
            let id = r.below(65536);
            m.push_str(&format!(
                "DNS Request: {src}:{sport} - {id} {ty} IN {fqdn}. udp 52 false 1232 {rc} qr,rd,ra 68 0.000092102s"
            ));
        }
        94 => m.push_str(&format!(
            " Error: 2 {fqdn}. A: read udp 10.0.1.5:{sport}->168.63.129.16:53: i/o timeout"
        )),
        // Threat intel 2 %.
        95..=96 => m.push_str(&format!(
            "HTTP request from {src}:{sport} to {fqdn}:80. Url: {fqdn}. Action: Deny. ThreatIntel: Bot Networks"
        )),
        // IDPS 2 %.
        97..=98 => m.push_str(&format!(
            "TCP request from {src}:{sport} to 102.203.13.14:443. Action: drop. Signature: 2028816. IDS: JA3 Hash - [Abuse.ch] Possible Tofsee. Priority: 3. Classification: Unknown Traffic"
        )),
        // FQDN resolution failure 1 %.
        _ => m.push_str(&format!(
            "Failed to resolve FQDN {fqdn}. Error lookup {fqdn} on 127.0.0.53:53: no such host. Rule Collection: pol:rcg:rc. Rule: allow-x"
        )),
    }
    m
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.replace('_', "").parse().ok())
        .or_else(|| {
            std::env::var("LEGACY_BENCH_N")
                .ok()
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(1_000_000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let msgs: Vec<String> = (0..n).map(|_| message(&mut rng)).collect();
    let bytes: usize = msgs.iter().map(String::len).sum();

    // `LEGACY_BENCH_PASSES=0` only generates: `perf stat -e cycles:u` of a 5-pass run minus a 0-pass run gives
    // the parse cost on a busy machine, where wall time is noisy.
    let passes: usize = std::env::var("LEGACY_BENCH_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    if passes == 0 {
        println!(
            "legacy_parse: generated {n} messages ({:.1} MB), no parse passes",
            bytes as f64 / 1e6
        );
        return;
    }
    let report = |name: &str, times: &mut Vec<std::time::Duration>, parsed: usize| {
        times.sort();
        let median = times[times.len() / 2];
        let ns = median.as_nanos() as f64 / n as f64;
        println!(
            "{name}: {n} messages ({:.1} MB), parsed {parsed}, median of {passes}: {:.1} ns/message, {:.2} M messages/s, {:.0} MB/s",
            bytes as f64 / 1e6,
            ns,
            1e3 / ns,
            bytes as f64 / median.as_secs_f64() / 1e6,
        );
        assert_eq!(parsed, n, "every generated message must parse");
    };

    // `parse`, the contract: one `Option<LegacyEvent>` per message.
    let mut times = Vec::with_capacity(passes);
    let mut parsed = 0usize;
    for _ in 0..passes {
        let start = Instant::now();
        parsed = 0;
        for m in &msgs {
            if let Some(ev) = parse(black_box(m)) {
                parsed += 1;
                black_box(&ev);
            }
        }
        times.push(start.elapsed());
    }
    report("legacy_parse (parse)", &mut times, parsed);

    // `parse_into`, a reused event: what a reader looping over a file can do.
    let mut times = Vec::with_capacity(passes);
    let mut ev = LegacyEvent::default();
    for _ in 0..passes {
        let start = Instant::now();
        parsed = 0;
        for m in &msgs {
            if parse_into(black_box(m), &mut ev) {
                parsed += 1;
                black_box(&ev);
            }
        }
        times.push(start.elapsed());
    }
    report("legacy_parse (parse_into)", &mut times, parsed);

    // `parse_core_into`: only the fields a deny grouping needs (what `deny-report` uses).
    let mut times = Vec::with_capacity(passes);
    for _ in 0..passes {
        let start = Instant::now();
        parsed = 0;
        for m in &msgs {
            if parse_core_into(black_box(m), &mut ev) {
                parsed += 1;
                black_box(&ev);
            }
        }
        times.push(start.elapsed());
    }
    report("legacy_parse (parse_core_into)", &mut times, parsed);
}
