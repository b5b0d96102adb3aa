# tests/integration/analyzer_lib.sh — starting an analyzer and reading its
# status port, for the analyzer's integration tests. Source after lib.sh.
#
#   write_analyzer_config FILE [EXTRA_YAML]   a config on $BOOTSTRAP with the
#                        test rules; EXTRA_YAML is appended (top-level keys)
#   start_analyzer FILE  runs $ANALYZER_WRAPPER pipewatch-analyzer (the
#                        wrapper may be empty, or valgrind ...); sets
#                        ANALYZER_PID, ANALYZER_PORT; waits for the
#                        assignment
#   ametric NAME         the value of pipewatch_analyzer_NAME (label-less)
#   wait_ametric NAME OP VALUE SECS
#   produce_disk_fill FROM TO H0 H1
#                        disks filling up: samples every 10 s from minute
#                        FROM to minute TO (of data time from $T0, Unix ns)
#                        for host-H0..host-H1, used_percent = 50 + 45 t /
#                        40 min plus a little noise (seeded by FROM), to
#                        pipewatch.metrics keyed by host. The rule
#                        'disk.used_percent{path="/"} > 95 within 30m' with
#                        a 60-sample trend window fires at about minute 13.3

PW_ANALYZER=$PW_BUILD_DIR/pipewatch-analyzer

write_analyzer_config() {
    local file=$1 extra=${2:-}
    cat >"$file" <<YAML
log_level: info
kafka:
  bootstrap.servers: "$BOOTSTRAP"
group_id: analyzer-test
checkpoint:
  interval: 500ms
forecast:
  eval_interval: 10s
  trend_samples: 60
rules:
  - name: disk_full
    expr: 'disk.used_percent > 95 within 30m'
    severity: critical
  - name: oom_burst
    expr: 'log category out_of_memory > 3 per 5m'
    clear_for: 1m
status:
  listen: 127.0.0.1:0
$extra
YAML
}

start_analyzer() {
    local cfg=$1 name=${2:-analyzer}
    # shellcheck disable=SC2086
    start_bg "$name" ${ANALYZER_WRAPPER:-} "$PW_ANALYZER" --config "$cfg"
    ANALYZER_PID=$BG_PID
    wait_for_grep "$PW_TMP/$name.err" "assigned [0-9]+ partitions" 120 ||
        fail "the analyzer got no partitions: $(tail -5 "$PW_TMP/$name.err")"
    ANALYZER_PORT=$(sed -n 's/.*status port on .* (port \([0-9]*\)).*/\1/p' \
        "$PW_TMP/$name.err" | head -1)
    [[ -n $ANALYZER_PORT ]] || fail "no status port in the analyzer's log"
}

ametric() {
    curl -s --max-time 5 "http://127.0.0.1:$ANALYZER_PORT/metrics" |
        awk -v n="pipewatch_analyzer_$1" '$1 == n {print $2}'
}

wait_ametric() {
    local name=$1 op=$2 want=$3 secs=$4 i v
    for ((i = 0; i < secs * 10; i++)); do
        v=$(ametric "$name")
        if [[ -n $v ]] && (( v $op want )); then return 0; fi
        sleep 0.1
    done
    return 1
}

# Lines of "key|value" from stdin to TOPIC.
kproduce() {
    kcat -P -b "$BOOTSTRAP" -t "$1" -K '|' || fail "kcat could not produce to $1"
}

produce_disk_fill() {
    python3 - "$1" "$2" "$T0" "$3" "$4" >"$PW_TMP/batch" <<'PY'
import random, sys
a, b, t0, h0, h1 = (int(x) for x in sys.argv[1:6])
random.seed(a)
for s in range(a * 60, b * 60, 10):
    for h in range(h0, h1 + 1):
        v = 50 + 45 * s / 2400 + random.gauss(0, 0.1)
        print(f"host-{h}|disk,path=/ used_percent={v:.4f} {t0 + s * 10**9}")
PY
    kcat -P -b "$BOOTSTRAP" -t pipewatch.metrics -K '|' -l "$PW_TMP/batch" ||
        fail "kcat could not produce"
}
