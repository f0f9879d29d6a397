'use strict';
// kotel-ingest at the protocol edges: HTTP/1.1 keep-alive, h2c with prior knowledge, gzip
// (HTTP and gRPC), partial_success for items over max_message_bytes, message splitting,
// ack=received, otlp_json messages, header and idle timeouts, many connections at once, the
// command line, and draining on SIGTERM. Each test starts its own devbroker + ingest with
// the --set options it needs.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const http2 = require('node:http2');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { spawnSync } = require('node:child_process');
const api = require('@opentelemetry/api');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');

const { withStack, TOPICS, binary } = require('./lib/procs');
const { readTopicUntil } = require('./lib/kafka');
const { encode, types, decodeTracesData, decodeStatus, decodeExportTraceServiceResponse, spansOf } = require('./lib/otlp');
const { EXPORT_SUCCESS, makeExporter, sendTraces } = require('./lib/sdk');
const { GRPC, GRPC_PATHS, httpRequest, grpcFrame, grpcRaw, grpcUnary, jsonTraceBody, newTraceId, newSpanId } = require('./lib/clients');

// ---- helpers ----

// A protobuf span object for types.ExportTraceServiceRequest; attrs maps key -> string.
function span({ traceId, spanId, name = 'op', attrs = {} }) {
  return {
    traceId: Buffer.from(traceId, 'hex'),
    spanId: Buffer.from(spanId, 'hex'),
    name,
    kind: 1,
    startTimeUnixNano: '1609459200000000000',
    endTimeUnixNano: '1609459200500000000',
    attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } })),
  };
}

// ExportTraceServiceRequest (protobuf bytes) with one resource, one scope and these spans.
function traceRequest(spans, service = 'ingest-protocol-test') {
  return encode(types.ExportTraceServiceRequest, {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [{ scope: { name: 'ingest-protocol-test' }, spans: spans.map(span) }],
      },
    ],
  });
}

// Every span in the otlp_proto messages, with the key and partition of its message.
function spansIn(msgs) {
  return msgs.flatMap((m) => spansOf(decodeTracesData(m.value)).map((s) => ({ ...s, key: m.keyString, partition: m.partition })));
}

// Reads otlp_spans until every span ID in `spanIds` is there (or the wait ends); returns
// { msgs, spans }.
async function readSpans(broker, spanIds, { waitMs = 20000 } = {}) {
  const want = new Set(spanIds);
  const msgs = await readTopicUntil(
    broker.bootstrap,
    TOPICS.traces,
    (m) => {
      const have = new Set(spansIn(m).map((s) => s.spanId));
      return [...want].every((id) => have.has(id));
    },
    { waitMs },
  );
  return { msgs, spans: spansIn(msgs) };
}

// Asserts that each of spanIds occurs exactly once in spans.
function assertExactlyOnce(spans, spanIds, what = 'span') {
  const counts = new Map();
  for (const s of spans) counts.set(s.spanId, (counts.get(s.spanId) || 0) + 1);
  const missing = spanIds.filter((id) => !counts.has(id));
  const dup = spanIds.filter((id) => counts.get(id) > 1);
  assert.deepEqual({ missing, dup }, { missing: [], dup: [] }, `${what}s missing or duplicated in ${TOPICS.traces}`);
}

// The protobuf message inside a unary gRPC response body (one uncompressed frame).
function grpcMessage(body) {
  assert.ok(body.length >= 5, `gRPC response body of ${body.length} bytes has no frame`);
  assert.equal(body[0], 0, 'gRPC response frame is flagged compressed');
  const n = body.readUInt32BE(1);
  assert.equal(body.length, 5 + n, `gRPC response frame says ${n} bytes, body has ${body.length - 5}`);
  return body.subarray(5);
}

// The 5-byte gRPC prefix with the compressed flag set, then the gzip'd message.
function grpcFrameGzip(msg) {
  const gz = zlib.gzipSync(msg);
  const b = Buffer.alloc(5);
  b.writeUInt8(1, 0);
  b.writeUInt32BE(gz.length, 1);
  return Buffer.concat([b, gz]);
}

// Resolves after `promise`, or rejects after ms with `what`.
function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// One request on an open HTTP/2 session. Resolves { status, headers, body }.
function h2Request(session, headers, body, timeoutMs = 30000) {
  return within(
    timeoutMs,
    `h2 ${headers[':path']}`,
    new Promise((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ...headers });
      let resHeaders = {};
      const chunks = [];
      req.on('response', (h) => {
        resHeaders = h;
      });
      req.on('data', (d) => chunks.push(d));
      req.on('error', reject);
      req.on('end', () => resolve({ status: resHeaders[':status'], headers: resHeaders, body: Buffer.concat(chunks) }));
      req.end(body);
    }),
  );
}

function h2Connect(url) {
  return within(
    10000,
    `h2c connect to ${url}`,
    new Promise((resolve, reject) => {
      const s = http2.connect(url);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    }),
  );
}

function h2Ping(session) {
  return within(
    10000,
    'h2 PING',
    new Promise((resolve, reject) => {
      session.ping((err, ms) => (err ? reject(err) : resolve(ms)));
    }),
  );
}

