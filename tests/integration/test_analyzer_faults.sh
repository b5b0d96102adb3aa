#!/usr/bin/env bash
# Two analyzers in one consumer group against a faulty 3-broker cluster
# (pipewatch-broker's control file), with alerting to a local webhook
# receiver. Eight hosts' disks fill
# up over 20 minutes of data, fed in four parts; while each part is
# consumed the cluster fails requests or moves things:
#   1. Fetch, OffsetCommit, Heartbeat, FindCoordinator and Produce requests
#      fail with retriable errors (not leader, coordinator moving or not
#      available, timed out);
#   2. every partition of the input, state and predictions topics gets a new
#      leader, and the group's coordinator moves to another broker;
#   3. one broker goes down (while it leads some partitions and is the
#      coordinator) and the partitions fail over; it comes back;
#   4. Produce and OffsetCommit errors again while the predictions fire.
# Checks: both status ports answer within a second throughout; every sample
# is applied exactly once (the sum of the two samples_total: no faults here
# make the group rebalance, so each partition has one owner); each host's "disk full" prediction
# fires once; pipewatch.predictions holds one firing record per
# fingerprint; the receiver, which takes the first request of every
# notification and never answers it (the 2 s timeout ends it and it is
# retried), accepts exactly one notification per host, and the status port
# keeps answering while those requests hang.
#
# The analyzer's producer runs with one request in flight per connection:
# librdkafka 2.0.2's mock lets a batch through after a sequence gap, so an
# injected Produce error with a second batch in flight loses a record there
# (see test_agent_faults.sh); a real broker does not.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/analyzer_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/alerting_lib.sh"

command -v kcat >/dev/null || { info "SKIPPED: no kcat"; exit 77; }
start_broker --brokers 3 --partitions 6
start_receiver receiver --fault-first hang
GROUP=analyzer-faults

cat >"$PW_TMP/analyzer.yaml" <<YAML
log_level: info
kafka:
  bootstrap.servers: "$BOOTSTRAP"
  reconnect.backoff.max.ms: "1000"
  topic.metadata.refresh.interval.ms: "1000"
  max.in.flight.requests.per.connection: "1"
  session.timeout.ms: "6000"
  heartbeat.interval.ms: "500"
group_id: $GROUP
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
alerting:
  dir: $PW_TMP/alerting
  route:
    receiver: team
    group_by: [alertname, entity]
    group_wait: 1s
    group_interval: 2s
    repeat_interval: 1h
  receivers:
    - name: team
      webhook_configs:
        - url: http://127.0.0.1:$RCV_PORT/hook
          timeout: 2s
YAML
start_analyzer "$PW_TMP/analyzer.yaml" analyzer
PID1=$ANALYZER_PID PORT1=$ANALYZER_PORT
sed "s#^  dir: .*#  dir: $PW_TMP/alerting2#" "$PW_TMP/analyzer.yaml" >"$PW_TMP/analyzer2.yaml"
start_analyzer "$PW_TMP/analyzer2.yaml" analyzer2
PID2=$ANALYZER_PID PORT2=$ANALYZER_PORT
for a in analyzer analyzer2; do
    wait_for_grep "$PW_TMP/$a.err" "assigned 6 partitions" 60 ||
        fail "$a does not hold half of the 12 partitions: $(grep assigned "$PW_TMP/$a.err")"
done
info "analyzers $PID1 (port $PORT1) and $PID2 (port $PORT2), half of the partitions each"
assignments() { cat "$PW_TMP"/analyzer.err "$PW_TMP"/analyzer2.err | grep -cE 'assigned|revoked'; }
ASSIGNMENTS=$(assignments)

T0=$(( ($(date +%s) - 7200) * 1000000000 ))
HOSTS=8

# both NAME: the sum of the two analyzers' metric NAME.
both() {
    local a b
    a=$(ANALYZER_PORT=$PORT1 ametric "$1")
    b=$(ANALYZER_PORT=$PORT2 ametric "$1")
    echo $(( ${a:-0} + ${b:-0} ))
}
# status_ok WHEN: both status ports answer within a second.
status_ok() {
    local t v port
    for port in "$PORT1" "$PORT2"; do
        t=$(date +%s%N)
        v=$(ANALYZER_PORT=$port ametric samples_total)
        [[ -n $v ]] || fail "the status port $port did not answer ($1)"
        (( ($(date +%s%N) - t) / 1000000 < 1000 )) || fail "the status port $port took over 1 s ($1)"
    done
}
# feed FROM TO WHAT: produce minutes FROM..TO and wait until they are
# applied, checking the status port meanwhile.
feed() {
    local want i
    produce_disk_fill "$1" "$2" 0 $((HOSTS - 1))
    want=$(( $2 * 6 * HOSTS ))
    for ((i = 0; i < 900; i++)); do
        status_ok "$3"
        (( $(both samples_total) >= want )) && return 0
        sleep 0.1
    done
    fail "$3: $(both samples_total) of $want samples applied"
}
committed() {   # waits for two more confirmed commits by each analyzer
    local port m
    for port in "$PORT1" "$PORT2"; do
        m=$(ANALYZER_PORT=$port ametric commits_total)
        ANALYZER_PORT=$port wait_ametric commits_total ">=" $((m + 2)) 60 ||
            fail "no commits on port $port after: $1"
    done
}

