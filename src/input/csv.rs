//! Portal "Export to CSV" files (all or displayed columns). Datetime headers carry a ` [UTC]` suffix
//! (`TimeGenerated [UTC]`) and values are ISO or the US-locale display form; both are handled by
//! `crate::event::normalize::time_us`. A row that cannot be read is skipped with its line number.
//!
//! The file is read as a stream; a line longer than [`MAX_LINE_BYTES`] is an error naming it (the CSV reader
//! would otherwise hold all of it).

use std::io::Read;

use super::batcher::RowBatcher;
use super::fields::{self, Field, FieldIndex, Val};
use super::lines::{CappedLines, LineTooLong, MAX_LINE_BYTES};
use crate::error::user;

pub fn read(name: &str, reader: impl Read, batcher: &mut RowBatcher<'_>) -> anyhow::Result<()> {
    read_capped(name, reader, batcher, MAX_LINE_BYTES)
}

fn read_capped(
    name: &str,
    reader: impl Read,
    batcher: &mut RowBatcher<'_>,
    line_cap: usize,
) -> anyhow::Result<()> {
    let mut reader = reader;
    let mut bom = [0u8; 3];
    let n = read_full(&mut reader, &mut bom).map_err(|e| user(format!("{name}: {e}")))?;
    let start: &[u8] = if bom[..n] == *b"\xEF\xBB\xBF" {
        &[]
    } else {
        &bom[..n]
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(CappedLines::new(start.chain(reader), line_cap));
    // A stream that breaks (a damaged .gz) or a line over the cap ends the file with an error; a row the CSV
    // reader cannot make sense of is skipped.
    let fatal = |e: &csv::Error| -> Option<anyhow::Error> {
        let csv::ErrorKind::Io(io) = e.kind() else {
            return None;
        };
        Some(
            match io.get_ref().and_then(|i| i.downcast_ref::<LineTooLong>()) {
                Some(long) => user(format!(
                    "{name}: {long}: expected a CSV export, one row per line (rows are a few hundred bytes)"
                )),
                None => user(format!("{name}: {io}")),
            },
        )
    };
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(fatal(&e)
                .unwrap_or_else(|| user(format!("{name}: cannot read the CSV header: {e}"))));
        }
    };
    let cols: Vec<Option<Field>> = headers
        .iter()
        .map(|h| {
            let h = h.trim();
            let h = h.strip_suffix("[UTC]").map(str::trim_end).unwrap_or(h);
            super::json::field_of(h).or_else(|| (h == "TimeGenerated [UTC]").then_some(Field::Time))
        })
        .collect();
    let index = FieldIndex::new(cols.iter().copied());
    if !fields::has_event_columns(|f| index.has(f)) {
        return Err(user(format!(
            "{name}: none of the expected columns: a CSV export needs \"TimeGenerated [UTC]\" (or TimeGenerated) and \
             msg_s or SourceIp/Fqdn/DestinationIp; found: {}",
            fields::found_columns(headers.iter())
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
                if let Some(fatal) = fatal(&e) {
                    return Err(fatal);
                }
                batcher
                    .stats
                    .skip(name, line.max(2), "malformed CSV row", e);
                continue;
            }
        }
        if record.len() != headers.len() {
            batcher.stats.skip(
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
            Ok(row) => batcher.push(&row, name, line)?,
            Err(p) => batcher.stats.skip(name, line, "bad row", p),
        }
    }
    Ok(())
}

/// Fill `buf` unless the stream ends first; how many bytes were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_export_with_us_locale_times_and_a_ragged_row() {
        let text = "\u{feff}\"TimeGenerated [UTC]\",SourceIp,SourcePort,DestinationIp,DestinationPort,Protocol,Action,Type\n\
                    \"7/18/2025, 12:26:46.737 PM\",10.0.0.1,1000,1.1.1.1,53,UDP,Deny,AZFWNetworkRule\n\
                    oops,only,three\n\
                    2025-07-18T12:27:00Z,10.0.0.2,1001,1.1.1.1,53,UDP,Deny,AZFWNetworkRule\n";
        let mut frames = Vec::new();
        let mut on = |df| {
            frames.push(df);
            Ok(())
        };
        let mut batcher = RowBatcher::new(100, false, true, &mut on);
        read("x.csv", text.as_bytes(), &mut batcher).unwrap();
        let st = batcher.finish().unwrap();
        let df = crate::input::concat_frames(frames).unwrap();
        assert_eq!(df.height(), 2);
        assert_eq!(st.skipped, 1);
        assert_eq!(st.skip_examples[0].line, 3);
        let t = df
            .column("time")
            .unwrap()
            .as_materialized_series()
            .cast(&polars::prelude::DataType::Int64)
            .unwrap();
        assert_eq!(
            t.i64().unwrap().get(0),
            crate::event::normalize::time_us("2025-07-18T12:26:46.737Z")
        );
    }

    #[test]
    fn csv_without_expected_columns_names_the_file() {
        let mut on = |_df| Ok(());
        let mut batcher = RowBatcher::new(100, false, true, &mut on);
        let e = read("fruit.csv", &b"name,colour\nkiwi,green\n"[..], &mut batcher).unwrap_err();
        assert!(
            e.to_string()
                .contains("fruit.csv: none of the expected columns"),
            "{e}"
        );
    }

    #[test]
    fn a_line_over_the_cap_is_an_error_naming_file_and_line() {
        let text = format!(
            "TimeGenerated,SourceIp,DestinationIp,Action\n2025-07-18T12:27:00Z,10.0.0.2,1.1.1.1,Deny\n{}\n",
            "z".repeat(500)
        );
        let mut on = |_df| Ok(());
        let mut batcher = RowBatcher::new(100, false, true, &mut on);
        let e = read_capped("big.csv", text.as_bytes(), &mut batcher, 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "big.csv: line 3 is longer than 100 bytes: expected a CSV export, one row per line (rows are a few \
             hundred bytes)"
        );
        assert_eq!(crate::error::exit_code(&e), 2);
    }
}
