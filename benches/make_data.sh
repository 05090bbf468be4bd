#!/usr/bin/env bash
# Generate every benchmark input into DATA (default /work/bench-data; never inside the repository).
# Usage: bash benches/make_data.sh [DATA] [SET...]   SET: easy realistic legacy high high100 json small startup callgrind big all
# (default: all but `big`; `big` = realistic 100M structured). Each file is skipped when it exists already.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-/work/bench-data}; shift || true
sets=${*:-easy realistic legacy high json small startup}
[ "$sets" = all ] && sets="easy realistic legacy high json small startup big"
mkdir -p "$data"
gen() { python3 "$here/gen_data.py" --out "$data" "$@"; }
has() { [ -e "$data/$1" ]; }
for s in $sets; do
  case $s in
    easy) has easy/structured.parquet || python3 "$here/gen_data.py" "$data/easy" 10000000 ;;
    realistic) has realistic-structured-10M.parquet || gen --profile realistic --shape structured --rows 10000000 ;;
    big) has realistic-structured-100M.parquet || gen --profile realistic --shape structured --rows 100000000 ;;
    legacy) has realistic-legacy-10M.parquet || gen --profile realistic --shape legacy --rows 10000000 ;;
    high) has high-structured-10M.parquet || gen --profile high --shape structured --rows 10000000 ;;
    high100) has high-structured-100M.parquet || gen --profile high --shape structured --rows 100000000 ;;
    json) has realistic-json-10M || gen --profile realistic --shape json --rows 10000000 --files 168 ;;
    small)
      for n in 10000 20000 40000 80000; do
        has "json-$((n / 1000))k" || gen --profile realistic --shape json --rows $n --files 1 --name "json-$((n / 1000))k"
      done ;;
    callgrind) has realistic-structured-1M.parquet || gen --profile realistic --shape structured --rows 1000000 --name realistic-structured-1M ;;
    startup) has realistic-structured-1k.parquet || gen --profile realistic --shape structured --rows 1000 --name realistic-structured-1k ;;
    *) echo "unknown set $s" >&2; exit 2 ;;
  esac
done
ls -la "$data"
