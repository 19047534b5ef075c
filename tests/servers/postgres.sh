#!/usr/bin/env bash
# tests/servers/postgres.sh -- throwaway PostgreSQL 15 server on 127.0.0.1.
#
# usage:
#   out=$(tests/servers/postgres.sh start DIR) || exit $?   # 77 = skip
#   eval "$out"
#     -> export WMS_TEST_PG_URL=postgresql://wms@127.0.0.1:PORT PGHOST=127.0.0.1 PGPORT=PORT PGUSER=wms
#   tests/servers/postgres.sh stop DIR      # kill what start started (idempotent)
#
#   start DIR  initdb (Debian's postgresql-15: superuser "wms", trust authentication,
#              which is for a test server only) in DIR/pg/data, then postgres on a free
#              127.0.0.1 port (TCP only) with its socket in DIR/pg; returns once
#              pg_isready answers and prints the export line (also DIR/run/env).
#              As root, the server runs as the user postgres (it refuses root):
#              DIR/pg is given to postgres and DIR opened for it to traverse (the
#              folders above DIR must be open to it already).
#              WMS_TEST_PG_FSYNC=off (the default) skips fsync: a test server's data
#              does not outlive it; bench/registry.sh sets it on.
#              Exit 77 (one-line message on stderr) when postgresql-15 is missing.
#   stop DIR   fast shutdown (pg_ctl -m fast), then kills what start started.
#
# Every start is empty. A URL names no database: append /postgres, or one created with
# createdb (PGHOST, PGPORT and PGUSER are exported for the client tools).
# Optional env: PG_START_TIMEOUT (seconds, default 60).
set -euo pipefail

ME=postgres.sh
REGION=none
START_TIMEOUT=${PG_START_TIMEOUT:-60}
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=$(command -v python3 || echo /usr/bin/python3)
py() { "$PY" "$@"; }
PGBIN=/usr/lib/postgresql/15/bin

check_deps() {
    [ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/postgres" ] || {
        echo "$ME: SKIP: PostgreSQL 15 not installed ($PGBIN/initdb; Debian package postgresql-15)" >&2
        exit 77
    }
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "$ME: SKIP: running as root and there is no user 'postgres' to run the server as" >&2
        exit 77
    fi
}

# as_pg COMMAND...: run as the server's user
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# lib.sh's stop_all, after a fast shutdown (a TERM alone is a "smart" shutdown that
# waits for every client to leave).
eval "lib_$(declare -f stop_all)"
stop_all() {
    if [ -f "$DIR/pg/data/postmaster.pid" ] && [ -n "$(spawned_pids)" ]; then
        as_pg "$PGBIN/pg_ctl" -D "$DIR/pg/data" -m fast -w -t 10 stop >>"$DIR/log/postgres.log" 2>&1 || true
    fi
    lib_stop_all
}

start_server() {
    local port log=$DIR/log/postgres.log
    port=$(free_ports 1) || die "cannot pick a free port"
    rm -rf "$DIR/pg"
    mkdir -p "$DIR/pg"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$DIR/pg"
        chmod o+x "$DIR"
        runuser -u postgres -- test -w "$DIR/pg" ||
            fail "the user postgres cannot reach $DIR/pg: a folder above it is closed to others (chmod o+x it)"
    fi
    as_pg "$PGBIN/initdb" -D "$DIR/pg/data" -U wms -A trust -E UTF8 --locale=C --no-sync >>"$log" 2>&1 ||
        fail "initdb failed (log: $log)"
    echo "=== $(date -u +%FT%TZ) postgres on 127.0.0.1:$port" >>"$log"
    local fsync=${WMS_TEST_PG_FSYNC:-off}
    if [ "$(id -u)" -eq 0 ]; then
        spawn postgres runuser -u postgres -- "$PGBIN/postgres" -D "$DIR/pg/data" -k "$DIR/pg" -p "$port" \
            -c listen_addresses=127.0.0.1 -c fsync="$fsync" -c max_connections=200
    else
        spawn postgres "$PGBIN/postgres" -D "$DIR/pg/data" -k "$DIR/pg" -p "$port" \
            -c listen_addresses=127.0.0.1 -c fsync="$fsync" -c max_connections=200
    fi
    local rc=0
    wait_up "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" || rc=$?
    case $rc in
        0) ;;
        1) show_logs 20; fail "postgres exited during startup (log: $log)" ;;
        *) show_logs 20; fail "postgres did not answer within ${START_TIMEOUT}s" ;;
    esac
    local line="export WMS_TEST_PG_URL=postgresql://wms@127.0.0.1:$port PGHOST=127.0.0.1 PGPORT=$port PGUSER=wms"
    echo "$line" >"$DIR/run/env"
    echo "$line"
}

main "$@"
