#!/usr/bin/env bash
# The baseline session of "Realistic data: baseline profile" in benches/README.md, in the order it was taken:
# the 10M-row sets (3 alternated runs), profiles, then the 100M/300M sets and 10M JSON lines (1 run each).
# Usage: bash benches/baseline.sh FWLOG_BIN [OUT]   (DATA=/work/bench-data)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$1
data=${DATA:-/work/bench-data}
out=${2:-$data/results/baseline-$(date -u +%Y%m%dT%H%M%SZ)}
prof=$out/profiles
mkdir -p "$prof"
w=(--from 2026-10-02T00:00:00Z --to 2026-10-07T00:00:00Z)
python3 benches/harness.py --bin "$bin" --data "$data" --runs "${RUNS:-3}" --out "$out" \
  realistic-10M legacy-10M high-10M startup json-small easy-structured easy-legacy || echo "CHECK FAILED (10M sets)"
p() { name=$1; freq=$2; shift 2; python3 benches/profile.py --bin "$bin" --out "$prof" --name "$name" --freq "$freq" \
  -- deny-report "$@" \
  --format json --output /dev/null || true; }
p realistic-10M 499 -i "$data/realistic-structured-10M.parquet" "${w[@]}"
p realistic-10M-by-ip 499 -i "$data/realistic-structured-10M.parquet" "${w[@]}" --by-source-ip
p legacy-10M 499 -i "$data/realistic-legacy-10M.parquet" "${w[@]}"
p json-40k 499 -i "$data/json-40k" "${w[@]}"
p realistic-100M 50 -i "$data/realistic-structured-100M.parquet" "${w[@]}"
python3 benches/harness.py --bin "$bin" --data "$data" --runs 1 --out "$out" realistic-100M realistic-300M \
  || echo "CHECK FAILED (100M sets)"
python3 benches/harness.py --bin "$bin" --data "$data" --runs 1 --timeout "${JSON_TIMEOUT:-900}" --out "$out" json-10M \
  || echo "CHECK FAILED (json-10M)"
echo "results in $out"
