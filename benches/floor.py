#!/usr/bin/env python3
"""The decode floor of the structured deny report: how long DuckDB and polars take only to decode the columns
the report reads, against DuckDB's whole report query. Whatever reads the file through polars' decoder cannot
be faster than the decode alone, which bounds what the per-row work may cost for a target (benches/README.md,
"Why the targets not met are not met").

  python3 benches/floor.py [FILE] [--runs 3]

Prints medians of alternated runs, in seconds. Needs: pip install duckdb polars.
"""
import argparse
import statistics
import time

import duckdb
import polars as pl

COLS = ["TimeGenerated", "Protocol", "SourceIp", "SourcePort", "DestinationIp", "DestinationPort", "Fqdn",
        "Action", "Type"]
FROM, TO = "2026-10-02T00:00:00Z", "2026-10-07T00:00:00Z"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file", nargs="?", default="/work/bench-data/realistic-structured-10M.parquet")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    f = a.file
    con = duckdb.connect()
    # Sums over every column force DuckDB to decode them (count(*) alone is answered from metadata).
    sums = ("sum(length(Protocol)), sum(length(SourceIp)), sum(SourcePort), sum(length(DestinationIp)), "
            "sum(DestinationPort), sum(length(Fqdn)), sum(length(Action)), sum(length(Type)), max(TimeGenerated)")
    window = f"Action = 'Deny' AND TimeGenerated >= TIMESTAMPTZ '{FROM}' AND TimeGenerated < TIMESTAMPTZ '{TO}'"
    report = f"""
      SELECT kind, src, protocol, destination, port, count(*) AS hits, min(t), max(t) FROM (
        SELECT TimeGenerated AS t,
               CASE Type WHEN 'AZFWApplicationRule' THEN 'application' ELSE 'network' END AS kind,
               upper(trim(Protocol)) AS protocol, SourceIp AS src,
               nullif(lower(rtrim(coalesce(nullif(Fqdn, ''), nullif(DestinationIp, '')), '.')), '') AS destination,
               DestinationPort AS port
        FROM read_parquet('{f}') WHERE {window}) GROUP BY ALL"""
    jobs = {
        "polars: decode the 9 columns (streaming engine)":
            lambda: pl.scan_parquet(f).select(COLS).collect(engine="streaming"),
        "polars: decode the 9 columns (read_parquet)": lambda: pl.read_parquet(f, columns=COLS),
        "duckdb: decode the 9 columns": lambda: con.execute(f"SELECT {sums} FROM read_parquet('{f}')").fetchall(),
        "duckdb: decode them with the deny/window filter pushed down":
            lambda: con.execute(f"SELECT {sums} FROM read_parquet('{f}') WHERE {window}").fetchall(),
        "duckdb: the report's query (group by source, no subnet roll-up)":
            lambda: con.execute(report).fetchall(),
    }
    times = {k: [] for k in jobs}
    for _ in range(a.runs):
        for k, job in jobs.items():
            t = time.perf_counter()
            job()
            times[k].append(time.perf_counter() - t)
    for k, ts in times.items():
        print(f"{statistics.median(ts):6.3f}  {k}")


if __name__ == "__main__":
    main()
