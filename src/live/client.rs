//! The query client: one [`Transport`] and the service behind it. A [`Target`] is a Log Analytics workspace
//! (`POST {endpoint}/v1/workspaces/{id}/query` with `{"query","timespan"}` and `Prefer: wait=…`) or a database
//! of an Azure Data Explorer cluster or Fabric Eventhouse (the Kusto REST API, [`super::kusto`]); both answer
//! with the same [`Outcome`], their rows in the Query API's `{"tables":[…]}` shape, so everything above reads
//! one shape.
//!
//! Log Analytics answers:
//! * `200` with `"error":{"code":"PartialError"}` is [`Outcome::Partial`] — never a complete answer.
//! * `204 No Content` is [`Outcome::NoContent`] (the workspace has no data at all).
//! * `400` whose error says a table cannot be resolved is [`Missing`] (no firewall tables at all).
//! * 401/403/404 become errors saying what to fix. Tokens never appear in any message or log line.

use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};

use super::auth::Tokens;
use super::kql::{Window, WorkspaceId};
use super::target::Target;
use super::transport::{Post, ServiceNames, Transport, deepest_message, error_summary};
use crate::error::user;

pub use super::transport::{MAX_IN_FLIGHT, MAX_RESPONSE_BYTES, MAX_RETRY_AFTER, RetryPolicy};

/// What one query returned.
#[derive(Debug, Clone)]
pub enum Outcome {
    Complete(Value),
    /// Rows came back but the service says they are incomplete (too large, timeout, …).
    Partial {
        body: Value,
        message: String,
    },
    NoContent,
}

/// The query referenced tables the workspace does not have (none of the firewall tables exist).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Missing(pub String);

/// Which REST API the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    LogAnalytics,
    /// Azure Data Explorer or a Fabric Eventhouse: the Kusto REST API.
    Kusto,
}

impl Service {
    pub fn names(self) -> ServiceNames {
        match self {
            Service::LogAnalytics => ServiceNames {
                name: "Log Analytics",
                endpoint_option: "--endpoint",
            },
            Service::Kusto => ServiceNames {
                name: "the cluster",
                endpoint_option: "--cluster",
            },
        }
    }
}

/// A query client for one service endpoint. It dereferences to its [`Transport`], whose settings (deadline,
/// caps, retry policy) and counters (requests, retries) callers set and read directly.
pub struct QueryClient {
    transport: Transport,
    base: String,
    service: Service,
    /// Seconds the service may run a query (`Prefer: wait` / `servertimeout`); the HTTP timeout is this plus a
    /// margin.
    pub wait_secs: u64,
}

impl std::ops::Deref for QueryClient {
    type Target = Transport;
    fn deref(&self) -> &Transport {
        &self.transport
    }
}

impl std::ops::DerefMut for QueryClient {
    fn deref_mut(&mut self) -> &mut Transport {
        &mut self.transport
    }
}

impl QueryClient {
    /// A Log Analytics Query API client.
    pub fn new(base: &str, tokens: Tokens) -> anyhow::Result<QueryClient> {
        QueryClient::for_service(Service::LogAnalytics, base, tokens)
    }

