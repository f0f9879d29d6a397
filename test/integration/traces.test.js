'use strict';
// Traces sent by the OpenTelemetry JS SDK over each OTLP transport arrive in otlp_spans:
// every span exactly once, every message keyed by the trace ID of all its spans, and every
// trace in one partition. The SDK tests run on the devbroker and on real Apache Kafka.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withStack, TOPICS } = require('./lib/procs');
const { readTopicUntil } = require('./lib/kafka');
const { decodeTracesData, spansOf } = require('./lib/otlp');
const { PROTOCOLS, EXPORT_SUCCESS, sendTraces } = require('./lib/sdk');
const { httpRequest, curl, jsonTraceBody, newTraceId, newSpanId } = require('./lib/clients');
const { KAFKAS, kafkaLabel } = require('./lib/realkafka');

const TRACES = 1000;
const SPANS_PER_TRACE = 5;

function countSpans(msgs) {
  let n = 0;
  for (const m of msgs) n += spansOf(decodeTracesData(m.value)).length;
  return n;
}

// Checks the otlp_spans messages against what was sent; returns nothing, throws on the first
// broken property with enough detail to see what went wrong.
function assertSpansDelivered(msgs, expected) {
  const total = [...expected.values()].reduce((a, s) => a + s.size, 0);
  const seen = new Map(); // "trace/span" -> count
  const partitionsOfTrace = new Map();
  for (const m of msgs) {
    assert.ok(m.value && m.value.length > 0, `message ${m.partition}/${m.offset} has an empty value`);
    const spans = spansOf(decodeTracesData(m.value));
    assert.ok(spans.length > 0, `message ${m.partition}/${m.offset} holds no spans`);
    assert.match(m.keyString ?? '', /^[0-9a-f]{32}$/, `message ${m.partition}/${m.offset}: key is not a hex trace ID`);
    for (const s of spans) {
      assert.equal(s.traceId, m.keyString, `message ${m.partition}/${m.offset} keyed ${m.keyString} holds a span of trace ${s.traceId}`);
      const id = `${s.traceId}/${s.spanId}`;
      seen.set(id, (seen.get(id) || 0) + 1);
      if (!partitionsOfTrace.has(s.traceId)) partitionsOfTrace.set(s.traceId, new Set());
      partitionsOfTrace.get(s.traceId).add(m.partition);
    }
  }
  const missing = [];
  const dup = [];
  for (const [traceId, ids] of expected) {
    for (const spanId of ids) {
      const n = seen.get(`${traceId}/${spanId}`) || 0;
      if (n === 0) missing.push(`${traceId}/${spanId}`);
      if (n > 1) dup.push(`${traceId}/${spanId} x${n}`);
    }
  }
  const unexpected = [...seen.keys()].filter((id) => {
    const [t, s] = id.split('/');
    return !(expected.has(t) && expected.get(t).has(s));
  });
  assert.deepEqual(
    { missing: missing.length, duplicated: dup.length, unexpected: unexpected.length },
    { missing: 0, duplicated: 0, unexpected: 0 },
    `of ${total} spans: missing e.g. ${missing.slice(0, 3)}; duplicated e.g. ${dup.slice(0, 3)}; unexpected e.g. ${unexpected.slice(0, 3)}`,
  );
  assert.equal(seen.size, total);
  const split = [...partitionsOfTrace].filter(([, ps]) => ps.size > 1);
  assert.equal(split.length, 0, `traces spread over several partitions, e.g. ${split.slice(0, 3).map(([t, ps]) => `${t}: ${[...ps]}`)}`);
}

