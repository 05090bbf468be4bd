//! Table tests over every documented variant and every real sample line, negative cases, no-panic properties and
//! a render → parse round trip.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::{Endpoint, LegacyEvent, parse};
use crate::event::normalize::{Host, canonical_ip, host};
use crate::event::{Action, Kind, Reason};

/// Endpoint from a host as text (IP or name) and a port.
fn ep(h: &'static str, port: Option<u32>) -> Option<Endpoint<'static>> {
    Some(Endpoint {
        host: host(h).unwrap(),
        port,
    })
}

/// A name endpoint that must stay a name (DNS query names).
fn name(n: &'static str) -> Option<Endpoint<'static>> {
    Some(Endpoint {
        host: Host::Name(n),
        port: None,
    })
}

const NO_RULE: &str = "No rule matched. Proceeding with default action";

fn app(proto: &'static str) -> LegacyEvent<'static> {
    LegacyEvent {
        kind: Some(Kind::Application),
        protocol: Some(proto),
        ..LegacyEvent::default()
    }
}

fn net(proto: &'static str) -> LegacyEvent<'static> {
    LegacyEvent {
        kind: Some(Kind::Network),
        protocol: Some(proto),
        ..LegacyEvent::default()
    }
}

/// Every variant of the reference (§3.4), and the real sample lines of `/work/shared/samples/`.
fn table() -> Vec<(&'static str, LegacyEvent<'static>)> {
    vec![
        // ---- Application rule, reference §3.4 A1–A9 ----
        (
            "HTTPS request from 10.1.0.5:55640 to mydestination.com:443. Action: Allow. Rule Collection: collection1000. Rule: rule1002",
            LegacyEvent {
                source: ep("10.1.0.5", Some(55640)),
                destination: ep("mydestination.com", Some(443)),
                action: Some(Action::Allow),
                rule_collection: Some("collection1000"),
                rule: Some("rule1002"),
                reason: Some(Reason::RuleMatch),
                ..app("HTTPS")
            },
        ),
        (
            "HTTPS request from 10.13.1.4:55583 to winatp-gw-cus3.microsoft.com:443. Action: Deny. Policy: my-policy. Rule Collection Group: DefaultApplicationRuleCollectionGroup. Rule Collection: block-sites. Rule: block-microsoft",
            LegacyEvent {
                source: ep("10.13.1.4", Some(55583)),
                destination: ep("winatp-gw-cus3.microsoft.com", Some(443)),
                action: Some(Action::Deny),
                policy: Some("my-policy"),
                rule_collection_group: Some("DefaultApplicationRuleCollectionGroup"),
                rule_collection: Some("block-sites"),
                rule: Some("block-microsoft"),
                reason: Some(Reason::RuleMatch),
                ..app("HTTPS")
            },
        ),
        (
            "HTTPS request from 10.13.1.4:55611 to md-zz400hv4xnwl.z32.blob.storage.azure.net:443. Action: Deny. No rule matched. Proceeding with default action",
            LegacyEvent {
                source: ep("10.13.1.4", Some(55611)),
                destination: ep("md-zz400hv4xnwl.z32.blob.storage.azure.net", Some(443)),
                action: Some(Action::Deny),
                reason: Some(Reason::DefaultAction),
                reason_text: Some(NO_RULE),
                ..app("HTTPS")
            },
        ),
        (
            "HTTPS request from 10.0.0.1:6065 was denied. Reason: SNI TLS extension was missing.",
            LegacyEvent {
                source: ep("10.0.0.1", Some(6065)),
                action: Some(Action::Deny),
                reason: Some(Reason::SniMissing),
                reason_text: Some("SNI TLS extension was missing"),
                ..app("HTTPS")
            },
        ),
        // A4 with the policy elided in the reference, written out; `Url:` before `Action:`.
        (
            "HTTP  request from 10.0.0.1:50776 to ocsp.msocsp.com:80. Url: ocsp.msocsp.com/MFQ=. Action: Allow. Rule: Azure-to-AllowedServices, HTTP",
            LegacyEvent {
                source: ep("10.0.0.1", Some(50776)),
                destination: ep("ocsp.msocsp.com", Some(80)),
                url: Some("ocsp.msocsp.com/MFQ="),
                action: Some(Action::Allow),
                rule: Some("Azure-to-AllowedServices, HTTP"),
                reason: Some(Reason::RuleMatch),
                ..app("HTTP")
            },
        ),
        // ---- Real lines: Azure/Azure-Sentinel Parsers/AzureFirewall/AzureFirewallApplicationRuleLogs_sample-dataset.kql
        //      (MIT, commit 1b4ccf67), copied from /work/shared/samples/. Covers A3, A4, A5, A6, A7, A8. ----
        (
            "HTTP  request from 10.0.0.1:50776 to ocsp.msocsp.com:80. Url: ocsp.msocsp.com/MFQ=. Action: Allow. Policy: azfwpolicy-nbfw-prd-weeu-01. Rule Collection Group: DefaultApplicationRuleCollectionGroup. Rule Collection: generic-allow-500. Rule: Azure-to-AllowedServices, HTTP",
            LegacyEvent {
                source: ep("10.0.0.1", Some(50776)),
                destination: ep("ocsp.msocsp.com", Some(80)),
                url: Some("ocsp.msocsp.com/MFQ="),
                action: Some(Action::Allow),
                policy: Some("azfwpolicy-nbfw-prd-weeu-01"),
                rule_collection_group: Some("DefaultApplicationRuleCollectionGroup"),
                rule_collection: Some("generic-allow-500"),
                rule: Some("Azure-to-AllowedServices, HTTP"),
                reason: Some(Reason::RuleMatch),
                ..app("HTTP")
            },
        ),
        (
            "HTTPS request from 10.0.0.1:49553 to guestconfiguration.azure.com:443. Action: Allow. Policy: azfwpolicy-nbfw-prd-weeu-01. Rule Collection Group: DefaultApplicationRuleCollectionGroup. Rule Collection: enablement-genericwebcategory-prd-allow-200. Rule: Allowed Business-Use Webcategories. Web Category: ComputersAndTechnology",
            LegacyEvent {
                source: ep("10.0.0.1", Some(49553)),
                destination: ep("guestconfiguration.azure.com", Some(443)),
                action: Some(Action::Allow),
                policy: Some("azfwpolicy-nbfw-prd-weeu-01"),
                rule_collection_group: Some("DefaultApplicationRuleCollectionGroup"),
                rule_collection: Some("enablement-genericwebcategory-prd-allow-200"),
                rule: Some("Allowed Business-Use Webcategories"),
                web_category: Some("ComputersAndTechnology"),
                reason: Some(Reason::RuleMatch),
                ..app("HTTPS")
            },
        ),
        (
            "HTTP  request from 10.0.0.1:53717 to ocsp.usertrust.com:80. Url: ocsp.usertrust.com/MFEk=. Action: Deny. No rule matched. Proceeding with default action",
            LegacyEvent {
                source: ep("10.0.0.1", Some(53717)),
                destination: ep("ocsp.usertrust.com", Some(80)),
                url: Some("ocsp.usertrust.com/MFEk="),
                action: Some(Action::Deny),
                reason: Some(Reason::DefaultAction),
                reason_text: Some(NO_RULE),
                ..app("HTTP")
            },
        ),
        (
            "HTTPS request from 10.0.0.1:62773 to settings-win.data.microsoft.com:443. Action: Deny. No rule matched. Proceeding with default action",
            LegacyEvent {
                source: ep("10.0.0.1", Some(62773)),
                destination: ep("settings-win.data.microsoft.com", Some(443)),
                action: Some(Action::Deny),
                reason: Some(Reason::DefaultAction),
                reason_text: Some(NO_RULE),
                ..app("HTTPS")
            },
        ),
        (
            "HTTPS request from 10.0.0.1:59060 to instance01.westeurope.datafactory.azure.net:443. Action: Deny. Failed to resolve address adf-rt-prd-weeu-01.westeurope.datafactory.azure.net:443: lookup adf-rt-prd-weeu-01.westeurope.datafactory.azure.net on 10.0.0.53:53: no such host",
            LegacyEvent {
                source: ep("10.0.0.1", Some(59060)),
                destination: ep("instance01.westeurope.datafactory.azure.net", Some(443)),
                action: Some(Action::Deny),
                reason: Some(Reason::ResolveFailure),
                reason_text: Some(
                    "Failed to resolve address adf-rt-prd-weeu-01.westeurope.datafactory.azure.net:443: lookup adf-rt-prd-weeu-01.westeurope.datafactory.azure.net on 10.0.0.53:53: no such host",
                ),
                ..app("HTTPS")
            },
        ),
        (
            "HTTPS request from 10.0.0.1:6065. Action: Deny. Reason: SNI TLS extension was missing.",
            LegacyEvent {
                source: ep("10.0.0.1", Some(6065)),
                action: Some(Action::Deny),
                reason: Some(Reason::SniMissing),
                reason_text: Some("SNI TLS extension was missing"),
                ..app("HTTPS")
            },
        ),
        // ---- Network rule, reference §3.4 N1–N9 ----
        (
            "TCP request from 111.35.136.173:12518 to 13.78.143.217:2323. Action: Deny",
            LegacyEvent {
                source: ep("111.35.136.173", Some(12518)),
                destination: ep("13.78.143.217", Some(2323)),
                action: Some(Action::Deny),
                reason: Some(Reason::DefaultAction),
                ..net("TCP")
            },
        ),
        (
            "UDP request from 192.168.0.2:51106 to 89.160.20.156:53. Action: Allow. ",
            LegacyEvent {
                source: ep("192.168.0.2", Some(51106)),
                destination: ep("89.160.20.156", Some(53)),
                action: Some(Action::Allow),
                ..net("UDP")
            },
        ),
        (
            "TCP request from 192.168.0.2:49680 to 89.160.20.156:1688. Action: Allow. Policy: ABC-DEF-01. Rule Collection Group: DefaultNetworkRuleCollectionGroup. Rule Collection: NetworkRulesAllow. Rule: AllowInternetOut",
            LegacyEvent {
                source: ep("192.168.0.2", Some(49680)),
                destination: ep("89.160.20.156", Some(1688)),
                action: Some(Action::Allow),
                policy: Some("ABC-DEF-01"),
                rule_collection_group: Some("DefaultNetworkRuleCollectionGroup"),
                rule_collection: Some("NetworkRulesAllow"),
                rule: Some("AllowInternetOut"),
                reason: Some(Reason::RuleMatch),
                ..net("TCP")
            },
        ),
        (
            "TCP request from 192.168.0.2:50306 to 89.160.20.156:3389. Action: Allow.. Rule Collection: Permit_RFC1918. Rule: Permit_RFC1918",
            LegacyEvent {
                source: ep("192.168.0.2", Some(50306)),
                destination: ep("89.160.20.156", Some(3389)),
                action: Some(Action::Allow),
                rule_collection: Some("Permit_RFC1918"),
                rule: Some("Permit_RFC1918"),
                reason: Some(Reason::RuleMatch),
                ..net("TCP")
            },
        ),
        (
            "ICMP Type=8 request from 10.13.2.4:0 to 13.107.4.50:0. Action: Deny..",
            LegacyEvent {
                source: ep("10.13.2.4", Some(0)),
                destination: ep("13.107.4.50", Some(0)),
                action: Some(Action::Deny),
                reason: Some(Reason::DefaultAction),
                ..net("ICMP Type=8")
            },
        ),
        (
            "ICMP request from 10.0.2.4 to 10.0.3.4. Action: Allow",
            LegacyEvent {
                source: ep("10.0.2.4", None),
                destination: ep("10.0.3.4", None),
                action: Some(Action::Allow),
                ..net("ICMP")
            },
        ),
        // ---- Real lines: cloudchristoph/az-firewall-watch tests/fixtures/ipv6/AzureFirewallNetworkRule.jsonl
        //      (MIT, commit 5a7a86ae), excerpt in /work/shared/samples/. Covers N5, N6, N8 (ICMPv6). ----
        (
            "TCP request from [fd10:0003:0005:0001:0000:0000:0000:0004]:38238 to [2606:4700:4700:0000:0000:0000:0000:1111]:80. Action: Deny.. Policy: fwp-hub-premium-gwc. Rule Collection Group: cclab-network-rule-collection-group. Rule Collection: ipv6-demo-deny-net-rules. Rule: deny-ipv6-cloudflare-web",
            LegacyEvent {
                source: ep("fd10:3:5:1::4", Some(38238)),
                destination: ep("2606:4700:4700::1111", Some(80)),
                action: Some(Action::Deny),
                policy: Some("fwp-hub-premium-gwc"),
                rule_collection_group: Some("cclab-network-rule-collection-group"),
                rule_collection: Some("ipv6-demo-deny-net-rules"),
                rule: Some("deny-ipv6-cloudflare-web"),
                reason: Some(Reason::RuleMatch),
                ..net("TCP")
            },
        ),
        (
            "TCP request from [fd10:0003:0005:0001:0000:0000:0000:0004]:46582 to [fd10:0003:0006:0001:0000:0000:0000:0004]:80. Action: Allow.. Policy: fwp-hub-premium-gwc. Rule Collection Group: cclab-network-rule-collection-group. Rule Collection: ipv6-demo-net-rules. Rule: allow-ipv6-web",
            LegacyEvent {
                source: ep("fd10:3:5:1::4", Some(46582)),
                destination: ep("fd10:3:6:1::4", Some(80)),
                action: Some(Action::Allow),
                policy: Some("fwp-hub-premium-gwc"),
                rule_collection_group: Some("cclab-network-rule-collection-group"),
                rule_collection: Some("ipv6-demo-net-rules"),
                rule: Some("allow-ipv6-web"),
                reason: Some(Reason::RuleMatch),
                ..net("TCP")
            },
        ),
        (
            "TCP request from [fd10:0003:0005:0001:0000:0000:0000:0004]:36424 to [2600:1901:0000:b2bd:0000:0000:0000:0000]:443. Action: Allow.. Policy: fwp-hub-premium-gwc. Rule Collection Group: cclab-network-rule-collection-group. Rule Collection: ipv6-demo-fqdn-net-rules. Rule: allow-ipv6-ifconfig-me",
            LegacyEvent {
                source: ep("fd10:3:5:1::4", Some(36424)),
                destination: ep("2600:1901:0:b2bd::", Some(443)),
                action: Some(Action::Allow),
                policy: Some("fwp-hub-premium-gwc"),
                rule_collection_group: Some("cclab-network-rule-collection-group"),
                rule_collection: Some("ipv6-demo-fqdn-net-rules"),
                rule: Some("allow-ipv6-ifconfig-me"),
                reason: Some(Reason::RuleMatch),
                ..net("TCP")
            },
        ),
        (
            "TCP request from [fd10:0003:0005:0001:0000:0000:0000:0004]:42346 to [2001:4860:4860:0000:0000:0000:0000:8888]:8080. Action: Deny.. ",
            LegacyEvent {
                source: ep("fd10:3:5:1::4", Some(42346)),
                destination: ep("2001:4860:4860::8888", Some(8080)),
                action: Some(Action::Deny),
                reason: Some(Reason::DefaultAction),
                ..net("TCP")
            },
        ),
        (
            "ICMPv6 Type=128 request from [fd10:0003:0005:0001:0000:0000:0000:0004]:0 to [2606:4700:4700:0000:0000:0000:0000:1111]:0. Action: Allow.. Policy: fwp-hub-premium-gwc. Rule Collection Group: cclab-network-rule-collection-group. Rule Collection: ipv6-demo-net-rules. Rule: allow-ipv6-icmp-internet",
            LegacyEvent {
                source: ep("fd10:3:5:1::4", Some(0)),
                destination: ep("2606:4700:4700::1111", Some(0)),
                action: Some(Action::Allow),
                policy: Some("fwp-hub-premium-gwc"),
                rule_collection_group: Some("cclab-network-rule-collection-group"),
                rule_collection: Some("ipv6-demo-net-rules"),
                rule: Some("allow-ipv6-icmp-internet"),
                reason: Some(Reason::RuleMatch),
                ..net("ICMPv6 Type=128")
            },
        ),
        (
            "TCP request from [fd10:0003:0005:0001:0000:0000:0000:0004]:50944 to [fd10:0003:0006:0001:0000:0000:0000:0004]:80. Action: Allow.. Policy: fwp-hub-premium-gwc. Rule Collection Group: cclab-network-rule-collection-group. Rule Collection: ipv6-demo-net-rules. Rule: allow-ipv6-lab-internal",
            LegacyEvent {
                source: ep("fd10:3:5:1::4", Some(50944)),
                destination: ep("fd10:3:6:1::4", Some(80)),
                action: Some(Action::Allow),
                policy: Some("fwp-hub-premium-gwc"),
                rule_collection_group: Some("cclab-network-rule-collection-group"),
                rule_collection: Some("ipv6-demo-net-rules"),
                rule: Some("allow-ipv6-lab-internal"),
                reason: Some(Reason::RuleMatch),
                ..net("TCP")
            },
        ),
        // ---- Real lines: Azure/Azure-Sentinel Parsers/AzureFirewall/AzureFirewallNetworkRuleLogs_sample-dataset.kql
        //      (MIT, commit c3b99ac4), copied from /work/shared/samples/. Covers N7, IDS, TI with Url, ICMP IDS. ----
        (
            "UDP request from 101.202.3.4:59960 to 102.203.13.14:53. Action: Allow.",
            LegacyEvent {
                source: ep("101.202.3.4", Some(59960)),
                destination: ep("102.203.13.14", Some(53)),
                action: Some(Action::Allow),
                ..net("UDP")
            },
        ),
        (
            "TCP request from 101.202.3.4:51890 to 102.203.13.14:443. Action: drop. Signature: 2028816. IDS: JA3 Hash - [Abuse.ch] Possible Tofsee. Priority: 3. Classification: Unknown Traffic",
            LegacyEvent {
                kind: Some(Kind::Idps),
                protocol: Some("TCP"),
                source: ep("101.202.3.4", Some(51890)),
                destination: ep("102.203.13.14", Some(443)),
                action: Some(Action::Drop),
                signature_id: Some("2028816"),
                signature: Some("JA3 Hash - [Abuse.ch] Possible Tofsee"),
                severity: Some(3),
                classification: Some("Unknown Traffic"),
                reason: Some(Reason::IdpsSignature),
                ..LegacyEvent::default()
            },
        ),
        (
            "TCP request from 101.202.3.4:54854 to 102.203.13.14:1521. Action: alert. Signature: 2102649. IDS: SQL service_name buffer overflow attempt. Priority: 1. Classification: Attempted User Privilege Gain",
            LegacyEvent {
                kind: Some(Kind::Idps),
                protocol: Some("TCP"),
                source: ep("101.202.3.4", Some(54854)),
                destination: ep("102.203.13.14", Some(1521)),
                action: Some(Action::Alert),
                signature_id: Some("2102649"),
                signature: Some("SQL service_name buffer overflow attempt"),
                severity: Some(1),
                classification: Some("Attempted User Privilege Gain"),
                reason: Some(Reason::IdpsSignature),
                ..LegacyEvent::default()
            },
        ),
        (
            "HTTP request from 101.202.3.4:54314 to ocsp.sca1b.amazontrust.com:80. Url: ocsp.sca1b.amazontrust.com. Action: Deny. ThreatIntel: Bot Networks",
            LegacyEvent {
                kind: Some(Kind::ThreatIntel),
                protocol: Some("HTTP"),
                source: ep("101.202.3.4", Some(54314)),
                destination: ep("ocsp.sca1b.amazontrust.com", Some(80)),
                url: Some("ocsp.sca1b.amazontrust.com"),
                action: Some(Action::Deny),
                threat: Some("Bot Networks"),
                reason: Some(Reason::ThreatIntel),
                ..LegacyEvent::default()
            },
        ),
        (
            "ICMP Type=8 request from 101.202.3.4 to 102.203.13.14. Action: Allow.",
            LegacyEvent {
                source: ep("101.202.3.4", None),
                destination: ep("102.203.13.14", None),
                action: Some(Action::Allow),
                ..net("ICMP Type=8")
            },
        ),
        (
            "ICMP Type=8 request from 101.202.3.4 to 12.23.13.14. Action: Deny.",
            LegacyEvent {
                source: ep("101.202.3.4", None),
                destination: ep("12.23.13.14", None),
                action: Some(Action::Deny),
                reason: Some(Reason::DefaultAction),
                ..net("ICMP Type=8")
            },
        ),
        (
            "ICMP request from 101.202.3.4: to 12.23.13.14:. Action: alert. Signature: 2100366. IDS: ICMP_INFO PING *NIX. Priority: 3. Classification: Misc activity",
            LegacyEvent {
                kind: Some(Kind::Idps),
                protocol: Some("ICMP"),
                source: ep("101.202.3.4", None),
                destination: ep("12.23.13.14", None),
                action: Some(Action::Alert),
                signature_id: Some("2100366"),
                signature: Some("ICMP_INFO PING *NIX"),
                severity: Some(3),
                classification: Some("Misc activity"),
                reason: Some(Reason::IdpsSignature),
                ..LegacyEvent::default()
            },
        ),
        // ---- Threat intel, IP-destination form (reference: Microsoft's query; exact text uncertain) ----
        (
            "TCP request from 10.0.0.4:50000 to 45.76.1.2:443. Action: Alert. ThreatIntel: Known malicious IP",
            LegacyEvent {
                kind: Some(Kind::ThreatIntel),
                protocol: Some("TCP"),
                source: ep("10.0.0.4", Some(50000)),
                destination: ep("45.76.1.2", Some(443)),
                action: Some(Action::Alert),
                threat: Some("Known malicious IP"),
                reason: Some(Reason::ThreatIntel),
                ..LegacyEvent::default()
            },
        ),
        // ---- NAT D1–D3 ----
        (
            "TCP request from 193.238.46.72:50522 to 40.119.154.83:3389 was DNAT'ed to 10.0.2.4:3389",
            LegacyEvent {
                kind: Some(Kind::Nat),
                protocol: Some("TCP"),
                source: ep("193.238.46.72", Some(50522)),
                destination: ep("40.119.154.83", Some(3389)),
                translated: ep("10.0.2.4", Some(3389)),
                ..LegacyEvent::default()
            },
        ),
        (
            "TCP request from 192.168.0.2:50306 to 89.160.20.156:3389 was DNAT'ed to 10.0.0.2:3389. Policy: policy-01. Rule Collection Group: DefaultDnatRuleCollectionGroup. Rule Collection: DNAT. Rule: rule",
            LegacyEvent {
                kind: Some(Kind::Nat),
                protocol: Some("TCP"),
                source: ep("192.168.0.2", Some(50306)),
                destination: ep("89.160.20.156", Some(3389)),
                translated: ep("10.0.0.2", Some(3389)),
                policy: Some("policy-01"),
                rule_collection_group: Some("DefaultDnatRuleCollectionGroup"),
                rule_collection: Some("DNAT"),
                rule: Some("rule"),
                reason: Some(Reason::RuleMatch),
                ..LegacyEvent::default()
            },
        ),
        (
            "TCP request from 192.168.0.2:50306 to 89.160.20.156:3389 was DNAT'ed to 10.0.0.2:3388. Rule Collection: DNAT. Rule: rule",
            LegacyEvent {
                kind: Some(Kind::Nat),
                protocol: Some("TCP"),
                source: ep("192.168.0.2", Some(50306)),
                destination: ep("89.160.20.156", Some(3389)),
                translated: ep("10.0.0.2", Some(3388)),
                rule_collection: Some("DNAT"),
                rule: Some("rule"),
                reason: Some(Reason::RuleMatch),
                ..LegacyEvent::default()
            },
        ),
        // ---- DNS proxy (reference §3.4) ----
        (
            "DNS Request: 10.0.2.4:61248 - 6513 A IN wpad.example.com. udp 43 false 512 NXDOMAIN qr,rd,ra 145 0.002846368s",
            LegacyEvent {
                kind: Some(Kind::Dns),
                protocol: Some("udp"),
                source: ep("10.0.2.4", Some(61248)),
                destination: name("wpad.example.com"),
                dns_query_type: Some("A"),
                dns_response_code: Some("NXDOMAIN"),
                ..LegacyEvent::default()
            },
        ),
        // The docs' en dash separator.
        (
            "DNS Request: 10.0.2.4:61248 – 6513 A IN wpad.example.com. udp 43 false 512 NXDOMAIN qr,rd,ra 145 0.002846368s",
            LegacyEvent {
                kind: Some(Kind::Dns),
                protocol: Some("udp"),
                source: ep("10.0.2.4", Some(61248)),
                destination: name("wpad.example.com"),
                dns_query_type: Some("A"),
                dns_response_code: Some("NXDOMAIN"),
                ..LegacyEvent::default()
            },
        ),
        (
            " Error: 2 time.windows.com.reddog.microsoft.com. A: read udp 10.0.1.5:49126->168.63.129.160:53: i/o timeout",
            LegacyEvent {
                kind: Some(Kind::Dns),
                protocol: Some("udp"),
                destination: name("time.windows.com.reddog.microsoft.com"),
                dns_query_type: Some("A"),
                dns_error_number: Some(2),
                reason_text: Some("read udp 10.0.1.5:49126->168.63.129.160:53: i/o timeout"),
                ..LegacyEvent::default()
            },
        ),
        // Error form with an en dash in the address pair and a tcp transport.
        (
            " Error: 2 api.example.org. AAAA: read tcp 10.0.1.5:49126–>168.63.129.16:53: i/o timeout",
            LegacyEvent {
                kind: Some(Kind::Dns),
                protocol: Some("tcp"),
                destination: name("api.example.org"),
                dns_query_type: Some("AAAA"),
                dns_error_number: Some(2),
                reason_text: Some("read tcp 10.0.1.5:49126–>168.63.129.16:53: i/o timeout"),
                ..LegacyEvent::default()
            },
        ),
        // ---- Real lines: cloudchristoph/az-firewall-watch tests/fixtures/ipv6/AzureFirewallDnsProxy.jsonl
        //      (MIT, commit df468463), full file in /work/shared/samples/. ----
        (
            "DNS Request: [fd10:3:5:1::4]:34791 - 43650 AAAA IN ifconfig.me. udp 52 false 1232 NOERROR qr,aa,rd,ra 68 0.000092102s",
            LegacyEvent {
                kind: Some(Kind::Dns),
                protocol: Some("udp"),
                source: ep("fd10:3:5:1::4", Some(34791)),
                destination: name("ifconfig.me"),
                dns_query_type: Some("AAAA"),
                dns_response_code: Some("NOERROR"),
                ..LegacyEvent::default()
            },
        ),
        (
            "DNS Request: [fd10:3:5:1::4]:47232 - 59449 A IN ifconfig.me. udp 52 false 1232 NOERROR qr,aa,rd,ra 56 0.000099002s",
            LegacyEvent {
                kind: Some(Kind::Dns),
                protocol: Some("udp"),
                source: ep("fd10:3:5:1::4", Some(47232)),
                destination: name("ifconfig.me"),
                dns_query_type: Some("A"),
                dns_response_code: Some("NOERROR"),
                ..LegacyEvent::default()
            },
        ),
        (
            "DNS Request: [fd10:3:5:1::4]:33693 - 2909 AAAA IN google.com. tcp 51 false 65535 NOERROR qr,rd,ra 180 0.011643577s",
            LegacyEvent {
                kind: Some(Kind::Dns),
                protocol: Some("tcp"),
                source: ep("fd10:3:5:1::4", Some(33693)),
                destination: name("google.com"),
                dns_query_type: Some("AAAA"),
                dns_response_code: Some("NOERROR"),
                ..LegacyEvent::default()
            },
        ),
        (
            "DNS Request: [fd10:3:5:1::4]:53466 - 50583 AAAA IN cloudflare.com. udp 55 false 1232 NOERROR qr,rd,ra 116 0.005647134s",
            LegacyEvent {
                kind: Some(Kind::Dns),
                protocol: Some("udp"),
                source: ep("fd10:3:5:1::4", Some(53466)),
                destination: name("cloudflare.com"),
                dns_query_type: Some("AAAA"),
                dns_response_code: Some("NOERROR"),
                ..LegacyEvent::default()
            },
        ),
        // ---- FQDN resolution failure (reference §3.4, real lab record quoted there) ----
        (
            "Failed to resolve FQDN ifconfig.me. Error lookup ifconfig.me on 127.0.0.53:53: read udp 10.2.0.6:48652->10.2.0.6:65053: read: connection refused; DNS resolution returned no IPv4 IPs. Rule Collection: fwp-hub-premium-gwc:cclab-network-rule-collection-group:priority-demo-net-rules. Rule: allow-ifconfig-me",
            LegacyEvent {
                kind: Some(Kind::ResolveFailure),
                destination: name("ifconfig.me"),
                policy: Some("fwp-hub-premium-gwc"),
                rule_collection_group: Some("cclab-network-rule-collection-group"),
                rule_collection: Some("priority-demo-net-rules"),
                rule: Some("allow-ifconfig-me"),
                reason: Some(Reason::ResolveFailure),
                reason_text: Some(
                    "lookup ifconfig.me on 127.0.0.53:53: read udp 10.2.0.6:48652->10.2.0.6:65053: read: connection refused; DNS resolution returned no IPv4 IPs",
                ),
                ..LegacyEvent::default()
            },
        ),
        (
            "Failed to resolve FQDN example.org.",
            LegacyEvent {
                kind: Some(Kind::ResolveFailure),
                destination: name("example.org"),
                reason: Some(Reason::ResolveFailure),
                ..LegacyEvent::default()
            },
        ),
    ]
}

#[test]
fn every_variant_and_sample_line() {
    for (msg, want) in table() {
        assert_eq!(parse(msg).as_ref(), Some(&want), "message: {msg}");
    }
}

#[test]
fn trailing_punctuation_is_tolerated() {
    let base = "TCP request from 10.0.0.1:1 to 10.0.0.2:2. Action: Deny";
    let want = parse(base).unwrap();
    for tail in ["", ".", ". ", "..", ".. ", " ", ". . "] {
        let msg = format!("{base}{tail}");
        assert_eq!(parse(&msg), Some(want.clone()), "{msg:?}");
    }
}

#[test]
fn classic_collection_split_only_without_policy() {
    let ev = parse(
        "TCP request from 10.0.0.1:1 to 10.0.0.2:2. Action: Allow. Rule Collection: a:b:c. Rule: r",
    )
    .unwrap();
    assert_eq!(
        (ev.policy, ev.rule_collection_group, ev.rule_collection),
        (Some("a"), Some("b"), Some("c"))
    );
    let ev = parse("TCP request from 10.0.0.1:1 to 10.0.0.2:2. Action: Allow. Policy: p. Rule Collection: a:b:c. Rule: r")
        .unwrap();
    assert_eq!(
        (ev.policy, ev.rule_collection_group, ev.rule_collection),
        (Some("p"), None, Some("a:b:c"))
    );
    let ev = parse(
        "TCP request from 10.0.0.1:1 to 10.0.0.2:2. Action: Allow. Rule Collection: a:b. Rule: r",
    )
    .unwrap();
    assert_eq!(
        (ev.policy, ev.rule_collection_group, ev.rule_collection),
        (None, None, Some("a:b"))
    );
}

#[test]
fn negative_and_partial_inputs() {
    for msg in [
        "",
        "   ",
        "hello",
        "TCP request from",
        "TCP request from ",
        "request from 10.0.0.1:1 to 10.0.0.2:2. Action: Deny",
        " request from 10.0.0.1:1",
        "DNS Request:",
        "DNS Request: ",
        "Error:",
        "Error: 2",
        "Error: 2 name.",
        "Error: 2 name. A no colon",
        "1234 request from 10.0.0.1:1",
        "TCP request from :80 to 10.0.0.2:2",
    ] {
        assert_eq!(parse(msg), None, "{msg:?}");
    }
    // Half a head: a source but no destination or sentences.
    assert_eq!(
        parse("TCP request from 10.0.0.1:1"),
        Some(LegacyEvent {
            source: ep("10.0.0.1", Some(1)),
            ..net("TCP")
        })
    );
    // Garbage after a valid head: head fields, garbage kept as an unrecognised reason text.
    assert_eq!(
        parse("TCP request from 10.0.0.1:1 to 10.0.0.2:2 blah blah. more"),
        Some(LegacyEvent {
            source: ep("10.0.0.1", Some(1)),
            destination: ep("10.0.0.2", Some(2)),
            reason: Some(Reason::Other),
            reason_text: Some("blah blah. more"),
            ..net("TCP")
        })
    );
    // Unknown action word: kept as no action.
    assert_eq!(
        parse("TCP request from 10.0.0.1:1 to 10.0.0.2:2. Action: Maybe")
            .unwrap()
            .action,
        None
    );
    // Bad ports: host kept, port None.
    assert_eq!(
        parse("TCP request from 10.0.0.1:99999 to h.example:x1. Action: Allow")
            .map(|e| (e.source, e.destination)),
        Some((ep("10.0.0.1", None), ep("h.example", None)))
    );
    // Truncated DNS line: what is there.
    assert_eq!(
        parse("DNS Request: 10.0.2.4:61248 - 6513 A IN wpad.example.com."),
        Some(LegacyEvent {
            kind: Some(Kind::Dns),
            source: ep("10.0.2.4", Some(61248)),
            destination: name("wpad.example.com"),
            dns_query_type: Some("A"),
            ..LegacyEvent::default()
        })
    );
}

#[test]
fn endpoints() {
    use super::head::endpoint;
    let e = |s| endpoint(s).map(|e| (e.host, e.port));
    let ip = |s: &str| Host::Ip(s.parse().unwrap());
    assert_eq!(
        e("[fd10:0003::0004]:443"),
        Some((ip("fd10:3::4"), Some(443)))
    );
    assert_eq!(e("[fd10::4]"), Some((ip("fd10::4"), None)));
    assert_eq!(e("[fd10::4]:"), Some((ip("fd10::4"), None)));
    assert_eq!(e("fd10::4"), Some((ip("fd10::4"), None)));
    assert_eq!(e("1.2.3.4:0"), Some((ip("1.2.3.4"), Some(0))));
    assert_eq!(e("1.2.3.4:"), Some((ip("1.2.3.4"), None)));
    assert_eq!(e("1.2.3.4"), Some((ip("1.2.3.4"), None)));
    assert_eq!(e("a.b:65535"), Some((Host::Name("a.b"), Some(65535))));
    assert_eq!(e("a.b:65536"), Some((Host::Name("a.b"), None)));
    assert_eq!(e("[::ffff:10.0.0.1]:5"), Some((ip("10.0.0.1"), Some(5))));
    assert_eq!(e(":80"), None);
    assert_eq!(e(""), None);
}

// ---------------------------------------------------------------------------------------------------------------
// Properties: never panic.

/// `parse_core_into` understands exactly the messages `parse_into` does and gives the same core fields;
/// `parse_deny_core_into` too, but for the destination of an event that is not a deny, which it may drop.
fn core_agrees(s: &str) {
    let (mut full, mut core) = (LegacyEvent::default(), LegacyEvent::default());
    let ok = super::parse_into(s, &mut full);
    assert_eq!(super::parse_core_into(s, &mut core), ok, "{s:?}");
    let mut deny = LegacyEvent::default();
    assert_eq!(super::parse_deny_core_into(s, &mut deny), ok, "{s:?}");
    if ok {
        assert_eq!(
            (deny.kind, deny.protocol, deny.source, deny.action),
            (full.kind, full.protocol, full.source, full.action),
            "{s:?}"
        );
        let dropped = deny.destination.is_none() && full.action != Some(Action::Deny);
        assert!(deny.destination == full.destination || dropped, "{s:?}");
    }
    if ok {
        assert_eq!(
            (
                core.kind,
                core.protocol,
                core.source,
                core.destination,
                core.action
            ),
            (
                full.kind,
                full.protocol,
                full.source,
                full.destination,
                full.action
            ),
            "{s:?}"
        );
    }
}

#[test]
fn core_parse_agrees_on_every_table_message() {
    // The table holds every variant and the real sample lines.
    let mut denies = 0;
    for (msg, _) in table() {
        core_agrees(msg);
        let mut ev = LegacyEvent::default();
        if super::parse_deny_core_into(msg, &mut ev)
            && ev.action == Some(Action::Deny)
            && ev.destination.is_some()
        {
            denies += 1;
        }
    }
    assert!(denies >= 5, "{denies} denies with a destination");
    // The destination of an allowed request is left out, of a denied one kept.
    let mut ev = LegacyEvent::default();
    let allow = "HTTPS request from 10.0.0.4:5000 to a.example.com:443. Action: Allow. Rule Collection: c. Rule: r";
    assert!(super::parse_deny_core_into(allow, &mut ev));
    assert_eq!((ev.action, ev.destination), (Some(Action::Allow), None));
    let deny =
        "HTTPS request from 10.0.0.4:5000 to a.example.com:443. Action: Deny. No rule matched";
    assert!(super::parse_deny_core_into(deny, &mut ev));
    assert_eq!(ev.destination.map(|d| d.port), Some(Some(443)));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_arbitrary_text(s in any::<String>()) {
        core_agrees(&s);
    }

    #[test]
    fn never_panics_on_keyword_soup(parts in proptest::collection::vec(prop_oneof![
        Just("request from "), Just(" to "), Just(". "), Just(".. "), Just("."), Just(":"), Just("["), Just("]"),
        Just("Action: "), Just("Rule: "), Just("Rule Collection: "), Just("Rule Collection Group: "),
        Just("Policy: "), Just("Url: "), Just("No rule matched"), Just("Failed to resolve address "),
        Just("Error "), Just("Error:"), Just("DNS Request: "), Just("Failed to resolve FQDN "), Just(" was DNAT'ed to "),
        Just(" was denied"), Just("ThreatIntel: "), Just("Signature: "), Just("IDS: "), Just("Priority: "),
        Just("1.2.3.4"), Just("fd10::4"), Just("65535"), Just("99999999999"), Just("–"), Just("é"), Just(" "),
        Just("TCP"), Just("HTTP "), Just("ICMP Type=8 "),
    ], 0..24)) {
        let s: String = parts.concat();
        core_agrees(&s);
    }

    #[test]
    fn never_panics_on_mutated_real_messages(
        idx in any::<proptest::sample::Index>(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), 0u8..4, any::<char>(), any::<u8>()), 1..8),
    ) {
        let table = table();
        let (msg, _) = table[idx.index(table.len())];
        // Char-level edits (valid UTF-8).
        let mut chars: Vec<char> = msg.chars().collect();
        let mut bytes = msg.as_bytes().to_vec();
        for (at, op, c, byte) in &edits {
            let i = at.index(chars.len() + 1);
            match op {
                0 => chars.insert(i, *c),
                1 if i < chars.len() => { chars.remove(i); }
                2 if i < chars.len() => chars[i] = *c,
                _ => chars.truncate(i),
            }
            let j = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(j, *byte),
                1 if j < bytes.len() => { bytes.remove(j); }
                2 if j < bytes.len() => bytes[j] = *byte,
                _ => bytes.truncate(j),
            }
        }
        let s: String = chars.into_iter().collect();
        core_agrees(&s);
        core_agrees(&String::from_utf8_lossy(&bytes));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Round trip: random events of every variant, rendered the way the firewall writes them, parse back.

#[derive(Debug, Clone)]
enum Addr {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    Name(String),
}

impl Addr {
    /// As the rule messages write it: IPv6 bracketed and fully expanded.
    fn render_rule(&self) -> String {
        match self {
            Addr::V4(a) => a.to_string(),
            Addr::V6(a) => {
                let s: Vec<String> = a.segments().iter().map(|g| format!("{g:04x}")).collect();
                format!("[{}]", s.join(":"))
            }
            Addr::Name(n) => n.clone(),
        }
    }
    /// As the DNS proxy writes it: IPv6 bracketed and compressed.
    fn render_dns(&self) -> String {
        match self {
            Addr::V6(a) => format!("[{a}]"),
            other => other.render_rule(),
        }
    }
    fn host(&self) -> Host<'_> {
        match self {
            Addr::V4(a) => Host::Ip(IpAddr::V4(*a)),
            Addr::V6(a) => Host::Ip(canonical_ip(IpAddr::V6(*a))),
            Addr::Name(n) => Host::Name(n),
        }
    }
}

fn ip_addr() -> impl Strategy<Value = Addr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| Addr::V4(Ipv4Addr::from(o))),
        any::<[u16; 8]>().prop_map(|s| Addr::V6(Ipv6Addr::from(s))),
        // Sparse IPv6 so that compression (`::`) is exercised.
        (any::<u16>(), any::<u16>())
            .prop_map(|(a, b)| Addr::V6(Ipv6Addr::new(0xfd10, a, 0, 0, 0, 0, 0, b))),
    ]
}

