'use strict';
// kotel-ingest -> Kafka (4 partitions) -> kotel-process -> an OTLP backend: filter,
// transform and tail sampling as an operator configures them, delivery to gRPC and HTTP
// backends, replicas sharing the partitions, and where a new group starts reading. The
// Kafka-facing claims run on the devbroker and on real Apache Kafka; the backend protocol
// tests on the devbroker only.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { withStack, adminPortOf } = require('./lib/procs');
const { startProcess, processSets, newGroup } = require('./lib/kprocess');
const { startGrpcBackend, startHttpBackend } = require('./lib/backend');
const { sendShapedTraces, sendSentinels } = require('./lib/traffic');
const { KAFKAS, kafkaLabel } = require('./lib/realkafka');
const { get, sample, until } = require('./lib/metrics');

// A replica owns partitions once it logs a non-empty assignment.
const ASSIGNED = /assigned [1-9]\d* partitions/;

// Groups the backend's spans by trace ID.
function byTrace(spans) {
  const m = new Map();
  for (const s of spans) {
    if (!m.has(s.traceId)) m.set(s.traceId, []);
    m.get(s.traceId).push(s);
  }
  return m;
}

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}filter, transform and tail sampling: only error traces arrive, whole, transformed, without filtered spans`, { timeout: 240000 }, async () => {
    await withStack({ kafka }, async ({ broker, ingest }) => {
      const backend = await startGrpcBackend();
      const proc = await startProcess({
        sets: processSets(broker, backend, {
          'filter.trace_conditions': 'span.name == "drop-me"',
          'transform.trace_statements': 'set(span.attributes["kotel.processed"], true)',
          'tail_sampling.decision_wait': '1s',
          'tail_sampling.policy.errors.type': 'status_code',
          'tail_sampling.policy.errors.status_codes': 'ERROR',
          'tail_sampling.policy.none.type': 'probabilistic',
          'tail_sampling.policy.none.sampling_percentage': '0',
        }),
      });
      try {
        const { traces } = await sendShapedTraces(ingest, { traces: 80, isError: (i) => i % 4 === 0, dropName: 'drop-me' });
        // Error traces sent after everything else, behind the data of every partition: once
        // they are exported, every earlier trace has been decided (lib/traffic.js).
        const sentinels = await sendSentinels(ingest, broker);
        const arrived = () => new Set(backend.rec.spans.map((s) => s.traceId));
        await backend.rec.until(() => [...sentinels].every((id) => arrived().has(id)), 60000, 'the sentinel traces');

        const got = byTrace(backend.rec.spans.filter((s) => !sentinels.has(s.traceId)));
        const wantIds = [...traces].filter(([, t]) => t.error).map(([id]) => id);
        assert.deepEqual([...got.keys()].sort(), wantIds.sort(), 'exactly the traces holding an error span arrive');
        for (const [id, spans] of got) {
          const t = traces.get(id);
          const seen = new Set(spans.map((s) => s.spanId));
          assert.deepEqual([...seen].sort(), [...t.spanIds].sort(), `trace ${id} arrives whole, without its filtered span`);
          assert.equal(spans.length, t.spanIds.size, `trace ${id}: no span twice`);
          for (const s of spans) {
            assert.notEqual(s.name, 'drop-me');
            assert.equal(s.attributes['kotel.processed'], true, `span ${s.spanId} carries the transform's attribute`);
          }
        }
      } finally {
        const e = await proc.stop();
        await backend.stop();
        assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
      }
    });
  });
}

