//! A firewall's storage archive, presented to a cluster as the tables fwlog reads: the control commands of
//! `fwlog kusto external-table`.
//!
//! A diagnostic setting that archives to a storage account writes one container per category
//! (`insights-logs-<category>`) and one blob per firewall and hour,
//! `resourceId=/SUBSCRIPTIONS/<sub>/RESOURCEGROUPS/<rg>/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/<name>/y=…/m=…/d=…/h=…/m=00/PT1H.json`,
//! JSON lines of `{time, resourceId, category, operationName, properties}`. For each category fwlog creates:
//!
//! 1. an **external table** over its container (https://learn.microsoft.com/kusto/management/external-tables-azure-storage),
//!    `kind=storage`, `dataformat=multijson`, partitioned by the path: the subscription, resource group and
//!    firewall as virtual string columns and the blob's hour as a virtual datetime column (`datetime_pattern`),
//!    so a query over a window lists only that window's blobs;
//! 2. its **JSON mapping** of `time`, `resourceId`, `category`, `operationName` and `properties`
//!    (https://learn.microsoft.com/kusto/management/external-table-mapping-create);
//!
//! and for each Log Analytics table those categories feed, a **function of the query window**
//! (`FwArchive_AZFWNetworkRule(fromTime, toTime)`) that reads only the blobs whose hour can hold events of the
//! window, keeps the events inside it and projects them onto the table's Log Analytics columns
//! (`properties.SourceIp` → `SourceIp`, `time` → `TimeGenerated`, …). fwlog's unchanged queries then run on the
//! functions through `--table-map TABLE=FUNCTION(window)`.
//!
//! Blobs are written by *receive* time, so an event can sit in a later hour's blob than its own; the functions
//! read the blobs from one hour before the window to [`LATE_HOURS`] after it, which covers events that arrived
//! up to that late.
//!
//! Everything placed into a command is validated (the storage URL, the SAS token's characters, the managed
//! identity, the name prefix) and written in quoted forms, so no value can become syntax.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context as _;
use serde_json::{Value, json};

use super::tables::{Entity, LaTable};

/// Hours after a window's end whose blobs are still read, for events that arrived late.
pub const LATE_HOURS: u32 = 2;

/// The name of every JSON mapping fwlog creates.
pub const MAPPING: &str = "fwlog";

/// One diagnostic category archived to storage, and the Log Analytics table it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    pub name: &'static str,
    pub table: LaTable,
}

impl Category {
    /// Structured categories (one Log Analytics table each), then the legacy ones (`AzureDiagnostics` text).
    pub const ALL: [Category; 12] = [
        Category::new("AZFWApplicationRule", LaTable::ApplicationRule),
        Category::new("AZFWNetworkRule", LaTable::NetworkRule),
        Category::new("AZFWNatRule", LaTable::NatRule),
        Category::new("AZFWThreatIntel", LaTable::ThreatIntel),
        Category::new("AZFWIdpsSignature", LaTable::IdpsSignature),
        Category::new("AZFWDnsQuery", LaTable::DnsQuery),
        Category::new(
            "AZFWApplicationRuleAggregation",
            LaTable::ApplicationRuleAggregation,
        ),
        Category::new(
            "AZFWNetworkRuleAggregation",
            LaTable::NetworkRuleAggregation,
        ),
        Category::new("AZFWNatRuleAggregation", LaTable::NatRuleAggregation),
        Category::new("AzureFirewallApplicationRule", LaTable::AzureDiagnostics),
        Category::new("AzureFirewallNetworkRule", LaTable::AzureDiagnostics),
        Category::new("AzureFirewallDnsProxy", LaTable::AzureDiagnostics),
    ];

    const fn new(name: &'static str, table: LaTable) -> Category {
        Category { name, table }
    }

    /// The container the diagnostic setting writes the category to.
    pub fn container(self) -> String {
        format!("insights-logs-{}", self.name.to_ascii_lowercase())
    }

    pub fn is_legacy(self) -> bool {
        self.table == LaTable::AzureDiagnostics
    }

    pub fn parse(s: &str) -> Result<Category, String> {
        Category::ALL
            .into_iter()
            .find(|c| c.name.eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown category {s:?}: expected one of {}",
                    Category::ALL.map(|c| c.name).join(", ")
                )
            })
    }
}

