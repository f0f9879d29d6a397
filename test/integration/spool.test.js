'use strict';
// [spool] on an edge node that loses Kafka: while every broker is down, kotel-ingest keeps
// acknowledging requests, because it appends what Kafka cannot take to its disk spool. It is
// killed with SIGKILL twice during the outage and restarted on the same spool directory.
// Once the brokers are back, the spool drains, and every span a client was told is accepted
// is in the topic (duplicates are counted and printed: they are allowed, loss is not).
//
// KT_SPOOL_OUTAGE_S sets the outage length (default 20 s; the check is 60 s).
// A second test stops ingest with SIGTERM during an outage: it exits 0 at once, what it
// spooled stays on disk, and the next run sends it. A third starts ingest during the outage:
// once the brokers are back, it sends its spool without a restart.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startKafka, startIngest, topicSets, describeExit } = require('./lib/procs');
const { KAFKAS, kafkaLabel, kafkaSh, realCluster } = require('./lib/realkafka');
const { startFlow, waitAcked, readAcked } = require('./lib/flow');
const { sleep } = require('./lib/ports');

const OUTAGE_S = Number(process.env.KT_SPOOL_OUTAGE_S || 20);
const KILLS = 2;

function segments(dir) {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.spool'));
}

async function waitFor(what, cond, ms) {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

// Every node of the broker down, or back up (the real cluster's nodes all at once: a node
// waits for a controller quorum to come back).
async function brokers(broker, up) {
  if (broker.kind === 'devbroker') return broker.command(up ? 'up' : 'down');
  const nodes = Number(realCluster().KAFKA_BROKERS || 3);
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  await Promise.all(ids.map((n) => kafkaSh(up ? 'start' : 'kill', n)));
}

// Runs body(c) with a broker and a spool directory of its own. What body leaves in c.ingest,
// c.flow and c.down (brokers stopped) is cleaned up however it ends; c.stopIngest() stops
// ingest and asserts it exited 0.
async function spoolCase(kafka, tag, body) {
  const broker = await startKafka(kafka, { tag });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-spool-'));
  const c = { broker, dir, ingest: null, flow: null, down: false };
  c.setBrokers = async (up) => {
    await brokers(broker, up);
    c.down = !up;
  };
  c.stopIngest = async () => {
    const ex = await c.ingest.stop();
    const log = c.ingest.log();
    c.ingest = null;
    assert.ok(ex.code === 0 && !ex.signal, `kotel-ingest did not exit 0 on SIGTERM: ${describeExit(ex)}\n${log.slice(-3000)}`);
    return log;
  };
  try {
    await body(c);
  } catch (e) {
    if (c.ingest) e.message += `\n--- kotel-ingest stderr (tail) ---\n${c.ingest.log().slice(-6000)}`;
    throw e;
  } finally {
    if (c.flow) await c.flow.stop();
    if (c.down) await brokers(broker, true);
    if (c.ingest) await c.ingest.stop();
    await broker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

for (const kafka of KAFKAS) {
  test(
    `${kafkaLabel(kafka)}with [spool], ingest acknowledges through a ${OUTAGE_S} s outage of every broker and ${KILLS} kill -9 restarts, and every acknowledged span reaches the topic`,
    { timeout: OUTAGE_S * 1000 + 300000 },
    (t) =>
      spoolCase(kafka, 'spool', async (c) => {
        const { broker, dir } = c;
        // The same spool directory for every run of ingest.
        const sets = {
          ...topicSets(broker),
          'spool.dir': dir,
          'spool.segment_size': '256KiB',
          'kafka.required_acks': 'all',
          'kafka.connect_timeout': '1s',
        };
        // The flow's clients send to wherever the current run of ingest listens.
        const target = {};
        const start = async () => {
          c.ingest = await startIngest({ bootstrap: broker.bootstrap, sets });
          target.grpcUrl = c.ingest.grpcUrl;
          target.httpUrl = c.ingest.httpUrl;
        };
        const earlierLogs = [];
        await start();
        c.flow = startFlow(target, { traces: 2, spans: 5, inflight: 4, intervalMs: 50, timeoutMs: 30000, tag: 'spool' });
        await waitAcked(c.flow, 10, 30000);
        const before = c.flow.stats();

        await c.setBrokers(false);
        const t0 = Date.now();
        const phases = [];
        for (let k = 1; k <= KILLS + 1; k++) {
          // Each run of ingest acknowledges requests with no broker up, then the outage's
          // next third passes (the outage's length is what the test is about).
          const from = c.flow.stats().ok;
          await waitAcked(c.flow, 5, 60000);
          const until = t0 + (k * OUTAGE_S * 1000) / (KILLS + 1);
          if (Date.now() < until) await sleep(until - Date.now());
          phases.push(c.flow.stats().ok - from);
          if (k > KILLS) break;
          process.kill(c.ingest.pid, 'SIGKILL');
          const ex = await c.ingest.exited;
          assert.equal(ex.signal, 'SIGKILL', `kotel-ingest ${describeExit(ex)} instead of being killed`);
          earlierLogs.push(c.ingest.log());
          await start();
        }
        const during = c.flow.stats();
        assert.ok(segments(dir).length > 0, 'the outage left nothing in the spool');

        await c.setBrokers(true);
        await waitAcked(c.flow, 20, 120000);
        const res = await c.flow.stop();
        c.flow = null;

        // Drained: every segment, those of the killed runs included, is acknowledged and gone.
        await waitFor(`the spool in ${dir} drained (left: ${segments(dir).join(', ')})`, () => segments(dir).length === 0, 180000);
        const { msgs, acc, readNote } = await readAcked(broker.bootstrap, broker.topics.traces, res.acked);
        const refused = Object.values(res.refused).reduce((a, b) => a + b, 0);
        t.diagnostic(
          `spool (${kafka}, outage ${OUTAGE_S} s, ${KILLS} kill -9): ${res.requests} requests (${res.sentSpans} spans), ` +
            `${res.ok} acknowledged (${acc.acked} spans), ${during.ok - before.ok} of them during the outage ` +
            `(per run of ingest: ${phases.join(', ')}), ${refused} refused ${JSON.stringify(res.refused)}, ` +
            `${res.failed} failed otherwise (connections refused while ingest was dead); in the topic: ` +
            `${msgs.length} messages, ${acc.delivered} acknowledged spans, lost ${acc.lost}, duplicates ${acc.duplicates}, ` +
            `from unacknowledged requests ${acc.unexpected} (${readNote})`,
        );
        assert.equal(acc.lost, 0, `acknowledged spans missing from the topic, e.g. ${acc.missingExamples.join(', ')}`);
        for (const [i, n] of phases.entries()) assert.ok(n > 0, `run ${i + 1} of ingest acknowledged nothing during the outage`);
        assert.ok(res.ok > during.ok, 'ingest acknowledges requests after the brokers are back');
        const log = earlierLogs.join('') + c.ingest.log();
        assert.match(log, /spool: \d+ segments \(\d+ bytes\) left in/, 'a restart found the spool of the killed run');
        await c.stopIngest();
      }),
  );
}

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}with [spool], SIGTERM during an outage exits 0 and keeps the spool, which the next run sends`, { timeout: 300000 }, (t) =>
    spoolCase(kafka, 'spoolterm', async (c) => {
      const { broker, dir } = c;
      const sets = { ...topicSets(broker), 'spool.dir': dir, 'kafka.connect_timeout': '1s' };
      c.ingest = await startIngest({ bootstrap: broker.bootstrap, sets });
      await c.setBrokers(false);
      c.flow = startFlow(c.ingest, { traces: 2, spans: 3, inflight: 2, intervalMs: 20, timeoutMs: 30000, tag: 'spoolterm' });
      await waitAcked(c.flow, 20, 60000);
      // Requests stop before ingest does, so every acknowledged one was spooled by this run.
      const res = await c.flow.stop();
      c.flow = null;
      await c.stopIngest();
      const kept = segments(dir);
      const keptBytes = kept.reduce((a, n) => a + fs.statSync(path.join(dir, n)).size, 0);
      assert.ok(kept.length > 0, 'SIGTERM left nothing in the spool');

      await c.setBrokers(true);
      c.ingest = await startIngest({ bootstrap: broker.bootstrap, sets });
      await waitFor(`the spool in ${dir} drained (left: ${segments(dir).join(', ')})`, () => segments(dir).length === 0, 120000);
      const { acc, readNote } = await readAcked(broker.bootstrap, broker.topics.traces, res.acked);
      t.diagnostic(
        `spool SIGTERM (${kafka}): ${res.ok} requests acknowledged during the outage (${acc.acked} spans), ` +
          `${kept.length} segments (${keptBytes} bytes) kept on disk; in the topic after the restart: ${acc.delivered} of them, ` +
          `lost ${acc.lost}, duplicates ${acc.duplicates} (${readNote})`,
      );
      assert.equal(acc.lost, 0, `acknowledged spans missing from the topic, e.g. ${acc.missingExamples.join(', ')}`);
      await c.stopIngest();
    }),
  );
}

// A kotel-ingest that starts while every broker is down has only the bootstrap list: it must
// still notice the cluster coming back and send what it spooled, without a restart.
for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}with [spool], ingest started while every broker is down drains its spool once they are back`, { timeout: 300000 }, (t) =>
    spoolCase(kafka, 'spoolcold', async (c) => {
      const { broker, dir } = c;
      const sets = { ...topicSets(broker), 'spool.dir': dir, 'kafka.required_acks': 'all', 'kafka.connect_timeout': '1s' };
      await c.setBrokers(false);
      c.ingest = await startIngest({ bootstrap: broker.bootstrap, sets });
      c.flow = startFlow(c.ingest, { traces: 2, spans: 3, inflight: 2, intervalMs: 20, timeoutMs: 30000, tag: 'spoolcold' });
      await waitAcked(c.flow, 20, 60000);
      const res = await c.flow.stop();
      c.flow = null;
      await waitFor('the outage spooled something', () => segments(dir).length > 0, 30000);
      assert.match(c.ingest.log(), /all brokers down/, 'ingest did not see the outage');

      await c.setBrokers(true);
      const t0 = Date.now();
      await waitFor(`the spool in ${dir} drained (left: ${segments(dir).join(', ')})`, () => segments(dir).length === 0, 120000);
      const drainedMs = Date.now() - t0;
      const { acc, readNote } = await readAcked(broker.bootstrap, broker.topics.traces, res.acked);
      t.diagnostic(
        `spool cold start (${kafka}): ${res.ok} requests acknowledged during the outage (${acc.acked} spans), ` +
          `drained ${drainedMs} ms after the brokers were started; in the topic: ${acc.delivered} of them, ` +
          `lost ${acc.lost}, duplicates ${acc.duplicates} (${readNote})`,
      );
      assert.equal(acc.lost, 0, `acknowledged spans missing from the topic, e.g. ${acc.missingExamples.join(', ')}`);
      assert.match(c.ingest.log(), /kafka: (broker .* is up|message delivered); sending to Kafka again/, 'ingest did not say Kafka is back');
      await c.stopIngest();
    }),
  );
}
