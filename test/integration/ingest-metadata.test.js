'use strict';
// Request metadata into Kafka ([kafka] include_metadata_keys, topic_from_metadata_key,
// topic_from_attribute): the values of the listed request headers ride on every record made
// from the request, over HTTP/1.1, h2c and gRPC alike, whatever the case of the names;
// requests with other values never share a record; a header or a resource attribute picks
// the topic; a value or topic kotel-ingest cannot take is refused with 400 naming the key,
// counted, and puts nothing in Kafka. Records are read back with kcat.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile, spawnSync } = require('node:child_process');
const grpc = require('@grpc/grpc-js');

const { withStack, adminPortOf, binary } = require('./lib/procs');
const { sendTraces, EXPORT_SUCCESS } = require('./lib/sdk');
const { readTopic, readTopicUntil } = require('./lib/kafka');
const { decodeTracesData, spansOf } = require('./lib/otlp');
const { newTraceId, newSpanId } = require('./lib/clients');
const { KAFKAS, kafkaLabel, admin, replicationOf } = require('./lib/realkafka');
const metrics = require('./lib/metrics');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kt-ingest-metadata-'));

// One OTLP/JSON span per resource: resources is [{ traceId, attrs: { key: value } }].
function body(resources) {
  return JSON.stringify({
    resourceSpans: resources.map(({ traceId, attrs = {} }) => ({
      resource: { attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } })) },
      scopeSpans: [
        {
          spans: [
            {
              traceId,
              spanId: newSpanId(),
              name: 'op',
              kind: 1,
              startTimeUnixNano: '1609459200000000000',
              endTimeUnixNano: '1609459200500000000',
            },
          ],
        },
      ],
    })),
  });
}

// POSTs body with curl, headers as [name, value] pairs (a name may repeat); resolves
// { status, body }.
function post(url, json, headers = [], http = '--http1.1') {
  const file = path.join(dir, `body-${newSpanId()}.json`);
  fs.writeFileSync(file, json);
  const args = ['-sS', '--max-time', '10', http, '-o', '-', '-w', '\n%{http_code}', '-H', 'content-type: application/json'];
  for (const [k, v] of headers) args.push('-H', `${k}: ${v}`);
  args.push('--data-binary', `@${file}`, `${url}/v1/traces`);
  return new Promise((resolve, reject) => {
    execFile('curl', args, (e, out, err) => {
      if (e) return reject(new Error(`curl ${args.join(' ')}: ${err}`));
      const i = out.lastIndexOf('\n');
      resolve({ status: Number(out.slice(i + 1)), body: out.slice(0, i) });
    });
  });
}

const traceIdsOf = (m) => spansOf(decodeTracesData(m.value)).map((s) => s.traceId);

// trace ID -> the header lists of the records holding its spans.
function headersByTrace(msgs) {
  const out = new Map();
  for (const m of msgs)
    for (const id of traceIdsOf(m)) {
      if (!out.has(id)) out.set(id, []);
      out.get(id).push(m.headerList);
    }
  return out;
}