// A raw TCP connection that records what the server sends and when it closes.
//   c.data()      everything received so far (latin1 string)
//   c.closed      promise of { ms } (since connect) once the server closed or reset it
//   c.waitFor(re) resolves once the received data matches re
function rawConnect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const waiters = [];
    let t0;
    const closed = new Promise((res) => {
      sock.on('close', () => res({ ms: Date.now() - t0 }));
    });
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      for (const w of waiters.slice()) w();
    });
    sock.on('error', () => {}); // a reset shows as 'close'
    sock.once('connect', () => {
      t0 = Date.now();
      resolve({
        sock,
        closed,
        data: () => buf,
        write: (s) => sock.write(s),
        waitFor: (re, ms = 30000) =>
          within(
            ms,
            `waiting for ${re} from the server (got ${JSON.stringify(buf.slice(0, 200))})`,
            new Promise((res, rej) => {
              const check = () => {
                const m = re.exec(buf);
                if (m) {
                  waiters.splice(waiters.indexOf(check), 1);
                  res(m);
                }
              };
              waiters.push(check);
              closed.then(() => {
                if (!re.exec(buf)) rej(new Error(`connection closed before ${re}; got ${JSON.stringify(buf.slice(0, 200))}`));
              });
              check();
            }),
          ),
      });
    });
    sock.once('error', reject);
  });
}

// Sends traces through the SDK's BatchSpanProcessor with an exporter built with `extra`
// options (e.g. compression). Resolves { spanIds, results }.
async function sdkSpans(ingest, protocol, { count = 10, extra = {}, tag = protocol } = {}) {
  const { exporter, results } = makeExporter('traces', protocol, ingest, extra);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'kotel-integration-test', 'kotel.test.tag': tag }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: count + 1, maxExportBatchSize: 64, scheduledDelayMillis: 100, exportTimeoutMillis: 60000 })],
  });
  const tracer = provider.getTracer('kotel-integration-test', '1.0.0');
  const spanIds = [];
  for (let i = 0; i < count; i++) {
    const s = tracer.startSpan(`sdk-${tag}-${i}`, { kind: api.SpanKind.CLIENT, attributes: { 'span.index': i } });
    spanIds.push(s.spanContext().spanId);
    s.end();
  }
  await provider.forceFlush();
  await provider.shutdown();
  return { spanIds, results };
}

function assertExportsSucceeded(results, what) {
  assert.ok(results.length > 0, `${what}: the exporter made no export call`);
  const failed = results.filter((r) => r.code !== EXPORT_SUCCESS);
  assert.equal(failed.length, 0, `${what}: export failures: ${failed.map((r) => r.error && r.error.message).slice(0, 3)}`);
}

// ---- 1. HTTP/1.1 keep-alive ----

test('HTTP/1.1 keep-alive: two requests on one socket, both 200, the socket is reused', { timeout: 120000 }, async () => {
  await withStack({}, async ({ broker, ingest }) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = (body, contentType) =>
      new Promise((resolve, reject) => {
        const req = http.request(`${ingest.httpUrl}/v1/traces`, { method: 'POST', agent, headers: { 'content-type': contentType }, timeout: 30000 }, (res) => {
          const chunks = [];
          res.on('data', (d) => chunks.push(d));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), socket: req.socket, reused: req.reusedSocket }));
        });
        req.on('timeout', () => req.destroy(new Error('no response within 30 s')));
        req.on('error', reject);
        req.end(body);
      });
    try {
      const a = { traceId: newTraceId(), spanId: newSpanId() };
      const b = { traceId: newTraceId(), spanId: newSpanId() };
      const r1 = await send(jsonTraceBody({ ...a, name: 'keepalive-1' }), 'application/json');
      assert.equal(r1.status, 200, `first request: ${r1.status} ${r1.body}`);
      assert.notEqual(String(r1.headers.connection).toLowerCase(), 'close', 'the server asked to close after the first request');
      assert.equal(r1.reused, false);
      const r2 = await send(traceRequest([{ ...b, name: 'keepalive-2' }]), 'application/x-protobuf');
      assert.equal(r2.status, 200, `second request: ${r2.status} ${r2.body}`);
      assert.equal(r2.reused, true, 'the second request did not reuse the kept-alive socket');
      assert.equal(r2.socket, r1.socket, 'the second request went out on a different socket');
      const { spans } = await readSpans(broker, [a.spanId, b.spanId]);
      assertExactlyOnce(spans, [a.spanId, b.spanId]);
    } finally {
      agent.destroy();
    }
  });
});

// ---- 2. h2c with prior knowledge for OTLP/HTTP ----

