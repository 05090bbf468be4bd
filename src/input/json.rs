//! Every JSON shape the firewall's logs are kept in:
//! diagnostic-setting archives (`PT1H.json`, JSON lines of `{time, resourceId, category, properties}` records,
//! structured or legacy `properties.msg`), Log Analytics data-export blobs (`PT05M.json`, column names at the
//! top level), Event Hub bodies (`{"records":[…]}`, one per line or concatenated), saved Query-API responses
//! (`{"tables":[…]}`) and `az monitor log-analytics query` output (an array of row objects, values as strings).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::batcher::RowBatcher;
use super::fields::{self, Field, Val};
use super::tables;
use crate::error::user;

/// Lower-cased alias → field, so a record's keys are mapped in one pass.
static FIELD_BY_KEY: LazyLock<HashMap<String, Field>> = LazyLock::new(|| {
    let mut m = HashMap::new();
    for &f in Field::ALL {
        for a in f.aliases() {
            m.entry(a.to_ascii_lowercase()).or_insert(f);
        }
    }
    m
});

pub fn field_of(key: &str) -> Option<Field> {
    if key.bytes().any(|b| b.is_ascii_uppercase()) {
        FIELD_BY_KEY.get(&key.to_ascii_lowercase()).copied()
    } else {
        FIELD_BY_KEY.get(key).copied()
    }
}

pub fn val(v: &Value) -> Option<Val<'_>> {
    match v {
        Value::String(s) => Some(Val::Str(s)),
        Value::Number(n) => Some(
            n.as_i64()
                .map(Val::Int)
                .unwrap_or_else(|| Val::Float(n.as_f64().unwrap_or(f64::NAN))),
        ),
        Value::Bool(b) => Some(Val::Bool(*b)),
        // Reported by `fields::fill_row` as a value of the wrong sort instead of read as absent.
        Value::Array(_) | Value::Object(_) => Some(Val::Nested),
        Value::Null => None,
    }
}

pub fn read(name: &str, bytes: &[u8], batcher: &mut RowBatcher<'_>) -> anyhow::Result<()> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| user(format!("{name}: not UTF-8 text: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // A whole file of concatenated JSON values (JSON lines, pretty-printed or not).
    let mut values = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut start = 0usize;
    let mut whole_ok = true;
    loop {
        let before = start + text[start..].len() - text[start..].trim_start().len();
        match stream.next() {
            Some(Ok(v)) => {
                values.push((line_of(text, before), v));
                start = stream.byte_offset();
            }
            Some(Err(_)) => {
                whole_ok = false;
                break;
            }
            None => break,
        }
    }
    if whole_ok {
        for (line, v) in values {
            value(name, line, &v, batcher)?;
        }
        return Ok(());
    }
    // Otherwise JSON lines with some bad lines: each line on its own, bad lines skipped and counted.
    let mut good = 0usize;
    let mut lines = 0usize;
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        lines += 1;
        match serde_json::from_str::<Value>(l) {
            Ok(v) => {
                good += 1;
                value(name, i as u64 + 1, &v, batcher)?;
            }
            Err(e) => batcher.stats.skip(name, i as u64 + 1, "malformed JSON", e),
        }
    }
    if good == 0 {
        return Err(user(format!(
            "{name}: not valid JSON: expected JSON lines, {{\"records\":[…]}}, {{\"tables\":[…]}} or an array of rows \
             ({lines} line(s), none parsed)"
        )));
    }
    Ok(())
}

fn line_of(text: &str, offset: usize) -> u64 {
    memchr::memchr_iter(b'\n', &text.as_bytes()[..offset.min(text.len())]).count() as u64 + 1
}

fn value(name: &str, line: u64, v: &Value, batcher: &mut RowBatcher<'_>) -> anyhow::Result<()> {
    match v {
        Value::Object(obj) => {
            if let Some((_, t)) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case("tables")) {
                return tables::read_tables(name, t, batcher);
            }
            if let Some(Value::Array(records)) = obj.get("records") {
                for r in records {
                    record(name, line, r, batcher)?;
                }
                return Ok(());
            }
            record(name, line, v, batcher)
        }
        Value::Array(items) => {
            for r in items {
                record(name, line, r, batcher)?;
            }
            Ok(())
        }
        _ => {
            batcher
                .stats
                .skip(name, line, "not a record", "expected a JSON object");
            Ok(())
        }
    }
}

/// One record: a diagnostic-setting record (fields under `properties`, plus `time`, `resourceId`, `category`)
/// or a row with Log Analytics column names at the top level.
fn record(name: &str, line: u64, v: &Value, batcher: &mut RowBatcher<'_>) -> anyhow::Result<()> {
    let Value::Object(obj) = v else {
        batcher
            .stats
            .skip(name, line, "not a record", "expected a JSON object");
        return Ok(());
    };
    let mut map: HashMap<Field, &Value> = HashMap::with_capacity(24);
    collect(obj, &mut map);
    let props = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("properties"))
        .map(|(_, v)| v);
    let table = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("category"))
        .and_then(|(_, v)| v.as_str());
    if let Some(Value::Object(p)) = props {
        // Properties win over top-level keys of the same meaning.
        collect(p, &mut map);
    }
    let get = |f: Field| map.get(&f).and_then(|v| val(v));
    match fields::to_row(&get, table) {
        Ok(row) => batcher.push(&row, name, line),
        Err(problem) => {
            batcher.stats.skip(name, line, "bad record", problem);
            Ok(())
        }
    }
}

