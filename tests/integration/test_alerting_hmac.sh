#!/usr/bin/env bash
# The HMAC-SHA256 signature, checked by a receiver that knows the key: with
# the right key (from a file or the environment) every request verifies; with
# a wrong key the receiver refuses (401), which is final (not retried) and
# counted; without a key no signature header is sent. The key is in no log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alerting_lib.sh"

start_receiver rcv --hmac-secret 'right-k3y' --hmac-path /signed
printf 'right-k3y\n' >"$PW_TMP/key"
cat >"$PW_TMP/cfg.yaml" <<YAML
receivers:
  - name: good
    webhook_configs:
      - {url: "http://127.0.0.1:$RCV_PORT/signed/file", hmac_secret_file: "$PW_TMP/key"}
      - {url: "http://127.0.0.1:$RCV_PORT/signed/env", hmac_secret_env: PW_TEST_GOOD_KEY}
      - {url: "http://127.0.0.1:$RCV_PORT/plain"}
  - name: bad
    webhook_configs:
      - {url: "http://127.0.0.1:$RCV_PORT/signed/bad", hmac_secret_env: PW_TEST_BAD_KEY}
YAML
export PW_TEST_GOOD_KEY='right-k3y' PW_TEST_BAD_KEY='wr0ng-k3y'
run_driver g --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 5 \
    --receiver good --deadline 20 || fail "good: $(cat "$PW_TMP/g.out" "$PW_TMP/g.err")"
run_driver b --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 5 \
    --receiver bad --key-prefix b --deadline 20 || fail "bad: $(cat "$PW_TMP/b.out" "$PW_TMP/b.err")"
[[ $(counter g sent) == 15 ]] || fail "good: sent $(counter g sent), want 15"
[[ $(counter b failed_http_4xx) == 5 ]] || fail "bad: failed_http_4xx $(counter b failed_http_4xx), want 5"
[[ $(counter b retried) == 0 ]] || fail "bad: retried $(counter b retried), want 0"
grep -q 'k3y' "$PW_TMP"/*.err "$PW_TMP"/*.out && fail "a key reached a log"
python3 - "$RCV_LOG" <<'PY' || fail "signature checks"
import json, sys
by = {}
for l in open(sys.argv[1]):
    r = json.loads(l)
    by.setdefault(r["path"], []).append(r)
assert {p: len(v) for p, v in by.items()} == {
    "/signed/file": 5, "/signed/env": 5, "/plain": 5, "/signed/bad": 5}, by.keys()
for p in ("/signed/file", "/signed/env"):
    assert all(r["hmac_ok"] is True and r["status"] == 200 for r in by[p]), p
assert all(r["hmac_ok"] is False and r["status"] == 401 for r in by["/signed/bad"])
assert all("x-pipewatch-signature" not in r["headers"] for r in by["/plain"])
assert all(r["headers"]["x-pipewatch-signature"].startswith("sha256=")
           and len(r["headers"]["x-pipewatch-signature"]) == 71 for r in by["/signed/env"])
PY
info "ok: signatures verified (file and env keys), a wrong key refused and not retried, none when unkeyed"
