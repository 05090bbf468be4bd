//! A fake Azure Log Analytics for tests: plain HTTP/1.1 on 127.0.0.1 (tokio only, no extra crates).
//!
//! **Auth seam.** azure_identity refuses a non-https authority host, so Entra sign-in cannot be faked over
//! plain HTTP. Its `ManagedIdentityCredential`, however, takes its token from `IDENTITY_ENDPOINT` (with the
//! `IDENTITY_HEADER` secret sent as `x-identity-header`) when both are set — the App Service protocol. The fake
//! serves that endpoint (`GET /msi/token`), so fwlog's real credential chain runs unchanged in tests (`--auth msi`
//! or the chain, which reaches managed identity when the env-secret and workload variables are absent).
//!
//! **Queries.** `POST /v1/workspaces/{id}/query` checks the bearer token, then recognises which template the
//! query came from by its `// fwlog:query=<name>` marker line and reads the template's parameters from its
//! `let name = literal;` lines. It answers from fixture rows (a Query-API `{"tables":[…]}` document whose table
//! names are Log Analytics table names — the same file the offline reader takes) by computing what the KQL
//! computes: `sources` (rows per table/category in the window), `deny-summary` (denies per table, kind, source,
//! protocol, destination, port; legacy messages with the source port stripped; the kind/aggregation/legacy-cutoff
//! flags honoured; the value filters deliberately ignored, since fwlog re-applies every filter locally — which the
//! tests thereby prove), `hourly-count` and `raw-window`.
//!
//! **Scripting.** Responses can be queued per template: 429 with `Retry-After`, 503, `PartialError`, a
//! `SemanticError` for a missing table, 204, 403, or a stall. `partial_over_us` makes every deny-summary or
//! raw-window query whose window is longer than that answer `PartialError` (as an oversize result would).
//! `workspaces` gives a workspace rows of its own (a hub-and-spoke estate); others answer from `fixture`.
//!
//! The HTTP reading ([`read_request`], [`respond`]) and the answers computed from fixture rows ([`answer`]) are
//! shared with the fake Kusto endpoint (`fake_kusto.rs`), which speaks another wire format over the same rows.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const TOKEN: &str = "fake-bearer-TOKEN-6f1e2d3c4b5a";
pub const IDENTITY_SECRET: &str = "fake-identity-header-SECRET-9a8b7c";

#[derive(Debug, Clone)]
pub enum Scripted {
    TooMany {
        retry_after: Option<u64>,
    },
    Unavailable,
    Partial,
    MissingTable,
    NoContent,
    Forbidden,
    Stall(Duration),
    /// 400 whose message echoes the request's Authorization header (a misbehaving proxy).
    EchoAuthorization,
    /// 200 with a body of this many bytes.
    Huge(usize),
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub workspace: String,
    pub template: String,
    pub timespan: String,
    pub status: u16,
    pub authorized: bool,
    pub prefer: String,
    pub content_type: String,
}

#[derive(Default)]
pub struct State {
    pub fixture: Vec<Table>,
    /// Rows of particular workspaces; the others answer from `fixture`.
    pub workspaces: BTreeMap<String, Vec<Table>>,
    pub script: VecDeque<(String, Scripted)>,
    pub log: Vec<Logged>,
    pub token_requests: usize,
    pub partial_over_us: Option<i64>,
    pub delay: Option<Duration>,
    /// When set, raw-window queries succeed this many times, then answer 403 (an interrupted fetch).
    pub raw_budget: Option<usize>,
    /// Answer this many query requests with 401 (an expired token) before accepting the token again.
    pub reject_tokens: usize,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    fn get<'a>(&self, row: &'a [Value], col: &str) -> Option<&'a Value> {
        self.columns
            .iter()
            .position(|c| c == col)
            .and_then(|i| row.get(i))
    }
    fn str(&self, row: &[Value], col: &str) -> String {
        match self.get(row, col) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }
    fn time(&self, row: &[Value], col: &str) -> Option<i64> {
        self.get(row, col)
            .and_then(Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|d| d.timestamp_micros())
    }
}

