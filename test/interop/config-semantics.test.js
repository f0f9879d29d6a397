'use strict';
// Interop 5: the same configuration semantics. A filter, a transform and tail sampling
// with four policies (status_code, latency, string_attribute, probabilistic), written in
// the Collector's YAML (test/otelcol/semantics-process.yaml) and in kotel's INI
// (test/otelcol/semantics-process.ini), fed the same telemetrygen traffic from one topic
// (each in its own consumer group): the same traces arrive, every span with the same
// attributes. A third consumer runs what `kotel-config import` makes of the YAML (its filter,
// transform and tail-sampling sections): the round trip keeps the same traces and attributes.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { withStack, REPO, binary } = require('../integration/lib/procs');
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

// The processing sections (filter, transform, tail sampling) of what kotel-config import makes
// of the Collector's YAML, in a file of their own; the rest (brokers, topics, backend) the test
// sets as for the hand-written INI.
function importedIni() {
  const yaml = path.join(REPO, 'test/otelcol/semantics-process.yaml');
  const r = spawnSync(binary('kotel-config'), ['import', '--tier', 'process', yaml], { encoding: 'utf8', timeout: 30000 });
  // 3: something was not carried over; only the settings the test sets itself may be.
  assert.ok(r.status === 0 || r.status === 3, `kotel-config import exit ${r.status}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /processors\./, `every processor setting carried over:\n${r.stderr}`);
  const keep = [];
  let on = false;
  for (const line of r.stdout.split('\n')) {
    const m = /^\[([^\]]+)\]/.exec(line);
    if (m) on = /^(filter|transform|tail_sampling)(\.|$)/.test(m[1]);
    if (on) keep.push(line);
  }
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-semantics-')), 'imported.ini');
  fs.writeFileSync(file, `${keep.join('\n')}\n`);
  return file;
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
    const impBackend = await startGrpcBackend();
    let col;
    let proc;
    let imp;
    try {
      col = await startCollectorProcess(broker, colBackend, { group: newGroup('otelcol'), config: 'semantics-process.yaml' });
      proc = await startProcess({ extraArgs: ['-c', path.join(REPO, 'test/otelcol/semantics-process.ini')], sets: processSets(broker, kotBackend) });
      imp = await startProcess({ name: 'kotel-process-imported', extraArgs: ['-c', importedIni()], sets: processSets(broker, impBackend) });
      for (const b of [colBackend, kotBackend, impBackend]) {
        const arrived = () => new Set(b.rec.spans.map((s) => s.traceId));
        await b.rec.until(() => [...sentinels].every((id) => arrived().has(id)), 90000, 'the sentinel traces');
      }
      // Both drain what they decided when stopped: nothing is still on its way afterwards.
      await stopChecked(col, 'the Collector process tier');
      col = null;
      const e = await proc.stop();
      proc = null;
      assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}`);
      const ei = await imp.stop();
      imp = null;
      assert.equal(ei.code, 0, `kotel-process (imported configuration) exit: ${JSON.stringify(ei)}`);

      const got = { collector: byTrace(colBackend.rec.spans), kotel: byTrace(kotBackend.rec.spans), imported: byTrace(impBackend.rec.spans) };
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
      let compared = 0;
      for (const who of ['kotel', 'imported']) {
        const onlyCol = [...got.collector.keys()].filter((id) => !got[who].has(id));
        const onlyKot = [...got[who].keys()].filter((id) => !got.collector.has(id));
        assert.deepEqual({ onlyCollector: onlyCol.length, onlyKotel: onlyKot.length, examples: [...onlyCol, ...onlyKot].slice(0, 4) }, { onlyCollector: 0, onlyKotel: 0, examples: [] }, `${who}: the same traces kept`);
        for (const [id, cspans] of got.collector) {
          const kspans = got[who].get(id);
          assert.deepEqual([...kspans.keys()].sort(), [...cspans.keys()].sort(), `${who}: trace ${id}: the same spans`);
          for (const [sid, cs] of cspans) {
            const ks = kspans.get(sid);
            assert.equal(ks.name, cs.name, `${who}: span ${sid}: name`);
            assert.deepEqual(ks.attributes, cs.attributes, `${who}: span ${sid} (${cs.name}, ${cs.resource['service.name']}): attributes`);
            assert.deepEqual(ks.resource, cs.resource, `${who}: span ${sid}: resource attributes`);
            compared++;
          }
        }
      }
      t.diagnostic(`${compared} spans compared attribute by attribute (the hand-written and the imported INI against the Collector)`);
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
      if (imp) await imp.stop();
      await colBackend.stop();
      await kotBackend.stop();
      await impBackend.stop();
    }
  });
});
