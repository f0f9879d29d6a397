'use strict';
// kotel-process's [admin] endpoint: /metrics passes `promtool check metrics` (Prometheus' own
// checker) and its counters match the traffic the test sent through kotel-ingest and what
// the backend received (items consumed, filtered, sampled per policy, exported; the lag
// drops to 0); /healthz answers; /readyz is ready with partitions and a backend, 503 with the
// backend's error while it is down and ready again once it is back, and 503 naming the
// partition count for a replica the group leaves without partitions.

const { test } = require('node:test');
const assert = require('node:assert/strict');

const { withStack, adminPortOf } = require('./lib/procs');
const { startProcess, processSets, newGroup } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { sendShapedTraces } = require('./lib/traffic');
const { sendLogs, EXPORT_SUCCESS } = require('./lib/sdk');
const { KAFKAS, kafkaLabel } = require('./lib/realkafka');
const { get, promtoolCheck, sample, until } = require('./lib/metrics');

// librdkafka's statistics (the lag) every 500 ms instead of every 5 s, so the test waits less.
const FAST_STATS = { 'kafka.rdkafka.statistics.interval.ms': '500' };

// Every sample of the family name: [{ labels: 'a="b",...', value }].
function samples(text, name) {
  const re = new RegExp(`^${name}(?:\\{(.*)\\})? (\\S+)$`);
  return text
    .split('\n')
    .map((l) => re.exec(l))
    .filter(Boolean)
    .map((m) => ({ labels: m[1] || '', value: Number(m[2]) }));
}


