#!/usr/bin/env bash
# End-to-end benchmark: fwlog deny-report (release build) on generated 10M-row Parquet files, median of 5 runs with
# peak memory, then DuckDB on the same files in the same run. Usage: bash benches/run.sh [ROWS]
# Needs: pip install pyarrow duckdb.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000000}
data=${FWLOG_BENCH_DATA:-$HOME/.cache/fwlog-bench/$rows}
export CARGO_TARGET_DIR=${FWLOG_RELEASE_TARGET:-$HOME/.cache/fwlog-release}
cargo build --release --bin fwlog --quiet
bin=$CARGO_TARGET_DIR/release/fwlog
[ -f "$data/legacy.parquet" ] || python3 benches/gen_data.py "$data" "$rows"
ls -l "$data"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for job in structured legacy; do
  : > /tmp/fwlog-bench-$job
  for i in 1 2 3 4 5; do
    /usr/bin/time -f "%e %M" -o /tmp/fwlog-bench-run "$bin" deny-report -i "$data/$job.parquet" --format json \
      --output /tmp/fwlog-bench-$job.json
    cat /tmp/fwlog-bench-run >> /tmp/fwlog-bench-$job
  done
  secs=$(cut -d' ' -f1 /tmp/fwlog-bench-$job | median)
  mem=$(cut -d' ' -f2 /tmp/fwlog-bench-$job | sort -n | tail -1)
  groups=$(python3 -c "import json; r=json.load(open('/tmp/fwlog-bench-$job.json')); print(r['total_groups'], r['denies'], r['unparsed'])")
  echo "fwlog $job: median ${secs} s over 5 runs, peak RSS $((mem / 1024)) MiB (groups, denies, unparsed: $groups)"
done
python3 benches/duckdb_compare.py "$data" 5
