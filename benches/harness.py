#!/usr/bin/env python3
"""Side-by-side deny-report benchmark: fwlog, DuckDB and polars' streaming engine on the same inputs, alternated,
with wall time, CPU time and peak RSS of every process (`/usr/bin/time -v`), and a check that all three return
the same groups (keys, hits, distinct sources, first/last seen: exact, or the run fails).

  python3 benches/harness.py --bin PATH/TO/fwlog [--data /work/bench-data] [--runs 3] [--out DIR] DATASET...

Datasets (files from benches/make_data.sh; see benches/README.md):
  easy-structured easy-legacy         the old 10M-row files (no window), for comparing with the earlier numbers
  realistic-10M realistic-100M        AZFW* Parquet, realistic cardinality, window 2026-10-02 .. 2026-10-07
  realistic-300M                      the 100M file given three times (fwlog drops the copies as duplicates)
  high-10M high-100M                  5,000 sources / 50,000 FQDNs
  legacy-10M                          AzureDiagnostics msg_s, realistic cardinality
  json-10M                            10M JSON-lines records in 168 hourly PT1H.json files
  json-small                          one PT1H.json of 10k, 20k, 40k and 80k records (fwlog's JSON reader growth)
  startup                             a 1,000-row Parquet file (fwlog start-up; 10 runs at least)
  all                                 everything above but the 100M/300M ones

Writes OUT/raw.jsonl (every run), OUT/results.md (medians, checks, targets) and OUT/out/* (each tool's groups);
OUT defaults to DATA/results/<UTC time>. Exits 1 when any check failed.
"""
import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WINDOW = ["--from", "2026-10-02T00:00:00Z", "--to", "2026-10-07T00:00:00Z"]

# name: (inputs relative to DATA, shape, window?, fwlog modes, engine modes, copies)
FULL = ["default", "by-source-ip", "keep-duplicates"]
DATASETS = {
    "easy-structured": (["easy/structured.parquet"], "structured", False, ["default"], ["subnet"], 1),
    "easy-legacy": (["easy/legacy.parquet"], "legacy", False, ["default"], ["subnet"], 1),
    "realistic-10M": (["realistic-structured-10M.parquet"], "structured", True, FULL, ["subnet", "source"], 1),
    "realistic-100M": (["realistic-structured-100M.parquet"], "structured", True, FULL, ["subnet", "source"], 1),
    "realistic-300M": (["realistic-structured-100M.parquet"] * 3, "structured", True, ["default", "keep-duplicates"],
                       ["subnet"], 3),
    "high-10M": (["high-structured-10M.parquet"], "structured", True, FULL, ["subnet", "source"], 1),
    "high-100M": (["high-structured-100M.parquet"], "structured", True, ["default"], ["subnet"], 1),
    "legacy-10M": (["realistic-legacy-10M.parquet"], "legacy", True, ["default", "by-source-ip"], ["subnet", "source"], 1),
    "json-10M": (["realistic-json-10M"], "json", True, ["default"], ["subnet"], 1),
    "json-10k": (["json-10k"], "json", True, ["default"], ["subnet"], 1),
    "json-20k": (["json-20k"], "json", True, ["default"], ["subnet"], 1),
    "json-40k": (["json-40k"], "json", True, ["default"], ["subnet"], 1),
    "json-80k": (["json-80k"], "json", True, ["default"], ["subnet"], 1),
    "startup": (["realistic-structured-1k.parquet"], "structured", True, ["default"], ["subnet"], 1),
}
GROUPS = {
    "json-small": ["json-10k", "json-20k", "json-40k", "json-80k"],
    "all": ["easy-structured", "easy-legacy", "realistic-10M", "high-10M", "legacy-10M", "json-small", "json-10M",
            "startup"],
}


