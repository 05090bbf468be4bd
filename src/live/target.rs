//! What a live query runs against: a Log Analytics workspace, or a database of an Azure Data Explorer cluster or
//! Fabric Eventhouse. Both are validated when parsed; neither is ever placed into KQL (the workspace goes into the
//! URL path as a GUID, the database into the request body's `db` field).

use std::fmt;
use std::str::FromStr;

use super::kql::WorkspaceId;

/// One origin of rows: the unit a run queries, splits and (with `--by-origin`) reports separately.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Workspace(WorkspaceId),
    Database(DatabaseName),
}

impl Target {
    /// Its identity in keys, part-file names and the `origin` of report groups: the workspace GUID, or the
    /// database name.
    pub fn key(&self) -> &str {
        match self {
            Target::Workspace(w) => w.as_str(),
            Target::Database(d) => d.as_str(),
        }
    }

    /// [`Target::key`] safe to use in a file name.
    pub fn file_key(&self) -> String {
        match self {
            Target::Workspace(w) => w.to_string(),
            Target::Database(d) => format!(
                "db-{}",
                d.as_str()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    })
                    .collect::<String>()
            ),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Workspace(w) => write!(f, "workspace {w}"),
            Target::Database(d) => write!(f, "database {d}"),
        }
    }
}

/// A Kusto database name (https://learn.microsoft.com/kusto/query/schema-entities/entity-names): letters,
/// digits, `_`, `-`, `.` and spaces; Fabric KQL databases allow spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatabaseName(String);

impl DatabaseName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DatabaseName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        super::tables::check_entity_name(t).map_err(|_| {
            format!(
                "invalid database {s:?}: expected the database name (letters, digits, '_', '-', '.', spaces), as \
                 the cluster's web UI or the Eventhouse lists it"
            )
        })?;
        Ok(DatabaseName(t.to_string()))
    }
}

impl fmt::Display for DatabaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Kusto first-party audience: a token for it is accepted by every cluster (the clusters' own
/// `/v1/rest/auth/metadata` names it as `KustoServiceResourceId`), and it is what Fabric Eventhouses take.
pub const KUSTO_AUDIENCE: &str = "https://kusto.kusto.windows.net";

/// A cluster's query URI: `https://NAME.REGION.kusto.windows.net`, a Fabric Eventhouse query URI
/// (`https://….kusto.fabric.microsoft.com`), or plain http to this machine (a local fake or a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterUrl(String);

impl ClusterUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token audience. The Kusto REST API documents the service URI as the resource
    /// (https://learn.microsoft.com/kusto/api/rest/authentication), which is what an Azure Data Explorer
    /// cluster registers. A Fabric Eventhouse query URI is not a registered resource of its own, so it gets the
    /// Kusto first-party audience ([`KUSTO_AUDIENCE`]), which every Kusto endpoint accepts. `[kusto] audience`
    /// in the config file overrides both, should a tenant need another.
    pub fn audience(&self) -> String {
        let host = reqwest::Url::parse(&self.0)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        if host.ends_with(".kusto.fabric.microsoft.com") {
            KUSTO_AUDIENCE.to_string()
        } else {
            self.0.clone()
        }
    }
}

impl FromStr for ClusterUrl {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, String> {
        let t = raw.trim().trim_end_matches('/');
        let url = reqwest::Url::parse(t).map_err(|e| {
            format!(
                "invalid cluster {raw:?}: {e}; expected the cluster's query URI, e.g. \
                 https://fwlogs.westeurope.kusto.windows.net"
            )
        })?;
        let local = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && local);
        if !scheme_ok
            || url.query().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(format!(
                "invalid cluster {raw:?}: expected https://HOST (plain http only to localhost), without \
                 credentials or query"
            ));
        }
        let path = url.path().trim_matches('/');
        if !path.is_empty() {
            return Err(format!(
                "invalid cluster {raw:?}: a cluster URI has no path; give the database separately: --cluster \
                 {}://{} --database {path}",
                url.scheme(),
                url.host_str().unwrap_or("HOST")
            ));
        }
        let mut origin = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
        if let Some(p) = url.port() {
            origin.push_str(&format!(":{p}"));
        }
        Ok(ClusterUrl(origin.to_ascii_lowercase()))
    }
}

impl fmt::Display for ClusterUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_are_origins_with_their_audience() {
        let c: ClusterUrl = "https://FwLogs.WestEurope.kusto.windows.net/"
            .parse()
            .unwrap();
        assert_eq!(c.as_str(), "https://fwlogs.westeurope.kusto.windows.net");
        assert_eq!(c.audience(), "https://fwlogs.westeurope.kusto.windows.net");
        let f: ClusterUrl = "https://trd-abc123.z7.kusto.fabric.microsoft.com"
            .parse()
            .unwrap();
        assert_eq!(f.audience(), KUSTO_AUDIENCE);
        let l: ClusterUrl = "http://127.0.0.1:8123".parse().unwrap();
        assert_eq!(l.audience(), "http://127.0.0.1:8123");
        let e = "https://help.kusto.windows.net/Samples"
            .parse::<ClusterUrl>()
            .unwrap_err();
        assert!(e.contains("--database Samples"), "{e}");
        for bad in [
            "http://help.kusto.windows.net",
            "https://u:p@help.kusto.windows.net",
            "https://help.kusto.windows.net?x=1",
            "help",
        ] {
            assert!(bad.parse::<ClusterUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn databases_are_entity_names() {
        assert_eq!(
            " Firewall Logs ".parse::<DatabaseName>().unwrap().as_str(),
            "Firewall Logs"
        );
        for bad in ["", "a'b", "a\"b", "db\n| take 1", "x;y"] {
            assert!(bad.parse::<DatabaseName>().is_err(), "{bad:?}");
        }
        let t = Target::Database("Firewall Logs".parse().unwrap());
        assert_eq!(t.to_string(), "database Firewall Logs");
        assert_eq!(t.file_key(), "db-Firewall_Logs");
    }
}