/// How the cluster reads the storage account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A SAS token (List + Read), appended to each container URL.
    Sas(String),
    /// The cluster's managed identity: `system` or a user-assigned identity's object ID.
    ManagedIdentity(String),
}

impl Credential {
    /// A SAS token as it may be copied (`?sv=…&sig=…` or without the `?`), checked to be URL query characters
    /// only, so it cannot end the quoted connection string.
    pub fn sas(token: &str) -> Result<Credential, String> {
        let t = token.trim().trim_start_matches('?');
        let ok = !t.is_empty()
            && t.contains("sig=")
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"%&=._~:+/-".contains(&b));
        if ok {
            Ok(Credential::Sas(t.to_string()))
        } else {
            Err(
                "the SAS token is not one: expected the query string of a service or account SAS \
                 (sv=…&sp=rl&…&sig=…, with List and Read permissions)"
                    .to_string(),
            )
        }
    }

    /// `system`, or a GUID (the user-assigned identity's object ID).
    pub fn managed_identity(id: &str) -> Result<Credential, String> {
        let t = id.trim();
        if t.eq_ignore_ascii_case("system") {
            Ok(Credential::ManagedIdentity("system".into()))
        } else if super::kql::is_guid(t) {
            Ok(Credential::ManagedIdentity(t.to_ascii_lowercase()))
        } else {
            Err(format!(
                "invalid managed identity {id:?}: expected `system` or the user-assigned identity's object ID (a GUID)"
            ))
        }
    }
}

/// A storage account's blob endpoint: `https://ACCOUNT.blob.core.windows.net` (or another cloud's / a DFS host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageUrl(String);

impl std::str::FromStr for StorageUrl {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, String> {
        let t = raw.trim().trim_end_matches('/');
        let bad = |why: &str| {
            format!(
                "invalid storage {raw:?}: {why}; expected the storage account's blob endpoint, e.g. \
                 https://fwarchive.blob.core.windows.net (az storage account show -n NAME --query primaryEndpoints.blob)"
            )
        };
        let url = reqwest::Url::parse(t).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "https" || url.query().is_some() || !url.username().is_empty() {
            return Err(bad(
                "only https, without credentials or query (the SAS comes from --sas-env)",
            ));
        }
        if !url.path().trim_matches('/').is_empty() {
            return Err(bad(
                "no container or path: fwlog adds the containers, insights-logs-<category>",
            ));
        }
        let host = url.host_str().unwrap_or("");
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(bad("the host must be a DNS name"));
        }
        Ok(StorageUrl(format!("https://{host}")))
    }
}

/// The Log Analytics columns of each table (`tools/kql-check/schemas.json`, the same declaration the analyzer
/// checks every query against), so the functions give the archive exactly the tables' shape.
/// Column names and types, in order.
type Columns = Vec<(String, String)>;

fn schemas() -> anyhow::Result<(Columns, BTreeMap<String, Columns>)> {
    let v: Value = serde_json::from_str(include_str!("../../tools/kql-check/schemas.json"))
        .context("the built-in table schemas")?;
    let cols = |s: &str| -> Columns {
        s.split(',')
            .filter_map(|c| c.split_once(':'))
            .map(|(n, t)| (n.trim().to_string(), t.trim().to_string()))
            .collect()
    };
    let standard = cols(v["standard"].as_str().unwrap_or(""));
    let tables = v["tables"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, s)| (k.clone(), cols(s.as_str().unwrap_or(""))))
                .collect()
        })
        .unwrap_or_default();
    Ok((standard, tables))
}

/// The archive record columns (`time` is a KQL keyword, hence quoted) and the path's virtual columns.
pub const RECORD_COLUMNS: &str = "['time']:datetime, resourceId:string, category:string, operationName:string, properties:dynamic";
pub const PARTITION_COLUMNS: &str = "ArchiveSubscription:string, ArchiveResourceGroup:string, \
                                     ArchiveFirewall:string, ArchiveHour:datetime";

/// Everything `fwlog kusto external-table` was asked for.
#[derive(Debug, Clone)]
pub struct Archive {
    pub storage: StorageUrl,
    pub credential: Credential,
    /// Names: external tables `{prefix}Blobs_{Category}`, functions `{prefix}_{Table}`.
    pub prefix: String,
    pub categories: Vec<Category>,
}

