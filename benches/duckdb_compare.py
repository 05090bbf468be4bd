#!/usr/bin/env python3
"""DuckDB doing the same jobs on the same files, for comparison with fwlog (needs: pip install duckdb pyarrow).

  decode   read the msg_s column only (the floor for any legacy parser)
  legacy   one regexp_extract over msg_s, then the deny grouping
  struct   the deny grouping over resource-specific columns

Then pyarrow decoding the msg_s column alone (`read_table(columns=["msg_s"])`, its default threads), the
decode-only reference of issue 3.

Usage: python3 benches/duckdb_compare.py DATA_DIR [RUNS]  → prints the median seconds of each job.
"""
import statistics
import sys
import time

import duckdb

d = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
con = duckdb.connect()
con.execute("SET threads TO 2")

JOBS = {
    "decode": f"SELECT count(*), sum(strlen(msg_s)) FROM read_parquet('{d}/legacy.parquet')",
    "legacy": f"""
      WITH p AS (
        SELECT TimeGenerated AS t,
               regexp_extract(msg_s,
                 '^(\\S+)\\s+request from ([0-9a-fA-F.:\\[\\]]+?):(\\d*)(?: to ([^ ]+?):(\\d+))?\\.(?: Url: .*?\\.)? Action: (\\w+)',
                 ['proto', 'src', 'sport', 'dst', 'dport', 'action']) AS m
        FROM read_parquet('{d}/legacy.parquet'))
      SELECT upper(m.proto) AS proto, regexp_replace(m.src, '\\.\\d+$', '.0/24') AS subnet, lower(m.dst) AS dst,
             m.dport, count(*) AS hits, count(DISTINCT m.src) AS sources, min(t)::VARCHAR, max(t)::VARCHAR
      FROM p WHERE m.action = 'Deny' GROUP BY ALL ORDER BY hits DESC""",
    "struct": f"""
      SELECT Type, regexp_replace(SourceIp, '\\.\\d+$', '.0/24') AS subnet, upper(trim(Protocol)) AS proto,
             lower(rtrim(coalesce(nullif(Fqdn, ''), DestinationIp), '.')) AS dst, DestinationPort,
             count(*) AS hits, count(DISTINCT SourceIp) AS sources, min(TimeGenerated)::VARCHAR, max(TimeGenerated)::VARCHAR
      FROM read_parquet('{d}/structured.parquet') WHERE Action = 'Deny' GROUP BY ALL ORDER BY hits DESC""",
}

for name, sql in JOBS.items():
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = con.execute(sql).fetchall()
        times.append(time.perf_counter() - t0)
    print(f"duckdb {name}: median {statistics.median(times):.2f} s over {runs} runs "
          f"(min {min(times):.2f}, max {max(times):.2f}; {len(rows)} result rows)")

import pyarrow.parquet as pq

times = []
for _ in range(runs):
    t0 = time.perf_counter()
    table = pq.read_table(f"{d}/legacy.parquet", columns=["msg_s"])
    times.append(time.perf_counter() - t0)
    del table
print(f"pyarrow decode msg_s: median {statistics.median(times):.2f} s over {runs} runs "
      f"(min {min(times):.2f}, max {max(times):.2f})")
