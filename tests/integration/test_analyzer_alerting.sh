#!/usr/bin/env bash
# Predictions reach people: the analyzer with alerting on, end to end, on
# the development broker and a real webhook receiver (python3 http.server)
# that verifies the HMAC signature.
#
#  1. A silence for host-2 is set with pipewatch-ctl (the analyzer's API v2).
#  2. Three hosts' disks fill up; their "disk full" predictions fire. The
#     receiver gets one Alertmanager v4 payload per host (group_by entity),
#     signed, with the prediction's summary, ETA and evidence, and an
#     Idempotency-Key header equal to the body's idempotencyKey; host-2's
#     is held back by the silence, and `pipewatch-ctl alerts` shows it
#     suppressed.
#  3. The silence is expired with pipewatch-ctl: host-2's notification goes
#     out at the group's next interval.
#  4. The receiver goes down; host-3's prediction fires and its
#     notification waits in the outbox; the analyzer is SIGKILLed. A new
#     analyzer and the receiver come back: the outbox delivers host-3's
#     notification, and nothing already delivered is delivered again.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/analyzer_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/alerting_lib.sh"

command -v kcat >/dev/null || fail "kcat is not installed (contrib/deps.sh)"
CTL=$PW_BUILD_DIR/pipewatch-ctl
start_broker --partitions 6
printf 'hmac-test-key\n' >"$PW_TMP/hmac.key"
start_receiver receiver --hmac-secret hmac-test-key
PORT=$RCV_PORT

cat >"$PW_TMP/analyzer.yaml" <<YAML
log_level: info
kafka:
  bootstrap.servers: "$BOOTSTRAP"
group_id: alerting-test
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
alerting:
  dir: $PW_TMP/alerting
  external_url: http://analyzer.example:9466
  route:
    receiver: team
    group_by: [alertname, entity]
    group_wait: 1s
    group_interval: 2s
    repeat_interval: 1h
  receivers:
    - name: team
      webhook_configs:
        - url: http://127.0.0.1:$PORT/hook
          hmac_secret_file: $PW_TMP/hmac.key
      log_configs:
        - level: info
YAML
"$PW_ANALYZER" --check-config --config "$PW_TMP/analyzer.yaml" >/dev/null ||
    fail "the configuration does not check"
start_analyzer "$PW_TMP/analyzer.yaml"
export PIPEWATCH_URL=http://127.0.0.1:$ANALYZER_PORT

SID=$("$CTL" silence add --author test --comment "host-2 in maintenance" \
    --duration 1h 'entity=host-2' 'alertname=~"disk.*"') || fail "silence add failed"
[[ $SID =~ ^[0-9a-f-]{36}$ ]] || fail "silence add printed '$SID', not an id"
"$CTL" silence list >"$PW_TMP/silences" || fail "silence list failed"
grep -q "$SID.*active.*host-2 in maintenance" "$PW_TMP/silences" ||
    fail "the silence is not listed as active: $(cat "$PW_TMP/silences")"

T0=$(( ($(date +%s) - 7200) * 1000000000 ))
# Deliveries the receiver accepted, per entity: "entity key" lines.
accepted() {
    python3 - "$RCV_LOG" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["status"] != 200:
        continue
    b = json.loads(r["body"])
    for a in b["alerts"]:
        print(a["labels"]["entity"], b["idempotencyKey"])
PY
}
wait_accepted() {   # wait_accepted N SECS: N accepted deliveries
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        (( $(accepted | wc -l) >= $1 )) && return 0
        sleep 0.1
    done
    return 1
}

produce_disk_fill 0 15 0 2
wait_accepted 2 60 || fail "the receiver got $(accepted | wc -l) alerts, want 2: $(tail -3 "$PW_TMP/analyzer.err")"
sleep 3   # two more group intervals: host-2 must stay held back
accepted | sort >"$PW_TMP/accepted"
[[ $(cut -d' ' -f1 "$PW_TMP/accepted" | tr '\n' ' ') == "host-0 host-1 " ]] ||
    fail "accepted: $(cat "$PW_TMP/accepted") (host-2 is silenced)"