test('h2c with prior knowledge: POST /v1/traces (protobuf and JSON) on one HTTP/2 connection -> 200, spans in otlp_spans', { timeout: 120000 }, async () => {
  await withStack({}, async ({ broker, ingest }) => {
    const session = await h2Connect(ingest.httpUrl);
    try {
      const a = { traceId: newTraceId(), spanId: newSpanId() };
      const b = { traceId: newTraceId(), spanId: newSpanId() };
      const [rp, rj] = await Promise.all([
        h2Request(session, { ':path': '/v1/traces', 'content-type': 'application/x-protobuf' }, traceRequest([{ ...a, name: 'h2c-proto' }])),
        h2Request(session, { ':path': '/v1/traces', 'content-type': 'application/json' }, jsonTraceBody({ ...b, name: 'h2c-json' })),
      ]);
      assert.equal(rp.status, 200, `protobuf over h2c: ${rp.status} ${rp.body}`);
      assert.match(String(rp.headers['content-type']), /^application\/x-protobuf/);
      assert.deepEqual(decodeExportTraceServiceResponse(rp.body), {}, 'a full success has no partial_success');
      assert.equal(rj.status, 200, `JSON over h2c: ${rj.status} ${rj.body}`);
      assert.match(String(rj.headers['content-type']), /^application\/json/);
      assert.deepEqual(JSON.parse(rj.body.toString()), {});

      const { spans } = await readSpans(broker, [a.spanId, b.spanId]);
      assertExactlyOnce(spans, [a.spanId, b.spanId]);
      const pa = spans.find((s) => s.spanId === a.spanId);
      assert.equal(pa.key, a.traceId);
      assert.equal(pa.name, 'h2c-proto');
      assert.equal(pa.resource['service.name'], 'ingest-protocol-test');
      assert.equal(spans.find((s) => s.spanId === b.spanId).name, 'h2c-json');
    } finally {
      session.destroy();
    }
  });
});

// ---- 3. gzip ----

test('gzip: Content-Encoding gzip (protobuf, JSON), gRPC compressed frames, and SDK exporters with compression gzip', { timeout: 180000 }, async (t) => {
  await withStack({}, async ({ broker, ingest }) => {
    const expected = [];

    await t.test('HTTP/protobuf, Content-Encoding: gzip -> 200', async () => {
      const ids = { traceId: newTraceId(), spanId: newSpanId() };
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, {
        headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
        body: zlib.gzipSync(traceRequest([{ ...ids, name: 'gzip-proto' }])),
      });
      assert.equal(r.status, 200, `${r.status} ${r.body}`);
      expected.push(ids.spanId);
    });

    await t.test('HTTP/JSON, Content-Encoding: gzip -> 200', async () => {
      const ids = { traceId: newTraceId(), spanId: newSpanId() };
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, {
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: zlib.gzipSync(jsonTraceBody({ ...ids, name: 'gzip-json' })),
      });
      assert.equal(r.status, 200, `${r.status} ${r.body}`);
      expected.push(ids.spanId);
    });

    await t.test('raw gRPC, grpc-encoding gzip, compressed flag set -> OK', async () => {
      const ids = { traceId: newTraceId(), spanId: newSpanId() };
      const g = await grpcRaw(ingest.grpcUrl, GRPC_PATHS.traces, grpcFrameGzip(traceRequest([{ ...ids, name: 'gzip-grpc' }])), {
        headers: { 'grpc-encoding': 'gzip' },
      });
      assert.equal(g.grpcStatus, GRPC.OK, `grpc-status ${g.grpcStatus} (${g.grpcMessage})`);
      expected.push(ids.spanId);
    });

    for (const protocol of ['grpc', 'http/protobuf', 'http/json']) {
      await t.test(`SDK ${protocol} exporter with compression: 'gzip' -> success`, async () => {
        const { spanIds, results } = await sdkSpans(ingest, protocol, { count: 10, extra: { compression: 'gzip' }, tag: `gzip-${protocol}` });
        assertExportsSucceeded(results, protocol);
        expected.push(...spanIds);
      });
    }

    await t.test('every span of the gzip requests is in otlp_spans once', async () => {
      const { spans } = await readSpans(broker, expected);
      assertExactlyOnce(spans, expected);
      assert.equal(spans.length, expected.length, 'otlp_spans holds spans nobody sent');
    });
  });
});

// ---- 4. partial_success ----

