//! Reading a firewall policy live from Azure Resource Manager (`--policy-id`), with the sign-in fwlog already
//! has (the credential chain of [`super::auth`], for Resource Manager's audience).
//!
//! What is read, with the documented REST shapes (api-version [`API_VERSION`]):
//! * the policy: `GET {arm}{policy id}`
//!   (<https://learn.microsoft.com/rest/api/virtualnetwork/firewall-policies/get>);
//! * its rule collection groups: `GET {arm}{policy id}/ruleCollectionGroups`, a list whose pages are chained by
//!   `nextLink` (<https://learn.microsoft.com/rest/api/virtualnetwork/firewall-policy-rule-collection-groups/list>);
//! * its base policy, recursively, from `properties.basePolicy.id`;
//! * every IP Group a rule names (`sourceIpGroups`, `destinationIpGroups`):
//!   `GET {arm}{ip group id}` (<https://learn.microsoft.com/rest/api/virtualnetwork/ip-groups/get>).
//!
//! The answers are handed back as JSON texts, each named by what it is, for the policy loader (which reads REST
//! shapes already): the source knows nothing about policies beyond the ids it follows.
//!
//! 429 and 5xx are retried with jittered back-off honouring a capped `Retry-After`; 401 signs in again once; 403
//! says which role is needed; a `nextLink` to another host than the endpoint is refused (the bearer token would
//! go with it). Tokens never appear in any message.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use super::auth::Tokens;
use super::config::Cloud;
use super::kql::network_resource_id;
use super::transport::{
    MAX_RETRY_AFTER, RetryPolicy, capped_retry_after, error_summary, read_capped, without_url,
};
use crate::error::user;

/// api-version of `Microsoft.Network/firewallPolicies`, its `ruleCollectionGroups` and `ipGroups`.
pub const API_VERSION: &str = "2024-05-01";

/// The largest answer read: a rule collection group holds at most a few MB; anything far past that is not an
/// ARM answer.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Base policies followed at most (Azure allows one level of inheritance per policy; a chain longer than this is
/// a loop fwlog's loader would report anyway).
const MAX_BASE_DEPTH: usize = 8;

/// Resource Manager base URL of a cloud (`--arm-endpoint` / `FWLOG_ARM_ENDPOINT` override).
pub fn endpoint_of(c: Cloud) -> &'static str {
    match c {
        Cloud::Public => "https://management.azure.com",
        Cloud::Usgov => "https://management.usgovcloudapi.net",
        Cloud::China => "https://management.chinacloudapi.cn",
    }
}

/// Token scope (audience) of Resource Manager in a cloud.
pub fn scope_of(c: Cloud) -> &'static str {
    match c {
        Cloud::Public => "https://management.azure.com/.default",
        Cloud::Usgov => "https://management.usgovcloudapi.net/.default",
        Cloud::China => "https://management.chinacloudapi.cn/.default",
    }
}

/// The Resource Manager endpoint to use: `raw` (from `--arm-endpoint` or `FWLOG_ARM_ENDPOINT`) when given, else the
/// cloud's. Like the Log Analytics endpoint: https, or plain http only to this machine (a test double).
pub fn endpoint(raw: Option<&str>, cloud: Cloud) -> anyhow::Result<String> {
    match raw {
        None => Ok(endpoint_of(cloud).to_string()),
        Some(r) => super::config::check_endpoint(r).map_err(|_| {
            user(format!(
                "invalid Resource Manager endpoint {:?}: expected https://host[/path] (plain http only to localhost)",
                crate::messages::inert(r)
            ))
        }),
    }
}

/// A client for `endpoint` signing in with the credential chain (`auth` pins one method) for Resource Manager's
/// audience in `cloud`. `FWLOG_RETRY_BASE_MS`, `FWLOG_MAX_RETRY_AFTER_MS` and `FWLOG_HTTP_TIMEOUT_SECS` tune it as
/// they tune the Log Analytics client.
pub fn client(
    endpoint: &str,
    cloud: Cloud,
    auth: Option<super::config::AuthMethod>,
) -> anyhow::Result<ArmClient> {
    let authority = (cloud != Cloud::Public).then_some(cloud);
    let tokens = Tokens::Chain(super::auth::Chain::new(authority, scope_of(cloud), auth));
    let mut c = ArmClient::new(endpoint, tokens)?;
    c.deadline = Some(std::time::Instant::now() + Duration::from_secs(10 * 60));
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    if let Some(ms) = env("FWLOG_RETRY_BASE_MS") {
        c.retry.base = Duration::from_millis(ms);
    }
    if let Some(ms) = env("FWLOG_MAX_RETRY_AFTER_MS") {
        c.max_retry_after = Duration::from_millis(ms);
    }
    if let Some(s) = env("FWLOG_HTTP_TIMEOUT_SECS") {
        c.http_timeout = Duration::from_secs(s.max(1));
    }
    Ok(c)
}

