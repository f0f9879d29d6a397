'use strict';
// kotel-process exporting over TLS and mTLS ([exporter.tls]) to backends nobody here wrote:
// @grpc/grpc-js and node's https server, with a certificate authority made by openssl at test
// time. A backend that cannot be trusted (another CA, another host name) gets nothing, with
// a log line that says why, and nothing is lost: once the backend is fixed, everything
// arrives. Bad key material stops startup naming the option and the file.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { withStack, runToExit } = require('./lib/procs');
const { startProcess, processSets } = require('./lib/kprocess');
const { startGrpcBackend, startHttpBackend } = require('./lib/backend');
const { sendShapedTraces } = require('./lib/traffic');
const { pkiDir, makeCa, makeCert, tlsMaterial } = require('./lib/pki');

const dir = pkiDir('exporter-tls');
const ca = makeCa(dir, 'test-ca');
const otherCa = makeCa(dir, 'other-ca');
const server = makeCert(dir, ca, 'localhost', { dns: ['localhost'], ip: ['127.0.0.1'] });
const strangerServer = makeCert(dir, otherCa, 'stranger', { dns: ['localhost'], ip: ['127.0.0.1'] });
const renamedServer = makeCert(dir, ca, 'backend.test', { dns: ['backend.test'] });
const client = makeCert(dir, ca, 'kotel-process', { client: true });

const BACKENDS = {
  grpc: { start: startGrpcBackend, protocol: 'grpc' },
  https: { start: startHttpBackend, protocol: 'http/protobuf' },
};

function tlsSets(extra = {}) {
  return { 'exporter.tls.ca_file': ca.cert, 'exporter.retry.initial_interval': '200ms', 'exporter.retry.max_interval': '1s', ...extra };
}

function spanCount(sent) {
  let n = 0;
  for (const t of sent.traces.values()) n += t.spanIds.size;
  return n;
}

for (const [kind, b] of Object.entries(BACKENDS)) {
  test(`${kind} backend with mTLS: every span arrives over TLS with kotel-process's client certificate`, { timeout: 120000 }, async () => {
    await withStack({}, async ({ broker, ingest }) => {
      const backend = await b.start({ tls: { ...tlsMaterial(server, ca), requireClientCert: true } });
      let proc = null;
      try {
        proc = await startProcess({
          sets: processSets(broker, backend, { 'exporter.protocol': b.protocol, ...tlsSets({ 'exporter.tls.cert_file': client.cert, 'exporter.tls.key_file': client.key }) }),
        });
        const sent = await sendShapedTraces(ingest, { traces: 10, tag: `mtls-${kind}` });
        await backend.rec.until(() => backend.rec.spans.length >= spanCount(sent), 60000, `${spanCount(sent)} spans over mTLS`);
        const e = await proc.stop();
        proc = null;
        assert.equal(e.code, 0);
      } finally {
        if (proc) await proc.stop();
        await backend.stop();
      }
    });
  });
}

test('mTLS backend, no client certificate configured: nothing is delivered and the log says the handshake failed', { timeout: 120000 }, async () => {
  await withStack({}, async ({ broker, ingest }) => {
    const backend = await startHttpBackend({ tls: { ...tlsMaterial(server, ca), requireClientCert: true } });
    let proc = null;
    try {
      proc = await startProcess({ sets: processSets(broker, backend, { 'exporter.protocol': 'http/protobuf', ...tlsSets() }) });
      await sendShapedTraces(ingest, { traces: 3, tag: 'no-client-cert' });
      await proc.waitLog(/TLS|handshake|certificate/i, 60000, 'a TLS failure in the log');
      assert.equal(backend.rec.spans.length, 0, 'nothing delivered without a client certificate');
      assert.ok((backend.rec.tlsErrors || 0) > 0, 'the backend saw failed handshakes');
    } finally {
      if (proc) await proc.stop();
      await backend.stop();
    }
  });
});

