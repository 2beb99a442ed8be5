#!/usr/bin/env python3
"""The harmonic series of one rendered note, per source: the levels of its first 10 partials (dB
below the strongest) and how far each of the first 6 stands above the mean power half way to the
next (dB). For comparing sample sets (docs/experiments.md, 2026-12-07, third sitting).

Takes the first note of FILE in each source's render folder (its manifest.csv gives onset, offset
and MIDI pitch) and analyses 4096 samples (Hann) at its middle, resampled to 22,050 Hz by sox.
Needs numpy and sox.

usage: note-spectrum.py FILE [FILE ...] [--renders data/render] [--sources fluidr3,musescore,...]
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

SR = 22050


def load(path, tmp):
    r = subprocess.run(["sox", path, "-r", str(SR), "-c", "1", "-b", "16", tmp], capture_output=True)
    if r.returncode != 0:
        sys.exit(f"note-spectrum.py: error: {path}: {r.stderr.decode().strip()}")
    with wave.open(tmp) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16) / 32768.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--renders", default="data/render")
    ap.add_argument("--sources", default="fluidr3,musescore,csound,freepats")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = os.path.join(d, "x.wav")
        for f in a.files:
            for s in a.sources.split(","):
                man = os.path.join(a.renders, s, "manifest.csv")
                rows = [r for r in csv.DictReader(open(man)) if r["file"] == f] if os.path.isfile(man) else []
                if not rows:
                    print(f"{s:9s} {f}: not rendered")
                    continue
                y = load(os.path.join(a.renders, s, f), tmp)
                on, off, midi = float(rows[0]["onset_s"]), float(rows[0]["offset_s"]), int(rows[0]["midi"])
                mid = int((on + off) / 2 * SR)
                p = np.abs(np.fft.rfft(y[mid - 2048:mid + 2048] * np.hanning(4096))) ** 2
                b = 440 * 2 ** ((midi - 69) / 12) * 4096 / SR
                peak = np.array([p[int(round(k * b)) - 2:int(round(k * b)) + 3].max() for k in range(1, 11)])
                gap = np.array([p[int(round((k + .5) * b)) - 1:int(round((k + .5) * b)) + 2].mean() for k in range(1, 11)])
                levels = 10 * np.log10(peak / peak.max())
                over = 10 * np.log10(peak / np.maximum(gap, 1e-30))
                print(f"{s:9s} {f:28s} levels", " ".join(f"{v:4.0f}" for v in levels),
                      " | over the gap", " ".join(f"{v:3.0f}" for v in over[:6]))


if __name__ == "__main__":
    main()
