#!/usr/bin/env python3
"""librosa peer of crates/instclf-audio/benches/frontend.rs: times the same stages on the same
file, single-threaded (run with OMP_NUM_THREADS=1 etc., see features.sh). Prints `stage seconds`
lines, best of several runs."""
import sys
import time

import librosa
import numpy as np


def best_of(runs, f):
    best, out = float("inf"), None
    for _ in range(runs):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    path = sys.argv[1]
    t_decode, (y44, sr) = best_of(3, lambda: librosa.load(path, sr=None, mono=True))
    t_res, y = best_of(3, lambda: librosa.resample(y44, orig_sr=sr, target_sr=22050))
    # Warm up librosa's caches (filter bank, FFT plans) as the Rust side builds them per call.
    librosa.feature.mfcc(y=y[:22050], sr=22050, n_mfcc=40)
    t_mel, _ = best_of(5, lambda: librosa.feature.melspectrogram(y=y, sr=22050))

    def mfcc_deltas():
        m = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=40)
        return np.vstack([m, librosa.feature.delta(m), librosa.feature.delta(m, order=2)])

    t_mfcc, _ = best_of(5, lambda: librosa.feature.mfcc(y=y, sr=22050, n_mfcc=40))
    t_md, _ = best_of(5, mfcc_deltas)
    print(f"duration {len(y44) / sr}")
    print(f"decode {t_decode}")
    print(f"resample {t_res}")
    print(f"mel {t_mel}")
    print(f"mfcc {t_mfcc}")
    print(f"mfcc_deltas {t_md}")


if __name__ == "__main__":
    main()
