'use strict';
// Interop 7: tail sampling, differentially. Every case (a policy list, maybe options) runs on
// one pool of traces through the Collector's tail_sampling processor (one Collector, one
// pipeline per case, exporting to a recording backend) and through kotel's tail sampler
// (build/test/sampling-apply); the sets of trace IDs each side sampled must be equal, or be
// exactly the two sets a divergence the README lists gives.
//
// The Collector decides a trace decision_wait after its first span, all the traces due at
// one tick together but in no particular order; to know when it has decided a case's traces,
// the case's pipeline also has a policy sampling only sentinel traces. Sentinel A is sent
// after the case's traces, so it is decided at their tick or later; sentinel B is sent once A
// reached the backend, so after that tick began, and is decided at a later tick, after the
// earlier one forwarded everything (the exporter is synchronous). Once B reached the backend,
// every trace of the case was decided. The sentinels are left out of the comparison.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { startHttpBackend } = require('../integration/lib/backend');
const { freePorts } = require('../integration/lib/ports');
const { BUILD } = require('../integration/lib/procs');
const { startCollector, collectorBinary } = require('./lib/otelcol');
const { pool } = require('./lib/pool');

collectorBinary();

// ---- the trace pool ----

const T0 = 1700000000000n * 1000000n; // ns
const MS = 1000000n;
const SENTINEL = ['ffffffffffffffffffffffffffffff01', 'ffffffffffffffffffffffffffffff02'];

// Deterministic IDs (a 32-bit xorshift), so the probabilistic cases see the same IDs every run.
let seed = 0x6b6f74e1;
function rnd32() {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
}
function randomHex(bytes) {
  let s = '';
  while (s.length < bytes * 2) s += rnd32().toString(16).padStart(8, '0');
  return s.slice(0, bytes * 2);
}

const str = (v) => ({ stringValue: v });
const int = (v) => ({ intValue: String(v) });
const dbl = (v) => ({ doubleValue: v });
const bool = (v) => ({ boolValue: v });
const attrs = (o) => Object.entries(o || {}).map(([key, value]) => ({ key, value }));

// A trace: { label, resource?: {k: AnyValue}, spans: [{ at, dur (ms), attrs, status, flags,
// traceState }] } (one span of 10 ms by default). One OTLP/JSON request.
function request(id, t) {
  const spans = (t.spans || [{}]).map((s, k) => {
    const o = {
      traceId: id,
      spanId: randomHex(8),
      name: `${t.label}-${k}`,
      startTimeUnixNano: String(T0 + BigInt(s.at || 0) * MS),
      endTimeUnixNano: String(T0 + BigInt((s.at || 0) + (s.dur === undefined ? 10 : s.dur)) * MS),
      attributes: attrs(s.attrs),
    };
    if (s.status !== undefined) o.status = { code: s.status };
    if (s.flags !== undefined) o.flags = s.flags;
    if (s.traceState !== undefined) o.traceState = s.traceState;
    return o;
  });
  return { resourceSpans: [{ resource: { attributes: attrs(t.resource) }, scopeSpans: [{ scope: { name: 'kt.sampling-diff' }, spans }] }] };
}

