#!/usr/bin/env python3
"""Render UIowa-style instrument recordings with fluidsynth.

This script owns the synthetic "real instrument" corpus of instclf: for ten classes it writes
chromatic runs of 3-5 held notes as hand-made MIDI files (SMF type 0), renders them dry with the
`fluidsynth` CLI from a General MIDI soundfont, mixes them to mono 16-bit 44.1 kHz AIFF with `sox`
and writes `manifest.csv` (file,class,note_index,midi,onset_s,offset_s) from the MIDI timing.

File names follow the University of Iowa MIS convention:
`<Class>.<Vib|NoVib>.<pp|mf|ff>.<first><last>.aiff`, e.g. `SopSax.Vib.pp.C6Eb6.aiff`.

Usage:
    python3 scripts/render.py --soundfont fluidr3|musescore|csound|PATH --out DIR [--subset fixtures]
        [--relatives 1|2|3]

Only the Python standard library plus the `fluidsynth` and `sox` programs are needed. The output
is deterministic: timing jitter comes from a seeded generator per file, fluidsynth runs with fixed
settings (no reverb, no chorus) and sox without dither, so re-running gives the same bytes.
"""

import argparse
import concurrent.futures
import csv
import io
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import wave
import zlib
from array import array

SOUNDFONTS = {
    "fluidr3": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "musescore": "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "csound": "/usr/share/sounds/sf2/sf_GMbank.sf2",
}

SAMPLE_RATE = 44100

# class name -> (GM program 0-based, lowest MIDI note, highest MIDI note, vibrato styles)
CLASSES = {
    "Piano": (0, 21, 108, ("NoVib",)),  # A0-C8
    "Violin": (40, 55, 100, ("Vib", "NoVib")),  # G3-E7 (FluidR3 has no violin above F7)
    "Cello": (42, 36, 81, ("Vib", "NoVib")),  # C2-A5
    "Trumpet": (56, 52, 86, ("Vib", "NoVib")),  # E3-D6
    "Trombone": (57, 40, 77, ("Vib", "NoVib")),  # E2-F5
    "FrenchHorn": (60, 35, 77, ("NoVib",)),  # B1-F5
    "SopSax": (64, 56, 87, ("Vib", "NoVib")),  # Ab3-Eb6
    "Oboe": (68, 58, 93, ("Vib", "NoVib")),  # Bb3-A6
    "Clarinet": (71, 50, 94, ("NoVib",)),  # D3-Bb6
    "Flute": (73, 60, 96, ("Vib", "NoVib")),  # C4-C7
}

# `--relatives N`: close relatives of each class in the same General MIDI bank, rendered under
# the class's name, so a training set sees other sample sets (other timbres of the family)
# without another soundfont. Set 1 is the closest relative; set 2 the next one. Classes with no
# relative in a set are left out of it. (Muted trumpet is not a relative here: as a second Trumpet
# sample set it drew soprano sax, cello and violin notes from other soundfonts to Trumpet.)
RELATIVES = {
    1: {
        "Piano": 1,  # Bright Acoustic Piano
        "Violin": 41,  # Viola
        "Cello": 43,  # Contrabass
        "SopSax": 65,  # Alto Sax
        "Oboe": 69,  # English Horn
        "Flute": 72,  # Piccolo
    },
    2: {
        "Piano": 2,  # Electric Grand Piano
        "Violin": 110,  # Fiddle
        "Trombone": 58,  # Tuba
        "SopSax": 66,  # Tenor Sax
        "Flute": 74,  # Recorder
    },
    # Set 3 is MuseScore General's own: its string sections (banks 20 and 40, "Slow" presets) are
    # VSCO 2 recordings, samples that neither FluidR3 nor the other presets share. A relative given
    # as (bank, program) is selected with a bank-select controller first.
    3: {
        "Violin": (20, 49),  # Violins Slow (VSCO 2)
        "Cello": (40, 49),  # Celli Slow (VSCO 2)
    },
}

DYNAMICS = {"pp": 40, "mf": 80, "ff": 115}

NOTE_NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]

