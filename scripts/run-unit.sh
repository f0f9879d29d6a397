#!/usr/bin/env bash
# Runs every unit test binary given, shows each one's cmocka summary, and ends with one
# line counting test cases: "unit: N passed, M failed".
set -u
tests_ok=0; tests_bad=0; failed=()
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  ok=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  bad=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  tests_ok=$((tests_ok + ${ok:-0})); tests_bad=$((tests_bad + ${bad:-0}))
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    printf '%s\n' "$out"
    # A crash or sanitizer abort counts as a failure even when cmocka printed no summary.
    [ -n "$bad" ] || tests_bad=$((tests_bad + 1))
  fi
  echo "$(basename "$t"): ${ok:-0} passed${bad:+, $bad failed}"
done
[ ${#failed[@]} -eq 0 ] || printf 'failed: %s\n' "${failed[@]}"
echo "unit: $tests_ok passed, $tests_bad failed"
[ ${#failed[@]} -eq 0 ]
