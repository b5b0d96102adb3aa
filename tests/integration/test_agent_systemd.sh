#!/usr/bin/env bash
# Under systemd (Type=notify, WatchdogSec): the agent sends READY=1, STATUS=
# lines, WATCHDOG=1 at least twice per watchdog period, RELOADING=1 and
# READY=1 around a SIGHUP, and STOPPING=1 on SIGTERM. systemd's socket is
# stood in for by a Unix datagram socket the test listens on.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"

start_broker --partitions 1
write_agent_config "$PW_TMP/agent.yaml" notify-host
start_bg notify python3 "$(dirname "$0")/notify_listener.py" "$PW_TMP/notify.sock" "$PW_TMP/notify.log"
wait_for_grep "$PW_TMP/notify.log" '^listening$' 5 || fail "notify listener did not start"

# 400 ms watchdog: pings are due every 200 ms, far more often than the 1 s
# collection interval, so only a loop that honours the watchdog keeps up.
NOTIFY_SOCKET=$PW_TMP/notify.sock WATCHDOG_USEC=400000 start_agent "$PW_TMP/agent.yaml"
wait_for_grep "$PW_TMP/notify.log" '^READY=1 \| STATUS=started$' 5 || fail "no READY=1"
sleep 2.2
kill -HUP "$AGENT_PID"
wait_for_grep "$PW_TMP/notify.log" '^RELOADING=1$' 5 || fail "no RELOADING=1 on SIGHUP"
stop_process "$AGENT_PID" 8 || fail "agent did not stop cleanly"
grep -q '^STOPPING=1$' "$PW_TMP/notify.log" || fail "no STOPPING=1 on SIGTERM"
grep -Eq '^STATUS=[0-9]+ collections, [0-9]+ messages delivered' "$PW_TMP/notify.log" ||
    fail "no STATUS= line with the agent's figures"
[[ $(grep -c '^READY=1' "$PW_TMP/notify.log") -ge 2 ]] || fail "no READY=1 after the reload"
pings=$(grep -c '^WATCHDOG=1$' "$PW_TMP/notify.log")
# About 2.2 s / 0.2 s = 11 pings before the reload; ask for most of them.
[[ $pings -ge 8 ]] || fail "only $pings watchdog pings in about 2.5 s with a 400 ms watchdog"
info "ok: READY, STATUS, $pings WATCHDOG pings, RELOADING, STOPPING"
