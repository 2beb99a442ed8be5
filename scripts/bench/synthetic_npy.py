#!/usr/bin/env python3
"""A synthetic dataset folder in the MARL layout (uiowa_{train,test}_{data,labels}.npy), written
with numpy: one Gaussian centre per class, within-class noise SPREAD, features offset and scaled
as in instclf's `Dataset::synthetic` (same distribution, not the same numbers). For machines with
numpy but no Rust (the GPU machine); `cargo run --example synthetic_dataset` is the Rust twin.

usage: synthetic_npy.py OUT_DIR [N_TRAIN N_TEST N_FEATURES N_CLASSES SEED SPREAD]
"""
import json
import os
import sys

import numpy as np


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit("usage: synthetic_npy.py OUT_DIR [N_TRAIN N_TEST N_FEATURES N_CLASSES SEED SPREAD]")
    out = a[0]
    n_train, n_test, nf, nc, seed = (int(v) for v in (a[1:6] + ["66247", "14904", "120", "10", "7"][len(a[1:6]):]))
    spread = float(a[6]) if len(a) > 6 else 1.5
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((nc, nf), dtype=np.float32)
    scale = 1.0 + np.arange(nf, dtype=np.float32) * 0.5
    offset = np.arange(nf, dtype=np.float32)
    os.makedirs(out, exist_ok=True)
    for name, rows in (("train", n_train), ("test", n_test)):
        y = np.arange(rows, dtype=np.int64) % nc
        x = centres[y] + spread * rng.standard_normal((rows, nf), dtype=np.float32)
        x = x * scale + offset
        np.save(os.path.join(out, f"uiowa_{name}_data.npy"), x.astype(np.float32))
        np.save(os.path.join(out, f"uiowa_{name}_labels.npy"), y)
    with open(os.path.join(out, "classes.json"), "w") as f:
        json.dump([f"class{i}" for i in range(nc)], f)
    print(f"{out}: {n_train} train rows, {n_test} test rows, {nf} features, {nc} classes, spread {spread}")


if __name__ == "__main__":
    main()
