'use strict';
// Logs and metrics sent by the OpenTelemetry JS SDK over each OTLP transport arrive in
// otlp_logs / otlp_metrics, and only there. On the devbroker and on real Kafka.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withStack } = require('./lib/procs');
const { readTopic, readTopicUntil } = require('./lib/kafka');
const { decodeLogsData, decodeMetricsData, logRecordsOf, dataPointsOf } = require('./lib/otlp');
const { PROTOCOLS, EXPORT_SUCCESS, sendLogs, sendMetrics } = require('./lib/sdk');
const { KAFKAS, kafkaLabel } = require('./lib/realkafka');

const LOGS = 200;

function assertAllSucceeded(results, what) {
  assert.ok(results.length > 0, `${what}: the exporter was never called`);
  const failed = results.filter((r) => r.code !== EXPORT_SUCCESS);
  assert.equal(failed.length, 0, `${what}: export failures: ${failed.map((r) => r.error && r.error.message).slice(0, 3)}`);
}

for (const [kafka, protocol] of KAFKAS.flatMap((k) => PROTOCOLS.map((p) => [k, p]))) {
  test(`${kafkaLabel(kafka)}SDK ${protocol} log exporter: ${LOGS} log records reach the logs topic exactly once`, { timeout: 120000 }, async () => {
    await withStack({ kafka }, async ({ broker, ingest }) => {
      const { results } = await sendLogs(ingest, protocol, { count: LOGS });
      assertAllSucceeded(results, 'logs');
      assert.equal(results.reduce((a, r) => a + r.items, 0), LOGS, 'log records handed to the exporter');

      const records = (msgs) => msgs.flatMap((m) => logRecordsOf(decodeLogsData(m.value)));
      const msgs = await readTopicUntil(broker.bootstrap, broker.topics.logs, (m) => records(m).length >= LOGS);
      const recs = records(msgs);
      const seqs = new Map();
      for (const r of recs) {
        assert.equal(r.attributes['kotel.test.tag'], protocol);
        assert.equal(r.body, `log ${protocol} #${r.attributes['kotel.test.seq']}`);
        assert.equal(r.severityNumber, 9); // SEVERITY_NUMBER_INFO
        assert.equal(r.severityText, 'INFO');
        assert.equal(r.resource['service.name'], 'kotel-integration-test');
        const k = Number(r.attributes['kotel.test.seq']);
        seqs.set(k, (seqs.get(k) || 0) + 1);
      }
      const missing = [];
      for (let i = 0; i < LOGS; i++) if (!seqs.has(i)) missing.push(i);
      const dup = [...seqs].filter(([, n]) => n > 1).map(([k]) => k);
      assert.deepEqual({ missing, dup, total: recs.length }, { missing: [], dup: [], total: LOGS });

      assert.equal((await readTopic(broker.bootstrap, broker.topics.traces)).length, 0, `${broker.topics.traces} is not empty`);
      assert.equal((await readTopic(broker.bootstrap, broker.topics.metrics)).length, 0, `${broker.topics.metrics} is not empty`);
    });
  });

  test(`${kafkaLabel(kafka)}SDK ${protocol} metric exporter: a counter and a histogram reach the metrics topic`, { timeout: 120000 }, async () => {
    await withStack({ kafka }, async ({ broker, ingest }) => {
      const sent = await sendMetrics(ingest, protocol);
      assertAllSucceeded(sent.results, 'metrics');

      const points = (msgs) => msgs.flatMap((m) => dataPointsOf(decodeMetricsData(m.value)));
      const ours = (p) => p.attributes['kotel.test.tag'] === protocol;
      const msgs = await readTopicUntil(broker.bootstrap, broker.topics.metrics, (m) => {
        const ps = points(m).filter(ours);
        return ps.some((p) => p.name === sent.counterName) && ps.some((p) => p.name === sent.histogramName);
      });
      assert.ok(msgs.length > 0, `${broker.topics.metrics} is empty`);
      const ps = points(msgs).filter(ours);
      // Every export carries the cumulative state, so each exported data point holds the
      // full totals (the SDK exports once on forceFlush and possibly again on shutdown).
      const counters = ps.filter((p) => p.name === sent.counterName);
      assert.ok(counters.length >= 1, `no ${sent.counterName} data point in ${broker.topics.metrics}`);
      for (const c of counters) {
        assert.equal(c.type, 'sum');
        assert.equal(c.value, sent.expectedSum);
        assert.equal(c.resource['service.name'], 'kotel-integration-test');
        assert.equal(c.resource['kotel.test.protocol'], protocol);
      }
      const hists = ps.filter((p) => p.name === sent.histogramName);
      assert.ok(hists.length >= 1, `no ${sent.histogramName} data point in ${broker.topics.metrics}`);
      for (const h of hists) {
        assert.equal(h.type, 'histogram');
        assert.equal(h.value.count, sent.histogramCount);
      }
      assert.ok(
        counters.length <= sent.results.length,
        `${counters.length} counter points for ${sent.results.length} exports: some export was published twice`,
      );

      assert.equal((await readTopic(broker.bootstrap, broker.topics.traces)).length, 0, `${broker.topics.traces} is not empty`);
      assert.equal((await readTopic(broker.bootstrap, broker.topics.logs)).length, 0, `${broker.topics.logs} is not empty`);
    });
  });
}