python3 - "$RCV_LOG" <<'PY' || fail "the payloads are not what Alertmanager's webhook receivers expect"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert r["path"] == "/hook", r["path"]
    assert r["hmac_ok"] is True, "HMAC not verified"
    b = json.loads(r["body"])
    assert b["version"] == "4" and b["receiver"] == "team" and b["status"] == "firing", b
    assert b["idempotencyKey"] == r["headers"]["idempotency-key"]
    assert b["externalURL"] == "http://analyzer.example:9466"
    assert b["groupLabels"]["alertname"] == "disk_full"
    (a,) = b["alerts"]
    l, an = a["labels"], a["annotations"]
    assert l["alertname"] == "disk_full" and l["severity"] == "critical", l
    assert l["kind"] == "forecast_breach" and l["series"] == "disk,path=/ used_percent", l
    assert "will pass 95" in an["summary"], an
    assert 0 < float(an["eta_seconds"]) < 1800, an
    assert json.loads(an["evidence"])["threshold"] == 95.0, an["evidence"]
    assert a["status"] == "firing" and len(a["fingerprint"]) == 16
    assert a["generatorURL"] == "http://analyzer.example:9466/api/v1/predictions"
PY
"$CTL" alerts >"$PW_TMP/alerts" || fail "pipewatch-ctl alerts failed"
grep -q "host-2.*suppressed" "$PW_TMP/alerts" || fail "host-2 not suppressed: $(cat "$PW_TMP/alerts")"
grep -q "host-0.*active" "$PW_TMP/alerts" || fail "host-0 not active: $(cat "$PW_TMP/alerts")"
info "host-0 and host-1 notified, host-2 silenced"

"$CTL" silence expire "$SID" || fail "silence expire failed"
"$CTL" silence list | grep -q "$SID.*expired" || fail "the silence did not expire"
wait_accepted 3 20 || fail "host-2 was not notified after its silence expired"
accepted | grep -q "^host-2 " || fail "the third delivery is not host-2's"
info "host-2 notified once its silence expired"

# The receiver goes away; host-3's prediction is made and waits in the outbox.
kill "$RCV_PID"
wait "$RCV_PID" 2>/dev/null || true
produce_disk_fill 0 15 3 3
for _ in $(seq 1 300); do
    grep -q "prediction firing.*host-3" "$PW_TMP/analyzer.err" && break
    sleep 0.1
done
grep -q "prediction firing.*host-3" "$PW_TMP/analyzer.err" || fail "host-3 never fired"
pending=0
for _ in $(seq 1 200); do
    pending=$(curl -s --max-time 5 "http://127.0.0.1:$ANALYZER_PORT/metrics" |
        awk '$1 == "pipewatch_alert_deliveries_pending" {print $2}')
    (( ${pending:-0} >= 1 )) && break
    sleep 0.1
done
(( ${pending:-0} >= 1 )) || fail "host-3's notification is not pending in the outbox"
kill -KILL "$ANALYZER_PID"
wait "$ANALYZER_PID" 2>/dev/null || true
info "analyzer SIGKILLed with host-3's notification pending"

start_bg receiver2 python3 "$RECEIVER_PY" --port "$PORT" --port-file "$PW_TMP/receiver2.port" \
    --log "$RCV_LOG" --hmac-secret hmac-test-key
start_analyzer "$PW_TMP/analyzer.yaml" analyzer2
wait_accepted 4 60 || fail "host-3's notification was not delivered after the restart"
sleep 3
accepted | sort >"$PW_TMP/accepted"
[[ $(cut -d' ' -f1 "$PW_TMP/accepted" | tr '\n' ' ') == "host-0 host-1 host-2 host-3 " ]] ||
    fail "after the restart the receiver accepted: $(cat "$PW_TMP/accepted")"
info "ok: silenced, expired, notified once each; the outbox delivered across a SIGKILL"
