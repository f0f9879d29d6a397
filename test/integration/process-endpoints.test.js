'use strict';
// Per-signal endpoints on different origins (issue 14), as the Collector's otlphttp exporter
// allows (traces to Tempo, logs to Loki, metrics to Mimir): traces go to one OTLP/HTTP
// backend, logs and metrics to another, each receives exactly its signals. Then the traces'
// backend stops: logs still arrive and their offsets are committed, while the traces are
// held (retried, not committed: their topic's offset stays put) and arrive once the backend is
// back on its port, and are committed then. /readyz and kotel_process_backend_up name the
// origin that is down. On the devbroker and on real Kafka.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startDevbroker, adminPortOf } = require('./lib/procs');
const { startProcess, processSets } = require('./lib/kprocess');
const { startHttpBackend } = require('./lib/backend');
const { types, encode } = require('./lib/otlp');
const { produce, committed, spanBody, logBody } = require('./lib/kadmin');
const { KAFKAS, kafkaLabel, realCluster, admin } = require('./lib/realkafka');
const { get, sample, until } = require('./lib/metrics');

const gaugeBody = (name, value) =>
  encode(types.ExportMetricsServiceRequest, {
    resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name, gauge: { dataPoints: [{ timeUnixNano: '1609459200000000000', asInt: value }] } }] }] }],
  });

// The group's committed offset of a one-partition topic (-1001: none).
async function committedOf(bootstrap, group, topic) {
  const m = await committed(bootstrap, group, [topic]);
  return m.has(`${topic}/0`) ? m.get(`${topic}/0`) : -1001;
}