const OK = 1;
const ERROR = 2;
const POOL_SPEC = [
  // latency: one span of each duration, and two spans making 150 ms of two 50 ms spans
  ...[0, 1, 99, 100, 101, 199, 200, 201, 500].map((d) => ({ label: `lat${d}`, spans: [{ dur: d }] })),
  { label: 'lat150of2', spans: [{ dur: 50 }, { at: 100, dur: 50 }] },
  { label: 'lat250of2', spans: [{ dur: 150 }, { at: 200, dur: 50 }] },
  // numeric_attribute "n"
  ...[-1, 5, 9, 10, 11, 20].map((v) => ({ label: `n${v}`, spans: [{ attrs: { n: int(v) } }] })),
  { label: 'ndouble10', spans: [{ attrs: { n: dbl(10) } }] },
  { label: 'nstring10', spans: [{ attrs: { n: str('10') } }] },
  { label: 'nres10', resource: { n: int(10) } },
  { label: 'n10and20', spans: [{ attrs: { n: int(10) } }, { attrs: { n: int(20) } }] },
  // string_attribute "route"
  ...['/healthz', '/api', '/api/v1', '/x/api', ''].map((v, k) => ({ label: `route${k}`, spans: [{ attrs: { route: str(v) } }] })),
  { label: 'routeint', spans: [{ attrs: { route: int(5) } }] },
  { label: 'routeres', resource: { route: str('/healthz') } },
  { label: 'routemixed', spans: [{ attrs: { route: str('/healthz') } }, { attrs: { route: str('/api') } }] },
  // status codes
  { label: 'unset', spans: [{ status: 0 }] },
  { label: 'ok', spans: [{ status: OK }] },
  { label: 'error', spans: [{ status: ERROR }] },
  { label: 'okerror', spans: [{ status: OK }, { status: ERROR, at: 5 }] },
  { label: 'errorslow', spans: [{ status: ERROR, dur: 300 }] },
  { label: 'okhealthz', spans: [{ status: OK, attrs: { route: str('/healthz') } }] },
  // boolean_attribute "b"
  { label: 'btrue', spans: [{ attrs: { b: bool(true) } }] },
  { label: 'bfalse', spans: [{ attrs: { b: bool(false) } }] },
  { label: 'bstring', spans: [{ attrs: { b: str('true') } }] },
  // span counts
  ...[2, 3, 4].map((n) => ({ label: `count${n}`, spans: Array.from({ length: n }, (_, k) => ({ at: k })) })),
  // trace flags and trace state
  { label: 'flags1', spans: [{ flags: 1 }] },
  { label: 'flags0', spans: [{ flags: 0 }] },
  { label: 'flags257', spans: [{ flags: 257 }] },
  { label: 'flags256', spans: [{ flags: 256 }] },
  { label: 'tsvendor', spans: [{ traceState: 'vendor=a,other=b' }] },
  { label: 'tsvendorb', spans: [{ traceState: 'other=x,vendor=b' }] },
  { label: 'tsbad', spans: [{ traceState: 'vendor=a,,=' }] },
  // plain traces, for the probabilistic cases
  ...Array.from({ length: 64 }, (_, k) => ({ label: `plain${k}` })),
];
const POOL = POOL_SPEC.map((t) => ({ ...t, id: randomHex(16) }));
const REQUESTS = POOL.map((t) => request(t.id, t));
const SENTINEL_REQUEST = SENTINEL.map((id) => request(id, { label: 'sentinel', spans: [{ attrs: { 'kt.sentinel': bool(true) } }] }));
const labelOf = new Map(POOL.map((t) => [t.id, t.label]));

// ---- the cases ----

// A policy in the Collector's shape: { name, type, [type]: { keys } }; and / drop sub-policies
// inline, as the Collector takes them.
const p = (name, type, cfg) => (cfg === undefined ? { name, type } : { name, type, [type]: cfg });

