#!/usr/bin/env bash
# test_secrets_not_logged: no secret the programs accept reaches a log line,
# an error message, the status port or --check-config's output, even with
# debug logging and librdkafka's `debug: all`, and while things fail.
#
# Every secret gets a distinctive value (they all contain "sEcReT"):
#   Kafka   sasl.password (agent), sasl.password_file (analyzer),
#           ssl.key.password (agent and analyzer)
#   status  the bearer token (agent and analyzer)
#   alerting webhook URLs (inline, with a token in the user information and
#           the path; and from url_file), HMAC keys (file and environment),
#           a Slack api_url, an Authorization header
# and the programs run into errors: SASL against the development broker
# (which has no SASL: "SASL Handshake not supported by broker"), a broker
# that is not there, receivers that are down, requests with a wrong token.
# Then every output is searched for "sEcReT" (case-sensitive).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/alerting_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/agent_lib.sh"
PW_ANALYZER=$PW_BUILD_DIR/pipewatch-analyzer

start_broker --brokers 1 --partitions 2
# A port with nobody listening: the receivers are down.
DOWN=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

printf 'sEcReT-status-token-1\n' >"$PW_TMP/token"
printf 'sEcReT-hmac-file-2\n' >"$PW_TMP/hmac"
printf 'https://127.0.0.1:%s/hook/sEcReT-url-file-3\n' "$DOWN" >"$PW_TMP/url"
export PW_TEST_HMAC='sEcReT-hmac-env-4'
KAFKA_SECRETS="  security.protocol: sasl_plaintext
  sasl.mechanism: PLAIN
  sasl.username: pipewatch
  sasl.password: sEcReT-sasl-password-5
  ssl.key.password: sEcReT-ssl-key-password-6
  debug: all"

# ---- the agent: SASL against a broker without it, then no broker at all.
cat >"$PW_TMP/agent.yaml" <<YAML
entity: secret-host
log_level: debug
kafka:
  bootstrap.servers: "$BOOTSTRAP"
$KAFKA_SECRETS
spool:
  path: $PW_TMP/spool.db
  retry_backoff: 500ms
shutdown_timeout: 1s
status:
  listen: 127.0.0.1:0
  token_file: $PW_TMP/token
collectors:
  host:
    interval: 1s
YAML
"$PW_AGENT" --config "$PW_TMP/agent.yaml" --check-config >"$PW_TMP/agent-check.out" 2>&1 ||
    fail "agent --check-config: $(cat "$PW_TMP/agent-check.out")"
start_agent "$PW_TMP/agent.yaml" agent
wait_for_grep "$PW_TMP/agent.err" 'SASL Handshake not supported by broker' 20 ||
    fail "the agent logged no SASL failure"
curl -s -H 'Authorization: Bearer sEcReT-status-token-1' \
    "http://127.0.0.1:$AGENT_PORT/metrics" >"$PW_TMP/agent-metrics.out"
grep -q '^pipewatch_agent_spool_messages' "$PW_TMP/agent-metrics.out" ||
    fail "the right token did not get /metrics"
code=$(curl -s -o "$PW_TMP/agent-401.out" -w '%{http_code}' \
    -H 'Authorization: Bearer sEcReT-wrong-7' "http://127.0.0.1:$AGENT_PORT/metrics")
[[ $code == 401 ]] || fail "a wrong token got HTTP $code from the agent"
stop_process "$AGENT_PID" 10 || true

sed "s#bootstrap.servers: .*#bootstrap.servers: \"127.0.0.1:$DOWN\"#" \
    "$PW_TMP/agent.yaml" >"$PW_TMP/agent-nobroker.yaml"
start_agent "$PW_TMP/agent-nobroker.yaml" agent-nobroker
wait_for_grep "$PW_TMP/agent-nobroker.err" 'Connection refused' 20 ||
    fail "the agent logged no connection failure"
stop_process "$AGENT_PID" 10 || true

# ---- the analyzer with every receiver secret, receivers down; its Kafka
# password from a file.
printf 'sEcReT-sasl-password-file-13\n' >"$PW_TMP/kafka.pw"
KAFKA_SECRETS=${KAFKA_SECRETS/sasl.password: sEcReT-sasl-password-5/sasl.password_file: $PW_TMP/kafka.pw}
cat >"$PW_TMP/analyzer.yaml" <<YAML
log_level: debug
kafka:
  bootstrap.servers: "$BOOTSTRAP"
$KAFKA_SECRETS
group_id: secrets-test
status:
  listen: 127.0.0.1:0
  token_file: $PW_TMP/token
