#!/usr/bin/env bash
# No data lost when the cluster is away, with the default producer settings
# (librdkafka retries without a deadline): every collection arrives, once,
# in order, across a broker outage and an agent restart during it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
outage_scenario "" strict
info "ok: every collection arrived once and in order"
