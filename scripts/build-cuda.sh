#!/usr/bin/env bash
# Builds the CUDA-enabled instclf binary (cargo feature `cuda`) on a machine WITHOUT a GPU and
# WITHOUT a system CUDA toolkit, from PyPI wheels of the CUDA 13.0 toolkit (pinned: the GPU
# machines' driver 580 refuses PTX from nvcc 13.1+). Adapted from the team's verified recipe.
#
#   bash scripts/build-cuda.sh [WORKSPACE_DIR] [extra cargo args...]
#
# Result: target/cuda/release/instclf (+ instclf.stripped; compress with xz to carry it, ~5 MiB).
# It builds in its own target folder (CARGO_TARGET_DIR, default target/cuda), so the CPU build in
# target/release is left alone and the two never wait on each other's lock.
# It needs libcuda.so.1, libcudart.so.13, libcublas.so.13, libcurand.so.10 at run time:
# run it with scripts/run-gpu.sh, which finds PyTorch's copies of those on a GPU machine.
# Env knobs: VENV (default /tmp/venv-cuda), CUDA_COMPUTE_CAP (default 90 = H100/H200).
set -euo pipefail

CRATE_DIR=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
shift || true
VENV=${VENV:-/tmp/venv-cuda}
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}

# ---------------------------------------------------------------------------
# 1. CUDA 13.0 toolkit from PyPI wheels (all land in site-packages/nvidia/cu13/
#    {bin,include,lib,nvvm}). Pinned to 13.0.x: the GPU machine has driver 580
#    (= CUDA 13.0). PTX made by a newer nvcc (13.1+) carries a newer PTX ISA that
#    driver 580 refuses to JIT, and cudarc 0.19.10 panics on nvcc >= 13.5.
#    nvidia-cuda-nvcc pulls nvidia-nvvm / nvidia-cuda-crt UNPINNED (latest),
#    so pin them too.
# ---------------------------------------------------------------------------
PINS=(
  "nvidia-cuda-nvcc==13.0.88"
  "nvidia-nvvm==13.0.88"
  "nvidia-cuda-crt==13.0.88"
  "nvidia-cuda-runtime==13.0.96"
  "nvidia-cuda-nvrtc==13.0.88"
  "nvidia-cuda-cccl==13.0.85"
  "nvidia-cublas==13.0.2.14"
  "nvidia-curand==10.4.0.35"
)
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
FROZEN=$("$VENV/bin/pip" freeze 2>/dev/null || true)
for pin in "${PINS[@]}"; do
  if ! grep -qx "$pin" <<<"$FROZEN"; then
    "$VENV/bin/pip" install --no-cache-dir -q "${PINS[@]}"
    break
  fi
done
CU=$("$VENV/bin/python" -c 'import sysconfig,os;print(os.path.join(sysconfig.get_paths()["purelib"],"nvidia","cu13"))')
[ -x "$CU/bin/nvcc" ] || { echo "nvcc not found under $CU" >&2; exit 1; }

# ---------------------------------------------------------------------------
# 2. A CUDA_HOME for the linker. cudarc (feature dynamic-linking, forced by
#    candle-core) emits -lcuda -lnvrtc -lcurand -lcublas -lcublasLt and
#    candle-kernels emits -lcudart. Wheels ship only versioned sonames
#    (libcublas.so.13 ...), so add unversioned symlinks. Wheels ship no
#    libcuda (it comes with the driver), so generate a link-time stub with
#    soname libcuda.so.1 that exports every driver symbol cudarc can bind.
#    The stub is only for linking: at run time the driver's libcuda.so.1 is used.
# ---------------------------------------------------------------------------
CH="$VENV/cuda-home"
mkdir -p "$CH/lib/stubs"
ln -sfn "$CU/bin" "$CH/bin"
ln -sfn "$CU/include" "$CH/include"
ln -sfn "$CU/nvvm" "$CH/nvvm"
for pair in cudart:13 cublas:13 cublasLt:13 curand:10 nvrtc:13; do
  name=${pair%%:*}; ver=${pair##*:}
  ln -sfn "$CU/lib/lib$name.so.$ver" "$CH/lib/lib$name.so"
done

( cd "$CRATE_DIR" && cargo fetch -q )
CUDARC_DIR=$(cd "$CRATE_DIR" && cargo metadata --format-version 1 --all-features 2>/dev/null |
  "$VENV/bin/python" -c 'import json,sys,os
m=json.load(sys.stdin)
p=[p for p in m["packages"] if p["name"]=="cudarc"]
print(os.path.dirname(p[0]["manifest_path"]) if p else "")')
[ -n "$CUDARC_DIR" ] || { echo "cudarc not in dependency graph (feature cuda?)" >&2; exit 1; }
STUB_C="$CH/lib/stubs/libcuda_stub.c"
grep -ohE '^\s+fn cu[A-Za-z0-9_]+\(' "$CUDARC_DIR/src/driver/sys/mod.rs" |
  sed -E 's/^\s+fn //; s/\($//' | sort -u |
  awk '{print "int " $1 "(void) { return 100; }"}' > "$STUB_C"   # 100 = CUDA_ERROR_NO_DEVICE
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$CH/lib/stubs/libcuda.so" "$STUB_C"
echo "libcuda stub: $(wc -l < "$STUB_C") symbols"

# ---------------------------------------------------------------------------
# 3. Build. nvcc must be on PATH (cudarc's cuda-version-from-build-system runs
#    `nvcc --version`; cudaforge also honours $NVCC). CUDA_COMPUTE_CAP is needed
#    because there is no nvidia-smi here.
# ---------------------------------------------------------------------------
export PATH="$CU/bin:$PATH"
export NVCC="$CU/bin/nvcc"
export CUDA_HOME="$CH" CUDA_PATH="$CH" CUDA_ROOT="$CH"
export LD_LIBRARY_PATH="$CU/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"  # nvcc's own helpers
# cudaforge (candle-kernels' build helper) runs nvcc on ceil(50% of cores) by default,
# i.e. ONE job on a 2-core machine; use all cores for the nvcc phase.
export CUDAFORGE_THREADS=${CUDAFORGE_THREADS:-$(nproc)}
nvcc --version | tail -2
echo "CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP CUDAFORGE_THREADS=$CUDAFORGE_THREADS"

cd "$CRATE_DIR"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CRATE_DIR/target/cuda}
start=$(date +%s)
cargo build --release --features "${CUDA_FEATURES:-cuda}" "$@"
end=$(date +%s)
echo "cargo build --release --features ${CUDA_FEATURES:-cuda}: $((end - start)) s"

META=$(cargo metadata --format-version 1 --no-deps)
TDIR=$(echo "$META" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
for BIN in $(echo "$META" | "$VENV/bin/python" -c 'import json,sys
m=json.load(sys.stdin); print(" ".join(t["name"] for p in m["packages"] for t in p["targets"] if "bin" in t["kind"]))'); do
  OUT="$TDIR/release/$BIN"
  [ -f "$OUT" ] || continue
  strip -o "$OUT.stripped" "$OUT"
  ls -l "$OUT" "$OUT.stripped"
  echo "NEEDED by $BIN:"; readelf -d "$OUT" | grep NEEDED
done
