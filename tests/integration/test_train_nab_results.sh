#!/usr/bin/env bash
# pipewatch-train evaluate --nab-results on a slice of shared/data/nab:
# the files are in the layout of NAB's results/ folder (names, header, one
# row per input row, scores in [0,1], labels from the windows file), the
# project's scorer run on the written files gives the figures evaluate
# printed, and the detector is causal: cutting a file after row k leaves
# the scores of rows <= k as they were. Bad input gives a clear error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
shared=${PW_SHARED_DIR:-$PW_SOURCE_DIR/../shared/data}
if [[ ! -d $shared/nab ]]; then
    echo "SKIPPED: no shared data at $shared; set PW_SHARED_DIR" >&2
    exit 77
fi
train=$PW_BUILD_DIR/pipewatch-train
py=/usr/bin/python3

# The slice: three files from two groups, with NAB's own windows file.
slice=$PW_TMP/nab
mkdir -p "$slice/data/realKnownCause" "$slice/data/artificialWithAnomaly" "$slice/labels"
for f in realKnownCause/machine_temperature_system_failure.csv realKnownCause/nyc_taxi.csv \
         artificialWithAnomaly/art_daily_jumpsup.csv; do
    cp "$shared/nab/data/$f" "$slice/data/$f"
done
cp "$shared/nab/labels/combined_windows.json" "$slice/labels/"

out=$PW_TMP/results
"$train" evaluate --nab "$slice" --nab-results "$out" --detector-name pwtest --json \
    > "$PW_TMP/written.json" || fail "evaluate --nab-results failed"
info "$(tr -d '\n ' < "$PW_TMP/written.json" | head -c 400)"

"$py" - "$slice" "$out" <<'PY' || fail "the results are not in NAB's layout"
import csv, json, os, sys
slice_dir, out = sys.argv[1], sys.argv[2]
windows = json.load(open(os.path.join(slice_dir, "labels", "combined_windows.json")))
files = 0
for group in sorted(os.listdir(os.path.join(slice_dir, "data"))):
    for name in sorted(os.listdir(os.path.join(slice_dir, "data", group))):
        files += 1
        src = list(csv.reader(open(os.path.join(slice_dir, "data", group, name))))
        path = os.path.join(out, "pwtest", group, "pwtest_" + name)
        assert os.path.isfile(path), "missing " + path
        rows = list(csv.reader(open(path)))
        assert rows[0] == ["timestamp", "value", "anomaly_score", "label"], rows[0]
        assert len(rows) == len(src), (path, len(rows), len(src))
        wins = [(a[:19], b[:19]) for a, b in windows[group + "/" + name]]
        inside = 0
        for s, r in zip(src[1:], rows[1:]):
            assert r[0] == s[0], (path, r[0], s[0])
            assert float(r[1]) == float(s[1]), (path, r[1], s[1])
            score = float(r[2])
            assert 0.0 <= score <= 1.0, (path, r[2])
            label = 1 if any(a <= s[0] <= b for a, b in wins) else 0
            assert int(r[3]) == label, (path, r[0], r[3], label)
            inside += label
        assert inside > 0, path
print("layout ok:", files, "files")
PY
[[ $(find "$out/pwtest" -name '*.csv' | wc -l) -eq 3 ]] || fail "expected exactly 3 result files"

# The scorer on the written files gives the same figures.
"$train" evaluate --nab "$slice" --from-results "$out" --detector-name pwtest --json \
    > "$PW_TMP/read.json" || fail "evaluate --from-results failed"
"$py" - "$PW_TMP/written.json" "$PW_TMP/read.json" <<'PY' || fail "figures differ between the run and its written results"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["nab"] is not None and a["nab"] == b["nab"], (a["nab"], b["nab"])
assert a["nab"]["standard"]["windows"] > 0
print("same figures:", a["nab"]["standard"])
PY

# Causality: nyc_taxi cut after row 4000 (no labels needed to write scores).
cut=$PW_TMP/cut
mkdir -p "$cut/data/realKnownCause"
head -n 4001 "$slice/data/realKnownCause/nyc_taxi.csv" > "$cut/data/realKnownCause/nyc_taxi.csv"
"$train" evaluate --nab "$cut" --nab-results "$PW_TMP/cut_results" --detector-name pwtest \
    > "$PW_TMP/cut.txt" || fail "evaluate on the cut file failed"
grep -q "not scored" "$PW_TMP/cut.txt" || fail "a corpus without labels should say it is not scored"
cmp <(head -n 4001 "$out/pwtest/realKnownCause/pwtest_nyc_taxi.csv" | cut -d, -f1,3) \
    <(cut -d, -f1,3 "$PW_TMP/cut_results/pwtest/realKnownCause/pwtest_nyc_taxi.csv") ||
    fail "cutting the file after row 4000 changed the scores of earlier rows"

# Bad input: a tampered results file, an empty data file, bad usage.
sed -i '1s/anomaly_score/score/' "$out/pwtest/realKnownCause/pwtest_nyc_taxi.csv"
if "$train" evaluate --nab "$slice" --from-results "$out" --detector-name pwtest \
    2> "$PW_TMP/bad.err"; then fail "a tampered header was accepted"; fi
grep -q "pwtest_nyc_taxi.csv:1: expected the header" "$PW_TMP/bad.err" ||
    fail "the error does not name the file and line: $(cat "$PW_TMP/bad.err")"
: > "$cut/data/realKnownCause/nyc_taxi.csv"
if "$train" evaluate --nab "$cut" 2> "$PW_TMP/empty.err"; then fail "an empty data file was accepted"; fi
grep -q "nyc_taxi.csv" "$PW_TMP/empty.err" || fail "the error does not name the empty file"
set +e
"$train" evaluate --nab "$slice" --detector-name 'bad/name' 2> /dev/null
[[ $? -eq 2 ]] || fail "a bad detector name should be a usage error (exit 2)"
"$train" evaluate 2> /dev/null
[[ $? -eq 2 ]] || fail "a missing --nab should be a usage error (exit 2)"
set -e
info "ok"
