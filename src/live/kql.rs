//! KQL for the live source: templates in `queries/*.kql`, filled with typed, validated literals.
//!
//! A template is static text with `{{name}}` placeholders that only ever stand for a *value* (a `let` on the
//! template's first lines). Every placeholder is replaced by a [`Literal`], which can only be built from a typed
//! value (a timestamp, a bool, a number) or from text that passed a validator and is then written as an escaped
//! KQL string literal. So the shape of every query is fixed at compile time and user input can never become
//! KQL syntax: options change values, not structure (an absent filter is an empty value the query tests for).
//! [`render`] refuses unknown, missing or unused placeholders.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, bail};
use ipnet::IpNet;

use super::tables::Tables;
use crate::event::Kind;
use crate::query::{Cidr, DestinationPattern, is_dns_name};

/// The query templates fwlog sends to Log Analytics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Which firewall tables hold rows in the window (decides the deny-summary options; "sources used").
    Sources,
    /// Denies pre-aggregated per source address, plus legacy messages without source port.
    DenySummary,
    /// Rows per hour for planning fetch windows.
    HourlyCount,
    /// Raw rows of one half-open window, for `fwlog fetch`.
    RawWindow,
}

impl Template {
    pub const ALL: [Template; 4] = [
        Template::Sources,
        Template::DenySummary,
        Template::HourlyCount,
        Template::RawWindow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Template::Sources => "sources",
            Template::DenySummary => "deny-summary",
            Template::HourlyCount => "hourly-count",
            Template::RawWindow => "raw-window",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Template::Sources => include_str!("../../queries/sources.kql"),
            Template::DenySummary => include_str!("../../queries/deny-summary.kql"),
            Template::HourlyCount => include_str!("../../queries/hourly-count.kql"),
            Template::RawWindow => include_str!("../../queries/raw-window.kql"),
        }
    }

    /// The value placeholder names the template uses, in order of first appearance (the structural ones that
    /// name tables are [`Tables`]' to fill).
    pub fn placeholders(self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        let mut rest = self.text();
        while let Some(i) = rest.find("{{") {
            let after = &rest[i + 2..];
            let Some(j) = after.find("}}") else { break };
            let name = &after[..j];
            if !out.contains(&name) && !super::tables::is_structural(name) {
                out.push(name);
            }
            rest = &after[j + 2..];
        }
        out
    }

    /// Which template a query text was rendered from (by its `// fwlog:query=` marker line).
    pub fn of_query(query: &str) -> Option<Template> {
        let marker = query
            .lines()
            .find_map(|l| l.trim().strip_prefix("// fwlog:query="))?;
        Template::ALL
            .into_iter()
            .find(|t| t.name() == marker.trim())
    }
}

/// A KQL literal that is safe to splice into a template: only constructible from typed or validated values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal(String);

impl Literal {
    /// `datetime(2026-09-01T00:00:00.000000Z)` from microseconds since the epoch.
    pub fn datetime(us: i64) -> Literal {
        let dt = chrono::DateTime::from_timestamp_micros(us).unwrap_or_default();
        Literal(format!("datetime({})", dt.format("%Y-%m-%dT%H:%M:%S%.6fZ")))
    }

    pub fn bool(b: bool) -> Literal {
        Literal(if b { "true" } else { "false" }.to_string())
    }

    pub fn long(n: i64) -> Literal {
        Literal(format!("{n}"))
    }

    /// A double-quoted string literal with `\` and `"` escaped. Control characters are refused outright (no
    /// value fwlog sends may contain them), so a literal is always one line.
    pub fn string(s: &str) -> anyhow::Result<Literal> {
        Ok(Literal(quote(s)?))
    }

    /// `dynamic(["a", "b"])` of escaped strings.
    pub fn string_array<S: AsRef<str>>(items: &[S]) -> anyhow::Result<Literal> {
        let quoted: anyhow::Result<Vec<String>> = items.iter().map(|s| quote(s.as_ref())).collect();
        Ok(Literal(format!("dynamic([{}])", quoted?.join(", "))))
    }

