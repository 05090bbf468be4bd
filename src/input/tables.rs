//! Query-API result tables (`{"tables":[{"name","columns":[{"name","type"}],"rows":[[…]]}]}`), saved to a file or
//! received live: the one reader of that shape. Keys are compared case-insensitively because the older ARM route
//! answers in PascalCase (`Tables`, `Columns`, `Rows`, `ColumnName`).

use polars::prelude::DataFrame;
use serde_json::Value;

use super::batcher::{FileSink, RowBatcher, Sink};
use super::fields::{self, Field, FieldIndex};
use super::json::{field_of, val};
use crate::error::user;
use crate::event::stats::ReadStats;

fn key<'a>(v: &'a Value, names: &[&str]) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
        .map(|(_, v)| v)
}

/// One table of a response: its name, column names and rows (arrays of cells).
#[derive(Debug, Clone)]
pub struct ResultTable<'a> {
    pub name: Option<&'a str>,
    pub columns: Vec<&'a str>,
    pub rows: &'a [Value],
}

impl<'a> ResultTable<'a> {
    /// Position of a column, by name compared case-insensitively.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }

    /// The cells of row `i`, or `None` when the row is not an array.
    pub fn cells(&self, i: usize) -> Option<&'a [Value]> {
        self.rows.get(i)?.as_array().map(Vec::as_slice)
    }
}

/// The tables of a response body; an error names `origin` and the shape expected.
pub fn result_tables<'a>(origin: &str, body: &'a Value) -> anyhow::Result<Vec<ResultTable<'a>>> {
    let tables = key(body, &["tables"]).ok_or_else(|| {
        user(format!(
            "{origin}: response has no \"tables\": expected {{\"tables\":[{{\"columns\":[…],\"rows\":[…]}}]}}"
        ))
    })?;
    tables_of(origin, tables)
}

fn tables_of<'a>(origin: &str, tables: &'a Value) -> anyhow::Result<Vec<ResultTable<'a>>> {
    let Value::Array(tables) = tables else {
        return Err(user(format!(
            "{origin}: \"tables\" is not an array: expected [{{\"columns\":[…],\"rows\":[…]}}]"
        )));
    };
    tables
        .iter()
        .enumerate()
        .map(|(ti, t)| {
            let cols = key(t, &["columns"])
                .and_then(Value::as_array)
                .ok_or_else(|| user(format!("{origin}: table {ti} has no \"columns\" array")))?;
            let rows = key(t, &["rows"])
                .and_then(Value::as_array)
                .ok_or_else(|| user(format!("{origin}: table {ti} has no \"rows\" array")))?;
            Ok(ResultTable {
                name: key(t, &["name", "TableName"]).and_then(Value::as_str),
                columns: cols
                    .iter()
                    .map(|c| {
                        key(c, &["name", "ColumnName"])
                            .and_then(Value::as_str)
                            .unwrap_or("")
                    })
                    .collect(),
                rows,
            })
        })
        .collect()
}

/// Read every table of a response into `sink`. Row numbers in skip reports count rows across tables from 1.
pub fn read_tables(name: &str, tables: &Value, sink: &mut dyn Sink) -> anyhow::Result<()> {
    let mut rowno = 0u64;
    for (ti, t) in tables_of(name, tables)?.iter().enumerate() {
        let index = FieldIndex::new(t.columns.iter().map(|c| field_of(c)));
        if !index.has(Field::Time) {
            return Err(user(format!(
                "{name}: table {ti} has no TimeGenerated column; expected Azure Firewall log columns"
            )));
        }
        let table_name = t.name.filter(|n| *n != "PrimaryResult");
        for i in 0..t.rows.len() {
            rowno += 1;
            let Some(cells) = t.cells(i) else {
                sink.skip(rowno, "bad row", &"expected an array of cells");
                continue;
            };
            let get = |f: Field| index.get(f).and_then(|i| cells.get(i)).and_then(val);
            match fields::to_row(&get, table_name) {
                Ok(row) => sink.push(&row, rowno)?,
                Err(p) => sink.skip(rowno, "bad row", &p),
            }
        }
    }
    Ok(())
}

/// Canonical rows of one Query-API response body, every row kept (used by `fwlog fetch`).
pub fn canonical_from_query_response(
    body: &Value,
    origin: &str,
) -> anyhow::Result<(DataFrame, ReadStats)> {
    let tables = key(body, &["tables"])
        .ok_or_else(|| user(format!("{origin}: response has no \"tables\"")))?;
    let mut frames = Vec::new();
    let mut collect = |df| {
        frames.push(df);
        Ok(())
    };
    let mut batcher = RowBatcher::new(1 << 20, true, true, &mut collect);
    read_tables(
        origin,
        tables,
        &mut FileSink {
            batcher: &mut batcher,
            name: origin,
        },
    )?;
    let stats = batcher.finish()?;
    Ok((super::concat_frames(frames)?, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_read_with_any_key_case() {
        let body: Value = serde_json::from_str(
            r#"{"Tables":[{"TableName":"PrimaryResult","Columns":[{"ColumnName":"Hour"},{"ColumnName":"Rows"}],
                "Rows":[["2026-01-01T00:00:00Z",5]]}]}"#,
        )
        .unwrap();
        let t = result_tables("x", &body).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].columns, vec!["Hour", "Rows"]);
        assert_eq!(t[0].column("rows"), Some(1));
        assert_eq!(t[0].cells(0).unwrap()[1], 5);
        let bad: Value = serde_json::from_str(r#"{"tables":{"rows":[]}}"#).unwrap();
        let e = result_tables("la", &bad).unwrap_err().to_string();
        assert!(e.contains("la: \"tables\" is not an array"), "{e}");
        let none: Value = serde_json::from_str(r#"{"value":[]}"#).unwrap();
        assert!(result_tables("la", &none).is_err());
    }
}
