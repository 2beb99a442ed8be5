#!/usr/bin/env python3
"""Render the `unknown` class: recordings that are none of instclf's ten instruments.

This script owns the negative examples of instclf's corpus. Three kinds, all labelled `unknown`
by their file names (`unknown.<group>-<detail>.<...>.aiff`, so `--label-from name` reads them):

* `--soundfont NAME|PATH`: the source's other General MIDI programs, rendered the way
  scripts/render.py renders the instruments (varied velocities, lengths, expression and rooms,
  fluidsynth or TiMidity++): chromatic percussion, organs and accordions, guitars, basses, harp
  and timpani, choirs, synth leads, pads and effects, plucked ethnic instruments, steel drums and
  percussive programs (groups `chromperc`, `organ`, `guitar`, `bass`, `harp`, `choir`, `synth`,
  `ethnic`, `perc`), and drum-kit patterns on channel 10 (group `drums`). Programs close to a
  class or to one of its relatives (string and brass sections, saxophones, reeds and pipes,
  electric pianos) are left out: they are neither instrument nor unknown here.
* `--generated K/N`: noise (white, pink, brown; steady, in bursts, fading), tones (sine,
  square and sawtooth beeps at off-grid frequencies, sine sweeps), hum and clicks, made with sox
  (group `noise`, `tone`, `sweep`). Part K of N (1-based): each part has its own seeds, so the N
  parts can go to N leave-one-source-out folds without sharing a recording.
* `--speech K/N`: sentences spoken by espeak-ng in several languages, voices, speeds and
  pitches (group `speech`), part K of N likewise (each part has its own voices and texts).

* `--fixtures`: the four short recordings committed in fixtures/unknown (a sentence no part
  speaks, pink noise in bursts, a sine sweep, and a plain three-note run of FluidR3's nylon
  guitar), which the tests expect the bundled model to answer unknown.

Output: mono 16-bit 44.1 kHz AIFF files in --out and `unknown.csv` (file, group, detail).
Seeded and deterministic like render.py (sox runs with -R, its repeatable noise). Needs fluidsynth or timidity, sox and espeak-ng.

Usage:
    python3 scripts/render-unknown.py --out DIR [--soundfont NAME|PATH] [--generated K/N]
        [--speech K/N] [--fixtures] [--jobs 2]
"""

import argparse
import concurrent.futures
import csv
import io
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import render  # noqa: E402  (scripts/render.py: planning, MIDI writing, synth command lines)

# (group, detail, GM program 0-based, lowest, highest MIDI note)
PROGRAMS = [
    ("chromperc", "celesta", 8, 60, 96), ("chromperc", "glockenspiel", 9, 72, 105),
    ("chromperc", "musicbox", 10, 60, 96), ("chromperc", "vibraphone", 11, 53, 89),
    ("chromperc", "marimba", 12, 45, 96), ("chromperc", "xylophone", 13, 65, 105),
    ("chromperc", "tubularbells", 14, 60, 77), ("chromperc", "dulcimer", 15, 48, 84),
    ("organ", "drawbar", 16, 36, 96), ("organ", "percussive", 17, 36, 96),
    ("organ", "rock", 18, 36, 96), ("organ", "church", 19, 24, 96),
    ("organ", "reed", 20, 36, 96), ("organ", "accordion", 21, 53, 89),
    ("organ", "harmonica", 22, 60, 84), ("organ", "bandoneon", 23, 53, 89),
    ("guitar", "nylon", 24, 40, 83), ("guitar", "steel", 25, 40, 83),
    ("guitar", "jazz", 26, 40, 83), ("guitar", "clean", 27, 40, 83),
    ("guitar", "muted", 28, 40, 83), ("guitar", "overdrive", 29, 40, 83),
    ("guitar", "distortion", 30, 40, 83), ("guitar", "harmonics", 31, 52, 88),
    ("bass", "acoustic", 32, 28, 67), ("bass", "finger", 33, 28, 67),
    ("bass", "pick", 34, 28, 67), ("bass", "fretless", 35, 28, 67),
    ("bass", "slap", 36, 28, 67), ("bass", "synth1", 38, 28, 67),
    ("harp", "harp", 46, 24, 103), ("harp", "timpani", 47, 40, 57),
    ("choir", "aahs", 52, 48, 79), ("choir", "oohs", 53, 48, 79), ("choir", "synthvoice", 54, 48, 79),
    ("synth", "square", 80, 48, 96), ("synth", "saw", 81, 48, 96), ("synth", "calliope", 82, 48, 96),
    ("synth", "chiff", 83, 48, 96), ("synth", "charang", 84, 48, 96), ("synth", "voice", 85, 48, 84),
    ("synth", "fifths", 86, 48, 84), ("synth", "basslead", 87, 36, 72),
    ("synth", "newage", 88, 36, 84), ("synth", "warm", 89, 36, 84), ("synth", "polysynth", 90, 36, 84),
    ("synth", "bowed", 92, 36, 84), ("synth", "metallic", 93, 36, 84), ("synth", "halo", 94, 36, 84),
    ("synth", "rain", 96, 48, 84), ("synth", "crystal", 98, 48, 84), ("synth", "goblins", 101, 48, 84),
    ("ethnic", "sitar", 104, 48, 77), ("ethnic", "banjo", 105, 48, 84),
    ("ethnic", "shamisen", 106, 50, 79), ("ethnic", "koto", 107, 55, 84),
    ("ethnic", "kalimba", 108, 48, 84),
    ("perc", "tinklebell", 112, 72, 96), ("perc", "agogo", 113, 60, 84),
    ("perc", "steeldrums", 114, 52, 88), ("perc", "woodblock", 115, 60, 84),
    ("perc", "taiko", 116, 36, 60), ("perc", "melodictom", 117, 40, 64),
    ("perc", "synthdrum", 118, 40, 64),
]  # fmt: skip
RUNS_PER_PROGRAM = 3  # one run per dynamic, at three places in the program's range
DRUM_FILES = 24
GM_DRUMS = {  # note -> weight in the drum patterns
    35: 2, 36: 6, 38: 5, 40: 2, 37: 1, 39: 1, 42: 6, 44: 2, 46: 2, 41: 1, 43: 1, 45: 1, 47: 1,
    48: 1, 50: 1, 49: 2, 51: 2, 52: 1, 53: 1, 55: 1, 57: 1, 54: 1, 56: 1, 69: 1, 70: 1,
}