fn collect<'a>(obj: &'a Map<String, Value>, map: &mut HashMap<Field, &'a Value>) {
    for (k, v) in obj {
        if v.is_null() {
            continue;
        }
        if let Some(f) = field_of(k) {
            map.insert(f, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::batcher::RowBatcher;
    use polars::prelude::*;

    fn read_str(text: &str) -> (DataFrame, crate::event::stats::ReadStats) {
        let mut frames = Vec::new();
        let mut on = |df| {
            frames.push(df);
            Ok(())
        };
        let mut batcher = RowBatcher::new(1000, false, true, &mut on);
        read("t.json", text.as_bytes(), &mut batcher).unwrap();
        let stats = batcher.finish().unwrap();
        (crate::input::concat_frames(frames).unwrap(), stats)
    }

    fn s(df: &DataFrame, col: &str, i: usize) -> Option<String> {
        df.column(col)
            .unwrap()
            .str()
            .unwrap()
            .get(i)
            .map(str::to_string)
    }

    #[test]
    fn archive_record_with_structured_properties() {
        let (df, st) = read_str(
            r#"{"time":"2026-09-07T09:49:11.932464+00:00","resourceId":"/SUBSCRIPTIONS/X/AZUREFIREWALLS/FW","properties":{"Protocol":"TCP","SourceIp":"[fd10:0003:0005:0001:0000:0000:0000:0004]","SourcePort":42346,"DestinationIp":"[2001:4860:4860:0000:0000:0000:0000:8888]","DestinationPort":"8080","Action":"Deny","Policy":"","RuleCollectionGroup":"","RuleCollection":"","Rule":"","ActionReason":"Default Action"},"category":"AZFWNetworkRule"}"#,
        );
        assert_eq!(st.records, 1);
        assert_eq!(s(&df, "kind", 0).as_deref(), Some("network"));
        assert_eq!(s(&df, "source_ip", 0).as_deref(), Some("fd10:3:5:1::4"));
        assert_eq!(
            s(&df, "destination", 0).as_deref(),
            Some("2001:4860:4860::8888")
        );
        assert_eq!(
            df.column("destination_port").unwrap().u32().unwrap().get(0),
            Some(8080)
        );
        assert_eq!(s(&df, "reason", 0).as_deref(), Some("default-action"));
        assert_eq!(s(&df, "rule", 0), None);
        assert_eq!(
            s(&df, "firewall", 0).as_deref(),
            Some("/subscriptions/x/azurefirewalls/fw")
        );
    }

    #[test]
    fn records_envelope_tables_and_arrays() {
        let rec = r#"{"time":"2026-01-01T00:00:00Z","category":"AZFWApplicationRule","properties":{"Protocol":"HTTP/1.1","SourceIp":"10.0.0.1","SourcePort":1,"Fqdn":"MCR.microsoft.com.","DestinationPort":443,"Action":"Deny"}}"#;
        let (df, _) = read_str(&format!(
            "{{\"records\":[{rec},{rec}]}}{{\"records\":[{rec}]}}"
        ));
        // Three copies of one event: the first counts, the others are duplicates.
        assert_eq!(df.height(), 1);
        assert_eq!(
            s(&df, "destination", 0).as_deref(),
            Some("mcr.microsoft.com")
        );
        assert_eq!(s(&df, "protocol", 0).as_deref(), Some("HTTP"));
        let (df, _) = read_str(
            r#"{"Tables":[{"TableName":"PrimaryResult","Columns":[{"ColumnName":"TimeGenerated","DataType":"DateTime"},{"ColumnName":"Fqdn","DataType":"String"},{"ColumnName":"SourceIp","DataType":"String"},{"ColumnName":"Action","DataType":"String"}],"Rows":[["2026-01-01T00:00:00Z","a.example.com","10.0.0.1","Deny"]]}]}"#,
        );
        assert_eq!(s(&df, "kind", 0).as_deref(), Some("application"));
        let (df, _) = read_str(
            r#"[{"TimeGenerated":"2026-01-01T00:00:00Z","SourceIp":"10.0.0.2","DestinationIp":"1.1.1.1","DestinationPort":"53","Protocol":"UDP","Action":"Deny","TableName":"PrimaryResult"}]"#,
        );
        assert_eq!(s(&df, "kind", 0).as_deref(), Some("network"));
        assert_eq!(
            df.column("destination_port").unwrap().u32().unwrap().get(0),
            Some(53)
        );
    }

    #[test]
    fn bad_lines_are_counted_with_line_numbers() {
        let good = r#"{"time":"2026-01-01T00:00:00Z","category":"AZFWNetworkRule","properties":{"SourceIp":"10.0.0.1","SourcePort":5,"DestinationIp":"1.1.1.1","Action":"Deny"}}"#;
        let (df, st) = read_str(&format!(
            "{good}\n{{broken\n\n{}\n",
            r#"{"properties":{"SourceIp":"1.2.3.4"}}"#
        ));
        assert_eq!(df.height(), 1);
        assert_eq!(st.skipped, 2);
        assert_eq!(st.skip_examples[0].line, 2);
        assert_eq!(st.skip_examples[1].line, 4);
        assert_eq!(st.skipped_by_reason["malformed JSON"], 1);
    }

    #[test]
    fn not_json_at_all_is_an_error() {
        let mut on = |_df| Ok(());
        let mut batcher = RowBatcher::new(10, false, true, &mut on);
        let err = read("x.json", b"{nope\n{nope\n", &mut batcher).unwrap_err();
        assert!(err.to_string().contains("x.json: not valid JSON"), "{err}");
        assert_eq!(crate::error::exit_code(&err), 2);
    }
}
