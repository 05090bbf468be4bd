//! A fake Azure Data Explorer cluster for tests: plain HTTP/1.1 on 127.0.0.1, speaking the Kusto REST API v2
//! (`POST /v2/rest/query` with `{"db","csl","properties"}`, answered by a JSON array of frames:
//! `DataSetHeader`, `DataTable`s of kind QueryProperties / PrimaryResult / QueryCompletionInformation,
//! `DataSetCompletion`), and the managed-identity token endpoint (`GET /msi/token`), which records the resource
//! (audience) every token was asked for.
//!
//! **Rows.** Each database holds fixture tables under their Log Analytics names (the same rows the fake Log
//! Analytics serves, so reports can be compared with the offline report of those rows); `names` renames a
//! table in the cluster (`AZFWNetworkRule` → `FirewallNetwork`). A query sees a table only when it names the
//! cluster's entity: a renamed table must appear bracket-quoted (`['FirewallNetwork']`, or called with the
//! window), so a query that forgets the table map finds nothing — as on a real cluster. Union legs without an
//! explicit `SourceTable = "…"` label get the entity's own name as their source, as a cluster's `withsource`
//! would. Answers are computed by the fake Log Analytics' code ([`crate::fake_la::answer`]).
//!
//! **Scripting.** Per template: throttling (429, `Retry-After` optional), a 520 service error marked
//! permanent or not, a semantic error, 403, or an answer cut off before its completion frame. `row_limit`
//! truncates any deny-summary or raw-window result longer than that and reports the partial query failure the
//! way a cluster does (an in-place `OneApiErrors` row and `HasErrors` in the completion frame).

#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::fake_la::{
    TOKEN, Table, datetime, msi_token, params_of, read_request, respond, serve_on_thread,
};

#[derive(Debug, Clone)]
pub enum Scripted {
    Throttled {
        retry_after: Option<u64>,
    },
    ServiceError {
        permanent: bool,
    },
    /// 400 `Semantic error` with this message.
    SemanticError(String),
    Forbidden,
    /// 200 whose frames stop before `DataSetCompletion`.
    CutOff,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub database: String,
    pub template: String,
    pub status: u16,
    pub authorized: bool,
    pub path: String,
    pub accept: String,
    pub content_type: String,
    pub request_id: String,
    pub body: Value,
}

#[derive(Default)]
pub struct State {
    /// Rows per database, tables under their Log Analytics names.
    pub databases: BTreeMap<String, Vec<Table>>,
    /// Log Analytics table name → the cluster's entity name, where they differ.
    pub names: BTreeMap<String, String>,
    pub script: VecDeque<(String, Scripted)>,
    pub log: Vec<Logged>,
    /// The resource (audience) of every token request.
    pub token_resources: Vec<String>,
    /// Deny-summary and raw-window results longer than this are truncated and reported partial.
    pub row_limit: Option<usize>,
}

pub struct FakeKusto {
    pub port: u16,
    pub state: Arc<Mutex<State>>,
    _thread: std::thread::JoinHandle<()>,
}

