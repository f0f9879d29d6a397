'use strict';
// The chaos ledger: clients send spans, log records and data points, each with an identity
// of its own, over every OTLP transport through two kotel-ingest instances (one with a disk
// spool) into a 3-broker Apache Kafka cluster (replication factor 3, min.insync.replicas 2),
// three kotel-process replicas of one group read them, and two OTLP backends (gRPC and
// HTTP) record what arrives — while a seeded fault script (faults.js) kills, stops, freezes
// and refuses. At the end every fault is undone and the run waits until everything a client
// was told is accepted arrived, or settleMs passed. Nothing acknowledged may be missing.
//
//   node test/chaos/chaos.js [--seed N] [--spans N] [--faults N] [--rate SPANS_PER_S]
//                            [--outage-s N] [--settle-s N] [--json FILE]
// Uses the cluster of KT_KAFKA_ENV (scripts/kafka.sh's env file), or starts a private one.
// Prints the summary and writes it as JSON (default $KT_BUILD/chaos/summary.json); exits 1
// when anything acknowledged was lost or a fault could not be undone.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { BUILD } = require('../integration/lib/procs');
const { freePorts, sleep } = require('../integration/lib/ports');
const { realCluster, createTopics, kafkaSh } = require('../integration/lib/realkafka');
const { newGroup } = require('../integration/lib/kprocess');
const { startLedgerBackends } = require('./ledger-backend');
const { startClients } = require('./ledger-clients');
const { ingestInstance, processInstance } = require('./instances');
const { faultScript, brokerPids, netemNote } = require('./faults');

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const SIGNALS = ['traces', 'logs', 'metrics'];

function account(acked, seen) {
  let delivered = 0;
  const missing = [];
  for (const k of acked) {
    if (seen.has(k)) delivered++;
    else if (missing.length < 5) missing.push(k);
  }
  let duplicates = 0;
  let unexpected = 0;
  for (const [k, n] of seen) {
    duplicates += n - 1;
    if (!acked.has(k)) unexpected++;
  }
  return { acknowledged: acked.size, delivered, lost: acked.size - delivered, duplicates, unexpected, missingExamples: missing };
}

