'use strict';
// Interop: the Collector configurations kotel-config import is tested on
// (test/config/*.yaml, test/integration/config-import.test.js) are real ones: the Collector
// itself validates each (`otelcol validate`), with the environment they read filled in.
// A configuration only kotel would take would make the import test prove nothing.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { REPO } = require('../integration/lib/procs');
const { collectorBinary } = require('./lib/otelcol');

collectorBinary();

const CONFIGS = path.join(REPO, 'test/config');
const ENV = {
  KT_CERTS: '/nonexistent-certs',
  KAFKA_PASSWORD: 'p',
  API_KEY: 'k',
  INGEST_TOKEN: 't',
  BACKEND_TOKEN: 'b',
};

test('the Collector validates every configuration kotel-config import is tested on', () => {
  const yamls = fs.readdirSync(CONFIGS).filter((f) => f.endsWith('.yaml')).sort();
  assert.ok(yamls.length >= 2, 'test/config/ holds the Collector configurations');
  for (const y of yamls) {
    const r = spawnSync(collectorBinary(), ['validate', `--config=${path.join(CONFIGS, y)}`], {
      env: { ...process.env, ...ENV },
      encoding: 'utf8',
      timeout: 60000,
    });
    assert.equal(r.status, 0, `${y}: the Collector's validate exited ${r.status}:\n${r.stderr}`);
  }
});
