#!/usr/bin/env bash
# bench/agent.sh — the agent's footprint: resident memory and CPU time per
# host collection, at a 1 s interval, over BENCH_SECONDS (default 60), with
# the development broker receiving. Not a test: it prints figures.
#
#   ./bench/agent.sh            (builds ./build first if needed)
#
# Figures: RSS now and its peak (VmHWM) from /proc, split into anonymous
# memory (the agent's own) and file-backed pages (shared libraries' code); CPU time of the whole
# process (all librdkafka threads included) per collection, from
# /proc/PID/stat; and the CPU spent inside the host collector itself, from
# the agent's own pipewatch_agent_collect_cpu_seconds_total.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/pipewatch-agent ]] || ./contrib/build.sh build >/dev/null
seconds=${BENCH_SECONDS:-60}
work=$(mktemp -d /tmp/pipewatch-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

./build/pipewatch-broker --bootstrap-file "$work/boot" >/dev/null 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/boot ]] && break; sleep 0.1; done
cat >"$work/agent.yaml" <<YAML
entity: bench-host
kafka:
  bootstrap.servers: "$(cat "$work/boot")"
spool:
  path: $work/spool.db
status:
  listen: 127.0.0.1:0
collectors:
  host:
    interval: 1s
YAML
./build/pipewatch-agent --config "$work/agent.yaml" 2>"$work/agent.log" &
agent=$!
pids+=($agent)
for _ in $(seq 100); do grep -q 'status port listening' "$work/agent.log" && break; sleep 0.1; done
port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$work/agent.log" | head -1)
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" 'index($1, m) == 1 { print $2; exit }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$agent/stat"; }
hz=$(getconf CLK_TCK)

sleep 2   # past start-up and the first collection
c0=$(metric pipewatch_agent_collections_total)
t0=$(cpu_ticks)
k0=$(metric pipewatch_agent_collect_cpu_seconds_total)
echo "pipewatch-agent: host collector every 1 s for ${seconds} s, producing to the development broker"
sleep "$seconds"
c1=$(metric pipewatch_agent_collections_total)
t1=$(cpu_ticks)
k1=$(metric pipewatch_agent_collect_cpu_seconds_total)
d1=$(metric pipewatch_agent_kafka_delivered_total)
p1=$(metric pipewatch_agent_points_total)
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$agent/status")
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$agent/status")
anon=$(awk '/^RssAnon/ { print $2 }' "/proc/$agent/status")
file=$(awk '/^RssFile/ { print $2 }' "/proc/$agent/status")
n=$((c1 - c0))
awk -v n="$n" -v t="$((t1 - t0))" -v hz="$hz" -v k0="$k0" -v k1="$k1" -v rss="$rss" \
    -v hwm="$hwm" -v d="$d1" -v p="$p1" -v anon="$anon" -v file="$file" 'BEGIN {
  printf "collections:                 %d (%d points, %d messages delivered in all)\n", n, p, d
  printf "RSS now / peak:              %.1f MB / %.1f MB\n", rss / 1024, hwm / 1024
  printf "  of which anonymous (heap, stacks): %.1f MB; file-backed (shared library pages): %.1f MB\n", anon / 1024, file / 1024
  printf "process CPU per collection:  %.3f ms (all threads; clock tick %d Hz)\n", (t / hz) * 1000 / n, hz
  printf "collector CPU per collection: %.3f ms\n", (k1 - k0) * 1000 / n
}'
