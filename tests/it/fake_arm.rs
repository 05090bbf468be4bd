//! A fake Azure Resource Manager for `--policy-id`: plain HTTP/1.1 on 127.0.0.1, serving the fixture policy
//! (fixtures/policy: the az CLI exports, put into the REST shape with `properties`) the way the documented REST API
//! does: `GET` of a firewall policy, the rule collection group list in pages of [`PAGE`] chained by `nextLink`, the
//! base policy and its groups, and IP Groups by id.
//!
//! **Auth seam**, as in `fake_la`: the managed identity endpoint (`IDENTITY_ENDPOINT`, `GET /msi/token`), which
//! records the `resource` asked for, so a test sees the token's audience.
//!
//! **Scripting.** Answers can be queued per path fragment: 403 with an ARM error body, 429 with `Retry-After`, 503.

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fake_la::{IDENTITY_SECRET, TOKEN, serve_on_thread};
use crate::util::root;

/// Rule collection groups per page of the list.
pub const PAGE: usize = 2;

pub const POLICY_ID: &str = "/subscriptions/6c3b1d2a-0000-4000-8000-00000000ab01/resourceGroups/rg-hub-weu/providers/Microsoft.Network/firewallPolicies/fwpol-hub-weu";

#[derive(Debug, Clone)]
pub enum Scripted {
    Forbidden,
    TooMany { retry_after: u64 },
    Unavailable,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub target: String,
    pub status: u16,
    pub authorized: bool,
}

#[derive(Default)]
pub struct State {
    /// Lower-case resource id → resource.
    pub resources: BTreeMap<String, Value>,
    /// Lower-case policy id → its groups.
    pub groups: BTreeMap<String, Vec<Value>>,
    pub script: VecDeque<(String, Scripted)>,
    pub log: Vec<Logged>,
    /// The `resource` of every token request, decoded.
    pub audiences: Vec<String>,
}

pub struct FakeArm {
    pub port: u16,
    pub state: Arc<Mutex<State>>,
    _thread: std::thread::JoinHandle<()>,
}

