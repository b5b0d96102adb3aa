#!/usr/bin/env bash
# A receiver down for a while (its port refuses connections for 4 s), then
# up: every notification arrives exactly once, and the connection failures
# are counted as retries.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alerting_lib.sh"

start_receiver rcv --start-late 4
t0=$(date +%s.%N)
cat >"$PW_TMP/cfg.yaml" <<YAML
receivers:
  - name: default
    webhook_configs: [{url: "http://127.0.0.1:$RCV_PORT/hook"}]
delivery: {backoff_initial: 200ms, backoff_max: 1s, connect_timeout: 1s}
YAML
run_driver d --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 30 --deadline 60 ||
    fail "the outbox was not emptied: $(cat "$PW_TMP/d.out" "$PW_TMP/d.err")"
[[ $(counter d sent) == 30 ]] || fail "sent $(counter d sent), want 30"
(($(counter d retried_connect) >= 30)) || fail "connect retries $(counter d retried_connect), want >= 30"
python3 - "$RCV_LOG" "$t0" <<'PY' || fail "arrival checks"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
keys = [r["headers"]["idempotency-key"] for r in recs]
assert sorted(keys) == sorted("n-%d" % i for i in range(30)), keys
assert min(r["t"] for r in recs) >= float(sys.argv[2]) + 3.5, "arrived while down?"
PY
info "ok: 30 of 30 arrived once after the outage; $(counter d retried_connect) connection retries"
