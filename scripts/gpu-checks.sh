#!/usr/bin/env bash
# The GPU checks, as one script for the lent GPU machine (CUDA driver and PyTorch, no Rust):
#   1. smoke: `train --device cuda` (1 epoch) and `classify --device cuda` on a fixture;
#   2. seed MLP (120-256-10 sigmoid, batch 128) epoch time: instclf CUDA against PyTorch CUDA eager,
#      same synthetic MARL-shaped rows (66,247 x 120), same card, same run;
#   3. on the bundled model's training shape (1,371,302 x 140 synthetic rows, 140-256-10): the
#      batch-size sweep 64..8192 to validation accuracy 0.99, with NVML energy per trial, and the
#      epoch time of instclf CUDA and PyTorch CUDA at batch 128 (the bundled recipe).
# The device tool returns only a few files, so everything but summary.txt, log.txt and the sweep's
# results ends up in OUT/steps.tgz.
# Every step has its own time limit, and writes its output under $OUT as it goes.
#
#   bash scripts/gpu-checks.sh BIN.xz|BIN [OUT]      (on the GPU machine; BIN from build-cuda.sh)
# Env: SEED_EPOCHS (3), SWEEP_LIMIT_S (240), BUNDLE_EPOCHS (2), SPREAD (2.5: Bayes accuracy ~0.99)
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=${1:?usage: gpu-checks.sh BIN[.xz] [OUT]}
OUT=${2:-${OUT:-/tmp/gpu-checks}}
mkdir -p "$OUT"
W=$(mktemp -d)
BIN=$W/instclf
if [[ $SRC == *.xz ]]; then  # xz, or Python's lzma where xz is missing
  xz -dc "$SRC" > "$BIN" 2>/dev/null ||
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$SRC" "$BIN"
else cp "$SRC" "$BIN"; fi
chmod +x "$BIN"
RUN=(bash scripts/run-gpu.sh "$BIN")
SEED_EPOCHS=${SEED_EPOCHS:-3}
BUNDLE_EPOCHS=${BUNDLE_EPOCHS:-2}
SPREAD=${SPREAD:-2.5}
log() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$OUT/log.txt"; }
step() {  # step NAME LIMIT_S CMD...: stdout to OUT/NAME.out, stderr to OUT/NAME.err
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
  local rc=$?
  log "$name: rc=$rc in $((SECONDS - t0)) s"
  tail -c 1500 "$OUT/$name.err" | sed 's/^/   /' >> "$OUT/log.txt"
  return 0
}

log "start $(date -u +%Y-%m-%dT%H:%M:%SZ)"
nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit --format=csv > "$OUT/gpu.csv" 2>&1
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' \
  > "$OUT/torch.txt" 2>&1
cat "$OUT/gpu.csv" "$OUT/torch.txt" | tee -a "$OUT/log.txt"
nproc >> "$OUT/log.txt"

SEED=$W/seed
BUNDLE=$W/bundle
step gen-seed 60 python3 scripts/bench/synthetic_npy.py "$SEED" 66247 14904 120 10 7 "$SPREAD"

# 1. smoke
step smoke-train 90 "${RUN[@]}" train --device cuda --data "$SEED" -o "$W/smoke" --epochs 1 --json --quiet
step smoke-classify 45 "${RUN[@]}" classify --device cuda --json fixtures/audio/SopSax.Vib.pp.C6Eb6.aiff
step smoke-classify-cpu 45 "${RUN[@]}" classify --device cpu --json fixtures/audio/SopSax.Vib.pp.C6Eb6.aiff

# 2. seed MLP epoch time, instclf CUDA vs PyTorch CUDA eager
step seed-instclf 90 "${RUN[@]}" train --device cuda --data "$SEED" -o "$W/seed-m" --epochs "$SEED_EPOCHS" \
  --batch-size 128 --seed 0 --json --quiet
step seed-torch 90 python3 scripts/bench/train_torch.py "$SEED" --epochs "$SEED_EPOCHS" --device cuda

# 3. the bundled model's training shape: rows, sweep, epoch times
step gen-bundle 60 python3 scripts/bench/synthetic_npy.py "$BUNDLE" 1371302 98267 140 10 7 "$SPREAD"

#    batch-size sweep to a target, NVML energy per trial
step sweep "${SWEEP_LIMIT_S:-240}" "${RUN[@]}" sweep --device cuda --data "$BUNDLE" \
  --batch-size 64,128,256,512,1024,2048,4096,8192 --target-accuracy 0.99 --patience 3 --max-epochs 30 \
  --validation split:0.2 --shuffle -o "$OUT/sweep-bs" --force --quiet
rm -rf "$OUT/sweep-bs/trials"
#    instclf CUDA and PyTorch CUDA eager at batch 128 (the bundled recipe)
step bundle-instclf 90 "${RUN[@]}" train --device cuda --data "$BUNDLE" -o "$W/bundle-m" --epochs "$BUNDLE_EPOCHS" \
  --batch-size 128 --activation relu --seed 0 --json --quiet
step bundle-torch 60 python3 scripts/bench/train_torch.py "$BUNDLE" --epochs "$BUNDLE_EPOCHS" --device cuda --activation relu

python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import json, os, sys
out = sys.argv[1]
def load(n):
    try:
        return json.loads(open(os.path.join(out, n + ".out")).read().strip().splitlines()[-1])
    except Exception as e:
        return {"error": str(e)}
for n in ("smoke-train", "seed-instclf", "seed-torch", "bundle-instclf", "bundle-torch"):
    j = load(n)
    h = j.get("history") or []
    t = [r.get("time_s") for r in h]
    print(n, {k: j.get(k) for k in ("device", "epochs", "train_time_s", "test_accuracy", "val_accuracy", "best_epoch_s", "mean_epoch_s")}, "epoch times:", t)
for n in ("smoke-classify", "smoke-classify-cpu"):
    print(n, open(os.path.join(out, n + ".out")).read()[:400].replace("\n", " "))
PY
log "end"
tar -czf "$OUT/steps.tgz" -C "$OUT" $(cd "$OUT" && ls *.out *.err gpu.csv torch.txt 2>/dev/null) &&
  (cd "$OUT" && rm -f ./*.out ./*.err gpu.csv torch.txt)