const CASES = [
  { name: 'always_sample', policies: [p('all', 'always_sample')] },
  { name: 'latency threshold 100 (exactly at it)', policies: [p('slow', 'latency', { threshold_ms: 100 })] },
  { name: 'latency threshold 0', policies: [p('slow', 'latency', { threshold_ms: 0 })] },
  { name: 'latency 100 < d <= 200', policies: [p('mid', 'latency', { threshold_ms: 100, upper_threshold_ms: 200 })] },
  { name: 'latency 40 < d <= 60 (a prefix of the trace within)', policies: [p('mid', 'latency', { threshold_ms: 40, upper_threshold_ms: 60 })] },
  { name: 'numeric_attribute min = max = 10', policies: [p('n', 'numeric_attribute', { key: 'n', min_value: 10, max_value: 10 })] },
  { name: 'numeric_attribute 10..10 inverted', policies: [p('n', 'numeric_attribute', { key: 'n', min_value: 10, max_value: 10, invert_match: true })] },
  { name: 'numeric_attribute min only', policies: [p('n', 'numeric_attribute', { key: 'n', min_value: 11 })] },
  { name: 'numeric_attribute max only', policies: [p('n', 'numeric_attribute', { key: 'n', max_value: 5 })] },
  { name: 'string_attribute exact', policies: [p('r', 'string_attribute', { key: 'route', values: ['/healthz', '/api'] })] },
  { name: 'string_attribute inverted', policies: [p('r', 'string_attribute', { key: 'route', values: ['/healthz'], invert_match: true })] },
  { name: 'string_attribute regex', policies: [p('r', 'string_attribute', { key: 'route', values: ['^/api'], enabled_regex_matching: true })] },
  { name: 'string_attribute regex inverted', policies: [p('r', 'string_attribute', { key: 'route', values: ['api'], enabled_regex_matching: true, invert_match: true })] },
  { name: 'status_code ERROR', policies: [p('e', 'status_code', { status_codes: ['ERROR'] })] },
  { name: 'status_code OK, UNSET', policies: [p('e', 'status_code', { status_codes: ['OK', 'UNSET'] })] },
  { name: 'boolean_attribute true', policies: [p('b', 'boolean_attribute', { key: 'b', value: true })] },
  { name: 'boolean_attribute false inverted', policies: [p('b', 'boolean_attribute', { key: 'b', value: false, invert_match: true })] },
  { name: 'span_count 2..3', policies: [p('c', 'span_count', { min_spans: 2, max_spans: 3 })] },
  { name: 'probabilistic 10% hash_salt', policies: [p('pr', 'probabilistic', { sampling_percentage: 10, hash_salt: 'kotel-salt' })] },
  { name: 'probabilistic 50% default salt', policies: [p('pr', 'probabilistic', { sampling_percentage: 50 })] },
  { name: 'probabilistic 0%', policies: [p('pr', 'probabilistic', { sampling_percentage: 0 })] },
  { name: 'probabilistic 33.3% hash_salt', policies: [p('pr', 'probabilistic', { sampling_percentage: 33.3, hash_salt: 's' })] },
  { name: 'errors or 25%', policies: [p('e', 'status_code', { status_codes: ['ERROR'] }), p('pr', 'probabilistic', { sampling_percentage: 25, hash_salt: 'x' })] },
  {
    name: 'and: error and slow',
    policies: [{ name: 'a', type: 'and', and: { and_sub_policy: [p('e', 'status_code', { status_codes: ['ERROR'] }), p('slow', 'latency', { threshold_ms: 100 })] } }],
  },
  {
    name: 'drop healthz with OK, else all',
    policies: [
      { name: 'd', type: 'drop', drop: { drop_sub_policy: [p('h', 'string_attribute', { key: 'route', values: ['/healthz'] }), p('ok', 'status_code', { status_codes: ['OK'] })] } },
      p('all', 'always_sample'),
    ],
  },
  {
    name: 'drop healthz, errors kept otherwise',
    policies: [p('e', 'status_code', { status_codes: ['ERROR'] }), { name: 'd', type: 'drop', drop: { drop_sub_policy: [p('h', 'string_attribute', { key: 'route', values: ['/healthz'] })] } }],
  },
  { name: 'trace_flags', policies: [p('tf', 'trace_flags')] },
  { name: 'trace_state vendor in a, b', policies: [p('ts', 'trace_state', { key: 'vendor', values: ['a', 'b'] })] },
  { name: 'trace_state other = x', policies: [p('ts', 'trace_state', { key: 'other', values: ['x', 'b'] })] },
  { name: 'not status_code ERROR', policies: [{ name: 'n', type: 'not', not: { not_sub_policy: p('e', 'status_code', { status_codes: ['ERROR'] }) } }] },
  {
    name: 'and: OK and not healthz',
    policies: [
      {
        name: 'a',
        type: 'and',
        and: { and_sub_policy: [p('ok', 'status_code', { status_codes: ['OK'] }), { name: 'nh', type: 'not', not: { not_sub_policy: p('h', 'string_attribute', { key: 'route', values: ['/healthz'] }) } }] },
      },
    ],
  },
  {
    name: 'drop: not (n in 0..100), else all',
    policies: [
      { name: 'd', type: 'drop', drop: { drop_sub_policy: [{ name: 'nn', type: 'not', not: { not_sub_policy: p('n', 'numeric_attribute', { key: 'n', min_value: 0, max_value: 100 }) } }, p('c', 'span_count', { min_spans: 1, max_spans: 1 }), p('f', 'trace_flags')] } },
      p('all', 'always_sample'),
    ],
  },
  {
    // A budget no case reaches: within one second the Collector decides a tick's traces in no
    // set order, so a budget that runs out would keep different traces.
    name: 'composite: error and slow, or OK',
    policies: [
      {
        name: 'cp',
        type: 'composite',
        composite: {
          max_total_spans_per_second: 100000,
          policy_order: ['es', 'ok'],
          composite_sub_policy: [
            { name: 'es', type: 'and', and: { and_sub_policy: [p('e', 'status_code', { status_codes: ['ERROR'] }), p('slow', 'latency', { threshold_ms: 100 })] } },
            p('ok', 'status_code', { status_codes: ['OK'] }),
          ],
          rate_allocation: [{ policy: 'es', percent: 60 }],
        },
      },
    ],
  },
  // 250 bytes drops the traces of several spans and keeps the others (kotel counts the few
  // bytes of framing per message the Collector's measure leaves out; no trace here is that
  // close to the bound).
  { name: 'maximum_trace_size_bytes 250', options: { maximum_trace_size_bytes: 250 }, policies: [p('all', 'always_sample')] },
  {
    name: 'sample_on_first_match: errors, then 30%',
    options: { sample_on_first_match: true },
    policies: [p('e', 'status_code', { status_codes: ['ERROR'] }), p('pr', 'probabilistic', { sampling_percentage: 30, hash_salt: 'first' })],
  },
];