def parse_time_v(path):
    text = open(path).read()
    def grab(label):
        m = re.search(re.escape(label) + r":\s*(.+)", text)
        return m.group(1).strip() if m else None
    wall = grab("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    secs = 0.0
    if wall:
        for part in wall.split(":"):
            secs = secs * 60 + float(part)
    return dict(wall_s=secs, user_s=float(grab("User time (seconds)") or 0), sys_s=float(grab("System time (seconds)") or 0),
                rss_kib=int(grab("Maximum resident set size (kbytes)") or 0))


def run(cmd, timeout, tv):
    """Run under /usr/bin/time -v; returns the measurements (wall from time -v; a timeout kills the group)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(["/usr/bin/time", "-v", "-o", tv, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        _, err = p.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        _, err = p.communicate()
        timed_out = True
    wall = time.perf_counter() - t0
    m = parse_time_v(tv) if not timed_out and os.path.exists(tv) and os.path.getsize(tv) else \
        dict(wall_s=wall, user_s=None, sys_s=None, rss_kib=None)
    m.update(rc=p.returncode, timed_out=timed_out, stderr=err.decode(errors="replace")[-2000:])
    return m


def fwlog_groups(path):
    r = json.load(open(path))
    groups = []
    for g in r["groups"]:
        groups.append(dict(kind=g["kind"], source_subnet=g["source_subnet"], protocol=g["protocol"],
                           destination=g["destination"], destination_port=g["destination_port"], hits=g["hits"],
                           distinct_sources=g["distinct_sources"], first_us=iso_us(g["first_seen"]),
                           last_us=iso_us(g["last_seen"])))
    summary = {k: r.get(k) for k in ("events", "events_in_window", "denies", "total_groups", "duplicates", "unparsed",
                                     "skipped")}
    return groups, summary


def quick_summary(path):
    """The counts of a fwlog JSON report from its first and last bytes (reports of a million groups are GBs)."""
    with open(path, "rb") as f:
        head = f.read(600).decode(errors="replace")
        f.seek(max(0, os.path.getsize(path) - 3000))
        tail = f.read().decode(errors="replace")
    out = {}
    for k in ("events", "events_in_window", "denies", "total_groups", "duplicates", "unparsed", "skipped"):
        m = re.search(rf'"{k}":\s*(\d+)', head) or re.search(rf'"{k}":\s*(\d+)', tail)
        if m:
            out[k] = int(m.group(1))
    return out


def iso_us(s):
    """`2026-10-02T00:00:01.123456Z` or `...:01Z` → µs, exactly (no float)."""
    base, _, frac = s.rstrip("Z").partition(".")
    t = dt.datetime.fromisoformat(base + "+00:00")
    return (int(t.timestamp())) * 1_000_000 + int((frac + "000000")[:6])


def keyed(groups, divide=1):
    out = {}
    for g in groups:
        k = (g["kind"], g["source_subnet"], g["protocol"], g["destination"], g["destination_port"])
        if k in out:
            raise SystemExit(f"duplicate group key {k}")
        out[k] = (g["hits"] // divide, g["distinct_sources"], g["first_us"], g["last_us"])
    return out


def compare(name, got, want):
    """Exact comparison of keyed groups; returns a list of difference lines (empty when equal)."""
    diffs = []
    for k in sorted(set(got) | set(want), key=str):
        a, b = got.get(k), want.get(k)
        if a != b:
            diffs.append(f"{name}: {k}: fwlog {a} vs {b}")
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="fwlog release binary")
    ap.add_argument("--data", default="/work/bench-data")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out")
    ap.add_argument("--timeout", type=float, default=1200, help="seconds per process (then killed, marked timeout)")
    ap.add_argument("--engines", default="fwlog,duckdb,polars")
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--modes", help="only these fwlog modes, e.g. default,keep-duplicates (engines follow: their "
                                    "by-source-ip runs only with fwlog's)")
    ap.add_argument("datasets", nargs="+")
    a = ap.parse_args()
    names = []
    for d in a.datasets:
        names += GROUPS.get(d, [d])
    for n in names:
        if n not in DATASETS:
            raise SystemExit(f"unknown dataset {n}; known: {', '.join([*DATASETS, *GROUPS])}")
    engines = a.engines.split(",")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = a.out or os.path.join(a.data, "results", stamp)
    os.makedirs(os.path.join(out, "out"), exist_ok=True)
    raw = open(os.path.join(out, "raw.jsonl"), "a")
    binary = os.path.abspath(a.bin)
    versions = {"fwlog": subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()}
    for mod in ("duckdb", "polars"):
        versions[mod] = subprocess.run([sys.executable, "-c", f"import {mod}; print({mod}.__version__)"],
                                       capture_output=True, text=True).stdout.strip()
    env = dict(start=stamp, host=platform.node(), cpus=os.cpu_count(), load_before=os.getloadavg(), versions=versions,
               bin=binary, runs=a.runs)
    print(json.dumps(env), file=sys.stderr)
    results = {}  # (dataset, job) -> list of measurements
    info = {}     # (dataset, job) -> groups/denies/check text
    failures = []
    for name in names:
        rel, shape, windowed, fw_modes, eng_modes, copies = DATASETS[name]
        inputs = [os.path.join(a.data, r) for r in rel]
        missing = [i for i in inputs if not os.path.exists(i)]
        if missing:
            print(f"== {name}: SKIPPED, missing {missing[0]} (run benches/make_data.sh)", file=sys.stderr)
            info[(name, "-")] = dict(note=f"missing {os.path.basename(missing[0])}")
            continue
        window = WINDOW if windowed else []
        if a.modes:
            fw_modes = [m for m in fw_modes if m in a.modes.split(",")]
            eng_modes = [m for m in eng_modes if m == "subnet" or "by-source-ip" in fw_modes]
        jobs = []
        if "fwlog" in engines:
            for m in fw_modes:
                flag = {"default": [], "by-source-ip": ["--by-source-ip"], "keep-duplicates": ["--keep-duplicates"]}[m]
                o = os.path.join(out, "out", f"{name}.fwlog.{m}.json")
                jobs.append((f"fwlog {m}", o, [binary, "deny-report", "-i", *inputs, *window, "--format", "json",
                                                "--output", o, *flag]))
        for eng in ("duckdb", "polars"):
            if eng not in engines:
                continue
            for m in eng_modes:
                o = os.path.join(out, "out", f"{name}.{eng}.{m}.json")
                flag = ["--by-source-ip"] if m == "source" else []
                jobs.append((f"{eng} {'by-source-ip' if m == 'source' else 'default'}", o,
                             [sys.executable, os.path.join(HERE, "engines.py"), eng, shape, o, *inputs, *window, *flag]))
        runs = max(a.runs, 10) if name == "startup" else a.runs
        print(f"== {name}: {len(jobs)} jobs x {runs} runs", file=sys.stderr)
        for r in range(runs):
            order = jobs[r % len(jobs):] + jobs[:r % len(jobs)]
            for job, o, cmd in order:
                tv = os.path.join(out, "time-v.txt")
                m = run(cmd, a.timeout, tv)
                if not m["timed_out"] and m["rc"] == 0 and job.split()[0] != "fwlog" and os.path.exists(o):
                    m["query_s"] = json.load(open(o))["query_s"]
                m.update(dataset=name, job=job, run=r, load=os.getloadavg()[0])
                raw.write(json.dumps({k: v for k, v in m.items() if k != "stderr"}) + "\n")
                raw.flush()
                results.setdefault((name, job), []).append(m)
                status = "TIMEOUT" if m["timed_out"] else ("rc=%d" % m["rc"] if m["rc"] else "")
                print(f"  {name:16} {job:22} run {r}: {m['wall_s']:8.2f} s  "
                      f"{(m['rss_kib'] or 0) / 1024:8.0f} MiB {status}", file=sys.stderr)
                if m["rc"] and not m["timed_out"]:
                    print(m["stderr"], file=sys.stderr)
            if r == 0 and not a.no_check:
                failures += check(name, jobs, copies, info)
    raw.close()
    # The table covers every run recorded in OUT (invocations into one OUT accumulate).
    results = {}
    for line in open(os.path.join(out, "raw.jsonl")):
        m = json.loads(line)
        results.setdefault((m["dataset"], m["job"]), []).append(m)
    for (n, job) in list(results):
        o = os.path.join(out, "out", f"{n}.fwlog.{job.split()[1]}.json") if job.startswith("fwlog") else None
        if o and os.path.exists(o) and "summary" not in info.get((n, job), {}):
            info.setdefault((n, job), {})["summary"] = quick_summary(o)
    env["load_after"] = os.getloadavg()
    env["end"] = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    md = report(results, info, env, failures)
    open(os.path.join(out, "results.md"), "w").write(md)
    json.dump(env, open(os.path.join(out, "env.json"), "w"), indent=1)
    print(md)
    print(f"results in {out}", file=sys.stderr)
    if failures:
        print("\n".join(["CHECK FAILED:"] + failures[:40]), file=sys.stderr)
        sys.exit(1)


def check(name, jobs, copies, info):
    """Compare fwlog's groups with DuckDB's and polars' (same grouping), exactly. Returns failure lines."""
    outs = {job: o for job, o, _ in jobs if os.path.exists(o)}
    # Outputs left in OUT by an earlier invocation (e.g. the engines run first, fwlog later) are compared too.
    outdir = os.path.dirname(jobs[0][1]) if jobs else ""
    for tool, modes in (("fwlog", ("default", "by-source-ip", "keep-duplicates")), ("duckdb", ("subnet", "source")),
                        ("polars", ("subnet", "source"))):
        for m in modes:
            o = os.path.join(outdir, f"{name}.{tool}.{m}.json")
            job = f"fwlog {m}" if tool == "fwlog" else f"{tool} {'by-source-ip' if m == 'source' else 'default'}"
            if job not in outs and os.path.exists(o):
                outs[job] = o
    failures = []
    def load(job):
        if job.startswith("fwlog"):
            return fwlog_groups(outs[job])[0]
        return json.load(open(outs[job]))["groups"]
    pairs = []
    for fw, grouping, divide in (("fwlog default", "default", copies), ("fwlog keep-duplicates", "default", 1),
                                 ("fwlog by-source-ip", "by-source-ip", copies)):
        for eng in ("duckdb", "polars"):
            other = f"{eng} {grouping}"
            if fw in outs and other in outs:
                pairs.append((fw, other, divide))
    if "duckdb default" in outs and "polars default" in outs:
        pairs.append(("polars default", "duckdb default", 1))
    for a, b, divide in pairs:
        try:
            got = keyed(load(a))
            want = keyed(load(b), divide)
            # Copies of one file: each source, time and destination is the same three times over, only hits grow.
            d = compare(f"{name} {a} vs {b}", got, want)
        except Exception as e:  # noqa: BLE001 - a broken output is a failed check too
            d = [f"{name} {a} vs {b}: {e!r}"]
        status = "ok" if not d else f"FAIL ({len(d)} differing groups)"
        info.setdefault((name, a), {}).setdefault("checks", []).append(f"{b}: {status}")
        if d:
            print(f"!! CHECK FAILED {name}: {a} vs {b}: {len(d)} differing groups", file=sys.stderr)
            for line in d[:10]:
                print("   " + line, file=sys.stderr)
        failures += d
        if not d:
            info[(name, a)]["groups"] = len(got)
            info[(name, a)]["denies"] = sum(v[0] for v in got.values())
    return failures


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def report(results, info, env, failures):
    L = [f"# fwlog benchmark {env['start']}", "",
         f"Machine: {env['cpus']} cores, load average {env['load_before'][0]:.1f} at start, "
         f"{env['load_after'][0]:.1f} at end. Versions: {env['versions']['fwlog']}, DuckDB "
         f"{env['versions']['duckdb']}, polars {env['versions']['polars']}. Runs per job: {env['runs']} (alternated).",
         "", "| dataset | job | median wall s | min–max s | CPU s (user+sys) | peak RSS MiB | engine query s | groups | denies | check |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for (name, job), ms in results.items():
        ok = [m for m in ms if not m["timed_out"] and m["rc"] == 0]
        inf = info.get((name, job), {})
        if not ok:
            what = "timeout" if any(m["timed_out"] for m in ms) else f"failed rc={ms[0]['rc']}"
            L.append(f"| {name} | {job} | {what} (> {max(m['wall_s'] for m in ms):.0f} s) | | | | | | | |")
            continue
        walls = [m["wall_s"] for m in ok]
        cpu = med([(m["user_s"] or 0) + (m["sys_s"] or 0) for m in ok])
        rss = max(m["rss_kib"] for m in ok) / 1024
        q = med([m.get("query_s") for m in ok])
        summ = inf.get("summary", {})
        groups = inf.get("groups", summ.get("total_groups", ""))
        denies = inf.get("denies", summ.get("denies", ""))
        L.append(f"| {name} | {job} | {med(walls):.2f} | {min(walls):.2f}–{max(walls):.2f} | {cpu:.2f} | {rss:.0f} | "
                 f"{'' if q is None else f'{q:.2f}'} | {groups} | {denies} | {'; '.join(inf.get('checks', []))} |")
    L += ["", targets(results), ""]
    if failures:
        L += ["**CHECKS FAILED**:", "", "```", *failures[:40], "```"]
    return "\n".join(L) + "\n"


def targets(results):
    def wall(name, job, query=False):
        ms = [m for m in results.get((name, job), []) if not m["timed_out"] and m["rc"] == 0]
        if not ms:
            return None
        return med([m.get("query_s") if query else m["wall_s"] for m in ms])
    def rss(name, job):
        ms = [m for m in results.get((name, job), []) if m.get("rss_kib")]
        return max(m["rss_kib"] for m in ms) / 1024 if ms else None
    rows = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    def add(label, value, ok):
        rows.append(f"| {label} | {value} | {'n/a' if ok is None else ('yes' if ok else '**no**')} |")
    for n in ("realistic-10M", "realistic-100M"):
        f, d, dq = wall(n, "fwlog default"), wall(n, "duckdb default"), wall(n, "duckdb default", True)
        if f and d:
            # DuckDB's time is its query alone (the Python process adds imports): the stricter reading.
            add(f"{n}: fwlog ≤ 0.75× DuckDB (query time)", f"{f:.2f} s vs DuckDB {dq:.2f} s query ({d:.2f} s "
                f"process) = {f / dq:.2f}× ({f / d:.2f}×)", f / dq <= 0.75)
    r10, r100, r300 = rss("realistic-10M", "fwlog default"), rss("realistic-100M", "fwlog default"), \
        rss("realistic-300M", "fwlog default")
    if r100:
        add("100M: peak RSS ≤ 512 MiB", f"{r100:.0f} MiB", r100 <= 512)
    if r100 and r10:
        add("100M RSS ≤ 1.3× 10M RSS", f"{r100:.0f} / {r10:.0f} MiB = {r100 / r10:.2f}×", r100 / r10 <= 1.3)
    if r300:
        add("300M (100M file ×3): peak RSS ≤ 512 MiB", f"{r300:.0f} MiB", r300 <= 512)
    for n in ("realistic-10M", "realistic-100M", "high-10M"):
        f, b = wall(n, "fwlog default"), wall(n, "fwlog by-source-ip")
        if f and b:
            add(f"{n}: --by-source-ip ≤ 1.5× default", f"{b:.2f} / {f:.2f} s = {b / f:.2f}×", b / f <= 1.5)
    for n in ("high-10M", "high-100M"):
        f, d = wall(n, "fwlog default"), wall(n, "duckdb default", True)
        if f and d:
            add(f"{n}: fwlog ≤ 2× DuckDB (query time)", f"{f:.2f} / {d:.2f} s = {f / d:.2f}×", f / d <= 2)
    f, d = wall("legacy-10M", "fwlog default"), wall("legacy-10M", "duckdb default", True)
    if f and d:
        add("legacy-10M: fwlog ≥ 5× faster than DuckDB regex", f"DuckDB {d:.2f} / fwlog {f:.2f} s = {d / f:.2f}×",
            d / f >= 5)
    r = rss("legacy-10M", "fwlog default")
    if r:
        add("legacy-10M: peak RSS ≤ 512 MiB", f"{r:.0f} MiB", r <= 512)
    f, d = wall("json-10M", "fwlog default"), wall("json-10M", "duckdb default", True)
    if d:
        timed = any(m["timed_out"] for m in results.get(("json-10M", "fwlog default"), []))
        add("json-10M: fwlog ≤ DuckDB read_json", f"fwlog {'timeout' if timed or not f else f'{f:.2f} s'} vs "
            f"DuckDB {d:.2f} s", bool(f) and f <= d)
    s = wall("startup", "fwlog default")
    if s:
        add("start-up on 1,000 rows < 100 ms", f"{s * 1000:.0f} ms", s < 0.1)
    return "\n".join(rows)


if __name__ == "__main__":
    main()
