#!/usr/bin/env bash
# Runs each libFuzzer target over its corpus and then briefly on random inputs, so a
# parser regression that crashes on a known input fails `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${KT_FUZZ_SECONDS:-20}
for bin in "$@"; do
  name=$(basename "$bin"); corpus="test/fuzz/corpus/${name#fuzz_}"
  mkdir -p "$corpus"
  work=$(mktemp -d)
  echo "fuzz: $name for ${secs}s over $corpus"
  "$bin" -max_total_time="$secs" -print_final_stats=0 "$work" "$corpus" >"$work.log" 2>&1 \
    || { tail -50 "$work.log"; rm -rf "$work" "$work.log"; echo "fuzz: $name FAILED"; exit 1; }
  rm -rf "$work" "$work.log"
done
echo "fuzz: ${#} passed, 0 failed"
