'use strict';
// kotel-process keeps its promise when things break: a backend outage loses nothing and
// consumption resumes by itself; a replica killed with SIGKILL loses nothing either (its
// partitions' uncommitted data is re-read by the survivor).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withStack } = require('./lib/procs');
const { startProcess, processSets, newGroup } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { sendShapedTraces } = require('./lib/traffic');

const sets = (broker, backend, extra = {}) =>
  processSets(broker, backend, { 'exporter.retry.initial_interval': '500ms', 'exporter.retry.max_interval': '2s', ...extra });

const allSpanIds = (...maps) => {
  const s = new Set();
  for (const m of maps) for (const t of m.values()) for (const id of t.spanIds) s.add(id);
  return s;
};

test('backend refusing for 30s: nothing is lost, the refusals are logged, consumption resumes by itself', { timeout: 240000 }, async () => {
  await withStack({}, async ({ broker, ingest }) => {
    const backend = await startGrpcBackend();
    const proc = await startProcess({ sets: sets(broker, backend) });
    try {
      backend.rec.refuseFor(30000);
      const { traces: during } = await sendShapedTraces(ingest, { traces: 30, tag: 'during' });
      await backend.rec.until(() => backend.rec.refused > 0, 30000, 'a refused export');
      const { traces: more } = await sendShapedTraces(ingest, { traces: 10, tag: 'more' });
      const want = allSpanIds(during, more);
      await backend.rec.until(() => {
        const got = new Set(backend.rec.spans.map((s) => s.spanId));
        for (const id of want) if (!got.has(id)) return false;
        return true;
      }, 120000, `all ${want.size} spans after the outage`);
      assert.ok(backend.rec.refused > 0);
      assert.match(proc.log(), /UNAVAILABLE|retry/i, 'the refusals are visible in the log');
    } finally {
      const e = await proc.stop();
      await backend.stop();
      assert.equal(e.code, 0, `kotel-process exit ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
    }
  });
});

test('kill -9 of a replica while data flows: every span ingest acknowledged reaches the backend', { timeout: 300000 }, async () => {
  await withStack({}, async ({ broker, ingest }) => {
    const backend = await startGrpcBackend();
    const group = newGroup();
    const s = sets(broker, backend, {
      'kafka.group_id': group,
      'kafka.metrics_topic': '',
      'kafka.logs_topic': '',
      'tail_sampling.decision_wait': '2s',
      'tail_sampling.policy.all.type': 'always_sample',
    });
    const a = await startProcess({ sets: s, name: 'replica-A' });
    const b = await startProcess({ sets: s, name: 'replica-B' });
    try {
      await a.waitLog(/assigned [1-9]\d* partitions/, 60000, 'replica A assignment');
      await b.waitLog(/assigned [1-9]\d* partitions/, 60000, 'replica B assignment');
      const sent = [];
      for (let round = 0; round < 6; round++) {
        const { traces } = await sendShapedTraces(ingest, { traces: 20, tag: `round-${round}` });
        sent.push(traces);
        // Mid-flow, with traces still held by A's sampler, A dies without a goodbye.
        if (round === 2) await a.kill9();
      }
      const want = allSpanIds(...sent);
      await backend.rec.until(() => {
        const got = new Set(backend.rec.spans.map((x) => x.spanId));
        for (const id of want) if (!got.has(id)) return false;
        return true;
      }, 180000, `all ${want.size} acknowledged spans after the kill`);
    } finally {
      const eb = await b.stop();
      await backend.stop();
      assert.equal(eb.code, 0, `replica B exit ${JSON.stringify(eb)}\n${b.log().slice(-3000)}`);
    }
  });
});
