#!/usr/bin/env bash
# test_kafka_tls: the agent produces to Kafka over mutual TLS, and a broker
# certificate it cannot verify stops nothing but delivery.
#
# The development broker speaks plaintext only, so a TLS-terminating proxy
# (kafka_tls_proxy.py: Python's ssl, i.e. OpenSSL) stands in front of it;
# the proxy rewrites the broker port in Metadata/FindCoordinator responses
# so that every connection of the client goes through it. Certificates come
# from a CA made here. The checks:
#  1. the proxy first presents a server certificate signed by another CA:
#     the agent logs a certificate verification error, keeps running and
#     keeps its collections in the spool;
#  2. the proxy is restarted on the same port with the right certificate:
#     the spool drains, every collection the agent made arrives exactly once
#     (read back from the broker directly, in plaintext, with kcat), and the
#     proxy saw the agent's client certificate (CN=pipewatch-agent, its key
#     encrypted, the password read from a file: ssl.key.password_file);
#  3. --check-config names FILE:LINE: kafka.ssl.ca.location when the CA file
#     does not exist.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/agent_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/tls_lib.sh"

make_ca ca
make_ca rogue
make_cert ca server 127.0.0.1 IP:127.0.0.1
make_cert rogue rogue-server 127.0.0.1 IP:127.0.0.1
make_cert ca client pipewatch-agent "" 'k3y-pa55'

printf 'k3y-pa55\n' >"$PW_TMP/key-password"
start_broker --brokers 1 --partitions 3

start_tls_proxy proxy1 0 rogue-server ca
TLS_PORT=$PROXY_PORT
PLAIN_BOOTSTRAP=$BOOTSTRAP
BOOTSTRAP=127.0.0.1:$TLS_PORT write_agent_config "$PW_TMP/agent.yaml" tls-host \
"  security.protocol: ssl
  ssl.ca.location: $PW_TMP/ca.pem
  ssl.certificate.location: $PW_TMP/client.pem
  ssl.key.location: $PW_TMP/client.key
  ssl.key.password_file: $PW_TMP/key-password
  message.timeout.ms: 5000"

"$PW_AGENT" --config "$PW_TMP/agent.yaml" --check-config >"$PW_TMP/check.out" 2>&1 ||
    fail "--check-config refused the TLS configuration: $(cat "$PW_TMP/check.out")"

info "phase 1: the broker's certificate is signed by an unknown CA"
start_agent "$PW_TMP/agent.yaml" agent
wait_for_grep "$PW_TMP/agent.err" 'certificate verify failed' 30 ||
    fail "the agent logged no certificate verification error"
grep -m1 'certificate verify failed' "$PW_TMP/agent.err" >&2
wait_metric spool_messages '>=' 4 30 || fail "the spool did not grow while TLS failed"
[[ $(agent_metric kafka_delivered_total) == 0 ]] || fail "something was delivered through the rogue proxy"
kill -0 "$AGENT_PID" || fail "the agent died on a TLS error"
grep -q 'client certificate verified' "$PW_TMP/proxy1.err" &&
    fail "a connection got past a certificate the agent cannot verify"

info "phase 2: the right certificate, same port"
stop_process "$PROXY_PID" 5 || true
start_tls_proxy proxy2 "$TLS_PORT" server ca
[[ $PROXY_PORT == "$TLS_PORT" ]] || fail "the proxy came back on $PROXY_PORT, not $TLS_PORT"
wait_metric spool_messages '==' 0 60 || fail "the spool did not drain over TLS"
wait_metric kafka_delivered_total '>=' 6 30 || fail "too few deliveries over TLS"
sleep 1.5
stop_process "$AGENT_PID" 10 || fail "the agent did not stop cleanly"

grep -q 'client certificate verified: subject=commonName=pipewatch-agent' "$PW_TMP/proxy2.err" ||
    fail "the proxy did not verify the agent's client certificate"
grep -q 'rewrote Metadata' "$PW_TMP/proxy2.err" || fail "no Metadata went through the proxy"
grep -E 'UNPARSED' "$PW_TMP/proxy2.err" && fail "the proxy met a response it cannot parse"

made=$(collections_of agent)
BOOTSTRAP=$PLAIN_BOOTSTRAP read_topic_kcat "$PW_TMP/all.lp"
grep '^system ' "$PW_TMP/all.lp" | awk '{print $NF}' >"$PW_TMP/ts"
got=$(wc -l <"$PW_TMP/ts")
dups=$(sort "$PW_TMP/ts" | uniq -d | wc -l)
info "collections made: $made; in Kafka: $got; duplicates: $dups"
[[ $dups -eq 0 ]] || fail "$dups collections arrived more than once"
[[ $got -eq $made && $got -gt 0 ]] || fail "$got collections arrived, $made were made"

info "phase 3: a CA file that does not exist"
sed "s#ssl.ca.location: .*#ssl.ca.location: $PW_TMP/no-such-ca.pem#" \
    "$PW_TMP/agent.yaml" >"$PW_TMP/bad.yaml"
line=$(grep -n 'ssl.ca.location' "$PW_TMP/bad.yaml" | cut -d: -f1)
rc=0
"$PW_AGENT" --config "$PW_TMP/bad.yaml" --check-config >"$PW_TMP/bad.out" 2>&1 || rc=$?
[[ $rc -eq 2 ]] || fail "--check-config exited $rc on a missing CA file"
grep -q "bad.yaml:$line: kafka.ssl.ca.location: cannot read $PW_TMP/no-such-ca.pem" \
    "$PW_TMP/bad.out" || fail "unexpected message: $(cat "$PW_TMP/bad.out")"
grep -q 'k3y-pa55' "$PW_TMP"/*.err "$PW_TMP"/*.out && fail "the key password reached a log"
info "ok"
