#!/usr/bin/env bash
# pipewatch-train fit never leaves a partial bundle: SIGINT (Ctrl-C) and
# SIGTERM in the middle of fitting stop it with exit 130, the bundle
# already at --out is left byte for byte as it was, a fresh --out is never
# created, and no temporary file is left. Progress: plain lines when
# stderr is not a terminal, a bar redrawn in place on a terminal (a pty
# from script(1)).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
train=$PW_BUILD_DIR/pipewatch-train

# 100 metrics of 3000 samples: a few seconds of Holt-Winters fits.
python3 - "$PW_TMP/wide.lp" <<'PY'
import math, random, sys
random.seed(3)
with open(sys.argv[1], "w") as f:
    for i in range(3000):
        fields = ",".join(f"m{k}={50 + 10 * math.sin(2 * math.pi * i / (20 + k)) + random.gauss(0, 1):.2f}"
                          for k in range(100))
        f.write(f"app,host=h1 {fields} {(1700000000 + i * 60) * 10**9}\n")
PY
head -n 400 "$PW_TMP/wide.lp" > "$PW_TMP/small.lp"
"$train" fit --from "$PW_TMP/small.lp" --out "$PW_TMP/old.pwb" --quiet > /dev/null ||
    fail "cannot fit the small file"

# interrupt SIGNAL OUT: starts a fit to OUT, signals it once it is fitting.
interrupt() {
    local sig=$1 outfile=$2 rc=0
    "$train" fit --from "$PW_TMP/wide.lp" --out "$outfile" > "$PW_TMP/$sig.out" \
        2> "$PW_TMP/$sig.err" &
    local pid=$!
    wait_for_grep "$PW_TMP/$sig.err" "holt-winters: " 30 || fail "$sig: the fit never started fitting"
    sleep 0.3
    kill -"$sig" "$pid"
    wait "$pid" || rc=$?
    [[ $rc -eq 130 ]] || fail "$sig: exit $rc, expected 130: $(cat "$PW_TMP/$sig.err")"
    grep -q "pipewatch-train: fit: interrupted; no bundle written" "$PW_TMP/$sig.err" ||
        fail "$sig: no clear message: $(tail -2 "$PW_TMP/$sig.err")"
    grep -q "holt-winters: 101/101" "$PW_TMP/$sig.err" &&
        fail "$sig: the fit had finished before the signal; make it longer"
    [[ -z $(find "$PW_TMP" -name '*.tmp.*') ]] || fail "$sig: a temporary file is left"
    info "$sig: $(tail -1 "$PW_TMP/$sig.err")"
}

cp "$PW_TMP/old.pwb" "$PW_TMP/keep.pwb"
interrupt INT "$PW_TMP/keep.pwb"
cmp -s "$PW_TMP/old.pwb" "$PW_TMP/keep.pwb" || fail "SIGINT changed the bundle already at --out"
"$train" inspect "$PW_TMP/keep.pwb" > /dev/null || fail "the kept bundle does not load"
interrupt TERM "$PW_TMP/fresh.pwb"
[[ ! -e $PW_TMP/fresh.pwb ]] || fail "SIGTERM left a bundle at a fresh --out"

# Uninterrupted, the same command writes a whole bundle.
"$train" fit --from "$PW_TMP/small.lp" --out "$PW_TMP/whole.pwb" > /dev/null \
    2> "$PW_TMP/plain.err" || fail "fit failed"
"$train" inspect "$PW_TMP/whole.pwb" > /dev/null || fail "the bundle does not load"
grep -q '^pipewatch-train: holt-winters: ' "$PW_TMP/plain.err" || fail "no plain progress lines"
if grep -q $'\r' "$PW_TMP/plain.err"; then fail "carriage returns in non-tty progress"; fi

# On a terminal: a bar redrawn in place.
if command -v script >/dev/null; then
    script -qefc "'$train' fit --from '$PW_TMP/small.lp' --out '$PW_TMP/tty.pwb'" \
        "$PW_TMP/tty.typescript" > /dev/null 2>&1 || fail "fit on a pty failed"
    grep -q $'\r\e\\[K.*\\[#\\{1,\\}' "$PW_TMP/tty.typescript" ||
        fail "no progress bar on a terminal: $(head -c 300 "$PW_TMP/tty.typescript" | od -c | head)"
    if grep -q '^pipewatch-train: holt-winters' "$PW_TMP/tty.typescript"; then
        fail "plain progress lines on a terminal"
    fi
else
    info "script(1) not installed: the terminal bar is not checked"
fi
info "ok"
