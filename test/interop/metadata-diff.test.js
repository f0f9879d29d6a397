'use strict';
// Interop: request metadata in the record headers, kotel-ingest against the Collector's kafka
// exporter (include_metadata_keys, traces::topic_from_metadata_key; receivers with
// include_metadata, test/otelcol/interop-ingest-metadata.yaml). Each case is one request
// sent to both nodes alike (HTTP/1.1 with curl, or gRPC with @grpc/grpc-js), each with a trace
// of its own; the records holding the two traces are read back with kcat and must carry the
// same record headers, in the same order, in the same topic. Then one request of log records
// of two traces and of none, with partition_logs_by_trace_id on both: each record must get
// the same key, partition and headers from both.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const grpc = require('@grpc/grpc-js');

const { startKafka, startIngest, topicSets } = require('../integration/lib/procs');
const { readTopic } = require('../integration/lib/kafka');
const { sleep } = require('../integration/lib/ports');
const { encode, types, decodeTracesData, decodeLogsData, spansOf, logRecordsOf } = require('../integration/lib/otlp');
const { newTraceId, newSpanId } = require('../integration/lib/clients');
const { realKafkaEnabled, admin, replicationOf } = require('../integration/lib/realkafka');
const { startCollectorIngest, stopChecked } = require('./lib/otelcol');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kt-metadata-diff-'));

// The cases: how the request travels and its headers ([name, value], names may repeat;
// '${custom}' in a value is the test's extra topic).
const CASES = [
  { name: 'HTTP/1.1, a key sent twice and names in other cases', via: 'http', headers: [['X-ENV', 'prod'], ['x-env', 'eu'], ['X-Team', 'a']] },
  { name: 'HTTP/1.1, no metadata', via: 'http', headers: [] },
  { name: 'HTTP/1.1, the second key only', via: 'http', headers: [['x-team', 'b']] },
  { name: 'HTTP/1.1, keys in the other order and a header not listed', via: 'http', headers: [['x-team', 'c'], ['x-other', 'no'], ['x-env', 'd']] },
  { name: 'HTTP/1.1, topic from a header', via: 'http', headers: [['x-topic', '${custom}'], ['x-env', 'routed']] },
  { name: 'HTTP/1.1, an empty value', via: 'http', headers: [['x-env', '']] },
  { name: 'gRPC, a key sent twice', via: 'grpc', headers: [['x-env', 'g1'], ['x-env', 'g2'], ['x-team', 'g']] },
  { name: 'gRPC, no metadata', via: 'grpc', headers: [] },
  { name: 'gRPC, topic from metadata', via: 'grpc', headers: [['x-topic', '${custom}'], ['x-team', 'gt']] },
];

function requestBody(traceId) {
  const span = { traceId: Buffer.from(traceId, 'hex'), spanId: Buffer.from(newSpanId(), 'hex'), name: 'op', kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000001000000' };
  return encode(types.ExportTraceServiceRequest, { resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans: [span] }] }] });
}

function postHttp(node, body, headers, signal = 'traces') {
  const file = path.join(dir, `req-${newSpanId()}.pb`);
  fs.writeFileSync(file, body);
  const args = ['-sS', '--max-time', '20', '--http1.1', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'content-type: application/x-protobuf'];
  // curl sends "name;" as the header with an empty value.
  for (const [k, v] of headers) args.push('-H', v === '' ? `${k};` : `${k}: ${v}`);
  args.push('--data-binary', `@${file}`, `${node.httpUrl}/v1/${signal}`);
  return new Promise((resolve, reject) => {
    execFile('curl', args, (e, out, err) => (e ? reject(new Error(`curl: ${err}`)) : resolve(Number(out))));
  });
}

