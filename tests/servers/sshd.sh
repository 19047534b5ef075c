#!/usr/bin/env bash
# tests/servers/sshd.sh -- throwaway OpenSSH server on 127.0.0.1, public-key login
# only, for the current user.
#
# usage:
#   out=$(tests/servers/sshd.sh start DIR) || exit $?   # 77 = skip
#   eval "$out"
#     -> export WMS_TEST_SSH_HOST=127.0.0.1 WMS_TEST_SSH_PORT=PORT WMS_TEST_SSH_USER=USER \
#               WMS_TEST_SSH_KEY=DIR/ssh/id_ed25519 WMS_TEST_SSH_KNOWN_HOSTS=DIR/ssh/known_hosts \
#               WMS_TEST_SSH_CONFIG=DIR/etc/ssh_config
#   ssh -F "$WMS_TEST_SSH_CONFIG" wmstest CMD            # or, without the config file:
#   ssh -i "$WMS_TEST_SSH_KEY" -p "$WMS_TEST_SSH_PORT" -o IdentitiesOnly=yes -o BatchMode=yes \
#       -o UserKnownHostsFile="$WMS_TEST_SSH_KNOWN_HOSTS" -o StrictHostKeyChecking=yes \
#       "$WMS_TEST_SSH_USER@127.0.0.1" CMD
#   tests/servers/sshd.sh stop DIR          # kill what start started (idempotent)
#
#   start DIR  makes, all fresh, in DIR/ssh (mode 0700): a host key (host_ed25519_key), a
#              client key pair (id_ed25519), authorized_keys holding the client's public
#              key and known_hosts holding the host key for [127.0.0.1]:PORT; writes
#              DIR/etc/sshd_config (127.0.0.1:PORT from free_ports, public keys only,
#              UsePAM no, LogLevel VERBOSE, StrictModes no -- see below) and
#              DIR/etc/ssh_config (Host wmstest: the key, known_hosts, StrictHostKeyChecking
#              yes, BatchMode yes, ...); runs /usr/sbin/sshd -D -e -f DIR/etc/sshd_config
#              (as root it needs /run/sshd, made if missing); returns once
#              `ssh -F DIR/etc/ssh_config wmstest true` logs in, and prints the export
#              line (also DIR/run/env).  USER is `id -un`: root (PermitRootLogin
#              prohibit-password) or any other user, the server then running as that user.
#              Log: DIR/log/sshd.log, pid: DIR/run/sshd.pid (sshd's own: DIR/ssh/sshd.pid).
#              Exit 77 (one-line message on stderr) when /usr/sbin/sshd, ssh or ssh-keygen
#              is missing (Debian packages openssh-server, openssh-client).
#   stop DIR   kills sshd and everything running for its logins (TERM, KILL after 5 s);
#              idempotent.  sshd puts each connection and each login in a session
#              (setsid) of its own, outside the process group that lib.sh's stop_all
#              kills, and overwrites its own environment (process title), so stop kills:
#              the listener (pid file, checked by executable and "-f DIR/etc/sshd_config"
#              in its title), every process whose environment holds
#              WMS_TEST_SERVER_DIR=DIR (the sshd_config's SetEnv puts it in every
#              login's), all their descendants, and the process groups they lead.  Only
#              a remote daemon that clears its environment and has left the process tree
#              (e.g. `nohup setsid env -i CMD &`) escapes.
#
# StrictModes no: sshd's StrictModes refuses authorized_keys when the file or any folder
# above it (up to the home folder, or / for a file outside it) is group- or world-
# writable, and DIR is typically under /tmp (mode 1777); a 0700 DIR/ssh does not help,
# as /tmp is checked too.  For a test server it is off; DIR/ssh is 0700 all the same.
#
# Cancelling remote work: killing the local ssh (TERM or KILL) drops the connection,
# but a remote command without a pty is not signalled (sshd only closes its pipes), so
# `sleep 1000` runs on; with `ssh -tt` it gets SIGHUP when the pty closes.  Without a
# pty, either kill by pid through a second login (the remote shell's pid is its process
# group: `ssh ... 'echo $$; exec CMD'`, then `ssh ... kill -TERM -- -PID`), or make the
# remote side watch its stdin (kept open by the client; EOF when the client or its ssh
# dies) and kill CMD at EOF; stop DIR kills whatever is left.
# Optional env: SSHD_START_TIMEOUT (seconds, default 30).
set -euo pipefail

ME=sshd.sh
REGION=none
START_TIMEOUT=${SSHD_START_TIMEOUT:-30}
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=$(command -v python3 || echo /usr/bin/python3)
py() { "$PY" "$@"; }
SSHD=/usr/sbin/sshd

