#!/usr/bin/env bash
# A single-node Slurm cluster on localhost, for tests (scripts/slurm/test.sh) and for trying the
# sweep scripts without a real cluster.
#
# usage: scripts/slurm/cluster.sh start STATE_DIR [CPUS]
#        scripts/slurm/cluster.sh stop STATE_DIR
#        scripts/slurm/cluster.sh status STATE_DIR
#
# `start` runs munged, slurmctld and slurmd as root with their own files in STATE_DIR (a new or
# empty folder): munge key and socket, slurm.conf, spool, state, pid and log files. The node has
# CPUS cpus (default 2); the ports are the first free pair from $INSTCLF_SLURM_PORT (default
# 6817). It waits until the node is idle and writes STATE_DIR/env.sh (`export SLURM_CONF=...`):
# source it before sbatch, squeue, scontrol. `stop` cancels the jobs left, waits for them to
# end, and stops the three daemons by the pids in STATE_DIR/run. Needs Debian's slurm-wlm and
# munge (apt-get install slurm-wlm munge); Slurm 22.05 is known to work.
# Exit codes: 0 done, 1 a daemon failed (its log is printed, the daemons started are stopped),
# 2 bad usage or not root.
set -euo pipefail

die() { echo "cluster.sh: error: $*" >&2; exit 2; }
# A daemon failed: stop those already started (start only), then exit 1.
fail() {
    echo "cluster.sh: error: $*" >&2
    if [ "$action" = start ]; then
        stop_daemons slurmd slurmctld
        stop_daemons munged
    fi
    exit 1
}

[ $# -ge 2 ] || die "usage: cluster.sh start|stop|status STATE_DIR [CPUS]"
action=$1
state=$2
cpus=${3:-2}

# Pid of a daemon from its pid file, if the process is still there.
pid_of() {
    local f="$state/run/$1.pid" p
    [ -s "$f" ] || return 1
    p=$(cat "$f")
    [[ $p =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null && echo "$p"
}

# Whether any of the pids in the arguments is still a process.
any_alive() {
    local p
    for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done
    return 1
}

# Stops the daemons named in the arguments by their pids, together: TERM, then KILL after 10 s.
stop_daemons() {
    local d p pids=()
    for d in "$@"; do
        if p=$(pid_of "$d"); then
            kill -TERM "$p" 2>/dev/null || true
            pids+=("$p")
        fi
        rm -f "$state/run/$d.pid"
    done
    for _ in $(seq 100); do
        any_alive "${pids[@]}" || return 0
        sleep 0.1
    done
    for p in "${pids[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            echo "cluster.sh: pid $p ($*) did not stop in 10 s; killing it" >&2
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

show_log() {
    echo "--- $state/log/$1.log (last 20 lines) ---" >&2
    tail -n 20 "$state/log/$1.log" >&2 2>/dev/null || echo "(no log)" >&2
}

case $action in
start)
    [[ $cpus =~ ^[1-9][0-9]*$ ]] || die "CPUS must be a whole number >= 1, got '$cpus'"
    [ "$(id -u)" = 0 ] || die "must run as root (slurmd starts jobs as their users)"
    for b in munged slurmctld slurmd sinfo; do
        command -v "$b" >/dev/null || die "$b not found: apt-get install slurm-wlm munge"
    done
    if [ -e "$state" ] && [ -n "$(ls -A "$state")" ]; then
        die "$state is not empty (stop the cluster there first, or choose another folder)"
    fi
    mkdir -p "$state"/{run,log,spool/ctld,spool/d,munge}
    state=$(cd "$state" && pwd)
    chmod 700 "$state/munge"

    port=${INSTCLF_SLURM_PORT:-6817}
    [[ $port =~ ^[0-9]+$ ]] || die "INSTCLF_SLURM_PORT must be a port number, got '$port'"
    for _ in $(seq 50); do
        port_free "$port" && port_free $((port + 1)) && break
        port=$((port + 2))
    done
    port_free "$port" && port_free $((port + 1)) || fail "no free pair of ports from ${INSTCLF_SLURM_PORT:-6817}"

    # munged with its own key and socket: Slurm finds it through AuthInfo=socket=.
    dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$state/munge/munge.key"
    socket=$state/munge/munge.socket
    munged --force --key-file="$state/munge/munge.key" --socket="$socket" \
        --pid-file="$state/run/munged.pid" --log-file="$state/log/munged.log" \
        --seed-file="$state/munge/munged.seed" \
        || { show_log munged; fail "munged did not start"; }

    host=$(hostname -s)
    conf=$state/slurm.conf
    cat > "$conf" <<CONF
# Written by scripts/slurm/cluster.sh: a single-node test cluster, every file in $state.
ClusterName=instclf
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$socket,cred_expire=10
StateSaveLocation=$state/spool/ctld
SlurmdSpoolDir=$state/spool/d
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
SchedulerParameters=sched_interval=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    echo "export SLURM_CONF=$conf" > "$state/env.sh"
    export SLURM_CONF=$conf
    slurmctld -f "$conf" || { show_log slurmctld; fail "slurmctld did not start"; }
    slurmd -f "$conf" -N "$host" || { show_log slurmd; fail "slurmd did not start"; }
    for _ in $(seq 300); do
        st=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
        [ "$st" = idle ] && break
        sleep 0.1
    done
    if [ "$st" != idle ]; then
        show_log slurmctld
        show_log slurmd
        fail "the node is not idle after 30 s (state '${st:-unknown}')"
    fi
    echo "slurm cluster up: $host, $cpus cpus, ports $port-$((port + 1)); source $state/env.sh"
    ;;
stop)
    [ -d "$state" ] || die "$state: no such folder"
    state=$(cd "$state" && pwd)
    if [ -f "$state/slurm.conf" ] && pid_of slurmctld >/dev/null; then
        export SLURM_CONF=$state/slurm.conf
        scancel --user=root 2>/dev/null || true
        for _ in $(seq 100); do
            [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.1
        done
    fi
    stop_daemons slurmd slurmctld
    stop_daemons munged
    echo "slurm cluster in $state stopped"
    ;;
status)
    [ -d "$state" ] || die "$state: no such folder"
    for d in munged slurmctld slurmd; do
        if p=$(pid_of "$d"); then echo "$d: running (pid $p)"; else echo "$d: not running"; fi
    done
    ;;
*)
    die "unknown action '$action' (expected start, stop or status)"
    ;;
esac
