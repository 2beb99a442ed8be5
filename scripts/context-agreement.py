#!/usr/bin/env python3
"""Does a note's answer depend on the other notes of its recording? Each note alone against in it.

This script owns the note-level issue's context measure. For every labelled recording of a folder
it takes the notes `instclf classify` finds in the whole recording, cuts each of them out on its
own as a 16-bit WAV (from 0.1 s before its start to 0.4 s after its end, as
scripts/split-notes.py cuts a rendered note: what of its neighbours lies in those margins comes
with it), classifies the cuts with the same networks, and compares: a note agrees when its cut's
answer (the cut's note that starts nearest the note's onset, within 0.1 s) is its answer in the
recording. Truth is the file name's first dot-separated token, as `--label-from name` reads it.

A cut's first sample is moved back onto the analysis frame grid (hop 512 at 22,050 Hz: 1,024
samples at 44.1 kHz), so its frames are the recording's frames and only the context differs;
`--unaligned` cuts where the note is, so the frames shift by up to one hop as well.

Which networks:
* `--run RUN` (repeatable): a `scripts/crossval.sh` output; source NAME is classified by every
  network under RUN/folds/NAME (trained without NAME), the runs' networks together as one
  ensemble, as `classify --model A --model B ...` gives it.
* no `--run`: the bundled model (or `--model M`, repeatable) for every source.

    python3 scripts/context-agreement.py -o OUT [--bin PATH] [--run RUN ...] [--model M ...]
        [--unaligned] NAME=DIR [NAME=DIR ...] [--json]

Writes OUT/NAME/{cuts/, cuts.json, in-recording.json, alone.json} and OUT/agreement.json, each
atomically; a rerun reuses what is there. Prints per source: notes, notes found alone, agreement, note
accuracy in the recordings and alone; then the mean and the worst source. Exits 2 on bad input.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave

BEFORE, AFTER, TOLERANCE = 0.1, 0.4, 0.1
HOP, HOP_SR = 512, 22050  # the recipes' analysis hop (docs/recipes.md)
AUDIO = (".aiff", ".aif", ".aifc", ".wav", ".flac", ".mp3", ".ogg")


def die(msg):
    print(f"context-agreement.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def atomic_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)


def classify(bin_, models, target, out):
    """`instclf classify --json` of a folder, kept in OUT (a rerun reads it back)."""
    if not os.path.isfile(out):
        cmd = [bin_, "classify", "--json", "--quiet"] + models + [target]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            die(f"{' '.join(cmd)}: {r.stderr.strip()}")
        with open(out + ".tmp", "w") as f:
            f.write(r.stdout)
        os.replace(out + ".tmp", out)
    with open(out) as f:
        return json.load(f)


def cut_start(notes, k):
    """Seconds: where note k's cut begins before the grid is applied."""
    return max(notes[k]["start"] - BEFORE, 0.0)


def grid(a, sr, aligned):
    """Sample index `a` moved back onto the frame grid, where the grid falls on whole samples."""
    step = HOP * sr / HOP_SR
    if not aligned or step != int(step):
        return a
    return a // int(step) * int(step)


def cut_notes(bin_, answers, work, aligned):
    """Every note of every recording as its own WAV in WORK/cuts, and WORK/cuts.json: where each
    cut starts in its recording, in seconds (written last, so a rerun that finds it cuts nothing)."""
    index = os.path.join(work, "cuts.json")
    if os.path.isfile(index):
        with open(index) as f:
            done = json.load(f)
        if done["aligned"] != aligned:
            die(f"{work}: cut {'on' if done['aligned'] else 'off'} the frame grid before; "
                "give another -o folder")
        return done["starts"]
    cuts = os.path.join(work, "cuts")
    os.makedirs(cuts, exist_ok=True)
    starts = {}
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "whole.wav")
        for rec in answers:
            notes = rec["notes"]
            if not notes:
                continue
            r = subprocess.run([bin_, "convert", "--quiet", rec["file"], "-o", wav],
                               capture_output=True, text=True)
            if r.returncode != 0:
                die(f"{rec['file']}: {r.stderr.strip()}")
            with wave.open(wav) as w:
                sr, n = w.getframerate(), w.getnframes()
                frames = w.readframes(n)
            stem = os.path.splitext(os.path.basename(rec["file"]))[0]
            for k, note in enumerate(notes):
                hi = note["end"] + AFTER
                a = grid(int(cut_start(notes, k) * sr), sr, aligned)
                b = min(n, int(round(hi * sr)))
                name = f"{stem}.n{k}.wav"
                path = os.path.join(cuts, name)
                with wave.open(path + ".tmp", "wb") as w:
                    w.setnchannels(1)
                    w.setsampwidth(2)
                    w.setframerate(sr)
                    w.writeframes(frames[2 * a:2 * b])
                os.replace(path + ".tmp", path)
                starts[name] = a / sr
    atomic_json(index, {"aligned": aligned, "starts": starts})
    return starts


