'use strict';
// make demo: a Kafka-protocol broker (kotel-devbroker), kotel-ingest, kotel-process and a
// sample OTLP backend; telemetry sent by curl and by the OpenTelemetry JS SDK; what Kafka
// holds and what the backend receives. Everything started here is stopped at the end.
// make demo KAFKA=real runs the same on a 3-node Apache Kafka cluster (scripts/kafka.sh),
// started for the demo (or the one KT_KAFKA_ENV names) with topics of the demo's own.
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const lib = path.join(__dirname, '..', 'test', 'integration', 'lib');
const { startKafka, topicSets, startIngest } = require(path.join(lib, 'procs.js'));
const { startProcess } = require(path.join(lib, 'kprocess.js'));
const { startGrpcBackend } = require(path.join(lib, 'backend.js'));
const { sendShapedTraces } = require(path.join(lib, 'traffic.js'));
const { sendLogs, sendMetrics, EXPORT_SUCCESS } = require(path.join(lib, 'sdk.js'));
const { readTopic } = require(path.join(lib, 'kafka.js'));
const otlp = require(path.join(lib, 'otlp.js'));

const step = (s) => console.log(`\n\x1b[1m== ${s}\x1b[0m`);
const CURL_TRACE = '5b8efff798038103d269b633813fc60c';