/// A firewall policy resource id:
/// `/subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.Network/firewallPolicies/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyId {
    subscription: String,
    resource_group: String,
    name: String,
}

impl PolicyId {
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for PolicyId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "invalid firewall policy {s:?}: expected its resource ID, \
                 /subscriptions/<subscription-guid>/resourceGroups/<group>/providers/Microsoft.Network/firewallPolicies/<name> \
                 (az network firewall policy show -g <group> -n <name> --query id)"
            )
        };
        let t = s.trim().trim_end_matches('/');
        let [subscription, resource_group, name] =
            network_resource_id(t, "firewallPolicies").ok_or_else(bad)?;
        Ok(PolicyId {
            subscription: subscription.to_ascii_lowercase(),
            resource_group: resource_group.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/firewallPolicies/{}",
            self.subscription, self.resource_group, self.name
        )
    }
}

/// A resource id read from an answer (a base policy, an IP Group) is followed only when it has this shape: a path
/// of plain segments under a subscription, so an answer cannot steer requests elsewhere.
fn plain_resource_id(id: &str, kind: &str) -> Option<String> {
    let t = id.trim().trim_end_matches('/');
    network_resource_id(t, kind).map(|_| t.to_string())
}

/// The Resource Manager client: GETs with retries, one at a time (a policy is a handful of requests).
pub struct ArmClient {
    http: reqwest::Client,
    base: reqwest::Url,
    tokens: Tokens,
    pub retry: RetryPolicy,
    pub http_timeout: Duration,
    pub max_retry_after: Duration,
    pub max_response_bytes: usize,
    /// No attempt starts after this.
    pub deadline: Option<std::time::Instant>,
}

impl ArmClient {
    /// `base`: the Resource Manager endpoint, already checked (https, or http to this machine).
    pub fn new(base: &str, tokens: Tokens) -> anyhow::Result<ArmClient> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("fwlog/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry the token to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the HTTP client")?;
        let base = reqwest::Url::parse(base.trim_end_matches('/'))
            .map_err(|e| user(format!("invalid Resource Manager endpoint {base:?}: {e}")))?;
        Ok(ArmClient {
            http,
            base,
            tokens,
            retry: RetryPolicy::default(),
            http_timeout: Duration::from_secs(60),
            max_retry_after: MAX_RETRY_AFTER,
            max_response_bytes: MAX_RESPONSE_BYTES,
            deadline: None,
        })
    }

    /// The URL of a resource path (`/subscriptions/…`) with the api-version.
    fn url_of(&self, path: &str) -> String {
        format!(
            "{}{path}?api-version={API_VERSION}",
            self.base.as_str().trim_end_matches('/')
        )
    }

    /// Whether a `nextLink` points at the endpoint itself (same scheme, host and port).
    fn same_origin(&self, url: &str) -> bool {
        reqwest::Url::parse(url).is_ok_and(|u| {
            u.scheme() == self.base.scheme()
                && u.host_str() == self.base.host_str()
                && u.port_or_known_default() == self.base.port_or_known_default()
        })
    }

    /// GET one URL; `what` names it in messages, `id` is the resource it is about (for 403/404).
    pub async fn get(&self, url: &str, what: &str, id: &str) -> anyhow::Result<Value> {
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            attempt += 1;
            let timeout = match self
                .deadline
                .map(|d| d.saturating_duration_since(std::time::Instant::now()))
            {
                Some(left) if left.is_zero() => {
                    return Err(user(format!(
                        "Azure Resource Manager did not answer {what} in time; try again later"
                    )));
                }
                Some(left) => self.http_timeout.min(left),
                None => self.http_timeout,
            };
            let token = self.tokens.token().await?;
            crate::debug!("GET {url} ({what}, attempt {attempt})");
            let sent = self
                .http
                .get(url)
                .bearer_auth(token.bearer())
                .timeout(timeout)
                .send()
                .await;
            let mut retry_after = None;
            let why: String = match sent {
                Err(e) => {
                    if !(e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()) {
                        return Err(anyhow::anyhow!(
                            "Azure Resource Manager request for {what} failed: {}",
                            without_url(&e)
                        ));
                    }
                    format!("connection failed: {}", without_url(&e))
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    retry_after = capped_retry_after(
                        &resp,
                        self.max_retry_after,
                        what,
                        "Azure Resource Manager",
                    );
                    let text = match read_capped(resp, self.max_response_bytes).await {
                        Ok(Some(t)) => t,
                        Ok(None) => {
                            return Err(user(format!(
                                "the answer to {what} is larger than {} bytes, more than a policy's resources ever \
                                 are: check --arm-endpoint (a proxy?)",
                                self.max_response_bytes
                            )));
                        }
                        Err(e) => format!("reading the answer failed: {}", without_url(&e)),
                    };
                    crate::debug!("HTTP {status} for {what} ({} bytes)", text.len());
                    match status {
                        200 => {
                            return serde_json::from_str(&text).map_err(|e| {
                                user(format!(
                                    "Azure Resource Manager answered {what} with invalid JSON: {e}"
                                ))
                            });
                        }
                        429 | 500 | 502 | 503 | 504 => {
                            format!("HTTP {status}{}", error_summary(&text))
                        }
                        401 if !renewed => {
                            renewed = true;
                            self.tokens.invalidate().await;
                            "HTTP 401, signing in again".to_string()
                        }
                        _ => return Err(classify(status, &text, what, id)),
                    }
                }
            };
            if attempt >= self.retry.max_attempts {
                return Err(anyhow::anyhow!(
                    "Azure Resource Manager did not answer {what} after {attempt} attempts (last: {why}); try again later"
                ));
            }
            let wait = self.retry.delay(attempt, retry_after);
            if wait >= Duration::from_secs(5) {
                crate::note!("{what}: {why}; retrying in {}s", wait.as_secs());
            } else {
                crate::info!("{what}: {why}; retrying");
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Every item of a list, following `nextLink` pages.
    async fn list(&self, path: &str, what: &str, id: &str) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut url = self.url_of(path);
        let mut seen = BTreeSet::new();
        loop {
            if !seen.insert(url.clone()) {
                return Err(user(format!(
                    "Azure Resource Manager's pages of {what} link back to one already read"
                )));
            }
            let page = self.get(&url, what, id).await?;
            match page.get("value").and_then(Value::as_array) {
                Some(v) => items.extend(v.iter().cloned()),
                None => {
                    return Err(user(format!(
                        "Azure Resource Manager answered {what} without a value list"
                    )));
                }
            }
            match page.get("nextLink").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => {
                    if !self.same_origin(next) {
                        return Err(user(format!(
                            "Azure Resource Manager's next page of {what} is on another host ({}); not following it \
                             with your sign-in",
                            crate::messages::inert(
                                reqwest::Url::parse(next)
                                    .ok()
                                    .and_then(|u| u.host_str().map(str::to_string))
                                    .as_deref()
                                    .unwrap_or(next)
                            )
                        )));
                    }
                    url = next.to_string();
                }
                _ => return Ok(items),
            }
        }
    }
}

