#!/usr/bin/env python3
"""Generate deterministic benchmark inputs for fwlog (never committed; they go to /work/bench-data or OUT_DIR).

Usage:
  python3 benches/gen_data.py OUT_DIR [ROWS]                 # the old call: the `easy` pair (structured + legacy)
  python3 benches/gen_data.py --out OUT_DIR --profile P --shape S --rows N [--name NAME] [--files K] [--gzip]

Profiles (cardinality, see benches/README.md "Realistic data"):
  easy        the original data: ~60 sources in 3 subnets, ~200 destinations, 30 days (2026-08), ~51% denies,
              500k-row row groups, snappy. Byte-identical to the files the earlier numbers were taken on.
  realistic   320 sources in 10 /24 subnets, 2,000 FQDNs with Zipf(1.1) popularity plus 600 network destination
              IPs, fresh random-label hosts (`<guid>.ods.opinsights.azure.com`, …) on 0.2% of events (distinct
              destinations keep growing with the input), ~29% denies decided per (destination, subnet), 7 days
              (2026-10-01 .. 2026-10-08) nearly time-ordered (+-2 s jitter), zstd, 1 Mi-row row groups.
  high        like realistic with 5,000 sources in 200 subnets and 50,000 FQDNs (+15,000 destination IPs).

Shapes:
  structured  AZFWApplicationRule + AZFWNetworkRule rows in one Parquet file (every column of the real tables,
              `Type` says which), as a Log Analytics export of the union gives them.
  legacy      AzureDiagnostics Parquet rows whose msg_s holds the legacy text (application, network, NAT, DNS
              proxy, threat intel, IDS, SNI missing, resolve failure; the variants of the reference notes).
  json        diagnostic-setting archive blobs (JSON lines `{time, resourceId, category, properties}`, structured
              properties), as hourly PT1H.json files under the real blob path (--files K splits into K files:
              K=168 = one per hour of the week; K=1 one file), optionally gzipped.
  json-legacy the same with legacy `properties.msg` records.

Rows are generated in chunks of 1 Mi rows with numpy and written with streaming writers, so memory stays
bounded whatever N (100M rows: ~1.5 GB peak in this script). Every run with the same arguments writes the same
bytes. A NAME.meta.json next to each output records profile, shape, rows, the data's week and the report window.
"""
import argparse
import datetime as dt
import gzip
import json
import os
import random
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CHUNK = 1 << 20
WEEK_START = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
WEEK_US = 7 * 86400 * 1_000_000
START_US = int(WEEK_START.timestamp() * 1_000_000)
# The report window the harness uses for the realistic/high data (five of the seven days).
WINDOW = ("2026-10-02T00:00:00Z", "2026-10-07T00:00:00Z")
SUB = "6C3B1D2A-0000-4000-8000-00000000AB01"
TENANT = "0f3c1c7e-0000-4000-8000-00000000aa01"
FIREWALLS = [f"/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG-HUB-WEU/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/FW-HUB-WEU",
             f"/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/RG-HUB-NEU/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/FW-HUB-NEU"]

PROFILES = {
    "realistic": dict(subnets=10, per_subnet=32, fqdns=2_000, ips=600, zipf=1.1, src_zipf=0.8, guid_share=0.002,
                      deny=0.29, seed=20261001),
    "high": dict(subnets=200, per_subnet=25, fqdns=50_000, ips=15_000, zipf=1.1, src_zipf=0.6, guid_share=0.002,
                 deny=0.29, seed=20261002),
}

# ---------------------------------------------------------------------------------------------------------------
# The model: a fixed world (sources, destinations, which (destination, subnet) pairs are denied) drawn once per
# profile, then events drawn from it chunk by chunk.

