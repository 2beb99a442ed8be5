#!/usr/bin/env bash
# Times what users wait for in front of every feature: decode + resample of a 60 s 44.1 kHz
# 16-bit WAV to 22,050 Hz (`instclf convert --sr 22050`, whole process: start, decode, resample,
# 16-bit WAV written to standard output, which hyperfine sends to /dev/null; and the same written
# to a file, synced before its rename as every output is) against `librosa.load(path,
# sr=22050)` in-process (which writes nothing), and `instclf features
# --kind mfcc` of the same file (whole process; to a synced file, and to a pipe) against librosa
# load + `feature.mfcc` in-process, all in the same run, single-threaded; then the decode +
# resample job with two threads (`--threads 2`: every other block of the resampler on the second
# thread, which also writes; librosa's soxr is single-threaded) and the MFCC job with two threads
# on each side (instclf `--threads 2`: decoding on one, the STFT on the other; librosa with its
# BLAS/OpenMP pools at 2). The file is the deterministic test signal of
# crates/instclf-audio/benches/frontend.rs. Prints a markdown table; speed-ups compare the two
# sides' medians (the middle run: on a shared machine the host's stolen time lands on a few runs
# and drags a mean) and their best runs. The runs are taken in ROUNDS rounds, each timing both
# sides (RUNS / ROUNDS runs of each job), and pooled: a spell of host contention then lands on
# both sides instead of on whichever side was running.
# Usage: scripts/bench/load.sh [SECONDS]   (RUNS=N, default 30; ROUNDS=N, default 5;
# PYTHON=... picks the librosa interpreter; needs hyperfine: apt-get install hyperfine)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-60}
RUNS=${RUNS:-30}
ROUNDS=${ROUNDS:-5}
PY=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
       VECLIB_MAXIMUM_THREADS=1 RAYON_NUM_THREADS=1
cargo build --release -q
BIN=$PWD/target/release/instclf
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
WAV="$TMP/bench.wav"
cargo bench -q -p instclf-audio --bench frontend -- "$WAV" --write-signal "$SECS" --write-only
PER=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
for round in $(seq "$ROUNDS"); do
  hyperfine -N -w 3 -r "$PER" --export-json "$TMP/rust.$round.json" \
    -n pipe "$BIN convert $WAV -o - --sr 22050" \
    -n pipe-2 "$BIN convert $WAV -o - --sr 22050 --threads 2" \
    -n convert "$BIN convert $WAV -o $TMP/out.wav --sr 22050" \
    -n mfcc "$BIN features $WAV --kind mfcc -o $TMP/mfcc.npy" \
    -n mfcc-pipe "$BIN features $WAV --kind mfcc -o -" \
    -n mfcc-2 "$BIN features $WAV --kind mfcc -o - --threads 2" >&2
  "$PY" scripts/bench/load_librosa.py "$WAV" "$PER" > "$TMP/py.$round.txt"
  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 NUMBA_NUM_THREADS=2 \
    VECLIB_MAXIMUM_THREADS=2 "$PY" scripts/bench/load_librosa.py "$WAV" "$PER" \
    | sed -n 's/^mfcc /mfcc2 /p' >> "$TMP/py.$round.txt"
done
python3 - "$TMP" "$ROUNDS" <<'PYEOF'
import json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
rust, py = {}, {}
for r in range(1, rounds + 1):
    for res in json.load(open(f"{tmp}/rust.{r}.json"))["results"]:
        rust.setdefault(res["command"], []).extend(res["times"])
    for line in open(f"{tmp}/py.{r}.txt"):
        k, *v = line.split()
        py.setdefault(k, []).extend(float(x) for x in v)
dur = py["duration"][0]
names = {"pipe": ("load", "decode + resample to 22,050 Hz, WAV to a pipe (`-o -`)",
                  "`librosa.load(sr=22050)`"),
         "pipe-2": ("load", "the same, two threads (`--threads 2`: the resampler's blocks shared)",
                    "`librosa.load(sr=22050)`"),
         "convert": ("load", "the same, WAV to a file (synced)", "`librosa.load(sr=22050)`"),
         "mfcc": ("mfcc", "MFCC (40) of the 44.1 kHz file, `.npy` to a file (synced)",
                  "`load` + `feature.mfcc`"),
         "mfcc-pipe": ("mfcc", "the same, `.npy` to a pipe (`-o -`)", "`load` + `feature.mfcc`"),
         "mfcc-2": ("mfcc2", "the same, two threads (`--threads 2`)",
                    "`load` + `feature.mfcc`, two threads")}
print(f"Signal: {dur:.0f} s, 44.1 kHz 16-bit WAV, single thread unless said; instclf as a whole "
      f"process (hyperfine), librosa in-process; {len(rust['convert'])} runs a side in {rounds} "
      f"rounds that alternate the two sides.\n")
print("| job | instclf ms (median; mean ± sd; min) | librosa peer | librosa ms (median, best) "
      "| speed-up (median vs median) | speed-up (min vs best) |")
print("|---|---:|---|---:|---:|---:|")
for k, (pk, job, peer) in names.items():
    t = [x * 1e3 for x in rust[k]]
    mid, mean, sd, lo = statistics.median(t), statistics.mean(t), statistics.stdev(t), min(t)
    best, med = min(py[pk]) * 1e3, statistics.median(py[pk]) * 1e3
    print(f"| {job} | {mid:.1f}; {mean:.1f} ± {sd:.1f}; {lo:.1f} | {peer} | {med:.1f}, {best:.1f} "
          f"| {med / mid:.1f}x | {best / lo:.1f}x |")
PYEOF
