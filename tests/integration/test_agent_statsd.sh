#!/usr/bin/env bash
# The agent's StatsD collector end to end: real UDP senders (python3, and
# bash's /dev/udp) send lines as Airflow and Spark's StatsdSink do, plus
# malformed ones, to the agent on an ephemeral port; the agent aggregates
# them every second and produces to the development broker; kcat reads the
# points back. Checks: counter sums over all intervals equal what was sent
# (sample rates scaled), exact percentiles of a one-packet timer, gauge
# deltas, set cardinality, templates into measurement and tags, DogStatsD
# tags, and the pipewatch_statsd counts (packets, lines, malformed); a
# SIGHUP reload restarts the collector; lines over TCP (bash's /dev/tcp).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"

command -v kcat >/dev/null || { echo "SKIPPED: no kcat" >&2; exit 77; }
command -v python3 >/dev/null || { echo "SKIPPED: no python3" >&2; exit 77; }

start_broker --partitions 1
write_agent_config "$PW_TMP/agent.yaml" it-statsd
sed -i 's/^  host:$/  host:\n    enabled: false/' "$PW_TMP/agent.yaml"
cat >>"$PW_TMP/agent.yaml" <<'YAML'
  statsd:
    enabled: true
    interval: 1s
    listen: 127.0.0.1:0
    tcp_listen: 127.0.0.1:0
    percentiles: [50, 90, 99]
    templates:
      - "airflow.ti.finish.* measurement.measurement.measurement.dag_id.task_id.state"
      - "airflow.dag.*.*.duration measurement.measurement.dag_id.task_id.measurement"
      - "airflow.* measurement.measurement.field"
      - "spark.*.driver.* measurement.app_id.executor_id.measurement*"
YAML
start_agent "$PW_TMP/agent.yaml"
port=$(sed -n 's/.*statsd: listening on udp .* (port \([0-9]*\)).*/\1/p' "$PW_TMP/agent.err" | tail -1)
[[ -n $port ]] || fail "the agent did not log its StatsD port"
info "statsd on udp port $port"

# python3: 200 datagrams of Airflow lines, one of 100 timings, Spark lines
# one per datagram, a set, and malformed lines mixed in.
python3 - "$port" <<'PY' || fail "python sender failed"
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def send(text):
    s.sendto(text.encode(), ("127.0.0.1", port))
for i in range(200):
    send("airflow.ti.finish.etl_daily.load_orders.success:1|c\n"
         "airflow.scheduler_heartbeat:1|c|@0.5\n"
         "airflow.dag_processing.processes:+1|g\n"
         "not a statsd line\n"
         "airflow.executor.open_slots:%d|g" % (i % 32))
    if i % 50 == 49:
        time.sleep(0.3)   # spread over intervals
send("\n".join("airflow.dag.etl_daily.load_orders.duration:%d.000000|ms" % v
               for v in range(100, 0, -1)))
app = "app-20231101120000-0001"
for line in ["spark.%s.driver.BlockManager.memory.memUsed_MB:12.00|g" % app,
             "spark.%s.driver.LiveListenerBus.numEventsPosted:214|c" % app,
             "spark.%s.driver.DAGScheduler.messageProcessingTime.max:3.51|ms" % app]:
    send(line)
send("users:alice|s\nusers:bob|s\nusers:alice|s|#env:prod\nusers:alice|s")
send("page.views:3|c|#region:eu,env:prod\npage.views:2|c|#env:prod,region:eu")
PY
# bash's /dev/udp: a datagram per write, and bash writes line by line, so
# one line per datagram.
for i in 1 2 3 4 5; do
    echo -n 'bash.counter:2|c' >"/dev/udp/127.0.0.1/$port"
    echo -n 'bash.bad:x|c' >"/dev/udp/127.0.0.1/$port"
done
sent_packets=$((200 + 1 + 3 + 1 + 1 + 10))
sent_lines=$((200 * 5 + 100 + 3 + 4 + 2 + 5 * 2))
sent_malformed=$((200 + 5))

sleep 2.5

# SIGHUP restarts the collectors, the new one before the old one stops
# (SO_REUSEPORT); with port 0 the new one gets a new port, which it logs.
kill -HUP "$AGENT_PID"
wait_for_grep "$PW_TMP/agent.err" 'configuration reloaded' 5 || fail "reload not applied"
port2=$(sed -n 's/.*statsd: listening on udp .* (port \([0-9]*\)).*/\1/p' "$PW_TMP/agent.err" | tail -1)
[[ $(grep -c 'statsd: listening on udp' "$PW_TMP/agent.err") -eq 2 ]] ||
    fail "the reload did not restart the StatsD collector"
