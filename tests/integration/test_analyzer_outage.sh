#!/usr/bin/env bash
# The analyzer rides out a Kafka outage: twelve hosts' disks fill up; in
# the middle of the building forecast every broker of the development
# cluster goes down for 8 s (SIGUSR1), then comes back (SIGUSR2). The
# analyzer stays up and its status port answers within a second throughout
# (its loop never waits on Kafka: checkpoints and commits complete
# asynchronously), no commit is confirmed while the cluster is away, and
# afterwards it consumes the rest: every
# sample is applied once, every host's "disk full" prediction fires once,
# and pipewatch.predictions holds exactly one firing record per host (no
# duplicate from the producer's retries). Then it is SIGKILLed and a new
# instance restarts from the last commit on top of the checkpointed state:
# it fires nothing again for what was already predicted.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/analyzer_lib.sh"

command -v kcat >/dev/null || fail "kcat is not installed (contrib/deps.sh)"
start_broker --partitions 6

cat >"$PW_TMP/analyzer.yaml" <<YAML
log_level: info
kafka:
  bootstrap.servers: "$BOOTSTRAP"
  reconnect.backoff.max.ms: "1000"
  topic.metadata.refresh.interval.ms: "1000"
group_id: outage-test
checkpoint:
  interval: 500ms
forecast:
  eval_interval: 10s
  trend_samples: 60
rules:
  - name: disk_full
    expr: 'disk.used_percent{path="/"} > 95 within 30m'
    severity: critical
status:
  listen: 127.0.0.1:0
YAML
start_analyzer "$PW_TMP/analyzer.yaml"
info "analyzer $ANALYZER_PID on port $ANALYZER_PORT"

T0=$(( ($(date +%s) - 7200) * 1000000000 ))
HOSTS=12

produce_disk_fill 0 10 0 $((HOSTS - 1))
N1=$(( 60 * HOSTS ))
wait_ametric samples_total ">=" "$N1" 30 || fail "phase 1: $(ametric samples_total) of $N1 samples"
c0=$(ametric checkpoints_total)
wait_ametric checkpoints_total ">=" $((c0 + 2)) 10 || fail "no checkpoints before the outage"

info "all brokers down for 8 s"
kill -USR1 "$BROKER_PID"
sleep 1
m0=$(ametric commits_total)
for _ in 1 2 3 4 5 6 7; do
    # The loop never waits on Kafka: the status port answers throughout.
    t=$(date +%s%N)
    [[ -n $(ametric samples_total) ]] || fail "the status port did not answer during the outage"
    (( ($(date +%s%N) - t) / 1000000 < 1000 )) || fail "the status port took over 1 s"
    sleep 1
done
kill -0 "$ANALYZER_PID" 2>/dev/null || fail "the analyzer died during the outage"
(( $(ametric commits_total) == m0 )) || fail "commits confirmed while the cluster was away"
kill -USR2 "$BROKER_PID"
info "brokers up"
wait_ametric commits_total ">" "$m0" 60 || fail "commits did not resume after the outage"
c1=$(ametric checkpoints_total)
wait_ametric checkpoints_total ">=" $((c1 + 2)) 60 || fail "checkpoints did not resume"

produce_disk_fill 10 20 0 $((HOSTS - 1))
N=$(( 120 * HOSTS ))
wait_ametric samples_total ">=" "$N" 60 || fail "after the outage: $(ametric samples_total) of $N samples"
sleep 1
(( $(ametric samples_total) == N )) || fail "samples applied $(ametric samples_total), want exactly $N"
for _ in $(seq 1 100); do
    (( $(grep -c "prediction firing" "$PW_TMP/analyzer.err" || true) >= HOSTS )) && break
    sleep 0.1
done
fired=$(grep -c "prediction firing" "$PW_TMP/analyzer.err" || true)
(( fired == HOSTS )) || fail "fired $fired predictions, want one per host ($HOSTS)"
count_records() {
    timeout 20 kcat -C -b "$BOOTSTRAP" -t pipewatch.predictions -e -q -f '%s\n' \
        >"$PW_TMP/predictions" || fail "cannot read pipewatch.predictions"
    # Firing records that are not refreshes ("update": true, every 5 min
    # of data while a prediction stands).
    python3 -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if l.strip() and
          json.loads(l)["status"] == "firing" and not json.loads(l).get("update")))' \
        "$PW_TMP/predictions"
}
for _ in $(seq 1 20); do
    n=$(count_records)
    (( n >= HOSTS )) && break
    sleep 0.5
done
(( n == HOSTS )) || fail "pipewatch.predictions holds $n firing records, want $HOSTS"
keys=$(grep '"status":"firing"' "$PW_TMP/predictions" | python3 -c '
import json, sys
print(len({json.loads(l)["fingerprint"] for l in sys.stdin}))')
(( keys == HOSTS )) || fail "$keys distinct fingerprints, want $HOSTS"
c2=$(ametric checkpoints_total)
wait_ametric checkpoints_total ">=" $((c2 + 2)) 10 || fail "no checkpoint after phase 2"

info "SIGKILL, then a new instance from the last commit"
kill -KILL "$ANALYZER_PID"
wait "$ANALYZER_PID" 2>/dev/null || true
start_analyzer "$PW_TMP/analyzer.yaml" analyzer2
produce_disk_fill 20 22 0 $((HOSTS - 1))
wait_ametric samples_total ">=" $(( 12 * HOSTS )) 30 ||
    fail "the new instance applied $(ametric samples_total) samples"
sleep 2
refired=$(grep -c "prediction firing" "$PW_TMP/analyzer2.err" || true)
(( refired == 0 )) || fail "the restarted analyzer fired $refired predictions again"
n=$(count_records)
(( n == HOSTS )) || fail "after the restart pipewatch.predictions holds $n firing records"
info "ok: outage ridden out, $N samples once, $HOSTS predictions once, none again after a restart"