/// An az CLI object (settings flattened) in the REST shape: settings under `properties`.
fn rest_shape(v: &Value) -> Value {
    let Some(o) = v.as_object() else {
        return v.clone();
    };
    if o.contains_key("properties") {
        return v.clone();
    }
    let top = ["id", "name", "type", "location", "etag", "tags"];
    let mut out = serde_json::Map::new();
    let mut props = serde_json::Map::new();
    for (k, x) in o {
        if top.contains(&k.as_str()) {
            out.insert(k.clone(), x.clone());
        } else if k != "resourceGroup" {
            props.insert(k.clone(), x.clone());
        }
    }
    out.insert("properties".into(), Value::Object(props));
    Value::Object(out)
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(root().join("fixtures/policy").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            if let Ok(n) = u8::from_str_radix(&s[i + 1..(i + 3).min(s.len())], 16) {
                out.push(n);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FakeArm {
    /// Serve the fixture policy fwpol-hub-weu, its base fwpol-org-base and the IP Groups.
    pub fn start() -> FakeArm {
        let mut st = State::default();
        for f in ["az-policy-show.json", "az-base-policy-show.json"] {
            let p = rest_shape(&fixture(f));
            st.resources
                .insert(p["id"].as_str().unwrap().to_ascii_lowercase(), p);
        }
        for g in fixture("az-ip-group-list.json").as_array().unwrap() {
            let g = rest_shape(g);
            st.resources
                .insert(g["id"].as_str().unwrap().to_ascii_lowercase(), g);
        }
        let mut add_groups = |list: &[Value]| {
            for g in list {
                let g = rest_shape(g);
                let id = g["id"].as_str().unwrap().to_ascii_lowercase();
                let policy = id
                    .split("/rulecollectiongroups/")
                    .next()
                    .unwrap()
                    .to_string();
                st.groups.entry(policy).or_default().push(g);
            }
        };
        add_groups(fixture("az-rcg-list.json").as_array().unwrap());
        add_groups(
            fixture("rest-base-rcg-list.json")["value"]
                .as_array()
                .unwrap(),
        );
        let state = Arc::new(Mutex::new(st));
        let (port, thread) = serve_on_thread(state.clone(), serve);
        FakeArm {
            port,
            state,
            _thread: thread,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn identity_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/msi/token", self.port)
    }

    /// Answer the next request whose path contains `fragment` (case-insensitive) with `s`.
    pub fn script(&self, fragment: &str, s: Scripted) {
        self.state
            .lock()
            .unwrap()
            .script
            .push_back((fragment.to_ascii_lowercase(), s));
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn audiences(&self) -> Vec<String> {
        self.state.lock().unwrap().audiences.clone()
    }
}

async fn serve(mut sock: TcpStream, st: Arc<Mutex<State>>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
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
    let mut parts = request_line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    if method == "GET" && target.starts_with("/msi/token") {
        if headers.get("x-identity-header").map(String::as_str) != Some(IDENTITY_SECRET) {
            return respond(&mut sock, 401, &[], r#"{"error":"bad identity header"}"#).await;
        }
        let resource = target
            .split("resource=")
            .nth(1)
            .unwrap_or("")
            .split('&')
            .next()
            .unwrap_or("");
        st.lock().unwrap().audiences.push(percent_decode(resource));
        let exp = chrono::Utc::now().timestamp() + 3600;
        let b = json!({"access_token": TOKEN, "expires_on": exp.to_string(), "token_type": "Bearer",
                       "resource": resource});
        return respond(&mut sock, 200, &[], &b.to_string()).await;
    }
    let authorized =
        headers.get("authorization").map(String::as_str) == Some(&format!("Bearer {TOKEN}"));
    let (status, extra, body) = answer(&st, &method, &target, authorized);
    st.lock().unwrap().log.push(Logged {
        method,
        target,
        status,
        authorized,
    });
    let extra: Vec<(&str, String)> = extra.iter().map(|(k, v)| (*k, v.clone())).collect();
    respond(&mut sock, status, &extra, &body).await
}

fn error(code: &str, message: &str) -> String {
    json!({"error": {"code": code, "message": message}}).to_string()
}

fn answer(
    st: &Arc<Mutex<State>>,
    method: &str,
    target: &str,
    authorized: bool,
) -> (u16, Vec<(&'static str, String)>, String) {
    if !authorized {
        return (
            401,
            vec![],
            error("AuthenticationFailed", "no valid bearer token"),
        );
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let lower = path.to_ascii_lowercase();
    let mut s = st.lock().unwrap();
    if let Some(i) = s
        .script
        .iter()
        .position(|(f, _)| lower.contains(f.as_str()))
    {
        let (_, sc) = s.script.remove(i).unwrap();
        return match sc {
            Scripted::Forbidden => (
                403,
                vec![],
                error(
                    "AuthorizationFailed",
                    "The client does not have authorization to perform action \
                     'Microsoft.Network/firewallPolicies/read' over scope.",
                ),
            ),
            Scripted::TooMany { retry_after } => (
                429,
                vec![("Retry-After", retry_after.to_string())],
                error("TooManyRequests", "throttled"),
            ),
            Scripted::Unavailable => (503, vec![], error("ServiceUnavailable", "try later")),
        };
    }
    if method != "GET" || !query.contains("api-version=2024-05-01") {
        return (
            400,
            vec![],
            error("InvalidApiVersionParameter", "GET with api-version"),
        );
    }
    if let Some(policy) = lower.strip_suffix("/rulecollectiongroups") {
        let Some(all) = s.groups.get(policy) else {
            return (404, vec![], error("ResourceNotFound", "no such policy"));
        };
        let skip: usize = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("$skipToken="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = all.iter().skip(skip).take(PAGE).cloned().collect();
        let mut body = json!({ "value": page });
        if skip + PAGE < all.len() {
            body["nextLink"] = json!(format!(
                "http://127.0.0.1:{{PORT}}{path}?api-version=2024-05-01&$skipToken={}",
                skip + PAGE
            ));
        }
        return (200, vec![], body.to_string());
    }
    match s.resources.get(&lower) {
        Some(r) => (200, vec![], r.to_string()),
        None => (404, vec![], error("ResourceNotFound", "not found")),
    }
}

async fn respond(
    sock: &mut TcpStream,
    status: u16,
    extra: &[(&str, String)],
    body: &str,
) -> std::io::Result<()> {
    let port = sock.local_addr()?.port();
    let body = body.replace("{PORT}", &port.to_string());
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Service Unavailable",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(body.as_bytes()).await?;
    sock.shutdown().await
}
