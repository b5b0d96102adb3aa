#!/usr/bin/env bash
# The agent streams host metrics into Kafka: read back with kcat (an
# independent client) and with our own consumer (pipewatch-tail); checks the
# key, the line protocol, drift-free 1 s timestamps, the status port,
# --once, --check-config, SIGHUP reload (bad config kept out, good one
# applied) and a bounded SIGTERM.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"

# --once needs no Kafka and prints line protocol.
"$PW_AGENT" --once >"$PW_TMP/once.lp" || fail "--once failed"
for m in cpu system mem swap processes; do
    grep -Eq "^$m[ ,]" "$PW_TMP/once.lp" || fail "--once printed no $m point"
done
grep -Eq '^disk,device=[^ ]*,fstype=[^ ]*,path=/ .*used_percent=' "$PW_TMP/once.lp" ||
    fail "--once printed no disk point for /"

start_broker --partitions 3
write_agent_config "$PW_TMP/agent.yaml" it-host-1

# --check-config: valid, then a typo named by file, line and key.
"$PW_AGENT" --config "$PW_TMP/agent.yaml" --check-config >/dev/null ||
    fail "--check-config rejected a valid config"
sed 's/interval: 1s/intervl: 1s/' "$PW_TMP/agent.yaml" >"$PW_TMP/bad.yaml"
rc=0
"$PW_AGENT" --config "$PW_TMP/bad.yaml" --check-config 2>"$PW_TMP/check.err" || rc=$?
[[ $rc -eq 2 ]] || fail "--check-config on a bad key exited $rc, not 2"
grep -q "bad.yaml:[0-9]*: collectors.host.intervl: unknown key" "$PW_TMP/check.err" ||
    fail "--check-config message lacks file:line:key: $(cat "$PW_TMP/check.err")"
printf 'kafka:\n  bootstrap.servers: x\n  no.such.property: 1\n' >"$PW_TMP/badkafka.yaml"
rc=0
"$PW_AGENT" --config "$PW_TMP/badkafka.yaml" --check-config 2>"$PW_TMP/check2.err" || rc=$?
[[ $rc -eq 2 ]] && grep -q 'badkafka.yaml:3: kafka.no.such.property' "$PW_TMP/check2.err" ||
    fail "a bad librdkafka property is not reported with file:line:key: $(cat "$PW_TMP/check2.err")"

start_agent "$PW_TMP/agent.yaml"
wait_metric kafka_delivered_total '>=' 4 20 || fail "agent delivered fewer than 4 messages in 20 s"

# A bad configuration on SIGHUP is refused and the agent keeps running.
cp "$PW_TMP/agent.yaml" "$PW_TMP/agent.good"
sed -i "s|  retry_backoff: 500ms|  retry_backoff: 500ms\n  max_bytes: lots|" "$PW_TMP/agent.yaml"
kill -HUP "$AGENT_PID"
wait_for_grep "$PW_TMP/agent.err" 'reload refused.*spool.max_bytes' 5 ||
    fail "a bad reload was not refused with the key named"
before=$(agent_metric kafka_delivered_total)
wait_metric kafka_delivered_total '>' "$before" 5 || fail "agent stopped delivering after a refused reload"

# A good one is applied: a new entity becomes the key of new messages.
sed 's/entity: it-host-1/entity: it-host-2/' "$PW_TMP/agent.good" >"$PW_TMP/agent.yaml"
kill -HUP "$AGENT_PID"
wait_for_grep "$PW_TMP/agent.err" 'configuration reloaded' 5 || fail "good reload not applied"
sleep 2.5

# SIGTERM: flushed and gone within shutdown_timeout (3 s) plus a margin.
t0=$(date +%s%N)
stop_process "$AGENT_PID" 8 || fail "agent did not exit cleanly on SIGTERM"
elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
(( elapsed_ms < 5000 )) || fail "SIGTERM took ${elapsed_ms} ms"
collections=$(collections_of agent)
grep -q 'stopped:.* 0 in the spool' "$PW_TMP/agent.err" || fail "spool not empty at a clean stop"

# kcat: keys, and one `system` point per collection, 1 s apart exactly.
kcat -b "$BOOTSTRAP" -C -t pipewatch.metrics -o beginning -e -q -f '%k\n' >"$PW_TMP/keys"
sort -u "$PW_TMP/keys" >"$PW_TMP/keys.u"
[[ $(cat "$PW_TMP/keys.u") == $'it-host-1\nit-host-2' ]] || fail "keys are $(tr '\n' ' ' <"$PW_TMP/keys.u")"
read_topic_kcat "$PW_TMP/all.lp"
grep '^system ' "$PW_TMP/all.lp" | awk '{print $NF}' >"$PW_TMP/ts"
n=$(wc -l <"$PW_TMP/ts")
[[ $n -eq $collections ]] || fail "$n system points in Kafka, the agent made $collections collections"
awk 'NR > 1 && ($1 - prev) % 1000000000 != 0 { bad = 1 } NR > 1 && $1 <= prev { bad = 1 }
     { if ($1 % 1000000000 != 0) bad = 1; prev = $1 } END { exit bad }' "$PW_TMP/ts" ||
    fail "timestamps are not increasing whole seconds: $(head -5 "$PW_TMP/ts" | tr '\n' ' ')"

# Our own consumer reads the same points.
"$PW_TAIL" -b "$BOOTSTRAP" -g it-test -i 3000 >"$PW_TMP/tail.out" 2>"$PW_TMP/tail.err" ||
    fail "pipewatch-tail failed: $(cat "$PW_TMP/tail.err")"
tail_n=$(cut -f4 "$PW_TMP/tail.out" | grep -c '^system ' || true)
all_n=$(grep -c . "$PW_TMP/all.lp")
[[ $tail_n -eq $n ]] || fail "pipewatch-tail saw $tail_n system points, kcat $n"
[[ $(wc -l <"$PW_TMP/tail.out") -eq $all_n ]] || fail "pipewatch-tail saw $(wc -l <"$PW_TMP/tail.out") points, kcat $all_n"
grep -q ' 0 malformed' "$PW_TMP/tail.err" || fail "our consumer found malformed messages"
info "ok: $n collections, $all_n points, read identically by kcat and pipewatch-tail"
