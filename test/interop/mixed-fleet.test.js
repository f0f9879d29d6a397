'use strict';
// Interop 4: a mixed ingest fleet. The same traces, and data of the same resources, sent
// partly through a Collector ingest node and partly through kotel-ingest onto one set of
// topics land on the same partition with the same key, checked for every trace and every
// resource: a kotel-process replica (or a Collector) owning a partition sees whole traces,
// and a resource's data stays in order whichever node took it.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startKafka, startIngest, topicSets } = require('../integration/lib/procs');
const { encode, types } = require('../integration/lib/otlp');
const { httpRequest, newTraceId, newSpanId } = require('../integration/lib/clients');
const { realKafkaEnabled } = require('../integration/lib/realkafka');
const { startCollectorIngest, stopChecked } = require('./lib/otelcol');
const { waitTopicItems } = require('./lib/check');

const PARTITIONS = 6;
const TRACES = 300;
const RESOURCES = 40;
const str = (v) => ({ stringValue: v });
const int = (v) => ({ intValue: v });

// Resource attributes of every value type, nested ones included; `reversed` gives the same
// set in the opposite order (the key must not depend on it).
function resourceAttrs(i, via, reversed) {
  const list = [
    { key: 'res.id', value: int(i) },
    { key: 'service.name', value: str(`svc-${i % 7}`) },
    { key: 'host.flag', value: { boolValue: i % 2 === 0 } },
    { key: 'ratio', value: { doubleValue: i / 3 } },
    { key: 'nested', value: { kvlistValue: { values: [{ key: 'z', value: str(`z${i}`) }, { key: 'a', value: int(i * 7) }] } } },
    { key: 'tags', value: { arrayValue: { values: [str('t'), int(i % 5)] } } },
    { key: 'raw', value: { bytesValue: Buffer.from([i & 0xff, 0, 1]) } },
  ];
  if (reversed) list.reverse();
  return list;
}

async function post(node, signal, body) {
  const r = await httpRequest(`${node.httpUrl}/v1/${signal}`, { headers: { 'content-type': 'application/x-protobuf' }, body, timeoutMs: 60000 });
  assert.equal(r.status, 200, `${node.name} /v1/${signal}: HTTP ${r.status} ${r.body.toString().slice(0, 300)}`);
}

// The partitions and keys holding each group's items: Map id -> { partitions, keys, vias }.
function placement(msgs, idOf, viaOf) {
  const m = new Map();
  for (const msg of msgs) {
    for (const it of msg.items) {
      const id = idOf(it);
      if (!m.has(id)) m.set(id, { partitions: new Set(), keys: new Set(), vias: new Set() });
      const p = m.get(id);
      p.partitions.add(msg.partition);
      p.keys.add(msg.key === null ? 'null' : msg.key.toString('hex'));
      p.vias.add(viaOf(it));
    }
  }
  return m;
}

// Every group came through both nodes and sits on one partition under one key.
function assertAgreement(t, what, m, want) {
  assert.equal(m.size, want, `${what}: groups found`);
  const split = [...m].filter(([, p]) => p.vias.size !== 2);
  assert.deepEqual(split.map(([id]) => id).slice(0, 5), [], `${what}: every group came through both nodes`);
  const agree = [...m].filter(([, p]) => p.partitions.size === 1 && p.keys.size === 1).length;
  t.diagnostic(`${what}: ${agree}/${m.size} (${((100 * agree) / m.size).toFixed(1)} %) on one partition with one key, over ${new Set([...m.values()].flatMap((p) => [...p.partitions])).size} of ${PARTITIONS} partitions`);
  const bad = [...m].filter(([, p]) => p.partitions.size !== 1 || p.keys.size !== 1);
  assert.deepEqual(bad.slice(0, 3).map(([id, p]) => [id, [...p.partitions], [...p.keys]]), [], `${what}: groups split across partitions or keys`);
  const used = new Set([...m.values()].map((p) => [...p.partitions][0]));
  assert.ok(used.size > 1, `${what}: keys spread over more than one partition`);
}

