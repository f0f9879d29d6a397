'use strict';
// kotel-ingest against hostile clients: each attack runs while a normal client sends
// requests, which must each be answered within 1 s, and the attackers must be cut off the
// way the receiver promises (408, eviction, GOAWAY ENHANCE_YOUR_CALM), counted in the exit
// summary.
//   - slowloris: 500 connections trickling their headers byte by byte (header_timeout), and
//     100 trickling their bodies (body_timeout)
//   - 20,000 idle connections, more than max_connections: the idlest make room
//   - HTTP/2 rapid reset (HEADERS then RST_STREAM, again and again) and CONTINUATION floods
//     (HEADERS without END_HEADERS, then CONTINUATION frames without end), from raw sockets
// The single-connection behaviour (431, per-peer limit, eviction order, SETTINGS) is proven
// in test/unit/ingest/test_server.c.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');
const readline = require('node:readline');

const { withStack, spawnTracked, terminate } = require('./lib/procs');
const { assertServed } = require('./lib/clients');


// Normal requests one after the other while cond() holds (at least one); the slowest ms.
async function servedWhile(ingest, what, cond) {
  let worst = 0;
  let n = 0;
  do {
    worst = Math.max(worst, await assertServed(ingest, `${what} (request ${n + 1})`));
    n++;
  } while (cond());
  return { worst, n };
}

// The exit summary's counters (ingest/main.c), once kotel-ingest has exited.
const SUMMARY = new RegExp(
  'receiver: connections refused: (\\d+) at max_connections, (\\d+) at max_connections_per_peer, ' +
    '(\\d+) out of descriptors; (\\d+) idle ones closed for new ones; timeouts: (\\d+) idle, ' +
    '(\\d+) header, (\\d+) body; (\\d+) header sections over max_header_bytes; HTTP/2: (\\d+) ' +
    'rapid reset floods, (\\d+) CONTINUATION floods, (\\d+) protocol errors',
);
const FIELDS = ['refusedMax', 'refusedPeer', 'refusedNoFd', 'evicted', 'idleTimeouts', 'headerTimeouts', 'bodyTimeouts', 'headerTooLarge', 'resetFloods', 'continuationFloods', 'h2Errors'];

async function exitSummary(ingest) {
  const ex = await ingest.sigterm();
  assert.deepEqual(ex, { code: 0, signal: null }, 'kotel-ingest exit');
  const m = SUMMARY.exec(ingest.log());
  assert.ok(m, 'no receiver summary in the log at exit');
  return Object.fromEntries(FIELDS.map((f, i) => [f, Number(m[i + 1])]));
}

