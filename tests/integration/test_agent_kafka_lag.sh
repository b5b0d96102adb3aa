#!/usr/bin/env bash
# The agent with the kafka_lag and landing collectors, against the
# development broker; the points are read back from pipewatch.metrics with
# kcat. A real consumer group (kcat -G, a full join) consumes and commits 10
# of 30 messages on lagt[0] and leaves; then 5 messages a second keep
# arriving. Checked: committed offset 10, high watermark and lag exact on
# every point (lag = high - committed), the last lag equals produced - 10, a
# positive lag_rate, the group turning "stalled" (commits stopped while the
# lag grows) and staying so once the lag is flat, and the landing points of files written here with set mtimes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"

start_broker --partitions 2 --topics pipewatch.metrics,lagt
seq 1 30 | kcat -b "$BOOTSTRAP" -P -t lagt -p 0 || fail "kcat could not produce"
produced=30

# A consumer group that joins, reads 10 messages, commits them on close.
timeout 30 kcat -b "$BOOTSTRAP" -G itlag -X session.timeout.ms=6000 \
    -X auto.offset.reset=earliest -c 10 -q -f '%o\n' lagt >"$PW_TMP/consumed" ||
    fail "the kcat consumer group did not consume 10 messages"
[[ $(wc -l <"$PW_TMP/consumed") -eq 10 ]] || fail "consumed $(wc -l <"$PW_TMP/consumed") messages"

# Landing files: an old CSV and a newer JSON-lines file, mtimes set.
mkdir -p "$PW_TMP/landing"
printf 'id,customer,amount\n1,ann,3\n2,,4\n3,"bo, jr",\n4,,\n' >"$PW_TMP/landing/orders.csv"
printf '{"k":1,"v":"a"}\n{"k":2,"v":null}\n{"k":3}\n' >"$PW_TMP/landing/events.jsonl"
csv_mtime=$(($(date +%s) - 3600))
touch -d "@$csv_mtime" "$PW_TMP/landing/orders.csv"
touch -d "@$((csv_mtime + 1800))" "$PW_TMP/landing/events.jsonl"

write_agent_config "$PW_TMP/agent.yaml" it-lag
cat >>"$PW_TMP/agent.yaml" <<YAML
    enabled: false
  kafka_lag:
    enabled: true
    interval: 1s
    brokers: ["$BOOTSTRAP"]
    groups: [itlag]
    status_window: 3
    timeout: 2s
  landing:
    enabled: true
    interval: 1s
    paths:
      orders: "$PW_TMP/landing/*.csv"
      all: "$PW_TMP/landing"
YAML
"$PW_AGENT" --config "$PW_TMP/agent.yaml" --check-config >/dev/null ||
    fail "--check-config rejected the collectors' configuration"
start_agent "$PW_TMP/agent.yaml"
wait_metric kafka_delivered_total '>=' 2 20 || fail "the agent delivered nothing"

# The consumer is gone; data keeps coming.
for _ in 1 2 3 4 5 6; do
    seq 1 5 | kcat -b "$BOOTSTRAP" -P -t lagt -p 0 || fail "kcat could not produce"
    produced=$((produced + 5))
    sleep 1
done
sleep 2.5
stop_process "$AGENT_PID" 8 || fail "agent did not exit cleanly"
grep -q 'collector kafka_lag' "$PW_TMP/agent.err" &&
    fail "kafka_lag reported errors: $(grep 'collector kafka_lag' "$PW_TMP/agent.err" | head -3)"
read_topic_kcat "$PW_TMP/all.lp"

grep '^kafka_consumer_lag,group=itlag,partition=0,topic=lagt ' "$PW_TMP/all.lp" >"$PW_TMP/p0.lp" ||
    fail "no kafka_consumer_lag point for itlag lagt[0]"
info "$(wc -l <"$PW_TMP/p0.lp") lag points for lagt[0]; last: $(tail -1 "$PW_TMP/p0.lp")"
# field VALUE of line protocol line $0 (no string fields here)
awk_field='function f(k,   i, n, a) { n = split($2, a, ","); for (i = 1; i <= n; i++)
    if (index(a[i], k "=") == 1) { v = substr(a[i], length(k) + 2); sub(/i$/, "", v); return v }
    return "" }'
awk "$awk_field"'{ if (f("committed_offset") != 10 || f("lag") != f("high_watermark") - 10) bad = 1 }
     END { exit bad }' "$PW_TMP/p0.lp" ||
    fail "a point has committed != 10 or lag != high - committed: $(head -3 "$PW_TMP/p0.lp")"
last=$(tail -1 "$PW_TMP/p0.lp")
[[ $last == *" committed_offset=10i,high_watermark=${produced}i,lag=$((produced - 10))i,"* ]] ||
    fail "last lag point is not high=$produced lag=$((produced - 10)): $last"
awk "$awk_field"'f("lag_rate") > 0 { found = 1 } END { exit !found }' "$PW_TMP/p0.lp" ||
    fail "no positive lag_rate while messages kept arriving"
grep -q '^kafka_consumer_lag,group=itlag,partition=1,topic=lagt high_watermark=0i,lag=0i' \
    "$PW_TMP/all.lp" || fail "the partition without commit is not reported as lag 0"
grep -Eq '^kafka_consumer_group,group=itlag .*status="stalled",status_code=2i' "$PW_TMP/all.lp" ||
    fail "the group never turned stalled: $(grep '^kafka_consumer_group' "$PW_TMP/all.lp" | tail -3)"
grep '^kafka_consumer_group,group=itlag ' "$PW_TMP/all.lp" | tail -1 |
    grep -q "total_lag=$((produced - 10))i,.*status=\"stalled\"" ||
    fail "last group point is not total_lag=$((produced - 10)), stalled (the lag is flat now, the consumer still gone)"

# Landing: counts, age against the point's own timestamp, empty shares.
orders=$(grep '^data_landing,name=orders,' "$PW_TMP/all.lp" | tail -1)
[[ -n $orders ]] || fail "no data_landing point for orders"
[[ $orders == *" files=1i,"*"rows=4i,bad_rows=0i,columns=3i,"* ]] || fail "orders point: $orders"
echo "$orders" | awk -v m="$csv_mtime" '{ split($2, a, ","); for (i in a) if (a[i] ~ /^newest_age_seconds=/) {
        sub(/.*=/, "", a[i]); age = a[i] } d = age - ($3 / 1e9 - m); exit !(d > -1e-3 && d < 1e-3) }' ||
    fail "orders age does not match its mtime: $orders"
grep -q '^data_landing_column,column=customer,name=orders empty=2i,empty_share=0.5 ' "$PW_TMP/all.lp" ||
    fail "customer column: $(grep 'column=customer' "$PW_TMP/all.lp" | tail -1)"
grep -q '^data_landing_column,column=amount,name=orders empty=2i,empty_share=0.5 ' "$PW_TMP/all.lp" ||
    fail "amount column: $(grep 'column=amount' "$PW_TMP/all.lp" | tail -1)"
all=$(grep '^data_landing,name=all,' "$PW_TMP/all.lp" | tail -1)
[[ $all == *" files=2i,"*"rows=3i,"* ]] || fail "directory point: $all"
grep -q '^data_landing_column,column=v,name=all empty=2i,' "$PW_TMP/all.lp" ||
    fail "JSON lines column v: $(grep 'column=v,' "$PW_TMP/all.lp" | tail -1)"
info "ok: lag $((produced - 10)) of $produced, stalled seen; landing counts exact"