alerting:
  dir: $PW_TMP/alerting
  route: {receiver: team, group_wait: 100ms}
  receivers:
    - name: team
      webhook_configs:
        - url: "https://user:sEcReT-userinfo-8@127.0.0.1:$DOWN/hook/sEcReT-url-path-9?k=sEcReT-query-10"
          hmac_secret_file: $PW_TMP/hmac
          headers: {Authorization: "Bearer sEcReT-header-11"}
        - url_file: $PW_TMP/url
          hmac_secret_env: PW_TEST_HMAC
      slack_configs:
        - api_url: "https://127.0.0.1:$DOWN/services/sEcReT-slack-12"
YAML
"$PW_ANALYZER" --config "$PW_TMP/analyzer.yaml" --check-config >"$PW_TMP/analyzer-check.out" 2>&1 ||
    fail "analyzer --check-config: $(cat "$PW_TMP/analyzer-check.out")"
start_bg analyzer "$PW_ANALYZER" --config "$PW_TMP/analyzer.yaml"
ANALYZER_PID=$BG_PID
wait_for_grep "$PW_TMP/analyzer.err" 'status port on .*\(port [0-9]+\)' 30 ||
    fail "the analyzer did not start: $(tail -5 "$PW_TMP/analyzer.err")"
ANALYZER_PORT=$(sed -n 's/.*status port on .* (port \([0-9]*\)).*/\1/p' "$PW_TMP/analyzer.err" | head -1)
wait_for_grep "$PW_TMP/analyzer.err" 'SASL Handshake not supported by broker' 20 ||
    fail "the analyzer logged no SASL failure"
for path in /metrics /api/v1/predictions /api/v2/status /api/v2/alerts /api/v2/silences; do
    code=$(curl -s -o "$PW_TMP/analyzer-ok$(tr / _ <<<"$path").out" -w '%{http_code}' \
        -H 'Authorization: Bearer sEcReT-status-token-1' "http://127.0.0.1:$ANALYZER_PORT$path")
    [[ $code == 200 ]] || fail "the right token got HTTP $code for $path"
    code=$(curl -s -o "$PW_TMP/analyzer-401$(tr / _ <<<"$path").out" -w '%{http_code}' \
        -H 'Authorization: Bearer sEcReT-wrong-7' "http://127.0.0.1:$ANALYZER_PORT$path")
    [[ $code == 401 ]] || fail "a wrong token got HTTP $code for $path"
done
stop_process "$ANALYZER_PID" 10 || true

# ---- the same receivers through the delivery code, failing and retried.
sed -n '/^  receivers:/,$p' "$PW_TMP/analyzer.yaml" | sed 's/^  //' >"$PW_TMP/receivers.yaml"
printf 'delivery: {backoff_initial: 50ms, backoff_max: 200ms}\n' >>"$PW_TMP/receivers.yaml"
rc=0
PW_DRIVER_DEBUG=1 run_driver driver --config "$PW_TMP/receivers.yaml" --db "$PW_TMP/ob.db" \
    --enqueue 3 --receiver team --deadline 3 || rc=$?
[[ $rc -eq 2 ]] || fail "the driver exited $rc, want 2 (deliveries pending): $(cat "$PW_TMP/driver.err")"
grep -q 'alert delivery to team webhook\[0\] (https://127.0.0.1:[0-9]*/…)' "$PW_TMP/driver.err" ||
    fail "no delivery failure logged: $(tail -3 "$PW_TMP/driver.err")"
# A configuration error quoting a bad URL.
sed 's#url: "https://user#url: "ftp://user#' "$PW_TMP/receivers.yaml" >"$PW_TMP/bad-url.yaml"
run_driver bad-url --config "$PW_TMP/bad-url.yaml" --db "$PW_TMP/ob2.db" --no-deliver &&
    fail "an ftp:// URL was accepted"
grep -q 'must start with http' "$PW_TMP/bad-url.err" || fail "unexpected: $(cat "$PW_TMP/bad-url.err")"

# ---- nothing anywhere.
info "searched: $(cd "$PW_TMP" && ls ./*.out ./*.err | tr '\n' ' ')"
lines=$(cat "$PW_TMP"/*.out "$PW_TMP"/*.err | wc -l)
[[ $lines -gt 300 ]] || fail "only $lines lines of output: debug logging did not run?"
if grep -n 'sEcReT' "$PW_TMP"/*.out "$PW_TMP"/*.err >"$PW_TMP/leaks"; then
    head -20 "$PW_TMP/leaks" >&2
    fail "$(wc -l <"$PW_TMP/leaks") lines show a secret"
fi
info "ok: $lines lines of output, no secret"
