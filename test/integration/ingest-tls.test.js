'use strict';
// kotel-ingest's receivers over TLS and mTLS ([receiver.tls]), with clients nobody here
// wrote: the OpenTelemetry JS SDK's gRPC and HTTP exporters, curl (HTTP/1.1 and HTTP/2 by
// ALPN) and node's tls, against a certificate authority made by openssl at test time.
// Clients without a certificate, or with one from another CA, are refused under mTLS, as is
// TLS 1.1. A certificate replaced on disk is taken by new connections on SIGHUP (or when
// the files change) while an old connection keeps working; a bad replacement keeps the
// previous certificate. Bad key material stops startup naming the option and the file.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const net = require('node:net');
const tls = require('node:tls');
const http2 = require('node:http2');
const { X509Certificate } = require('node:crypto');
const { execFile } = require('node:child_process');
const grpc = require('@grpc/grpc-js');

const { withStack, runToExit } = require('./lib/procs');
const { sendTraces, EXPORT_SUCCESS } = require('./lib/sdk');
const { readTopicUntil } = require('./lib/kafka');
const { decodeTracesData, spansOf } = require('./lib/otlp');
const { jsonTraceBody, newTraceId, newSpanId } = require('./lib/clients');
const { pkiDir, makeCa, makeCert } = require('./lib/pki');

const dir = pkiDir('ingest-tls');
const ca = makeCa(dir, 'test-ca');
const otherCa = makeCa(dir, 'other-ca');
const serverA = makeCert(dir, ca, 'ingest-a', { dns: ['localhost'], ip: ['127.0.0.1'] });
const serverB = makeCert(dir, ca, 'ingest-b', { dns: ['localhost'], ip: ['127.0.0.1'] });
const client = makeCert(dir, ca, 'sdk-client', { client: true });
const stranger = makeCert(dir, otherCa, 'stranger', { client: true });
const caPem = fs.readFileSync(ca.cert);

const serialOf = (certFile) => new X509Certificate(fs.readFileSync(certFile)).serialNumber;

// Copies pair to a cert and key file of their own (replaced later by a test).
function livePair(tag, pair) {
  const live = { cert: path.join(dir, `${tag}-live.crt`), key: path.join(dir, `${tag}-live.key`) };
  fs.copyFileSync(pair.cert, live.cert);
  fs.copyFileSync(pair.key, live.key);
  return live;
}

function tlsSets(pair, extra = {}) {
  return { 'receiver.tls.cert_file': pair.cert, 'receiver.tls.key_file': pair.key, ...extra };
}

// Runs curl; resolves { code (exit status), out (stdout), err (stderr) }.
function curl(args) {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], (e, out, err) => resolve({ code: e ? e.code : 0, out, err }));
  });
}

// POSTs one OTLP/JSON span with curl; resolves curl's result, out = "<status> <http version>".
async function curlSpan(url, extra = []) {
  const body = path.join(dir, `span-${newSpanId()}.json`);
  fs.writeFileSync(body, jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() }));
  return curl(['-o', '/dev/null', '-w', '%{http_code} %{http_version}', '-H', 'content-type: application/json', '--data-binary', `@${body}`, ...extra, `${url}/v1/traces`]);
}

// A TLS connection to port; resolves { socket, serial, alpn } once the handshake is done,
// rejects with the handshake's error.
function tlsConnect(port, opts = {}) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: caPem, servername: 'localhost', ...opts });
    socket.once('secureConnect', () => resolve({ socket, serial: socket.getPeerCertificate().serialNumber, alpn: socket.alpnProtocol }));
    socket.once('error', reject);
  });
}

// One OTLP/JSON POST on an open HTTP/2 session; resolves the status.
function h2Post(session) {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/v1/traces', 'content-type': 'application/json' });
    req.setTimeout(10000, () => req.close(http2.constants.NGHTTP2_CANCEL));
    let status = 0;
    req.on('response', (h) => (status = h[':status']));
    req.on('data', () => {});
    req.on('end', () => resolve(status));
    req.on('error', reject);
    req.end(jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() }));
  });
}