fn fqdn() -> impl Strategy<Value = String> {
    proptest::string::string_regex("([a-z0-9][a-z0-9-]{0,8}\\.){1,4}[a-z]{2,6}").unwrap()
}

/// Names as rules and collections are named in the wild: spaces, `, `, `.` and `-` inside, no `:`.
fn rule_name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9][A-Za-z0-9_.-]{0,12}[A-Za-z0-9_]((, | )[A-Za-z0-9][A-Za-z0-9_.-]{0,8}[A-Za-z0-9]){0,2}")
        .unwrap()
}

/// Free text (threat, IDS description, classification): words, ` - `, `[x.y]`, no sentence break.
fn free_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9_*\\[\\]-]{1,8}(\\.[a-z]{1,3})?((( - )| )[A-Za-z0-9_*\\[\\]-]{1,8}(\\.[a-z]{1,3})?){0,4}")
        .unwrap()
}

fn opt_port() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![4 => (0u32..=65535).prop_map(Some), 1 => Just(None)]
}

#[derive(Debug, Clone)]
struct RuleInfo {
    policy: Option<(String, String)>,
    collection: String,
    rule: String,
}

fn rule_info() -> impl Strategy<Value = Option<RuleInfo>> {
    proptest::option::of(
        (
            proptest::option::of((rule_name(), rule_name())),
            rule_name(),
            rule_name(),
        )
            .prop_map(|(policy, collection, rule)| RuleInfo {
                policy,
                collection,
                rule,
            }),
    )
}

