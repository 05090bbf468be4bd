#!/usr/bin/env bash
# Run fwlog over every fixture in every output format and write each result (stdout, stderr, exit code) into a
# folder, so two builds can be compared byte for byte: a refactor that claims "behaviour unchanged" diffs to
# nothing.
#
#   tools/golden-outputs.sh BINARY OUTDIR
#   diff -r OUTDIR-before OUTDIR-after
set -uo pipefail
bin=$(realpath "$1")
out=$2
cd "$(dirname "$0")/.."
rm -rf "$out"
mkdir -p "$out"
n=0
run() {
  # run NAME ARGS...: stdout, stderr and the exit code of one invocation
  local name=$1
  shift
  n=$((n + 1))
  (cd "$PWD" && NO_COLOR=1 COLUMNS=200 "$bin" "$@" >"$out/$name.out" 2>"$out/$name.err" </dev/null)
  echo $? >"$out/$name.code"
}

main=fixtures/aks-provision-failure
inputs=("$main" fixtures/shapes/* fixtures/samples/*.jsonl fixtures/bad/*)
for input in "${inputs[@]}"; do
  tag=$(basename "$input")
  for f in table json csv markdown; do
    run "deny-$tag-$f" deny-report -i "$input" --format "$f"
  done
  run "deny-$tag-v" -vv deny-report -i "$input" --format json
  run "deny-$tag-ip" deny-report -i "$input" --by-source-ip --format json --keep-duplicates
  for f in table json markdown bicep terraform arm azcli; do
    run "rec-$tag-$f" recommend -i "$input" --format "$f"
  done
done
run kusto-external-table kusto external-table --storage https://fwarchive.blob.core.windows.net --managed-identity
tmp=$(mktemp -d)
run deny-parquet deny-report -i "$main" --format parquet -o "$tmp/r.parquet"
cp "$tmp/r.parquet" "$out/deny-parquet.bin" 2>/dev/null
rm -rf "$tmp"
run deny-filters deny-report -i "$main" --from 2026-09-07T09:01:00Z --to 2026-09-07T09:30:00Z \
  --source 10.240.0.0/16 --destination '*.azmk8s.io' --port 443 --protocol https --kind application --format json
run deny-top deny-report -i "$main" --top 3 --prefix-v4 16 --format table
run deny-empty-window deny-report -i "$main" --from 2020-01-01T00:00:00Z --to 2020-01-02T00:00:00Z
run rec-features recommend -i "$main" --features monitoring,azure-policy --region westeurope \
  --source-ip-group ipg-aks-nodes --api-server-ip 20.61.0.10 --format terraform
run rec-unmatched recommend -i "$main" --include-unmatched --source-scope ip --format json
run rec-scope recommend -i "$main" --source-scope 10.240.0.0/16,10.244.0.0/16 --no-recommended \
  --collection-group cg --group-priority 700 --priority-base 300 --format bicep
run rec-private recommend -i "$main" --private-cluster --konnectivity --format table
run cat-list catalog list
run cat-list-json catalog list --feature monitoring --format json
run cat-features catalog features
run cat-match catalog match aks-weu-dns-4f2a9c1e.hcp.westeurope.azmk8s.io:443
run cat-match-json catalog match registry-1.docker.io --protocol https --format json
run kql-deny deny-report --print-kql --from 2026-09-01T00:00:00Z --to 2026-09-08T00:00:00Z --source 10.0.0.0/8 --destination '*.example.com'
run kql-rec recommend --print-kql --from 2026-09-01T00:00:00Z --to 2026-09-08T00:00:00Z
run kql-fetch fetch --print-kql --from 2026-09-07T00:00:00Z --to 2026-09-08T00:00:00Z
run kql-cluster deny-report --print-kql --from 2026-09-01T00:00:00Z --to 2026-09-08T00:00:00Z --cluster https://fwlogs.westeurope.kusto.windows.net --table-map 'AZFWNetworkRule=FwArchive_AZFWNetworkRule(window)'
run err-no-input deny-report
run err-missing deny-report -i no/such/file
run err-bad-dur deny-report -i "$main" --since 7x
run help --help
run help-deny deny-report --help
run help-rec recommend --help
run help-fetch fetch --help
run version --version
echo "$n runs written to $out" >&2