    /// A timespan in whole seconds: `60s`.
    pub fn seconds(n: u64) -> Literal {
        Literal(format!("{n}s"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn quote(s: &str) -> anyhow::Result<String> {
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        bail!("refusing to place a value with control character {c:?} into a query: {s:?}");
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// Fill a template: its tables as `tables` names them, then its values. Every value placeholder must be given
/// exactly once and every parameter must be used.
pub fn render(
    template: Template,
    tables: &Tables,
    params: &[(&str, Literal)],
) -> anyhow::Result<String> {
    let wanted = template.placeholders();
    for (name, _) in params {
        if !wanted.contains(name) {
            bail!("query {} has no parameter {name}", template.name());
        }
        if params.iter().filter(|(n, _)| n == name).count() > 1 {
            bail!("query {}: parameter {name} given twice", template.name());
        }
    }
    let mut text = tables.expand(template.text())?;
    for name in wanted {
        let value = params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .with_context(|| format!("query {}: parameter {name} missing", template.name()))?;
        text = text.replace(&format!("{{{{{name}}}}}"), value.as_str());
    }
    Ok(text)
}

/// A Log Analytics workspace id (the workspace GUID, "customerId").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkspaceId(String);

impl WorkspaceId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for WorkspaceId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if is_guid(t) {
            Ok(WorkspaceId(t.to_ascii_lowercase()))
        } else {
            Err(format!(
                "invalid workspace {s:?}: expected the workspace ID, a GUID such as \
                 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0 (Azure portal: Log Analytics workspace → Overview → Workspace ID)"
            ))
        }
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The subscription, resource group and name of a `Microsoft.Network` resource ID of `resource_type`
/// (`/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/<resource_type>/<name>`, case-blind
/// where Azure is), or `None`. Resource group names: letters, digits, `_ - . ( )`, 1–90; resource names: letters,
/// digits, `_ - .`, 1–80 — they become URL path segments and KQL literals, so nothing else may pass.
pub fn network_resource_id<'a>(id: &'a str, resource_type: &str) -> Option<[&'a str; 3]> {
    let parts: Vec<&str> = id.split('/').collect();
    if parts.len() != 9 || !parts[0].is_empty() {
        return None;
    }
    let fixed = [
        (1, "subscriptions"),
        (3, "resourcegroups"),
        (5, "providers"),
        (6, "microsoft.network"),
        (7, resource_type),
    ];
    if !fixed.iter().all(|(i, w)| parts[*i].eq_ignore_ascii_case(w)) || !is_guid(parts[2]) {
        return None;
    }
    let rg_ok = (1..=90).contains(&parts[4].len())
        && parts[4]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.()".contains(&b));
    let name_ok = (1..=80).contains(&parts[8].len())
        && parts[8]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    (rg_ok && name_ok).then_some([parts[2], parts[4], parts[8]])
}

/// `8-4-4-4-12` hex digits.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// An Azure Firewall resource id, stored lower case (as `_ResourceId` is):
/// `/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/azureFirewalls/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallId(String);

impl FirewallId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for FirewallId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid firewall {s:?}: expected its resource ID, \
                 /subscriptions/<subscription-guid>/resourceGroups/<group>/providers/Microsoft.Network/azureFirewalls/<name> \
                 (az network firewall show -g <group> -n <name> --query id)"
            )
        };
        let t = s.trim().trim_end_matches('/');
        network_resource_id(t, "azureFirewalls").ok_or_else(bad)?;
        Ok(FirewallId(t.to_ascii_lowercase()))
    }
}

impl fmt::Display for FirewallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A half-open time window `[from, to)` in microseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_us: i64,
    pub to_us: i64,
}

impl Window {
    /// The Query API `timespan` (`start/end`) matching the window; the KQL filters the same range half-open.
    pub fn timespan(&self) -> String {
        let f = |us| {
            chrono::DateTime::from_timestamp_micros(us)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
        };
        format!("{}/{}", f(self.from_us), f(self.to_us))
    }
}

/// Everything the deny-summary query can be asked for.
#[derive(Debug, Clone, Default)]
pub struct SummaryOptions {
    pub firewall: Option<FirewallId>,
    pub kind: Option<Kind>,
    pub sources: Vec<Cidr>,
    pub destination: Option<DestinationPattern>,
    pub port: Option<u16>,
    pub protocol: Option<String>,
    /// Read `AZFWApplicationRuleAggregation` instead of `AZFWApplicationRule` (only the aggregate exists).
    pub use_application_aggregation: bool,
    pub use_network_aggregation: bool,
    /// Legacy `AzureDiagnostics` rows of that category only before this time (resource-specific rows cover the
    /// rest, so a migration overlap is not counted twice). `None` = the whole window.
    pub legacy_application_until: Option<i64>,
    pub legacy_network_until: Option<i64>,
    /// Time buckets of this many seconds in the result (`--follow`); `None` = one bucket per window.
    pub bin_secs: Option<u64>,
    /// What the service calls each table.
    pub tables: Tables,
}