// Resolves { closed: true, got } when the server closes s, or { closed: false, got } after ms.
function serverCloses(s, ms) {
  return new Promise((resolve) => {
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
    });
    const timer = setTimeout(() => resolve({ closed: false, got }), ms);
    s.once('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, got });
    });
  });
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.removeListener('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

// Trickles text into every socket of socks, one byte each per tick (ms), until stop().
function trickle(socks, text, ms) {
  let i = 0;
  const timer = setInterval(() => {
    const b = text[i % text.length];
    i++;
    for (const s of socks) if (!s.destroyed) s.write(b);
  }, ms);
  return () => clearInterval(timer);
}

const HEADER_TIMEOUT_MS = 3000;

test('slowloris: 500 connections trickling headers byte by byte are answered 408 at header_timeout, and a normal client is served within 1 s meanwhile', { timeout: 120000 }, async (t) => {
  await withStack({ ingest: { sets: { 'receiver.header_timeout': `${HEADER_TIMEOUT_MS}ms`, 'batch.timeout': '10ms' } } }, async ({ ingest }) => {
    const socks = [];
    try {
      for (let i = 0; i < 500; i++) socks.push(await connect(ingest.httpPort));
      const ends = socks.map((s) => serverCloses(s, HEADER_TIMEOUT_MS + 15000));
      const stop = trickle(socks, `POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(4000)}`, 50);
      const t0 = Date.now();
      let served;
      try {
        // While the slow connections hold their places (until header_timeout).
        served = await servedWhile(ingest, 'a normal request during slowloris', () => Date.now() - t0 < HEADER_TIMEOUT_MS - 1000);
      } finally {
        stop();
      }
      const results = await Promise.all(ends);
      const closed = results.filter((r) => r.closed).length;
      const got408 = results.filter((r) => r.got.startsWith('HTTP/1.1 408 Request Timeout\r\n')).length;
      t.diagnostic(`${served.n} normal requests during slowloris, slowest ${served.worst} ms; ${closed} of 500 slow connections closed, ${got408} with 408, ${((Date.now() - t0) / 1000).toFixed(1)} s after the trickle began`);
      assert.equal(closed, 500, 'slow connections closed by the server');
      assert.equal(got408, 500, 'slow connections answered 408');
      const st = await exitSummary(ingest);
      t.diagnostic(`exit summary: ${JSON.stringify(st)}`);
      assert.ok(st.headerTimeouts >= 500, `${st.headerTimeouts} header timeouts counted`);
    } finally {
      for (const s of socks) s.destroy();
    }
  });
});

test('slow bodies: 100 connections trickling their bodies are answered 408 at body_timeout, and a normal client is served within 1 s meanwhile', { timeout: 120000 }, async (t) => {
  const BODY_TIMEOUT_MS = 3000;
  await withStack({ ingest: { sets: { 'receiver.body_timeout': `${BODY_TIMEOUT_MS}ms`, 'batch.timeout': '10ms' } } }, async ({ ingest }) => {
    const socks = [];
    try {
      for (let i = 0; i < 100; i++) {
        const s = await connect(ingest.httpPort);
        s.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n');
        socks.push(s);
      }
      const ends = socks.map((s) => serverCloses(s, BODY_TIMEOUT_MS + 15000));
      const stop = trickle(socks, 'x', 50);
      const t0 = Date.now();
      let served;
      try {
        served = await servedWhile(ingest, 'a normal request during slow bodies', () => Date.now() - t0 < BODY_TIMEOUT_MS - 1000);
      } finally {
        stop();
      }
      const results = await Promise.all(ends);
      const got408 = results.filter((r) => r.closed && r.got.startsWith('HTTP/1.1 408 Request Timeout\r\n')).length;
      t.diagnostic(`${served.n} normal requests, slowest ${served.worst} ms; ${got408} of 100 slow bodies answered 408 and closed`);
      assert.equal(got408, 100, 'slow bodies answered 408 and closed');
      const st = await exitSummary(ingest);
      assert.equal(st.bodyTimeouts, 100, `body timeouts counted: ${JSON.stringify(st)}`);
    } finally {
      for (const s of socks) s.destroy();
    }
  });
});

// Child processes holding `count` idle connections in all (lib/conn-holder.js), from
// 127.0.0.1..127.0.0.40. Resolves once all are open: { connected, failed, closed(), stop() }.
async function holdConnections(port, count, holders) {
  const script = path.join(__dirname, 'lib', 'conn-holder.js');
  const per = Math.ceil(count / holders);
  const hs = [];
  const ready = [];
  const closedBy = new Array(holders).fill(0);
  for (let i = 0; i < holders; i++) {
    const n = Math.min(per, count - i * per);
    const h = spawnTracked(`conn-holder-${i}`, process.execPath, [script, String(port), String(n), String(1 + i * 10), '10'], ['pipe', 'pipe', 'pipe']);
    hs.push(h);
    ready.push(new Promise((resolve, reject) => {
      const rl = readline.createInterface({ input: h.child.stdout });
      rl.on('line', (line) => {
        const [what, a, b] = line.split(' ');
        if (what === 'ready') resolve({ connected: Number(a), failed: Number(b) });
        if (what === 'closed') closedBy[i] = Number(a);
      });
      h.exited.then((e) => reject(new Error(`conn-holder ${i} exited before it was ready: ${JSON.stringify(e)} ${h.log()}`)));
    }));
  }
  const stop = () => Promise.all(hs.map((h) => terminate(h, 2000)));
  try {
    const rs = await Promise.all(ready);
    return {
      connected: rs.reduce((a, r) => a + r.connected, 0),
      failed: rs.reduce((a, r) => a + r.failed, 0),
      closed: () => closedBy.reduce((a, b) => a + b, 0),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

// Polls cond every 50 ms until it holds (true) or ms pass (false).
async function until(cond, ms) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

test('20,000 idle connections over max_connections=19000: the idlest make room for newcomers, and a normal client is served within 1 s', { timeout: 300000 }, async (t) => {
  const IDLE = 20000;
  const MAX = 19000;
  // Long timeouts: the idle connections stay until the test ends unless evicted.
  await withStack({ ingest: { sets: { 'receiver.max_connections': String(MAX), 'receiver.header_timeout': '300s', 'receiver.idle_timeout': '300s', 'batch.timeout': '10ms' } } }, async ({ ingest }) => {
    const t0 = Date.now();
    // Four processes, so that no one needs more than 5,000 descriptors.
    const held = await holdConnections(ingest.httpPort, IDLE, 4);
    try {
      t.diagnostic(`${held.connected} idle connections open (${held.failed} failed) in ${Date.now() - t0} ms`);
      assert.equal(held.connected, IDLE, `${held.failed} connections failed`);
      // Every connection beyond max_connections closed the one idle the longest.
      const evictedAll = await until(() => held.closed() >= IDLE - MAX, 20000);
      assert.ok(evictedAll, `${held.closed()} idle connections closed by the server, want ${IDLE - MAX}`);
      const ms = await assertServed(ingest, 'a normal request with the table full of idle connections');
      const ms2 = await assertServed(ingest, 'a second one');
      t.diagnostic(`normal requests answered in ${ms} and ${ms2} ms; ${held.closed()} idle connections closed by the server`);
    } finally {
      await held.stop();
    }
    const st = await exitSummary(ingest);
    t.diagnostic(`exit summary: ${JSON.stringify(st)}`);
    assert.ok(st.evicted >= IDLE - MAX + 1, `${st.evicted} connections evicted`);
    assert.equal(st.refusedMax, 0, 'newcomers refused at max_connections');
    assert.equal(st.refusedPeer, 0, 'newcomers refused at max_connections_per_peer');
  });
});

// ---- HTTP/2 from raw frames ----

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function frame(type, flags, stream, payload = Buffer.alloc(0)) {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h.writeUInt8(type, 3);
  h.writeUInt8(flags, 4);
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

// An HPACK literal field without indexing, with a new name (RFC 7541 section 6.2.2).
function literal(name, value) {
  return Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
}

// POST http://x/v1/traces application/x-protobuf: :method POST and :scheme http from the
// static table, the rest as literals.
const REQUEST_BLOCK = Buffer.concat([Buffer.from([0x83, 0x86]), literal(':authority', 'x'), literal(':path', '/v1/traces'), literal('content-type', 'application/x-protobuf')]);
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const GOAWAY = 0x7;
const CONTINUATION = 0x9;
const END_HEADERS = 0x4;
const ENHANCE_YOUR_CALM = 0xb;

// One flooding connection: the preface, then `next(i)` (a Buffer of frames) for i = 0, 1, ...
// as fast as the socket takes them, until the server closes it or `max` batches went out.
// Resolves { goaway: the GOAWAY error code or null, closed, batches }.
async function flood(port, next, max) {
  const s = await connect(port);
  let buf = Buffer.alloc(0);
  let goaway = null;
  let closed = false;
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      if (buf[3] === GOAWAY && len >= 8) goaway = buf.readUInt32BE(9 + 4);
      buf = buf.subarray(9 + len);
    }
  });
  const closing = new Promise((resolve) => s.once('close', resolve)).then(() => {
    closed = true;
  });
  s.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0)]));
  let i = 0;
  for (; i < max && !closed && !s.destroyed; i++) {
    if (!s.write(next(i))) await Promise.race([new Promise((resolve) => s.once('drain', resolve)), closing]);
    if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
  }
  const t0 = Date.now();
  await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 10000))]);
  s.destroy();
  return { goaway, closed: closed && Date.now() - t0 < 10000, batches: i };
}