impl Archive {
    pub fn new(
        storage: StorageUrl,
        credential: Credential,
        prefix: &str,
        categories: Vec<Category>,
    ) -> Result<Archive, String> {
        let ok_prefix = !prefix.is_empty()
            && prefix.len() <= 64
            && prefix.starts_with(|c: char| c.is_ascii_alphabetic())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok_prefix {
            return Err(format!(
                "invalid name prefix {prefix:?}: expected letters, digits and '_', starting with a letter"
            ));
        }
        let mut categories = if categories.is_empty() {
            Category::ALL.to_vec()
        } else {
            categories
        };
        // The order of Category::ALL, once each: the output does not depend on the order options were given in.
        categories.sort_by_key(|c| Category::ALL.iter().position(|x| x == c));
        categories.dedup();
        Ok(Archive {
            storage,
            credential,
            prefix: prefix.to_string(),
            categories,
        })
    }

    pub fn external_table(&self, c: Category) -> String {
        format!("{}Blobs_{}", self.prefix, c.name)
    }

    pub fn function(&self, t: LaTable) -> String {
        format!("{}_{}", self.prefix, t.name())
    }

    /// The Log Analytics tables the chosen categories feed, in a fixed order.
    pub fn tables(&self) -> Vec<LaTable> {
        let mut t: Vec<LaTable> = self.categories.iter().map(|c| c.table).collect();
        t.sort();
        t.dedup();
        t
    }

    /// `--table-map` entries that point fwlog at the functions.
    pub fn table_map(&self) -> BTreeMap<LaTable, Entity> {
        self.tables()
            .into_iter()
            .map(|t| (t, Entity::Window(self.function(t))))
            .collect()
    }

    fn connection_string(&self, c: Category) -> String {
        let url = format!("{}/{}", self.storage.0, c.container());
        match &self.credential {
            Credential::Sas(sas) => format!("h@'{url}?{sas}'"),
            Credential::ManagedIdentity(id) => format!("h@'{url};managed_identity={id}'"),
        }
    }

    /// The external table of a category, its mapping, and nothing else.
    fn table_commands(&self, c: Category) -> Vec<String> {
        let name = self.external_table(c);
        let mapping = json!([
            {"Column": "time", "Properties": {"Path": "$.time"}},
            {"Column": "resourceId", "Properties": {"Path": "$.resourceId"}},
            {"Column": "category", "Properties": {"Path": "$.category"}},
            {"Column": "operationName", "Properties": {"Path": "$.operationName"}},
            {"Column": "properties", "Properties": {"Path": "$.properties"}}
        ]);
        vec![
            format!(".drop external table ['{name}'] ifexists"),
            format!(
                ".create external table ['{name}'] ({RECORD_COLUMNS})\n\
                 kind=storage\n\
                 partition by ({PARTITION_COLUMNS})\n\
                 pathformat=(\"resourceId=/SUBSCRIPTIONS/\" ArchiveSubscription \"/RESOURCEGROUPS/\" ArchiveResourceGroup \
                 \"/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/\" ArchiveFirewall \"/\" \
                 datetime_pattern(\"y={{yyyy}}/m={{MM}}/d={{dd}}/h={{HH}}/m=00\", ArchiveHour))\n\
                 dataformat=multijson\n\
                 (\n    {}\n)\n\
                 with (folder=\"fwlog\", docString=\"Azure Firewall {} archive ({}), read by fwlog\", fileExtension=\".json\")",
                self.connection_string(c),
                c.name,
                c.container()
            ),
            format!(
                ".create external table ['{name}'] mapping \"{MAPPING}\" '{}'",
                mapping
            ),
        ]
    }