test('partial_success: a span over kafka.max_message_bytes is rejected, the others are published', { timeout: 180000 }, async (t) => {
  const MAX = 2000;
  await withStack({ ingest: { sets: { 'kafka.max_message_bytes': String(MAX) } } }, async ({ broker, ingest }) => {
    const published = []; // span IDs that must be in the topic
    const rejected = []; // span IDs that must not

    // One request: a big span (5000-byte attribute) and four normal ones, two of them in
    // the big span's trace.
    const mixed = (via) => {
      const t1 = newTraceId();
      const t2 = newTraceId();
      const big = { traceId: t1, spanId: newSpanId(), name: `big-${via}`, attrs: { blob: 'x'.repeat(5000) } };
      const normal = [
        { traceId: t1, spanId: newSpanId(), name: `normal-${via}-1` },
        { traceId: t1, spanId: newSpanId(), name: `normal-${via}-2`, attrs: { k: 'v' } },
        { traceId: t2, spanId: newSpanId(), name: `normal-${via}-3` },
        { traceId: t2, spanId: newSpanId(), name: `normal-${via}-4` },
      ];
      return { big, normal, spans: [normal[0], big, ...normal.slice(1)] };
    };

    await t.test('HTTP/protobuf: 200 with partial_success.rejected_spans = 1', async () => {
      const m = mixed('http');
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body: traceRequest(m.spans) });
      assert.equal(r.status, 200, `${r.status} ${r.body}`);
      const res = decodeExportTraceServiceResponse(r.body);
      assert.ok(res.partialSuccess, `no partial_success in ${JSON.stringify(res)}`);
      assert.equal(res.partialSuccess.rejectedSpans, '1');
      assert.ok(res.partialSuccess.errorMessage && res.partialSuccess.errorMessage.length > 0, 'empty error_message');
      t.diagnostic(`error_message: ${res.partialSuccess.errorMessage}`);
      published.push(...m.normal.map((s) => s.spanId));
      rejected.push(m.big.spanId);
    });

    await t.test('HTTP/JSON: 200 with partialSuccess.rejectedSpans = "1"', async () => {
      const m = mixed('json');
      const body = JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'ingest-protocol-test' } }] },
            scopeSpans: [
              {
                spans: m.spans.map((s) => ({
                  traceId: s.traceId,
                  spanId: s.spanId,
                  name: s.name,
                  kind: 1,
                  startTimeUnixNano: '1609459200000000000',
                  endTimeUnixNano: '1609459200500000000',
                  attributes: Object.entries(s.attrs || {}).map(([key, v]) => ({ key, value: { stringValue: v } })),
                })),
              },
            ],
          },
        ],
      });
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/json' }, body });
      assert.equal(r.status, 200, `${r.status} ${r.body}`);
      const res = JSON.parse(r.body.toString());
      assert.ok(res.partialSuccess, `no partialSuccess in ${r.body}`);
      assert.equal(String(res.partialSuccess.rejectedSpans), '1');
      assert.ok(typeof res.partialSuccess.errorMessage === 'string' && res.partialSuccess.errorMessage.length > 0, 'empty errorMessage');
      published.push(...m.normal.map((s) => s.spanId));
      rejected.push(m.big.spanId);
    });

    await t.test('gRPC: OK with partial_success.rejected_spans = 1 in the response message', async () => {
      const m = mixed('grpc');
      const g = await grpcUnary(ingest.grpcUrl, GRPC_PATHS.traces, traceRequest(m.spans));
      assert.equal(g.grpcStatus, GRPC.OK, `grpc-status ${g.grpcStatus} (${g.grpcMessage})`);
      const res = decodeExportTraceServiceResponse(grpcMessage(g.body));
      assert.ok(res.partialSuccess, `no partial_success in ${JSON.stringify(res)}`);
      assert.equal(res.partialSuccess.rejectedSpans, '1');
      assert.ok(res.partialSuccess.errorMessage && res.partialSuccess.errorMessage.length > 0, 'empty error_message');
      published.push(...m.normal.map((s) => s.spanId));
      rejected.push(m.big.spanId);
    });

    await t.test('only span too big: HTTP 400 naming max_message_bytes', async () => {
      const big = { traceId: newTraceId(), spanId: newSpanId(), name: 'only-big-http', attrs: { blob: 'y'.repeat(5000) } };
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body: traceRequest([big]) });
      assert.equal(r.status, 400, `${r.status} ${r.body}`);
      const st = decodeStatus(r.body);
      assert.match(st.message || '', /max_message_bytes/);
      assert.equal(st.code, GRPC.INVALID_ARGUMENT);
      rejected.push(big.spanId);
    });

    await t.test('only span too big: gRPC INVALID_ARGUMENT naming max_message_bytes', async () => {
      const big = { traceId: newTraceId(), spanId: newSpanId(), name: 'only-big-grpc', attrs: { blob: 'z'.repeat(5000) } };
      const g = await grpcUnary(ingest.grpcUrl, GRPC_PATHS.traces, traceRequest([big]));
      assert.equal(g.grpcStatus, GRPC.INVALID_ARGUMENT, `grpc-status ${g.grpcStatus} (${g.grpcMessage})`);
      assert.match(g.grpcMessage || '', /max_message_bytes/);
      rejected.push(big.spanId);
    });

    await t.test('otlp_spans holds the normal spans once each and none of the big ones', async () => {
      const { msgs, spans } = await readSpans(broker, published);
      assertExactlyOnce(spans, published, 'normal span');
      const leaked = spans.filter((s) => rejected.includes(s.spanId));
      assert.deepEqual(leaked.map((s) => s.name), [], 'a rejected span reached Kafka');
      assert.equal(spans.length, published.length);
      for (const m of msgs) assert.ok(m.value.length <= MAX, `message ${m.partition}/${m.offset} is ${m.value.length} bytes`);
      for (const s of spans) assert.equal(s.key, s.traceId);
    });
  });
});

// ---- 5. splitting at max_message_bytes ----

