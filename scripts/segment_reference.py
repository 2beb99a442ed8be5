#!/usr/bin/env python3
"""Writes librosa 0.11 onset references for the Rust onset tests into fixtures/onset/.

For each reference signal it writes:
  <name>.signal.npy   int16 samples (the signal is int16 / 32768 as float32)
  <name>.env.npy      float32 librosa.onset.onset_strength(y, sr, hop_length=512) (n_fft 2048,
                      128 mel bands)
  <name>.onsets.npy   int64 librosa.onset.onset_detect(y, sr, hop_length=512) frame indices
  <name>.backtrack.npy int64 the same with backtrack=True
and index.json naming each signal's sample rate.

Run with the librosa environment: `.venv/bin/python scripts/segment_reference.py` (see
scripts/setup-librosa.sh) or any Python with librosa 0.11, numpy and soundfile.
"""

import json
import os
import sys

import librosa
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "fixtures", "onset")
HOP = 512


def tone_bursts(sr=22050, seconds=2.0):
    """Three decaying harmonic tones plus a little deterministic noise."""
    rng = np.random.default_rng(7)
    t = np.arange(int(sr * seconds)) / sr
    y = 0.002 * rng.standard_normal(t.shape)
    for start, f0, amp in [(0.25, 220.0, 0.5), (0.9, 330.0, 0.3), (1.4, 523.25, 0.15)]:
        tt = t - start
        env = np.where(tt >= 0, np.exp(-3.0 * np.clip(tt, 0, None)), 0.0)
        for k in range(1, 5):
            y += amp / k * env * np.sin(2 * np.pi * f0 * k * np.clip(tt, 0, None))
    return np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16), sr


def from_fixture(name, seconds):
    import soundfile as sf

    data, sr = sf.read(os.path.join(ROOT, "fixtures", "audio", name), dtype="int16")
    return data[: int(sr * seconds)], sr


def main():
    os.makedirs(OUT, exist_ok=True)
    signals = {
        "bursts": tone_bursts(),
        "piano": from_fixture("Piano.NoVib.mf.C3D3.aiff", 2.2),
        "flute": from_fixture("Flute.Vib.pp.E5Gb5.aiff", 2.2),
    }
    index = {}
    for name, (pcm, sr) in signals.items():
        y = pcm.astype(np.float32) / 32768.0
        env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=HOP).astype(np.float32)
        onsets = librosa.onset.onset_detect(y=y, sr=sr, hop_length=HOP).astype(np.int64)
        back = librosa.onset.onset_detect(y=y, sr=sr, hop_length=HOP, backtrack=True)
        np.save(os.path.join(OUT, f"{name}.signal.npy"), pcm)
        np.save(os.path.join(OUT, f"{name}.env.npy"), env)
        np.save(os.path.join(OUT, f"{name}.onsets.npy"), onsets)
        np.save(os.path.join(OUT, f"{name}.backtrack.npy"), back.astype(np.int64))
        index[name] = {"sample_rate": int(sr), "hop": HOP, "n_fft": 2048, "n_mels": 128}
        print(f"{name}: sr {sr}, {len(env)} frames, onsets {onsets.tolist()}", file=sys.stderr)
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"librosa {librosa.__version__}: wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
