#!/usr/bin/env python3
"""Would a per-class prior correction help on unfamiliar sources? Cross-fitted by source.

For each held-out source of a leave-one-source-out run (RUN/folds/SOURCE/classify.json, as
`scripts/crossval.sh` writes them), fits one additive bias per instrument class to the ensemble's
log-probabilities (divided by the temperature T, the unknown class's lowered by the bias U as
`classify` does) by maximum likelihood, with an L2 penalty LAMBDA, on the notes of the other
three sources, and scores the held-out source's instrument notes with and without it. The
biases are centred (their mean is 0), so the share of notes answered unknown stays put. Prints
note accuracy per source, the mean and the worst, for each LAMBDA.

usage: class-bias.py RUN --temperature T --unknown-bias U [--lambda L ...]
(needs numpy and scipy: the librosa venv of scripts/setup-librosa.sh has both)
"""
import argparse
import json
import os

import numpy as np
from scipy.optimize import minimize


def load(run, temperature):
    folds = os.path.join(run, "folds")
    data, classes = {}, None
    for src in sorted(os.listdir(folds)):
        with open(os.path.join(folds, src, "classify.json")) as f:
            files = json.load(f)
        x, y = [], []
        for rec in files:
            if "/unknown/" in rec["file"]:
                continue
            truth = os.path.basename(rec["file"]).split(".")[0]
            for note in rec["notes"]:
                p = {t["label"]: t["p"] for t in note["top"]}
                classes = classes or sorted(p)
                x.append([np.log(max(p[c], 1e-30)) for c in classes])
                y.append(classes.index(truth))
        data[src] = (np.array(x) / temperature, np.array(y))
    return data, classes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run")
    ap.add_argument("--temperature", type=float, required=True)
    ap.add_argument("--unknown-bias", type=float, required=True)
    ap.add_argument("--lambda", dest="lams", type=float, nargs="+", default=[0.0, 0.003, 0.01, 0.03])
    a = ap.parse_args()
    data, classes = load(a.run, a.temperature)
    unk = classes.index("unknown")
    inst = [i for i in range(len(classes)) if i != unk]

    def full(b):
        out = np.zeros(len(classes))
        out[inst] = b - b.mean()
        out[unk] = -a.unknown_bias
        return out

    def fit(x, y, lam):
        xi, yi = x[:, inst], np.array([inst.index(c) for c in y])

        def nll(b):
            z = xi + (b - b.mean())
            z = z - z.max(1, keepdims=True)
            lp = z - np.log(np.exp(z).sum(1, keepdims=True))
            return -lp[np.arange(len(yi)), yi].mean() + lam * (b ** 2).sum()

        return full(minimize(nll, np.zeros(len(inst)), method="L-BFGS-B").x)

    srcs = sorted(data)
    for lam in a.lams:
        base, biased = [], []
        for s in srcs:
            x_tr = np.concatenate([data[o][0] for o in srcs if o != s])
            y_tr = np.concatenate([data[o][1] for o in srcs if o != s])
            b = fit(x_tr, y_tr, lam)
            x, y = data[s]
            base.append(((x + full(np.zeros(len(inst)))).argmax(1) == y).mean())
            biased.append(((x + b).argmax(1) == y).mean())
        row = lambda accs: " / ".join(f"{100 * v:.1f}" for v in accs) + \
            f", mean {100 * np.mean(accs):.1f}, worst {100 * min(accs):.1f}"
        print(f"lambda {lam}: {' / '.join(srcs)}: without {row(base)}; with {row(biased)}")


if __name__ == "__main__":
    main()
