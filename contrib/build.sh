#!/usr/bin/env bash
# Installs what is missing and builds into ./build (or $1). Used by the demo
# and the checks; extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
./contrib/deps.sh
cmake -S . -B "$dir" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
