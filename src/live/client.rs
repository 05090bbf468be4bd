//! The Log Analytics Query API client: `POST {endpoint}/v1/workspaces/{id}/query` with
//! `{"query","timespan"[,"workspaces"]}` and `Prefer: wait=…`.
//!
//! * At most [`MAX_IN_FLIGHT`] requests at once (the API allows 5 concurrent queries per user).
//! * 429, 5xx, timeouts and connection failures are retried with jittered exponential back-off; a
//!   `Retry-After` (seconds) is honoured as the minimum wait.
//! * `200` with `"error":{"code":"PartialError"}` is [`Outcome::Partial`] — never a complete answer.
//! * `204 No Content` is [`Outcome::NoContent`] (the workspace has no data at all).
//! * `400` whose error says a table cannot be resolved is [`Missing`] (no firewall tables at all).
//! * 401/403/404 become errors saying what to fix. Tokens never appear in any message or log line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::auth::Tokens;
use super::kql::{Window, WorkspaceId};
use crate::error::user;

pub const MAX_IN_FLIGHT: usize = 4;

/// The longest `Retry-After` obeyed: a server (or a proxy) asking for a day would otherwise stall the run.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The largest answer read: the Query API returns at most 64 MB per query, so anything past twice that is not
/// a Log Analytics answer and is refused rather than held in memory.
pub const MAX_RESPONSE_BYTES: usize = 128 << 20;

/// Waits from this long on are reported without `-v`: a user should never stare at a silent terminal.
const REPORT_WAITS_FROM: Duration = Duration::from_secs(5);

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

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(1000),
            cap: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Back-off before attempt `n + 1` (n ≥ 1): base·2^(n-1), capped, times a random factor in [0.5, 1.5).
    pub fn delay(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << (n.saturating_sub(1)).min(16))
            .min(self.cap);
        let factor = 0.5 + rand::random::<f64>();
        let jittered = exp.mul_f64(factor).min(self.cap);
        match retry_after {
            Some(ra) => jittered.max(ra),
            None => jittered,
        }
    }
}

pub struct QueryClient {
    http: reqwest::Client,
    base: String,
    tokens: Tokens,
    slots: Semaphore,
    pub retry: RetryPolicy,
    /// Seconds the service may run a query (`Prefer: wait`); the HTTP timeout is this plus a margin.
    pub wait_secs: u64,
    pub http_timeout: Duration,
    /// No attempt starts after this; the run fails saying so.
    pub deadline: Option<std::time::Instant>,
    pub max_retry_after: Duration,
    pub max_response_bytes: usize,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
}

