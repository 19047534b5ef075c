# shellcheck shell=bash
# tests/servers/lib.sh -- shared part of tests/servers/*_s3.sh; source it, don't run it.
#
# The sourcing script sets ME (its name, for messages) and REGION, and defines
#   py ARGS...     run the python3 that has what the script needs
#   check_deps     return if the server can run, else print one line and exit 77
#   start_server   start the servers (with spawn), wait until they answer and
#                  print the export line (with print_env)
# then ends with `main "$@"`.  main implements the common contract:
#   start DIR      check_deps; mkdir -p DIR; DIR := its physical path; stop
#                  what DIR is still running; mkdir DIR/run DIR/log; start_server
#   stop DIR       kill what start started for DIR; idempotent; keeps DIR
# DIR must not contain whitespace.
#
# Process bookkeeping: spawn NAME runs a server with stdin /dev/null, its
# output appended to DIR/log/NAME.log and its pid in DIR/run/NAME.pid.  It
# runs under setsid, so that pid is also its process group, which stop_all
# kills as a whole (any children go with it).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
MARK_VAR=WMS_TEST_SERVER_DIR   # in every spawned server's environment: = DIR

die() { echo "$ME: $*" >&2; exit 1; }
usage() { echo "usage: $ME start DIR | $ME stop DIR" >&2; exit 2; }
fail() { stop_all; die "$@"; }   # give up during start: stop what is running, exit 1

# sign ARGS...: one SigV4-signed request (see sigv4_request.py)
sign() { py "$HERE/sigv4_request.py" --region "$REGION" "$@"; }

# free_ports N: print N distinct free 127.0.0.1 ports
free_ports() {
    py -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# spawn NAME [VAR=VALUE...] COMMAND [ARGS...]: start one server in the background
spawn() {
    local name=$1
    shift
    (cd "$DIR" && exec setsid env "$MARK_VAR=$DIR" "$@") </dev/null >>"$DIR/log/$name.log" 2>&1 &
    echo $! >"$DIR/run/$name.pid"
}

# alive PID: running; a zombie does not count (PID 1 in a container need not
# reap the servers once the start script that forked them has exited).
alive() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }   # the state follows "(comm) "
    [[ "$s" != [ZX]* ]]
}

# ours PID: PID is still a server spawned for DIR.  A pid file can outlive its
# server (crash, kill -9 of the test); its pid may since belong to someone
# else, whose process group must not be killed.
ours() {
    [[ "$1" =~ ^[0-9]+$ ]] &&
        { tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null | grep -qxF "$MARK_VAR=$DIR"
}

# spawned_pids: the live pids of DIR/run/*.pid that are ours
spawned_pids() {
    local f pid
    for f in "$DIR"/run/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null || true)
        if ours "$pid"; then echo "$pid"; fi
    done
}

any_alive() {
    local pid
    for pid in "$@"; do alive "$pid" && return 0; done
    return 1
}
# wait_gone TENTHS PID...: wait up to TENTHS/10 s for the PIDs to end; 1 if some did not
wait_gone() {
    local i
    for ((i = 0; i < $1; i++)); do
        any_alive "${@:2}" || return 0
        sleep 0.1
    done
    ! any_alive "${@:2}"
}

stop_all() {
    [ -d "$DIR" ] || return 0
    local pids pid
    pids=$(spawned_pids)
    for pid in $pids; do kill -TERM -- "-$pid" "$pid" 2>/dev/null || true; done
    # shellcheck disable=SC2086  # $pids: a list of numbers
    if ! wait_gone 50 $pids; then
        for pid in $pids; do kill -KILL -- "-$pid" "$pid" 2>/dev/null || true; done
        wait_gone 20 $pids || true
    fi
    rm -f "$DIR"/run/*.pid "$DIR/run/env"
}

# wait_up CHECK...: poll until the command CHECK succeeds (0); 1 as soon as a
# spawned server has exited (its name in DEAD); 2 after START_TIMEOUT seconds
wait_up() {
    local deadline=$((SECONDS + START_TIMEOUT)) f
    while [ $SECONDS -lt $deadline ]; do
        for f in "$DIR"/run/*.pid; do
            # shellcheck disable=SC2034  # DEAD is for the caller
            alive "$(cat "$f")" || { DEAD=$(basename "$f" .pid); return 1; }
        done
        "$@" && return 0
        sleep 0.1
    done
    return 2
}

# show_logs LINES: the tail of every spawned server's log, on stderr
show_logs() {
    local f name
    for f in "$DIR"/run/*.pid; do
        name=$(basename "$f" .pid)
        echo "----- $DIR/log/$name.log (tail) -----" >&2
        tail -n "$1" "$DIR/log/$name.log" >&2 2>/dev/null || true
    done
}

# print_env ENDPOINT ACCESS_KEY SECRET: the export line, on stdout and in DIR/run/env
print_env() {
    local line="export S3_ENDPOINT=$1 AWS_ACCESS_KEY_ID=$2 AWS_SECRET_ACCESS_KEY=$3 AWS_DEFAULT_REGION=$REGION"
    echo "$line" >"$DIR/run/env"
    echo "$line"
}

main() {
    [ $# -eq 2 ] || usage
    local cmd=$1
    DIR=$2
    [ -n "$DIR" ] || usage
    case "$DIR" in *[[:space:]]*) die "DIR must not contain whitespace: '$DIR'" ;; esac
    case "$cmd" in
        start)
            check_deps
            mkdir -p "$DIR"
            DIR=$(cd "$DIR" && pwd -P)
            stop_all
            mkdir -p "$DIR/run" "$DIR/log"
            start_server
            ;;
        stop)
            [ -d "$DIR" ] || exit 0
            DIR=$(cd "$DIR" && pwd -P)
            stop_all
            ;;
        *) usage ;;
    esac
}
