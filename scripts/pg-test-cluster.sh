#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests.
#
#   pg-test-cluster.sh start DIR   initdb into DIR, listen on 127.0.0.1 on a free port, create the
#                                  database `nimbus`, write postgres://nimbus@127.0.0.1:PORT/nimbus
#                                  into DIR/url and wait until it accepts connections
#   pg-test-cluster.sh stop DIR    stop the server (fast mode) and remove DIR
#   pg-test-cluster.sh halt DIR    stop the server but keep its data (an outage, for tests)
#   pg-test-cluster.sh resume DIR  start a halted server again on the same port
#
# The cluster's files live in a directory of their own under /tmp (its path is in DIR/cluster):
# DIR may sit below directories the `postgres` user cannot enter, such as a private mktemp dir.
#
# The cluster trusts 127.0.0.1 only and runs with fsync off: it holds nothing worth keeping.
# As root, the server runs as the `postgres` system user (PostgreSQL refuses to run as root).
set -euo pipefail

readonly kSuperuser=nimbus
readonly kDatabase=nimbus
readonly kStartTimeoutSeconds=30
readonly kPortAttempts=5

usage() {
    echo "usage: $0 start|stop|halt|resume DIR" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
command=$1
dir=$2

find_bindir() {
    if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
        echo /usr/lib/postgresql/15/bin
    elif command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/initdb" ]]; then
        pg_config --bindir
    elif command -v initdb >/dev/null; then
        dirname "$(command -v initdb)"
    else
        echo "pg-test-cluster: cannot find initdb (install postgresql)" >&2
        exit 1
    fi
}
bindir=$(find_bindir)

# Runs a PostgreSQL tool as the user that owns the cluster.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Stops a server still running from an earlier run (a crashed test run leaves one behind) and
# removes what is left of it.
cluster_of() {
    [[ -f "$dir/cluster" ]] && cat "$dir/cluster"
}

stop_cluster() {
    local cluster
    cluster=$(cluster_of || true)
    if [[ -n $cluster && -f "$cluster/data/postmaster.pid" ]]; then
        as_owner "$bindir/pg_ctl" -D "$cluster/data" -m fast -w -t "$kStartTimeoutSeconds" stop \
            >/dev/null 2>&1 || true
    fi
    [[ -n $cluster ]] && rm -rf "$cluster"
    rm -rf "$dir"
}

halt_cluster() {
    local cluster
    cluster=$(cluster_of)
    as_owner "$bindir/pg_ctl" -D "$cluster/data" -m fast -w -t "$kStartTimeoutSeconds" stop >/dev/null
}

resume_cluster() {
    local cluster
    cluster=$(cluster_of)
    as_owner "$bindir/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w \
        -t "$kStartTimeoutSeconds" start >/dev/null
}

start_cluster() {
    stop_cluster
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local cluster
    cluster=$(mktemp -d /tmp/nimbus-pg.XXXXXX)
    echo "$cluster" >"$dir/cluster"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres:postgres "$cluster"
    fi
    as_owner "$bindir/initdb" -D "$cluster/data" -U "$kSuperuser" --auth=trust --encoding=UTF8 \
        --locale=C --no-sync >"$cluster/initdb.log" 2>&1 || {
        cat "$cluster/initdb.log" >&2
        exit 1
    }
    # Only TCP from this machine; the socket directory is ours so no system directory is needed.
    as_owner tee "$cluster/data/pg_hba.conf" >/dev/null <<EOF
host all all 127.0.0.1/32 trust
local all all trust
EOF

    local attempt port=""
    for ((attempt = 1; attempt <= kPortAttempts; attempt++)); do
        port=$(free_port)
        as_owner tee "$cluster/data/postgresql.auto.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$cluster'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
        # Another process may take the port between choosing and binding it: try a new one.
        if as_owner "$bindir/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w \
            -t "$kStartTimeoutSeconds" start >/dev/null; then
            break
        fi
        port=""
    done
    if [[ -z $port ]]; then
        echo "pg-test-cluster: the server did not start; log follows" >&2
        cat "$cluster/server.log" >&2 || true
        exit 1
    fi

    # pg_ctl -w returned once the server accepts connections, so createdb needs no retry.
    as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$kSuperuser" "$kDatabase"
    echo "postgres://$kSuperuser@127.0.0.1:$port/$kDatabase" >"$dir/url.tmp"
    mv "$dir/url.tmp" "$dir/url"
    echo "pg-test-cluster: $(cat "$dir/url")"
}

case $command in
start) start_cluster ;;
stop) stop_cluster ;;
halt) halt_cluster ;;
resume) resume_cluster ;;
*) usage ;;
esac
