#!/usr/bin/env bash
# bench/logtail.sh — the whole agent path for log lines: the logtail
# collector reading a file from its beginning, records batched into
# newline-delimited JSON messages, the SQLite spool, librdkafka producing to
# the development broker, until Kafka has acknowledged every message. Not a
# test: it prints figures.
#
#   ./bench/logtail.sh [LINES]      (default 2000000; builds ./build if needed)
#   BENCH_INFLIGHT=64 ./bench/logtail.sh   (spool.max_inflight; default 1000)
#
# Figures: lines/s over the agent's CPU time (the whole process, librdkafka's
# threads included, from /proc/PID/stat) and over wall time, from the
# agent's start to the last acknowledgement; the agent's peak RSS (VmHWM).
# (The records are not read back: the development broker keeps only the
# newest few dozen MB of a partition. test_agent_logtail checks them.)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/pipewatch-agent && -x build/bench/bench-logtail ]] || ./contrib/build.sh build >/dev/null
lines=${1:-2000000}
work=$(mktemp -d /tmp/pipewatch-bench-logtail.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

python3 - "$work/app.log" "$lines" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
paths = ["/api/orders", "/api/users/42", "/static/app.js", "/healthz", "/api/search?q=café"]
with open(path, "w", encoding="utf-8") as f:
    for i in range(n):
        f.write(f"2026-12-04T12:00:{i // 1000 % 60:02d}.{i % 1000000:06d}Z INFO 10.0.{i % 256}.{i % 200} "
                f"GET {paths[i % 5]} 200 {100 + i % 9000} bytes in {50 + i % 5000} us\n")
PY
size=$(stat -c %s "$work/app.log")

./build/pipewatch-broker --bootstrap-file "$work/boot" >/dev/null 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/boot ]] && break; sleep 0.1; done
cat >"$work/agent.yaml" <<YAML
entity: bench-host
kafka:
  bootstrap.servers: "$(cat "$work/boot")"
  linger.ms: "20"
spool:
  path: $work/spool.db
  max_inflight: ${BENCH_INFLIGHT:-1000}
status:
  listen: 127.0.0.1:0
collectors:
  host:
    enabled: false
  logtail:
    enabled: true
    from_beginning: true
    state_file: $work/logtail.state
    files:
      - path: $work/app.log
YAML
t0=$(date +%s%N)
${BENCH_WRAPPER:-} ./build/pipewatch-agent --config "$work/agent.yaml" 2>"$work/agent.log" &
agent=$!
pids+=($agent)
for _ in $(seq 100); do grep -q 'status port listening' "$work/agent.log" && break; sleep 0.05; done
port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$work/agent.log" | head -1)
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { print $2; exit }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$agent/stat"; }
hz=$(getconf CLK_TCK)

# Done when every spooled message is acknowledged and the state file says
# the whole file was read.
done_at=""
for _ in $(seq 6000); do
    m=$(metric pipewatch_agent_messages_total || echo 0)
    d=$(metric pipewatch_agent_kafka_delivered_total || echo 0)
    off=$(awk 'NR == 2 { print $3 }' "$work/logtail.state" 2>/dev/null || echo 0)
    if [[ -n $m && $m -gt 0 && $m == "$d" && ${off:-0} -ge $size ]]; then
        done_at=$(date +%s%N)
        break
    fi
    sleep 0.02
done
[[ -n $done_at ]] || { echo "the agent did not finish; see $work/agent.log" >&2; exit 1; }
ticks=$(cpu_ticks)
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$agent/status")
wall=$(awk -v a="$t0" -v b="$done_at" 'BEGIN { print (b - a) / 1e9 }')
cpu=$(awk -v t="$ticks" -v hz="$hz" 'BEGIN { print t / hz }')
echo "pipewatch-agent logtail -> spool -> development broker: $lines lines, $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') MB, $m messages"
awk -v n="$lines" -v c="$cpu" -v w="$wall" 'BEGIN {
    printf "  %.0f lines/s of agent CPU (%.2f s, all threads)\n  %.0f lines/s wall (%.2f s, start to last ack)\n", n / c, c, n / w, w }'
echo "  peak RSS ${hwm} KiB"
