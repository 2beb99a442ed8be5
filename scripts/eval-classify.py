#!/usr/bin/env python3
"""Note and file accuracy of `instclf classify` on a folder of labelled recordings.

    python3 scripts/eval-classify.py BINARY DIR [--model M ...] [--files-from notes.csv --split test]

--model may be given several times: the models then classify as an ensemble.

The true class of a file is the first dot-separated token of its name. Prints one JSON line.
"""
import argparse, collections, csv, json, os, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("binary")
ap.add_argument("dir")
ap.add_argument("--model", action="append", default=[])
ap.add_argument("--files-from", help="a dataset's notes.csv: only its files of --split")
ap.add_argument("--split", default="test")
a = ap.parse_args()

if a.files_from:
    with open(a.files_from) as f:
        names = sorted({os.path.basename(r["file"]) for r in csv.DictReader(f) if r["split"] == a.split})
    inputs = [os.path.join(a.dir, n) for n in names if os.path.exists(os.path.join(a.dir, n))]
else:
    inputs = [a.dir]
cmd = [a.binary, "classify", "--json"] + [x for m in a.model for x in ("--model", m)] + inputs
out = subprocess.run(cmd, capture_output=True, text=True)
if out.returncode not in (0, 2):
    sys.exit(out.stderr)
res = json.loads(out.stdout)
if isinstance(res, dict):
    res = [res]
notes = notes_ok = files_ok = 0
confusion = collections.Counter()
for r in res:
    truth = os.path.basename(r["file"]).split(".")[0]
    files_ok += r["label"] == truth
    for n in r["notes"]:
        notes += 1
        notes_ok += n["label"] == truth
        confusion[(truth, n["label"])] += 1
worst = [f"{t}->{p}:{c}" for (t, p), c in confusion.most_common() if t != p][:8]
print(json.dumps({"files": len(res), "file_accuracy": round(files_ok / max(len(res), 1), 4),
                  "notes": notes, "note_accuracy": round(notes_ok / max(notes, 1), 4),
                  "top_confusions": worst}))
