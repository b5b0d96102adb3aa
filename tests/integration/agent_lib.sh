# tests/integration/agent_lib.sh — helpers for tests that run the agent:
# writing its configuration, reading its status port, reading the topic back.
# Source after lib.sh.

PW_AGENT=$PW_BUILD_DIR/pipewatch-agent
PW_TAIL=$PW_BUILD_DIR/pipewatch-tail

# write_agent_config FILE ENTITY [EXTRA_KAFKA_PROPS_YAML (indented 2)] — a 1 s host
# collector, the spool in PW_TMP, the status port on an ephemeral port.
write_agent_config() {
    local file=$1 entity=$2 extra=${3:-}
    cat >"$file" <<YAML
entity: $entity
log_level: info
kafka:
  bootstrap.servers: "$BOOTSTRAP"
$extra
spool:
  path: $PW_TMP/spool.db
  retry_backoff: 500ms
shutdown_timeout: 3s
status:
  listen: 127.0.0.1:0
collectors:
  host:
    interval: 1s
YAML
}

# start_agent CONFIG NAME — starts the agent (under $AGENT_WRAPPER if set),
# waits for its status port;
# sets AGENT_PID and AGENT_PORT.
start_agent() {
    local config=$1 name=${2:-agent}
    # shellcheck disable=SC2086  # AGENT_WRAPPER is words, e.g. "valgrind ..."
    start_bg "$name" ${AGENT_WRAPPER:-} "$PW_AGENT" --config "$config"
    AGENT_PID=$BG_PID
    wait_for_grep "$PW_TMP/$name.err" 'status port listening' 30 ||
        { cat "$PW_TMP/$name.err" >&2; fail "agent $name did not start"; }
    AGENT_PORT=$(sed -n 's/.*status port listening on .*(port \([0-9]*\)).*/\1/p' \
        "$PW_TMP/$name.err" | tail -1)
    info "agent $name pid $AGENT_PID, status port $AGENT_PORT"
}

# agent_metric NAME — the value of a pipewatch_agent_ metric (first series).
agent_metric() {
    curl -sf "http://127.0.0.1:$AGENT_PORT/metrics" |
        awk -v m="pipewatch_agent_$1" '$1 == m || index($1, m "{") == 1 { print $2; exit }'
}

# wait_metric NAME OP VALUE SECS — waits until the metric compares true.
wait_metric() {
    local name=$1 op=$2 want=$3 secs=$4 i v
    for ((i = 0; i < secs * 10; i++)); do
        v=$(agent_metric "$name" || true)
        if [[ -n $v ]] && awk -v a="$v" -v b="$want" "BEGIN { exit !(a $op b) }"; then
            return 0
        fi
        sleep 0.1
    done
    info "metric $name is '$v', wanted $op $want"
    return 1
}

# read_topic_kcat FILE — every message value on pipewatch.metrics so far.
read_topic_kcat() {
    kcat -b "$BOOTSTRAP" -C -t pipewatch.metrics -o beginning -e -q -f '%s' >"$1" ||
        fail "kcat could not read pipewatch.metrics"
}

# collections_of NAME — the collection count the agent logged when it stopped.
collections_of() {
    sed -n 's/.*stopped: \([0-9]*\) collections.*/\1/p' "$PW_TMP/$1.err" | tail -1
}

# outage_scenario EXTRA_KAFKA_YAML ORDER — the agent runs with a 1 s host
# collector; the broker goes down (SIGUSR1: connections closed and refused);
# during the outage the agent is stopped and started again (its spool is on
# disk); the broker comes back (SIGUSR2). Every collection made before,
# during and after the outage must be in Kafka exactly once; ORDER=strict
# also demands the order they were collected in.
outage_scenario() {
    local extra=$1 order=$2
    start_broker --partitions 3
    write_agent_config "$PW_TMP/agent.yaml" outage-host "$extra"
    start_agent "$PW_TMP/agent.yaml" agent1
    wait_metric kafka_delivered_total '>=' 3 20 || fail "no deliveries before the outage"

    info "broker down"
    kill -USR1 "$BROKER_PID"
    wait_for_grep "$BROKER_LOG" 'DOWN' 5 || fail "broker did not report going down"
    wait_metric spool_messages '>=' 6 15 || fail "spool did not grow during the outage"
    info "spool holds $(agent_metric spool_messages) messages; restarting the agent during the outage"
    stop_process "$AGENT_PID" 10 || fail "agent did not stop cleanly during the outage"
    grep -Eq "stopped: [0-9]+ collections, [0-9]+ messages delivered, [1-9][0-9]* in the spool" \
        "$PW_TMP/agent1.err" || fail "agent1 did not leave its messages in the spool"
    start_agent "$PW_TMP/agent.yaml" agent2
    grep -q 'holds [1-9][0-9]* messages from an earlier run' "$PW_TMP/agent2.err" ||
        fail "agent2 did not find the spooled messages"
    sleep 5

    info "broker up"
    kill -USR2 "$BROKER_PID"
    wait_for_grep "$BROKER_LOG" 'UP' 5 || fail "broker did not report coming up"
    wait_metric spool_messages '==' 0 40 || fail "spool did not drain after the outage"
    AGENT2_FAILURES=$(agent_metric kafka_delivery_failures_total)
    AGENT2_RESENT=$(agent_metric kafka_resent_total)
    sleep 1.5
    stop_process "$AGENT_PID" 10 || fail "agent2 did not stop cleanly"

    local c1 c2 expected got dups gaps
    c1=$(collections_of agent1)
    c2=$(collections_of agent2)
    expected=$((c1 + c2))
    read_topic_kcat "$PW_TMP/all.lp"
    grep '^system ' "$PW_TMP/all.lp" | awk '{print $NF}' >"$PW_TMP/ts"
    got=$(wc -l <"$PW_TMP/ts")
    dups=$(sort "$PW_TMP/ts" | uniq -d | wc -l)
    info "collections: $c1 + $c2 = $expected; in Kafka: $got; duplicates: $dups"
    [[ $dups -eq 0 ]] || fail "$dups collections arrived more than once"
    [[ $got -eq $expected ]] || fail "$got collections arrived, $expected were made"
    if [[ $order == strict ]]; then
        sort -n -c "$PW_TMP/ts" 2>/dev/null || fail "collections arrived out of order: $(tr '\n' ' ' <"$PW_TMP/ts")"
    fi
    # The ticks are consecutive seconds; only the restart may leave one gap.
    gaps=$(sort -n "$PW_TMP/ts" | awk 'NR > 1 && $1 - prev != 1000000000 { n++ } { prev = $1 } END { print n + 0 }')
    [[ $gaps -le 1 ]] || fail "$gaps gaps in the 1 s ticks"
}
