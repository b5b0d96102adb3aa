#!/usr/bin/env bash
# The agent under valgrind memcheck with every collector running against
# real peers: host; StatsD over UDP and TCP; a Prometheus scrape of python3's
# http.server plus a dead target; exec; the log tail with a rename
# rotation; landing files; kafka_lag of a real kcat consumer group. On the
# way: the status port behind a bearer token (refused without it), a SIGHUP
# reload, the whole cluster down (SIGUSR1) while collectors keep writing
# into the spool and back up (SIGUSR2), then SIGTERM. Checks: no memory
# error and no leak (definite or indirect), and every log line appended
# reached Kafka — so the paths valgrind watched were the working ones.
# Skipped in the sanitizer build, where valgrind cannot run ASan's binaries;
# reports "not run" rather than passing then.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
if [[ $(ldd "$PW_AGENT") == *libasan* ]]; then
    info "sanitizer build: valgrind does not apply"
    exit 77
fi
command -v valgrind >/dev/null || fail "valgrind is not installed (contrib/deps.sh installs it)"
command -v kcat >/dev/null || fail "kcat is not installed (contrib/deps.sh)"

start_broker --partitions 1

# Peers: an exporter and a dead target, a consumer group with a commit,
# landing files, a log file.
mkdir -p "$PW_TMP/www" "$PW_TMP/landing" "$PW_TMP/logs"
printf '# TYPE node_load1 gauge\nnode_load1 0.42\n# TYPE req counter\nreq_total{code="200"} 7\n' \
    >"$PW_TMP/www/metrics"
start_bg http python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$PW_TMP/www"
wait_for_grep "$PW_TMP/http.out" 'port [0-9]+' 10 || fail "python3 http.server did not start"
HTTP_PORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$PW_TMP/http.out" | head -1)
DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
seq 1 20 | kcat -b "$BOOTSTRAP" -P -t lagt -p 0 || fail "kcat could not produce"
timeout 30 kcat -b "$BOOTSTRAP" -G vglag -X session.timeout.ms=6000 \
    -X auto.offset.reset=earliest -c 10 -q -f '%o\n' lagt >/dev/null ||
    fail "the kcat consumer group did not consume"
printf 'id,amount\n1,3\n2,\n' >"$PW_TMP/landing/orders.csv"
: >"$PW_TMP/logs/app.log"
echo "s3cr3t-status-token" >"$PW_TMP/token"

cat >"$PW_TMP/agent.yaml" <<YAML
entity: valgrind-host
log_level: info
kafka:
  bootstrap.servers: "$BOOTSTRAP"
spool:
  path: $PW_TMP/spool.db
  retry_backoff: 500ms
shutdown_timeout: 5s
status:
  listen: 127.0.0.1:0
  token_file: $PW_TMP/token
collectors:
  host:
    interval: 1s
  statsd:
    enabled: true
    interval: 1s
    listen: 127.0.0.1:0
    tcp_listen: 127.0.0.1:0
  prometheus:
    enabled: true
    interval: 1s
    targets:
      - url: http://127.0.0.1:$HTTP_PORT/metrics
        timeout: 3s
        labels: {job: node}
      - url: http://127.0.0.1:$DEAD_PORT/metrics
        timeout: 1s
  exec:
    enabled: true
    interval: 1s
    timeout: 5s
    shell: true
    command: ['echo "pipeline_job,dag=etl rows=42i"; echo "not line protocol"']
  logtail:
    enabled: true
    interval: 200ms
    poll_interval: 200ms
    rotate_wait: 1s
    state_file: $PW_TMP/logtail.state
    files:
      - path: $PW_TMP/logs/*.log
        multiline_start: '^\\d'
  landing:
    enabled: true
    interval: 1s
    paths:
      orders: "$PW_TMP/landing/*.csv"
  kafka_lag:
    enabled: true
    interval: 1s
    brokers: ["$BOOTSTRAP"]
    groups: [vglag]
    timeout: 5s
YAML
"$PW_AGENT" --config "$PW_TMP/agent.yaml" --check-config >/dev/null ||
    fail "--check-config rejected the configuration"

AGENT_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$PW_TMP/valgrind.log"
start_agent "$PW_TMP/agent.yaml"
metric() {  # the status port wants the token
    curl -sf -H "Authorization: Bearer s3cr3t-status-token" \
        "http://127.0.0.1:$AGENT_PORT/metrics" |
        awk -v m="pipewatch_agent_$1" '$1 == m || index($1, m "{") == 1 { print $2; exit }'
}
wait_delivered() {  # wait_delivered MIN SECS
    local i v
    for ((i = 0; i < $2 * 5; i++)); do
        v=$(metric kafka_delivered_total || true)
        [[ -n $v ]] && (( ${v%.*} >= $1 )) && return 0
        sleep 0.2
    done
    return 1
}
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AGENT_PORT/metrics")
[[ $code == 401 ]] || fail "the status port answered $code without the token, want 401"
wait_delivered 3 60 || fail "the agent under valgrind delivered too little"
sport=$(sed -n 's/.*statsd: listening on udp .* (port \([0-9]*\)).*/\1/p' "$PW_TMP/agent.err" | tail -1)
tport=$(sed -n 's/.*statsd: listening on tcp .* (port \([0-9]*\)).*/\1/p' "$PW_TMP/agent.err" | tail -1)
[[ -n $sport && -n $tport ]] || fail "the agent did not log its StatsD ports"

