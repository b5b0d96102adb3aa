#!/usr/bin/env bash
# Receivers that misbehave below HTTP: one that takes the request and never
# answers (the per-receiver timeout ends it, and it is retried), one that
# sends a 200 status line and half of its body then closes the connection
# (curl reports the short read, and it is retried: a cut answer is not an
# acknowledgement), and one that answers every request slowly (0.5 s, under
# the timeout: no retry). Every notification is accepted exactly once (one
# 200 per idempotency key, the same body each time), the retries are
# counted by reason, and the transfers run side by side: the delivery loop
# is never held up by one receiver (the whole run takes a few timeouts, not
# one per notification).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alerting_lib.sh"

N=20
start_receiver hang --fault-first hang
HANG_LOG=$RCV_LOG HANG_PORT=$RCV_PORT
start_receiver cut --fault-first cut
CUT_LOG=$RCV_LOG CUT_PORT=$RCV_PORT
start_receiver slow --delay-ms 500
SLOW_LOG=$RCV_LOG SLOW_PORT=$RCV_PORT
cat >"$PW_TMP/cfg.yaml" <<YAML
receivers:
  - name: hang
    webhook_configs: [{url: "http://127.0.0.1:$HANG_PORT/hook", timeout: 1s}]
  - name: cut
    webhook_configs: [{url: "http://127.0.0.1:$CUT_PORT/hook", timeout: 1s}]
  - name: slow
    webhook_configs: [{url: "http://127.0.0.1:$SLOW_PORT/hook", timeout: 5s}]
delivery:
  backoff_initial: 100ms
  backoff_max: 1s
YAML

check='
import json, sys
log, keys, fault = sys.argv[1], int(sys.argv[2]), sys.argv[3]
by = {}
for l in open(log):
    r = json.loads(l)
    by.setdefault(r["headers"]["idempotency-key"], []).append(r)
assert len(by) == keys, (len(by), keys)
for k, rs in by.items():
    ok = [r for r in rs if r["status"] == 200]
    assert len(ok) == 1, (k, [r["status"] for r in rs])
    assert len(set(r["body"] for r in rs)) == 1, (k, "bodies differ")
    if fault != "none":
        assert rs[0].get("fault") == fault and len(rs) == 2, (k, rs)
    else:
        assert len(rs) == 1, (k, "retried", len(rs))
'
run() {   # run NAME RECEIVER FAULT MAX_ELAPSED_MS
    run_driver "$1" --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/$1.db" --enqueue $N \
        --receiver "$2" --key-prefix "$1" --deadline 60 ||
        fail "$1: the outbox was not emptied: $(cat "$PW_TMP/$1.out" "$PW_TMP/$1.err")"
    [[ $(counter "$1" sent) == "$N" ]] || fail "$1: sent $(counter "$1" sent), want $N"
    [[ $(counter "$1" failed) == 0 ]] || fail "$1: failed $(counter "$1" failed)"
    local elapsed
    elapsed=$(counter "$1" elapsed_ms)
    (( elapsed < $4 )) || fail "$1: $N deliveries took $elapsed ms (one at a time?)"
    python3 -c "$check" "$PW_TMP/$2.jsonl" "$N" "$3" || fail "$1: receiver checks"
    info "$1: $N accepted once each in $elapsed ms; retried: $(counter "$1" retried)"
}
# Twenty 1 s timeouts one after another would take 20 s.
run h hang hang 10000
[[ $(counter h retried_timeout) == "$N" ]] || fail "hang: $(counter h retried_timeout) timeout retries, want $N"
run c cut cut 10000
(( $(counter c retried) == N )) || fail "cut: $(counter c retried) retries, want $N"
[[ $(counter c retried_timeout) == 0 ]] || fail "cut: a cut answer was retried as a timeout"
# Twenty 0.5 s answers one after another would take 10 s.
run s slow none 5000
[[ $(counter s retried) == 0 ]] || fail "slow: $(counter s retried) retries of a slow but timely receiver"
info "ok: hanging, cut and slow receivers; every notification accepted exactly once"
