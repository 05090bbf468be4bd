#!/usr/bin/env python3
"""Generate the benchmark inputs (not committed; 10M rows each by default):

  structured.parquet   AZFWApplicationRule + AZFWNetworkRule columns (union, `Type` says which table)
  legacy.parquet       AzureDiagnostics rows whose msg_s holds a realistic mix of legacy message variants

Usage: python3 benches/gen_easy.py OUT_DIR [ROWS]  (or gen_data.py --profile easy)   (needs: pip install pyarrow)
Deterministic (fixed seed). Events spread over 30 days, ~60 sources in 3 subnets, ~200 destinations.
"""
import datetime as dt
import os
import random
import sys

import pyarrow as pa
import pyarrow.parquet as pq

out = sys.argv[1]
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000
CHUNK = 500_000
rnd = random.Random(42)
os.makedirs(out, exist_ok=True)
START = int(dt.datetime(2026, 8, 1, tzinfo=dt.timezone.utc).timestamp() * 1_000_000)
SPAN = 30 * 86400 * 1_000_000
SOURCES = [f"10.240.{s}.{h}" for s in (0, 1) for h in range(4, 24)] + [f"10.244.1.{h}" for h in range(2, 22)]
FQDNS = (["mcr.microsoft.com", "westeurope.data.mcr.microsoft.com", "management.azure.com",
          "login.microsoftonline.com", "packages.aks.azure.com", "packages.microsoft.com",
          "aks-weu-dns-4f2a9c1e.hcp.westeurope.azmk8s.io", "registry-1.docker.io", "security.ubuntu.com",
          "md-hdd-xk2lz0q1vw3p.z12.blob.storage.azure.net"]
         + [f"app{i}.contoso{i % 17}.com" for i in range(150)])
IPS = ["20.50.1.2", "91.189.91.157", "168.63.129.16"] + [f"52.{i % 200}.{i % 13}.{i}" for i in range(40)]
POLICY = ". Policy: fwp-hub-weu. Rule Collection Group: rcg-aks. Rule Collection: aks-allow. Rule: allow, web"


def legacy_msg(r, src, sport):
    if r < 0.25:
        return (f"HTTPS request from {src}:{sport} to {rnd.choice(FQDNS)}:443. Action: Deny. "
                "No rule matched. Proceeding with default action")
    if r < 0.40:
        return f"HTTPS request from {src}:{sport} to {rnd.choice(FQDNS)}:443. Action: Allow{POLICY}"
    if r < 0.45:
        h = rnd.choice(FQDNS)
        return f"HTTP  request from {src}:{sport} to {h}:80. Url: {h}/ubuntu/dists/InRelease. Action: Deny. No rule matched. Proceeding with default action"
    if r < 0.65:
        return f"{rnd.choice(['TCP', 'UDP'])} request from {src}:{sport} to {rnd.choice(IPS)}:{rnd.choice([1194, 9000, 123, 443])}. Action: Deny.. "
    if r < 0.85:
        return f"TCP request from {src}:{sport} to {rnd.choice(IPS)}:443. Action: Allow.. Policy: fwp. Rule Collection Group: rcg. Rule Collection: net. Rule: allow-net"
    if r < 0.90:
        return f"TCP request from {src}:{sport} to 40.119.154.83:3389 was DNAT'ed to 10.0.2.4:3389. Policy: p. Rule Collection Group: g. Rule Collection: DNAT. Rule: rdp"
    if r < 0.97:
        return f"DNS Request: {src}:{sport} - {sport % 65535} A IN {rnd.choice(FQDNS)}. udp 52 false 1232 NOERROR qr,rd,ra 68 0.000092102s"
    if r < 0.98:
        return f"HTTP request from {src}:{sport} to evil{sport % 9}.example.net:80. Url: evil.example.net. Action: Deny. ThreatIntel: Bot Networks"
    if r < 0.99:
        return f"TCP request from {src}:{sport} to 175.16.199.1:443. Action: drop. Signature: 2028816. IDS: JA3 Hash - [Abuse.ch] Possible Tofsee. Priority: 3. Classification: Unknown Traffic"
    return f"HTTPS request from {src}:{sport}. Action: Deny. Reason: SNI TLS extension was missing."


def chunks():
    done = 0
    while done < rows:
        n = min(CHUNK, rows - done)
        yield n
        done += n


lw = sw = None
for n in chunks():
    times = [START + rnd.randrange(SPAN) for _ in range(n)]
    srcs = [rnd.choice(SOURCES) for _ in range(n)]
    sports = [rnd.randrange(1024, 65535) for _ in range(n)]
    kinds = [rnd.random() for _ in range(n)]
    msgs = [legacy_msg(kinds[i], srcs[i], sports[i]) for i in range(n)]
    legacy = pa.table({
        "TimeGenerated": pa.array(times, pa.timestamp("us", tz="UTC")),
        "Category": ["AzureFirewallNetworkRule"] * n,
        "OperationName": ["AzureFirewallNetworkRuleLog"] * n,
        "msg_s": msgs,
        "Type": ["AzureDiagnostics"] * n,
    })
    app = [k < 0.45 for k in kinds]
    deny = [k < 0.25 or 0.40 <= k < 0.65 or k > 0.99 for k in kinds]
    structured = pa.table({
        "TimeGenerated": pa.array(times, pa.timestamp("us", tz="UTC")),
        "Type": ["AZFWApplicationRule" if a else "AZFWNetworkRule" for a in app],
        "Protocol": ["HTTPS" if a else "TCP" for a in app],
        "SourceIp": srcs,
        "SourcePort": sports,
        "DestinationIp": ["" if a else rnd.choice(IPS) for a in app],
        "DestinationPort": [443 if a else rnd.choice([1194, 9000, 123, 443]) for a in app],
        "Fqdn": [rnd.choice(FQDNS) if a else "" for a in app],
        "Action": ["Deny" if d else "Allow" for d in deny],
        "ActionReason": ["Default Action" if d else "" for d in deny],
        "Policy": ["" if d else "fwp-hub-weu" for d in deny],
        "Rule": ["" if d else "allow-web" for d in deny],
    })
    if lw is None:
        lw = pq.ParquetWriter(os.path.join(out, "legacy.parquet"), legacy.schema)
        sw = pq.ParquetWriter(os.path.join(out, "structured.parquet"), structured.schema)
    lw.write_table(legacy)
    sw.write_table(structured)
lw.close()
sw.close()
print(f"wrote {rows} rows to {out}/legacy.parquet and {out}/structured.parquet")