// Runs one chaos round. opts: seed, spans (at least this many sent), faults (at least this
// many injected), rate (spans/s), outageMs, settleMs, partitions, log(msg).
async function runChaos(opts = {}) {
  const o = {
    seed: Date.now() % 1000000007,
    spans: 1000000,
    faults: 50,
    rate: 2500,
    outageMs: 30000,
    settleMs: 300000,
    partitions: 6,
    scale: 1,
    log: (m) => process.stderr.write(`chaos: ${m}\n`),
    ...opts,
  };
  // Faults spread over the time the spans take to send, unless told otherwise.
  const meanGap = (o.spans / o.rate / Math.max(1, o.faults)) * 1000;
  o.gapMs = o.gapMs || [Math.round(0.4 * meanGap), Math.round(1.6 * meanGap)];
  const t0 = Date.now();
  const cluster = realCluster();
  const brokers = Array.from({ length: Number(cluster.KAFKA_BROKERS) || 3 }, (_, i) => i + 1);
  const topics = await createTopics({ partitions: o.partitions, replication: 3, tag: 'chaos' });
  const backends = await startLedgerBackends();
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-chaos-spool-'));
  const topicSets = { 'kafka.traces_topic': topics.traces, 'kafka.metrics_topic': topics.metrics, 'kafka.logs_topic': topics.logs };
  const ingestClientId = `chaos-ingest-${process.pid}`;
  const ingestSets = { 'kafka.brokers': cluster.PLAINTEXT, ...topicSets, 'kafka.client_id': ingestClientId, 'service.shutdown_timeout': '20s' };
  const [g1, h1, g2, h2] = await freePorts(4);
  const ingests = [
    ingestInstance('ingest-1', { grpc: g1, http: h1 }, ingestSets),
    ingestInstance('ingest-2', { grpc: g2, http: h2 }, { ...ingestSets, ...(o.spool ? { 'spool.dir': spoolDir } : {}) }),
  ];
  const group = newGroup('chaos');
  const replicaSets = (n) => ({
    'kafka.brokers': cluster.PLAINTEXT,
    ...topicSets,
    'kafka.group_id': group,
    'kafka.client_id': `chaos-replica-${n}`,
    'kafka.initial_offset': 'earliest',
    'kafka.session_timeout': '6s',
    'kafka.heartbeat_interval': '1s',
    // Replicas 1 and 3 export over gRPC, 2 over OTLP/HTTP protobuf, 4 over OTLP/HTTP JSON.
    'exporter.endpoint': n % 2 === 1 ? backends.grpcUrl : backends.httpUrl,
    'exporter.protocol': n % 2 === 1 ? 'grpc' : n === 2 ? 'http/protobuf' : 'http/json',
    'exporter.send_batch_timeout': '100ms',
    'exporter.retry.initial_interval': '200ms',
    'exporter.retry.max_interval': '2s',
    'tail_sampling.decision_wait': '1s',
    'tail_sampling.policy.all.type': 'always_sample',
    'service.shutdown_timeout': '20s',
  });
  const replicas = [1, 2, 3].map((n) => processInstance(`process-${n}`, replicaSets(n)));
  const extraReplica = processInstance('process-4', replicaSets(4));
  const all = [...ingests, ...replicas, extraReplica];
  const script = faultScript(
    { cluster: { dir: cluster.dir, brokers }, ingests, replicas, extraReplica, ingestClientId, ledger: backends.ledger, outageMs: o.outageMs, log: o.log },
    { seed: o.seed, total: o.faults, scale: o.scale, gapMs: o.gapMs },
  );
  o.log(`seed ${o.seed}: ${o.spans} spans at ${o.rate}/s, ${o.faults} faults, topics ${topics.traces} (${o.partitions} partitions), group ${group}`);
  const netem = netemNote();
  o.log(netem);
  let clients = null;
  let summary;
  try {
    for (const i of [...ingests, ...replicas]) await i.start();
    clients = startClients(ingests, { rate: o.rate });
    script.start();
    let lastReport = Date.now();
    while (clients.stats().sent.traces < o.spans || !script.done()) {
      await sleep(500);
      if (Date.now() - lastReport >= 15000) {
        lastReport = Date.now();
        const s = clients.stats();
        o.log(`${Math.round((Date.now() - t0) / 1000)} s: sent ${s.sent.traces} spans, acknowledged ${s.acked.traces}, ` +
          `faults ${script.injected()}, backend has ${backends.ledger.seen.traces.size} spans`);
      }
    }
    const sent = await clients.stop();
    clients = null;
    o.log(`sending stopped after ${Math.round((Date.now() - t0) / 1000)} s; undoing the faults in progress`);
    await script.stop();
    // Everything back: brokers up (a failed restart is retried here), every instance running.
    const up = new Set(brokerPids(cluster.dir).filter((n) => alive(n.pid)).map((n) => n.id));
    for (const id of brokers) {
      if (!up.has(id)) {
        o.log(`broker ${id} still down after the script: starting it`);
        await kafkaSh('start', id);
      }
    }
    for (const i of [...ingests, ...replicas]) if (!i.running()) await i.start();
    if (extraReplica.running()) await extraReplica.sigterm();
    backends.ledger.heal();

    const ledger = backends.ledger;
    const complete = () => SIGNALS.every((s) => [...sent.acked[s]].every((k) => ledger.seen[s].has(k)));
    const t1 = Date.now();
    let settled = false;
    while (!settled && Date.now() - t1 < o.settleMs) {
      settled = await ledger.until(() => false, 2000).then(complete);
    }
    const settleS = Math.round((Date.now() - t1) / 1000);
    const result = Object.fromEntries(SIGNALS.map((s) => [s, { sent: sent.sent[s], ...account(sent.acked[s], ledger.seen[s]) }]));
    for (const s of SIGNALS) result[s].duplicateRate = result[s].delivered ? +(result[s].duplicates / result[s].delivered).toFixed(6) : 0;
    summary = {
      seed: o.seed,
      durationS: Math.round((Date.now() - t0) / 1000),
      settleS,
      settled,
      spans: result.traces,
      logRecords: result.logs,
      dataPoints: result.metrics,
      requests: {
        sent: sent.requests,
        acknowledged: sent.okRequests,
        byTransport: sent.byTransport,
        refused: sent.refused,
        failed: sent.failed,
        itemsRefused: sent.refusedItems,
        itemsFailed: sent.failedItems,
      },
      faults: { injected: script.injected(), byKind: script.counts },
      backend: { requests: ledger.requests, refusedOrHeld: ledger.refusedRequests },
      restarts: Object.fromEntries(all.map((i) => [i.name, i.exits.length])),
      spool: !!o.spool,
      networkSlowdown: netem,
      anomalies: script.anomalies,
    };
  } finally {
    if (clients) await clients.stop();
    await script.stop();
    for (const i of all) if (i.running()) await i.sigterm(30000).catch(() => {});
    await backends.stop();
    fs.rmSync(spoolDir, { recursive: true, force: true });
  }
  return { summary, logs: Object.fromEntries(all.map((i) => [i.name, i.log()])) };
}

