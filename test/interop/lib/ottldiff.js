'use strict';
// The differential OTTL driver (test/interop/ottl-diff.test.js): runs a table of cases
// (test/interop/ottl-cases.js) through the Collector's transform processor and through
// kotel's (build/test/ottl-apply), and puts both outputs in one canonical form.
//
// A case: { name, signal: 'traces'|'metrics'|'logs', input (an OTLP/JSON request),
//   statements: [...] (flat, the context from the path prefixes) and/or
//   groups: [{ context?, conditions?, error_mode?, statements }], error_mode? (default
//   propagate), divergence?: { reason, kotel, collector } }.
// An output is the request the backend received in canonical form, or the string 'error'
// (the Collector's receiver answered with a failure / ottl-apply printed "error: ..."), or
// 'config error' (the Collector refused the configuration / ottl-apply's transform_new did).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { BUILD } = require('../../integration/lib/procs');
const { decodeOtlpJson } = require('../../integration/lib/backend');

const KEYS = { traces: 'trace_statements', metrics: 'metric_statements', logs: 'log_statements' };
const GROUP_SIGNAL = { traces: 'traces', metrics: 'metrics', logs: 'logs' };

// The canonical form: bytes as hex, key-value lists sorted by key, empty objects, empty
// arrays and absent values left out (an empty resource or scope is no resource or scope:
// kotel creates them where statements could write them, the Collector's pdata always has
// them).
function canonical(v) {
  if (Buffer.isBuffer(v)) return v.length ? v.toString('hex') : undefined;
  if (Array.isArray(v)) {
    let a = v.map(canonical).filter((x) => x !== undefined);
    if (a.length && a.every((x) => x && typeof x === 'object' && typeof x.key === 'string')) {
      a = a.slice().sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    }
    return a.length ? a : undefined;
  }
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) {
      const x = canonical(v[k]);
      if (x !== undefined) o[k] = x;
    }
    return Object.keys(o).length ? o : undefined;
  }
  if (v === null || v === '') return undefined;
  return v;
}

// Text for the comparison: JSON of the canonical form, or the error word.
function outputText(out) {
  return typeof out === 'string' ? out : JSON.stringify(canonical(out) || {});
}

function errorMode(c) {
  return c.error_mode || 'propagate';
}

// The Collector's transform processor configuration of one case, as an object.
function collectorTransform(c) {
  const cfg = { error_mode: errorMode(c) };
  const list = [];
  for (const s of c.statements || []) list.push(s);
  for (const g of c.groups || []) {
    const o = { context: g.context, statements: g.statements };
    if (g.conditions) o.conditions = g.conditions;
    if (g.error_mode) o.error_mode = g.error_mode;
    list.push(o);
  }
  cfg[KEYS[c.signal]] = list;
  return cfg;
}

// `$` starts a reference in the Collector's configuration; `$$` is a literal one.
function escapeDollars(v) {
  if (typeof v === 'string') return v.replace(/\$/g, '$$$$');
  if (Array.isArray(v)) return v.map(escapeDollars);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, escapeDollars(x)]));
  return v;
}

// One Collector configuration for the cases given as [id, case] pairs: case id has receiver
// otlp/c<id> on ports[k] (OTLP/HTTP), processor transform/c<id> and exporter
// otlp_http/c<id>, which sends to the backend with header x-case: <id>, synchronously (no
// queue, no retry), so a request's answer comes after its output reached the backend.
// Written as JSON, which YAML reads.
function collectorConfig(cases, ports, backendPort) {
  const cfg = { receivers: {}, processors: {}, exporters: {}, service: { pipelines: {} } };
  cases.forEach(([id, c], k) => {
    cfg.receivers[`otlp/c${id}`] = { protocols: { http: { endpoint: `127.0.0.1:${ports[k]}` } } };
    cfg.processors[`transform/c${id}`] = escapeDollars(collectorTransform(c));
    cfg.exporters[`otlp_http/c${id}`] = {
      endpoint: `http://127.0.0.1:${backendPort}`,
      compression: 'none',
      headers: { 'x-case': String(id) },
      retry_on_failure: { enabled: false },
      sending_queue: { enabled: false },
    };
    cfg.service.pipelines[`${c.signal}/c${id}`] = { receivers: [`otlp/c${id}`], processors: [`transform/c${id}`], exporters: [`otlp_http/c${id}`] };
  });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-ottl-diff-')), 'otelcol.yaml');
  fs.writeFileSync(file, JSON.stringify(cfg, null, 1));
  return file;
}

// kotel's configuration of one case, as ottl-apply's section.key=value arguments.
function kotelSets(c) {
  const sets = [`transform.error_mode=${errorMode(c)}`];
  for (const s of c.statements || []) sets.push(`transform.${KEYS[c.signal]}=${s}`);
  (c.groups || []).forEach((g, i) => {
    const sec = `transform.group.g${i}`;
    sets.push(`${sec}.signal=${GROUP_SIGNAL[c.signal]}`);
    if (g.context) sets.push(`${sec}.context=${g.context}`);
    for (const cond of g.conditions || []) sets.push(`${sec}.conditions=${cond}`);
    if (g.error_mode) sets.push(`${sec}.error_mode=${g.error_mode}`);
    for (const s of g.statements) sets.push(`${sec}.statements=${s}`);
  });
  return sets;
}

// Runs ottl-apply on one case: resolves the output (decoded as the backend decodes) and the
// raw line for messages.
function runKotel(c) {
  const bin = path.join(BUILD, 'test/ottl-apply');
  return new Promise((resolve, reject) => {
    const child = execFile(bin, [c.signal, ...kotelSets(c)], { timeout: 20000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const line = stdout.trim();
      if (err && err.code === 1 && /^(config )?error: /.test(line)) {
        resolve({ out: line.startsWith('config') ? 'config error' : 'error', raw: line });
        return;
      }
      if (err) {
        reject(new Error(`ottl-apply ${c.name}: ${err.message}\n${stderr}`));
        return;
      }
      resolve({ out: decodeOtlpJson(c.signal, line), raw: line });
    });
    // A configuration ottl-apply refuses ends it before it reads the input: the write's
    // EPIPE is expected then, and the exit status says what happened.
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify(c.input));
  });
}

module.exports = { canonical, outputText, collectorConfig, runKotel, kotelSets, collectorTransform };
