#!/usr/bin/env bash
# pipewatch-analyzer --check-config: the example configuration is valid, and
# every kind of mistake is refused with exit 2 and FILE:LINE: key: what.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
an=$PW_BUILD_DIR/pipewatch-analyzer
"$an" --check-config --config "$PW_SOURCE_DIR/contrib/analyzer.yaml" >/dev/null ||
    fail "contrib/analyzer.yaml does not check"
"$an" --version | grep -q '^pipewatch-analyzer ' || fail "--version"

expect() {   # expect YAML MESSAGE
    printf '%s\n' "$1" >"$PW_TMP/c.yaml"
    local rc=0
    "$an" --check-config --config "$PW_TMP/c.yaml" 2>"$PW_TMP/err" >/dev/null || rc=$?
    [[ $rc -eq 2 ]] || fail "exit $rc, want 2, for: $1"
    grep -qF -- "$2" "$PW_TMP/err" || fail "want \"$2\", got \"$(cat "$PW_TMP/err")\""
}
K=$'kafka:\n  bootstrap.servers: 127.0.0.1:9092'
expect "$K"$'\nrules:\n  - name: a\n    expr: "disk.used > 95 in 6h"' \
    'c.yaml:4: rules[1].expr: column 16: expected "within", got "in 6h"'
expect "$K"$'\nrules:\n  - name: a\n    expr: "anomaly > 0.5"\n  - name: a\n    expr: "anomaly > 0.6"' \
    'c.yaml:6: rules[2].name: "a" is already the name of rules[1]'
expect "$K"$'\nrules:\n  - name: a\n    expr: "anomaly > 0.5"\n    severity: loud' \
    'c.yaml:4: rules[1].severity: expected critical, warning or info, got "loud"'
expect "$K"$'\nrules:\n  - expr: "anomaly > 0.5"' 'rules[1].name: required key'
expect "$K"$'\nrulez: []' 'c.yaml:3: rulez: unknown key (did you mean "rules"?)'
expect "$K"$'\ncheckpoint:\n  interval: often' 'c.yaml:4: checkpoint.interval:'
expect "$K"$'\nformat: xml' 'format: expected auto, influx, collectd or telegraf, got "xml"'
expect "$K"$'\nfeatures: [cpu]' 'features[1]: expected measurement.field, got "cpu"'
expect 'group_id: x' 'kafka.bootstrap.servers: required key is missing'
expect "$K"$'\n  no.such.property: 1' 'no.such.property'
info "ok"
