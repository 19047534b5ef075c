#!/usr/bin/env bash
# tests/servers/swift_s3.sh -- throwaway OpenStack Swift + s3api (real AWS
# Signature V4 checking) on 127.0.0.1, built from Debian 12's own packages.
#
# usage:
#   out=$(tests/servers/swift_s3.sh start DIR) || exit $?   # 77 = skip
#   eval "$out"
#     -> export S3_ENDPOINT=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=test:tester \
#               AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
#   tests/servers/swift_s3.sh stop DIR      # kill everything started for DIR
#
#   start DIR  creates DIR if needed and puts everything under it: etc/ (swift.conf,
#              *-server.conf, rings), srv/node/d1 (storage device, a plain
#              directory), lib/ (generated python helper), run/ (pids, env),
#              log/ (one log per server).  Account, container, object servers and
#              the proxy listen on free 127.0.0.1 ports; single replica,
#              mount_check = false, no rsync/replicators, no memcached (an
#              in-process dict replaces memcache).  Auth: tempauth user
#              test:tester / testing (S3 access key "test:tester", secret
#              "testing").  Returns once a signed S3 ListBuckets succeeds and
#              prints the export line (also saved as DIR/run/env).  If DIR is
#              already running it is stopped first; stored objects are kept.
#              Exit 77 (with a one-line message on stderr) when the needed
#              Debian packages are not installed.
#   stop DIR   kills every process started for DIR; idempotent; keeps DIR.
#
# Path-style addressing only (http://127.0.0.1:PORT/bucket/key).  Buckets are
# not created; that is left to the caller.
# Optional env: SWIFT_S3_REGION (default us-east-1), SWIFT_S3_START_TIMEOUT
# (seconds, default 60), SWIFT_PYTHON (default /usr/bin/python3, Debian's).
set -euo pipefail

ME=swift_s3.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SWIFT_PY=${SWIFT_PYTHON:-/usr/bin/python3}
REGION=${SWIFT_S3_REGION:-us-east-1}
START_TIMEOUT=${SWIFT_S3_START_TIMEOUT:-60}
ACCESS_KEY=test:tester
SECRET_KEY=testing
SERVERS="account container object proxy"

die() { echo "$ME: $*" >&2; exit 1; }
usage() { echo "usage: $ME start DIR | $ME stop DIR" >&2; exit 2; }

py() { "$SWIFT_PY" -s -E "$@"; }   # isolated from pyenv/venv/user site-packages

check_deps() {
    if [ -x "$SWIFT_PY" ] && py -c 'import swift.proxy.server, swift.account.server, swift.container.server, swift.obj.server, swift.common.middleware.s3api.s3api, swift.common.middleware.tempauth, swift.common.ring, lxml.etree' 2>/dev/null; then
        return 0
    fi
    local missing="" p
    for p in python3 python3-swift python3-lxml; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || missing="$missing $p"
    done
    echo "$ME: SKIP: missing Debian packages:${missing:- none, but 'import swift' fails with $SWIFT_PY (broken python3-swift?)} (apt-get install swift swift-proxy swift-account swift-container swift-object)" >&2
    exit 77
}

