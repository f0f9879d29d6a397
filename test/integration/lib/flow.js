'use strict';
// A steady flow of traces into kotel-ingest with an exact account of every request: which
// spans were acknowledged (gRPC OK / HTTP 200), which refused and how. Fault tests (broker
// killed, replicas rebalanced) compare what arrived against `acked`, so nothing a client was
// told is accepted can go missing unnoticed.

const { encode, types, decodeTracesData, spansOf } = require('./otlp');
const { GRPC, GRPC_PATHS, grpcUnary, httpRequest, newTraceId, newSpanId } = require('./clients');
const { readTopicUntil } = require('./kafka');
const { sleep } = require('./ports');

// One ExportTraceServiceRequest of `traces` traces of `spans` spans; returns
// { body, spans: ['traceId/spanId', ...] }.
function traceRequest(traces, spans, tag) {
  const ids = [];
  const list = [];
  for (let t = 0; t < traces; t++) {
    const traceId = newTraceId();
    for (let s = 0; s < spans; s++) {
      const spanId = newSpanId();
      ids.push(`${traceId}/${spanId}`);
      list.push({
        traceId: Buffer.from(traceId, 'hex'),
        spanId: Buffer.from(spanId, 'hex'),
        name: `flow-${s}`,
        kind: 2,
        startTimeUnixNano: '1609459200000000000',
        endTimeUnixNano: '1609459200000100000',
      });
    }
  }
  const body = encode(types.ExportTraceServiceRequest, {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: `flow-${tag}` } }] },
        scopeSpans: [{ spans: list }],
      },
    ],
  });
  return { body, spans: ids };
}

// Starts sending until stop() is called: `inflight` concurrent senders, each sending a request
// of `traces` x `spans` spans every `intervalMs`, alternating gRPC and HTTP/protobuf.
//   flow.stats()       { requests, ok, refused: { [status]: n }, failed, sentSpans, ackedSpans }
//   await flow.stop()  the final stats, plus acked: Set of 'traceId/spanId' acknowledged
// A refusal is a 503 / UNAVAILABLE answer; anything else that is not OK (another status, a
// dropped connection, a timeout) counts as failed, with the first few kept in `failures`.
function startFlow(ingest, { traces = 4, spans = 5, inflight = 2, intervalMs = 50, timeoutMs = 60000, tag = 'flow' } = {}) {
  const acked = new Set();
  const st = { requests: 0, ok: 0, refused: {}, failed: 0, sentSpans: 0, ackedSpans: 0, failures: [] };
  let stopping = false;
  let seq = 0;

  async function one() {
    const via = seq++ % 2 === 0 ? 'grpc' : 'http';
    const req = traceRequest(traces, spans, tag);
    st.requests++;
    st.sentSpans += req.spans.length;
    let ok = false;
    let refusal = null;
    let failure = null;
    try {
      if (via === 'grpc') {
        const r = await grpcUnary(ingest.grpcUrl, GRPC_PATHS.traces, req.body, { timeoutMs });
        if (r.grpcStatus === GRPC.OK) ok = true;
        else if (r.grpcStatus === GRPC.UNAVAILABLE) refusal = 'UNAVAILABLE';
        else failure = `gRPC status ${r.grpcStatus} ${r.grpcMessage || ''}`;
      } else {
        const r = await httpRequest(`${ingest.httpUrl}/v1/traces`, {
          headers: { 'content-type': 'application/x-protobuf' },
          body: req.body,
          timeoutMs,
        });
        if (r.status === 200) ok = true;
        else if (r.status === 503) refusal = 'HTTP 503';
        else failure = `HTTP ${r.status} ${r.body.toString().slice(0, 200)}`;
      }
    } catch (e) {
      failure = `${via}: ${e.message}`;
    }
    if (ok) {
      st.ok++;
      for (const id of req.spans) acked.add(id);
      st.ackedSpans += req.spans.length;
    } else if (refusal) {
      st.refused[refusal] = (st.refused[refusal] || 0) + 1;
    } else {
      st.failed++;
      if (st.failures.length < 5) st.failures.push(failure);
    }
  }

  async function sender() {
    while (!stopping) {
      const t0 = Date.now();
      await one();
      const wait = intervalMs - (Date.now() - t0);
      if (wait > 0 && !stopping) await sleep(wait);
    }
  }

  const senders = [];
  for (let i = 0; i < inflight; i++) senders.push(sender());
  return {
    stats: () => ({ ...st, refused: { ...st.refused } }),
    stop: async () => {
      stopping = true;
      await Promise.all(senders);
      return { ...st, refused: { ...st.refused }, acked };
    },
  };
}

// How a set of received 'traceId/spanId' keys (with repeats) compares to what was acknowledged:
// { acked, delivered (distinct acknowledged spans received), lost, duplicates (receipts beyond
// the first), unexpected (received, never acknowledged: refused requests may still have
// landed), missingExamples }.
function account(acked, receivedKeys) {
  const seen = new Map();
  for (const k of receivedKeys) seen.set(k, (seen.get(k) || 0) + 1);
  let delivered = 0;
  let duplicates = 0;
  const missing = [];
  for (const k of acked) {
    const n = seen.get(k) || 0;
    if (n > 0) delivered++;
    else if (missing.length < 5) missing.push(k);
  }
  let unexpected = 0;
  for (const [k, n] of seen) {
    duplicates += n - 1;
    if (!acked.has(k)) unexpected++;
  }
  return { acked: acked.size, delivered, lost: acked.size - delivered, duplicates, unexpected, missingExamples: missing };
}

// Reads the traces `topic` until every acknowledged span is in it or waitMs passed, and
// returns { msgs, acc (account of what was read last), readNote (for the test's line: how
// many reads it took in how many ms, and how many acknowledged spans the first one
// missed) }. One read may not be enough right after brokers restart: a partition leader
// elected then can report a high watermark short of what was acknowledged until its
// followers fetch again, and kcat stops at the end it is told. A span that never shows up
// still counts as lost.
async function readAcked(bootstrap, topic, acked, { waitMs = 30000 } = {}) {
  const t0 = Date.now();
  let reads = 0;
  let acc = null;
  let firstLost = 0;
  const msgs = await readTopicUntil(
    bootstrap,
    topic,
    (read) => {
      reads++;
      const got = [];
      for (const m of read) for (const s of spansOf(decodeTracesData(m.value))) got.push(`${s.traceId}/${s.spanId}`);
      acc = account(acked, got);
      if (reads === 1) firstLost = acc.lost;
      return acc.lost === 0;
    },
    { waitMs },
  );
  const ms = Date.now() - t0;
  const readNote = `read ${reads} times in ${ms} ms, the first read missing ${firstLost}`;
  return { msgs, acc, readNote };
}

// Resolves once the flow has had `n` more requests acknowledged than when called: traffic
// flowed through whatever just changed. Fails after ms.
async function waitAcked(flow, n, ms = 120000) {
  const want = flow.stats().ok + n;
  const t0 = Date.now();
  while (flow.stats().ok < want) {
    if (Date.now() - t0 > ms) throw new Error(`the flow got ${flow.stats().ok - want + n} of ${n} more acknowledgements in ${ms} ms: ${JSON.stringify(flow.stats())}`);
    await sleep(50);
  }
}

module.exports = { startFlow, waitAcked, account, readAcked, traceRequest };
