#!/usr/bin/env bash
# Receivers' TLS verification is on by default. An HTTPS webhook receiver
# whose certificate comes from a CA made here (not in the system's store):
#  - with no tls_config, every delivery fails verification: nothing reaches
#    the receiver, the attempts are retried with reason "tls" and the log
#    says why (curl's certificate error);
#  - with http_config.tls_config.ca_file naming that CA, all are delivered;
#  - with insecure_skip_verify they are delivered too, and a warning says
#    that the certificate is not verified (never silently);
#  - a ca_file that does not exist is a configuration error naming
#    FILE:LINE and the key.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alerting_lib.sh"
. "$(dirname "$0")/tls_lib.sh"

make_ca ca
make_cert ca server 127.0.0.1 IP:127.0.0.1
start_receiver rcv --tls-cert "$PW_TMP/server.pem" --tls-key "$PW_TMP/server.key"
URL=https://127.0.0.1:$RCV_PORT
cat >"$PW_TMP/cfg.yaml" <<YAML
delivery: {backoff_initial: 100ms, backoff_max: 500ms, connect_timeout: 5s}
receivers:
  - name: default
    webhook_configs:
      - url: "$URL/default"
  - name: withca
    webhook_configs:
      - url: "$URL/withca"
        http_config:
          tls_config:
            ca_file: "$PW_TMP/ca.pem"
  - name: insecure
    webhook_configs:
      - url: "$URL/insecure"
        http_config: {tls_config: {insecure_skip_verify: true}}
YAML

info "default: the certificate must verify against the system's CAs"
rc=0
run_driver d --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/d.db" --enqueue 3 \
    --receiver default --deadline 3 || rc=$?
[[ $rc -eq 2 ]] || fail "default: driver exit $rc, want 2 (still pending): $(cat "$PW_TMP/d.out" "$PW_TMP/d.err")"
[[ $(counter d sent) == 0 ]] || fail "default: sent $(counter d sent), want 0"
[[ $(counter d retried_tls) -ge 3 ]] || fail "default: retried_tls $(counter d retried_tls), want >= 3"
grep -Eq "alert delivery to default webhook\[0\] \(https://127\.0\.0\.1:$RCV_PORT/…\): TLS: SSL peer certificate" \
    "$PW_TMP/d.err" || fail "default: no clear log line: $(cat "$PW_TMP/d.err")"
grep -q '/default' "$RCV_LOG" && fail "default: a request reached the receiver unverified"

info "withca: verified against tls_config.ca_file"
run_driver c --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/c.db" --enqueue 3 \
    --receiver withca --deadline 20 || fail "withca: $(cat "$PW_TMP/c.out" "$PW_TMP/c.err")"
[[ $(counter c sent) == 3 ]] || fail "withca: sent $(counter c sent), want 3"
[[ $(grep -c '"/withca"' "$RCV_LOG") == 3 ]] || fail "withca: the receiver logged $(grep -c '"/withca"' "$RCV_LOG") requests"

info "insecure: delivered, with a warning"
run_driver i --config "$PW_TMP/cfg.yaml" --db "$PW_TMP/i.db" --enqueue 2 \
    --receiver insecure --deadline 20 || fail "insecure: $(cat "$PW_TMP/i.out" "$PW_TMP/i.err")"
[[ $(counter i sent) == 2 ]] || fail "insecure: sent $(counter i sent), want 2"
grep -q "cfg.yaml:[0-9]*: receivers\[2\].webhook_configs\[0\].http_config.tls_config.insecure_skip_verify: the receiver's TLS certificate will not be verified (https://127.0.0.1:$RCV_PORT/…)" \
    "$PW_TMP/i.err" || fail "insecure: no warning: $(cat "$PW_TMP/i.err")"

info "a ca_file that does not exist"
sed "s#ca_file: .*#ca_file: \"$PW_TMP/nope.pem\"#" "$PW_TMP/cfg.yaml" >"$PW_TMP/bad.yaml"
rc=0
run_driver b --config "$PW_TMP/bad.yaml" --db "$PW_TMP/b.db" --no-deliver || rc=$?
[[ $rc -ne 0 ]] || fail "a missing ca_file was accepted"
line=$(grep -n 'url: .*/withca' "$PW_TMP/bad.yaml" | cut -d: -f1)   # the item's line
grep -q "bad.yaml:$line: receivers\[1\].webhook_configs\[0\].http_config.tls_config.ca_file: cannot read $PW_TMP/nope.pem" \
    "$PW_TMP/b.err" || fail "unexpected message: $(cat "$PW_TMP/b.err")"
info "ok"
