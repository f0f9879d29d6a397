'use strict';
// The dead-letter topic: a message kotel-process cannot decode (a poison pill) is copied
// there with the reason and skipped, never blocking its partition; data the backend refuses
// for good is copied there too, and then committed. A pass-through checks spans only when
// the backend refuses them: then the bad message alone is dead-lettered. On the devbroker
// and on real Kafka.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { withStack, topicSets } = require('./lib/procs');
const { startProcess, newGroup } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { sendShapedTraces } = require('./lib/traffic');
const { readTopicUntil } = require('./lib/kafka');
const { decodeTracesData, spansOf, encode, types } = require('./lib/otlp');
const { KAFKAS, kafkaLabel } = require('./lib/realkafka');

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}a poison pill is dead-lettered with its reason and the partition keeps flowing`, { timeout: 180000 }, async () => {
    await withStack({ kafka, broker: { deadLetter: true } }, async ({ broker, ingest }) => {
      const dlq = broker.topics.deadLetters;
      // Garbage on every partition, ahead of the good data.
      for (let p = 0; p < 4; p++) {
        execFileSync('kcat', ['-b', broker.bootstrap, '-P', '-t', broker.topics.traces, '-p', String(p)], { input: `not protobuf at all ${p}\n` });
      }
      const backend = await startGrpcBackend();
      const proc = await startProcess({
        sets: {
          ...topicSets(broker),
          'kafka.brokers': broker.bootstrap,
          'kafka.group_id': newGroup('poison'),
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
        const t = broker.topics.traces;
        assert.match(proc.log(), new RegExp(`${t}.*\\[\\d\\].*offset 0|offset 0.*${t}`), 'the log names topic, partition and offset');
      } finally {
        const e = await proc.stop();
        await backend.stop();
        assert.equal(e.code, 0, `kotel-process exit ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
      }
    });
  });

  test(`${kafkaLabel(kafka)}data the backend refuses for good goes to the dead-letter topic, and its offsets are committed`, { timeout: 180000 }, async () => {
    await withStack({ kafka, broker: { deadLetter: true } }, async ({ broker, ingest }) => {
      const dlq = broker.topics.deadLetters;
      const backend = await startGrpcBackend();
      const group = newGroup('refused');
      const sets = {
        ...topicSets(broker),
        'kafka.brokers': broker.bootstrap,
        'kafka.group_id': group,
        'kafka.initial_offset': 'earliest',
        'kafka.dead_letter_topic': dlq,
        'exporter.endpoint': backend.url,
        'exporter.send_batch_timeout': '50ms',
      };
      backend.rec.rejectAll(true);
      let proc = await startProcess({ sets });
      let refusedTraces;
      try {
        ({ traces: refusedTraces } = await sendShapedTraces(ingest, { traces: 8, tag: 'refused' }));
        const want = [...refusedTraces.values()].reduce((n, t) => n + t.spanIds.size, 0);
        const spansIn = (msgs) => msgs.flatMap((m) => spansOf(decodeTracesData(m.value)));
        const dead = await readTopicUntil(broker.bootstrap, dlq, (m) => new Set(spansIn(m).map((s) => s.spanId)).size >= want);
        const ids = new Set(spansIn(dead).map((s) => s.spanId));
        for (const t of refusedTraces.values()) for (const id of t.spanIds) assert.ok(ids.has(id), `refused span ${id} is in ${dlq}`);
        assert.match(proc.log(), /rejects this data on purpose/, "the backend's message is logged");
        // The log line names the messages, so an operator can find them (kotel-process --dump).
        const esc = broker.topics.traces.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        assert.match(proc.log(), new RegExp(`export of \\d+ spans \\(traces\\) from ${esc} \\[\\d+\\] offsets? \\d+(\\.\\.\\d+)?.* refused by the backend, not retried`), 'the refusal names topic, partition and offsets');
      } finally {
        const e = await proc.stop();
        assert.equal(e.code, 0, `kotel-process exit ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
      }
      // A new replica in the same group starts after the committed offsets: the refused data
      // is not read again, data sent afterwards is.
      backend.rec.rejectAll(false);
      proc = await startProcess({ sets });
      try {
        const { traces: fresh } = await sendShapedTraces(ingest, { traces: 3, tag: 'after' });
        const freshIds = [...fresh.keys()];
        await backend.rec.until(() => freshIds.every((id) => backend.rec.spans.some((s) => s.traceId === id)), 60000, 'the data sent afterwards');
        for (const id of refusedTraces.keys()) assert.ok(!backend.rec.spans.some((s) => s.traceId === id), `refused trace ${id} was committed, not re-read`);
      } finally {
        const e = await proc.stop();
        await backend.stop();
        assert.equal(e.code, 0, `kotel-process exit ${JSON.stringify(e)}`);
      }
    });
  });

  test(`${kafkaLabel(kafka)}pass-through: a span name that is not UTF-8 reaches the backend; refused, its message alone is dead-lettered, naming the field, and the rest of the request is delivered`, { timeout: 180000 }, async () => {
    await withStack({ kafka, broker: { deadLetter: true } }, async ({ broker, ingest }) => {
      const dlq = broker.topics.deadLetters;
      // Good data through kotel-ingest, and one message kotel-ingest would refuse written
      // straight to Kafka: a span whose name holds the byte 0xff.
      const { traces } = await sendShapedTraces(ingest, { traces: 10, tag: 'beside-bad' });
      const want = [...traces.values()].flatMap((t) => [...t.spanIds]);
      const bad = encode(types.TracesData, {
        resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 0xbb), spanId: Buffer.alloc(8, 0xbb), name: 'BADNAME!' }] }] }],
      });
      bad[bad.indexOf('BADNAME!') + 3] = 0xff;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kt-bad-utf8-'));
      try {
        fs.writeFileSync(path.join(dir, 'bad.pb'), bad);
        execFileSync('kcat', ['-b', broker.bootstrap, '-P', '-t', broker.topics.traces, '-p', '0', path.join(dir, 'bad.pb')]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      const backend = await startGrpcBackend();
      const proc = await startProcess({
        sets: {
          ...topicSets(broker),
          'kafka.brokers': broker.bootstrap,
          'kafka.group_id': newGroup('bad-utf8'),
          'kafka.initial_offset': 'earliest',
          'kafka.dead_letter_topic': dlq,
          'exporter.endpoint': backend.url,
          'exporter.send_batch_timeout': '200ms',
        },
      });
      try {
        await backend.rec.until(() => want.every((id) => backend.rec.spans.some((s) => s.spanId === id)), 60000, `the ${want.length} good spans`);
        const dead = await readTopicUntil(broker.bootstrap, dlq, (m) => m.length >= 1);
        assert.equal(dead.length, 1, 'only the bad message is dead-lettered');
        assert.ok(dead[0].value.equals(bad), 'the dead letter is the bad message as it was');
        assert.match(dead[0].headers['kotel.error'], /resource_spans\[0\]\.scope_spans\[0\]\.spans\[0\]\.name: invalid UTF-8 at byte 3 of 8/);
        assert.match(dead[0].headers['kotel.error'], /the backend said: .*cannot decode/);
        assert.ok(backend.rec.undecodable >= 1, 'the pass-through sent the bad span on; the backend refused it');
        assert.match(proc.log(), /1 of \d+ messages in the request fail kotel's full check and are dead-lettered/);
        assert.ok(!backend.rec.spans.some((s) => s.spanId === 'bb'.repeat(8)), 'the bad span never counts as exported');
      } finally {
        const e = await proc.stop();
        await backend.stop();
        assert.equal(e.code, 0, `kotel-process exit ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
      }
    });
  });
}