// How much of a trace kotel-process decodes, and when its transform runs, depends on what
// the filter and the policies read. Every plan must give the same traces: one where the
// policies do not read what the transform writes (shallow decode, transform on sampled
// traces only), one where filter and policies read span attributes by key and the transform
// writes other keys, one where trace sizes count (the transform runs first), and one where
// a policy samples on the transform's own attribute.
for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}a transform the policies do not read runs on sampled traces only; one they read runs before sampling`, { timeout: 240000 }, async () => {
    await withStack({ kafka }, async ({ broker, ingest }) => {
      const { traces } = await sendShapedTraces(ingest, { traces: 60, isError: (i) => i % 3 === 0 });
      const sentinels = await sendSentinels(ingest, broker);
      const wantIds = [...traces].filter(([, t]) => t.error).map(([id]) => id).sort();
      const plans = [
        {
          // The transform only sets a literal: made on the sampled traces' bytes.
          plan: /traces: spans decoded without attributes, events or links; transform on sampled traces only, as they are exported, its span attribute edits made on the bytes\n/,
          sets: {
            'filter.trace_conditions': 'span.name == "drop-me"',
            'transform.trace_statements': 'set(span.attributes["kotel.processed"], true)',
            'tail_sampling.policy.errors.type': 'status_code',
            'tail_sampling.policy.errors.status_codes': 'ERROR',
          },
        },
        {
          // Span attributes named by key only: read from each span's bytes; the transform
          // changes keys no policy reads, so it still waits for the decision.
          plan: /traces: spans decoded without events or links, attributes read by key from their bytes; transform on sampled traces only, as they are exported, its span attribute edits made on the bytes\n/,
          sets: {
            'filter.trace_conditions': 'span.attributes["kotel.never"] == "set"',
            'transform.trace_statements': [
              'delete_key(span.attributes, "kotel.absent")',
              'set(span.attributes["kotel.processed"], true)',
            ],
            'tail_sampling.policy.errors.type': 'status_code',
            'tail_sampling.policy.errors.status_codes': 'ERROR',
            'tail_sampling.policy.svc.type': 'string_attribute',
            'tail_sampling.policy.svc.key': 'service.name',
            'tail_sampling.policy.svc.values': 'no-such-service',
          },
        },
        {
          // Trace sizes count in a decision: the transform, which changes them, runs first.
          plan: /traces: spans decoded in full\n/,
          sets: {
            'transform.trace_statements': 'set(span.attributes["kotel.processed"], true)',
            'tail_sampling.maximum_trace_size_bytes': '16MiB',
            'tail_sampling.policy.errors.type': 'status_code',
            'tail_sampling.policy.errors.status_codes': 'ERROR',
          },
        },
        {
          plan: /traces: spans decoded in full\n/,
          sets: {
            'transform.trace_statements': [
              'set(span.attributes["kotel.processed"], true)',
              'set(span.attributes["kotel.keep"], "yes") where span.status.code == STATUS_CODE_ERROR',
            ],
            'tail_sampling.policy.keep.type': 'string_attribute',
            'tail_sampling.policy.keep.key': 'kotel.keep',
            'tail_sampling.policy.keep.values': 'yes',
          },
        },
      ];
      for (const { plan, sets } of plans) {
        const backend = await startGrpcBackend();
        const proc = await startProcess({
          sets: processSets(broker, backend, {
            'tail_sampling.decision_wait': '500ms',
            'tail_sampling.policy.none.type': 'probabilistic',
            'tail_sampling.policy.none.sampling_percentage': '0',
            ...sets,
          }),
        });
        try {
          assert.match(proc.log(), plan);
          const arrived = () => new Set(backend.rec.spans.map((s) => s.traceId));
          await backend.rec.until(() => [...sentinels].every((id) => arrived().has(id)), 60000, 'the sentinel traces');
          const got = byTrace(backend.rec.spans.filter((s) => !sentinels.has(s.traceId)));
          assert.deepEqual([...got.keys()].sort(), wantIds, `${plan}: exactly the error traces arrive`);
          for (const [id, spans] of got) {
            assert.deepEqual(spans.map((s) => s.spanId).sort(), [...traces.get(id).spanIds].sort(), `trace ${id} arrives whole, once`);
            for (const s of spans) assert.equal(s.attributes['kotel.processed'], true, `span ${s.spanId} carries the transform's attribute`);
          }
        } finally {
          const e = await proc.stop();
          await backend.stop();
          assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
        }
      }
    });
  });
}

test('an HTTP/protobuf backend gets every span, gzip-compressed', { timeout: 120000 }, async () => {
  await withStack({}, async ({ broker, ingest }) => {
    const backend = await startHttpBackend();
    const proc = await startProcess({ sets: processSets(broker, backend, { 'exporter.protocol': 'http/protobuf' }) });
    try {
      const { traces } = await sendShapedTraces(ingest, { traces: 30 });
      const want = [...traces.values()].reduce((n, t) => n + t.spanIds.size, 0);
      await backend.rec.until(() => new Set(backend.rec.spans.map((s) => s.spanId)).size >= want, 60000, `${want} spans`);
      assert.ok(backend.rec.spans.every((s) => s.meta.encoding === 'gzip'), 'requests are gzip-compressed by default');
      assert.ok(backend.rec.spans.every((s) => s.meta.contentType.startsWith('application/x-protobuf')));
    } finally {
      const e = await proc.stop();
      await backend.stop();
      assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
    }
  });
});

