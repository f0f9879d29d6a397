'use strict';
// Traces with known shapes, sent through kotel-ingest with the official SDK gRPC exporter,
// for the kotel-process tests: which traces hold an error span, which spans a filter
// should drop, and the IDs of everything kotel-ingest acknowledged.

const api = require('@opentelemetry/api');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { makeExporter, EXPORT_SUCCESS } = require('./sdk');
const { readTopic } = require('./kafka');

// Sends `traces` traces; trace i has a root, `children` children, and when dropName is set
// one more child with that name. Traces for which isError(i) holds mark one child ERROR.
// Resolves { traces: Map traceId -> { error, spanIds:Set (without the dropped one), dropId } }
// and rejects if any export was not acknowledged.
async function sendShapedTraces(ingest, { traces = 40, children = 3, isError = () => false, dropName = null, tag = 'shaped' } = {}) {
  const { exporter, results } = makeExporter('traces', 'grpc', ingest);
  const bsp = new BatchSpanProcessor(exporter, {
    maxQueueSize: traces * (children + 2) + 1,
    maxExportBatchSize: 64,
    scheduledDelayMillis: 50,
    exportTimeoutMillis: 60000,
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'kotel-process-test', 'kotel.test.tag': tag }),
    spanProcessors: [bsp],
  });
  const tracer = provider.getTracer('kotel-process-test', '1.0.0');
  const out = new Map();
  for (let i = 0; i < traces; i++) {
    const error = !!isError(i);
    const root = tracer.startSpan('root', { kind: api.SpanKind.SERVER, attributes: { 'trace.index': i } });
    const ctx = api.trace.setSpan(api.ROOT_CONTEXT, root);
    const spanIds = new Set([root.spanContext().spanId]);
    for (let c = 0; c < children; c++) {
      const child = tracer.startSpan(`child-${c}`, {}, ctx);
      if (error && c === 0) child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'boom' });
      spanIds.add(child.spanContext().spanId);
      child.end();
    }
    let dropId = null;
    if (dropName) {
      const d = tracer.startSpan(dropName, {}, ctx);
      dropId = d.spanContext().spanId;
      d.end();
    }
    root.end();
    out.set(root.spanContext().traceId, { error, spanIds, dropId });
  }
  await provider.forceFlush();
  await provider.shutdown();
  const bad = results.filter((r) => r.code !== EXPORT_SUCCESS);
  if (bad.length) throw new Error(`${bad.length} of ${results.length} exports to kotel-ingest failed: ${bad[0].error}`);
  return { traces: out };
}

// Error traces sent after everything else, until every partition of the traces topic that
// holds data also holds one of them after it. The tail sampler decides traces in the order
// their first span arrived, and a partition is read in order, so once every sentinel has
// reached the backend every trace sent before them has been decided, however the
// consumer interleaves the partitions. Resolves the Set of sentinel trace IDs.
async function sendSentinels(ingest, broker, { rounds = 20 } = {}) {
  const ids = new Set();
  for (let round = 0; round < rounds; round++) {
    const { traces } = await sendShapedTraces(ingest, { traces: 4, isError: () => true, tag: `sentinel-${round}` });
    for (const id of traces.keys()) ids.add(id);
    const withData = new Set();
    const lastIsSentinel = new Map(); // partition -> is its newest message a sentinel's
    for (const m of await readTopic(broker.bootstrap, broker.topics.traces)) {
      withData.add(m.partition);
      lastIsSentinel.set(m.partition, ids.has(m.keyString));
    }
    if ([...withData].every((p) => lastIsSentinel.get(p))) return ids;
  }
  throw new Error(`no sentinel trace after the data of every partition of ${broker.topics.traces} after ${rounds} rounds`);
}

module.exports = { sendShapedTraces, sendSentinels };
