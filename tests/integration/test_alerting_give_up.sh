#!/usr/bin/env bash
# Deliveries are given up, counted by reason and kept as failed rows, only
# when there is no point going on: retried past give_up_after (a receiver that
# never comes back), or a receiver that the configuration no longer has
# (a restart with a changed configuration).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alerting_lib.sh"

start_receiver never --start-late 3600   # bound, never listening: refused
cat >"$PW_TMP/a.yaml" <<YAML
receivers:
  - name: default
    webhook_configs: [{url: "http://127.0.0.1:$RCV_PORT/hook"}]
  - name: gone
    webhook_configs: [{url: "http://127.0.0.1:$RCV_PORT/gone"}]
delivery: {backoff_initial: 100ms, backoff_max: 300ms, give_up_after: 1500ms}
YAML
cat >"$PW_TMP/b.yaml" <<YAML
receivers:
  - name: default
    webhook_configs: [{url: "http://127.0.0.1:$RCV_PORT/hook"}]
delivery: {backoff_initial: 100ms, backoff_max: 300ms, give_up_after: 1500ms}
YAML
run_driver e --config "$PW_TMP/a.yaml" --db "$PW_TMP/ob.db" --enqueue 3 \
    --receiver gone --key-prefix g --no-deliver
run_driver d --config "$PW_TMP/b.yaml" --db "$PW_TMP/ob.db" --enqueue 5 --deadline 30 ||
    fail "the outbox was not emptied: $(cat "$PW_TMP/d.out" "$PW_TMP/d.err")"
[[ $(counter d failed_expired) == 5 ]] || fail "expired $(counter d failed_expired), want 5"
[[ $(counter d failed_no_receiver) == 3 ]] || fail "no_receiver $(counter d failed_no_receiver), want 3"
(($(counter d retried_connect) >= 5)) || fail "connect retries $(counter d retried_connect), want >= 5"
(($(counter d elapsed_ms) >= 1400)) || fail "gave up after $(counter d elapsed_ms) ms, before give_up_after"
python3 - "$PW_TMP/ob.db" <<'PY' || fail "outbox rows"
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "select receiver, state, substr(last_error, 1, 11) from delivery order by id").fetchall()
assert rows == [("gone", 2, "no_receiver")] * 3 + [("default", 2, "expired: Co")] * 5, rows
PY
info "ok: 5 expired after give_up_after, 3 for a receiver no longer configured"