check_deps() {
    local missing="" t
    [ -x "$SSHD" ] || missing="$SSHD (Debian package openssh-server)"
    for t in ssh ssh-keygen; do
        command -v "$t" >/dev/null 2>&1 || missing="${missing:+$missing, }$t (Debian package openssh-client)"
    done
    if [ -n "$missing" ]; then
        echo "$ME: SKIP: not installed: $missing" >&2
        exit 77
    fi
    if [ "$(id -u)" -eq 0 ]; then
        id sshd >/dev/null 2>&1 || {
            echo "$ME: SKIP: running as root and there is no privilege separation user 'sshd'" >&2
            exit 77
        }
        # UsePAM no: sshd refuses even a key login to an account whose password is locked ('!...')
        case "$(getent shadow root 2>/dev/null | cut -d: -f2)" in
            '!'*) echo "$ME: SKIP: root's password is locked ('!' in /etc/shadow); sshd (UsePAM no) refuses its logins" >&2
                  exit 77 ;;
        esac
    fi
}

# ours PID (lib.sh's, widened): sshd overwrites its environment with its process title
# (setproctitle), so lib.sh's mark is gone from the listener and its connections; the
# listener is also known by its executable and its title/argv, which hold "-f DIR/etc/sshd_config".
eval "lib_$(declare -f ours)"
ours() {
    lib_ours "$1" && return 0
    [[ "$1" =~ ^[0-9]+$ ]] || return 1
    case "$(readlink "/proc/$1/exe" 2>/dev/null)" in "$SSHD" | "$SSHD (deleted)") ;; *) return 1 ;; esac
    { tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF -- "-f $DIR/etc/sshd_config "
}

