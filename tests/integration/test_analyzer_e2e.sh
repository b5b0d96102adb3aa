#!/usr/bin/env bash
# The analyzer end to end on the development broker: a disk filling up
# (line protocol), an out-of-memory burst in the logs (JSON records), a
# Telegraf JSON and a collectd JSON message, malformed messages (counted,
# copied to the dead-letter topic, never fatal), the predictions on the
# predictions topic and the API, and the models directory: a bundle
# promoted while it runs is taken into service, a corrupted one is refused
# and the old one kept.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/analyzer_lib.sh"
command -v kcat >/dev/null || fail "kcat is not installed (contrib/deps.sh)"

start_broker --partitions 2 \
    --topics pipewatch.metrics,pipewatch.logs,pipewatch.predictions,pipewatch.state,dead
train=$PW_BUILD_DIR/pipewatch-train
models=$PW_TMP/models
"$train" tagger --tsv "$PW_SOURCE_DIR/models/data/tagger_default.tsv" \
    --out "$PW_TMP/tagger1.pwb" >/dev/null || fail "cannot build a bundle"
"$train" promote --models-dir "$models" "$PW_TMP/tagger1.pwb" >/dev/null ||
    fail "cannot promote"
write_analyzer_config "$PW_TMP/a.yaml" "models:
  dir: $models
  check_interval: 200ms
topics:
  dead_letter: dead"
start_analyzer "$PW_TMP/a.yaml"
grep -q "models in service: bundle" "$PW_TMP/analyzer.err" || fail "the bundle was not loaded"
(( $(ametric bundles_loaded_total) == 1 )) || fail "bundles_loaded_total != 1"

T0=$(( ($(date +%s) - 7200) * 1000000000 ))
# 40 min of a disk going 50 -> 95 % in 40 min, every 10 s.
python3 - "$T0" <<'PY' | kproduce pipewatch.metrics
import sys
t0 = int(sys.argv[1])
for s in range(0, 40 * 60, 10):
    print(f"db-1|disk,path=/srv used_percent={50 + 45 * s / 2400:.3f} {t0 + s * 10**9}")
PY
# Four OOMs in the last four minutes of it, among ordinary lines, as the
# agent writes them. (Time is event time: the newest timestamp seen is
# "now", so a burst from long before the disk data would be over already.)
python3 - "$T0" <<'PY' | kproduce pipewatch.logs
import json, sys
t0 = int(sys.argv[1])
for i in range(4):
    for line, dt in (("java.lang.OutOfMemoryError: Java heap space", 0),
                     ("INFO Executor: Finished task 3.0 in stage 7.0", 5)):
        rec = {"ts": t0 + (36 * 60 + i * 60 + dt) * 10**9, "entity": "spark-7",
               "source": "/var/log/spark/executor.log", "line": line}
        print("spark-7|" + json.dumps(rec))
PY
# Other agents' formats, and garbage.
printf '%s\n' \
  'web-1|{"fields":{"usage_idle":91.5,"usage_user":3.2},"name":"cpu","tags":{"cpu":"cpu-total","host":"web-1"},"timestamp":1700000000}' \
  '|[{"values":[42],"dstypes":["gauge"],"dsnames":["value"],"time":1700000000.0,"interval":10.0,"host":"collectd-1","plugin":"load","plugin_instance":"","type":"load","type_instance":"shortterm"}]' \
  'bad-1|cpu,host=x usage_idle=' \
  'bad-2|{"fields":' | kproduce pipewatch.metrics
printf '%s\n' 'bad-3|{"ts":1,"entity":"x"}' | kproduce pipewatch.logs

wait_ametric parse_errors_total '>=' 3 30 || fail "malformed messages not counted: $(ametric parse_errors_total)"
wait_for_grep "$PW_TMP/analyzer.err" "prediction firing: disk.used_percent on db-1 will pass 95" 30 ||
    fail "no disk prediction"