fn classify(status: u16, text: &str, what: &str, id: &str) -> anyhow::Error {
    let detail = error_summary(text);
    let id = crate::messages::inert(id);
    match status {
        401 => user(format!(
            "Azure Resource Manager rejected the sign-in (HTTP 401{detail}). Sign in again (`az login`) or check the credential."
        )),
        403 => user(format!(
            "reading {what} was denied (HTTP 403{detail}). The signed-in identity needs the Reader role on {id} \
             (or on its resource group); new role assignments can take a few minutes."
        )),
        404 => user(format!(
            "{id} not found (HTTP 404{detail}): check the resource ID, the subscription and --cloud/--arm-endpoint"
        )),
        _ => user(format!(
            "Azure Resource Manager refused {what} (HTTP {status}{detail})"
        )),
    }
}

/// The name at the end of a resource id.
fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// Every IP Group a group's rules name.
fn ip_group_refs(groups: &[Value], out: &mut BTreeSet<String>) {
    for g in groups {
        let cols = g
            .pointer("/properties/ruleCollections")
            .and_then(Value::as_array);
        for c in cols.into_iter().flatten() {
            for r in c
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for key in ["sourceIpGroups", "destinationIpGroups"] {
                    for id in r
                        .get(key)
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        out.insert(id.to_string());
                    }
                }
            }
        }
    }
}

