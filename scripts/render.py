#!/usr/bin/env python3
"""Render UIowa-style instrument recordings with fluidsynth or TiMidity++.

This script owns the synthetic "real instrument" corpus of instclf: for ten classes it writes
chromatic runs of 3-5 notes as hand-made MIDI files (SMF type 0), renders them with the
`fluidsynth` CLI from a General MIDI soundfont (FluidR3, MuseScore General, csound's sf_GMbank)
or with `timidity` from the FreePats GUS patches, mixes them to mono 16-bit 44.1 kHz AIFF with
`sox` and writes `manifest.csv` (file,class,note_index,midi,onset_s,offset_s) from the MIDI timing.

File names follow the University of Iowa MIS convention:
`<Class>.<Vib|NoVib>.<pp|mf|ff>.<first><last>.aiff`, e.g. `SopSax.Vib.pp.C6Eb6.aiff`.

Full sets vary the playing of every file, seeded by its name: per-note velocities drawn inside
the file's dynamic band (pp 20-55, mf 56-95, ff 96-127), note lengths from 0.3 to 4 s, some
repeated notes (the same pitch twice) and some legato joins (the next note-on at, or up to 50 ms
before, the previous note-off; such a note's offset_s is the next onset, when it stops sounding
as a note of its own), CC1 vibrato that ramps in after each onset at one of several depths (Vib
files), CC11 swells and fades on some notes, a per-file channel volume (CC7) and, for a fraction
of files, a room: fluidsynth's reverb at a few room sizes, or sox's reverb after TiMidity (whose
own effects stay off). `--plain` renders full sets the old way (one velocity per dynamic, notes of
1-1.5 s, no controller changes); the fixture subsets are always plain, so `fixtures/audio`
re-renders byte-identical.

Notes the instrument cannot play (FluidR3's violin has no sample above F7, for example) are left
out of the manifest with a warning: plain renders check the first 0.5 s after each note-on; varied
renders append a probe after the recording's end (cut off by sox) that plays every note alone,
since there a legato join or a room would fill the window with the previous note.

Usage:
    python3 scripts/render.py --soundfont fluidr3|musescore|csound|freepats|PATH --out DIR
        [--subset fixtures|mini] [--relatives 1|2|3] [--plain]

PATH is a .sf2/.sf3 soundfont (fluidsynth) or a TiMidity .cfg (timidity). With TiMidity, every
class's General MIDI program must have a patch in the configuration; a class whose relative has
none is left out of that relatives set (said on stderr).

Only the Python standard library plus `fluidsynth` or `timidity` and `sox` are needed. The output
is deterministic: every random choice comes from a generator seeded per file, fluidsynth and
TiMidity run single-threaded with fixed settings and sox without dither, so re-running gives the
same bytes.
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
import wave
import zlib
from array import array
from collections import namedtuple

SOUNDFONTS = {
    "fluidr3": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "musescore": "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "csound": "/usr/share/sounds/sf2/sf_GMbank.sf2",
}

# TiMidity++ configurations (GUS patch sets) by name.
TIMIDITY_CFGS = {
    "freepats": "/etc/timidity/freepats.cfg",
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

# Plain renders: one velocity per dynamic.
DYNAMICS = {"pp": 40, "mf": 80, "ff": 115}

# Varied renders: each note's velocity is drawn around a per-file centre inside its dynamic's band.
VELOCITY_BANDS = {"pp": (20, 55), "mf": (56, 95), "ff": (96, 127)}
NOTE_S = (0.3, 4.0)  # note lengths, drawn log-uniformly
GAP_S = (0.25, 1.0)  # silence between detached notes
REPEAT_GAP_S = (0.1, 0.5)  # silence before a repeated (same-pitch) note
LEGATO_OVERLAP_MS = (5, 50)  # a legato note-on this much before the previous note-off, or at it
P_REPEAT = 0.15  # chance that a note is played twice
P_LEGATO = 0.2  # chance that the next (different) note joins legato
P_EXPRESSION = 0.3  # chance of a CC11 swell, fade or hairpin on a note
SWELL_FROM = (64, 100)  # CC11 at the start of a swell
FADE_TO = (30, 90)  # CC11 at the end of a fade
VIB_DEPTHS = (40, 64, 90, 127)  # CC1 depth of a Vib file
VIB_DELAY_S = (0.1, 0.35)  # CC1 starts rising this long after the onset ...
VIB_RAMP_S = (0.2, 0.8)  # ... and reaches the depth this much later
CHANNEL_VOLUME = (64, 127)  # CC7 of a file
ROOM_FRACTION = 0.3  # files with a room
ROOM_SIZES = (0.2, 0.4, 0.6, 0.8)  # fluidsynth room-size; sox reverb room-scale / 100
CC_STEP_MS = 20  # controller ramps move every 20 ms
PROBE_GAP_MS = 3000  # the silence probe starts this long after the recording's end
PROBE_STEP_MS = 1300  # a note's release (up to ~0.5 s above -40 dB) is over by the next
PROBE_NOTE_MS = 300

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

# `--subset mini`: three short runs of three families (fixtures/freepats holds FreePats' render).
MINI = [
    ("Piano", "NoVib", "mf", 60, 3),
    ("Trumpet", "NoVib", "ff", 62, 3),
    ("Flute", "Vib", "mf", 72, 3),
]

# Fixed timing of the subsets: (note length, gap, tail) in seconds.
SUBSET_TIMING = {"fixtures": (1.0, 0.5, 0.5), "mini": (0.4, 0.3, 0.3)}

LEAD_IN_S = 0.3
TICKS_PER_SECOND = 1000  # division 500 ticks per quarter at 500000 us per quarter: 1 tick = 1 ms

# One recording to render: its notes (midi, on_tick, off_tick, velocity), controller changes
# (tick, controller, value), the tick its audio ends at, its room (None or (size, damp, wet))
# and the silence probe's notes after the end (empty for plain renders, checked in place).
Plan = namedtuple("Plan", "name notes ccs end room probe")


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


def ms(seconds):
    return int(round(seconds * TICKS_PER_SECOND))


def plan_plain(cls, vib, dyn, notes, timing):
    """The old fixed rendering: one velocity, notes of 1-1.5 s (or `timing`'s fixed length, gap
    and tail), CC7 100, CC11 127 and, for Vib, one CC1 depth for the whole file."""
    name = file_name(cls, vib, dyn, notes)
    rng = random.Random(zlib.crc32(name.encode()))
    t = ms(LEAD_IN_S)
    timed = []
    for m in notes:
        dur = timing[0] if timing else rng.uniform(1.0, 1.5)
        gap = timing[1] if timing else rng.uniform(0.45, 0.6)
        on = t
        off = on + ms(dur)
        timed.append((m, on, off, DYNAMICS[dyn]))
        t = off + ms(gap)
    tail = timing[2] if timing else 1.0
    end = timed[-1][2] + ms(tail)
    mod = rng.randint(64, 100) if vib == "Vib" else 0
    return Plan(name, timed, [(0, 7, 100), (0, 11, 127), (0, 1, mod)], end, None, [])


def ramp(ccs, cc, t0, t1, v0, v1):
    """Controller `cc` moving linearly from v0 at t0 towards v1 at t1, a point every
    CC_STEP_MS ticks (t1 itself excluded: the next note-on may reset the controller there)."""
    for t in range(t0, t1, CC_STEP_MS):
        ccs.append((t, cc, round(v0 + (v1 - v0) * (t - t0) / max(1, t1 - t0))))


def plan_varied(cls, vib, dyn, notes):
    """A varied, seeded rendering of one run (see the module doc)."""
    name = file_name(cls, vib, dyn, notes)
    rng = random.Random(zlib.crc32(b"varied:" + name.encode()))
    vlo, vhi = VELOCITY_BANDS[dyn]
    centre = rng.uniform(vlo, vhi)
    pitches = []
    for m in notes:
        pitches += [m, m] if rng.random() < P_REPEAT else [m]
    volume = rng.randint(*CHANNEL_VOLUME)
    room = None
    if rng.random() < ROOM_FRACTION:
        room = (rng.choice(ROOM_SIZES), round(rng.uniform(0.2, 0.6), 2), round(rng.uniform(0.3, 0.8), 2))
    depth = rng.choice(VIB_DEPTHS) if vib == "Vib" else 0

    timed = []
    t = ms(rng.uniform(0.25, 0.8))
    for i, m in enumerate(pitches):
        vel = min(vhi, max(vlo, round(rng.gauss(centre, (vhi - vlo) / 4))))
        dur = ms(math.exp(rng.uniform(math.log(NOTE_S[0]), math.log(NOTE_S[1]))))
        timed.append((m, t, t + dur, vel))
        if i + 1 == len(pitches):
            break
        if pitches[i + 1] == m:  # a repeated note is struck again after a short silence
            t += dur + ms(rng.uniform(*REPEAT_GAP_S))
        elif rng.random() < P_LEGATO:  # (never for the same pitch: its note-off would cut it)
            t += dur - (0 if rng.random() < 1 / 3 else rng.randint(*LEGATO_OVERLAP_MS))
        else:
            t += dur + ms(rng.uniform(*GAP_S))
    end = timed[-1][2] + ms(1.5 if room else 1.0)

    ccs = [(0, 7, volume), (0, 11, 127), (0, 1, 0), (0, 91, rng.randint(40, 100) if room else 0)]
    for i, (_, on, off, _) in enumerate(timed):
        stop = min(off, timed[i + 1][1]) if i + 1 < len(timed) else off  # when it stops sounding
        if rng.random() < P_EXPRESSION:
            shape = rng.choice(("swell", "fade", "hairpin"))
            if shape == "swell":
                peak = on + int((stop - on) * rng.uniform(0.5, 1.0))
                ramp(ccs, 11, on, peak, rng.randint(*SWELL_FROM), 127)
                ccs.append((peak, 11, 127))
            elif shape == "fade":
                hold = on + int((stop - on) * rng.uniform(0.2, 0.5))
                ccs.append((on, 11, 127))
                ramp(ccs, 11, hold, stop, 127, rng.randint(*FADE_TO))
            else:
                mid = on + (stop - on) // 2
                ramp(ccs, 11, on, mid, rng.randint(*SWELL_FROM), 127)
                ramp(ccs, 11, mid, stop, 127, rng.randint(*FADE_TO))
        else:
            ccs.append((on, 11, 127))
        if depth:
            start = on + ms(rng.uniform(*VIB_DELAY_S))
            full = start + ms(rng.uniform(*VIB_RAMP_S))
            ccs.append((on, 1, 0))
            ramp(ccs, 1, start, min(full, stop), 0, depth * (min(full, stop) - start) // (full - start))
            if full < stop:
                ccs.append((full, 1, depth))

    # The probe: every note alone, dry, at full expression and no vibrato, after the end.
    p0 = end + PROBE_GAP_MS
    ccs += [(p0 - 100, 1, 0), (p0 - 100, 11, 127), (p0 - 100, 91, 0)]
    probe = [(m, p0 + k * PROBE_STEP_MS, p0 + k * PROBE_STEP_MS + PROBE_NOTE_MS, v)
             for k, (m, _, _, v) in enumerate(timed)]
    return Plan(name, timed, dedup(ccs), end, room, probe)


def dedup(ccs):
    """Controller changes in time order (stable), without those that repeat a controller's value."""
    out, last = [], {}
    for t, cc, v in sorted(ccs, key=lambda e: e[0]):
        if last.get(cc) != v:
            out.append((t, cc, v))
            last[cc] = v
    return out


