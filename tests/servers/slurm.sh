#!/usr/bin/env bash
# tests/servers/slurm.sh -- throwaway single-node Slurm 22.05 cluster on 127.0.0.1.
#
# usage:
#   out=$(tests/servers/slurm.sh start DIR) || exit $?   # 77 = skip
#   eval "$out"
#     -> export SLURM_CONF=DIR/etc/slurm.conf
#   sbatch --parsable --wrap 'sleep 1'; squeue; scontrol show job ID; scancel ID
#   tests/servers/slurm.sh stop DIR        # kill what start started (idempotent)
#
#   start DIR  writes DIR/etc/slurm.conf (cluster "wmstest", one node named after
#              `hostname -s` at 127.0.0.1 with CPUs = nproc, partition "debug"
#              Default=YES MaxTime=INFINITE), empties DIR/slurm (state, spool, pid
#              files, jobcomp.log), then runs `slurmctld -D` and `slurmd -D` in the
#              foreground on two free 127.0.0.1 ports (logs: DIR/log/slurmctld.log,
#              DIR/log/slurmd.log; pids: DIR/run/*.pid).  Authentication is
#              auth/none + cred/none: no munged, no key, nothing system-wide (any
#              local process can act as any user -- a test cluster only).  No
#              cgroups (proctrack/linuxproc; task/affinity binds a job to its
#              CPUs: a 1-CPU job sees one core), no accounting daemon.
#              Returns once `sinfo` shows the node idle and prints the export line
#              (also DIR/run/env).  Every start is empty; job ids start at 1.
#              Needs root (slurmd runs jobs as their submitter).  Exit 77 (one-line
#              message on stderr) when not root or slurmctld/slurmd/sbatch (Debian:
#              slurmctld slurmd slurm-client) are missing.
#   stop DIR   kills the job steps (slurmstepd and the job's processes), then
#              slurmctld and slurmd; idempotent; keeps DIR.
#
# Clients: with SLURM_CONF exported, sbatch / squeue / scancel / scontrol / sinfo /
# srun work.  sacct does not (no slurmdbd: "Slurm accounting storage is disabled");
# a finished job's state stays in `scontrol show job ID` / `squeue -t all` for
# MinJobAge seconds, and for good in DIR/slurm/jobcomp.log (jobcomp/filetxt, one
# "JobId=... JobState=TIMEOUT ..." line per finished job).
#
# Timing: start takes about 2 s (until the node is idle).  On a fresh cluster a job
# starts running ~2 s after sbatch, later ones ~0.3-1 s (batch_sched_delay=0).
# Time limits: Slurm keeps them in whole minutes (--time=0:05 is rounded up to 1
# minute) and slurmctld checks them only every 30 s, counted from its own start
# (PERIODIC_TIMEOUT, not configurable), so with OverTimeLimit=0 a job is signalled
# 0-30 s after its limit (SIGTERM, SIGKILL KillWait=2 s later) and ends in state
# TIMEOUT (Reason=TimeLimit).  Measured: --time=1 jobs ended 66 s, 80 s and 87 s
# after they started; a job submitted right after start ends ~87 s in (the checks
# fall at slurmctld start + 30 s * k).  scancel takes effect in < 0.5 s.
# Job output goes to slurm-JOBID.out in sbatch's cwd unless --output says otherwise.
# Under a PID 1 that does not reap, stopped daemons stay as zombies (not running).
# Optional env: SLURM_START_TIMEOUT (seconds, default 60), SLURM_TEST_CPUS (the
# node's CPUs, default nproc; more than the machine has is accepted),
# SLURM_TEST_MIN_JOB_AGE (seconds a finished job stays visible, default 300).
set -euo pipefail

ME=slurm.sh
REGION=none
START_TIMEOUT=${SLURM_START_TIMEOUT:-60}
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=$(command -v python3 || echo /usr/bin/python3)
py() { "$PY" "$@"; }

check_deps() {
    local c
    for c in slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
        command -v "$c" >/dev/null 2>&1 || {
            echo "$ME: SKIP: $c not found in PATH (Debian packages slurmctld slurmd slurm-client)" >&2
            exit 77
        }
    done
    local f ok=
    for f in /usr/lib/*/slurm-wlm/auth_none.so /usr/lib*/slurm/auth_none.so /usr/local/lib/slurm/auth_none.so; do
        [ -e "$f" ] && [ -e "${f%/*}/cred_none.so" ] && ok=1
    done
    [ -n "$ok" ] || {
        echo "$ME: SKIP: Slurm's auth_none.so / cred_none.so plugins not found (auth/none, cred/none)" >&2
        exit 77
    }
    [ "$(id -u)" -eq 0 ] || {
        echo "$ME: SKIP: slurmd must run as root (it starts jobs as their submitter)" >&2
        exit 77
    }
}