# The committed fixture subset: one short run per class (the SopSax run is the classic one).
# (class, vib, dynamic, first MIDI note, number of notes)
FIXTURES = [
    ("Piano", "NoVib", "mf", 48, 3),
    ("Violin", "Vib", "mf", 67, 3),
    ("Cello", "Vib", "ff", 48, 3),
    ("Trumpet", "NoVib", "mf", 64, 3),
    ("Trombone", "NoVib", "pp", 53, 3),
    ("FrenchHorn", "NoVib", "mf", 55, 3),
    ("SopSax", "Vib", "pp", 84, 4),
    ("Oboe", "Vib", "mf", 72, 3),
    ("Clarinet", "NoVib", "ff", 62, 3),
    ("Flute", "Vib", "pp", 76, 3),
]

LEAD_IN_S = 0.3
TICKS_PER_SECOND = 1000  # division 500 ticks per quarter at 500000 us per quarter: 1 tick = 1 ms


def note_name(midi):
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def chunks(lo, hi):
    """Splits lo..=hi into chromatic runs of 3-5 notes (mostly 4), from the bottom up."""
    notes = list(range(lo, hi + 1))
    n = len(notes)
    sizes = [4] * (n // 4)
    rem = n % 4
    if rem == 1:
        sizes[-1] += 1
    elif rem == 2:
        sizes[-1] = 3
        sizes.append(3)
    elif rem == 3:
        sizes.append(3)
    out, i = [], 0
    for s in sizes:
        out.append(notes[i : i + s])
        i += s
    return out


def file_name(cls, vib, dyn, notes):
    return f"{cls}.{vib}.{dyn}.{note_name(notes[0])}{note_name(notes[-1])}.aiff"


def plan_run(cls, vib, dyn, notes, short):
    """The timed notes of one run: list of (midi, on_tick, off_tick) plus the end tick and CC1."""
    name = file_name(cls, vib, dyn, notes)
    rng = random.Random(zlib.crc32(name.encode()))
    t = int(round(LEAD_IN_S * TICKS_PER_SECOND))
    timed = []
    for i, m in enumerate(notes):
        dur = 1.0 if short else rng.uniform(1.0, 1.5)
        gap = 0.5 if short else rng.uniform(0.45, 0.6)
        on = t
        off = on + int(round(dur * TICKS_PER_SECOND))
        timed.append((m, on, off))
        t = off + int(round(gap * TICKS_PER_SECOND))
    tail = 0.5 if short else 1.0
    end = timed[-1][2] + int(round(tail * TICKS_PER_SECOND))
    mod = rng.randint(64, 100) if vib == "Vib" else 0
    return name, timed, end, mod


def varlen(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def smf(program, velocity, timed, end, mod):
    """An SMF type 0 file: one track on channel 0 with the given notes."""
    ev = []  # (tick, order, bytes)
    ev.append((0, 0, bytes([0xFF, 0x51, 0x03]) + (500000).to_bytes(3, "big")))
    bank, program = program if isinstance(program, tuple) else (0, program)
    if bank:
        ev.append((0, 0, bytes([0xB0, 0, bank])))  # bank select (MSB)
    ev.append((0, 1, bytes([0xC0, program])))
    ev.append((0, 2, bytes([0xB0, 7, 100])))  # channel volume
    ev.append((0, 3, bytes([0xB0, 11, 127])))  # expression
    ev.append((0, 4, bytes([0xB0, 1, mod])))  # modulation wheel: vibrato depth
    for m, on, off in timed:
        ev.append((on, 6, bytes([0x90, m, velocity])))
        ev.append((off, 5, bytes([0x80, m, 0])))
    ev.append((end, 9, bytes([0xFF, 0x2F, 0x00])))
    ev.sort(key=lambda e: (e[0], e[1]))
    body, last = io.BytesIO(), 0
    for tick, _, data in ev:
        body.write(varlen(tick - last))
        body.write(data)
        last = tick
    trk = body.getvalue()
    head = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 500)
    return head + b"MTrk" + struct.pack(">I", len(trk)) + trk


def runs(subset, relatives=None):
    """Every run to render: (class, GM program, vib, dyn, notes, short)."""
    if subset == "fixtures":
        return [(c, CLASSES[c][0], v, d, list(range(lo, lo + n)), True)
                for c, v, d, lo, n in FIXTURES]
    out = []
    for cls, (program, lo, hi, vibs) in CLASSES.items():
        if relatives:
            if cls not in RELATIVES[relatives]:
                continue
            program = RELATIVES[relatives][cls]
        for vib in vibs:
            for dyn in DYNAMICS:
                for notes in chunks(lo, hi):
                    out.append((cls, program, vib, dyn, notes, False))
    return out


def silent_notes(wav_path, timed, rel_db=-40.0):
    """Indices of the notes whose first 0.5 s peak stays `rel_db` below the file's peak: notes
    the soundfont has no sample for (FluidR3's violin has none for Bb6, for example)."""
    with wave.open(wav_path, "rb") as w:
        ch, rate = w.getnchannels(), w.getframerate()
        pcm = array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        pcm.byteswap()
    peak = max(map(abs, pcm), default=0) or 1
    limit = peak * 10 ** (rel_db / 20)
    out = []
    for i, (_, on, _) in enumerate(timed):
        a = on * rate // TICKS_PER_SECOND * ch
        b = a + rate // 2 * ch
        if max(map(abs, pcm[a:b]), default=0) < limit:
            out.append(i)
    return out


def render_one(job):
    soundfont, out_dir, cls, program, vib, dyn, notes, short = job
    name, timed, end, mod = plan_run(cls, vib, dyn, notes, short)
    with tempfile.TemporaryDirectory(prefix="instclf-render-") as tmp:
        mid = os.path.join(tmp, "run.mid")
        wav = os.path.join(tmp, "run.wav")
        with open(mid, "wb") as f:
            f.write(smf(program, DYNAMICS[dyn], timed, end, mod))
        subprocess.run(
            [
                "fluidsynth", "-n", "-i", "-q",
                "-R", "0", "-C", "0",
                "-o", "synth.reverb.active=0", "-o", "synth.chorus.active=0",
                "-o", "synth.cpu-cores=1", "-o", "synth.dynamic-sample-loading=1",
                "-r", str(SAMPLE_RATE), "-g", "1.0",
                "-O", "s16", "-T", "wav",
                "-F", wav, soundfont, mid,
            ],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        silent = silent_notes(wav, timed)
        tmp_aiff = os.path.join(tmp, "run.aiff")
        subprocess.run(
            ["sox", "-D", "-V1", wav, "--comment", "", "-b", "16", "-r", str(SAMPLE_RATE),
             "-c", "1", tmp_aiff, "remix", "-", "pad", "0", "5", "trim", "0", f"{end / TICKS_PER_SECOND:.3f}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        shutil.move(tmp_aiff, os.path.join(out_dir, name))
    rows = []
    for i, (m, on, off) in enumerate(timed):
        if i in silent:
            print(f"warning: {name}: {note_name(m)} is silent in this soundfont; "
                  "left out of the manifest", file=sys.stderr)
            continue
        rows.append([name, cls, i, m, f"{on / TICKS_PER_SECOND:.3f}", f"{off / TICKS_PER_SECOND:.3f}"])
    return name, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--soundfont", required=True, help="fluidr3, musescore, csound or a path")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--subset", choices=["fixtures"], help="render only the small fixture set")
    ap.add_argument("--jobs", type=int, default=2, help="parallel renders (default 2)")
    ap.add_argument("--relatives", type=int, choices=sorted(RELATIVES),
                    help="render set N of each class's GM relatives instead (see RELATIVES)")
    args = ap.parse_args()

    soundfont = SOUNDFONTS.get(args.soundfont, args.soundfont)
    if not os.path.isfile(soundfont):
        sys.exit(f"render.py: error: soundfont {soundfont}: no such file")
    for tool in ("fluidsynth", "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"render.py: error: `{tool}` is not installed")
    os.makedirs(args.out, exist_ok=True)

    jobs = [(soundfont, args.out) + tuple(r) for r in runs(args.subset, args.relatives)]
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for done, res in enumerate(pool.map(render_one, jobs), 1):
            results.append(res)
            if done % 50 == 0 or done == len(jobs):
                print(f"rendered {done}/{len(jobs)}", file=sys.stderr)

    results.sort(key=lambda r: r[0])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "class", "note_index", "midi", "onset_s", "offset_s"])
    for _, rows in results:
        w.writerows(rows)
    tmp = os.path.join(args.out, "manifest.csv.tmp")
    with open(tmp, "w") as f:
        f.write(buf.getvalue())
    os.replace(tmp, os.path.join(args.out, "manifest.csv"))
    print(f"{len(results)} files in {args.out}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        err = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        sys.exit(f"render.py: error: {e.cmd[0]} failed: {err[-1] if err else e.returncode}")
