'use strict';
// OTLP backends for kotel-process tests: a gRPC server built on @grpc/grpc-js (a real gRPC
// implementation nobody here wrote) and an HTTP server for OTLP/HTTP protobuf and JSON.
// Both record every span, log record and data point they accept, and can be told to
// refuse (UNAVAILABLE / 503) for a while to simulate an outage. What they cannot decode
// (protobufjs refuses a string that is not UTF-8, as Go's protobuf does) they refuse as
// invalid (INVALID_ARGUMENT / 400), counted in rec.undecodable (gRPC).

const grpc = require('@grpc/grpc-js');
const http = require('node:http');
const https = require('node:https');
const zlib = require('node:zlib');
const otlp = require('./otlp');

const SERVICES = {
  traces: { service: 'opentelemetry.proto.collector.trace.v1.TraceService', req: 'ExportTraceServiceRequest' },
  metrics: { service: 'opentelemetry.proto.collector.metrics.v1.MetricsService', req: 'ExportMetricsServiceRequest' },
  logs: { service: 'opentelemetry.proto.collector.logs.v1.LogsService', req: 'ExportLogsServiceRequest' },
};

class Recorder {
  constructor() {
    this.spans = [];
    this.logs = [];
    this.points = [];
    this.requests = 0;
    this.refused = 0;
    this.refuseUntil = 0;
    this.delayMs = 0;
    this.waiters = [];
  }

  refusing() {
    return Date.now() < this.refuseUntil;
  }

  // Refuse every request for `ms` milliseconds from now.
  refuseFor(ms) {
    this.refuseUntil = Date.now() + ms;
  }

  // Answer each accepted request `ms` milliseconds late (a slow backend); 0 answers at once.
  answerAfter(ms) {
    this.delayMs = ms;
  }

  // Reject every request as invalid (permanent: INVALID_ARGUMENT / 400) until told otherwise.
  rejectAll(on) {
    this.rejecting = on;
  }

  notify() {
    for (const w of this.waiters.slice()) w();
  }

  refuse() {
    this.refused++;
    this.notify();
  }

  record(signal, decoded, meta) {
    this.requests++;
    const before = { traces: this.spans.length, logs: this.logs.length, metrics: this.points.length };
    if (signal === 'traces') for (const s of otlp.spansOf(decoded)) this.spans.push({ ...s, meta });
    if (signal === 'logs') for (const r of otlp.logRecordsOf(decoded)) this.logs.push({ ...r, meta });
    if (signal === 'metrics') for (const p of otlp.dataPointsOf(decoded)) this.points.push({ ...p, meta });
    // Whole requests, for a test that compares more than the flattened items (ottl-diff).
    if (this.onRequest) this.onRequest(signal, decoded, meta);
    if (this.onRecord) {
      const now = { traces: this.spans.length, logs: this.logs.length, metrics: this.points.length };
      const what = { traces: 'spans', logs: 'log records', metrics: 'data points' }[signal];
      this.onRecord(signal, `${now[signal] - before[signal]} ${what}`);
    }
    this.notify();
  }

  // Resolves once pred() holds; rejects after timeoutMs with `what` in the message.
  until(pred, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      if (pred()) return resolve();
      const check = () => {
        if (!pred()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`backend: ${what} not reached within ${timeoutMs} ms (spans ${this.spans.length}, requests ${this.requests}, refused ${this.refused})`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.splice(this.waiters.indexOf(check), 1);
      };
      this.waiters.push(check);
    });
  }
}

// OTLP/JSON carries trace and span IDs as hex where protobuf JSON would use base64: turn
// them into bytes so protobufjs reads the rest with its ordinary JSON mapping.
const HEX_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId', 'trace_id', 'span_id', 'parent_span_id']);
function hexIdsToBytes(v) {
  if (Array.isArray(v)) return v.map(hexIdsToBytes);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = HEX_FIELDS.has(k) && typeof x === 'string' ? Buffer.from(x, 'hex') : hexIdsToBytes(x);
    return o;
  }
  return v;
}

function decodeOtlpJson(signal, text) {
  const type = otlp.types[SERVICES[signal].req];
  const msg = type.fromObject(hexIdsToBytes(JSON.parse(text)));
  return decoderOf[signal](Buffer.from(type.encode(msg).finish()));
}

const decoderOf = { traces: otlp.decodeTracesData, metrics: otlp.decodeMetricsData, logs: otlp.decodeLogsData };

