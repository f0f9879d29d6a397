'use strict';
// Request metadata from Kafka record headers to the backend (issue 14): kotel-ingest writes
// the tenant of each request as a record header ([receiver.auth] tenant_header);
// kotel-process adds it to the resources ([kafka.header_extraction], as the kafkareceiver
// does) and sends it as a request header ([exporter] headers_from_metadata), never mixing two
// tenants in one export request. And the real Collector's OTLP receiver accepts every
// [exporter] compression kotel-process sends, over gRPC and OTLP/HTTP.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { withStack } = require('./lib/procs');
const { startProcess, processSets } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { sendTraces, EXPORT_SUCCESS } = require('./lib/sdk');
const { spansOf } = require('./lib/otlp');
const { freePorts } = require('./lib/ports');
const { KAFKAS, kafkaLabel } = require('./lib/realkafka');

const TOKENS = { 'team-a': 'tokA-5d1e9c0b7a2f4e68', 'team-b': 'tokB-0c3f6a9e2d7b1854' };

function tokensFile(tag) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kotel-meta-${tag}-`));
  const file = path.join(dir, 'tokens');
  fs.writeFileSync(file, Object.entries(TOKENS).map(([n, t]) => `${n}:${t}`).join('\n') + '\n', { mode: 0o600 });
  return file;
}

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}the ingest tenant header reaches the backend per request, as header and resource attribute, tenants never mixed`, { timeout: 180000 }, async () => {
    const sets = { 'receiver.auth.bearer_tokens_file': tokensFile(kafka), 'receiver.auth.tenant_header': 'x-tenant' };
    await withStack({ kafka, ingest: { sets } }, async ({ broker, ingest }) => {
      const backend = await startGrpcBackend();
      const requests = [];
      backend.rec.onRequest = (signal, decoded, meta) => requests.push({ signal, spans: spansOf(decoded), tenant: meta.metadata['x-tenant'] });
      let proc = null;
      try {
        proc = await startProcess({
          sets: processSets(broker, backend, {
            'kafka.header_extraction.extract_headers': 'true',
            'kafka.header_extraction.headers': 'x-tenant',
            // Metadata keys have no case (the Collector's client.Metadata).
            'exporter.headers_from_metadata': 'X-Tenant',
            'exporter.send_batch_timeout': '300ms',
          }),
        });
        const bearer = (n) => ({ Authorization: `Bearer ${TOKENS[n]}` });
        const [a, b] = await Promise.all([
          sendTraces(ingest, 'http/protobuf', { traces: 40, spansPerTrace: 3, exporterOptions: { headers: bearer('team-a') } }),
          sendTraces(ingest, 'http/protobuf', { traces: 30, spansPerTrace: 3, exporterOptions: { headers: bearer('team-b') } }),
        ]);
        for (const r of [a, b]) for (const x of r.results) assert.equal(x.code, EXPORT_SUCCESS, x.error);
        await backend.rec.until(() => backend.rec.spans.length >= 210, 60000, '210 spans');
        const tenantOf = new Map();
        for (const id of a.expected.keys()) tenantOf.set(id, 'team-a');
        for (const id of b.expected.keys()) tenantOf.set(id, 'team-b');
        const count = { 'team-a': 0, 'team-b': 0 };
        for (const r of requests) {
          assert.equal(r.signal, 'traces');
          // One value per request: the request's tenant, from headers_from_metadata.
          assert.equal(typeof r.tenant, 'string', `a request without x-tenant: ${JSON.stringify(r.tenant)}`);
          for (const s of r.spans) {
            assert.equal(tenantOf.get(s.traceId), r.tenant, `span of ${tenantOf.get(s.traceId)} in a request of ${r.tenant}`);
            assert.equal(s.resource['kafka.header.x-tenant'], r.tenant, 'the resource attribute names the tenant');
            count[r.tenant]++;
          }
        }
        assert.deepEqual(count, { 'team-a': 120, 'team-b': 90 });
        assert.ok(requests.some((r) => r.tenant === 'team-a') && requests.some((r) => r.tenant === 'team-b'));
      } finally {
        const e = proc && (await proc.stop());
        await backend.stop();
        if (proc) assert.equal(e.code, 0, `kotel-process exit ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
      }
    });
  });
}

test('the Collector OTLP receiver accepts zstd and snappy (and gzip) from kotel-process over gRPC and HTTP', { timeout: 240000, skip: !process.env.KT_OTELCOL && 'KT_OTELCOL not set' }, async () => {
  const { startCollector } = require('../interop/lib/otelcol');
  const backend = await startGrpcBackend();
  const [grpcPort, httpPort] = await freePorts(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-meta-otelcol-'));
  const config = path.join(dir, 'relay.yaml');
  // OTLP in, OTLP out to the test backend: what reaches the backend the Collector accepted.
  fs.writeFileSync(config, [
    'receivers:',
    '  otlp:',
    '    protocols:',
    `      grpc: { endpoint: "127.0.0.1:${grpcPort}" }`,
    `      http: { endpoint: "127.0.0.1:${httpPort}" }`,
    'exporters:',
    '  otlp_grpc:',
    `    endpoint: 127.0.0.1:${backend.port}`,
    '    compression: none',
    '    tls: { insecure: true }',
    'service:',
    '  telemetry: { metrics: { level: none } }',
    '  pipelines:',
    '    traces: { receivers: [otlp], exporters: [otlp_grpc] }',
    '',
  ].join('\n'));
  let col = null;
  try {
    col = await startCollector(config, {}, { ports: [grpcPort, httpPort], name: 'otelcol-relay' });
    await withStack({}, async ({ broker, ingest }) => {
      let want = 0;
      for (const compression of ['zstd', 'snappy', 'gzip']) {
        for (const protocol of ['grpc', 'http/protobuf']) {
          const endpoint = protocol === 'grpc' ? `http://127.0.0.1:${grpcPort}` : `http://127.0.0.1:${httpPort}`;
          const proc = await startProcess({
            sets: processSets(broker, { url: endpoint }, { 'exporter.protocol': protocol, 'exporter.compression': compression, 'kafka.metrics_topic': '', 'kafka.logs_topic': '' }),
          });
          try {
            const r = await sendTraces(ingest, 'grpc', { traces: 10, spansPerTrace: 2 });
            for (const x of r.results) assert.equal(x.code, EXPORT_SUCCESS, x.error);
            // Each replica is a new group from the earliest offset: it exports every span so far.
            want = want + 20;
            const spansSoFar = want;
            await backend.rec.until(() => new Set(backend.rec.spans.map((s) => s.spanId)).size >= spansSoFar, 60000,
              `${spansSoFar} distinct spans through the Collector (${protocol}, ${compression})`);
            assert.doesNotMatch(proc.log(), /refused|retry/i, `${protocol} ${compression}: ${proc.log().slice(-2000)}`);
          } finally {
            const e = await proc.stop();
            assert.equal(e.code, 0, `kotel-process exit ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
          }
        }
      }
    });
  } finally {
    if (col) await col.stop();
    await backend.stop();
  }
});

test('max_in_flight 4: a slow backend gets several requests at once, every span arrives once, the replica stops clean', { timeout: 180000 }, async () => {
  await withStack({}, async ({ broker, ingest }) => {
    const backend = await startGrpcBackend();
    const DELAY = 400;
    backend.rec.answerAfter(DELAY);
    let inFlight = 0;
    let most = 0;
    // record() runs as a request arrives; its answer leaves DELAY ms later.
    backend.rec.onRequest = () => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => inFlight--, DELAY);
    };
    let proc = null;
    try {
      proc = await startProcess({
        sets: processSets(broker, backend, { 'exporter.max_in_flight': '4', 'exporter.send_batch_size': '20', 'kafka.metrics_topic': '', 'kafka.logs_topic': '' }),
      });
      const r = await sendTraces(ingest, 'grpc', { traces: 100, spansPerTrace: 4 });
      for (const x of r.results) assert.equal(x.code, EXPORT_SUCCESS, x.error);
      await backend.rec.until(() => backend.rec.spans.length >= 400, 90000, '400 spans');
      const ids = backend.rec.spans.map((s) => s.spanId);
      assert.equal(new Set(ids).size, 400);
      assert.ok(most >= 2, `at most ${most} request(s) in flight at once`);
    } finally {
      const e = proc && (await proc.stop());
      await backend.stop();
      if (proc) assert.equal(e.code, 0, `kotel-process exit ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
    }
    assert.equal(backend.rec.spans.length, 400, 'no span twice');
  });
});