impl FakeKusto {
    /// Serve `fixture` (a `{"tables":[…]}` document) as database `db`.
    pub fn start(db: &str, fixture: &Value) -> FakeKusto {
        let mut databases = BTreeMap::new();
        databases.insert(db.to_string(), crate::fake_la::tables_of(fixture));
        let state = Arc::new(Mutex::new(State {
            databases,
            ..Default::default()
        }));
        let (port, thread) = serve_on_thread(state.clone(), serve);
        FakeKusto {
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

    pub fn script(&self, template: &str, s: Scripted) {
        self.state
            .lock()
            .unwrap()
            .script
            .push_back((template.to_string(), s));
    }

    pub fn rename(&self, table: &str, entity: &str) {
        self.state
            .lock()
            .unwrap()
            .names
            .insert(table.to_string(), entity.to_string());
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

async fn serve(mut sock: TcpStream, st: Arc<Mutex<State>>) -> std::io::Result<()> {
    let Some(req) = read_request(&mut sock).await? else {
        return Ok(());
    };
    if req.method == "GET" && req.target.starts_with("/msi/token") {
        st.lock()
            .unwrap()
            .token_resources
            .push(crate::fake_la::token_resource(&req));
        return msi_token(&mut sock, &req).await;
    }
    if req.method != "POST" || req.target != "/v2/rest/query" {
        return respond(
            &mut sock,
            404,
            &[],
            r#"{"error":{"code":"NotFound","message":"no such path"}}"#,
        )
        .await;
    }
    let authorized =
        req.headers.get("authorization").map(String::as_str) == Some(&format!("Bearer {TOKEN}"));
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let db = body["db"].as_str().unwrap_or("").to_string();
    let csl = body["csl"].as_str().unwrap_or("").to_string();
    let template = csl
        .lines()
        .find_map(|l| l.trim().strip_prefix("// fwlog:query="))
        .unwrap_or("?")
        .trim()
        .to_string();
    let scripted = {
        let mut s = st.lock().unwrap();
        let i = s.script.iter().position(|(t, _)| *t == template);
        i.and_then(|i| s.script.remove(i)).map(|(_, x)| x)
    };
    let (status, extra, text): (u16, Vec<(String, String)>, String) = if !authorized {
        (
            401,
            vec![],
            one_api(
                "Unauthorized",
                "Unauthorized",
                "The token is missing or not valid",
                true,
            ),
        )
    } else {
        match scripted {
            Some(Scripted::Throttled { retry_after }) => (
                429,
                retry_after
                    .map(|s| vec![("Retry-After".to_string(), s.to_string())])
                    .unwrap_or_default(),
                one_api(
                    "TooManyRequests",
                    "Request is denied due to throttling.",
                    "The request was denied due to exceeding quota limitations. Resource: 'RequestsCount', Quota: '20', Consumed: '20'",
                    false,
                ),
            ),
            Some(Scripted::ServiceError { permanent }) => (
                520,
                vec![],
                one_api(
                    "ServiceError",
                    "Service error",
                    "An admin node is not available right now",
                    permanent,
                ),
            ),
            Some(Scripted::SemanticError(m)) => (
                400,
                vec![],
                one_api(
                    "General_BadRequest",
                    "Request is invalid and cannot be executed.",
                    &format!("Request is invalid and cannot be processed: Semantic error: {m}"),
                    true,
                ),
            ),
            Some(Scripted::Forbidden) => (
                403,
                vec![],
                one_api(
                    "Forbidden",
                    "Request is forbidden",
                    "Principal 'aadapp=x' is not authorized to read database 'fw'.",
                    true,
                ),
            ),
            Some(Scripted::CutOff) => {
                let mut frames = frames_of(&json!({"tables":[]}), None);
                frames.pop();
                (200, vec![], Value::Array(frames).to_string())
            }
            None => answer(&st.lock().unwrap(), &db, &template, &csl),
        }
    };
    st.lock().unwrap().log.push(Logged {
        database: db,
        template,
        status,
        authorized,
        path: req.target.clone(),
        accept: req.headers.get("accept").cloned().unwrap_or_default(),
        content_type: req.headers.get("content-type").cloned().unwrap_or_default(),
        request_id: req
            .headers
            .get("x-ms-client-request-id")
            .cloned()
            .unwrap_or_default(),
        body,
    });
    let extra: Vec<(&str, &str)> = extra
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    respond(&mut sock, status, &extra, &text).await
}

/// A OneApi error body as the Kusto REST API writes it.
fn one_api(code: &str, message: &str, detail: &str, permanent: bool) -> String {
    json!({"error": {"code": code, "message": message,
        "@type": "Kusto.Data.Exceptions.KustoServiceException", "@message": detail,
        "@context": {"timestamp": "2026-09-07T10:00:00.0000000Z", "serviceAlias": "FAKE"},
        "@permanent": permanent}})
    .to_string()
}

fn answer(s: &State, db: &str, template: &str, csl: &str) -> (u16, Vec<(String, String)>, String) {
    let Some(tables) = s.databases.get(db) else {
        return (
            400,
            vec![],
            one_api(
                "BadRequest_EntityNotFound",
                "Request is invalid and cannot be executed.",
                &format!("Entity ID '{db}' of kind 'Database' was not found."),
                true,
            ),
        );
    };
    // The tables this query can see: those whose cluster entity it names. A leg without a label reports the
    // entity's own name as its source, as `withsource` does on a cluster.
    let visible: Vec<Table> = tables
        .iter()
        .filter_map(|t| {
            let entity = s
                .names
                .get(&t.name)
                .cloned()
                .unwrap_or_else(|| t.name.clone());
            let named = if entity == t.name {
                csl.contains(&entity)
            } else {
                csl.contains(&format!("['{entity}']"))
            };
            if !named {
                return None;
            }
            let labelled = csl.contains(&format!("SourceTable = \"{}\"", t.name));
            let mut t = t.clone();
            if !labelled && template != "deny-summary" {
                t.name = entity;
            }
            Some(t)
        })
        .collect();
    let params = params_of(csl);
    let (Some(from), Some(to)) = (
        params.get("from_time").and_then(|v| datetime(v)),
        params.get("to_time").and_then(|v| datetime(v)),
    ) else {
        return (
            400,
            vec![],
            one_api("General_BadRequest", "bad", "Syntax error: no window", true),
        );
    };
    if visible.is_empty() {
        return (
            400,
            vec![],
            one_api(
                "General_BadRequest",
                "Request is invalid and cannot be executed.",
                "Request is invalid and cannot be processed: Semantic error: SEM0100: 'union' operator: Failed to resolve table expression named 'AZFWApplicationRule'",
                true,
            ),
        );
    }
    let Some(mut body) = crate::fake_la::answer(&visible, template, from, to, &params) else {
        return (
            400,
            vec![],
            one_api(
                "General_BadRequest",
                "bad",
                "Syntax error: unknown query",
                true,
            ),
        );
    };
    let mut failure = None;
    if let Some(limit) = s.row_limit
        && (template == "deny-summary" || template == "raw-window")
    {
        let rows = body["tables"][0]["rows"].as_array_mut().unwrap();
        if rows.len() > limit {
            rows.truncate(limit);
            failure = Some(json!({"error": {"code": "LimitsExceeded",
                "message": "Request is invalid and cannot be executed.",
                "@type": "Kusto.Data.Exceptions.KustoServicePartialQueryFailureLimitsExceededException",
                "@message": format!("Query execution has exceeded the allowed limits (80DA0003): The results of this query exceed the set limit of {limit} records, so not all records were returned (E_QUERY_RESULT_SET_TOO_LARGE, 0x80DA0003, max #records={limit})."),
                "@permanent": false}}));
        }
    }
    (
        200,
        vec![],
        Value::Array(frames_of(&body, failure)).to_string(),
    )
}

/// A Query API body as v2 frames; `failure` is reported in place (after the rows) and in the completion frame.
fn frames_of(body: &Value, failure: Option<Value>) -> Vec<Value> {
    let t = &body["tables"][0];
    let columns: Vec<Value> = t["columns"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| json!({"ColumnName": c["name"], "ColumnType": c["type"]}))
        .collect();
    let mut rows = t["rows"].as_array().cloned().unwrap_or_default();
    if let Some(f) = &failure {
        rows.push(json!({"OneApiErrors": [f]}));
    }
    let mut completion = json!({"FrameType": "DataSetCompletion", "HasErrors": failure.is_some(), "Cancelled": false});
    if let Some(f) = failure {
        completion["OneApiErrors"] = json!([f]);
    }
    vec![
        json!({"FrameType": "DataSetHeader", "IsProgressive": false, "Version": "v2.0",
               "IsFragmented": false, "ErrorReportingPlacement": "InData"}),
        json!({"FrameType": "DataTable", "TableId": 0, "TableKind": "QueryProperties",
               "TableName": "@ExtendedProperties",
               "Columns": [{"ColumnName": "TableId", "ColumnType": "int"}, {"ColumnName": "Key", "ColumnType": "string"},
                           {"ColumnName": "Value", "ColumnType": "dynamic"}],
               "Rows": [[1, "Visualization", "{\"Visualization\":null}"]]}),
        json!({"FrameType": "DataTable", "TableId": 1, "TableKind": "PrimaryResult", "TableName": "PrimaryResult",
               "Columns": columns, "Rows": rows}),
        json!({"FrameType": "DataTable", "TableId": 2, "TableKind": "QueryCompletionInformation",
               "TableName": "QueryCompletionInformation",
               "Columns": [{"ColumnName": "Timestamp", "ColumnType": "datetime"}, {"ColumnName": "Level", "ColumnType": "int"},
                           {"ColumnName": "LevelName", "ColumnType": "string"}],
               "Rows": [["2026-09-07T10:00:00Z", 4, "Info"]]}),
        completion,
    ]
}

/// Rows of a fixture split between two databases or workspaces: even rows to one, odd rows to the other.
pub fn split_rows(fixture: &Value) -> (Value, Value) {
    let mut a = fixture.clone();
    let mut b = fixture.clone();
    for (i, t) in fixture["tables"].as_array().unwrap().iter().enumerate() {
        let rows = t["rows"].as_array().unwrap();
        a["tables"][i]["rows"] = json!(rows.iter().step_by(2).collect::<Vec<_>>());
        b["tables"][i]["rows"] = json!(rows.iter().skip(1).step_by(2).collect::<Vec<_>>());
    }
    (a, b)
}
