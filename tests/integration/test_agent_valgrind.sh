#!/usr/bin/env bash
# The agent under valgrind memcheck: streaming into the broker, a reload, a
# status-port scrape and a SIGTERM, with no memory error and no leak
# (definite or indirect). Skipped in the sanitizer build, where valgrind
# cannot run ASan's binaries; reports "not run" rather than passing then.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
if [[ $(ldd "$PW_AGENT") == *libasan* ]]; then
    info "sanitizer build: valgrind does not apply"
    exit 77
fi
command -v valgrind >/dev/null || fail "valgrind is not installed (contrib/deps.sh installs it)"

start_broker --partitions 1
write_agent_config "$PW_TMP/agent.yaml" valgrind-host
AGENT_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$PW_TMP/valgrind.log"
start_agent "$PW_TMP/agent.yaml"
wait_metric kafka_delivered_total '>=' 3 40 || fail "agent under valgrind delivered too little"
kill -HUP "$AGENT_PID"
wait_for_grep "$PW_TMP/agent.err" 'configuration reloaded' 10 || fail "reload not applied"
wait_metric kafka_delivered_total '>=' 5 20 || fail "no deliveries after the reload"
rc=0
stop_process "$AGENT_PID" 20 || rc=$?
grep -E 'ERROR SUMMARY|definitely lost|indirectly lost' "$PW_TMP/valgrind.log" >&2 || true
[[ $rc -eq 0 ]] || fail "agent under valgrind exited $rc (99 = memcheck errors; see valgrind.log)"
grep -q 'ERROR SUMMARY: 0 errors' "$PW_TMP/valgrind.log" || fail "memcheck reported errors"
info "ok: valgrind clean"
