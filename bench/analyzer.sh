#!/usr/bin/env bash
# bench/analyzer.sh — the analyzer's throughput, latency and memory. Not a
# test: it prints figures (see bench/bench_analyzer.c for what each means).
#
#   ./bench/analyzer.sh [SAMPLES] [PROBES] [SERIES]
#
# Starts the development broker (6 partitions), then runs
# bench-analyzer kafka (one analyzer fed SAMPLES samples, default 5 M, in
# 50-line messages; PROBES produce-to-prediction latency probes) and
# bench-analyzer memory (SERIES series, default 1 M, in the engine alone).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x build/bench/bench-analyzer ]] || ./contrib/build.sh build >/dev/null
work=$(mktemp -d /tmp/pipewatch-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

./build/pipewatch-broker --brokers 1 --partitions 6 \
  --topics pipewatch.metrics,pipewatch.logs,pipewatch.predictions,pipewatch.state \
  --bootstrap-file "$work/boot" >/dev/null 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/boot ]] && break; sleep 0.1; done
[[ -s $work/boot ]] || { cat "$work/broker.log"; exit 1; }

echo "== one analyzer fed from the development broker"
./build/bench/bench-analyzer kafka "$(cat "$work/boot")" "${1:-5000000}" "${2:-200}"
echo "== memory: the engine alone"
./build/bench/bench-analyzer memory "${3:-1000000}"
