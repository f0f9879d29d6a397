'use strict';
// Several topics per signal (issue 14): kotel-process reads traces from a list of two topics,
// logs from every topic a ^regex matches (a topic created after the start too) but the one
// excluded, and metrics as OTLP/JSON beside the protobuf signals. Every item arrives once,
// the excluded topic is never assigned (the group's assignment, and the replica's
// partitions_assigned per topic) and each topic's offsets are committed on their own (read
// back from the group). On the devbroker and on real Kafka.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startDevbroker, adminPortOf } = require('./lib/procs');
const { startProcess, processSets } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { produce, committed, spanBody, logBody } = require('./lib/kadmin');
const { httpRequest } = require('./lib/clients');
const { KAFKAS, kafkaLabel, realCluster, admin, describeGroup } = require('./lib/realkafka');

const SPANS_A = 5;
const SPANS_B = 7;
const LOGS_EARLY = 4;
const LOGS_LATE = 3;
const LOGS_SKIPPED = 6;

// OTLP/JSON, written by hand as a producer of metrics_encoding = otlp_json would.
const jsonGaugeBody = (name, value) =>
  JSON.stringify({
    resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name, gauge: { dataPoints: [{ timeUnixNano: '1609459200000000000', asInt: String(value) }] } }] }] }],
  });

