#!/usr/bin/env python3
"""The peer of `instclf classify` for scripts/bench/classify.sh: the same bundled model run by
librosa 0.11 + numpy, as a whole process per call. It loads each file with librosa.load (soxr_hq
resampling to the model's rate), computes the model's recipe (MFCC + deltas + delta-deltas, and
with `harmonics` the levels of the first partials and with `harmonicity` how far they stand
above the gaps between them, from a second power STFT, at one f0 per file by librosa.yin over a
short stretch in the middle), standardises, runs every sigmoid MLP of the
ensemble in numpy and prints the file's answer (mean frame log-probability over frames and
networks). Note-level members (a recipe with `pool`) get the whole file pooled as one note (mean,
standard deviation and attack of the frames, the file's pitch appended to every frame). It does
LESS than instclf (no note segmentation, no per-note pitch or answers, no cepstral mean
normalisation), so its time is a lower bound for a Python implementation of the same job.

Usage: classify_librosa.py MODEL_DIR FILE_OR_DIR...   (MODEL_DIR holds m1, m2, ... or one model)
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


def file_f0(y, sr):
    """One f0 for the file: YIN's median over a short stretch in the middle."""
    mid = len(y) // 2
    return np.nanmedian(librosa.yin(y[max(0, mid - 2048):mid + 2048], fmin=40, fmax=2200, sr=sr,
                                    frame_length=2048))


def harmonic_levels(power, sr, r, f0):
    """The first r["harmonics"] partial levels per frame, dB below the frame's strongest."""
    h, n_fft = r["harmonics"], r["n_fft"]
    last = power.shape[0] - 1
    per_hz, half = n_fft / sr, max(0.5 * f0 * n_fft / sr, 1.0)
    levels = np.zeros((h, power.shape[1]), dtype=np.float32)
    for k in range(h):
        c = (k + 1) * f0 * per_hz
        if c <= last:
            lo, hi = int(np.ceil(max(c - half, 0))), min(int(np.floor(c + half)), last)
            levels[k] = power[min(lo, hi):hi + 1].max(0)
    peak = levels.max(0, keepdims=True)
    return np.maximum(10 * np.log10(np.maximum(levels / np.maximum(peak, 1e-30), 1e-12)), -80.0)


def harmonicity(power, sr, r, f0):
    """Per frame and octave group of partials (1; 2-3; 4-7; ...): how far the partials' peaks
    stand above the mean power half way to the next partial, in dB, clamped to 0-60 (as
    crates/instclf-audio/src/partials.rs computes it)."""
    last, frames = power.shape[0] - 1, power.shape[1]
    out = np.zeros((r["harmonicity"], frames), dtype=np.float32)
    f = f0 * r["n_fft"] / sr  # the fundamental's fractional bin
    if not f > 0:
        return out
    quarter = max(0.25 * f, 1.0)

    def window(c):
        lo, hi = int(np.ceil(max(c - quarter, 0))), min(int(np.floor(max(c + quarter, 0))), last)
        return min(lo, hi), hi

    for g in range(r["harmonicity"]):
        tone, gap = np.zeros(frames), np.zeros(frames)
        for k in range(1 << g, 1 << (g + 1)):
            c = k * f
            if c + 0.5 * f + quarter > last:
                break
            lo, hi = window(c)
            tone += power[lo:hi + 1].max(0)
            lo, hi = window(c + 0.5 * f)
            gap += power[lo:hi + 1].mean(0)
        ok = tone > 0
        out[g, ok] = np.clip(10 * np.log10(tone[ok] / np.maximum(gap[ok], tone[ok] * 1e-12)), 0, 60)
    return out


def features(path, r):
    y, sr = librosa.load(path, sr=r["sr"], mono=True)
    m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=r["n_mfcc"], n_fft=r["n_fft"],
                             hop_length=r["hop"], n_mels=r["n_mels"], fmin=r["fmin"],
                             fmax=r["fmax"])
    if r["deltas"]:
        m = np.vstack([m, librosa.feature.delta(m), librosa.feature.delta(m, order=2)])
    partials = r.get("harmonics", 0) or r.get("harmonicity", 0)
    f0 = file_f0(y, sr) if partials or r.get("pitch") else None
    if r.get("pitch"):
        m = np.vstack([m, np.full((1, m.shape[1]), np.log2(f0 / 440.0))])
    if partials:
        power = np.abs(librosa.stft(y, n_fft=r["n_fft"], hop_length=r["hop"])) ** 2
    if r.get("harmonics", 0):
        m = np.vstack([m, harmonic_levels(power, sr, r, f0)])
    if r.get("harmonicity", 0):
        m = np.vstack([m, harmonicity(power, sr, r, f0)])
    m = m.T
    pool = r.get("pool")
    if pool:  # the whole file as one note
        blocks = [m.mean(0), m.std(0)]
        if pool.get("attack_frames", 0):
            blocks.append(m[:pool["attack_frames"]].mean(0))
        m = np.concatenate(blocks)[None, :]
    return m


def main():
    root = sys.argv[1]
    dirs = sorted(os.path.join(root, d) for d in os.listdir(root)
                  if os.path.isfile(os.path.join(root, d, "model.json"))) or [root]
    models = [load_model(d) for d in dirs]
    classes = models[0][0]["classes"]
    files = []
    for p in sys.argv[2:]:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, f) for f in os.listdir(p)
                            if f.lower().endswith((".aiff", ".aif", ".wav", ".flac")))
        else:
            files.append(p)
    for f in files:
        cache = {}
        score = 0
        for meta, t in models:
            key = json.dumps(meta["recipe"], sort_keys=True)
            if key not in cache:
                cache[key] = features(f, meta["recipe"])
            x = (cache[key] - t["standardise.mean"]) / t["standardise.std"]
            a = x @ t["dense0.kernel"] + t["dense0.bias"]
            relu = meta["architecture"].get("activation") == "relu"
            h = np.maximum(a, 0) if relu else 0.5 * (1.0 + np.tanh(0.5 * a))  # sigmoid
            z = h @ t["dense1.kernel"] + t["dense1.bias"]
            logp = z - z.max(1, keepdims=True)
            logp -= np.log(np.exp(logp).sum(1, keepdims=True))
            score = score + logp.mean(0)
        print(f"{f}\t{classes[int(np.argmax(score))]}")


if __name__ == "__main__":
    main()
