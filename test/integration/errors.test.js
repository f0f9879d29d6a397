'use strict';
// Bad requests get the right status, and the server keeps serving: after each one, a normal
// request succeeds. At the end, otlp_spans holds exactly the spans of the good requests.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { withStack, TOPICS } = require('./lib/procs');
const { readTopicUntil } = require('./lib/kafka');
const { decodeStatus, decodeTracesData, spansOf } = require('./lib/otlp');
const { GRPC, GRPC_PATHS, httpRequest, grpcRaw, jsonTraceBody, newTraceId, newSpanId } = require('./lib/clients');

test('bad requests are refused with the right status and the server keeps serving', { timeout: 180000 }, async (t) => {
  await withStack({}, async ({ broker, ingest }) => {
    const good = []; // trace IDs of the good requests that were answered 200

    const sendGood = async (baseUrl = ingest.httpUrl) => {
      const ids = { traceId: newTraceId(), spanId: newSpanId() };
      const r = await httpRequest(`${baseUrl}/v1/traces`, {
        headers: { 'content-type': 'application/json' },
        body: jsonTraceBody({ ...ids, name: 'good' }),
      });
      assert.equal(r.status, 200, `a normal request after the bad one: ${r.status} ${r.body.toString().slice(0, 200)}`);
      good.push(ids.traceId);
    };

    await t.test('a normal request succeeds to begin with', async () => {
      await sendGood();
    });

    await t.test('malformed protobuf -> 400 with a google.rpc.Status body', async () => {
      // Field 1 (resource_spans) says 5 bytes follow; only 1 does.
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, {
        headers: { 'content-type': 'application/x-protobuf' },
        body: Buffer.from([0x0a, 0x05, 0x01]),
      });
      assert.equal(r.status, 400);
      assert.match(String(r.headers['content-type']), /^application\/x-protobuf/);
      const st = decodeStatus(r.body);
      assert.ok(st.message && st.message.length > 0, `Status.message is empty: ${JSON.stringify(st)}`);
      await sendGood();
    });

    await t.test('malformed JSON -> 400 with a JSON Status body', async () => {
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, {
        headers: { 'content-type': 'application/json' },
        body: '{"resourceSpans":[{"scopeSpans":[',
      });
      assert.equal(r.status, 400);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      const st = JSON.parse(r.body.toString());
      assert.equal(typeof st.message, 'string');
      assert.ok(st.message.length > 0, 'Status.message is empty');
      await sendGood();
    });

    await t.test('truncated gRPC frame -> grpc-status INVALID_ARGUMENT with a message', async () => {
      // The 5-byte prefix promises 100 bytes; 10 follow, then END_STREAM.
      const prefix = Buffer.from([0x00, 0x00, 0x00, 0x00, 100]);
      const body = Buffer.concat([prefix, Buffer.alloc(10, 0x0a)]);
      const g = await grpcRaw(ingest.grpcUrl, GRPC_PATHS.traces, body);
      assert.equal(g.httpStatus, 200, `gRPC errors travel as HTTP 200 + grpc-status, got HTTP ${g.httpStatus}`);
      assert.equal(g.grpcStatus, GRPC.INVALID_ARGUMENT, `grpc-status ${g.grpcStatus} (${g.grpcMessage})`);
      assert.ok(g.grpcMessage && g.grpcMessage.length > 0, 'grpc-message is empty');
      await sendGood();
      await sendGood(ingest.grpcUrl);
    });

    await t.test('unknown gRPC method -> grpc-status UNIMPLEMENTED', async () => {
      const g = await grpcRaw(ingest.grpcUrl, '/kotel.test.NoSuchService/Export', Buffer.from([0, 0, 0, 0, 0]));
      assert.equal(g.grpcStatus, GRPC.UNIMPLEMENTED, `grpc-status ${g.grpcStatus} (${g.grpcMessage})`);
      await sendGood(ingest.grpcUrl);
    });

    await t.test('gzip bomb (100 MB of zeros, gzip) -> 413', async () => {
      const bomb = zlib.gzipSync(Buffer.alloc(100 * 1024 * 1024), { level: 9 });
      assert.ok(bomb.length < 1024 * 1024, `the bomb is ${bomb.length} bytes compressed`);
      let r;
      try {
        r = await httpRequest(`${ingest.httpUrl}/v1/traces`, {
          headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
          body: bomb,
        });
      } catch (e) {
        assert.fail(`no HTTP response to the gzip bomb: ${e.message}`);
      }
      assert.equal(r.status, 413);
      await sendGood();
    });

    await t.test('chunked body past max_request_bytes -> 413, not a silent 200', async () => {
      // Without Content-Length the bound is found while the body arrives, and its bytes are let
      // go: the client must hear that, not OK for data that went nowhere.
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, {
        headers: { 'content-type': 'application/x-protobuf', 'transfer-encoding': 'chunked' },
        body: Buffer.alloc(16 * 1024 * 1024 + 4096, 0x0a),
      });
      assert.equal(r.status, 413, r.body.toString().slice(0, 200));
      assert.match(decodeStatus(r.body).message, /max_request_bytes/);
      await sendGood();
    });

    await t.test('unknown path -> 404', async () => {
      const r = await httpRequest(`${ingest.httpUrl}/v1/nothing-here`, {
        headers: { 'content-type': 'application/json' },
        body: jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() }),
      });
      assert.equal(r.status, 404);
      await sendGood();
    });

    await t.test('GET /v1/traces -> 405', async () => {
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, { method: 'GET' });
      assert.equal(r.status, 405);
      await sendGood();
    });

    await t.test('Content-Type text/plain -> 415', async () => {
      const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, {
        headers: { 'content-type': 'text/plain' },
        body: jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() }),
      });
      assert.equal(r.status, 415);
      await sendGood();
    });

    await t.test('otlp_spans holds exactly the good requests, once each', async () => {
      const msgs = await readTopicUntil(broker.bootstrap, TOPICS.traces, (m) => m.length >= good.length);
      const spans = msgs.flatMap((m) => spansOf(decodeTracesData(m.value)).map((s) => ({ ...s, key: m.keyString })));
      for (const s of spans) {
        assert.equal(s.name, 'good', `a span from a refused request reached Kafka: ${JSON.stringify(s)}`);
        assert.equal(s.key, s.traceId);
      }
      assert.deepEqual(spans.map((s) => s.traceId).sort(), [...good].sort());
    });
  });
});
