#!/usr/bin/env bash
# Runs the integration tests (test/integration/*.test.js) and the interop tests with the
# OpenTelemetry Collector (test/interop/*.test.js), node's test runner, against the
# binaries in $KT_BUILD (default build; build/asan under `make SAN=1`). Installs the pinned
# Node packages first when test/node_modules is missing or older than the lockfile. Exits
# non-zero when any test fails or none ran.
#
#   scripts/run-integration.sh [extra node --test arguments, e.g. --test-name-pattern=curl]
#   scripts/run-integration.sh test/integration/FILE.test.js ...   only those files
#   KT_TEST_VERBOSE=1 ...   also streams the children's stderr (kotel-ingest, devbroker)
#   KT_TEST_KAFKA=devbroker ...  skips the tests on real Apache Kafka (quick local runs)
#
# The tests on real Kafka share one 3-node Apache Kafka cluster (scripts/kafka.sh), started
# here before the first test file and stopped on exit, also on failure; its logs stay in
# $KT_BUILD/kafka-test/logs. Each test creates topics of its own on it.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
export KT_BUILD="${KT_BUILD:-build}"

for tool in node npm kcat curl; do
  command -v "$tool" >/dev/null || { echo "run-integration: '$tool' not found: run 'make deps'" >&2; exit 2; }
done
for bin in kotel-ingest kotel-devbroker; do
  [ -x "$KT_BUILD/$bin" ] || { echo "run-integration: $KT_BUILD/$bin missing: run 'make' first" >&2; exit 2; }
done

stamp="test/node_modules/.kotel-lock"
if [ ! -d test/node_modules ] || [ ! -f "$stamp" ] || ! cmp -s "$stamp" test/package-lock.json; then
  echo "run-integration: npm ci (test/)"
  (cd test && npm ci --no-audit --no-fund --loglevel=error)
  cp test/package-lock.json "$stamp"
fi

# Under ASan, a leak or error report makes kotel-ingest exit non-zero, which the tests check;
# an abort() (a library's failed assertion) prints its stack trace too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:handle_abort=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

log="$(mktemp "${TMPDIR:-/tmp}/kotel-integration.XXXXXX")"
kafka_dir=""
cleanup() {
  rm -f "$log"
  if [ -n "$kafka_dir" ]; then scripts/kafka.sh down --dir "$kafka_dir" || true; fi
}
trap cleanup EXIT
echo "run-integration: KT_BUILD=$KT_BUILD, node $(node --version)"

export KT_TEST_KAFKA="${KT_TEST_KAFKA:-devbroker,real}"
if [[ ",$KT_TEST_KAFKA," == *,real,* ]] && [ -z "${KT_KAFKA_ENV:-}" ]; then
  case "$KT_BUILD" in /*) kafka_dir="$KT_BUILD/kafka-test" ;; *) kafka_dir="$here/$KT_BUILD/kafka-test" ;; esac
  echo "run-integration: starting a 3-node Apache Kafka cluster for the real-Kafka tests"
  t0=$SECONDS
  scripts/kafka.sh up --dir "$kafka_dir" --brokers 3
  echo "run-integration: Apache Kafka ready in $((SECONDS - t0)) s ($kafka_dir)"
  export KT_KAFKA_ENV="$kafka_dir/env"
  # The interop tests run the Collector (scripts/otelcol.sh: built once, about 3 minutes,
  # then cached outside the work tree); built here so that no test's timeout pays for it.
  if [ -z "${KT_OTELCOL:-}" ]; then
    t0=$SECONDS
    KT_OTELCOL="$(scripts/otelcol.sh build)"
    export KT_OTELCOL
    echo "run-integration: the Collector for test/interop/ in $((SECONDS - t0)) s ($KT_OTELCOL)"
  fi
fi
set +e
# Test files named among the arguments replace the default directories.
targets=(test/integration/ test/interop/)
for a in "$@"; do
  case "$a" in *.test.js) targets=() ;; esac
done
node --test --test-concurrency=1 "$@" "${targets[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
cancelled=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$log" | tail -1)
if [ -z "$pass" ] || [ -z "$fail" ]; then
  echo "run-integration: no test summary from node --test (exit $rc)" >&2
  exit 1
fi
if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ] || [ "${cancelled:-0}" -ne 0 ] || [ "$pass" -eq 0 ]; then
  echo "run-integration: FAILED ($pass passed, $fail failed, ${cancelled:-0} cancelled, exit $rc)" >&2
  exit 1
fi
real=$(grep -E '^ *ok [0-9]+ - real Kafka' "$log" | sed 's/^ *ok [0-9]* - /  /' || true)
if [ -n "$real" ]; then
  echo "run-integration: these passed on real Apache Kafka ($(grep -c . <<<"$real")):"
  echo "$real"
fi
echo "integration: $pass passed, $fail failed"
