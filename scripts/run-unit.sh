#!/usr/bin/env bash
# Runs every unit test binary given, reports each, and ends with one summary line.
set -u
pass=0; fail=0; failed=()
for t in "$@"; do
  if out=$("$t" 2>&1); then
    pass=$((pass+1))
  else
    fail=$((fail+1)); failed+=("$t")
    printf '%s\n' "$out"
  fi
  printf '%s\n' "$out" | grep -E '^\[  (PASSED|FAILED)  \]' | sed "s#^#$(basename "$t"): #"
done
echo "unit: $pass passed, $fail failed"
[ $fail -eq 0 ] || { printf 'failed: %s\n' "${failed[@]}"; exit 1; }
