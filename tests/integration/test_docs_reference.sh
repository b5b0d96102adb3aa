#!/usr/bin/env bash
# docs/configuration-agent.md and docs/configuration-analyzer.md are
# generated from the option tables; this test fails when the code's keys and
# the committed references part ways. Regenerate with:
#   ./build/pipewatch-agent --config-reference > docs/configuration-agent.md
#   ./build/pipewatch-analyzer --config-reference > docs/configuration-analyzer.md
set -euo pipefail
. "$(dirname "$0")/lib.sh"
"$PW_BUILD_DIR/pipewatch-agent" --config-reference >"$PW_TMP/ref.md"
diff -u "$PW_SOURCE_DIR/docs/configuration-agent.md" "$PW_TMP/ref.md" ||
    fail "docs/configuration-agent.md is stale: regenerate it with pipewatch-agent --config-reference"
for prog in analyzer; do
    "$PW_BUILD_DIR/pipewatch-$prog" --config-reference >"$PW_TMP/$prog.md"
    diff -u "$PW_SOURCE_DIR/docs/configuration-$prog.md" "$PW_TMP/$prog.md" ||
        fail "docs/configuration-$prog.md is stale: regenerate it with pipewatch-$prog --config-reference"
done