fn window_params(
    window: Window,
    firewall: Option<&FirewallId>,
) -> anyhow::Result<Vec<(&'static str, Literal)>> {
    if window.to_us <= window.from_us {
        bail!("empty time window: --from must be before --to");
    }
    Ok(vec![
        ("from", Literal::datetime(window.from_us)),
        ("to", Literal::datetime(window.to_us)),
        (
            "firewall",
            Literal::string(firewall.map(FirewallId::as_str).unwrap_or(""))?,
        ),
    ])
}

/// Split CIDRs by family (the KQL range functions are family-specific), re-validating their text.
fn ranges(nets: impl IntoIterator<Item = IpNet>) -> anyhow::Result<(Literal, Literal)> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for n in nets {
        let n = n.trunc();
        match n {
            IpNet::V4(_) => v4.push(n.to_string()),
            IpNet::V6(_) => v6.push(n.to_string()),
        }
    }
    Ok((Literal::string_array(&v4)?, Literal::string_array(&v6)?))
}

pub fn deny_summary(window: Window, o: &SummaryOptions) -> anyhow::Result<String> {
    let mut p = window_params(window, o.firewall.as_ref())?;
    let want = |k: Kind| o.kind.is_none_or(|want| want == k);
    p.push(("want_application", Literal::bool(want(Kind::Application))));
    p.push(("want_network", Literal::bool(want(Kind::Network))));
    p.push(("want_threat_intel", Literal::bool(want(Kind::ThreatIntel))));
    p.push(("want_idps", Literal::bool(want(Kind::Idps))));
    p.push((
        "use_application_aggregation",
        Literal::bool(o.use_application_aggregation),
    ));
    p.push((
        "use_network_aggregation",
        Literal::bool(o.use_network_aggregation),
    ));
    let until = |t: Option<i64>| Literal::datetime(t.unwrap_or(window.to_us).min(window.to_us));
    p.push((
        "legacy_application_until",
        until(o.legacy_application_until),
    ));
    p.push(("legacy_network_until", until(o.legacy_network_until)));
    let (s4, s6) = ranges(o.sources.iter().map(|c| c.0))?;
    p.push(("source_ranges_v4", s4));
    p.push(("source_ranges_v6", s6));
    let (mut exact, mut suffix, mut dnets) = (String::new(), String::new(), Vec::new());
    match &o.destination {
        None => {}
        Some(DestinationPattern::Exact(n)) => {
            check_name(n)?;
            exact = n.clone();
        }
        Some(DestinationPattern::Suffix(s)) => {
            check_name(s)?;
            suffix = format!(".{s}");
        }
        Some(DestinationPattern::Range(net)) => dnets.push(*net),
    }
    p.push(("destination_exact", Literal::string(&exact)?));
    p.push(("destination_suffix", Literal::string(&suffix)?));
    let (d4, d6) = ranges(dnets)?;
    p.push(("destination_ranges_v4", d4));
    p.push(("destination_ranges_v6", d6));
    p.push((
        "destination_port",
        Literal::long(o.port.map_or(-1, i64::from)),
    ));
    let protocol = match &o.protocol {
        None => String::new(),
        Some(pr) => {
            if pr.is_empty() || pr.len() > 16 || !pr.bytes().all(|b| b.is_ascii_alphanumeric()) {
                bail!("invalid protocol {pr:?}: expected a name such as HTTPS, TCP, UDP");
            }
            pr.to_ascii_uppercase()
        }
    };
    p.push(("protocol", Literal::string(&protocol)?));
    let whole = ((window.to_us - window.from_us) / 1_000_000).max(1) as u64;
    p.push((
        "bin_size",
        Literal::seconds(o.bin_secs.unwrap_or(whole).max(1)),
    ));
    render(Template::DenySummary, &o.tables, &p)
}

fn check_name(n: &str) -> anyhow::Result<()> {
    if is_dns_name(n) {
        Ok(())
    } else {
        bail!("invalid destination name {n:?}: expected an FQDN such as mcr.microsoft.com")
    }
}

pub fn sources(
    window: Window,
    firewall: Option<&FirewallId>,
    tables: &Tables,
) -> anyhow::Result<String> {
    render(Template::Sources, tables, &window_params(window, firewall)?)
}

