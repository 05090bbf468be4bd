//! Portal "Export to CSV" files (all or displayed columns). Datetime headers carry a ` [UTC]` suffix
//! (`TimeGenerated [UTC]`) and values are ISO or the US-locale display form; both are handled by
//! `crate::event::normalize::time_us`. A row that cannot be read is skipped with its line number.

use super::Sink;
use super::fields::{self, Field, FieldIndex, Val};
use crate::error::user;

pub fn read(name: &str, bytes: Vec<u8>, sink: &mut Sink<'_>) -> anyhow::Result<()> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(body);
    let headers = rdr
        .headers()
        .map_err(|e| user(format!("{name}: cannot read the CSV header: {e}")))?
        .clone();
    let cols: Vec<Option<Field>> = headers
        .iter()
        .map(|h| {
            let h = h.trim();
            let h = h.strip_suffix("[UTC]").map(str::trim_end).unwrap_or(h);
            super::json::field_of(h).or_else(|| (h == "TimeGenerated [UTC]").then_some(Field::Time))
        })
        .collect();
    let index = FieldIndex::new(cols.iter().copied());
    let has = |f: Field| index.has(f);
    let has_event = [
        Field::Msg,
        Field::SourceIp,
        Field::Fqdn,
        Field::DestinationIp,
        Field::QueryName,
    ]
    .iter()
    .any(|f| has(*f));
    if !has(Field::Time) || !has_event {
        return Err(user(format!(
            "{name}: none of the expected columns: a CSV export needs \"TimeGenerated [UTC]\" (or TimeGenerated) and \
             msg_s or SourceIp/Fqdn/DestinationIp; found: {}",
            headers.iter().take(12).collect::<Vec<_>>().join(", ")
        )));
    }
    let table_col = index.get(Field::Table);
    let mut record = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                sink.stats.skip(name, line.max(2), "malformed CSV row", e);
                continue;
            }
        }
        if record.len() != headers.len() {
            sink.stats.skip(
                name,
                line,
                "malformed CSV row",
                format_args!("{} fields, the header has {}", record.len(), headers.len()),
            );
            continue;
        }
        let get = |f: Field| {
            index
                .get(f)
                .and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(Val::Str)
        };
        let table = table_col.and_then(|i| record.get(i));
        match fields::to_row(&get, table) {
            Ok(row) => sink.push(&row, name, line)?,
            Err(p) => sink.stats.skip(name, line, "bad row", p),
        }
    }
    Ok(())
}