def plan(cls, vib, dyn, notes, mode):
    if mode == "varied":
        return plan_varied(cls, vib, dyn, notes)
    return plan_plain(cls, vib, dyn, notes, SUBSET_TIMING.get(mode))


def varlen(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def smf(program, notes, ccs, end):
    """An SMF type 0 file: one track on channel 0 with the given notes (midi, on, off, velocity)
    and controller changes (tick, controller, value), which come before note events of their
    tick."""
    ev = []  # (tick, order, bytes)
    ev.append((0, 0, bytes([0xFF, 0x51, 0x03]) + (500000).to_bytes(3, "big")))
    bank, program = program if isinstance(program, tuple) else (0, program)
    if bank:
        ev.append((0, 0, bytes([0xB0, 0, bank])))  # bank select (MSB)
    ev.append((0, 1, bytes([0xC0, program])))
    for tick, cc, value in ccs:  # 7 volume, 11 expression, 1 modulation (vibrato), 91 reverb
        ev.append((tick, 2, bytes([0xB0, cc, value])))
    for m, on, off, velocity in notes:
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


def timidity_patches(cfg, seen=None):
    """(bank, program) -> patch file of the tone banks in a TiMidity configuration (following
    `source` lines; drum sets are left out). A patch whose file is missing maps to None."""
    seen = seen if seen is not None else set()
    cfg = os.path.abspath(cfg)
    if cfg in seen:
        return {}
    seen.add(cfg)
    dirs, out, bank = [os.path.dirname(cfg)], {}, None
    with open(cfg, encoding="latin-1") as f:
        for line in f:
            tok = line.split("#", 1)[0].split()
            if not tok:
                continue
            if tok[0] == "dir" and len(tok) > 1:
                dirs.insert(0, tok[1])
            elif tok[0] == "source" and len(tok) > 1:
                out.update(timidity_patches(os.path.join(os.path.dirname(cfg), tok[1]), seen))
            elif tok[0] == "bank" and len(tok) > 1:
                bank = int(tok[1])
            elif tok[0] == "drumset":
                bank = None
            elif tok[0].isdigit() and bank is not None and len(tok) > 1:
                cands = [tok[1], tok[1] + ".pat"]
                found = [os.path.join(d, c) for d in dirs for c in cands]
                found = [p for p in found if os.path.isfile(p)]
                out[(bank, int(tok[0]))] = found[0] if found else None
    return out


def program_label(program):
    if isinstance(program, tuple):
        return f"bank {program[0]} program {program[1]}, 0-based"
    return f"GM program {program}, 0-based"


def runs(subset, relatives, mode, playable):
    """Every run to render: (class, program, vib, dyn, notes, mode). `playable(program)` says
    whether the synth has an instrument for a program ((bank, program) or GM program): a class
    without one stops the render, a relative without one is left out of its set (on stderr)."""
    for cls, (program, *_rest) in CLASSES.items():
        if not playable(program):
            sys.exit(f"render.py: error: no instrument for {cls} ({program_label(program)})")
    if subset:
        return [(c, CLASSES[c][0], v, d, list(range(lo, lo + n)), subset)
                for c, v, d, lo, n in (FIXTURES if subset == "fixtures" else MINI)]
    out = []
    for cls, (program, lo, hi, vibs) in CLASSES.items():
        if relatives:
            if cls not in RELATIVES[relatives]:
                continue
            program = RELATIVES[relatives][cls]
            if not playable(program):
                print(f"render.py: no instrument for {cls}'s relative ({program_label(program)}); "
                      f"{cls} left out of relatives set {relatives}", file=sys.stderr)
                continue
        for vib in vibs:
            for dyn in DYNAMICS:
                for notes in chunks(lo, hi):
                    out.append((cls, program, vib, dyn, notes, mode))
    return out


def read_wav(path):
    """(samples, channels, rate) of a 16-bit WAV file, samples interleaved."""
    with wave.open(path, "rb") as w:
        ch, rate = w.getnchannels(), w.getframerate()
        pcm = array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        pcm.byteswap()
    return pcm, ch, rate


def silent_notes(pcm, ch, rate, onsets, start=0, rel_db=-40.0):
    """Indices of the notes (onset ticks) whose first 0.5 s peak stays `rel_db` below the peak
    from tick `start` on: notes the instrument has no sample for (FluidR3's violin has none for
    Bb6, for example)."""
    a0 = start * rate // TICKS_PER_SECOND * ch
    peak = max(map(abs, pcm[a0:]), default=0) or 1
    limit = peak * 10 ** (rel_db / 20)
    out = []
    for i, on in enumerate(onsets):
        a = on * rate // TICKS_PER_SECOND * ch
        b = a + rate // 2 * ch
        if max(map(abs, pcm[a:b]), default=0) < limit:
            out.append(i)
    return out


def clipped(pcm, ch, rate, end):
    """Samples at full scale before tick `end`."""
    part = pcm[: end * rate // TICKS_PER_SECOND * ch]
    return part.count(32767) + part.count(-32768)


def synth_command(engine, path, room, mid, wav):
    if engine == "timidity":
        return ["timidity", "-c", path, "-Ow", "-s", str(SAMPLE_RATE), "--output-mono",
                "-EFreverb=0", "-EFchorus=0", "-EFdelay=0", "--preserve-silence",
                "-o", wav, mid]  # fmt: skip
    if room:
        size, damp, wet = room
        reverb = ["-R", "1", "-o", "synth.reverb.active=1",
                  "-o", f"synth.reverb.room-size={size}", "-o", f"synth.reverb.damp={damp}",
                  "-o", f"synth.reverb.level={wet}", "-o", "synth.reverb.width=1.0"]  # fmt: skip
    else:
        reverb = ["-R", "0", "-o", "synth.reverb.active=0"]
    return (["fluidsynth", "-n", "-i", "-q"] + reverb[:2] + ["-C", "0"] + reverb[2:] +
            ["-o", "synth.chorus.active=0",
             "-o", "synth.cpu-cores=1", "-o", "synth.dynamic-sample-loading=1",
             "-r", str(SAMPLE_RATE), "-g", "1.0",
             "-O", "s16", "-T", "wav",
             "-F", wav, path, mid])  # fmt: skip


def render_one(job):
    engine, path, out_dir, cls, program, vib, dyn, notes, mode = job
    p = plan(cls, vib, dyn, notes, mode)
    with tempfile.TemporaryDirectory(prefix="instclf-render-") as tmp:
        mid = os.path.join(tmp, "run.mid")
        wav = os.path.join(tmp, "run.wav")
        probe_end = p.probe[-1][2] + PROBE_NOTE_MS if p.probe else p.end
        with open(mid, "wb") as f:
            f.write(smf(program, p.notes + p.probe, p.ccs, probe_end))
        subprocess.run(synth_command(engine, path, p.room, mid, wav),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        pcm, ch, rate = read_wav(wav)
        if p.probe:
            silent = silent_notes(pcm, ch, rate, [on for _, on, _, _ in p.probe], p.probe[0][1])
        else:
            silent = silent_notes(pcm, ch, rate, [on for _, on, _, _ in p.notes])
        clips = clipped(pcm, ch, rate, p.end)
        room = []
        if p.room and engine == "timidity":  # TiMidity's own effects are off: sox's reverb
            size, damp, wet = p.room
            room = ["reverb", "50", f"{damp * 100:.0f}", f"{size * 100:.0f}", "0", "0",
                    f"{max(-10.0, 20 * math.log10(wet)):.1f}"]  # wet-gain: sox takes -10 to 10 dB
        tmp_aiff = os.path.join(tmp, "run.aiff")
        subprocess.run(
            ["sox", "-D", "-V1", wav, "--comment", "", "-b", "16", "-r", str(SAMPLE_RATE),
             "-c", "1", tmp_aiff, "remix", "-"] + room +
            ["pad", "0", "5", "trim", "0", f"{p.end / TICKS_PER_SECOND:.3f}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        shutil.move(tmp_aiff, os.path.join(out_dir, p.name))
    if clips:
        print(f"warning: {p.name}: {clips} samples at full scale", file=sys.stderr)
    rows = []
    for i, (m, on, off, _) in enumerate(p.notes):
        if i in silent:
            print(f"warning: {p.name}: {note_name(m)} is silent in this soundfont; "
                  "left out of the manifest", file=sys.stderr)
            continue
        if i + 1 < len(p.notes) and i + 1 not in silent:  # legato: ends where the next starts
            off = min(off, p.notes[i + 1][1])
        rows.append([p.name, cls, i, m, f"{on / TICKS_PER_SECOND:.3f}", f"{off / TICKS_PER_SECOND:.3f}"])
    return p.name, rows, len(silent)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--soundfont", required=True,
                    help="fluidr3, musescore, csound, freepats, a .sf2/.sf3 file or a TiMidity .cfg")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--subset", choices=sorted(SUBSET_TIMING),
                    help="render only a small plain set: the 10 fixtures or 3 short mini runs")
    ap.add_argument("--jobs", type=int, default=2, help="parallel renders (default 2)")
    ap.add_argument("--relatives", type=int, choices=sorted(RELATIVES),
                    help="render set N of each class's GM relatives instead (see RELATIVES)")
    ap.add_argument("--plain", action="store_true",
                    help="render full sets the old way: fixed velocities and lengths, no controllers")
    args = ap.parse_args()

    source = args.soundfont
    if source in TIMIDITY_CFGS or source.endswith(".cfg"):
        engine, path = "timidity", TIMIDITY_CFGS.get(source, source)
    else:
        engine, path = "fluidsynth", SOUNDFONTS.get(source, source)
    if not os.path.isfile(path):
        sys.exit(f"render.py: error: {'configuration' if engine == 'timidity' else 'soundfont'} "
                 f"{path}: no such file")
    for tool in (engine, "sox"):
        if shutil.which(tool) is None:
            sys.exit(f"render.py: error: `{tool}` is not installed")
    if engine == "timidity":
        patches = timidity_patches(path)

        def playable(program):
            key = program if isinstance(program, tuple) else (0, program)
            return patches.get(key) is not None
    else:

        def playable(program):
            return True  # fluidsynth's presets are not listed here; silent notes are caught

    mode = args.subset or ("plain" if args.plain else "varied")
    todo = runs(args.subset, args.relatives, mode, playable)
    if not todo:
        sys.exit(f"render.py: error: nothing to render from {path}")
    names = [file_name(c, v, d, n) for c, _, v, d, n, _ in todo]
    if len(set(names)) != len(names):
        sys.exit("render.py: error: two runs share a file name")
    os.makedirs(args.out, exist_ok=True)

    jobs = [(engine, path, args.out) + tuple(r) for r in todo]
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
    for _, rows, _ in results:
        w.writerows(rows)
    tmp = os.path.join(args.out, "manifest.csv.tmp")
    with open(tmp, "w") as f:
        f.write(buf.getvalue())
    os.replace(tmp, os.path.join(args.out, "manifest.csv"))
    notes = sum(len(rows) for _, rows, _ in results)
    silent = sum(n for _, _, n in results)
    print(f"{len(results)} files, {notes} notes ({silent} silent, left out) in {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as e:
        err = (e.stderr or b"").decode(errors="replace").strip().splitlines()
        sys.exit(f"render.py: error: {e.cmd[0]} failed: {err[-1] if err else e.returncode}")
