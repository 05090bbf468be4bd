//! Query-API result tables (`{"tables":[{"name","columns":[{"name","type"}],"rows":[[…]]}]}`), saved to a file or
//! received live: the one reader of that shape. Keys are compared case-insensitively because the older ARM route
//! answers in PascalCase (`Tables`, `Columns`, `Rows`, `ColumnName`).

use polars::prelude::DataFrame;
use serde::de::{self, DeserializeSeed, IgnoredAny};
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
        let index = column_index(name, ti, t.columns.iter().copied())?;
        let table_name = t.name.filter(|n| *n != "PrimaryResult");
        for i in 0..t.rows.len() {
            rowno += 1;
            table_row(&index, table_name, rowno, t.cells(i), sink)?;
        }
    }
    Ok(())
}

/// Where each field is among a table's columns; a table without a time column is an error.
fn column_index<'c>(
    name: &str,
    ti: usize,
    columns: impl Iterator<Item = &'c str>,
) -> anyhow::Result<FieldIndex> {
    let index = FieldIndex::new(columns.map(field_of));
    if !index.has(Field::Time) {
        return Err(user(format!(
            "{name}: table {ti} has no TimeGenerated column; expected Azure Firewall log columns"
        )));
    }
    Ok(index)
}

/// One row of a table (`None`: the row is not an array).
fn table_row(
    index: &FieldIndex,
    table_name: Option<&str>,
    rowno: u64,
    cells: Option<&[Value]>,
    sink: &mut dyn Sink,
) -> anyhow::Result<()> {
    let Some(cells) = cells else {
        sink.skip(rowno, "bad row", &"expected an array of cells");
        return Ok(());
    };
    let get = |f: Field| index.get(f).and_then(|i| cells.get(i)).and_then(val);
    match fields::to_row(&get, table_name) {
        Ok(row) => sink.push(&row, rowno),
        Err(p) => {
            sink.skip(rowno, "bad row", &p);
            Ok(())
        }
    }
}

/// The value of a response's `tables` key, read into the sink as it is parsed: rows one at a time (a saved
/// response holds up to 500,000), never all as `Value`s at once. Reads what [`read_tables`] reads; a table whose
/// rows come before its columns has its rows held until the columns are known.
pub struct TablesSeed<'s> {
    pub name: &'s str,
    pub sink: &'s mut dyn Sink,
    /// The error that stopped reading (a deserializer error cannot carry it).
    pub failed: &'s mut Option<anyhow::Error>,
}

impl TablesSeed<'_> {
    fn fail<E: de::Error>(&mut self, e: anyhow::Error) -> E {
        *self.failed = Some(e);
        E::custom("stopped")
    }
}

impl<'de> DeserializeSeed<'de> for TablesSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for TablesSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of tables")
    }

    fn visit_seq<A: de::SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut rowno = 0u64;
        let mut ti = 0usize;
        loop {
            let table = TableSeed {
                tables: &mut self,
                ti,
                rowno: &mut rowno,
            };
            if seq.next_element_seed(table)?.is_none() {
                return Ok(());
            }
            ti += 1;
        }
    }

    fn visit_map<A: de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Err(self.not_an_array())
    }

    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<(), E> {
        Err(self.not_an_array())
    }
    fn visit_i64<E: de::Error>(mut self, _: i64) -> Result<(), E> {
        Err(self.not_an_array())
    }
    fn visit_u64<E: de::Error>(mut self, _: u64) -> Result<(), E> {
        Err(self.not_an_array())
    }
    fn visit_f64<E: de::Error>(mut self, _: f64) -> Result<(), E> {
        Err(self.not_an_array())
    }
    fn visit_str<E: de::Error>(mut self, _: &str) -> Result<(), E> {
        Err(self.not_an_array())
    }
    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        Err(self.not_an_array())
    }
}

impl TablesSeed<'_> {
    fn not_an_array<E: de::Error>(&mut self) -> E {
        let name = self.name;
        self.fail(user(format!(
            "{name}: \"tables\" is not an array: expected [{{\"columns\":[…],\"rows\":[…]}}]"
        )))
    }
}

/// One table: name, columns, then rows streamed through [`RowsSeed`].
struct TableSeed<'t, 's> {
    tables: &'t mut TablesSeed<'s>,
    ti: usize,
    rowno: &'t mut u64,
}

impl<'de> DeserializeSeed<'de> for TableSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl TableSeed<'_, '_> {
    fn missing<E: de::Error>(self, what: &str) -> E {
        let (name, ti) = (self.tables.name, self.ti);
        self.tables
            .fail(user(format!("{name}: table {ti} has no \"{what}\" array")))
    }
}