# targets: what stop kills: the spawned sshd, the processes whose environment holds
# MARK_VAR=DIR (sshd_config's SetEnv: every login's session and what it started), and
# all their descendants (sshd's connections, children that cleared their environment);
# never this script nor its callers
targets() {
    local f roots="" p=$$ s mine=" $BASHPID "
    while [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -gt 1 ]; do
        mine+="$p "
        s=$(cat "/proc/$p/stat" 2>/dev/null) || break
        s=${s##*) }
        p=$(cut -d' ' -f2 <<<"$s")
    done
    roots=$(spawned_pids)
    for f in $(grep -lzxF "$MARK_VAR=$DIR" /proc/[0-9]*/environ 2>/dev/null || true); do
        f=${f#/proc/}
        roots+=" ${f%/environ}"
    done
    # shellcheck disable=SC2086  # $roots: a list of numbers
    ps -e -o pid= -o ppid= | awk -v roots="$roots" -v mine="$mine" -v self=$$ '
        function tree(start, set,    q, i, m, j, k, queue) {  # start and its descendants
            set[start] = 1; queue[q = 1] = start
            for (i = 1; i <= q; i++) {
                m = split(kids[queue[i]], k, " ")
                for (j = 1; j <= m; j++)
                    if (!(k[j] in set) && index(mine, " " k[j] " ") == 0) { set[k[j]] = 1; queue[++q] = k[j] }
            }
        }
        { kids[$2] = kids[$2] " " $1 }
        END {
            tree(self, me)   # stop run from inside a login: spare this script
            n = split(roots, r, " ")
            for (i = 1; i <= n; i++) if (index(mine, " " r[i] " ") == 0 && !(r[i] in me)) tree(r[i], want)
            for (p in want) if (!(p in me)) print p
        }' | while read -r p; do if alive "$p"; then echo "$p"; fi; done
}

# signal_all SIG PID...: signal the PIDs, and the process groups that they lead
# (a login's session leader leads its group; sshd's listener leads the one spawn made)
signal_all() {
    local sig=$1 pid s mygroup
    shift
    mygroup=$(ps -o pgid= -p $$ | tr -d ' ')
    for pid in "$@"; do
        s=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        s=${s##*) }
        if [ "$(cut -d' ' -f3 <<<"$s")" = "$pid" ] && [ "$pid" != "$mygroup" ]; then
            kill "-$sig" -- "-$pid" 2>/dev/null || true
        fi
        kill "-$sig" "$pid" 2>/dev/null || true
    done
}

# replaces lib.sh's: TERM to every target, KILL after 5 s; rounds for what was forked meanwhile
stop_all() {
    [ -d "$DIR" ] || return 0
    local pids _
    for _ in 1 2 3; do
        pids=$(targets)
        [ -n "$pids" ] || break
        # shellcheck disable=SC2086  # $pids: a list of numbers
        signal_all TERM $pids
        # shellcheck disable=SC2086
        if ! wait_gone 50 $pids; then
            # shellcheck disable=SC2086
            signal_all KILL $pids
            # shellcheck disable=SC2086
            wait_gone 20 $pids || true
        fi
    done
    pids=$(targets)
    [ -z "$pids" ] || echo "$ME: warning: still running for $DIR: $(tr '\n' ' ' <<<"$pids")" >&2
    rm -f "$DIR"/run/*.pid "$DIR/run/env"
}

# logged_in: one real login through the client config
logged_in() {
    port_open "$port" &&
        ssh -F "$DIR/etc/ssh_config" wmstest true </dev/null >>"$log" 2>&1
}

start_server() {
    local port log=$DIR/log/sshd.log user keys=$DIR/ssh
    user=$(id -un)
    port=$(free_ports 1) || die "cannot pick a free port"
    rm -rf "$keys"
    mkdir -p "$DIR/etc"
    mkdir -m 0700 "$keys"
    ssh-keygen -q -t ed25519 -N '' -C "wms-test-host" -f "$keys/host_ed25519_key" >>"$log" 2>&1 ||
        fail "ssh-keygen (host key) failed (log: $log)"
    ssh-keygen -q -t ed25519 -N '' -C "wms-test-client" -f "$keys/id_ed25519" >>"$log" 2>&1 ||
        fail "ssh-keygen (client key) failed (log: $log)"
    cp "$keys/id_ed25519.pub" "$keys/authorized_keys"
    chmod 0600 "$keys/authorized_keys"
    echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$keys/host_ed25519_key.pub")" >"$keys/known_hosts"

    if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
        { mkdir -p /run/sshd && chmod 0755 /run/sshd; } || fail "cannot create /run/sshd (privilege separation)"
    fi

    local root_login=no
    [ "$user" != root ] || root_login=prohibit-password
    cat >"$DIR/etc/sshd_config" <<EOF
# written by tests/servers/sshd.sh: a test server, public keys of $keys/authorized_keys only
ListenAddress 127.0.0.1
Port $port
HostKey $keys/host_ed25519_key
PidFile $keys/sshd.pid
AuthorizedKeysFile $keys/authorized_keys
AuthorizedPrincipalsFile none
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
GSSAPIAuthentication no
PermitEmptyPasswords no
PermitRootLogin $root_login
AllowUsers $user
UsePAM no
# DIR may be under /tmp (1777): see the header of tests/servers/sshd.sh
StrictModes no
LogLevel VERBOSE
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowAgentForwarding no
PermitUserEnvironment no
# tests may connect many times at once
MaxStartups 100:30:200
MaxSessions 100
MaxAuthTries 6
LoginGraceTime 30
# marks every login's processes, for stop
SetEnv $MARK_VAR=$DIR
Subsystem sftp internal-sftp
EOF
    # newer sshd (9.8+) penalises clients after failed logins, which tests provoke
    if "$SSHD" -t -f "$DIR/etc/sshd_config" -o PerSourcePenalties=no >/dev/null 2>&1; then
        echo "PerSourcePenalties no" >>"$DIR/etc/sshd_config"
    fi
    "$SSHD" -t -f "$DIR/etc/sshd_config" >>"$log" 2>&1 ||
        fail "sshd rejects $DIR/etc/sshd_config (log: $log)"

    cat >"$DIR/etc/ssh_config" <<EOF
# written by tests/servers/sshd.sh
Host wmstest
    HostName 127.0.0.1
    Port $port
    User $user
    IdentityFile $keys/id_ed25519
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile $keys/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    UpdateHostKeys no
    BatchMode yes
    ConnectTimeout 5
    PreferredAuthentications publickey
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    GSSAPIAuthentication no
    ForwardAgent no
    ForwardX11 no
    ControlMaster no
    ControlPath none
    LogLevel ERROR
EOF

    echo "=== $(date -u +%FT%TZ) $SSHD -D -e -f $DIR/etc/sshd_config (127.0.0.1:$port, user $user)" >>"$log"
    spawn sshd "$SSHD" -D -e -f "$DIR/etc/sshd_config"
    local rc=0
    wait_up logged_in || rc=$?
    case $rc in
        0) ;;
        1) show_logs 20; fail "sshd exited during startup (log: $log)" ;;
        *) show_logs 20; fail "no ssh login within ${START_TIMEOUT}s (log: $log)" ;;
    esac
    local line="export WMS_TEST_SSH_HOST=127.0.0.1 WMS_TEST_SSH_PORT=$port WMS_TEST_SSH_USER=$user"
    line+=" WMS_TEST_SSH_KEY=$keys/id_ed25519 WMS_TEST_SSH_KNOWN_HOSTS=$keys/known_hosts"
    line+=" WMS_TEST_SSH_CONFIG=$DIR/etc/ssh_config"
    echo "$line" >"$DIR/run/env"
    echo "$line"
}

main "$@"