/// The policy, its groups, its base policies and their groups, and the IP Groups their rules name, as JSON
/// texts named `arm:<resource id>` (what the loader names in its errors).
pub async fn fetch_policy(
    client: &ArmClient,
    id: &PolicyId,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut docs = Vec::new();
    let mut ip_groups = BTreeSet::new();
    let mut next = Some(id.to_string());
    let mut seen = BTreeSet::new();
    while let Some(policy) = next.take() {
        if !seen.insert(policy.to_ascii_lowercase()) || seen.len() > MAX_BASE_DEPTH {
            break;
        }
        let what = format!("firewall policy {}", last_segment(&policy));
        let p = client.get(&client.url_of(&policy), &what, &policy).await?;
        let groups_path = format!("{policy}/ruleCollectionGroups");
        let groups = client
            .list(
                &groups_path,
                &format!("the rule collection groups of {what}"),
                &policy,
            )
            .await?;
        ip_group_refs(&groups, &mut ip_groups);
        next = match p
            .pointer("/properties/basePolicy/id")
            .and_then(Value::as_str)
        {
            Some(b) => Some(plain_resource_id(b, "firewallPolicies").ok_or_else(|| {
                user(format!(
                    "{what} names a base policy whose id fwlog does not follow: {}",
                    crate::messages::inert(b)
                ))
            })?),
            None => None,
        };
        docs.push((format!("arm:{policy}"), p.to_string()));
        docs.push((
            format!("arm:{groups_path}"),
            serde_json::json!({ "value": groups }).to_string(),
        ));
    }
    let mut found = Vec::new();
    for g in &ip_groups {
        // A reference that is not a full IP Group id (none should be) is left to the loader, which then says the
        // IP Group is unknown rather than guessing.
        let Some(gid) = plain_resource_id(g, "ipGroups") else {
            continue;
        };
        let what = format!("IP Group {}", last_segment(&gid));
        found.push(client.get(&client.url_of(&gid), &what, &gid).await?);
    }
    // Always given, even when empty: the loader then knows IP Groups were looked up.
    docs.push((
        "arm:ipGroups".to_string(),
        serde_json::json!({ "value": found }).to_string(),
    ));
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "/subscriptions/6c3b1d2a-0000-4000-8000-00000000ab01/resourceGroups/rg-hub-weu/providers/Microsoft.Network/firewallPolicies/fwpol-hub-weu";

    #[test]
    fn each_cloud_has_its_endpoint_and_audience() {
        for (c, host) in [
            (Cloud::Public, "management.azure.com"),
            (Cloud::Usgov, "management.usgovcloudapi.net"),
            (Cloud::China, "management.chinacloudapi.cn"),
        ] {
            assert_eq!(endpoint_of(c), format!("https://{host}"));
            assert_eq!(scope_of(c), format!("https://{host}/.default"));
            assert_eq!(endpoint(None, c).unwrap(), endpoint_of(c));
        }
        assert_eq!(
            endpoint(Some("http://127.0.0.1:8080/"), Cloud::Public).unwrap(),
            "http://127.0.0.1:8080"
        );
        let e = endpoint(Some("http://arm.example.com"), Cloud::Public).unwrap_err();
        assert!(
            e.to_string().contains("invalid Resource Manager endpoint"),
            "{e}"
        );
    }

    #[test]
    fn policy_ids_are_typed() {
        let id: PolicyId = ID.parse().unwrap();
        assert_eq!(id.to_string(), ID);
        assert_eq!(id.name(), "fwpol-hub-weu");
        for bad in [
            "fwpol-hub-weu",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/p",
            "/subscriptions/6c3b1d2a-0000-4000-8000-00000000ab01/resourceGroups/rg/providers/Microsoft.Network/azureFirewalls/p",
            "/subscriptions/6c3b1d2a-0000-4000-8000-00000000ab01/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/p?x=1",
            "/subscriptions/6c3b1d2a-0000-4000-8000-00000000ab01/resourceGroups/r g/providers/Microsoft.Network/firewallPolicies/p",
        ] {
            let e = bad.parse::<PolicyId>().unwrap_err();
            assert!(e.contains("expected its resource ID"), "{bad}: {e}");
        }
    }

    #[test]
    fn only_plain_ids_are_followed() {
        let g = "/subscriptions/6c3b1d2a-0000-4000-8000-00000000ab01/resourceGroups/rg/providers/Microsoft.Network/ipGroups/ipg";
        assert_eq!(plain_resource_id(g, "ipGroups").as_deref(), Some(g));
        assert_eq!(plain_resource_id(g, "firewallPolicies"), None);
        assert_eq!(plain_resource_id("/providers/x/../y", "ipGroups"), None);
        assert_eq!(
            plain_resource_id(&format!("{g}/../../other"), "ipGroups"),
            None
        );
    }

    #[test]
    fn next_links_must_stay_on_the_endpoint() {
        let c = ArmClient::new(
            "https://management.azure.com",
            Tokens::Fixed(super::super::auth::Token::fixed("t", 0)),
        )
        .unwrap();
        assert!(c.same_origin("https://management.azure.com/subscriptions/x?page=2"));
        assert!(!c.same_origin("https://evil.example/subscriptions/x"));
        assert!(!c.same_origin("http://management.azure.com/subscriptions/x"));
        assert_eq!(
            c.url_of("/subscriptions/s"),
            "https://management.azure.com/subscriptions/s?api-version=2024-05-01"
        );
    }
}
