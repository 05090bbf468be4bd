//! The Kusto REST API (Azure Data Explorer, Fabric Eventhouse): `POST {cluster}/v2/rest/query` with
//! `{"db","csl","properties"}` (https://learn.microsoft.com/kusto/api/rest/request), answered by a JSON array of
//! frames (https://learn.microsoft.com/kusto/api/rest/response-v2).
//!
//! **Why v2, not v1.** Both carry the same tables; v2 marks which table is the query's result (`TableKind:
//! "PrimaryResult"`, where v1 only numbers them `Table_0…` and needs its table of contents) and ends every answer
//! with a `DataSetCompletion` frame that says whether the data set `HasErrors` or was `Cancelled`. A partial query
//! failure — the result cut at the 500,000-record or 64 MB limit, a runaway query — is raised after the `200 OK`
//! is sent, so the frames are the only place it shows: v2 reports it in the completion frame (and as an
//! `OneApiErrors` row in place, by default), while v1 mixes it into a `QueryStatus` table the client must find
//! and read by severity. With v2 an answer without its completion frame is visibly cut off, never taken as
//! complete. That is the property fwlog's exact merging depends on.
//!
//! The primary-result frames become the Query API's `{"tables":[{"name","columns","rows"}]}` shape, so the readers
//! above are the same for both services. Errors keep the service's words (`Semantic error: …`, `Partial query
//! failure: …`); throttling (429) and transient service errors are retried by the transport.

use serde_json::{Value, json};

use super::client::{Missing, Outcome};
use super::target::DatabaseName;
use super::transport::{Post, Transport, deepest_message, error_summary};
use crate::error::user;

/// Run one query in `db`.
pub async fn query(
    transport: &Transport,
    base: &str,
    db: &DatabaseName,
    label: &str,
    csl: &str,
    wait_secs: u64,
) -> anyhow::Result<Outcome> {
    let url = format!("{base}/v2/rest/query");
    let body = request_body(db, csl, wait_secs);
    let request_id = format!("fwlog;{:032x}", rand::random::<u128>());
    let post = Post {
        url: &url,
        label,
        body: &body,
        content_type: "application/json; charset=utf-8",
        headers: vec![
            ("Accept", "application/json".to_string()),
            ("x-ms-app", "fwlog".to_string()),
            (
                "x-ms-client-version",
                concat!("fwlog:", env!("CARGO_PKG_VERSION")).to_string(),
            ),
            ("x-ms-client-request-id", request_id),
        ],
    };
    let reply = transport.post(&post, transient).await?;
    match reply.status {
        200 => parse_frames(&reply.text, label),
        s => Err(classify_error(s, &reply.text, db, label)),
    }
}

/// The request body. `servertimeout` lets the cluster run as long as fwlog waits for it; progressive results are
/// off so every table comes as one `DataTable` frame.
pub fn request_body(db: &DatabaseName, csl: &str, wait_secs: u64) -> Value {
    json!({
        "db": db.as_str(),
        "csl": csl,
        "properties": {
            "Options": {
                "servertimeout": format!("{}m", wait_secs.div_ceil(60).max(1)),
                "results_progressive_enabled": false
            }
        }
    })
}

/// A cluster's `520 ServiceError` is worth another attempt when the error says it is not permanent
/// (`"@permanent": false`); 429 and the gateway statuses are retried by the transport anyway.
fn transient(status: u16, text: &str) -> bool {
    status == 520
        && serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.pointer("/error/@permanent").and_then(Value::as_bool))
            == Some(false)
}

