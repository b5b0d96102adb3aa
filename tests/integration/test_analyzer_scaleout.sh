#!/usr/bin/env bash
# Two analyzers in one consumer group on the development broker (6
# partitions). Twelve hosts' disks fill up. Half-way through the building
# forecast one analyzer is SIGKILLed: the other takes its partitions,
# restores their state from pipewatch.state, and the forecast continues
# without a cold start: every host's "disk full" prediction fires, once,
# at a point a cold start could not have reached (its trend window would
# span too little).
#
# The arithmetic: rule "disk.used_percent > 95 within 30m" keeps a 15 min
# trend window (60 samples, one per 15 s) and needs a quarter of it (3.75
# min) spanned; it may extrapolate two spans. Disks go 50 -> 95 % in 40
# min. Phase 1 is minutes 0-12 (ETA 28 min > 2 x 12: no prediction yet);
# phase 2 minutes 12-15: with the restored window the prediction fires at
# about minute 13.3; a cold start would see 3 min of data, below 3.75.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/analyzer_lib.sh"

command -v kcat >/dev/null || fail "kcat is not installed (contrib/deps.sh)"
start_broker --partitions 6

cat >"$PW_TMP/analyzer.yaml" <<YAML
log_level: info
kafka:
  bootstrap.servers: "$BOOTSTRAP"
  session.timeout.ms: "6000"
  heartbeat.interval.ms: "500"
  topic.metadata.refresh.interval.ms: "1000"
group_id: scaleout-test
checkpoint:
  interval: 500ms
forecast:
  eval_interval: 10s
  trend_samples: 60
rules:
  - name: disk_full
    expr: 'disk.used_percent{path="/"} > 95 within 30m'
    severity: critical
status:
  listen: 127.0.0.1:0
YAML
"$PW_BUILD_DIR/pipewatch-analyzer" --check-config --config "$PW_TMP/analyzer.yaml" \
    >/dev/null || fail "the test configuration does not check"

start_bg analyzer-a "$PW_BUILD_DIR/pipewatch-analyzer" --config "$PW_TMP/analyzer.yaml"
A=$BG_PID
start_bg analyzer-b "$PW_BUILD_DIR/pipewatch-analyzer" --config "$PW_TMP/analyzer.yaml"
B=$BG_PID
# Both in the group, each with half of the 6 + 6 partitions.
wait_for_grep "$PW_TMP/analyzer-a.err" "assigned 6 partitions" 30 ||
    fail "analyzer A got no partitions: $(tail -5 "$PW_TMP/analyzer-a.err")"
wait_for_grep "$PW_TMP/analyzer-b.err" "assigned 6 partitions" 30 ||
    fail "analyzer B got no partitions: $(tail -5 "$PW_TMP/analyzer-b.err")"
info "A ($A) and B ($B) share the partitions"

T0=$(( ($(date +%s) - 7200) * 1000000000 ))
HOSTS=12
metric() {   # metric PORT NAME
    curl -s "http://127.0.0.1:$1/metrics" | awk -v n="pipewatch_analyzer_$2" '$1 == n {print $2}'
}
port_of() { sed -n 's/.*status port on .* (port \([0-9]*\)).*/\1/p' "$1" | head -1; }
PA=$(port_of "$PW_TMP/analyzer-a.err")
PB=$(port_of "$PW_TMP/analyzer-b.err")
[[ -n $PA && -n $PB ]] || fail "no status ports in the logs"

produce_disk_fill 0 12 0 $((HOSTS - 1))
N1=$(( 72 * HOSTS ))
# Wait until both have consumed and checkpointed phase 1.
for _ in $(seq 1 200); do
    sa=$(metric "$PA" samples_total); sb=$(metric "$PB" samples_total)
    (( ${sa:-0} + ${sb:-0} >= N1 )) && break
    sleep 0.1
done
(( sa + sb == N1 )) || fail "phase 1: $sa + $sb samples applied, want $N1"
(( sa > 0 && sb > 0 )) || fail "one analyzer got every entity ($sa, $sb)"
ca=$(metric "$PA" checkpoints_total)
for _ in $(seq 1 100); do
    (( $(metric "$PA" checkpoints_total) >= ca + 2 )) && break
    sleep 0.1
done
(( $(metric "$PA" checkpoints_total) >= ca + 2 )) || fail "A does not checkpoint"
grep -q "prediction firing" "$PW_TMP"/analyzer-*.err &&
    fail "a prediction fired in phase 1 already: the test data is wrong"
EA=$(metric "$PA" entities)
info "phase 1 done: A holds $EA entities ($sa samples), B $(metric "$PB" entities) ($sb)"

kill -KILL "$A"
wait "$A" 2>/dev/null || true
info "A killed; waiting for B to take its partitions over"
wait_for_grep "$PW_TMP/analyzer-b.err" "assigned 12 partitions" 40 ||
    fail "B never took A's partitions: $(tail -5 "$PW_TMP/analyzer-b.err")"
restored=$(metric "$PB" restored_entities_total)
(( restored >= EA )) || fail "B restored $restored entity checkpoints, A held $EA"
(( $(metric "$PB" entities) == HOSTS )) || fail "B holds $(metric "$PB" entities) entities"

produce_disk_fill 12 15 0 $((HOSTS - 1))
for _ in $(seq 1 200); do
    (( $(grep -c "prediction firing" "$PW_TMP/analyzer-b.err") >= HOSTS )) && break
    sleep 0.1
done
fired=$(grep -c "prediction firing" "$PW_TMP/analyzer-b.err" || true)
(( fired == HOSTS )) || fail "B fired $fired predictions, want one per host ($HOSTS)"
for h in $(seq 0 $((HOSTS - 1))); do
    grep -q "prediction firing: disk.used_percent on host-$h will pass 95" \
        "$PW_TMP/analyzer-b.err" || fail "no prediction for host-$h"
done
# The predictions topic has them too, as versioned JSON; and the API.
for _ in $(seq 1 20); do
    timeout 20 kcat -C -b "$BOOTSTRAP" -t pipewatch.predictions -e -q -f '%k %s\n' \
        >"$PW_TMP/predictions" || fail "cannot read pipewatch.predictions"
    n=$(grep -c '"version":1,.*"status":"firing".*"kind":"forecast_breach"' \
        "$PW_TMP/predictions" || true)
    (( n >= HOSTS )) && break
    sleep 0.5
done
(( n == HOSTS )) || fail "pipewatch.predictions holds $n firing records, want $HOSTS"
curl -sf "http://127.0.0.1:$PB/api/v1/predictions" >"$PW_TMP/api" || fail "no API"
n=$(grep -o '"rule":"disk_full"' "$PW_TMP/api" | wc -l)
(( n == HOSTS )) || fail "the API lists $n predictions: $(cat "$PW_TMP/api")"
# Every ETA is near the truth: 95 % at minute 40, fired about minute 13.3.
python3 - "$PW_TMP/predictions" <<'PY' || fail "ETAs off"
import json, sys
for line in open(sys.argv[1]):
    key, _, js = line.partition(" ")
    p = json.loads(js)
    if not 15 * 60 < p["eta_s"] < 30 * 60:
        sys.exit(f"{key}: eta {p['eta_s']} s")
PY
stop_process "$B" 10 || fail "B did not stop cleanly"
info "ok: $HOSTS predictions after the takeover, $restored entities restored"