pub fn hourly_count(
    window: Window,
    firewall: Option<&FirewallId>,
    tables: &Tables,
) -> anyhow::Result<String> {
    render(
        Template::HourlyCount,
        tables,
        &window_params(window, firewall)?,
    )
}

pub fn raw_window(
    window: Window,
    firewall: Option<&FirewallId>,
    tables: &Tables,
) -> anyhow::Result<String> {
    render(
        Template::RawWindow,
        tables,
        &window_params(window, firewall)?,
    )
}

/// Every query the templates can produce against Log Analytics (see [`variants`]).
pub fn all_variants() -> Vec<String> {
    variants(&Tables::log_analytics())
}

/// Every query the templates can produce with these table names: kind × destination × source filters combined
/// exhaustively, and every combination of the other options (aggregation tables, legacy cut-offs, firewall,
/// port, protocol, buckets). Options only change literals, never the query's structure, so this covers every
/// shape. Used by the analyzer check.
pub fn variants(tables: &Tables) -> Vec<String> {
    let w = Window {
        from_us: 1_788_220_800_000_000,
        to_us: 1_788_825_600_000_000,
    };
    let fw: FirewallId = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-hub/providers/Microsoft.Network/azureFirewalls/fw-hub"
        .parse()
        .expect("valid firewall id");
    let mut out = Vec::new();
    for f in [None, Some(&fw)] {
        out.push(sources(w, f, tables).expect("sources"));
        out.push(hourly_count(w, f, tables).expect("hourly"));
        out.push(raw_window(w, f, tables).expect("raw"));
    }
    let kinds: Vec<Option<Kind>> = std::iter::once(None)
        .chain(Kind::ALL.iter().copied().map(Some))
        .collect();
    let dests: Vec<Option<DestinationPattern>> = vec![
        None,
        Some("mcr.microsoft.com".parse().unwrap()),
        Some("*.azmk8s.io".parse().unwrap()),
        Some("20.0.0.0/8".parse().unwrap()),
        Some("2001:db8::/32".parse().unwrap()),
    ];
    let srcs: Vec<Vec<Cidr>> = vec![
        vec![],
        vec!["10.0.0.0/16".parse().unwrap()],
        vec!["fd10::/48".parse().unwrap()],
        vec![
            "10.0.0.0/16".parse().unwrap(),
            "fd10::/48".parse().unwrap(),
            "10.1.2.3".parse().unwrap(),
        ],
    ];
    for kind in &kinds {
        for d in &dests {
            for s in &srcs {
                let o = SummaryOptions {
                    kind: *kind,
                    destination: d.clone(),
                    sources: s.clone(),
                    tables: tables.clone(),
                    ..Default::default()
                };
                out.push(deny_summary(w, &o).expect("summary"));
            }
        }
    }
    // Every combination of the remaining options (2^7 = 128 queries).
    for bits in 0u32..128 {
        let on = |b: u32| bits & (1 << b) != 0;
        let o = SummaryOptions {
            use_application_aggregation: on(0),
            use_network_aggregation: on(1),
            legacy_application_until: on(2).then_some(w.from_us + 3_600_000_000),
            legacy_network_until: on(2).then_some(w.from_us),
            firewall: on(3).then(|| fw.clone()),
            port: on(4).then_some(443),
            protocol: on(5).then(|| "HTTPS".to_string()),
            bin_secs: on(6).then_some(60),
            tables: tables.clone(),
            ..Default::default()
        };
        out.push(deny_summary(w, &o).expect("summary"));
    }
    out
}

