//! The HTTP side every query service shares: one POST with a bearer token, retried until it gets an answer worth
//! reading. The services' own request and answer shapes live beside it ([`super::client`] for the Log Analytics
//! Query API, [`super::kusto`] for the Kusto REST API); both send through here so retries, waits, the deadline,
//! the response cap and token renewal behave the same whichever service fwlog talks to.
//!
//! * At most [`MAX_IN_FLIGHT`] requests at once (the Query API allows 5 concurrent queries per user; a cluster's
//!   request rate limit policy is per principal too).
//! * 429, 500, 502, 503, 504, timeouts and connection failures are retried with jittered exponential back-off;
//!   a `Retry-After` (seconds) is honoured as the minimum wait, capped at [`MAX_RETRY_AFTER`]. A service may add
//!   statuses it knows to be transient (a cluster's 520 that says it is not permanent).
//! * A 401 makes fwlog sign in again once. Every other status is the caller's to read.
//! * No attempt starts after the deadline; answers larger than the cap are refused, not held in memory.
//!
//! Tokens never appear in any message: errors carry status lines and the service's own words, and every message
//! goes through `crate::messages`, which redacts registered secrets and bearer tokens a server echoes back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::auth::Tokens;
use crate::error::user;

pub const MAX_IN_FLIGHT: usize = 4;

/// The longest `Retry-After` obeyed: a server (or a proxy) asking for a day would otherwise stall the run.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The largest answer read: the Query API returns at most 64 MB per query and a cluster truncates results at
/// 64 MB by default, so anything past twice that is not an answer to fwlog's queries and is refused rather than
/// held in memory.
pub const MAX_RESPONSE_BYTES: usize = 128 << 20;

/// Waits from this long on are reported without `-v`: a user should never stare at a silent terminal.
const REPORT_WAITS_FROM: Duration = Duration::from_secs(5);

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

/// Who fwlog is talking to, in the words of its messages.
#[derive(Debug, Clone, Copy)]
pub struct ServiceNames {
    /// "Log Analytics", "the cluster".
    pub name: &'static str,
    /// The option that points fwlog at the service, for "check …" hints.
    pub endpoint_option: &'static str,
}

/// One request: where, what, and the name of the query in messages.
pub struct Post<'a> {
    pub url: &'a str,
    pub label: &'a str,
    pub body: &'a Value,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

/// The answer the caller reads: a status the transport does not retry, and its body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub text: String,
}

pub struct Transport {
    http: reqwest::Client,
    tokens: Tokens,
    slots: Semaphore,
    names: ServiceNames,
    pub retry: RetryPolicy,
    pub http_timeout: Duration,
    /// No attempt starts after this; the run fails saying so.
    pub deadline: Option<std::time::Instant>,
    pub max_retry_after: Duration,
    pub max_response_bytes: usize,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
}

