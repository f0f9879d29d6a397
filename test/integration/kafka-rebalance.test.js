'use strict';
// Rebalances under load on real Apache Kafka: 3 kotel-process replicas share 12 partitions
// while traces flow through kotel-ingest; a 4th joins, one leaves with SIGTERM, one is
// killed with SIGKILL. Every span ingest acknowledged reaches the backend (duplicates are
// counted and reported: a killed replica's uncommitted tail is read again), the group
// coordinator's view never leaves a partition without a live owner for longer than the
// session timeout and one rebalance (one rebalance after a join or a clean leave, unless the
// coordinator moved meanwhile), and the partitions end evenly spread.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withStack } = require('./lib/procs');
const { startProcess, processSets, newGroup } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { realKafkaEnabled, describeGroup } = require('./lib/realkafka');
const { startFlow, waitAcked, account } = require('./lib/flow');
const { sleep } = require('./lib/ports');

const skip = realKafkaEnabled() ? false : 'KT_TEST_KAFKA excludes real Kafka';
const PARTITIONS = 12;
const SESSION_TIMEOUT_MS = 6000;
// After a SIGKILL the coordinator notices the member is gone once its session times out;
// the rebalance that hands its partitions over then needs every member's next heartbeat
// (1 s) and a join/sync round, cooperative-sticky may need two.
const REBALANCE_ALLOWANCE_MS = 5000;
const ASSIGNED = /assigned [1-9]\d* partitions/;

// Samples the coordinator's view every intervalMs; returns every span of time during which
// a partition had no live owner (per isLive(clientId)): [{ partition, from, to }].
function watchOwnership(group, isLive, intervalMs = 500) {
  const unownedSince = new Map();
  const lastSeen = new Map(); // clientId -> partitions of its last assignment seen
  const gaps = [];
  const samples = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const now = Date.now();
      let g;
      try {
        g = await describeGroup(group);
      } catch {
        g = null; // a coordinator move mid-test: skip the sample
      }
      if (g) {
        // A gap begins when the view is judged, after the describe returned: liveness is
        // read then, so a replica stopped during the describe opens its gap after the event
        // that stopped it, and the gap is put down to that event, not to the one before.
        const judged = Date.now();
        // During a rebalance the coordinator lists no assignment until it completes, while
        // with the cooperative protocol every member keeps consuming what it owns: a member
        // listed without partitions then still owns its last assignment seen.
        const rebalancing = g.state !== 'Stable';
        const owned = new Set();
        for (const m of g.members) {
          if (!rebalancing || m.partitions.length > 0) lastSeen.set(m.clientId, m.partitions);
          if (isLive(m.clientId)) for (const p of lastSeen.get(m.clientId) || []) owned.add(p);
        }
        samples.push({ at: now, took: Date.now() - now, state: g.state, members: g.members.map((m) => `${m.clientId}:${m.partitions.map((x) => x.split(':').pop()).join(',') || '-'}`) });
        for (let p = 0; p < PARTITIONS; p++) {
          const key = `${p}`;
          const isOwned = [...owned].some((x) => x.endsWith(`:${p}`));
          if (isOwned) {
            if (unownedSince.has(key)) {
              gaps.push({ partition: p, from: unownedSince.get(key), to: judged });
              unownedSince.delete(key);
            }
          } else if (!unownedSince.has(key)) {
            unownedSince.set(key, judged);
          }
        }
      }
      await sleep(intervalMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      const now = Date.now();
      for (const [key, since] of unownedSince) gaps.push({ partition: Number(key), from: since, to: now });
      unownedSince.clear();
      return { gaps, samples };
    },
  };
}

// Polls the group until its members hold `counts` partitions (sorted) and keep them for
// SETTLE_MS, or fails after ms. A cooperative rebalance is two rounds, and the group reads
// Stable with the final counts for a moment between them; a change made then would overlap
// the second round (which, with a member killed, waits for its session to time out).
const SETTLE_MS = 3000;
async function waitSpread(group, counts, ms = 60000) {
  const t0 = Date.now();
  let last = null;
  let since = null;
  while (Date.now() - t0 < ms) {
    last = await describeGroup(group).catch(() => null);
    const got = last ? last.members.map((m) => m.partitions.length).sort((a, b) => a - b) : [];
    if (last && last.state === 'Stable' && JSON.stringify(got) === JSON.stringify(counts)) {
      since = since ?? Date.now();
      if (Date.now() - since >= SETTLE_MS) return;
    } else {
      since = null;
    }
    await sleep(250);
  }
  throw new Error(`group ${group} not spread as ${counts} for ${SETTLE_MS} ms within ${ms} ms: ${JSON.stringify(last)}`);
}

