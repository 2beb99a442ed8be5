#!/usr/bin/env bash
# Smoke test of the CUDA binary (scripts/build-cuda.sh) on a machine WITHOUT a GPU: it runs with
# the CUDA wheels' libraries and the build's link stub as libcuda.so.1 (every driver call answers
# CUDA_ERROR_NO_DEVICE), and checks that
#   - `--device auto` falls back to the CPU and classifies the fixture correctly,
#   - `--device cuda` exits 2 with one line that says why and how to fix it (no backtrace, no panic),
#   - `train --device auto` records "cpu" as its device.
# Never run this on a GPU machine (the stub would hide the real driver).
# Usage: scripts/cuda-smoke-cpu.sh [BIN]   (VENV as for build-cuda.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/cuda/release/instclf}
VENV=${VENV:-/tmp/venv-cuda}
CU=$("$VENV/bin/python" -c 'import sysconfig,os;print(os.path.join(sysconfig.get_paths()["purelib"],"nvidia","cu13"))')
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ln -s "$VENV/cuda-home/lib/stubs/libcuda.so" "$TMP/libcuda.so.1"
export LD_LIBRARY_PATH="$TMP:$CU/lib" RUST_BACKTRACE=1
FIX=fixtures/audio/SopSax.Vib.pp.C6Eb6.aiff
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$BIN" classify --json "$FIX") || fail "classify --device auto exited $?"
grep -q '"label": "SopSax"' <<<"$out" || fail "auto: expected SopSax, got: $out"
echo "ok: --device auto falls back to the CPU and answers SopSax"

set +e
err=$("$BIN" classify --device cuda "$FIX" 2>&1 >/dev/null); rc=$?
set -e
[ "$rc" = 2 ] || fail "--device cuda: exit $rc, want 2"
[ "$(wc -l <<<"$err")" = 1 ] || fail "--device cuda: want one line, got: $err"
grep -q "no NVIDIA GPU is visible" <<<"$err" || fail "--device cuda: no reason in: $err"
grep -q "panicked" <<<"$err" && fail "--device cuda: panic: $err"
echo "ok: --device cuda -> exit 2: $err"

mkdir "$TMP/audio"   # two copies of each fixture, so train and test can be split by recording
for f in fixtures/audio/*.aiff; do
  n=$(basename "$f"); cp "$f" "$TMP/audio/$n"; cp "$f" "$TMP/audio/${n%.aiff}.copy.aiff"
done
"$BIN" dataset build --audio "$TMP/audio" -o "$TMP/ds" >/dev/null 2>&1 ||
  fail "dataset build"
"$BIN" train --data "$TMP/ds" -o "$TMP/m" --epochs 1 --json --quiet > "$TMP/train.json" ||
  fail "train --device auto"
grep -q '"device": *"cpu"' "$TMP/train.json" || fail "train: device not cpu: $(cat "$TMP/train.json")"
echo "ok: train --device auto records cpu"