REAL_FQDNS = ["mcr.microsoft.com", "westeurope.data.mcr.microsoft.com", "management.azure.com",
              "login.microsoftonline.com", "packages.aks.azure.com", "packages.microsoft.com",
              "acs-mirror.azureedge.net", "aks-weu-dns-4f2a9c1e.hcp.westeurope.azmk8s.io", "registry-1.docker.io",
              "security.ubuntu.com", "azure.archive.ubuntu.com", "md-hdd-xk2lz0q1vw3p.z12.blob.storage.azure.net",
              "dc.services.visualstudio.com", "westeurope.handler.control.monitor.azure.com", "graph.microsoft.com",
              "github.com", "objects.githubusercontent.com", "pypi.org", "files.pythonhosted.org",
              "registry.npmjs.org", "api.snapcraft.io", "motd.ubuntu.com", "ntp.ubuntu.com", "vault.azure.net",
              "stfwlogdemo01.blob.core.windows.net", "global.handler.control.monitor.azure.com"]
WORDS = ["api", "cdn", "login", "data", "edge", "static", "telemetry", "update", "download", "auth", "portal",
         "events", "metrics", "storage", "files", "repo", "mirror", "gateway", "ingest", "config"]
TLDS = ["com", "net", "io", "org", "azure.com", "windows.net", "microsoft.com", "cloudapp.azure.com", "de", "eu"]
GUID_TEMPLATES = [("ods.opinsights.azure.com", True), ("oms.opinsights.azure.com", True),
                  ("agentsvc.azure-automation.net", False), ("blob.core.windows.net", True)]
NET_SERVICES = [("UDP", 123), ("UDP", 53), ("UDP", 1194), ("TCP", 9000), ("TCP", 443), ("TCP", 22), ("TCP", 3389),
                ("TCP", 5671), ("TCP", 8080), ("TCP", 1433), ("TCP", 445), ("UDP", 500)]
RULES = [("fwp-hub-weu", "rcg-aks", "aks-allow", "allow-mcr"), ("fwp-hub-weu", "rcg-aks", "aks-allow", "allow-arm"),
         ("fwp-hub-weu", "rcg-platform", "platform-allow", "allow-monitoring"),
         ("fwp-hub-weu", "rcg-platform", "platform-allow", "Azure-to-AllowedServices, HTTP"),
         ("fwp-hub-weu", "rcg-apps", "apps-allow-web", "allow-github"),
         ("fwp-hub-weu", "DefaultNetworkRuleCollectionGroup", "net-allow", "allow-ntp"),
         ("fwp-hub-weu", "DefaultNetworkRuleCollectionGroup", "net-allow", "allow-dns"),
         ("fwp-hub-weu", "DefaultNetworkRuleCollectionGroup", "net-allow", "allow-tunnel")]
WEB_CATEGORIES = ["", "", "", "ComputersAndTechnology", "SearchEnginesAndPortals", "Business"]


