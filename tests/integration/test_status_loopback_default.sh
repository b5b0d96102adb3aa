#!/usr/bin/env bash
# test_status_loopback_default: with no `status:` section the agent's and
# the analyzer's status ports listen on loopback only (127.0.0.1:9273 and
# 127.0.0.1:9466), as the kernel's socket table shows, not just the log.
# The default ports are fixed, so if another program on this machine holds
# one, that daemon's check is skipped (said in the output), not failed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/agent_lib.sh"
PW_ANALYZER=$PW_BUILD_DIR/pipewatch-analyzer

start_broker --brokers 1 --partitions 2

# listening PORT: the local addresses of LISTEN sockets on PORT (IPv4, IPv6).
listening() {
    local hex
    hex=$(printf '%04X' "$1")
    awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $2 }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

checked=0
check_daemon() {   # check_daemon NAME PORT CMD...
    local name=$1 port=$2
    shift 2
    if [[ -n $(listening "$port") ]]; then
        info "SKIP $name: port $port is already in use on this machine"
        return 0
    fi
    start_bg "$name" "$@"
    local pid=$BG_PID
    if ! wait_for_grep "$PW_TMP/$name.err" "status port (listening )?on 127\.0\.0\.1:$port|cannot listen" 30; then
        fail "$name did not report its status port: $(tail -3 "$PW_TMP/$name.err")"
    fi
    if grep -q 'cannot listen' "$PW_TMP/$name.err"; then
        info "SKIP $name: port $port was taken meanwhile"
        stop_process "$pid" 5 || true
        return 0
    fi
    local addrs
    addrs=$(listening "$port")
    info "$name listens on: $addrs"
    [[ $addrs == "0100007F:$(printf '%04X' "$port")" ]] ||
        fail "$name's status port listens on '$addrs', not 127.0.0.1 only"
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || fail "$name: no /healthz on loopback"
    stop_process "$pid" 10 || true
    checked=$((checked + 1))
}

cat >"$PW_TMP/agent.yaml" <<YAML
entity: loopback-host
kafka:
  bootstrap.servers: "$BOOTSTRAP"
spool:
  path: $PW_TMP/spool.db
shutdown_timeout: 1s
YAML
check_daemon agent 9273 "$PW_AGENT" --config "$PW_TMP/agent.yaml"

cat >"$PW_TMP/analyzer.yaml" <<YAML
kafka:
  bootstrap.servers: "$BOOTSTRAP"
group_id: loopback-test
YAML
check_daemon analyzer 9466 "$PW_ANALYZER" --config "$PW_TMP/analyzer.yaml"

# The defaults themselves, from the generated references.
grep -q '^| `status.listen` | string | `127.0.0.1:9273` |' "$PW_SOURCE_DIR/docs/configuration-agent.md" ||
    fail "the agent's documented default status.listen is not loopback"
grep -q '^| `status.listen` | string | `127.0.0.1:9466` |' "$PW_SOURCE_DIR/docs/configuration-analyzer.md" ||
    fail "the analyzer's documented default status.listen is not loopback"
# Neither daemon could be checked: "not run", never a pass on the docs alone.
(( checked > 0 )) || { info "SKIPPED: both default ports were in use"; exit 77; }
info "ok: $checked daemon(s) checked on the socket table"
