#!/usr/bin/env bash
# The Slurm test, against a real Slurm: starts a single-node cluster on localhost
# (scripts/slurm/cluster.sh, 2 CPUs), runs an 8-trial sweep on a synthetic dataset unsharded as
# the reference, then submits the same sweep twice as a 4-task array with
# scripts/slurm/submit.sh: once left alone, and once with task 2 cancelled (scancel) after its
# first trial and requeued with scripts/slurm/requeue.sh. Checks that every task and merge job
# completed, that the requeued task resumed (ran only its second trial), and that each merged
# results.json equals the reference's (times and energy aside). Stops the cluster at the end
# and prints the wall times.
#
# usage: scripts/slurm/test.sh
#
# Run by .ci/run. Uses $INSTCLF, else target/debug/instclf (cargo build --bin instclf, a no-op
# after cargo test), and the synthetic_dataset example. Installs slurm-wlm, munge and jq with
# apt-get when they are missing and it runs as root. INSTCLF_SLURM_TEST=skip skips it.
# Exit codes: 0 passed, 1 failed (its folder is kept and named), 2 bad usage, 77 skipped because
# Slurm cannot be started here (the reason is printed).
set -euo pipefail

[ $# = 0 ] || { echo "test.sh: error: no arguments expected (usage: scripts/slurm/test.sh)" >&2; exit 2; }
skip() { echo "slurm test: SKIPPED: $*" >&2; exit 77; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

t_start=$(now)
cd "$(dirname "$0")/../.."
repo=$(pwd)
[ "${INSTCLF_SLURM_TEST:-}" = skip ] && skip "INSTCLF_SLURM_TEST=skip"
[ "$(id -u)" = 0 ] || skip "not root (slurmd runs jobs as their users, so the test cluster runs as root)"
need=()
for b in slurmctld slurmd sbatch munged jq; do command -v "$b" >/dev/null || need+=("$b"); done
if [ ${#need[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || skip "${need[*]} not installed and no apt-get to install slurm-wlm, munge and jq"
    echo "slurm test: ${need[*]} missing; apt-get install slurm-wlm munge jq"
    apt_log=$(mktemp /tmp/instclf-slurm-apt.XXXXXX)
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        slurm-wlm munge jq >"$apt_log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$apt_log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            slurm-wlm munge jq >>"$apt_log" 2>&1 \
            || skip "apt-get install slurm-wlm munge jq failed (log: $apt_log)"
    fi
    rm -f "$apt_log"
fi

target=${CARGO_TARGET_DIR:-target}
if [ -z "${INSTCLF:-}" ]; then
    cargo build -q --bin instclf
    INSTCLF=$repo/$target/debug/instclf
fi
cargo build -q --workspace --example synthetic_dataset
synth=$target/debug/examples/synthetic_dataset

work=$(mktemp -d /tmp/instclf-slurm.XXXXXX)
cluster=$work/cluster
sweep=$work/sweep
ok=0
cleanup() {
    scripts/slurm/cluster.sh stop "$cluster" >/dev/null 2>&1 || true
    if [ $ok = 1 ]; then rm -rf "$work"; else echo "slurm test: files kept in $work" >&2; fi
}
trap cleanup EXIT
fail() {
    echo "slurm test: FAILED: $*" >&2
    for f in "$work"/*/logs/*.out "$cluster"/log/slurmctld.log "$cluster"/log/slurmd.log; do
        [ -f "$f" ] && { echo "--- $f (last 15 lines)" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}
# wait_until SECONDS WHAT COMMAND...: polls COMMAND every 0.1 s.
wait_until() {
    local limit=$1 what=$2 t0
    shift 2
    t0=$(date +%s)
    until "$@"; do
        [ $(($(date +%s) - t0)) -lt "$limit" ] || fail "no $what after $limit s"
        sleep 0.1
    done
}
job_field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
rows() { [ -f "$1" ] && echo $(($(wc -l <"$1") - 1)) || echo 0; }
# results.json without what depends on the clock (times, energy), keys sorted.
normalised() {
    jq -S 'map(del(.train_time_s, .time_per_epoch_s, .energy_j, .energy_per_epoch_j,
        .energy_source, .energy_approximate, .energy_unavailable, .gpu_energy_j,
        .cpu_energy_j, .dram_energy_j) | .history |= map(del(.time_s, .energy_j)))' "$1"
}

scripts/slurm/cluster.sh start "$cluster" 2 || fail "the cluster did not start"
# shellcheck source=/dev/null
source "$cluster/env.sh"
"$synth" "$work/data" 12000 400 16 4 3 >/dev/null
# 8 trials, ~1 s each; shard i holds trials i (batch 32) and i+4 (batch 16).
args=(--data "$work/data" --lr 0.003,0.002,0.001,0.0005 --batch-size 32,16 --epochs 12 --hidden 32)

t_ref=$(now)
"$INSTCLF" sweep "${args[@]}" --threads 1 --quiet -o "$work/full" >/dev/null
t_ref=$(secs "$t_ref" "$(now)")

# Waits for the merge job of the sweep in $1 (its jobs.env read again: requeue.sh may have
# submitted a new one) and checks every task, the merge and the merged results.
check_sweep() {
    local out=$1 i st
    # shellcheck source=/dev/null
    source "$out/jobs.env"
    merge_done() {
        [ "$(job_field "$MERGE_JOB" Reason)" = DependencyNeverSatisfied ] \
            && fail "merge job $MERGE_JOB: DependencyNeverSatisfied"
        case $(job_field "$MERGE_JOB" JobState) in
            PENDING | RUNNING | COMPLETING | CONFIGURING | "") return 1 ;;
        esac
    }
    wait_until 180 "end of merge job $MERGE_JOB" merge_done
    st=$(job_field "$MERGE_JOB" JobState)
    [ "$st" = COMPLETED ] || fail "merge job $MERGE_JOB ended $st"
    for i in 1 2 3 4; do
        st=$(job_field "${ARRAY_JOB}_$i" JobState)
        [ "$st" = COMPLETED ] || fail "task ${ARRAY_JOB}_$i ended $st"
    done
    for f in results.json results.csv bars.png loss.png bars.svg loss.svg; do
        [ -s "$out/merged/$f" ] || fail "$out/merged/$f missing"
    done
    st=$(find "$out" -maxdepth 1 -name '*.partial')
    [ -z "$st" ] || fail "partial folders left: $st"
    [ "$(jq length "$out/merged/results.json")" = 8 ] || fail "$out/merged/results.json does not hold 8 trials"
    if ! diff <(normalised "$work/full/results.json") <(normalised "$out/merged/results.json") \
        >"$work/diff"; then
        head -n 20 "$work/diff" >&2
        fail "$out/merged/results.json differs from the unsharded run's (diff above)"
    fi
}

# The array as it should go: submitted, 2 tasks at a time on the 2 CPUs, merged.
t_clean=$(now)
INSTCLF=$INSTCLF scripts/slurm/submit.sh --out "$work/clean" --shards 4 --cpus 1 -- "${args[@]}"
check_sweep "$work/clean"
t_clean=$(secs "$t_clean" "$(now)")

# The same with task 2 cancelled after its first trial and requeued.
t_array=$(now)
INSTCLF=$INSTCLF scripts/slurm/submit.sh --out "$sweep" --shards 4 --cpus 1 -- "${args[@]}"
# shellcheck source=/dev/null
source "$sweep/jobs.env"
task2=${ARRAY_JOB}_2
part2=$sweep/shard-2-of-4.partial
first_trial_done() {
    [ -d "$sweep/shard-2-of-4" ] && fail "task 2 finished its shard before it could be cancelled"
    [ "$(rows "$part2/results.csv")" -ge 1 ]
}
cancelled() { [ "$(job_field "$task2" JobState)" = CANCELLED ]; }
wait_until 120 "first trial of task 2" first_trial_done
scancel "$task2"
wait_until 60 "end of the cancelled task 2" cancelled
[ -d "$sweep/shard-2-of-4" ] && fail "task 2 finished its shard before it was cancelled"
[ "$(rows "$part2/results.csv")" = 1 ] \
    || fail "task 2 was cancelled with $(rows "$part2/results.csv") trials, not 1"
echo "slurm test: task $task2 cancelled after 1 of its 2 trials"
scripts/slurm/requeue.sh "$sweep" 2
check_sweep "$sweep"
t_array=$(secs "$t_array" "$(now)")
[ "$(job_field "$task2" Restarts)" = 1 ] \
    || fail "task 2 restarted $(job_field "$task2" Restarts) times, not once"
log2=$sweep/logs/sweep-${task2}.out
grep -q "1 trial(s) to run (1 already done)" "$log2" \
    || fail "the requeued task 2 did not resume its shard (see $log2)"

scripts/slurm/cluster.sh stop "$cluster"
ok=1
echo "slurm test: passed: merged results of the 4-task array equal the unsharded run's" \
    "($t_ref s): $t_clean s from submit to merged; $t_array s with task 2 cancelled and" \
    "requeued; whole test $(secs "$t_start" "$(now)") s"
