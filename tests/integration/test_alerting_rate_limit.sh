#!/usr/bin/env bash
# A receiver's rate limit (token bucket, 10/s, burst 2) spaces deliveries
# out: 20 take at least 1.7 s, and the deferrals are counted; another
# receiver without a limit is not held back by it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alerting_lib.sh"

start_receiver rcv
cat >"$PW_TMP/cfg.yaml" <<YAML
receivers:
  - name: default
    rate_limit: 10
    rate_burst: 2
    webhook_configs: [{url: "http://127.0.0.1:$RCV_PORT/limited"}]
  - name: free
    webhook_configs: [{url: "http://127.0.0.1:$RCV_PORT/free"}]
YAML
run_driver e --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 20 --no-deliver
run_driver d --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 20 \
    --receiver free --key-prefix f --deadline 30 ||
    fail "the outbox was not emptied: $(cat "$PW_TMP/d.out" "$PW_TMP/d.err")"
[[ $(counter d sent) == 40 ]] || fail "sent $(counter d sent), want 40"
(($(counter d rate_limited) > 0)) || fail "no deferral counted"
python3 - "$RCV_LOG" <<'PY' || fail "timing checks"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
lim = sorted(r["t"] for r in recs if r["path"] == "/limited")
free = sorted(r["t"] for r in recs if r["path"] == "/free")
assert len(lim) == 20 and len(free) == 20
span = lim[-1] - lim[0]
assert span >= 1.7, "20 deliveries at 10/s with a burst of 2 took only %.2f s" % span
assert free[-1] - lim[0] < 1.0, "the unlimited receiver waited for the limited one"
print("limited span %.2f s" % span)
PY
info "ok: rate limit held ($(counter d rate_limited) deferrals)"