/// The separator after `Action: X`: older `. `, newer `.. `.
fn sep() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(". "), Just(".. ")]
}

/// What may end a message.
fn end() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just("."), Just(". "), Just(".."), Just(".. ")]
}

fn render_rule_info(out: &mut String, info: &RuleInfo) {
    if let Some((p, g)) = &info.policy {
        out.push_str(&format!("Policy: {p}. Rule Collection Group: {g}. "));
    }
    out.push_str(&format!(
        "Rule Collection: {}. Rule: {}",
        info.collection, info.rule
    ));
}

fn expect_rule_info<'a>(ev: &mut LegacyEvent<'a>, info: &'a RuleInfo) {
    if let Some((p, g)) = &info.policy {
        ev.policy = Some(p);
        ev.rule_collection_group = Some(g);
    }
    ev.rule_collection = Some(&info.collection);
    ev.rule = Some(&info.rule);
    ev.reason = Some(Reason::RuleMatch);
}

fn port_text(p: Option<u32>) -> String {
    p.map(|p| format!(":{p}")).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn round_trip_application(
        https in any::<bool>(), src in ip_addr(), sport in 0u32..=65535, dst in fqdn(), dport in 1u32..=65535,
        url_path in proptest::option::of("[A-Za-z0-9=/_-]{0,12}"), allow in any::<bool>(), info in rule_info(),
        web in proptest::option::of("[A-Za-z]{3,20}"), e in end(),
    ) {
        let proto = if https { "HTTPS" } else { "HTTP " };
        let url = url_path.map(|p| format!("{dst}/{p}"));
        let allow = allow && info.is_some();
        let mut msg = format!("{proto} request from {}:{sport} to {dst}:{dport}. ", src.render_rule());
        if let Some(u) = &url { msg.push_str(&format!("Url: {u}. ")); }
        msg.push_str(if allow { "Action: Allow. " } else { "Action: Deny. " });
        match &info {
            Some(i) => {
                render_rule_info(&mut msg, i);
                if let Some(w) = &web { msg.push_str(&format!(". Web Category: {w}")); }
            }
            None => msg.push_str(NO_RULE),
        }
        msg.push_str(e);

        let mut want = LegacyEvent {
            source: Some(Endpoint { host: src.host(), port: Some(sport) }),
            destination: Some(Endpoint { host: Host::Name(&dst), port: Some(dport) }),
            url: url.as_deref().map(|u| u.trim_end_matches('.')),
            action: Some(if allow { Action::Allow } else { Action::Deny }),
            ..app(proto.trim())
        };
        match &info {
            Some(i) => {
                expect_rule_info(&mut want, i);
                want.web_category = web.as_deref();
            }
            None => {
                want.reason = Some(Reason::DefaultAction);
                want.reason_text = Some(NO_RULE);
            }
        }
        prop_assert_eq!(parse(&msg), Some(want), "{}", msg);
    }

    #[test]
    fn round_trip_network(
        proto in prop_oneof![Just("TCP"), Just("UDP"), Just("ICMP Type=8"), Just("ICMPv6 Type=128"), Just("ICMP")],
        src in ip_addr(), sport in opt_port(), dst in ip_addr(), dport in opt_port(),
        allow in any::<bool>(), info in rule_info(), s in sep(), e in end(),
    ) {
        let action = if allow { "Allow" } else { "Deny" };
        let mut msg = format!(
            "{proto} request from {}{} to {}{}. Action: {action}",
            src.render_rule(), port_text(sport), dst.render_rule(), port_text(dport),
        );
        if let Some(i) = &info {
            msg.push_str(s);
            render_rule_info(&mut msg, i);
        }
        msg.push_str(e);
        let mut want = LegacyEvent {
            source: Some(Endpoint { host: src.host(), port: sport }),
            destination: Some(Endpoint { host: dst.host(), port: dport }),
            action: Some(if allow { Action::Allow } else { Action::Deny }),
            ..net(proto)
        };
        match &info {
            Some(i) => expect_rule_info(&mut want, i),
            None if !allow => want.reason = Some(Reason::DefaultAction),
            None => {}
        }
        prop_assert_eq!(parse(&msg), Some(want), "{}", msg);
    }

    #[test]
    fn round_trip_nat(
        src in ip_addr(), sport in 1u32..=65535, dst in ip_addr(), dport in 1u32..=65535,
        target in ip_addr(), tport in 1u32..=65535, info in rule_info(), e in end(),
    ) {
        let mut msg = format!(
            "TCP request from {}:{sport} to {}:{dport} was DNAT'ed to {}:{tport}",
            src.render_rule(), dst.render_rule(), target.render_rule(),
        );
        if let Some(i) = &info {
            msg.push_str(". ");
            render_rule_info(&mut msg, i);
        }
        msg.push_str(e);
        let mut want = LegacyEvent {
            kind: Some(Kind::Nat),
            protocol: Some("TCP"),
            source: Some(Endpoint { host: src.host(), port: Some(sport) }),
            destination: Some(Endpoint { host: dst.host(), port: Some(dport) }),
            translated: Some(Endpoint { host: target.host(), port: Some(tport) }),
            ..LegacyEvent::default()
        };
        if let Some(i) = &info { expect_rule_info(&mut want, i); }
        prop_assert_eq!(parse(&msg), Some(want), "{}", msg);
    }

    #[test]
    fn round_trip_threat_intel(
        src in ip_addr(), sport in 1u32..=65535, dst in prop_oneof![ip_addr(), fqdn().prop_map(Addr::Name)],
        dport in 1u32..=65535, with_url in any::<bool>(), alert in any::<bool>(), threat in free_text(), e in end(),
    ) {
        let url = match (&dst, with_url) { (Addr::Name(n), true) => Some(n.clone()), _ => None };
        let proto = if url.is_some() { "HTTP" } else { "TCP" };
        let mut msg = format!("{proto} request from {}:{sport} to {}:{dport}. ", src.render_rule(), dst.render_rule());
        if let Some(u) = &url { msg.push_str(&format!("Url: {u}. ")); }
        msg.push_str(&format!("Action: {}. ThreatIntel: {threat}{e}", if alert { "Alert" } else { "Deny" }));
        let want = LegacyEvent {
            kind: Some(Kind::ThreatIntel),
            protocol: Some(proto),
            source: Some(Endpoint { host: src.host(), port: Some(sport) }),
            destination: Some(Endpoint { host: dst.host(), port: Some(dport) }),
            url: url.as_deref(),
            action: Some(if alert { Action::Alert } else { Action::Deny }),
            threat: Some(&threat),
            reason: Some(Reason::ThreatIntel),
            ..LegacyEvent::default()
        };
        prop_assert_eq!(parse(&msg), Some(want), "{}", msg);
    }

    #[test]
    fn round_trip_idps(
        icmp in any::<bool>(), src in ip_addr(), sport in 1u32..=65535, dst in ip_addr(), dport in 1u32..=65535,
        drop in any::<bool>(), sid in 1_000_000u32..99_999_999, text in free_text(), prio in 1u32..=4,
        class in free_text(), e in end(),
    ) {
        let (proto, sp, dp) = if icmp { ("ICMP", None, None) } else { ("TCP", Some(sport), Some(dport)) };
        // ICMP IDS lines write an empty port after the colon.
        let pt = |p: Option<u32>| p.map(|p| format!(":{p}")).unwrap_or_else(|| ":".into());
        let sid = sid.to_string();
        let msg = format!(
            "{proto} request from {}{} to {}{}. Action: {}. Signature: {sid}. IDS: {text}. Priority: {prio}. Classification: {class}{e}",
            src.render_rule(), pt(sp), dst.render_rule(), pt(dp), if drop { "drop" } else { "alert" },
        );
        let want = LegacyEvent {
            kind: Some(Kind::Idps),
            protocol: Some(proto),
            source: Some(Endpoint { host: src.host(), port: sp }),
            destination: Some(Endpoint { host: dst.host(), port: dp }),
            action: Some(if drop { Action::Drop } else { Action::Alert }),
            signature_id: Some(&sid),
            signature: Some(&text),
            severity: Some(prio),
            classification: Some(&class),
            reason: Some(Reason::IdpsSignature),
            ..LegacyEvent::default()
        };
        prop_assert_eq!(parse(&msg), Some(want), "{}", msg);
    }

    #[test]
    fn round_trip_dns(
        client in ip_addr(), port in 1u32..=65535, id in any::<u16>(), dash in prop_oneof![Just("-"), Just("–")],
        qtype in prop_oneof![Just("A"), Just("AAAA"), Just("CNAME"), Just("PTR"), Just("SRV"), Just("TXT")],
        qname in fqdn(), tcp in any::<bool>(), rcode in prop_oneof![Just("NOERROR"), Just("NXDOMAIN"), Just("SERVFAIL"), Just("REFUSED")],
        flags in prop_oneof![Just("qr,rd,ra"), Just("qr,aa,rd,ra"), Just("-")], dur in 0.0f64..2.0,
    ) {
        let transport = if tcp { "tcp" } else { "udp" };
        let msg = format!(
            "DNS Request: {}:{port} {dash} {id} {qtype} IN {qname}. {transport} 52 false 1232 {rcode} {flags} 68 {dur:.9}s",
            client.render_dns(),
        );
        let want = LegacyEvent {
            kind: Some(Kind::Dns),
            protocol: Some(transport),
            source: Some(Endpoint { host: client.host(), port: Some(port) }),
            destination: Some(Endpoint { host: Host::Name(&qname), port: None }),
            dns_query_type: Some(qtype),
            dns_response_code: Some(rcode),
            ..LegacyEvent::default()
        };
        prop_assert_eq!(parse(&msg), Some(want), "{}", msg);
    }

    #[test]
    fn round_trip_dns_error(
        n in 0u32..=23, qname in fqdn(), qtype in prop_oneof![Just("A"), Just("AAAA")], tcp in any::<bool>(),
        local in ip_addr(), lport in 1u32..=65535, upstream in ip_addr(), lead in any::<bool>(),
    ) {
        let transport = if tcp { "tcp" } else { "udp" };
        let text = format!("read {transport} {}:{lport}->{}:53: i/o timeout", local.render_dns(), upstream.render_dns());
        let msg = format!("{}Error: {n} {qname}. {qtype}: {text}", if lead { " " } else { "" });
        let want = LegacyEvent {
            kind: Some(Kind::Dns),
            protocol: Some(transport),
            destination: Some(Endpoint { host: Host::Name(&qname), port: None }),
            dns_query_type: Some(qtype),
            dns_error_number: Some(n),
            reason_text: Some(&text),
            ..LegacyEvent::default()
        };
        prop_assert_eq!(parse(&msg), Some(want), "{}", msg);
    }

    #[test]
    fn round_trip_resolve_failure(
        qname in fqdn(), resolver in ip_addr(), p in rule_name(), g in rule_name(), c in rule_name(), r in rule_name(),
        e in end(),
    ) {
        let text = format!("lookup {qname} on {}:53: no such host", resolver.render_dns());
        let msg = format!("Failed to resolve FQDN {qname}. Error {text}. Rule Collection: {p}:{g}:{c}. Rule: {r}{e}");
        let want = LegacyEvent {
            kind: Some(Kind::ResolveFailure),
            destination: Some(Endpoint { host: Host::Name(&qname), port: None }),
            policy: Some(&p),
            rule_collection_group: Some(&g),
            rule_collection: Some(&c),
            rule: Some(&r),
            reason: Some(Reason::ResolveFailure),
            reason_text: Some(&text),
            ..LegacyEvent::default()
        };
        prop_assert_eq!(parse(&msg), Some(want), "{}", msg);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The fast paths agree with the shared normalisers they stand in for.

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn fast_host_is_host(s in prop_oneof![
        any::<String>(),
        "[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}",
        "[0-9.]{0,17}",
        "(0|00|01|255|256|1)\\.(0|00|01|255|256|1)\\.(0|00|01|255|256|1)\\.(0|00|01|255|256|1)",
        any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_string()),
        "\\[?[0-9a-fA-F]{4}(:[0-9a-fA-F]{4}){7}\\]?",
        "\\[?[0-9a-fA-F:]{37,41}\\]?",
        "\\[?(0000:){5}ffff:[0-9a-f]{4}:[0-9a-f]{4}\\]?",
        any::<[u16; 8]>().prop_map(|g| {
            let v: Vec<String> = g.iter().map(|x| format!("{x:04x}")).collect();
            format!("[{}]", v.join(":"))
        }),
    ]) {
        prop_assert_eq!(super::head::fast_host(&s), host(&s), "{:?}", s);
    }

}