function postGrpc(node, body, headers) {
  const client = new grpc.Client(`127.0.0.1:${node.grpcPort}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  for (const [k, v] of headers) md.add(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', (b) => b, (b) => b, body, md, { deadline: Date.now() + 20000 }, (err) => {
      client.close();
      resolve(err ? `gRPC ${err.code} ${err.details}` : 200);
    });
  });
}

// trace ID -> { topic, headers } of the record holding it.
function recordsOf(topic, msgs, out) {
  for (const m of msgs) for (const s of spansOf(decodeTracesData(m.value))) out.set(s.traceId, { topic, headers: m.headerList });
}

test('real Kafka: include_metadata_keys, topic_from_metadata_key, partition_logs_by_trace_id: kotel-ingest writes the record headers, topics and keys the Collector writes', { skip: !realKafkaEnabled() && 'needs real Kafka', timeout: 300000 }, async (t) => {
  const broker = await startKafka('real', { partitions: 6, tag: 'meta' });
  const custom = `${broker.topics.traces}-custom`;
  await admin(['create', custom, '--partitions', '2', '--replication', String(replicationOf())]);
  const col = { name: 'the Collector', ...(await startCollectorIngest(broker, { config: 'interop-ingest-metadata.yaml' })) };
  const kotel = {
    name: 'kotel-ingest',
    ...(await startIngest({
      bootstrap: broker.bootstrap,
      sets: {
        ...topicSets(broker),
        'kafka.include_metadata_keys': 'X-Env,x-team',
        'kafka.topic_from_metadata_key': 'x-topic',
        'kafka.partition_logs_by_trace_id': true,
      },
    })),
  };
  try {
    const ids = CASES.map(() => ({ col: newTraceId(), kotel: newTraceId() }));
    for (const [i, c] of CASES.entries()) {
      const headers = c.headers.map(([k, v]) => [k, v.replace('${custom}', custom)]);
      for (const [node, key] of [[col, 'col'], [kotel, 'kotel']]) {
        const body = requestBody(ids[i][key]);
        const r = c.via === 'http' ? await postHttp(node, body, headers) : await postGrpc(node, body, headers);
        assert.equal(r, 200, `${c.name}: ${node.name} answered ${r}`);
      }
    }
    const all = ids.flatMap((x) => [x.col, x.kotel]);
    let got;
    for (const deadline = Date.now() + 60000; ; await sleep(250)) {
      got = new Map();
      recordsOf(broker.topics.traces, await readTopic(broker.bootstrap, broker.topics.traces), got);
      recordsOf(custom, await readTopic(broker.bootstrap, custom), got);
      if (all.every((id) => got.has(id)) || Date.now() > deadline) break;
    }
    let agree = 0;
    const differ = [];
    for (const [i, c] of CASES.entries()) {
      const a = got.get(ids[i].col);
      const b = got.get(ids[i].kotel);
      assert.ok(a, `${c.name}: the Collector's trace not found`);
      assert.ok(b, `${c.name}: kotel's trace not found`);
      if (JSON.stringify(a) === JSON.stringify(b)) agree++;
      else differ.push(`${c.name}: the Collector ${JSON.stringify(a)}, kotel ${JSON.stringify(b)}`);
    }
    t.diagnostic(`${CASES.length} cases, ${agree} agree, ${differ.length} differ`);
    // Agreement on something: the first case's headers and the routed case's topic.
    assert.deepEqual(got.get(ids[0].kotel).headers, [['X-Env', 'prod'], ['X-Env', 'eu'], ['x-team', 'a']]);
    assert.equal(got.get(ids[4].kotel).topic, custom);
    assert.deepEqual(differ, []);

    // Logs: records of trace A, trace B, A again and of none, the same trace IDs on both
    // nodes, told apart by their bodies.
    const [ta, tb] = [newTraceId(), newTraceId()];
    const logs = (via) => {
      const rec = (tid, b) => ({ timeUnixNano: '1700000000000000000', body: { stringValue: `${via}-${b}` }, ...(tid ? { traceId: Buffer.from(tid, 'hex') } : {}) });
      return encode(types.ExportLogsServiceRequest, { resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ logRecords: [rec(ta, 'a'), rec(tb, 'b'), rec(ta, 'c'), rec(null, 'd')] }] }] });
    };
    for (const [node, via] of [[col, 'col'], [kotel, 'kotel']]) {
      const r = await postHttp(node, logs(via), [['x-env', 'logs']], 'logs');
      assert.equal(r, 200, `logs: ${node.name} answered ${r}`);
    }
    let byBody;
    for (const deadline = Date.now() + 60000; ; await sleep(250)) {
      byBody = new Map();
      for (const m of await readTopic(broker.bootstrap, broker.topics.logs)) {
        for (const r of logRecordsOf(decodeLogsData(m.value))) {
          byBody.set(r.body, { key: m.key === null ? null : m.key.toString('latin1'), partition: m.partition, headers: m.headerList });
        }
      }
      if (byBody.size >= 8 || Date.now() > deadline) break;
    }
    const logDiffer = [];
    for (const b of ['a', 'b', 'c', 'd']) {
      const a = byBody.get(`col-${b}`);
      const k = byBody.get(`kotel-${b}`);
      assert.ok(a && k, `log record ${b}: the Collector ${JSON.stringify(a)}, kotel ${JSON.stringify(k)}`);
      // A record without a trace ID has no key (kcat: null) on both: the partitioner picks
      // any partition, so only the key and headers are compared.
      if (b === 'd') {
        if (a.key !== k.key || JSON.stringify(a.headers) !== JSON.stringify(k.headers)) logDiffer.push(`record d: ${JSON.stringify(a)} vs ${JSON.stringify(k)}`);
        continue;
      }
      if (JSON.stringify(a) !== JSON.stringify(k)) logDiffer.push(`record ${b}: the Collector ${JSON.stringify(a)}, kotel ${JSON.stringify(k)}`);
    }
    t.diagnostic(`logs by trace ID: 4 records, ${4 - logDiffer.length} agree, ${logDiffer.length} differ`);
    assert.equal(byBody.get('kotel-a').key, ta);
    assert.deepEqual(logDiffer, []);
  } finally {
    await stopChecked(col, 'the Collector ingest');
    const e = await kotel.stop();
    assert.equal(e.code, 0, `kotel-ingest exit: ${JSON.stringify(e)}`);
  }
});