function printSummary(s, out = process.stdout) {
  const line = (name, r) =>
    `  ${name.padEnd(12)} sent ${r.sent}, acknowledged ${r.acknowledged}, delivered ${r.delivered}, LOST ${r.lost}, ` +
    `duplicated ${r.duplicates} (${(r.duplicateRate * 100).toFixed(3)} %), unexpected ${r.unexpected}`;
  out.write(
    [
      `chaos ledger (seed ${s.seed}, ${s.durationS} s, settled ${s.settled ? `in ${s.settleS} s` : `NOT within ${s.settleS} s`}):`,
      line('spans', s.spans),
      line('log records', s.logRecords),
      line('data points', s.dataPoints),
      `  requests     ${s.requests.sent} sent, ${s.requests.acknowledged} acknowledged, by transport ${JSON.stringify(s.requests.byTransport)}`,
      `  refused      ${s.requests.itemsRefused} items (the client was told to retry): ${JSON.stringify(s.requests.refused)}`,
      `  failed       ${s.requests.itemsFailed} items (no answer: instance down, deadline): ${JSON.stringify(s.requests.failed)}`,
      `  faults       ${s.faults.injected} injected: ${Object.entries(s.faults.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}`,
      `  backend      ${s.backend.requests} requests recorded, ${s.backend.refusedOrHeld} refused or held`,
      `  spool        ${s.spool ? 'on ingest-2' : 'off'}`,
      `  netem        ${s.networkSlowdown}`,
      `  anomalies    ${s.anomalies.length ? s.anomalies.join('; ') : 'none'}`,
      '',
    ].join('\n'),
  );
}

function parseArgs(argv) {
  const o = {};
  const num = (v, name) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} wants a number, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    switch (k) {
      case '--seed': o.seed = num(v, k); break;
      case '--spans': o.spans = num(v, k); break;
      case '--faults': o.faults = num(v, k); break;
      case '--rate': o.rate = num(v, k); break;
      case '--outage-s': o.outageMs = num(v, k) * 1000; break;
      case '--settle-s': o.settleMs = num(v, k) * 1000; break;
      case '--json': o.json = v; break;
      case '--no-spool': o.spool = false; i--; break;
      default: throw new Error(`unknown argument '${k}' (see the header of test/chaos/chaos.js)`);
    }
    i++;
  }
  return o;
}

if (require.main === module) {
  (async () => {
    const o = { spool: true, ...parseArgs(process.argv.slice(2)) };
    const { summary } = await runChaos(o);
    printSummary(summary);
    const file = o.json || path.join(BUILD, 'chaos', 'summary.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(summary, null, 2) + '\n');
    process.stdout.write(`chaos: summary written to ${file}\n`);
    const lost = summary.spans.lost + summary.logRecords.lost + summary.dataPoints.lost;
    process.exit(lost === 0 && summary.settled && summary.anomalies.length === 0 ? 0 : 1);
  })().catch((e) => {
    process.stderr.write(`chaos: ${e.stack || e}\n`);
    process.exit(2);
  });
}

module.exports = { runChaos, printSummary };