#[test]
fn kind_follows_protocol() {
    for (proto, kind) in [
        ("HTTP/1.1", Kind::Application),
        ("MSSQL", Kind::Application),
        ("https", Kind::Application),
        ("UDP", Kind::Network),
        ("GRE", Kind::Network),
        ("ICMPv6 Type=128", Kind::Network),
    ] {
        let msg = format!("{proto} request from 10.0.0.1:1 to h.example:2. Action: Allow. Rule: r");
        let ev = parse(&msg).unwrap();
        assert_eq!((ev.kind, ev.protocol), (Some(kind), Some(proto)), "{msg}");
    }
}

#[test]
fn parse_into_resets_the_event() {
    let mut ev = LegacyEvent::default();
    assert!(super::parse_into(table()[1].0, &mut ev));
    assert!(ev.policy.is_some());
    assert!(super::parse_into(
        "TCP request from 10.0.0.1:1 to 10.0.0.2:2. Action: Deny",
        &mut ev
    ));
    assert_eq!(
        ev,
        LegacyEvent {
            source: ep("10.0.0.1", Some(1)),
            destination: ep("10.0.0.2", Some(2)),
            action: Some(Action::Deny),
            reason: Some(Reason::DefaultAction),
            ..net("TCP")
        }
    );
    assert!(!super::parse_into("hello", &mut ev));
}

