#!/usr/bin/env bash
# `make chaos`: the chaos ledger (test/chaos/chaos.js) on a 3-node Apache Kafka cluster of
# its own (scripts/kafka.sh, in $KT_BUILD/chaos/kafka, stopped on exit, also on failure;
# logs kept in $KT_BUILD/chaos/kafka/logs). Arguments go to chaos.js; the defaults are the
# full run: 1,000,000 spans, 50 faults, a 30 s cluster outage, ingest-2 with a spool.
#
#   scripts/chaos.sh [--seed N] [--spans N] [--faults N] [--rate N] [--outage-s N] ...
# Writes $KT_BUILD/chaos/summary.json; exits non-zero when anything acknowledged was lost.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
export KT_BUILD="${KT_BUILD:-build}"
for bin in kotel-ingest kotel-process kotel-kafka-admin; do
  [ -x "$KT_BUILD/$bin" ] || { echo "chaos: $KT_BUILD/$bin missing: run 'make' first" >&2; exit 2; }
done
stamp="test/node_modules/.kotel-lock"
if [ ! -d test/node_modules ] || [ ! -f "$stamp" ] || ! cmp -s "$stamp" test/package-lock.json; then
  (cd test && npm ci --no-audit --no-fund --loglevel=error)
  cp test/package-lock.json "$stamp"
fi
case "$KT_BUILD" in /*) dir="$KT_BUILD/chaos/kafka" ;; *) dir="$here/$KT_BUILD/chaos/kafka" ;; esac
cleanup() { scripts/kafka.sh down --dir "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
echo "chaos: starting a 3-node Apache Kafka cluster in $dir"
scripts/kafka.sh up --dir "$dir" --brokers 3 >/dev/null
KT_KAFKA_ENV="$dir/env" node test/chaos/chaos.js "$@"