# step_pids: the job steps slurmd started for DIR and everything they run.  A
# slurmstepd leaves slurmd's process group and session (and overwrites its
# environment with its title), so it is found by the socket it listens on in
# DIR/slurm/spool; then every process of its session (the job's processes, also
# those that left the step's process group) and their descendants.
step_pids() {
    py -c 'import os, sys
spool = sys.argv[1] + "/slurm/spool/"
inodes = set()
with open("/proc/net/unix") as f:
    next(f)
    for line in f:
        parts = line.split()
        if len(parts) >= 8 and parts[7].startswith(spool):
            inodes.add("socket:[%s]" % parts[6])
procs = {}   # pid -> (ppid, sid)
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open("/proc/%s/stat" % p) as f:
            st = f.read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if st[0] in "ZX":
        continue
    procs[int(p)] = (int(st[1]), int(st[3]))
steps = set()
for p in procs:
    try:
        if not os.path.basename(os.readlink("/proc/%d/exe" % p)).startswith("slurmstepd"):
            continue
        fds = os.listdir("/proc/%d/fd" % p)
    except OSError:
        continue
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (p, fd)) in inodes:
                steps.add(p)
                break
        except OSError:
            pass
sids = {procs[p][1] for p in steps} - {0, 1, os.getsid(0)}
keep = steps | {p for p, (pp, sid) in procs.items() if sid in sids}
while True:
    more = {p for p, (pp, sid) in procs.items() if pp in keep} - keep
    if not more:
        break
    keep |= more
keep.discard(os.getpid())
print(" ".join(map(str, sorted(keep))))' "$DIR"
}

# lib.sh's stop_all, after the job steps (SIGKILL: no grace for a test's jobs),
# which would outlive slurmd otherwise.  Twice: a step may be starting meanwhile.
eval "lib_$(declare -f stop_all)"
kill_steps() {
    local pids
    pids=$(step_pids) || return 0
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086  # a list of numbers
    kill -KILL $pids 2>/dev/null || true
    # shellcheck disable=SC2086
    wait_gone 30 $pids || true
}
stop_all() {
    [ -d "$DIR" ] || return 0
    kill_steps
    lib_stop_all
    kill_steps
}

node_idle() {  # the node has registered and is idle
    local s
    s=$(SLURM_CONF=$DIR/etc/slurm.conf sinfo -h -n "$NODE" -o %T 2>/dev/null) || return 1
    [ "$s" = idle ]
}

start_server() {
    local ports ctld_port slurmd_port cpus min_age etc=$DIR/etc st=$DIR/slurm
    ports=$(free_ports 2) || die "cannot pick free ports"
    read -r ctld_port slurmd_port <<<"$ports"
    NODE=$(hostname -s)
    cpus=${SLURM_TEST_CPUS:-$(nproc)}
    min_age=${SLURM_TEST_MIN_JOB_AGE:-300}
    rm -rf "$st"
    mkdir -p "$etc" "$st/state" "$st/spool"
    : >"$etc/plugstack.conf"   # not /etc/slurm's
    cat >"$etc/slurm.conf" <<EOF
# written by tests/servers/slurm.sh for $DIR
ClusterName=wmstest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
PlugStackConfig=$etc/plugstack.conf
StateSaveLocation=$st/state
SlurmdSpoolDir=$st/spool
SlurmctldPidFile=$st/slurmctld.pid
SlurmdPidFile=$st/slurmd.pid
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$st/jobcomp.log
ReturnToService=2
SlurmdParameters=config_overrides
InactiveLimit=0
KillWait=2
MinJobAge=$min_age
OverTimeLimit=0
SlurmctldTimeout=10
SlurmdTimeout=30
MessageTimeout=10
UnkillableStepTimeout=10
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    echo "=== $(date -u +%FT%TZ) slurmctld on 127.0.0.1:$ctld_port" >>"$DIR/log/slurmctld.log"
    echo "=== $(date -u +%FT%TZ) slurmd $NODE on 127.0.0.1:$slurmd_port" >>"$DIR/log/slurmd.log"
    spawn slurmctld slurmctld -D -i -f "$etc/slurm.conf"
    spawn slurmd slurmd -D -f "$etc/slurm.conf" -N "$NODE"
    local rc=0
    wait_up node_idle || rc=$?
    case $rc in
        0) ;;
        1) show_logs 20; fail "$DEAD exited during startup (log: $DIR/log/$DEAD.log)" ;;
        *) show_logs 20; fail "node $NODE not idle within ${START_TIMEOUT}s" ;;
    esac
    local line="export SLURM_CONF=$etc/slurm.conf"
    echo "$line" >"$DIR/run/env"
    echo "$line"
}

main "$@"