for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}/metrics: promtool accepts it and its counters match the traffic; /healthz; /readyz follows the backend`, { timeout: 240000 }, async () => {
    await withStack({ kafka }, async ({ broker, ingest }) => {
      let backend = await startGrpcBackend();
      const proc = await startProcess({
        sets: processSets(broker, backend, {
          ...FAST_STATS,
          'filter.trace_conditions': 'span.name == "drop-me"',
          'tail_sampling.decision_wait': '500ms',
          'tail_sampling.policy.errors.type': 'status_code',
          'tail_sampling.policy.errors.status_codes': 'ERROR',
          'tail_sampling.policy.none.type': 'probabilistic',
          'tail_sampling.policy.none.sampling_percentage': '0',
        }),
      });
      try {
        const port = await adminPortOf(proc);
        const h = await get(port, '/healthz');
        assert.equal(h.status, 200);
        assert.deepEqual(JSON.parse(h.text), { status: 'ok' });
        await proc.waitLog(/assigned [1-9]\d* partitions/, 60000, 'partition assignment');
        const ready = await until('/readyz 200 once partitions are assigned', async () => {
          const r = await get(port, '/readyz');
          return { ok: r.status === 200, why: r.text, r };
        });
        assert.deepEqual(JSON.parse(ready.r.text), { ready: true });

        // 40 traces of 5 spans: a root, 3 children and one span the filter drops; every 4th
        // trace holds an error span, which the "errors" policy samples.
        const { traces } = await sendShapedTraces(ingest, { traces: 40, children: 3, isError: (i) => i % 4 === 0, dropName: 'drop-me' });
        const logs = await sendLogs(ingest, 'grpc', { count: 30 });
        for (const r of logs.results) assert.equal(r.code, EXPORT_SUCCESS, String(r.error));
        const errorTraces = [...traces.values()].filter((t) => t.error).length;
        assert.equal(errorTraces, 10);

        const m = await until('every item consumed, decided and exported', async () => {
          const t = (await get(port, '/metrics')).text;
          const ok =
            sample(t, 'kotel_process_items_consumed_total', 'signal="traces"') === 200 &&
            sample(t, 'kotel_process_items_consumed_total', 'signal="logs"') === 30 &&
            sample(t, 'kotel_process_tail_sampling_traces_total', 'decision="sampled"') + sample(t, 'kotel_process_tail_sampling_traces_total', 'decision="not_sampled"') === 40 &&
            sample(t, 'kotel_process_exported_items_total', 'signal="traces"') === 40 &&
            sample(t, 'kotel_process_exported_items_total', 'signal="logs"') === 30;
          return { ok, why: t.split('\n').filter((l) => /^kotel_process_(items_consumed|exported_items|tail_sampling_traces)_total/.test(l)).join('; '), t };
        }, 60000);
        const t = m.t;
        await promtoolCheck(t);
        assert.equal(sample(t, 'kotel_build_info', 'tier="process",version="0.1.0"'), 1);
        assert.equal(backend.rec.spans.length, 40, 'the backend got the 10 error traces, 4 spans each');
        assert.equal(backend.rec.logs.length, 30);
        assert.equal(sample(t, 'kotel_process_items_consumed_total', 'signal="metrics"'), 0);
        assert.equal(sample(t, 'kotel_process_items_filtered_total', 'signal="traces"'), 40);
        assert.equal(sample(t, 'kotel_process_items_filtered_total', 'signal="logs"'), 0);
        assert.equal(sample(t, 'kotel_process_items_submitted_total', 'signal="traces"'), 40);
        assert.ok(sample(t, 'kotel_process_messages_consumed_total', 'signal="traces"') >= 1);
        assert.ok(sample(t, 'kotel_process_messages_consumed_total', 'signal="logs"') >= 1);
        assert.equal(sample(t, 'kotel_process_poison_messages_total', 'signal="traces"'), 0);
        assert.equal(sample(t, 'kotel_process_transform_errors_total', 'signal="traces"'), 0);
        assert.equal(sample(t, 'kotel_process_tail_sampling_traces_total', 'decision="sampled"'), errorTraces);
        assert.equal(sample(t, 'kotel_process_tail_sampling_policy_decisions_total', 'policy="errors",decision="sampled"'), errorTraces);
        assert.equal(sample(t, 'kotel_process_tail_sampling_policy_decisions_total', 'policy="errors",decision="not_sampled"'), 40 - errorTraces);
        assert.equal(sample(t, 'kotel_process_tail_sampling_policy_decisions_total', 'policy="none",decision="sampled"'), 0);
        assert.equal(sample(t, 'kotel_process_tail_sampling_policy_decisions_total', 'policy="none",decision="not_sampled"'), 40);
        assert.equal(sample(t, 'kotel_process_tail_sampling_traces_pending'), 0);
        const okTraces = sample(t, 'kotel_process_export_requests_total', 'signal="traces",outcome="ok"');
        assert.ok(okTraces >= 1);
        assert.equal(sample(t, 'kotel_process_export_duration_seconds_count', 'signal="traces"'), okTraces, 'one latency observation per attempt');
        assert.equal(sample(t, 'kotel_process_export_requests_total', 'signal="traces",outcome="retried"'), 0);
        assert.equal(sample(t, 'kotel_process_export_failed_items_total', 'signal="traces",reason="refused"'), 0);
        assert.equal(sample(t, 'kotel_process_backend_up'), 1);
        assert.equal(sample(t, 'kotel_process_ready'), 1);
        assert.ok(sample(t, 'process_resident_memory_bytes') > 1e6);
        assert.ok(sample(t, 'process_open_fds') > 3);

        // Every partition of the three topics is assigned to this one replica, and once what
        // was consumed is committed its lag (from librdkafka's statistics) is 0.
        const assigned = samples(t, 'kotel_process_kafka_partitions_assigned');
        assert.equal(assigned.length, 3, 'one sample per topic');
        const nParts = assigned.reduce((n, s) => n + s.value, 0);
        assert.equal(nParts, 12, 'the test topics have 4 partitions each');
        await until('a lag of 0 on every assigned partition', async () => {
          const lag = samples((await get(port, '/metrics')).text, 'kotel_process_kafka_consumer_lag');
          return { ok: lag.length === nParts && lag.every((s) => s.value === 0), why: JSON.stringify(lag) };
        });

        // Backend down: not ready, with its error, once an export fails to connect; retried.
        const backendPort = backend.port;
        await backend.stop();
        await sendShapedTraces(ingest, { traces: 4, children: 1, isError: () => true });
        const down = await until('/readyz 503 with the backend down', async () => {
          const r = await get(port, '/readyz');
          return { ok: r.status === 503, why: r.text, r };
        });
        const why = JSON.parse(down.r.text);
        assert.equal(why.ready, false);
        assert.match(why.reason, new RegExp(`backend http://127\\.0\\.0\\.1:${backendPort} not reachable: .+`));
        const m2 = (await get(port, '/metrics')).text;
        await promtoolCheck(m2);
        assert.equal(sample(m2, 'kotel_process_backend_up'), 0);
        assert.equal(sample(m2, 'kotel_process_ready'), 0);
        assert.ok(sample(m2, 'kotel_process_export_requests_total', 'signal="traces",outcome="retried"') >= 1);

        // Back on the same port: the retried export goes through and /readyz is 200 again.
        backend = await startGrpcBackend({ port: backendPort });
        await until('/readyz 200 with the backend back', async () => ({ ok: (await get(port, '/readyz')).status === 200 }), 60000);
        // The backend records a request before kotel-process reads its answer: wait for the count.
        const m3 = await until('the 4 traces held while the backend was down exported', async () => {
          const t3 = (await get(port, '/metrics')).text;
          return { ok: sample(t3, 'kotel_process_exported_items_total', 'signal="traces"') === 48, why: t3.split('\n').filter((l) => l.startsWith('kotel_process_exported_items_total')).join('; '), t: t3 };
        });
        assert.equal(backend.rec.spans.length, 8, 'their 8 spans, once each');
        assert.equal(sample(m3.t, 'kotel_process_backend_up'), 1);
      } finally {
        const e = await proc.stop();
        await backend.stop();
        assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}\n${proc.log().slice(-3000)}`);
      }
    });
  });
}

test('/readyz: a replica the group leaves without partitions says so, with the partition count', { timeout: 120000 }, async () => {
  await withStack({ broker: { partitions: 1 } }, async ({ broker }) => {
    const backend = await startGrpcBackend();
    const group = newGroup('admin');
    // Traces only: one topic of one partition for two replicas.
    const sets = processSets(broker, backend, { ...FAST_STATS, 'kafka.group_id': group, 'kafka.metrics_topic': '', 'kafka.logs_topic': '' });
    const a = await startProcess({ sets, name: 'replica-A' });
    let b;
    try {
      await a.waitLog(/assigned 1 partitions/, 60000, 'replica A assignment');
      b = await startProcess({ sets, name: 'replica-B' });
      const ports = [await adminPortOf(a), await adminPortOf(b)];
      // The partition stays with A (cooperative-sticky), so B gets none; either way exactly
      // one replica is ready and the other names the one partition it did not get.
      const res = await until('one replica ready, the other not', async () => {
        const r = await Promise.all(ports.map((p) => get(p, '/readyz')));
        const statuses = r.map((x) => x.status).sort();
        const idle = r.find((x) => x.status === 503);
        const ok = statuses[0] === 200 && statuses[1] === 503 && /of the 1 partition of/.test(idle.text);
        return { ok, why: r.map((x) => `${x.status} ${x.text}`).join(' | '), r };
      }, 60000);
      const idle = JSON.parse(res.r.find((x) => x.status === 503).text);
      assert.equal(idle.ready, false);
      assert.match(idle.reason, new RegExp(`^no partitions assigned: consumer group "${group}" gives this member none of the 1 partition of its topics \\(the group has more members than the topics have partitions\\?\\)$`));
      const metrics = await Promise.all(ports.map(async (p) => (await get(p, '/metrics')).text));
      const owned = metrics.map((t) => sample(t, 'kotel_process_kafka_partitions_assigned', `topic="${broker.topics.traces}"`)).sort();
      assert.deepEqual(owned, [0, 1]);
      for (const t of metrics) await promtoolCheck(t);
    } finally {
      const results = [await a.stop()];
      if (b) results.push(await b.stop());
      await backend.stop();
      for (const e of results) assert.equal(e.code, 0, `kotel-process exit: ${JSON.stringify(e)}`);
    }
  });
});
