#!/usr/bin/env bash
# pipewatch-train fit, end to end, and the analyzer loading what it wrote:
#   1. line protocol files, the features read from the analyzer's own
#      configuration: a bundle with HWIN per metric + default, IFOR + CALB
#      over the configured features; promoted; the analyzer (on the
#      development broker) takes it into service;
#   2. the same from the Kafka topic (--since, offsets for times), with the
#      bundle in service as parent: promoted as its child, the running
#      analyzer swaps to it, and `verify` follows the chain;
#   3. a slice of NAB (labels from its windows: threshold by F1) and a
#      slice of the cloud ingestion CSV (labels from its column), and an
#      analyzer configured for that metric loads the NAB bundle.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/analyzer_lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (contrib/deps.sh)"
shared=${PW_SHARED_DIR:-$PW_SOURCE_DIR/../shared/data}
if [[ ! -d $shared/nab || ! -d $shared/cloud ]]; then
    echo "SKIPPED: no shared data at $shared; set PW_SHARED_DIR" >&2
    exit 77
fi
train=$PW_BUILD_DIR/pipewatch-train
models=$PW_TMP/models

start_broker --partitions 2 --topics pipewatch.metrics,pipewatch.logs,pipewatch.predictions,pipewatch.state
write_analyzer_config "$PW_TMP/a.yaml" "models:
  dir: $models
  check_interval: 200ms
features: [system.cpu, system.lag]"

# Four hosts, two metrics every 10 s for 3 h ending now (a rhythm of 20 min).
python3 - "$PW_TMP/hosts.lp" <<'PY'
import math, random, sys, time
random.seed(7)
now = int(time.time())
with open(sys.argv[1], "w") as f:
    for i in range(1080):
        t = (now - 3 * 3600 + i * 10) * 10**9
        for h in ("db-1", "db-2", "web-1", "web-2"):
            cpu = 50 + 20 * math.sin(2 * math.pi * i / 120) + random.gauss(0, 1)
            f.write(f"system,host={h} cpu={cpu:.3f},lag={10 + random.gauss(0, 1):.3f} {t}\n")
PY

# 1. Files, features from the analyzer's configuration.
"$train" fit --from "$PW_TMP/hosts.lp" --analyzer-config "$PW_TMP/a.yaml" \
    --out "$PW_TMP/b1.pwb" > "$PW_TMP/fit1.out" 2> "$PW_TMP/fit1.err" ||
    fail "fit from a file failed: $(cat "$PW_TMP/fit1.err")"
grep -q "forest default: 4320 rows from 4 entities" "$PW_TMP/fit1.out" ||
    fail "unexpected forest rows: $(cat "$PW_TMP/fit1.out")"
grep -q "^parent:   none" "$PW_TMP/fit1.out" || fail "a first bundle should have no parent"
grep -q "pipewatch-train: reading: 1/1 (100%)" "$PW_TMP/fit1.err" ||
    fail "no plain progress lines on a pipe: $(cat "$PW_TMP/fit1.err")"
"$train" inspect --json "$PW_TMP/b1.pwb" > "$PW_TMP/b1.json"
python3 - "$PW_TMP/b1.json" <<'PY' || fail "the bundle does not hold the expected sections"
import json, sys
b = json.load(open(sys.argv[1]))
secs = {(s["kind"], s["name"]) for s in b["sections"]}
want = {("HWIN", "system.cpu"), ("HWIN", "system.lag"), ("HWIN", "default"),
        ("IFOR", "default"), ("CALB", "default")}
assert secs == want, secs
assert "hosts.lp sha256:" in b["trained_on"], b["trained_on"]
assert "features system.cpu,system.lag" in b["trained_on"], b["trained_on"]
PY
"$train" promote --models-dir "$models" "$PW_TMP/b1.pwb" > /dev/null || fail "cannot promote b1"
d1=$("$train" inspect "$PW_TMP/b1.pwb" | awk '/^digest:/ {print $2}')
start_analyzer "$PW_TMP/a.yaml"
wait_for_grep "$PW_TMP/analyzer.err" "models in service: bundle ${d1:0:16}" 10 ||
    fail "the analyzer did not take the fitted bundle: $(grep -i bundle "$PW_TMP/analyzer.err")"
info "analyzer loaded b1 ${d1:0:16}"

# 2. Kafka: the same samples keyed by host, the last 2 h of them.
awk '{split($1, a, "host="); print a[2] "|" $0}' "$PW_TMP/hosts.lp" | kproduce pipewatch.metrics
"$train" fit --brokers "$BOOTSTRAP" --topic pipewatch.metrics --since 2h \
    --analyzer-config "$PW_TMP/a.yaml" --models-dir "$models" \
    --out "$PW_TMP/b2.pwb" > "$PW_TMP/fit2.out" 2> "$PW_TMP/fit2.err" ||
    fail "fit from Kafka failed: $(cat "$PW_TMP/fit2.err")"
