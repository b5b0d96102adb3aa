#!/usr/bin/env bash
# The payloads as receivers see them: the generic webhook body is
# Alertmanager's payload version 4 (every field, RFC 3339 times, 16-hex
# fingerprints) plus the idempotency key, signed with HMAC-SHA256 that the
# receiver verifies, with the custom headers; max_alerts truncates and counts;
# the Slack body is a Block Kit message (header with severity and entity,
# the ETA in words, confidence, evidence, link); resolved alerts go only where
# send_resolved is on; the same notification enqueued twice is stored once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alerting_lib.sh"

start_receiver rcv --hmac-secret 'k3y-of-the-test' --hmac-path /hook
echo 'k3y-of-the-test' >"$PW_TMP/hmac.key"
cat >"$PW_TMP/cfg.yaml" <<YAML
external_url: http://pipewatch.test/
receivers:
  - name: default
    webhook_configs:
      - url: http://127.0.0.1:$RCV_PORT/hook
        headers: {X-Team: storage, Authorization: Bearer not-logged}
        hmac_secret_env: PW_TEST_HMAC
      - url: http://127.0.0.1:$RCV_PORT/trunc
        max_alerts: 1
        send_resolved: false
    slack_configs:
      - api_url: http://127.0.0.1:$RCV_PORT/slack
        channel: "#storage"
  - name: filed
    webhook_configs:
      - url: http://127.0.0.1:$RCV_PORT/hook-file
        hmac_secret_file: $PW_TMP/hmac.key
YAML
export PW_TEST_HMAC='k3y-of-the-test'

# Enqueue only, twice: the second time stores nothing.
run_driver enq1 --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 3 \
    --group-size 2 --no-deliver || fail "driver (enqueue): $(cat "$PW_TMP/enq1.err")"
[[ $(counter enq1 stored) == 9 ]] || fail "3 notifications x 3 configs: stored $(counter enq1 stored), want 9"
run_driver enq2 --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 3 \
    --group-size 2 --no-deliver || fail "driver (enqueue again): $(cat "$PW_TMP/enq2.err")"
[[ $(counter enq2 stored) == 0 ]] || fail "re-enqueue stored $(counter enq2 stored), want 0"
# Resolved: the webhook with send_resolved (default true) gets it, the
# truncating webhook and Slack (send_resolved false) do not.
run_driver enq3 --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 1 \
    --key-prefix r --resolved --no-deliver || fail "driver (resolved): $(cat "$PW_TMP/enq3.err")"
[[ $(counter enq3 stored) == 1 ]] || fail "resolved stored $(counter enq3 stored), want 1"
run_driver enq4 --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --enqueue 1 \
    --receiver filed --key-prefix f --no-deliver || fail "driver (filed): $(cat "$PW_TMP/enq4.err")"

run_driver deliver --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/ob.db" --deadline 20 ||
    fail "delivery did not empty the outbox: $(cat "$PW_TMP/deliver.out" "$PW_TMP/deliver.err")"
[[ $(counter deliver sent) == 11 ]] || fail "sent $(counter deliver sent), want 11"
[[ $(counter deliver failed) == 0 ]] || fail "failed $(counter deliver failed), want 0"
grep -q 'k3y-of-the-test\|not-logged' "$PW_TMP"/*.err && fail "a secret reached a log"

pyjson '
import json, os, re
recs = [json.loads(l) for l in open(os.environ["RCV_LOG"])]
by = {}
for r in recs:
    by.setdefault(r["path"], []).append(r)
assert sorted(by) == ["/hook", "/hook-file", "/slack", "/trunc"], sorted(by)
t3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
def v4(r, n_alerts, truncated, status):
    b = json.loads(r["body"])
    for k, t in [("version", str), ("groupKey", str), ("truncatedAlerts", int),
                 ("status", str), ("receiver", str), ("groupLabels", dict),
                 ("commonLabels", dict), ("commonAnnotations", dict),
                 ("externalURL", str), ("alerts", list), ("idempotencyKey", str)]:
        assert isinstance(b.get(k), t), (k, b.get(k))
    assert b["version"] == "4"
    assert b["status"] == status, b["status"]
    assert b["truncatedAlerts"] == truncated, b["truncatedAlerts"]
    assert b["externalURL"] == "http://pipewatch.test/"
    assert len(b["alerts"]) == n_alerts, len(b["alerts"])
    assert b["idempotencyKey"] == r["headers"]["idempotency-key"]
    assert b["groupKey"].startswith("{}:{entity=")
    assert b["groupLabels"]["entity"] == b["commonLabels"]["entity"]
    for a in b["alerts"]:
        assert set(a) == {"status", "labels", "annotations", "startsAt",
                          "endsAt", "generatorURL", "fingerprint"}, set(a)
        assert a["status"] == status
        assert re.fullmatch(r"[0-9a-f]{16}", a["fingerprint"]), a["fingerprint"]
        assert t3339.match(a["startsAt"]) and t3339.match(a["endsAt"])
        if status == "firing":
            assert a["endsAt"] == "0001-01-01T00:00:00Z"
        else:
            assert a["endsAt"] != "0001-01-01T00:00:00Z"
        for k in ("alertname", "entity", "rule", "kind", "severity"):
            assert k in a["labels"], k
        for k in ("summary", "eta_seconds", "confidence", "evidence"):
            assert k in a["annotations"], k
        json.loads(a["annotations"]["evidence"])
    return b
hook = by["/hook"]
assert len(hook) == 4, len(hook)
keys = sorted(r["headers"]["idempotency-key"] for r in hook)
assert keys == ["n-0", "n-1", "n-2", "r-0"], keys
for r in hook:
    assert r["hmac_ok"] is True, "HMAC not verified"
    assert r["headers"]["x-team"] == "storage"
    assert r["headers"]["content-type"] == "application/json"
    if r["headers"]["idempotency-key"] == "r-0":
        v4(r, 1, 0, "resolved")
    else:
        v4(r, 2, 0, "firing")
filed = by["/hook-file"]
assert len(filed) == 1 and filed[0]["hmac_ok"] is True
trunc = by["/trunc"]
assert len(trunc) == 3, len(trunc)
for r in trunc:
    v4(r, 1, 1, "firing")
    assert "x-pipewatch-signature" not in r["headers"]
slack = by["/slack"]
assert len(slack) == 3, len(slack)
for r in slack:
    b = json.loads(r["body"])
    assert b["channel"] == "#storage"
    assert b["text"].startswith("[FIRING:2] CRITICAL host-")
    blocks = b["blocks"]
    assert len(blocks) <= 50
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["type"] == "plain_text"
    head = blocks[0]["text"]["text"]
    assert "CRITICAL" in head and "host-" in head and len(head) <= 150, head
    text = "\n".join(x["text"]["text"] for x in blocks if x["type"] == "section")
    assert "in 3 h 20 min" in text, text
    assert "87%" in text, text
    assert "Evidence" in text and "slope_per_h: 1.2" in text, text
    assert "The disk of the host will be full" in text
    ctx = [e["text"] for x in blocks if x["type"] == "context" for e in x["elements"]]
    assert any("http://pipewatch.test/api/v1/predictions" in c for c in ctx), ctx
print("checked", len(recs), "requests")
' || fail "payload checks"
info "ok: webhook v4 body, HMAC, headers, truncation, Slack Block Kit, send_resolved, idempotent enqueue"
