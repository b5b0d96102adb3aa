#!/usr/bin/env bash
# The figures of docs/train.md ("What fit produces, evaluated"): for each
# file of a NAB-layout group, `pipewatch-train fit` on the first half of
# the file (its own isolation forest over the one metric, threshold by
# --contamination, no labels used), then `pipewatch-train evaluate
# --bundle` on the second half, with NAB's windows: precision, recall, F1
# and AUC of the forest at its calibrated threshold, pointwise (a row
# inside a labelled window is a positive), and their sums over the group.
#
# usage: tests/eval/fit_holdout.sh BUILD_DIR NAB_DIR GROUP [CONTAMINATION]
#   e.g. tests/eval/fit_holdout.sh build ../shared/data/nab realKnownCause 0.1
set -euo pipefail
train=$1/pipewatch-train nab=$2 group=$3 cont=${4:-0.1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-44s %6s %6s %9s %7s %7s %7s\n' file rows pos precision recall F1 AUC
tp=0 fp=0 pos=0
for f in "$nab/data/$group"/*.csv; do
    name=$(basename "$f" .csv)
    n=$(($(wc -l < "$f") - 1)) half=$((n / 2))
    head -n $((half + 1)) "$f" > "$tmp/$name.csv"
    mkdir -p "$tmp/test/data/$group" "$tmp/test/labels"
    rm -f "$tmp/test/data/$group"/*.csv
    { head -n 1 "$f"; tail -n $((n - half)) "$f"; } > "$tmp/test/data/$group/$name.csv"
    # Only the windows that reach into the second half (NAB's scorer
    # refuses a window that covers no row).
    /usr/bin/python3 -c '
import json, sys
w = json.load(open(sys.argv[1]))
key, first = sys.argv[2], sys.argv[3]
json.dump({key: [x for x in w.get(key, []) if x[1][:19] >= first]}, open(sys.argv[4], "w"))' \
        "$nab/labels/combined_windows.json" "$group/$name.csv" \
        "$(sed -n 2p "$tmp/test/data/$group/$name.csv" | cut -d, -f1)" \
        "$tmp/test/labels/combined_windows.json"
    "$train" fit --from "$tmp/$name.csv" --metric nab.value --contamination "$cont" \
        --out "$tmp/$name.pwb" --quiet > /dev/null
    "$train" evaluate --nab "$tmp/test" --bundle "$tmp/$name.pwb" --json > "$tmp/e.json" 2>/dev/null ||
        { printf '%-44s (no labelled window in the second half)\n' "$name"; continue; }
    read -r r p c_tp c_fp pr re f1 auc < <(/usr/bin/python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["calibrated"]
print(c["rows"], c["positives"], c["tp"], c["fp"], c["precision"], c["recall"], c["f1"], c["auc"])' "$tmp/e.json")
    printf '%-44s %6d %6d %9.4f %7.4f %7.4f %7.4f\n' "$name" "$r" "$p" "$pr" "$re" "$f1" "$auc"
    tp=$((tp + c_tp)) fp=$((fp + c_fp)) pos=$((pos + p))
done
/usr/bin/python3 -c '
import sys
tp, fp, pos = map(int, sys.argv[1:4])
p = tp / (tp + fp) if tp + fp else 0
r = tp / pos if pos else 0
print("%-44s %6s %6d %9.4f %7.4f %7.4f" % ("all (summed counts)", "", pos, p, r, 2*p*r/(p+r) if p+r else 0))' "$tp" "$fp" "$pos"
