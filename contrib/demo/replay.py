#!/usr/bin/env python3
"""Replays a recorded series as line protocol, a slice per run, for the
agent's exec collector (contrib/demo.sh): every run prints the next ROWS
samples with their original timestamps, and remembers where it stopped in
STATE. The analyzer works in event time, so the data's own timestamps make
a replay at any speed predict what the live series would have.

usage: replay.py DATA STATE ROWS MEASUREMENT FIELD
DATA: '#' comments, a line "start=ISO8601 step=SECONDS", then one value
per line."""
import datetime
import sys

data, state, rows, meas, field = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
start = step = None
values = []
for line in open(data):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    if line.startswith("start="):
        kv = dict(p.split("=", 1) for p in line.split())
        start = datetime.datetime.fromisoformat(kv["start"].replace("Z", "+00:00"))
        step = int(kv["step"])
        continue
    values.append(float(line))
try:
    pos = int(open(state).read())
except (OSError, ValueError):
    pos = 0
t0 = int(start.timestamp())
for i in range(pos, min(pos + rows, len(values))):
    print(f"{meas} {field}={values[i]} {(t0 + i * step) * 10**9}")
with open(state + ".tmp", "w") as f:
    f.write(str(min(pos + rows, len(values))))
import os
os.replace(state + ".tmp", state)