# Our processes are recognised by the helper path in their command line.
helper_path() { echo "$DIR/lib/swift_s3_local.py"; }
is_ours() {
    local pid=$1 cmd
    [ -r "/proc/$pid/cmdline" ] || return 1
    cmd=$( { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
    [[ "$cmd" == *"$(helper_path)"* ]]
}
our_pids() {
    local f pid
    for f in "$DIR"/run/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null || true)
        [[ "$pid" =~ ^[0-9]+$ ]] && is_ours "$pid" && echo "$pid"
    done
    # strays (e.g. pid file lost): scan /proc (grep's own match fails is_ours)
    for f in $(grep -lsaF "$(helper_path)" /proc/[0-9]*/cmdline 2>/dev/null || true); do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        is_ours "$pid" && echo "$pid"
    done
    return 0
}

# stat_field PID N: Nth field of /proc/PID/stat after "(comm)": 1 state, 3 pgrp
stat_field() {
    local s n=$2
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    local -a f
    read -r -a f <<<"$s"
    echo "${f[$((n - 1))]:-}"
}
alive() {  # running (zombies do not count)
    local st
    st=$(stat_field "$1" 1) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

stop_all() {
    [ -d "$DIR" ] || return 0
    local pids pid left=""
    pids=$(our_pids | sort -u)
    for pid in $pids; do
        # servers run in their own session: kill the whole group if it is theirs
        if [ "$(stat_field "$pid" 3)" = "$pid" ]; then
            kill -TERM -- "-$pid" 2>/dev/null || true
        fi
        kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 50); do
        left=""
        for pid in $pids; do alive "$pid" && left="$left $pid"; done
        [ -z "$left" ] && break
        sleep 0.1
    done
    for pid in $left; do kill -KILL -- "-$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
    for _ in $(seq 20); do
        left=""
        for pid in $pids; do alive "$pid" && left="$left $pid"; done
        [ -z "$left" ] && break
        sleep 0.1
    done
    rm -f "$DIR"/run/*.pid "$DIR/run/env"
}

write_helper() {
    cat >"$(helper_path)" <<'PYEOF'
# Generated by tests/servers/swift_s3.sh -- do not edit.
#   swift_s3_local.py ports N                 print N free 127.0.0.1 ports
#   swift_s3_local.py rings ETC A C O         build account/container/object rings
#   swift_s3_local.py serve NAME CONF         run one swift server in the foreground
# Also a paste filter (cache_filter_factory) replacing memcache with a dict.
import json
import logging
import os
import socket
import sys
import time as _time

_STORE = {}


class DictCache(object):
    """In-process stand-in for swift.common.memcached.MemcacheRing.

    Every server runs with workers = 0 (one process), so one dict is
    coherent.  Values round-trip through JSON like the real client does."""

    @staticmethod
    def _expiry(t):
        t = float(t or 0)
        if t <= 0:
            return None
        return t if t > 30 * 24 * 3600 else _time.time() + t

    @staticmethod
    def _lookup(key):
        item = _STORE.get(key)
        if item is None:
            return None
        if item[0] is not None and item[0] <= _time.time():
            _STORE.pop(key, None)
            return None
        return item

    def set(self, key, value, serialize=True, time=0, min_compress_len=0,
            raise_on_error=False, **kwargs):
        if serialize:
            value = json.dumps(value)
        _STORE[key] = (self._expiry(time), serialize, value)

    def get(self, key, raise_on_error=False, **kwargs):
        item = self._lookup(key)
        if item is None:
            return None
        return json.loads(item[2]) if item[1] else item[2]

    def incr(self, key, delta=1, time=0, **kwargs):
        item = self._lookup(key)
        if item is None:
            new, exp = max(0, int(delta)), self._expiry(time)
        else:
            new, exp = max(0, int(item[2]) + int(delta)), item[0]
        _STORE[key] = (exp, False, new)
        return new

    def decr(self, key, delta=1, time=0, **kwargs):
        return self.incr(key, -int(delta), time)

    def delete(self, key, server_key=None, **kwargs):
        _STORE.pop(key, None)

    def set_multi(self, mapping, server_key, serialize=True, time=0,
                  min_compress_len=0, **kwargs):
        for k, v in mapping.items():
            self.set(k, v, serialize=serialize, time=time)

    def get_multi(self, keys, server_key, **kwargs):
        return [self.get(k) for k in keys]


_CACHE = DictCache()


def cache_filter_factory(global_conf, **local_conf):
    def cache_filter(app):
        def middleware(env, start_response):
            env['swift.cache'] = _CACHE
            return app(env, start_response)
        return middleware
    return cache_filter


def ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(('127.0.0.1', 0))
        socks.append(s)
    print(' '.join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def rings(etc, acct, cont, obj):
    from swift.common import utils
    utils.set_swift_dir(etc)
    from swift.common.ring import RingBuilder
    for name, port in (('account', acct), ('container', cont),
                       ('object', obj)):
        b = RingBuilder(4, 1, 0)   # 16 partitions, 1 replica
        b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1',
                   'port': int(port), 'device': 'd1', 'weight': 100.0,
                   'meta': ''})
        b.rebalance()
        b.save(os.path.join(etc, name + '.builder'))
        b.get_ring().save(os.path.join(etc, name + '.ring.gz'))


def serve(name, conf):
    try:
        os.setsid()
    except OSError:
        pass
    from swift.common import utils

    class NoSyslog(logging.Handler):
        # logs go to stderr (verbose console handler) -> DIR/log/*.log
        def __init__(self, *args, **kwargs):
            logging.Handler.__init__(self)

        def emit(self, record):
            pass

    utils.ThreadSafeSysLogHandler = NoSyslog
    d = utils.get_logger.__defaults__
    if d and d[-2] == "%(server)s: %(message)s":
        utils.get_logger.__defaults__ = d[:-2] + (
            "%(asctime)s %(server)s %(levelname)s: %(message)s",) + d[-1:]
    # read swift.conf (hash prefix, storage policies, constraints) from DIR/etc
    utils.set_swift_dir(os.path.dirname(conf))
    from swift.common import constraints, storage_policy
    storage_policy.reload_storage_policies()
    constraints.reload_constraints()
    from swift.common.wsgi import run_wsgi
    sys.exit(run_wsgi(conf, name, verbose=True))


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'ports':
        ports(int(args[0]))
    elif cmd == 'rings':
        rings(*args)
    elif cmd == 'serve':
        serve(*args)
    else:
        sys.exit('unknown command %r' % cmd)
PYEOF
}

write_configs() {
    local etc=$DIR/etc user
    user=$(id -un 2>/dev/null || echo nobody)
    cat >"$etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = wms-test-prefix
swift_hash_path_suffix = wms-test-suffix

[storage-policy:0]
name = Policy-0
default = yes

[swift-constraints]
EOF
    local common
    common="[DEFAULT]
bind_ip = 127.0.0.1
workers = 0
user = $user
swift_dir = $etc
devices = $DIR/srv/node
mount_check = false
disable_fallocate = true
fallocate_reserve = 0
log_level = INFO
"
    local s
    for s in account container object; do
        local port_var="P_${s^^}"
        cat >"$etc/$s-server.conf" <<EOF
$common
bind_port = ${!port_var}

[pipeline:main]
pipeline = $s-server

[app:$s-server]
use = egg:swift#$s
EOF
    done
    cat >"$etc/proxy-server.conf" <<EOF
$common
bind_port = $P_PROXY

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo versioned_writes proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = $REGION
max_upload_part_num = 10000

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $SECRET_KEY .admin

[filter:cache]
paste.filter_factory = swift_s3_local:cache_filter_factory

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo
max_manifest_segments = 10000

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
EOF
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

show_logs() {
    local s
    for s in $SERVERS; do
        echo "----- $DIR/log/$s.log (tail) -----" >&2
        tail -n 15 "$DIR/log/$s.log" >&2 2>/dev/null || true
    done
}

start_all() {
    stop_all
    mkdir -p "$DIR/etc" "$DIR/lib" "$DIR/run" "$DIR/log" "$DIR/srv/node/d1"
    write_helper
    local ports
    ports=$(py "$(helper_path)" ports 4) || die "cannot pick free ports"
    read -r P_ACCOUNT P_CONTAINER P_OBJECT P_PROXY <<<"$ports"
    write_configs
    py "$(helper_path)" rings "$DIR/etc" "$P_ACCOUNT" "$P_CONTAINER" "$P_OBJECT" \
        >>"$DIR/log/rings.log" 2>&1 || { cat "$DIR/log/rings.log" >&2; die "ring build failed"; }

    local s
    for s in $SERVERS; do
        py "$(helper_path)" serve "$s-server" "$DIR/etc/$s-server.conf" \
            </dev/null >>"$DIR/log/$s.log" 2>&1 &
        echo $! >"$DIR/run/$s.pid"
    done

    local endpoint=http://127.0.0.1:$P_PROXY deadline=$((SECONDS + START_TIMEOUT)) ok=""
    while [ $SECONDS -lt $deadline ]; do
        for s in $SERVERS; do
            kill -0 "$(cat "$DIR/run/$s.pid")" 2>/dev/null || {
                show_logs; stop_all; die "$s-server exited during startup (logs in $DIR/log)"; }
        done
        if port_open "$P_ACCOUNT" && port_open "$P_CONTAINER" && port_open "$P_OBJECT" &&
            py "$HERE/sigv4_request.py" --access "$ACCESS_KEY" --secret "$SECRET_KEY" \
                --region "$REGION" --timeout 5 GET "$endpoint/" >/dev/null 2>>"$DIR/log/probe.log"; then
            ok=1
            break
        fi
        sleep 0.2
    done
    if [ -z "$ok" ]; then
        show_logs; stop_all; die "proxy did not answer a signed request within ${START_TIMEOUT}s (logs in $DIR/log)"
    fi
    local line="export S3_ENDPOINT=$endpoint AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY AWS_DEFAULT_REGION=$REGION"
    echo "$line" >"$DIR/run/env"
    echo "$line"
}

[ $# -eq 2 ] || usage
CMD=$1
DIR=$2
[ -n "$DIR" ] || usage
case "$DIR" in *[[:space:]]*) die "DIR must not contain whitespace: '$DIR'" ;; esac

case "$CMD" in
    start)
        check_deps
        mkdir -p "$DIR"
        DIR=$(cd "$DIR" && pwd -P)
        start_all
        ;;
    stop)
        [ -d "$DIR" ] || exit 0
        DIR=$(cd "$DIR" && pwd -P)
        stop_all
        ;;
    *) usage ;;
esac