impl Transport {
    pub fn new(
        tokens: Tokens,
        names: ServiceNames,
        http_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("fwlog/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Transport {
            http,
            tokens,
            slots: Semaphore::new(MAX_IN_FLIGHT),
            names,
            retry: RetryPolicy::default(),
            http_timeout,
            deadline: None,
            max_retry_after: MAX_RETRY_AFTER,
            max_response_bytes: MAX_RESPONSE_BYTES,
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        })
    }

    pub fn names(&self) -> ServiceNames {
        self.names
    }

    /// POST until an answer comes that is not retried. `transient(status, body)` marks further statuses as worth
    /// another attempt (beyond 429/5xx gateways, which always are).
    pub async fn post(
        &self,
        req: &Post<'_>,
        transient: fn(u16, &str) -> bool,
    ) -> anyhow::Result<Reply> {
        let label = req.label;
        let service = self.names.name;
        let body = serde_json::to_vec(req.body).context("encoding the request")?;
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
                crate::debug!("POST {} ({label}, attempt {attempt})", req.url);
                let mut builder = self
                    .http
                    .post(req.url)
                    .bearer_auth(token.bearer())
                    .header(reqwest::header::CONTENT_TYPE, req.content_type)
                    .timeout(timeout);
                for (k, v) in &req.headers {
                    builder = builder.header(*k, v);
                }
                let sent = builder.body(body.clone()).send().await;
                match sent {
                    Err(e) => {
                        if !(e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()) {
                            return Err(anyhow::anyhow!(
                                "{service} request for {label} failed: {}",
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
                        retry_after =
                            capped_retry_after(&resp, self.max_retry_after, label, service);
                        let text = match read_capped(resp, self.max_response_bytes).await {
                            Ok(Some(t)) => t,
                            Ok(None) => return Err(self.too_big(label)),
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
                            429 | 500 | 502 | 503 | 504 => {
                                why_retry = format!("HTTP {status}{}", error_summary(&text));
                            }
                            s if s != 200 && transient(s, &text) => {
                                why_retry = format!("HTTP {status}{}", error_summary(&text));
                            }
                            // An expired or revoked token: sign in again once before giving up.
                            401 if !renewed => {
                                renewed = true;
                                self.tokens.invalidate().await;
                                why_retry = "HTTP 401, signing in again".to_string();
                            }
                            _ => return Ok(Reply { status, text }),
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
            "{} did not answer {label} before the deadline{last}; raise --timeout or narrow the window (--since)",
            self.names.name
        ))
    }

    fn too_big(&self, label: &str) -> anyhow::Error {
        user(format!(
            "the answer to {label} is larger than {} bytes, more than {} ever returns: check {} (a proxy?) or \
             narrow the window",
            self.max_response_bytes, self.names.name, self.names.endpoint_option
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
            "{} did not answer {label} after {attempt} attempts (last: {why}); \
             try again later or narrow the window (--since)",
            self.names.name
        )
    }
}

/// The body of an answer, read in chunks; `None` past `cap` bytes. A transport failure while reading is `Err`
/// (retried by the caller).
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<Option<String>, reqwest::Error> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(String::from_utf8_lossy(&body).into_owned()))
}

/// reqwest errors print the URL; ours carry no secret, but keep messages short.
/// The answer's `Retry-After` (whole seconds), at most `max`; a longer wait asked for is said and cut.
pub(crate) fn capped_retry_after(
    resp: &reqwest::Response,
    max: Duration,
    label: &str,
    service: &str,
) -> Option<Duration> {
    let asked = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)?;
    if asked > max {
        crate::note!(
            "{label}: {service} asked to wait {}s before retrying; waiting at most {}s",
            asked.as_secs(),
            max.as_secs()
        );
        return Some(max);
    }
    Some(asked)
}

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

/// The most specific message in an error object: the Query API's `innererror` chain and `details`, and the
/// Kusto REST API's `@message` (its `message` is a generic sentence; `@message` carries the service's words,
/// e.g. "Semantic error: SEM0100: …").
pub fn deepest_message(e: &Value) -> String {
    let mut msgs = Vec::new();
    let mut cur = Some(e);
    while let Some(v) = cur {
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            msgs.push(m.to_string());
        }
        if let Some(m) = v.get("@message").and_then(Value::as_str) {
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

/// ` CODE: message` of an error body, or nothing when the body is not a JSON error object.
pub fn error_summary(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("error").cloned())
        .map(|e| {
            let code = e.get("code").and_then(Value::as_str).unwrap_or("");
            format!(" {code}: {}", deepest_message(&e))
        })
        .unwrap_or_default()
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
    fn error_summaries_use_the_most_specific_words() {
        let kusto = r#"{"error":{"code":"General_BadRequest","message":"Request is invalid and cannot be executed.",
            "@type":"Kusto.Data.Exceptions.KustoBadRequestException",
            "@message":"Request is invalid and cannot be processed: Semantic error: SEM0100: 'table' operator: Failed to resolve table expression named 'aaa'",
            "@permanent":true}}"#;
        let s = error_summary(kusto);
        assert!(s.starts_with(" General_BadRequest: "), "{s}");
        assert!(s.contains("Semantic error: SEM0100"), "{s}");
        assert_eq!(error_summary("not json"), "");
    }
}
