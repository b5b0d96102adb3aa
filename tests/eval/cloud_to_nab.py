#!/usr/bin/python3
"""Writes the cloud ingestion set (shared/data/cloud/data-ingress-rate,
TimeStamp,Value,Label per minute) in the NAB layout, so that
`pipewatch-train evaluate --nab OUT` scores the detector on data it was not
tuned on.

Windows are made as NAB makes them from point labels: each run of labelled
minutes is one anomaly; the window is centred on the run and, as in NAB,
10 % of the file's length is shared among its anomalies (a window is at
least as wide as its run); overlapping windows merge. A file without a
labelled minute gets no window.

usage: cloud_to_nab.py SHARED_DATA_DIR OUT_DIR
"""
import csv
import json
import os
import sys

src = os.path.join(sys.argv[1], "cloud", "data-ingress-rate")
out = sys.argv[2]
os.makedirs(os.path.join(out, "data", "cloudIngress"), exist_ok=True)
os.makedirs(os.path.join(out, "labels"), exist_ok=True)
windows = {}
for name in sorted(os.listdir(src)):
    if not name.endswith(".csv"):
        continue
    rows = list(csv.reader(open(os.path.join(src, name))))[1:]
    stamps = [r[0].replace("T", " ").replace("Z", "") for r in rows]
    with open(os.path.join(out, "data", "cloudIngress", name), "w") as f:
        f.write("timestamp,value\n")
        for t, r in zip(stamps, rows):
            f.write("%s,%s\n" % (t, r[1]))
    runs, start = [], None
    for i, r in enumerate(rows + [["", "", "0"]]):
        if r[2] == "1" and start is None:
            start = i
        elif r[2] != "1" and start is not None:
            runs.append((start, i - 1))
            start = None
    wins = []
    if runs:
        width = int(0.1 * len(rows) / len(runs))
        for a, b in runs:
            half = max(width, b - a + 1) // 2
            mid = (a + b) // 2
            lo, hi = max(0, mid - half), min(len(rows) - 1, mid + half)
            if wins and lo <= wins[-1][1]:
                wins[-1][1] = max(wins[-1][1], hi)
            else:
                wins.append([lo, hi])
    windows["cloudIngress/" + name] = [
        [stamps[a] + ".000000", stamps[b] + ".000000"] for a, b in wins]
    print("%s: %d rows, %d labelled runs, %d windows" % (name, len(rows), len(runs), len(wins)))
json.dump(windows, open(os.path.join(out, "labels", "combined_windows.json"), "w"), indent=1)
