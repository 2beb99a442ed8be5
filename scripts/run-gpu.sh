#!/usr/bin/env bash
# On the GPU machine (driver 580, PyTorch cu13 wheels, no Rust): run a binary that
# build.sh produced. It is dynamically linked (NEEDED) against libcuda.so.1 (driver),
# libcudart.so.13, libcublas.so.13 (-> libcublasLt.so.13), libcurand.so.10 (wheels),
# so those directories must be on LD_LIBRARY_PATH.
#
#   bash scripts/run-gpu.sh ./instclf train --device cuda ...
set -euo pipefail
BIN=${1:?usage: run-gpu.sh BIN [args...]}
shift

dirs=$(python3 - <<'EOF' 2>/dev/null || true
import glob, os, site
roots = []
try:
    roots += site.getsitepackages()
except Exception:
    pass
roots.append(site.getusersitepackages())
need = ["libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcurand.so.10"]
found = []
for name in need:
    for r in roots:
        hits = glob.glob(os.path.join(r, "nvidia", "**", name), recursive=True)
        if hits:
            d = os.path.dirname(hits[0])
            if d not in found:
                found.append(d)
            break
print(":".join(found))
EOF
)
if [ -z "$dirs" ]; then   # fallback: search the file system
  for name in libcudart.so.13 libcublas.so.13 libcurand.so.10; do
    f=$(find / -xdev -name "$name" -print -quit 2>/dev/null || true)
    [ -n "$f" ] && dirs="${dirs:+$dirs:}$(dirname "$f")"
  done
fi
echo "CUDA libs from: ${dirs:-<none found>}" >&2
export LD_LIBRARY_PATH="${dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ldd "$BIN" | grep -E "not found" >&2 && { echo "missing libraries, see above" >&2; exit 1; }
exec "$BIN" "$@"