echo -n 'after.reload:7|c' >"/dev/udp/127.0.0.1/$port2"
# TCP (bash's /dev/tcp) to the new collector: lines, the last without '\n'.
tport=$(sed -n 's/.*statsd: listening on tcp .* (port \([0-9]*\)).*/\1/p' "$PW_TMP/agent.err" | tail -1)
[[ -n $tport ]] || fail "the agent did not log its StatsD TCP port"
printf 'over.tcp:1|c\nover.tcp:2|c\nover.tcp:3|c' >"/dev/tcp/127.0.0.1/$tport"
sleep 2
t0=$(date +%s%N)
stop_process "$AGENT_PID" 8 || fail "agent did not exit cleanly"
(( ($(date +%s%N) - t0) / 1000000 < 5000 )) || fail "SIGTERM took more than 5 s"
read_topic_kcat "$PW_TMP/all.lp"
info "$(grep -c . "$PW_TMP/all.lp") points in Kafka"

# sum_field SERIES_PREFIX FIELD: the sum of FIELD over every point whose
# line starts with SERIES_PREFIX followed by a space.
sum_field() {
    awk -v s="$1 " -v f="$2" 'index($0, s) == 1 {
        n = split($2, kv, ","); for (i = 1; i <= n; i++) { split(kv[i], p, "=");
        if (p[1] == f) { v = p[2]; sub(/i$/, "", v); t += v } } } END { printf "%g\n", t + 0 }' \
        "$PW_TMP/all.lp"
}
last_field() {
    awk -v s="$1 " -v f="$2" 'index($0, s) == 1 {
        n = split($2, kv, ","); for (i = 1; i <= n; i++) { split(kv[i], p, "=");
        if (p[1] == f) { v = p[2]; sub(/i$/, "", v); last = v } } } END { printf "%g\n", last + 0 }' \
        "$PW_TMP/all.lp"
}
expect() {
    [[ $2 == "$3" ]] || { grep -F "${4:-$1}" "$PW_TMP/all.lp" | head -5 >&2; fail "$1: got $2, want $3"; }
}

expect "ti.finish counter" \
    "$(sum_field 'airflow_ti_finish,dag_id=etl_daily,metric_type=counter,state=success,task_id=load_orders' value)" 200
expect "sampled heartbeat (@0.5)" \
    "$(sum_field 'airflow_scheduler_heartbeat,metric_type=counter' value)" 400
expect "gauge deltas kept across intervals" \
    "$(last_field 'airflow_dag_processing,metric_type=gauge' processes)" 200
expect "gauge last value" "$(last_field 'airflow_executor,metric_type=gauge' open_slots)" $((199 % 32))
t='airflow_dag_duration,dag_id=etl_daily,metric_type=timing,task_id=load_orders'
for f in count:100 lower:1 upper:100 mean:50.5 p50:50 p90:90 p99:99; do
    expect "timer ${f%%:*}" "$(sum_field "$t" "${f%%:*}")" "${f#*:}" airflow_dag_duration
done
a='app_id=app-20231101120000-0001,executor_id=driver'
expect "spark gauge" "$(last_field "spark_BlockManager_memory_memUsed_MB,$a,metric_type=gauge" value)" 12
expect "spark counter" "$(sum_field "spark_LiveListenerBus_numEventsPosted,$a,metric_type=counter" value)" 214
expect "spark timer" "$(sum_field "spark_DAGScheduler_messageProcessingTime_max,$a,metric_type=timing" upper)" 3.51
expect "set" "$(sum_field 'users,metric_type=set' value)" 2
expect "set with a tag" "$(sum_field 'users,env=prod,metric_type=set' value)" 1
expect "dogstatsd tags in either order" "$(sum_field 'page.views,env=prod,metric_type=counter,region=eu' value)" 5
expect "bash /dev/udp counter" "$(sum_field 'bash.counter,metric_type=counter' value)" 10
st='pipewatch_statsd,listen=127.0.0.1:'"$port"
expect "packets" "$(last_field "$st" packets)" "$sent_packets" pipewatch_statsd
expect "lines" "$(last_field "$st" lines)" "$sent_lines" pipewatch_statsd
expect "malformed" "$(last_field "$st" malformed)" "$sent_malformed" pipewatch_statsd
expect "overflow" "$(last_field "$st" overflow)" 0 pipewatch_statsd
expect "after the reload" "$(sum_field 'after.reload,metric_type=counter' value)" 7
expect "over TCP" "$(sum_field 'over.tcp,metric_type=counter' value)" 6
info "ok: $sent_packets datagrams, $sent_lines lines, $sent_malformed malformed, all accounted for in Kafka"
