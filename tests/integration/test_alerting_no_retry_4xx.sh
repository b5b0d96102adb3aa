#!/usr/bin/env bash
# A 400 is final: no retry, counted as failed, logged with the redacted URL
# (the URL from url_file carries a token that must never reach the log), and
# the rows stay in the outbox as failed with their status.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alerting_lib.sh"

start_receiver rcv --status 400
echo "http://127.0.0.1:$RCV_PORT/hooks/T0KEN-SECRET-42" >"$PW_TMP/url"
cat >"$PW_TMP/cfg.yaml" <<YAML
receivers:
  - name: default
    webhook_configs: [{url_file: "$PW_TMP/url"}]
delivery: {backoff_initial: 50ms}
YAML
run_driver d --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 5 --deadline 20 ||
    fail "the outbox was not emptied: $(cat "$PW_TMP/d.out" "$PW_TMP/d.err")"
[[ $(counter d failed_http_4xx) == 5 ]] || fail "failed_http_4xx $(counter d failed_http_4xx), want 5"
[[ $(counter d retried) == 0 ]] || fail "retried $(counter d retried), want 0"
[[ $(counter d sent) == 0 ]] || fail "sent $(counter d sent), want 0"
sleep 0.5
[[ $(wc -l <"$RCV_LOG") == 5 ]] || fail "the receiver got $(wc -l <"$RCV_LOG") requests, want 5"
grep -q 'HTTP 400' "$PW_TMP/d.err" || fail "the 400 was not logged"
grep -q "127.0.0.1:$RCV_PORT/" "$PW_TMP/d.err" || fail "the log does not name the receiver's host"
grep -q 'T0KEN' "$PW_TMP"/*.err "$PW_TMP"/*.out && fail "the URL's token reached a log"
python3 - "$PW_TMP/ob.db" <<'PY' || fail "outbox rows"
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "select state, last_status, attempts from delivery").fetchall()
assert rows == [(2, 400, 1)] * 5, rows
PY
info "ok: 400 not retried, counted, logged redacted, rows kept as failed"