// Floods from `conns` connections at a time, a new one as each ends, while a normal client
// sends requests for `ms`; then checks every flooding connection got GOAWAY
// ENHANCE_YOUR_CALM and was closed.
async function floodWhileServed(t, ingest, what, next, max, { conns = 10, ms = 3000 } = {}) {
  const results = [];
  let stopping = false;
  const runner = async () => {
    while (!stopping) results.push(await flood(ingest.httpPort, next, max));
  };
  const runners = Array.from({ length: conns }, runner);
  const t0 = Date.now();
  let served;
  try {
    served = await servedWhile(ingest, `a normal request during the ${what}`, () => Date.now() - t0 < ms);
  } finally {
    stopping = true;
    await Promise.all(runners);
  }
  const calm = results.filter((r) => r.goaway === ENHANCE_YOUR_CALM && r.closed).length;
  t.diagnostic(`${results.length} ${what} connections, ${calm} closed with GOAWAY ENHANCE_YOUR_CALM (after ${Math.min(...results.map((r) => r.batches))}..${Math.max(...results.map((r) => r.batches))} batches); ${served.n} normal requests, slowest ${served.worst} ms`);
  assert.ok(results.length >= conns, `${results.length} flooding connections`);
  assert.equal(calm, results.length, `flooding connections closed with GOAWAY ENHANCE_YOUR_CALM: ${JSON.stringify(results.filter((r) => r.goaway !== ENHANCE_YOUR_CALM || !r.closed).slice(0, 3))}`);
  return results.length;
}

