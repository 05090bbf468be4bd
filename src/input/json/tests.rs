use super::*;
use crate::input::batcher::RowBatcher;
use polars::prelude::*;
use proptest::prelude::{BoxedStrategy, Just, ProptestConfig, Strategy, prop_oneof};

fn read_str(text: &str) -> (DataFrame, crate::event::stats::ReadStats) {
    read_with(text.as_bytes(), CAPS).unwrap()
}

fn read_with(
    bytes: &[u8],
    caps: Caps,
) -> anyhow::Result<(DataFrame, crate::event::stats::ReadStats)> {
    let mut frames = Vec::new();
    let mut on = |df| {
        frames.push(df);
        Ok(())
    };
    let mut batcher = RowBatcher::new(1000, false, true, &mut on);
    read_capped("t.json", bytes, &mut batcher, caps)?;
    let stats = batcher.finish()?;
    Ok((crate::input::concat_frames(frames)?, stats))
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
    let err = read("x.json", &b"{nope\n{nope\n"[..], &mut batcher).unwrap_err();
    assert!(err.to_string().contains("x.json: not valid JSON"), "{err}");
    assert_eq!(crate::error::exit_code(&err), 2);
}

/// A record with a distinct time per line number, so each line is an event of its own.
fn line_record(n: u64) -> String {
    format!(
        r#"{{"time":"2026-01-01T00:{:02}:{:02}Z","category":"AZFWNetworkRule","properties":{{"SourceIp":"10.0.0.1","SourcePort":{n},"DestinationIp":"1.1.1.1","DestinationPort":443,"Action":"Deny"}}}}"#,
        (n / 60) % 60,
        n % 60
    )
}

#[test]
fn line_numbers_stay_exact_over_many_chunks_with_crlf_a_bom_and_no_final_newline() {
    // Far more than one chunk (CHUNK_BYTES), bad lines far apart.
    let total = 30_000u64;
    let bad = [2u64, 9_999, 17_777, 29_999];
    let mut text = String::from("\u{feff}");
    for n in 1..=total {
        if bad.contains(&n) {
            text.push_str("{\"time\": oops");
        } else {
            text.push_str(&line_record(n));
        }
        text.push_str(if n % 3 == 0 { "\r\n" } else { "\n" });
    }
    text.pop();
    assert!(text.len() > 2 * lines::CHUNK_BYTES);
    let (_, st) = read_str(&text);
    assert_eq!(st.records, total - bad.len() as u64);
    let lines: Vec<u64> = st.skip_examples.iter().map(|s| s.line).collect();
    assert_eq!(lines, bad);
    assert!(
        st.skip_examples.iter().all(|s| s
            .reason
            .starts_with("malformed JSON: expected value at line 1 column 10")),
        "{:?}",
        st.skip_examples
    );
}

#[test]
fn a_line_over_the_cap_is_skipped_unread_and_reading_goes_on() {
    let caps = Caps {
        line: 1000,
        document: 10_000,
    };
    let huge = format!("{{\"x\":\"{}\"}}", "y".repeat(5000));
    let text = format!("{}\n{huge}\n{}\n{huge}", line_record(1), line_record(3));
    let (df, st) = read_with(text.as_bytes(), caps).unwrap();
    assert_eq!(df.height(), 2);
    assert_eq!(st.skipped_by_reason["record larger than 1000 bytes"], 2);
    let lines: Vec<u64> = st.skip_examples.iter().map(|s| s.line).collect();
    assert_eq!(lines, vec![2, 4]);
}