class World:
    def __init__(self, profile):
        p = PROFILES[profile]
        self.p = p
        rng = np.random.default_rng(p["seed"])
        prnd = random.Random(p["seed"])
        # Sources: subnets spread over the private ranges an AKS hub sees (nodes, pods, VMs, on-premises).
        subnets = []
        for s in range(p["subnets"]):
            if s < 4:
                subnets.append(f"10.240.{s}")
            elif s < 8:
                subnets.append(f"10.244.{s - 4}")
            elif s == 8:
                subnets.append("172.16.8")
            elif s == 9:
                subnets.append("192.168.50")
            else:
                subnets.append(f"10.{100 + s // 250}.{s % 250}")
        self.subnets = subnets
        src, src_subnet = [], []
        for si, net in enumerate(subnets):
            hosts = sorted(prnd.sample(range(4, 251), p["per_subnet"]))
            for h in hosts:
                src.append(f"{net}.{h}")
                src_subnet.append(si)
        self.sources = np.array(src, dtype=object)
        self.src_array = pa.array(src, pa.string())
        self.src_subnet = np.array(src_subnet)
        n_src = len(src)
        w = 1.0 / np.arange(1, n_src + 1) ** p["src_zipf"]
        self.src_p = (w / w.sum())[rng.permutation(n_src)]
        # Application destinations: real AKS/Azure names first, then generated ones; Zipf(1.1) over a shuffled
        # order so that the most popular ones are a mix of real and generated names.
        names = list(REAL_FQDNS)
        seen = set(names)
        while len(names) < p["fqdns"]:
            n = f"{prnd.choice(WORDS)}{prnd.randrange(1000)}.{prnd.choice(WORDS)}-{prnd.randrange(100000):05d}.{prnd.choice(TLDS)}"
            if prnd.random() < 0.3:
                n = f"{prnd.choice(WORDS)}.{n}"
            if n not in seen:
                seen.add(n)
                names.append(n)
        n_app = len(names)
        self.fqdns = np.array(names, dtype=object)
        order = rng.permutation(n_app)
        w = 1.0 / np.arange(1, n_app + 1) ** p["zipf"]
        self.fqdn_p = np.empty(n_app)
        self.fqdn_p[order] = w / w.sum()
        self.fqdn_http = rng.random(n_app) < 0.12  # these are asked over HTTP :80, the rest HTTPS :443
        # Network destinations: public IPs, each with one service (protocol, port); Zipf(1.1) too.
        ips, seen = [], set()
        while len(ips) < p["ips"]:
            a = prnd.choice([13, 20, 23, 40, 51, 52, 91, 104, 140, 168, 185, 204])
            ip = f"{a}.{prnd.randrange(256)}.{prnd.randrange(256)}.{prnd.randrange(1, 255)}"
            if ip not in seen:
                seen.add(ip)
                ips.append(ip)
        n_ip = len(ips)
        self.ips = np.array(ips, dtype=object)
        order = rng.permutation(n_ip)
        w = 1.0 / np.arange(1, n_ip + 1) ** p["zipf"]
        self.ip_p = np.empty(n_ip)
        self.ip_p[order] = w / w.sum()
        svc = rng.integers(0, len(NET_SERVICES), n_ip)
        self.ip_proto = np.array([NET_SERVICES[i][0] for i in svc], dtype=object)
        self.ip_port = np.array([NET_SERVICES[i][1] for i in svc], dtype=np.int32)
        # Which (destination, subnet) pairs the firewall denies: per destination allowed everywhere, denied
        # everywhere, or denied for some subnets only (a rule for some source ranges). Classes are drawn, then
        # flipped in a fixed order until the event-weighted deny share is the target.
        self.app_deny = self._deny_matrix(rng, self.fqdn_p * 0.62, n_app)
        self.ip_deny = self._deny_matrix(rng, self.ip_p * 0.38, n_ip)
        self.rules_app = rng.integers(0, 5, n_app)
        self.rules_ip = rng.integers(5, len(RULES), n_ip)

    def _deny_matrix(self, rng, weight, n):
        ns = len(self.subnets)
        cls = rng.choice(3, size=n, p=[0.55, 0.30, 0.15])
        partial = rng.random((n, ns)) < 0.5
        def matrix():
            m = np.zeros((n, ns), dtype=bool)
            m[cls == 1] = True
            m[cls == 2] = partial[cls == 2]
            return m
        m = matrix()
        subnet_w = np.bincount(self.src_subnet, weights=self.src_p, minlength=ns)
        target = self.p["deny"] * weight.sum()
        share = lambda m: float((weight[:, None] * m * subnet_w[None, :]).sum())
        for d in rng.permutation(n):
            s = share(m) if n < 3000 else None
            if s is None:
                break
            if abs(s - target) < 0.004 * weight.sum():
                break
            want = 1 if s < target else 0
            if cls[d] != want and weight[d] < abs(s - target) * 2:
                cls[d] = want
                m = matrix()
        if n >= 3000:  # large worlds: a vectorised greedy pass on the heaviest destinations
            for _ in range(200):
                s = share(m)
                if abs(s - target) < 0.004 * weight.sum():
                    break
                want = 1 if s < target else 0
                cand = np.where(cls != want)[0]
                cand = cand[weight[cand] < abs(s - target)]
                if len(cand) == 0:
                    break
                # Heaviest first, but only as many as close the gap (flipping a fixed share of the candidates
                # overshot and oscillated: the files of the 2026-11-30 baseline have 76% denies in `high`).
                cand = cand[np.argsort(-weight[cand])]
                pick = cand[np.cumsum(weight[cand]) <= abs(s - target)]
                cls[pick if len(pick) else cand[:1]] = want
                m = matrix()
        return m


