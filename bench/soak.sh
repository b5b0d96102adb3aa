#!/usr/bin/env bash
# bench/soak.sh — the whole pipeline held at a sample rate for a while:
# resident memory of every process and "count in = count out". Not a test
# (CI does not run it): it prints figures, and exits 1 with the reason when
# the counts differ or a process's memory grows.
#
#   ./bench/soak.sh [SECONDS] [RATE]     (default 600 s at 100000 samples/s;
#                                         builds ./build first if needed)
#   SOAK_SERIES=N  samples per exec run (default RATE / 10: one run per 100 ms)
#   SOAK_KEEP=1    keep the temporary directory (logs, configurations)
#
# The load: the agent's exec collector runs bench-soak_gen every 100 ms,
# which prints SERIES lines of line protocol with one numeric field each,
# and appends how many it printed to a count file once its stdout is
# written. One line is one point in the agent and one sample in the
# analyzer, so the counts compare sample for sample:
#   in        the sum of the count file (what the generator handed over)
#   agent     pipewatch_agent_points_total{collector="exec"}: points written
#             to the spool; "acked" when every spooled message was
#             acknowledged (messages_total == kafka_delivered_total, spool
#             empty, nothing dropped)
#   analyzer  pipewatch_analyzer_samples_total: samples applied
# After SECONDS the generator stops (a stop file; the agent keeps running
# it) and the pipeline gets up to 120 s to drain; then the three must be
# equal.
#
# Every 10 s: VmRSS and CPU (share of one core over the interval, all
# threads) of broker, agent and analyzer; the agent's points, messages
# spooled and acknowledged, spool depth; the analyzer's samples and consumer
# lag; the 1-minute load average (other work on the machine shows there).
#
# The analyzer checkpoints every 10 s; a checkpoint that fails (its offsets
# not committed) also fails the soak.
#
# Memory is "flat" when the median RSS of the last minute exceeds the
# median of the minute after warm-up by less than 1 MiB (medians: a
# transient peak, a checkpoint or a fetch in flight, is not growth). Warm-up is
# the first third of the run, at least a minute (20 s for runs under 3
# minutes): series and buffers being created, the development broker's
# in-memory log reaching its retention cap (about 200 s in a 10-minute run
# at 100 k/s), and the forecast rule's trend windows filling (its horizon
# of 2 minutes makes a window of 1 minute; the trend fit's workspace grows
# with the samples in the window until it is full; its predictions fire
# in the first minute). Also printed: the median RSS of the first minute
# of the run, and the slope of the least-squares line through the samples
# after warm-up in MiB/min, with its rise over that span.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
rate=${2:-100000}
series=${SOAK_SERIES:-$((rate / 10))}
every=10
flat_kib=1024
for b in pipewatch-agent pipewatch-analyzer pipewatch-broker bench/bench-soak_gen; do
    [[ -x build/$b ]] || { ./contrib/build.sh build >/dev/null; break; }