VOICES = ["en", "en-us", "en-gb-scotland", "en-gb-x-rp", "de", "fr-fr", "es", "it", "pt",
          "nl", "pl", "ru", "sv", "cs", "fi", "el"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "croak",
            "klatt", "klatt2", "klatt3", "whisper", "Alex", "Andy", "Annie", "Denis", "Gene",
            "Hugo", "Lee", "Michael", "Mr serious", "Storm", "Tweaky", "aunty", "boris", "edward",
            "linda", "max", "norbert", "quincy", "robert", "steph", "travis", "zac"]
TEXTS = [
    "The quick brown fox jumps over the lazy dog, and then it runs away into the woods.",
    "Please leave your message after the tone, and we will call you back as soon as we can.",
    "In the beginning the concert hall was empty, but soon the audience started to arrive.",
    "Twenty seven, forty two, nineteen, one hundred and six, eight thousand.",
    "She sells sea shells by the sea shore; the shells she sells are surely sea shells.",
    "Good morning everyone. Today we are going to talk about the history of music.",
    "Is this the right way to the station? I think we missed the last train again.",
    "Weather forecast: cloudy with occasional rain in the north, sunny in the south.",
    "One, two, three, four. Testing, testing. Can everybody hear me at the back?",
    "The orchestra tuned their instruments while the conductor waited patiently.",
    "I would like a cup of coffee with milk, and a piece of that chocolate cake please.",
    "Reading aloud helps children learn new words and understand longer stories.",
]

SR = render.SAMPLE_RATE


def part(spec, what):
    try:
        k, n = (int(x) for x in spec.split("/"))
    except ValueError:
        sys.exit(f"render-unknown.py: error: --{what} {spec}: expected K/N, e.g. 1/4")
    if not 1 <= k <= n:
        sys.exit(f"render-unknown.py: error: --{what} {spec}: K must be in 1..N")
    return k, n


def program_runs(playable):
    out = []
    for group, detail, program, lo, hi in PROGRAMS:
        if not playable(program):
            print(f"render-unknown.py: no instrument for {group}-{detail} (GM program {program}); "
                  "left out", file=sys.stderr)
            continue
        span = max(1, hi - lo - 4)
        for i, dyn in enumerate(("pp", "mf", "ff")):
            rng = random.Random(zlib.crc32(f"{detail}:{i}".encode()))
            first = lo + (span * i) // RUNS_PER_PROGRAM + rng.randint(0, max(0, span // 3 - 1))
            n = rng.randint(3, 5)
            notes = list(range(first, min(hi, first + n - 1) + 1))
            out.append(("program", group, detail, program, dyn, notes))
    for i in range(DRUM_FILES):
        out.append(("drums", "drums", f"kit{i:02d}", 0, ("pp", "mf", "ff")[i % 3], i))
    return out


