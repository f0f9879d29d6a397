'use strict';
// Traces with known shapes, sent through kotel-ingest with the official SDK gRPC exporter,
// for the kotel-process tests: which traces hold an error span, which spans a filter
// should drop, and the IDs of everything kotel-ingest acknowledged.

const api = require('@opentelemetry/api');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { makeExporter, EXPORT_SUCCESS } = require('./sdk');

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

module.exports = { sendShapedTraces };
