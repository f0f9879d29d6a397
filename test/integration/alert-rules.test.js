'use strict';
// etc/prometheus/kotel-alerts.yml: Prometheus accepts it (`promtool check rules`, lint
// included), its unit tests pass (`promtool test rules test/prometheus/kotel-alerts.test.yml`),
// every rule tells the operator what to do (summary, description, severity), and every kotel
// metric an expression names is a family that a running kotel-ingest or kotel-process serves
// on /metrics: renaming a metric without the rules breaks this test.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { REPO, withStack, adminPortOf } = require('./lib/procs');
const { startProcess, processSets } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { get } = require('./lib/metrics');

const RULES = path.join(REPO, 'etc/prometheus/kotel-alerts.yml');
const RULE_TESTS = path.join(REPO, 'test/prometheus/kotel-alerts.test.yml');

// Runs promtool with args; resolves { code, out } whatever the exit status.
function promtool(args) {
  return new Promise((resolve, reject) => {
    execFile('promtool', args, { timeout: 60000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? err.code : 0, out: `${stdout}${stderr}` });
    });
  });
}

// The rules of the file as written: [{ alert, expr, summary, description, severity }]. A
// reader for this file's shapes only (`key: value` on one line, or a `|` / `>-` block under
// the key); the test checks it found as many rules as promtool did, so a shape it does not
// know fails the test instead of hiding a rule.
function readRules(text) {
  const lines = text.split('\n');
  const rules = [];
  let rule = null;
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)(?:- )?(alert|expr|summary|description|severity):\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    const [, indent, key, rest] = m;
    let value = rest;
    if (/^[|>][-+]?$/.test(rest)) {
      const body = [];
      while (i + 1 < lines.length && (lines[i + 1].trim() === '' || lines[i + 1].search(/\S/) > indent.length)) body.push(lines[++i].trim());
      value = body.join(' ').trim();
    } else {
      value = rest.replace(/^"(.*)"$/, '$1');
    }
    if (key === 'alert') rules.push((rule = { alert: value }));
    else if (rule) rule[key] = value;
  }
  return rules;
}

// The kotel metric names an expression uses (not what its label values or strings say).
function metricNames(expr) {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  return [...new Set(code.match(/\bkotel_[a-z0-9_]+/g) || [])];
}

// { name: type } of every family a /metrics page declares.
function families(text) {
  const out = {};
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out[m[1]] = m[2];
  return out;
}

// Why `name` is not served (a family, or a histogram's _bucket / _sum / _count, a summary's
// _sum / _count), or null when it is.
function notServed(name, fams) {
  if (fams[name]) return null;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (m && fams[m[1]]) {
    const ok = fams[m[1]] === 'histogram' || (fams[m[1]] === 'summary' && m[2] !== 'bucket');
    return ok ? null : `${m[1]} is a ${fams[m[1]]}, which has no _${m[2]} series`;
  }
  return 'no such family on either tier';
}

test('promtool accepts the rules and their unit tests pass; every rule says what to do', async () => {
  const check = await promtool(['check', 'rules', '--lint=all', '--lint-fatal', RULES]);
  assert.equal(check.code, 0, `promtool check rules:\n${check.out}`);
  const found = /SUCCESS: (\d+) rules found/.exec(check.out);
  assert.ok(found, check.out);

  const unit = await promtool(['test', 'rules', RULE_TESTS]);
  assert.equal(unit.code, 0, `promtool test rules:\n${unit.out}`);
  assert.match(unit.out, /SUCCESS/);

  const rules = readRules(fs.readFileSync(RULES, 'utf8'));
  assert.equal(rules.length, Number(found[1]), `read ${rules.length} rules, promtool found ${found[1]}: readRules does not know a shape of the file`);
  const names = new Set();
  for (const r of rules) {
    assert.ok(!names.has(r.alert), `${r.alert} twice`);
    names.add(r.alert);
    assert.ok(r.expr, `${r.alert}: no expr`);
    assert.match(r.severity || '', /^(critical|warning)$/, `${r.alert}: severity`);
    assert.ok((r.summary || '').length > 20, `${r.alert}: no summary`);
    assert.ok((r.description || '').length > 80, `${r.alert}: the description should tell the operator what to do`);
  }
  // The alerts issue 13 asks for, by what they watch.
  const all = rules.map((r) => r.expr).join('\n');
  for (const want of [
    'kotel_ingest_ready',
    'kotel_ingest_requests_total{status="503"}',
    'kotel_ingest_kafka_messages_failed_total',
    'kotel_ingest_spool_bytes',
    'kotel_process_kafka_consumer_lag',
    'kotel_process_poison_messages_total',
    'kotel_process_export_failed_items_total',
    'kotel_process_backend_up',
    'kotel_process_ready',
    'up{job=',
  ]) {
    assert.ok(all.includes(want), `no rule watches ${want}`);
  }
});

