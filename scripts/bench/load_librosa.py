#!/usr/bin/env python3
"""librosa peer of scripts/bench/load.sh: times, in one process, `librosa.load(path, sr=22050)`
(decode + soxr_hq resample) and `librosa.load` + `librosa.feature.mfcc(n_mfcc=40)` (what
`instclf features --kind mfcc` computes) on the same file, single-threaded (run with
OMP_NUM_THREADS=1 etc., see load.sh). Prints a `duration SECONDS` line, then one
`stage SECONDS SECONDS ...` line per stage with every timed call, so that load.sh can pool the
calls of several rounds."""
import sys
import time

import librosa


def timed(runs, f):
    """Wall-clock seconds of each of `runs` calls, after one warm-up call."""
    f()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return times


def main():
    path, runs = sys.argv[1], int(sys.argv[2])
    y, sr = librosa.load(path, sr=None)
    print(f"duration {len(y) / sr}")
    load = timed(runs, lambda: librosa.load(path, sr=22050))

    def load_mfcc():
        y22, _ = librosa.load(path, sr=22050)
        return librosa.feature.mfcc(y=y22, sr=22050, n_mfcc=40)

    mfcc = timed(runs, load_mfcc)
    for name, times in [("load", load), ("mfcc", mfcc)]:
        print(name, *times)


if __name__ == "__main__":
    main()
