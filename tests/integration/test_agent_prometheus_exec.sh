#!/usr/bin/env bash
# The agent runs the prometheus and exec collectors against real processes
# and streams their points into the development broker; read back with kcat.
# Prometheus: python3's http.server on an ephemeral loopback port serves
# node-exporter text (up=1, samples, a histogram bucket, the target's labels)
# and a refused port stands for a dead exporter (up=0, and the good target
# keeps being scraped). Exec: a shell command prints line protocol with and
# without a timestamp, and its own `exec` report point.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"

command -v python3 >/dev/null || { info "SKIPPED: no python3"; exit 77; }
command -v kcat >/dev/null || { info "SKIPPED: no kcat"; exit 77; }

mkdir -p "$PW_TMP/www"
cat >"$PW_TMP/www/metrics" <<'PROM'
# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.42
# HELP node_network_receive_bytes_total Network device statistic receive_bytes.
# TYPE node_network_receive_bytes_total counter
node_network_receive_bytes_total{device="eth0"} 8.412305612e+09
# TYPE airflow_task_duration histogram
airflow_task_duration_bucket{dag_id="daily_etl",le="10"} 12
airflow_task_duration_bucket{dag_id="daily_etl",le="+Inf"} 48
airflow_task_duration_sum{dag_id="daily_etl"} 1023.5
airflow_task_duration_count{dag_id="daily_etl"} 48
PROM
start_bg http python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$PW_TMP/www"
wait_for_grep "$PW_TMP/http.out" 'port [0-9]+' 10 || fail "python3 http.server did not start"
HTTP_PORT=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$PW_TMP/http.out" | head -1)
# A port nobody listens on: bind, read it, close.
DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
GOOD=http://127.0.0.1:$HTTP_PORT/metrics
DEAD=http://127.0.0.1:$DEAD_PORT/metrics
info "exporter on $GOOD, dead target $DEAD"

start_broker --partitions 1
cat >"$PW_TMP/agent.yaml" <<YAML
entity: it-prom-exec
log_level: info
kafka:
  bootstrap.servers: "$BOOTSTRAP"
spool:
  path: $PW_TMP/spool.db
  retry_backoff: 500ms
shutdown_timeout: 3s
status:
  listen: 127.0.0.1:0
collectors:
  host:
    enabled: false
  prometheus:
    enabled: true
    interval: 1s
    targets:
      - url: $GOOD
        timeout: 800ms
        labels: {job: node}
      - url: $DEAD
        timeout: 800ms
  exec:
    enabled: true
    interval: 1s
    timeout: 900ms
    shell: true
    command:
      - 'echo "pipeline_job,dag=daily_etl rows=42i,ok=true";'
      - 'echo "fixed_ts v=1i 1700000000000000000"'
YAML
"$PW_AGENT" --config "$PW_TMP/agent.yaml" --check-config >/dev/null ||
    fail "--check-config rejected the configuration"

start_agent "$PW_TMP/agent.yaml"
wait_metric kafka_delivered_total '>=' 6 30 || fail "agent delivered fewer than 6 messages in 30 s"
stop_process "$AGENT_PID" 8 || fail "agent did not exit cleanly on SIGTERM"
grep -q "collector prometheus: prometheus: 1 of 2 targets failed: $DEAD" "$PW_TMP/agent.err" ||
    fail "the dead target was not reported: $(grep prometheus "$PW_TMP/agent.err" | head -3)"

read_topic_kcat "$PW_TMP/all.lp"
n_up=$(grep -c "^prometheus,job=node,url=$GOOD up=1,scrape_duration_seconds=" "$PW_TMP/all.lp" || true)
n_down=$(grep -c "^prometheus,url=$DEAD up=0,scrape_duration_seconds=[0-9.e-]*,scrape_samples_scraped=0," "$PW_TMP/all.lp" || true)
info "up=1 points: $n_up, up=0 points: $n_down"
(( n_up >= 2 )) || fail "fewer than 2 up=1 points for the exporter"
(( n_down >= 2 )) || fail "fewer than 2 up=0 points for the dead target"
grep -q "^prometheus,job=node,url=$GOOD up=1,.*scrape_samples_scraped=6,scrape_parse_errors=0 " "$PW_TMP/all.lp" ||
    fail "scrape_samples_scraped is not 6"
grep -Eq "^prometheus,job=node,url=$GOOD node_load1=0.42 [0-9]+000000000$" "$PW_TMP/all.lp" ||
    fail "no node_load1 point on a whole-second tick"
grep -q "^prometheus,device=eth0,job=node,url=$GOOD node_network_receive_bytes_total=8412305612 " "$PW_TMP/all.lp" ||
    fail "no counter point with its label"
grep -q "^prometheus,dag_id=daily_etl,job=node,le=+Inf,url=$GOOD airflow_task_duration_bucket=48 " "$PW_TMP/all.lp" ||
    fail "no +Inf bucket point"
grep -q "^prometheus,dag_id=daily_etl,job=node,url=$GOOD airflow_task_duration_count=48 " "$PW_TMP/all.lp" ||
    fail "no histogram _count point"

n_exec=$(grep -Ec '^pipeline_job,dag=daily_etl rows=42i,ok=true [0-9]+000000000$' "$PW_TMP/all.lp" || true)
(( n_exec >= 2 )) || fail "fewer than 2 exec points with the tick's timestamp"
grep -q '^fixed_ts v=1i 1700000000000000000$' "$PW_TMP/all.lp" || fail "exec point lost its own timestamp"
grep -Eq '^exec,command=echo exit_status=0i,duration_seconds=[0-9.e-]+,timed_out=false,points=2i,parse_errors=0i,dropped_bytes=0i ' "$PW_TMP/all.lp" ||
    fail "no exec report point"
info "ok: $n_up scrapes up, $n_down down, $n_exec exec runs, read back by kcat"
