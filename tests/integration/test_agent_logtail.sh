#!/usr/bin/env bash
# The agent's log tail collector end to end on the development broker. A
# writer (python3) appends to two files while the agent follows them:
# app.log, plain lines, rotated by rename (logrotate's create) every few
# thousand lines, the writer going on a moment in the old file before it
# reopens; svc.log, timestamped records of which some carry stack-trace
# lines (multiline_start), rotated by copytruncate. Half-way the agent is
# stopped and started again (its state file), and later reloaded (SIGHUP)
# while the writer writes. Every line is read back from
# Kafka with kcat: each record exactly once, whole (its trace lines with
# it), the count equal to what was written; lines written while the broker
# is down wait in their file rather than overflow the agent's small spool
# (nothing dropped). Then the analyzer consumes the
# same topic (several records per message) and fires its out-of-memory
# burst rule on four OutOfMemoryError lines appended to app.log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
. "$(dirname "$0")/analyzer_lib.sh"

command -v kcat >/dev/null || { info "SKIPPED: no kcat"; exit 77; }
command -v python3 >/dev/null || { info "SKIPPED: no python3"; exit 77; }

start_broker --partitions 1
mkdir -p "$PW_TMP/logs"
cat >"$PW_TMP/agent.yaml" <<YAML
entity: it-logtail
log_level: info
kafka:
  bootstrap.servers: "$BOOTSTRAP"
spool:
  path: $PW_TMP/spool.db
  max_bytes: 1MiB
  retry_backoff: 500ms
shutdown_timeout: 3s
status:
  listen: 127.0.0.1:0
collectors:
  host:
    enabled: false
  logtail:
    enabled: true
    interval: 1s
    state_file: $PW_TMP/logtail.state
    from_beginning: true
    rotate_wait: 1s
    multiline_timeout: 300ms
    poll_interval: 200ms
    state_interval: 3s
    files:
      - path: $PW_TMP/logs/app.log
      - path: $PW_TMP/logs/svc.log
        multiline_start: '^\d{4}-\d\d-\d\d '
YAML
"$PW_AGENT" --config "$PW_TMP/agent.yaml" --check-config >/dev/null ||
    fail "--check-config refused the configuration"
# A bad pattern is refused with file, line and key.
sed 's/multiline_start: .*/multiline_start: "^(oops"/' "$PW_TMP/agent.yaml" >"$PW_TMP/bad.yaml"
if "$PW_AGENT" --config "$PW_TMP/bad.yaml" --check-config 2>"$PW_TMP/bad.err"; then
    fail "--check-config took a bad multiline_start"
fi
grep -q "bad.yaml:[0-9]*: collectors.logtail.files\[2\].multiline_start: missing closing parenthesis" \
    "$PW_TMP/bad.err" || fail "bad pattern error: $(cat "$PW_TMP/bad.err")"

start_agent "$PW_TMP/agent.yaml" agent1

