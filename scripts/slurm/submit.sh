#!/usr/bin/env bash
# Submits an `instclf sweep` to Slurm: a job array with one shard of the trial grid per task
# (scripts/slurm/sweep.sbatch) and a merge job that starts when every task has ended well
# (--dependency=afterok on each task; scripts/slurm/merge.sbatch). See docs/slurm.md.
#
# usage: scripts/slurm/submit.sh --out DIR [--shards N] [--cpus C] [--gpu] [--sbatch ARG]...
#            -- SWEEP_ARGS...
#   --out DIR      results: DIR/shard-i-of-N/ per task, DIR/merged/ at the end, DIR/logs/,
#                  DIR/jobs.env (the job ids, read by scripts/slurm/requeue.sh)
#   --shards N     tasks in the array, one shard each [4]
#   --cpus C       CPUs per task, also the sweep's --threads unless SWEEP_ARGS set it [1]
#   --gpu          one GPU per task (--gres=gpu:1): trains there, energy from NVML
#   --sbatch ARG   passed to sbatch for both jobs (e.g. --sbatch --partition=gpu
#                  --sbatch --time=04:00:00); may be repeated
#   SWEEP_ARGS     `instclf sweep` options (--data, --lr, --batch-size, ...), without --out,
#                  --shard and --resume, which the tasks set
# The binary is $INSTCLF, else `instclf` on PATH; its absolute path is given to the jobs, so it
# must be visible from the compute nodes, like DIR and the dataset.
set -euo pipefail

die() { echo "submit.sh: error: $*" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
out=""
shards=4
cpus=1
gpu=0
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --out) [ $# -ge 2 ] || die "--out needs a folder"; out=$2; shift 2 ;;
        --shards) [ $# -ge 2 ] || die "--shards needs a number"; shards=$2; shift 2 ;;
        --cpus) [ $# -ge 2 ] || die "--cpus needs a number"; cpus=$2; shift 2 ;;
        --gpu) gpu=1; shift ;;
        --sbatch) [ $# -ge 2 ] || die "--sbatch needs an argument"; extra+=("$2"); shift 2 ;;
        --) shift; break ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (the sweep's options go after --)" ;;
    esac
done
[ -n "$out" ] || die "--out DIR is required"
[[ $shards =~ ^[1-9][0-9]*$ ]] || die "--shards must be a whole number >= 1, got '$shards'"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a whole number >= 1, got '$cpus'"
[ $# -gt 0 ] || die "no sweep options after -- (at least --data DIR)"
data=""
prev=""
for a in "$@"; do
    case $a in
        --out | --out=* | -o | --output | --output=* | --shard | --shard=* | --resume)
            die "$a is set by the tasks (use submit.sh --out DIR and --shards N)" ;;
        --data=*) data=${a#--data=} ;;
    esac
    [ "$prev" = --data ] && data=$a
    prev=$a
done
[ -n "$data" ] || die "no --data DIR in the sweep options"
[ -d "$data" ] || die "$data: no such dataset folder (--data)"
command -v sbatch >/dev/null || die "sbatch not found (is this a Slurm login node?)"
instclf=$(command -v "${INSTCLF:-instclf}") || die "${INSTCLF:-instclf} not found (set INSTCLF to the binary's path)"
instclf=$(cd "$(dirname "$instclf")" && pwd)/$(basename "$instclf")
[ -e "$out/jobs.env" ] && die "$out already holds a submitted sweep ($out/jobs.env); choose another --out"

mkdir -p "$out/logs"
out=$(cd "$out" && pwd)
array_args=(--array="1-$shards" --cpus-per-task="$cpus")
[ "$gpu" = 1 ] && array_args+=(--gres=gpu:1)

job=$(INSTCLF=$instclf sbatch --parsable --export=ALL "${extra[@]}" "${array_args[@]}" \
    --output="$out/logs/sweep-%A_%a.out" "$here/sweep.sbatch" "$out" "$@")
job=${job%%;*}
dependency=afterok
for i in $(seq "$shards"); do dependency+=":${job}_$i"; done
merge=$(INSTCLF=$instclf sbatch --parsable --export=ALL "${extra[@]}" --dependency="$dependency" \
    --output="$out/logs/merge-%j.out" "$here/merge.sbatch" "$out" "$shards")
merge=${merge%%;*}
{
    echo "# Written by scripts/slurm/submit.sh; read by scripts/slurm/requeue.sh."
    echo "ARRAY_JOB=$job"
    echo "MERGE_JOB=$merge"
    echo "SHARDS=$shards"
    echo "DEPENDENCY=$dependency"
    echo "INSTCLF=$(printf %q "$instclf")"
    declare -p extra | sed 's/^declare -a extra=/SBATCH_EXTRA=/'
} > "$out/jobs.env"
echo "submitted array job $job ($shards tasks) and merge job $merge; results in $out/merged, logs in $out/logs"