#[test]
fn a_document_is_read_whole_under_the_cap_and_refused_over_it() {
    let records: Vec<String> = (1..=40).map(line_record).collect();
    let pretty = serde_json::to_string_pretty(&serde_json::json!({
        "records": records.iter().map(|r| serde_json::from_str::<Value>(r).unwrap()).collect::<Vec<_>>()
    }))
    .unwrap();
    let caps = |document| Caps {
        line: 1 << 20,
        document,
    };
    let (df, st) = read_with(pretty.as_bytes(), caps(pretty.len())).unwrap();
    assert_eq!((df.height(), st.records), (40, 40));
    let e = read_with(pretty.as_bytes(), caps(pretty.len() - 1)).unwrap_err();
    assert_eq!(crate::error::exit_code(&e), 2);
    assert!(
        e.to_string()
            .starts_with("t.json: a JSON document larger than"),
        "{e}"
    );
    // A pretty-printed array of rows (`az` output), read element by element.
    let az = serde_json::to_string_pretty(
        &records
            .iter()
            .map(|r| serde_json::from_str::<Value>(r).unwrap())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let (df, _) = read_with(az.as_bytes(), caps(1 << 20)).unwrap();
    assert_eq!(df.height(), 40);
    // A first line cut short, then records: too large for a document, read as lines.
    let text = format!("{{\"time\": \"2026-\n{}\n", records.join("\n"));
    let (df, st) = read_with(text.as_bytes(), caps(200)).unwrap();
    assert_eq!(df.height(), 40);
    assert_eq!(st.skip_examples[0].line, 1);
    // The same under the cap: the document does not parse, so its lines are read.
    let (df, st) = read_with(text.as_bytes(), caps(1 << 20)).unwrap();
    assert_eq!((df.height(), st.skipped), (40, 1));
}

#[test]
fn a_first_line_longer_than_a_record_is_a_one_line_document() {
    let rows: Vec<String> = (0..50)
        .map(|i| {
            format!(
                r#"["2026-01-01T00:00:{:02}Z","a{i}.example.com","10.0.0.1","Deny"]"#,
                i % 60
            )
        })
        .collect();
    let doc = format!(
        r#"{{"tables":[{{"name":"PrimaryResult","columns":[{{"name":"TimeGenerated"}},{{"name":"Fqdn"}},{{"name":"SourceIp"}},{{"name":"Action"}}],"rows":[{}]}}]}}"#,
        rows.join(",")
    );
    let caps = Caps {
        line: 100,
        document: 1 << 20,
    };
    let (df, st) = read_with(doc.as_bytes(), caps).unwrap();
    assert_eq!(df.height(), 50);
    assert_eq!(st.skipped, 0);
}

/// Lines whose keys test how the typed path resolves fields: it must give what the `Value` path gives.
const TRICKY: &[&str] = &[
    r#"{"time":"2026-01-01T00:00:00Z","TimeGenerated":"2026-01-02T00:00:00Z","SourceIp":"10.0.0.1","Fqdn":"a.example","Action":"Deny"}"#,
    r#"{"time":"2026-01-01T00:00:00Z","TimeGenerated":"2026-01-02T00:00:00Z","time":null,"SourceIp":"10.0.0.1","Fqdn":"a.example","Action":"Deny"}"#,
    r#"{"time":"2026-01-01T00:00:00Z","time":"2026-01-03T00:00:00Z","SourceIp":"10.0.0.1","Fqdn":"a.example","Action":"Deny"}"#,
    r#"{"TIME":"2026-01-01T00:00:00Z","Properties":{"Fqdn":"p.example","SourceIp":null},"properties":{"Fqdn":"q.example"},"SourceIp":"10.0.0.9","Action":"Deny"}"#,
    r#"{"time":"2026-01-01T00:00:00Z","properties":5,"SourceIp":"10.0.0.9","Fqdn":"z.example","Action":"Deny"}"#,
    r#"{"time":"2026-01-01T00:00:00Z","Category":"AZFWNetworkRule","category":"AZFWApplicationRule","properties":{"SourceIp":"10.0.0.1","Fqdn":"c.example","DestinationIp":"1.2.3.4","Action":"Deny"}}"#,
    r#"{"time":"2026-01-01T00:00:00Z","category":{"x":1},"properties":{"SourceIp":"10.0.0.1","Fqdn":"c.example","Action":"Deny"}}"#,
    r#"{"time":"2026-01-01T00:00:00Z","CATEGORY":null,"category":"AZFWApplicationRule","properties":{"SourceIp":"10.0.0.1","Fqdn":"c.example","Action":"Deny"}}"#,
    r#"{"records":5,"time":"2026-01-01T00:00:00Z","SourceIp":"10.0.0.1","Fqdn":"r.example","Action":"Deny"}"#,
    r#"{"records":[1,[2],{"time":"2026-01-01T00:00:00Z","SourceIp":"10.0.0.1","Fqdn":"s\u002eexample","Action":"Deny","records":[]}],"time":"x"}"#,
    r#"{"records":[],"records":[{"time":"2026-01-01T00:00:00Z","SourceIp":"10.0.0.1","Fqdn":"t.example","Action":"Deny"}]}"#,
    r#"[{"TimeGenerated":"2026-01-01T00:00:00Z","SourcePort":"18446744073709551615","DestinationPort":443.0,"SourceIp":"10.0.0.1","DestinationIp":"9.9.9.9","Action":"Deny"},7,null]"#,
    r#"{"TimeGenerated":"2026-01-01T00:00:00Z","SourcePort":18446744073709551615,"SourceIp":"10.0.0.1","DestinationIp":"9.9.9.9","Action":"Deny"}"#,
    r#"{"TimeGenerated":"2026-01-01T00:00:00Z","DestinationPort":-0,"SourceIp":"10.0.0.1","DestinationIp":"9.9.9.9","Action":"Deny"}"#,
    r#"{"TimeGenerated":1767225600000000,"Action":["Deny"],"SourceIp":"10.0.0.1","DestinationIp":"9.9.9.9"}"#,
    r#"{"TimeGenerated":"2026-01-01T00:00:00Z","msg_s":"TCP request from 10.0.0.1:5 to 1.2.3.4:80. Action: Deny. ","Msg":"ignored","SourceIp":"1.1.1.1"}"#,
    r#"{"time":"2026-01-01T00:00:00Z","properties":{"msg":"HTTPS request from 10.0.0.1:5 to \"quoted\".example:443. Action: Deny. No rule matched. Proceeding with default action"}}"#,
    r#"{"time":"2026-01-01T00:00:00Z","properties":{"msg":"Garbled \t text"}}"#,
    r#"{"time":"2026-01-01T00:00:00Z","properties":{"properties":{"Fqdn":"deep.example"},"SourceIp":"10.0.0.1","Fqdn":"shallow.example","Action":"Deny"}}"#,
    r#""just a string""#,
    r#"{}"#,
    r#"{"records":[{"time":"2026-01-01T00:00:00Z","SourceIp":"10.0.0.1","Fqdn":"u.example","Action":"Deny"}]} {"time":"2026-01-01T00:00:01Z","SourceIp":"10.0.0.1","Fqdn":"v.example","Action":"Deny"}"#,
];

/// A part from `lines` through the typed path, and one through `Value`.
fn both_paths(lines: &[&str]) -> (Part, Part) {
    let mut on = |_df| Ok(());
    let batcher = RowBatcher::new(1000, true, true, &mut on);
    let config = batcher.part_config();
    let mut typed = config.builder(16, "t.json");
    let mut plain = config.builder(16, "t.json");
    for (i, line) in lines.iter().enumerate() {
        let n = i as u64 + 1;
        let mut values = Vec::new();
        line_values(serde_json::Deserializer::from_str(line), &mut values).unwrap();
        line_records("t.json", n, line.as_bytes(), &values, &mut typed).unwrap();
        for v in serde_json::Deserializer::from_str(line).into_iter::<Value>() {
            value("t.json", n, &v.unwrap(), &mut plain).unwrap();
        }
    }
    (typed.take().unwrap(), plain.take().unwrap())
}

#[test]
fn the_typed_path_reads_every_line_as_the_value_path_does() {
    let (typed, plain) = both_paths(TRICKY);
    let frame = |p: &Part| p.frame().cloned().unwrap();
    assert_eq!(frame(&typed), frame(&plain));
    assert!(frame(&typed).height() >= 12, "{}", frame(&typed));
    let (ts, ps) = (typed.stats(), plain.stats());
    assert_eq!(ts.skip_examples, ps.skip_examples);
    assert_eq!(ts.unparsed_examples, ps.unparsed_examples);
    assert_eq!((ts.records, ts.skipped), (ps.records, ps.skipped));
}

#[test]
fn properties_without_a_value_for_a_field_leave_the_top_level_one() {
    let lines = [
        r#"{"time":"2026-01-01T00:00:00Z","SourceIp":"10.0.0.9","Fqdn":"a.example","Action":"Deny","properties":{"SourceIp":null,"SOURCEIP":null}}"#,
        r#"{"time":"2026-01-01T00:00:01Z","SourceIp":"10.0.0.9","Fqdn":"b.example","Action":"Deny","properties":{"SourceIp":null,"Fqdn":"c.example","fqdn":null}}"#,
    ];
    let (typed, plain) = both_paths(&lines);
    let frame = |p: &Part| p.frame().cloned().unwrap();
    assert_eq!(frame(&typed), frame(&plain));
    assert_eq!(
        s(&frame(&typed), "source_ip", 0).as_deref(),
        Some("10.0.0.9")
    );
    assert_eq!(
        s(&frame(&typed), "destination", 1).as_deref(),
        Some("c.example")
    );
}

#[test]
fn malformed_lines_are_reported_as_the_json_parser_words_it() {
    for bad in [
        "{broken",
        r#"{"time": "2026-09-07T09:30:00Z", "properties": {"msg": "TCP request from"#,
        r#"{"a":1,}"#,
        r#"{"a":tru}"#,
        r#"{"a":"\x"}"#,
        r#"{"Fqdn":1e999}"#,
        "[1,2",
    ] {
        let mut values = Vec::new();
        let ours = line_values(serde_json::Deserializer::from_str(bad), &mut values).unwrap_err();
        let from_bytes = line_values(
            serde_json::Deserializer::from_slice(bad.as_bytes()),
            &mut values,
        )
        .unwrap_err();
        assert_eq!(ours.to_string(), from_bytes.to_string());
        let theirs = serde_json::from_str::<Value>(bad).unwrap_err();
        assert_eq!(ours.to_string(), theirs.to_string(), "{bad}");
        assert!(values.is_empty());
    }
}

#[test]
fn values_under_keys_not_read_are_only_skipped_over() {
    // `Value` refused a number beyond f64 anywhere in a line; the typed path does not look at values it does not
    // read, so such a line still gives its record.
    let line = r#"{"time":"2026-01-01T00:00:00Z","Extra":1e999,"SourceIp":"10.0.0.1","Fqdn":"a.example","Action":"Deny"}"#;
    let (df, st) = read_str(line);
    assert_eq!((df.height(), st.skipped), (1, 0));
}

/// Keys a generated record draws from (aliases in several spellings, the keys with a role, noise), each with a
/// value that suits it; a generated entry sometimes gets another value instead.
const ENTRIES: &[(&str, &str)] = &[
    ("time", "\"2026-01-01T00:00:00Z\""),
    ("TIME", "\"2026-01-02T03:04:05.123456+00:00\""),
    ("TimeGenerated", "\"2026-01-03T00:00:00Z\""),
    ("timestamp", "1767225600000000"),
    ("category", "\"AZFWApplicationRule\""),
    ("Category", "\"AZFWNetworkRule\""),
    ("CATEGORY", "\"AzureFirewallNetworkRule\""),
    ("Type", "\"AZFWNetworkRule\""),
    ("SourceIp", "\"10.0.0.1\""),
    ("sourceip", "\"10.0.0.2\""),
    ("SourceIP_s", "\"fd10::4\""),
    ("Fqdn", "\"a\\u002eexample\""),
    ("fqdn", "\"B.example.\""),
    ("DestinationIp", "\"1.2.3.4\""),
    ("destination", "\"5.6.7.8\""),
    ("DestinationPort", "443"),
    ("DestinationPort_d", "\"8080\""),
    ("Action", "\"Deny\""),
    ("action", "\"Allow\""),
    ("Action_s", "\"deny\""),
    (
        "msg",
        "\"TCP request from 10.0.0.1:5 to 1.2.3.4:80. Action: Deny. \"",
    ),
    ("msg_s", "\"Garbled text\""),
    ("count_", "3"),
    ("hits", "\"2\""),
    ("kind", "\"network\""),
    ("Extra", "[1,{\"a\":2}]"),
];

fn json_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("\"\"".to_string()),
        Just("-1".to_string()),
        Just("3.5".to_string()),
        Just("18446744073709551615".to_string()),
        Just("[1]".to_string()),
        Just("{\"a\":1}".to_string()),
    ]
}

