'use strict';
// Both tiers against real Apache Kafka's authenticated listeners: SASL PLAIN, SCRAM-SHA-256
// and SCRAM-SHA-512 over SASL_PLAINTEXT and SASL_SSL, and TLS only (SSL, with a client
// certificate the listener requires and CA verification). A wrong password and an untrusted
// broker certificate stop startup within a bounded time with a message naming the mechanism
// (or the TLS setting) and the broker, never the password.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { withStack, startKafka, binary, runToExit, tail } = require('./lib/procs');
const { startProcess, processSets } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { sendShapedTraces } = require('./lib/traffic');
const { readTopicUntil } = require('./lib/kafka');
const { decodeTracesData, spansOf } = require('./lib/otlp');
const { realKafkaEnabled, realCluster, authSets, startupSets } = require('./lib/realkafka');

const skip = realKafkaEnabled() ? false : 'KT_TEST_KAFKA excludes real Kafka';
// A refused login or handshake must end startup well inside this (connect_timeout is 10 s).
const STARTUP_FAILURE_BOUND_MS = 20000;

const MATRIX = [
  ['SASL_PLAINTEXT', 'PLAIN'],
  ['SASL_PLAINTEXT', 'SCRAM-SHA-256'],
  ['SASL_PLAINTEXT', 'SCRAM-SHA-512'],
  ['SASL_SSL', 'PLAIN'],
  ['SASL_SSL', 'SCRAM-SHA-256'],
  ['SASL_SSL', 'SCRAM-SHA-512'],
  ['SSL', null],
];

const spanKeys = (msgs) => msgs.flatMap((m) => spansOf(decodeTracesData(m.value)).map((s) => s.spanId));

for (const [listener, mechanism] of MATRIX) {
  const what = mechanism ? `${listener} with SASL ${mechanism}` : 'SSL with a client certificate and CA verification';
  test(`real Kafka: ${what}: kotel-ingest publishes and kotel-process consumes`, { timeout: 180000, skip }, async () => {
    // SCRAM-SHA-512 reads its password from a file, as operators keep secrets.
    let pwFile = null;
    const auth = authSets(listener, { mechanism });
    if (mechanism === 'SCRAM-SHA-512') {
      pwFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-pw-')), 'password');
      fs.writeFileSync(pwFile, `${realCluster().KAFKA_SASL_PASSWORD}\n`, { mode: 0o600 });
      delete auth['kafka.auth.sasl.password'];
      auth['kafka.auth.sasl.password_file'] = pwFile;
    }
    try {
      await withStack({ kafka: 'real', ingest: { sets: auth } }, async ({ broker, ingest }) => {
        const { traces } = await sendShapedTraces(ingest, { traces: 10, tag: `auth-${listener}-${mechanism}` });
        const want = [...traces.values()].flatMap((t) => [...t.spanIds]);
        // Read back over PLAINTEXT, by an independent client.
        const msgs = await readTopicUntil(broker.bootstrap, broker.topics.traces, (m) => spanKeys(m).length >= want.length);
        assert.deepEqual(new Set(spanKeys(msgs)), new Set(want), 'every span ingest acknowledged is in the topic');

        const backend = await startGrpcBackend();
        const proc = await startProcess({ sets: { ...processSets(broker, backend), ...auth } });
        try {
          await backend.rec.until(() => new Set(backend.rec.spans.map((s) => s.spanId)).size >= want.length, 60000, `${want.length} spans through kotel-process`);
          assert.match(proc.log(), /assigned [1-9]\d* partitions/);
        } finally {
          const e = await proc.stop();
          await backend.stop();
          assert.equal(e.code, 0, `kotel-process exit ${JSON.stringify(e)}\n${proc.log().slice(-2000)}`);
        }
      });
    } finally {
      if (pwFile) fs.rmSync(path.dirname(pwFile), { recursive: true, force: true });
    }
  });
}

const FAILURES = [
  {
    what: 'a wrong SCRAM-SHA-256 password',
    sets: () => authSets('SASL_PLAINTEXT', { mechanism: 'SCRAM-SHA-256', password: 'not-the-password-7f3a' }),
    expect: [/SCRAM-SHA-256/, /authentication/i, /sasl_plaintext:\/\/127\.0\.0\.1:\d+/, /\[kafka\.auth\.sasl\]/],
  },
  {
    what: 'a wrong PLAIN password over SASL_SSL',
    sets: () => authSets('SASL_SSL', { mechanism: 'PLAIN', password: 'not-the-password-7f3a' }),
    expect: [/PLAIN/, /authentication/i, /sasl_ssl:\/\/127\.0\.0\.1:\d+/],
  },
  {
    what: 'an untrusted broker certificate',
    sets: () => authSets('SASL_SSL', { mechanism: 'PLAIN', caFile: realCluster().KAFKA_OTHER_CA_FILE }),
    expect: [/certificate/i, /sasl_ssl:\/\/127\.0\.0\.1:\d+/, /\[kafka\.auth\.tls\] ca_file/],
  },
  {
    what: 'no client certificate where the listener requires one',
    sets: () => authSets('SSL', { clientCert: false }),
    expect: [/ssl:\/\/127\.0\.0\.1:\d+/, /TLS|SSL/, /\[kafka\.auth\.tls\]/],
  },
];

for (const f of FAILURES) {
  for (const tier of ['kotel-ingest', 'kotel-process']) {
    test(`real Kafka: ${f.what} stops ${tier} at startup with a clear error`, { timeout: 120000, skip }, async () => {
      const broker = await startKafka('real');
      const r = await runToExit(tier, { ...(await startupSets(tier, broker)), ...f.sets() });
      assert.equal(r.code, 1, `${tier} exit ${JSON.stringify({ code: r.code, signal: r.signal })}, want 1\n${tail(r.log)}`);
      assert.ok(r.ms < STARTUP_FAILURE_BOUND_MS, `${tier} took ${r.ms} ms to give up`);
      for (const re of f.expect) assert.match(r.log, re, `the error names what to fix\n${tail(r.log)}`);
      assert.doesNotMatch(r.log, /not-the-password-7f3a|kotel-secret/, 'no password in the log');
    });
  }
}

test('--print-config masks the SASL password', () => {
  const out = execFileSync(binary('kotel-ingest'), ['--print-config', '--set', 'kafka.auth.sasl.mechanism=PLAIN', '--set', 'kafka.auth.sasl.username=kotel', '--set', 'kafka.auth.sasl.password=hunter2-secret'], { encoding: 'utf8' });
  assert.match(out, /\[kafka\.auth\.sasl\]/);
  assert.match(out, /password\s*=\s*\*\*\*\*/);
  assert.doesNotMatch(out, /hunter2-secret/);
});
