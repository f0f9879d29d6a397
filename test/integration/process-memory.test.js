'use strict';
// [limits] memory in kotel-process: a topic holding several times the budget, read by a
// replica whose tail sampler would hold all of it (decision_wait longer than reading it),
// stays under the budget in peak RSS (VmHWM, measured, not accounted), decides the oldest
// traces early instead, and delivers every span. On real Kafka (the devbroker keeps too
// little per partition). Under ASan the RSS bound is not checked (the sanitizer's shadow
// memory and quarantine dwarf it), everything else is.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { withStack, BUILD } = require('./lib/procs');
const { startProcess, processSets } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { encode, types } = require('./lib/otlp');
const { httpRequest, newTraceId, newSpanId } = require('./lib/clients');
const { realKafkaEnabled } = require('./lib/realkafka');

const LIMIT_MIB = 64;
const REQUESTS = 320;
const TRACES_PER_REQUEST = 50;
const SPANS_PER_TRACE = 5;
const PAD = 'x'.repeat(1000); // about 1.1 KB per span: REQUESTS x 250 spans, about 90 MB
const ASAN = /asan/.test(BUILD);

function vmHwmMiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) / 1024;
}

test(`real Kafka: [limits] memory = ${LIMIT_MIB}MiB keeps kotel-process under it while the sampler could hold 90 MB, and delivers every span`, { skip: !realKafkaEnabled() && 'needs real Kafka', timeout: 300000 }, async (t) => {
  await withStack({ kafka: 'real', broker: { partitions: 8, tag: 'mem' } }, async ({ broker, ingest }) => {
    let bytes = 0;
    for (let r = 0; r < REQUESTS; r++) {
      const spans = [];
      for (let i = 0; i < TRACES_PER_REQUEST; i++) {
        const traceId = Buffer.from(newTraceId(), 'hex');
        for (let s = 0; s < SPANS_PER_TRACE; s++) {
          spans.push({ traceId, spanId: Buffer.from(newSpanId(), 'hex'), name: `op-${s}`, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000001000000', attributes: [{ key: 'pad', value: { stringValue: PAD } }] });
        }
      }
      const body = encode(types.ExportTraceServiceRequest, { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'mem' } }] }, scopeSpans: [{ spans }] }] });
      bytes += body.length;
      const res = await httpRequest(`${ingest.httpUrl}/v1/traces`, { headers: { 'content-type': 'application/x-protobuf' }, body, timeoutMs: 60000 });
      assert.equal(res.status, 200, `request ${r}: HTTP ${res.status}`);
    }
    const total = REQUESTS * TRACES_PER_REQUEST * SPANS_PER_TRACE;
    t.diagnostic(`${(bytes / 1048576).toFixed(1)} MiB of traces in the topic, ${total} spans`);

    const backend = await startGrpcBackend();
    const proc = await startProcess({
      sets: processSets(broker, backend, {
        'limits.memory': `${LIMIT_MIB}MiB`,
        'tail_sampling.decision_wait': '30s',
        'tail_sampling.num_traces': '1000000',
        'tail_sampling.policy.all.type': 'always_sample',
      }),
    });
    try {
      // What the budget did not let the sampler hold was decided early; the rest follows
      // after decision_wait.
      await backend.rec.until(() => backend.rec.spans.length >= total, 240000, 'every span');
      const hwm = vmHwmMiB(proc.pid);
      t.diagnostic(`kotel-process peak RSS ${hwm.toFixed(1)} MiB with [limits] memory = ${LIMIT_MIB} MiB${ASAN ? ' (ASan: not checked)' : ''}`);
      const e = await proc.stop();
      assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
      const ids = new Set(backend.rec.spans.map((s) => s.spanId));
      assert.equal(ids.size, total, 'every span delivered');
      assert.match(proc.log(), /[1-9]\d* early/, 'traces were decided early to stay in the budget');
      if (!ASAN) assert.ok(hwm < LIMIT_MIB, `peak RSS ${hwm.toFixed(1)} MiB over [limits] memory ${LIMIT_MIB} MiB`);
    } finally {
      await proc.stop();
      await backend.stop();
    }
  });
});
