#!/usr/bin/env python3
"""librosa peer of crates/instclf-audio/benches/frontend.rs: times the same stages on the same
file, single-threaded (run with OMP_NUM_THREADS=1 etc., see features.sh). Prints `stage seconds`
lines (best wall-clock time of several runs) and `stage_cpu seconds` (best thread CPU time)."""
import sys
import time

import librosa
import numpy as np


# Same count as RUNS in frontend.rs: best of many, as the stages take milliseconds.
RUNS = 20


def best_of(runs, f):
    """Best wall-clock and best thread-CPU seconds over `runs` calls, and the last result."""
    best, best_cpu, out = float("inf"), float("inf"), None
    for _ in range(runs):
        c = time.thread_time()
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.thread_time() - c)
    return (best, best_cpu), out


def main():
    path = sys.argv[1]
    t_decode, (y44, sr) = best_of(3, lambda: librosa.load(path, sr=None, mono=True))
    t_res, y = best_of(3, lambda: librosa.resample(y44, orig_sr=sr, target_sr=22050))
    # Warm up librosa's caches (filter bank, FFT plans) as the Rust side builds them per call.
    librosa.feature.mfcc(y=y[:22050], sr=22050, n_mfcc=40)
    t_mel, _ = best_of(RUNS, lambda: librosa.feature.melspectrogram(y=y, sr=22050))

    def mfcc_deltas():
        m = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=40)
        return np.vstack([m, librosa.feature.delta(m), librosa.feature.delta(m, order=2)])

    t_mfcc, _ = best_of(RUNS, lambda: librosa.feature.mfcc(y=y, sr=22050, n_mfcc=40))
    t_md, _ = best_of(RUNS, mfcc_deltas)
    print(f"duration {len(y44) / sr}")
    for name, (wall, cpu) in [("decode", t_decode), ("resample", t_res), ("mel", t_mel),
                              ("mfcc", t_mfcc), ("mfcc_deltas", t_md)]:
        print(f"{name} {wall}")
        print(f"{name}_cpu {cpu}")


if __name__ == "__main__":
    main()
