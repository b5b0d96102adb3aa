#!/usr/bin/env bash
# test_kafka_sasl_config: SASL settings as far as the development broker
# lets them go. The broker (librdkafka 2.0.2's mock cluster) has no SASL at
# all: its ApiVersions lists neither SaslHandshake (17) nor
# SaslAuthenticate (36). So this test shows:
#  1. PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER settings (with sasl_ssl and
#     sasl_plaintext) pass --check-config for the agent and the analyzer:
#     librdkafka accepts them and this build has the mechanisms;
#     sasl.password_file takes the password from a file, and a missing
#     one fails --check-config with FILE:LINE: KEY;
#  2. an unknown mechanism fails --check-config with FILE:LINE: KEY and
#     the list of known ones (librdkafka itself would only complain when
#     the client is created); a misspelt property name fails likewise;
#  3. run against the development broker, the agent reports the broker's
#     missing SASL clearly, keeps running and keeps its data in the spool.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/agent_lib.sh"
BOOTSTRAP=127.0.0.1:9   # for the configuration checks: never contacted

agent_cfg() {   # agent_cfg FILE KAFKA_YAML
    write_agent_config "$1" sasl-host "$2"
}
analyzer_cfg() {
    printf 'kafka:\n  bootstrap.servers: "%s"\n%s\n' "$BOOTSTRAP" "$2" >"$1"
}
check() {   # check PROGRAM FILE -> exit status, output in FILE.out
    local rc=0
    "$PW_BUILD_DIR/pipewatch-$1" --config "$2" --check-config >"$2.out" 2>&1 || rc=$?
    return "$rc"
}

i=0
for proto in sasl_ssl sasl_plaintext; do
    for mech in PLAIN SCRAM-SHA-256 SCRAM-SHA-512 OAUTHBEARER; do
        i=$((i + 1))
        props="  security.protocol: $proto
  sasl.mechanism: $mech"
        [[ $mech == OAUTHBEARER ]] || props+="
  sasl.username: pipewatch
  sasl.password: pw-$i"
        [[ $proto == sasl_ssl ]] && props+="
  ssl.ca.location: probe"
        agent_cfg "$PW_TMP/a$i.yaml" "$props"
        check agent "$PW_TMP/a$i.yaml" || fail "agent: $proto $mech refused: $(cat "$PW_TMP/a$i.yaml.out")"
        analyzer_cfg "$PW_TMP/z$i.yaml" "$props"
        check analyzer "$PW_TMP/z$i.yaml" || fail "analyzer: $proto $mech refused: $(cat "$PW_TMP/z$i.yaml.out")"
    done
done
info "$i SASL configurations accepted by both programs"

agent_cfg "$PW_TMP/bad.yaml" "  security.protocol: sasl_ssl
  sasl.mechanism: SCRAM-SHA-1
  sasl.username: pipewatch
  sasl.password: x"
rc=0; check agent "$PW_TMP/bad.yaml" || rc=$?
[[ $rc -eq 2 ]] || fail "an unknown mechanism: exit $rc"
line=$(grep -n 'sasl.mechanism' "$PW_TMP/bad.yaml" | cut -d: -f1)
grep -q "bad.yaml:$line: kafka.sasl.mechanism: unknown SASL mechanism \"SCRAM-SHA-1\"" "$PW_TMP/bad.yaml.out" ||
    fail "unexpected: $(cat "$PW_TMP/bad.yaml.out")"
analyzer_cfg "$PW_TMP/badz.yaml" "  sasl.mechanism: KERBEROS"
rc=0; check analyzer "$PW_TMP/badz.yaml" || rc=$?
[[ $rc -eq 2 ]] && grep -q 'badz.yaml:3: kafka.sasl.mechanism: unknown SASL mechanism "KERBEROS"' "$PW_TMP/badz.yaml.out" ||
    fail "analyzer, unknown mechanism: exit $rc: $(cat "$PW_TMP/badz.yaml.out")"
agent_cfg "$PW_TMP/typo.yaml" "  sasl.pasword: x"
rc=0; check agent "$PW_TMP/typo.yaml" || rc=$?
[[ $rc -eq 2 ]] && grep -q 'typo.yaml:[0-9]*: kafka.sasl.pasword: No such configuration property' "$PW_TMP/typo.yaml.out" ||
    fail "a misspelt property: exit $rc: $(cat "$PW_TMP/typo.yaml.out")"

printf 'from-a-file\n' >"$PW_TMP/pw"
agent_cfg "$PW_TMP/pwfile.yaml" "  security.protocol: sasl_ssl
  sasl.mechanism: PLAIN
  sasl.username: pipewatch
  sasl.password_file: $PW_TMP/pw"
check agent "$PW_TMP/pwfile.yaml" || fail "sasl.password_file refused: $(cat "$PW_TMP/pwfile.yaml.out")"
sed -i "s#sasl.password_file: .*#sasl.password_file: $PW_TMP/nope#" "$PW_TMP/pwfile.yaml"
line=$(grep -n 'sasl.password_file' "$PW_TMP/pwfile.yaml" | cut -d: -f1)
rc=0; check agent "$PW_TMP/pwfile.yaml" || rc=$?
[[ $rc -eq 2 ]] && grep -q "pwfile.yaml:$line: kafka.sasl.password_file: .*$PW_TMP/nope" "$PW_TMP/pwfile.yaml.out" ||
    fail "a missing password file: exit $rc: $(cat "$PW_TMP/pwfile.yaml.out")"

info "against the development broker, which has no SASL"
start_broker --brokers 1 --partitions 2
agent_cfg "$PW_TMP/run.yaml" "  security.protocol: sasl_plaintext
  sasl.mechanism: PLAIN
  sasl.username: pipewatch
  sasl.password: pw
  message.timeout.ms: 3000"
start_agent "$PW_TMP/run.yaml" agent
wait_for_grep "$PW_TMP/agent.err" 'error .*SASL Handshake not supported by broker' 20 ||
    fail "the agent did not report the broker's missing SASL"
wait_metric spool_messages '>=' 3 20 || fail "the spool did not grow"
[[ $(agent_metric kafka_delivered_total) == 0 ]] || fail "delivered without SASL?"
kill -0 "$AGENT_PID" || fail "the agent died"
stop_process "$AGENT_PID" 10 || fail "the agent did not stop cleanly"
info "ok"