fn json_object(depth: u32) -> BoxedStrategy<String> {
    let entry = (
        proptest::sample::select(ENTRIES),
        proptest::bool::weighted(0.8),
    )
        .prop_map(|((k, v), keep)| (k.to_string(), keep.then(|| v.to_string())));
    let nested = if depth == 0 {
        Just(None::<(String, String)>).boxed()
    } else {
        prop_oneof![
            2 => Just(None),
            1 => json_object(depth - 1).prop_map(|o| Some(("properties".to_string(), o))),
            1 => json_object(depth - 1).prop_map(|o| Some(("Properties".to_string(), o))),
            1 => proptest::collection::vec(json_object(depth - 1), 0..3)
                .prop_map(|v| Some(("records".to_string(), format!("[{}]", v.join(","))))),
        ]
        .boxed()
    };
    (
        proptest::collection::vec((entry, json_value()), 0..10),
        nested,
        0..10usize,
    )
        .prop_map(|(entries, nested, at)| {
            let mut body: Vec<String> = entries
                .into_iter()
                .map(|((k, v), other)| format!("\"{k}\":{}", v.unwrap_or(other)))
                .collect();
            if let Some((k, v)) = nested {
                body.insert(at.min(body.len()), format!("\"{k}\":{v}"));
            }
            format!("{{{}}}", body.join(","))
        })
        .boxed()
}

