'use strict';
// The chaos run's clients: senders that spread requests over every kotel-ingest instance
// and every OTLP transport (gRPC through @grpc/grpc-js, HTTP/protobuf, HTTP/JSON), paced to
// a target rate of spans per second, and keep the client's side of the ledger: which items
// were acknowledged (gRPC OK / HTTP 200), which requests were refused with a retryable
// status (the client was told to retry) and which failed otherwise (connection refused or
// reset while an instance was down, a deadline passed). Nothing is retried: every request
// carries items no other request has, so what was acknowledged is exactly what must arrive.

const grpc = require('@grpc/grpc-js');
const http = require('node:http');
const { tracesRequest, logsRequest, metricsRequest } = require('./ledger-items');

const GRPC_PATHS = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};
const TRANSPORTS = ['grpc', 'http-proto', 'http-json'];
const RETRYABLE_GRPC = new Set([grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED, grpc.status.DEADLINE_EXCEEDED]);
const RETRYABLE_HTTP = new Set([429, 502, 503, 504]);
const id = (b) => b;

// One gRPC channel per ingest endpoint, reconnecting quickly after an instance restarts.
function grpcClient(url) {
  return new grpc.Client(url.replace(/^http:\/\//, ''), grpc.credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
    'grpc.max_send_message_length': 64 << 20,
  });
}

function sendGrpc(client, signal, body, timeoutMs) {
  return new Promise((resolve) => {
    client.makeUnaryRequest(GRPC_PATHS[signal], id, id, body, { deadline: Date.now() + timeoutMs }, (err) => {
      if (!err) return resolve({ ok: true });
      if (RETRYABLE_GRPC.has(err.code) && !/connect|No connection|Connection dropped|reset/i.test(err.details || '')) {
        return resolve({ refused: `gRPC ${grpc.status[err.code]}` });
      }
      resolve({ failed: `gRPC ${grpc.status[err.code] || err.code}: ${(err.details || '').slice(0, 120)}` });
    });
  });
}

function sendHttp(agent, url, body, contentType, timeoutMs) {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent, timeout: timeoutMs, headers: { 'content-type': contentType } }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        if (res.statusCode === 200) return resolve({ ok: true });
        if (RETRYABLE_HTTP.has(res.statusCode)) return resolve({ refused: `HTTP ${res.statusCode}` });
        resolve({ failed: `HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 120)}` });
      });
      res.on('error', (e) => resolve({ failed: `HTTP: ${e.message}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ failed: `HTTP: ${e.code || e.message}` }));
    req.end(body);
  });
}

// Starts sending to `ingests` (objects with grpcUrl and httpUrl, read at each request so a
// restarted instance is picked up). rate: spans per second; logs and metrics ride along at
// a tenth of it each. Returns { stats(), stop() }; stop() resolves the ledger:
//   { acked: { traces: Set, logs: Set, metrics: Set }, sent: {..counts}, requests,
//     okRequests, refused: { reason: n }, failed: { reason: n }, refusedItems, failedItems }
function startClients(ingests, { rate = 2000, senders = 8, timeoutMs = 30000, spansPerRequest = 100, tracesPerRequest = 20 } = {}) {
  const acked = { traces: new Set(), logs: new Set(), metrics: new Set() };
  const st = {
    sent: { traces: 0, logs: 0, metrics: 0 },
    requests: 0,
    okRequests: 0,
    byTransport: Object.fromEntries(TRANSPORTS.map((t) => [t, 0])),
    refused: {},
    failed: {},
    refusedItems: 0,
    failedItems: 0,
  };
  const channels = new Map(); // grpcUrl -> client
  const agents = new Map(); // httpUrl -> agent
  const chan = (url) => channels.get(url) || channels.set(url, grpcClient(url)).get(url);
  const agent = (url) => agents.get(url) || agents.set(url, new http.Agent({ keepAlive: true, maxSockets: senders })).get(url);
  let seq = 0;
  let stopping = false;
  const t0 = Date.now();
  // Items sent so far, in spans: pacing aims at rate * elapsed.
  let budgetUsed = 0;

  async function one() {
    const n = seq++;
    const ingest = ingests[n % ingests.length];
    const transport = TRANSPORTS[Math.floor(n / ingests.length) % TRANSPORTS.length];
    // Of every 12 requests, 10 carry traces, one logs and one metrics.
    const k = n % 12;
    const signal = k === 5 ? 'logs' : k === 11 ? 'metrics' : 'traces';
    const service = `chaos-${transport}`;
    const req =
      signal === 'traces'
        ? tracesRequest(tracesPerRequest, Math.max(1, Math.round(spansPerRequest / tracesPerRequest)), service)
        : signal === 'logs'
          ? logsRequest(spansPerRequest, service)
          : metricsRequest(spansPerRequest, service);
    st.requests++;
    st.byTransport[transport]++;
    st.sent[signal] += req.keys.length;
    budgetUsed += signal === 'traces' ? req.keys.length : 0;
    let r;
    if (transport === 'grpc') {
      r = await sendGrpc(chan(ingest.grpcUrl), signal, req.proto(), timeoutMs);
    } else if (transport === 'http-proto') {
      r = await sendHttp(agent(ingest.httpUrl), `${ingest.httpUrl}/v1/${signal}`, req.proto(), 'application/x-protobuf', timeoutMs);
    } else {
      r = await sendHttp(agent(ingest.httpUrl), `${ingest.httpUrl}/v1/${signal}`, req.json(), 'application/json', timeoutMs);
    }
    if (r.ok) {
      st.okRequests++;
      for (const key of req.keys) acked[signal].add(key);
    } else if (r.refused) {
      st.refused[r.refused] = (st.refused[r.refused] || 0) + 1;
      st.refusedItems += req.keys.length;
    } else {
      // One entry per kind of failure: without ports, times and resolver notes.
      const why = r.failed.replace(/\. Last error:.*/, '').replace(/\d+ ms/, 'N ms');
      st.failed[why] = (st.failed[why] || 0) + 1;
      st.failedItems += req.keys.length;
    }
  }

  async function sender() {
    while (!stopping) {
      let ahead = budgetUsed - (rate * (Date.now() - t0)) / 1000;
      // Time lost to a fault is not made up with a burst: at most a second's worth.
      if (ahead < -rate) {
        budgetUsed -= ahead + rate;
        ahead = -rate;
      }
      if (ahead > 0) {
        await new Promise((r) => setTimeout(r, Math.min(200, (ahead / rate) * 1000)));
        continue;
      }
      await one();
    }
  }

  const running = [];
  for (let i = 0; i < senders; i++) running.push(sender());
  const snapshot = () => ({ ...st, acked: { traces: acked.traces.size, logs: acked.logs.size, metrics: acked.metrics.size } });
  return {
    stats: snapshot,
    stop: async () => {
      stopping = true;
      await Promise.all(running);
      for (const c of channels.values()) c.close();
      for (const a of agents.values()) a.destroy();
      return { ...st, acked };
    },
  };
}

module.exports = { startClients, TRANSPORTS };