impl QueryClient {
    pub fn new(base: &str, tokens: Tokens) -> anyhow::Result<QueryClient> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("fwlog/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let wait_secs = 600;
        Ok(QueryClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            tokens,
            slots: Semaphore::new(MAX_IN_FLIGHT),
            retry: RetryPolicy::default(),
            wait_secs,
            http_timeout: Duration::from_secs(wait_secs + 30),
            deadline: None,
            max_retry_after: MAX_RETRY_AFTER,
            max_response_bytes: MAX_RESPONSE_BYTES,
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        })
    }

    /// Run one query over a window. `label` names the query in messages.
    pub async fn query(
        &self,
        workspace: &WorkspaceId,
        label: &str,
        query: &str,
        window: Window,
    ) -> anyhow::Result<Outcome> {
        let url = format!("{}/v1/workspaces/{}/query", self.base, workspace);
        let body = json!({"query": query, "timespan": window.timespan()});
        let mut attempt = 0u32;
        let mut renewed = false;
        let mut last_why = String::new();
        loop {
            attempt += 1;
            let why_retry: String;
            let mut retry_after = None;
            let timeout = match self.remaining() {
                Some(left) if left.is_zero() => {
                    return Err(self.out_of_time(label, &last_why));
                }
                Some(left) => self.http_timeout.min(left),
                None => self.http_timeout,
            };
            {
                let _slot = self.slots.acquire().await.expect("semaphore open");
                let token = self.tokens.token().await?;
                self.requests.fetch_add(1, Ordering::Relaxed);
                crate::debug!("POST {url} ({label}, attempt {attempt})");
                let sent = self
                    .http
                    .post(&url)
                    .bearer_auth(token.bearer())
                    .header("Prefer", format!("wait={}", self.wait_secs))
                    .timeout(timeout)
                    .json(&body)
                    .send()
                    .await;
                match sent {
                    Err(e) => {
                        if !(e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()) {
                            return Err(anyhow::anyhow!(
                                "Log Analytics request for {label} failed: {}",
                                without_url(&e)
                            ));
                        }
                        why_retry = if e.is_timeout() {
                            format!("no answer within {}s", timeout.as_secs())
                        } else {
                            format!("connection failed: {}", without_url(&e))
                        };
                    }
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        retry_after = resp
                            .headers()
                            .get(reqwest::header::RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .map(Duration::from_secs);
                        if let Some(ra) = retry_after
                            && ra > self.max_retry_after
                        {
                            crate::note!(
                                "{label}: Log Analytics asked to wait {}s before retrying; waiting at most {}s",
                                ra.as_secs(),
                                self.max_retry_after.as_secs()
                            );
                            retry_after = Some(self.max_retry_after);
                        }
                        let text = match read_capped(resp, label, self.max_response_bytes).await {
                            Ok(Ok(t)) => t,
                            Ok(Err(too_big)) => return Err(too_big),
                            Err(e) => {
                                why_retry =
                                    format!("reading the answer failed: {}", without_url(&e));
                                if attempt >= self.retry.max_attempts {
                                    return Err(self.gave_up(label, attempt, &why_retry));
                                }
                                let wait = self.retry.delay(attempt, None);
                                self.log_retry(label, attempt, &why_retry, Some(wait));
                                tokio::time::sleep(wait).await;
                                last_why = why_retry;
                                continue;
                            }
                        };
                        crate::debug!("HTTP {status} for {label} ({} bytes)", text.len());
                        match status {
                            200 => return parse_ok(&text, label),
                            204 => return Ok(Outcome::NoContent),
                            429 | 500 | 502 | 503 | 504 => {
                                why_retry = format!("HTTP {status}{}", error_summary(&text));
                            }
                            // An expired or revoked token: sign in again once before giving up.
                            401 if !renewed => {
                                renewed = true;
                                self.tokens.invalidate().await;
                                why_retry = "HTTP 401, signing in again".to_string();
                            }
                            _ => return Err(classify_error(status, &text, workspace, label)),
                        }
                    }
                }
            }
            if attempt >= self.retry.max_attempts {
                self.log_retry(label, attempt, &why_retry, None);
                return Err(self.gave_up(label, attempt, &why_retry));
            }
            let mut wait = self.retry.delay(attempt, retry_after);
            if let Some(left) = self.remaining() {
                wait = wait.min(left);
            }
            self.log_retry(label, attempt, &why_retry, Some(wait));
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            last_why = why_retry;
        }
    }

    /// Time left before the deadline, if there is one.
    fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(std::time::Instant::now()))
    }

    fn out_of_time(&self, label: &str, last: &str) -> anyhow::Error {
        let last = if last.is_empty() {
            String::new()
        } else {
            format!(" (last: {last})")
        };
        user(format!(
            "Log Analytics did not answer {label} before the deadline{last}; raise --timeout or narrow the window (--since)"
        ))
    }

    fn log_retry(&self, label: &str, attempt: u32, why: &str, wait: Option<Duration>) {
        let max = self.retry.max_attempts;
        match wait {
            Some(w) if w >= REPORT_WAITS_FROM => crate::note!(
                "{label}: {why}; retrying in {}s (attempt {attempt} of {max})",
                w.as_secs()
            ),
            Some(_) => crate::info!("{label}: {why}; retrying (attempt {attempt} of {max})"),
            None => crate::info!("{label}: {why} (attempt {attempt} of {max})"),
        }
    }

    fn gave_up(&self, label: &str, attempt: u32, why: &str) -> anyhow::Error {
        anyhow::anyhow!(
            "Log Analytics did not answer {label} after {attempt} attempts (last: {why}); \
             try again later or narrow the window (--since)"
        )
    }
}

/// The body of an answer, read in chunks and refused past [`MAX_RESPONSE_BYTES`] (`Ok(Err(..))`); a transport
/// failure while reading is `Err` (retried by the caller).
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    label: &str,
    cap: usize,
) -> Result<anyhow::Result<String>, reqwest::Error> {
    let too_big = || {
        Ok(Err(user(format!(
            "the answer to {label} is larger than {cap} bytes, more than Log Analytics ever returns: check \
             --endpoint (a proxy?) or narrow the window"
        ))))
    };
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return too_big();
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > cap {
            return too_big();
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Ok(String::from_utf8_lossy(&body).into_owned()))
}

/// reqwest errors print the URL; ours carry no secret, but keep messages short.
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(&format!(" for url ({u})"), "");
    }
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
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

/// The most specific message in an error object (innererror chain and details).
fn deepest_message(e: &Value) -> String {
    let mut msgs = Vec::new();
    let mut cur = Some(e);
    while let Some(v) = cur {
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            msgs.push(m.to_string());
        }
        if let Some(d) = v.get("details").and_then(Value::as_array) {
            for x in d {
                if let Some(m) = x.get("message").and_then(Value::as_str) {
                    msgs.push(m.to_string());
                }
            }
        }
        cur = v.get("innererror");
    }
    msgs.dedup();
    msgs.join(" — ")
}

pub(crate) fn error_summary(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("error").cloned())
        .map(|e| {
            let code = e.get("code").and_then(Value::as_str).unwrap_or("");
            format!(" {code}: {}", deepest_message(&e))
        })
        .unwrap_or_default()
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
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let d1 = p.delay(1, None);
            assert!(d1 >= Duration::from_millis(50) && d1 < Duration::from_millis(150));
            let d3 = p.delay(3, None);
            assert!(d3 >= Duration::from_millis(200) && d3 < Duration::from_millis(600));
            assert!(p.delay(30, None) <= Duration::from_secs(1));
            assert!(p.delay(1, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        }
    }

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