proptest::proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..Default::default() })]

    /// Generated lines (duplicate keys, keys of one field in several spellings, nulls, nested records) read
    /// alike through the typed path and through `Value`.
    #[test]
    fn generated_lines_read_alike_on_both_paths(lines in proptest::collection::vec(json_object(2), 1..6)) {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (typed, plain) = both_paths(&refs);
        proptest::prop_assert_eq!(typed.frame().cloned(), plain.frame().cloned());
        let (ts, ps) = (typed.stats(), plain.stats());
        proptest::prop_assert_eq!(&ts.skip_examples, &ps.skip_examples);
        proptest::prop_assert_eq!(&ts.unparsed_examples, &ps.unparsed_examples);
        proptest::prop_assert_eq!((ts.records, ts.events), (ps.records, ps.events));
    }
}

#[test]
fn a_line_that_is_not_utf8_is_skipped_alone() {
    let mut text = format!("{}\n", line_record(1)).into_bytes();
    text.extend_from_slice(b"{\"time\":\"2026-01-01T00:00:00Z\",\"Fqdn\":\"\xff\xfe\"}\n");
    text.extend_from_slice(format!("{}\n", line_record(3)).as_bytes());
    let (df, st) = read_with(&text, CAPS).unwrap();
    assert_eq!(df.height(), 2);
    assert_eq!(st.skipped_by_reason["malformed JSON"], 1);
    assert_eq!(st.skip_examples[0].line, 2);
}