done
work=$(mktemp -d /tmp/pipewatch-soak.XXXXXX)
pids=()
cleanup() {
    # Newest first: agent and analyzer flush to a broker still there.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
    wait 2>/dev/null
    if [[ -n ${SOAK_KEEP:-} ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

./build/pipewatch-broker --bootstrap-file "$work/boot" >/dev/null 2>"$work/broker.log" &
broker=$!
pids+=($broker)
for _ in $(seq 100); do [[ -s $work/boot ]] && break; sleep 0.1; done
[[ -s $work/boot ]] || { cat "$work/broker.log"; exit 1; }
boot=$(cat "$work/boot")

# The analyzer as bench/analyzer.sh configures it (a forecast rule, two
# anomaly features), with a Holt-Winters step of 100 ms so that every
# sample updates its series' state rather than being refused as early.
cat >"$work/analyzer.yaml" <<YAML
log_level: info
kafka:
  bootstrap.servers: "$boot"
  fetch.wait.max.ms: "100"
group_id: soak
checkpoint:
  interval: 10s
forecast:
  step: 100ms
  eval_interval: 10s
features: [cpu.usage_iowait, mem.used_percent]
rules:
  - name: disk_full
    expr: 'disk.used_percent > 95 within 2m'
    severity: critical
status:
  listen: 127.0.0.1:0
YAML
./build/pipewatch-analyzer --config "$work/analyzer.yaml" 2>"$work/analyzer.log" &
analyzer=$!
pids+=($analyzer)

start=$(date +%s)
cat >"$work/agent.yaml" <<YAML
entity: soak-host
log_level: info
kafka:
  bootstrap.servers: "$boot"
  linger.ms: "20"
spool:
  path: $work/spool.db
status:
  listen: 127.0.0.1:0
collectors:
  host:
    enabled: false
  exec:
    enabled: true
    interval: 100ms
    timeout: 5s
    max_output_size: 256MiB
    report: false
    command: [$PWD/build/bench/bench-soak_gen, "$series", $work/count, "$start"]
YAML
: >"$work/count"
touch "$work/count.stop"    # no load until the analyzer holds its partitions
./build/pipewatch-agent --config "$work/agent.yaml" 2>"$work/agent.log" &
agent=$!
pids+=($agent)

port_of() { sed -n 's/.*status port.* (port \([0-9]*\)).*/\1/p' "$1" | head -1; }
for _ in $(seq 100); do
    [[ -n $(port_of "$work/agent.log") && -n $(port_of "$work/analyzer.log") ]] && break
    sleep 0.1
done
aport=$(port_of "$work/agent.log")
zport=$(port_of "$work/analyzer.log")
[[ -n $aport && -n $zport ]] || { tail "$work/agent.log" "$work/analyzer.log"; exit 1; }
scrape() { curl -s --max-time 5 "http://127.0.0.1:$1/metrics" || true; }
value() { awk -v m="$1" '$1 == m { print $2; found = 1; exit } END { if (!found) print 0 }'; }
for _ in $(seq 300); do
    [[ $(scrape "$zport" | value pipewatch_analyzer_partitions) -gt 0 ]] && break
    sleep 0.1
done

hz=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
child_ticks() { awk '{ print $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
count_in() { awk '{ s += $1 } END { print s + 0 }' "$work/count"; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# One row of the timeline; keeps the figures of the last sample in globals.
prev_t=0
declare -A prev_ticks=()
sample() {
    local t=$1 a z
    a=$(scrape "$aport")
    z=$(scrape "$zport")
    in=$(count_in)
    points=$(value 'pipewatch_agent_points_total{collector="exec"}' <<<"$a")
    msgs=$(value pipewatch_agent_messages_total <<<"$a")
    acked=$(value pipewatch_agent_kafka_delivered_total <<<"$a")
    spool=$(value pipewatch_agent_spool_messages <<<"$a")
    missed=$(value 'pipewatch_agent_missed_ticks_total{collector="exec"}' <<<"$a")
    dropped=$(( $(value pipewatch_agent_spool_dropped_messages_total <<<"$a") +
                $(value pipewatch_agent_kafka_dropped_total <<<"$a") +
                $(value pipewatch_agent_spool_errors_total <<<"$a") ))
    samples=$(value pipewatch_analyzer_samples_total <<<"$z")
    lag=$(value pipewatch_analyzer_consumer_lag <<<"$z")
    ckfail=$(value pipewatch_analyzer_checkpoint_failures_total <<<"$z")
    local row="" p name now cpu
    for name in broker agent analyzer; do
        p=${!name}
        now=$(ticks "$p")
        cpu=$(awk -v d="$((now - ${prev_ticks[$name]:-0}))" -v hz="$hz" -v dt="$((t - prev_t))" \
              'BEGIN { printf "%.0f", (dt > 0 ? 100 * d / hz / dt : 0) }')
        prev_ticks[$name]=$now
        r=$(rss "$p")
        row+=$(printf ' %7.1f %4s' "$(awk -v k="$r" 'BEGIN { print k / 1024 }')" "$cpu")
        echo "$t $name $r" >>"$work/rss"
    done
    prev_t=$t
    printf '%5d %11d %11d %8d %8d %6d %11d %6d %5s%s\n' "$t" "$in" "$points" "$msgs" "$acked" \
        "$spool" "$samples" "$lag" "$(load1)" "$row"
}

load_start=$(cat /proc/loadavg)
cpu0_broker=$(ticks "$broker"); cpu0_agent=$(ticks "$agent"); cpu0_analyzer=$(ticks "$analyzer")
cpu0_gen=$(child_ticks "$agent")
echo "soak: broker + agent (exec collector, $series samples every 100 ms) + analyzer for ${seconds} s at ${rate} samples/s"
echo "load average at start: $load_start ($(nproc) cores)"
printf '%5s %11s %11s %8s %8s %6s %11s %6s %5s %12s %12s %12s\n' "t/s" "in" "agent pts" "spooled" "acked" \
    "spool" "analyzer" "lag" "load" "broker MiB %" "agent MiB %" "analyz MiB %"
prev_ticks=([broker]=$cpu0_broker [agent]=$cpu0_agent [analyzer]=$cpu0_analyzer)
rm -f "$work/count.stop"
t0=$(date +%s%N)
elapsed() { echo $(( ($(date +%s%N) - t0) / 1000000000 )); }
for ((t = every; t <= seconds; t += every)); do
    sleep $(awk -v due="$t" -v now="$(( ($(date +%s%N) - t0) / 1000000 ))" \
            'BEGIN { d = due - now / 1000; print (d > 0 ? d : 0) }')
    sample "$t"
done
touch "$work/count.stop"
load_end=$(cat /proc/loadavg)
sleep 0.5                                 # a run started before the stop file
in=$(count_in)
wall_load=$(awk -v ns="$(( $(date +%s%N) - t0 ))" 'BEGIN { print ns / 1e9 }')

# Drain: until the analyzer has every sample and the agent every ack.
drain_t0=$(date +%s)
for _ in $(seq 1200); do
    in=$(count_in)
    a=$(scrape "$aport"); z=$(scrape "$zport")
    points=$(value 'pipewatch_agent_points_total{collector="exec"}' <<<"$a")
    msgs=$(value pipewatch_agent_messages_total <<<"$a")
    acked=$(value pipewatch_agent_kafka_delivered_total <<<"$a")
    spool=$(value pipewatch_agent_spool_messages <<<"$a")
    samples=$(value pipewatch_analyzer_samples_total <<<"$z")
    [[ $points == "$in" && $msgs == "$acked" && $spool == 0 && $samples -ge $in ]] && break
    sleep 0.1
done
drain_s=$(( $(date +%s) - drain_t0 ))
sleep 2                                   # anything counted twice shows now
in=$(count_in)
z=$(scrape "$zport")
samples=$(value pipewatch_analyzer_samples_total <<<"$z")
rejected=$(value pipewatch_analyzer_samples_rejected_total <<<"$z")
ckpts=$(value pipewatch_analyzer_checkpoints_total <<<"$z")
ckfail=$(value pipewatch_analyzer_checkpoint_failures_total <<<"$z")
nseries=$(value pipewatch_analyzer_series <<<"$z")
preds=$(grep '^pipewatch_analyzer_predictions_total' <<<"$z" | awk '{ s += $2 } END { print s + 0 }')
a=$(scrape "$aport")
missed=$(value 'pipewatch_agent_missed_ticks_total{collector="exec"}' <<<"$a")
runs=$(wc -l <"$work/count")
dropped=$(( $(value pipewatch_agent_spool_dropped_messages_total <<<"$a") +
            $(value pipewatch_agent_kafka_dropped_total <<<"$a") +
            $(value pipewatch_agent_spool_errors_total <<<"$a") ))
gen_cpu=$(( $(child_ticks "$agent") - cpu0_gen ))
wall_all=$(awk -v ns="$(( $(date +%s%N) - t0 ))" 'BEGIN { print ns / 1e9 }')
declare -A cpu_end=([broker]=$(ticks "$broker") [agent]=$(ticks "$agent") [analyzer]=$(ticks "$analyzer"))

echo
echo "load average at end of load: $load_end"
awk -v in_="$in" -v w="$wall_load" -v runs="$runs" -v missed="$missed" 'BEGIN {
    printf "samples in (generator):           %d in %.1f s = %.0f samples/s (%d exec runs, %d ticks missed)\n",
        in_, w, in_ / w, runs, missed }'
acked_note="all $acked messages acknowledged"
[[ $msgs == "$acked" && $spool == 0 && $dropped == 0 ]] || acked_note="NOT all acknowledged: $msgs spooled, $acked acknowledged, $spool in the spool, $dropped dropped"
echo "samples out of the agent:         $points ($acked_note)"
echo "samples applied by the analyzer:  $samples ($rejected refused by the forecast state; $nseries series; $preds prediction events; $ckpts checkpoints, $ckfail failed)"
echo "difference in - analyzer:         $((in - samples)) (agent: $((in - points))), after ${drain_s} s of drain"
echo
warm=$(( seconds >= 180 ? (seconds / 3 > 60 ? seconds / 3 / every * every : 60) : seconds / 3 / every * every ))
win=$(( seconds >= 180 ? 60 : seconds / 3 ))
echo "RSS (MiB, medians of 10-s samples; warm-up: the first $warm s; flat = last minute < minute after warm-up + $((flat_kib / 1024)) MiB):"
flat_all=1
reasons=()
for name in broker agent analyzer; do
    line=$(awk -v n="$name" -v warm="$warm" -v win="$win" -v end="$seconds" -v flat="$flat_kib" '
        BEGIN { k = 0 }
        function median(v, m,   i, j, x) {
            for (i = 1; i < m; i++)
                for (j = i; j > 0 && v[j - 1] > v[j]; j--) { x = v[j]; v[j] = v[j - 1]; v[j - 1] = x }
            return m % 2 ? v[(m - 1) / 2] : (v[m / 2 - 1] + v[m / 2]) / 2
        }
        $2 == n && $1 <= win { a0[n0++] = $3 }
        $2 == n && $1 > warm { t[k] = $1; r[k] = $3; k++
            if ($1 <= warm + win) fw[nf++] = $3
            if ($1 > end - win) lw[nl++] = $3 }
        END {
            s0 = median(a0, n0); f = median(fw, nf); l = median(lw, nl)
            for (i = 0; i < k; i++) { st += t[i]; sr += r[i] }
            mt = st / k; mr = sr / k
            for (i = 0; i < k; i++) { sxy += (t[i] - mt) * (r[i] - mr); sxx += (t[i] - mt) ^ 2 }
            slope = sxx > 0 ? sxy / sxx : 0               # KiB/s
            rise = slope * (t[k - 1] - t[0])
            printf "%s %.1f %.1f %.1f %.2f %.2f %d\n", n, s0 / 1024, f / 1024, l / 1024,
                slope * 60 / 1024, rise / 1024, l - f < flat }' "$work/rss")
    read -r _ start first last slope rise ok <<<"$line"
    printf '  %-9s first minute %6.1f  after warm-up %6.1f  last minute %6.1f  slope %+6.2f MiB/min  fitted rise %+6.2f MiB  %s\n' \
        "$name" "$start" "$first" "$last" "$slope" "$rise" "$([[ $ok == 1 ]] && echo flat || echo GROWING)"
    [[ $ok == 1 ]] || { flat_all=0; reasons+=("$name RSS grows from $first MiB after warm-up to $last MiB in the last minute"); }
done
echo "CPU from the start of the load to the end of the drain, $(printf %.0f "$wall_all") s (share of one core, all threads):"
for name in broker agent analyzer; do
    v=cpu0_$name
    awk -v n="$name" -v d="$(( ${cpu_end[$name]} - ${!v} ))" -v hz="$hz" -v w="$wall_all" \
        'BEGIN { printf "  %-9s %7.1f s  %5.1f %%\n", n, d / hz, 100 * d / hz / w }'
done
awk -v d="$gen_cpu" -v hz="$hz" -v w="$wall_all" \
    'BEGIN { printf "  %-9s %7.1f s  %5.1f %%  (the exec runs, reaped by the agent)\n", "generator", d / hz, 100 * d / hz / w }'

[[ $in -gt 0 ]] || reasons+=("no samples went in")
[[ $in == "$points" ]] || reasons+=("the agent has $points points for $in samples in")
[[ $msgs == "$acked" && $spool == 0 && $dropped == 0 ]] || reasons+=("the agent's messages are not all acknowledged ($acked_note)")
[[ $in == "$samples" ]] || reasons+=("the analyzer applied $samples samples for $in in")
[[ $ckfail == 0 && $ckpts -gt 0 ]] || reasons+=("the analyzer completed $ckpts checkpoints and failed $ckfail (offsets not committed; see its log)")
if [[ ${#reasons[@]} -gt 0 ]]; then
    printf 'FAIL: %s\n' "${reasons[@]}"
    exit 1
fi
echo "OK: count in = count out ($in), RSS flat"
