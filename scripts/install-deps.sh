#!/usr/bin/env bash
# Installs every Debian and npm package Nimbus needs to build, run and test. Idempotent: it asks apt
# only for packages that are missing, runs `apt-get update` at most once, and `npm ci` only when
# web/node_modules is older than web/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  # libraries (ARCHITECTURE.md)
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev
  libsqlite3-dev libpq-dev libspdlog-dev libfmt-dev libtomlplusplus-dev libcli11-dev zlib1g-dev
  libsodium-dev libcrack2-dev cracklib-runtime liboath-dev libqrencode-dev libcurl4-openssl-dev
  libhiredis-dev libmodsecurity-dev libre2-dev modsecurity-crs libgeoip-dev geoip-database libvalijson-dev
  # tests, lint, benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev postgresql clang-format clang-tidy wrk
  nghttp2-client chromium curl procps python3 redis-server python3-aiosmtpd sqlmap
  testssl.sh openssl
  nginx libnginx-mod-http-modsecurity
  # console build
  nodejs npm
)

sudo_cmd=()
if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
# Debian's nodejs/npm are only needed where no Node.js is installed at all.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for pkg in "${missing[@]}"; do
    [ "$pkg" = nodejs ] || [ "$pkg" = npm ] || filtered+=("$pkg")
  done
  missing=("${filtered[@]}")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The console's toolchain needs Node.js 18.20 or newer (Debian 12 ships 18.20).
node_major_minor=$(node -p 'process.versions.node.split(".").slice(0,2).join(".")' 2>/dev/null || echo 0)
if ! printf '%s\n%s\n' 18.20 "$node_major_minor" | sort -V -C; then
  echo "Node.js $node_major_minor is too old for the console; 18.20 or newer is needed" >&2
  exit 1
fi

# The OpenAPI linter lives apart from the console: its own dependencies would clash with the
# console's React version.
if [ -f tools/openapi-lint/package-lock.json ]; then
  if [ ! -d tools/openapi-lint/node_modules ] ||
     [ tools/openapi-lint/package-lock.json -nt tools/openapi-lint/node_modules/.package-lock.json ]; then
    echo "Installing npm packages for tools/openapi-lint/"
    (cd tools/openapi-lint && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

# The relying party of the OpenID provider tests (openid-client), also apart from the console.
if [ -f tests/integration/oidc/package-lock.json ]; then
  if [ ! -d tests/integration/oidc/node_modules ] ||
     [ tests/integration/oidc/package-lock.json -nt tests/integration/oidc/node_modules/.package-lock.json ]; then
    echo "Installing npm packages for tests/integration/oidc/"
    (cd tests/integration/oidc && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

if [ -f web/package-lock.json ]; then
  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    echo "Installing npm packages for web/"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
