//! Guardrails every rule passes before it is emitted: no `*`, no bare public suffix (or multi-tenant Azure
//! suffix such as `blob.core.windows.net`, where a wildcard opens every customer's endpoint), and no wildcard
//! broader than the catalog pattern that justified it.

/// Suffixes under which names belong to many unrelated tenants. A wildcard directly on one of them is refused;
/// the recommender narrows such a pattern to the exact hosts observed instead.
const SHARED_SUFFIXES: &[&str] = &[
    "com",
    "net",
    "org",
    "io",
    "ms",
    "cn",
    "us",
    "de",
    "windows.net",
    "core.windows.net",
    "blob.core.windows.net",
    "queue.core.windows.net",
    "table.core.windows.net",
    "file.core.windows.net",
    "dfs.core.windows.net",
    "web.core.windows.net",
    "blob.storage.azure.net",
    "servicebus.windows.net",
    "database.windows.net",
    "azurecr.io",
    "azureedge.net",
    "azurefd.net",
    "azurewebsites.net",
    "cloudapp.net",
    "cloudapp.azure.com",
    "azure-api.net",
    "trafficmanager.net",
    "core.chinacloudapi.cn",
    "blob.core.chinacloudapi.cn",
    "core.usgovcloudapi.net",
    "blob.core.usgovcloudapi.net",
    "azure.com",
    "microsoft.com",
    "azure.net",
    // Log Analytics workspaces: a wildcard would let anything in the cluster send data to any workspace,
    // an attacker's included; the cluster needs only its own workspace's hosts.
    "ods.opinsights.azure.com",
    "oms.opinsights.azure.com",
    "ods.opinsights.azure.us",
    "oms.opinsights.azure.us",
    "ods.opinsights.azure.cn",
    "oms.opinsights.azure.cn",
];

/// True when `suffix` (no leading `*.`) is a public or shared multi-tenant suffix.
pub fn is_shared_suffix(suffix: &str) -> bool {
    let s = suffix.trim_end_matches('.').to_ascii_lowercase();
    !s.contains('.') || SHARED_SUFFIXES.contains(&s.as_str())
}

/// Why an FQDN target may not be emitted, if it may not.
pub fn reject_fqdn(target: &str) -> Option<String> {
    let t = target.trim();
    if t.is_empty() || t == "*" || t.starts_with("*.*") {
        return Some(format!("{t:?} would allow everything"));
    }
    if t.contains('<') || t.contains('>') {
        return Some(format!("{t} still has an unfilled placeholder"));
    }
    let (wild, rest) = match t.strip_prefix("*.") {
        Some(r) => (true, r),
        None => (false, t),
    };
    if rest.contains('*') {
        return Some(format!(
            "{t}: Azure Firewall only supports a leading `*.` wildcard"
        ));
    }
    if wild && is_shared_suffix(rest) {
        return Some(format!(
            "{t} is a wildcard on the shared suffix {rest}: it would allow every tenant's endpoint"
        ));
    }
    if !wild && !rest.contains('.') {
        return Some(format!("{t} is a bare public suffix"));
    }
    None
}

/// True when `host` is covered by `target` (exact, or below a leading `*.`).
pub fn covers(target: &str, host: &str) -> bool {
    match target.strip_prefix("*.") {
        Some(suffix) => {
            host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        }
        None => target == host,
    }
}

/// True when `narrow` allows no more than `broad` (the catalog pattern with placeholders filled): equal, or
/// `narrow` is an exact name / deeper wildcard below `broad`.
pub fn within(narrow: &str, broad: &str) -> bool {
    if narrow == broad {
        return true;
    }
    let probe = narrow.strip_prefix("*.").map(|s| format!("x.{s}"));
    let probe = probe.as_deref().unwrap_or(narrow);
    broad.starts_with("*.") && covers(broad, probe)
}

/// Destination addresses of network rules: never `*`, `0.0.0.0/0` or `::/0`.
pub fn reject_address(addr: &str) -> Option<String> {
    match addr.trim() {
        "*" | "0.0.0.0/0" | "::/0" | "Internet" | "AzureCloud" => {
            Some(format!("{addr} would allow every destination"))
        }
        a if a.contains('<') => Some(format!("{a} still has an unfilled placeholder")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_everything_and_shared_suffixes() {
        for bad in [
            "*",
            "*.com",
            "*.blob.core.windows.net",
            "*.core.windows.net",
            "*.azurecr.io",
            "com",
            "umsa*.blob.core.windows.net",
            "<storage-account>.blob.core.windows.net",
            "*.*.example.com",
        ] {
            assert!(reject_fqdn(bad).is_some(), "{bad}");
        }
        for ok in [
            "mcr.microsoft.com",
            "*.hcp.westeurope.azmk8s.io",
            "*.data.mcr.microsoft.com",
            "x.blob.core.windows.net",
        ] {
            assert_eq!(reject_fqdn(ok), None, "{ok}");
        }
    }

    #[test]
    fn coverage_and_narrowing() {
        assert!(covers(
            "*.hcp.westeurope.azmk8s.io",
            "a.hcp.westeurope.azmk8s.io"
        ));
        assert!(!covers(
            "*.hcp.westeurope.azmk8s.io",
            "hcp.westeurope.azmk8s.io"
        ));
        assert!(!covers("*.io", "xio"));
        assert!(within("x.blob.core.windows.net", "*.blob.core.windows.net"));
        assert!(within("*.a.b.example.com", "*.b.example.com"));
        assert!(!within("*.example.com", "*.b.example.com"));
        assert!(!within("*.com", "mcr.microsoft.com"));
    }

    #[test]
    fn refuses_any_address() {
        assert!(reject_address("*").is_some());
        assert!(reject_address("0.0.0.0/0").is_some());
        assert!(reject_address("<API-server-public-IP>").is_some());
        assert_eq!(reject_address("AzureCloud.westeurope"), None);
        assert_eq!(reject_address("20.50.1.2"), None);
    }
}
