#!/usr/bin/env python3
"""Leave-one-source-out note accuracy of an ensemble of several crossval runs, without retraining.

Input: two or more `scripts/crossval.sh` output folders (each with folds/SOURCE/classify.json,
`instclf classify --json --top 1000` of the held-out source) run on the same renders, each with a
weight: RUN[:WEIGHT] (default weight 1; give a run the number of networks it holds to weight every
network alike, as `classify` with all of them as `--model` would). Notes are matched by file and
position: every run finds the notes the same way (the segmenter does not depend on the model).

A note's ensemble score for class c is the weighted mean over runs of log p_run(c | note); its
answer is the best class. (Each run's probabilities are the softmax of its networks' mean
log-probability, so with weights equal to the runs' network counts this is the answer of one
ensemble of all their networks.) Truth is the file name's first dot-separated token. Prints each
run's and the ensemble's note accuracy per held-out source, the mean and the worst.

usage: combine-folds.py RUN[:WEIGHT] RUN[:WEIGHT] ... [--json]
"""
import argparse
import json
import math
import os
import sys


def die(msg):
    print(f"combine-folds.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def load(run):
    folds = os.path.join(run, "folds")
    if not os.path.isdir(folds):
        die(f"{run}: no folds/ folder (not a crossval.sh output)")
    out = {}
    for src in sorted(os.listdir(folds)):
        path = os.path.join(folds, src, "classify.json")
        if os.path.isfile(path):
            with open(path) as f:
                out[src] = {d["file"]: d["notes"] for d in json.load(f)}
    if not out:
        die(f"{run}: no folds/*/classify.json")
    return out


def truth(path):
    return os.path.basename(path).split(".")[0]


def logp(note):
    return {r["label"]: math.log(max(r["p"], 1e-12)) for r in note["top"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", metavar="RUN[:WEIGHT]")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if len(a.runs) < 2:
        die("give at least two runs")
    runs = []
    for spec in a.runs:
        path, _, w = spec.partition(":")
        try:
            weight = float(w) if w else 1.0
        except ValueError:
            die(f"{spec}: WEIGHT must be a number")
        if not weight > 0:
            die(f"{spec}: WEIGHT must be positive")
        runs.append((path, weight, load(path)))
    sources = sorted(set.intersection(*(set(r[2]) for r in runs)))
    if not sources:
        die("the runs share no held-out source")
    names = [os.path.basename(os.path.normpath(p)) for p, _, _ in runs]
    names = [n if names.count(n) == 1 else f"{n}#{i + 1}" for i, n in enumerate(names)]
    names.append("ensemble")
    table = {n: {} for n in names}
    for src in sources:
        files = sorted(set.intersection(*(set(r[2][src]) for r in runs)))
        right = [0] * len(names)
        total = 0
        for f in files:
            notes = [r[2][src][f] for r in runs]
            if len({len(n) for n in notes}) != 1:
                die(f"{src}: {f}: the runs found different notes (not the same renders?)")
            t = truth(f)
            for k in range(len(notes[0])):
                scores = {}
                for i, (_, w, _) in enumerate(runs):
                    lp = logp(notes[i][k])
                    if max(lp, key=lp.get) == t:
                        right[i] += 1
                    for c, v in lp.items():
                        scores[c] = scores.get(c, 0.0) + w * v
                if max(scores, key=scores.get) == t:
                    right[-1] += 1
                total += 1
        for n, r in zip(names, right):
            table[n][src] = r / total if total else float("nan")
    for n in names:
        vals = list(table[n].values())
        table[n]["mean"] = sum(vals) / len(vals)
        table[n]["worst"] = min(vals)
    if a.json:
        print(json.dumps(table, indent=1))
        return
    cols = sources + ["mean", "worst"]
    print("| run | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for n in names:
        print(f"| {n} | " + " | ".join(f"{100 * table[n][c]:.1f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
