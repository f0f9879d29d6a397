'use strict';
// A message kotel-process cannot decode (a poison pill) is copied to the dead-letter topic
// with the reason, skipped, and never blocks its partition: data behind it still arrives.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { withStack, TOPICS } = require('./lib/procs');
const { startProcess } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { sendShapedTraces } = require('./lib/traffic');
const { readTopicUntil } = require('./lib/kafka');

test('a poison pill is dead-lettered with its reason and the partition keeps flowing', { timeout: 180000 }, async () => {
  const dlq = 'otlp_dead_letters';
  await withStack({ broker: { topics: [...Object.values(TOPICS), dlq] } }, async ({ broker, ingest }) => {
    // Garbage on every partition, ahead of the good data.
    for (let p = 0; p < 4; p++) {
      execFileSync('kcat', ['-b', broker.bootstrap, '-P', '-t', TOPICS.traces, '-p', String(p)], { input: `not protobuf at all ${p}\n` });
    }
    const backend = await startGrpcBackend();
    const proc = await startProcess({
      sets: {
        'kafka.brokers': broker.bootstrap,
        'kafka.group_id': `kotel-poison-${process.pid}`,
        'kafka.initial_offset': 'earliest',
        'kafka.dead_letter_topic': dlq,
        'exporter.endpoint': backend.url,
        'exporter.send_batch_timeout': '50ms',
      },
    });
    try {
      const { traces } = await sendShapedTraces(ingest, { traces: 10 });
      const want = [...traces.values()].reduce((n, t) => n + t.spanIds.size, 0);
      await backend.rec.until(() => new Set(backend.rec.spans.map((s) => s.spanId)).size >= want, 60000, `${want} spans behind the poison pills`);
      const dead = await readTopicUntil(broker.bootstrap, dlq, (m) => m.length >= 4);
      assert.equal(dead.length, 4, 'each poison pill is dead-lettered once');
      for (const m of dead) assert.match(m.value.toString(), /^not protobuf at all \d/);
      assert.match(proc.log(), new RegExp(`${TOPICS.traces}.*\\[\\d\\].*offset 0|offset 0.*${TOPICS.traces}`), 'the log names topic, partition and offset');
    } finally {
      const e = await proc.stop();
      await backend.stop();
      assert.equal(e.code, 0, `kotel-process exit ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
    }
  });
});