/// The text of a list of OneApi errors (`[{"error":{…}}]` or `[{…}]`).
fn one_api_errors(errors: &Value) -> Vec<String> {
    errors
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let e = e.get("error").unwrap_or(e);
                    let code = e.get("code").and_then(Value::as_str).unwrap_or("");
                    let msg = deepest_message(e);
                    if code.is_empty() {
                        msg
                    } else {
                        format!("{code}: {msg}")
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One table being assembled from frames.
struct TableParts {
    id: i64,
    name: String,
    kind: String,
    columns: Vec<Value>,
    rows: Vec<Value>,
}

/// Read a v2 answer: the primary results as `{"tables":[…]}`, partial when the data set says it has errors or was
/// cancelled, an error when the answer is not a v2 data set or ends before its completion frame.
pub fn parse_frames(text: &str, label: &str) -> anyhow::Result<Outcome> {
    let frames: Value = serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "the cluster answered {label} with invalid JSON ({e}); is --cluster a Kusto query URI?"
        )
    })?;
    let Value::Array(frames) = frames else {
        if frames.get("error").is_some() {
            return Err(anyhow::anyhow!(
                "the cluster reported an error for {label}:{}",
                error_summary(text)
            ));
        }
        return Err(user(format!(
            "the cluster's answer to {label} is not a Kusto v2 data set (a JSON array of frames); is --cluster a \
             Kusto query URI?"
        )));
    };
    let mut tables: Vec<TableParts> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut completion: Option<&Value> = None;
    let mut header = false;
    let frame_type = |f: &Value| {
        f.get("FrameType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    for f in &frames {
        let id = f.get("TableId").and_then(Value::as_i64).unwrap_or(-1);
        match frame_type(f).as_str() {
            "DataSetHeader" => header = true,
            "DataTable" | "TableHeader" => tables.push(TableParts {
                id,
                name: f
                    .get("TableName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                kind: f
                    .get("TableKind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                columns: f
                    .get("Columns")
                    .and_then(Value::as_array)
                    .map(|cols| {
                        cols.iter()
                            .map(|c| {
                                json!({"name": c.get("ColumnName").cloned().unwrap_or(Value::Null),
                                       "type": c.get("ColumnType").cloned().unwrap_or(Value::Null)})
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                rows: Vec::new(),
            }),
            _ => {}
        }
        // Rows of a whole table, or of a fragment of a progressive one.
        let rows = match frame_type(f).as_str() {
            "DataTable" | "TableFragment" => f.get("Rows").and_then(Value::as_array),
            _ => None,
        };
        if let Some(rows) = rows {
            let replace = f.get("TableFragmentType").and_then(Value::as_str) == Some("DataReplace");
            let Some(t) = tables.iter_mut().rev().find(|t| t.id == id) else {
                continue;
            };
            if replace {
                t.rows.clear();
            }
            for r in rows {
                // A partial failure reported in place (ErrorReportingPlacement InData): an object, not a row.
                match r.get("OneApiErrors") {
                    Some(e) if !r.is_array() => errors.extend(one_api_errors(e)),
                    _ => t.rows.push(r.clone()),
                }
            }
        }
        match frame_type(f).as_str() {
            "TableCompletion" => {
                if let Some(e) = f.get("OneApiErrors") {
                    errors.extend(one_api_errors(e));
                }
            }
            "DataSetCompletion" => completion = Some(f),
            _ => {}
        }
    }
    if !header {
        return Err(user(format!(
            "the cluster's answer to {label} has no DataSetHeader frame: not a Kusto v2 data set; is --cluster a \
             Kusto query URI?"
        )));
    }
    let Some(completion) = completion else {
        return Err(anyhow::anyhow!(
            "the cluster's answer to {label} ended before its DataSetCompletion frame (cut off in transit); try \
             again"
        ));
    };
    let has_errors = completion.get("HasErrors").and_then(Value::as_bool) == Some(true);
    let cancelled = completion.get("Cancelled").and_then(Value::as_bool) == Some(true);
    if let Some(e) = completion.get("OneApiErrors") {
        errors.extend(one_api_errors(e));
    }
    errors.dedup();
    let primary: Vec<Value> = tables
        .into_iter()
        .filter(|t| t.kind == "PrimaryResult")
        .map(|t| json!({"name": t.name, "columns": t.columns, "rows": t.rows}))
        .collect();
    let body = json!({ "tables": primary });
    if has_errors || cancelled || !errors.is_empty() {
        // The service's own name for it (https://learn.microsoft.com/kusto/concepts/partial-query-failures).
        let mut message = if errors.is_empty() {
            "Partial query failure: the data set reports errors".to_string()
        } else {
            format!("Partial query failure: {}", errors.join(" — "))
        };
        if cancelled {
            message.push_str(" (the query was cancelled)");
        }
        return Ok(Outcome::Partial { body, message });
    }
    Ok(Outcome::Complete(body))
}

/// A failed request in the service's words, with what to fix.
pub fn classify_error(status: u16, text: &str, db: &DatabaseName, label: &str) -> anyhow::Error {
    let detail = error_summary(text);
    let lower = text.to_ascii_lowercase();
    match status {
        400 if lower.contains("failed to resolve table") || lower.contains("sem0100") => {
            anyhow::Error::new(Missing(format!(
                "database {db} has none of the Azure Firewall tables this query reads ({}). Check --database and \
                 --table-map (see docs/kusto.md).",
                detail.trim()
            )))
        }
        400 if lower.contains("entitynotfound") || lower.contains("was not found") => {
            user(format!(
                "the cluster has no database {db} that this identity can see (HTTP 400{detail}). Check --database \
             (the name, not the pretty name) and --cluster."
            ))
        }
        400 => user(format!(
            "the cluster rejected {label} (HTTP 400{detail}). When --table-map names tables or functions, they need \
             the Log Analytics columns (see docs/kusto.md)."
        )),
        401 => user(format!(
            "the cluster rejected the sign-in (HTTP 401{detail}). Sign in again (`az login`) or check the credential; \
             the token audience is the cluster URI (`[kusto] audience` overrides it)."
        )),
        403 => user(format!(
            "access to database {db} denied (HTTP 403{detail}). The signed-in identity needs the Viewer role on the \
             database (`.add database ['{db}'] viewers ('aaduser=…')`, or the Eventhouse's database permissions)."
        )),
        404 => user(format!(
            "the cluster answered 404 for {label}{detail}: check --cluster, which is the query URI \
             (https://NAME.REGION.kusto.windows.net or an Eventhouse query URI)."
        )),
        _ => anyhow::anyhow!("the cluster refused {label} (HTTP {status}{detail})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> DatabaseName {
        "fw".parse().unwrap()
    }

    fn frames(primary_rows: Value, completion: Value) -> String {
        json!([
            {"FrameType":"DataSetHeader","IsProgressive":false,"Version":"v2.0","IsFragmented":false,
             "ErrorReportingPlacement":"InData"},
            {"FrameType":"DataTable","TableId":0,"TableKind":"QueryProperties","TableName":"@ExtendedProperties",
             "Columns":[{"ColumnName":"TableId","ColumnType":"int"},{"ColumnName":"Key","ColumnType":"string"},
                        {"ColumnName":"Value","ColumnType":"dynamic"}],"Rows":[[1,"Visualization","{}"]]},
            {"FrameType":"DataTable","TableId":1,"TableKind":"PrimaryResult","TableName":"PrimaryResult",
             "Columns":[{"ColumnName":"Hour","ColumnType":"datetime"},{"ColumnName":"Rows","ColumnType":"long"}],
             "Rows": primary_rows},
            {"FrameType":"DataTable","TableId":2,"TableKind":"QueryCompletionInformation",
             "TableName":"QueryCompletionInformation","Columns":[{"ColumnName":"Level","ColumnType":"int"}],
             "Rows":[[4]]},
            completion
        ])
        .to_string()
    }

    #[test]
    fn primary_results_become_query_api_tables() {
        let t = frames(
            json!([["2026-09-07T09:00:00Z", 5]]),
            json!({"FrameType":"DataSetCompletion","HasErrors":false,"Cancelled":false}),
        );
        let Outcome::Complete(body) = parse_frames(&t, "q").unwrap() else {
            panic!()
        };
        assert_eq!(
            body,
            json!({"tables":[{"name":"PrimaryResult","columns":[{"name":"Hour","type":"datetime"},
                {"name":"Rows","type":"long"}],"rows":[["2026-09-07T09:00:00Z",5]]}]})
        );
        let hourly = crate::live::summary::parse_hourly(&body).unwrap();
        assert_eq!(hourly.len(), 1);
    }

    #[test]
    fn partial_query_failures_are_never_complete() {
        let err = json!({"error":{"code":"LimitsExceeded","message":"Request is invalid and cannot be executed.",
            "@type":"Kusto.Data.Exceptions.KustoServicePartialQueryFailureLimitsExceededException",
            "@message":"Query execution has exceeded the allowed limits (80DA0003): The results of this query exceed the set limit of 500000 records, so not all records were returned (E_QUERY_RESULT_SET_TOO_LARGE, 0x80DA0003, max #records=500000).",
            "@permanent":false}});
        // In place (InData) and in the completion frame.
        let t = frames(
            json!([["2026-09-07T09:00:00Z", 5], {"OneApiErrors":[err.clone()]}]),
            json!({"FrameType":"DataSetCompletion","HasErrors":true,"Cancelled":false,"OneApiErrors":[err]}),
        );
        match parse_frames(&t, "q").unwrap() {
            Outcome::Partial { body, message } => {
                assert!(
                    message.contains("E_QUERY_RESULT_SET_TOO_LARGE"),
                    "{message}"
                );
                assert_eq!(message.matches("LimitsExceeded").count(), 1, "{message}");
                assert_eq!(body["tables"][0]["rows"].as_array().unwrap().len(), 1);
            }
            o => panic!("{o:?}"),
        }
        // Cancelled, or errors without words, are partial too.
        let t = frames(
            json!([]),
            json!({"FrameType":"DataSetCompletion","HasErrors":false,"Cancelled":true}),
        );
        assert!(matches!(
            parse_frames(&t, "q").unwrap(),
            Outcome::Partial { .. }
        ));
    }

    #[test]
    fn cut_off_and_foreign_answers_are_errors() {
        let t = frames(
            json!([]),
            json!({"FrameType":"DataSetCompletion","HasErrors":false}),
        );
        let mut v: Vec<Value> = serde_json::from_str(&t).unwrap();
        v.pop();
        let cut = serde_json::to_string(&v).unwrap();
        let e = parse_frames(&cut, "q").unwrap_err().to_string();
        assert!(e.contains("ended before its DataSetCompletion"), "{e}");
        let e = parse_frames(r#"{"tables":[]}"#, "q").unwrap_err();
        assert!(e.to_string().contains("not a Kusto v2 data set"), "{e}");
        assert_eq!(crate::error::exit_code(&e), 2);
        assert!(parse_frames("<html>", "q").is_err());
    }

    #[test]
    fn progressive_fragments_are_assembled() {
        let t = json!([
            {"FrameType":"DataSetHeader","IsProgressive":true,"Version":"v2.0"},
            {"FrameType":"TableHeader","TableId":1,"TableKind":"PrimaryResult","TableName":"PrimaryResult",
             "Columns":[{"ColumnName":"x","ColumnType":"long"}]},
            {"FrameType":"TableFragment","TableId":1,"TableFragmentType":"DataAppend","Rows":[[1],[2]]},
            {"FrameType":"TableProgress","TableId":1,"TableProgress":50.0},
            {"FrameType":"TableFragment","TableId":1,"TableFragmentType":"DataAppend","Rows":[[3]]},
            {"FrameType":"TableCompletion","TableId":1,"RowCount":3},
            {"FrameType":"DataSetCompletion","HasErrors":false,"Cancelled":false}
        ])
        .to_string();
        let Outcome::Complete(body) = parse_frames(&t, "q").unwrap() else {
            panic!()
        };
        assert_eq!(body["tables"][0]["rows"], json!([[1], [2], [3]]));
    }

    #[test]
    fn errors_keep_the_service_words_and_say_how_to_fix() {
        let sem = r#"{"error":{"code":"General_BadRequest","message":"Request is invalid and cannot be executed.",
            "@type":"Kusto.Data.Exceptions.KustoBadRequestException",
            "@message":"Request is invalid and cannot be processed: Semantic error: SEM0100: 'union' operator: Failed to resolve table expression named 'AZFWNetworkRule'",
            "@permanent":true}}"#;
        let e = classify_error(400, sem, &db(), "q");
        assert!(e.downcast_ref::<Missing>().is_some(), "{e}");
        assert!(e.to_string().contains("Semantic error: SEM0100"), "{e}");
        let col = r#"{"error":{"code":"General_BadRequest","message":"Request is invalid and cannot be executed.",
            "@message":"Semantic error: SEM0001: 'project' operator: Failed to resolve scalar expression named 'Fqdn'"}}"#;
        let e = classify_error(400, col, &db(), "deny summary");
        assert!(
            e.to_string()
                .contains("Failed to resolve scalar expression named 'Fqdn'"),
            "{e}"
        );
        assert!(e.to_string().contains("--table-map"), "{e}");
        assert_eq!(crate::error::exit_code(&e), 2);
        let e = classify_error(
            403,
            r#"{"error":{"code":"Forbidden","message":"Principal is not authorized"}}"#,
            &db(),
            "q",
        );
        assert!(e.to_string().contains("Viewer"), "{e}");
        let nf = r#"{"error":{"code":"BadRequest_EntityNotFound","message":"Request is invalid and cannot be executed.","@message":"Entity ID 'fw' of kind 'Database' was not found."}}"#;
        assert!(
            classify_error(400, nf, &db(), "q")
                .to_string()
                .contains("no database fw")
        );
        assert!(transient(
            520,
            r#"{"error":{"code":"x","@permanent":false}}"#
        ));
        assert!(!transient(
            520,
            r#"{"error":{"code":"x","@permanent":true}}"#
        ));
        assert!(!transient(
            400,
            r#"{"error":{"code":"x","@permanent":false}}"#
        ));
    }

    #[test]
    fn the_request_says_which_database_and_how_long_to_run() {
        let b = request_body(&db(), "print 1", 600);
        assert_eq!(b["db"], "fw");
        assert_eq!(b["csl"], "print 1");
        assert_eq!(b["properties"]["Options"]["servertimeout"], "10m");
    }
}
