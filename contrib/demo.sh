#!/usr/bin/env bash
# The demo: pipewatch predicting a real failure before it happens.
#
# Builds pipewatch, starts the development broker, a local webhook receiver
# standing in for Slack, an analyzer with alerting routed to it, and an
# agent whose exec collector replays a real recorded failure at accelerated
# time:
# NAB's machine_temperature_system_failure (an industrial machine's
# temperature sensor, 5-minute samples; NAB labels the failure at
# 2014-02-08 14:30), four and a half days of it in about 15 seconds. The
# samples go the agent's whole way (spool, Kafka, the analyzer's consumer
# group); the analyzer's rule is "machine.temperature < 20 within 24h". The
# demo prints the data as it flows, the prediction and the Slack alert as
# they arrive, and how early they came; then it stops everything and cleans
# up.
set -euo pipefail
cd "$(dirname "$0")/.."
./contrib/build.sh build >/dev/null

work=$(mktemp -d /tmp/pipewatch-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
wait_file() { for _ in $(seq 150); do [[ -s $1 ]] && return 0; sleep 0.1; done; return 1; }
wait_grep() { for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

echo "== the development broker (in memory, loopback only)"
./build/pipewatch-broker --brokers 1 --partitions 6 \
  --bootstrap-file "$work/bootstrap" >"$work/broker.out" 2>"$work/broker.log" &
pids+=($!)
wait_file "$work/bootstrap" || { echo "broker did not start:"; cat "$work/broker.log"; exit 1; }
boot=$(cat "$work/bootstrap")
echo "   bootstrap: $boot"

echo "== a local webhook receiver standing in for Slack"
python3 contrib/demo/slack_receiver.py "$work/slack.port" "$work/slack.out" 2>"$work/slack.log" &
pids+=($!)
wait_file "$work/slack.port" || { echo "the Slack stand-in did not start:"; cat "$work/slack.log"; exit 1; }
: >"$work/slack.out"
echo "   http://127.0.0.1:$(cat "$work/slack.port")/services/demo"

cat >"$work/analyzer.yaml" <<YAML
kafka:
  bootstrap.servers: "$boot"
group_id: demo
checkpoint:
  interval: 1s
forecast:
  step: 5m
rules:
  - name: machine_cooling_down
    expr: 'machine.temperature < 20 within 24h'
    severity: critical
    clear_for: 2h
status:
  listen: 127.0.0.1:0
alerting:
  dir: $work/alerting
  external_url: http://127.0.0.1:9466
  route:
    receiver: slack
    group_by: [alertname, entity]
    group_wait: 0s
    group_interval: 1s
  receivers:
    - name: slack
      slack_configs:
        - api_url: http://127.0.0.1:$(cat "$work/slack.port")/services/demo
          channel: "#plant-ops"
          send_resolved: true
YAML
echo "== pipewatch-analyzer, rule: machine.temperature < 20 within 24h, alerts to Slack"
./build/pipewatch-analyzer --config "$work/analyzer.yaml" 2>"$work/analyzer.log" &
pids+=($!)
wait_grep "$work/analyzer.log" "assigned [0-9]* partitions" ||
  { echo "analyzer did not join its group:"; tail "$work/analyzer.log"; exit 1; }

data=contrib/demo/machine_temperature.csv
cat >"$work/agent.yaml" <<YAML
entity: plant-machine-1
kafka:
  bootstrap.servers: "$boot"
spool:
  path: $work/spool.db
status:
  listen: 127.0.0.1:0
collectors:
  host:
    enabled: false
  exec:
    enabled: true
    interval: 250ms
    command: [python3, $PWD/contrib/demo/replay.py, $PWD/$data, $work/replay.pos, "24", machine, temperature]
    report: false
YAML
echo "== pipewatch-agent replaying NAB machine_temperature_system_failure, 2 h of data per 250 ms"
echo "   (NAB's labelled failure: 2014-02-08 14:30 UTC)"
./build/pipewatch-agent --config "$work/agent.yaml" 2>"$work/agent.log" &
pids+=($!)

# Follow the replay and the predictions until the data is used up.
rows=$(grep -cv '^#\|^start=' "$data")
shown=0
printed=0
slacked=0
deadline=$((SECONDS + 120))
while :; do
  if (( SECONDS > deadline )); then
    echo "   the replay did not finish in 120 s; the agent said:"; tail -5 "$work/agent.log"; exit 1
  fi
  pos=$(cat "$work/replay.pos" 2>/dev/null || echo 0)
  if (( pos >= shown + 144 || (pos == rows && shown < rows) )); then
    line=$(python3 contrib/demo/replay.py "$data" <(echo $((pos - 1))) 1 machine temperature 2>/dev/null || true)
    if [[ -n $line ]]; then
      ts=${line##* }; v=${line#*=}; v=${v%% *}
      printf '   data %s  temperature %6.2f\n' "$(date -u -d "@$((ts / 1000000000))" '+%Y-%m-%d %H:%M')" "$v"
    fi
    shown=$pos
  fi
  grep -h "prediction firing\|prediction resolved" "$work/analyzer.log" 2>/dev/null |
    sed 's/.*pipewatch-analyzer: prediction /   >> /; s/ \[rule [^,]*, data time \([^,]*\),.*/  [data time \1]/' \
    >"$work/preds.now" || true
  n=$(wc -l <"$work/preds.now")
  if (( n > printed )); then
    tail -n +$((printed + 1)) "$work/preds.now"
    printed=$n
  fi
  m=$(wc -l <"$work/slack.out")
  if (( m > slacked )); then
    tail -n +$((slacked + 1)) "$work/slack.out" | sed 's/^[0-9:]* /   Slack #plant-ops << /'
    slacked=$m
  fi
  (( pos >= rows )) && break
  sleep 0.2
done
sleep 3   # the last samples through Kafka and the analyzer
m=$(wc -l <"$work/slack.out")
(( m > slacked )) && tail -n +$((slacked + 1)) "$work/slack.out" | sed 's/^[0-9:]* /   Slack #plant-ops << /'

echo "== how early"
if ! grep -q "prediction firing" "$work/analyzer.log"; then
  echo "   no prediction fired (see $work/analyzer.log)"; trap - EXIT; cleanup; exit 1
fi
python3 - "$work/analyzer.log" <<'PY'
import datetime, re, sys
failure = datetime.datetime(2014, 2, 8, 14, 30, tzinfo=datetime.timezone.utc)
def words(td):
    m = int(td.total_seconds() // 60)
    return f"{m // 60} h {m % 60:02d} min"
events = []
for line in open(sys.argv[1]):
    m = re.search(r"prediction (firing|resolved): (.*) \[rule .*data time (\S+),", line)
    if m:
        at = datetime.datetime.fromisoformat(m.group(3).replace("Z", "+00:00"))
        events.append((m.group(1), at, m.group(2)))
for i, (kind, at, what) in enumerate(events):
    if kind != "firing":
        continue
    end = next((a for k, a, _ in events[i + 1:] if k == "resolved"), None)
    if at >= failure:
        print(f"   {at:%m-%d %H:%M}  after the failure: {what}")
    elif end is not None and end < failure:
        print(f"   {at:%m-%d %H:%M}  false alarm: resolved at {end:%m-%d %H:%M}, before the failure")
    else:
        print(f"   {at:%m-%d %H:%M}  {what}")
        print(f"               -> {words(failure - at)} before the failure NAB labels at "
              f"{failure:%Y-%m-%d %H:%M}; it stayed firing through it")
PY
port=$(sed -n 's/.*status port on .* (port \([0-9]*\)).*/\1/p' "$work/analyzer.log" | head -1)
echo "== the analyzer's counters"
curl -s "http://127.0.0.1:$port/metrics" |
  grep -E '^pipewatch_(analyzer_(samples_total|predictions_total\{kind="forecast_breach"|series|checkpoints_total)|alerting_notifications_total|alert_deliveries_sent_total) ' |
  sed 's/^/   /'