# write_lines FROM TO — numbered log lines, one multiline record each, and
# StatsD traffic alongside.
write_lines() {
    local i
    for ((i = $1; i <= $2; i++)); do
        printf '%d valgrind line\n  continuation of %d\n' "$i" "$i" >>"$PW_TMP/logs/app.log"
        echo "vg.count:1|c" >"/dev/udp/127.0.0.1/$sport"
    done
    printf 'vg.tcp:%d|g\nbad line\n' "$2" >"/dev/tcp/127.0.0.1/$tport"
}
write_lines 1 50
kill -HUP "$AGENT_PID"
wait_for_grep "$PW_TMP/agent.err" 'configuration reloaded' 30 || fail "reload not applied"
# Wait for the restarted StatsD collector's new ports.
for _ in $(seq 150); do
    n=$(grep -c 'statsd: listening on udp' "$PW_TMP/agent.err" || true)
    (( n >= 2 )) && break
    sleep 0.2
done
sport=$(sed -n 's/.*statsd: listening on udp .* (port \([0-9]*\)).*/\1/p' "$PW_TMP/agent.err" | tail -1)
tport=$(sed -n 's/.*statsd: listening on tcp .* (port \([0-9]*\)).*/\1/p' "$PW_TMP/agent.err" | tail -1)
write_lines 51 100
mv "$PW_TMP/logs/app.log" "$PW_TMP/logs/app.log.1"
: >"$PW_TMP/logs/app.log"
write_lines 101 150

# The cluster goes away: collectors go on into the spool.
before=$(metric kafka_delivered_total)
kill -USR1 "$BROKER_PID"
wait_for_grep "$BROKER_LOG" 'DOWN' 10 || fail "the broker did not go down"
write_lines 151 200
printf 'id,amount\n9,1\n' >"$PW_TMP/landing/more.csv"
for _ in $(seq 150); do
    v=$(metric spool_messages || true)
    [[ -n $v ]] && (( ${v%.*} >= 5 )) && break
    sleep 0.2
done
(( ${v%.*} >= 5 )) || fail "the spool held ${v:-?} messages during the outage, want 5 or more"
kill -USR2 "$BROKER_PID"
wait_delivered $(( ${before%.*} + 5 )) 90 || fail "no deliveries after the cluster came back"
# The last record is shipped once a line starting a new one follows it.
echo "201 end" >>"$PW_TMP/logs/app.log"

for _ in $(seq 300); do
    kcat -b "$BOOTSTRAP" -C -t pipewatch.logs -o beginning -e -q -f '%s\n' 2>/dev/null |
        grep -o '"line":"[0-9]* valgrind line' | sort -u >"$PW_TMP/lines" || true
    (( $(wc -l <"$PW_TMP/lines") >= 200 )) && break
    sleep 0.5
done
(( $(wc -l <"$PW_TMP/lines") == 200 )) ||
    fail "$(wc -l <"$PW_TMP/lines") of 200 log records reached Kafka"
read_topic_kcat "$PW_TMP/all.lp"
for m in '^vg.count' '^vg.tcp' '^pipewatch_statsd' '^prometheus' '^pipeline_job' '^exec' '^logtail' \
         '^kafka_consumer_lag' '^data_landing'; do
    grep -q "$m" "$PW_TMP/all.lp" || fail "no $m point reached Kafka"
done

rc=0
stop_process "$AGENT_PID" 60 || rc=$?
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost' "$PW_TMP/valgrind.log" >&2 || true
[[ $rc -eq 0 ]] || fail "agent under valgrind exited $rc (99 = memcheck errors; see valgrind.log)"
grep -q 'ERROR SUMMARY: 0 errors' "$PW_TMP/valgrind.log" || fail "memcheck reported errors"
info "ok: valgrind clean with every collector, a reload, a rotation and an outage"
