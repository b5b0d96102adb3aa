#!/usr/bin/env bash
# test_kafka_tls_analyzer: the analyzer consumes (and checkpoints) over
# mutual TLS. As in test_kafka_tls, kafka_tls_proxy.py is the TLS server in
# front of the plaintext development broker; for a consumer it must also
# rewrite FindCoordinator responses, so that the group coordinator is
# reached through it too. Messages produced in plaintext straight to the
# broker must all be consumed by the analyzer through TLS, and the proxy
# must have verified the analyzer's client certificate.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/analyzer_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/tls_lib.sh"

make_ca ca
make_cert ca server 127.0.0.1 IP:127.0.0.1
make_cert ca client pipewatch-analyzer

start_broker --brokers 1 --partitions 2
start_tls_proxy proxy 0 server ca
PLAIN_BOOTSTRAP=$BOOTSTRAP
BOOTSTRAP=127.0.0.1:$PROXY_PORT write_analyzer_config "$PW_TMP/analyzer.yaml"
# The kafka: map is the second line onwards; add TLS to it.
sed -i "/^  bootstrap.servers:/a\\
  security.protocol: ssl\\
  ssl.ca.location: $PW_TMP/ca.pem\\
  ssl.certificate.location: $PW_TMP/client.pem\\
  ssl.key.location: $PW_TMP/client.key" "$PW_TMP/analyzer.yaml"
"$PW_ANALYZER" --config "$PW_TMP/analyzer.yaml" --check-config >"$PW_TMP/check.out" 2>&1 ||
    fail "--check-config: $(cat "$PW_TMP/check.out")"
start_analyzer "$PW_TMP/analyzer.yaml"

N=40
T0=$(( ($(date +%s) - 3600) * 1000000000 ))
for ((i = 0; i < N; i++)); do
    printf 'host-%d|cpu,host=host-%d usage_percent=%d %d\n' $((i % 4)) $((i % 4)) $((i % 100)) \
        $((T0 + i * 10000000000))
done | BOOTSTRAP=$PLAIN_BOOTSTRAP kproduce pipewatch.metrics
wait_ametric messages_total '>=' "$N" 60 ||
    fail "the analyzer consumed $(ametric messages_total) of $N messages through TLS"
stop_process "$ANALYZER_PID" 15 || fail "the analyzer did not stop cleanly"

grep -q 'client certificate verified: subject=commonName=pipewatch-analyzer' "$PROXY_LOG" ||
    fail "the proxy did not verify the analyzer's client certificate"
grep -q 'rewrote FindCoordinator' "$PROXY_LOG" || fail "no FindCoordinator went through the proxy"
grep -q 'UNPARSED' "$PROXY_LOG" && fail "the proxy met a response it cannot parse: $(grep UNPARSED "$PROXY_LOG")"
info "ok: $N messages consumed over TLS; $(grep -c 'client certificate verified' "$PROXY_LOG") TLS connections"