test('real Kafka: 3 replicas on 12 partitions under load; a 4th joins, one leaves (SIGTERM), one is killed (SIGKILL): every acknowledged span arrives', { timeout: 420000, skip }, async (t) => {
  await withStack({ kafka: 'real', broker: { partitions: PARTITIONS, tag: 'rebalance' } }, async ({ broker, ingest }) => {
    const backend = await startGrpcBackend();
    const group = newGroup('rebalance');
    const replicas = new Map(); // name -> handle
    const gone = new Set();
    const start = async (name) => {
      const h = await startProcess({
        name: `replica-${name}`,
        sets: processSets(broker, backend, {
          'kafka.group_id': group,
          'kafka.client_id': `replica-${name}`,
          // Traces only: the group's 12 partitions are what the replicas share.
          'kafka.metrics_topic': '',
          'kafka.logs_topic': '',
          'kafka.session_timeout': `${SESSION_TIMEOUT_MS}ms`,
          'kafka.heartbeat_interval': '1s',
          // Traces wait in the sampler across the rebalances.
          'tail_sampling.decision_wait': '1s',
          'tail_sampling.policy.all.type': 'always_sample',
        }),
      });
      replicas.set(name, h);
      return h;
    };
    let flow = null;
    let watch = null;
    try {
      for (const n of ['A', 'B', 'C']) await start(n);
      for (const n of ['A', 'B', 'C']) await replicas.get(n).waitLog(ASSIGNED, 60000, `replica ${n} assignment`);
      await waitSpread(group, [4, 4, 4]);
      // What happened when, to tell which event each ownership gap followed.
      const events = [{ at: Date.now(), what: 'steady state' }];
      watch = watchOwnership(group, (clientId) => replicas.has(clientId.replace(/^replica-/, '')) && !gone.has(clientId.replace(/^replica-/, '')));

      flow = startFlow(ingest, { traces: 4, spans: 5, inflight: 2, intervalMs: 50, tag: 'rebalance' });
      // Each change waits for the group to settle and for traffic to flow on the new
      // assignment before the next, so that rebalances do not overlap.
      await waitAcked(flow, 40);
      events.push({ at: Date.now(), what: 'join of D' });
      const d = await start('D');
      await d.waitLog(ASSIGNED, 60000, 'replica D assignment');
      await waitSpread(group, [3, 3, 3, 3]);
      await waitAcked(flow, 40);
      events.push({ at: Date.now(), what: 'SIGTERM of B' });
      const eb = await replicas.get('B').stop();
      gone.add('B');
      assert.equal(eb.code, 0, `replica B exit on SIGTERM: ${JSON.stringify(eb)}\n${replicas.get('B').log().slice(-2000)}`);
      await waitSpread(group, [4, 4, 4]);
      await waitAcked(flow, 40);
      events.push({ at: Date.now(), what: 'SIGKILL of C' });
      await replicas.get('C').kill9();
      gone.add('C');
      // The coordinator notices C once its session times out, then hands its partitions over.
      await waitSpread(group, [6, 6], SESSION_TIMEOUT_MS + 60000);
      await waitAcked(flow, 40);
      const res = await flow.stop();
      flow = null;

      // Everything acknowledged arrives (re-reads may duplicate).
      const key = (s) => `${s.traceId}/${s.spanId}`;
      await backend.rec.until(() => {
        const got = new Set(backend.rec.spans.map(key));
        for (const id of res.acked) if (!got.has(id)) return false;
        return true;
      }, 180000, `all ${res.acked.size} acknowledged spans`);
      const acc = account(res.acked, backend.rec.spans.filter((s) => res.acked.has(key(s))).map(key));
      const { gaps, samples } = await watch.stop();
      // The longest gap after each event (a gap belongs to the last event before it began).
      const after = new Map(events.map((e) => [e.what, 0]));
      for (const g of gaps) {
        const e = events.filter((x) => x.at <= g.from).pop() || events[0];
        after.set(e.what, Math.max(after.get(e.what), g.to - g.from));
      }
      const worst = Math.max(...after.values());
      // For a failure: the coordinator's view around the event's longest gap, and what each
      // replica logged about the group meanwhile (log lines carry UTC times).
      const explain = (what) => {
        const at = events.find((e) => e.what === what).at;
        const g = gaps.filter((x) => x.from >= at).sort((a, b) => b.to - b.from - (a.to - a.from))[0];
        if (!g) return '';
        const iso = (ms) => new Date(ms).toISOString();
        const seen = samples.filter((x) => x.at >= g.from - 3000 && x.at <= g.to + 1000);
        const logs = [...replicas].map(([n, h]) => `replica ${n}:\n` + h.log().split('\n').filter((l) => /kafka|signal|shut/i.test(l)).slice(-12).join('\n'));
        return `event at ${iso(at)}; partition ${g.partition} unowned ${iso(g.from)} .. ${iso(g.to)}\n` +
          seen.map((x) => `${iso(x.at)} (+${x.took} ms) ${x.state} ${x.members.join(' ')}`).join('\n') + '\n' + logs.join('\n');
      };
      const final = await describeGroup(group);
      const counts = final.members.map((m) => m.partitions.length);
      t.diagnostic(
        `rebalance: ${res.requests} requests (${res.sentSpans} spans) sent, ${res.ok} acknowledged (${acc.acked} spans), ` +
          `refused ${JSON.stringify(res.refused)}, failed ${res.failed}; backend: ${acc.delivered} acknowledged spans delivered, ` +
          `lost ${acc.lost}, duplicates ${acc.duplicates}; longest time a partition had no live owner, by event: ` +
          `${[...after].map(([w, ms]) => `${w} ${ms} ms`).join(', ')}; ` +
          `final assignment ${final.members.map((m) => `${m.clientId}=${m.partitions.length}`).join(' ')} (${samples.length} samples)`,
      );
      assert.equal(res.failed + Object.keys(res.refused).length, 0, `ingest did not acknowledge every request: ${res.failures.join('; ')}`);
      assert.equal(acc.lost, 0, `acknowledged spans never delivered, e.g. ${acc.missingExamples.join(', ')}`);
      // Only a SIGKILL leaves partitions with a dead owner until the session times out; a
      // join or a clean leave hands them over within one rebalance.
      assert.ok(
        worst <= SESSION_TIMEOUT_MS + REBALANCE_ALLOWANCE_MS,
        `a partition had no live owner for ${worst} ms (session timeout ${SESSION_TIMEOUT_MS} ms + ${REBALANCE_ALLOWANCE_MS} ms for the rebalance)`,
      );
      // A group coordinator that moves meanwhile (Kafka moves partition leaders back to their
      // preferred replicas every 5 minutes, and the fault tests before this one leave them
      // elsewhere) loads the group as it last stored it: a member that left is back in it
      // until its session times out, as after a SIGKILL. The replicas' offset commits say
      // so ("Not coordinator", "Waiting for coordinator"); only then the SIGKILL bound holds.
      const coordinatorMoved = (what) => {
        const i = events.findIndex((e) => e.what === what);
        const from = events[i].at;
        const to = i + 1 < events.length ? events[i + 1].at : Infinity;
        return [...replicas.values()].some((h) => h.log().split('\n').some((l) => {
          const at = Date.parse(l.slice(0, 24));
          return /(Not|Waiting for) coordinator/.test(l) && at >= from && at < to;
        }));
      };
      for (const what of ['join of D', 'SIGTERM of B']) {
        const moved = coordinatorMoved(what);
        const bound = moved ? SESSION_TIMEOUT_MS + REBALANCE_ALLOWANCE_MS : REBALANCE_ALLOWANCE_MS;
        if (moved) t.diagnostic(`rebalance: the group coordinator moved after the ${what}: bound ${bound} ms`);
        assert.ok(after.get(what) <= bound, `after the ${what}, a partition had no live owner for ${after.get(what)} ms\n${explain(what)}`);
      }
      assert.deepEqual(final.members.map((m) => m.clientId).sort(), ['replica-A', 'replica-D']);
      assert.equal(counts.reduce((a, b) => a + b, 0), PARTITIONS, 'every partition is assigned at the end');
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `partitions evenly spread at the end: ${counts}`);
    } finally {
      if (flow) await flow.stop();
      if (watch) await watch.stop();
      for (const [name, h] of replicas) {
        if (gone.has(name)) continue;
        const e = await h.stop();
        assert.equal(e.code, 0, `replica ${name} exit ${JSON.stringify(e)}\n${h.log().slice(-2000)}`);
      }
      await backend.stop();
    }
  });
});