let seq = 0;
for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}traces to one origin, logs and metrics to another: each gets its signals; with the traces' backend down logs keep flowing and committing, traces wait uncommitted and arrive once it is back`, { timeout: 240000 }, async () => {
    const base = `kt-endpoints-${process.pid}-${++seq}`;
    const t = { spans: `${base}-spans`, metrics: `${base}-metrics`, logs: `${base}-logs` };
    let broker;
    let bootstrap;
    if (kafka === 'devbroker') {
      broker = await startDevbroker({ partitions: 1, topics: Object.values(t) });
      bootstrap = broker.bootstrap;
    } else {
      bootstrap = realCluster().PLAINTEXT;
      await admin(['create', ...Object.values(t), '--partitions', '1', '--replication', '1']);
    }
    let tempo = await startHttpBackend();
    const loki = await startHttpBackend();
    let proc;
    try {
      for (let i = 0; i < 3; i++) await produce(bootstrap, t.spans, spanBody(`span #${i}`));
      for (let i = 0; i < 2; i++) await produce(bootstrap, t.metrics, gaugeBody(`gauge-${i}`, i + 1));
      for (let i = 0; i < 4; i++) await produce(bootstrap, t.logs, logBody(`log #${i}`));

      const sets = processSets({ bootstrap }, tempo, {
        'kafka.traces_topic': t.spans,
        'kafka.metrics_topic': t.metrics,
        'kafka.logs_topic': t.logs,
        'exporter.protocol': 'http/protobuf',
        'exporter.logs_endpoint': `${loki.url}/v1/logs`,
        'exporter.metrics_endpoint': `${loki.url}/v1/metrics`,
        'admin.endpoint': '127.0.0.1:0',
      });
      const group = sets['kafka.group_id'];
      proc = await startProcess({ sets });
      const port = await adminPortOf(proc);

      // Each backend gets its signals, and only those.
      await tempo.rec.until(() => tempo.rec.spans.length >= 3, 60000, 'the spans at the traces backend');
      await loki.rec.until(() => loki.rec.logs.length >= 4 && loki.rec.points.length >= 2, 60000, 'the logs and metrics at the other backend');
      const offs = () => Promise.all([t.spans, t.metrics, t.logs].map((topic) => committedOf(bootstrap, group, topic)));
      // Committed offsets of the spans, metrics and logs topics, as [s, m, l], once ok(them).
      const commits = (what, ok, ms) =>
        until(what, async () => {
          const o = await offs();
          return { ok: ok(o), why: `committed ${o}\n${proc.log().slice(-3000)}`, o };
        }, ms).then((r) => r.o);
      await commits('commits 3, 2, 4', (o) => o.join() === '3,2,4', 60000);
      assert.deepEqual(tempo.rec.spans.map((s) => s.name).sort(), ['span #0', 'span #1', 'span #2']);
      assert.equal(tempo.rec.logs.length + tempo.rec.points.length, 0, 'the traces backend got no logs or metrics');
      assert.deepEqual(loki.rec.logs.map((l) => l.body).sort(), ['log #0', 'log #1', 'log #2', 'log #3']);
      assert.deepEqual(loki.rec.points.map((p) => `${p.name}=${p.value}`).sort(), ['gauge-0=1', 'gauge-1=2']);
      assert.equal(loki.rec.spans.length, 0, 'the logs backend got no spans');
      const m1 = (await get(port, '/metrics')).text;
      assert.equal(sample(m1, 'kotel_process_backend_up', `endpoint="${tempo.url}"`), 1);
      assert.equal(sample(m1, 'kotel_process_backend_up', `endpoint="${loki.url}"`), 1);

      // The traces' backend goes away: its spans are retried (the log names its URL), the logs
      // go on and are committed, the spans' offset stays where it was.
      const tempoPort = tempo.port;
      await tempo.stop();
      for (let i = 3; i < 5; i++) await produce(bootstrap, t.spans, spanBody(`span #${i}`));
      await proc.waitLog(new RegExp(`export of \\d+ spans \\(traces\\) from ${t.spans} \\[0\\] offsets? .* to http://127\\.0\\.0\\.1:${tempoPort}/v1/traces failed: .*; retry`), 30000, 'the traces retried, naming their URL');
      for (let i = 4; i < 7; i++) await produce(bootstrap, t.logs, logBody(`log #${i}`));
      await loki.rec.until(() => loki.rec.logs.length >= 7, 30000, 'the logs sent while the traces backend is down');
      const held = await commits('logs committed to 7', (o) => o[2] === 7, 30000);
      assert.equal(held[0], 3, 'the spans not exported are not committed');
      const down = await get(port, '/readyz');
      assert.equal(down.status, 503);
      assert.match(JSON.parse(down.text).reason, new RegExp(`backend http://127\\.0\\.0\\.1:${tempoPort} not reachable: .+`));
      const m2 = (await get(port, '/metrics')).text;
      assert.equal(sample(m2, 'kotel_process_backend_up', `endpoint="${tempo.url}"`), 0);
      assert.equal(sample(m2, 'kotel_process_backend_up', `endpoint="${loki.url}"`), 1);
      assert.equal(sample(m2, 'kotel_process_kafka_consumption_paused'), 0, 'one origin down does not pause the others');
      assert.equal(sample(m2, 'kotel_process_kafka_signal_paused', 'signal="traces"'), 1, 'the traces topics pause');
      assert.equal(sample(m2, 'kotel_process_kafka_signal_paused', 'signal="logs"'), 0);

      // Back on its port: the held spans arrive, once, and are committed.
      tempo = await startHttpBackend({ port: tempoPort });
      await tempo.rec.until(() => tempo.rec.spans.length >= 2, 60000, 'the held spans');
      await commits('spans committed to 5', (o) => o[0] === 5, 30000);
      assert.equal(sample((await get(port, '/metrics')).text, 'kotel_process_kafka_signal_paused', 'signal="traces"'), 0, 'the traces topics resumed');
      assert.deepEqual(tempo.rec.spans.map((s) => s.name).sort(), ['span #3', 'span #4']);
      assert.equal(loki.rec.logs.length, 7, 'every log once');
      assert.equal(loki.rec.spans.length, 0);
    } finally {
      if (proc) {
        const e = await proc.stop();
        assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
      }
      await tempo.stop();
      await loki.stop();
      if (broker) await broker.stop();
      else await admin(['delete', ...Object.values(t)]).catch(() => {});
    }
  });
}
