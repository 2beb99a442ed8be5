#!/usr/bin/env bash
# Times `instclf classify` as a whole process, from start to printed answer (so model load and
# every stage are included), with hyperfine:
#   1. one 10 s recording (two fixtures, Violin then Cello, 44.1 kHz AIFF: decode, resample,
#      segmentation, features, model, report);
#   2. a folder of 100 recordings (the first 100 of the csound render, rendered if missing);
# each with instclf on 1 thread and on all cores, and the Python peer (scripts/bench/
# classify_librosa.py: librosa 0.11 + numpy, same bundled ensemble, no segmentation) in the same run.
# Prints a markdown table. Usage: scripts/bench/classify.sh   (RUNS=N, PYTHON=... to pick the
# librosa interpreter; needs hyperfine and sox: apt-get install hyperfine sox)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
RUNS=${RUNS:-20}
RENDER=${RENDER:-data/render/csound}
cargo build --release -q
BIN=$PWD/target/release/instclf
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
sox fixtures/audio/Violin.Vib.mf.G4A4.aiff fixtures/audio/Cello.Vib.ff.C3D3.aiff \
  "$TMP/ten.aiff" pad 0 1 trim 0 10
if [ ! -d "$RENDER" ]; then
  python3 scripts/render.py --soundfont csound --out "$RENDER" >&2
fi
mkdir "$TMP/hundred"
find "$RENDER" -name '*.aiff' | sort | sed -n '1,100p' | while read -r f; do ln -s "$PWD/$f" "$TMP/hundred/"; done
HUNDRED_S=$(for f in "$TMP"/hundred/*; do soxi -D "$f"; done | awk '{s+=$1} END {printf "%.0f", s}')
MODEL="$TMP/model"
cp -r src/default_model "$MODEL"
NPROC=$(nproc)
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$TMP/ten.json" \
  -n "instclf, 1 thread" "env RAYON_NUM_THREADS=1 $BIN classify $TMP/ten.aiff" \
  -n "instclf, $NPROC threads" "$BIN classify $TMP/ten.aiff" \
  -n "librosa + numpy" "env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $PY scripts/bench/classify_librosa.py $MODEL $TMP/ten.aiff" >&2
hyperfine -N --warmup 1 --runs 3 --export-json "$TMP/hundred.json" \
  -n "instclf, 1 thread" "env RAYON_NUM_THREADS=1 $BIN classify --json $TMP/hundred" \
  -n "instclf, $NPROC threads" "$BIN classify --json $TMP/hundred" \
  -n "librosa + numpy" "env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $PY scripts/bench/classify_librosa.py $MODEL $TMP/hundred" >&2
python3 - "$TMP/ten.json" "$TMP/hundred.json" "$HUNDRED_S" "$(nproc)" <<'PYEOF'
import json, sys
ten, hundred = (json.load(open(p))["results"] for p in sys.argv[1:3])
audio_s = float(sys.argv[3])
print(f"Machine: {sys.argv[4]} cores. Whole process, hyperfine mean ± sd (min).\n")
print("| job | program | time | per file | x realtime |")
print("|---|---|---:|---:|---:|")
for r in ten:
    print(f"| one 10 s recording | {r['command']} | {r['mean']*1e3:.0f} ± {r['stddev']*1e3:.0f} ms "
          f"(min {r['min']*1e3:.0f}) | {r['mean']*1e3:.0f} ms | {10/r['mean']:.0f} |")
for r in hundred:
    print(f"| 100 recordings ({audio_s:.0f} s of audio) | {r['command']} | {r['mean']:.2f} ± "
          f"{r['stddev']:.2f} s | {r['mean']*10:.0f} ms | {audio_s/r['mean']:.0f} |")
PYEOF
