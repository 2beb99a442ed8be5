#!/usr/bin/env bash
# Requeues tasks of a sweep submitted by scripts/slurm/submit.sh (after a task was cancelled or
# failed) and makes the merge job wait for them again. Slurm counts a cancelled or failed task
# as a failed `afterok` dependency even after the task is requeued, so the merge job's
# dependency is set again (or, when the merge job is gone, a new merge job is submitted and
# OUT_DIR/jobs.env updated). A requeued task resumes its shard: only the missing trials run.
#
# usage: scripts/slurm/requeue.sh OUT_DIR TASK...
set -euo pipefail

die() { echo "requeue.sh: error: $*" >&2; exit 2; }

[ $# -ge 2 ] || die "usage: requeue.sh OUT_DIR TASK..."
here=$(cd "$(dirname "$0")" && pwd)
out=$1
shift
[ -f "$out/jobs.env" ] || die "$out/jobs.env not found (not a folder given to submit.sh --out)"
out=$(cd "$out" && pwd)
# shellcheck source=/dev/null
source "$out/jobs.env"
for t in "$@"; do
    [[ $t =~ ^[1-9][0-9]*$ ]] && [ "$t" -le "$SHARDS" ] || die "task '$t' is not in 1-$SHARDS"
done
for t in "$@"; do
    scontrol requeue "${ARRAY_JOB}_$t"
    echo "requeued task ${ARRAY_JOB}_$t"
done
state=$(squeue -h -j "$MERGE_JOB" -o %T 2>/dev/null || true)
if [ "$state" = PENDING ]; then
    scontrol update JobId="$MERGE_JOB" Dependency="$DEPENDENCY"
    echo "merge job $MERGE_JOB waits for $DEPENDENCY again"
else
    merge=$(INSTCLF=$INSTCLF sbatch --parsable --export=ALL "${SBATCH_EXTRA[@]}" \
        --dependency="$DEPENDENCY" --output="$out/logs/merge-%j.out" \
        "$here/merge.sbatch" "$out" "$SHARDS")
    merge=${merge%%;*}
    sed "s/^MERGE_JOB=.*/MERGE_JOB=$merge/" "$out/jobs.env" > "$out/jobs.env.tmp"
    mv "$out/jobs.env.tmp" "$out/jobs.env"
    echo "merge job $MERGE_JOB is ${state:-gone}; submitted merge job $merge"
fi
