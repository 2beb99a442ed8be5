#!/usr/bin/env python3
"""Fits the temperature of a model's (or an ensemble's) note confidences on held-out notes, and
optionally stores it in model folders.

Input: the output of `instclf classify --json --top N` (N = every class) on recordings the model
was NOT trained on, e.g. each leave-one-source-out fold's models on its held-out source; a
note's truth is its file name's first dot-separated token. Confidences become softmax(log p / T):
T is chosen to minimise the notes' negative log-likelihood (golden-section search on log T), the
standard temperature scaling; with --max-sure-wrong F it is then raised, where needed, to the
smallest T at which at most F of the wrong notes keep a confidence of 0.9 or more (the bundle's
rule, F = 0.1: confident mistakes are what users cannot see through). Prints one JSON object: T, the notes, and the expected calibration
error (15 bins) and NLL before and after. `--write M...` stores {"temperature": T, "fitted_on":
TEXT} as `calibration` in each model folder's model.json (classify and evaluate then use it),
with `--unknown-bias B` also `unknown_bias` (nats taken from the `unknown` class's calibrated
log-score; chosen with scripts/unknown-threshold.py on the same folds).

With --cross (one input per held-out source), it also reports each input's ECE with the T fitted
on the OTHER inputs alone: an honest figure for a source the temperature never saw.

usage: fit-temperature.py CLASSIFY.json [CLASSIFY.json ...] [--cross] [--write MODEL_DIR ...]
                          [--fitted-on TEXT] [--unknown-bias B] [--max-sure-wrong F]
"""
import argparse
import json
import math
import os
import sys


def notes_of(paths):
    out = []  # (log-probabilities by class, truth)
    for p in paths:
        res = json.load(open(p))
        for r in res if isinstance(res, list) else [res]:
            truth = os.path.basename(r["file"]).split(".")[0]
            for n in r["notes"]:
                lp = {t["label"]: math.log(max(t["p"], 1e-300)) for t in n["top"]}
                if truth not in lp:
                    sys.exit(f"fit-temperature.py: error: {p}: a note of {r['file']} does not rank "
                             f"'{truth}': run classify with --top covering every class")
                out.append((lp, truth))
    if not out:
        sys.exit("fit-temperature.py: error: no notes in the inputs")
    return out


def softmax(lp, t):
    m = max(lp.values())
    e = {k: math.exp((v - m) / t) for k, v in lp.items()}
    z = sum(e.values())
    return {k: v / z for k, v in e.items()}


def nll(notes, t):
    return -sum(math.log(max(softmax(lp, t)[y], 1e-300)) for lp, y in notes) / len(notes)


def ece(notes, t, bins=15):
    tot = [[0, 0.0, 0] for _ in range(bins)]
    for lp, y in notes:
        p = softmax(lp, t)
        best = max(p, key=p.get)
        b = min(int(p[best] * bins), bins - 1)
        tot[b][0] += 1
        tot[b][1] += p[best]
        tot[b][2] += best == y
    return sum(abs(c - k) for n, c, k in tot if n) / len(notes)


def fit(notes):
    """The temperature that minimises the notes' NLL (golden-section search on log T)."""
    lo, hi = math.log(0.05), math.log(100.0)
    g = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        m1, m2 = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(notes, math.exp(m1)) < nll(notes, math.exp(m2)):
            hi = m2
        else:
            lo = m1
    return math.exp((lo + hi) / 2)


def sure_wrong(notes, t):
    """The share of wrong notes whose confidence at temperature t is at least 0.9."""
    wrong = [lp for lp, y in notes if max(lp, key=lp.get) != y]
    return sum(max(softmax(lp, t).values()) >= 0.9 for lp in wrong) / max(len(wrong), 1)


def fit_capped(notes, cap):
    """The NLL temperature, raised where needed to the smallest T at which at most `cap` of the
    wrong notes keep a confidence of 0.9 or more. A note's top confidence falls as T rises, so
    that share does too, and bisection on log T finds the bound."""
    t = fit(notes)
    if cap is None or sure_wrong(notes, t) <= cap:
        return t
    lo, hi = math.log(t), math.log(100.0)
    for _ in range(50):
        mid = (lo + hi) / 2
        if sure_wrong(notes, math.exp(mid)) <= cap:
            hi = mid
        else:
            lo = mid
    return math.exp(hi)


def report(notes, t):
    wrong = [(lp, y) for lp, y in notes if max(lp, key=lp.get) != y]
    sure = lambda tt: sure_wrong(notes, tt)
    return {"notes": len(notes), "wrong": len(wrong),
            "ece_before": ece(notes, 1.0), "ece_after": ece(notes, t),
            "nll_before": nll(notes, 1.0), "nll_after": nll(notes, t),
            "wrong_at_0.9_before": sure(1.0), "wrong_at_0.9_after": sure(t)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--write", nargs="*", default=[], help="model folders to store T in")
    ap.add_argument("--fitted-on", default="", help="what T was fitted on, for model.json")
    ap.add_argument("--unknown-bias", type=float,
                    help="also store this unknown bias (nats; scripts/unknown-threshold.py chooses it)")
    ap.add_argument("--cross", action="store_true", help="also score each input with T fitted on the others")
    ap.add_argument("--max-sure-wrong", type=float, metavar="F",
                    help="raise T until at most F of the wrong notes have confidence >= 0.9")
    a = ap.parse_args()
    groups = [notes_of([p]) for p in a.inputs]
    notes = [n for g in groups for n in g]
    t = fit_capped(notes, a.max_sure_wrong)
    out = {"temperature": t, **report(notes, t)}
    if a.cross and len(groups) > 1:
        out["cross"] = []
        for i, (p, g) in enumerate(zip(a.inputs, groups)):
            ti = fit_capped([n for j, o in enumerate(groups) if j != i for n in o], a.max_sure_wrong)
            out["cross"].append({"input": p, "temperature": ti, **report(g, ti)})
    print(json.dumps(out))
    for d in a.write:
        path = os.path.join(d, "model.json")
        m = json.load(open(path))
        m["calibration"] = {"temperature": t,
                            **({"unknown_bias": a.unknown_bias} if a.unknown_bias is not None else {}),
                            **({"fitted_on": a.fitted_on} if a.fitted_on else {})}
        with open(path + ".tmp", "w") as f:
            json.dump(m, f, indent=2)
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
