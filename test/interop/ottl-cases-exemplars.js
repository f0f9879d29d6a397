'use strict';
// Differential cases of the data point's message paths (issue 14): datapoint.exemplars,
// quantile_values, positive and negative (whole messages: compared, counted, typed and set),
// and the exponential histogram's positive/negative.offset and .bucket_counts. ottl-cases.js
// appends them to its list, passing its input builders (h).

const T0 = '1699999999000000000';
const T1 = '1700000000000000000';
const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';

module.exports = (h) => {
  const { M, T, str, int, metrics, span } = h;

  const kv = (o) => Object.entries(o).map(([key, value]) => ({ key, value }));
  // Exemplars with filtered attributes and trace/span IDs, a double and an int value.
  const exemplars = [
    { timeUnixNano: T1, asDouble: 1.5, filteredAttributes: kv({ user: str('alice'), n: int(3) }), traceId: TRACE, spanId: SPAN },
    { timeUnixNano: T1, asInt: '7' },
  ];
  const pt = { startTimeUnixNano: T0, timeUnixNano: T1 };
  const gauge = { name: 'g', unit: '1', gauge: { dataPoints: [{ ...pt, asDouble: 1.5, exemplars, attributes: kv({ k: str('a') }) }, { ...pt, asInt: '2' }] } };
  const sum = { name: 'c', unit: '1', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ ...pt, asInt: '9', exemplars: exemplars.slice(1) }] } };
  const hist = { name: 'h', unit: 'ms', histogram: { aggregationTemporality: 2, dataPoints: [{ ...pt, count: '3', sum: 4, bucketCounts: ['1', '2'], explicitBounds: [1], exemplars }] } };
  // The second point has no positive buckets (protobuf-c leaves them NULL; pdata reads empty).
  const exph = {
    name: 'e',
    unit: 's',
    exponentialHistogram: {
      aggregationTemporality: 2,
      dataPoints: [
        { ...pt, count: '8', sum: 3.25, scale: 3, zeroCount: '1', positive: { offset: 1, bucketCounts: ['1', '2'] }, negative: { offset: -2, bucketCounts: ['5'] }, exemplars },
        { ...pt, count: '2', negative: { offset: 3, bucketCounts: ['2'] } },
      ],
    },
  };
  const summ = { name: 's', unit: 'ms', summary: { dataPoints: [{ ...pt, count: '10', sum: 99.5, quantileValues: [{ quantile: 0.5, value: 9 }, { quantile: 0.99, value: 20 }] }, { ...pt, count: '0' }] } };
  const all = metrics(gauge, sum, hist, exph, summ);
  const notSummary = metrics(gauge, sum, hist, exph);

  return [
    // exemplars
    { name: 'exemplars: Len of a number, histogram and exponential histogram point', signal: M, statements: ['set(datapoint.attributes["n"], Len(datapoint.exemplars))'], input: notSummary },
    { name: 'exemplars: Len of a summary point (nil) fails', signal: M, statements: ['set(datapoint.attributes["n"], Len(datapoint.exemplars))'], input: metrics(summ) },
    { name: 'exemplars: Len of a summary point fails, ignored', signal: M, error_mode: 'ignore', statements: ['set(datapoint.attributes["n"], Len(datapoint.exemplars))', 'set(datapoint.attributes["after"], true)'], input: all },
    { name: 'exemplars: a where clause on their count', signal: M, statements: ['set(datapoint.attributes["many"], true) where Len(datapoint.exemplars) > 1', 'set(datapoint.attributes["one"], true) where metric.name != "s" and Len(datapoint.exemplars) == 1'], input: all },
    { name: 'exemplars: compared with nil (a summary has none)', signal: M, statements: ['set(datapoint.attributes["nil"], true) where datapoint.exemplars == nil', 'set(datapoint.attributes["some"], true) where datapoint.exemplars != nil'], input: all },
    { name: 'exemplars: equal to themselves only, never ordered', signal: M, statements: ['set(datapoint.attributes["self"], true) where datapoint.exemplars == datapoint.exemplars', 'set(datapoint.attributes["q"], true) where datapoint.exemplars != datapoint.quantile_values', 'set(datapoint.attributes["s"], true) where datapoint.exemplars == "x"', 'set(datapoint.attributes["lt"], true) where datapoint.exemplars < datapoint.exemplars', 'set(datapoint.attributes["ge"], true) where datapoint.exemplars >= nil'], input: all },
    { name: 'exemplars: type predicates (a slice is a list)', signal: M, statements: ['set(datapoint.attributes["list"], IsList(datapoint.exemplars))', 'set(datapoint.attributes["map"], IsMap(datapoint.exemplars))', 'set(datapoint.attributes["str"], IsString(datapoint.exemplars))', 'set(datapoint.attributes["qlist"], IsList(datapoint.quantile_values))'], input: all },
    { name: 'exemplars: set to nil clears them', signal: M, statements: ['set(datapoint.exemplars, nil)'], input: notSummary },
    { name: 'exemplars: set to nil with a where clause', signal: M, statements: ['set(datapoint.exemplars, nil) where datapoint.attributes["k"] == "a"'], input: metrics(gauge, hist) },
    { name: 'exemplars: set on a summary point fails', signal: M, statements: ['set(datapoint.exemplars, nil)'], input: metrics(summ) },
    { name: 'exemplars: set from themselves keeps them', signal: M, statements: ['set(datapoint.exemplars, datapoint.exemplars)'], input: notSummary },
    { name: 'exemplars: set from a gauge point\'s quantile_values (nil) clears them', signal: M, statements: ['set(datapoint.exemplars, datapoint.quantile_values)'], input: metrics(gauge) },
    { name: 'exemplars: set from a string fails', signal: M, statements: ['set(datapoint.exemplars, "x")'], input: metrics(gauge) },
    { name: 'exemplars: set from an int fails, ignored', signal: M, error_mode: 'ignore', statements: ['set(datapoint.exemplars, 1)', 'set(datapoint.attributes["after"], true)'], input: metrics(hist) },
    { name: 'exemplars: set into an attribute fails', signal: M, statements: ['set(datapoint.attributes["e"], datapoint.exemplars)'], input: metrics(gauge) },
    { name: 'exemplars: set into an attribute fails, ignored (a summary\'s nil sets an empty value)', signal: M, error_mode: 'ignore', statements: ['set(datapoint.attributes["e"], datapoint.exemplars)', 'set(datapoint.attributes["after"], true)'], input: all },
    { name: 'exemplars: in a datapoint group, with a group condition', signal: M, groups: [{ context: 'datapoint', conditions: ['metric.name != "s" and Len(exemplars) == 2'], statements: ['set(attributes["n"], Len(exemplars))', 'set(exemplars, nil) where attributes["k"] == "a"'] }], input: all },
    { name: 'exemplars: into the cache fails', signal: M, groups: [{ context: 'datapoint', statements: ['set(cache["e"], exemplars)'] }], input: metrics(hist) },
    { name: 'exemplars: an index into them is a configuration error', signal: M, statements: ['set(datapoint.attributes["x"], datapoint.exemplars[0])'], input: metrics(gauge) },
    { name: 'exemplars: in trace_statements is a configuration error', signal: T, statements: ['set(span.attributes["n"], Len(datapoint.exemplars))'], input: span({}) },
    {
      name: 'exemplars: String of them',
      signal: M,
      statements: ['set(datapoint.attributes["x"], String(datapoint.exemplars))'],
      input: metrics(gauge),
      divergence: {
        reason: 'kotel refuses a message path given to a function other than Len, the type predicates and set; the Collector writes pdata\'s wrapper as Go\'s JSON of it, "{}"',
        kotel: 'config error',
        collector: (out) => out.resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints.every((p) => p.attributes.some((a) => a.key === 'x' && a.value.stringValue === '{}')),
      },
    },

    // quantile_values
    { name: 'quantile_values: Len and a where clause', signal: M, statements: ['set(datapoint.attributes["n"], Len(datapoint.quantile_values))', 'set(datapoint.attributes["two"], true) where Len(datapoint.quantile_values) == 2'], input: metrics(summ) },
    { name: 'quantile_values: Len of a histogram point (nil) fails', signal: M, statements: ['set(datapoint.attributes["n"], Len(datapoint.quantile_values))'], input: metrics(hist) },
    { name: 'quantile_values: nil but on summaries', signal: M, statements: ['set(datapoint.attributes["nil"], true) where datapoint.quantile_values == nil', 'set(datapoint.attributes["self"], true) where datapoint.quantile_values == datapoint.quantile_values'], input: all },
    { name: 'quantile_values: set to nil clears them', signal: M, statements: ['set(datapoint.quantile_values, nil) where datapoint.count > 5'], input: metrics(summ) },
    { name: 'quantile_values: set from themselves keeps them', signal: M, statements: ['set(datapoint.quantile_values, datapoint.quantile_values)'], input: metrics(summ) },
    { name: 'quantile_values: set on a histogram point fails', signal: M, statements: ['set(datapoint.quantile_values, nil)'], input: metrics(hist) },
    { name: 'quantile_values: set from a list fails', signal: M, statements: ['set(datapoint.quantile_values, [1, 2])'], input: metrics(summ) },
    { name: 'quantile_values: set from exemplars (nil on a summary) clears them', signal: M, statements: ['set(datapoint.quantile_values, datapoint.exemplars)'], input: metrics(summ) },

    // positive and negative
    { name: 'buckets: offsets and bucket counts read', signal: M, statements: ['set(datapoint.attributes["po"], datapoint.positive.offset)', 'set(datapoint.attributes["no"], datapoint.negative.offset)', 'set(datapoint.attributes["pn"], Len(datapoint.positive.bucket_counts))', 'set(datapoint.attributes["nn"], Len(datapoint.negative.bucket_counts))'], input: metrics(exph) },
    { name: 'buckets: nil but on exponential histograms', signal: M, statements: ['set(datapoint.attributes["p"], true) where datapoint.positive == nil', 'set(datapoint.attributes["o"], true) where datapoint.negative.offset == nil', 'set(datapoint.attributes["b"], true) where datapoint.positive.bucket_counts == nil'], input: all },
    { name: 'buckets: a where clause on offset and counts', signal: M, statements: ['set(datapoint.attributes["w"], true) where datapoint.positive.offset >= 1 and Len(datapoint.negative.bucket_counts) == 1', 'set(datapoint.attributes["neg"], true) where datapoint.negative.offset > 0'], input: metrics(exph) },
    { name: 'buckets: compared, positive is not negative, never ordered', signal: M, statements: ['set(datapoint.attributes["pp"], true) where datapoint.positive == datapoint.positive', 'set(datapoint.attributes["pn"], true) where datapoint.positive == datapoint.negative', 'set(datapoint.attributes["le"], true) where datapoint.positive <= datapoint.positive'], input: all },
    { name: 'buckets: type predicates (buckets are no list)', signal: M, statements: ['set(datapoint.attributes["list"], IsList(datapoint.positive))', 'set(datapoint.attributes["map"], IsMap(datapoint.negative))'], input: metrics(exph, gauge) },
    { name: 'buckets: set offsets (kept as int32) and bucket counts', signal: M, statements: ['set(datapoint.positive.offset, 4294967297)', 'set(datapoint.negative.offset, -9)', 'set(datapoint.positive.bucket_counts, [3, 4, 5])', 'set(datapoint.negative.bucket_counts, nil)'], input: metrics(exph) },
    { name: 'buckets: set from each other\'s offset and counts', signal: M, statements: ['set(datapoint.positive.offset, datapoint.negative.offset)', 'set(datapoint.negative.bucket_counts, datapoint.positive.bucket_counts)'], input: metrics(exph) },
    { name: 'buckets: set positive from negative copies them', signal: M, statements: ['set(datapoint.positive, datapoint.negative)', 'set(datapoint.negative.offset, 7)'], input: metrics(exph) },
    { name: 'buckets: set negative from absent positive empties them', signal: M, statements: ['set(datapoint.negative, datapoint.positive) where datapoint.count == 2'], input: metrics(exph) },
    { name: 'buckets: set from themselves keeps them', signal: M, statements: ['set(datapoint.positive, datapoint.positive)', 'set(datapoint.negative, datapoint.negative)'], input: metrics(exph) },
    { name: 'buckets: set to nil fails', signal: M, statements: ['set(datapoint.positive, nil)'], input: metrics(exph) },
    { name: 'buckets: set from exemplars fails', signal: M, statements: ['set(datapoint.negative, datapoint.exemplars)'], input: metrics(exph) },
    { name: 'buckets: set offset from a string fails', signal: M, statements: ['set(datapoint.positive.offset, "5")'], input: metrics(exph) },
    { name: 'buckets: set bucket counts with a double among them fails', signal: M, statements: ['set(datapoint.negative.bucket_counts, [1, 2.5])'], input: metrics(exph) },
    { name: 'buckets: set bucket counts from a string fails, ignored', signal: M, error_mode: 'ignore', statements: ['set(datapoint.positive.bucket_counts, "x")', 'set(datapoint.attributes["after"], true)'], input: metrics(exph) },
    { name: 'buckets: set offset of a gauge point fails', signal: M, statements: ['set(datapoint.positive.offset, 1)'], input: metrics(gauge) },
    { name: 'buckets: set bucket counts of a histogram point fails', signal: M, statements: ['set(datapoint.negative.bucket_counts, [1])'], input: metrics(hist) },
    { name: 'buckets: set positive of a summary point fails', signal: M, statements: ['set(datapoint.positive, datapoint.negative)'], input: metrics(summ) },
    { name: 'buckets: Len of buckets fails, ignored', signal: M, error_mode: 'ignore', statements: ['set(datapoint.attributes["n"], Len(datapoint.positive))', 'set(datapoint.attributes["after"], true)'], input: metrics(exph, gauge) },
    { name: 'buckets: set into an attribute fails, ignored', signal: M, error_mode: 'ignore', statements: ['set(datapoint.attributes["p"], datapoint.positive)', 'set(datapoint.attributes["after"], true)'], input: metrics(exph, gauge) },
    { name: 'buckets: in a datapoint group', signal: M, groups: [{ context: 'datapoint', statements: ['set(positive.offset, 9) where positive != nil', 'set(attributes["n"], negative.offset)'] }], input: metrics(exph, summ) },
    { name: 'buckets: an unknown field of positive is a configuration error', signal: M, statements: ['set(datapoint.attributes["x"], datapoint.positive.scale)'], input: metrics(exph) },
    {
      name: 'buckets: positive.bucket_counts set into an attribute',
      signal: M,
      statements: ['set(datapoint.attributes["b"], datapoint.positive.bucket_counts)'],
      input: metrics(exph),
      divergence: {
        reason: 'kotel reads bucket_counts as a list of ints, which set writes into an attribute; the Collector reads a []uint64, which no attribute can hold, so the statement fails there',
        kotel: (out) => out.resourceMetrics[0].scopeMetrics[0].metrics[0].exponentialHistogram.dataPoints[0].attributes.some((a) => a.key === 'b' && a.value.arrayValue.values.length === 2),
        collector: 'error',
      },
    },
  ];
};
