#!/usr/bin/env python3
"""The matmul floor of one seed-MLP epoch: numpy (one BLAS thread) doing only the five matrix
products a batch needs (forward: X @ W1, H @ W2; backward: H^T @ dY, dY @ W2^T, X^T @ dH) for
every batch of the epoch, with nothing else. Prints one JSON object with the best and mean of
REPEATS epochs. Set OPENBLAS_NUM_THREADS=1 (scripts/bench/train.sh does).

usage: matmul_floor.py [ROWS 66247] [FEATURES 120] [HIDDEN 256] [CLASSES 10] [BATCH 128] [REPEATS 5]
"""
import json
import sys
import time

import numpy as np

defaults = [66247, 120, 256, 10, 128, 5]
args = [int(a) for a in sys.argv[1:7]]
rows, nf, nh, nc, bs, reps = args + defaults[len(args):]
rng = np.random.default_rng(0)
x = rng.standard_normal((rows, nf), dtype=np.float32)
w1 = rng.standard_normal((nf, nh), dtype=np.float32)
w2 = rng.standard_normal((nh, nc), dtype=np.float32)
times = []
for _ in range(reps):
    t0 = time.perf_counter()
    for s in range(0, rows, bs):
        xb = x[s:s + bs]
        h = xb @ w1
        y = h @ w2
        gw2 = h.T @ y
        dh = y @ w2.T
        gw1 = xb.T @ dh
    times.append(time.perf_counter() - t0)
print(json.dumps({"impl": "matmul floor (numpy)", "best_epoch_s": min(times),
                  "mean_epoch_s": sum(times) / len(times), "repeats": reps}))