test('max_message_bytes: a 200-span trace is split into messages <= 20000 bytes, one key, one partition, every span once', { timeout: 180000 }, async () => {
  const MAX = 20000;
  const N = 200;
  await withStack({ ingest: { sets: { 'kafka.max_message_bytes': String(MAX) } } }, async ({ broker, ingest }) => {
    const traceId = newTraceId();
    const spans = [];
    for (let i = 0; i < N; i++) {
      spans.push({ traceId, spanId: newSpanId(), name: `split-${i}`, attrs: { payload: `${i}:`.padEnd(450, 'p') } });
    }
    const body = traceRequest(spans);
    assert.ok(body.length > 5 * MAX, `request is only ${body.length} bytes`);
    const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body });
    assert.equal(r.status, 200, `${r.status} ${r.body}`);
    assert.deepEqual(decodeExportTraceServiceResponse(r.body), {}, 'nothing should be rejected');

    const ids = spans.map((s) => s.spanId);
    const { msgs, spans: got } = await readSpans(broker, ids);
    assert.ok(msgs.length >= Math.ceil(body.length / MAX), `${msgs.length} messages for a ${body.length}-byte trace`);
    for (const m of msgs) {
      assert.ok(m.value.length <= MAX, `message ${m.partition}/${m.offset} is ${m.value.length} bytes, over ${MAX}`);
      assert.equal(m.keyString, traceId, `message ${m.partition}/${m.offset} keyed ${m.keyString}`);
    }
    const partitions = new Set(msgs.map((m) => m.partition));
    assert.equal(partitions.size, 1, `the trace spread over partitions ${[...partitions]}`);
    assertExactlyOnce(got, ids);
    assert.equal(got.length, N);
    for (const s of got) {
      assert.equal(s.traceId, traceId);
      assert.equal(s.resource['service.name'], 'ingest-protocol-test', 'a split message lost its resource');
      assert.equal(s.scope, 'ingest-protocol-test', 'a split message lost its scope');
      const i = Number(s.name.slice('split-'.length));
      assert.equal(s.attributes.payload, `${i}:`.padEnd(450, 'p'));
    }
  });
});

// ---- 6. ack=received ----

test('receiver.ack=received: requests are answered 200 and their data arrives', { timeout: 120000 }, async () => {
  await withStack({ ingest: { sets: { 'receiver.ack': 'received' } } }, async ({ broker, ingest }) => {
    const a = { traceId: newTraceId(), spanId: newSpanId() };
    const b = { traceId: newTraceId(), spanId: newSpanId() };
    const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/json' }, body: jsonTraceBody({ ...a, name: 'ack-received-http' }) });
    assert.equal(r.status, 200, `${r.status} ${r.body}`);
    const g = await grpcUnary(ingest.grpcUrl, GRPC_PATHS.traces, traceRequest([{ ...b, name: 'ack-received-grpc' }]));
    assert.equal(g.grpcStatus, GRPC.OK, `grpc-status ${g.grpcStatus} (${g.grpcMessage})`);
    const { spans } = await readSpans(broker, [a.spanId, b.spanId]);
    assertExactlyOnce(spans, [a.spanId, b.spanId]);
  });
});

// ---- 7. otlp_json messages ----

test('kafka.encoding=otlp_json: SDK http/protobuf traces arrive as OTLP/JSON keyed by hex trace ID', { timeout: 180000 }, async () => {
  await withStack({ ingest: { sets: { 'kafka.encoding': 'otlp_json' } } }, async ({ broker, ingest }) => {
    const TR = 20;
    const SPT = 3;
    const { expected, results } = await sendTraces(ingest, 'http/protobuf', { traces: TR, spansPerTrace: SPT, batchSize: 16 });
    assertExportsSucceeded(results, 'http/protobuf');
    const parse = (msgs) =>
      msgs.flatMap((m) => {
        const doc = JSON.parse(m.value.toString('utf8'));
        return (doc.resourceSpans || []).flatMap((rs) => (rs.scopeSpans || []).flatMap((ss) => (ss.spans || []).map((s) => ({ ...s, key: m.keyString, doc }))));
      });
    const msgs = await readTopicUntil(broker.bootstrap, TOPICS.traces, (m) => {
      try {
        return parse(m).length >= TR * SPT;
      } catch {
        return true; // not JSON: stop and let the assertions below say so
      }
    });
    assert.ok(msgs.length > 0, 'no messages');
    for (const m of msgs) {
      let doc;
      assert.doesNotThrow(() => {
        doc = JSON.parse(m.value.toString('utf8'));
      }, `message ${m.partition}/${m.offset} is not JSON: ${m.value.subarray(0, 80).toString('latin1')}`);
      assert.ok(Array.isArray(doc.resourceSpans) && doc.resourceSpans.length > 0, `message ${m.partition}/${m.offset} has no resourceSpans`);
      assert.match(m.keyString ?? '', /^[0-9a-f]{32}$/);
    }
    const spans = parse(msgs);
    const seen = new Map();
    for (const s of spans) {
      assert.match(s.traceId, /^[0-9a-f]{32}$/, `traceId ${s.traceId} is not lowercase hex`);
      assert.match(s.spanId, /^[0-9a-f]{16}$/, `spanId ${s.spanId} is not lowercase hex`);
      assert.equal(s.traceId, s.key, `a span of trace ${s.traceId} is in a message keyed ${s.key}`);
      assert.ok(expected.has(s.traceId) && expected.get(s.traceId).has(s.spanId), `unexpected span ${s.traceId}/${s.spanId}`);
      const id = `${s.traceId}/${s.spanId}`;
      seen.set(id, (seen.get(id) || 0) + 1);
    }
    assert.equal(seen.size, TR * SPT, `${seen.size} distinct spans of ${TR * SPT}`);
    assert.ok([...seen.values()].every((n) => n === 1), 'a span occurs more than once');
    const rs0 = msgs.map((m) => JSON.parse(m.value.toString('utf8')).resourceSpans[0])[0];
    const svc = rs0.resource.attributes.find((a) => a.key === 'service.name');
    assert.equal(svc && svc.value.stringValue, 'kotel-integration-test');
  });
});

// ---- 8. header and idle timeouts ----

