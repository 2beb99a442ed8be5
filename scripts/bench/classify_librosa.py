#!/usr/bin/env python3
"""The peer of `instclf classify` for scripts/bench/classify.sh: the same bundled model run by
librosa 0.11 + numpy, as a whole process per call. It loads each file with librosa.load (soxr_hq
resampling to the model's rate), computes the model's recipe (MFCC + deltas + delta-deltas),
standardises, runs the 120-256-10 sigmoid MLP in numpy and prints the file's answer (mean frame
log-probability). It does LESS than instclf (no note segmentation, no per-note answers), so its
time is a lower bound for a Python implementation of the same job.

Usage: classify_librosa.py MODEL_DIR FILE_OR_DIR...
"""
import json
import os
import struct
import sys

import librosa
import numpy as np


def load_model(d):
    meta = json.load(open(os.path.join(d, "model.json")))
    raw = open(os.path.join(d, "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    t = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        t[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.float32).reshape(h["shape"])
    return meta, t


def features(path, r):
    y, sr = librosa.load(path, sr=r["sr"], mono=True)
    m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=r["n_mfcc"], n_fft=r["n_fft"],
                             hop_length=r["hop"], n_mels=r["n_mels"], fmin=r["fmin"],
                             fmax=r["fmax"])
    if r["deltas"]:
        m = np.vstack([m, librosa.feature.delta(m), librosa.feature.delta(m, order=2)])
    return m.T


def main():
    meta, t = load_model(sys.argv[1])
    r, classes = meta["recipe"], meta["classes"]
    files = []
    for p in sys.argv[2:]:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p)
                            if f.lower().endswith((".aiff", ".aif", ".wav", ".flac")))
        else:
            files.append(p)
    for f in files:
        x = (features(f, r) - t["standardise.mean"]) / t["standardise.std"]
        h = 1.0 / (1.0 + np.exp(-(x @ t["dense0.kernel"] + t["dense0.bias"])))
        z = h @ t["dense1.kernel"] + t["dense1.bias"]
        logp = z - z.max(1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(1, keepdims=True))
        print(f"{f}\t{classes[int(logp.mean(0).argmax())]}")


if __name__ == "__main__":
    main()