// ---- the Collector ----

// One configuration for all cases: case i has receiver otlp/c<i> on ports[i], processor
// tail_sampling/c<i> (its policies and the sentinel's) and exporter otlp_http/c<i>, which
// sends with header x-case: <i>, synchronously.
function collectorConfig(ports, backendPort) {
  const cfg = { receivers: {}, processors: {}, exporters: {}, service: { pipelines: {} } };
  CASES.forEach((c, i) => {
    cfg.receivers[`otlp/c${i}`] = { protocols: { http: { endpoint: `127.0.0.1:${ports[i]}` } } };
    const sentinel = p('kt-sentinel', 'boolean_attribute', { key: 'kt.sentinel', value: true });
    cfg.processors[`tail_sampling/c${i}`] = { decision_wait: '1s', ...(c.options || {}), policies: [...c.policies, sentinel] };
    cfg.exporters[`otlp_http/c${i}`] = {
      endpoint: `http://127.0.0.1:${backendPort}`,
      compression: 'none',
      headers: { 'x-case': String(i) },
      retry_on_failure: { enabled: false },
      sending_queue: { enabled: false },
    };
    cfg.service.pipelines[`traces/c${i}`] = { receivers: [`otlp/c${i}`], processors: [`tail_sampling/c${i}`], exporters: [`otlp_http/c${i}`] };
  });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-sampling-diff-')), 'otelcol.yaml');
  fs.writeFileSync(file, JSON.stringify(cfg, null, 1));
  return file;
}

async function post(port, body) {
  const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`the Collector answered ${res.status}`);
}

async function runCollector(i, port, backend, col) {
  for (const r of REQUESTS) await post(port, r);
  const ofCase = () => backend.rec.spans.filter((s) => s.meta && s.meta.headers && s.meta.headers['x-case'] === String(i));
  for (let k = 0; k < SENTINEL.length; k++) {
    await post(port, SENTINEL_REQUEST[k]);
    try {
      await backend.rec.until(() => ofCase().some((s) => s.traceId === SENTINEL[k]), 20000, `case ${i} (${CASES[i].name}): sentinel ${k} at the backend`);
    } catch (e) {
      // What the Collector said about this case's pipeline (an export error, a drop).
      const mine = new RegExp(`c${i}\\b`);
      e.message += `\n--- the Collector's lines about c${i} ---\n${col.log().split('\n').filter((l) => mine.test(l)).slice(-20).join('\n')}`;
      throw e;
    }
  }
  return [...new Set(ofCase().map((s) => s.traceId))].filter((id) => !SENTINEL.includes(id)).sort();
}

// ---- kotel ----

