'use strict';
// Differential cases of the metric functions (issue 14): convert_sum_to_gauge,
// convert_gauge_to_sum, extract_sum_metric, extract_count_metric, scale_metric,
// aggregate_on_attributes, copy_metric and the summary data point functions. ottl-cases.js
// appends them to its list, passing its input builders (h). aggregate_on_attributes writes
// its groups in the order of a Go map, which changes from run to run: each case leaves at
// most one group per metric.

const T0 = '1700000000000000000';
const T1 = '1700000010000000000';

module.exports = (h) => {
  const { M, T, L, str, int, dbl, bool, metrics, gauge, span, log } = h;

  function attrs(o) {
    return Object.entries(o || {}).map(([key, value]) => ({ key, value }));
  }
  function numberPoints(points) {
    return points.map((p) => ({ startTimeUnixNano: p.start || T0, timeUnixNano: p.time || T1, attributes: attrs(p.attributes), ...p.value }));
  }
  // A sum (temporality 2: cumulative, 1: delta).
  function sum(name, points, temporality = 2, monotonic = true) {
    return { name, unit: 'By', description: 'a sum', sum: { aggregationTemporality: temporality, isMonotonic: monotonic, dataPoints: numberPoints(points) } };
  }
  // Histogram points: { count, sum?, min?, max?, bounds, buckets, attributes?, exemplars? }.
  function histogram(name, points, temporality = 2) {
    return {
      name,
      unit: 'ms',
      description: 'a histogram',
      histogram: {
        aggregationTemporality: temporality,
        dataPoints: points.map((p) => ({
          startTimeUnixNano: p.start || T0,
          timeUnixNano: p.time || T1,
          attributes: attrs(p.attributes),
          count: String(p.count),
          sum: p.sum,
          min: p.min,
          max: p.max,
          explicitBounds: p.bounds || [10, 100],
          bucketCounts: (p.buckets || [p.count, 0, 0]).map(String),
          exemplars: p.exemplars,
        })),
      },
    };
  }
  // Exponential histogram points: { count, sum?, scale?, zero?, pos: [offset, counts], neg? }.
  function expHistogram(name, points, temporality = 2) {
    return {
      name,
      unit: 's',
      description: 'an exponential histogram',
      exponentialHistogram: {
        aggregationTemporality: temporality,
        dataPoints: points.map((p) => ({
          startTimeUnixNano: p.start || T0,
          timeUnixNano: p.time || T1,
          attributes: attrs(p.attributes),
          count: String(p.count),
          sum: p.sum,
          min: p.min,
          max: p.max,
          scale: p.scale || 0,
          zeroCount: String(p.zero || 0),
          positive: p.pos ? { offset: p.pos[0], bucketCounts: p.pos[1].map(String) } : undefined,
          negative: p.neg ? { offset: p.neg[0], bucketCounts: p.neg[1].map(String) } : undefined,
        })),
      },
    };
  }
  // Summary points: { count, sum, quantiles: [[q, v], ...] }.
  function summary(name, points) {
    return {
      name,
      unit: 'ms',
      description: 'a summary',
      summary: {
        dataPoints: points.map((p) => ({
          startTimeUnixNano: p.start || T0,
          timeUnixNano: p.time || T1,
          attributes: attrs(p.attributes),
          count: String(p.count),
          sum: p.sum,
          quantileValues: (p.quantiles || []).map(([quantile, value]) => ({ quantile, value })),
        })),
      },
    };
  }
  const I = (v) => ({ value: { asInt: String(v) } });
  const D = (v) => ({ value: { asDouble: v } });
  const at = (a, p) => ({ ...p, attributes: a });
  const hist = histogram('latency', [
    { count: 3, sum: 42.5, min: 1, max: 30, buckets: [1, 2, 0], attributes: { route: str('/a') } },
    { count: 2, buckets: [0, 1, 1], attributes: { route: str('/b') } },
  ]);
  const exph = expHistogram('size', [
    { count: 4, sum: 10, pos: [1, [1, 2]], neg: [0, [1]], attributes: { k: str('x') } },
    { count: 1, pos: [0, [1]] },
  ], 1);
  const summ = summary('rpc', [
    { count: 5, sum: 12.5, quantiles: [[0.5, 2], [0.99, 4.5]], attributes: { m: str('get') } },
    { count: 0, sum: 0, start: '1700000005000000000' },
  ]);
  const g = (name, points) => gauge(name, points.map((p) => ({ attributes: p.attributes, value: p.value })));

  return [
    // convert_sum_to_gauge, convert_gauge_to_sum
    { name: 'convert_sum_to_gauge on a sum and on a gauge', signal: M, statements: ['convert_sum_to_gauge() where metric.name != ""'], input: metrics(sum('s', [I(5), D(1.5)]), g('g', [I(1)])) },
    { name: 'convert_sum_to_gauge in a flat statement without a path is a configuration error', signal: M, statements: ['convert_sum_to_gauge()'], input: metrics(sum('s', [I(1)])) },
    { name: 'convert_sum_to_gauge in a metric group without a condition', signal: M, groups: [{ context: 'metric', statements: ['convert_sum_to_gauge()'] }], input: metrics(sum('s', [I(1)]), g('g', [I(2)])) },
    { name: 'convert_sum_to_gauge with a where clause', signal: M, statements: ['convert_sum_to_gauge() where metric.name == "b"'], input: metrics(sum('a', [I(1)]), sum('b', [I(2)], 1, false)) },
    { name: 'convert_gauge_to_sum cumulative monotonic', signal: M, statements: ['convert_gauge_to_sum("cumulative", true) where metric.unit != "x"'], input: metrics(g('g', [I(5), at({ k: str('v') }, D(2.5))]), sum('s', [I(1)], 1, false)) },
    { name: 'convert_gauge_to_sum delta in a metric group, named arguments', signal: M, groups: [{ context: 'metric', statements: ['convert_gauge_to_sum(string_agg_temp = "delta", monotonic = false)'] }], input: metrics(g('g', [I(5)])) },
    { name: 'convert_gauge_to_sum then back', signal: M, statements: ['convert_gauge_to_sum("delta", true) where metric.name != ""', 'set(metric.description, "was a gauge")', 'convert_sum_to_gauge() where metric.name == "h"'], input: metrics(g('g', [I(1)]), g('h', [I(2)])) },
    { name: 'convert_gauge_to_sum with an unknown temporality is a configuration error', signal: M, statements: ['convert_gauge_to_sum("monthly", true)'], input: metrics(g('g', [I(1)])) },
    { name: 'convert_gauge_to_sum with an int for monotonic is a configuration error', signal: M, statements: ['convert_gauge_to_sum("delta", 1)'], input: metrics(g('g', [I(1)])) },
    { name: 'convert_sum_to_gauge with an argument is a configuration error', signal: M, statements: ['convert_sum_to_gauge("x")'], input: metrics(sum('s', [I(1)])) },

    // extract_sum_metric, extract_count_metric
    { name: 'extract_sum_metric of a histogram (a point without a sum left out)', signal: M, statements: ['extract_sum_metric(true) where metric.name == "latency"'], input: metrics(hist) },
    { name: 'extract_count_metric of a histogram', signal: M, statements: ['extract_count_metric(false) where metric.name == "latency"'], input: metrics(hist) },
    { name: 'extract_sum_metric and extract_count_metric of an exponential histogram', signal: M, statements: ['extract_sum_metric(false, "_total") where metric.name == "size"', 'extract_count_metric(true) where metric.name == "size"'], input: metrics(exph) },
    { name: 'extract_sum_metric and extract_count_metric of a summary', signal: M, statements: ['extract_sum_metric(true) where metric.type == METRIC_DATA_TYPE_SUMMARY', 'extract_count_metric(monotonic = true, suffix = ".n") where metric.type == METRIC_DATA_TYPE_SUMMARY'], input: metrics(summ) },
    { name: 'extract_sum_metric of a histogram without sums adds nothing', signal: M, statements: ['extract_sum_metric(true) where metric.name == "h"'], input: metrics(histogram('h', [{ count: 1 }, { count: 2 }])) },
    { name: 'extract_sum_metric of a gauge fails', signal: M, statements: ['extract_sum_metric(true) where metric.name == "g"'], input: metrics(g('g', [I(1)])) },
    { name: 'extract_count_metric of a sum fails and is ignored', signal: M, error_mode: 'ignore', statements: ['extract_count_metric(true) where IsString(metric.name)', 'set(metric.description, "after")'], input: metrics(sum('s', [I(1)]), hist) },
    { name: 'the metrics extract_sum_metric adds are visited by the statements after it', signal: M, statements: ['extract_sum_metric(true) where metric.type == METRIC_DATA_TYPE_HISTOGRAM', 'set(metric.description, Concat([metric.name, "seen"], " "))'], input: metrics(hist, g('g', [I(1)])) },
    { name: 'the metrics extract_count_metric adds are visited by the same statement (and fail)', signal: M, error_mode: 'ignore', statements: ['extract_count_metric(true) where metric.name != ""'], input: metrics(hist) },
    { name: 'the metrics a metric group adds are visited by a datapoint group after it', signal: M, groups: [{ context: 'metric', statements: ['extract_count_metric(true) where metric.name == "latency"'] }, { context: 'datapoint', statements: ['set(datapoint.attributes["seen"], metric.name)'] }], input: metrics(hist) },
    { name: 'extract_sum_metric with a string for monotonic is a configuration error', signal: M, statements: ['extract_sum_metric("true")'], input: metrics(hist) },

    // scale_metric
    { name: 'scale_metric of gauges and sums, int and double', signal: M, statements: ['scale_metric(1000.0) where metric.name != ""'], input: metrics(g('g', [I(5), D(1.25), I(-3)]), sum('s', [I(7), D(0.5)])) },
    { name: 'scale_metric by a fraction truncates ints', signal: M, statements: ['scale_metric(0.4, "s") where metric.name == "g"'], input: metrics(g('g', [I(5), I(-5), D(5)])) },
    { name: 'scale_metric of a histogram: sum, min, max, bounds and exemplars', signal: M, statements: ['scale_metric(0.5, "ks") where metric.name == "h"'], input: metrics(histogram('h', [{ count: 3, sum: 42.5, min: 1, max: 30, bounds: [1, 2.5], buckets: [1, 1, 1], exemplars: [{ timeUnixNano: T1, asDouble: 3 }, { timeUnixNano: T1, asInt: '7' }] }, { count: 1, buckets: [0, 1, 0] }])) },
    { name: 'scale_metric by a negative factor is a configuration error', signal: M, statements: ['scale_metric(-0.5) where metric.name == "g"'], input: metrics(g('g', [I(3)])) },
    { name: 'scale_metric of a summary', signal: M, statements: ['scale_metric(2.0) where metric.name == "rpc"'], input: metrics(summ) },
    { name: 'scale_metric of an exponential histogram fails', signal: M, statements: ['scale_metric(2.0) where metric.name == "size"'], input: metrics(exph) },
    { name: 'scale_metric out of int range', signal: M, statements: ['scale_metric(10.0) where metric.name == "g"'], input: metrics(g('g', [I('9000000000000000000'), I('-9000000000000000000'), I(1)])) },
    { name: 'scale_metric with the unit from a path', signal: M, statements: ['scale_metric(multiplier = 2.0, unit = Concat([metric.unit, "x"], "/")) where metric.name == "g"'], input: metrics(g('g', [I(3)])) },
    { name: 'scale_metric with an int unit literal is a configuration error', signal: M, statements: ['scale_metric(2.0, metric.description) where metric.name == "g"', 'scale_metric(3.0, 7) where metric.name == "g"'], input: metrics(g('g', [I(3)])) },
    { name: 'scale_metric with an int unit fails, the values unchanged', signal: M, error_mode: 'ignore', statements: ['scale_metric(2.0, metric.description) where metric.name == "g"', 'scale_metric(3.0, resource.attributes["host.cpus"]) where metric.name == "g"'], input: metrics(g('g', [I(3)])) },
    { name: 'scale_metric by an int literal is a configuration error', signal: M, statements: ['scale_metric(10) where metric.name == "g"'], input: metrics(g('g', [I(3)])) },

    // aggregate_on_attributes (one group per metric: see the top)
    { name: 'aggregate_on_attributes sum of ints on one attribute', signal: M, statements: ['aggregate_on_attributes("sum", ["k"]) where metric.name == "g"'], input: metrics(g('g', [at({ k: str('a'), x: int(1) }, I(2)), at({ k: str('a'), x: int(2) }, I(5)), at({ k: str('a') }, I(-1))])) },
    { name: 'aggregate_on_attributes of each function on doubles', signal: M, statements: ['aggregate_on_attributes("sum", []) where metric.name == "sum"', 'aggregate_on_attributes("mean", []) where metric.name == "mean"', 'aggregate_on_attributes("min", []) where metric.name == "min"', 'aggregate_on_attributes("max", []) where metric.name == "max"', 'aggregate_on_attributes("median", []) where metric.name == "median"', 'aggregate_on_attributes("count", []) where metric.name == "count"'], input: metrics(...['sum', 'mean', 'min', 'max', 'median', 'count'].map((n) => g(n, [at({ a: str('1') }, D(2.5)), at({ a: str('2') }, D(-1)), at({ b: bool(true) }, D(4)), D(10)]))) },
    { name: 'aggregate_on_attributes of each function on ints', signal: M, statements: ['aggregate_on_attributes("sum", []) where metric.name == "sum"', 'aggregate_on_attributes("mean", []) where metric.name == "mean"', 'aggregate_on_attributes("min", []) where metric.name == "min"', 'aggregate_on_attributes("max", []) where metric.name == "max"', 'aggregate_on_attributes("median", []) where metric.name == "median"', 'aggregate_on_attributes("count", []) where metric.name == "count"'], input: metrics(...['sum', 'mean', 'min', 'max', 'median', 'count'].map((n) => g(n, [at({ a: str('1') }, I(7)), at({ a: str('2') }, I(-2)), I(4), I(3)]))) },
    { name: 'aggregate_on_attributes of ints with a double among them', signal: M, statements: ['aggregate_on_attributes("sum", []) where metric.name == "sum"', 'aggregate_on_attributes("max", []) where metric.name == "max"', 'aggregate_on_attributes("median", []) where metric.name == "median"'], input: metrics(...['sum', 'max', 'median'].map((n) => g(n, [I(1), D(9.75), I(2)]))) },
    { name: 'aggregate_on_attributes count of one point keeps its value', signal: M, statements: ['aggregate_on_attributes("count") where metric.name == "g"'], input: metrics(g('g', [at({ k: str('v') }, D(42.5))])) },
    { name: 'aggregate_on_attributes without attributes merges equal ones only', signal: M, statements: ['aggregate_on_attributes("max") where metric.name == "g"'], input: metrics(g('g', [at({ k: str('v'), n: int(1) }, I(3)), at({ n: dbl(1), k: str('v') }, I(8))])) },
    { name: 'aggregate_on_attributes of a cumulative sum keeps the earliest start', signal: M, statements: ['aggregate_on_attributes("sum", ["k"]) where metric.name == "s"'], input: metrics(sum('s', [at({ k: str('a'), z: int(1) }, { ...I(1), start: '1700000003000000000' }), at({ k: str('a') }, { ...I(2), start: '1700000001000000000' })])) },
    { name: 'aggregate_on_attributes of a histogram', signal: M, statements: ['aggregate_on_attributes("sum", ["route"]) where metric.name == "h"'], input: metrics(histogram('h', [
      { count: 3, sum: 6, min: 1, max: 3, buckets: [1, 2, 0], attributes: { route: str('/a'), pod: str('1') }, exemplars: [{ timeUnixNano: T1, asDouble: 1 }] },
      { count: 0, sum: 100, min: -5, max: 500, buckets: [0, 0, 0], attributes: { route: str('/a'), pod: str('2') } },
      { count: 2, sum: 200, min: 0.5, max: 150, buckets: [1, 0, 1], attributes: { route: str('/a'), pod: str('3') }, exemplars: [{ timeUnixNano: T1, asInt: '150' }] },
    ])) },
    { name: 'aggregate_on_attributes of a histogram, a point without a sum', signal: M, statements: ['aggregate_on_attributes("sum", []) where metric.name == "h"'], input: metrics(histogram('h', [{ count: 3, sum: 6, buckets: [1, 2, 0] }, { count: 1, buckets: [0, 0, 1], attributes: { x: str('y') } }])) },
    { name: 'aggregate_on_attributes of exponential histograms', signal: M, statements: ['aggregate_on_attributes("sum", []) where metric.name == "same"', 'aggregate_on_attributes("sum", []) where metric.name == "higher"', 'aggregate_on_attributes("sum", []) where metric.name == "lower"'], input: metrics(
      expHistogram('same', [{ count: 3, sum: 3, zero: 1, pos: [1, [1, 1]] }, { count: 4, sum: 1, zero: 2, pos: [1, [1, 0, 1]], neg: [0, [1]], attributes: { p: str('2') } }]),
      expHistogram('higher', [{ count: 2, pos: [1, [1, 1]] }, { count: 3, pos: [3, [1, 0, 2]], attributes: { p: str('2') } }]),
      expHistogram('lower', [{ count: 2, sum: 2, pos: [3, [1, 1]] }, { count: 3, sum: 1, pos: [1, [2, 0, 1]], attributes: { p: str('2') } }]),
    ) },
    { name: 'aggregate_on_attributes of a summary fails', signal: M, statements: ['aggregate_on_attributes("sum") where metric.name == "rpc"'], input: metrics(summ) },
    { name: 'aggregate_on_attributes with an unknown function is a configuration error', signal: M, statements: ['aggregate_on_attributes("avg", ["k"])'], input: metrics(g('g', [I(1)])) },

    // aggregate_on_attribute_value
    { name: 'aggregate_on_attribute_value merges two values into one', signal: M, statements: ['aggregate_on_attribute_value("sum", "pod", ["a", "b"], "ab") where metric.name == "g"'], input: metrics(g('g', [at({ pod: str('a') }, I(2)), at({ pod: str('b') }, I(5)), at({ pod: str('a') }, I(1))])) },
    { name: 'aggregate_on_attribute_value of a histogram, named arguments', signal: M, statements: ['aggregate_on_attribute_value(aggregation_function = "max", attribute = "route", values = ["/a", "/b"], new_value = "/x") where metric.name == "latency"'], input: metrics(histogram('latency', [{ count: 3, sum: 4, min: 1, max: 2, buckets: [1, 2, 0], attributes: { route: str('/a') } }, { count: 1, sum: 50, min: 50, max: 50, buckets: [0, 0, 1], attributes: { route: str('/b') } }])) },
    { name: 'aggregate_on_attribute_value reads a value of another type as empty', signal: M, statements: ['aggregate_on_attribute_value("min", "n", ["", "z"], "none") where metric.name == "g"'], input: metrics(g('g', [at({ n: int(3) }, I(4)), at({ n: str('z') }, I(9))])) },
    { name: 'aggregate_on_attribute_value drops a summary\'s points', signal: M, statements: ['aggregate_on_attribute_value("sum", "m", ["get"], "all") where metric.name == "rpc"'], input: metrics(summ) },
    { name: 'aggregate_on_attribute_value with a path for the attribute is a configuration error', signal: M, statements: ['aggregate_on_attribute_value("sum", metric.name, ["a"], "b") where metric.name == "g"'], input: metrics(g('g', [I(1)])) },

    // copy_metric
    { name: 'copy_metric with a new name, description and unit', signal: M, statements: ['copy_metric(name = "latency.copy", unit = "s") where metric.name == "latency"', 'set(metric.description, "copied") where metric.name == "latency.copy"', 'scale_metric(0.001) where metric.name == "latency.copy"'], input: metrics(hist, g('g', [I(1)])) },
    { name: 'copy_metric copies data points whole', signal: M, groups: [{ context: 'metric', statements: ['copy_metric("g2", "second") where name == "g"'] }, { context: 'datapoint', statements: ['set(attributes["k"], "changed") where metric.name == "g2"'] }], input: metrics(g('g', [at({ k: str('v') }, I(1))])) },

    { name: 'copy_metric among datapoint statements is a configuration error', signal: M, statements: ['copy_metric("g2", "second") where metric.name == "g"', 'set(datapoint.attributes["k"], "changed") where metric.name == "g2"'], input: metrics(g('g', [I(1)])) },
    { name: 'copy_metric with an int name is a configuration error', signal: M, statements: ['copy_metric(name = 1) where metric.name == "g"'], input: metrics(g('g', [I(1)])) },
    { name: 'a flat statement without a path takes its context from the others', signal: M, statements: ['convert_sum_to_gauge()', 'set(metric.description, "x") where metric.name == "s"'], input: metrics(sum('s', [I(1)]), g('g', [I(2)])) },

    { name: 'a group without a context: a condition names the metric context', signal: M, groups: [{ conditions: ['metric.name == "s"'], statements: ['convert_sum_to_gauge()'] }], input: metrics(sum('s', [I(1)]), sum('t', [I(2)])) },
    { name: 'a group without a context: a metric function among datapoint statements is a configuration error', signal: M, groups: [{ statements: ['extract_sum_metric(true)', 'set(datapoint.attributes["x"], "y")'] }], input: metrics(hist) },
    { name: 'a group without a context or a path is a configuration error', signal: M, groups: [{ statements: ['convert_sum_to_gauge()'] }], input: metrics(sum('s', [I(1)])) },

    // the summary data point functions
    { name: 'convert_summary_sum_val_to_sum adds a metric at each point', signal: M, statements: ['convert_summary_sum_val_to_sum("delta", true) where metric.name != ""'], input: metrics(summ, g('g', [I(1)])) },
    { name: 'convert_summary_sum_val_to_sum with a resource condition', signal: M, statements: ['convert_summary_sum_val_to_sum("cumulative", false, ".s") where resource.attributes["service.name"] == "checkout"'], input: metrics(summ) },
    { name: 'convert_summary_count_val_to_sum with a suffix in a datapoint group', signal: M, groups: [{ context: 'datapoint', conditions: ['datapoint.attributes["m"] == "get"'], statements: ['convert_summary_count_val_to_sum("cumulative", false, "_n")'] }], input: metrics(summ) },

    { name: 'convert_summary_quantile_val_to_gauge', signal: M, statements: ['convert_summary_quantile_val_to_gauge() where metric.name == "rpc"'], input: metrics(summ, g('g', [I(1)])) },
    { name: 'convert_summary_quantile_val_to_gauge with a key that replaces an attribute and a suffix', signal: M, groups: [{ context: 'metric', statements: ['convert_summary_quantile_val_to_gauge("q", "_q") where type == METRIC_DATA_TYPE_SUMMARY'] }], input: metrics(summary('s', [{ count: 2, sum: 3, quantiles: [[0, 1], [1, 2]], attributes: { q: str('x'), k: int(1) } }])) },
    { name: 'convert_summary_quantile_val_to_gauge of a summary without quantiles adds an empty gauge', signal: M, statements: ['convert_summary_quantile_val_to_gauge(suffix = ".qs") where metric.name == "s"'], input: metrics(summary('s', [{ count: 2, sum: 3 }])) },

    // where they may run
    { name: 'convert_sum_to_gauge in trace_statements is a configuration error', signal: T, statements: ['convert_sum_to_gauge()'], input: span({}) },
    { name: 'extract_sum_metric in log_statements is a configuration error', signal: L, statements: ['extract_sum_metric(true) where log.body == "x"'], input: log({}) },
    { name: 'scale_metric in a datapoint group is a configuration error', signal: M, groups: [{ context: 'datapoint', statements: ['scale_metric(2.0)'] }], input: metrics(g('g', [I(1)])) },
    { name: 'convert_summary_sum_val_to_sum in a metric group is a configuration error', signal: M, groups: [{ context: 'metric', statements: ['convert_summary_sum_val_to_sum("delta", true)'] }], input: metrics(summ) },
    { name: 'extract_sum_metric with a datapoint condition', signal: M, statements: ['extract_sum_metric(true) where datapoint.attributes["route"] == "/a"'], input: metrics(hist) },
  ];
};
