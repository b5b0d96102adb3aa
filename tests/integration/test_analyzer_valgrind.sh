#!/usr/bin/env bash
# The analyzer under valgrind memcheck: a models directory loaded, metrics
# that fire a forecast, a log burst, malformed messages, the status port and
# the API scraped, alerting (a silence set and expired through the API, the
# predictions delivered to a webhook receiver over libcurl), a SIGHUP model
# check, a SIGTERM — with no memory error and
# no leak (definite or indirect). Skipped in the sanitizer build, where
# valgrind cannot run ASan's binaries.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/analyzer_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/alerting_lib.sh"
if [[ $(ldd "$PW_ANALYZER") == *libasan* ]]; then
    info "sanitizer build: valgrind does not apply"
    exit 77
fi
command -v valgrind >/dev/null || fail "valgrind is not installed (contrib/deps.sh installs it)"
command -v kcat >/dev/null || fail "kcat is not installed (contrib/deps.sh)"

start_broker --partitions 2
models=$PW_TMP/models
"$PW_BUILD_DIR/pipewatch-train" tagger --tsv "$PW_SOURCE_DIR/models/data/tagger_default.tsv" \
    --out "$PW_TMP/t.pwb" >/dev/null || fail "cannot build a bundle"
"$PW_BUILD_DIR/pipewatch-train" promote --models-dir "$models" "$PW_TMP/t.pwb" >/dev/null ||
    fail "cannot promote"
start_receiver receiver
write_analyzer_config "$PW_TMP/a.yaml" "models:
  dir: $models
alerting:
  dir: $PW_TMP/alerting
  route:
    receiver: team
    group_by: [alertname, entity]
    group_wait: 0s
    group_interval: 1s
  receivers:
    - name: team
      webhook_configs:
        - url: http://127.0.0.1:$RCV_PORT/hook
      log_configs:
        - level: info"
ANALYZER_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$PW_TMP/valgrind.log"
start_analyzer "$PW_TMP/a.yaml"

T0=$(( ($(date +%s) - 7200) * 1000000000 ))
python3 - "$T0" <<'PY' | kproduce pipewatch.metrics
import sys
t0 = int(sys.argv[1])
for s in range(0, 40 * 60, 10):
    print(f"db-1|disk,path=/ used_percent={50 + 45 * s / 2400:.3f} {t0 + s * 10**9}")
print("bad|cpu usage=")
PY
python3 - "$T0" <<'PY' | kproduce pipewatch.logs
import json, sys
t0 = int(sys.argv[1])
for i in range(5):
    rec = {"ts": t0 + (36 * 60 + i * 40) * 10**9, "entity": "db-1", "line":
           "java.lang.OutOfMemoryError: GC overhead limit exceeded"}
    print("db-1|" + json.dumps(rec))
PY
wait_ametric samples_total '>=' 240 120 || fail "samples under valgrind: $(ametric samples_total)"
wait_for_grep "$PW_TMP/analyzer.err" "prediction firing: disk.used_percent" 60 || fail "no forecast"
wait_for_grep "$PW_TMP/analyzer.err" "prediction firing: db-1 logged more" 60 || fail "no log burst"
curl -sf "http://127.0.0.1:$ANALYZER_PORT/api/v1/predictions" >/dev/null || fail "no API"
curl -s "http://127.0.0.1:$ANALYZER_PORT/api/v1/nothing" >/dev/null
sid=$(curl -sf -X POST -d '{"matchers":[{"name":"entity","value":"none","isRegex":false}],
  "startsAt":"2026-01-01T00:00:00Z","endsAt":"2099-01-01T00:00:00Z","createdBy":"t","comment":"c"}' \
  "http://127.0.0.1:$ANALYZER_PORT/api/v2/silences" | sed 's/.*"silenceID":"\([^"]*\)".*/\1/')
[[ -n $sid ]] || fail "no silence id from the API"
curl -sf "http://127.0.0.1:$ANALYZER_PORT/api/v2/alerts" >/dev/null || fail "no alerts API"
curl -sf -X DELETE "http://127.0.0.1:$ANALYZER_PORT/api/v2/silence/$sid" >/dev/null ||
    fail "cannot expire the silence"
for _ in $(seq 1 300); do
    (( $(grep -c '"status": 200' "$RCV_LOG" || true) >= 2 )) && break
    sleep 0.2
done
(( $(grep -c '"status": 200' "$RCV_LOG" || true) >= 2 )) ||
    fail "the receiver got $(grep -c . "$RCV_LOG") notifications, want the forecast's and the burst's"
kill -HUP "$ANALYZER_PID"
wait_ametric checkpoints_total '>=' 2 60 || fail "no checkpoints"
rc=0
stop_process "$ANALYZER_PID" 60 || rc=$?
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost' "$PW_TMP/valgrind.log" >&2 || true
[[ $rc -eq 0 ]] || fail "the analyzer under valgrind exited $rc (99 = memcheck errors; see valgrind.log)"
grep -q 'ERROR SUMMARY: 0 errors' "$PW_TMP/valgrind.log" || fail "memcheck reported errors"
info "ok: valgrind clean"
