#!/usr/bin/env python3
"""Render the guitar "authors" task: phrases played on General MIDI nylon (program 24) and steel
(program 25) guitars from one soundfont, written as mono 16-bit 44.1 kHz WAV files named
`Nylon.pNN.wav` / `Steel.pNN.wav` (class = first dot-separated token).

Each phrase is a seeded random walk of single notes, two-note intervals and strummed three-note
chords in the guitar range (E2-E5), with varied durations, velocities and short rests; it starts
at once (no lead-in) so every 1 s clip holds sound. The two classes play *different* random
phrases from the same generator, so only the timbre tells them apart. The default counts are
unbalanced like EpyNN's author-music set: about 1/3 nylon, 2/3 steel.

Usage:
    python3 scripts/render-guitar.py --out DIR [--nylon 20] [--steel 40] [--seconds 8]
        [--soundfont fluidr3|PATH]

Needs the `fluidsynth` and `sox` programs; deterministic (fixed seeds, no reverb/chorus).
"""

import argparse
import concurrent.futures
import io
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from render import SOUNDFONTS, varlen  # noqa: E402

SAMPLE_RATE = 44100
PROGRAMS = {"Nylon": 24, "Steel": 25}
LOW, HIGH = 40, 76  # E2 .. E5


def plan(name, seconds):
    """Timed notes [(midi, on_ms, off_ms, velocity)] and the end time in ms."""
    rng = random.Random(zlib.crc32(name.encode()))
    t, out = 0, []
    pitch = rng.randint(LOW + 5, HIGH - 10)
    base_vel = rng.randint(60, 105)
    while t < seconds * 1000:
        kind = rng.random()
        dur = int(rng.choice([150, 200, 250, 300, 400, 500, 700]) * rng.uniform(0.9, 1.1))
        vel = max(30, min(127, base_vel + rng.randint(-20, 20)))
        pitch = max(LOW, min(HIGH - 7, pitch + rng.choice([-5, -3, -2, -1, 1, 2, 3, 4, 5, 7])))
        if kind < 0.6:
            chord = [pitch]
        elif kind < 0.8:
            chord = [pitch, pitch + rng.choice([3, 4, 5, 7])]
        else:
            third = rng.choice([3, 4])
            chord = [pitch, pitch + third, pitch + 7]
        for k, m in enumerate(chord):
            on = t + 15 * k  # strum
            out.append((m, on, on + dur + rng.randint(0, 150), vel))
        t += dur
        if rng.random() < 0.1:
            t += rng.randint(50, 200)  # a short rest
    end = int(seconds * 1000)
    return out, end


def smf(program, timed, end):
    ev = [
        (0, 0, bytes([0xFF, 0x51, 0x03]) + (500000).to_bytes(3, "big")),
        (0, 1, bytes([0xC0, program])),
        (0, 2, bytes([0xB0, 7, 100])),
        (0, 3, bytes([0xB0, 11, 127])),
    ]
    for m, on, off, vel in timed:
        if on < end:
            ev.append((on, 6, bytes([0x90, m, vel])))
            ev.append((min(off, end), 5, bytes([0x80, m, 0])))
    ev.append((end, 9, bytes([0xFF, 0x2F, 0x00])))
    ev.sort(key=lambda e: (e[0], e[1]))
    body, last = io.BytesIO(), 0
    for tick, _, data in ev:
        body.write(varlen(tick - last))
        body.write(data)
        last = tick
    trk = body.getvalue()
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 500) + b"MTrk" + struct.pack(">I", len(trk)) + trk


def render_one(job):
    soundfont, out_dir, cls, idx, seconds = job
    name = f"{cls}.p{idx:02d}.wav"
    timed, end = plan(name, seconds)
    with tempfile.TemporaryDirectory(prefix="instclf-guitar-") as tmp:
        mid, wav, mono = (os.path.join(tmp, n) for n in ("p.mid", "p.wav", "m.wav"))
        with open(mid, "wb") as f:
            f.write(smf(PROGRAMS[cls], timed, end))
        subprocess.run(
            ["fluidsynth", "-n", "-i", "-q", "-R", "0", "-C", "0",
             "-o", "synth.reverb.active=0", "-o", "synth.chorus.active=0",
             "-o", "synth.cpu-cores=1", "-r", str(SAMPLE_RATE), "-g", "1.0",
             "-O", "s16", "-T", "wav", "-F", wav, soundfont, mid],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        subprocess.run(
            ["sox", "-D", "-V1", wav, "-b", "16", "-r", str(SAMPLE_RATE), "-c", "1", mono,
             "remix", "-", "pad", "0", "5", "trim", "0", f"{end / 1000:.3f}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        shutil.move(mono, os.path.join(out_dir, name))
    return name


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--soundfont", default="fluidr3")
    ap.add_argument("--nylon", type=int, default=20)
    ap.add_argument("--steel", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    soundfont = SOUNDFONTS.get(args.soundfont, args.soundfont)
    if not os.path.isfile(soundfont):
        sys.exit(f"render-guitar.py: error: soundfont {soundfont}: no such file")
    for tool in ("fluidsynth", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"render-guitar.py: error: `{tool}` is not installed")
    os.makedirs(args.out, exist_ok=True)
    jobs = [(soundfont, args.out, "Nylon", i, args.seconds) for i in range(args.nylon)]
    jobs += [(soundfont, args.out, "Steel", i, args.seconds) for i in range(args.steel)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        names = list(pool.map(render_one, jobs))
    print(f"{len(names)} phrases in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        err = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        sys.exit(f"render-guitar.py: error: {e.cmd[0]} failed: {err[-1] if err else e.returncode}")