async function main() {
  const kafka = process.env.KT_DEMO_KAFKA || 'devbroker';
  if (kafka === 'real') step('Apache Kafka: a local 3-node KRaft cluster (scripts/kafka.sh), replication factor 3');
  else step('kotel-devbroker: librdkafka mock cluster, the real Kafka protocol on loopback');
  const broker = await startKafka(kafka, { partitions: 4, tag: 'demo' });
  const T = broker.topics;
  console.log(`  bootstrap ${broker.bootstrap}, topics ${T.traces} ${T.metrics} ${T.logs}, 4 partitions each`);

  step('kotel-ingest: OTLP/gRPC and OTLP/HTTP in, Kafka out');
  const ingest = await startIngest({ bootstrap: broker.bootstrap, sets: topicSets(broker) });
  console.log(`  gRPC ${ingest.grpcUrl}   HTTP ${ingest.httpUrl}`);

  step('sample OTLP backend (@grpc/grpc-js) printing what it receives');
  const backend = await startGrpcBackend();
  backend.rec.onRecord = (signal, items) => console.log(`  backend <- ${signal}: ${items}`);
  console.log(`  ${backend.url}`);

  step('kotel-process: consumer group -> filter -> transform -> tail sampling -> backend');
  const sets = {
    'kafka.brokers': broker.bootstrap,
    ...topicSets(broker),
    'kafka.initial_offset': 'earliest',
    'exporter.endpoint': backend.url,
    'exporter.send_batch_timeout': '100ms',
    'filter.trace_conditions': 'span.name == "GET /healthz"',
    'transform.trace_statements': 'set(span.attributes["kotel.pipeline"], "demo")',
    'tail_sampling.decision_wait': '2s',
    'tail_sampling.policy.errors.type': 'status_code',
    'tail_sampling.policy.errors.status_codes': 'ERROR',
    'tail_sampling.policy.half.type': 'probabilistic',
    'tail_sampling.policy.half.sampling_percentage': '50',
  };
  for (const [k, v] of Object.entries(sets)) if (k.startsWith('filter') || k.startsWith('transform') || k.startsWith('tail')) console.log(`  ${k} = ${v}`);
  const proc = await startProcess({ sets });
  await proc.waitLog(/assigned [1-9]\d* partitions/, 60000, 'partition assignment');

  step('curl: one span as OTLP/JSON to /v1/traces (answered once Kafka acknowledged it)');
  const body = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my-test-service"}}]},"scopeSpans":[{"spans":[{"traceId":"${CURL_TRACE}","spanId":"eee19b7ec3c1b174","name":"test-operation","kind":1,"status":{"code":2},"startTimeUnixNano":"1609459200000000000","endTimeUnixNano":"1609459200500000000"}]}]}]}`;
  console.log(`  curl -X POST ${ingest.httpUrl}/v1/traces -H 'Content-Type: application/json' -d '${body.slice(0, 60)}…'`);
  const code = execFileSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', `${ingest.httpUrl}/v1/traces`, '-H', 'Content-Type: application/json', '-d', body]).toString();
  console.log(`  -> HTTP ${code}`);

  step('OpenTelemetry JS SDK: 40 traces over OTLP/gRPC (every 4th with an error, each with a /healthz span), logs over HTTP/protobuf, metrics over HTTP/JSON');
  const { traces } = await sendShapedTraces(ingest, { traces: 40, children: 3, isError: (i) => i % 4 === 0, dropName: 'GET /healthz', tag: 'demo' });
  const l = await sendLogs(ingest, 'http/protobuf', { count: 10 });
  const m = await sendMetrics(ingest, 'http/json', { adds: 5 });
  const ok = (r) => r.results.every((x) => x.code === EXPORT_SUCCESS);
  console.log(`  traces: all acknowledged; logs: ${ok(l) ? 'all acknowledged' : 'FAILED'}; metrics: ${ok(m) ? 'all acknowledged' : 'FAILED'}`);

  step('what Kafka holds');
  const spans = await readTopic(broker.bootstrap, T.traces);
  const parts = new Map();
  let nSpans = 0;
  for (const msg of spans) {
    const n = otlp.spansOf(otlp.decodeTracesData(msg.value)).length;
    nSpans += n;
    parts.set(msg.partition, (parts.get(msg.partition) || 0) + 1);
  }
  console.log(`  ${T.traces}: ${spans.length} messages (one per trace, key = trace ID), ${nSpans} spans; per partition: ${[...parts].sort().map(([p, n]) => `${p}:${n}`).join(' ')}`);
  const logs = await readTopic(broker.bootstrap, T.logs);
  const metrics = await readTopic(broker.bootstrap, T.metrics);
  console.log(`  ${T.logs}: ${logs.length} messages; ${T.metrics}: ${metrics.length} messages`);

  step('what the backend received through kotel-process');
  const errorTraces = [...traces].filter(([, t]) => t.error).map(([id]) => id);
  await backend.rec.until(() => errorTraces.every((id) => backend.rec.spans.some((s) => s.traceId === id)) && backend.rec.spans.some((s) => s.traceId === CURL_TRACE), 60000, 'every error trace');
  await backend.rec.until(() => backend.rec.logs.length >= 10 && backend.rec.points.length > 0, 30000, 'logs and metrics');
  const got = new Set(backend.rec.spans.map((s) => s.traceId));
  const curl = backend.rec.spans.find((s) => s.traceId === CURL_TRACE);
  console.log(`  traces: ${got.size} of ${traces.size + 1} sent (all ${errorTraces.length + 1} with an error, about half of the rest)`);
  console.log(`  spans named "GET /healthz": ${backend.rec.spans.filter((s) => s.name === 'GET /healthz').length} (the filter drops them)`);
  console.log(`  the curl span: ${JSON.stringify({ name: curl.name, traceId: curl.traceId, service: curl.resource['service.name'], attributes: curl.attributes })}`);
  console.log(`  log records: ${backend.rec.logs.length}, metric data points: ${backend.rec.points.length}`);

  step('stopping (SIGTERM: each tier finishes what it accepted, commits, exits 0)');
  const ep = await proc.stop();
  console.log(`  kotel-process: ${ep.code === 0 ? 'exited 0' : JSON.stringify(ep)}`);
  const ei = await ingest.stop();
  console.log(`  kotel-ingest: ${ei.code === 0 ? 'exited 0' : JSON.stringify(ei)}`);
  await backend.stop();
  await broker.stop();
  if (ep.code !== 0 || ei.code !== 0 || code !== '200') process.exitCode = 1;
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
