'use strict';
// The chaos run's OTLP backends: one gRPC server (@grpc/grpc-js) and one OTLP/HTTP server
// sharing one ledger of what arrived. Only the ledger keys are kept (a count per span, log
// record or data point), so a run of millions of items stays small. The fault script can
// make both refuse for a while (gRPC UNAVAILABLE, RESOURCE_EXHAUSTED with a RetryInfo, HTTP
// 503 or 429 with Retry-After) or hang (hold requests unanswered, then refuse them); the
// gRPC one can be capped to a rate (a backend slower than what flows in).

const grpc = require('@grpc/grpc-js');
const http = require('node:http');
const zlib = require('node:zlib');
const otlp = require('../integration/lib/otlp');
const { ledgerKeysOf } = require('./ledger-items');
const { decodeOtlpJson } = require('../integration/lib/backend');

const SERVICES = {
  traces: 'opentelemetry.proto.collector.trace.v1.TraceService',
  metrics: 'opentelemetry.proto.collector.metrics.v1.MetricsService',
  logs: 'opentelemetry.proto.collector.logs.v1.LogsService',
};
const HTTP_PATHS = { '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' };
const DECODE = { traces: otlp.decodeTracesData, metrics: otlp.decodeMetricsData, logs: otlp.decodeLogsData };

// google.rpc.Status{code, message, details: [Any{RetryInfo{retry_delay: 1 s}}]}, the form
// an OTLP exporter reads a RESOURCE_EXHAUSTED it may retry from.
function retryInfoStatus(code, message) {
  const retryInfo = Buffer.from([0x0a, 0x02, 0x08, 0x01]); // RetryInfo{retry_delay{seconds: 1}}
  return otlp.encode(otlp.types.Status, {
    code,
    message,
    details: [{ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: retryInfo }],
  });
}

class Ledger {
  constructor() {
    this.seen = { traces: new Map(), metrics: new Map(), logs: new Map() };
    this.requests = 0;
    this.refusedRequests = 0;
    this.mode = null; // null | { kind: 'unavailable' | 'exhausted' | 'http503' | 'http429' | 'hang', until }
    this.held = new Set(); // answers of hung requests, called when the hang ends
    this.waiters = new Set();
  }

  // Caps what is accepted at `itemsPerS` (0: no cap): an export is answered once the
  // backend's budget reaches its items, like a backend that takes a fixed rate.
  limitRate(itemsPerS) {
    this.rate = itemsPerS;
    this.nextFree = Date.now();
  }

  // ms until an export of n items may be answered under the rate cap.
  admit(n) {
    if (!this.rate) return 0;
    const now = Date.now();
    this.nextFree = Math.max(now, this.nextFree) + (n * 1000) / this.rate;
    return this.nextFree - now;
  }

  refuse() {
    this.refusedRequests++;
    for (const w of this.waiters) w();
  }

  record(signal, keys) {
    const m = this.seen[signal];
    for (const k of keys) m.set(k, (m.get(k) || 0) + 1);
    this.requests++;
    for (const w of this.waiters) w();
  }

  // The fault in force now, or null (an expired one ends here, releasing hung requests).
  fault() {
    if (this.mode && Date.now() >= this.mode.until) this.heal();
    return this.mode;
  }

  setFault(kind, ms) {
    this.mode = { kind, until: Date.now() + ms };
  }

  heal() {
    this.mode = null;
    for (const release of this.held) release();
    this.held.clear();
  }

  // Resolves once pred() holds, or false after ms.
  until(pred, ms) {
    return new Promise((resolve) => {
      if (pred()) return resolve(true);
      const check = () => {
        if (!pred()) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), ms);
      const done = (v) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(v);
      };
      this.waiters.add(check);
    });
  }
}

// Answers a request under the current fault: returns true when it was refused or held
// (answer called later), false when it should be served.
function underFault(ledger, refuse) {
  const f = ledger.fault();
  if (!f) return false;
  ledger.refuse();
  if (f.kind === 'hang') {
    const t = setTimeout(() => {
      ledger.held.delete(release);
      refuse('unavailable');
    }, Math.max(0, f.until - Date.now()));
    const release = () => {
      clearTimeout(t);
      refuse('unavailable');
    };
    ledger.held.add(release);
    return true;
  }
  refuse(f.kind);
  return true;
}

async function startGrpc(ledger) {
  const server = new grpc.Server();
  const id = (b) => b;
  for (const [signal, service] of Object.entries(SERVICES)) {
    const def = {
      Export: { path: `/${service}/Export`, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
    };
    server.addService(def, {
      Export: (call, cb) => {
        const refuse = (kind) => {
          if (kind === 'exhausted') {
            const md = new grpc.Metadata();
            md.set('grpc-status-details-bin', retryInfoStatus(grpc.status.RESOURCE_EXHAUSTED, 'chaos: backend over quota'));
            return cb({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'chaos: backend over quota', metadata: md });
          }
          cb({ code: grpc.status.UNAVAILABLE, details: 'chaos: backend unavailable' });
        };
        if (underFault(ledger, refuse)) return;
        let keys;
        try {
          keys = ledgerKeysOf(signal, DECODE[signal](call.request));
        } catch (e) {
          return cb({ code: grpc.status.INVALID_ARGUMENT, details: `cannot decode: ${e.message}` });
        }
        const wait = ledger.admit(keys.length);
        const answer = () => {
          ledger.record(signal, keys);
          cb(null, Buffer.alloc(0));
        };
        if (wait > 0) setTimeout(answer, wait);
        else answer();
      },
    });
  }
  const port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => server.tryShutdown(() => r())), force: () => server.forceShutdown() };
}

async function startHttp(ledger) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const signal = HTTP_PATHS[req.url];
      if (!signal || req.method !== 'POST') return res.writeHead(404).end();
      const refuse = (kind) => {
        if (res.writableEnded || res.destroyed) return;
        const status = kind === 'http429' || kind === 'exhausted' ? 429 : 503;
        res.writeHead(status, { 'retry-after': '1', 'content-type': 'text/plain' }).end('chaos: backend refusing');
      };
      if (underFault(ledger, refuse)) return;
      try {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
        const json = String(req.headers['content-type'] || '').startsWith('application/json');
        ledger.record(signal, ledgerKeysOf(signal, json ? decodeOtlpJson(signal, body.toString()) : DECODE[signal](body)));
        if (json) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.alloc(0));
      } catch (e) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`cannot decode: ${e.message}`);
      }
    });
  });
  server.keepAliveTimeout = 60000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

// Starts both backends on free loopback ports: { ledger, grpcUrl, httpUrl, stop }.
async function startLedgerBackends() {
  const ledger = new Ledger();
  const g = await startGrpc(ledger);
  let h;
  try {
    h = await startHttp(ledger);
  } catch (e) {
    g.force();
    throw e;
  }
  return {
    ledger,
    grpcUrl: g.url,
    httpUrl: h.url,
    stop: async () => {
      ledger.heal();
      await Promise.race([g.stop(), new Promise((r) => setTimeout(r, 5000))]);
      g.force();
      await h.stop();
    },
  };
}

module.exports = { startLedgerBackends };