// Waits until the log holds a line matching re (counting those after `from` characters).
async function untilLogged(ingest, re, from = 0, ms = 10000) {
  const t0 = Date.now();
  while (!re.test(ingest.log().slice(from))) {
    if (Date.now() - t0 > ms) throw new Error(`no log line matching ${re} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const countSpans = (msgs) => msgs.reduce((n, m) => n + spansOf(decodeTracesData(m.value)).length, 0);

test('TLS: the SDK exporters (gRPC and HTTP), curl over HTTP/1.1 and HTTP/2 by ALPN; TLS 1.1 and plaintext refused', { timeout: 120000 }, async () => {
  await withStack({ ingest: { sets: tlsSets(serverA) } }, async ({ broker, ingest }) => {
    const tlsIngest = { grpcUrl: `https://localhost:${ingest.grpcPort}`, httpUrl: `https://localhost:${ingest.httpPort}` };
    const g = await sendTraces(tlsIngest, 'grpc', { traces: 20, spansPerTrace: 5, exporterOptions: { credentials: grpc.credentials.createSsl(caPem) } });
    const h = await sendTraces(tlsIngest, 'http/protobuf', { traces: 20, spansPerTrace: 5, exporterOptions: { httpAgentOptions: { ca: caPem } } });
    for (const [what, r] of [['grpc', g], ['http/protobuf', h]]) {
      assert.ok(r.results.length > 0, `${what}: no export`);
      for (const x of r.results) assert.equal(x.code, EXPORT_SUCCESS, `${what}: ${x.error}`);
    }
    const msgs = await readTopicUntil(broker.bootstrap, broker.topics.traces, (m) => countSpans(m) >= 200);
    assert.equal(countSpans(msgs), 200);

    for (const port of [ingest.grpcPort, ingest.httpPort]) {
      const url = `https://localhost:${port}`;
      const h1 = await curlSpan(url, ['--cacert', ca.cert, '--http1.1']);
      assert.equal(h1.out, '200 1.1', `curl --http1.1 ${url}: ${h1.err}`);
      const h2 = await curlSpan(url, ['--cacert', ca.cert, '--http2']);
      assert.equal(h2.out, '200 2', `curl --http2 ${url}: ${h2.err}`);
      // A client that trusts another CA does not take the certificate.
      const untrusted = await curlSpan(url, ['--cacert', otherCa.cert]);
      assert.notEqual(untrusted.code, 0, 'a client trusting another CA accepted the certificate');
    }
    // ALPN: h2 preferred, http/1.1 when that is all the client offers.
    const a = await tlsConnect(ingest.grpcPort, { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(a.alpn, 'h2');
    a.socket.destroy();
    const b = await tlsConnect(ingest.grpcPort, { ALPNProtocols: ['http/1.1'] });
    assert.equal(b.alpn, 'http/1.1');
    b.socket.destroy();

    // TLS 1.1 (allowed on our side at security level 0) is refused by the server's alert.
    await assert.rejects(tlsConnect(ingest.httpPort, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), (e) => {
      assert.match(e.code || e.message, /ALERT_PROTOCOL_VERSION/, `${e.code} ${e.message}`);
      return true;
    });
    // Plaintext on a TLS listener gets no answer.
    const plain = await curlSpan(`http://127.0.0.1:${ingest.httpPort}`);
    assert.notEqual(plain.out.split(' ')[0], '200', 'plaintext was served on a TLS listener');
  });
});

test('mTLS: a client certificate from client_ca_file is required; none, or one from another CA, is refused', { timeout: 120000 }, async () => {
  await withStack({ ingest: { sets: tlsSets(serverA, { 'receiver.tls.client_ca_file': ca.cert }) } }, async ({ ingest }) => {
    const url = `https://localhost:${ingest.httpPort}`;
    const good = await curlSpan(url, ['--cacert', ca.cert, '--cert', client.cert, '--key', client.key]);
    assert.equal(good.out, '200 2', `with a client certificate: ${good.err}`);
    const none = await curlSpan(url, ['--cacert', ca.cert]);
    assert.notEqual(none.code, 0, 'served a client without a certificate');
    assert.doesNotMatch(none.out, /^200/);
    const other = await curlSpan(url, ['--cacert', ca.cert, '--cert', stranger.cert, '--key', stranger.key]);
    assert.notEqual(other.code, 0, 'served a client with a certificate from another CA');
    assert.doesNotMatch(other.out, /^200/);
    // The SDK's gRPC exporter with its certificate.
    const tlsIngest = { grpcUrl: `https://localhost:${ingest.grpcPort}` };
    const creds = grpc.credentials.createSsl(caPem, fs.readFileSync(client.key), fs.readFileSync(client.cert));
    const g = await sendTraces(tlsIngest, 'grpc', { traces: 5, spansPerTrace: 2, exporterOptions: { credentials: creds } });
    assert.ok(g.results.length > 0);
    for (const x of g.results) assert.equal(x.code, EXPORT_SUCCESS, `grpc with a client certificate: ${x.error}`);
    await untilLogged(ingest, /certificate verification failed|handshake/i);
    const e = await ingest.sigterm();
    assert.equal(e.code, 0);
    // The two refused clients at least (the readiness probes' bare connections count too).
    const m = ingest.log().match(/(\d+) TLS handshakes failed/);
    assert.ok(m && Number(m[1]) >= 2, `exit summary: ${m && m[0]}`);
  });
});

test('endpoints = grpc_endpoint: TLS there, plaintext on http_endpoint at the same time', { timeout: 60000 }, async () => {
  await withStack({ ingest: { sets: tlsSets(serverA, { 'receiver.tls.endpoints': 'grpc_endpoint' }) } }, async ({ ingest }) => {
    const t = await curlSpan(`https://localhost:${ingest.grpcPort}`, ['--cacert', ca.cert]);
    assert.equal(t.out, '200 2', t.err);
    const p = await curlSpan(`http://127.0.0.1:${ingest.httpPort}`);
    assert.equal(p.out, '200 1.1', p.err);
    const notTls = await curlSpan(`https://localhost:${ingest.httpPort}`, ['--cacert', ca.cert]);
    assert.notEqual(notTls.code, 0, 'the plaintext listener spoke TLS');
  });
});

test('SIGHUP: new connections get the new certificate, an old connection keeps working; a bad key keeps the previous one', { timeout: 60000 }, async () => {
  const live = livePair('hup', serverA);
  await withStack({ ingest: { sets: tlsSets(live, { 'receiver.tls.reload_check_interval': '1h' }) } }, async ({ ingest }) => {
    const port = ingest.httpPort;
    const session = http2.connect(`https://localhost:${port}`, { ca: caPem });
    session.on('error', () => {});
    try {
      assert.equal(await h2Post(session), 200);
      const before = await tlsConnect(port);
      before.socket.destroy();
      assert.equal(before.serial, serialOf(serverA.cert));

      fs.copyFileSync(serverB.key, live.key);
      fs.copyFileSync(serverB.cert, live.cert);
      let from = ingest.log().length;
      process.kill(ingest.pid, 'SIGHUP');
      await untilLogged(ingest, /SIGHUP: reloaded \[receiver\.tls\]/, from);
      const after = await tlsConnect(port);
      after.socket.destroy();
      assert.equal(after.serial, serialOf(serverB.cert), 'a new connection still got the old certificate');
      assert.equal(await h2Post(session), 200, 'the connection opened before the reload stopped working');
      assert.equal(session.socket.getPeerCertificate().serialNumber, serialOf(serverA.cert));

      // A key that is not the certificate's: logged with the file, the previous pair stays.
      fs.copyFileSync(client.key, live.key);
      from = ingest.log().length;
      process.kill(ingest.pid, 'SIGHUP');
      await untilLogged(ingest, /reloading \[receiver\.tls\] failed/, from);
      assert.ok(ingest.log().slice(from).includes(`[receiver.tls] key_file '${live.key}' is not the private key of cert_file '${live.cert}'`), ingest.log().slice(from));
      const still = await tlsConnect(port);
      still.socket.destroy();
      assert.equal(still.serial, serialOf(serverB.cert));
      assert.equal(await h2Post(session), 200);
    } finally {
      session.destroy();
    }
  });
});

test('files changed on disk are reloaded without a signal', { timeout: 60000 }, async () => {
  const live = livePair('watch', serverA);
  await withStack({ ingest: { sets: tlsSets(live, { 'receiver.tls.reload_check_interval': '200ms' }) } }, async ({ ingest }) => {
    const before = await tlsConnect(ingest.grpcPort);
    before.socket.destroy();
    assert.equal(before.serial, serialOf(serverA.cert));
    const from = ingest.log().length;
    // Written next to the files and renamed over them, as deployment tools do.
    fs.copyFileSync(serverB.key, `${live.key}.new`);
    fs.copyFileSync(serverB.cert, `${live.cert}.new`);
    fs.renameSync(`${live.key}.new`, live.key);
    fs.renameSync(`${live.cert}.new`, live.cert);
    await untilLogged(ingest, /files changed: reloaded \[receiver\.tls\]/, from);
    // A check between the renames fails (a key without its certificate) and the next one
    // loads the pair: "reloaded" comes after either way.
    const c = await tlsConnect(ingest.grpcPort);
    c.socket.destroy();
    const serial = c.serial;
    assert.equal(serial, serialOf(serverB.cert));
  });
});

test('a handshake that stalls is closed at header_timeout, counted in the exit summary', { timeout: 60000 }, async () => {
  await withStack({ ingest: { sets: tlsSets(serverA, { 'receiver.header_timeout': '500ms' }) } }, async ({ ingest }) => {
    const t0 = Date.now();
    const closedAfter = await new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: ingest.grpcPort });
      const guard = setTimeout(() => {
        s.destroy();
        reject(new Error('a stalled handshake was still open after 5 s'));
      }, 5000);
      // The header of a handshake record, then nothing.
      s.once('connect', () => s.write(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00])));
      s.on('error', () => {});
      s.once('close', () => {
        clearTimeout(guard);
        resolve(Date.now() - t0);
      });
    });
    assert.ok(closedAfter >= 400, `closed after ${closedAfter} ms, before header_timeout`);
    const e = await ingest.sigterm();
    assert.equal(e.code, 0);
    assert.match(ingest.log(), /[1-9]\d* header, /);
  });
});

