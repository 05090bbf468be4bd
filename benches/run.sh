#!/usr/bin/env bash
# The deny-report benchmark: fwlog vs DuckDB vs polars (streaming) on generated data, alternated runs, medians,
# peak RSS, and an exact check that the three return the same groups. See benches/README.md.
#
# Usage: bash benches/run.sh [FWLOG_BIN] [DATASET...]     (env: RUNS=3, DATA=/work/bench-data, OUT=results dir)
#   FWLOG_BIN  default: builds the release binary into $HOME/.cache/fwlog-release and uses it
#   DATASET    realistic-10M realistic-100M realistic-300M high-10M high-100M legacy-10M json-10M json-small
#              startup easy-structured easy-legacy, or `all` (default: all = every 10M-row set, json, start-up)
# Data: bash benches/make_data.sh [DATA] [SET...] first (or let this script generate what a dataset needs).
# Needs: pip install duckdb polars pyarrow numpy; /usr/bin/time (apt-get install time).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
shift || true
if [ -z "$bin" ]; then
  export CARGO_TARGET_DIR=${FWLOG_RELEASE_TARGET:-$HOME/.cache/fwlog-release}
  cargo build --release --bin fwlog --quiet
  bin=$CARGO_TARGET_DIR/release/fwlog
fi
data=${DATA:-/work/bench-data}
sets=${*:-all}
# Generate whatever the chosen datasets need and is missing.
need=""
for s in $sets; do
  case $s in
    all) need="$need easy realistic legacy high json small startup" ;;
    easy-*) need="$need easy" ;;
    realistic-10M) need="$need realistic" ;;
    realistic-100M|realistic-300M) need="$need big" ;;
    high-10M) need="$need high" ;;
    high-100M) need="$need high100" ;;
    legacy-10M) need="$need legacy" ;;
    json-10M) need="$need json" ;;
    json-small|json-*k) need="$need small" ;;
    startup) need="$need startup" ;;
  esac
done
bash benches/make_data.sh "$data" $need >/dev/null
exec python3 benches/harness.py --bin "$bin" --data "$data" --runs "${RUNS:-3}" ${OUT:+--out "$OUT"} $sets
