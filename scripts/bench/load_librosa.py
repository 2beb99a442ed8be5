#!/usr/bin/env python3
"""librosa peer of scripts/bench/load.sh: times, in one process, `librosa.load(path, sr=22050)`
(decode + soxr_hq resample) and `librosa.load` + `librosa.feature.mfcc(n_mfcc=40)` (what
`instclf features --kind mfcc` computes) on the same file, single-threaded (run with
OMP_NUM_THREADS=1 etc., see load.sh). Prints `stage best_seconds median_seconds` lines."""
import statistics
import sys
import time

import librosa


def timed(runs, f):
    """Best and median wall-clock seconds of `runs` calls, after one warm-up call."""
    f()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def main():
    path, runs = sys.argv[1], int(sys.argv[2])
    y, sr = librosa.load(path, sr=None)
    print(f"duration {len(y) / sr}")
    load = timed(runs, lambda: librosa.load(path, sr=22050))

    def load_mfcc():
        y22, _ = librosa.load(path, sr=22050)
        return librosa.feature.mfcc(y=y22, sr=22050, n_mfcc=40)

    mfcc = timed(runs, load_mfcc)
    for name, (best, median) in [("load", load), ("mfcc", mfcc)]:
        print(f"{name} {best} {median}")


if __name__ == "__main__":
    main()
