'use strict';
// What kotel checks against real Apache Kafka before it runs: a protocol_version newer than
// the cluster is reported with the broker's real version (read from ApiVersions) instead of
// failing silently later; a topic missing on a cluster that does not auto-create topics is a
// startup error for kotel-ingest, and for kotel-process a warning repeated until the topic
// appears, after which it consumes without a restart.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withStack, startKafka, startIngest, runToExit, tail } = require('./lib/procs');
const { startProcess, processSets } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { sendShapedTraces } = require('./lib/traffic');
const { realKafkaEnabled, realCluster, admin, startupSets } = require('./lib/realkafka');

const skip = realKafkaEnabled() ? false : 'KT_TEST_KAFKA excludes real Kafka';


// The Kafka release after `version` ("3.9.2" -> "4.0.0", "4.1.1" -> "4.2.0"), which the
// cluster is older than.
function newerThan(version) {
  const [maj, min] = version.split('.').map(Number);
  return maj === 3 && min === 9 ? '4.0.0' : `${maj}.${min + 1}.0`;
}

for (const tier of ['kotel-ingest', 'kotel-process']) {
  test(`real Kafka: ${tier}: a protocol_version newer than the cluster stops startup and names the cluster's real version`, { timeout: 120000, skip }, async () => {
    const broker = await startKafka('real');
    const version = realCluster().KAFKA_VERSION; // e.g. 3.9.2
    const [maj, min] = version.split('.');
    const r = await runToExit(tier, { ...(await startupSets(tier, broker)), 'kafka.protocol_version': newerThan(version) });
    assert.equal(r.code, 1, `exit ${JSON.stringify({ code: r.code, signal: r.signal })}, want 1\n${tail(r.log)}`);
    assert.match(r.log, /\[kafka\] protocol_version/);
    assert.match(r.log, new RegExp(newerThan(version).replace(/\./g, '\\.')));
    assert.match(r.log, new RegExp(`Kafka ${maj}\\.${min}\\b`), `the message names the cluster's release ${maj}.${min}\n${tail(r.log)}`);
    assert.match(r.log, /127\.0\.0\.1:\d+/, 'the message names the broker');
  });
}

test('real Kafka: the default protocol_version starts both tiers, which log the cluster\'s real version', { timeout: 120000, skip }, async () => {
  const version = realCluster().KAFKA_VERSION;
  const [maj, min] = version.split('.');
  await withStack({ kafka: 'real' }, async ({ broker, ingest }) => {
    assert.match(ingest.log(), new RegExp(`Kafka ${maj}\\.${min}\\b`), `kotel-ingest logs the cluster's release\n${tail(ingest.log())}`);
    const backend = await startGrpcBackend();
    const proc = await startProcess({ sets: processSets(broker, backend, { 'kafka.protocol_version': `${maj}.${min}.0` }) });
    try {
      assert.match(proc.log(), new RegExp(`Kafka ${maj}\\.${min}\\b`), `kotel-process logs the cluster's release\n${tail(proc.log())}`);
    } finally {
      const e = await proc.stop();
      await backend.stop();
      assert.equal(e.code, 0);
    }
  });
});

test('real Kafka: kotel-ingest refuses to start when a topic does not exist, naming it', { timeout: 120000, skip }, async () => {
  const broker = await startKafka('real');
  const missing = `kt-missing-${process.pid}-${Date.now()}`;
  const r = await runToExit('kotel-ingest', { ...(await startupSets('kotel-ingest', broker)), 'kafka.logs_topic': missing });
  assert.equal(r.code, 1, `exit ${JSON.stringify({ code: r.code, signal: r.signal })}, want 1\n${tail(r.log)}`);
  assert.match(r.log, /\[kafka\] logs_topic/);
  assert.match(r.log, new RegExp(`"${missing}" does not exist`));
});

test('real Kafka: kotel-process warns while its topic does not exist, and consumes once it is created', { timeout: 180000, skip }, async () => {
  const broker = await startKafka('real');
  const missing = `kt-later-${process.pid}-${Date.now()}`;
  const backend = await startGrpcBackend();
  const proc = await startProcess({ sets: processSets(broker, backend, { 'kafka.traces_topic': missing, 'kafka.metrics_topic': '', 'kafka.logs_topic': '' }) });
  let ingest = null;
  try {
    const warning = new RegExp(`"${missing}".*does not exist`);
    await proc.waitLog(warning, 30000, 'a warning naming the missing topic');
    // Repeated, not said once and forgotten.
    const repeated = { test: (log) => log.split('\n').filter((l) => warning.test(l)).length >= 2 };
    await proc.waitLog(repeated, 40000, 'the warning repeated');

    await admin(['create', missing, '--partitions', '4', '--replication', '3']);
    await proc.waitLog(/assigned [1-9]\d* partitions/, 60000, 'an assignment once the topic exists');
    ingest = await startIngest({ bootstrap: broker.bootstrap, sets: { 'kafka.traces_topic': missing, 'kafka.metrics_topic': broker.topics.metrics, 'kafka.logs_topic': broker.topics.logs } });
    const { traces } = await sendShapedTraces(ingest, { traces: 5, tag: 'late-topic' });
    const want = [...traces.values()].reduce((n, t) => n + t.spanIds.size, 0);
    await backend.rec.until(() => new Set(backend.rec.spans.map((s) => s.spanId)).size >= want, 60000, `${want} spans from the new topic`);
  } finally {
    if (ingest) await ingest.stop();
    const e = await proc.stop();
    await backend.stop();
    assert.equal(e.code, 0, `kotel-process exit ${JSON.stringify(e)}\n${proc.log().slice(-2000)}`);
  }
});