    /// The body of the function that stands for `table`: the blobs of the window's hours, the events inside the
    /// window, the table's columns.
    pub fn function_body(&self, table: LaTable) -> anyhow::Result<String> {
        let (standard, tables) = schemas()?;
        let own = tables
            .get(table.name())
            .with_context(|| format!("no schema for {table}"))?;
        let sources: Vec<Category> = self
            .categories
            .iter()
            .copied()
            .filter(|c| c.table == table)
            .collect();
        // Operators line up under the expression they apply to: at the body's level for one source, inside the
        // parentheses of each `union` leg for several.
        let read = |c: Category, indent: &str| {
            format!(
                "external_table(\"{}\", \"{MAPPING}\")\n{indent}| where ArchiveHour >= bin(fromTime, 1h) - 1h and \
                 ArchiveHour < toTime + {LATE_HOURS}h\n{indent}| where ['time'] >= fromTime and ['time'] < toTime",
                self.external_table(c)
            )
        };
        let mut body = String::new();
        if sources.len() == 1 {
            body.push_str(&read(sources[0], "    "));
        } else {
            let legs: Vec<String> = sources
                .iter()
                .map(|c| format!("({})", read(*c, "         ")))
                .collect();
            write!(body, "union\n        {}", legs.join(",\n        ")).ok();
        }
        let mut cols: Vec<String> = Vec::new();
        for (name, ty) in standard.iter().chain(own.iter()) {
            let value = match (table, name.as_str()) {
                (_, "TenantId") => "\"\"".to_string(),
                (_, "TimeGenerated") => "['time']".to_string(),
                (_, "SourceSystem") => "\"Azure\"".to_string(),
                (_, "Type") => format!("\"{table}\""),
                (_, "_ResourceId") => "tolower(resourceId)".to_string(),
                (_, "_SubscriptionId") => "tolower(ArchiveSubscription)".to_string(),
                (_, "_BilledSize") => "real(null)".to_string(),
                (_, "_IsBillable") => "\"\"".to_string(),
                (LaTable::AzureDiagnostics, "ResourceId") => "toupper(resourceId)".to_string(),
                (LaTable::AzureDiagnostics, "SubscriptionId") => "ArchiveSubscription".to_string(),
                (LaTable::AzureDiagnostics, "ResourceGroup") => "ArchiveResourceGroup".to_string(),
                (LaTable::AzureDiagnostics, "ResourceProvider") => {
                    "\"MICROSOFT.NETWORK\"".to_string()
                }
                (LaTable::AzureDiagnostics, "Resource") => "ArchiveFirewall".to_string(),
                (LaTable::AzureDiagnostics, "ResourceType") => "\"AZUREFIREWALLS\"".to_string(),
                (LaTable::AzureDiagnostics, "Category") => "category".to_string(),
                (LaTable::AzureDiagnostics, "OperationName") => "operationName".to_string(),
                (LaTable::AzureDiagnostics, "msg_s") => "tostring(properties.msg)".to_string(),
                (LaTable::AzureDiagnostics, "AdditionalFields") => "dynamic(null)".to_string(),
                // Structured records carry the table's columns as properties of the same name.
                (_, col) => convert(ty, &format!("properties.{col}"))?,
            };
            cols.push(format!("{name} = {value}"));
        }
        write!(
            body,
            "\n    | project\n        {}",
            cols.join(",\n        ")
        )
        .ok();
        Ok(body)
    }

    fn function_command(&self, table: LaTable) -> anyhow::Result<String> {
        Ok(format!(
            ".create-or-alter function with (folder=\"fwlog\", docString=\"{table} from the storage archive, for \
             fwlog --table-map {table}={}(window)\") ['{}'](fromTime:datetime, toTime:datetime) {{\n    {}\n}}\n",
            self.function(table),
            self.function(table),
            self.function_body(table)?
        ))
    }

    /// Every control command, in the order they must run.
    pub fn commands(&self) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for c in &self.categories {
            out.extend(self.table_commands(*c));
        }
        for t in self.tables() {
            out.push(self.function_command(t)?);
        }
        Ok(out)
    }

    /// The commands as one script for the cluster's query editor: `.execute database script` runs them in order
    /// and stops at the first failure.
    pub fn script(&self) -> anyhow::Result<String> {
        let cmds = self.commands()?;
        Ok(format!(
            ".execute database script with (ContinueOnErrors=false) <|\n{}",
            cmds.iter()
                .map(|c| format!("{}\n", c.trim_end()))
                .collect::<String>()
        ))
    }

    /// What the analyzer needs to check the commands and the queries over the functions: each external table
    /// with its columns (record and path columns) and each function with its parameters and body.
    pub fn analyzer_schema(&self) -> anyhow::Result<Value> {
        let mut ext = serde_json::Map::new();
        for c in &self.categories {
            ext.insert(
                self.external_table(*c),
                json!(format!("({RECORD_COLUMNS}, {PARTITION_COLUMNS})")),
            );
        }
        let mut functions = Vec::new();
        for t in self.tables() {
            functions.push(json!({
                "name": self.function(t),
                "parameters": "(fromTime:datetime, toTime:datetime)",
                "body": format!("{{ {} }}", self.function_body(t)?),
            }));
        }
        Ok(json!({"externalTables": ext, "functions": functions}))
    }
}