// ---------------------------------------------------------------------------------------------------------------
// Forged sentences: names and URLs are chosen by whoever sends the request (SNI, Host header, request path),
// and the firewall writes them into the message before its own `Action:` sentence (and again in a
// resolve-failure text after it). They must never change the action or the kind; a message whose shape
// shows forged sentences is not understood (the reader keeps it as an unparsed event with its text).

#[test]
fn forged_sentences_in_names_are_not_read() {
    for msg in [
        // SNI `evil.com. Action: Allow. Rule Collection: x.com` on a default deny: read as Allow before.
        "HTTPS request from 10.0.0.1:1234 to evil.com. Action: Allow. Rule Collection: x.com:443. Action: Deny. No rule matched. Proceeding with default action",
        // A port in the forged part, so that the destination token looks like host:port.
        "HTTPS request from 10.0.0.1:1234 to evil.com:443. Action: Allow. x:443. Action: Deny. No rule matched. Proceeding with default action",
        // The same through the core fast path's first sentence, on an allow.
        "HTTPS request from 10.0.0.1:1234 to evil.com:443. Action: Deny. x:443. Action: Allow. Rule Collection: c. Rule: r",
        // A URL path carrying an action (A6 shape).
        "HTTP  request from 10.0.0.1:53717 to ocsp.example.com:80. Url: ocsp.example.com/a. Action: Allow. Action: Deny. No rule matched. Proceeding with default action",
        // The forged name echoed again in a resolve failure after the real action (A7 shape).
        "HTTPS request from 10.0.0.1:59060 to x. Action: Allow:443. Action: Deny. Failed to resolve address x. Action: Allow:443: lookup x. Action: Allow on 10.0.0.53:53: no such host",
        // Sentences forged before the real action: a rule, a threat-intel verdict, an IDS signature, a reason.
        "HTTPS request from 10.0.0.1:1 to evil.com:443. Rule: allow-all:443. Action: Deny. No rule matched. Proceeding with default action",
        "HTTPS request from 10.0.0.1:1 to evil.com:443. ThreatIntel: fake:443. Action: Deny. No rule matched. Proceeding with default action",
        "HTTPS request from 10.0.0.1:1 to a ThreatIntel: t:443. Action: Deny. No rule matched. Proceeding with default action",
        "HTTPS request from 10.0.0.1:1 to a. Signature: 1. IDS: x:443. Action: Deny. No rule matched. Proceeding with default action",
        "HTTPS request from 10.0.0.1:1 to x was denied. Reason: y:443. Action: Allow. Rule Collection: c. Rule: r",
        // A name with a space: the rest of it is garbage in front of the action.
        "HTTPS request from 10.0.0.1:1 to evil.com junk:443. Action: Deny. No rule matched. Proceeding with default action",
        // A threat-intel verdict echoed in the resolve-failure text, after the action.
        "HTTPS request from 10.0.0.1:1 to x:443. Action: Deny. Failed to resolve address x. ThreatIntel: y:443: lookup x on 10.0.0.53:53: no such host",
        // A forged DNAT on an application message, and a DNAT message with an action.
        "HTTPS request from 10.0.0.1:1 to x was DNAT'ed to 10.0.0.2:443. Action: Deny. No rule matched. Proceeding with default action",
        "TCP request from 10.0.0.1:1 to 10.0.0.3:3 was DNAT'ed to 10.0.0.2:443. Action: Allow",
    ] {
        assert_eq!(parse(msg).map(|e| e.action), None, "{msg}");
        core_agrees(msg);
    }
    // Names that hold sentences but no forged action or verdict keep the real action: the firewall's own
    // sentence is the only `Action:` and nothing but `Url:` precedes it.
    let ev = parse("HTTPS request from 10.0.0.1:1 to evil.com:443. Url: forged:443. Action: Deny. No rule matched. Proceeding with default action").unwrap();
    assert_eq!(
        (ev.kind, ev.action),
        (Some(Kind::Application), Some(Action::Deny))
    );
}

