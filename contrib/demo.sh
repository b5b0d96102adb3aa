#!/usr/bin/env bash
# The demo: builds pipewatch, starts the development broker, an agent
# collecting this host's metrics every second, and a consumer printing what
# arrives in Kafka; half-way it takes the brokers down for 6 s to show the
# spool at work. Runs for about DEMO_SECONDS + 6 (default 20), then cleans up.
set -euo pipefail
cd "$(dirname "$0")/.."
./contrib/build.sh build >/dev/null

seconds=${DEMO_SECONDS:-20}
work=$(mktemp -d /tmp/pipewatch-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

echo "== starting the development broker (in memory, loopback only)"
./build/pipewatch-broker --brokers 1 --partitions 6 \
  --bootstrap-file "$work/bootstrap" >"$work/broker.out" 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/bootstrap ]] && break; sleep 0.1; done
[[ -s $work/bootstrap ]] || { echo "broker did not start:"; cat "$work/broker.log"; exit 1; }
boot=$(cat "$work/bootstrap")
echo "   bootstrap: $boot"

cat >"$work/agent.yaml" <<YAML
entity: demo-host
kafka:
  bootstrap.servers: "$boot"
spool:
  path: $work/spool.db
status:
  listen: 127.0.0.1:0
collectors:
  host:
    interval: 1s
YAML

echo "== starting pipewatch-agent (host metrics every second)"
./build/pipewatch-agent --config "$work/agent.yaml" 2>"$work/agent.log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'status port listening' "$work/agent.log" && break; sleep 0.1; done
grep -q 'status port listening' "$work/agent.log" || { echo "agent did not start:"; cat "$work/agent.log"; exit 1; }

echo "== consuming pipewatch.metrics for ${seconds}s with pipewatch-tail (our consumer)"
echo "   one line per collection, summarised from the points as they arrive:"
printf '   %-8s %-10s %5s %6s %6s %7s %6s %s\n' time entity part cpu% load1 mem% disk/% points
./build/pipewatch-tail --bootstrap-file "$work/bootstrap" \
  --topic pipewatch.metrics --group demo 2>"$work/tail.log" |
  awk -F'\t' '
    function val(line, key,   m) {
      if (match(line, "[ ,]" key "=[-0-9.e+]+")) {
        m = substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 2); return m + 0 }
      return "" }
    { line = $4; split(line, w, " "); ts = w[length(w)]; n[ts]++
      if (line ~ /^cpu[ ,]/) cpu[ts] = 100 - val(line, "usage_idle")
      if (line ~ /^system /) load[ts] = val(line, "load1")
      if (line ~ /^mem /) mem[ts] = val(line, "used_percent")
      if (line ~ /^disk,.*path=\/ /) disk[ts] = val(line, "used_percent")
      if (line ~ /^processes /) {
        t = strftime("%H:%M:%S", int(ts / 1e9), 1)
        c = (ts in cpu) ? sprintf("%.1f", cpu[ts]) : "-"
        printf "   %-8s %-10s %5s %6s %6.2f %7.2f %6s %d\n", t, $1, $2, c, load[ts], mem[ts], \
          (ts in disk) ? sprintf("%.1f", disk[ts]) : "-", n[ts]
        fflush()
      } }' &
pids+=($!)

# Half-way, take the cluster away for a while: the agent keeps collecting
# into its spool, and replays it in order when the brokers are back.
port=$(sed -n 's/.*status port listening on .*(port \([0-9]*\)).*/\1/p' "$work/agent.log" | head -1)
spooled() { curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "pipewatch_agent_spool_messages" { print $2 }'; }
sleep $((seconds / 2))
echo "   -- broker DOWN (SIGUSR1): the agent keeps collecting into its spool"
kill -USR1 "${pids[0]}"
sleep 6
echo "   -- spool now holds $(spooled) messages; broker UP again (SIGUSR2): replaying in order"
kill -USR2 "${pids[0]}"
for _ in $(seq 300); do [[ $(spooled) == 0 ]] && break; sleep 0.1; done
echo "   -- spool drained: $(spooled) messages left"
sleep $((seconds - seconds / 2))
pkill -INT -f "pipewatch-tail --bootstrap-file $work/bootstrap" || true
sleep 1
sed 's/^/   /' "$work/tail.log" | tail -1

echo "== agent's own metrics"
if [[ -n $port ]]; then
  curl -s "http://127.0.0.1:$port/metrics" | grep -E '^pipewatch_agent_(kafka_delivered_total|spool_messages|points_total)'
fi
echo "== done; stopping everything"