# The writer: N lines per file over a few seconds, rotating both ways.
N=20000
cat >"$PW_TMP/writer.py" <<'PY'
import os, shutil, sys, time
d, n, phase = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lo, hi = (0, n // 2) if phase == "1" else (n // 2, n)
app = os.path.join(d, "app.log")
svc = os.path.join(d, "svc.log")
fa = open(app, "a", buffering=1)
fs = open(svc, "a", buffering=1)
pad = "x" * 60
for i in range(lo, hi):
    fa.write(f"app {i} GET /api/orders/{i} 200 {pad}\n")
    fs.write(f"2026-12-04 12:00:00 svc {i} INFO handled\n")
    if i % 97 == 0:
        fs.write(f"java.lang.IllegalStateException: svc {i}\n\tat Svc.run(Svc.java:{i})\n")
    if i % 5000 == 2500:
        # logrotate "create": rename, a little more into the old file, reopen.
        os.rename(app, f"{app}.{i}")
        fa.write(f"app-late {i} written after the rename\n")
        fa.close()
        fa = open(app, "a", buffering=1)
    if i % 5000 == 4000:
        # logrotate "copytruncate": copy, then truncate in place.
        fs.flush()
        shutil.copyfile(svc, f"{svc}.{i}")
        os.truncate(svc, 0)
    if i % 1000 == 0:
        time.sleep(0.1 if phase == "2" else 0.05)
fa.close()
fs.close()
PY
python3 "$PW_TMP/writer.py" "$PW_TMP/logs" "$N" 1 || fail "writer (phase 1) failed"
sleep 0.5
info "restarting the agent"
stop_process "$AGENT_PID" 10 || fail "agent1 did not stop cleanly"
[[ -s $PW_TMP/logtail.state ]] || fail "no state file after the stop"
# Lines written while the agent is down, and app.log renamed away with
# them unread (a rotation while down): they are read from the renamed file
# at the start, one record each. svc.log's multiline_start is for svc.log
# only, although both are in one directory (it was once given to any file
# there rotated while down or across a reload, joining the rest of
# app.log's lines into one record cut at 16 KiB). Then the second half
# with the agent up; the writer creates app.log again.
printf 'down %d\n' 1 2 3 >>"$PW_TMP/logs/app.log"
mv "$PW_TMP/logs/app.log" "$PW_TMP/logs/app.log.down"
start_agent "$PW_TMP/agent.yaml" agent2
# A reload (SIGHUP) while the writer goes on: the new collector starts where
# the old one was.
python3 "$PW_TMP/writer.py" "$PW_TMP/logs" "$N" 2 &
writer=$!
wait_for_grep "$PW_TMP/logs/app.log" '^app 12000 ' 30 || fail "the writer did not get going"
sleep 0.2
kill -HUP "$AGENT_PID"
wait_for_grep "$PW_TMP/agent2.err" 'configuration reloaded' 10 || fail "the reload was not applied"
wait "$writer" || fail "writer (phase 2) failed"

# Kafka away: the spool (1 MiB) must not overflow and drop messages; the
# agent stops reading logs at half of it, and the lines wait in their file.
wait_metric spool_messages '==' 0 30 || fail "the spool did not drain"
kill -USR1 "$BROKER_PID"
wait_for_grep "$BROKER_LOG" 'DOWN' 5 || fail "the broker did not go down"
OUT=30000
python3 -c "
import sys
with open(sys.argv[1], 'a') as f:
    for i in range($OUT):
        f.write(f'out {i} while the broker is down ' + 'y' * 60 + '\\n')
" "$PW_TMP/logs/app.log"
sleep 3
spooled=$(agent_metric spool_bytes)
info "broker down: $spooled bytes in the spool"
(( spooled <= 1048576 )) || fail "the spool holds $spooled bytes"
(( $(agent_metric spool_dropped_messages_total) == 0 )) || fail "the spool dropped messages"
kill -USR2 "$BROKER_PID"
wait_for_grep "$BROKER_LOG" 'UP' 5 || fail "the broker did not come back"

late=$(grep -c '^app-late' "$PW_TMP"/logs/app.log.* | awk -F: '{ s += $2 } END { print s }')
want_app=$((N + late + 3 + OUT))
want_svc=$N
want_traces=$(( (N - 1) / 97 + 1 ))
info "written: $want_app app lines ($late after a rename), $want_svc svc records ($want_traces with traces)"

# Read back until everything is there (or 30 s).
for ((t = 0; t < 60; t++)); do
    kcat -b "$BOOTSTRAP" -C -t pipewatch.logs -o beginning -e -q -f '%s\n' >"$PW_TMP/logs.ndjson" 2>/dev/null || true
    got=$(grep -c '"line"' "$PW_TMP/logs.ndjson" || true)
    (( got >= want_app + want_svc )) && break
    sleep 0.5
done
python3 - "$PW_TMP/logs.ndjson" "$PW_TMP/logs" "$want_app" "$want_svc" "$want_traces" <<'PY' || fail "records in Kafka do not match what was written"
import collections, json, sys
path, d, want_app, want_svc, want_traces = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
recs = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
bad = [r for r in recs if r.get("entity") != "it-logtail" or not isinstance(r.get("ts"), int)]
assert not bad, f"records without the entity or ts: {bad[:3]}"
app = [r["line"] for r in recs if r["source"] == f"{d}/app.log"]
svc = [r["line"] for r in recs if r["source"] == f"{d}/svc.log"]
others = [r for r in recs if r["source"] not in (f"{d}/app.log", f"{d}/svc.log")]
assert not others, f"unexpected sources: {others[:3]}"
def dups(lines):
    return [l for l, c in collections.Counter(lines).items() if c > 1]
assert not dups(app), f"app lines twice: {dups(app)[:5]}"
assert not dups(svc), f"svc records twice: {dups(svc)[:5]}"
assert len(app) == want_app, f"{len(app)} app lines, want {want_app}"
assert len(svc) == want_svc, f"{len(svc)} svc records, want {want_svc}"
out = sorted(int(l.split()[1]) for l in app if l.startswith("out "))
assert out == list(range(len(out))) and len(out) == 30000, f"{len(out)} lines of the outage"
main = [l for l in app if l.startswith("app ")]
nums = sorted(int(l.split()[1]) for l in main)
assert nums == list(range(len(nums))) and len(nums) == want_svc, "app lines missing"
traced = [l for l in svc if "\n" in l]
assert len(traced) == want_traces, f"{len(traced)} records with traces, want {want_traces}"
for l in traced:
    i = int(l.split()[3])
    assert l == (f"2026-12-04 12:00:00 svc {i} INFO handled\n"
                 f"java.lang.IllegalStateException: svc {i}\n\tat Svc.run(Svc.java:{i})"), repr(l)
print(f"{len(app)} app lines and {len(svc)} svc records, each once", file=sys.stderr)
PY
msgs=$(kcat -b "$BOOTSTRAP" -C -t pipewatch.logs -o beginning -e -q -f 'x\n' | wc -l)
# The collector's own point (on the metrics topic) saw both kinds of rotation.
sleep 1.2
kcat -b "$BOOTSTRAP" -C -t pipewatch.metrics -o beginning -e -q -f '%s\n' |
    grep '^logtail ' >"$PW_TMP/logtail.lp" || fail "no logtail point on the metrics topic"
grep -Eq 'rotations=[1-9]' "$PW_TMP/logtail.lp" || fail "no rotation counted: $(tail -1 "$PW_TMP/logtail.lp")"
grep -Eq 'truncations=[1-9]' "$PW_TMP/logtail.lp" || fail "no truncation counted: $(tail -1 "$PW_TMP/logtail.lp")"
info "ok: $((want_app + want_svc)) records in $msgs messages"

# The analyzer reads the same topic: several records per message, and the
# out-of-memory burst rule fires for the agent's entity.
"$PW_BUILD_DIR/pipewatch-train" tagger --tsv "$PW_SOURCE_DIR/models/data/tagger_default.tsv" \
    --out "$PW_TMP/tagger.pwb" >/dev/null || fail "cannot build a tagger bundle"
"$PW_BUILD_DIR/pipewatch-train" promote --models-dir "$PW_TMP/models" "$PW_TMP/tagger.pwb" \
    >/dev/null || fail "cannot promote the bundle"
write_analyzer_config "$PW_TMP/a.yaml" "models:
  dir: $PW_TMP/models"
start_analyzer "$PW_TMP/a.yaml"
for i in 1 2 3 4; do
    echo "java.lang.OutOfMemoryError: Java heap space" >>"$PW_TMP/logs/app.log"
done
wait_for_grep "$PW_TMP/analyzer.err" "prediction firing: it-logtail logged more than 3 out_of_memory lines" 30 ||
    fail "no log burst prediction from the tailed file"
lines=$(ametric log_lines_total)
(( lines >= want_app + want_svc + 4 )) || fail "the analyzer tagged $lines log lines"
(( $(ametric parse_errors_total) == 0 )) || fail "the analyzer refused messages"
info "ok: the analyzer tagged $lines lines and fired the out-of-memory burst"
stop_process "$AGENT_PID" 10 || fail "agent2 did not stop cleanly"
