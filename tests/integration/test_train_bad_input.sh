#!/usr/bin/env bash
# Every bad input to pipewatch-train fit (and report) is a clear error and a
# non-zero exit, and no bundle is left behind: a missing file, wrong
# columns, empty data, non-finite values, a malformed line-protocol line, a
# corrupt parent bundle (given, and in service), features no entity has,
# an unreachable broker, bad usage. Inputs are slices of shared/data,
# copied and damaged here.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shared=${PW_SHARED_DIR:-$PW_SOURCE_DIR/../shared/data}
if [[ ! -d $shared/nab || ! -d $shared/cloud ]]; then
    echo "SKIPPED: no shared data at $shared; set PW_SHARED_DIR" >&2
    exit 77
fi
train=$PW_BUILD_DIR/pipewatch-train
good=$PW_TMP/good.csv
head -n 501 "$shared/cloud/data-ingress-rate/ingress-02.csv" > "$good"
out=$PW_TMP/out.pwb

# expect_error NAME REGEX ARGS...: fit ARGS fails (exit 1), its stderr matches
# REGEX, and nothing is written at $out.
expect_error() {
    local name=$1 regex=$2 rc=0
    shift 2
    "$train" "$@" > "$PW_TMP/$name.out" 2> "$PW_TMP/$name.err" || rc=$?
    [[ $rc -eq 1 ]] || fail "$name: exit $rc, expected 1: $(cat "$PW_TMP/$name.err")"
    grep -Eq -- "$regex" "$PW_TMP/$name.err" ||
        fail "$name: the error does not say /$regex/: $(cat "$PW_TMP/$name.err")"
    [[ ! -e $out ]] || fail "$name: a bundle was written"
    [[ -z $(find "$PW_TMP" -maxdepth 1 -name 'out.pwb*') ]] || fail "$name: a temporary file is left"
    info "$name: $(tail -1 "$PW_TMP/$name.err")"
}

# A missing file.
expect_error missing "nosuch\.csv: .*No such file" fit --from "$PW_TMP/nosuch.csv" --out "$out"
# Wrong columns: a fourth column from row 10 on; a single column.
awk -F, 'NR == 10 {print $0 ",extra"; next} {print}' "$good" > "$PW_TMP/cols.csv"
expect_error columns "cols\.csv:10: 4 columns; expected timestamp,value\[,label\]" \
    fit --from "$PW_TMP/cols.csv" --out "$out"
cut -d, -f1 "$good" > "$PW_TMP/one.csv"
expect_error onecolumn "one\.csv:1: 1 column; expected timestamp,value" \
    fit --from "$PW_TMP/one.csv" --out "$out"
# Empty data: a header only; an empty file; an empty line-protocol file.
head -n 1 "$good" > "$PW_TMP/header.csv"
expect_error header "header\.csv: no rows of data" fit --from "$PW_TMP/header.csv" --out "$out"
: > "$PW_TMP/empty.csv"
expect_error empty "empty\.csv: no rows of data" fit --from "$PW_TMP/empty.csv" --out "$out"
printf '# nothing\n\n' > "$PW_TMP/empty.lp"
expect_error emptylp "empty\.lp: no samples" fit --from "$PW_TMP/empty.lp" --out "$out"
mkdir -p "$PW_TMP/nab/data/realKnownCause"
head -n 1 "$shared/nab/data/realKnownCause/nyc_taxi.csv" > "$PW_TMP/nab/data/realKnownCause/nyc_taxi.csv"
expect_error emptynab "nyc_taxi\.csv" fit --nab "$PW_TMP/nab" --out "$out"
# Non-finite values.
awk -F, 'NR == 20 {print $1 ",NaN," $3; next} {print}' "$good" > "$PW_TMP/nan.csv"
expect_error nan "nan\.csv:20: value \"NaN\" is not finite" fit --from "$PW_TMP/nan.csv" --out "$out"
awk -F, 'NR == 30 {print $1 ",1e999," $3; next} {print}' "$good" > "$PW_TMP/inf.csv"
expect_error inf "inf\.csv:30: value \"1e999\" is not finite" fit --from "$PW_TMP/inf.csv" --out "$out"
# A malformed line-protocol line (line 3).
printf 'cpu,host=a v=1 1000000000000\ncpu,host=a v=2 1010000000000\ncpu,host=a v= 1020000000000\n' \
    > "$PW_TMP/bad.lp"
expect_error badlp "bad\.lp:3: " fit --from "$PW_TMP/bad.lp" --out "$out"
# A corrupt parent bundle: one flipped byte; and a corrupt bundle in service.
"$train" fit --from "$good" --metric ingress.rate --out "$PW_TMP/parent.pwb" --quiet > /dev/null ||
    fail "cannot fit the parent"
cp "$PW_TMP/parent.pwb" "$PW_TMP/corrupt.pwb"
printf '\xff' | dd of="$PW_TMP/corrupt.pwb" bs=1 seek=200 conv=notrunc status=none
expect_error corrupt "the parent bundle: .*corrupt.pwb" \
    fit --from "$good" --parent "$PW_TMP/corrupt.pwb" --out "$out"
"$train" promote --models-dir "$PW_TMP/models" "$PW_TMP/parent.pwb" > /dev/null || fail "promote"
current=$(readlink -f "$PW_TMP/models/current")
chmod u+w "$current"
printf '\x00' | dd of="$current" bs=1 seek=100 conv=notrunc status=none
expect_error corruptcurrent "the parent bundle" \
    fit --from "$good" --models-dir "$PW_TMP/models" --out "$out"
truncate -s 50 "$PW_TMP/corrupt.pwb"
expect_error truncated "the parent bundle" fit --from "$good" --parent "$PW_TMP/corrupt.pwb" --out "$out"
# Features no entity has.
expect_error features "no entity has every feature.*no series of nope\.x" \
    fit --from "$good" --metric ingress.rate --features ingress.rate,nope.x --out "$out"
# An unreachable broker: a port nobody listens on.
expect_error broker "cannot read the metadata of topic \"t\" from 127\.0\.0\.1:1 .*reachable" \
    fit --brokers 127.0.0.1:1 --topic t --since 1h --timeout-ms 1000 --out "$out"
# Bad usage is exit 2.
set +e
"$train" fit --from "$good" 2> /dev/null; [[ $? -eq 2 ]] || fail "fit without --out: not 2"
"$train" fit --from "$good" --nab x --out "$out" 2> /dev/null; [[ $? -eq 2 ]] || fail "two sources: not 2"
"$train" fit --brokers x --topic t --out "$out" 2> /dev/null; [[ $? -eq 2 ]] || fail "no --since: not 2"
"$train" fit --from "$good" --contamination 0.9 --out "$out" 2> /dev/null
[[ $? -eq 2 ]] || fail "--contamination 0.9: not 2"
set -e
[[ ! -e $out ]] || fail "a bundle was written by bad usage"
info "ok"
