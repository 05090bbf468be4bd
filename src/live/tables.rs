//! Table names are data: which entity of the queried service stands for each Log Analytics table fwlog reads.
//!
//! The query templates (`queries/*.kql`) name the Log Analytics tables through three structural placeholders,
//! which [`Tables::expand`] fills before any value is placed (see `super::kql`):
//!
//! * `{{table:NAME}}` — the entity that holds table NAME's rows;
//! * `{{leg:NAME}}` — the same as one leg of a `union` whose rows must say which table they stand for;
//! * `{{source_column}}` — the name of the `union … withsource=` column.
//!
//! Against Log Analytics ([`Tables::log_analytics`]) they become exactly the table names and `SourceTable`, so
//! every Log Analytics query is byte for byte what it was before table names became data. Against a cluster
//! ([`Tables::cluster`]) a mapped table becomes a bracket-quoted entity name (`['FirewallNetwork']`) or a call of
//! a stored function with the query window (`['FwArchive_AZFWNetworkRule'](from_time, to_time)`), and every
//! leg carries its Log Analytics name explicitly (`extend SourceTable = "…", Type = "…"`): a cluster's
//! `withsource` names the *underlying* table — a function's external table, a database-qualified name — so it
//! cannot tell fwlog which Log Analytics table a row stands for; the label can.
//!
//! Entity names are validated (letters, digits, `_`, `-`, `.`, space; the Kusto entity-name characters) and then
//! always bracket-quoted, so a name can never become KQL syntax.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use anyhow::bail;

/// The Log Analytics tables fwlog's queries read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LaTable {
    ApplicationRule,
    NetworkRule,
    NatRule,
    ThreatIntel,
    IdpsSignature,
    DnsQuery,
    ApplicationRuleAggregation,
    NetworkRuleAggregation,
    NatRuleAggregation,
    AzureDiagnostics,
}

impl LaTable {
    pub const ALL: [LaTable; 10] = [
        LaTable::ApplicationRule,
        LaTable::NetworkRule,
        LaTable::NatRule,
        LaTable::ThreatIntel,
        LaTable::IdpsSignature,
        LaTable::DnsQuery,
        LaTable::ApplicationRuleAggregation,
        LaTable::NetworkRuleAggregation,
        LaTable::NatRuleAggregation,
        LaTable::AzureDiagnostics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LaTable::ApplicationRule => "AZFWApplicationRule",
            LaTable::NetworkRule => "AZFWNetworkRule",
            LaTable::NatRule => "AZFWNatRule",
            LaTable::ThreatIntel => "AZFWThreatIntel",
            LaTable::IdpsSignature => "AZFWIdpsSignature",
            LaTable::DnsQuery => "AZFWDnsQuery",
            LaTable::ApplicationRuleAggregation => "AZFWApplicationRuleAggregation",
            LaTable::NetworkRuleAggregation => "AZFWNetworkRuleAggregation",
            LaTable::NatRuleAggregation => "AZFWNatRuleAggregation",
            LaTable::AzureDiagnostics => "AzureDiagnostics",
        }
    }
}

impl FromStr for LaTable {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        LaTable::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                format!(
                    "unknown table {t:?}: expected one of {}",
                    LaTable::ALL.map(LaTable::name).join(", ")
                )
            })
    }
}

impl fmt::Display for LaTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a cluster has in place of a Log Analytics table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// A table, materialized view or stored function without parameters, with the table's columns.
    Name(String),
    /// A stored function of the query window, `Name(from, to)`, as `fwlog kusto external-table` creates over a
    /// storage archive; written `Name(window)`.
    Window(String),
}

/// The suffix that marks a window function in a table map.
const WINDOW_SUFFIX: &str = "(window)";

/// A Kusto entity name fwlog accepts: 1–1024 letters, digits, `_`, `-`, `.` or spaces, not starting or ending
/// with a space (https://learn.microsoft.com/kusto/query/schema-entities/entity-names).
pub fn check_entity_name(name: &str) -> Result<(), String> {
    let ok = (1..=1024).contains(&name.len())
        && !name.starts_with(' ')
        && !name.ends_with(' ')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid entity name {name:?}: expected a table or function name of letters, digits, '_', '-', '.' \
             and spaces"
        ))
    }
}

impl FromStr for Entity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        match t.strip_suffix(WINDOW_SUFFIX) {
            Some(name) => {
                check_entity_name(name)?;
                Ok(Entity::Window(name.to_string()))
            }
            None => {
                check_entity_name(t)?;
                Ok(Entity::Name(t.to_string()))
            }
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entity::Name(n) => f.write_str(n),
            Entity::Window(n) => write!(f, "{n}{WINDOW_SUFFIX}"),
        }
    }
}

impl Entity {
    /// The KQL that reads the entity (names validated by construction, quoted here).
    fn kql(&self) -> String {
        match self {
            Entity::Name(n) => format!("['{n}']"),
            Entity::Window(n) => format!("['{n}'](from_time, to_time)"),
        }
    }
}

/// One `--table-map TABLE=ENTITY` entry.
pub fn parse_map_entry(s: &str) -> Result<(LaTable, Entity), String> {
    let Some((k, v)) = s.split_once('=') else {
        return Err(format!(
            "invalid table mapping {s:?}: expected TABLE=NAME, e.g. AZFWNetworkRule=FirewallNetwork or \
             AZFWNetworkRule=FwArchive_AZFWNetworkRule(window)"
        ));
    };
    Ok((k.parse()?, v.parse()?))
}

