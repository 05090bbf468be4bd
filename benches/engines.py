#!/usr/bin/env python3
"""The deny report done by DuckDB and by polars' streaming engine, for comparison with fwlog.

  python3 benches/engines.py ENGINE SHAPE OUT.json INPUT... [--from T] [--to T] [--by-source-ip]

ENGINE duckdb | polars; SHAPE structured | legacy | json | json-legacy; INPUT Parquet files, or folders / files of
JSON lines (folders are searched for *.json and *.json.gz). Writes OUT.json:
{"engine", "version", "query_s" (the query alone, after imports), "groups": [{kind, source_subnet, protocol,
destination, destination_port, hits, distinct_sources, first_us, last_us}]}.

Both engines get their best formulation of fwlog's default grouping: group by the raw source IP first (few
distinct sources, so the expensive per-event work is one hash aggregation on the raw columns), then roll the
per-source rows up to the source /24 (IPv4) or /64 (IPv6, `--by-source-ip`: the address itself) with hits,
distinct sources and first/last seen. Legacy text goes through one regular expression (DuckDB's
`regexp_extract` with named groups; polars' `str.extract_groups`), plus a `contains` for threat-intel lines.
Every engine uses all cores (DuckDB's default threads = cores; polars' default pool).
"""
import argparse
import glob
import json
import os
import re
import sys
import time

# One regular expression over the legacy text: protocol, source, source port, destination, port, action.
LEGACY_RE = (r"^(?P<proto>\S+)\s+request from (?P<src>[0-9a-fA-F.:\[\]]+?):(?P<sport>\d*)"
             r"(?: to (?P<dst>[^ ]+?):(?P<dport>\d+))?\.(?: Url: .*?\.)? Action: (?P<action>\w+)")
LEGACY_RE_POSITIONAL = re.sub(r"\?P<\w+>", "", LEGACY_RE)  # DuckDB (RE2) names the groups in a list instead


def json_files(inputs):
    out = []
    for i in inputs:
        if os.path.isdir(i):
            out += sorted(glob.glob(os.path.join(i, "**", "*.json"), recursive=True))
            out += sorted(glob.glob(os.path.join(i, "**", "*.json.gz"), recursive=True))
        else:
            out.append(i)
    return out


def us(ts):
    """RFC 3339 `...Z` → µs since the epoch."""
    import datetime as dt
    return int(dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1_000_000)


# -------------------------------------------------------------------------------------------------- DuckDB