for (const [what, pair, want] of [
  ['a certificate from another CA', strangerServer, /certificate verification failed.*(not trusted|not correctly signed)/i],
  ['a certificate for another host name', renamedServer, /certificate verification failed.*(CN|name)/i],
]) {
  test(`gRPC backend with ${what}: refused with a clear error, and everything arrives once the backend is fixed`, { timeout: 180000 }, async () => {
    await withStack({}, async ({ broker, ingest }) => {
      let backend = await startGrpcBackend({ tls: tlsMaterial(pair) });
      const port = backend.port;
      let proc = null;
      try {
        proc = await startProcess({ sets: processSets(broker, backend, tlsSets()) });
        const sent = await sendShapedTraces(ingest, { traces: 8, tag: 'untrusted' });
        await proc.waitLog(want, 60000, `the verification failure (${want})`);
        assert.equal(backend.rec.spans.length, 0);
        // The operator fixes the backend's certificate; the data waited.
        await backend.stop();
        backend = await startGrpcBackend({ tls: tlsMaterial(server), port });
        await backend.rec.until(() => backend.rec.spans.length >= spanCount(sent), 90000, `${spanCount(sent)} spans after the certificate was fixed`);
      } finally {
        if (proc) await proc.stop();
        await backend.stop();
      }
    });
  });
}

test('server_name_override: a backend whose certificate names another host is verified against that name', { timeout: 120000 }, async () => {
  await withStack({}, async ({ broker, ingest }) => {
    const backend = await startGrpcBackend({ tls: tlsMaterial(renamedServer) });
    let proc = null;
    try {
      proc = await startProcess({ sets: processSets(broker, backend, tlsSets({ 'exporter.tls.server_name_override': 'backend.test' })) });
      const sent = await sendShapedTraces(ingest, { traces: 5, tag: 'override' });
      await backend.rec.until(() => backend.rec.spans.length >= spanCount(sent), 60000, `${spanCount(sent)} spans with server_name_override`);
    } finally {
      if (proc) await proc.stop();
      await backend.stop();
    }
  });
});

test('insecure_skip_verify is warned about at start', { timeout: 60000 }, async () => {
  await withStack({}, async ({ broker }) => {
    const backend = await startGrpcBackend({ tls: tlsMaterial(strangerServer) });
    let proc = null;
    try {
      proc = await startProcess({ sets: processSets(broker, backend, { 'exporter.tls.insecure_skip_verify': 'true' }) });
      assert.match(proc.log(), /WARN \[exporter\.tls\] insecure_skip_verify = true: the backend at https:\/\/localhost:\d+ is not authenticated/);
    } finally {
      if (proc) await proc.stop();
      await backend.stop();
    }
  });
});

test('bad key material stops startup naming the option and the file', { timeout: 60000 }, async () => {
  const garbage = path.join(dir, 'garbage.key');
  fs.writeFileSync(garbage, 'not a key\n');
  // Checked before Kafka is asked: no broker is needed to hear about a bad file.
  const base = { 'exporter.endpoint': 'https://localhost:1', 'kafka.brokers': '127.0.0.1:1', 'exporter.tls.ca_file': ca.cert };
  const cases = [
    [{ 'exporter.tls.cert_file': client.cert, 'exporter.tls.key_file': garbage }, /\[exporter\.tls\] key_file '.*garbage\.key': not a private key/],
    [{ 'exporter.tls.cert_file': client.cert, 'exporter.tls.key_file': server.key }, /\[exporter\.tls\] key_file '.*localhost\.key' is not the private key of cert_file '.*kotel-process\.crt'/],
    [{ 'exporter.tls.cert_file': garbage, 'exporter.tls.key_file': client.key }, /\[exporter\.tls\] cert_file '.*garbage\.key': not a certificate/],
    [{ 'exporter.tls.cert_file': client.cert }, /\[exporter\.tls\]: cert_file is set without key_file/],
    [{ 'exporter.tls.ca_file': garbage }, /\[exporter\.tls\] ca_file '.*garbage\.key'/],
    [{ 'exporter.tls.min_version': '1.3' }, /\[exporter\.tls\] min_version = 1\.3: .*TLS 1\.2 only/],
  ];
  for (const [sets, want] of cases) {
    const r = await runToExit('kotel-process', { ...base, ...sets });
    assert.notEqual(r.code, 0, `${JSON.stringify(sets)}: exit ${r.code}\n${r.log}`);
    assert.match(r.log, want, JSON.stringify(sets));
  }
});

