#!/usr/bin/env bash
# The guitar "authors" task (issue 7, after EpyNN's author-music study): nylon (GM 24) vs steel
# (GM 25) guitar phrases rendered from FluidR3, about 1/3 vs 2/3, cut into 1 s clips; Dense
# (Flatten-Dense) vs RNN vs GRU on the digitised waveform (10 kHz, 4 bits, one-hot 16 levels:
# 10,000 steps, 1 unit as in EpyNN) and on MFCC-frame sequences (44 frames x 120 values, 32 units).
# Prints a Markdown table (parameters, epochs, train/validation accuracy, macro precision and
# recall, seconds per epoch) and writes every run's JSON to data/guitar-task/. A GRU(8) that feeds
# only its last state to the softmax layer is added on the waveform.
#
# Usage: scripts/guitar-task.sh   (EPOCHS_WAVE, EPOCHS_MEL, THREADS, BIN=path/to/instclf override)
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS_WAVE=${EPOCHS_WAVE:-10}
EPOCHS_MEL=${EPOCHS_MEL:-20}
THREADS=${THREADS:-2}
OUT=data/guitar-task
mkdir -p "$OUT"
[ -d data/guitar ] || python3 scripts/render-guitar.py --out data/guitar --nylon 20 --steel 40
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=target/release/instclf
fi
$BIN dataset build --audio data/guitar -o "$OUT/wave" --force --test-fraction 0.2 \
  --clips 1 --input waveform --rate 10000 --bits 4
$BIN dataset build --audio data/guitar -o "$OUT/mel" --force --test-fraction 0.2 \
  --clips 1 --input mel
run() { # name data epochs args...
  local name=$1 data=$2 epochs=$3
  shift 3
  echo "== $name" >&2
  $BIN train --data "$OUT/$data" -o "$OUT/model-$name" --force --epochs "$epochs" --threads "$THREADS" \
    --batch-size 32 --json "$@" > "$OUT/$name.json"
}
run wave-dense wave "$EPOCHS_WAVE" --arch dense
run wave-rnn wave "$EPOCHS_WAVE" --arch rnn --units 1 --lr 0.01
run wave-gru wave "$EPOCHS_WAVE" --arch gru --units 1 --lr 0.01
run wave-gru8last wave "$EPOCHS_WAVE" --arch gru --units 8 --states last --lr 0.01
run mel-dense mel "$EPOCHS_MEL" --arch dense
run mel-rnn mel "$EPOCHS_MEL" --arch rnn --units 32
run mel-gru mel "$EPOCHS_MEL" --arch gru --units 32
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
print("| input | model | parameters | epochs | train acc | val acc | val precision | val recall | s/epoch |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for name in ["wave-dense", "wave-rnn", "wave-gru", "wave-gru8last", "mel-dense", "mel-rnn", "mel-gru"]:
    r = json.load(open(f"{out}/{name}.json"))
    inp, arch = name.split("-")
    label = {"dense": "Flatten-Dense", "rnn": f"RNN({r['units']})", "gru": f"GRU({r['units']})",
             "gru8last": f"GRU({r['units']}), last state"}[arch]
    t, v = r["train"], r["validation"]
    print(f"| {inp} {r['steps']}x{r['input_dim']} | {label} | {r['parameters']:,} | {r['epochs']} "
          f"| {t['accuracy']:.3f} | {v['accuracy']:.3f} | {v['macro_precision']:.3f} "
          f"| {v['macro_recall']:.3f} | {r['mean_epoch_time_s']:.2f} |")
PY