def duckdb_job(shape, inputs, frm, to, by_ip):
    import duckdb
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    lit = lambda t: f"TIMESTAMPTZ '{t.replace('T', ' ').replace('Z', '+00')}'"
    window = []
    if frm:
        window.append(f"t >= {lit(frm)}")
    if to:
        window.append(f"t < {lit(to)}")
    where = " AND ".join(window) or "true"
    files = "[" + ", ".join(f"'{f}'" for f in inputs) + "]"
    if shape in ("json", "json-legacy"):
        files = "[" + ", ".join(f"'{f}'" for f in json_files(inputs)) + "]"
    if shape == "structured":
        src = f"""
          SELECT TimeGenerated AS t, Type, Protocol, SourceIp, DestinationIp, DestinationPort, Fqdn, Action
          FROM read_parquet({files})"""
    elif shape == "json":
        props = ("STRUCT(Protocol VARCHAR, SourceIp VARCHAR, SourcePort BIGINT, DestinationIp VARCHAR, "
                 "DestinationPort BIGINT, Fqdn VARCHAR, Action VARCHAR)")
        src = f"""
          SELECT time AS t, category AS Type, properties.Protocol AS Protocol, properties.SourceIp AS SourceIp,
                 properties.DestinationIp AS DestinationIp, properties.DestinationPort AS DestinationPort,
                 properties.Fqdn AS Fqdn, properties.Action AS Action
          FROM read_json({files}, format='newline_delimited',
                         columns={{'time': 'TIMESTAMPTZ', 'category': 'VARCHAR', 'properties': '{props}'}})"""
    if shape in ("structured", "json"):
        per_src = f"""
          SELECT CASE Type WHEN 'AZFWApplicationRule' THEN 'application' ELSE 'network' END AS kind,
                 upper(trim(Protocol)) AS protocol,
                 nullif(lower(rtrim(coalesce(nullif(Fqdn, ''), nullif(DestinationIp, '')), '.')), '') AS destination,
                 CASE WHEN coalesce(nullif(Fqdn, ''), nullif(DestinationIp, '')) IS NULL THEN NULL
                      ELSE DestinationPort END AS port,
                 SourceIp AS src, count(*) AS hits, min(t) AS first, max(t) AS last
          FROM ({src}) WHERE Action = 'Deny' AND {where}
          GROUP BY ALL"""
    else:
        if shape == "legacy":
            src = f"SELECT TimeGenerated AS t, msg_s AS msg FROM read_parquet({files})"
        else:
            src = f"""SELECT time AS t, properties.msg AS msg FROM read_json({files}, format='newline_delimited',
                        columns={{'time': 'TIMESTAMPTZ', 'properties': 'STRUCT(msg VARCHAR)'}})"""
        per_src = f"""
          WITH p AS (
            SELECT t, msg, regexp_extract(msg, '{LEGACY_RE_POSITIONAL}',
                                          ['proto', 'src', 'sport', 'dst', 'dport', 'action']) AS m
            FROM ({src}) WHERE {where})
          SELECT CASE WHEN contains(msg, '. ThreatIntel: ') THEN 'threat-intel'
                      WHEN upper(m.proto) IN ('HTTP', 'HTTPS') THEN 'application' ELSE 'network' END AS kind,
                 upper(m.proto) AS protocol, nullif(lower(m.dst), '') AS destination,
                 CASE WHEN m.dst = '' THEN NULL ELSE m.dport::INTEGER END AS port,
                 m.src AS src, count(*) AS hits, min(t) AS first, max(t) AS last
          FROM p WHERE m.action = 'Deny'
          GROUP BY ALL"""
    subnet = ("src || CASE WHEN contains(src, ':') THEN '/128' ELSE '/32' END" if by_ip else
              "CASE WHEN contains(src, ':') THEN src ELSE regexp_replace(src, '\\.\\d+$', '.0') || '/24' END")
    sql = f"""
      SELECT kind, {subnet} AS subnet, protocol, destination, port, sum(hits)::BIGINT AS hits,
             count(*) AS sources, epoch_us(min(first)) AS first_us, epoch_us(max(last)) AS last_us
      FROM ({per_src}) GROUP BY ALL"""
    t0 = time.perf_counter()
    rows = con.execute(sql).fetchall()
    return time.perf_counter() - t0, duckdb.__version__, rows


# -------------------------------------------------------------------------------------------------- polars