// gRPC backend on 127.0.0.1:<free port> (or `port`). With `tls` ({ key, cert, ca,
// requireClientCert }, PEM Buffers) it serves TLS, asking for a client certificate signed by
// `ca` when requireClientCert is set; its url is then https://localhost:PORT. Resolves
// { url, port, rec, stop }.
async function startGrpcBackend({ tls = null, port: wantPort = 0 } = {}) {
  const rec = new Recorder();
  const server = new grpc.Server();
  for (const [signal, { service }] of Object.entries(SERVICES)) {
    const def = {
      Export: {
        path: `/${service}/Export`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (b) => b,
        requestDeserialize: (b) => b,
        responseSerialize: (b) => b,
        responseDeserialize: (b) => b,
      },
    };
    server.addService(def, {
      Export: (call, cb) => {
        if (rec.refusing()) {
          rec.refuse();
          return cb({ code: grpc.status.UNAVAILABLE, details: 'backend refusing on purpose (test outage)' });
        }
        if (rec.rejecting) {
          rec.rejected = (rec.rejected || 0) + 1;
          rec.notify();
          return cb({ code: grpc.status.INVALID_ARGUMENT, details: 'backend rejects this data on purpose (test)' });
        }
        let decoded;
        try {
          decoded = decoderOf[signal](call.request);
        } catch (e) {
          rec.undecodable = (rec.undecodable || 0) + 1;
          rec.notify();
          return cb({ code: grpc.status.INVALID_ARGUMENT, details: `cannot decode: ${e.message}` });
        }
        rec.record(signal, decoded, { metadata: call.metadata.getMap() });
        if (rec.delayMs > 0) setTimeout(() => cb(null, Buffer.alloc(0)), rec.delayMs);
        else cb(null, Buffer.alloc(0));
      },
    });
  }
  const creds = tls
    ? grpc.ServerCredentials.createSsl(tls.ca || null, [{ private_key: tls.key, cert_chain: tls.cert }], !!tls.requireClientCert)
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise((resolve, reject) => server.bindAsync(`127.0.0.1:${wantPort}`, creds, (e, p) => (e ? reject(e) : resolve(p))));
  return {
    url: tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    port,
    rec,
    stop: () =>
      new Promise((resolve) => {
        // Connections a client keeps open would hold tryShutdown forever. The timer is not
        // unref'd: with nothing else alive, an unref'd one let node end the event loop with
        // this promise pending (a test cancelled, seen once under ASan).
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

const HTTP_PATHS = { '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' };

// OTLP/HTTP backend (protobuf and JSON, gzip) on 127.0.0.1:<free port> (or `port`); with
// `tls` as startGrpcBackend's, HTTPS at https://localhost:PORT.
async function startHttpBackend({ tls = null, port: wantPort = 0 } = {}) {
  const rec = new Recorder();
  const tlsOpts = tls && { key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: !!tls.requireClientCert, rejectUnauthorized: !!tls.requireClientCert };
  const server = (tls ? https.createServer.bind(null, tlsOpts) : http.createServer)((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const signal = HTTP_PATHS[req.url];
      if (!signal || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      if (rec.refusing()) {
        rec.refuse();
        res.writeHead(503, { 'retry-after': '1', 'content-type': 'application/json' }).end('{"code":14,"message":"refusing on purpose"}');
        return;
      }
      let body = Buffer.concat(chunks);
      try {
        if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
        const ct = String(req.headers['content-type'] || '');
        let decoded;
        if (ct.startsWith('application/json')) {
          decoded = decodeOtlpJson(signal, body.toString());
        } else {
          decoded = decoderOf[signal](body);
        }
        rec.record(signal, decoded, { contentType: ct, encoding: req.headers['content-encoding'] || '', headers: req.headers });
        res.writeHead(200, { 'content-type': ct.startsWith('application/json') ? 'application/json' : 'application/x-protobuf' });
        res.end(ct.startsWith('application/json') ? '{}' : Buffer.alloc(0));
      } catch (e) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`cannot decode: ${e.message}`);
      }
    });
  });
  // Handshake failures (a client without a certificate) are the tests' business, not errors.
  server.on('tlsClientError', (e) => {
    rec.tlsErrors = (rec.tlsErrors || 0) + 1;
    rec.lastTlsError = e.message;
  });
  // An idle connection is the client's to close. With node's default of 5 s, a client that
  // reuses a connection just as the server closes it reads a reset; Go's HTTP client does not
  // resend a POST then, so a Collector exporter without retries dropped the request
  // (sampling-diff, CI). Go keeps idle connections 90 s.
  server.keepAliveTimeout = 120000;
  await new Promise((resolve) => server.listen(wantPort, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    url: tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`,
    port,
    rec,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

module.exports = { startGrpcBackend, startHttpBackend, Recorder, decodeOtlpJson };