test('HTTP/2 rapid reset: HEADERS then RST_STREAM over and over gets GOAWAY ENHANCE_YOUR_CALM and the connection closed, and a normal client is served within 1 s meanwhile', { timeout: 120000 }, async (t) => {
  await withStack({ ingest: { sets: { 'batch.timeout': '10ms' } } }, async ({ ingest }) => {
    const cancel = Buffer.from([0, 0, 0, 0x8]);
    // 16 streams opened and reset per batch; 1000 batches would be far past any bound.
    const next = (i) => {
      const frames = [];
      for (let k = 0; k < 16; k++) {
        const id = 2 * (i * 16 + k) + 1;
        frames.push(frame(HEADERS, END_HEADERS, id, REQUEST_BLOCK), frame(RST_STREAM, 0, id, cancel));
      }
      return Buffer.concat(frames);
    };
    const n = await floodWhileServed(t, ingest, 'rapid reset', next, 1000);
    const st = await exitSummary(ingest);
    t.diagnostic(`exit summary: ${JSON.stringify(st)}`);
    assert.equal(st.resetFloods, n, 'rapid reset floods counted');
  });
});

test('HTTP/2 CONTINUATION flood: HEADERS without END_HEADERS, then CONTINUATION frames without end, gets GOAWAY ENHANCE_YOUR_CALM and the connection closed, and a normal client is served within 1 s meanwhile', { timeout: 120000 }, async (t) => {
  await withStack({ ingest: { sets: { 'batch.timeout': '10ms' } } }, async ({ ingest }) => {
    const field = literal('x-flood', 'y'.repeat(100));
    const next = (i) => (i === 0 ? frame(HEADERS, 0, 1, REQUEST_BLOCK) : frame(CONTINUATION, 0, 1, field));
    const n = await floodWhileServed(t, ingest, 'CONTINUATION flood', next, 100000);
    const st = await exitSummary(ingest);
    t.diagnostic(`exit summary: ${JSON.stringify(st)}`);
    assert.equal(st.continuationFloods, n, 'CONTINUATION floods counted');
  });
});