/// The entity of every table for one service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables {
    map: BTreeMap<LaTable, Entity>,
    cluster: bool,
}

impl Tables {
    /// Log Analytics: the tables by their own names, `withsource` names them.
    pub fn log_analytics() -> Tables {
        Tables::default()
    }

    /// A cluster database: mapped tables by their entity, the rest by their Log Analytics names, every union leg
    /// labelled.
    pub fn cluster(map: BTreeMap<LaTable, Entity>) -> Tables {
        Tables { map, cluster: true }
    }

    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    pub fn map(&self) -> &BTreeMap<LaTable, Entity> {
        &self.map
    }

    fn entity(&self, t: LaTable) -> String {
        match self.map.get(&t) {
            Some(e) => e.kql(),
            None => t.name().to_string(),
        }
    }

    /// Fill the structural placeholders of a template's text; value placeholders are left for `kql::render`.
    pub fn expand(&self, text: &str) -> anyhow::Result<String> {
        let mut out = String::with_capacity(text.len() + 256);
        let mut rest = text;
        while let Some(i) = rest.find("{{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(j) = after.find("}}") else {
                bail!("unterminated placeholder in a query template");
            };
            let inner = &after[..j];
            let filled = if let Some(name) = inner.strip_prefix("table:") {
                Some(self.entity(table(name)?))
            } else if let Some(name) = inner.strip_prefix("leg:") {
                let t = table(name)?;
                Some(if self.cluster {
                    format!(
                        "({} | extend SourceTable = \"{t}\", Type = \"{t}\")",
                        self.entity(t)
                    )
                } else {
                    t.name().to_string()
                })
            } else if inner == "source_column" {
                Some(
                    if self.cluster {
                        "SourceEntity"
                    } else {
                        "SourceTable"
                    }
                    .to_string(),
                )
            } else {
                None
            };
            match filled {
                Some(f) => out.push_str(&f),
                None => {
                    out.push_str("{{");
                    out.push_str(inner);
                    out.push_str("}}");
                }
            }
            rest = &after[j + 2..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn table(name: &str) -> anyhow::Result<LaTable> {
    // Templates name tables exactly; anything else is a bug in a template, not user input.
    LaTable::ALL
        .into_iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| anyhow::anyhow!("query template names unknown table {name:?}"))
}

/// Whether a placeholder is structural (filled by [`Tables::expand`]) rather than a value.
pub fn is_structural(placeholder: &str) -> bool {
    placeholder.starts_with("table:")
        || placeholder.starts_with("leg:")
        || placeholder == "source_column"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_analytics_names_are_the_tables_themselves() {
        let t = Tables::log_analytics();
        assert_eq!(
            t.expand("union withsource={{source_column}} {{leg:AZFWNetworkRule}}, ({{table:AzureDiagnostics}} | where x == {{v}})")
                .unwrap(),
            "union withsource=SourceTable AZFWNetworkRule, (AzureDiagnostics | where x == {{v}})"
        );
    }

    #[test]
    fn cluster_entities_are_quoted_and_legs_labelled() {
        let mut m = BTreeMap::new();
        m.insert(LaTable::NetworkRule, "Fw Net-1.x".parse().unwrap());
        m.insert(
            LaTable::AzureDiagnostics,
            "FwArchive_AzureDiagnostics(window)".parse().unwrap(),
        );
        let t = Tables::cluster(m);
        assert_eq!(
            t.expand("{{source_column}} {{leg:AZFWNetworkRule}} {{table:AzureDiagnostics}} {{leg:AZFWNatRule}}")
                .unwrap(),
            "SourceEntity (['Fw Net-1.x'] | extend SourceTable = \"AZFWNetworkRule\", Type = \"AZFWNetworkRule\") \
             ['FwArchive_AzureDiagnostics'](from_time, to_time) \
             (AZFWNatRule | extend SourceTable = \"AZFWNatRule\", Type = \"AZFWNatRule\")"
        );
        assert!(t.expand("{{table:NoSuchTable}}").is_err());
    }

    #[test]
    fn map_entries_are_validated() {
        let (k, v) = parse_map_entry("azfwnetworkrule=FirewallNetwork").unwrap();
        assert_eq!(
            (k, v),
            (LaTable::NetworkRule, Entity::Name("FirewallNetwork".into()))
        );
        let (_, v) =
            parse_map_entry("AzureDiagnostics=FwArchive_AzureDiagnostics(window)").unwrap();
        assert_eq!(v.to_string(), "FwArchive_AzureDiagnostics(window)");
        for bad in [
            "AZFWNetworkRule",
            "Nope=X",
            "AZFWNetworkRule=",
            "AZFWNetworkRule=x'] | take 1 //",
            "AZFWNetworkRule=a\"b",
            "AZFWNetworkRule=a(b)",
            "AZFWNetworkRule=x\n| take 1",
            "AZFWNetworkRule=x]",
        ] {
            let r = parse_map_entry(bad);
            assert!(r.is_err(), "{bad:?} accepted: {r:?}");
        }
    }
}
