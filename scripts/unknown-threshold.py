#!/usr/bin/env python3
"""How the `unknown` answer trades instrument notes for recognised non-instruments, by bias.

Input: leave-one-source-out folds' `instclf classify --json --top 1000` outputs (every class's
probability of every note and file; scripts/crossval.sh writes them as folds/*/classify.json),
each on its held-out source's instrument recordings and `unknown.*` recordings, from a model
with an `unknown` class. Truth is a file name's first dot-separated token.

For each unknown bias B in the grid (nats taken from the `unknown` class's log-score, the
`unknown_bias` of a model's calibration), with the probabilities recomputed at temperature T
(default: CAL.json's when given with --calibration, else 1), a note or file is answered unknown
when its best class is `unknown` or the best class's probability is below --min-confidence P
(default 0), as `classify` does. Prints, per held-out source and as mean and worst: the share of
instrument notes answered unknown, instrument note accuracy, and the share of unknown recordings
answered unknown (files; a file without notes counts as answered unknown).

usage: unknown-threshold.py CLASSIFY.json ... [--temperature T | --calibration CAL.json]
                            [--grid 0,1,2,3] [--min-confidence P] [--max-turned F] [--json]

--max-turned F also prints the smallest bias of the grid whose mean share of instrument notes
answered unknown is at most F (the bundled model's rule, F = 0.02), and each held-out source's
figures at the bias chosen that way on the OTHER sources alone (an honest figure for a source the
choice never saw).
"""
import argparse
import json
import math
import os


def soften(top, t, bias):
    """Probabilities of `top` ([{label, p}]) at temperature t and unknown bias, as {label: p}."""
    lp = {r["label"]: math.log(max(r["p"], 1e-300)) / t for r in top}
    if "unknown" in lp:
        lp["unknown"] -= bias
    m = max(lp.values())
    z = sum(math.exp(v - m) for v in lp.values())
    return {k: math.exp(v - m) / z for k, v in lp.items()}


def answer(p, min_conf):
    best = max(p, key=p.get)
    return "unknown" if best == "unknown" or p[best] < min_conf else best


def fold_figures(res, t, bias, min_conf):
    """The figures of one fold's classify output `res` at temperature t, bias and min_conf."""
    inst_notes = inst_ok = inst_unknown = unk_files = unk_ok = 0
    for f in res:
        truth = os.path.basename(f["file"]).split(".")[0]
        if truth == "unknown":
            unk_files += 1
            unk_ok += (not f["top"]) or answer(soften(f["top"], t, bias), min_conf) == "unknown"
            continue
        for n in f["notes"]:
            a = answer(soften(n["top"], t, bias), min_conf)
            inst_notes += 1
            inst_ok += a == truth
            inst_unknown += a == "unknown"
    div = lambda a, b: a / b if b else float("nan")
    return {"notes": inst_notes, "note_accuracy": div(inst_ok, inst_notes),
            "notes_turned_unknown": div(inst_unknown, inst_notes),
            "unknown_files": unk_files, "unknown_recognised": div(unk_ok, unk_files)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--temperature", type=float)
    ap.add_argument("--calibration", help="calibration.json of scripts/fit-temperature.py")
    ap.add_argument("--grid", default="0,0.5,1,1.5,2,2.5,3,4")
    ap.add_argument("--min-confidence", type=float, default=0.0)
    ap.add_argument("--max-turned", type=float)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    t = a.temperature or (json.load(open(a.calibration))["temperature"] if a.calibration else 1.0)
    runs = {os.path.basename(os.path.dirname(p)) or p: json.load(open(p)) for p in a.inputs}
    out = []
    for b in [float(x) for x in a.grid.split(",")]:
        folds = {name: fold_figures(res, t, b, a.min_confidence) for name, res in runs.items()}
        mean = lambda k: sum(f[k] for f in folds.values()) / len(folds)
        out.append({"unknown_bias": b, "min_confidence": a.min_confidence, "temperature": t, "folds": folds,
                    "mean": {k: mean(k) for k in ("note_accuracy", "notes_turned_unknown",
                                                  "unknown_recognised")},
                    "worst": {"note_accuracy": min(f["note_accuracy"] for f in folds.values()),
                              "notes_turned_unknown": max(f["notes_turned_unknown"] for f in folds.values()),
                              "unknown_recognised": min(f["unknown_recognised"] for f in folds.values())}})
    chosen, cross = None, {}

    def choose(names):
        ok = [r for r in out
              if sum(r["folds"][n]["notes_turned_unknown"] for n in names) / len(names) <= a.max_turned]
        return min(ok, key=lambda r: r["unknown_bias"]) if ok else None
    if a.max_turned is not None:
        names = list(out[0]["folds"])
        chosen = choose(names)
        for n in names:
            c = choose([m for m in names if m != n]) if len(names) > 1 else None
            if c:
                cross[n] = {"unknown_bias": c["unknown_bias"], **c["folds"][n]}
    if a.json:
        print(json.dumps({"grid": out, "chosen": chosen, "cross": cross}, indent=1))
        return
    names = list(out[0]["folds"])
    print(f"temperature {t:.3f}, --min-confidence {a.min_confidence:g}; per held-out source: instrument notes -> unknown / instrument note "
          "accuracy / unknown recordings answered unknown")
    print("| unknown bias | " + " | ".join(names) + " | mean | worst |")
    print("|---:|" + "---|" * (len(names) + 2))
    for r in out:
        cell = lambda f: (f"{f['notes_turned_unknown']:.3f} / {f['note_accuracy']:.3f} / "
                          f"{f['unknown_recognised']:.3f}")
        print(f"| {r['unknown_bias']:g} | " + " | ".join(cell(r["folds"][n]) for n in names)
              + f" | {cell(r['mean'])} | {cell(r['worst'])} |")
    if a.max_turned is not None:
        print(f"smallest bias with mean notes turned unknown <= {a.max_turned:g}: "
              + (f"{chosen['unknown_bias']:g}" if chosen else "none in the grid"))
        for n, c in cross.items():
            print(f"  {n} at the bias chosen on the others ({c['unknown_bias']:g}): notes turned unknown "
                  f"{c['notes_turned_unknown']:.3f}, note accuracy {c['note_accuracy']:.3f}, "
                  f"unknown recognised {c['unknown_recognised']:.3f}")


if __name__ == "__main__":
    main()
