'use strict';
// The Node half of `make demo`: an OpenTelemetry JS SDK burst into kotel-ingest, then what
// Kafka holds, decoded. scripts/demo.sh starts and stops the processes.
//   node scripts/demo.js send BOOTSTRAP GRPC_URL HTTP_URL
const path = require('node:path');
const lib = path.join(__dirname, '..', 'test', 'integration', 'lib');
const { sendTraces, sendLogs, sendMetrics, EXPORT_SUCCESS } = require(path.join(lib, 'sdk.js'));
const { readTopic } = require(path.join(lib, 'kafka.js'));
const otlp = require(path.join(lib, 'otlp.js'));

async function main() {
  const [bootstrap, grpcUrl, httpUrl] = process.argv.slice(2);
  const ingest = { grpcUrl, httpUrl };

  const t = await sendTraces(ingest, 'grpc', { traces: 20, spansPerTrace: 5, batchSize: 32 });
  const l = await sendLogs(ingest, 'http/protobuf', { count: 10 });
  const m = await sendMetrics(ingest, 'http/json', { adds: 5 });
  const ok = (r) => r.results.every((x) => x.code === EXPORT_SUCCESS);
  console.log(`  SDK traces over OTLP/gRPC:          ${t.results.length} exports, ${ok(t) ? 'all SUCCESS' : 'FAILED'}`);
  console.log(`  SDK logs over OTLP/HTTP protobuf:   ${l.results.length} exports, ${ok(l) ? 'all SUCCESS' : 'FAILED'}`);
  console.log(`  SDK metrics over OTLP/HTTP JSON:    ${m.results.length} exports, ${ok(m) ? 'all SUCCESS' : 'FAILED'}`);

  console.log('\n== what Kafka holds');
  const spans = await readTopic(bootstrap, 'otlp_spans');
  const byPartition = new Map();
  let nSpans = 0;
  for (const msg of spans) {
    const s = otlp.spansOf(otlp.decodeTracesData(msg.value));
    nSpans += s.length;
    const p = byPartition.get(msg.partition) || { messages: 0, spans: 0 };
    p.messages++;
    p.spans += s.length;
    byPartition.set(msg.partition, p);
  }
  console.log(`  otlp_spans: ${spans.length} messages, ${nSpans} spans (one message per trace, key = trace ID)`);
  for (const [p, v] of [...byPartition].sort((a, b) => a[0] - b[0]))
    console.log(`    partition ${p}: ${v.messages} messages, ${v.spans} spans`);
  const curl = spans.find((x) => x.keyString === '5b8efff798038103d269b633813fc60c');
  if (curl) {
    const s = otlp.spansOf(otlp.decodeTracesData(curl.value))[0];
    console.log(`  the curl span, partition ${curl.partition} offset ${curl.offset}, key ${curl.keyString}:`);
    console.log(`    ${JSON.stringify({ name: s.name, traceId: s.traceId, spanId: s.spanId, kind: s.kind, service: s.resource['service.name'] })}`);
  }
  const logs = await readTopic(bootstrap, 'otlp_logs');
  const recs = logs.flatMap((x) => otlp.logRecordsOf(otlp.decodeLogsData(x.value)));
  console.log(`  otlp_logs: ${logs.length} messages, ${recs.length} log records, e.g. ${JSON.stringify(recs[0] && recs[0].body)}`);
  const metrics = await readTopic(bootstrap, 'otlp_metrics');
  const dps = metrics.flatMap((x) => otlp.dataPointsOf(otlp.decodeMetricsData(x.value)));
  console.log(`  otlp_metrics: ${metrics.length} messages, ${dps.length} data points: ${[...new Set(dps.map((d) => d.name))].join(', ')}`);
  if (!ok(t) || !ok(l) || !ok(m) || nSpans < 101) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