test('bad key material stops startup naming the option and the file', { timeout: 60000 }, async () => {
  const notAKey = path.join(dir, 'not-a-key.pem');
  fs.writeFileSync(notAKey, 'this is not a key\n');
  const cases = [
    [{ 'receiver.tls.cert_file': serverA.cert, 'receiver.tls.key_file': notAKey }, `[receiver.tls] key_file '${notAKey}': not a private key`],
    [{ 'receiver.tls.cert_file': notAKey, 'receiver.tls.key_file': serverA.key }, `[receiver.tls] cert_file '${notAKey}': not a certificate`],
    [{ 'receiver.tls.cert_file': serverA.cert, 'receiver.tls.key_file': serverB.key }, `[receiver.tls] key_file '${serverB.key}' is not the private key of cert_file '${serverA.cert}'`],
    [{ 'receiver.tls.cert_file': serverA.cert, 'receiver.tls.key_file': serverA.key, 'receiver.tls.client_ca_file': notAKey }, `[receiver.tls] client_ca_file '${notAKey}'`],
    [{ 'receiver.tls.cert_file': serverA.cert, 'receiver.tls.key_file': serverA.key, 'receiver.tls.cipher_suites': 'TLS_NO_SUCH_SUITE' }, "[receiver.tls] cipher_suites: 'TLS_NO_SUCH_SUITE'"],
    [{ 'receiver.tls.cert_file': serverA.cert, 'receiver.tls.key_file': serverA.key, 'receiver.tls.min_version': '1.3' }, '[receiver.tls] min_version = 1.3'],
  ];
  for (const [sets, want] of cases) {
    // No Kafka: the check comes before the broker is asked anything.
    const r = await runToExit('kotel-ingest', { 'kafka.brokers': '127.0.0.1:1', 'receiver.grpc_endpoint': '127.0.0.1:0', 'receiver.http_endpoint': '127.0.0.1:0', ...sets }, 20000);
    assert.equal(r.code, 1, `${want}: ${r.log}`);
    assert.ok(r.log.includes(want), `expected "${want}" in:\n${r.log}`);
  }
});