test('an HTTP/JSON backend gets every span as OTLP/JSON', { timeout: 120000 }, async () => {
  await withStack({}, async ({ broker, ingest }) => {
    const backend = await startHttpBackend();
    const proc = await startProcess({ sets: processSets(broker, backend, { 'exporter.protocol': 'http/json', 'exporter.compression': 'none' }) });
    try {
      const { traces } = await sendShapedTraces(ingest, { traces: 20 });
      const want = [...traces.values()].reduce((n, t) => n + t.spanIds.size, 0);
      await backend.rec.until(() => new Set(backend.rec.spans.map((s) => s.spanId)).size >= want, 60000, `${want} spans`);
      assert.ok(backend.rec.spans.every((s) => s.meta.contentType.startsWith('application/json')));
      const ids = new Set(backend.rec.spans.map((s) => s.traceId));
      for (const id of traces.keys()) assert.ok(ids.has(id), `trace ${id} arrived`);
    } finally {
      const e = await proc.stop();
      await backend.stop();
      assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
    }
  });
});

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}two replicas in one group split the partitions; each trace arrives whole from one replica`, { timeout: 240000 }, async () => {
    await withStack({ kafka }, async ({ broker, ingest }) => {
      const backend = await startGrpcBackend();
      const group = newGroup();
      const sets = (name) =>
        processSets(broker, backend, {
          'kafka.group_id': group,
          // Traces only, so the group's 4 partitions are what the replicas share.
          'kafka.metrics_topic': '',
          'kafka.logs_topic': '',
          'transform.trace_statements': `set(span.attributes["kotel.replica"], "${name}")`,
          'tail_sampling.decision_wait': '500ms',
          'tail_sampling.policy.all.type': 'always_sample',
        });
      const a = await startProcess({ sets: sets('A'), name: 'replica-A' });
      let b;
      try {
        await a.waitLog(ASSIGNED, 60000, 'replica A assignment');
        b = await startProcess({ sets: sets('B'), name: 'replica-B' });
        await b.waitLog(ASSIGNED, 60000, 'replica B assignment');
        const { traces } = await sendShapedTraces(ingest, { traces: 120 });
        const want = [...traces.values()].reduce((n, t) => n + t.spanIds.size, 0);
        await backend.rec.until(() => new Set(backend.rec.spans.map((s) => s.spanId)).size >= want, 90000, `${want} spans`);
        const replicas = new Set(backend.rec.spans.map((s) => s.attributes['kotel.replica']));
        assert.deepEqual([...replicas].sort(), ['A', 'B'], 'both replicas export');
        for (const [id, spans] of byTrace(backend.rec.spans)) {
          const r = new Set(spans.map((s) => s.attributes['kotel.replica']));
          assert.equal(r.size, 1, `trace ${id} came from one replica, not ${[...r]}`);
          assert.equal(new Set(spans.map((s) => s.spanId)).size, traces.get(id).spanIds.size, `trace ${id} whole`);
        }
      } finally {
        const ea = await a.stop();
        const eb = b ? await b.stop() : { code: 0 };
        await backend.stop();
        assert.equal(ea.code, 0, `replica A exit ${JSON.stringify(ea)}\n${a.log().slice(-2000)}`);
        assert.equal(eb.code, 0, `replica B exit ${JSON.stringify(eb)}`);
      }
    });
  });
}

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}initial_offset: a new group with earliest drains the backlog; with latest it skips it`, { timeout: 180000 }, async () => {
    await withStack({ kafka }, async ({ broker, ingest }) => {
      const backend = await startGrpcBackend();
      const { traces: backlog } = await sendShapedTraces(ingest, { traces: 15, tag: 'backlog' });
      const early = await startProcess({ sets: processSets(broker, backend, { 'kafka.initial_offset': 'earliest', 'transform.trace_statements': 'set(span.attributes["kotel.group"], "earliest")' }) });
      const late = await startProcess({ sets: processSets(broker, backend, { 'kafka.initial_offset': 'latest', 'transform.trace_statements': 'set(span.attributes["kotel.group"], "latest")' }) });
      try {
        await late.waitLog(ASSIGNED, 60000, 'latest group assignment');
        // A transform of literal sets alone: the spans are edited as bytes, never decoded.
        assert.match(early.log(), /traces: \[transform\] only edits span attributes: made on the bytes, spans not decoded/);
        const backlogSpans = [...backlog.values()].reduce((n, t) => n + t.spanIds.size, 0);
        const fromEarly = () => backend.rec.spans.filter((s) => s.attributes['kotel.group'] === 'earliest');
        const fromLate = () => backend.rec.spans.filter((s) => s.attributes['kotel.group'] === 'latest');
        await backend.rec.until(() => fromEarly().length >= backlogSpans, 60000, 'the backlog through the earliest group');
        // A latest group takes its position when it first fetches, a moment after the
        // assignment: data sent before that moment is (rightly) skipped too. Send small rounds
        // until one reaches it.
        let reached = false;
        for (let round = 0; round < 20 && !reached; round++) {
          await sendShapedTraces(ingest, { traces: 2, tag: `fresh-${round}` });
          reached = await backend.rec.until(() => fromLate().length > 0, 3000, 'fresh data through the latest group').then(
            () => true,
            () => false,
          );
        }
        assert.ok(reached, 'data sent after the latest group started reaches it');
        const lateTraces = new Set(fromLate().map((s) => s.traceId));
        for (const id of backlog.keys()) assert.ok(!lateTraces.has(id), `latest group skipped backlog trace ${id}`);
      } finally {
        const e1 = await early.stop();
        const e2 = await late.stop();
        await backend.stop();
        assert.equal(e1.code, 0);
        assert.equal(e2.code, 0);
      }
    });
  });
}