async function until(pred, ms, what) {
  const t0 = Date.now();
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

let seq = 0;
for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}a list of two topics, a ^regex that finds a topic created later and leaves out an excluded one, and a JSON signal beside protobuf ones`, { timeout: 240000 }, async () => {
    const base = `kt-topics-${process.pid}-${++seq}`;
    const t = {
      a: `${base}-spans-a`,
      b: `${base}-spans-b`,
      metrics: `${base}-metrics`,
      logs1: `${base}-logs-1`,
      skip: `${base}-logs-skip`,
      late: `${base}-logs-late`,
    };
    const early = [t.a, t.b, t.metrics, t.logs1, t.skip];
    let broker;
    let bootstrap;
    if (kafka === 'devbroker') {
      // One partition each: the late topic, created on demand by its first message, gets 4.
      broker = await startDevbroker({ partitions: 1, topics: early });
      bootstrap = broker.bootstrap;
    } else {
      bootstrap = realCluster().PLAINTEXT;
      await admin(['create', ...early, '--partitions', '1', '--replication', '1']);
    }
    const backend = await startGrpcBackend();
    let proc;
    try {
      for (let i = 0; i < SPANS_A; i++) await produce(bootstrap, t.a, spanBody(`${t.a} #${i}`));
      for (let i = 0; i < SPANS_B; i++) await produce(bootstrap, t.b, spanBody(`${t.b} #${i}`));
      for (let i = 0; i < LOGS_EARLY; i++) await produce(bootstrap, t.logs1, logBody(`${t.logs1} #${i}`));
      for (let i = 0; i < LOGS_SKIPPED; i++) await produce(bootstrap, t.skip, logBody(`${t.skip} #${i}`));
      await produce(bootstrap, t.metrics, jsonGaugeBody('topics-json-gauge', 42));

      const sets = processSets({ bootstrap }, backend, {
        'kafka.traces_topic': `${t.a}, ${t.b}`,
        'kafka.metrics_topic': t.metrics,
        'kafka.metrics_encoding': 'otlp_json',
        'kafka.logs_topic': `^${base}-logs-`,
        'kafka.logs_exclude_topics': t.skip,
        'admin.endpoint': '127.0.0.1:0',
      });
      proc = await startProcess({ sets });
      await proc.waitLog(new RegExp(`topic "${t.logs1}" matches; subscribing`), 30000);

      await backend.rec.until(() => backend.rec.spans.length >= SPANS_A + SPANS_B && backend.rec.logs.length >= LOGS_EARLY && backend.rec.points.length >= 1, 60000, 'the early data');
      // Created after the start: the next listing (every 10 s) finds it.
      if (kafka === 'real') await admin(['create', t.late, '--partitions', '1', '--replication', '1']);
      for (let i = 0; i < LOGS_LATE; i++) await produce(bootstrap, t.late, logBody(`${t.late} #${i}`));
      await proc.waitLog(new RegExp(`topic "${t.late}" matches; subscribing`), 40000);
      await backend.rec.until(() => backend.rec.logs.length >= LOGS_EARLY + LOGS_LATE, 60000, 'the late topic\'s logs');

      // Commits per topic: each topic's partitions up to what it holds; the excluded topic
      // none. Once these are in, everything read was exported, so the counts below are final.
      const group = sets['kafka.group_id'];
      const want = { [t.a]: SPANS_A, [t.b]: SPANS_B, [t.metrics]: 1, [t.logs1]: LOGS_EARLY, [t.late]: LOGS_LATE };
      const sumOf = (m, topic) => [...m].filter(([k]) => k.startsWith(`${topic}/`)).reduce((s, [, o]) => s + Math.max(o, 0), 0);
      let last = new Map();
      const offs = await until(
        async () => {
          last = await committed(bootstrap, group, [...Object.keys(want), t.skip]);
          return Object.entries(want).every(([topic, n]) => sumOf(last, topic) === n) ? last : null;
        },
        60000,
        `committed offsets ${JSON.stringify(want)}`,
      ).catch((e) => {
        throw new Error(`${e.message}; last read ${JSON.stringify([...last])}\n${proc.log().slice(-3000)}`);
      });
      assert.deepEqual([...offs].filter(([k, o]) => k.startsWith(`${t.skip}/`) && o >= 0), [], `${t.skip} has committed offsets`);

      const spanNames = backend.rec.spans.map((s) => s.name).sort();
      const wantSpans = [...Array(SPANS_A).keys()].map((i) => `${t.a} #${i}`).concat([...Array(SPANS_B).keys()].map((i) => `${t.b} #${i}`)).sort();
      assert.deepEqual(spanNames, wantSpans, 'every span of both listed topics, once');
      const logBodies = backend.rec.logs.map((l) => l.body).sort();
      const wantLogs = [...Array(LOGS_EARLY).keys()].map((i) => `${t.logs1} #${i}`).concat([...Array(LOGS_LATE).keys()].map((i) => `${t.late} #${i}`)).sort();
      assert.deepEqual(logBodies, wantLogs, 'every log of the matching topics, once, none of the excluded one');
      assert.equal(backend.rec.points.length, 1);
      assert.equal(backend.rec.points[0].name, 'topics-json-gauge');
      assert.equal(Number(backend.rec.points[0].value), 42);

      // The excluded topic is not even assigned: per-topic partitions of the replica, and (on
      // real Kafka, whose coordinator describes groups) the group's assignment.
      const port = await adminPortOf(proc);
      const metrics = (await httpRequest(`http://127.0.0.1:${port}/metrics`, { method: 'GET' })).body.toString();
      for (const topic of Object.keys(want)) {
        assert.match(metrics, new RegExp(`kotel_process_kafka_partitions_assigned\\{topic="${topic}"\\} [1-9]`), `${topic} assigned`);
      }
      assert.doesNotMatch(metrics, new RegExp(`topic="${t.skip}"`));
      if (kafka === 'real') {
        const g = await describeGroup(group);
        const parts = g.members.flatMap((m) => m.partitions);
        assert.ok(parts.includes(`${t.late}:0`), `the group assigns ${t.late}: ${parts}`);
        assert.ok(!parts.some((p) => p.startsWith(`${t.skip}:`)), `the group assigns ${t.skip}: ${parts}`);
      }
    } finally {
      if (proc) {
        const e = await proc.stop();
        assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
      }
      await backend.stop();
      if (broker) await broker.stop();
      else await admin(['delete', ...early, t.late]).catch(() => {});
    }
  });
}
