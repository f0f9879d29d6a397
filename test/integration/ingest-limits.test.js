'use strict';
// kotel-ingest under a flood of connections: out of file descriptors (an open files limit
// below [receiver] max_connections) and at max_connections. The excess connections are
// refused at once, the loop does not spin, the log stays short, and a request is served as
// soon as the flood ends. The slow-client timeouts (header_timeout from the accept, stray
// bytes not counting as activity) are proven in test/unit/ingest/test_server.c.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const { execFileSync } = require('node:child_process');

const { withStack } = require('./lib/procs');
const { sleep } = require('./lib/ports');
const { httpRequest, jsonTraceBody, newTraceId, newSpanId } = require('./lib/clients');

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

// CPU seconds (user + system) the process has used so far.
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 on
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime (14), stime (15)
}

// Opens n connections to port; resolves once each connected or failed, with
//   { serverClosed(): how many the server closed so far, destroy(): closes the rest }.
async function flood(port, n) {
  let closedByServer = 0;
  const socks = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port });
          s.on('error', () => {});
          s.on('close', () => {
            if (!s.destroyedByClient) closedByServer++;
          });
          s.once('connect', () => resolve(s));
          s.once('error', () => resolve(s));
        }),
    ),
  );
  return {
    serverClosed: () => closedByServer,
    destroy: () => {
      for (const s of socks) {
        s.destroyedByClient = true;
        s.destroy();
      }
    },
  };
}

const logLines = (log, re) => log.split('\n').filter((l) => re.test(l)).length;

async function assertServed(ingest, what) {
  const t0 = Date.now();
  const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, {
    headers: { 'content-type': 'application/json' },
    body: jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() }),
    timeoutMs: 1000,
  });
  assert.equal(r.status, 200, `${what}: ${r.status} ${r.body}`);
  return Date.now() - t0;
}

test('out of descriptors (ulimit -n 64, max_connections 10000): the excess is refused at once, no busy loop, a short log, served again within 1 s', { timeout: 120000 }, async (t) => {
  // batch.timeout short so that the request after the flood is answered quickly.
  await withStack({ ingest: { wrap: ['prlimit', '--nofile=64:64'], sets: { 'batch.timeout': '10ms' } } }, async ({ ingest }) => {
    const linesBefore = ingest.log().split('\n').length;
    const f = await flood(ingest.httpPort, 200);
    await sleep(300);
    const cpu0 = cpuSeconds(ingest.pid);
    await sleep(2000);
    const cpu = cpuSeconds(ingest.pid) - cpu0;
    const refused = f.serverClosed();
    const logged = ingest.log().split('\n').length - linesBefore;
    t.diagnostic(`200 connections held: ${refused} closed by the server, CPU ${cpu.toFixed(2)} s over 2 s, ${logged} log lines`);
    assert.ok(cpu < 0.5, `kotel-ingest used ${cpu.toFixed(2)} s of CPU in 2 s while out of descriptors: it spins on accept`);
    assert.ok(refused >= 100, `only ${refused} of 200 connections were closed: the rest are left waiting`);
    assert.ok(logged <= 10, `${logged} log lines while out of descriptors`);
    assert.match(ingest.log(), /WARN accept on [^:]+:\d+: Too many open files .*raise the open files limit/);
    f.destroy();
    const ms = await assertServed(ingest, 'a request after the flood');
    t.diagnostic(`a request after the flood: answered in ${ms} ms`);
    // Told at startup, with both numbers and the key.
    assert.match(ingest.log(), /WARN the open files limit is 64 \(hard limit 64\), below \[receiver\] max_connections \(10000\)/);
  });
});

test('max_connections=5: a flood of refusals is logged rate-limited, with the count of lines held back', { timeout: 120000 }, async (t) => {
  await withStack({ ingest: { sets: { 'receiver.max_connections': '5', 'batch.timeout': '10ms' } } }, async ({ ingest }) => {
    const refusal = /WARN accept on .*at \[receiver\] max_connections; closing the new one/;
    const f = await flood(ingest.httpPort, 100);
    await sleep(1200);
    const g = await flood(ingest.httpPort, 20);
    await sleep(300);
    const lines = logLines(ingest.log(), refusal);
    t.diagnostic(`${f.serverClosed() + g.serverClosed()} connections refused, ${lines} refusal lines logged`);
    assert.ok(f.serverClosed() >= 90, `only ${f.serverClosed()} of 100 connections over max_connections were refused`);
    assert.ok(lines >= 1 && lines <= 4, `${lines} refusal lines for 115 refused connections`);
    assert.match(ingest.log(), /max_connections; closing the new one \(\d+ similar not logged\)/);
    f.destroy();
    g.destroy();
    await sleep(100);
    await assertServed(ingest, 'a request after the flood');
  });
});
