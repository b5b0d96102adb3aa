#!/usr/bin/env bash
# docs/configuration-agent.md is generated from the option tables; this test
# fails when the code's keys and the committed reference part ways.
# Regenerate with: ./build/pipewatch-agent --config-reference > docs/configuration-agent.md
set -euo pipefail
. "$(dirname "$0")/lib.sh"
"$PW_BUILD_DIR/pipewatch-agent" --config-reference >"$PW_TMP/ref.md"
diff -u "$PW_SOURCE_DIR/docs/configuration-agent.md" "$PW_TMP/ref.md" ||
    fail "docs/configuration-agent.md is stale: regenerate it with pipewatch-agent --config-reference"