def guid_labels(rng, n):
    a = rng.integers(0, 2**63, n, dtype=np.int64)
    b = rng.integers(0, 2**63, n, dtype=np.int64)
    return [f"{x:016x}{y:016x}" for x, y in zip(a.tolist(), b.tolist())]


PROTOS = ["HTTP", "HTTPS", "TCP", "UDP"]


def events(world, rows, seed):
    """Yield one dict of columns per chunk of CHUNK rows (the last may be shorter). Text columns are index arrays
    into dictionaries (`take` builds the strings in C++): `dest` indexes FQDNs ++ IPs ++ this chunk's fresh
    random-label names (`dest_dict`)."""
    rng = np.random.default_rng(seed)
    n_fq, n_ip = len(world.fqdns), len(world.ips)
    ip_proto = np.array([PROTOS.index(p) for p in world.ip_proto])
    done = 0
    while done < rows:
        n = min(CHUNK, rows - done)
        idx = np.arange(done, done + n, dtype=np.int64)
        # Nearly time-ordered: evenly spread over the week, +-2 s of jitter, clipped to the week.
        # (float: idx * WEEK_US overflows int64 past ~15M rows)
        t = START_US + (idx * (WEEK_US / rows)).astype(np.int64) + rng.integers(-2_000_000, 2_000_001, n)
        t = np.clip(t, START_US, START_US + WEEK_US - 1)
        src = rng.choice(len(world.sources), size=n, p=world.src_p)
        subnet = world.src_subnet[src]
        app = rng.random(n) < 0.62
        fq = rng.choice(n_fq, size=n, p=world.fqdn_p)
        ip = rng.choice(n_ip, size=n, p=world.ip_p)
        deny = np.where(app, world.app_deny[fq, subnet], world.ip_deny[ip, subnet])
        http = app & world.fqdn_http[fq]
        dport = np.where(app, np.where(http, 80, 443), world.ip_port[ip]).astype(np.int32)
        proto = np.where(app, np.where(http, 0, 1), ip_proto[ip])
        dest = np.where(app, fq, n_fq + ip)
        # Fresh random-label hosts: a new name per event, so distinct destinations grow with the input.
        g = np.flatnonzero(app & (rng.random(n) < world.p["guid_share"] / 0.62))
        tmpl = rng.integers(0, len(GUID_TEMPLATES), len(g))
        labels = guid_labels(rng, len(g))
        fresh = [f"{l}.{GUID_TEMPLATES[k][0]}" for l, k in zip(labels, tmpl.tolist())]
        dest[g] = n_fq + n_ip + np.arange(len(g))
        deny[g] = np.array([GUID_TEMPLATES[k][1] for k in tmpl.tolist()], dtype=bool)
        dport[g] = 443
        proto[g] = 1
        http[g] = False
        # TLS without SNI: denied, no destination.
        sni = app & ~http & (rng.random(n) < 0.003)
        deny = deny | sni
        sport = rng.integers(1024, 65536, n).astype(np.int32)
        rule = np.where(app, world.rules_app[fq], world.rules_ip[ip])
        dest_dict = pa.array(list(world.fqdns) + list(world.ips) + fresh, pa.string())
        yield dict(n=n, t=t, src_idx=src, src_dict=world.src_array, app=app, deny=deny, http=http, dport=dport,
                   proto_idx=proto, dest_idx=dest, dest_dict=dest_dict, sni=sni, sport=sport,
                   rule=rule, fw=(rng.random(n) < 0.2).astype(np.int8),
                   webcat=rng.integers(0, len(WEB_CATEGORIES), n), misc=rng.random(n))
        done += n


PROTO_ARRAY = pa.array(PROTOS, pa.string())


def s(a):
    return pa.array(a, pa.string())


def pick(values, idx):
    """values[idx] as an Arrow string array (values: a short Python list)."""
    return pa.array(values, pa.string()).take(pa.array(idx))


def where(mask, a, b):
    return pc.if_else(pa.array(mask), a, b)


def cat(*parts):
    return pc.binary_join_element_wise(*parts, "")