test('real Kafka: mixed ingest fleet: every trace and every resource lands on one partition with one key, whichever node took it', { skip: !realKafkaEnabled() && 'needs real Kafka', timeout: 300000 }, async (t) => {
  const broker = await startKafka('real', { partitions: PARTITIONS, tag: 'mix' });
  const col = { name: 'the Collector', ...(await startCollectorIngest(broker)) };
  const kotel = {
    name: 'kotel-ingest',
    ...(await startIngest({
      bootstrap: broker.bootstrap,
      sets: { ...topicSets(broker), 'kafka.partition_metrics_by_resource_attributes': true, 'kafka.partition_logs_by_resource_attributes': true },
    })),
  };
  try {
    // Traces: spans 0-1 of every trace through the Collector, spans 2-3 through kotel.
    const ids = Array.from({ length: TRACES }, () => newTraceId());
    for (const [node, via, first] of [[col, 'collector', 0], [kotel, 'kotel', 2]]) {
      for (let b = 0; b < TRACES; b += 50) {
        const spans = [];
        for (const id of ids.slice(b, b + 50)) {
          for (let s = first; s < first + 2; s++) {
            spans.push({ traceId: Buffer.from(id, 'hex'), spanId: Buffer.from(newSpanId(), 'hex'), name: `span-${s}`, kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000001000000' });
          }
        }
        await post(node, 'traces', encode(types.ExportTraceServiceRequest, { resourceSpans: [{ resource: { attributes: [{ key: 'kotel.via', value: str(via) }] }, scopeSpans: [{ spans }] }] }));
      }
    }
    // Logs and metrics of RESOURCES resources, each through both nodes, its attributes in
    // another order on each.
    for (const [node, via, reversed] of [[col, 'collector', false], [kotel, 'kotel', true]]) {
      const resourceLogs = [];
      const resourceMetrics = [];
      for (let i = 0; i < RESOURCES; i++) {
        const resource = { attributes: resourceAttrs(i, via, reversed) };
        resourceLogs.push({ resource, scopeLogs: [{ logRecords: [{ timeUnixNano: '1700000000000000000', body: str(`log ${i}`), attributes: [{ key: 'via', value: str(via) }] }] }] });
        resourceMetrics.push({
          resource,
          scopeMetrics: [{ metrics: [{ name: 'mix.gauge', gauge: { dataPoints: [{ timeUnixNano: '1700000000000000000', asInt: i, attributes: [{ key: 'via', value: str(via) }] }] } }] }],
        });
      }
      await post(node, 'logs', encode(types.ExportLogsServiceRequest, { resourceLogs }));
      await post(node, 'metrics', encode(types.ExportMetricsServiceRequest, { resourceMetrics }));
    }

    const spans = await waitTopicItems(broker, 'traces', 'otlp_proto', TRACES * 4);
    const traces = placement(spans, (s) => s.traceId, (s) => s.resource['kotel.via']);
    for (const [id, p] of traces) assert.deepEqual([...p.keys], [Buffer.from(id).toString('hex')], `trace ${id} is keyed by its hex trace ID`);
    assertAgreement(t, 'traces', traces, TRACES);

    const logs = await waitTopicItems(broker, 'logs', 'otlp_proto', RESOURCES * 2);
    assertAgreement(t, 'log resources', placement(logs, (r) => r.resource['res.id'], (r) => r.attributes.via), RESOURCES);
    const points = await waitTopicItems(broker, 'metrics', 'otlp_proto', RESOURCES * 2);
    assertAgreement(t, 'metric resources', placement(points, (p) => p.resource['res.id'], (p) => p.attributes.via), RESOURCES);
  } finally {
    await stopChecked(col, 'the Collector ingest');
    const e = await kotel.stop();
    assert.equal(e.code, 0, `kotel-ingest exit: ${JSON.stringify(e)}`);
  }
});