def polars_job(shape, inputs, frm, to, by_ip):
    import polars as pl
    import datetime as dt
    t0 = time.perf_counter()
    cond = []
    ts = lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    if shape == "structured":
        lf = pl.scan_parquet(inputs).select(
            pl.col("TimeGenerated").alias("t"), "Type", "Protocol", "SourceIp", "DestinationIp", "DestinationPort",
            "Fqdn", "Action")
    elif shape == "json":
        props = pl.Struct({"Protocol": pl.String, "SourceIp": pl.String, "SourcePort": pl.Int64,
                           "DestinationIp": pl.String, "DestinationPort": pl.Int64, "Fqdn": pl.String,
                           "Action": pl.String})
        lf = pl.scan_ndjson(json_files(inputs), schema={"time": pl.String, "category": pl.String,
                                                        "properties": props})
        lf = lf.select(pl.col("time").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us").alias("t"),
                       pl.col("category").alias("Type"), pl.col("properties").struct.unnest())
    elif shape == "legacy":
        lf = pl.scan_parquet(inputs).select(pl.col("TimeGenerated").alias("t"), pl.col("msg_s").alias("msg"))
    else:
        lf = pl.scan_ndjson(json_files(inputs), schema={"time": pl.String,
                                                        "properties": pl.Struct({"msg": pl.String})})
        lf = lf.select(pl.col("time").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", time_unit="us").alias("t"),
                       pl.col("properties").struct.field("msg").alias("msg"))
    if frm:
        cond.append(pl.col("t") >= ts(frm))
    if to:
        cond.append(pl.col("t") < ts(to))
    if cond:
        lf = lf.filter(pl.all_horizontal(cond))
    if shape in ("structured", "json"):
        dest = pl.coalesce(pl.col("Fqdn").replace("", None), pl.col("DestinationIp").replace("", None))
        lf = lf.filter(pl.col("Action") == "Deny").select(
            pl.when(pl.col("Type") == "AZFWApplicationRule").then(pl.lit("application"))
              .otherwise(pl.lit("network")).alias("kind"),
            pl.col("Protocol").str.strip_chars().str.to_uppercase().alias("protocol"),
            dest.str.strip_chars_end(".").str.to_lowercase().alias("destination"),
            pl.when(dest.is_null()).then(None).otherwise(pl.col("DestinationPort")).cast(pl.Int64).alias("port"),
            pl.col("SourceIp").alias("src"), "t")
    else:
        m = pl.col("msg").str.extract_groups(LEGACY_RE)
        lf = lf.with_columns(m.alias("m")).filter(pl.col("m").struct.field("action") == "Deny").select(
            pl.when(pl.col("msg").str.contains(". ThreatIntel: ", literal=True)).then(pl.lit("threat-intel"))
              .when(pl.col("m").struct.field("proto").str.to_uppercase().is_in(["HTTP", "HTTPS"]))
              .then(pl.lit("application")).otherwise(pl.lit("network")).alias("kind"),
            pl.col("m").struct.field("proto").str.to_uppercase().alias("protocol"),
            pl.col("m").struct.field("dst").str.to_lowercase().alias("destination"),
            pl.col("m").struct.field("dport").cast(pl.Int64).alias("port"),
            pl.col("m").struct.field("src").alias("src"), "t")
    keys = ["kind", "protocol", "destination", "port"]
    per_src = lf.group_by(keys + ["src"]).agg(pl.len().alias("hits"), pl.col("t").min().alias("first"),
                                              pl.col("t").max().alias("last"))
    if by_ip:
        subnet = pl.col("src") + pl.when(pl.col("src").str.contains(":", literal=True)).then(pl.lit("/128")) \
            .otherwise(pl.lit("/32"))
    else:
        subnet = pl.when(pl.col("src").str.contains(":", literal=True)).then(pl.col("src")) \
            .otherwise(pl.col("src").str.replace(r"\.\d+$", ".0") + "/24")
    out = per_src.with_columns(subnet.alias("subnet")).group_by(keys + ["subnet"]).agg(
        pl.col("hits").sum(), pl.len().alias("sources"), pl.col("first").min(), pl.col("last").max()
    ).collect(engine="streaming")
    rows = [(r["kind"], r["subnet"], r["protocol"], r["destination"], r["port"], r["hits"], r["sources"],
             r["first"].timestamp() * 1_000_000 if r["first"] else None,
             r["last"].timestamp() * 1_000_000 if r["last"] else None) for r in out.iter_rows(named=True)]
    # datetime → µs without float rounding
    rows = [(*r[:7], round(r[7]), round(r[8])) for r in rows]
    return time.perf_counter() - t0, pl.__version__, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine", choices=["duckdb", "polars"])
    ap.add_argument("shape", choices=["structured", "legacy", "json", "json-legacy"])
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--from", dest="frm")
    ap.add_argument("--to")
    ap.add_argument("--by-source-ip", action="store_true")
    a = ap.parse_args()
    job = duckdb_job if a.engine == "duckdb" else polars_job
    secs, version, rows = job(a.shape, a.inputs, a.frm, a.to, a.by_source_ip)
    groups = [dict(kind=r[0], source_subnet=r[1], protocol=r[2], destination=r[3],
                   destination_port=None if r[4] is None else int(r[4]), hits=int(r[5]), distinct_sources=int(r[6]),
                   first_us=int(r[7]), last_us=int(r[8])) for r in rows]
    with open(a.out, "w") as f:
        json.dump({"engine": a.engine, "version": version, "query_s": secs, "groups": groups}, f)
    print(f"{a.engine} {version}: {len(groups)} groups, {sum(g['hits'] for g in groups)} denies, query {secs:.3f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