// [tail_sampling] drop_pending_traces_on_shutdown: traces still waiting for their decision
// when a replica gets SIGTERM are handed over by default (their messages stay uncommitted and
// the group's next replica decides and exports them) or, set true, dropped and committed past
// as the Collector drops them (the next replica never sees them).
for (const kafka of KAFKAS) {
  for (const drop of [false, true]) {
    test(`${kafkaLabel(kafka)}drop_pending_traces_on_shutdown = ${drop}: traces pending at SIGTERM are ${drop ? 'dropped, their messages committed' : 'handed over to the next replica'}`, { timeout: 240000 }, async () => {
      await withStack({ kafka }, async ({ broker, ingest }) => {
        const backend = await startGrpcBackend();
        const group = newGroup('pending');
        const sets = (wait, extra = {}) =>
          processSets(broker, backend, {
            'kafka.group_id': group,
            'tail_sampling.decision_wait': wait,
            'tail_sampling.policy.all.type': 'always_sample',
            ...extra,
          });
        const a = await startProcess({ sets: sets('10m', { 'tail_sampling.drop_pending_traces_on_shutdown': String(drop) }) });
        let b = null;
        try {
          const port = await adminPortOf(a);
          const { traces } = await sendShapedTraces(ingest, { traces: 10, tag: 'pending' });
          await until('the first replica holds every trace', async () => {
            const n = sample((await get(port, '/metrics')).text, 'kotel_process_tail_sampling_traces_pending');
            return { ok: n === 10, why: `${n} traces pending` };
          }, 60000);
          const e = await a.stop();
          assert.equal(e.code, 0, `first replica exit: ${JSON.stringify(e)}\n${a.log().slice(-3000)}`);
          if (drop) assert.match(a.log(), /10 pending traces dropped undecided/);
          else assert.doesNotMatch(a.log(), /dropped undecided/);
          assert.equal(backend.rec.spans.length, 0, 'nothing is exported at shutdown');

          b = await startProcess({ sets: sets('500ms') });
          const sentinels = await sendSentinels(ingest, broker);
          const arrived = () => new Set(backend.rec.spans.map((s) => s.traceId));
          await backend.rec.until(() => [...sentinels].every((id) => arrived().has(id)), 60000, 'the sentinel traces');
          const got = arrived();
          for (const id of traces.keys()) {
            if (drop) assert.ok(!got.has(id), `trace ${id} was dropped at shutdown and committed: the next replica must not export it`);
            else assert.ok(got.has(id), `trace ${id} was pending at shutdown: the next replica must export it`);
          }
        } finally {
          if (b) {
            const e2 = await b.stop();
            assert.equal(e2.code, 0, `second replica exit: ${JSON.stringify(e2)}`);
          }
          await a.stop();
          await backend.stop();
        }
      });
    });
  }
}
