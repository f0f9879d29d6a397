'use strict';
// The chaos ledger (test/chaos/chaos.js, `make chaos`) in its short form: a few tens of
// thousands of spans, log records and data points over gRPC, HTTP/protobuf and HTTP/JSON
// through two kotel-ingest instances into the shared 3-node cluster, three kotel-process
// replicas and two backends, while one fault of every kind is injected (kill -9, SIGTERM,
// a broker killed, the cluster frozen, the backend refusing and hanging, a replica added
// and removed). Nothing acknowledged may be missing at the end. The seed is printed; set
// KT_CHAOS_SEED to replay one.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { realKafkaEnabled } = require('./lib/realkafka');
const { runChaos, printSummary } = require('../chaos/chaos');
const { tail } = require('./lib/procs');

const skip = realKafkaEnabled() ? false : 'KT_TEST_KAFKA excludes real Kafka';
const ASAN = /asan/.test(process.env.KT_BUILD || '');

test('real Kafka: chaos ledger, short form: one fault of every kind, every acknowledged item arrives', { timeout: 900000, skip }, async (t) => {
  const seed = process.env.KT_CHAOS_SEED ? Number(process.env.KT_CHAOS_SEED) : Date.now() % 1000000007;
  const { summary: s, logs } = await runChaos({
    seed,
    spans: ASAN ? 20000 : 40000,
    faults: 10, // the number of kinds: the first pass takes each once
    rate: ASAN ? 500 : 1000,
    outageMs: 8000,
    settleMs: 180000,
    gapMs: [3000, 8000],
    scale: 0.5,
    spool: process.env.KT_CHAOS_SPOOL === '1',
    log: (m) => t.diagnostic(m),
  });
  let out = '';
  printSummary(s, { write: (x) => (out += x) });
  for (const line of out.trimEnd().split('\n')) t.diagnostic(line);
  // The end of each run of an instance: a restarted one's first run is where its SIGTERM
  // or crash happened.
  const RESTART = '\n--- restart ---\n';
  const ends = (l) => l.split(RESTART).map((r) => tail(r, 3000)).join(RESTART);
  const why = () => `seed ${seed}\n${out}\n${Object.entries(logs).map(([n, l]) => `--- ${n} ---\n${ends(l)}`).join('\n')}`;
  assert.equal(s.faults.injected, 10, `faults injected: ${JSON.stringify(s.faults)}\n${why()}`);
  assert.equal(Object.keys(s.faults.byKind).length, 10, `one fault of every kind: ${JSON.stringify(s.faults.byKind)}`);
  assert.ok(s.backend.refusedOrHeld > 0, `the backend faults refused or held no export: ${JSON.stringify(s.backend)}`);
  assert.deepEqual(s.anomalies, [], `faults that could not be injected or undone cleanly\n${why()}`);
  for (const [name, r] of [['spans', s.spans], ['log records', s.logRecords], ['data points', s.dataPoints]]) {
    assert.ok(r.acknowledged > 0, `no ${name} acknowledged at all\n${why()}`);
    assert.equal(r.lost, 0, `${r.lost} acknowledged ${name} never delivered, e.g. ${r.missingExamples.join(', ')}\n${why()}`);
  }
  assert.ok(s.settled, `not everything acknowledged arrived within the settle time\n${why()}`);
});
