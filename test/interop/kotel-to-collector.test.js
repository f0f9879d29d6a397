'use strict';
// Interop 2 and 3 (the other direction): kotel-ingest as the ingest tier, the Collector as
// the process tier (kafkareceiver → filter → tail_sampling → otlp), on the same topics of
// the real Kafka cluster: whole error traces once each, metrics and logs; with otlp_proto
// and otlp_json.

const { test } = require('node:test');
const { withStack } = require('../integration/lib/procs');
const { newGroup } = require('../integration/lib/kprocess');
const { startGrpcBackend } = require('../integration/lib/backend');
const { sendSentinels } = require('../integration/lib/traffic');
const { realKafkaEnabled } = require('../integration/lib/realkafka');
const { startCollectorProcess, stopChecked } = require('./lib/otelcol');
const { sendTraffic, assertDelivered } = require('./lib/check');

const LOGS = 100;

for (const encoding of ['otlp_proto', 'otlp_json']) {
  test(`real Kafka: kotel-ingest (${encoding}) → Collector process tier: whole error traces once each, metrics and logs`, { skip: !realKafkaEnabled() && 'needs real Kafka', timeout: 300000 }, async () => {
    await withStack({ kafka: 'real', broker: { partitions: 4, tag: 'k2c' }, ingest: { sets: { 'kafka.encoding': encoding } } }, async ({ broker, ingest }) => {
      const backend = await startGrpcBackend();
      let col;
      try {
        // kotel-ingest answers once Kafka has the data, so the sentinels follow it in order.
        const { traces, metrics } = await sendTraffic(ingest, { logs: LOGS, tag: 'k2c' });
        const sentinels = await sendSentinels(ingest, broker);

        col = await startCollectorProcess(broker, backend, { encoding, group: newGroup('otelcol') });
        await assertDelivered(backend, { traces, sentinels, logs: LOGS, metrics, tag: 'k2c' });
      } finally {
        if (col) await stopChecked(col, 'the Collector process tier');
        await backend.stop();
      }
    });
  });
}
