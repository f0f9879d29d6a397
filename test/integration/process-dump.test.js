'use strict';
// kotel-process --dump TOPIC: the topic inspector. Traces go through kotel-ingest as
// otlp_proto, kcat writes one otlp_json message and one that is neither (with keys and
// headers); the dump, piped through jq, must show every message of the topic as kcat reads
// it (partition, offset, key, headers), the span names, an error line for the garbage, and
// honour --count, --partition, --offset and --from. Runs on the devbroker and on real Kafka.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFile } = require('node:child_process');
const { withStack, topicSets, spawnTracked, binary, terminate, describeExit, tail } = require('./lib/procs');
const { readTopicUntil } = require('./lib/kafka');
const { httpRequest, newTraceId, newSpanId, jsonTraceBody } = require('./lib/clients');
const { types, encode } = require('./lib/otlp');
const { freePort, sleep } = require('./lib/ports');
const { KAFKAS, kafkaLabel } = require('./lib/realkafka');

const PROTO_SPANS = ['dump-proto-0', 'dump-proto-1', 'dump-proto-2'];

// Runs kotel-process with args, its stdout piped into `jq -c .`; resolves { code, jq (jq's
// exit), lines (jq's output lines, parsed), err (kotel-process's stderr) }. Both are killed
// after timeoutMs, so a dump that does not end fails the test instead of hanging it.
function runDump(sets, args, timeoutMs = 60000) {
  const argv = [];
  for (const [k, v] of Object.entries(sets)) argv.push('--set', `${k}=${v}`);
  argv.push(...args);
  const h = spawnTracked('kotel-process', binary('kotel-process'), argv, ['ignore', 'pipe', 'pipe']);
  const jq = spawn('jq', ['-c', '.'], { stdio: ['pipe', 'pipe', 'pipe'] });
  h.child.stdout.pipe(jq.stdin);
  let out = '';
  let jqErr = '';
  jq.stdout.setEncoding('utf8');
  jq.stdout.on('data', (d) => (out += d));
  jq.stderr.setEncoding('utf8');
  jq.stderr.on('data', (d) => (jqErr += d));
  const jqExit = new Promise((resolve) => jq.once('close', (code) => resolve(code)));
  const timer = setTimeout(() => {
    terminate(h, 2000);
    jq.kill('SIGKILL');
  }, timeoutMs);
  return Promise.all([h.exited, jqExit]).then(([e, jqCode]) => {
    clearTimeout(timer);
    const what = `kotel-process ${argv.join(' ')}: ${describeExit(e)}\n${tail(h.log())}\njq: ${jqErr}`;
    return { code: e.code, jq: jqCode, lines: out.split('\n').filter(Boolean).map((l) => JSON.parse(l)), err: h.log(), what };
  });
}

// Writes one message with kcat: value, key and headers ({ name: value }) to a partition.
function kcatProduce(bootstrap, topic, partition, { key, value, headers = {} }) {
  const args = ['-b', bootstrap, '-P', '-t', topic, '-p', String(partition), '-k', key];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  return new Promise((resolve, reject) => {
    const kc = execFile('kcat', args, { timeout: 30000 }, (err, _out, stderr) => (err ? reject(new Error(`kcat -P: ${err.message} ${stderr}`)) : resolve()));
    kc.stdin.end(value);
  });
}

