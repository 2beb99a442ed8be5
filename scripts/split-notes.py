#!/usr/bin/env python3
"""Cuts every note of a rendered set into its own recording, for single-note evaluation.

    python3 scripts/split-notes.py IN_DIR OUT_DIR [--files-from notes.csv --split test]

Reads IN_DIR/manifest.csv (written by scripts/render.py) and writes, for each note, the span
from 0.1 s before its onset to 0.4 s after its offset as OUT_DIR/<file stem>.n<k>.aiff (16-bit
mono, via sox), so the first dot-separated token of a name is still the class, and a manifest of
the same form. With --files-from, only the recordings of that dataset split are cut. Needs sox.
"""
import argparse, csv, os, shutil, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("inp")
ap.add_argument("out")
ap.add_argument("--files-from", help="a dataset's notes.csv: only its recordings of --split")
ap.add_argument("--split", default="test")
a = ap.parse_args()

keep = None
if a.files_from:
    with open(a.files_from) as f:
        keep = {os.path.basename(r["file"]) for r in csv.DictReader(f) if r["split"] == a.split}
manifest = os.path.join(a.inp, "manifest.csv")
if not os.path.isfile(manifest):
    sys.exit(f"split-notes.py: error: {manifest}: no such file (render {a.inp} with scripts/render.py)")
if shutil.which("sox") is None:
    sys.exit("split-notes.py: error: `sox` is not installed")
os.makedirs(a.out, exist_ok=True)
rows = []
with open(manifest) as f:
    for r in csv.DictReader(f):
        if keep is not None and r["file"] not in keep:
            continue
        start = max(0.0, float(r["onset_s"]) - 0.1)
        end = float(r["offset_s"]) + 0.4
        name = f"{r['file'][:-len('.aiff')]}.n{r['note_index']}.aiff"
        tmp = os.path.join(a.out, name + ".tmp.aiff")
        subprocess.run(["sox", "-D", "-V1", os.path.join(a.inp, r["file"]), tmp,
                        "trim", f"{start:.3f}", f"={end:.3f}"], check=True)
        os.replace(tmp, os.path.join(a.out, name))
        rows.append([name, r["class"], 0, r["midi"], f"{float(r['onset_s']) - start:.3f}",
                     f"{end - start - 0.4:.3f}"])
with open(os.path.join(a.out, "manifest.csv.tmp"), "w") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["file", "class", "note_index", "midi", "onset_s", "offset_s"])
    w.writerows(rows)
os.replace(os.path.join(a.out, "manifest.csv.tmp"), os.path.join(a.out, "manifest.csv"))
print(f"{len(rows)} notes in {a.out}", file=sys.stderr)