test('a header value from a file (Key=@/path) is read again on SIGHUP, and never logged', { timeout: 120000 }, async () => {
  await withStack({}, async ({ broker, ingest }) => {
    const backend = await startGrpcBackend({ tls: tlsMaterial(server) });
    const tokenFile = path.join(dir, 'backend-token');
    fs.writeFileSync(tokenFile, 'Bearer first-secret-token\n', { mode: 0o600 });
    let proc = null;
    try {
      proc = await startProcess({ sets: processSets(broker, backend, tlsSets({ 'exporter.headers': `Authorization=@${tokenFile}` })) });
      const auth = () => backend.rec.spans.map((s) => String(s.meta.metadata.authorization || ''));
      const one = await sendShapedTraces(ingest, { traces: 2, tag: 'token-1' });
      await backend.rec.until(() => backend.rec.spans.length >= spanCount(one), 60000, 'spans with the first token');
      assert.ok(auth().every((a) => a === 'Bearer first-secret-token'), `authorization seen: ${[...new Set(auth())]}`);

      // Rotated in place, as a secret manager does; SIGHUP makes kotel-process read it.
      fs.writeFileSync(tokenFile, 'Bearer second-secret-token\n');
      process.kill(proc.pid, 'SIGHUP');
      await proc.waitLog(/SIGHUP: \[exporter\] header files read again/, 10000, 'the reload');
      const before = backend.rec.spans.length;
      const two = await sendShapedTraces(ingest, { traces: 2, tag: 'token-2' });
      await backend.rec.until(() => backend.rec.spans.length >= before + spanCount(two), 60000, 'spans with the second token');
      assert.ok(auth().slice(before).every((a) => a === 'Bearer second-secret-token'), `authorization after SIGHUP: ${[...new Set(auth().slice(before))]}`);

      // A file that went away keeps the old value and says which file.
      fs.rmSync(tokenFile);
      process.kill(proc.pid, 'SIGHUP');
      await proc.waitLog(/SIGHUP: \[exporter\] headers: 'authorization': cannot read .*backend-token: No such file or directory; keeping the previous values/, 10000, 'the failed reload');
      assert.doesNotMatch(proc.log(), /secret-token/, 'a header value appeared in the log');
    } finally {
      if (proc) await proc.stop();
      await backend.stop();
    }
  });
});

test('secrets never show: --print-config of both tiers and the log of a run masks every secret given', { timeout: 120000 }, async () => {
  const SECRETS = ['sasl-pass-7f3a', 'header-value-91bc'];
  const sets = {
    'kafka.auth.sasl.mechanism': 'PLAIN',
    'kafka.auth.sasl.username': 'kotel',
    'kafka.auth.sasl.password': SECRETS[0],
  };
  for (const tier of ['kotel-ingest', 'kotel-process']) {
    const extra = tier === 'kotel-process' ? { 'exporter.headers': `X-Api-Key=${SECRETS[1]}` } : {};
    const r = await runToExit(tier, { ...sets, ...extra }, 30000, ['--print-config']);
    assert.equal(r.code, 0, `${tier} --print-config: ${r.log}`);
    assert.match(r.out, /password = /, `${tier} prints the option`);
    for (const s of SECRETS) assert.ok(!r.out.includes(s) && !r.log.includes(s), `${tier} --print-config shows a secret`);
  }
  // A run that uses them: the exporter sends the header; nothing of it reaches the log.
  await withStack({}, async ({ broker, ingest }) => {
    const backend = await startGrpcBackend();
    const proc = await startProcess({ sets: processSets(broker, backend, { 'exporter.headers': `X-Api-Key=${SECRETS[1]}` }) });
    try {
      const sent = await sendShapedTraces(ingest, { traces: 2, tag: 'secrets' });
      await backend.rec.until(() => backend.rec.spans.length >= spanCount(sent), 60000, 'spans');
      assert.equal(backend.rec.spans[0].meta.metadata['x-api-key'], SECRETS[1], 'the header was sent');
    } finally {
      await proc.stop();
      await backend.stop();
    }
    for (const [who, log] of [['kotel-process', proc.log()], ['kotel-ingest', ingest.log()]]) {
      for (const s of SECRETS) assert.ok(!log.includes(s), `${who}'s log shows a secret`);
    }
  });
});
