#!/usr/bin/env bash
# The same outage with a finite message.timeout.ms (3 s): deliveries fail,
# the sender rewinds and re-sends from the spool. Nothing may be lost or
# doubled; the order may differ only across a timeout boundary (sender.h).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
outage_scenario "  message.timeout.ms: 3000" any
grep -q 'delivery to pipewatch.metrics failed' "$PW_TMP/agent1.err" "$PW_TMP/agent2.err" ||
    fail "no delivery failed: the outage did not exercise the re-send path"
[[ ${AGENT2_RESENT:-0} -ge 1 ]] || fail "agent2 re-sent nothing after failures ($AGENT2_FAILURES)"
info "ok: $AGENT2_FAILURES failed deliveries re-sent from the spool, nothing lost or doubled"
