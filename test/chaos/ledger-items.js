'use strict';
// What the chaos run sends and how the backend recognises it: every span, log record and
// data point carries an identity of its own (a span its trace and span ID, a log record or
// data point a `ledger.id` attribute), so the ledger can tell each item that arrived from
// every other, whatever batching, splitting and re-encoding happened on the way.

const crypto = require('node:crypto');
const { encode, types } = require('../integration/lib/otlp');

const LEDGER_ATTR = 'ledger.id';
const hex = (b) => Buffer.from(b).toString('hex');
const str = (v) => ({ stringValue: v });
const resourceOf = (service) => ({ attributes: [{ key: 'service.name', value: str(service) }] });
// Fixed times: the run checks identity, not timing; kotel-process passes times through.
const T0 = '1609459200000000000';
const T1 = '1609459200100000000';

// Traces: `traces` traces of `spans` spans (span 0 the root). Returns { keys, proto(),
// json() }: the ledger keys and the request in either encoding (built when asked).
function tracesRequest(traces, spans, service) {
  const list = [];
  const keys = [];
  for (let t = 0; t < traces; t++) {
    const traceId = crypto.randomBytes(16);
    let root = null;
    for (let s = 0; s < spans; s++) {
      const spanId = crypto.randomBytes(8);
      keys.push(hex(traceId) + hex(spanId));
      list.push({ traceId, spanId, parentSpanId: root, name: `chaos-${s}`, kind: s === 0 ? 2 : 3, startTimeUnixNano: T0, endTimeUnixNano: T1 });
      if (s === 0) root = spanId;
    }
  }
  const obj = { resourceSpans: [{ resource: resourceOf(service), scopeSpans: [{ scope: { name: 'chaos' }, spans: list }] }] };
  return {
    keys,
    proto: () => encode(types.ExportTraceServiceRequest, obj),
    json: () =>
      JSON.stringify({
        resourceSpans: [
          {
            resource: resourceOf(service),
            scopeSpans: [
              {
                scope: { name: 'chaos' },
                spans: list.map((s) => ({ ...s, traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: s.parentSpanId ? hex(s.parentSpanId) : '' })),
              },
            ],
          },
        ],
      }),
  };
}

function logsRequest(n, service) {
  const keys = [];
  const records = [];
  for (let i = 0; i < n; i++) {
    const id = crypto.randomBytes(12).toString('hex');
    keys.push(id);
    records.push({ timeUnixNano: T0, severityNumber: 9, severityText: 'INFO', body: str(`chaos log ${id}`), attributes: [{ key: LEDGER_ATTR, value: str(id) }] });
  }
  const obj = { resourceLogs: [{ resource: resourceOf(service), scopeLogs: [{ scope: { name: 'chaos' }, logRecords: records }] }] };
  return { keys, proto: () => encode(types.ExportLogsServiceRequest, obj), json: () => JSON.stringify(obj) };
}

function metricsRequest(n, service) {
  const keys = [];
  const points = [];
  for (let i = 0; i < n; i++) {
    const id = crypto.randomBytes(12).toString('hex');
    keys.push(id);
    points.push({ timeUnixNano: T0, asInt: String(i), attributes: [{ key: LEDGER_ATTR, value: str(id) }] });
  }
  const obj = {
    resourceMetrics: [{ resource: resourceOf(service), scopeMetrics: [{ scope: { name: 'chaos' }, metrics: [{ name: 'chaos.points', unit: '1', gauge: { dataPoints: points } }] }] }],
  };
  return { keys, proto: () => encode(types.ExportMetricsServiceRequest, obj), json: () => JSON.stringify(obj) };
}

function ledgerAttr(list) {
  for (const kv of list || []) if (kv.key === LEDGER_ATTR && kv.value) return kv.value.stringValue;
  return undefined;
}

// The ledger keys of a decoded TracesData / LogsData / MetricsData (lib/otlp.js objects).
// Items without a ledger identity (none are sent) would be keyed 'unknown'.
function ledgerKeysOf(signal, d) {
  const keys = [];
  if (signal === 'traces') {
    for (const rs of d.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) keys.push(hex(s.traceId) + hex(s.spanId));
  } else if (signal === 'logs') {
    for (const rl of d.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) keys.push(ledgerAttr(r.attributes) ?? 'unknown');
  } else {
    for (const rm of d.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          const data = m.data && m[m.data];
          for (const p of (data && data.dataPoints) || []) keys.push(ledgerAttr(p.attributes) ?? 'unknown');
        }
  }
  return keys;
}

module.exports = { tracesRequest, logsRequest, metricsRequest, ledgerKeysOf };
