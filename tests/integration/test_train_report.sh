#!/usr/bin/env bash
# pipewatch-train report: one self-contained HTML page (inline SVG and CSS,
# no script, no external asset) with, per series, the data, the forecast
# band, the anomaly score, the labelled windows and the detections, and the
# tagger's confusion matrix; rendered by headless Chromium, whose
# screenshot is checked not to be blank (and to hold the plots' colours)
# by a zlib-only PNG decoder. A blank page is checked to fail that check.
# Skipped (77) only when chromium is not installed (contrib/deps.sh).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shared=${PW_SHARED_DIR:-$PW_SOURCE_DIR/../shared/data}
if [[ ! -d $shared/nab || ! -d $shared/cloud ]]; then
    echo "SKIPPED: no shared data at $shared; set PW_SHARED_DIR" >&2
    exit 77
fi
chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $chromium ]]; then
    echo "SKIPPED: chromium is not installed (Debian package chromium; contrib/deps.sh)" >&2
    exit 77
fi
train=$PW_BUILD_DIR/pipewatch-train
py=/usr/bin/python3
check=$PW_SOURCE_DIR/tests/integration/png_check.py

slice=$PW_TMP/nab
mkdir -p "$slice/data/realKnownCause" "$slice/labels"
for f in machine_temperature_system_failure nyc_taxi; do
    cp "$shared/nab/data/realKnownCause/$f.csv" "$slice/data/realKnownCause/"
done
cp "$shared/nab/labels/combined_windows.json" "$slice/labels/"
head -n 4001 "$shared/cloud/data-ingress-rate/ingress-05.csv" > "$PW_TMP/ingress-05.csv"

# A NAB page with the detector and the tagger's matrix; a CSV page scored by
# a fitted bundle's forest with its calibrated threshold.
"$train" report --nab "$slice" --metric nab.value \
    --tagger-tsv "$PW_SOURCE_DIR/models/data/tagger_default.tsv" --out "$PW_TMP/nab.html" \
    > "$PW_TMP/nab.out" || fail "report over NAB failed"
grep -q "report: $PW_TMP/nab.html (2 series" "$PW_TMP/nab.out" || fail "$(cat "$PW_TMP/nab.out")"
"$train" fit --from "$PW_TMP/ingress-05.csv" --metric ingress.rate --out "$PW_TMP/in.pwb" \
    --quiet > /dev/null || fail "fit failed"
"$train" report --from "$PW_TMP/ingress-05.csv" --metric ingress.rate --bundle "$PW_TMP/in.pwb" \
    --out "$PW_TMP/csv.html" > /dev/null || fail "report with a bundle failed"

"$py" - "$PW_TMP/nab.html" "$PW_TMP/csv.html" <<'PY' || fail "the pages are not what they should be"
import re, sys
nab, csv = (open(p).read() for p in sys.argv[1:3])
for page in (nab, csv):
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # Self-contained: nothing to fetch (the SVG namespace is a name, not a fetch).
    body = page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for bad in ("<script", "src=", "href=", "url(", "@import", "http://", "https://"):
        assert bad not in body, bad
    for cls in ("data", "band", "score", "thr"):
        assert f'class="{cls}"' in page, cls
assert nab.count("<svg") == 2, nab.count("<svg")
assert nab.count('class="window"') >= 9          # 4 + 5 labelled windows
assert 'class="det"' in nab                        # the detector fires on machine_temperature
assert "Log tagger: confusion matrix" in nab and "<table" in nab
assert "the bundle's isolation forest" in csv
assert "the bundle's model for this metric" in csv
assert csv.count("<svg") == 1 and 'class="window"' in csv and 'class="det"' in csv
print("pages ok")
PY

shoot() {
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --screenshot="$2" --window-size=1200,2000 "file://$1" > "$PW_TMP/chromium.log" 2>&1 ||
        fail "chromium failed on $1: $(tail -3 "$PW_TMP/chromium.log")"
    [[ -s $2 ]] || fail "chromium wrote no screenshot of $1"
}
shoot "$PW_TMP/nab.html" "$PW_TMP/nab.png"
"$py" "$check" "$PW_TMP/nab.png" --plots > "$PW_TMP/nab.check" ||
    fail "the NAB page's screenshot looks blank: $(cat "$PW_TMP/nab.check")"
info "nab.png: $(cat "$PW_TMP/nab.check")"
shoot "$PW_TMP/csv.html" "$PW_TMP/csv.png"
"$py" "$check" "$PW_TMP/csv.png" --plots > "$PW_TMP/csv.check" ||
    fail "the CSV page's screenshot looks blank: $(cat "$PW_TMP/csv.check")"
info "csv.png: $(cat "$PW_TMP/csv.check")"
# The check can fail: a blank page does.
printf '<!DOCTYPE html><html><body></body></html>\n' > "$PW_TMP/blank.html"
shoot "$PW_TMP/blank.html" "$PW_TMP/blank.png"
if "$py" "$check" "$PW_TMP/blank.png" > "$PW_TMP/blank.check"; then
    fail "a blank page passed the check: $(cat "$PW_TMP/blank.check")"
fi
# Bad input: a missing file, a corrupt bundle.
if "$train" report --from "$PW_TMP/nosuch.csv" --out "$PW_TMP/x.html" 2> "$PW_TMP/e1"; then
    fail "a missing file was accepted"
fi
grep -q "nosuch.csv" "$PW_TMP/e1" || fail "the error does not name the file"
head -c 100 "$PW_TMP/in.pwb" > "$PW_TMP/cut.pwb"
if "$train" report --from "$PW_TMP/ingress-05.csv" --bundle "$PW_TMP/cut.pwb" \
    --out "$PW_TMP/x.html" 2> "$PW_TMP/e2"; then fail "a truncated bundle was accepted"; fi
grep -q "cut.pwb: truncated" "$PW_TMP/e2" || fail "$(cat "$PW_TMP/e2")"
[[ ! -e $PW_TMP/x.html ]] || fail "a page was written on error"
info "ok"
