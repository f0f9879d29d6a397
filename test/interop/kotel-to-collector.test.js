'use strict';
// Interop 2 and 3 (the other direction): kotel-ingest as the ingest tier, the Collector as
// the process tier (kafkareceiver → filter → tail_sampling → otlp), on the same topics of
// the real Kafka cluster: whole error traces once each, metrics and logs; with otlp_proto
// and otlp_json.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withStack } = require('../integration/lib/procs');
const { newGroup } = require('../integration/lib/kprocess');
const { startGrpcBackend } = require('../integration/lib/backend');
const { sendShapedTraces, sendSentinels } = require('../integration/lib/traffic');
const { sendLogs, sendMetrics, EXPORT_SUCCESS } = require('../integration/lib/sdk');
const { realKafkaEnabled } = require('../integration/lib/realkafka');
const { startCollectorProcess, stopChecked } = require('./lib/otelcol');
const { waitDecided, assertErrorTracesWhole, assertLogsOnce, assertMetrics } = require('./lib/check');

const LOGS = 100;

for (const encoding of ['otlp_proto', 'otlp_json']) {
  test(`real Kafka: kotel-ingest (${encoding}) → Collector process tier: whole error traces once each, metrics and logs`, { skip: !realKafkaEnabled() && 'needs real Kafka', timeout: 300000 }, async () => {
    await withStack({ kafka: 'real', broker: { partitions: 4, tag: 'k2c' }, ingest: { sets: { 'kafka.encoding': encoding } } }, async ({ broker, ingest }) => {
      const backend = await startGrpcBackend();
      let col;
      try {
        // kotel-ingest answers once Kafka has the data, so the sentinels follow it in order.
        const { traces } = await sendShapedTraces(ingest, { traces: 60, isError: (i) => i % 3 === 0, dropName: 'drop-me', tag: 'k2c' });
        const logs = await sendLogs(ingest, 'grpc', { count: LOGS, tag: 'k2c' });
        const metrics = await sendMetrics(ingest, 'grpc', { tag: 'k2c' });
        for (const r of [...logs.results, ...metrics.results]) assert.equal(r.code, EXPORT_SUCCESS, `export to kotel-ingest: ${r.error}`);
        const sentinels = await sendSentinels(ingest, broker);

        col = await startCollectorProcess(broker, backend, { encoding, group: newGroup('otelcol') });
        await waitDecided(backend, traces, sentinels);
        assertErrorTracesWhole(backend.rec.spans, traces, sentinels);

        await backend.rec.until(() => backend.rec.logs.filter((r) => r.attributes['kotel.test.tag'] === 'k2c').length >= LOGS, 60000, 'the log records');
        assertLogsOnce(backend.rec.logs, LOGS, 'k2c');
        await backend.rec.until(() => backend.rec.points.some((p) => p.name === metrics.histogramName), 60000, 'the metrics');
        assertMetrics(backend.rec.points, metrics, 'k2c');
      } finally {
        if (col) await stopChecked(col, 'the Collector process tier');
        await backend.stop();
      }
    });
  });
}