/// Queries joined the way `--print-kql` prints them and `tools/kql-check` reads them.
pub fn join_for_print(queries: &[String]) -> String {
    let mut s = String::new();
    for (i, q) in queries.iter().enumerate() {
        if i > 0 {
            s.push_str("// ---\n");
        }
        s.push_str(q.trim_end());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week() -> Window {
        Window {
            from_us: 1_788_220_800_000_000,
            to_us: 1_788_825_600_000_000,
        }
    }

    #[test]
    fn every_template_renders_with_no_placeholder_left() {
        for q in all_variants() {
            assert!(!q.contains("{{") && !q.contains("}}"), "{q}");
            assert!(Template::of_query(&q).is_some());
        }
    }

    /// Table names became parameters; Log Analytics queries still name the tables exactly as they always did
    /// (the whole text was compared with the previous build's --print-kql when the parameters came in).
    #[test]
    fn log_analytics_queries_name_their_tables_as_always() {
        let la = Tables::log_analytics();
        let q = sources(week(), None, &la).unwrap();
        assert!(q.contains(
            "union isfuzzy=true withsource=SourceTable\n    AZFWApplicationRule, AZFWNetworkRule, AZFWNatRule, \
             AZFWThreatIntel, AZFWIdpsSignature, AZFWDnsQuery,\n    AZFWApplicationRuleAggregation, \
             AZFWNetworkRuleAggregation, AZFWNatRuleAggregation,\n    (AzureDiagnostics | where"
        ), "{q}");
        let d = deny_summary(week(), &SummaryOptions::default()).unwrap();
        assert!(
            d.contains("    (AZFWApplicationRule\n        | where want_application"),
            "{d}"
        );
        for q in [
            raw_window(week(), None, &la).unwrap(),
            hourly_count(week(), None, &la).unwrap(),
        ] {
            assert!(q.contains(
                "    AZFWApplicationRule, AZFWNetworkRule, AZFWNatRule, AZFWThreatIntel, AZFWIdpsSignature, \
                 AZFWDnsQuery,\n    (AzureDiagnostics\n"
            ), "{q}");
        }
        for q in all_variants() {
            assert!(!q.contains("SourceEntity") && !q.contains("extend SourceTable"));
        }
    }

    #[test]
    fn render_refuses_missing_unknown_and_duplicate_parameters() {
        let la = Tables::log_analytics();
        let e = render(Template::Sources, &la, &[("from", Literal::long(1))]).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        let mut p = window_params(week(), None).unwrap();
        p.push(("drop_table", Literal::bool(true)));
        assert!(
            render(Template::Sources, &la, &p)
                .unwrap_err()
                .to_string()
                .contains("no parameter")
        );
        let mut p = window_params(week(), None).unwrap();
        p.push(("from", Literal::long(1)));
        assert!(
            render(Template::Sources, &la, &p)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }

    #[test]
    fn string_literals_are_escaped_and_single_line() {
        assert_eq!(
            Literal::string(r#"a"b\c"#).unwrap().as_str(),
            r#""a\"b\\c""#
        );
        assert!(Literal::string("x\ny").is_err());
        assert!(Literal::string("x\u{0}").is_err());
        assert_eq!(
            Literal::string_array(&["10.0.0.0/8", "q\""])
                .unwrap()
                .as_str(),
            r#"dynamic(["10.0.0.0/8", "q\""])"#
        );
    }

    #[test]
    fn literals_for_times_and_windows() {
        assert_eq!(
            Literal::datetime(1_788_220_800_000_001).as_str(),
            "datetime(2026-09-01T00:00:00.000001Z)"
        );
        assert_eq!(
            week().timespan(),
            "2026-09-01T00:00:00.000000Z/2026-09-08T00:00:00.000000Z"
        );
        let bad = Window {
            from_us: 5,
            to_us: 5,
        };
        assert!(sources(bad, None, &Tables::log_analytics()).is_err());
    }

    #[test]
    fn filters_become_values_not_syntax() {
        let o = SummaryOptions {
            kind: Some(Kind::Network),
            sources: vec!["10.0.0.0/16".parse().unwrap(), "fd10::/48".parse().unwrap()],
            destination: Some("*.Example.com".parse().unwrap()),
            port: Some(8080),
            protocol: Some("tcp".into()),
            ..Default::default()
        };
        let q = deny_summary(week(), &o).unwrap();
        assert!(
            q.contains(r#"let source_ranges_v4 = dynamic(["10.0.0.0/16"]);"#),
            "{q}"
        );
        assert!(q.contains(r#"let source_ranges_v6 = dynamic(["fd10::/48"]);"#));
        assert!(q.contains(r#"let destination_suffix = ".example.com";"#));
        assert!(q.contains("let destination_port = 8080;"));
        assert!(q.contains(r#"let protocol_name = "TCP";"#));
        assert!(q.contains("let want_application = false;"));
        assert!(q.contains("let want_network = true;"));
        // No filter: empty values, same structure.
        let plain = deny_summary(week(), &SummaryOptions::default()).unwrap();
        assert_eq!(plain.lines().count(), q.lines().count());
        assert!(plain.contains("let destination_port = -1;"));
    }

    /// Injection attempts in every value a user can supply are rejected before any query exists.
    #[test]
    fn injection_attempts_are_rejected() {
        let inj = [
            "\" | take 1 //",
            "' or 1==1 //",
            "x\n| take 1",
            "a; drop",
            "x\" or true or \"",
        ];
        for s in inj {
            assert!(s.parse::<WorkspaceId>().is_err(), "workspace {s}");
            assert!(s.parse::<FirewallId>().is_err(), "firewall {s}");
            assert!(s.parse::<Cidr>().is_err(), "cidr {s}");
            assert!(s.parse::<DestinationPattern>().is_err(), "destination {s}");
            assert!(s.parse::<crate::query::Duration>().is_err(), "duration {s}");
            let o = SummaryOptions {
                protocol: Some(s.to_string()),
                ..Default::default()
            };
            assert!(deny_summary(week(), &o).is_err(), "protocol {s}");
            // Even a pattern built in code (not via FromStr) is re-validated.
            let o = SummaryOptions {
                destination: Some(DestinationPattern::Exact(s.to_string())),
                ..Default::default()
            };
            assert!(deny_summary(week(), &o).is_err(), "exact {s}");
            let o = SummaryOptions {
                destination: Some(DestinationPattern::Suffix(s.to_string())),
                ..Default::default()
            };
            assert!(deny_summary(week(), &o).is_err(), "suffix {s}");
        }
        let fw = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/azureFirewalls/fw\"|take 1";
        let e = fw.parse::<FirewallId>().unwrap_err();
        assert!(e.contains("invalid firewall"), "{e}");
        let e = "6f1e\"|take".parse::<WorkspaceId>().unwrap_err();
        assert!(e.contains("invalid workspace"), "{e}");
    }

    #[test]
    fn ids_are_validated_and_lower_cased() {
        let w: WorkspaceId = "0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0".parse().unwrap();
        assert_eq!(w.as_str(), "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0");
        assert!(
            "0b1c2d3e4f5061728394a5b6c7d8e9f0"
                .parse::<WorkspaceId>()
                .is_err()
        );
        let f: FirewallId = "/subscriptions/0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0/resourceGroups/RG-Hub(1)/providers/Microsoft.Network/azureFirewalls/FW-HUB-GWC/"
            .parse()
            .unwrap();
        assert_eq!(
            f.as_str(),
            "/subscriptions/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0/resourcegroups/rg-hub(1)/providers/microsoft.network/azurefirewalls/fw-hub-gwc"
        );
        assert!(
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/azureFirewalls/fw"
                .parse::<FirewallId>()
                .is_err()
        );
        assert!("/subscriptions/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm".parse::<FirewallId>().is_err());
    }

    #[test]
    fn legacy_source_port_strip_matches_reference_forms() {
        // The KQL replace_regex pattern, checked with the regex crate (RE2 syntax, same semantics here).
        let q = Template::DenySummary.text();
        assert!(q.contains(
            r#"replace_regex(Message, @" request from (\S+?):\d+ ", @" request from \1 ")"#
        ));
        let re = regex::Regex::new(r" request from (\S+?):\d+ ").unwrap();
        let strip = |m: &str| re.replacen(m, 1, " request from $1 ").into_owned();
        assert_eq!(
            strip(
                "TCP request from [fd10:0003:0005:0001:0000:0000:0000:0004]:42346 to [2001:4860:4860:0000:0000:0000:0000:8888]:8080. Action: Deny.. "
            ),
            "TCP request from [fd10:0003:0005:0001:0000:0000:0000:0004] to [2001:4860:4860:0000:0000:0000:0000:8888]:8080. Action: Deny.. "
        );
        assert_eq!(
            strip(
                "HTTPS request from 10.13.1.4:55611 to md-x.blob.storage.azure.net:443. Action: Deny. No rule matched. Proceeding with default action"
            ),
            "HTTPS request from 10.13.1.4 to md-x.blob.storage.azure.net:443. Action: Deny. No rule matched. Proceeding with default action"
        );
        // ICMP without port, and with an empty port, are left alone.
        let icmp = "ICMP Type=8 request from 101.202.3.4 to 102.203.13.14. Action: Deny.";
        assert_eq!(strip(icmp), icmp);
        let idps = "ICMP request from 192.168.0.2: to 175.16.199.1:. Action: drop.";
        assert_eq!(strip(idps), idps);
    }
}
