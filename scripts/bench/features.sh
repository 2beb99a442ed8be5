#!/usr/bin/env bash
# Times the audio front end (decode, resample 44.1->22.05 kHz, mel, MFCC, MFCC+deltas) on the
# same 60 s recording in Rust (release build) and librosa 0.11, both single-threaded, and
# prints a markdown table with x-realtime figures, by wall-clock and by thread CPU time.
# Usage: scripts/bench/features.sh [SECONDS]   (PYTHON=... to pick the librosa interpreter)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-60}
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
       VECLIB_MAXIMUM_THREADS=1 RAYON_NUM_THREADS=1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
WAV="$TMP/bench.wav"
cargo bench -q -p instclf-audio --bench frontend -- "$WAV" --write-signal "$SECS" > "$TMP/rust.txt"
"$PY" scripts/bench/features_librosa.py "$WAV" > "$TMP/py.txt"
python3 - "$TMP/rust.txt" "$TMP/py.txt" <<'PYEOF'
import sys
def read(p):
    return {k: float(v) for k, v in (l.split() for l in open(p) if l.strip())}
r, p = read(sys.argv[1]), read(sys.argv[2])
dur = r["duration"]
names = {"decode": "decode (WAV 44.1 kHz)", "resample": "resample 44.1 -> 22.05 kHz",
         "mel": "mel spectrogram (128 bands)", "mfcc": "MFCC (40)",
         "mfcc_deltas": "MFCC + deltas (120 dims)"}
print(f"Signal: {dur:.0f} s, single thread.\n")
print("Wall: best wall-clock time; CPU: best thread CPU time (leaves out waits for a busy core).\n")
print("| stage | instclf ms wall | CPU | x realtime (CPU) | librosa ms wall | CPU "
      "| x realtime (CPU) | speed-up wall | CPU |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for k, n in names.items():
    c = k + "_cpu"
    print(f"| {n} | {r[k]*1e3:.1f} | {r[c]*1e3:.1f} | {dur/r[c]:,.0f} | {p[k]*1e3:.1f} "
          f"| {p[c]*1e3:.1f} | {dur/p[c]:,.0f} | {p[k]/r[k]:.1f}x | {p[c]/r[c]:.1f}x |")
if "fft_only" in r:
    f, budget = r["fft_only"], p["mel"] / 10
    print(f"\nrustfft alone (the 1024-point complex FFT of every frame, copy included): "
          f"{f*1e3:.2f} ms wall, {f/r['mel']*100:.0f}% of instclf's mel. 10x librosa's mel is "
          f"{budget*1e3:.2f} ms, which leaves {(budget-f)*1e3:.2f} ms for the window, the power "
          f"spectrum and the mel bands of {r['mel_frames']:.0f} frames.")
PYEOF
