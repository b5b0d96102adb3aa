#!/usr/bin/env bash
# Fuzzing: installs clang and libFuzzer when missing, builds every fuzz
# target (tests/fuzz/fuzz_*.c, ASan+UBSan) into build-fuzz, runs each for a
# bounded time and prints what each did. Exits 1 if any target crashed,
# leaked, ran out of memory or timed out, after printing the reproducer and
# the report.
#
#   ./contrib/fuzz.sh                    # every target, PW_FUZZ_SECONDS each
#   ./contrib/fuzz.sh lineproto statsd   # only these
#
# Environment: PW_FUZZ_SECONDS (default 60), PW_FUZZ_JOBS (targets run at
# once, default nproc), PW_FUZZ_BUILD (default build-fuzz).
#
# Each target runs in its own copy of its seed corpus in a temporary
# directory: a CI run never writes into tests/fuzz/corpus. A failing input
# is kept in $PW_FUZZ_BUILD/crashes/<target>/; to make it a regression test,
# minimize it and commit it into tests/fuzz/corpus/<target>/ (README.md,
# "Fuzzing").
set -euo pipefail
cd "$(dirname "$0")/.."

# All in a function, read whole before it runs: editing this file during a
# long run cannot change what the run does.
main() {
  seconds=${PW_FUZZ_SECONDS:-60}
  jobs=${PW_FUZZ_JOBS:-$(nproc)}
  dir=${PW_FUZZ_BUILD:-build-fuzz}

  PW_DEPS_FUZZ=1 ./contrib/deps.sh
  start=$(date +%s)
  CC=clang cmake -S . -B "$dir" -DPW_FUZZ=ON -DPW_WERROR=ON >/dev/null
  cmake --build "$dir" -j"$jobs" --target fuzz
  echo "fuzz: built in $(($(date +%s) - start)) s"

  if (($# > 0)); then
    targets=("$@")
  else
    targets=()
    for src in tests/fuzz/fuzz_*.c; do
      name=${src##*/fuzz_}
      targets+=("${name%.c}")
    done
  fi

  work=$(mktemp -d "${TMPDIR:-/tmp}/pw-fuzz.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  crashes=$dir/crashes
  mkdir -p "$crashes"

  # libFuzzer's own handling (no abort_on_error: check.sh's options are for ctest).
  export ASAN_OPTIONS=detect_leaks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

  run_one() {
    local t=$1 bin=$dir/tests/fuzz_$1 dict=tests/fuzz/dict/$1.dict
    mkdir -p "$work/$t/corpus" "$crashes/$t"
    cp -r "tests/fuzz/corpus/$t/." "$work/$t/corpus/"
    local args=(-max_total_time="$seconds" -print_final_stats=1
                -rss_limit_mb=2048 -timeout=10
                -artifact_prefix="$crashes/$t/")
    [[ -f $dict ]] && args+=(-dict="$dict")
    local rc=0
    "$bin" "${args[@]}" "$work/$t/corpus" >"$work/$t/log" 2>&1 || rc=$?
    echo "$rc" >"$work/$t/rc"
  }

  running=0
  for t in "${targets[@]}"; do
    [[ -x $dir/tests/fuzz_$t && -d tests/fuzz/corpus/$t ]] ||
      { echo "fuzz: no target or no corpus for \"$t\"" >&2; exit 2; }
    if ((running >= jobs)); then
      wait -n || true
      running=$((running - 1))
    fi
    echo "fuzz: $t (${seconds} s)"
    run_one "$t" &
    running=$((running + 1))
  done
  wait

  # What libFuzzer says it did: the final stats, else the "Done N runs" line.
  stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

  failed=()
  printf '\n%-14s %12s %9s %12s  %s\n' target executions exec/s corpus result
  for t in "${targets[@]}"; do
    log=$work/$t/log rc=$(cat "$work/$t/rc")
    runs=$(stat number_of_executed_units "$log")
    [[ -n $runs ]] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
    rate=$(stat average_exec_per_sec "$log")
    seeds=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
    corpus=$(find "$work/$t/corpus" -type f | wc -l)
    result=ok
    if ((rc != 0)); then
      if grep -q 'ERROR: LeakSanitizer' "$log"; then result=leak
      elif grep -q 'ALARM: working on the last Unit' "$log"; then result=timeout
      elif grep -q 'out-of-memory' "$log"; then result=out-of-memory
      elif grep -q 'runtime error:' "$log"; then result=ubsan
      else result=crash
      fi
      failed+=("$t")
    fi
    printf '%-14s %12s %9s %12s  %s\n' "$t" "${runs:-?}" "${rate:-?}" \
      "$seeds->$corpus" "$result"
  done
  echo "fuzz: ${seconds} s per target, $jobs at once, $(($(date +%s) - start)) s in all"

  for t in "${failed[@]}"; do
    log=$work/$t/log
    echo
    echo "=== fuzz_$t failed (exit $(cat "$work/$t/rc"))"
    art=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    # The report: from the sanitizer's or the target's first word to its summary.
    sed -n '/==ERROR\|runtime error:\|check failed:\|ALARM:\|out-of-memory/,/^SUMMARY/p' \
      "$log" | head -80
    echo "    input: ${art:-none written}"
    echo "    reproduce: $dir/tests/fuzz_$t ${art:-$crashes/$t/<file>}"
    cp "$log" "$crashes/$t/log"
  done
  ((${#failed[@]} == 0))
}

main "$@"
exit
