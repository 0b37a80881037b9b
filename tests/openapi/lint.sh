#!/usr/bin/env bash
# Starts `nimbus serve` on a free port with a throwaway data dir, fetches the OpenAPI document it
# generates, checks that every success answer is described (coverage.mjs) and lints it with
# Redocly (tools/openapi-lint, rules in its redocly.yaml).
set -euo pipefail
nimbus=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

env -u NIMBUS_TEST_PG_URL_FILE "$nimbus" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
    --console-dir /nonexistent 2>"$work/log" &
pid=$!
for _ in $(seq 1 200); do
    url=$(grep -o '"url":"http://127.0.0.1:[0-9]*"' "$work/log" | head -1 | cut -d'"' -f4 || true)
    [ -n "$url" ] && break
    sleep 0.05
done
[ -n "${url:-}" ] || { echo "nimbus did not start"; cat "$work/log"; exit 1; }
curl -fsS "$url/api/v1/openapi.json" -o "$work/openapi.json"
node "$root/tests/openapi/coverage.mjs" "$work/openapi.json"
cd "$root/tools/openapi-lint"
node_modules/.bin/redocly lint --config redocly.yaml "$work/openapi.json"