pub struct FakeLa {
    pub port: u16,
    pub state: Arc<Mutex<State>>,
    pub in_flight: Arc<AtomicUsize>,
    pub max_in_flight: Arc<AtomicUsize>,
    _thread: std::thread::JoinHandle<()>,
}

/// The tables of a `{"tables":[{"name","columns","rows"}]}` document.
pub fn tables_of(fixture: &Value) -> Vec<Table> {
    fixture["tables"]
        .as_array()
        .expect("fixture tables")
        .iter()
        .map(|t| Table {
            name: t["name"].as_str().unwrap().to_string(),
            columns: t["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect(),
            rows: t["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_array().unwrap().clone())
                .collect(),
        })
        .collect()
}

/// Serve `accept` on a fresh port of 127.0.0.1 from a thread of its own; returns the port.
pub fn serve_on_thread<S, F, Fut>(state: S, accept: F) -> (u16, std::thread::JoinHandle<()>)
where
    S: Clone + Send + 'static,
    F: Fn(TcpStream, S) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let fut = accept(sock, state.clone());
                tokio::spawn(async move {
                    let _ = fut.await;
                });
            }
        });
    });
    (rx.recv().unwrap(), thread)
}

impl FakeLa {
    /// Start serving `fixture` (a `{"tables":[{"name","columns","rows"}]}` document).
    pub fn start(fixture: &Value) -> FakeLa {
        let state = Arc::new(Mutex::new(State {
            fixture: tables_of(fixture),
            ..Default::default()
        }));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let (port, thread) = serve_on_thread(
            (state.clone(), in_flight.clone(), max_in_flight.clone()),
            |sock, (st, inf, maxf)| serve(sock, st, inf, maxf),
        );
        FakeLa {
            port,
            state,
            in_flight,
            max_in_flight,
            _thread: thread,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn identity_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/msi/token", self.port)
    }

    pub fn script(&self, template: &str, s: Scripted) {
        self.state
            .lock()
            .unwrap()
            .script
            .push_back((template.to_string(), s));
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn requests_for(&self, template: &str) -> Vec<Logged> {
        self.log()
            .into_iter()
            .filter(|l| l.template == template)
            .collect()
    }
}

/// One HTTP/1.1 request as the fakes need it.
pub struct Request {
    pub method: String,
    pub target: String,
    /// Header names lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// Read one request (head and a `Content-Length` body); `None` when the client closed the connection first.
pub async fn read_request(sock: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("").to_string();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = buf[head_end..(head_end + len).min(buf.len())].to_vec();
    let mut parts = request_line.split_whitespace();
    Ok(Some(Request {
        method: parts.next().unwrap_or("").to_string(),
        target: parts.next().unwrap_or("").to_string(),
        headers,
        body,
    }))
}

/// The resource (audience) a token request (`GET …/msi/token?resource=…`) asks for, decoded.
pub fn token_resource(req: &Request) -> String {
    let raw = req
        .target
        .split("resource=")
        .nth(1)
        .unwrap_or("")
        .split('&')
        .next()
        .unwrap_or("");
    percent_decode(raw)
}

/// The managed-identity token endpoint both fakes serve (`GET …/msi/token?resource=…`): checks the identity
/// header secret and returns the fake token for the resource asked for.
pub async fn msi_token(sock: &mut TcpStream, req: &Request) -> std::io::Result<()> {
    if req.headers.get("x-identity-header").map(String::as_str) != Some(IDENTITY_SECRET) {
        return respond(sock, 401, &[], r#"{"error":"bad identity header"}"#).await;
    }
    let exp = chrono::Utc::now().timestamp() + 3600;
    let b = json!({"access_token": TOKEN, "expires_on": exp.to_string(), "token_type": "Bearer",
                   "resource": token_resource(req)});
    respond(sock, 200, &[], &b.to_string()).await
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn serve(
    mut sock: TcpStream,
    st: Arc<Mutex<State>>,
    inf: Arc<AtomicUsize>,
    maxf: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let Some(req) = read_request(&mut sock).await? else {
        return Ok(());
    };
    let (method, target, headers, body) = (
        req.method.as_str(),
        req.target.as_str(),
        &req.headers,
        &req.body[..],
    );
    if method == "GET" && target.starts_with("/msi/token") {
        st.lock().unwrap().token_requests += 1;
        return msi_token(&mut sock, &req).await;
    }
    let ws = target
        .strip_prefix("/v1/workspaces/")
        .and_then(|r| r.strip_suffix("/query"));
    let (Some(ws), "POST") = (ws, method) else {
        return respond(
            &mut sock,
            404,
            &[],
            r#"{"error":{"code":"PathNotFoundError","message":"no such path"}}"#,
        )
        .await;
    };
    let now = inf.fetch_add(1, Ordering::SeqCst) + 1;
    maxf.fetch_max(now, Ordering::SeqCst);
    let mut in_flight = Some(InFlight(inf));
    answer_query(&mut sock, ws, headers, body, &st, &mut in_flight).await
}

/// Counts a query as in flight until it is dropped: after the scripted delay, before the answer is written, so a
/// client that sends its next request as soon as it reads an answer is never counted twice.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn answer_query(
    sock: &mut TcpStream,
    ws: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    st: &Arc<Mutex<State>>,
    in_flight: &mut Option<InFlight>,
) -> std::io::Result<()> {
    let authorized =
        headers.get("authorization").map(String::as_str) == Some(&format!("Bearer {TOKEN}")) && {
            let mut s = st.lock().unwrap();
            let ok = s.reject_tokens == 0;
            s.reject_tokens = s.reject_tokens.saturating_sub(1);
            ok
        };
    let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let query = req["query"].as_str().unwrap_or("").to_string();
    let timespan = req["timespan"].as_str().unwrap_or("").to_string();
    let template = query
        .lines()
        .find_map(|l| l.trim().strip_prefix("// fwlog:query="))
        .unwrap_or("?")
        .trim()
        .to_string();
    let (scripted, delay) = {
        let mut s = st.lock().unwrap();
        let i = s.script.iter().position(|(t, _)| *t == template);
        (i.and_then(|i| s.script.remove(i)).map(|(_, x)| x), s.delay)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    in_flight.take();
    let params = params_of(&query);
    let from = params.get("from_time").and_then(|v| datetime(v));
    let to = params.get("to_time").and_then(|v| datetime(v));
    let (status, extra, text): (u16, Vec<(String, String)>, String) = if !authorized {
        (
            401,
            vec![],
            r#"{"error":{"code":"AuthenticationFailed","message":"bad token"}}"#.into(),
        )
    } else {
        match scripted {
            Some(Scripted::TooMany { retry_after }) => (
                429,
                retry_after.map(|s| vec![("Retry-After".to_string(), s.to_string())]).unwrap_or_default(),
                r#"{"error":{"code":"ThrottledError","message":"too many requests"}}"#.into(),
            ),
            Some(Scripted::Unavailable) => (503, vec![], r#"{"error":{"code":"ServiceUnavailable","message":"try later"}}"#.into()),
            Some(Scripted::Partial) => (200, vec![], partial_body()),
            Some(Scripted::MissingTable) => (400, vec![], semantic_error()),
            Some(Scripted::NoContent) => (204, vec![], String::new()),
            Some(Scripted::Forbidden) => (403, vec![], r#"{"error":{"code":"InsufficientAccessError","message":"The provided credentials have insufficient access to perform the requested operation"}}"#.into()),
            Some(Scripted::EchoAuthorization) => (
                400,
                vec![],
                format!(
                    r#"{{"error":{{"code":"BadRequest","message":"rejected request with header Authorization: {}"}}}}"#,
                    headers.get("authorization").cloned().unwrap_or_default()
                ),
            ),
            Some(Scripted::Huge(n)) => (200, vec![], format!("{{\"pad\":\"{}\"}}", "x".repeat(n))),
            Some(Scripted::Stall(d)) => {
                tokio::time::sleep(d).await;
                (503, vec![], "{}".into())
            }
            None if template == "raw-window" && st.lock().unwrap().raw_budget == Some(0) => {
                (403, vec![], r#"{"error":{"code":"InsufficientAccessError","message":"budget exhausted"}}"#.into())
            }
            None => {
                let mut s = st.lock().unwrap();
                if template == "raw-window" {
                    if let Some(b) = s.raw_budget.as_mut() {
                        *b -= 1;
                    }
                }
                if let (Some(from), Some(to)) = (from, to) {
                let too_big = s.partial_over_us.is_some_and(|max| to - from > max)
                    && (template == "deny-summary" || template == "raw-window");
                if too_big {
                    (200, vec![], partial_body())
                } else {
                    let fx = s.workspaces.get(ws).unwrap_or(&s.fixture);
                    let body = answer(fx, &template, from, to, &params).unwrap_or_else(
                        || json!({"error":{"code":"BadArgumentError","message":"unknown query"}}),
                    );
                    (200, vec![], body.to_string())
                }
                } else {
                    (400, vec![], r#"{"error":{"code":"BadArgumentError","message":"no window"}}"#.to_string())
                }
            }
        }
    };
    st.lock().unwrap().log.push(Logged {
        workspace: ws.to_string(),
        template,
        timespan,
        status,
        authorized,
        prefer: headers.get("prefer").cloned().unwrap_or_default(),
        content_type: headers.get("content-type").cloned().unwrap_or_default(),
    });
    let extra: Vec<(&str, &str)> = extra
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    respond(sock, status, &extra, &text).await
}

/// What a template's query computes over fixture rows, as a Query API body; `None` for an unknown template.
pub fn answer(
    fx: &[Table],
    template: &str,
    from: i64,
    to: i64,
    params: &BTreeMap<String, String>,
) -> Option<Value> {
    Some(match template {
        "sources" => sources(fx, from, to),
        "deny-summary" => deny_summary(fx, from, to, params),
        "hourly-count" => hourly(fx, from, to),
        "raw-window" => raw(fx, from, to),
        _ => return None,
    })
}

fn partial_body() -> String {
    json!({"tables":[{"name":"PrimaryResult","columns":[],"rows":[]}],
           "error":{"code":"PartialError","message":"There were some errors when processing your query.",
                    "details":[{"code":"EngineError","message":"Query result set has exceeded the internal record count limit 500000 (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)"}]}})
    .to_string()
}

fn semantic_error() -> String {
    json!({"error":{"code":"BadArgumentError","message":"The request had some invalid properties",
           "innererror":{"code":"SemanticError","message":"A semantic error occurred.",
             "innererror":{"code":"SEM0100","message":"'union' operator: Failed to resolve table expression named 'AZFWApplicationRule'"}}}})
    .to_string()
}

pub async fn respond(
    sock: &mut TcpStream,
    status: u16,
    extra: &[(&str, &str)],
    body: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        520 => "Service Error",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Service Unavailable",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n");
    if status != 204 {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await?;
    if status != 204 {
        sock.write_all(body.as_bytes()).await?;
    }
    sock.shutdown().await
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// `let name = literal;` lines of a rendered template.
pub fn params_of(query: &str) -> BTreeMap<String, String> {
    query
        .lines()
        .filter_map(|l| l.trim().strip_prefix("let "))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.trim().trim_end_matches(';').to_string(),
            )
        })
        .collect()
}

pub fn datetime(v: &str) -> Option<i64> {
    let inner = v.strip_prefix("datetime(")?.strip_suffix(')')?;
    chrono::DateTime::parse_from_rfc3339(inner)
        .ok()
        .map(|d| d.timestamp_micros())
}

fn fmt_us(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

fn in_window(t: &Table, r: &[Value], from: i64, to: i64) -> Option<i64> {
    t.time(r, "TimeGenerated").filter(|x| *x >= from && *x < to)
}

const RAW: [&str; 6] = [
    "AZFWApplicationRule",
    "AZFWNetworkRule",
    "AZFWNatRule",
    "AZFWThreatIntel",
    "AZFWIdpsSignature",
    "AZFWDnsQuery",
];
const LEGACY: [&str; 3] = [
    "AzureFirewallApplicationRule",
    "AzureFirewallNetworkRule",
    "AzureFirewallDnsProxy",
];

fn table(columns: &[&str], rows: Vec<Vec<Value>>) -> Value {
    let cols: Vec<Value> = columns
        .iter()
        .map(|c| json!({"name": c, "type": "string"}))
        .collect();
    json!({"tables":[{"name":"PrimaryResult","columns":cols,"rows":rows}]})
}

fn sources(fx: &[Table], from: i64, to: i64) -> Value {
    let mut acc: BTreeMap<(String, String), (u64, i64, i64)> = BTreeMap::new();
    for t in fx {
        for r in &t.rows {
            let Some(x) = in_window(t, r, from, to) else {
                continue;
            };
            let cat = if t.name == "AzureDiagnostics" {
                t.str(r, "Category")
            } else {
                String::new()
            };
            if t.name == "AzureDiagnostics"
                && !(cat.starts_with("AzureFirewall") || cat.starts_with("AZFW"))
            {
                continue;
            }
            let e = acc.entry((t.name.clone(), cat)).or_insert((0, x, x));
            e.0 += 1;
            e.1 = e.1.min(x);
            e.2 = e.2.max(x);
        }
    }
    let rows = acc
        .into_iter()
        .map(|((t, c), (n, f, l))| {
            vec![
                json!(t),
                json!(c),
                json!(n),
                json!(fmt_us(f)),
                json!(fmt_us(l)),
            ]
        })
        .collect();
    table(
        &["SourceTable", "Category", "Rows", "FirstSeen", "LastSeen"],
        rows,
    )
}

fn deny_summary(fx: &[Table], from: i64, to: i64, p: &BTreeMap<String, String>) -> Value {
    let flag = |k: &str| p.get(k).map(String::as_str) == Some("true");
    let until = |k: &str| p.get(k).and_then(|v| datetime(v)).unwrap_or(to);
    let strip = regex::Regex::new(r" request from (\S+?):\d+ ").unwrap();
    let bin_us: i64 = p
        .get("bin_size")
        .and_then(|v| v.strip_suffix('s'))
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(86_400)
        * 1_000_000;
    type Key = (String, String, String, String, String, i64, String, i64);
    let mut acc: BTreeMap<Key, (i64, i64, i64)> = BTreeMap::new();
    for t in fx {
        let (kind, wanted, dest_cols, count_col): (&str, bool, &[&str], Option<&str>) =
            match t.name.as_str() {
                "AZFWApplicationRule" => (
                    "application",
                    flag("want_application") && !flag("use_application_aggregation"),
                    &["Fqdn"],
                    None,
                ),
                "AZFWApplicationRuleAggregation" => (
                    "application",
                    flag("want_application") && flag("use_application_aggregation"),
                    &["Fqdn"],
                    Some("ApplicationRuleCount"),
                ),
                "AZFWNetworkRule" => (
                    "network",
                    flag("want_network") && !flag("use_network_aggregation"),
                    &["DestinationIp"],
                    None,
                ),
                "AZFWNetworkRuleAggregation" => (
                    "network",
                    flag("want_network") && flag("use_network_aggregation"),
                    &["DestinationIp"],
                    Some("NetworkRuleCount"),
                ),
                "AZFWThreatIntel" => (
                    "threat-intel",
                    flag("want_threat_intel"),
                    &["Fqdn", "DestinationIp"],
                    None,
                ),
                "AZFWIdpsSignature" => ("idps", flag("want_idps"), &["DestinationIp"], None),
                "AzureDiagnostics" => ("legacy", true, &[], None),
                _ => continue,
            };
        if !wanted {
            continue;
        }
        for r in &t.rows {
            let Some(x) = in_window(t, r, from, to) else {
                continue;
            };
            let key: Key = if kind == "legacy" {
                let cat = t.str(r, "Category");
                let ok = (cat == "AzureFirewallApplicationRule"
                    && flag("want_application")
                    && x < until("legacy_application_until"))
                    || (cat == "AzureFirewallNetworkRule"
                        && (flag("want_network")
                            || flag("want_threat_intel")
                            || flag("want_idps"))
                        && x < until("legacy_network_until"));
                let msg = t.str(r, "msg_s");
                let l = msg.to_ascii_lowercase();
                if !ok || !(l.contains("deny") || l.contains("denied")) {
                    continue;
                }
                let msg = strip.replacen(&msg, 1, " request from $1 ").into_owned();
                (
                    t.name.clone(),
                    "legacy".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    -1,
                    msg,
                    x - x.rem_euclid(bin_us),
                )
            } else {
                if !t.str(r, "Action").eq_ignore_ascii_case("deny") {
                    continue;
                }
                let unbracket = |s: String| s.trim_matches(|c| c == '[' || c == ']').to_string();
                let dest = dest_cols
                    .iter()
                    .map(|c| t.str(r, c))
                    .find(|d| !d.is_empty())
                    .unwrap_or_default();
                let dest = unbracket(dest).trim_end_matches('.').to_ascii_lowercase();
                let mut proto = t.str(r, "Protocol").trim().to_ascii_uppercase();
                if proto.starts_with("HTTP/") {
                    proto = "HTTP".into();
                }
                let port = t
                    .get(r, "DestinationPort")
                    .and_then(Value::as_i64)
                    .unwrap_or(-1);
                (
                    t.name.clone(),
                    kind.into(),
                    unbracket(t.str(r, "SourceIp")),
                    proto,
                    dest,
                    port,
                    String::new(),
                    x - x.rem_euclid(bin_us),
                )
            };
            let hits = count_col
                .and_then(|c| t.get(r, c))
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let e = acc.entry(key).or_insert((0, x, x));
            e.0 += hits;
            e.1 = e.1.min(x);
            e.2 = e.2.max(x);
        }
    }
    let rows = acc
        .into_iter()
        .map(|((st, k, s, p, d, port, m, b), (h, f, l))| {
            vec![
                json!(st),
                json!(k),
                json!(s),
                json!(p),
                json!(d),
                json!(port),
                json!(m),
                json!(h),
                json!(fmt_us(f)),
                json!(fmt_us(l)),
                json!(fmt_us(b)),
            ]
        })
        .collect();
    table(
        &[
            "SourceTable",
            "Kind",
            "SourceIp",
            "Protocol",
            "Destination",
            "DestinationPort",
            "Message",
            "Hits",
            "FirstSeen",
            "LastSeen",
            "Bin",
        ],
        rows,
    )
}

fn fetched(t: &Table) -> bool {
    RAW.contains(&t.name.as_str()) || t.name == "AzureDiagnostics"
}

fn fetched_row(t: &Table, r: &[Value]) -> bool {
    t.name != "AzureDiagnostics" || LEGACY.contains(&t.str(r, "Category").as_str())
}

fn hourly(fx: &[Table], from: i64, to: i64) -> Value {
    let mut acc: BTreeMap<i64, u64> = BTreeMap::new();
    for t in fx.iter().filter(|t| fetched(t)) {
        for r in &t.rows {
            if let Some(x) = in_window(t, r, from, to).filter(|_| fetched_row(t, r)) {
                *acc.entry(x - x.rem_euclid(3_600_000_000)).or_default() += 1;
            }
        }
    }
    let rows = acc
        .into_iter()
        .map(|(h, n)| vec![json!(fmt_us(h)), json!(n)])
        .collect();
    table(&["Hour", "Rows"], rows)
}

/// Raw rows as the union would give them: one table whose columns are the union of every table's columns
/// (plus `Type`), rows in time order.
fn raw(fx: &[Table], from: i64, to: i64) -> Value {
    let mut cols: Vec<String> = vec!["Type".into()];
    for t in fx.iter().filter(|t| fetched(t)) {
        for c in &t.columns {
            if !cols.contains(c) {
                cols.push(c.clone());
            }
        }
    }
    let mut rows: Vec<(i64, Vec<Value>)> = Vec::new();
    for t in fx.iter().filter(|t| fetched(t)) {
        for r in &t.rows {
            let Some(x) = in_window(t, r, from, to).filter(|_| fetched_row(t, r)) else {
                continue;
            };
            let row = cols
                .iter()
                .map(|c| {
                    if c == "Type" {
                        json!(t.name)
                    } else {
                        t.get(r, c).cloned().unwrap_or(Value::Null)
                    }
                })
                .collect();
            rows.push((x, row));
        }
    }
    rows.sort_by_key(|(x, _)| *x);
    let c: Vec<&str> = cols.iter().map(String::as_str).collect();
    table(&c, rows.into_iter().map(|(_, r)| r).collect())
}