// The case's policies as sampling-apply's section.key=value arguments: one
// [tail_sampling.policy.NAME] section per policy, sub-policies in sections of their own
// (PARENT-NAME) that the parent names.
function kotelSets(c) {
  const sets = [];
  const SUBKEY = { and: 'and_sub_policy', drop: 'drop_sub_policy', not: 'not_sub_policy', composite: 'composite_sub_policy' };
  const emit = (pol, name) => {
    const sec = `tail_sampling.policy.${name}`;
    sets.push(`${sec}.type=${pol.type}`);
    const cfg = pol[pol.type] || {};
    if (SUBKEY[pol.type]) {
      const subs = [].concat(cfg[SUBKEY[pol.type]]);
      for (const s of subs) {
        emit(s, `${name}-${s.name}`);
        sets.push(`${sec}.${SUBKEY[pol.type]}=${name}-${s.name}`);
      }
      // composite's other keys, with the sub-policies' section names
      if (cfg.max_total_spans_per_second !== undefined) sets.push(`${sec}.max_total_spans_per_second=${cfg.max_total_spans_per_second}`);
      for (const r of cfg.rate_allocation || []) sets.push(`${sec}.rate_allocation=${name}-${r.policy}=${r.percent}`);
      for (const o of cfg.policy_order || []) sets.push(`${sec}.policy_order=${name}-${o}`);
      return;
    }
    for (const [k, v] of Object.entries(cfg)) for (const x of [].concat(v)) sets.push(`${sec}.${k}=${x}`);
  };
  for (const pol of c.policies) emit(pol, pol.name);
  for (const [k, v] of Object.entries(c.options || {})) sets.push(`tail_sampling.${k}=${v}`);
  return sets;
}

function runKotel(c) {
  const bin = path.join(BUILD, 'test/sampling-apply');
  return new Promise((resolve, reject) => {
    const child = execFile(bin, kotelSets(c), { timeout: 20000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      // A sanitizer report (the ASan build) fails the case even when the exit status is 0.
      if (err || /runtime error|ERROR: \w+Sanitizer/.test(stderr)) {
        reject(new Error(`sampling-apply ${c.name}: ${err ? err.message : 'sanitizer report'}\n${stdout}${stderr}`));
        return;
      }
      resolve(stdout.split('\n').filter(Boolean).sort());
    });
    child.stdin.on('error', () => {});
    child.stdin.end(REQUESTS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  });
}

const labels = (ids) => ids.map((id) => labelOf.get(id) || id).join(' ');

test('tail sampling: the Collector\'s tail_sampling processor and kotel\'s sampler keep the same traces for every case (or the documented divergence)', { timeout: 120000 }, async (t) => {
  const backend = await startHttpBackend();
  let col;
  try {
    const ports = await freePorts(CASES.length);
    col = await startCollector(collectorConfig(ports, backend.port), {}, { name: 'otelcol-sampling', timeoutMs: 30000 });
    const colOut = await pool(CASES.map((c, i) => () => runCollector(i, ports[i], backend, col)), CASES.length);
    const kotel = await pool(CASES.map((c) => () => runKotel(c)), 2);
    let agree = 0;
    let divergent = 0;
    const failures = [];
    CASES.forEach((c, i) => {
      const a = labels(colOut[i]);
      const b = labels(kotel[i]);
      if (c.divergence) {
        if (a === c.divergence.collector.join(' ') && b === c.divergence.kotel.join(' ')) divergent++;
        else failures.push(`#${i} ${c.name}: documented divergence (${c.divergence.reason}) not as listed\n  collector: ${a}\n  kotel:     ${b}`);
      } else if (a === b) {
        agree++;
      } else {
        const ca = new Set(colOut[i]);
        const kb = new Set(kotel[i]);
        failures.push(`#${i} ${c.name}\n  only the Collector: ${labels(colOut[i].filter((x) => !kb.has(x)))}\n  only kotel:         ${labels(kotel[i].filter((x) => !ca.has(x)))}`);
      }
    });
    // A case that keeps all traces or none tells little; most must keep some.
    const partial = colOut.filter((ids) => ids.length > 0 && ids.length < POOL.length).length;
    const summary = `tail-sampling differential: ${CASES.length} cases x ${POOL.length} traces (${partial} keeping some but not all), ${agree} agree, ${divergent} documented divergences, ${failures.length} differ`;
    t.diagnostic(summary);
    console.log(summary);
    assert.equal(failures.length, 0, `${summary}\n${failures.join('\n')}`);
    assert.ok(partial >= CASES.length - 3, summary);
  } finally {
    if (col) await col.stop();
    await backend.stop();
  }
});