/// Names as anyone in the cluster can send them: shell and quoting characters, control and escape sequences,
/// bidirectional overrides, zero-width characters, NUL, over-long labels and names, and fragments of the
/// firewall's own sentences.
fn hostile_name() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => fqdn(),
        1 => prop_oneof![
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("$(reboot)".to_string()),
            Just("`id`".to_string()),
            Just(";rm -rf /".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("\u{1b}[31m".to_string()),
            Just("\u{1b}]8;;http://x\u{7}".to_string()),
            Just("\u{202e}".to_string()),
            Just("\u{200b}".to_string()),
            Just("\u{feff}".to_string()),
            Just("\0".to_string()),
            Just("a".repeat(64)),
            Just(format!("{}.com", "b.".repeat(130))),
            Just(". Action: Allow. ".to_string()),
            Just(". Action: Deny. ".to_string()),
            Just("Action: Allow".to_string()),
            Just(":443".to_string()),
            Just(" ".to_string()),
            Just(". ".to_string()),
            Just(". Rule: r. ".to_string()),
            Just(". ThreatIntel: t. ".to_string()),
            Just(". Signature: 1. IDS: x. ".to_string()),
            Just(" was DNAT'ed to 1.2.3.4:5".to_string()),
            Just(" was denied".to_string()),
            Just(". Url: u. ".to_string()),
            Just("No rule matched. ".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
        ],
        1 => any::<String>(),
    ];
    proptest::collection::vec(piece, 1..6).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Whatever the SNI / Host name and URL, the message is either read with the firewall's action and an
    /// application kind, or not understood: never read with another action or kind.
    #[test]
    fn hostile_names_never_change_action_or_kind(
        name in hostile_name(), url in proptest::option::of(hostile_name()), allow in any::<bool>(),
        variant in 0u8..3, https in any::<bool>(),
    ) {
        let (action, want) = if allow { ("Allow", Action::Allow) } else { ("Deny", Action::Deny) };
        let tail = match variant {
            0 => "Rule Collection Group: g. Rule Collection: c. Rule: r".to_string(),
            1 => NO_RULE.to_string(),
            _ => format!("Failed to resolve address {name}:443: lookup {name} on 10.0.0.53:53: no such host"),
        };
        let url = url.map(|u| format!("Url: {u}. ")).unwrap_or_default();
        let proto = if https { "HTTPS" } else { "HTTP " };
        let msg = format!("{proto} request from 10.0.0.1:1 to {name}:443. {url}Action: {action}. {tail}");
        core_agrees(&msg);
        if let Some(ev) = parse(&msg) {
            prop_assert_eq!(ev.action, Some(want), "{:?}", msg);
            prop_assert_eq!(ev.kind, Some(Kind::Application), "{:?}", msg);
        }
    }

    /// Hostile text anywhere in any known message (also DNS query names and resolve-failure FQDNs) never
    /// panics, and the core parse agrees with the full one.
    #[test]
    fn never_panics_on_hostile_names_anywhere(
        idx in any::<proptest::sample::Index>(), at in any::<proptest::sample::Index>(), name in hostile_name(),
    ) {
        let table = table();
        let (msg, _) = table[idx.index(table.len())];
        let cuts: Vec<usize> = msg.char_indices().map(|(i, _)| i).chain([msg.len()]).collect();
        let i = cuts[at.index(cuts.len())];
        let s = format!("{}{name}{}", &msg[..i], &msg[i..]);
        core_agrees(&s);
    }
}
