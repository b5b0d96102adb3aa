# tests/integration/alerting_lib.sh — helpers for the alert delivery tests
# (source after lib.sh).
#
#   start_receiver NAME [webhook_receiver.py options]
#       starts tests/integration/webhook_receiver.py; sets RCV_PORT, RCV_LOG
#       (its JSONL request log) and RCV_PID
#   run_driver NAME ARGS...
#       runs outbox_driver ARGS in the foreground, stdout to $PW_TMP/NAME.out,
#       stderr to $PW_TMP/NAME.err; returns its exit status
#   counter NAME KEY     a counter from a driver run's output (NAME.out)
#   pyjson SCRIPT      runs python3 SCRIPT with RCV_LOG and PW_TMP exported;
#                      the script raises (exit 1) when a check fails

DRIVER=$PW_BUILD_DIR/tests/outbox_driver
RECEIVER_PY=$PW_SOURCE_DIR/tests/integration/webhook_receiver.py
[[ -x $DRIVER ]] || fail "no driver at $DRIVER (build target outbox_driver)"
command -v python3 >/dev/null || { echo "python3 is missing: skipped"; exit 77; }

start_receiver() {
    local name=$1
    shift
    RCV_LOG=$PW_TMP/$name.jsonl
    : >"$RCV_LOG"
    start_bg "$name" python3 "$RECEIVER_PY" --port-file "$PW_TMP/$name.port" \
        --log "$RCV_LOG" "$@"
    RCV_PID=$BG_PID
    wait_for_file "$PW_TMP/$name.port" 10 "$RCV_PID" ||
        fail "the webhook receiver $name did not start: $(cat "$PW_TMP/$name.err")"
    RCV_PORT=$(<"$PW_TMP/$name.port")
    info "receiver $name pid $RCV_PID on port $RCV_PORT"
}

run_driver() {
    local name=$1
    shift
    local rc=0
    "$DRIVER" "$@" >"$PW_TMP/$name.out" 2>"$PW_TMP/$name.err" || rc=$?
    return "$rc"
}

counter() {
    sed -n "s/^$2=//p" "$PW_TMP/$1.out" | tail -1
}

pyjson() {
    RCV_LOG=$RCV_LOG PW_TMP=$PW_TMP python3 -c "$1"
}