def drum_smf(seed, dyn):
    """A bar-based drum pattern on channel 10: (smf bytes, end tick)."""
    rng = random.Random(zlib.crc32(f"drums:{seed}".encode()))
    lo, hi = render.VELOCITY_BANDS[dyn]
    bpm = rng.uniform(70, 160)
    step = int(60000 / bpm / 4)  # sixteenth notes, in ms ticks
    notes_w = list(GM_DRUMS.items())
    kit = [n for n, _ in notes_w]
    weights = [w for _, w in notes_w]
    density = rng.uniform(0.2, 0.6)
    ev = [(0, 0, bytes([0xFF, 0x51, 0x03]) + (500000).to_bytes(3, "big")),
          (0, 1, bytes([0xB9, 7, rng.randint(*render.CHANNEL_VOLUME)]))]
    t0 = render.ms(rng.uniform(0.2, 0.6))
    steps = rng.randint(24, 64)
    for s in range(steps):
        if rng.random() < density or s % 4 == 0:
            for _ in range(1 + (rng.random() < 0.3)):
                n = rng.choices(kit, weights)[0]
                v = rng.randint(lo, hi)
                on = t0 + s * step
                ev.append((on, 6, bytes([0x99, n, v])))
                ev.append((on + step, 5, bytes([0x89, n, 0])))
    end = t0 + steps * step + render.ms(1.5)
    ev.append((end, 9, bytes([0xFF, 0x2F, 0x00])))
    ev.sort(key=lambda e: (e[0], e[1]))
    body, last = io.BytesIO(), 0
    for tick, _, data in ev:
        body.write(render.varlen(tick - last))
        body.write(data)
        last = tick
    trk = body.getvalue()
    head = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 500)
    return head + b"MTrk" + struct.pack(">I", len(trk)) + trk, end


