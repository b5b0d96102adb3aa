#!/usr/bin/env bash
# test_kafka_sasl_proxy: the agent authenticates with SASL PLAIN over TLS
# (security.protocol sasl_ssl, the password from sasl.password_file).
#
# HONEST LABEL: the development broker has no SASL, so the SASL exchange is
# answered by kafka_tls_proxy.py --sasl-plain, standing in for a broker's
# authentication layer (it advertises SaslHandshake/SaslAuthenticate in
# ApiVersions, answers them itself and refuses any other request before
# authentication). This shows that the agent sends the configured mechanism
# and credentials inside TLS and behaves well when they are refused; it does
# not show that a real Kafka broker accepts them.
#  1. wrong password: the proxy refuses it, the agent logs the
#     authentication failure, keeps running and spools, delivers nothing;
#  2. the right password (file rewritten, agent restarted): the spool
#     drains and every collection arrives exactly once.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/agent_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/tls_lib.sh"

make_ca ca
make_cert ca server 127.0.0.1 IP:127.0.0.1
start_broker --brokers 1 --partitions 2
start_tls_proxy proxy 0 server "" --sasl-plain 'pipewatch:r1ght-pa55'
PLAIN_BOOTSTRAP=$BOOTSTRAP
printf 'wr0ng-pa55\n' >"$PW_TMP/kafka.pw"
BOOTSTRAP=127.0.0.1:$PROXY_PORT write_agent_config "$PW_TMP/agent.yaml" sasl-host \
"  security.protocol: sasl_ssl
  ssl.ca.location: $PW_TMP/ca.pem
  sasl.mechanism: PLAIN
  sasl.username: pipewatch
  sasl.password_file: $PW_TMP/kafka.pw
  message.timeout.ms: 5000"

info "phase 1: a wrong password"
start_agent "$PW_TMP/agent.yaml" agent1
wait_for_grep "$PROXY_LOG" 'sasl: authentication failed for pipewatch' 30 ||
    fail "the proxy saw no failed authentication: $(tail -5 "$PROXY_LOG")"
wait_for_grep "$PW_TMP/agent1.err" 'error .*Authentication failed' 30 ||
    fail "the agent did not log the authentication failure"
grep -m1 'Authentication failed' "$PW_TMP/agent1.err" >&2
wait_metric spool_messages '>=' 3 30 || fail "the spool did not grow"
[[ $(agent_metric kafka_delivered_total) == 0 ]] || fail "delivered without authenticating"
kill -0 "$AGENT_PID" || fail "the agent died on an authentication failure"
stop_process "$AGENT_PID" 10 || fail "agent1 did not stop cleanly"

info "phase 2: the right password"
printf 'r1ght-pa55\n' >"$PW_TMP/kafka.pw"
start_agent "$PW_TMP/agent.yaml" agent2
wait_metric spool_messages '==' 0 60 || fail "the spool did not drain"
wait_metric kafka_delivered_total '>=' 4 30 || fail "too few deliveries"
sleep 1.5
stop_process "$AGENT_PID" 10 || fail "agent2 did not stop cleanly"
grep -q 'sasl: authenticated user pipewatch (PLAIN)' "$PROXY_LOG" || fail "no authentication in the proxy's log"
grep -q 'UNPARSED' "$PROXY_LOG" && fail "the proxy met a request it cannot parse: $(grep UNPARSED "$PROXY_LOG" | head -3)"

made=$(( $(collections_of agent1) + $(collections_of agent2) ))
BOOTSTRAP=$PLAIN_BOOTSTRAP read_topic_kcat "$PW_TMP/all.lp"
grep '^system ' "$PW_TMP/all.lp" | awk '{print $NF}' >"$PW_TMP/ts"
got=$(wc -l <"$PW_TMP/ts")
dups=$(sort "$PW_TMP/ts" | uniq -d | wc -l)
info "collections made: $made; in Kafka: $got; duplicates: $dups"
[[ $dups -eq 0 ]] || fail "$dups collections arrived more than once"
[[ $got -eq $made && $got -gt 0 ]] || fail "$got collections arrived, $made were made"
grep -q 'pa55' "$PW_TMP"/agent*.err && fail "a password reached the agent's log"
info "ok"
