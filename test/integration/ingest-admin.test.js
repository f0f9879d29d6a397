'use strict';
// kotel-ingest's [admin] endpoint: /metrics passes `promtool check metrics` (Prometheus'
// own checker) and its counters match what the test sent through the OpenTelemetry JS
// SDK's exporters and curl; /healthz answers; /readyz says ready, then not ready with the
// reason while the broker is down, then ready again.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { withStack, adminPortOf } = require('./lib/procs');
const { sendTraces, sendLogs, EXPORT_SUCCESS } = require('./lib/sdk');
const { httpRequest, jsonTraceBody, newTraceId, newSpanId } = require('./lib/clients');
const { get, promtoolCheck, sample, until } = require('./lib/metrics');


test('/metrics: promtool accepts it and the counters match what was sent; /healthz; /readyz follows the broker', { timeout: 120000 }, async () => {
  await withStack({ ingest: { sets: { 'kafka.timeout': '2s' } } }, async ({ broker, ingest }) => {
    const port = await adminPortOf(ingest);
    const h = await get(port, '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual(JSON.parse(h.text), { status: 'ok' });
    const ready = await get(port, '/readyz');
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(JSON.parse(ready.text), { ready: true });

    const g = await sendTraces(ingest, 'grpc', { traces: 40, spansPerTrace: 5, batchSize: 50 });
    const l = await sendLogs(ingest, 'http/json', { count: 30 });
    for (const r of [...g.results, ...l.results]) assert.equal(r.code, EXPORT_SUCCESS, String(r.error));
    const bad = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from([0xff, 0xff]) });
    assert.equal(bad.status, 400);
    const nowhere = await httpRequest(`${ingest.httpUrl}/v1/nothing`, { headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(nowhere.status, 404);

    const m = await get(port, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    await promtoolCheck(m.text);
    const t = m.text;
    assert.equal(sample(t, 'kotel_build_info', 'tier="ingest",version="0.1.0"'), 1);
    assert.equal(sample(t, 'kotel_ingest_requests_total', 'signal="traces",protocol="grpc",status="200"'), g.results.length);
    assert.equal(sample(t, 'kotel_ingest_requests_total', 'signal="logs",protocol="http/json",status="200"'), l.results.length);
    assert.equal(sample(t, 'kotel_ingest_requests_total', 'signal="traces",protocol="http/protobuf",status="400"'), 1);
    assert.equal(sample(t, 'kotel_ingest_requests_total', 'signal="none",protocol="http/json",status="404"'), 1);
    assert.equal(sample(t, 'kotel_ingest_items_received_total', 'signal="traces",protocol="grpc"'), 200);
    assert.equal(sample(t, 'kotel_ingest_items_accepted_total', 'signal="traces",protocol="grpc"'), 200);
    assert.equal(sample(t, 'kotel_ingest_items_received_total', 'signal="logs",protocol="http/json"'), 30);
    assert.equal(sample(t, 'kotel_ingest_items_accepted_total', 'signal="logs",protocol="http/json"'), 30);
    assert.equal(sample(t, 'kotel_ingest_items_refused_total', 'signal="traces",protocol="grpc"'), 0);
    assert.equal(sample(t, 'kotel_ingest_request_duration_seconds_count', 'signal="traces",protocol="grpc"'), g.results.length);
    assert.ok(sample(t, 'kotel_ingest_kafka_messages_delivered_total') >= 1);
    assert.equal(sample(t, 'kotel_ingest_kafka_messages_in_flight'), 0);
    assert.ok(sample(t, 'kotel_ingest_kafka_produced_bytes_total') > 0);
    assert.ok(sample(t, 'kotel_ingest_kafka_message_items_count') >= 1);
    assert.equal(sample(t, 'kotel_ingest_kafka_delivery_latency_seconds_count'), sample(t, 'kotel_ingest_kafka_messages_delivered_total'));
    assert.ok(sample(t, 'kotel_ingest_connections_accepted_total') >= 3);
    assert.ok(sample(t, 'process_resident_memory_bytes') > 1e6);
    assert.ok(sample(t, 'process_open_fds') > 3);

    // Broker down: not ready, with the reason; requests refused and counted as such.
    await broker.command('down');
    const down = await until('/readyz 503', async () => {
      await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/json' }, body: jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() }) });
      const r = await get(port, '/readyz');
      return r.status === 503 ? r : null;
    });
    const why = JSON.parse(down.text);
    assert.equal(why.ready, false);
    assert.match(why.reason, /kafka/);
    const m2 = (await get(port, '/metrics')).text;
    assert.equal(sample(m2, 'kotel_ingest_ready'), 0);
    assert.ok(sample(m2, 'kotel_ingest_requests_total', 'signal="traces",protocol="http/json",status="503"') >= 1);
    await broker.command('up');
    await until('/readyz 200 again', async () => {
      await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/json' }, body: jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() }) });
      return (await get(port, '/readyz')).status === 200;
    }, 60000);
  });
});

test('/metrics with [spool]: messages spooled while the broker is down, then drained', { timeout: 120000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-admin-spool-'));
  try {
    await withStack({ ingest: { sets: { 'kafka.timeout': '2s', 'spool.dir': dir } } }, async ({ broker, ingest }) => {
      const port = await adminPortOf(ingest);
      await broker.command('down');
      // Accepted into the spool once Kafka counts as down.
      await until('a request spooled', async () => {
        const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/json' }, body: jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() }) });
        if (r.status !== 200) return false;
        return sample((await get(port, '/metrics')).text, 'kotel_ingest_spool_messages_written_total') >= 1;
      });
      const m = (await get(port, '/metrics')).text;
      await promtoolCheck(m);
      assert.ok(sample(m, 'kotel_ingest_spool_bytes') > 0);
      assert.ok(sample(m, 'kotel_ingest_spool_segments') >= 1);
      const written = sample(m, 'kotel_ingest_spool_messages_written_total');
      await broker.command('up');
      await until('the spool drained', async () => sample((await get(port, '/metrics')).text, 'kotel_ingest_spool_messages_drained_total') >= written, 60000);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('[log] format = json: every line kotel-ingest writes is one JSON object with time, level and msg', { timeout: 60000 }, async () => {
  let log = '';
  await withStack({ ingest: { sets: { 'log.format': 'json', 'log.level': 'debug' } } }, async ({ ingest }) => {
    const bad = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/json' }, body: '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz\u00e9\\"","name":"q"}]}]}]}' });
    assert.equal(bad.status, 400);
    await ingest.sigterm();
    log = ingest.log();
  });
  const lines = log.split('\n').filter((l) => l !== '');
  assert.ok(lines.length > 5, log);
  const levels = new Set();
  for (const l of lines) {
    let o;
    assert.doesNotThrow(() => (o = JSON.parse(l)), `not JSON: ${l}`);
    assert.deepEqual(Object.keys(o), ['time', 'level', 'msg']);
    assert.match(o.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    levels.add(o.level);
  }
  assert.ok(levels.has('info') && levels.has('debug'), [...levels].join());
  assert.ok(lines.some((l) => JSON.parse(l).msg.includes('request 1 from')), 'the refusal is not logged');
});
