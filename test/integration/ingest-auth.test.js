'use strict';
// Bearer-token authentication on kotel-ingest's receivers ([receiver.auth]) with clients
// nobody here wrote: the OpenTelemetry JS SDK's gRPC and HTTP exporters sending the
// Authorization header, curl over HTTP/1.1 and HTTP/2, and @grpc/grpc-js. Missing, wrong and
// revoked tokens get 401 / UNAUTHENTICATED and put nothing in Kafka; a token removed from
// the file is refused once the change is seen (or on SIGHUP); the name of the token rides
// to Kafka as a record header (tenant_header); no token shows in a log line, in /metrics or
// in --print-config.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFile } = require('node:child_process');
const grpc = require('@grpc/grpc-js');

const { withStack, runToExit, adminPortOf } = require('./lib/procs');
const { sendTraces, EXPORT_SUCCESS } = require('./lib/sdk');
const { readTopicUntil } = require('./lib/kafka');
const { decodeTracesData, spansOf } = require('./lib/otlp');
const { httpRequest, jsonTraceBody, newTraceId, newSpanId } = require('./lib/clients');
const { KAFKAS, kafkaLabel } = require('./lib/realkafka');
const { pkiDir } = require('./lib/pki');

const dir = pkiDir('ingest-auth');
const TOKENS = {
  'team-a': 'tokA-9f3c2e71b0d84a5c',
  'team-b': 'tokB-41d07aa2e96c5f13',
  'team-c': 'tokC-c8e2b5d90f1a7346',
};
const ANON = 'tokZ-7e1f00c3a95b2d68'; // a token without a name

function tokensFile(tag, names, { anon = false } = {}) {
  const file = path.join(dir, `${tag}.tokens`);
  writeTokens(file, names, { anon });
  return file;
}

function writeTokens(file, names, { anon = false } = {}) {
  const lines = ['# test tokens', ...names.map((n) => `${n}:${TOKENS[n]}`), ...(anon ? [ANON] : [])];
  // Replaced by a rename, as configuration managers do: the reload sees a new file.
  fs.writeFileSync(`${file}.new`, `${lines.join('\n')}\n`, { mode: 0o600 });
  fs.renameSync(`${file}.new`, file);
}

const bearer = (name) => ({ Authorization: `Bearer ${TOKENS[name]}` });

// POSTs one OTLP/JSON span with curl; resolves { status, headers, body } (headers lowercased).
function curlSpan(url, { headers = {}, http = '--http1.1', traceId = newTraceId() } = {}) {
  const body = path.join(dir, `span-${newSpanId()}.json`);
  fs.writeFileSync(body, jsonTraceBody({ traceId, spanId: newSpanId() }));
  const args = ['-sS', '--max-time', '10', http, '-D', '-', '-H', 'content-type: application/json', '--data-binary', `@${body}`];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(`${url}/v1/traces`);
  return new Promise((resolve, reject) => {
    execFile('curl', args, (e, out, err) => {
      if (e) return reject(new Error(`curl ${args.join(' ')}: ${err}`));
      const [head, ...rest] = out.split(/\r\n\r\n/);
      const lines = head.split('\r\n');
      const status = Number(lines[0].split(' ')[1]);
      const hs = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        hs[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, headers: hs, body: rest.join('\r\n\r\n') });
    });
  });
}

function metaOf(headers) {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k.toLowerCase(), v);
  return md;
}

// One gRPC Export over @grpc/grpc-js with the given metadata; resolves the status code.
function grpcExport(port, md = {}) {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const meta = metaOf(md);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      (b) => b,
      (b) => b,
      Buffer.alloc(0),
      meta,
      { deadline: Date.now() + 10000 },
      (err) => {
        client.close();
        resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK });
      },
    );
  });
}

