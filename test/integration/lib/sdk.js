'use strict';
// Telemetry sent by the official OpenTelemetry JS SDK and its OTLP exporters, with every
// export result recorded so tests can check the exporter saw SUCCESS.

const api = require('@opentelemetry/api');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { SeverityNumber } = require('@opentelemetry/api-logs');

const EXPORTERS = {
  traces: {
    grpc: () => require('@opentelemetry/exporter-trace-otlp-grpc').OTLPTraceExporter,
    'http/protobuf': () => require('@opentelemetry/exporter-trace-otlp-proto').OTLPTraceExporter,
    'http/json': () => require('@opentelemetry/exporter-trace-otlp-http').OTLPTraceExporter,
  },
  metrics: {
    grpc: () => require('@opentelemetry/exporter-metrics-otlp-grpc').OTLPMetricExporter,
    'http/protobuf': () => require('@opentelemetry/exporter-metrics-otlp-proto').OTLPMetricExporter,
    'http/json': () => require('@opentelemetry/exporter-metrics-otlp-http').OTLPMetricExporter,
  },
  logs: {
    grpc: () => require('@opentelemetry/exporter-logs-otlp-grpc').OTLPLogExporter,
    'http/protobuf': () => require('@opentelemetry/exporter-logs-otlp-proto').OTLPLogExporter,
    'http/json': () => require('@opentelemetry/exporter-logs-otlp-http').OTLPLogExporter,
  },
};
const PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'];
const PATHS = { traces: '/v1/traces', metrics: '/v1/metrics', logs: '/v1/logs' };

// ExportResultCode.SUCCESS of @opentelemetry/core (not a direct dependency of ours).
const EXPORT_SUCCESS = 0;

// Builds the exporter for signal/protocol pointed at a kotel-ingest, and wraps its export()
// so each call's result is recorded in `results` ({ code, error, items }).
function makeExporter(signal, protocol, ingest, extra = {}) {
  const Cls = EXPORTERS[signal][protocol]();
  const url = protocol === 'grpc' ? ingest.grpcUrl : `${ingest.httpUrl}${PATHS[signal]}`;
  const exporter = new Cls({ url, timeoutMillis: 30000, concurrencyLimit: 64, ...extra });
  const results = [];
  const inner = exporter.export.bind(exporter);
  exporter.export = (items, cb) =>
    inner(items, (r) => {
      results.push({ code: r.code, error: r.error, items: Array.isArray(items) ? items.length : 1 });
      cb(r);
    });
  return { exporter, results, url };
}

function resource(extra = {}) {
  return resourceFromAttributes({ 'service.name': 'kotel-integration-test', ...extra });
}

// Sends `traces` traces of `spansPerTrace` spans each (a root and its children) through a
// BatchSpanProcessor. Resolves { expected, results } where expected maps trace ID -> Set of
// span IDs of every span created. exporterOptions: more options for the exporter (TLS
// credentials, say).
async function sendTraces(ingest, protocol, { traces = 1000, spansPerTrace = 5, batchSize = 256, exporterOptions = {} } = {}) {
  const { exporter, results } = makeExporter('traces', protocol, ingest, exporterOptions);
  // The queue holds every span, so none is dropped; the batch size is deliberately not a
  // multiple of the trace size, so some traces are split across export requests.
  const bsp = new BatchSpanProcessor(exporter, {
    maxQueueSize: traces * spansPerTrace + 1,
    maxExportBatchSize: batchSize,
    scheduledDelayMillis: 200,
    exportTimeoutMillis: 60000,
  });
  const provider = new BasicTracerProvider({
    resource: resource({ 'kotel.test.protocol': protocol }),
    spanProcessors: [bsp],
  });
  const tracer = provider.getTracer('kotel-integration-test', '1.0.0');
  const expected = new Map();
  for (let t = 0; t < traces; t++) {
    const root = tracer.startSpan('root', { kind: api.SpanKind.SERVER, attributes: { 'trace.index': t } });
    const ctx = api.trace.setSpan(api.ROOT_CONTEXT, root);
    const ids = new Set([root.spanContext().spanId]);
    for (let s = 1; s < spansPerTrace; s++) {
      const child = tracer.startSpan(`child-${s}`, { attributes: { 'span.index': s } }, ctx);
      ids.add(child.spanContext().spanId);
      child.end();
    }
    root.end();
    expected.set(root.spanContext().traceId, ids);
  }
  await provider.forceFlush();
  await provider.shutdown();
  return { expected, results };
}

// Emits `count` log records, each with a unique kotel.test.seq attribute.
async function sendLogs(ingest, protocol, { count = 200, tag = protocol } = {}) {
  const { exporter, results } = makeExporter('logs', protocol, ingest);
  const provider = new LoggerProvider({
    resource: resource({ 'kotel.test.protocol': protocol }),
    processors: [
      new BatchLogRecordProcessor({
        exporter,
        maxQueueSize: count + 1,
        maxExportBatchSize: 64,
        scheduledDelayMillis: 200,
        exportTimeoutMillis: 60000,
      }),
    ],
  });
  const logger = provider.getLogger('kotel-integration-test', '1.0.0');
  for (let i = 0; i < count; i++) {
    logger.emit({
      severityNumber: SeverityNumber.INFO,
      severityText: 'INFO',
      body: `log ${tag} #${i}`,
      attributes: { 'kotel.test.seq': i, 'kotel.test.tag': tag },
    });
  }
  await provider.forceFlush();
  await provider.shutdown();
  return { results };
}

// Records a counter (`adds` additions of 1..adds, per attribute set) and a histogram, and
// exports once. Resolves { results, counterName, expectedSum, histogramName, histogramCount }.
async function sendMetrics(ingest, protocol, { tag = protocol, adds = 10 } = {}) {
  const { exporter, results } = makeExporter('metrics', protocol, ingest);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 3600000, // exports happen only on forceFlush
    exportTimeoutMillis: 60000,
  });
  const provider = new MeterProvider({ resource: resource({ 'kotel.test.protocol': protocol }), readers: [reader] });
  const meter = provider.getMeter('kotel-integration-test', '1.0.0');
  const counterName = 'kotel.test.requests';
  const histogramName = 'kotel.test.latency';
  const counter = meter.createCounter(counterName, { description: 'requests', unit: '1' });
  const hist = meter.createHistogram(histogramName, { unit: 'ms' });
  let expectedSum = 0;
  for (let i = 1; i <= adds; i++) {
    counter.add(i, { 'kotel.test.tag': tag });
    hist.record(i * 1.5, { 'kotel.test.tag': tag });
    expectedSum += i;
  }
  await provider.forceFlush();
  await provider.shutdown();
  return { results, counterName, expectedSum, histogramName, histogramCount: adds };
}

module.exports = { PROTOCOLS, EXPORT_SUCCESS, makeExporter, sendTraces, sendLogs, sendMetrics };
