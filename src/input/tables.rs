//! Query-API result tables (`{"tables":[{"name","columns":[{"name","type"}],"rows":[[…]]}]}`), saved to a file or
//! received live. Keys are compared case-insensitively because the older ARM route answers in PascalCase
//! (`Tables`, `Columns`, `Rows`, `ColumnName`).

use serde_json::Value;

use super::fields::{self, Field, FieldIndex};
use super::json::{field_of, val};
use super::{Events, Sink};
use crate::error::user;

fn key<'a>(v: &'a Value, names: &[&str]) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
        .map(|(_, v)| v)
}

/// Read every table of a response into the sink. Row numbers in skip reports count rows across tables from 1.
pub fn read_tables(name: &str, tables: &Value, sink: &mut Sink<'_>) -> anyhow::Result<()> {
    let Value::Array(tables) = tables else {
        return Err(user(format!("{name}: \"tables\" is not an array")));
    };
    let mut rowno = 0u64;
    for (ti, t) in tables.iter().enumerate() {
        let cols = key(t, &["columns"])
            .and_then(Value::as_array)
            .ok_or_else(|| user(format!("{name}: table {ti} has no \"columns\" array")))?;
        let rows = key(t, &["rows"])
            .and_then(Value::as_array)
            .ok_or_else(|| user(format!("{name}: table {ti} has no \"rows\" array")))?;
        let names: Vec<Option<Field>> = cols
            .iter()
            .map(|c| {
                key(c, &["name", "ColumnName"])
                    .and_then(Value::as_str)
                    .and_then(field_of)
            })
            .collect();
        let index = FieldIndex::new(names.iter().copied());
        if !index.has(Field::Time) {
            return Err(user(format!(
                "{name}: table {ti} has no TimeGenerated column; expected Azure Firewall log columns"
            )));
        }
        let table_name = key(t, &["name", "TableName"])
            .and_then(Value::as_str)
            .filter(|n| *n != "PrimaryResult");
        for r in rows {
            rowno += 1;
            let Some(cells) = r.as_array() else {
                sink.stats
                    .skip(name, rowno, "bad row", "expected an array of cells");
                continue;
            };
            let get = |f: Field| index.get(f).and_then(|i| cells.get(i)).and_then(val);
            match fields::to_row(&get, table_name) {
                Ok(row) => sink.push(&row, name, rowno)?,
                Err(p) => sink.stats.skip(name, rowno, "bad row", p),
            }
        }
    }
    Ok(())
}

/// Canonical events from one Query-API response body (used by the live source).
pub fn canonical_from_query_response(body: &Value, origin: &str) -> anyhow::Result<Events> {
    let tables = key(body, &["tables"])
        .ok_or_else(|| user(format!("{origin}: response has no \"tables\"")))?;
    let mut frames = Vec::new();
    let mut collect = |df| {
        frames.push(df);
        Ok(())
    };
    let mut sink = Sink::new(1 << 20, true, true, &mut collect);
    read_tables(origin, tables, &mut sink)?;
    let stats = sink.finish()?;
    Ok(Events {
        frame: super::concat_frames(frames)?,
        stats,
    })
}
