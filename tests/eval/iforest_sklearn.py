#!/usr/bin/python3
"""tests/eval/iforest_sklearn.py -- our isolation forest next to scikit-learn's.

Reads what `bench-iforest eval SHARED_DIR OUT_DIR SEEDS` wrote: the feature
matrices OUT_DIR/<name>.csv (last column the label) and our per-seed AUCs
OUT_DIR/ours.csv. Fits sklearn.ensemble.IsolationForest with the same
parameters (n_estimators=100, max_samples=256, max_features=1.0,
bootstrap=False) on exactly the same numbers, once per seed, scores the
training rows, and prints per file the mean AUC over seeds, ours vs
sklearn's, and the mean difference. Files without a positive label are
listed and skipped (AUC undefined).

Exit status 1 when the mean over files of |ours - sklearn| exceeds
--tolerance (default 0.01). Debian's python3-sklearn lives under
/usr/bin/python3 (not a pyenv or venv python).

    ./build/bench/bench-iforest eval /work/shared/data /tmp/iforest-eval 10
    /usr/bin/python3 tests/eval/iforest_sklearn.py /tmp/iforest-eval 10
"""
import argparse
import csv
import os
import sys
from collections import defaultdict

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("seeds", type=int, nargs="?", default=10)
    ap.add_argument("--tolerance", type=float, default=0.01)
    a = ap.parse_args()

    ours = defaultdict(list)
    with open(os.path.join(a.out_dir, "ours.csv")) as fp:
        for row in csv.DictReader(fp):
            ours[row["name"]].append(float(row["auc"]))

    diffs, absdiffs = [], []
    print(f"{'file':45s} {'rows':>6s} {'pos':>5s} {'ours':>7s} {'sklearn':>7s}"
          f" {'diff':>7s}   (mean AUC over {a.seeds} seeds; sd over seeds)")
    for name in ours:
        data = np.loadtxt(os.path.join(a.out_dir, name + ".csv"),
                          delimiter=",", skiprows=1)
        x, y = data[:, :-1], data[:, -1].astype(int)
        if y.sum() == 0 or y.sum() == len(y):
            print(f"{name:45s} {len(y):6d} {y.sum():5d}   skipped: one class")
            continue
        sk = []
        for seed in range(a.seeds):
            f = IsolationForest(n_estimators=100, max_samples=256,
                                max_features=1.0, bootstrap=False,
                                random_state=seed).fit(x)
            sk.append(roc_auc_score(y, -f.score_samples(x)))
        o, s = np.mean(ours[name]), np.mean(sk)
        diffs.append(o - s)
        absdiffs.append(abs(o - s))
        print(f"{name:45s} {len(y):6d} {y.sum():5d} {o:7.4f} {s:7.4f}"
              f" {o - s:+7.4f}   (sd {np.std(ours[name]):.4f} / "
              f"{np.std(sk):.4f})")
    md, mad = np.mean(diffs), np.mean(absdiffs)
    print(f"\n{len(diffs)} files: mean AUC ours - sklearn {md:+.4f}, mean "
          f"|diff| {mad:.4f}, max |diff| {np.max(absdiffs):.4f}, "
          f"tolerance {a.tolerance}")
    return 0 if mad <= a.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