async function untilLogged(ingest, re, from = 0, ms = 15000) {
  const t0 = Date.now();
  while (!re.test(ingest.log().slice(from))) {
    if (Date.now() - t0 > ms) throw new Error(`no log line matching ${re} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const countSpans = (msgs) => msgs.reduce((n, m) => n + spansOf(decodeTracesData(m.value)).length, 0);
const traceIdsOf = (m) => spansOf(decodeTracesData(m.value)).map((s) => s.traceId);

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}the SDK exporters with their tokens are let in, and each record names its tenant`, { timeout: 180000 }, async () => {
    const file = tokensFile(`sdk-${kafka}`, ['team-a', 'team-b']);
    const sets = { 'receiver.auth.bearer_tokens_file': file, 'receiver.auth.tenant_header': 'x-tenant' };
    await withStack({ kafka, ingest: { sets } }, async ({ broker, ingest }) => {
      const g = await sendTraces(ingest, 'grpc', { traces: 30, spansPerTrace: 4, exporterOptions: { metadata: metaOf(bearer('team-a')) } });
      const h = await sendTraces(ingest, 'http/protobuf', { traces: 20, spansPerTrace: 4, exporterOptions: { headers: bearer('team-b') } });
      for (const [what, r] of [['grpc', g], ['http/protobuf', h]]) {
        assert.ok(r.results.length > 0, `${what}: no export`);
        for (const x of r.results) assert.equal(x.code, EXPORT_SUCCESS, `${what}: ${x.error}`);
      }
      const msgs = await readTopicUntil(broker.bootstrap, broker.topics.traces, (m) => countSpans(m) >= 200);
      assert.equal(countSpans(msgs), 200);
      // Every record carries the tenant of the request it came from, and only that one.
      const tenantOf = new Map();
      for (const id of g.expected.keys()) tenantOf.set(id, 'team-a');
      for (const id of h.expected.keys()) tenantOf.set(id, 'team-b');
      const seen = { 'team-a': 0, 'team-b': 0 };
      for (const m of msgs) {
        assert.deepEqual(Object.keys(m.headers), ['x-tenant'], `record ${m.partition}/${m.offset}: headers ${JSON.stringify(m.headers)}`);
        const t = m.headers['x-tenant'];
        for (const id of traceIdsOf(m)) assert.equal(tenantOf.get(id), t, `trace ${id} in a record of ${t}`);
        seen[t] += spansOf(decodeTracesData(m.value)).length;
      }
      assert.deepEqual(seen, { 'team-a': 120, 'team-b': 80 });
    });
  });
}

test('missing, wrong and revoked tokens get 401 / UNAUTHENTICATED, put nothing in Kafka, and never show in the log', { timeout: 120000 }, async () => {
  const file = tokensFile('refuse', ['team-a', 'team-b'], { anon: true });
  const sets = { 'receiver.auth.bearer_tokens_file': file, 'receiver.auth.reload_check_interval': '200ms' };
  await withStack({ ingest: { sets } }, async ({ broker, ingest }) => {
    const url = ingest.httpUrl;
    let refused = 0;
    const refusedIds = [];
    const expectRefused = async (headers, http, message) => {
      const traceId = newTraceId();
      refusedIds.push(traceId);
      const r = await curlSpan(url, { headers, http, traceId });
      refused++;
      assert.equal(r.status, 401, `${JSON.stringify(headers)} ${http}: ${r.status} ${r.body}`);
      assert.equal(r.headers['www-authenticate'], 'Bearer');
      const j = JSON.parse(r.body);
      assert.equal(j.code, 16);
      assert.match(j.message, message);
    };
    for (const http of ['--http1.1', '--http2-prior-knowledge']) {
      await expectRefused({}, http, /no Authorization header/);
      await expectRefused({ Authorization: 'Bearer not-a-token-of-ours' }, http, /token is not valid/);
      await expectRefused({ Authorization: `Basic ${TOKENS['team-a']}` }, http, /want Authorization: Bearer <token>/);
      await expectRefused({ Authorization: `Bearer ${TOKENS['team-a']}x` }, http, /token is not valid/);
    }
    // gRPC: UNAUTHENTICATED, from @grpc/grpc-js and from the SDK's exporter.
    for (const md of [{}, { Authorization: 'Bearer wrong' }]) {
      const r = await grpcExport(ingest.grpcPort, md);
      refused++;
      assert.equal(r.code, grpc.status.UNAUTHENTICATED, `gRPC ${JSON.stringify(md)}: ${r.code} ${r.details}`);
    }
    // The SDK's exporter reports the refusal (and does not retry it: UNAUTHENTICATED is not
    // retryable in the OTLP specification, so this is one request).
    await assert.rejects(sendTraces(ingest, 'grpc', { traces: 2, spansPerTrace: 2, exporterOptions: { metadata: metaOf({ Authorization: 'Bearer wrong' }) } }), /UNAUTHENTICATED/);
    refused++;

    // Good tokens, named and not, both protocols.
    const ok = [];
    for (const [headers, http] of [[bearer('team-a'), '--http1.1'], [bearer('team-b'), '--http2-prior-knowledge'], [{ Authorization: `bearer ${ANON}` }, '--http1.1']]) {
      const traceId = newTraceId();
      ok.push(traceId);
      const r = await curlSpan(url, { headers, http, traceId });
      assert.equal(r.status, 200, `${http}: ${r.body}`);
    }
    assert.equal((await grpcExport(ingest.grpcPort, bearer('team-a'))).code, grpc.status.OK);

    // team-b revoked by a change of the file: refused once the change is seen.
    let from = ingest.log().length;
    writeTokens(file, ['team-a'], { anon: true });
    await untilLogged(ingest, /bearer_tokens_file changed: reloaded \[receiver\.auth\] bearer_tokens_file: 2 tokens/, from);
    await expectRefused(bearer('team-b'), '--http1.1', /token is not valid/);
    const a = newTraceId();
    ok.push(a);
    assert.equal((await curlSpan(url, { headers: bearer('team-a'), traceId: a })).status, 200);

    // team-c added, then SIGHUP (the check would see it too; the log says which came first).
    writeTokens(file, ['team-a', 'team-c']);
    from = ingest.log().length;
    process.kill(ingest.pid, 'SIGHUP');
    await untilLogged(ingest, /reloaded \[receiver\.auth\] bearer_tokens_file: 2 tokens/, from);
    const c = newTraceId();
    ok.push(c);
    assert.equal((await curlSpan(url, { headers: bearer('team-c'), traceId: c })).status, 200);
    await expectRefused({ Authorization: `Bearer ${ANON}` }, '--http1.1', /token is not valid/);

    // A bad file keeps the tokens before it.
    from = ingest.log().length;
    fs.writeFileSync(`${file}.new`, 'team-a:has a space\n', { mode: 0o600 });
    fs.renameSync(`${file}.new`, file);
    await untilLogged(ingest, /reloading failed, the tokens before stay valid: .*:1: not a bearer token/, from);
    const c2 = newTraceId();
    ok.push(c2);
    assert.equal((await curlSpan(url, { headers: bearer('team-c'), traceId: c2 })).status, 200);

    // Kafka holds the accepted spans (and the gRPC one's empty request added none), none of
    // the refused ones.
    const msgs = await readTopicUntil(broker.bootstrap, broker.topics.traces, (m) => countSpans(m) >= ok.length);
    const ids = new Set(msgs.flatMap(traceIdsOf));
    for (const id of ok) assert.ok(ids.has(id), `accepted trace ${id} missing from Kafka`);
    for (const id of refusedIds) assert.ok(!ids.has(id), `refused trace ${id} reached Kafka`);
    assert.equal(countSpans(msgs), ok.length);

    // /metrics counts the refusals and shows no token.
    const metrics = (await httpRequest(`http://127.0.0.1:${await adminPortOf(ingest)}/metrics`, { method: 'GET' })).body.toString();
    assert.match(metrics, new RegExp(`^kotel_ingest_requests_refused_total\\{reason="unauthenticated"\\} ${refused}$`, 'm'));
    for (const t of [...Object.values(TOKENS), ANON]) assert.ok(!metrics.includes(t), 'a token is in /metrics');

    const e = await ingest.sigterm();
    assert.equal(e.code, 0);
    const m = ingest.log().match(/(\d+) refused unauthenticated/);
    assert.ok(m, 'no exit summary');
    assert.equal(Number(m[1]), refused);
    const log = ingest.log();
    for (const t of [...Object.values(TOKENS), ANON]) assert.ok(!log.includes(t), 'a token is in the log');
    assert.ok(!log.includes('has a space'), 'a line of the tokens file is in the log');
  });
});

test('bearer_token is masked by --print-config; bad token files and option mixes stop startup naming the line', { timeout: 60000 }, async () => {
  const secret = 'tokP-5b0e9d1c7a2f4863';
  const p = await runToExit('kotel-ingest', { 'receiver.auth.bearer_token': secret }, 30000, ['--print-config']);
  assert.equal(p.code, 0, p.log);
  assert.match(p.out, /bearer_token = "?\*\*\*\*/);
  assert.ok(!p.out.includes(secret) && !p.log.includes(secret), '--print-config shows the token');

  const bad = path.join(dir, 'bad.tokens');
  fs.writeFileSync(bad, `# ok\nteam-a:${secret}\nteam-b:${secret}\n`, { mode: 0o644 });
  const r = await runToExit('kotel-ingest', { 'kafka.brokers': '127.0.0.1:1', 'receiver.auth.bearer_tokens_file': bad });
  assert.equal(r.code, 1, r.log);
  assert.match(r.log, /bad\.tokens is readable by everyone/);
  assert.match(r.log, /bad\.tokens:3: the same token as an earlier line/);
  assert.ok(!r.log.includes(secret), 'the error quotes the token');
  const both = await runToExit('kotel-ingest', { 'kafka.brokers': '127.0.0.1:1', 'receiver.auth.bearer_tokens_file': bad, 'receiver.auth.bearer_token': secret });
  assert.equal(both.code, 1);
  assert.match(both.log, /bearer_token and bearer_tokens_file are both set/);
  assert.ok(!both.log.includes(secret));
});
