#!/usr/bin/env python3
"""Where fwlog's deny-report spends time and memory: perf samples by function and by pipeline stage, folded stacks
for a flamegraph, and an RSS timeline.

  python3 benches/profile.py --bin FWLOG --out DIR --name NAME -- deny-report -i FILE ... --format json -o /dev/null

Writes DIR/NAME.functions.txt (self time by function), DIR/NAME.stages.md (samples by stage), DIR/NAME.folded
(collapsed stacks: `inferno-flamegraph < NAME.folded > NAME.svg`), DIR/NAME.rss.tsv (RSS every 50 ms, from a
separate run without perf). Needs `perf` (Debian: linux-perf). This VM has no hardware counters, so samples are
`cpu-clock` at 499 Hz with DWARF call graphs (works on the plain release build: unwinding uses .eh_frame and
symbols are kept; inlined functions count in their caller).
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import threading
import time

# Pipeline stages: a sample belongs to the innermost frame that matches one of these (checked leaf → root).
STAGES = [
    ("dedupe: fingerprints + table", r"input::fingerprint|hash_name|hash_host|FingerprintSet|dedupe::"),
    ("legacy parser", r"fwlog::legacy::"),
    ("canonical rows: CanonicalBuilder push/finish (string builders)", r"CanonicalBuilder|row::push_host|format_ipv4|"
                                                                      r"CanonicalBuilder::finish|PartBuilder::take"),
    ("JSON reader (serde_json, line_of, records)", r"input::json::|serde_json::de"),
    ("catalog labels", r"report::label_groups|catalog::"),
    ("render JSON output", r"report::render|serde_json::ser|output::emit"),
    ("to_groups (BTreeMap, Strings, sort, subnets)", r"engine::to_groups|engine::ip_order|subnet::subnet_text|"
                                                     r"DenyAggregator::finish"),
    ("merge of partial frames (engine::merge)", r"engine::merge|DenyAggregator::add_partial"),
    ("per-batch polars group-by (DenyAggregator::partial, polars streaming engine)",
     r"DenyAggregator::partial|engine::select_denies|polars_stream|polars_expr|polars_row|polars_mem_engine|"
     r"polars_lazy|polars_plan|polars_ops|polars_core::frame::group_by|hot_groups|idx_map|polars_compute::gather"),
    ("duplicate-row undo (Sink::absorb)", r"Sink::absorb"),
    ("Parquet decode (polars reader: zstd, pages, views, casts)",
     r"polars_parquet|ParquetReader|polars_io::parquet|Data::from_column|ZSTD|zstd|snap::|polars_compute::cast|"
     r"rechunk|polars_arrow::array::binview"),
    ("canonical rows: fill_row (Data::get lookups, trims, IP parsing, kind), PartBuilder::push stats",
     r"parquet::Data::get|trim_matches|read_ipv4_addr|net::parser|IpAddr|kind_for_table|normalize::|"
     r"fields::fill_row|PartBuilder::push|input::parquet::read|__rust_begin_short_backtrace"),
]


def rss_timeline(cmd, path):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.perf_counter()
    rows = []
    peak = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        kb = int(line.split()[1])
                        peak = max(peak, kb)
                        rows.append((time.perf_counter() - t0, kb))
        except OSError:
            pass
        time.sleep(0.05)
    with open(path, "w") as f:
        f.write("seconds\trss_mib\n")
        for t, kb in rows:
            f.write(f"{t:.2f}\t{kb / 1024:.0f}\n")
    return time.perf_counter() - t0, peak / 1024


def classify(frames_leaf_first, pats):
    for f in frames_leaf_first:
        for name, p in pats:
            if p.search(f):
                return name
    return "other (allocator, kernel, std, threads idle)"


def stage_table(name, folded_path):
    """Samples per stage from a folded-stacks file (`comm;root;...;leaf count`)."""
    import collections
    pats = [(n, re.compile(p)) for n, p in STAGES]
    stages, threads, total = collections.Counter(), collections.Counter(), 0
    for line in open(folded_path):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        thread = re.sub(r"[-_]?\d+$", "", frames[0])
        threads[thread] += n
        stages[classify(frames[1:][::-1], pats)] += n
    out = [f"{name}: {total} samples\n", "| stage | share of samples |", "|---|---|"]
    out += [f"| {k} | {100 * v / max(total, 1):.1f}% |" for k, v in stages.most_common()]
    out += ["", "| thread | share |", "|---|---|"]
    out += [f"| {k} | {100 * v / max(total, 1):.1f}% |" for k, v in threads.most_common(6)]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--freq", type=int, default=499)
    ap.add_argument("--no-perf", action="store_true")
    ap.add_argument("--reclassify", help="only re-attribute the stacks of an existing NAME.folded to stages")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    args = a.args[1:] if a.args and a.args[0] == "--" else a.args
    if a.reclassify:
        return print(stage_table(a.name, a.reclassify))
    os.makedirs(a.out, exist_ok=True)
    base = os.path.join(a.out, a.name)
    cmd = [a.bin, *args]
    wall, peak = rss_timeline(cmd, base + ".rss.tsv")
    print(f"{a.name}: {wall:.2f} s, peak RSS {peak:.0f} MiB (timeline {base}.rss.tsv)", file=sys.stderr)
    if a.no_perf:
        return
    data = base + ".perf.data"
    subprocess.run(["perf", "record", "-e", "cpu-clock", "-F", str(a.freq), "--call-graph", "dwarf,32768", "-o", data,
                    "--", *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol", "--stdio",
                          "--percent-limit", "0.4", "-g", "none"], capture_output=True, text=True).stdout
    open(base + ".functions.txt", "w").write(rep)
    # Collapse the stacks (leaf last) and attribute each sample to a stage.
    script = subprocess.Popen(["perf", "script", "-i", data, "-F", "comm,tid,period,ip,sym", "--no-inline"],
                              stdout=subprocess.PIPE, text=True, errors="replace")
    folded = collections.Counter()
    stages = collections.Counter()
    threads = collections.Counter()
    stack, comm, total = [], None, 0
    pats = [(name, re.compile(p)) for name, p in STAGES]

    def flush():
        nonlocal total
        if comm is None:
            return
        frames = [f for f in stack if f]
        total += 1
        folded[";".join([comm] + frames[::-1])] += 1
        threads[comm] += 1
        for f in frames:  # leaf first
            for name, p in pats:
                if p.search(f):
                    stages[name] += 1
                    return
        stages["other (std, allocator, kernel, polars runtime)"] += 1

    for line in script.stdout:
        if not line.strip():
            flush()
            stack, comm = [], None
            continue
        if not line.startswith((" ", "\t")):
            comm = line.split()[0]
            continue
        parts = line.strip().split(None, 1)
        sym = parts[1] if len(parts) > 1 else "?"
        sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
        sym = re.sub(r"::h[0-9a-f]{16}$", "", sym)
        stack.append(sym.replace(";", ":"))
    flush()
    script.wait()
    with open(base + ".folded", "w") as f:
        for k, v in folded.most_common():
            f.write(f"{k} {v}\n")
    with open(base + ".stages.md", "w") as f:
        f.write(f"{a.name}: {total} samples at {a.freq} Hz (cpu-clock, all threads), wall {wall:.2f} s, "
                f"peak RSS {peak:.0f} MiB\n\n| stage | samples | share |\n|---|---|---|\n")
        for name, n in stages.most_common():
            f.write(f"| {name} | {n} | {100 * n / max(total, 1):.1f}% |\n")
        f.write("\n| thread | share |\n|---|---|\n")
        for name, n in threads.most_common(6):
            f.write(f"| {name} | {100 * n / max(total, 1):.1f}% |\n")
    print(open(base + ".stages.md").read())
    print("\n".join(rep.splitlines()[:60]))
    os.remove(data)


if __name__ == "__main__":
    main()
