'use strict';
// Differential cases of the paths past names, attributes and values (issue 14): raw IDs and
// their .string forms, span.trace_state (whole and by key), flags, dropped counts, span kind
// names, the log record's times, IDs, flags, event_name and body.string, a metric's
// aggregation_temporality and is_monotonic, a data point's times, flags, count, sum, buckets,
// bounds, scale and zero_count, and the per-item `cache`. Each group reads, sets, filters in
// a where clause and sets a wrong type. ottl-cases.js appends them to its list.

module.exports = (h) => {
  const { str, int, kvlist, T, L, M } = h;
  const TRACE = '5b8efff798038103d269b633813fc60c';
  const SPAN = 'eee19b7ec3c1b174';
  const PARENT = 'eee19b7ec3c1b173';
  const attrs = (o) => Object.entries(o).map(([key, value]) => ({ key, value }));
  const RESOURCE = { attributes: attrs({ 'service.name': str('checkout') }), droppedAttributesCount: 2 };
  const SCOPE = { name: 'io.kotel.test', version: '1.2.3', droppedAttributesCount: 3 };

  // One span with the fields given over these defaults.
  const span = (extra = {}) => ({
    resourceSpans: [
      {
        resource: RESOURCE,
        schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
        scopeSpans: [
          {
            scope: SCOPE,
            schemaUrl: 'https://example.com/scope/1',
            spans: [
              {
                traceId: TRACE,
                spanId: SPAN,
                parentSpanId: PARENT,
                traceState: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
                name: 'GET /api/orders',
                kind: 2,
                flags: 257,
                startTimeUnixNano: '1700000000000000000',
                endTimeUnixNano: '1700000000250000000',
                droppedAttributesCount: 4,
                droppedEventsCount: 5,
                droppedLinksCount: 6,
                events: [{ name: 'exception', timeUnixNano: '1700000000100000000', droppedAttributesCount: 7 }],
                ...extra,
              },
            ],
          },
        ],
      },
    ],
  });

  const log = (extra = {}) => ({
    resourceLogs: [
      {
        resource: RESOURCE,
        scopeLogs: [
          {
            scope: SCOPE,
            logRecords: [
              {
                timeUnixNano: '1700000000000000000',
                observedTimeUnixNano: '1700000000500000000',
                severityNumber: 9,
                body: str('hello'),
                traceId: TRACE,
                spanId: SPAN,
                flags: 1,
                droppedAttributesCount: 2,
                eventName: 'user.login',
                ...extra,
              },
            ],
          },
        ],
      },
    ],
  });

  const metric = (m) => ({ resourceMetrics: [{ resource: RESOURCE, scopeMetrics: [{ scope: SCOPE, metrics: [{ name: 'm', unit: 's', ...m }] }] }] });
  const point = { startTimeUnixNano: '1699999999000000000', timeUnixNano: '1700000000000000000', flags: 1 };
  const sum = (monotonic = true) => metric({ sum: { aggregationTemporality: 2, isMonotonic: monotonic, dataPoints: [{ ...point, asInt: '5' }] } });
  const gauge = () => metric({ gauge: { dataPoints: [{ ...point, asDouble: 1.5 }] } });
  const histogram = () => metric({ histogram: { aggregationTemporality: 1, dataPoints: [{ ...point, count: '6', sum: 12.5, bucketCounts: ['1', '2', '3'], explicitBounds: [1, 5] }] } });
  const expHistogram = () => metric({ exponentialHistogram: { aggregationTemporality: 2, dataPoints: [{ ...point, count: '4', sum: 3.25, scale: 3, zeroCount: '1', positive: { offset: 1, bucketCounts: ['1', '2'] } }] } });
  const summary = () => metric({ summary: { dataPoints: [{ ...point, count: '10', sum: 99.5, quantileValues: [{ quantile: 0.5, value: 9 }] }] } });

  return [
    // span raw IDs and .string
    { name: 'path: raw trace_id equals TraceID of its hex', signal: T, statements: ['set(span.attributes["eq"], true) where span.trace_id == TraceID("5b8efff798038103d269b633813fc60c")', 'set(span.attributes["ne"], true) where span.span_id != SpanID("eee19b7ec3c1b174")', 'set(span.attributes["ids"], true) where span.span_id == span.parent_span_id', 'set(span.attributes["kinds"], true) where span.trace_id != span.span_id'], input: span() },
    { name: 'path: raw trace_id never equals a string or orders', signal: T, statements: ['set(span.attributes["s"], true) where span.trace_id == "5b8efff798038103d269b633813fc60c"', 'set(span.attributes["lt"], true) where span.span_id < SpanID("ffffffffffffffff")', 'set(span.attributes["nil"], true) where span.trace_id != nil'], input: span() },
    { name: 'path: set raw IDs from TraceID and SpanID', signal: T, statements: ['set(span.trace_id, TraceID("0102030405060708090a0b0c0d0e0f10"))', 'set(span.span_id, SpanID("0102030405060708"))', 'set(span.parent_span_id, SpanID("0000000000000000"))'], input: span() },
    { name: 'path: set a raw trace_id from a span ID fails', signal: T, statements: ['set(span.trace_id, SpanID("0102030405060708"))'], input: span() },
    { name: 'path: set a raw span_id from a string fails', signal: T, statements: ['set(span.span_id, "0102030405060708")'], input: span() },
    { name: 'path: set an attribute from a raw ID fails', signal: T, statements: ['set(span.attributes["t"], span.trace_id)'], input: span() },
    { name: 'path: set an attribute from a raw ID fails, ignored', signal: T, error_mode: 'ignore', statements: ['set(span.attributes["t"], span.trace_id)', 'set(span.attributes["after"], true)'], input: span() },
    { name: 'path: absent parent reads as zeros', signal: T, statements: ['set(span.attributes["p"], span.parent_span_id.string)', 'set(span.attributes["root"], true) where span.parent_span_id == SpanID("0000000000000000")'], input: span({ parentSpanId: undefined }) },
    { name: 'path: set span_id.string to zeros clears it', signal: T, statements: ['set(span.span_id.string, "0000000000000000")'], input: span() },

    // trace_state
    { name: 'path: trace_state read whole and by key', signal: T, statements: ['set(span.attributes["ts"], span.trace_state)', 'set(span.attributes["rojo"], span.trace_state["rojo"])', 'set(span.attributes["none"], span.trace_state["nope"])'], input: span() },
    { name: 'path: trace_state key in a where clause', signal: T, statements: ['set(span.attributes["congo"], true) where span.trace_state["congo"] == "t61rcWkgMzE"', 'set(span.attributes["empty"], true) where span.trace_state["x"] == ""', 'set(span.attributes["nil"], true) where span.trace_state["x"] == nil'], input: span() },
    { name: 'path: set an existing trace_state key moves it to the front', signal: T, statements: ['set(span.trace_state["rojo"], "new")'], input: span() },
    { name: 'path: set a new trace_state key', signal: T, statements: ['set(span.trace_state["vendor@tenant"], "v1")', 'set(span.trace_state["a"], "b")'], input: span({ traceState: ' x=1 ,, y=2\t' }) },
    { name: 'path: set a trace_state key on an empty state', signal: T, statements: ['set(span.trace_state["k"], "v")'], input: span({ traceState: '' }) },
    { name: 'path: set a new trace_state key on a full state drops the last', signal: T, statements: ['set(span.trace_state["new"], "1")'], input: span({ traceState: 'k0=0,k1=1,k2=2,k3=3,k4=4,k5=5,k6=6,k7=7,k8=8,k9=9,k10=10,k11=11,k12=12,k13=13,k14=14,k15=15,k16=16,k17=17,k18=18,k19=19,k20=20,k21=21,k22=22,k23=23,k24=24,k25=25,k26=26,k27=27,k28=28,k29=29,k30=30,k31=31' }) },
    { name: 'path: set an existing trace_state key on a full state', signal: T, statements: ['set(span.trace_state["k31"], "x")'], input: span({ traceState: 'k0=0,k1=1,k2=2,k3=3,k4=4,k5=5,k6=6,k7=7,k8=8,k9=9,k10=10,k11=11,k12=12,k13=13,k14=14,k15=15,k16=16,k17=17,k18=18,k19=19,k20=20,k21=21,k22=22,k23=23,k24=24,k25=25,k26=26,k27=27,k28=28,k29=29,k30=30,k31=31' }) },
    { name: 'path: trace_state of 33 members is invalid', signal: T, statements: ['set(span.attributes["nil"], true) where span.trace_state["k0"] == nil'], input: span({ traceState: 'k0=0,k1=1,k2=2,k3=3,k4=4,k5=5,k6=6,k7=7,k8=8,k9=9,k10=10,k11=11,k12=12,k13=13,k14=14,k15=15,k16=16,k17=17,k18=18,k19=19,k20=20,k21=21,k22=22,k23=23,k24=24,k25=25,k26=26,k27=27,k28=28,k29=29,k30=30,k31=31,k32=32' }) },
    { name: 'path: trace_state keys and values at their limits', signal: T, statements: ['set(span.attributes["a"], span.trace_state["a"])', 'set(span.trace_state["t@abcdefghijklmn"], "v")', 'set(span.trace_state["t@abcdefghijklm"], "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv")', 'set(span.trace_state["z"], "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww")'], input: span({ traceState: 'a=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }) },
    { name: 'path: trace_state with spaces around the equals sign', signal: T, statements: ['set(span.attributes["isnil"], true) where span.trace_state["a"] == nil'], input: span({ traceState: 'a = 1' }) },
    { name: 'path: set an invalid trace_state key or value does nothing', signal: T, statements: ['set(span.trace_state["Bad"], "v")', 'set(span.trace_state["k"], "a,b")', 'set(span.trace_state["k"], "ends ")', 'set(span.attributes["after"], true)'], input: span() },
    { name: 'path: an invalid trace_state reads nil by key and is not changed', signal: T, statements: ['set(span.attributes["isnil"], true) where span.trace_state["a"] == nil', 'set(span.trace_state["k"], "v")'], input: span({ traceState: 'a=1,a=2' }) },
    { name: 'path: set the whole trace_state', signal: T, statements: ['set(span.trace_state, "anything goes")'], input: span() },
    { name: 'path: set trace_state to an int fails', signal: T, statements: ['set(span.trace_state, 1)'], input: span() },
    { name: 'path: set a trace_state key to an int fails', signal: T, statements: ['set(span.trace_state["k"], 1)'], input: span() },
    { name: 'path: trace_state takes one key only', signal: T, statements: ['set(span.attributes["x"], span.trace_state["a"]["b"])'], input: span() },
    { name: 'path: trace_state in a span group', signal: T, groups: [{ context: 'span', statements: ['set(attributes["ts"], trace_state["congo"])', 'set(trace_state["g"], "1")'] }], input: span() },

    // flags and dropped counts
    { name: 'path: span flags and dropped counts read', signal: T, statements: ['set(span.attributes["f"], span.flags)', 'set(span.attributes["da"], span.dropped_attributes_count)', 'set(span.attributes["de"], span.dropped_events_count)', 'set(span.attributes["dl"], span.dropped_links_count)', 'set(span.attributes["rd"], resource.dropped_attributes_count)', 'set(span.attributes["sd"], scope.dropped_attributes_count)'], input: span() },
    { name: 'path: span flags and dropped counts set', signal: T, statements: ['set(span.flags, 1)', 'set(span.dropped_attributes_count, 10)', 'set(span.dropped_events_count, 0)', 'set(span.dropped_links_count, 4294967297)', 'set(resource.dropped_attributes_count, 9)', 'set(scope.dropped_attributes_count, 8)'], input: span() },
    { name: 'path: flags in a where clause', signal: T, statements: ['set(span.attributes["sampled"], true) where span.flags == 257 and span.dropped_events_count > 4'], input: span() },
    { name: 'path: span flags out of range fails', signal: T, error_mode: 'ignore', statements: ['set(span.flags, -1)', 'set(span.flags, 4294967296)', 'set(span.attributes["after"], span.flags)'], input: span() },
    { name: 'path: set a dropped count to a string fails', signal: T, statements: ['set(span.dropped_attributes_count, "3")'], input: span() },
    { name: 'path: spanevent dropped_attributes_count', signal: T, statements: ['set(spanevent.attributes["d"], spanevent.dropped_attributes_count)', 'set(spanevent.dropped_attributes_count, 1) where spanevent.dropped_attributes_count == 7'], input: span() },
    { name: 'path: set spanevent dropped_attributes_count to a double fails', signal: T, statements: ['set(spanevent.dropped_attributes_count, 1.5)'], input: span() },

    // schema_url of the resource's and the scope's container
    { name: 'path: resource and scope schema_url read', signal: T, statements: ['set(span.attributes["r"], resource.schema_url)', 'set(span.attributes["s"], scope.schema_url)'], input: span() },
    { name: 'path: resource and scope schema_url set', signal: T, statements: ['set(resource.schema_url, "https://opentelemetry.io/schemas/1.26.0")', 'set(scope.schema_url, "")'], input: span() },
    { name: 'path: schema_url in a where clause and of a log', signal: L, statements: ['set(log.attributes["none"], true) where resource.schema_url == "" and scope.schema_url == ""', 'set(scope.schema_url, "https://example.com/s")'], input: log() },
    { name: 'path: set schema_url to an int fails', signal: T, statements: ['set(resource.schema_url, 1)'], input: span() },

    // kind names
    { name: 'path: kind.string and kind.deprecated_string read', signal: T, statements: ['set(span.attributes["k"], span.kind.string)', 'set(span.attributes["d"], span.kind.deprecated_string)'], input: span() },
    { name: 'path: kind.string of an unknown kind', signal: T, statements: ['set(span.attributes["k"], span.kind.string)', 'set(span.attributes["d"], span.kind.deprecated_string)'], input: span({ kind: 9 }) },
    { name: 'path: set kind.string and kind.deprecated_string', signal: T, statements: ['set(span.kind.string, "Client")', 'set(span.attributes["after"], span.kind)', 'set(span.kind.deprecated_string, "SPAN_KIND_PRODUCER")'], input: span() },
    { name: 'path: kind.string in a where clause', signal: T, statements: ['set(span.attributes["server"], true) where span.kind.string == "Server"'], input: span() },
    { name: 'path: set an unknown kind.string fails', signal: T, statements: ['set(span.kind.string, "server")'], input: span() },
    { name: 'path: set kind.deprecated_string to an int fails', signal: T, statements: ['set(span.kind.deprecated_string, 2)'], input: span() },

    // log paths
    { name: 'path: log times, IDs, flags, counts, event_name read', signal: L, statements: ['set(log.attributes["t"], log.time_unix_nano)', 'set(log.attributes["o"], log.observed_time_unix_nano)', 'set(log.attributes["tid"], log.trace_id.string)', 'set(log.attributes["sid"], log.span_id.string)', 'set(log.attributes["f"], log.flags)', 'set(log.attributes["d"], log.dropped_attributes_count)', 'set(log.attributes["e"], log.event_name)'], input: log() },
    { name: 'path: log times, IDs, flags, counts, event_name set', signal: L, statements: ['set(log.time_unix_nano, 1700000001000000000)', 'set(log.observed_time_unix_nano, 0)', 'set(log.trace_id.string, "0102030405060708090a0b0c0d0e0f10")', 'set(log.span_id, SpanID("0102030405060708"))', 'set(log.flags, 0)', 'set(log.dropped_attributes_count, 1)', 'set(log.event_name, "renamed")'], input: log() },
    { name: 'path: log raw IDs compare', signal: L, statements: ['set(log.attributes["eq"], true) where log.trace_id == TraceID("5b8efff798038103d269b633813fc60c")', 'set(log.attributes["s"], true) where log.span_id == SpanID("eee19b7ec3c1b174")'], input: log() },
    { name: 'path: log without IDs reads zeros', signal: L, statements: ['set(log.attributes["tid"], log.trace_id.string)', 'set(log.attributes["z"], true) where log.span_id == SpanID("0000000000000000")'], input: log({ traceId: undefined, spanId: undefined }) },
    { name: 'path: log where on event_name and flags', signal: L, statements: ['set(log.attributes["hit"], true) where log.event_name == "user.login" and log.flags == 1 and log.observed_time_unix_nano > log.time_unix_nano'], input: log() },
    { name: 'path: set log.trace_id.string of bad hex fails', signal: L, statements: ['set(log.trace_id.string, "zz02030405060708090a0b0c0d0e0f10")'], input: log() },
    { name: 'path: set log.time_unix_nano to a string fails', signal: L, statements: ['set(log.time_unix_nano, "1")'], input: log() },
    { name: 'path: set log.event_name to an int fails', signal: L, statements: ['set(log.event_name, 1)'], input: log() },
    { name: 'path: set log.trace_id from a string fails', signal: L, statements: ['set(log.trace_id, "0102030405060708090a0b0c0d0e0f10")'], input: log() },
    { name: 'path: log.body.string of a string body', signal: L, statements: ['set(log.attributes["s"], log.body.string)'], input: log() },
    { name: 'path: log.body.string of an int body', signal: L, statements: ['set(log.attributes["s"], log.body.string)'], input: log({ body: int(42) }) },
    { name: 'path: log.body.string of a map body', signal: L, statements: ['set(log.attributes["s"], log.body.string)'], input: log({ body: kvlist({ a: str('x'), b: int(1) }) }) },
    { name: 'path: log.body.string of an unsorted map body', signal: L, statements: ['set(log.attributes["s"], log.body.string)'], input: log({ body: kvlist({ b: str('x<y>&'), a: int(1), c: h.dbl(2.5), d: h.arr(h.bool(true), str('q')) }) }) },
    { name: 'path: log.body.string of double bodies', signal: L, statements: ['set(log.attributes["s"], log.body.string)'], input: log({ body: h.dbl(1e20) }) },
    { name: 'path: log.body.string of a small double body', signal: L, statements: ['set(log.attributes["s"], log.body.string)'], input: log({ body: h.dbl(1.5e-7) }) },
    { name: 'path: log.body.string of a plain double body', signal: L, statements: ['set(log.attributes["s"], log.body.string)'], input: log({ body: h.dbl(0.000125) }) },
    { name: 'path: log.body.string of a bytes body', signal: L, statements: ['set(log.attributes["s"], log.body.string)'], input: log({ body: { bytesValue: Buffer.from('hi there').toString('base64') } }) },
    { name: 'path: log.body.string of a list body', signal: L, statements: ['set(log.attributes["s"], log.body.string)'], input: log({ body: h.arr(int(1), str('a\tb'), h.dbl(1e21)) }) },
    { name: 'path: String and Concat of an unsorted map write Go\'s JSON', signal: L, statements: ['set(log.attributes["s"], String(log.body))', 'set(log.attributes["c"], Concat([log.body, "x"], "|"))'], input: log({ body: kvlist({ b: str('x<y>&'), a: h.dbl(1e21), c: { bytesValue: Buffer.from('hi').toString('base64') }, d: h.dbl(0.5) }) }) },
    { name: 'path: log.body.string of no body', signal: L, statements: ['set(log.attributes["s"], log.body.string)', 'set(log.attributes["e"], true) where log.body.string == ""'], input: log({ body: undefined }) },
    { name: 'path: set log.body.string', signal: L, statements: ['set(log.body.string, "replaced")'], input: log({ body: kvlist({ a: str('x') }) }) },
    { name: 'path: set log.body.string to an int fails', signal: L, statements: ['set(log.body.string, 1)'], input: log() },

    // metric
    { name: 'path: metric aggregation_temporality and is_monotonic read', signal: M, statements: ['set(metric.description, Concat([String(metric.aggregation_temporality), String(metric.is_monotonic)], "/"))'], input: sum() },
    { name: 'path: metric aggregation_temporality of a gauge is nil', signal: M, statements: ['set(metric.description, "nil") where metric.aggregation_temporality == nil and metric.is_monotonic == nil'], input: gauge() },
    { name: 'path: set aggregation_temporality and is_monotonic', signal: M, statements: ['set(metric.aggregation_temporality, AGGREGATION_TEMPORALITY_DELTA)', 'set(metric.is_monotonic, false)'], input: sum() },
    { name: 'path: set aggregation_temporality of a histogram, of a gauge', signal: M, statements: ['set(metric.aggregation_temporality, AGGREGATION_TEMPORALITY_CUMULATIVE)'], input: histogram() },
    { name: 'path: set is_monotonic on a gauge does nothing', signal: M, statements: ['set(metric.is_monotonic, true)', 'set(metric.aggregation_temporality, 1)'], input: gauge() },
    { name: 'path: where on aggregation_temporality', signal: M, statements: ['set(metric.unit, "cumulative") where metric.aggregation_temporality == AGGREGATION_TEMPORALITY_CUMULATIVE and metric.is_monotonic == true'], input: sum() },
    { name: 'path: set is_monotonic to an int fails', signal: M, statements: ['set(metric.is_monotonic, 1)'], input: sum() },
    { name: 'path: set aggregation_temporality to a string fails', signal: M, statements: ['set(metric.aggregation_temporality, "delta")'], input: sum() },

    // data points
    { name: 'path: datapoint times and flags read and set', signal: M, statements: ['set(datapoint.attributes["s"], datapoint.start_time_unix_nano)', 'set(datapoint.attributes["f"], datapoint.flags)', 'set(datapoint.time_unix_nano, 1700000005000000000)', 'set(datapoint.flags, FLAG_NONE) where datapoint.flags == FLAG_NO_RECORDED_VALUE', 'set(datapoint.start_time_unix_nano, 1)'], input: sum() },
    { name: 'path: datapoint flags of a summary', signal: M, statements: ['set(datapoint.attributes["f"], datapoint.flags)', 'set(datapoint.flags, 3)'], input: summary() },
    { name: 'path: set datapoint.time_unix_nano to a double fails', signal: M, statements: ['set(datapoint.time_unix_nano, 1.5)'], input: gauge() },
    { name: 'path: histogram count and sum', signal: M, statements: ['set(datapoint.attributes["c"], datapoint.count)', 'set(datapoint.attributes["s"], datapoint.sum)', 'set(datapoint.count, 7) where datapoint.sum > 10.0', 'set(datapoint.sum, 13.5)'], input: histogram() },
    { name: 'path: exponential histogram count, sum, scale, zero_count', signal: M, statements: ['set(datapoint.attributes["c"], datapoint.count)', 'set(datapoint.attributes["sc"], datapoint.scale)', 'set(datapoint.attributes["z"], datapoint.zero_count)', 'set(datapoint.scale, -2)', 'set(datapoint.zero_count, 0)', 'set(datapoint.sum, 0.5)'], input: expHistogram() },
    { name: 'path: summary count and sum', signal: M, statements: ['set(datapoint.attributes["c"], datapoint.count)', 'set(datapoint.attributes["s"], datapoint.sum)', 'set(datapoint.count, 11)'], input: summary() },
    { name: 'path: count and sum of a number point are nil', signal: M, statements: ['set(datapoint.attributes["nil"], true) where datapoint.count == nil and datapoint.sum == nil and datapoint.scale == nil and datapoint.bucket_counts == nil'], input: sum() },
    { name: 'path: set count of a number point fails', signal: M, statements: ['set(datapoint.count, 1)'], input: gauge() },
    { name: 'path: set sum to an int fails', signal: M, statements: ['set(datapoint.sum, 1)'], input: histogram() },
    { name: 'path: set scale of a histogram fails', signal: M, statements: ['set(datapoint.scale, 1)'], input: histogram() },
    { name: 'path: histogram explicit_bounds read', signal: M, statements: ['set(datapoint.attributes["b"], datapoint.explicit_bounds)', 'set(datapoint.attributes["n"], Len(datapoint.explicit_bounds))'], input: histogram() },
    { name: 'path: histogram bucket_counts and explicit_bounds set', signal: M, statements: ['set(datapoint.bucket_counts, [0, 1, 2, 3])', 'set(datapoint.explicit_bounds, [0.5, 1.5, 2.5])'], input: histogram() },
    { name: 'path: set explicit_bounds from strings fails', signal: M, statements: ['set(datapoint.explicit_bounds, ["a"])'], input: histogram() },
    { name: 'path: set explicit_bounds from ints fails', signal: M, statements: ['set(datapoint.explicit_bounds, [1, 2])'], input: histogram() },
    { name: 'path: set bucket_counts and explicit_bounds to nil empties them', signal: M, statements: ['set(datapoint.bucket_counts, nil)', 'set(datapoint.explicit_bounds, nil)'], input: histogram() },
    { name: 'path: Len of bucket_counts', signal: M, statements: ['set(datapoint.attributes["n"], Len(datapoint.bucket_counts))'], input: histogram() },
    {
      name: 'path: bucket_counts set into an attribute',
      signal: M,
      statements: ['set(datapoint.attributes["b"], datapoint.bucket_counts)'],
      input: histogram(),
      divergence: {
        reason: 'kotel reads bucket_counts as a list of ints, which set writes into an attribute; the Collector reads a []uint64, which no attribute can hold, so the statement fails there',
        collector: 'error',
        kotel: (out) => {
          const dp = out.resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0];
          const b = dp.attributes.find((kv) => kv.key === 'b');
          return !!(b && b.value.arrayValue && b.value.arrayValue.values.length === 3);
        },
      },
    },
    { name: 'path: set bucket_counts of a gauge fails', signal: M, statements: ['set(datapoint.bucket_counts, [1])'], input: gauge() },

    // cache
    { name: 'path: cache carries a value between statements', signal: T, statements: ['set(span.cache["n"], span.name)', 'set(span.attributes["from_cache"], span.cache["n"])'], input: span() },
    { name: 'path: bare cache outside a group is refused', signal: T, statements: ['set(cache["n"], span.name)'], input: span() },
    { name: 'path: another context\'s cache is refused', signal: T, statements: ['set(span.attributes["x"], resource.cache["n"])'], input: span() },
    { name: 'path: cache is empty for each item', signal: T, groups: [{ context: 'spanevent', statements: ['set(attributes["before"], cache["seen"])', 'set(cache["seen"], name)'] }], input: span({ events: [{ name: 'a', timeUnixNano: '1' }, { name: 'b', timeUnixNano: '2' }] }) },
    { name: 'path: cache in a where clause and as a map', signal: L, statements: ['set(log.cache["a"], 1)', 'set(log.cache["m"]["k"], "v")', 'set(log.attributes["hit"], true) where log.cache["a"] == 1', 'set(log.attributes["n"], Len(log.cache))', 'merge_maps(log.attributes, log.cache, "insert")'], input: log() },
    { name: 'path: cache of a missing key is nil', signal: M, statements: ['set(metric.description, "none") where metric.cache["x"] == nil'], input: gauge() },
    { name: 'path: cache in a datapoint group', signal: M, groups: [{ context: 'datapoint', statements: ['set(cache["c"], datapoint.count)', 'set(attributes["c"], cache["c"])'] }], input: histogram() },
    { name: 'path: cache of a span in a group with conditions', signal: T, groups: [{ context: 'span', conditions: ['cache["x"] == nil'], statements: ['set(cache["k"], kind.string)', 'set(attributes["k"], cache["k"])'] }], input: span() },
    { name: 'path: delete_key on the cache', signal: T, statements: ['set(span.cache["a"], 1)', 'set(span.cache["b"], 2)', 'delete_key(span.cache, "a")', 'set(span.attributes["keys"], Keys(span.cache))'], input: span() },
  ];
};