def dict_col(idx, values, mask=None):
    """A dictionary-encoded string column (indices into `values`; `mask` True = null): the Parquet writer
    writes its dictionary pages straight from it. Files are written without the Arrow schema, so every reader
    sees plain UTF-8 columns, as in an export."""
    if not isinstance(values, pa.Array):
        values = pa.array(values, pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(idx, dtype=np.int32), mask=mask), values)


def const(value, n):
    return dict_col(np.zeros(n, np.int32), [value])


def structured_table(e):
    n, app, deny, http, sni = e["n"], e["app"], e["deny"], e["http"], e["sni"]
    allow = ~deny
    net = ~app
    n_dest = len(e["dest_dict"])
    rule_part = lambda k: dict_col(np.where(allow, e["rule"] + 1, 0), [""] + [r[k] for r in RULES])
    # Fqdn: the destination, or "" (no SNI); null on network rows. TargetUrl: a URL for HTTP rows.
    fqdn_dict = pa.concat_arrays([e["dest_dict"], pa.array([""])])
    url_dict = pa.concat_arrays([pa.array([""]), pc.binary_join_element_wise(
        e["dest_dict"], "/ubuntu/dists/jammy-security/InRelease", "")])
    return pa.table({
        "TenantId": const(TENANT, n),
        "TimeGenerated": pa.array(e["t"], pa.timestamp("us", tz="UTC")),
        "Protocol": dict_col(e["proto_idx"], PROTO_ARRAY),
        "SourceIp": dict_col(e["src_idx"], e["src_dict"]),
        "SourcePort": pa.array(e["sport"], pa.int32()),
        "DestinationIp": dict_col(e["dest_idx"], e["dest_dict"], mask=app),
        "DestinationPort": pa.array(e["dport"], pa.int32()),
        "Fqdn": dict_col(np.where(sni, n_dest, e["dest_idx"]), fqdn_dict, mask=net),
        "TargetUrl": dict_col(np.where(http, e["dest_idx"] + 1, 0), url_dict, mask=net),
        "Action": dict_col(deny.astype(np.int32), ["Allow", "Deny"]),
        "Policy": rule_part(0),
        "RuleCollectionGroup": rule_part(1),
        "RuleCollection": rule_part(2),
        "Rule": rule_part(3),
        "ActionReason": dict_col(np.where(deny, np.where(sni, 2, 1), 0),
                                 ["", "Default Action", "SNI TLS extension was missing"]),
        "IsTlsInspected": pa.array(np.zeros(n, bool), mask=net),
        "WebCategory": dict_col(e["webcat"], WEB_CATEGORIES, mask=net),
        "IsExplicitProxyRequest": pa.array(np.zeros(n, bool), mask=net),
        "SourceSystem": const("Azure", n),
        "Type": dict_col(net.astype(np.int32), ["AZFWApplicationRule", "AZFWNetworkRule"]),
        "_ResourceId": dict_col(e["fw"], [f.lower() for f in FIREWALLS]),
    })