    pub fn for_service(
        service: Service,
        base: &str,
        tokens: Tokens,
    ) -> anyhow::Result<QueryClient> {
        let wait_secs = 600;
        Ok(QueryClient {
            transport: Transport::new(
                tokens,
                service.names(),
                Duration::from_secs(wait_secs + 30),
            )?,
            base: base.trim_end_matches('/').to_string(),
            service,
            wait_secs,
        })
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// Run one query over a window. `label` names the query in messages.
    pub async fn query(
        &self,
        target: &Target,
        label: &str,
        query: &str,
        window: Window,
    ) -> anyhow::Result<Outcome> {
        match target {
            Target::Workspace(ws) => self.query_workspace(ws, label, query, window).await,
            Target::Database(db) => {
                super::kusto::query(
                    &self.transport,
                    &self.base,
                    db,
                    label,
                    query,
                    self.wait_secs,
                )
                .await
            }
        }
    }

    async fn query_workspace(
        &self,
        workspace: &WorkspaceId,
        label: &str,
        query: &str,
        window: Window,
    ) -> anyhow::Result<Outcome> {
        let url = format!("{}/v1/workspaces/{}/query", self.base, workspace);
        let body = json!({"query": query, "timespan": window.timespan()});
        let post = Post {
            url: &url,
            label,
            body: &body,
            content_type: "application/json",
            headers: vec![("Prefer", format!("wait={}", self.wait_secs))],
        };
        let reply = self.transport.post(&post, |_, _| false).await?;
        match reply.status {
            200 => parse_ok(&reply.text, label),
            204 => Ok(Outcome::NoContent),
            s => Err(classify_error(s, &reply.text, workspace, label)),
        }
    }
}

fn parse_ok(text: &str, label: &str) -> anyhow::Result<Outcome> {
    if text.trim().is_empty() {
        return Ok(Outcome::NoContent);
    }
    let body: Value = serde_json::from_str(text)
        .with_context(|| format!("Log Analytics answered {label} with invalid JSON"))?;
    let err = body.get("error").filter(|e| !e.is_null());
    match err {
        None => Ok(Outcome::Complete(body)),
        Some(e) => {
            let code = e.get("code").and_then(Value::as_str).unwrap_or("");
            let message = deepest_message(e);
            if code.eq_ignore_ascii_case("PartialError") || body.get("tables").is_some() {
                Ok(Outcome::Partial { body, message })
            } else {
                Err(anyhow::anyhow!(
                    "Log Analytics reported an error for {label}: {code} {message}"
                ))
            }
        }
    }
}

fn classify_error(status: u16, text: &str, ws: &WorkspaceId, label: &str) -> anyhow::Error {
    let detail = error_summary(text);
    let lower = text.to_ascii_lowercase();
    match status {
        400 if lower.contains("semanticerror")
            && (lower.contains("failed to resolve table") || lower.contains("sem0100")) =>
        {
            anyhow::Error::new(Missing(format!(
                "workspace {ws} has none of the Azure Firewall tables this query reads ({}). \
                 Check that the firewall's diagnostic setting sends logs to this workspace.",
                detail.trim()
            )))
        }
        401 => user(format!(
            "Log Analytics rejected the sign-in (HTTP 401{detail}). Sign in again (`az login`) or check the credential."
        )),
        403 => user(format!(
            "access to workspace {ws} denied (HTTP 403{detail}). The signed-in identity needs the \
             \"Log Analytics Reader\" role (or Reader) on the workspace; new role assignments can take up to an hour."
        )),
        404 => user(format!(
            "workspace {ws} not found (HTTP 404{detail}). --workspace takes the workspace ID (a GUID from the \
             workspace's Overview page), not its name; check --cloud/--endpoint too."
        )),
        _ => anyhow::anyhow!("Log Analytics refused {label} (HTTP {status}{detail})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_errors_are_never_complete() {
        let t = r#"{"tables":[{"name":"PrimaryResult","columns":[],"rows":[]}],
                    "error":{"code":"PartialError","message":"There were some errors when processing your query.",
                    "details":[{"code":"EngineError","message":"Query result set has exceeded the internal record count limit"}]}}"#;
        match parse_ok(t, "q").unwrap() {
            Outcome::Partial { message, .. } => {
                assert!(message.contains("record count limit"), "{message}")
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(parse_ok("", "q").unwrap(), Outcome::NoContent));
        assert!(matches!(
            parse_ok(r#"{"tables":[]}"#, "q").unwrap(),
            Outcome::Complete(_)
        ));
    }

    #[test]
    fn errors_say_how_to_fix() {
        let ws: WorkspaceId = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".parse().unwrap();
        let sem = r#"{"error":{"code":"BadArgumentError","message":"The request had some invalid properties",
            "innererror":{"code":"SemanticError","message":"A semantic error occurred.",
            "innererror":{"code":"SEM0100","message":"'union' operator: Failed to resolve table expression named 'AZFWNetworkRule'"}}}}"#;
        let e = classify_error(400, sem, &ws, "q");
        assert!(e.downcast_ref::<Missing>().is_some(), "{e}");
        let e = classify_error(
            403,
            r#"{"error":{"code":"InsufficientAccessError","message":"no"}}"#,
            &ws,
            "q",
        );
        assert!(e.to_string().contains("Log Analytics Reader"), "{e}");
        assert_eq!(crate::error::exit_code(&e), 2);
        assert!(
            classify_error(404, "", &ws, "q")
                .to_string()
                .contains("workspace ID")
        );
    }
}
