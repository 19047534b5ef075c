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
REGION=us-east-1
START_TIMEOUT=${MOTO_S3_START_TIMEOUT:-60}
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=$(command -v python3 || echo /usr/bin/python3)
py() { "$PY" "$@"; }

check_deps() {
    command -v moto_server >/dev/null 2>&1 || {
        echo "$ME: SKIP: moto_server not found in PATH (pip install 'moto[server]')" >&2
        exit 77
    }
}

# reset_auth and iam run inside start_server and use its $ep and $log.
reset_auth() {  # reset_auth COUNT: moto's INITIAL_NO_AUTH_ACTION_COUNT := COUNT
    py -c 'import sys, urllib.request
r = urllib.request.Request(sys.argv[1] + "/moto-api/reset-auth", data=sys.argv[2].encode(),
                           headers={"Content-Type": "text/plain"}, method="POST")
print(urllib.request.urlopen(r, timeout=10).read().decode())' "$ep" "$1" >>"$log" 2>&1 ||
        fail "moto reset-auth failed (log: $log)"
}

# iam ACTION [PARAMS]: one IAM query-API call, signed with any key (auth is open)
iam() {
    sign --service iam --access bootstrap --secret bootstrap \
        --header 'content-type: application/x-www-form-urlencoded; charset=utf-8' \
        --data "Action=$1${2:+&$2}&Version=2010-05-08" POST "$ep/" 2>>"$log" ||
        fail "IAM $1 failed (log: $log)"
}

xml_field() {  # xml_field TAG < xml
    sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p" | head -n 1
}

start_server() {
    local port ep log=$DIR/log/moto.log
    port=$(free_ports 1) || die "cannot pick a free port"
    ep=http://127.0.0.1:$port
    echo "=== $(date -u +%FT%TZ) moto_server -H 127.0.0.1 -p $port" >>"$log"
    spawn moto INITIAL_NO_AUTH_ACTION_COUNT=0 moto_server -H 127.0.0.1 -p "$port"
    local rc=0 why
    wait_up port_open "$port" || rc=$?
    case $rc in
        0) ;;
        1)
            why=$(grep -E "command not found|No module named" "$log" | tail -n 1 || true)
            if [ -n "$why" ]; then
                echo "$ME: SKIP: moto_server is not runnable: $why" >&2
                stop_all
                exit 77
            fi
            show_logs 20; fail "moto_server exited during startup (log: $log)" ;;
        *) show_logs 20; fail "moto_server did not listen within ${START_TIMEOUT}s" ;;
    esac

    # bootstrap an IAM user + key while auth is briefly disabled
    local resp ak sk
    reset_auth inf
    iam CreateUser "UserName=tester" >/dev/null
    iam PutUserPolicy "UserName=tester&PolicyName=allow-all&PolicyDocument=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D" >/dev/null
    resp=$(iam CreateAccessKey "UserName=tester")
    ak=$(xml_field AccessKeyId <<<"$resp")
    sk=$(xml_field SecretAccessKey <<<"$resp")
    if [ -z "$ak" ] || [ -z "$sk" ]; then fail "could not parse CreateAccessKey response: $resp"; fi
    reset_auth 0
    sign --access "$ak" --secret "$sk" GET "$ep/" >/dev/null 2>>"$log" ||
        fail "signed ListBuckets failed (log: $log)"
    if sign --access "$ak" --secret "wrong$sk" GET "$ep/" >/dev/null 2>>"$log"; then
        fail "moto accepted a wrong secret: signature checking is off"
    fi
    print_env "$ep" "$ak" "$sk"
}

main "$@"
