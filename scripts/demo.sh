#!/usr/bin/env bash
# make demo: a local Kafka-protocol broker, kotel-ingest, OTLP telemetry sent by curl and by
# the OpenTelemetry JS SDK, and what arrived in Kafka, decoded. Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${KT_BUILD:-build}
GRPC_PORT=${KT_DEMO_GRPC_PORT:-4317}
HTTP_PORT=${KT_DEMO_HTTP_PORT:-4318}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "starting kotel-devbroker (librdkafka mock cluster, real Kafka protocol on loopback)"
mkfifo "$work/broker.in"
"$B/kotel-devbroker" --partitions 4 --topics otlp_spans,otlp_metrics,otlp_logs \
  <"$work/broker.in" >"$work/broker.out" 2>"$work/broker.err" &
pids+=($!)
exec 3>"$work/broker.in"   # keeps the broker's stdin open for control lines
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.05; done
BOOT=$(head -1 "$work/broker.out")
echo "bootstrap: $BOOT"

step "starting kotel-ingest (gRPC :$GRPC_PORT, HTTP :$HTTP_PORT)"
"$B/kotel-ingest" -c etc/kotel-ingest.ini --set kafka.brokers="$BOOT" \
  --set receiver.grpc_endpoint=127.0.0.1:$GRPC_PORT \
  --set receiver.http_endpoint=127.0.0.1:$HTTP_PORT --set batch.timeout=50ms \
  2>"$work/ingest.log" &
ING=$!
pids+=($ING)
for _ in $(seq 100); do
  (exec 5<>/dev/tcp/127.0.0.1/$HTTP_PORT) 2>/dev/null && break
  kill -0 $ING 2>/dev/null || { cat "$work/ingest.log"; exit 1; }
  sleep 0.05
done
sed 's/^/  ingest| /' "$work/ingest.log"

step "curl: one span as OTLP/JSON to /v1/traces (answered once Kafka acknowledged it)"
body='{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my-test-service"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"test-operation","kind":1,"startTimeUnixNano":"1609459200000000000","endTimeUnixNano":"1609459200500000000"}]}]}]}'
curl -sS -w '  -> HTTP %{http_code}\n' -X POST "http://127.0.0.1:$HTTP_PORT/v1/traces" \
  -H 'Content-Type: application/json' -d "$body"

step "OpenTelemetry JS SDK: 20 traces x 5 spans over OTLP/gRPC, logs over HTTP/protobuf, metrics over HTTP/JSON"
node scripts/demo.js "$BOOT" "http://127.0.0.1:$GRPC_PORT" "http://127.0.0.1:$HTTP_PORT"

step "stopping (SIGTERM: ingest finishes in-flight work and exits 0)"
kill -TERM $ING; wait $ING && echo "  kotel-ingest exited 0"
