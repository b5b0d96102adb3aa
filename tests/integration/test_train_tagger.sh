#!/usr/bin/env bash
# pipewatch-train tagger: trains the log classifier on LogHub's labelled BGL
# sample with a held-out share, prints the scores of the model it writes,
# and the bundle holds it; our own default training file works too; bad
# input gives a clear error and a non-zero exit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
shared=${PW_SHARED_DIR:-$PW_SOURCE_DIR/../shared/data}
if [[ ! -d $shared/loghub ]]; then
    echo "SKIPPED: no shared data at $shared; set PW_SHARED_DIR" >&2
    exit 77
fi
train=$PW_BUILD_DIR/pipewatch-train
py=/usr/bin/python3
bgl=$shared/loghub/BGL/BGL_2k.log_structured.csv

"$train" tagger --loghub-csv "$bgl" --holdout 0.2 --seed 7 --out "$PW_TMP/bgl.pwb" --json \
    > "$PW_TMP/bgl.json" || fail "tagger on BGL failed"
"$py" - "$PW_TMP/bgl.json" <<'PY' || fail "BGL scores out of the expected range"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["lines"] == 2000 and r["held_out"] == 400 and r["trained"] == 1600, r
assert r["accuracy"] > 0.9, r["accuracy"]
normal = [c for c in r["categories"] if c["category"] == "normal"][0]
assert normal["support"] > 300 and normal["f1"] > 0.9, normal
print("BGL held out: accuracy %.4f, macro F1 %.4f" % (r["accuracy"], r["macro"]["f1"]))
PY
"$train" inspect "$PW_TMP/bgl.pwb" > "$PW_TMP/inspect.txt" || fail "the bundle does not load"
grep -q "NBAY  default" "$PW_TMP/inspect.txt" || fail "no classifier section in the bundle"
grep -q "2000 lines, 400 held out, seed 7" "$PW_TMP/inspect.txt" || fail "trained_on not recorded"
fp=$(sha256sum "$bgl" | cut -d' ' -f1)
grep -q "fingerprint: $fp" "$PW_TMP/inspect.txt" || fail "fingerprint is not the input's SHA-256"

# The same seed gives the same model (bytes of the section), another seed another split.
"$train" tagger --loghub-csv "$bgl" --seed 7 --out "$PW_TMP/again.pwb" > /dev/null
"$train" diff "$PW_TMP/bgl.pwb" "$PW_TMP/again.pwb" > "$PW_TMP/diff.txt" || true
! grep -q "NBAY" "$PW_TMP/diff.txt" || fail "the same seed trained a different model"

# A child bundle names its parent.
"$train" tagger --tsv "$PW_SOURCE_DIR/models/data/tagger_default.tsv" --holdout 0 \
    --out "$PW_TMP/child.pwb" --parent "$PW_TMP/bgl.pwb" > "$PW_TMP/default.txt" ||
    fail "tagger on the default training file failed"
parent=$("$train" inspect --json "$PW_TMP/bgl.pwb" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
"$train" inspect "$PW_TMP/child.pwb" | grep -q "parent:      $parent" || fail "parent not recorded"

# Bad input.
expect_error() {   # expected-exit message-regex args...
    local want=$1 re=$2
    shift 2
    set +e
    "$train" tagger "$@" > /dev/null 2> "$PW_TMP/err.txt"
    local got=$?
    set -e
    [[ $got -eq $want ]] || fail "tagger $*: exit $got, want $want"
    grep -Eq "$re" "$PW_TMP/err.txt" || fail "tagger $*: error does not match /$re/: $(cat "$PW_TMP/err.txt")"
}
expect_error 1 "HDFS_2k.log_structured.csv: no Label column" \
    --loghub-csv "$shared/loghub/HDFS/HDFS_2k.log_structured.csv"
expect_error 1 "/nonexistent.tsv: cannot open" --tsv /nonexistent.tsv
printf 'normal\tok\nnormal\tfine\n' > "$PW_TMP/one.tsv"
expect_error 1 "categor" --tsv "$PW_TMP/one.tsv"
printf 'normal\tok\nno tab here\n' > "$PW_TMP/notab.tsv"
expect_error 1 "notab.tsv: row 2" --tsv "$PW_TMP/notab.tsv"
: > "$PW_TMP/empty.tsv"
expect_error 1 "no labelled lines" --tsv "$PW_TMP/empty.tsv"
expect_error 2 "holdout" --tsv "$PW_TMP/one.tsv" --holdout 1.5
expect_error 2 "usage" --tsv "$PW_TMP/one.tsv" --loghub-csv "$bgl"
info "ok"
