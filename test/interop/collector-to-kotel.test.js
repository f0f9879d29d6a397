'use strict';
// Interop 1 and 3 (one direction): the Collector as the ingest tier (otlpreceiver → batch →
// kafkaexporter, partition_traces_by_id), kotel-process as the process tier, on the same
// topics of the real Kafka cluster. Every span kotel-process keeps arrives exactly once,
// tail sampling keeps whole traces, metrics and logs arrive; with otlp_proto and otlp_json.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startKafka } = require('../integration/lib/procs');
const { startProcess, processSets } = require('../integration/lib/kprocess');
const { startGrpcBackend } = require('../integration/lib/backend');
const { sendSentinels } = require('../integration/lib/traffic');
const { realKafkaEnabled } = require('../integration/lib/realkafka');
const { startCollectorIngest, stopChecked } = require('./lib/otelcol');
const { waitTopicItems, sendTraffic, assertDelivered } = require('./lib/check');

const LOGS = 100;

for (const encoding of ['otlp_proto', 'otlp_json']) {
  test(`real Kafka: Collector ingest (${encoding}) → kotel-process: whole error traces once each, metrics and logs`, { skip: !realKafkaEnabled() && 'needs real Kafka', timeout: 300000 }, async () => {
    const broker = await startKafka('real', { partitions: 4, tag: 'c2k' });
    const col = await startCollectorIngest(broker, { encoding });
    const backend = await startGrpcBackend();
    let proc;
    try {
      const { traces, metrics } = await sendTraffic(col, { logs: LOGS, tag: 'c2k' });

      // The Collector answers before Kafka has the data (its batch processor holds it):
      // wait until the topic holds every span, so that the sentinels come after all of it.
      const spans = [...traces.values()].reduce((a, t) => a + t.spanIds.size + 1, 0);
      const msgs = await waitTopicItems(broker, 'traces', encoding, spans);
      for (const m of msgs) {
        const ids = new Set(m.items.map((s) => s.traceId));
        assert.equal(ids.size, 1, `message ${m.partition}/${m.offset} holds one trace`);
        assert.equal(m.keyString, [...ids][0], `message ${m.partition}/${m.offset} is keyed by its hex trace ID`);
      }
      const sentinels = await sendSentinels(col, broker);

      proc = await startProcess({
        sets: processSets(broker, backend, {
          'kafka.encoding': encoding,
          'filter.trace_conditions': 'span.name == "drop-me"',
          'tail_sampling.decision_wait': '1s',
          'tail_sampling.policy.errors.type': 'status_code',
          'tail_sampling.policy.errors.status_codes': 'ERROR',
        }),
      });
      await assertDelivered(backend, { traces, sentinels, logs: LOGS, metrics, tag: 'c2k' });
    } finally {
      const e = proc ? await proc.stop() : { code: 0 };
      await stopChecked(col, 'the Collector ingest');
      await backend.stop();
      assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}\n${proc && proc.log().slice(-3000)}`);
    }
  });
}
