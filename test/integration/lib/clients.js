'use strict';
// Hand-made OTLP requests: plain HTTP/1.1, raw gRPC over node's http2 (so malformed frames
// can be sent), and curl.

const http = require('node:http');
const http2 = require('node:http2');
const { execFile } = require('node:child_process');

const GRPC_PATHS = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

const GRPC = { OK: 0, INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8, INTERNAL: 13, UNAVAILABLE: 14, UNIMPLEMENTED: 12 };

// One HTTP/1.1 request on its own connection. Resolves { status, headers, body: Buffer }.
function httpRequest(url, { method = 'POST', headers = {}, body, timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no response within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

// The 5-byte gRPC length prefix (uncompressed) followed by the message.
function grpcFrame(msg) {
  const b = Buffer.alloc(5 + msg.length);
  b.writeUInt8(0, 0);
  b.writeUInt32BE(msg.length, 1);
  Buffer.from(msg).copy(b, 5);
  return b;
}

// Sends `body` (already framed, possibly malformed on purpose) as one gRPC request body on
// a fresh HTTP/2 connection and ends the stream. Resolves { httpStatus, grpcStatus,
// grpcMessage, headers, trailers, body }. grpc-status is read from the trailers, or from
// the headers of a trailers-only response.
function grpcRaw(baseUrl, path, body, { timeoutMs = 30000, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const client = http2.connect(baseUrl);
    let settled = false;
    const finish = (err, val) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.close();
      client.destroy();
      if (err) reject(err);
      else resolve(val);
    };
    const timer = setTimeout(() => finish(new Error(`gRPC ${path}: no response within ${timeoutMs} ms`)), timeoutMs);
    client.on('error', (e) => finish(e));
    const req = client.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    let resHeaders = {};
    let trailers = {};
    const chunks = [];
    req.on('response', (h) => {
      resHeaders = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (d) => chunks.push(d));
    req.on('error', (e) => finish(e));
    req.on('close', () => {
      const st = trailers['grpc-status'] ?? resHeaders['grpc-status'];
      const msg = trailers['grpc-message'] ?? resHeaders['grpc-message'];
      finish(null, {
        httpStatus: resHeaders[':status'],
        grpcStatus: st === undefined ? undefined : Number(st),
        grpcMessage: msg === undefined ? undefined : decodeURIComponent(String(msg)),
        headers: resHeaders,
        trailers,
        rstCode: req.rstCode,
        body: Buffer.concat(chunks),
      });
    });
    req.end(body);
  });
}

// A well-formed unary gRPC call carrying `msg` (already encoded protobuf).
function grpcUnary(baseUrl, path, msg, opts) {
  return grpcRaw(baseUrl, path, grpcFrame(msg), opts);
}

// OTLP/JSON ExportTraceServiceRequest with one span.
function jsonTraceBody({ traceId, spanId, name = 'test-operation', service = 'my-test-service' }) {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId,
                spanId,
                name,
                kind: 1,
                startTimeUnixNano: '1609459200000000000',
                endTimeUnixNano: '1609459200500000000',
              },
            ],
          },
        ],
      },
    ],
  });
}

// Runs curl with args; resolves { code, stdout, stderr } (curl's exit code, not HTTP's).
function curl(args, { timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(new Error(`cannot run curl: ${err.message}`));
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

// Random lowercase hex ids of the OTLP sizes.
const crypto = require('node:crypto');
const newTraceId = () => crypto.randomBytes(16).toString('hex');
const newSpanId = () => crypto.randomBytes(8).toString('hex');

// One normal OTLP/HTTP request to kotel-ingest; throws unless it is answered 200 within 1 s
// (a timed-out request counts as not served). Resolves the milliseconds it took.
async function assertServed(ingest, what) {
  const t0 = Date.now();
  // Within the second a client may be refused while the server still frees what a flood
  // held (a connection closed at once): it connects again, as an SDK retries.
  let r;
  for (;;) {
    try {
      r = await httpRequest(`${ingest.httpUrl}/v1/traces`, {
        headers: { 'content-type': 'application/json' },
        body: jsonTraceBody({ traceId: newTraceId(), spanId: newSpanId() }),
        timeoutMs: Math.max(1, 1000 - (Date.now() - t0)),
      });
      break;
    } catch (e) {
      if (!/ECONNRESET|socket hang up|ECONNREFUSED|EPIPE/.test(`${e.code} ${e.message}`) || Date.now() - t0 >= 1000) throw new Error(`${what}: ${e.message} after ${Date.now() - t0} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  const ms = Date.now() - t0;
  if (r.status !== 200) throw new Error(`${what}: ${r.status} ${r.body}`);
  if (ms >= 1000) throw new Error(`${what}: answered in ${ms} ms`);
  return ms;
}

module.exports = {
  assertServed,
  GRPC,
  GRPC_PATHS,
  httpRequest,
  grpcFrame,
  grpcRaw,
  grpcUnary,
  jsonTraceBody,
  curl,
  newTraceId,
  newSpanId,
};