test('every kotel metric the rules use is served by a running kotel-ingest or kotel-process', { timeout: 120000 }, async () => {
  const rules = readRules(fs.readFileSync(RULES, 'utf8'));
  const used = new Map(); // metric -> alerts
  for (const r of rules) for (const n of metricNames(r.expr)) used.set(n, [...(used.get(n) || []), r.alert]);
  assert.ok(used.size >= 15, `only ${used.size} kotel metrics found in the rules' expressions`);

  // The spool's families are served only with [spool] dir set, the tail sampler's only with a
  // policy: both are on here, as wherever those rules matter.
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-alert-rules-'));
  const backend = await startGrpcBackend();
  try {
    await withStack({ ingest: { sets: { 'spool.dir': spoolDir } } }, async ({ broker, ingest }) => {
      const proc = await startProcess({
        sets: processSets(broker, backend, {
          'tail_sampling.decision_wait': '500ms',
          'tail_sampling.policy.errors.type': 'status_code',
          'tail_sampling.policy.errors.status_codes': 'ERROR',
        }),
      });
      try {
        const pages = {};
        for (const [tier, h] of [
          ['kotel-ingest', ingest],
          ['kotel-process', proc],
        ]) {
          const r = await get(await adminPortOf(h), '/metrics');
          assert.equal(r.status, 200, `${tier} /metrics: ${r.status}`);
          pages[tier] = families(r.text);
        }
        assert.equal(pages['kotel-ingest'].kotel_ingest_spool_bytes, 'gauge', 'ingest serves the spool families with spool.dir set');
        assert.equal(pages['kotel-process'].kotel_process_tail_sampling_traces_pending, 'gauge', 'process serves the sampler families with a policy');
        const fams = { ...pages['kotel-ingest'], ...pages['kotel-process'] };
        const missing = [];
        for (const [name, alerts] of used) {
          const why = notServed(name, fams);
          if (why) missing.push(`${name} (in ${alerts.join(', ')}): ${why}`);
        }
        assert.deepEqual(missing, [], `rules use metrics the tiers do not serve:\n  ${missing.join('\n  ')}`);
      } finally {
        const ex = await proc.stop();
        assert.equal(ex.code, 0, `kotel-process exit: ${JSON.stringify(ex)}\n${proc.log().slice(-3000)}`);
      }
    });
  } finally {
    await backend.stop();
    fs.rmSync(spoolDir, { recursive: true, force: true });
  }
});

test('notServed strips _bucket, _sum and _count only where the family has them', () => {
  const fams = { a_seconds: 'histogram', b_total: 'counter', c: 'summary', d_count: 'gauge' };
  assert.equal(notServed('a_seconds_bucket', fams), null);
  assert.equal(notServed('a_seconds_count', fams), null);
  assert.equal(notServed('c_sum', fams), null);
  assert.equal(notServed('d_count', fams), null);
  assert.match(notServed('c_bucket', fams), /summary/);
  assert.match(notServed('b_total_count', fams), /counter/);
  assert.match(notServed('a_seconds_total', fams), /no such family/);
  assert.deepEqual(metricNames('rate(kotel_x_bucket{le="1"}[5m]) / up{job="kotel_y"} and kotel_x_bucket'), ['kotel_x_bucket']);
});
