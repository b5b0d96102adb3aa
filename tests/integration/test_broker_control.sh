#!/usr/bin/env bash
# pipewatch-broker's control file (--control FILE, applied on SIGHUP): each
# good line is applied in order and logged as "applied: LINE"; a bad line
# (unknown command, API, error name, broker id, partition) is reported with
# FILE:LINE and skipped, the lines after it still apply, and the broker
# keeps serving kcat. Injected Produce errors are retriable and kcat's
# messages still arrive once each; a moved leader and one broker down are
# survived too.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v kcat >/dev/null || { info "SKIPPED: no kcat"; exit 77; }
kc() { timeout 30 kcat "$@"; }

start_broker --brokers 3 --partitions 3 --topics t1
ctl=$PW_TMP/broker.control
cat >"$ctl" <<'CTL'
# a comment, then a blank line

errors Produce NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT
bogus 1 2
errors Fetch NO_SUCH_ERROR
errors Scan REQUEST_TIMED_OUT
leader t1 * 9
leader t1 7 2
coordinator group
leader t1 * 2
rtt 1 5
CTL
kill -HUP "$BROKER_PID"
wait_for_grep "$BROKER_LOG" 'control file .*: 3 line\(s\) applied, 6 skipped' 10 ||
    fail "the control file was not gone through: $(tail -5 "$BROKER_LOG")"
for want in "$ctl:4: 'bogus 1 2': unknown command" \
            "$ctl:5: 'errors Fetch NO_SUCH_ERROR': unknown error 'NO_SUCH_ERROR'" \
            "$ctl:6: .*unknown API 'Scan'" \
            "$ctl:7: .*broker id" \
            "$ctl:8: .*partition 7: .*Unknown topic or partition" \
            "$ctl:9: .*expected 'coordinator"; do
    grep -Eq -- "$want" "$BROKER_LOG" || fail "no error like '$want' in the broker's log"
done
for want in 'applied: errors Produce NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT' \
            'applied: leader t1 \* 2' 'applied: rtt 1 5'; do
    grep -Eq -- "$want" "$BROKER_LOG" || fail "'$want' not logged"
done
kill -0 "$BROKER_PID" || fail "the broker died on a bad control file"

# Still serving: the two Produce errors are retried by kcat's producer.
for i in $(seq 1 100); do echo "k$((i % 4)):m$i"; done >"$PW_TMP/sent"
kc -b "$BOOTSTRAP" -P -t t1 -K: -X message.timeout.ms=20000 <"$PW_TMP/sent" ||
    fail "kcat could not produce after the control file"
broker_control "down 3" "leader t1 * 1"
for i in $(seq 101 150); do echo "k$((i % 4)):m$i"; done >>"$PW_TMP/sent"
tail -50 "$PW_TMP/sent" | kc -b "$BOOTSTRAP" -P -t t1 -K: -X message.timeout.ms=20000 ||
    fail "kcat could not produce with broker 3 down"
broker_control "up 3" "rtt 1 0"
kc -b "$BOOTSTRAP" -C -t t1 -o beginning -e -q -f '%k:%s\n' >"$PW_TMP/got" ||
    fail "kcat could not consume"
diff <(sort "$PW_TMP/sent") <(sort "$PW_TMP/got") >"$PW_TMP/diff" ||
    fail "messages read back differ: $(head -5 "$PW_TMP/diff")"

# Without the file: an error, and the broker goes on.
rm -f "$ctl"
kill -HUP "$BROKER_PID"
wait_for_grep "$BROKER_LOG" "cannot open the control file" 10 || fail "a missing control file was not reported"
stop_process "$BROKER_PID" 5 || fail "broker did not exit 0 on SIGTERM"
info "ok: bad control lines named by file:line and skipped; faults applied; kcat served throughout"
