#!/usr/bin/env bash
# The release binary is what `make run` and `make bench` serve; the test suite runs the debug one.
# Start it with the embedded defaults on a free port and a throwaway data dir, and require that it
# becomes ready and answers its health, readiness and console routes.
set -euo pipefail
binary=${1:-build/release/src/app/nimbus}
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$data/nimbus.log"
"$binary" serve --stage dev --listen "127.0.0.1:$port" --data-dir "$data" >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "release binary exited before it was ready:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
for path in /healthz /readyz /api/v1/openapi.json /; do
    if ! curl -fsS -o /dev/null "http://127.0.0.1:$port$path"; then
        echo "release binary: GET $path failed" >&2
        cat "$log" >&2
        exit 1
    fi
done
echo "release binary: ready and answering on 127.0.0.1:$port"