wait_for_grep "$PW_TMP/analyzer.err" "prediction firing: spark-7 logged more than 3 out_of_memory lines" 30 ||
    fail "no log burst prediction"
kill -0 "$ANALYZER_PID" || fail "the analyzer died on malformed input"
(( $(ametric parse_errors_total) == 3 )) || fail "parse errors $(ametric parse_errors_total), want 3"
wait_ametric dead_lettered_total '==' 3 10 || fail "dead letters $(ametric dead_lettered_total)"
# The counter counts copies queued; the third may still be on its way.
for _ in $(seq 1 20); do
    timeout 20 kcat -C -b "$BOOTSTRAP" -t dead -e -q -f '%k\n' | sort >"$PW_TMP/dead"
    (( $(wc -l <"$PW_TMP/dead") >= 3 )) && break
    sleep 0.5
done
[[ $(tr '\n' ' ' <"$PW_TMP/dead") == "bad-1 bad-2 bad-3 " ]] || fail "dead letters: $(cat "$PW_TMP/dead")"
grep -q 'malformed message skipped' "$PW_TMP/analyzer.err" || fail "no malformed sample in the log"
# The series of the JSON formats made it in.
(( $(ametric series) == 1 + 2 + 1 )) || fail "series held: $(ametric series)"

curl -sf "http://127.0.0.1:$ANALYZER_PORT/api/v1/predictions" >"$PW_TMP/api" || fail "no API"
grep -q '"rule":"disk_full"' "$PW_TMP/api" && grep -q '"rule":"oom_burst"' "$PW_TMP/api" ||
    fail "the API does not list both: $(cat "$PW_TMP/api")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]=="success" and len(d["data"])==2' \
    "$PW_TMP/api" || fail "the API's JSON: $(cat "$PW_TMP/api")"
for _ in $(seq 1 20); do
    timeout 20 kcat -C -b "$BOOTSTRAP" -t pipewatch.predictions -e -q >"$PW_TMP/pred"
    (( $(grep -c '"status":"firing"' "$PW_TMP/pred") >= 2 )) && break
    sleep 0.5
done
grep -q '"kind":"log_burst".*OutOfMemoryError' "$PW_TMP/pred" ||
    fail "the log burst record lacks its evidence: $(cat "$PW_TMP/pred")"

# A new bundle promoted while it runs is taken into service...
"$train" tagger --tsv "$PW_SOURCE_DIR/models/data/tagger_default.tsv" --holdout 0.2 \
    --parent "$models/current" \
    --out "$PW_TMP/tagger2.pwb" >/dev/null || fail "cannot build a second bundle"
"$train" promote --models-dir "$models" "$PW_TMP/tagger2.pwb" >/dev/null ||
    fail "cannot promote the second bundle"
wait_ametric bundles_loaded_total '==' 2 10 || fail "the promoted bundle was not loaded"
# ... and a corrupted one is refused, the models in service stay.
bad=$models/bundles/$(printf 'f%.0s' {1..64}).pwb
head -c 300 "$PW_TMP/tagger2.pwb" >"$bad"
ln -sfn "bundles/$(basename "$bad")" "$models/current"
wait_ametric bundles_refused_total '==' 1 10 || fail "the corrupted bundle was not refused"
grep -q "new bundle refused, the models in service stay" "$PW_TMP/analyzer.err" ||
    fail "no refusal in the log"
(( $(ametric bundles_loaded_total) == 2 )) || fail "a refused bundle counted as loaded"
printf 'db-1|disk,path=/srv used_percent=1 %s\n' "$((T0 + 2401 * 10**9))" | kproduce pipewatch.metrics
wait_ametric samples_total '>=' 244 10 || fail "the analyzer stopped consuming after the refusal"

stop_process "$ANALYZER_PID" 20 || fail "the analyzer did not stop cleanly"
grep -q "stopped:" "$PW_TMP/analyzer.err" || fail "no clean stop"
info "ok"
