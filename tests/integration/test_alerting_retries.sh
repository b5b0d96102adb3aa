#!/usr/bin/env bash
# A receiver that fails every other request with 500 and answers the first
# request of each notification with 429 and Retry-After: every notification
# arrives (accepted exactly once), the retries are counted by reason, and
# no retry comes sooner than the Retry-After said, in seconds or as an HTTP
# date.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alerting_lib.sh"

start_receiver secs --fail-every-other --retry-after 2
SECS_LOG=$RCV_LOG SECS_PORT=$RCV_PORT
start_receiver date --retry-after date:3
DATE_LOG=$RCV_LOG DATE_PORT=$RCV_PORT
cat >"$PW_TMP/cfg.yaml" <<YAML
receivers:
  - name: secs
    webhook_configs: [{url: "http://127.0.0.1:$SECS_PORT/hook"}]
  - name: date
    webhook_configs: [{url: "http://127.0.0.1:$DATE_PORT/hook"}]
delivery:
  backoff_initial: 100ms
  backoff_max: 1s
YAML
run_driver d1 --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 20 \
    --receiver secs --deadline 60 ||
    fail "secs: the outbox was not emptied: $(cat "$PW_TMP/d1.out" "$PW_TMP/d1.err")"
[[ $(counter d1 sent) == 20 ]] || fail "secs: sent $(counter d1 sent), want 20"
[[ $(counter d1 failed) == 0 ]] || fail "secs: failed $(counter d1 failed)"
[[ $(counter d1 retried_http_429) == 20 ]] || fail "secs: 429 retries $(counter d1 retried_http_429), want 20"
(($(counter d1 retried_http_5xx) >= 1)) || fail "secs: no 5xx retry counted"
[[ $(counter d1 retry_after_honoured) == 20 ]] || fail "secs: Retry-After honoured $(counter d1 retry_after_honoured), want 20"

run_driver d2 --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 5 \
    --receiver date --key-prefix d --deadline 60 ||
    fail "date: the outbox was not emptied: $(cat "$PW_TMP/d2.out" "$PW_TMP/d2.err")"
[[ $(counter d2 sent) == 5 ]] || fail "date: sent $(counter d2 sent), want 5"
[[ $(counter d2 retried_http_429) == 5 ]] || fail "date: 429 retries $(counter d2 retried_http_429), want 5"

check='
import json, os, sys
log, keys, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
by = {}
for l in open(log):
    r = json.loads(l)
    by.setdefault(r["headers"]["idempotency-key"], []).append(r)
assert len(by) == keys, (len(by), keys)
for k, rs in by.items():
    ok = [r for r in rs if r["status"] == 200]
    assert len(ok) == 1, (k, [r["status"] for r in rs])
    assert rs[0]["status"] == 429, (k, rs[0]["status"])
    gap = rs[1]["t"] - rs[0]["t"]
    assert gap >= wait, (k, "retried %.3f s after a 429, Retry-After said %s" % (gap, wait))
    assert len(set(r["body"] for r in rs)) == 1, (k, "bodies differ")
print(log, "requests", sum(len(v) for v in by.values()), "for", keys, "keys")
'
python3 -c "$check" "$SECS_LOG" 20 1.95 || fail "secs receiver checks"
# An HTTP date has one-second resolution: "3 s ahead" is at least 2 s.
python3 -c "$check" "$DATE_LOG" 5 1.95 || fail "date receiver checks"
info "ok: all arrived once, $(counter d1 retried_http_5xx) 5xx and 25 429 retries, Retry-After honoured"