grep -q "^parent:   $d1" "$PW_TMP/fit2.out" || fail "the parent is not the bundle in service"
# The last 2 h of 10 s steps: at most 720 per series (8 series), fewer by
# the time that passed since the data was made; not the whole 3 h (1080).
rows=$(sed -n 's/^history:  8 series, \([0-9]*\) rows.*/\1/p' "$PW_TMP/fit2.out")
[[ -n $rows ]] && (( rows >= 8 * 600 && rows <= 8 * 721 )) ||
    fail "expected about 5760 rows from the last 2 h: $(head -1 "$PW_TMP/fit2.out")"
grep -q "reading kafka: 4320/4320" "$PW_TMP/fit2.err" ||
    fail "no progress over the topic's messages: $(cat "$PW_TMP/fit2.err")"
"$train" promote --models-dir "$models" "$PW_TMP/b2.pwb" > /dev/null || fail "cannot promote b2"
wait_ametric bundles_loaded_total '==' 2 10 || fail "the analyzer did not swap to b2"
"$train" verify "$models" > "$PW_TMP/verify.out" || fail "verify: $(cat "$PW_TMP/verify.out")"
grep -q "chain: 2 links" "$PW_TMP/verify.out" || fail "chain: $(cat "$PW_TMP/verify.out")"
(( $(ametric bundles_refused_total) == 0 )) || fail "the analyzer refused a fitted bundle"
stop_process "$ANALYZER_PID" 10 || fail "the analyzer did not stop cleanly"

# 3. NAB and CSV slices.
slice=$PW_TMP/nab
mkdir -p "$slice/data/realKnownCause" "$slice/labels"
for f in machine_temperature_system_failure ec2_request_latency_system_failure; do
    cp "$shared/nab/data/realKnownCause/$f.csv" "$slice/data/realKnownCause/"
done
cp "$shared/nab/labels/combined_windows.json" "$slice/labels/"
"$train" fit --nab "$slice" --metric nab.value --out "$PW_TMP/nab.pwb" --quiet \
    > "$PW_TMP/nab.out" || fail "fit --nab failed"
grep -q "forest default: .* from 2 entities .*(best F1 on the labels)" "$PW_TMP/nab.out" ||
    fail "the NAB labels were not used: $(cat "$PW_TMP/nab.out")"
grep -q "on the training rows: precision" "$PW_TMP/nab.out" || fail "no figures on the labels"
# evaluate scores the fitted forest with its calibrated threshold.
"$train" evaluate --nab "$slice" --bundle "$PW_TMP/nab.pwb" --json > "$PW_TMP/eval.json" ||
    fail "evaluate --bundle failed"
python3 - "$PW_TMP/eval.json" <<'PY' || fail "evaluate --bundle: $(cat "$PW_TMP/eval.json")"
import json, sys
e = json.load(open(sys.argv[1]))
c = e["calibrated"]
assert e["files"] == 2 and c["rows"] == e["rows"] and 0 < c["positives"] < c["rows"], c
assert 0 <= c["precision"] <= 1 and 0 <= c["recall"] <= 1 and 0 <= c["auc"] <= 1, c
assert e["nab"]["standard"]["windows"] > 0
PY
head -n 3001 "$shared/cloud/data-ingress-rate/ingress-01.csv" > "$PW_TMP/ingress-01.csv"
"$train" fit --from "$PW_TMP/ingress-01.csv" --metric ingress.rate --contamination 0.02 \
    --out "$PW_TMP/csv.pwb" --quiet > "$PW_TMP/csv.out" || fail "fit from CSV failed"
grep -q "forest default: 3000 rows from 1 entity .*(contamination quantile)" "$PW_TMP/csv.out" ||
    fail "CSV: $(cat "$PW_TMP/csv.out")"
"$train" inspect "$PW_TMP/csv.pwb" | grep -q "HWIN  ingress.rate" || fail "no HWIN ingress.rate"

models2=$PW_TMP/models2
"$train" promote --models-dir "$models2" "$PW_TMP/nab.pwb" > /dev/null || fail "cannot promote"
write_analyzer_config "$PW_TMP/n.yaml" "models:
  dir: $models2
features: [nab.value]"
dn=$("$train" inspect "$PW_TMP/nab.pwb" | awk '/^digest:/ {print $2}')
start_analyzer "$PW_TMP/n.yaml" analyzer2
wait_for_grep "$PW_TMP/analyzer2.err" "models in service: bundle ${dn:0:16}" 10 ||
    fail "the analyzer did not take the NAB bundle: $(grep -i bundle "$PW_TMP/analyzer2.err")"
info "ok"
