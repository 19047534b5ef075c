#!/usr/bin/env bash
# tests/servers/moto_s3.sh -- throwaway moto_server (S3 emulator) on 127.0.0.1
# with signature checking on (INITIAL_NO_AUTH_ACTION_COUNT=0).
#
# usage:
#   out=$(tests/servers/moto_s3.sh start DIR) || exit $?   # 77 = skip
#   eval "$out"
#     -> export S3_ENDPOINT=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=AKIA... \
#               AWS_SECRET_ACCESS_KEY=... AWS_DEFAULT_REGION=us-east-1
#   tests/servers/moto_s3.sh stop DIR       # kill what start started (idempotent)
#
#   start DIR  runs `moto_server -H 127.0.0.1 -p <free port>` with
#              INITIAL_NO_AUTH_ACTION_COUNT=0, then bootstraps credentials:
#              moto only accepts access keys that exist in its IAM backend, so
#              auth is opened briefly via POST /moto-api/reset-auth, an IAM user
#              "tester" with an access key and an allow-all policy is created,
#              and auth is closed again (reset-auth 0).  The key id / secret are
#              random (moto generates them; the secret may contain '+' and '/').
#              Returns once a signed ListBuckets with that key succeeds and
#              a wrongly signed one fails; prints the export line (also saved as
#              DIR/run/env).  Log: DIR/log/moto.log, pid: DIR/run/moto.pid.
#              State is in memory only: every start is empty.
#              Exit 77 (one-line message on stderr) if moto_server is missing.
#   stop DIR   kills the moto_server started for DIR; idempotent.
#
# Path-style addressing (http://127.0.0.1:PORT/bucket/key) works.
# Optional env: MOTO_S3_START_TIMEOUT (seconds, default 60).
set -euo pipefail

ME=moto_s3.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REGION=us-east-1
START_TIMEOUT=${MOTO_S3_START_TIMEOUT:-60}
MARK_VAR=MOTO_S3_SH_DIR   # set in moto's environment to recognise our process

die() { echo "$ME: $*" >&2; exit 1; }
usage() { echo "usage: $ME start DIR | $ME stop DIR" >&2; exit 2; }

PY=$(command -v python3 || echo /usr/bin/python3)
sign() { "$PY" "$HERE/sigv4_request.py" --region "$REGION" --timeout 10 "$@"; }

is_ours() {
    [ -r "/proc/$1/environ" ] &&
        { tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null | grep -qxF "$MARK_VAR=$DIR"
}
our_pids() {
    local f pid
    if [ -e "$DIR/run/moto.pid" ]; then
        pid=$(cat "$DIR/run/moto.pid" 2>/dev/null || true)
        [[ "$pid" =~ ^[0-9]+$ ]] && is_ours "$pid" && echo "$pid"
    fi
    for f in $(grep -lsaF "$MARK_VAR=$DIR" /proc/[0-9]*/environ 2>/dev/null || true); do
        pid=${f#/proc/}
        pid=${pid%/environ}
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
    rm -f "$DIR/run/moto.pid" "$DIR/run/env"
}

reset_auth() {  # reset_auth ENDPOINT COUNT: moto's INITIAL_NO_AUTH_ACTION_COUNT := COUNT
    "$PY" -c 'import sys, urllib.request
r = urllib.request.Request(sys.argv[1] + "/moto-api/reset-auth", data=sys.argv[2].encode(),
                           headers={"Content-Type": "text/plain"}, method="POST")
print(urllib.request.urlopen(r, timeout=10).read().decode())' "$1" "$2" >>"$log" 2>&1
}

xml_field() {  # xml_field TAG < xml
    sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p" | head -n 1
}

start_all() {
    command -v moto_server >/dev/null 2>&1 || {
        echo "$ME: SKIP: moto_server not found in PATH (pip install 'moto[server]')" >&2
        exit 77
    }
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd -P)
    stop_all
    mkdir -p "$DIR/run" "$DIR/log"
    local port log=$DIR/log/moto.log
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
        die "cannot pick a free port"
    echo "=== $(date -u +%FT%TZ) moto_server -H 127.0.0.1 -p $port" >>"$log"
    (cd "$DIR" && exec env "$MARK_VAR=$DIR" INITIAL_NO_AUTH_ACTION_COUNT=0 \
        setsid moto_server -H 127.0.0.1 -p "$port") </dev/null >>"$log" 2>&1 &
    echo $! >"$DIR/run/moto.pid"
    local ep=http://127.0.0.1:$port deadline=$((SECONDS + START_TIMEOUT)) up=""
    while [ $SECONDS -lt $deadline ]; do
        if ! kill -0 "$(cat "$DIR/run/moto.pid")" 2>/dev/null; then
            if grep -qE "command not found|No module named" "$log"; then
                echo "$ME: SKIP: moto_server is not runnable: $(grep -E 'command not found|No module named' "$log" | tail -n 1)" >&2
                stop_all
                exit 77
            fi
            tail -n 20 "$log" >&2
            stop_all
            die "moto_server exited during startup (log: $log)"
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
        sleep 0.1
    done
    [ -n "$up" ] || { tail -n 20 "$log" >&2; stop_all; die "moto_server did not listen within ${START_TIMEOUT}s"; }

    # bootstrap an IAM user + key while auth is briefly disabled
    local resp ak sk
    reset_auth "$ep" inf || { stop_all; die "moto reset-auth failed (log: $log)"; }
    iam() { sign --service iam --access bootstrap --secret bootstrap \
        --header 'content-type: application/x-www-form-urlencoded; charset=utf-8' \
        --data "$1&Version=2010-05-08" POST "$ep/" 2>>"$log"; }
    iam "Action=CreateUser&UserName=tester" >/dev/null || { stop_all; die "IAM CreateUser failed (log: $log)"; }
    iam "Action=PutUserPolicy&UserName=tester&PolicyName=allow-all&PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D" >/dev/null ||
        { stop_all; die "IAM PutUserPolicy failed (log: $log)"; }
    resp=$(iam "Action=CreateAccessKey&UserName=tester") || { stop_all; die "IAM CreateAccessKey failed (log: $log)"; }
    ak=$(xml_field AccessKeyId <<<"$resp")
    sk=$(xml_field SecretAccessKey <<<"$resp")
    if [ -z "$ak" ] || [ -z "$sk" ]; then stop_all; die "could not parse CreateAccessKey response: $resp"; fi
    reset_auth "$ep" 0 || { stop_all; die "moto reset-auth failed (log: $log)"; }
    sign --access "$ak" --secret "$sk" GET "$ep/" >/dev/null 2>>"$log" ||
        { stop_all; die "signed ListBuckets failed (log: $log)"; }
    if sign --access "$ak" --secret "wrong$sk" GET "$ep/" >/dev/null 2>>"$log"; then
        stop_all; die "moto accepted a wrong secret: signature checking is off"
    fi
    local line="export S3_ENDPOINT=$ep AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk AWS_DEFAULT_REGION=$REGION"
    echo "$line" >"$DIR/run/env"
    echo "$line"
}

[ $# -eq 2 ] || usage
CMD=$1
DIR=$2
[ -n "$DIR" ] || usage
case "$DIR" in *[[:space:]]*) die "DIR must not contain whitespace: '$DIR'" ;; esac

case "$CMD" in
    start) start_all ;;
    stop)
        [ -d "$DIR" ] || exit 0
        DIR=$(cd "$DIR" && pwd -P)
        stop_all
        ;;
    *) usage ;;
esac
