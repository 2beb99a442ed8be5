#!/usr/bin/env bash
# Training speed: `instclf train` (release build, CPU) against PyTorch (CPU) on the same
# synthetic MARL-shaped dataset (66247 x 120 training rows, 14904 validation rows, 10 classes),
# 10 epochs, batch 128, the seed model (Dense(256, sigmoid) -> Dense(10)), validation on the
# test split every epoch. Thread counts are set explicitly: 1 thread, and all cores. In the same
# run, the matmul floor: numpy doing only the epoch's matrix products on one BLAS thread
# (scripts/bench/matmul_floor.py).
#
# usage: scripts/bench/train.sh [WORK_DIR]   (default /tmp/instclf-bench)
# env:   PYTHON (a python with torch+numpy; default: python3, then /tmp/torchvenv/bin/python)
#        NO_BUILD=1 (use existing builds; INSTCLF / SYNTHETIC_DATASET name the binaries)
#        EPOCHS (default 10), THREADS (the multi-thread count; default: nproc)
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-/tmp/instclf-bench}
EPOCHS=${EPOCHS:-10}
THREADS=${THREADS:-$(nproc)}
mkdir -p "$WORK"

if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release -q -p instclf
    cargo build --release -q -p instclf-model --example synthetic_dataset
fi
BIN=${INSTCLF:-target/release/instclf}
GEN=${SYNTHETIC_DATASET:-target/release/examples/synthetic_dataset}
DATA="$WORK/data"
if [ ! -f "$DATA/uiowa_test_labels.npy" ]; then
    "$GEN" "$DATA" 66247 14904 120 10 7
fi

PY=${PYTHON:-}
if [ -z "$PY" ]; then
    for p in python3 /tmp/torchvenv/bin/python; do
        if "$p" -c "import torch, numpy" 2>/dev/null; then PY=$p; break; fi
    done
fi

RESULTS="$WORK/results.jsonl"
: > "$RESULTS"
summarise() { # label threads json-file
    python3 - "$1" "$2" "$3" >> "$RESULTS" <<'PYEOF'
import json, sys
label, threads, path = sys.argv[1], sys.argv[2], sys.argv[3]
j = json.load(open(path))
h = j["history"]
times = [r["time_s"] for r in h]
print(json.dumps({"impl": label, "threads": int(threads), "epochs": len(h),
                  "best_epoch_s": min(times), "mean_epoch_s": sum(times) / len(times),
                  "val_accuracy": h[-1]["val_accuracy"]}))
PYEOF
}

for t in 1 "$THREADS"; do
    "$BIN" train --threads "$t" --data "$DATA" -o "$WORK/model-$t" --force --epochs "$EPOCHS" \
        --device cpu --seed 0 --json --quiet > "$WORK/instclf-$t.json"
    summarise instclf "$t" "$WORK/instclf-$t.json"
done

# The floor: numpy doing only the epoch's matrix products, one BLAS thread, same run.
for p in "${PY:-}" .venv/bin/python python3; do
    if [ -n "$p" ] && "$p" -c "import numpy" 2>/dev/null; then
        OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 "$p" scripts/bench/matmul_floor.py \
            66247 120 256 10 128 "$EPOCHS" | python3 -c '
import json, sys; r = json.load(sys.stdin); r.update(impl="floor", threads=1, epochs=r["repeats"], val_accuracy=0.0)
print(json.dumps(r))' >> "$RESULTS"
        break
    fi
done

if [ -n "$PY" ] && "$PY" -c "import torch" 2>/dev/null; then
    for t in 1 "$THREADS"; do
        "$PY" scripts/bench/train_torch.py "$DATA" --epochs "$EPOCHS" --threads "$t" > "$WORK/torch-$t.json"
        summarise pytorch "$t" "$WORK/torch-$t.json"
    done
else
    echo "PyTorch not available (set PYTHON to a python with torch and numpy); instclf only" >&2
fi

python3 - "$RESULTS" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'impl':<8} {'threads':>7} {'best epoch s':>12} {'mean epoch s':>12} {'val acc':>8}")
for r in rows:
    print(f"{r['impl']:<8} {r['threads']:>7} {r['best_epoch_s']:>12.3f} {r['mean_epoch_s']:>12.3f} {r['val_accuracy']:>8.4f}")
torch = [r["best_epoch_s"] for r in rows if r["impl"] == "pytorch"]
ours = [r["best_epoch_s"] for r in rows if r["impl"] == "instclf"]
if torch and ours:
    print(f"instclf best / PyTorch best epoch time: {min(ours) / min(torch):.2f}x (target <= 0.5x)")
floor = [r["best_epoch_s"] for r in rows if r["impl"] == "floor"]
one = [r["best_epoch_s"] for r in rows if r["impl"] == "instclf" and r["threads"] == 1]
if floor and one:
    print(f"instclf 1 thread best / matmul floor best: {one[0] / floor[0]:.2f}x (target <= 2.5x)")
PYEOF