test('receiver.header_timeout=500ms, body_timeout=500ms: incomplete headers or body -> 408 / close within bounds; the server keeps serving', { timeout: 120000 }, async (t) => {
  await withStack({ ingest: { sets: { 'receiver.header_timeout': '500ms', 'receiver.body_timeout': '500ms' } } }, async ({ broker, ingest }) => {
    const expectTimeout = async (what, partial) => {
      const c = await rawConnect(ingest.httpPort);
      const t0 = Date.now();
      c.write(partial);
      const closed = await within(5000, `server closing a connection with ${what}`, c.closed);
      const ms = Date.now() - t0;
      t.diagnostic(`${what}: closed after ${ms} ms; got ${JSON.stringify(c.data().slice(0, 60))}`);
      assert.ok(ms >= 300, `closed after ${ms} ms, before header_timeout / body_timeout`);
      if (c.data().length > 0) assert.match(c.data(), /^HTTP\/1\.1 408 /, 'the answer to a timed-out request');
      return closed;
    };
    await t.test('headers never finished', async () => {
      await expectTimeout('unfinished headers', 'POST /v1/traces HTTP/1.1\r\nHost: x\r\n');
    });
    await t.test('body shorter than Content-Length', async () => {
      await expectTimeout('unfinished body', 'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"resourceSpans":');
    });
    await t.test('a normal request afterwards -> 200', async () => {
      const ids = { traceId: newTraceId(), spanId: newSpanId() };
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/json' }, body: jsonTraceBody(ids) });
      assert.equal(r.status, 200, `${r.status} ${r.body}`);
      const { spans } = await readSpans(broker, [ids.spanId]);
      assertExactlyOnce(spans, [ids.spanId]);
      assert.equal(spans.length, 1, 'a timed-out request reached Kafka');
    });
  });
});

test('receiver.idle_timeout=500ms: idle keep-alive HTTP/1.1 and HTTP/2 connections are closed by the server', { timeout: 120000 }, async (t) => {
  await withStack({ ingest: { sets: { 'receiver.idle_timeout': '500ms' } } }, async ({ ingest }) => {
    await t.test('HTTP/1.1 keep-alive socket after a 200', async () => {
      const c = await rawConnect(ingest.httpPort);
      const body = jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() });
      // Measured from the request; the test below checks idleness counts from the response.
      const t0 = Date.now();
      c.write(`POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      const m = await c.waitFor(/^HTTP\/1\.1 (\d+) [^\r]*\r\n([\s\S]*?)\r\n\r\n/);
      assert.equal(m[1], '200', c.data());
      assert.doesNotMatch(m[2], /connection: *close/i, 'the server did not keep the connection alive');
      const tResp = Date.now();
      await within(5000, 'server closing the idle keep-alive connection', c.closed);
      const ms = Date.now() - t0;
      t.diagnostic(`idle HTTP/1.1 connection closed ${ms} ms after its request, ${Date.now() - tResp} ms after its response`);
      assert.ok(ms >= 400, `closed ${ms} ms after the request, before idle_timeout`);
    });
    await t.test('HTTP/2 connection with no stream', async () => {
      const session = await h2Connect(ingest.grpcUrl);
      const t0 = Date.now();
      let goaway = false;
      session.on('goaway', () => {
        goaway = true;
      });
      session.on('error', () => {});
      try {
        await within(5000, 'server closing the idle HTTP/2 connection', new Promise((resolve) => session.once('close', resolve)));
      } finally {
        session.destroy();
      }
      const ms = Date.now() - t0;
      t.diagnostic(`idle HTTP/2 connection closed after ${ms} ms (GOAWAY seen: ${goaway})`);
      assert.ok(ms >= 300, `closed after ${ms} ms, before idle_timeout`);
    });
  });
});

// Timing rules that were once broken: idleness from the response, the batch timer for every
// batch, and body_timeout for HTTP/2 streams.

test('receiver.idle_timeout counts from the response, not from the last bytes read', { timeout: 120000 }, async (t) => {
  // The first batch waits batch.timeout (400 ms), so the response goes out ~400 ms after the
  // request; an idle_timeout of 500 ms must then keep the connection ~500 ms after that.
  await withStack({ ingest: { sets: { 'receiver.idle_timeout': '500ms', 'batch.timeout': '400ms' } } }, async ({ ingest }) => {
    const c = await rawConnect(ingest.httpPort);
    const body = jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() });
    c.write(`POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const m = await c.waitFor(/^HTTP\/1\.1 (\d+) /);
    assert.equal(m[1], '200');
    const tResp = Date.now();
    await within(5000, 'server closing the idle connection', c.closed);
    const ms = Date.now() - tResp;
    t.diagnostic(`closed ${ms} ms after the response`);
    assert.ok(ms >= 400, `closed ${ms} ms after the response; idle_timeout is 500 ms`);
  });
});

test('batch.timeout holds for every batch, not only the first', { timeout: 120000 }, async (t) => {
  await withStack({ ingest: { sets: { 'batch.timeout': '1s' } } }, async ({ ingest }) => {
    const lat = [];
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/json' }, body: jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() }) });
      assert.equal(r.status, 200);
      lat.push(Date.now() - t0);
    }
    t.diagnostic(`answer latencies with batch.timeout=1s: ${lat.join(', ')} ms`);
    for (const [i, ms] of lat.entries()) assert.ok(ms >= 700, `request ${i + 1} answered after ${ms} ms; a lone span should wait ~1 s in its batch`);
  });
});