def legacy_messages(e):
    """msg_s text, Category and OperationName for each event (Arrow arrays); ~6.6% of rows become NAT, DNS proxy,
    threat intel, IDS or resolve-failure lines (the events they replace are not rule hits)."""
    n, app, deny, http, sni, misc = e["n"], e["app"], e["deny"], e["http"], e["sni"], e["misc"]
    src = e["src_dict"].take(pa.array(e["src_idx"]))
    dest = e["dest_dict"].take(pa.array(e["dest_idx"]))
    sport, dport = pc.cast(pa.array(e["sport"]), pa.string()), pc.cast(pa.array(e["dport"]), pa.string())
    proto = PROTO_ARRAY.take(pa.array(e["proto_idx"]))
    proto = where(app, pc.utf8_rpad(proto, 5, " "), proto)
    head = cat(proto, " request from ", src, ":", sport)
    to = cat(head, " to ", dest, ":", dport, ".")
    url = where(http, cat(" Url: ", dest, "/ubuntu/dists/InRelease."), "")
    pol = cat(". Policy: ", pick([r[0] for r in RULES], e["rule"]), ". Rule Collection Group: ",
              pick([r[1] for r in RULES], e["rule"]), ". Rule Collection: ", pick([r[2] for r in RULES], e["rule"]),
              ". Rule: ", pick([r[3] for r in RULES], e["rule"]))
    app_tail = where(deny, " Action: Deny. No rule matched. Proceeding with default action", cat(" Action: Allow", pol))
    # Network deny: the 2025+ double dot, a fifth with the older single dot.
    net_deny = where(misc < 0.2, " Action: Deny. ", " Action: Deny.. ")
    net_tail = where(deny, net_deny, cat(" Action: Allow.", pol))
    msg = where(app, cat(to, url, app_tail), cat(to, net_tail))
    msg = where(sni, cat(head, ". Action: Deny. Reason: SNI TLS extension was missing."), msg)
    category = where(app, "AzureFirewallApplicationRule", "AzureFirewallNetworkRule")
    op = where(app, "AzureFirewallApplicationRuleLog", "AzureFirewallNetworkRuleLog")
    # Other log kinds on a slice of `misc` (independent of the rule decision above).
    u = (misc * 1000) % 1.0
    kinds = [
        (u < 0.05, "AzureFirewallDnsProxy", "AzureFirewallDnsProxyLog",
         lambda s, p, d, k: f"DNS Request: {s}:{p} - {k % 65535} A IN {d}. udp 52 false 1232 NOERROR qr,rd,ra 68 0.000092102s"),
        ((u >= 0.05) & (u < 0.06), "AzureFirewallNetworkRule", "AzureFirewallNatRuleLog",
         lambda s, p, d, k: f"TCP request from {s}:{p} to 40.119.154.83:3389 was DNAT'ed to 10.0.2.4:3389. Policy: fwp-hub-weu. Rule Collection Group: DefaultDnatRuleCollectionGroup. Rule Collection: DNAT. Rule: rdp"),
        ((u >= 0.06) & (u < 0.063), "AzureFirewallNetworkRule", "AzureFirewallThreatIntelLog",
         lambda s, p, d, k: (f"HTTP request from {s}:{p} to evil{k % 7}.example.net:80. Url: evil.example.net/x. Action: Deny. ThreatIntel: Bot Networks"
                             if k % 2 else
                             f"TCP request from {s}:{p} to 185.220.101.{k % 9}:443. Action: Deny. ThreatIntel: Known malicious IP")),
        ((u >= 0.063) & (u < 0.065), "AzureFirewallNetworkRule", "AzureFirewallIDSLog",
         lambda s, p, d, k: f"TCP request from {s}:{p} to 175.16.199.1:443. Action: {'drop' if k % 2 else 'alert'}. Signature: 2028816. IDS: JA3 Hash - [Abuse.ch] Possible Tofsee. Priority: 3. Classification: Unknown Traffic"),
        ((u >= 0.065) & (u < 0.066), "AzureFirewallApplicationRule", "AzureFirewallApplicationRuleLog",
         lambda s, p, d, k: f"HTTPS request from {s}:{p} to instance01.westeurope.datafactory.azure.net:443. Action: Deny. Failed to resolve address adf-rt-prd-weeu-01.westeurope.datafactory.azure.net:443: lookup adf-rt-prd-weeu-01.westeurope.datafactory.azure.net on 10.0.0.53:53: no such host"),
    ]
    for mask, c, o, build in kinds:
        rows = np.flatnonzero(mask)
        if not len(rows):
            continue
        ix = pa.array(rows)
        texts = [build(a, b, d, int(b)) for a, b, d in zip(src.take(ix).to_pylist(), sport.take(ix).to_pylist(),
                                                          dest.take(ix).to_pylist())]
        full = [None] * n
        for r, t in zip(rows.tolist(), texts):
            full[r] = t
        m = pa.array(mask)
        msg = pc.if_else(m, pa.array(full, pa.string()), msg)
        category = pc.if_else(m, c, category)
        op = pc.if_else(m, o, op)
    return msg, category, op


