#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole
# ctest suite twice: in the ordinary build (warnings are errors) and in a
# build with AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

./contrib/build.sh build -DPW_WERROR=ON -DPW_SANITIZE=OFF
(cd build && ctest --output-on-failure -j2 --timeout 600)

./contrib/build.sh build-asan -DPW_WERROR=ON -DPW_SANITIZE=ON
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j2 --timeout 600)

# Every fuzz target for a bounded time (contrib/fuzz.sh; README.md,
# "Fuzzing"). The budget on CI's 2 cores: the two suites take ~11 min; the
# fuzz build ~2.5 min from scratch and 15 targets x 60 s, two at a time,
# 8.5 min: about 22 min in all, under the 30 min limit with room, so the
# issue's 60 s per target holds.
PW_FUZZ_SECONDS=${PW_FUZZ_SECONDS:-60} ./contrib/fuzz.sh
