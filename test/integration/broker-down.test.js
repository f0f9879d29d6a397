'use strict';
// With every broker down, export requests are refused as retryable (HTTP 503, gRPC
// UNAVAILABLE) within kafka.timeout; once the brokers are back, exports succeed again, and
// everything that was answered with success is in Kafka.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withStack, TOPICS } = require('./lib/procs');
const { readTopicUntil } = require('./lib/kafka');
const { encode, types, decodeTracesData, spansOf } = require('./lib/otlp');
const { GRPC, GRPC_PATHS, httpRequest, grpcUnary, jsonTraceBody, newTraceId, newSpanId } = require('./lib/clients');
const { sleep } = require('./lib/ports');

const KAFKA_TIMEOUT_MS = 2000;
// A refusal must come within kafka.timeout; 3x leaves room for a loaded or ASan machine.
const REFUSAL_BOUND_MS = 3 * KAFKA_TIMEOUT_MS;

function grpcTraceRequest(traceId, spanId) {
  return encode(types.ExportTraceServiceRequest, {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'broker-down-test' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: Buffer.from(traceId, 'hex'),
                spanId: Buffer.from(spanId, 'hex'),
                name: 'grpc-span',
                kind: 2,
                startTimeUnixNano: '1609459200000000000',
                endTimeUnixNano: '1609459200000100000',
              },
            ],
          },
        ],
      },
    ],
  });
}

// One export over HTTP/JSON or gRPC. Resolves { ok, status, ms, traceId } where status is
// the HTTP status or the grpc-status.
async function exportOne(ingest, via) {
  const traceId = newTraceId();
  const spanId = newSpanId();
  const t0 = process.hrtime.bigint();
  let ok;
  let status;
  let detail;
  if (via === 'http') {
    const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, {
      headers: { 'content-type': 'application/json' },
      body: jsonTraceBody({ traceId, spanId, name: 'http-span' }),
    });
    status = r.status;
    ok = r.status === 200;
    detail = r.body.toString().slice(0, 200);
  } else {
    const g = await grpcUnary(ingest.grpcUrl, GRPC_PATHS.traces, grpcTraceRequest(traceId, spanId));
    status = g.grpcStatus;
    ok = g.grpcStatus === GRPC.OK;
    detail = g.grpcMessage;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ok, status, ms, traceId, detail };
}

// A failure on kotel-ingest's side tells the client its first clause and the request's
// number, never the brokers' addresses (the log has those).
function assertSafeReason(detail, broker) {
  assert.match(detail, /kafka: [^;:/]+; retry later \(kotel-ingest request \d+: its log has the details\)/, detail);
  for (const hostPort of broker.bootstrap.split(',')) assert.ok(!detail.includes(hostPort), `the client was told a broker address: ${detail}`);
}

test('broker down: 503 / UNAVAILABLE within kafka.timeout, then recovery, and nothing acknowledged is lost', { timeout: 240000 }, async (t) => {
  await withStack({ ingest: { sets: { 'kafka.timeout': `${KAFKA_TIMEOUT_MS}ms` } } }, async ({ broker, ingest }) => {
    const acked = [];
    const record = (r) => {
      if (r.ok) acked.push(r.traceId);
      return r;
    };

    await t.test('exports succeed while the broker is up', async () => {
      for (let i = 0; i < 5; i++) {
        for (const via of ['http', 'grpc']) {
          const r = record(await exportOne(ingest, via));
          assert.ok(r.ok, `${via} export ${i}: status ${r.status} ${r.detail}`);
        }
      }
    });

    await broker.command('down');

    await t.test(`HTTP export with the broker down -> 503 within ${REFUSAL_BOUND_MS} ms`, async () => {
      const r = record(await exportOne(ingest, 'http'));
      assert.equal(r.status, 503, `HTTP ${r.status} after ${r.ms.toFixed(0)} ms: ${r.detail}`);
      assert.ok(r.ms <= REFUSAL_BOUND_MS, `refused after ${r.ms.toFixed(0)} ms (kafka.timeout ${KAFKA_TIMEOUT_MS} ms)`);
      assertSafeReason(r.detail, broker);
      t.diagnostic(`HTTP refused after ${r.ms.toFixed(0)} ms`);
    });

    await t.test(`gRPC export with the broker down -> UNAVAILABLE within ${REFUSAL_BOUND_MS} ms`, async () => {
      const r = record(await exportOne(ingest, 'grpc'));
      assert.equal(r.status, GRPC.UNAVAILABLE, `grpc-status ${r.status} after ${r.ms.toFixed(0)} ms: ${r.detail}`);
      assert.ok(r.ms <= REFUSAL_BOUND_MS, `refused after ${r.ms.toFixed(0)} ms (kafka.timeout ${KAFKA_TIMEOUT_MS} ms)`);
      assertSafeReason(r.detail, broker);
      t.diagnostic(`gRPC refused after ${r.ms.toFixed(0)} ms`);
    });

    await broker.command('up');

    await t.test('after the broker is back, exports succeed again', async () => {
      // The producer reconnects with backoff; allow it a bounded time to come back.
      const deadline = Date.now() + 30000;
      let r;
      let tries = 0;
      do {
        tries++;
        r = record(await exportOne(ingest, 'http'));
        if (r.ok) break;
        assert.equal(r.status, 503, `while reconnecting: HTTP ${r.status} ${r.detail}`);
        await sleep(250);
      } while (Date.now() < deadline);
      assert.ok(r.ok, `no successful export within 30 s of 'up' (${tries} tries, last status ${r.status})`);
      t.diagnostic(`first success after ${tries} tries`);
      for (let i = 0; i < 5; i++) {
        for (const via of ['http', 'grpc']) {
          const x = record(await exportOne(ingest, via));
          assert.ok(x.ok, `${via} export ${i} after recovery: status ${x.status} ${x.detail}`);
        }
      }
    });

    await t.test('every acknowledged export is in otlp_spans', async () => {
      assert.ok(acked.length >= 21, `only ${acked.length} exports were acknowledged`);
      const inTopic = (msgs) => new Set(msgs.flatMap((m) => spansOf(decodeTracesData(m.value)).map((s) => s.traceId)));
      const msgs = await readTopicUntil(broker.bootstrap, TOPICS.traces, (m) => {
        const have = inTopic(m);
        return acked.every((id) => have.has(id));
      });
      for (const m of msgs) {
        for (const s of spansOf(decodeTracesData(m.value))) assert.equal(s.traceId, m.keyString);
      }
      const have = inTopic(msgs);
      const lost = acked.filter((id) => !have.has(id));
      assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged exports are not in ${TOPICS.traces}`);
    });
  });
});
