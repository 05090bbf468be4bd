#!/bin/sh
# Check every KQL query fwlog can generate with Microsoft's Kusto analyzer (@kusto/language-service-next)
# against the declared firewall table schemas (schemas.json). Zero errors allowed.
# CI: `npm ci --prefix tools/kql-check && tools/kql-check/check.sh`.
# With arguments, checks those files instead (queries separated by `// ---` lines, as --print-kql writes).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ ! -d "$here/node_modules/@kusto/language-service-next" ]; then
    echo "kql-check: run 'npm ci --prefix tools/kql-check' first" >&2
    exit 2
fi
if [ "$#" -gt 0 ]; then
    for f in "$@"; do node "$here/check.js" "$f"; done
    exit 0
fi
# The Rust test generates every template variant and pipes it through check.js; FWLOG_KQL_CHECK_REQUIRED
# turns its "skipped" into a failure so CI can never pass without running the analyzer.
cd "$root"
FWLOG_KQL_CHECK_REQUIRED=1 cargo test --test it kql_check -- --nocapture