def legacy_table(e):
    n = e["n"]
    msg, category, op = legacy_messages(e)
    return pa.table({
        "TenantId": const(TENANT, n),
        "SourceSystem": const("Azure", n),
        "TimeGenerated": pa.array(e["t"], pa.timestamp("us", tz="UTC")),
        "ResourceId": dict_col(e["fw"], FIREWALLS),
        "Category": category,
        "OperationName": op,
        "msg_s": msg,
        "SubscriptionId": const(SUB, n),
        "ResourceGroup": dict_col(e["fw"], [f.split("/")[4] for f in FIREWALLS]),
        "ResourceProvider": const("MICROSOFT.NETWORK", n),
        "Resource": dict_col(e["fw"], [f.rsplit("/", 1)[1] for f in FIREWALLS]),
        "ResourceType": const("AZUREFIREWALLS", n),
        "Type": const("AzureDiagnostics", n),
        "_ResourceId": dict_col(e["fw"], [f.lower() for f in FIREWALLS]),
    })


def iso_times(t_us, digits=6, z="+00:00"):
    """RFC 3339 text of µs timestamps, vectorised (the archive's 6-digit `+00:00` or 7-digit `Z` forms)."""
    arr = pa.array(t_us // 1_000_000, pa.timestamp("s"))
    base = pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S")
    frac = pc.utf8_lpad(pc.cast(pa.array(t_us % 1_000_000), pa.string()), 6, "0")
    if digits == 7:
        frac = pc.binary_join_element_wise(frac, "0", "")
    return pc.binary_join_element_wise(base, ".", frac, z, "")


def q(a):
    """JSON string literal of each value (values here need no escaping except in `Rule` with no quotes)."""
    return pc.binary_join_element_wise('"', a, '"', "")


def json_lines(e, legacy):
    """One JSON-lines record per event (pyarrow string array), keys in the archive's orders."""
    fw = pick(FIREWALLS, e["fw"])
    if legacy:
        msg, category, op = legacy_messages(e)
        t = iso_times(e["t"], 7, "Z")
        return pc.binary_join_element_wise(
            '{"category":', q(category), ',"operationName":', q(op), ',"properties":{"msg":', q(msg),
            '},"resourceId":', q(fw), ',"time":', q(t), "}", "")
    tb = structured_table(e)
    t = iso_times(e["t"])
    app = pa.array(e["app"])
    def col(c):
        a = tb.column(c).combine_chunks()
        return a.dictionary_decode() if pa.types.is_dictionary(a.type) else a
    num = lambda c: pc.cast(col(c), pa.string())
    common_tail = [',"Action":', q(col("Action")), ',"Policy":', q(col("Policy")), ',"RuleCollectionGroup":',
                   q(col("RuleCollectionGroup")), ',"RuleCollection":', q(col("RuleCollection")), ',"Rule":',
                   q(col("Rule")), ',"ActionReason":', q(col("ActionReason"))]
    head = ['{"time":', q(t), ',"resourceId":', q(fw), ',"category":', q(col("Type")), ',"properties":{"Protocol":',
            q(col("Protocol")), ',"SourceIp":', q(col("SourceIp")), ',"SourcePort":', num("SourcePort")]
    app_line = pc.binary_join_element_wise(
        *head, ',"DestinationPort":', num("DestinationPort"), ',"Fqdn":', q(pc.fill_null(col("Fqdn"), "")),
        ',"TargetUrl":', q(pc.fill_null(col("TargetUrl"), "")), *common_tail,
        ',"IsTlsInspected":false,"WebCategory":', q(pc.fill_null(col("WebCategory"), "")),
        ',"IsExplicitProxyRequest":false}}', "")
    net_line = pc.binary_join_element_wise(
        *head, ',"DestinationIp":', q(pc.fill_null(col("DestinationIp"), "")), ',"DestinationPort":',
        num("DestinationPort"), *common_tail, "}}", "")
    return pc.if_else(app, app_line, net_line)


# ---------------------------------------------------------------------------------------------------------------

def write_meta(path, **meta):
    with open(path + ".meta.json", "w") as f:
        json.dump(meta, f, indent=1)


def gen_parquet(world, out, name, rows, shape, seed):
    path = os.path.join(out, name + ".parquet")
    writer = None
    for e in events(world, rows, seed):
        tb = structured_table(e) if shape == "structured" else legacy_table(e)
        if writer is None:
            writer = pq.ParquetWriter(path + ".tmp", tb.schema, compression="zstd", store_schema=False)
        writer.write_table(tb, row_group_size=CHUNK)
    writer.close()
    os.replace(path + ".tmp", path)
    return path


def gen_json(world, out, name, rows, legacy, files, gz, seed):
    root = os.path.join(out, name)
    fw = FIREWALLS[0]
    hours_per_file = max(1, 168 // files) if files > 1 else 168
    handles = {}
    def handle(h):
        key = h // hours_per_file if files > 1 else 0
        if key not in handles:
            for old in list(handles.values()):
                old.close()
            handles.clear()
            if files > 1:
                ts = WEEK_START + dt.timedelta(hours=key * hours_per_file)
                d = os.path.join(root, f"resourceId={fw}", f"y={ts:%Y}", f"m={ts:%m}", f"d={ts:%d}", f"h={ts:%H}",
                                 "m=00")
            else:
                d = root
            os.makedirs(d, exist_ok=True)
            p = os.path.join(d, "PT1H.json" + (".gz" if gz else ""))
            handles[key] = gzip.open(p, "wb", compresslevel=6, mtime=0) if gz else open(p, "wb")
        return handles[key]
    done = 0
    for e in events(world, rows, seed):
        lines = json_lines(e, legacy)
        # Hour of each row's nominal (unjittered) time: blobs hold what arrived in their hour, so a few events
        # at the edges belong to the neighbouring hour (as in real archives).
        hour = ((np.arange(done, done + e["n"]) * 168) // rows)
        cuts = np.flatnonzero(np.diff(hour)) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, e["n"]]):
            f = handle(int(hour[a]))
            chunk = lines.slice(a, b - a)
            f.write(("\n".join(chunk.to_pylist()) + "\n").encode())
        done += e["n"]
    for h in handles.values():
        h.close()
    return root


def easy(out, rows):
    """The original generator, unchanged (so `easy` reproduces the files the earlier numbers were taken on)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("gen_easy", os.path.join(os.path.dirname(__file__),
                                                                           "gen_easy.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.argv = [sys.argv[0], out, str(rows)]
    spec.loader.exec_module(mod)
    for shape in ("structured", "legacy"):
        write_meta(os.path.join(out, f"{shape}.parquet"), profile="easy", shape=shape, rows=rows,
                   data_from="2026-08-01T00:00:00Z", data_to="2026-08-31T00:00:00Z", window=None)


def main():
    if len(sys.argv) >= 2 and not sys.argv[1].startswith("-"):
        return easy(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10_000_000)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--profile", choices=["easy", *PROFILES], required=True)
    ap.add_argument("--shape", choices=["structured", "legacy", "json", "json-legacy"], default="structured")
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--name", help="output name (default PROFILE-SHAPE-ROWS)")
    ap.add_argument("--files", type=int, default=168, help="json shapes: number of files (168 = hourly, 1 = one)")
    ap.add_argument("--gzip", action="store_true", help="json shapes: gzip each file")
    ap.add_argument("--seed", type=int, default=1, help="event seed (the world is fixed per profile)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    if a.profile == "easy":
        return easy(a.out, a.rows)
    name = a.name or f"{a.profile}-{a.shape}-{human(a.rows)}"
    world = World(a.profile)
    seed = hash((a.profile, a.shape)) if False else a.seed * 1_000_003 + len(a.shape)
    if a.shape in ("structured", "legacy"):
        path = gen_parquet(world, a.out, name, a.rows, a.shape, seed)
    else:
        path = gen_json(world, a.out, name, a.rows, a.shape == "json-legacy", a.files, a.gzip, seed)
    write_meta(path, profile=a.profile, shape=a.shape, rows=a.rows, files=a.files if "json" in a.shape else 1,
               gzip=a.gzip, data_from="2026-10-01T00:00:00Z", data_to="2026-10-08T00:00:00Z", window=list(WINDOW))
    print(f"wrote {a.rows} rows to {path}", file=sys.stderr)


def human(n):
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n % div == 0 and n >= div:
            return f"{n // div}{unit}"
    return str(n)


if __name__ == "__main__":
    main()