feed 0 5 "the start"
committed "the start"

info "phase 1: retriable errors on Fetch, OffsetCommit, Heartbeat, FindCoordinator, Produce"
broker_control \
    "errors Fetch NOT_LEADER_FOR_PARTITION UNKNOWN_TOPIC_OR_PART LEADER_NOT_AVAILABLE NOT_LEADER_FOR_PARTITION" \
    "errors OffsetCommit COORDINATOR_NOT_AVAILABLE NOT_COORDINATOR REQUEST_TIMED_OUT COORDINATOR_LOAD_IN_PROGRESS" \
    "errors Heartbeat NOT_COORDINATOR COORDINATOR_NOT_AVAILABLE" \
    "errors FindCoordinator COORDINATOR_NOT_AVAILABLE COORDINATOR_NOT_AVAILABLE" \
    "errors Produce NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT LEADER_NOT_AVAILABLE NOT_ENOUGH_REPLICAS"
feed 5 10 "phase 1"
committed "phase 1"

info "phase 2: every leader moves, the coordinator moves"
broker_control "leader pipewatch.metrics * 2" "leader pipewatch.state * 3" \
    "leader pipewatch.predictions * 3" "coordinator group $GROUP 3"
feed 10 13 "phase 2"
committed "phase 2"

info "phase 3: broker 3 (state, predictions, coordinator) down, fail-over, up"
broker_control "down 3"
for _ in 1 2 3 4 5 6 7 8 9 10; do status_ok "broker 3 down"; sleep 0.1; done
broker_control "leader pipewatch.state * 1" "leader pipewatch.predictions * 2" \
    "coordinator group $GROUP 1"
feed 13 16 "phase 3"
broker_control "up 3"
committed "phase 3"

info "phase 4: Produce and OffsetCommit errors while predictions fire"
broker_control "errors Produce NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT NOT_ENOUGH_REPLICAS" \
    "errors OffsetCommit REQUEST_TIMED_OUT NOT_COORDINATOR"
feed 16 20 "phase 4"
committed "phase 4"

N=$(( 120 * HOSTS ))
sleep 1
(( $(both samples_total) == N )) || fail "samples applied $(both samples_total), want exactly $N"
for _ in $(seq 1 300); do
    (( $(cat "$PW_TMP"/analyzer*.err | grep -c "prediction firing" || true) >= HOSTS )) && break
    sleep 0.1
done
fired=$(cat "$PW_TMP"/analyzer*.err | grep -c "prediction firing" || true)
(( fired == HOSTS )) || fail "fired $fired predictions, want one per host ($HOSTS)"

# Each host's notification accepted exactly once.
accepted() {
    python3 - "$RCV_LOG" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["status"] != 200:
        continue
    b = json.loads(r["body"])
    for a in b["alerts"]:
        if a["status"] == "firing":
            print(a["labels"]["entity"], b["idempotencyKey"])
PY
}
for _ in $(seq 1 300); do
    (( $(accepted | wc -l) >= HOSTS )) && break
    status_ok "waiting for notifications"
    sleep 0.1
done
sleep 3   # two more group intervals: nothing more may come
accepted | sort >"$PW_TMP/accepted"
[[ $(cut -d' ' -f1 "$PW_TMP/accepted" | uniq | wc -l) -eq $HOSTS ]] ||
    fail "notified hosts: $(cut -d' ' -f1 "$PW_TMP/accepted" | tr '\n' ' ')"
[[ $(wc -l <"$PW_TMP/accepted") -eq $HOSTS ]] ||
    fail "a host was notified more than once: $(tr '\n' ' ' <"$PW_TMP/accepted")"

python3 - "$RCV_LOG" <<'PY' || fail "the receiver's first request of a notification did not hang"
import json, sys
first = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    first.setdefault(r["headers"]["idempotency-key"], r)
assert first and all(r.get("fault") == "hang" for r in first.values()), first
PY

timeout 20 kcat -C -b "$BOOTSTRAP" -t pipewatch.predictions -e -q -f '%s\n' \
    >"$PW_TMP/predictions" || fail "cannot read pipewatch.predictions"
python3 - "$PW_TMP/predictions" "$HOSTS" <<'PY' || fail "pipewatch.predictions is not one firing record per host"
import collections, json, sys
fp = collections.Counter()
for l in open(sys.argv[1]):
    if l.strip():
        r = json.loads(l)
        if r["status"] == "firing" and not r.get("update"):
            fp[r["fingerprint"]] += 1
dups = {k: v for k, v in fp.items() if v > 1}
assert not dups, f"duplicate firing records: {dups}"
assert len(fp) == int(sys.argv[2]), f"{len(fp)} fingerprints firing"
PY
(( $(assignments) == ASSIGNMENTS )) ||
    fail "the group rebalanced: $(grep -hE 'assigned|revoked' "$PW_TMP"/analyzer*.err)"
for pid in "$PID1" "$PID2"; do
    kill -0 "$pid" || fail "analyzer $pid died"
    stop_process "$pid" 20 || fail "analyzer $pid did not stop cleanly"
done
info "ok: two analyzers, $N samples once, $HOSTS predictions once, one notification per host, through request errors, leader and coordinator moves and a broker down"
