'use strict';
// OTLP protobuf encode/decode for the tests, from the project's own proto/ files loaded at
// run time with protobufjs (no generated or vendored code).

const path = require('node:path');
const protobuf = require('protobufjs');

const PROTO_DIR = path.resolve(__dirname, '../../../proto');
const FILES = [
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  'google/rpc/status.proto',
];

const root = new protobuf.Root();
// Imports in the protos are relative to proto/ ("opentelemetry/proto/common/v1/...").
root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
root.loadSync(FILES);
root.resolveAll();

const T = {
  TracesData: root.lookupType('opentelemetry.proto.trace.v1.TracesData'),
  MetricsData: root.lookupType('opentelemetry.proto.metrics.v1.MetricsData'),
  LogsData: root.lookupType('opentelemetry.proto.logs.v1.LogsData'),
  ExportTraceServiceRequest: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
  ExportTraceServiceResponse: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
  ExportMetricsServiceRequest: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
  ExportLogsServiceRequest: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'),
  Status: root.lookupType('google.rpc.Status'),
};

// Decoded messages as plain objects: 64-bit integers as decimal strings, bytes as Buffers,
// enums as numbers, repeated fields always arrays, and each set oneof named by its virtual
// field (AnyValue.value = 'stringValue', Metric.data = 'sum', NumberDataPoint.value = 'asInt').
// Scalars left at their default are absent.
const TO_OBJECT = { longs: String, enums: Number, bytes: Buffer, arrays: true, oneofs: true };

function decode(type, buf) {
  return type.toObject(type.decode(buf), TO_OBJECT);
}

const decodeTracesData = (buf) => decode(T.TracesData, buf);
const decodeMetricsData = (buf) => decode(T.MetricsData, buf);
const decodeLogsData = (buf) => decode(T.LogsData, buf);
const decodeStatus = (buf) => decode(T.Status, buf);
const decodeExportTraceServiceResponse = (buf) => decode(T.ExportTraceServiceResponse, buf);

function encode(type, obj) {
  const msg = type.fromObject(obj); // accepts decimal strings for 64-bit fields
  const err = type.verify(msg);
  if (err) throw new Error(`${type.name}: ${err}`);
  return Buffer.from(type.encode(msg).finish());
}

const hex = (b) => (b ? Buffer.from(b).toString('hex') : '');

// The value of an AnyValue as a JS value (int64 as a decimal string).
function anyValue(v) {
  if (!v || !v.value) return undefined;
  return v[v.value];
}

function attrs(list) {
  const o = {};
  for (const kv of list || []) o[kv.key] = anyValue(kv.value);
  return o;
}

// Flat list of the spans in a TracesData, with hex ids and resource attributes.
function spansOf(td) {
  const out = [];
  for (const rs of td.resourceSpans) {
    const resource = attrs(rs.resource && rs.resource.attributes);
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name,
          kind: s.kind,
          startTimeUnixNano: s.startTimeUnixNano,
          endTimeUnixNano: s.endTimeUnixNano,
          attributes: attrs(s.attributes),
          resource,
          scope: ss.scope ? ss.scope.name : undefined,
        });
      }
    }
  }
  return out;
}

function logRecordsOf(ld) {
  const out = [];
  for (const rl of ld.resourceLogs) {
    const resource = attrs(rl.resource && rl.resource.attributes);
    for (const sl of rl.scopeLogs) {
      for (const r of sl.logRecords) {
        out.push({
          body: anyValue(r.body),
          severityNumber: r.severityNumber,
          severityText: r.severityText,
          attributes: attrs(r.attributes),
          traceId: hex(r.traceId),
          spanId: hex(r.spanId),
          resource,
        });
      }
    }
  }
  return out;
}

// Flat list of metric data points: { name, type, value, attributes, resource }.
function dataPointsOf(md) {
  const out = [];
  for (const rm of md.resourceMetrics) {
    const resource = attrs(rm.resource && rm.resource.attributes);
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        const type = m.data;
        if (!type || !m[type] || !m[type].dataPoints) continue;
        for (const dp of m[type].dataPoints) {
          let value;
          if (type === 'sum' || type === 'gauge') {
            value = dp.value === 'asInt' ? Number(dp.asInt) : dp.asDouble;
          } else {
            value = { count: Number(dp.count || 0), sum: dp.sum };
          }
          out.push({ name: m.name, type, value, attributes: attrs(dp.attributes), resource });
        }
      }
    }
  }
  return out;
}

module.exports = {
  PROTO_DIR,
  types: T,
  decodeTracesData,
  decodeMetricsData,
  decodeLogsData,
  decodeStatus,
  decodeExportTraceServiceResponse,
  encode,
  hex,
  anyValue,
  attrs,
  spansOf,
  logRecordsOf,
  dataPointsOf,
};