impl<'de> de::Visitor<'de> for TableSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a table")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut table_name: Option<String> = None;
        let mut index: Option<FieldIndex> = None;
        let mut columns_seen = false;
        let mut held_rows: Option<Vec<Value>> = None;
        let mut rows_seen = false;
        while let Some(k) = map.next_key::<String>()? {
            if k.eq_ignore_ascii_case("columns") {
                let cols: Value = map.next_value()?;
                let Value::Array(cols) = cols else {
                    return Err(self.missing("columns"));
                };
                let names = cols.iter().map(|c| {
                    key(c, &["name", "ColumnName"])
                        .and_then(Value::as_str)
                        .unwrap_or("")
                });
                match column_index(self.tables.name, self.ti, names) {
                    Ok(i) => index = Some(i),
                    Err(e) => return Err(self.tables.fail(e)),
                }
                columns_seen = true;
            } else if k.eq_ignore_ascii_case("rows") {
                rows_seen = true;
                match &index {
                    Some(index) => {
                        let rows = RowsSeed {
                            index,
                            table_name: table_name.as_deref().filter(|n| *n != "PrimaryResult"),
                            rowno: &mut *self.rowno,
                            sink: &mut *self.tables.sink,
                            failed: &mut *self.tables.failed,
                        };
                        if !map.next_value_seed(rows)? {
                            return Err(self.missing("rows"));
                        }
                    }
                    None => match map.next_value::<Value>()? {
                        Value::Array(rows) => held_rows = Some(rows),
                        _ => return Err(self.missing("rows")),
                    },
                }
            } else if table_name.is_none()
                && (k.eq_ignore_ascii_case("name") || k.eq_ignore_ascii_case("TableName"))
            {
                table_name = map.next_value::<Value>()?.as_str().map(str::to_string);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !columns_seen {
            return Err(self.missing("columns"));
        }
        if !rows_seen {
            return Err(self.missing("rows"));
        }
        if let (Some(rows), Some(index)) = (held_rows, &index) {
            let table_name = table_name.as_deref().filter(|n| *n != "PrimaryResult");
            for r in &rows {
                *self.rowno += 1;
                let cells = r.as_array().map(Vec::as_slice);
                if let Err(e) = table_row(index, table_name, *self.rowno, cells, self.tables.sink) {
                    return Err(self.tables.fail(e));
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Err(self.missing("columns"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(self.missing("columns"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(self.missing("columns"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(self.missing("columns"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(self.missing("columns"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(self.missing("columns"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self.missing("columns"))
    }
}

/// A table's rows, each read and handed on as it is parsed; `false` when the value is not an array.
struct RowsSeed<'r> {
    index: &'r FieldIndex,
    table_name: Option<&'r str>,
    rowno: &'r mut u64,
    sink: &'r mut dyn Sink,
    failed: &'r mut Option<anyhow::Error>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for RowsSeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of rows")
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while let Some(r) = seq.next_element::<Value>()? {
            *self.rowno += 1;
            let cells = r.as_array().map(Vec::as_slice);
            if let Err(e) = table_row(self.index, self.table_name, *self.rowno, cells, self.sink) {
                *self.failed = Some(e);
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(true)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
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

    /// The rows and statistics of a `tables` value read through `Value`, and streamed.
    fn both(tables: &str) -> [Result<(DataFrame, ReadStats), String>; 2] {
        let run = |streamed: bool| {
            let mut frames = Vec::new();
            let mut collect = |df| {
                frames.push(df);
                Ok(())
            };
            let mut batcher = RowBatcher::new(1000, true, true, &mut collect);
            let mut sink = FileSink {
                batcher: &mut batcher,
                name: "r.json",
            };
            let result = if streamed {
                let mut failed = None;
                let mut de = serde_json::Deserializer::from_str(tables);
                let r = TablesSeed {
                    name: "r.json",
                    sink: &mut sink,
                    failed: &mut failed,
                }
                .deserialize(&mut de);
                match failed {
                    Some(e) => Err(e),
                    None => r.map_err(anyhow::Error::from),
                }
            } else {
                read_tables("r.json", &serde_json::from_str(tables).unwrap(), &mut sink)
            };
            let stats = result.and_then(|()| batcher.finish());
            stats
                .and_then(|st| Ok((super::super::concat_frames(frames)?, st)))
                .map_err(|e| e.to_string())
        };
        [run(false), run(true)]
    }

    #[test]
    fn streamed_tables_read_as_whole_ones() {
        let cols =
            r#"[{"name":"TimeGenerated"},{"name":"Fqdn"},{"name":"SourceIp"},{"name":"Action"}]"#;
        let rows = r#"[["2026-01-01T00:00:00Z","a.example","10.0.0.1","Deny"],5,["bad time","b.example","10.0.0.1","Deny"],["2026-01-01T00:00:01Z","c.example","10.0.0.2","Deny"]]"#;
        for doc in [
            format!(r#"[{{"name":"PrimaryResult","columns":{cols},"rows":{rows}}}]"#),
            format!(r#"[{{"rows":{rows},"columns":{cols},"name":"AZFWApplicationRule"}}]"#),
            format!(
                r#"[{{"TableName":"PrimaryResult","Columns":{},"Rows":{rows}}},{{"columns":{cols},"rows":{rows}}}]"#,
                cols.replace("name", "ColumnName")
            ),
            format!(r#"[{{"columns":{cols},"rows":{rows}}},{{"columns":{cols}}}]"#),
            format!(r#"[{{"columns":{cols},"rows":{rows}}},{{"rows":[]}}]"#),
            format!(r#"[{{"columns":{cols},"rows":7}}]"#),
            format!(r#"[{{"columns":[{{"name":"Fqdn"}}],"rows":{rows}}}]"#),
            r#"{"columns":[]}"#.to_string(),
            r#"[5]"#.to_string(),
            r#"[]"#.to_string(),
        ] {
            let [whole, streamed] = both(&doc);
            match (&whole, &streamed) {
                (Ok((wf, ws)), Ok((sf, ss))) => {
                    assert_eq!(wf, sf, "{doc}");
                    assert_eq!(ws.skip_examples, ss.skip_examples, "{doc}");
                    assert_eq!(ws.records, ss.records, "{doc}");
                }
                (Err(w), Err(s)) => assert_eq!(w, s, "{doc}"),
                _ => panic!("{doc}: {whole:?} / {streamed:?}"),
            }
        }
        let [whole, _] = both(&format!(r#"[{{"columns":{cols},"rows":{rows}}}]"#));
        let (df, st) = whole.unwrap();
        assert_eq!((df.height(), st.skipped), (2, 2));
    }
}
