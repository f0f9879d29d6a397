// kotel-config import: each Collector configuration in test/config/ is translated into the
// INI and the stderr report in test/config/NAME.ini.expected / NAME.report.expected (exit 3:
// each file holds settings kotel does not carry over), and the INI passes the tier's --check;
// unusable input (not YAML, no pipeline, both tiers without --tier) exits 2 with a reason.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { REPO, binary } = require('./lib/procs');
const { pkiDir, makeCa, makeCert } = require('./lib/pki');

const CONFIGS = path.join(REPO, 'test/config');

function run(bin, args, env = {}) {
  const r = spawnSync(bin, args, { cwd: REPO, encoding: 'utf8', timeout: 30000, env: { ...process.env, ...env } });
  assert.equal(r.error, undefined, `${bin}: ${r.error}`);
  return r;
}

// The certificate files the YAMLs name through ${env:KT_CERTS}, so that --check can read them.
function certs() {
  const dir = pkiDir('config-import');
  const ca = makeCa(dir, 'ca');
  makeCert(dir, ca, 'server', { dns: ['localhost'] });
  makeCa(dir, 'backend-ca');
  return dir;
}

const yamls = fs.readdirSync(CONFIGS).filter((f) => f.endsWith('.yaml')).sort();

test('every test configuration is imported as expected and passes --check', () => {
  assert.ok(yamls.length >= 2, 'test/config/ holds the Collector configurations');
  const dir = certs();
  const env = { KT_CERTS: dir, KAFKA_PASSWORD: 'p', API_KEY: 'k', INGEST_TOKEN: 't', BACKEND_TOKEN: 'b' };
  for (const y of yamls) {
    const name = y.replace(/\.yaml$/, '');
    const rel = path.join('test/config', y);
    const r = run(binary('kotel-config'), ['import', rel]);
    assert.equal(r.status, 3, `${y}: exit ${r.status}, stderr:\n${r.stderr}`);
    assert.equal(r.stdout, fs.readFileSync(path.join(CONFIGS, `${name}.ini.expected`), 'utf8'), `${y}: INI`);
    assert.equal(r.stderr, fs.readFileSync(path.join(CONFIGS, `${name}.report.expected`), 'utf8'), `${y}: report`);
    for (const line of r.stderr.trim().split('\n')) assert.match(line, new RegExp(`^${rel}:\\d+: \\S+: .+`));
    const tier = r.stdout.match(/^# (kotel-(?:ingest|process)) configuration/)[1];
    const ini = path.join(dir, `${name}.ini`);
    fs.writeFileSync(ini, r.stdout, { mode: 0o600 });
    const c = run(binary(tier), ['--check', '-c', ini], env);
    assert.equal(c.status, 0, `${tier} --check on the import of ${y}: ${c.stderr}`);
  }
});

test('unusable input exits 2 with the reason', () => {
  const dir = pkiDir('config-import-bad');
  const cases = [
    ['not-yaml.yaml', 'receivers: [otlp\n', /not YAML/],
    ['no-pipeline.yaml', 'receivers:\n  otlp: {}\n', /no service\.pipelines/],
    ['both.yaml', 'service:\n  pipelines:\n    traces: {receivers: [kafka], exporters: [kafka/out]}\n', /pass --tier ingest or --tier process/],
  ];
  for (const [file, text, why] of cases) {
    const p = path.join(dir, file);
    fs.writeFileSync(p, text);
    const r = run(binary('kotel-config'), ['import', p]);
    assert.equal(r.status, 2, `${file}: exit ${r.status}`);
    assert.equal(r.stdout, '', `${file}: no INI on stdout`);
    assert.match(r.stderr, why, file);
  }
  const missing = run(binary('kotel-config'), ['import', path.join(dir, 'absent.yaml')]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /cannot open/);
  // With --tier the file with both directions is usable.
  const both = run(binary('kotel-config'), ['import', path.join(dir, 'both.yaml'), '--tier', 'ingest']);
  assert.equal(both.status, 0, both.stderr);
  assert.match(both.stdout, /^# kotel-ingest configuration imported by kotel-config from /);
});
