#!/usr/bin/env bash
# Runs each libFuzzer target over its corpus and then on random inputs, KT_FUZZ_SECONDS each
# (default 20: make fuzz-smoke; make fuzz FUZZ_SECONDS=N sets it), so a parser regression
# that crashes on a known input fails `make test`. Inputs found on the way are dropped with
# the work directory; a crashing one is kept as build/fuzz/artifacts/<target>-crash-<sha1>.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${KT_FUZZ_SECONDS:-20}
mkdir -p build/fuzz/artifacts
for bin in "$@"; do
  name=$(basename "$bin"); corpus="test/fuzz/corpus/${name#fuzz_}"
  mkdir -p "$corpus"
  work=$(mktemp -d)
  echo "fuzz: $name for ${secs}s over $corpus"
  "$bin" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$name-" \
    "$work" "$corpus" >"$work.log" 2>&1 \
    || { tail -50 "$work.log"; rm -rf "$work" "$work.log"; echo "fuzz: $name FAILED"; exit 1; }
  # libFuzzer's last status line and its run totals: how much the run covered.
  grep -E '^#[0-9]+' "$work.log" | tail -1 || true
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec):' "$work.log" | tr '\n' ' ' || true
  echo
  rm -rf "$work" "$work.log"
done
echo "fuzz: ${#} passed, 0 failed"
