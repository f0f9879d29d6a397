'use strict';
// Interop 5: the same configuration semantics. A filter, a transform and tail sampling
// with four policies (status_code, latency, string_attribute, probabilistic), written in
// the Collector's YAML (test/otelcol/semantics-process.yaml) and in kotel's INI
// (test/otelcol/semantics-process.ini), fed the same telemetrygen traffic from one topic
// (each in its own consumer group): the same traces arrive, every span with the same
// attributes.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const path = require('node:path');
const { withStack, REPO } = require('../integration/lib/procs');
const { startProcess, processSets, newGroup } = require('../integration/lib/kprocess');
const { startGrpcBackend } = require('../integration/lib/backend');
const { sendSentinels } = require('../integration/lib/traffic');
const { realKafkaEnabled } = require('../integration/lib/realkafka');
const { startCollectorProcess, stopChecked } = require('./lib/otelcol');
const { waitTopicItems } = require('./lib/check');

function telemetrygenPath() {
  return require('node:child_process').execFileSync(path.join(REPO, 'scripts/otelcol.sh'), ['telemetrygen'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

function telemetrygen(args) {
  return new Promise((resolve, reject) => {
    execFile(telemetrygenPath(), ['traces', ...args], { timeout: 120000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`telemetrygen ${args.join(' ')}: ${err.message}\n${stderr.slice(-3000)}`));
      else resolve();
    });
  });
}

// The runs: what each service's traces are, and how many (each trace: a root and 2 children).
const RUNS = [
  { service: 'svc-a', traces: 30, args: ['--status-code', 'Error'] }, // kept: errors
  { service: 'svc-b', traces: 30, args: ['--status-code', 'Ok', '--span-duration', '600ms'] }, // kept: slow
  { service: 'svc-c', traces: 30, args: ['--telemetry-attributes', 'tier="gold"'] }, // kept: gold, one child filtered
  { service: 'svc-d', traces: 300, args: [] }, // a probabilistic 25 %
];

function byTrace(spans) {
  const m = new Map();
  for (const s of spans) {
    if (!m.has(s.traceId)) m.set(s.traceId, new Map());
    m.get(s.traceId).set(s.spanId, s);
  }
  return m;
}

test('real Kafka: one filter/transform/tail-sampling configuration in the Collector\'s YAML and kotel\'s INI keeps the same traces with the same attributes', { skip: !realKafkaEnabled() && 'needs real Kafka', timeout: 300000 }, async (t) => {
  await withStack({ kafka: 'real', broker: { partitions: 4, tag: 'sem' } }, async ({ broker, ingest }) => {
    for (const r of RUNS) {
      await telemetrygen(['--otlp-endpoint', `127.0.0.1:${ingest.grpcPort}`, '--otlp-insecure', '--rate', '0', '--workers', '1', '--child-spans', '2', '--traces', String(r.traces), '--service', r.service, ...r.args]);
    }
    const total = RUNS.reduce((a, r) => a + 3 * r.traces, 0);
    await waitTopicItems(broker, 'traces', 'otlp_proto', total);
    const sentinels = await sendSentinels(ingest, broker);

    const colBackend = await startGrpcBackend();
    const kotBackend = await startGrpcBackend();
    let col;
    let proc;
    try {
      col = await startCollectorProcess(broker, colBackend, { group: newGroup('otelcol'), config: 'semantics-process.yaml' });
      proc = await startProcess({ extraArgs: ['-c', path.join(REPO, 'test/otelcol/semantics-process.ini')], sets: processSets(broker, kotBackend) });
      for (const b of [colBackend, kotBackend]) {
        const arrived = () => new Set(b.rec.spans.map((s) => s.traceId));
        await b.rec.until(() => [...sentinels].every((id) => arrived().has(id)), 90000, 'the sentinel traces');
      }
      // Both drain what they decided when stopped: nothing is still on its way afterwards.
      await stopChecked(col, 'the Collector process tier');
      col = null;
      const e = await proc.stop();
      proc = null;
      assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}`);

      const got = { collector: byTrace(colBackend.rec.spans), kotel: byTrace(kotBackend.rec.spans) };
      for (const s of sentinels) for (const m of Object.values(got)) m.delete(s);
      const svc = (m, name) => [...m.values()].filter((spans) => [...spans.values()][0].resource['service.name'] === name).length;
      for (const [who, m] of Object.entries(got)) {
        t.diagnostic(`${who}: ${m.size} traces kept (svc-a ${svc(m, 'svc-a')}, svc-b ${svc(m, 'svc-b')}, svc-c ${svc(m, 'svc-c')}, svc-d ${svc(m, 'svc-d')} of ${RUNS[3].traces})`);
      }
      // What the policies must keep whatever the implementation.
      for (const [who, m] of Object.entries(got)) {
        for (const r of RUNS.slice(0, 3)) assert.equal(svc(m, r.service), r.traces, `${who}: every ${r.service} trace kept`);
        const d = svc(m, 'svc-d');
        assert.ok(d > 0 && d < RUNS[3].traces, `${who}: probabilistic 25 % kept ${d} of ${RUNS[3].traces}`);
      }
      const onlyCol = [...got.collector.keys()].filter((id) => !got.kotel.has(id));
      const onlyKot = [...got.kotel.keys()].filter((id) => !got.collector.has(id));
      assert.deepEqual({ onlyCollector: onlyCol.length, onlyKotel: onlyKot.length, examples: [...onlyCol, ...onlyKot].slice(0, 4) }, { onlyCollector: 0, onlyKotel: 0, examples: [] }, 'the same traces kept');
      let compared = 0;
      for (const [id, cspans] of got.collector) {
        const kspans = got.kotel.get(id);
        assert.deepEqual([...kspans.keys()].sort(), [...cspans.keys()].sort(), `trace ${id}: the same spans`);
        for (const [sid, cs] of cspans) {
          const ks = kspans.get(sid);
          assert.equal(ks.name, cs.name, `span ${sid}: name`);
          assert.deepEqual(ks.attributes, cs.attributes, `span ${sid} (${cs.name}, ${cs.resource['service.name']}): attributes`);
          assert.deepEqual(ks.resource, cs.resource, `span ${sid}: resource attributes`);
          compared++;
        }
      }
      t.diagnostic(`${compared} spans compared attribute by attribute`);
      // Every statement had something to do (telemetrygen sets service.peer.name and
      // network.peer.address on every span).
      const sample = [...got.kotel.values()][0].values().next().value;
      assert.equal(sample.attributes['kotel.env'], 'prod', 'the transform ran');
      assert.match(sample.attributes['service.peer.name'], /^tg-/, 'replace_pattern rewrote service.peer.name');
      assert.equal(sample.attributes['network.peer.address'], undefined, 'delete_key removed network.peer.address');
      assert.equal(sample.attributes['kotel.service'], sample.resource['service.name'], 'set from a resource attribute');
    } finally {
      if (col) await col.stop();
      if (proc) await proc.stop();
      await colBackend.stop();
      await kotBackend.stop();
    }
  });
});
