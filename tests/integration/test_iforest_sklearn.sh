#!/usr/bin/env bash
# The isolation forest against scikit-learn's on the shared labelled data
# (NAB realKnownCause, cloud ingress): same feature matrices, same
# parameters, mean ROC AUC over 5 seeds per file; fails when the mean over
# files of |ours - sklearn| exceeds 0.01. Deterministic (both sides are
# seeded); about 10 s. Skipped without the shared data or without
# Debian's python3-sklearn (contrib/deps.sh installs it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
if ! "$py" -c 'import sklearn, numpy' 2>/dev/null; then
    echo "SKIPPED: $py has no sklearn/numpy (apt-get install python3-sklearn)" >&2
    exit 77
fi
shared=${PW_SHARED_DIR:-$PW_SOURCE_DIR/../shared/data}
if [[ ! -d $shared/nab || ! -d $shared/cloud ]]; then
    echo "SKIPPED: no shared data at $shared; set PW_SHARED_DIR" >&2
    exit 77
fi
"$PW_BUILD_DIR/bench/bench-iforest" eval "$shared" "$PW_TMP/eval" 5 ||
    fail "bench-iforest eval failed"
"$py" "$PW_SOURCE_DIR/tests/eval/iforest_sklearn.py" "$PW_TMP/eval" 5 ||
    fail "AUC differs from scikit-learn's by more than 0.01 on average"
