# tests/integration/lib.sh — shared helpers for integration tests.
#
# Why: every integration test starts real processes (the development broker,
# the agent, kcat, ...) and must leave nothing behind, even when a check
# fails half-way or ctest kills it on timeout. Sourcing this file gives the
# test a private temp dir and an EXIT trap that stops every process it
# started, so each test only says what it checks.
#
# Use:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   start_broker --partitions 3 --topics t1    # sets BOOTSTRAP, BROKER_PID
#   ... checks, each ending in `|| fail "what went wrong"` ...
#
# Functions:
#   fail MSG...              print "FAIL: MSG" (and where the logs are), exit 1
#   info MSG...              print a progress line to stderr
#   start_bg NAME CMD...     run CMD in the background, stdout/stderr to
#                            $PW_TMP/NAME.out/.err; sets BG_PID; stopped by cleanup
#   wait_for_file FILE SECS [PID]
#                            wait until FILE exists and is non-empty; returns 1
#                            on timeout or as soon as PID (if given) has exited
#   wait_for_grep FILE REGEX SECS
#                            wait until a line of FILE matches REGEX; returns 1
#                            on timeout
#   stop_process PID [SECS]  SIGTERM, wait up to SECS (default 5); returns the
#                            exit status, or 124 if it had to be SIGKILLed
#   start_broker [ARGS...]   start pipewatch-broker ARGS with an ephemeral
#                            bootstrap file and wait for it (10 s); sets
#                            BROKER_PID, BOOTSTRAP, BROKER_LOG; fails the test
#                            if the broker does not come up. The broker reads
#                            its control file $PW_TMP/broker.control on SIGHUP
#   broker_control LINE...   fault injection: writes the LINEs (commands of
#                            pipewatch-broker --help, e.g. "errors Produce
#                            REQUEST_TIMED_OUT", "leader t1 * 2", "down 3")
#                            to the control file, sends SIGHUP and waits (10 s)
#                            until the broker has gone through the file; fails
#                            the test if a line was skipped
#   cleanup                  the EXIT trap: stops every background process of
#                            the test; removes $PW_TMP unless the test failed
#
# Variables: PW_TMP (this test's temp dir), PW_BUILD_DIR and PW_SOURCE_DIR
# (set by ctest), PW_BROKER (path of the broker binary). Set PW_KEEP_TMP=1
# to keep the temp dir after a passing run. The caller chooses its own shell
# options (set -euo pipefail is recommended); this file sets none.

: "${PW_BUILD_DIR:?set PW_BUILD_DIR to the CMake build directory}"
: "${PW_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
export LC_ALL=C

PW_TEST_NAME=$(basename "$0" .sh)
PW_TMP=$(mktemp -d "${TMPDIR:-/tmp}/$PW_TEST_NAME.XXXXXX") || {
    echo "FAIL: cannot create a temp dir" >&2
    exit 1
}
PW_BROKER=$PW_BUILD_DIR/pipewatch-broker
PW_PIDS=()

info() { echo "[$PW_TEST_NAME] $*" >&2; }

fail() {
    echo "[$PW_TEST_NAME] FAIL: $*" >&2
    echo "[$PW_TEST_NAME] logs kept in $PW_TMP" >&2
    PW_FAILED=1
    exit 1
}

start_bg() {
    local name=$1
    shift
    "$@" >"$PW_TMP/$name.out" 2>"$PW_TMP/$name.err" &
    BG_PID=$!
    PW_PIDS+=("$BG_PID")
}

wait_for_file() {
    local file=$1 secs=$2 pid=${3:-} i
    for ((i = 0; i < secs * 20; i++)); do
        [[ -s $file ]] && return 0
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.05
    done
    return 1
}

wait_for_grep() {
    local file=$1 regex=$2 secs=$3 i
    for ((i = 0; i < secs * 20; i++)); do
        grep -Eq -- "$regex" "$file" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

stop_process() {
    local pid=$1 secs=${2:-5} i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 124
    fi
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    return "$rc"
}

start_broker() {
    [[ -x $PW_BROKER ]] || fail "no broker at $PW_BROKER (build target pipewatch-broker)"
    local file=$PW_TMP/broker.bootstrap
    start_bg broker "$PW_BROKER" --bootstrap-file "$file" \
        --control "$PW_TMP/broker.control" "$@"
    BROKER_PID=$BG_PID
    BROKER_LOG=$PW_TMP/broker.err
    if ! wait_for_file "$file" 10 "$BROKER_PID"; then
        cat "$BROKER_LOG" >&2
        fail "pipewatch-broker $* did not write $file within 10 s"
    fi
    BOOTSTRAP=$(<"$file")
    info "broker pid $BROKER_PID on $BOOTSTRAP"
}

broker_control() {
    local n
    n=$(grep -c 'control file .* applied' "$BROKER_LOG" || true)
    printf '%s\n' "$@" >"$PW_TMP/broker.control"
    kill -HUP "$BROKER_PID"
    local i
    for ((i = 0; i < 200; i++)); do
        (( $(grep -c 'control file .* applied' "$BROKER_LOG" || true) > n )) && break
        sleep 0.05
    done
    grep 'control file .* applied' "$BROKER_LOG" | tail -1 | grep -q ', 0 skipped' ||
        fail "the broker did not apply: $* ($(grep -E 'control|skipped' "$BROKER_LOG" | tail -3))"
    info "broker: $*"
}

cleanup() {
    local rc=$? pid
    trap - EXIT
    # Everything start_bg started, plus any job the test put in the
    # background itself.
    for pid in "${PW_PIDS[@]}" $(jobs -p); do
        kill -0 "$pid" 2>/dev/null && { stop_process "$pid" 2 || true; }
    done
    if [[ $rc -eq 0 && -z ${PW_FAILED:-} && -z ${PW_KEEP_TMP:-} ]]; then
        rm -rf "$PW_TMP"
    else
        echo "[$PW_TEST_NAME] exit $rc; logs kept in $PW_TMP" >&2
    fi
    exit "$rc"
}

trap cleanup EXIT
# Without these, a test killed by ctest's timeout would skip the EXIT trap.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