def to_aiff(src, dst, seconds, extra=()):
    subprocess.run(["sox", "-D", "-V1", src, "--comment", "", "-b", "16", "-r", str(SR), "-c", "1",
                    dst, "remix", "-", *extra, "pad", "0", "5", "trim", "0", f"{seconds:.3f}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def peak_of(aiff):
    out = subprocess.run(["sox", aiff, "-n", "stat"], check=True, capture_output=True, text=True)
    for line in out.stderr.splitlines():
        if line.startswith("Maximum amplitude"):
            return float(line.split(":")[1])
    return 0.0


def render_program(job):
    engine, path, out_dir, kind, group, detail, program, dyn, notes = job
    with tempfile.TemporaryDirectory(prefix="instclf-unknown-") as tmp:
        mid, wav = os.path.join(tmp, "run.mid"), os.path.join(tmp, "run.wav")
        if kind == "drums":
            name = f"unknown.drums-{detail}.{dyn}.aiff"
            data, end = drum_smf(notes, dyn)
            room = None
        elif kind == "plain":  # render.py's fixture timing: 1 s notes, 0.5 s gaps, dry
            p = render.plan_plain(f"unknown.{group}-{detail}", "NoVib", dyn, notes,
                                  render.SUBSET_TIMING["fixtures"])
            name, end, room = f"unknown.{group}-{detail}.aiff", p.end, None
            data = render.smf(program, p.notes, p.ccs, p.end)
        else:
            p = render.plan_varied(f"unknown.{group}-{detail}", "NoVib", dyn, notes)
            name, end, room = p.name, p.end, p.room
            data = render.smf(program, p.notes, p.ccs, p.end)
        with open(mid, "wb") as f:
            f.write(data)
        subprocess.run(render.synth_command(engine, path, room, mid, wav),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        aiff = os.path.join(tmp, "run.aiff")
        to_aiff(wav, aiff, end / render.TICKS_PER_SECOND)
        if peak_of(aiff) < 1e-3:
            print(f"render-unknown.py: {name}: silent in this source; left out", file=sys.stderr)
            return None
        shutil.move(aiff, os.path.join(out_dir, name))
    return name, group, detail


def generated_jobs(k, n):
    """Noise and tone recordings of part k/n: (name, group, detail, sox synth arguments, seconds)."""
    rng = random.Random(1000 + k * 7919 + n)
    out = []
    for i in range(24):
        kind = ("noise", "tone", "sweep")[i % 3]
        seconds = round(rng.uniform(2.0, 8.0), 2)
        gain = round(rng.uniform(-30, -6), 1)
        if kind == "noise":
            colour = rng.choice(["whitenoise", "pinknoise", "brownnoise"])
            shape = rng.choice(["steady", "bursts", "fade"])
            synth = ["synth", str(seconds), colour]
            fx = []
            if shape == "bursts":
                on = rng.uniform(0.15, 0.8)
                period = on + rng.uniform(0.2, 0.8)
                fx = ["tremolo", f"{1 / period:.3f}", "100"]
            elif shape == "fade":
                fx = ["fade", "q", f"{seconds / 3:.2f}", str(seconds), f"{seconds / 3:.2f}"]
            detail = f"{colour[:-5]}-{shape}"
        elif kind == "tone":
            wave = rng.choice(["sine", "sine", "square", "sawtooth", "triangle"])
            # off the equal-tempered grid: a random cent offset from a random pitch
            f0 = 440 * 2 ** ((rng.uniform(-30, 36) + rng.choice([-0.45, -0.3, 0.3, 0.45])) / 12)
            beeps = rng.random() < 0.6
            synth = ["synth", str(seconds), wave, f"{f0:.1f}"]
            fx = ["tremolo", f"{rng.uniform(0.5, 3):.2f}", "100"] if beeps else []
            detail = f"{wave}-{'beeps' if beeps else 'steady'}"
            if rng.random() < 0.3:  # hum: mains frequency and its harmonics
                hz = rng.choice([50, 60])
                synth = ["synth", str(seconds), "sine", str(hz), "sine", str(2 * hz), "sine",
                         str(3 * hz), "remix", "-"]  # fmt: skip
                fx, detail = [], f"hum{hz}"
        else:
            f1, f2 = sorted((rng.uniform(40, 400), rng.uniform(1000, 10000)))
            if rng.random() < 0.5:
                f1, f2 = f2, f1
            mode = rng.choice([":", "/"])  # linear or exponential sweep
            synth = ["synth", str(seconds), "sine", f"{f1:.0f}{mode}{f2:.0f}"]
            fx, detail = [], "sine"
            if rng.random() < 0.3:  # clicks instead: a square wave at a few Hz, high-passed
                synth = ["synth", str(seconds), "square", f"{rng.uniform(1, 6):.2f}"]
                fx, detail = ["highpass", "2000"], "clicks"
                kind = "noise"
        name = f"unknown.{kind}-{detail}.p{k}of{n}-{i:02d}.aiff"
        out.append((name, kind, detail, synth + ["gain", str(gain)] + fx, seconds))
    return out


def render_generated(job):
    out_dir, (name, group, detail, synth, seconds) = job
    with tempfile.TemporaryDirectory(prefix="instclf-unknown-") as tmp:
        raw = os.path.join(tmp, "gen.wav")
        subprocess.run(["sox", "-R", "-D", "-V1", "-n", "-r", str(SR), "-b", "16", "-c", "1", raw,
                        *synth], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        aiff = os.path.join(tmp, "gen.aiff")
        to_aiff(raw, aiff, seconds)
        shutil.move(aiff, os.path.join(out_dir, name))
    return name, group, detail


def speech_jobs(k, n):
    """Spoken sentences of part k/n: voices and variants dealt round-robin to the parts."""
    voices = [v for i, v in enumerate(VOICES) if i % n == k - 1]
    variants = [v for i, v in enumerate(VARIANTS) if i % n == k - 1]
    rng = random.Random(2000 + k * 104729 + n)
    out = []
    for i in range(30):
        voice, variant = rng.choice(voices), rng.choice(variants)
        text = TEXTS[(i * n + k) % len(TEXTS)]
        speed, pitch = rng.randint(120, 210), rng.randint(15, 85)
        room = rng.random() < 0.3
        detail = f"{voice}+{variant.replace(' ', '')}"
        name = f"unknown.speech-{detail}.p{k}of{n}-{i:02d}.aiff"
        out.append((name, voice, variant, text, speed, pitch, room))
    return out


def render_speech(job):
    out_dir, (name, voice, variant, text, speed, pitch, room) = job
    with tempfile.TemporaryDirectory(prefix="instclf-unknown-") as tmp:
        wav = os.path.join(tmp, "say.wav")
        subprocess.run(["espeak-ng", "-v", f"{voice}+{variant}", "-s", str(speed), "-p", str(pitch),
                        "-w", wav, text], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)  # fmt: skip
        seconds = float(subprocess.run(["soxi", "-D", wav], check=True, capture_output=True,
                                       text=True).stdout) + 0.8
        fx = ["pad", "0.4", "0"] + (["reverb", "50", "50", "70"] if room else [])
        aiff = os.path.join(tmp, "say.aiff")
        to_aiff(wav, aiff, seconds, ["rate", "-v", str(SR)] + fx)
        shutil.move(aiff, os.path.join(out_dir, name))
    return name, "speech", f"{voice}+{variant}"


def fixture_jobs(out_dir):
    """The committed fixtures: (renderer, job) pairs."""
    speech = ("unknown.speech-fixture.aiff", "en-us", "m3",
              "Hello, this is a short test of the instrument classifier.", 170, 50, False)
    noise = ("unknown.noise-fixture.aiff", "noise", "pink-bursts",
             ["synth", "3", "pinknoise", "gain", "-12", "tremolo", "1.5", "100"], 3.0)
    sweep = ("unknown.sweep-fixture.aiff", "sweep", "sine",
             ["synth", "3", "sine", "200/4000", "gain", "-12"], 3.0)
    fluid = render.SOUNDFONTS["fluidr3"]
    guitar = ("fluidsynth", fluid, out_dir, "plain", "guitar", "fixture", 24, "mf", [52, 55, 59])
    return [(render_speech, (out_dir, speech)), (render_generated, (out_dir, noise)),
            (render_generated, (out_dir, sweep)), (render_program, guitar)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--soundfont", help="fluidr3, musescore, csound, freepats, .sf2/.sf3 or .cfg")
    ap.add_argument("--generated", metavar="K/N", help="noise and tones, part K of N")
    ap.add_argument("--speech", metavar="K/N", help="espeak-ng speech, part K of N")
    ap.add_argument("--fixtures", action="store_true", help="the four committed fixtures")
    ap.add_argument("--jobs", type=int, default=2, help="parallel renders (default 2)")
    args = ap.parse_args()
    if not (args.soundfont or args.generated or args.speech or args.fixtures):
        sys.exit("render-unknown.py: error: give --soundfont, --generated, --speech or --fixtures")
    tools = ["sox"] + (["espeak-ng"] if args.speech or args.fixtures else [])
    jobs = []
    if args.fixtures:
        tools.append("fluidsynth")
        jobs += fixture_jobs(args.out)
    if args.soundfont:
        source = args.soundfont
        if source in render.TIMIDITY_CFGS or source.endswith(".cfg"):
            engine, path = "timidity", render.TIMIDITY_CFGS.get(source, source)
            patches = render.timidity_patches(path)

            def playable(program):
                return patches.get((0, program)) is not None
        else:
            engine, path = "fluidsynth", render.SOUNDFONTS.get(source, source)

            def playable(program):
                return True
        if not os.path.isfile(path):
            sys.exit(f"render-unknown.py: error: {path}: no such file")
        tools.append(engine)
        jobs += [(render_program, (engine, path, args.out) + r) for r in program_runs(playable)]
    if args.generated:
        jobs += [(render_generated, (args.out, j)) for j in generated_jobs(*part(args.generated, "generated"))]
    if args.speech:
        jobs += [(render_speech, (args.out, j)) for j in speech_jobs(*part(args.speech, "speech"))]
    for tool in tools:
        if shutil.which(tool) is None:
            sys.exit(f"render-unknown.py: error: `{tool}` is not installed")
    os.makedirs(args.out, exist_ok=True)
    rows = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for done, res in enumerate(pool.map(lambda j: j[0](j[1]), jobs), 1):
            if res:
                rows.append(res)
            if done % 50 == 0 or done == len(jobs):
                print(f"rendered {done}/{len(jobs)}", file=sys.stderr)
    listing = os.path.join(args.out, "unknown.csv")
    old = []
    if os.path.exists(listing):  # several calls may fill one folder: keep the others' rows
        with open(listing) as f:
            old = [r for r in csv.reader(f)][1:]
    names = {r[0] for r in rows}
    rows = sorted([r for r in old if r[0] not in names] + [list(r) for r in rows])
    tmp = listing + ".tmp"
    with open(tmp, "w") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "group", "detail"])
        w.writerows(rows)
    os.replace(tmp, listing)
    print(f"{len(names)} files in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        err = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        sys.exit(f"render-unknown.py: error: {e.cmd[0]} failed: {err[-1] if err else e.returncode}")