def truth(path):
    return os.path.basename(path).split(".")[0]


def measure(bin_, models, name, folder, out, aligned):
    work = os.path.join(out, name)
    os.makedirs(work, exist_ok=True)
    whole = classify(bin_, models, folder, os.path.join(work, "in-recording.json"))
    whole = [r for r in whole if not truth(r["file"]).startswith("unknown")]
    starts = cut_notes(bin_, whole, work, aligned)
    alone = {os.path.basename(r["file"]): r for r in classify(
        bin_, models, os.path.join(work, "cuts"), os.path.join(work, "alone.json"))}
    notes = found = agree = right_whole = right_alone = 0
    for rec in whole:
        stem = os.path.splitext(os.path.basename(rec["file"]))[0]
        for k, note in enumerate(rec["notes"]):
            notes += 1
            right_whole += note["label"] == truth(rec["file"])
            cut = alone.get(f"{stem}.n{k}.wav")
            if cut is None:
                continue
            onset = note["start"] - starts[f"{stem}.n{k}.wav"]
            near = [c for c in cut["notes"] if abs(c["start"] - onset) <= TOLERANCE]
            if not near:
                continue
            c = min(near, key=lambda c: abs(c["start"] - onset))
            found += 1
            agree += c["label"] == note["label"]
            right_alone += c["label"] == truth(rec["file"])
    if notes == 0:
        die(f"{folder}: classify found no note in any instrument recording")
    return {"source": name, "folder": folder, "notes": notes, "found_alone": found,
            "agreement": agree / max(found, 1), "note_accuracy_in_recording": right_whole / notes,
            "note_accuracy_alone": right_alone / max(found, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--bin", default="target/release/instclf")
    ap.add_argument("--run", action="append", default=[])
    ap.add_argument("--model", action="append", default=[])
    ap.add_argument("--unaligned", action="store_true",
                    help="cut where each note is, off the frame grid")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("sources", nargs="+", metavar="NAME=DIR")
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        die(f"{a.bin}: no such executable (cargo build --release, or --bin PATH)")
    if a.run and a.model:
        die("give --run or --model, not both")
    sources = []
    for spec in a.sources:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            die(f"'{spec}' is not NAME=DIR")
        if not os.path.isdir(folder):
            die(f"source '{name}': {folder}: no such folder")
        if name in (s for s, _ in sources):
            die(f"source name '{name}' given twice")
        sources.append((name, folder))
    for run in a.run:
        if not os.path.isdir(os.path.join(run, "folds")):
            die(f"{run}: no folds/ folder (not a crossval.sh output)")
    for m in a.model:
        if not os.path.isfile(os.path.join(m, "model.json")):
            die(f"--model {m}: no model.json in it")
    rows = []
    for name, folder in sources:
        models = [arg for m in a.model for arg in ("--model", m)]
        for run in a.run:
            fold = os.path.join(run, "folds", name)
            nets = sorted(d for d in os.listdir(fold) if os.path.isfile(
                os.path.join(fold, d, "model.json"))) if os.path.isdir(fold) else []
            if not nets:
                die(f"{fold}: no trained network (is '{name}' a source of {run}?)")
            models += [arg for d in nets for arg in ("--model", os.path.join(fold, d))]
        rows.append(measure(a.bin, models, name, folder, a.output, not a.unaligned))
    worst = min(rows, key=lambda r: r["agreement"])
    result = {"runs": a.run, "models": a.model, "aligned": not a.unaligned, "sources": rows,
              "mean_agreement": sum(r["agreement"] for r in rows) / len(rows),
              "worst": {"source": worst["source"], "agreement": worst["agreement"]}}
    atomic_json(os.path.join(a.output, "agreement.json"), result)
    if a.json:
        print(json.dumps(result, indent=2))
        return
    print("| source | notes | found alone | agreement | in recording | alone |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['source']} | {r['notes']} | {r['found_alone']} | {100 * r['agreement']:.1f} "
              f"| {100 * r['note_accuracy_in_recording']:.1f} "
              f"| {100 * r['note_accuracy_alone']:.1f} |")
    print(f"mean agreement {100 * result['mean_agreement']:.1f}%, worst {worst['source']} "
          f"{100 * worst['agreement']:.1f}%")


if __name__ == "__main__":
    main()
