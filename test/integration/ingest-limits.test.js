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
const { assertServed, httpRequest, jsonTraceBody, newTraceId, newSpanId } = require('./lib/clients');

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

test('max_connections=5, every connection busy: a flood of refusals is logged rate-limited, with the count of lines held back', { timeout: 120000 }, async (t) => {
  await withStack({ ingest: { sets: { 'receiver.max_connections': '5', 'batch.timeout': '10ms' } } }, async ({ ingest }) => {
    const refusal = /WARN accept on .*at \[receiver\] max_connections, none idle; closing the new one/;
    // Five connections with a request arriving each: none may be closed to make room (idle
    // ones would be, ingest-hostile.test.js). The server's "100 Continue" says it has read
    // the headers, so the request is known to it before the flood begins.
    const busy = [];
    for (let i = 0; i < 5; i++) {
      const s = net.connect({ host: '127.0.0.1', port: ingest.httpPort });
      s.on('error', () => {});
      await new Promise((resolve) => s.once('connect', resolve));
      s.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n');
      busy.push(s);
      await new Promise((resolve) => s.once('data', resolve));
    }
    try {
      const f = await flood(ingest.httpPort, 100);
      await sleep(1200);
      const g = await flood(ingest.httpPort, 20);
      await sleep(300);
      const lines = logLines(ingest.log(), refusal);
      t.diagnostic(`${f.serverClosed() + g.serverClosed()} connections refused, ${lines} refusal lines logged`);
      assert.ok(f.serverClosed() >= 90, `only ${f.serverClosed()} of 100 connections over max_connections were refused`);
      assert.ok(lines >= 1 && lines <= 4, `${lines} refusal lines for 115 refused connections`);
      assert.match(ingest.log(), /max_connections, none idle; closing the new one \(\d+ similar not logged\)/);
      f.destroy();
      g.destroy();
    } finally {
      for (const s of busy) s.destroy();
    }
    await sleep(100);
    await assertServed(ingest, 'a request after the flood');
  });
});

// Peak RSS of a process, MiB.
function vmHwmMiB(pid) {
  return Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
}

// Bodies that never finish: connections each announcing BODY bytes and sending all but the
// last. Without a budget their storage is all held at once.
const BODY = 8 << 20;
const CONNS = 40;
const LIMIT_MIB = 128; // bodies get a quarter: 32 MiB, four of them
test(`[limits] memory = ${LIMIT_MIB}MiB: ${CONNS} unfinished ${BODY >> 20} MiB bodies hold at most their share, the rest get 503 naming the setting, and requests are served once they end`, { timeout: 180000 }, async (t) => {
  await withStack({ ingest: { sets: { 'limits.memory': `${LIMIT_MIB}MiB` } } }, async ({ ingest }) => {
    const chunk = Buffer.alloc(1 << 20, 0x78);
    const answers = [];
    const socks = [];
    for (let i = 0; i < CONNS; i++) {
      const s = net.connect({ host: '127.0.0.1', port: ingest.httpPort });
      s.on('error', () => {});
      let got = '';
      answers.push(new Promise((resolve) => {
        s.on('data', (d) => {
          got += d.toString('latin1');
        });
        s.on('close', () => resolve(got));
      }));
      await new Promise((resolve) => s.once('connect', resolve));
      s.write(`POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${BODY}\r\n\r\n`);
      for (let sent = 0; sent < BODY - 1; sent += chunk.length) {
        const n = Math.min(chunk.length, BODY - 1 - sent);
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await new Promise((resolve) => s.once('drain', resolve));
      }
      socks.push(s);
    }
    // Every byte but the last of every body has been taken in by now (writes drained): the
    // budget is held, so a small request is refused too, at once and saying why.
    const small = () => httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/json' }, body: jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() }), timeoutMs: 1000 });
    const r = await small();
    assert.equal(r.status, 503, `a small request while the budget is held: ${r.status} ${r.body}`);
    assert.match(r.body.toString(), /\[limits\] memory/);
    const hwm = vmHwmMiB(ingest.pid);
    for (const s of socks) s.end(Buffer.from('x'));
    const statuses = (await Promise.all(answers)).map((a) => Number((/^HTTP\/1\.1 (\d+)/.exec(a) || [])[1]));
    const n503 = statuses.filter((x) => x === 503).length;
    // Those within the budget are read whole: 'x' bytes happen to be a valid protobuf of
    // unknown fields, an empty request (200).
    t.diagnostic(`peak RSS ${hwm.toFixed(1)} MiB for ${CONNS} x ${BODY >> 20} MiB bodies; answers: ${n503} x 503, ${statuses.filter((x) => x === 200).length} x 200`);
    assert.ok(statuses.every((x) => x === 503 || x === 200), `answers: ${statuses.join(' ')}`);
    assert.ok(n503 >= CONNS - 8, `${n503} of ${CONNS} refused with 503`);
    const again = await small();
    assert.equal(again.status, 200, `a small request once the bodies ended: ${again.status} ${again.body}`);
    if (!/asan/.test(process.env.KT_BUILD || '')) assert.ok(hwm < LIMIT_MIB, `peak RSS ${hwm.toFixed(1)} MiB over [limits] memory ${LIMIT_MIB} MiB`);
  });
});

test(`[limits] memory = ${LIMIT_MIB}MiB over h2c: ${CONNS} unfinished ${BODY >> 20} MiB streams on one connection hold at most their share, the rest are answered 503 at once`, { timeout: 180000 }, async (t) => {
  await withStack({ ingest: { sets: { 'limits.memory': `${LIMIT_MIB}MiB` } } }, async ({ ingest }) => {
    const http2 = require('node:http2');
    const session = http2.connect(ingest.httpUrl);
    session.on('error', () => {});
    const chunk = Buffer.alloc(1 << 20, 0x78);
    const statuses = [];
    const streams = [];
    try {
      for (let i = 0; i < CONNS; i++) {
        const st = session.request({ ':method': 'POST', ':path': '/v1/traces', 'content-type': 'application/x-protobuf' });
        st.on('error', () => {});
        st.on('response', (h) => statuses.push(Number(h[':status'])));
        streams.push(st);
        for (let sent = 0; sent < BODY - 1 && !st.destroyed && statuses.length <= i; sent += chunk.length) {
          if (!st.write(chunk)) await Promise.race([new Promise((resolve) => st.once('drain', resolve)), new Promise((resolve) => st.once('response', resolve))]);
        }
      }
      // Refused streams are answered while their bodies are still being sent.
      const t0 = Date.now();
      while (statuses.filter((x) => x === 503).length < CONNS - 8 && Date.now() - t0 < 30000) await sleep(20);
      const hwm = vmHwmMiB(ingest.pid);
      const n503 = statuses.filter((x) => x === 503).length;
      t.diagnostic(`peak RSS ${hwm.toFixed(1)} MiB for ${CONNS} x ${BODY >> 20} MiB streams; ${n503} answered 503 before their end`);
      assert.ok(n503 >= CONNS - 8, `${n503} of ${CONNS} streams refused with 503: ${statuses.join(' ')}`);
      if (!/asan/.test(process.env.KT_BUILD || '')) assert.ok(hwm < LIMIT_MIB, `peak RSS ${hwm.toFixed(1)} MiB over [limits] memory ${LIMIT_MIB} MiB`);
    } finally {
      for (const st of streams) st.destroy();
      session.destroy();
    }
  });
});
