#!/usr/bin/env bash
# Scans Nimbus's HTTPS listener with testssl.sh (Debian): with the defaults only TLS 1.3 is
# offered; with tls.allow_tls12 TLS 1.2 joins it; SSLv2/SSLv3/TLS 1.0/1.1 and the NULL, anonymous,
# export, low, 3DES/IDEA and average cipher groups are never offered.
set -euo pipefail
nimbus=$1
work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# Runs one scan; $1 = allow_tls12 (true|false), $2 = the expected finding for TLS 1.2.
scan() {
    local allow_tls12=$1 expected_tls12=$2
    rm -rf "$work/data" "$work/log" "$work/scan.json"
    env -u NIMBUS_TEST_PG_URL_FILE "$nimbus" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
        --console-dir /nonexistent --set tls.listen=127.0.0.1:0 \
        --set tls.cert_file="$work/cert.pem" --set tls.key_file="$work/key.pem" \
        --set tls.allow_tls12="$allow_tls12" --set rate_limit.enabled=false \
        --set firewall.enabled=false 2>"$work/log" &
    pid=$!
    local target=""
    for _ in $(seq 1 200); do
        target=$(grep -o '"tls_url":"https://127.0.0.1:[0-9]*"' "$work/log" | head -1 |
                 sed 's|.*https://||; s|"||' || true)
        [ -n "$target" ] && break
        sleep 0.05
    done
    [ -n "$target" ] || { echo "nimbus did not start"; cat "$work/log"; exit 1; }
    testssl --quiet --color 0 --warnings off --protocols --std --jsonfile "$work/scan.json" \
        "$target" >"$work/testssl.log" 2>&1 || true
    kill "$pid"
    wait "$pid" || true
    pid=""
    python3 - "$work/scan.json" "$expected_tls12" <<'PY'
import json, sys
findings = {entry["id"]: entry["finding"] for entry in json.load(open(sys.argv[1]))}
expected = {"SSLv2": "not offered", "SSLv3": "not offered", "TLS1": "not offered",
            "TLS1_1": "not offered", "TLS1_2": sys.argv[2]}
for group in ("NULL", "aNULL", "EXPORT", "LOW", "3DES_IDEA", "AVERAGE"):
    expected["cipherlist_" + group] = "not offered"
failures = [f"{key}: expected '{want}', got '{findings.get(key)}'"
            for key, want in expected.items() if findings.get(key) != want]
if not findings.get("TLS1_3", "").startswith("offered"):
    failures.append(f"TLS1_3: expected offered, got '{findings.get('TLS1_3')}'")
if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"testssl: {len(expected) + 1} checks passed (TLS 1.2 {sys.argv[2]})")
PY
}

scan false "not offered"
scan true "offered"