const hasAll = (ids) => (msgs) => {
  const seen = new Set(msgs.flatMap(traceIdsOf));
  return ids.every((id) => seen.has(id));
};

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}request headers become record headers and pick topics; bad ones are refused`, { timeout: 180000 }, async () => {
    const sets = {
      'kafka.include_metadata_keys': 'X-Env,x-team',
      'kafka.topic_from_metadata_key': 'X-Topic',
      'kafka.topic_from_attribute': 'kafka.topic',
      'batch.timeout': '50ms',
    };
    await withStack({ kafka, ingest: { sets } }, async ({ broker, ingest }) => {
      const spans = broker.topics.traces;
      const custom = `${spans}-custom`;
      const byAttr = `${spans}-attr`;
      // The devbroker makes topics on demand; the real cluster is not asked to.
      if (kafka === 'real') await admin(['create', custom, byAttr, '--partitions', '4', '--replication', String(replicationOf())]);
      const url = ingest.httpUrl;
      const t = Object.fromEntries(['h1', 'h2', 'none', 'custom', 'attr', 'plain', 'badTopic', 'tooLong'].map((k) => [k, newTraceId()]));

      const ok = async (r, what) => assert.equal(r.status, 200, `${what}: ${r.status} ${r.body}`);
      // Names in any case; a header sent twice gives two record headers, in order.
      await ok(await post(url, body([{ traceId: t.h1 }]), [['X-Env', 'prod'], ['x-env', 'eu'], ['X-TEAM', 'a']]), 'HTTP/1.1');
      await ok(await post(url, body([{ traceId: t.h2 }]), [['X-Env', 'dev']], '--http2-prior-knowledge'), 'h2c');
      await ok(await post(url, body([{ traceId: t.none }])), 'no metadata');
      // The header's topic wins over the attribute's, for the whole request.
      await ok(await post(url, body([{ traceId: t.custom, attrs: { 'kafka.topic': byAttr } }]), [['x-topic', custom], ['x-team', 'b']]), 'x-topic');
      // Each resource to its own topic; without the attribute, the signal's.
      await ok(await post(url, body([{ traceId: t.attr, attrs: { 'kafka.topic': byAttr } }, { traceId: t.plain }])), 'topic_from_attribute');
      const md = new grpc.Metadata();
      md.set('x-env', 'grpc');
      const g = await sendTraces(ingest, 'grpc', { traces: 5, spansPerTrace: 2, exporterOptions: { metadata: md } });
      for (const x of g.results) assert.equal(x.code, EXPORT_SUCCESS, `grpc: ${x.error}`);

      const bad = await post(url, body([{ traceId: t.badTopic }]), [['x-topic', 'no spaces']]);
      assert.equal(bad.status, 400, bad.body);
      assert.match(JSON.parse(bad.body).message, /\[kafka\] topic_from_metadata_key: topic name 'no spaces': byte 2/);
      const long = await post(url, body([{ traceId: t.tooLong }]), [['x-env', 'v'.repeat(300)]]);
      assert.equal(long.status, 400, long.body);
      assert.match(JSON.parse(long.body).message, /\[kafka\] include_metadata_keys: header X-Env: a value over 255 bytes/);

      const grpcIds = [...g.expected.keys()];
      const main = await readTopicUntil(broker.bootstrap, spans, hasAll([t.h1, t.h2, t.none, t.plain, ...grpcIds]));
      const inMain = headersByTrace(main);
      // Named as configured, whatever the client's spelling.
      assert.deepEqual(inMain.get(t.h1), [[['X-Env', 'prod'], ['X-Env', 'eu'], ['x-team', 'a']]]);
      assert.deepEqual(inMain.get(t.h2), [[['X-Env', 'dev']]]);
      assert.deepEqual(inMain.get(t.none), [[]]);
      assert.deepEqual(inMain.get(t.plain), [[]]);
      for (const id of grpcIds) for (const h of inMain.get(id)) assert.deepEqual(h, [['X-Env', 'grpc']], `trace ${id}`);
      // Records hold one request's metadata only: none mixes the requests above.
      for (const m of main) {
        const kinds = new Set(traceIdsOf(m).map((id) => (grpcIds.includes(id) ? 'grpc' : id)));
        if (kinds.size > 1) assert.ok(kinds.size === 2 && kinds.has(t.none) && kinds.has(t.plain), `record ${m.partition}/${m.offset} mixes ${[...kinds]}`);
      }
      for (const id of [t.custom, t.attr, t.badTopic, t.tooLong]) assert.equal(inMain.get(id), undefined, `trace ${id} in ${spans}`);

      const inCustom = headersByTrace(await readTopicUntil(broker.bootstrap, custom, hasAll([t.custom])));
      assert.deepEqual([...inCustom.keys()], [t.custom]);
      assert.deepEqual(inCustom.get(t.custom), [[['x-team', 'b']]]);
      const inAttr = headersByTrace(await readTopicUntil(broker.bootstrap, byAttr, hasAll([t.attr])));
      assert.deepEqual([...inAttr.keys()], [t.attr]);

      const port = await adminPortOf(ingest);
      const text = (await metrics.get(port, '/metrics')).text;
      assert.equal(metrics.sample(text, 'kotel_ingest_metadata_refused_total', 'reason="bad_topic"'), 1);
      assert.equal(metrics.sample(text, 'kotel_ingest_metadata_refused_total', 'reason="too_long"'), 1);
      // Nothing of the refused requests went anywhere.
      const all = [...main, ...(await readTopic(broker.bootstrap, custom)), ...(await readTopic(broker.bootstrap, byAttr))];
      const everywhere = new Set(all.flatMap(traceIdsOf));
      assert.ok(!everywhere.has(t.badTopic) && !everywhere.has(t.tooLong));
    });
  });
}

test('bad metadata options stop kotel-ingest at startup naming the file, line and key', { timeout: 30000 }, () => {
  const cases = [
    ['[kafka]\ninclude_metadata_keys = authorization\n', ":2: [kafka] include_metadata_keys: authorization carries the client's token"],
    ['[kafka]\n\ntopic_from_metadata_key = "a b"\n', ":3: [kafka] topic_from_metadata_key: 'a b': not a header name"],
    ['[kafka]\ntraces_topic = spans!\n', ":2: [kafka] traces_topic: topic name 'spans!'"],
    [
      '[kafka]\npartition_logs_by_trace_id = true\npartition_logs_by_resource_attributes = yes\n',
      ':3: [kafka] partition_logs_by_resource_attributes: partition_logs_by_trace_id and partition_logs_by_resource_attributes cannot both be true',
    ],
  ];
  for (const [i, [text, want]] of cases.entries()) {
    const file = path.join(dir, `bad-${i}.ini`);
    fs.writeFileSync(file, text);
    const r = spawnSync(binary('kotel-ingest'), ['--check', '-c', file], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 2, `case ${i}: exit ${r.status}, stderr ${r.stderr}`);
    assert.ok(r.stderr.includes(`${file}${want}`), `case ${i}: stderr ${r.stderr}`);
  }
});