test('receiver.body_timeout also bounds an HTTP/2 request whose body never ends', { timeout: 120000 }, async () => {
  await withStack({ ingest: { sets: { 'receiver.body_timeout': '500ms', 'receiver.idle_timeout': '1s' } } }, async ({ ingest }) => {
    const session = await h2Connect(ingest.httpUrl);
    session.on('error', () => {});
    try {
      const req = session.request({ ':method': 'POST', ':path': '/v1/traces', 'content-type': 'application/json' });
      req.on('error', () => {});
      req.on('data', () => {});
      req.write('{"resourceSpans":');
      const ended = new Promise((resolve) => {
        req.once('close', () => resolve('stream closed'));
        session.once('close', () => resolve('connection closed'));
      });
      await within(5000, 'the server ending an HTTP/2 request that never completes', ended);
    } finally {
      session.destroy();
    }
  });
});

// ---- 9. many connections ----

test('200 simultaneous HTTP/1.1 connections, one JSON span each -> all 200, all 200 spans in otlp_spans', { timeout: 240000 }, async () => {
  const N = 200;
  await withStack({}, async ({ broker, ingest }) => {
    const reqs = [];
    for (let i = 0; i < N; i++) {
      const ids = { traceId: newTraceId(), spanId: newSpanId() };
      const body = jsonTraceBody({ ...ids, name: `conn-${i}` });
      let onConnect;
      const connected = new Promise((resolve, reject) => {
        onConnect = { resolve, reject };
      });
      const done = new Promise((resolve, reject) => {
        const req = http.request(`${ingest.httpUrl}/v1/traces`, {
          method: 'POST',
          agent: false,
          timeout: 60000,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        }, (res) => {
          const chunks = [];
          res.on('data', (d) => chunks.push(d));
          res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        });
        req.on('socket', (s) => {
          if (!s.connecting) onConnect.resolve();
          else s.once('connect', () => onConnect.resolve());
        });
        req.on('timeout', () => req.destroy(new Error('no response within 60 s')));
        req.on('error', (e) => {
          onConnect.reject(e);
          reject(e);
        });
        reqs.push({ ids, req, body, connected });
      });
      done.catch(() => {});
      connected.catch(() => {});
      reqs[reqs.length - 1].done = done;
    }
    // Every connection is open before any request is sent.
    await within(30000, `${N} connections`, Promise.all(reqs.map((r) => r.connected)));
    for (const r of reqs) r.req.end(r.body);
    const res = await Promise.allSettled(reqs.map((r) => r.done));
    const bad = res
      .map((x, i) => (x.status === 'fulfilled' ? (x.value.status === 200 ? null : `#${i}: ${x.value.status} ${x.value.body.slice(0, 100)}`) : `#${i}: ${x.reason.message}`))
      .filter(Boolean);
    assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of ${N} requests failed`);
    const ids = reqs.map((r) => r.ids.spanId);
    const { spans } = await readSpans(broker, ids, { waitMs: 30000 });
    assertExactlyOnce(spans, ids);
    assert.equal(spans.length, N);
    for (const s of spans) assert.equal(s.key, s.traceId);
  });
});

// ---- 10. command line ----

test('CLI: --check names the file, line and key of a typo; --print-config, --version, --help', { timeout: 60000 }, () => {
  const bin = binary('kotel-ingest');
  const run = (args) => {
    const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.error, undefined, `${args.join(' ')}: ${r.error && r.error.message}`);
    return r;
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-cli-'));
  try {
    const bad = path.join(dir, 'bad.ini');
    fs.writeFileSync(bad, '[kafka]\nbrokerz = x\n');
    const rb = run(['--check', '-c', bad]);
    assert.equal(rb.status, 2, `--check on a typo: exit ${rb.status}, stderr ${rb.stderr}`);
    assert.ok(rb.stderr.includes(`${bad}:2: [kafka] brokerz`), `stderr: ${rb.stderr}`);
    assert.match(rb.stderr, /did you mean brokers/);

    const good = path.join(dir, 'good.ini');
    fs.writeFileSync(good, '[kafka]\nbrokers = k1:9092,k2:9092\nmax_message_bytes = 64KiB\n');
    const rg = run(['--check', '-c', good]);
    assert.equal(rg.status, 0, `--check on a good file: exit ${rg.status}, stderr ${rg.stderr}`);

    const rp = run(['--print-config', '-c', good, '--set', 'batch.timeout=750ms']);
    assert.equal(rp.status, 0, `--print-config: exit ${rp.status}, stderr ${rp.stderr}`);
    assert.match(rp.stdout, /^\[kafka\]$/m);
    assert.match(rp.stdout, /^\[receiver\]$/m);
    assert.match(rp.stdout, /k1:9092/, 'the file value is not in --print-config');
    assert.match(rp.stdout, /750ms/, 'the --set value is not in --print-config');

    const rv = run(['--version']);
    assert.equal(rv.status, 0, `--version: exit ${rv.status}`);
    assert.match(rv.stdout, /^kotel-ingest \d+\.\d+\.\d+/);

    const rh = run(['--help']);
    assert.equal(rh.status, 0, `--help: exit ${rh.status}`);
    assert.match(rh.stdout, /kotel-ingest/);
    assert.match(rh.stdout, /max_message_bytes/, '--help does not list the options');

    const rs = run(['--check', '--set', 'kafka.max_message_bytes=lots']);
    assert.equal(rs.status, 2, `a bad --set value: exit ${rs.status}, stderr ${rs.stderr}`);
    assert.match(rs.stderr, /max_message_bytes/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- 11. SIGTERM drains ----

test('SIGTERM while requests wait in a batch: every request is answered 200, its data is in Kafka, ingest exits 0', { timeout: 180000 }, async (t) => {
  const H1 = 8;
  const H2 = 8;
  // The batch would be published after 2 s: SIGTERM comes long before (a few ms after the
  // requests are written, even on a loaded machine), while every request still waits in it.
  await withStack({ ingest: { sets: { 'batch.timeout': '2s' } } }, async ({ broker, ingest }) => {
    let signalled = false;
    // HTTP/1.1: one connection each, opened first.
    const h1 = [];
    for (let i = 0; i < H1; i++) {
      const ids = { traceId: newTraceId(), spanId: newSpanId() };
      const body = jsonTraceBody({ ...ids, name: `drain-h1-${i}` });
      const entry = { ids, body };
      entry.connected = new Promise((resolveConn, rejectConn) => {
        entry.done = new Promise((resolve) => {
          const req = http.request(`${ingest.httpUrl}/v1/traces`, {
            method: 'POST',
            agent: false,
            timeout: 60000,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          }, (res) => {
            const chunks = [];
            res.on('data', (d) => chunks.push(d));
            res.on('end', () => resolve({ ok: res.statusCode === 200, status: res.statusCode, afterSignal: signalled, detail: Buffer.concat(chunks).toString().slice(0, 200) }));
          });
          req.on('socket', (s) => (s.connecting ? s.once('connect', resolveConn) : resolveConn()));
          req.on('timeout', () => req.destroy(new Error('no response within 60 s')));
          req.on('error', (e) => {
            rejectConn(e);
            resolve({ ok: false, status: e.message, afterSignal: signalled });
          });
          entry.req = req;
          entry.finished = new Promise((r) => req.once('finish', r));
        });
      });
      h1.push(entry);
    }
    await within(10000, 'HTTP/1.1 connections', Promise.all(h1.map((e) => e.connected)));

    // gRPC: every stream on one HTTP/2 connection.
    const session = await h2Connect(ingest.grpcUrl);
    session.on('error', () => {});
    try {
      const h2 = [];
      for (let i = 0; i < H2; i++) {
        const ids = { traceId: newTraceId(), spanId: newSpanId() };
        const req = session.request({ ':method': 'POST', ':path': GRPC_PATHS.traces, 'content-type': 'application/grpc', te: 'trailers' });
        const done = new Promise((resolve) => {
          let headers = {};
          let trailers = {};
          req.on('response', (h) => {
            headers = h;
          });
          req.on('trailers', (tr) => {
            trailers = tr;
          });
          req.on('data', () => {});
          req.on('error', (e) => resolve({ ok: false, status: e.message, afterSignal: signalled }));
          req.on('close', () => {
            const st = trailers['grpc-status'] ?? headers['grpc-status'];
            resolve({ ok: st !== undefined && Number(st) === GRPC.OK, status: `grpc-status ${st} ${trailers['grpc-message'] ?? headers['grpc-message'] ?? ''}`, afterSignal: signalled });
          });
        });
        const finished = new Promise((r) => req.once('finish', r));
        req.end(grpcFrame(traceRequest([{ ...ids, name: `drain-grpc-${i}` }])));
        h2.push({ ids, done, finished });
      }
      for (const e of h1) e.req.end(e.body);
      // All request bytes are written; two PING round trips on the HTTP/2 connection then
      // prove the server has read them: the first PING may overtake the END_STREAM frames
      // the client queued with it, the second goes out after them. The HTTP/1.1 requests
      // were in the server's socket buffers before the first PING was sent.
      await within(10000, 'requests written', Promise.all([...h1, ...h2].map((e) => e.finished)));
      await h2Ping(session);
      await h2Ping(session);

      const all = [...h1, ...h2];
      signalled = true;
      const exit = await ingest.sigterm();
      assert.deepEqual(exit, { code: 0, signal: null }, 'kotel-ingest exit on SIGTERM');
      const results = await within(10000, 'every answer', Promise.all(all.map((e) => e.done)));
      t.diagnostic(`${results.filter((r) => !r.afterSignal).length} of ${all.length} answered before SIGTERM, ${results.filter((r) => r.afterSignal).length} after`);
      const bad = results.map((r, i) => (r.ok ? null : `#${i}: ${r.status} ${r.detail || ''}`)).filter(Boolean);
      assert.deepEqual(bad, [], 'requests in flight at SIGTERM were not answered with success');
      assert.ok(results.some((r) => r.afterSignal), 'no request was still waiting when SIGTERM came: the test did not test draining');

      const ids = all.map((e) => e.ids.spanId);
      const { spans } = await readSpans(broker, ids);
      assertExactlyOnce(spans, ids);
    } finally {
      session.destroy();
    }
  });
});