for (const kafka of KAFKAS) {
  for (const protocol of PROTOCOLS) {
    test(`${kafkaLabel(kafka)}SDK ${protocol} exporter: ${TRACES} traces x ${SPANS_PER_TRACE} spans reach the traces topic intact`, { timeout: 300000 }, async () => {
      await withStack({ kafka }, async ({ broker, ingest }) => {
        const { expected, results } = await sendTraces(ingest, protocol, { traces: TRACES, spansPerTrace: SPANS_PER_TRACE });
        assert.equal(expected.size, TRACES);
        assert.ok(results.length > 1, `expected several export requests, got ${results.length}`);
        const failed = results.filter((r) => r.code !== EXPORT_SUCCESS);
        assert.equal(failed.length, 0, `export failures: ${failed.map((r) => r.error && r.error.message).slice(0, 3)}`);
        assert.equal(results.reduce((a, r) => a + r.items, 0), TRACES * SPANS_PER_TRACE, 'spans handed to the exporter');

        const msgs = await readTopicUntil(broker.bootstrap, broker.topics.traces, (m) => countSpans(m) >= TRACES * SPANS_PER_TRACE);
        assertSpansDelivered(msgs, expected);
        // Nothing of it leaks into the other topics.
        for (const other of [broker.topics.metrics, broker.topics.logs]) {
          const o = await readTopicUntil(broker.bootstrap, other, () => true);
          assert.equal(o.length, 0, `${other} holds ${o.length} messages after a traces-only export`);
        }
      });
    });
  }
}

test('curl: one OTLP/JSON span to /v1/traces -> 200, and the span is in otlp_spans under its trace ID', { timeout: 120000 }, async () => {
  await withStack({}, async ({ broker, ingest }) => {
    const traceId = '5b8efff798038103d269b633813fc60c';
    const body =
      '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my-test-service"}}]},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"test-operation","kind":1,"startTimeUnixNano":"1609459200000000000","endTimeUnixNano":"1609459200500000000"}]}]}]}';
    const r = await curl([
      '-sS',
      '-o', '/dev/null',
      '-w', '%{http_code}',
      '-X', 'POST',
      `${ingest.httpUrl}/v1/traces`,
      '-H', 'Content-Type: application/json',
      '-d', body,
    ]);
    assert.equal(r.code, 0, `curl failed: ${r.stderr}`);
    assert.equal(r.stdout, '200');

    const msgs = await readTopicUntil(broker.bootstrap, TOPICS.traces, (m) => m.length > 0);
    assert.equal(msgs.length, 1, `expected one message, got ${msgs.length}`);
    assert.equal(msgs[0].keyString, traceId);
    const spans = spansOf(decodeTracesData(msgs[0].value));
    assert.equal(spans.length, 1);
    const s = spans[0];
    assert.equal(s.traceId, traceId);
    assert.equal(s.spanId, 'eee19b7ec3c1b174');
    assert.equal(s.name, 'test-operation');
    assert.equal(s.kind, 1);
    assert.equal(s.startTimeUnixNano, '1609459200000000000');
    assert.equal(s.endTimeUnixNano, '1609459200500000000');
    assert.equal(s.resource['service.name'], 'my-test-service');
  });
});

test('both listeners speak both protocols: OTLP/HTTP on the gRPC port and OTLP/gRPC on the HTTP port', { timeout: 120000 }, async () => {
  const { grpcUnary, GRPC, GRPC_PATHS } = require('./lib/clients');
  const { encode, types } = require('./lib/otlp');
  await withStack({}, async ({ broker, ingest }) => {
    const viaHttp = { traceId: newTraceId(), spanId: newSpanId() };
    const r = await httpRequest(`${ingest.grpcUrl}/v1/traces`, {
      headers: { 'content-type': 'application/json' },
      body: jsonTraceBody(viaHttp),
    });
    assert.equal(r.status, 200, `HTTP on the gRPC port: ${r.status} ${r.body}`);

    const viaGrpc = { traceId: newTraceId(), spanId: newSpanId() };
    const req = encode(types.ExportTraceServiceRequest, {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: Buffer.from(viaGrpc.traceId, 'hex'),
                  spanId: Buffer.from(viaGrpc.spanId, 'hex'),
                  name: 'grpc-on-http-port',
                  startTimeUnixNano: '1609459200000000000',
                  endTimeUnixNano: '1609459200000001000',
                },
              ],
            },
          ],
        },
      ],
    });
    const g = await grpcUnary(ingest.httpUrl, GRPC_PATHS.traces, req);
    assert.equal(g.grpcStatus, GRPC.OK, `gRPC on the HTTP port: status ${g.grpcStatus} ${g.grpcMessage}`);

    const msgs = await readTopicUntil(broker.bootstrap, TOPICS.traces, (m) => m.length >= 2);
    const keys = msgs.map((m) => m.keyString).sort();
    assert.deepEqual(keys, [viaHttp.traceId, viaGrpc.traceId].sort());
  });
});
