#!/usr/bin/env bash
# pipewatch-broker with kcat, an independent Kafka client: keyed messages
# produced and consumed back whole and in per-key order, across three
# brokers; listeners on loopback only; an outage by SIGUSR1 that refuses
# clients and keeps the data, undone by SIGUSR2 on the same ports; --help,
# a bad option, and SIGTERM.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Every client call is bounded, so a hang fails the test in seconds.
kc() { timeout 20 kcat "$@"; }
listeners() { ss -ltnp | grep "pid=$BROKER_PID," | awk '{print $4}' | sort; }

"$PW_BROKER" --help >"$PW_TMP/help" || fail "--help did not exit 0"
grep -q 'in memory' "$PW_TMP/help" || fail "--help does not say data is kept in memory"
grep -q 'never' "$PW_TMP/help" || fail "--help does not say it is not for production"
rc=0
"$PW_BROKER" --partitions zero 2>"$PW_TMP/bad.err" || rc=$?
[[ $rc -eq 2 ]] || fail "a bad option exited $rc, not 2"
grep -q -- '--partitions' "$PW_TMP/bad.err" || fail "a bad option's message does not name it"
"$PW_BROKER" --version | grep -Eq '^pipewatch-broker [0-9]+\.[0-9]+\.[0-9]+$' ||
    fail "--version does not print the version"

start_broker --brokers 3 --partitions 3 --topics t1
[[ $(tr ',' '\n' <<<"$BOOTSTRAP" | wc -l) -eq 3 ]] || fail "bootstrap list $BOOTSTRAP does not name 3 brokers"
if command -v ss >/dev/null; then
    listeners >"$PW_TMP/listen"
    [[ $(wc -l <"$PW_TMP/listen") -eq 3 ]] || fail "expected 3 listeners: $(cat "$PW_TMP/listen")"
    grep -vq '^127\.0\.0\.1:' "$PW_TMP/listen" && fail "a listener is not on loopback: $(cat "$PW_TMP/listen")"
fi

# 200 keyed messages, 5 keys.
for i in $(seq 1 200); do echo "k$((i % 5)):msg-$i"; done >"$PW_TMP/sent"
kc -b "$BOOTSTRAP" -P -t t1 -K: -X message.timeout.ms=10000 <"$PW_TMP/sent" ||
    fail "kcat could not produce"
kc -b "$BOOTSTRAP" -C -t t1 -o beginning -e -q -f '%k:%s\n' >"$PW_TMP/got" ||
    fail "kcat could not consume"
[[ $(wc -l <"$PW_TMP/got") -eq 200 ]] || fail "read $(wc -l <"$PW_TMP/got") of 200 messages"
diff <(sort "$PW_TMP/sent") <(sort "$PW_TMP/got") >/dev/null || fail "messages read back differ"
for k in 0 1 2 3 4; do
    diff <(grep "^k$k:" "$PW_TMP/sent") <(grep "^k$k:" "$PW_TMP/got") >/dev/null ||
        fail "messages of key k$k came back out of order"
done
kc -b "$BOOTSTRAP" -L -t t1 >"$PW_TMP/meta" || fail "kcat -L failed"
grep -q 'topic "t1" with 3 partitions' "$PW_TMP/meta" || fail "t1 does not have 3 partitions: $(cat "$PW_TMP/meta")"

# Outage: clients are refused, data survives, same ports afterwards.
kill -USR1 "$BROKER_PID"
wait_for_grep "$BROKER_LOG" 'broker\(s\) DOWN' 5 || fail "broker did not log going down"
first=${BOOTSTRAP%%,*}
if (exec 3<>"/dev/tcp/${first%:*}/${first##*:}") 2>/dev/null; then
    fail "a TCP connect to $first succeeded while the brokers were down"
fi
if kc -b "$BOOTSTRAP" -L -m 3 >"$PW_TMP/down.meta" 2>&1; then
    fail "metadata request succeeded while the brokers were down"
fi
if echo "x:during-outage" | kc -b "$BOOTSTRAP" -P -t t1 -K: -X message.timeout.ms=2000 2>/dev/null; then
    fail "a produce succeeded while the brokers were down"
fi
kill -USR2 "$BROKER_PID"
wait_for_grep "$BROKER_LOG" 'broker\(s\) UP' 5 || fail "broker did not log coming up"
if command -v ss >/dev/null; then
    diff "$PW_TMP/listen" <(listeners) >/dev/null ||
        fail "ports changed across the outage: $(listeners | tr '\n' ' ')"
fi
kc -b "$BOOTSTRAP" -C -t t1 -o beginning -e -q -f '%k:%s\n' >"$PW_TMP/got2" ||
    fail "kcat could not consume after the outage"
diff <(sort "$PW_TMP/sent") <(sort "$PW_TMP/got2") >/dev/null ||
    fail "data before the outage is not all there after it ($(wc -l <"$PW_TMP/got2") messages)"
echo "k0:after-outage" | kc -b "$BOOTSTRAP" -P -t t1 -K: -X message.timeout.ms=10000 ||
    fail "kcat could not produce after the outage"
kc -b "$BOOTSTRAP" -C -t t1 -o beginning -e -q -f '%k:%s\n' >"$PW_TMP/got3" ||
    fail "kcat could not consume after producing again"
[[ $(wc -l <"$PW_TMP/got3") -eq 201 ]] && grep -qx 'k0:after-outage' "$PW_TMP/got3" ||
    fail "the message produced after the outage was not read back exactly once"

# SIGTERM: exits 0, promptly, and removes its bootstrap file.
t0=$(date +%s%N)
stop_process "$BROKER_PID" 5 || fail "broker did not exit 0 on SIGTERM"
(( ($(date +%s%N) - t0) / 1000000 < 5000 )) || fail "broker took too long to stop"
[[ ! -e $PW_TMP/broker.bootstrap ]] || fail "bootstrap file left behind"
info "ok: 200 messages through 3 brokers, outage refused and recovered, clean exit"
