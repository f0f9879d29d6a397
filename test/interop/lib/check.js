'use strict';
// What the interop tests check on both routes (Collector → kotel and kotel → Collector):
// the topics' contents, whole traces after tail sampling, logs and metrics exactly once.

const assert = require('node:assert/strict');
const { decodeTracesData, decodeMetricsData, decodeLogsData, spansOf, logRecordsOf, dataPointsOf } = require('../../integration/lib/otlp');
const { decodeOtlpJson } = require('../../integration/lib/backend');
const { readTopicUntil } = require('../../integration/lib/kafka');
const { sendShapedTraces } = require('../../integration/lib/traffic');
const { sendLogs, sendMetrics, EXPORT_SUCCESS } = require('../../integration/lib/sdk');

const DECODERS = { traces: decodeTracesData, metrics: decodeMetricsData, logs: decodeLogsData };
const ITEMS = { traces: spansOf, metrics: dataPointsOf, logs: logRecordsOf };

// The items (spans, data points, log records) of one Kafka message value.
function itemsOf(signal, encoding, value) {
  const decoded = encoding === 'otlp_json' ? decodeOtlpJson(signal, value.toString('utf8')) : DECODERS[signal](value);
  return ITEMS[signal](decoded);
}

// Reads `signal`'s topic until it holds at least `n` items; returns its messages, each with
// its decoded items.
async function waitTopicItems(broker, signal, encoding, n, waitMs = 60000) {
  const withItems = (msgs) => msgs.map((m) => ({ ...m, items: itemsOf(signal, encoding, m.value) }));
  const count = (msgs) => withItems(msgs).reduce((a, m) => a + m.items.length, 0);
  const msgs = await readTopicUntil(broker.bootstrap, broker.topics[signal], (m) => count(m) >= n, { waitMs });
  const out = withItems(msgs);
  const got = out.reduce((a, m) => a + m.items.length, 0);
  assert.ok(got >= n, `${broker.topics[signal]} holds ${got} items after ${waitMs} ms, expected ${n}`);
  return out;
}

// The traffic of both routes, through `node` (anything with grpcUrl): 60 traces, every third
// holding an error span and each with a "drop-me" span, `logs` log records and the metrics
// of sendMetrics, all tagged `tag`. Resolves { traces, metrics }; fails if the node refused.
async function sendTraffic(node, { logs, tag }) {
  const { traces } = await sendShapedTraces(node, { traces: 60, isError: (i) => i % 3 === 0, dropName: 'drop-me', tag });
  const l = await sendLogs(node, 'grpc', { count: logs, tag });
  const metrics = await sendMetrics(node, 'grpc', { tag });
  for (const r of [...l.results, ...metrics.results]) assert.equal(r.code, EXPORT_SUCCESS, `export to ${node.grpcUrl}: ${r.error}`);
  return { traces, metrics };
}

// Resolves once the backend holds a span of every sentinel trace and of every error trace
// of `traces`. Sentinels alone are not enough with the Collector as the process tier: its
// exporter's sending queue sends batches concurrently, so a sentinel may overtake a trace
// decided in the same tick. A trace missing at the end fails here, with its ID.
async function waitDecided(backend, traces, sentinels, timeoutMs = 90000) {
  const want = [...sentinels, ...[...traces].filter(([, t]) => t.error).map(([id]) => id)];
  const arrived = () => new Set(backend.rec.spans.map((s) => s.traceId));
  try {
    await backend.rec.until(() => {
      const a = arrived();
      return want.every((id) => a.has(id));
    }, timeoutMs, 'every sentinel and error trace');
  } catch (e) {
    const a = arrived();
    e.message += `; missing traces: ${want.filter((id) => !a.has(id)).slice(0, 10).join(' ')}`;
    throw e;
  }
}

// Tail sampling kept exactly the traces holding an error span, each whole (without its
// "drop-me" span, which the filter removed), each span once. `traces` is from
// sendShapedTraces; spans of `ignore` traces (sentinels) are left out.
function assertErrorTracesWhole(spans, traces, ignore) {
  const got = new Map();
  for (const s of spans) {
    if (ignore.has(s.traceId)) continue;
    if (!got.has(s.traceId)) got.set(s.traceId, []);
    got.get(s.traceId).push(s);
  }
  const want = [...traces].filter(([, t]) => t.error).map(([id]) => id);
  assert.ok(want.length > 0, 'the traffic holds error traces');
  assert.deepEqual([...got.keys()].sort(), want.sort(), 'exactly the traces holding an error span arrive');
  for (const [id, list] of got) {
    const t = traces.get(id);
    assert.deepEqual([...new Set(list.map((s) => s.spanId))].sort(), [...t.spanIds].sort(), `trace ${id} arrives whole, without its filtered span`);
    assert.equal(list.length, t.spanIds.size, `trace ${id}: no span twice`);
  }
}

// Every log record of sendLogs (`count`, seq 0..count-1, tag) arrived exactly once.
function assertLogsOnce(records, count, tag) {
  const seqs = new Map();
  for (const r of records) {
    if (r.attributes['kotel.test.tag'] !== tag) continue;
    const k = Number(r.attributes['kotel.test.seq']);
    seqs.set(k, (seqs.get(k) || 0) + 1);
  }
  const missing = [];
  for (let i = 0; i < count; i++) if (!seqs.has(i)) missing.push(i);
  const dup = [...seqs].filter(([, n]) => n > 1).map(([k]) => k);
  assert.deepEqual({ missing: missing.slice(0, 10), dup: dup.slice(0, 10) }, { missing: [], dup: [] }, 'every log record exactly once');
}

// sendMetrics' counter arrived with its total, and its histogram with its count.
function assertMetrics(points, sent, tag) {
  const ours = points.filter((p) => p.attributes['kotel.test.tag'] === tag);
  const counters = ours.filter((p) => p.name === sent.counterName);
  assert.ok(counters.length >= 1, `no ${sent.counterName} data point`);
  for (const c of counters) assert.equal(c.value, sent.expectedSum);
  const hists = ours.filter((p) => p.name === sent.histogramName);
  assert.ok(hists.length >= 1, `no ${sent.histogramName} data point`);
  for (const h of hists) assert.equal(h.value.count, sent.histogramCount);
}

// Everything the process tier must have delivered to `backend`: the decided traces (as
// assertErrorTracesWhole), `logs` log records of sendLogs once each, and sendMetrics' points,
// all tagged `tag`.
async function assertDelivered(backend, { traces, sentinels, logs, metrics, tag }) {
  await waitDecided(backend, traces, sentinels);
  assertErrorTracesWhole(backend.rec.spans, traces, sentinels);
  await backend.rec.until(() => backend.rec.logs.filter((r) => r.attributes['kotel.test.tag'] === tag).length >= logs, 60000, 'the log records');
  assertLogsOnce(backend.rec.logs, logs, tag);
  await backend.rec.until(() => backend.rec.points.some((p) => p.name === metrics.histogramName), 60000, 'the metrics');
  assertMetrics(backend.rec.points, metrics, tag);
}

module.exports = { itemsOf, waitTopicItems, sendTraffic, assertDelivered };