/// A property cast to a column's type.
fn convert(ty: &str, expr: &str) -> anyhow::Result<String> {
    Ok(match ty {
        "string" => format!("tostring({expr})"),
        "int" => format!("toint({expr})"),
        "long" => format!("tolong({expr})"),
        "real" => format!("toreal({expr})"),
        "bool" => format!("tobool({expr})"),
        "datetime" => format!("todatetime({expr})"),
        "dynamic" => expr.to_string(),
        other => anyhow::bail!("column type {other} has no conversion"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(cred: Credential, cats: &[&str]) -> Archive {
        Archive::new(
            "https://fwarchive.blob.core.windows.net/".parse().unwrap(),
            cred,
            "FwArchive",
            cats.iter().map(|c| Category::parse(c).unwrap()).collect(),
        )
        .unwrap()
    }

    #[test]
    fn one_external_table_per_category_and_one_function_per_table() {
        let a = archive(
            Credential::managed_identity("system").unwrap(),
            &[
                "AzureFirewallNetworkRule",
                "AZFWNetworkRule",
                "AzureFirewallApplicationRule",
            ],
        );
        let cmds = a.commands().unwrap();
        // 3 categories × (drop, create, mapping) + AZFWNetworkRule and AzureDiagnostics functions.
        assert_eq!(cmds.len(), 11, "{cmds:#?}");
        assert!(cmds[1].contains(
            "h@'https://fwarchive.blob.core.windows.net/insights-logs-azfwnetworkrule;managed_identity=system'"
        ));
        assert!(
            cmds[1]
                .contains(r#"datetime_pattern("y={yyyy}/m={MM}/d={dd}/h={HH}/m=00", ArchiveHour)"#)
        );
        assert!(
            cmds[2]
                .contains(r#"mapping "fwlog" '[{"Column":"time","Properties":{"Path":"$.time"}}"#)
        );
        let f = &cmds[10];
        assert!(
            f.contains("['FwArchive_AzureDiagnostics'](fromTime:datetime, toTime:datetime)"),
            "{f}"
        );
        assert!(
            f.contains("union\n"),
            "two legacy categories feed AzureDiagnostics: {f}"
        );
        assert!(f.contains("msg_s = tostring(properties.msg)"), "{f}");
        let net = a.function_body(LaTable::NetworkRule).unwrap();
        assert!(
            net.contains("SourcePort = toint(properties.SourcePort)"),
            "{net}"
        );
        assert!(net.contains("ArchiveHour < toTime + 2h"), "{net}");
        assert_eq!(
            a.table_map().get(&LaTable::NetworkRule),
            Some(&Entity::Window("FwArchive_AZFWNetworkRule".into()))
        );
        assert!(a.script().unwrap().starts_with(".execute database script"));
    }

    #[test]
    fn values_cannot_become_syntax() {
        assert!(Credential::sas("sv=2022-11-02&sp=rl&sig=abc%2Bdef").is_ok());
        for bad in [
            "sv=1&sig=x'",
            "sv=1&sig=x\n.drop table T",
            "no signature",
            "sig=a;managed_identity=system",
        ] {
            assert!(Credential::sas(bad).is_err(), "{bad}");
        }
        assert!(Credential::managed_identity("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0").is_ok());
        assert!(Credential::managed_identity("system'").is_err());
        for bad in [
            "http://fwarchive.blob.core.windows.net",
            "https://fwarchive.blob.core.windows.net/insights-logs-azfwnetworkrule",
            "https://fwarchive.blob.core.windows.net?sv=1",
            "https://fw'archive.blob.core.windows.net",
        ] {
            assert!(bad.parse::<StorageUrl>().is_err(), "{bad}");
        }
        let ok = |p: &str| {
            Archive::new(
                "https://a.blob.core.windows.net".parse().unwrap(),
                Credential::managed_identity("system").unwrap(),
                p,
                vec![],
            )
        };
        assert!(ok("Fw_2").is_ok());
        for bad in ["", "2Fw", "Fw'", "Fw Archive", "Fw-x"] {
            assert!(ok(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_table_has_a_schema_and_every_type_a_conversion() {
        let a = archive(Credential::managed_identity("system").unwrap(), &[]);
        assert_eq!(a.categories.len(), 12);
        assert_eq!(a.tables().len(), 10);
        for t in a.tables() {
            a.function_body(t).unwrap();
        }
    }
}