const spanNames = (line) => line.data.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((sp) => sp.name)));
const at = (lines) => lines.map((l) => `${l.partition}/${l.offset}`);

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}--dump prints every message as one JSON line jq reads: keys, headers, OTLP data, errors; --count, --partition, --offset, --from`, { timeout: 240000 }, async () => {
    await withStack({ kafka, broker: { partitions: 2, tag: 'dump' } }, async ({ broker, ingest }) => {
      const topic = broker.topics.traces;
      const traceIds = new Map(); // span name -> trace ID (hex)
      for (const name of PROTO_SPANS) {
        traceIds.set(name, newTraceId());
        const body = encode(types.ExportTraceServiceRequest, {
          resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from(traceIds.get(name), 'hex'), spanId: Buffer.from(newSpanId(), 'hex'), name }] }] }],
        });
        const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body });
        assert.equal(r.status, 200, `ingest answered ${r.status} ${r.body}`);
      }
      // Written after the traces are on the topic, so their timestamps come later (--from).
      const before = await readTopicUntil(broker.bootstrap, topic, (m) => m.length >= PROTO_SPANS.length);
      assert.equal(before.length, PROTO_SPANS.length, 'kotel-ingest wrote one message per request');
      await kcatProduce(broker.bootstrap, topic, 0, {
        key: 'json-key',
        value: jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId(), name: 'dump-json' }),
        headers: { origin: 'kcat', 'content-type': 'otlp_json' },
      });
      await kcatProduce(broker.bootstrap, topic, 1, { key: '\x01\x02junk', value: 'not OTLP at all', headers: { origin: 'junk' } });
      const msgs = await readTopicUntil(broker.bootstrap, topic, (m) => m.length >= PROTO_SPANS.length + 2);
      assert.equal(msgs.length, PROTO_SPANS.length + 2);

      const sets = { 'kafka.brokers': broker.bootstrap, ...topicSets(broker) };
      const all = await runDump(sets, ['--dump', topic]);
      assert.equal(all.code, 0, all.what);
      assert.equal(all.jq, 0, `jq parses every line: ${all.what}`);
      const key = (l) => `${l.partition}/${l.offset}`;
      assert.deepEqual(at(all.lines).sort(), msgs.map(key).sort(), 'one line per message of the topic, at its partition and offset');
      for (const m of msgs) {
        const l = all.lines.find((x) => x.partition === m.partition && x.offset === m.offset);
        assert.equal(l.topic, topic);
        if (m.key === null) assert.equal(l.key, null, `${key(m)}: no key`);
        else if (/^[\x20-\x7e]*$/.test(m.keyString)) assert.equal(l.key, m.keyString, `${key(m)}: the key as text`);
        else assert.equal(l.key_base64, m.key.toString('base64'), `${key(m)}: a binary key in base64`);
        assert.deepEqual(l.headers, m.headers, `${key(m)}: the headers`);
        assert.equal(new Date(l.timestamp).getTime(), l.timestamp_ms, `${key(m)}: timestamp ${l.timestamp} is timestamp_ms`);
        assert.match(l.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      }
      const proto = all.lines.filter((l) => l.encoding === 'otlp_proto');
      assert.deepEqual(proto.flatMap(spanNames).sort(), PROTO_SPANS, 'the spans written through kotel-ingest, decoded from otlp_proto');
      for (const l of proto) {
        assert.equal(l.signal, 'traces');
        assert.equal(l.key, traceIds.get(spanNames(l)[0]), 'kotel-ingest keys a trace by its ID in hex');
      }
      const json = all.lines.filter((l) => l.encoding === 'otlp_json');
      assert.equal(json.length, 1);
      assert.deepEqual([json[0].key, json[0].signal, spanNames(json[0])], ['json-key', 'traces', ['dump-json']]);
      assert.deepEqual(json[0].headers, { origin: 'kcat', 'content-type': 'otlp_json' });
      const bad = all.lines.filter((l) => l.error !== undefined);
      assert.equal(bad.length, 1, 'exactly the garbage message is an error line');
      assert.equal(bad[0].key_base64, Buffer.from('\x01\x02junk').toString('base64'), 'a key with control bytes is given in base64');
      assert.equal(bad[0].key, undefined);
      assert.match(bad[0].error, /^neither otlp_proto nor otlp_json: /);
      assert.equal(bad[0].data, undefined);

      const two = await runDump(sets, ['--dump', topic, '--count', '2']);
      assert.equal(two.code, 0, two.what);
      assert.equal(two.lines.length, 2, '--count 2 prints two messages');

      const p1 = await runDump(sets, ['--dump', topic, '--partition', '1']);
      assert.equal(p1.code, 0, p1.what);
      assert.deepEqual(at(p1.lines), msgs.filter((m) => m.partition === 1).map(key), '--partition 1: that partition only, in order');

      // Five messages in two partitions: one of them holds three or more.
      const fuller = msgs.filter((m) => m.partition === 0).length >= 3 ? 0 : 1;
      const from1 = await runDump(sets, ['--dump', topic, '--partition', String(fuller), '--offset', '1']);
      assert.equal(from1.code, 0, from1.what);
      const wantFrom1 = msgs.filter((m) => m.partition === fuller && m.offset >= 1).map(key);
      assert.ok(wantFrom1.length >= 2, `partition ${fuller} holds three messages or more`);
      assert.deepEqual(at(from1.lines), wantFrom1, '--offset 1: from offset 1 on');

      if (kafka === 'real') {
        // librdkafka's mock cluster (the devbroker) answers no offset for any time.
        const cut = json[0].timestamp;
        const later = await runDump(sets, ['--dump', topic, '--from', cut]);
        assert.equal(later.code, 0, later.what);
        const wantLater = all.lines.filter((l) => l.timestamp_ms >= json[0].timestamp_ms);
        assert.deepEqual(at(later.lines).sort(), at(wantLater).sort(), `--from ${cut}: the messages from then on`);
        assert.ok(later.lines.every((l) => l.encoding !== 'otlp_proto'), '--from leaves out the earlier traces');
      }

      const none = await runDump(sets, ['--dump', topic, '--from', '2999-01-01T00:00:00Z']);
      assert.deepEqual([none.code, none.lines.length], [0, 0], '--from after the last message prints nothing');

      // --offset end waits for what comes next: messages are written until it printed one.
      const waiting = runDump(sets, ['--dump', topic, '--partition', '1', '--offset', 'end', '--count', '1'], 30000);
      let exited = false;
      waiting.then(() => (exited = true));
      for (let i = 0; !exited && i < 100; i++) {
        await kcatProduce(broker.bootstrap, topic, 1, { key: `new-${i}`, value: '{}' });
        await Promise.race([waiting, sleep(200)]);
      }
      const next = await waiting;
      assert.equal(next.code, 0, next.what);
      assert.equal(next.lines.length, 1, '--count 1 stops after one message');
      assert.match(next.lines[0].key, /^new-\d+$/, '--offset end: only a message written after the start');
      assert.deepEqual([next.lines[0].encoding, next.lines[0].data], ['otlp_json', {}]);

      for (const args of [['--count', '0'], ['--offset', 'middle'], ['--from', 'yesterday'], ['--partition', '7']]) {
        const r = await runDump(sets, ['--dump', topic, ...args]);
        assert.equal(r.code, 2, `${args.join(' ')} is a usage error: ${r.what}`);
        assert.equal(r.lines.length, 0);
      }
      if (kafka === 'real') {
        // The devbroker creates any topic a client asks about; real Kafka here does not.
        const r = await runDump(sets, ['--dump', `${topic}-missing`]);
        assert.equal(r.code, 1, r.what);
        assert.match(r.err, /does not exist/);
      }
    });
  });
}

test('--dump: brokers that do not answer within [kafka] connect_timeout are an error, exit 1', { timeout: 60000 }, async () => {
  const port = await freePort();
  const r = await runDump({ 'kafka.brokers': `127.0.0.1:${port}`, 'kafka.connect_timeout': '1s' }, ['--dump', 'otlp_spans']);
  assert.equal(r.code, 1, r.what);
  assert.match(r.err, /within \[kafka\] connect_timeout \(1000ms\)/);
  assert.equal(r.lines.length, 0);
});
