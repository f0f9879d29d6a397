'use strict';
// kotel-process --replay-from A --replay-to B (issue 13): spans written with explicit,
// distinct message timestamps into three partitions are first consumed by the configured
// group, then replayed by time. The backend must get exactly the spans of the messages with
// A <= timestamp < B (none outside, none twice), the replay must exit 0 by itself, the main
// group's committed offsets must not move, and the replay's own group must hold the end of
// each range, so that running the same replay again has nothing left; on a terminal (script(1))
// it draws a progress bar in place that reaches 100 %. Plus the option errors
// (exit 2, naming the option). A signal's topics as a list or a ^regex (with an exclusion)
// replay the window of each of their topics; a regex matching nothing is an error.
//
// librdkafka's mock cluster (the devbroker) answers no offset for any time, so the replay by
// time runs on real Kafka only; on the devbroker it is skipped with that reason.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { startKafka, runToExit, binary, describeExit, tail } = require('./lib/procs');
const { startGrpcBackend } = require('./lib/backend');
const { startProcess, processSets, newGroup } = require('./lib/kprocess');
const { KAFKAS, kafkaLabel, admin, replicationOf } = require('./lib/realkafka');
const { types, encode } = require('./lib/otlp');
const { newTraceId, newSpanId } = require('./lib/clients');

// Runs a tier to its exit on a terminal of its own (script(1) from util-linux gives it a pty);
// resolves { code, out: everything it wrote there }.
function onTerminal(name, sets, extra, timeoutMs) {
  const args = [...extra];
  for (const [k, v] of Object.entries(sets)) args.push('--set', `${k}=${v}`);
  const quote = (a) => `'${String(a).replace(/'/g, `'\\''`)}'`;
  const cmd = [binary(name), ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    execFile('script', ['-qfec', cmd, '/dev/null'], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout) => {
      resolve({ code: err ? (err.code ?? 1) : 0, out: stdout });
    });
  });
}

const PARTITIONS = 3;
const PER_PARTITION = 8;

// One message holding one span, produced to a partition with the timestamp ts (ms).
function produceAt(bootstrap, topic, partition, ts, name) {
  const body = encode(types.ExportTraceServiceRequest, {
    resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from(newTraceId(), 'hex'), spanId: Buffer.from(newSpanId(), 'hex'), name }] }] }],
  });
  return new Promise((resolve, reject) => {
    const args = ['-b', bootstrap, '-t', '20000', 'produce', topic, String(partition), String(ts)];
    const c = execFile(binary('kotel-kafka-admin'), args, { timeout: 30000 }, (err, _out, stderr) => (err ? reject(new Error(`kotel-kafka-admin ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve()));
    c.stdin.end(body);
  });
}

// The group's committed offsets as "topic partition offset" lines.
function committed(bootstrap, group) {
  return new Promise((resolve, reject) => {
    const args = ['-b', bootstrap, '-t', '20000', 'offsets', group];
    execFile(binary('kotel-kafka-admin'), args, { timeout: 30000 }, (err, out, stderr) => (err ? reject(new Error(`kotel-kafka-admin ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(out.split('\n').filter(Boolean))));
  });
}

const iso = (ms) => new Date(ms).toISOString();

// Writes PER_PARTITION spans into each partition of the traces topic, named
// replay-p<partition>-i<index>, at whole seconds a minute ago plus index s and partition
// tenths: distinct, in order within each partition, and too recent for retention. Resolves
// the messages ({ p, ts, name }) and their base time.
async function writeSpans(broker) {
  const base = Math.floor(Date.now() / 1000) * 1000 - 60000;
  const messages = [];
  for (let i = 0; i < PER_PARTITION; i++) {
    for (let p = 0; p < PARTITIONS; p++) {
      const m = { p, ts: base + i * 1000 + p * 100, name: `replay-p${p}-i${i}` };
      await produceAt(broker.bootstrap, broker.topics.traces, p, m.ts, m.name);
      messages.push(m);
    }
  }
  return { base, messages };
}

const SKIP_DEVBROKER = "librdkafka's mock cluster answers no offset for any time (offsets-for-times)";

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}--replay-from A --replay-to B exports exactly the messages with A <= timestamp < B and leaves the group's offsets alone`, { timeout: 180000, skip: kafka === 'devbroker' ? SKIP_DEVBROKER : false }, async () => {
    const broker = await startKafka(kafka, { partitions: PARTITIONS, tag: 'replay' });
    const backend = await startGrpcBackend();
    let main;
    try {
      const topic = broker.topics.traces;
      const { base, messages } = await writeSpans(broker);
      // The window starts between messages and ends at one (excluded) that is in partition 1
      // only, so every partition has a first and a last offset of its own.
      const from = base + 2500;
      const to = base + 6100;
      const want = messages.filter((m) => m.ts >= from && m.ts < to).map((m) => m.name).sort();
      assert.ok(want.length > 0 && want.length < messages.length, `the window holds some messages, not all: ${want}`);

      // The pipeline's own group reads everything first and commits.
      const sets = processSets(broker, backend, { 'kafka.group_id': newGroup('replay-main') });
      main = await startProcess({ sets });
      await backend.rec.until(() => backend.rec.spans.length >= messages.length, 60000, `${messages.length} spans`);
      const stopped = await main.stop();
      assert.deepEqual([stopped.code, stopped.signal], [0, null], `the main run exits 0 on SIGTERM: ${describeExit(stopped)}`);
      const mainBefore = await committed(broker.bootstrap, sets['kafka.group_id']);
      assert.deepEqual(mainBefore.filter((l) => l.startsWith(`${topic} `)), [...Array(PARTITIONS).keys()].map((p) => `${topic} ${p} ${PER_PARTITION}`), 'the main group committed every partition to its end');
      backend.rec.spans.length = 0;

      const args = ['--replay-from', iso(from), '--replay-to', iso(to)];
      const r = await runToExit('kotel-process', sets, 60000, args);
      const what = `kotel-process ${args.join(' ')}: ${describeExit(r)}\n${tail(r.log)}`;
      assert.deepEqual([r.code, r.signal], [0, null], `the replay exits 0 by itself: ${what}`);
      const got = backend.rec.spans.map((s) => s.name).sort();
      assert.deepEqual(got, want, `exactly the spans with ${iso(from)} <= timestamp < ${iso(to)}: ${what}`);
      assert.match(r.log, /replay finished: /, what);

      const group = /consumer group "([^"]+-replay-[^"]+)"/.exec(r.log);
      assert.ok(group, `the replay names its group: ${what}`);
      assert.equal(group[1], `${sets['kafka.group_id']}-replay-${iso(from).replace(/[-:]/g, '')}-${iso(to).replace(/[-:]/g, '')}`);
      assert.deepEqual(await committed(broker.bootstrap, sets['kafka.group_id']), mainBefore, "the main group's committed offsets did not change");
      // Each range ends before the first message at or after `to`: the index of that message.
      const ends = [...Array(PARTITIONS).keys()].map((p) => `${topic} ${p} ${messages.filter((m) => m.p === p && m.ts < to).length}`);
      assert.deepEqual((await committed(broker.bootstrap, group[1])).filter((l) => l.startsWith(`${topic} `)), ends, 'the replay group committed the end of each range');

      // Run again with the same times: the replay's group says everything is done.
      backend.rec.spans.length = 0;
      const again = await runToExit('kotel-process', sets, 60000, args);
      assert.deepEqual([again.code, again.signal], [0, null], `a repeated replay exits 0: ${describeExit(again)}\n${tail(again.log)}`);
      assert.match(again.log, /resuming: group "[^"]+" committed \d+ offsets/, tail(again.log));
      assert.match(again.log, / 0 messages, /, tail(again.log));
      assert.equal(backend.rec.spans.length, 0, 'nothing is exported twice');

      // On a terminal (script(1) gives it one): the progress bar, redrawn in place, ends at
      // 100 % once the window is read. The backend answers slowly so that the run outlasts
      // the bar's first drawing; a window ending 1 ms later is a group of its own.
      backend.rec.spans.length = 0;
      backend.rec.answerAfter(3000);
      const ttyArgs = ['--replay-from', iso(from), '--replay-to', iso(to + 1)];
      const tty = await onTerminal('kotel-process', sets, ttyArgs, 60000);
      backend.rec.answerAfter(0);
      const shown = tty.out.replace(/\r\n/g, '\n');
      assert.equal(tty.code, 0, `the replay on a terminal exits 0: ${tail(shown)}`);
      assert.match(shown, /\r\x1b\[Kreplay \[[#.]{20}\] \d+% /, `a progress bar redrawn in place: ${tail(shown)}`);
      assert.match(shown, /replay \[#{20}\] 100% /, `the bar reaches 100 %: ${tail(shown)}`);
      // [from, to + 1 ms) also holds the message at exactly `to`, the first one left out above.
      const wantTty = messages.filter((m) => m.ts >= from && m.ts <= to).map((m) => m.name).sort();
      assert.equal(wantTty.length, want.length + 1, 'one message at exactly the end of the window');
      assert.deepEqual(backend.rec.spans.map((s) => s.name).sort(), wantTty, 'the window on a terminal, to + 1 ms');
    } finally {
      if (main) await main.stop();
      await backend.stop();
      await broker.stop();
    }
  });
}

// Two partitions in each of the given topics, PER_PARTITION spans each, named
// <label>-p<partition>-i<index>, at base + index s + partition tenths + topic hundredths.
async function writeTopics(broker, topics) {
  const base = Math.floor(Date.now() / 1000) * 1000 - 60000;
  const messages = [];
  for (let i = 0; i < PER_PARTITION; i++) {
    for (const [k, { topic, label }] of topics.entries()) {
      for (let p = 0; p < 2; p++) {
        const m = { topic, p, ts: base + i * 1000 + p * 100 + k * 10, name: `${label}-p${p}-i${i}` };
        await produceAt(broker.bootstrap, topic, p, m.ts, m.name);
        messages.push(m);
      }
    }
  }
  return { base, messages };
}

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}a traces_topic list and a ^regex replay the window of each of their topics; a listed topic missing is skipped, an excluded one is not read`, { timeout: 180000, skip: kafka === 'devbroker' ? SKIP_DEVBROKER : false }, async () => {
    const broker = await startKafka(kafka, { partitions: 2, tag: 'replay-multi' });
    const backend = await startGrpcBackend();
    try {
      // <base>-spans and <base>-spans-b hold the window; <base>-spans-x also matches the
      // regex but is excluded.
      const a = broker.topics.traces;
      const b = `${a}-b`;
      const x = `${a}-x`;
      await admin(['create', b, x, '--partitions', '2', '--replication', String(replicationOf())]);
      const { base, messages } = await writeTopics(broker, [
        { topic: a, label: 'a' },
        { topic: b, label: 'b' },
        { topic: x, label: 'x' },
      ]);
      const from = base + 2500;
      const to = base + 6100;
      const inWindow = (m) => m.ts >= from && m.ts < to;
      const want = messages.filter((m) => inWindow(m) && m.topic !== x).map((m) => m.name).sort();
      assert.ok(want.some((n) => n.startsWith('a-')) && want.some((n) => n.startsWith('b-')), `both topics hold part of the window: ${want}`);
      assert.ok(messages.some((m) => inWindow(m) && m.topic === x), 'the excluded topic has messages in the window too');
      const args = ['--replay-from', iso(from), '--replay-to', iso(to)];
      const ends = (group) =>
        committed(broker.bootstrap, group).then((lines) => lines.filter((l) => l.startsWith(`${a} `) || l.startsWith(`${b} `)).sort());
      // Each range ends before the first message at or after `to`, in its own topic.
      const wantEnds = [a, b].flatMap((t) => [0, 1].map((p) => `${t} ${p} ${messages.filter((m) => m.topic === t && m.p === p && m.ts < to).length}`)).sort();

      const missing = `${a}-missing`;
      const cases = [
        ['list', { 'kafka.traces_topic': `${a},${missing},${b}` }],
        ['regex', { 'kafka.traces_topic': `^${a}`, 'kafka.traces_exclude_topics': x }],
      ];
      for (const [what, topicSet] of cases) {
        backend.rec.spans.length = 0;
        // Traces only, so that the counts below are those of the two topics.
        const only = { 'kafka.metrics_topic': '', 'kafka.logs_topic': '' };
        const sets = processSets(broker, backend, { 'kafka.group_id': newGroup(`replay-${what}`), ...only, ...topicSet });
        const r = await runToExit('kotel-process', sets, 60000, args);
        const says = `${what} ${topicSet['kafka.traces_topic']}: ${describeExit(r)}\n${tail(r.log)}`;
        assert.deepEqual([r.code, r.signal], [0, null], `the replay exits 0 by itself: ${says}`);
        assert.match(r.log, / in 4 partitions of 2 topics, /, says);
        for (const t of [a, b]) for (const p of [0, 1]) assert.match(r.log, new RegExp(`replay: ${t} \\[${p}\\]: offsets \\[\\d+, \\d+\\) done`), says);
        assert.deepEqual(backend.rec.spans.map((s) => s.name).sort(), want, `exactly the window of both topics: ${says}`);
        if (what === 'list') assert.match(r.log, new RegExp(`topic "${missing}" does not exist; nothing to replay there`), says);
        const group = /consumer group "([^"]+-replay-[^"]+)"/.exec(r.log);
        assert.ok(group, `the replay names its group: ${says}`);
        assert.deepEqual(await ends(group[1]), wantEnds, `the replay group committed the end of each range of each topic: ${says}`);
      }
    } finally {
      await backend.stop();
      await broker.stop();
    }
  });
}

// Needs only the cluster's topic list, so it runs on the devbroker too.
for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}a ^regex matching no topic stops the replay with an error naming the key and the regex`, { timeout: 60000 }, async () => {
    const broker = await startKafka(kafka, { partitions: 1, tag: 'replay-none' });
    const backend = await startGrpcBackend();
    try {
      const regex = `^kt-no-such-topic-${process.pid}`;
      const sets = processSets(broker, backend, { 'kafka.traces_topic': regex });
      const r = await runToExit('kotel-process', sets, 30000, ['--replay-from', iso(Date.now() - 60000)]);
      const says = `${describeExit(r)}\n${tail(r.log)}`;
      assert.deepEqual([r.code, r.signal], [1, null], says);
      assert.ok(r.log.includes(`replay: [kafka] traces_topic: the regex ${regex} matches no topic of the cluster`), says);
    } finally {
      await backend.stop();
      await broker.stop();
    }
  });
}

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}a replay stopped by SIGTERM exits 1 and, run again, goes on from the offsets its group committed`, { timeout: 180000, skip: kafka === 'devbroker' ? SKIP_DEVBROKER : false }, async () => {
    const broker = await startKafka(kafka, { partitions: PARTITIONS, tag: 'replay-resume' });
    const backend = await startGrpcBackend();
    let first;
    try {
      const { base, messages } = await writeSpans(broker);
      const from = base + 1500;
      const want = messages.filter((m) => m.ts >= from).map((m) => m.name).sort();
      // One span per request and few messages in flight; after the first export the backend
      // refuses, so the replay stalls with most of its window unread or unexported.
      backend.rec.onRecord = () => backend.rec.refuseFor(600000);
      const sets = processSets(broker, backend, { 'exporter.send_batch_size': '1', 'kafka.max_pending_messages': '2', 'service.shutdown_timeout': '2s' });
      const args = ['--replay-from', iso(from)];
      first = await startProcess({ sets, extraArgs: args });
      await backend.rec.until(() => backend.rec.spans.length >= 1 && backend.rec.refused >= 1, 60000, 'one span exported, then a refusal');
      const stopped = await first.stop();
      assert.deepEqual([stopped.code, stopped.signal], [1, null], `a replay stopped early exits 1: ${describeExit(stopped)}\n${tail(first.log())}`);
      assert.match(first.log(), /replay stopped early: /);
      const firstNames = backend.rec.spans.map((s) => s.name);
      assert.ok(firstNames.length < want.length, `the first run stopped before the end (${firstNames.length} of ${want.length})`);

      backend.rec.onRecord = null;
      backend.rec.refuseFor(0);
      backend.rec.spans.length = 0;
      const r = await runToExit('kotel-process', sets, 60000, args);
      const what = `${describeExit(r)}\n${tail(r.log)}`;
      assert.deepEqual([r.code, r.signal], [0, null], `the resumed replay exits 0 by itself: ${what}`);
      const resumed = /resuming: group "[^"]+" committed (\d+) offsets/.exec(r.log);
      assert.ok(resumed, `the second run resumes: ${what}`);
      const skipped = Number(resumed[1]);
      assert.ok(skipped >= 1 && skipped <= firstNames.length, `what it skips (${skipped}) was exported by the first run (${firstNames.length})`);
      const second = backend.rec.spans.map((s) => s.name).sort();
      assert.equal(second.length, want.length - skipped, `the second run exports the rest of the window, once each: ${second}`);
      assert.deepEqual([...new Set([...firstNames, ...second])].sort(), want, 'both runs together exported exactly the window');
    } finally {
      if (first) await first.stop();
      await backend.stop();
      await broker.stop();
    }
  });
}

test('--replay-from / --replay-to option errors exit 2 and name the option', { timeout: 60000 }, async () => {
  const cases = [
    [['--replay-from', 'yesterday'], /--replay-from: want an RFC 3339 time/],
    [['--replay-from', '2026-11-20T10:00:00Z', '--replay-to', '2026-11-20T25:00:00Z'], /--replay-to: want an RFC 3339 time/],
    [['--replay-to', '2026-11-20T10:00:00Z'], /--replay-to: only with --replay-from/],
    [['--replay-from', '2026-11-20T10:00:00Z', '--replay-to', '2026-11-20T11:00:00+02:00'], /--replay-to: .* is not after --replay-from/],
    [['--replay-from', '2026-11-20T10:00:00Z', '--dump', 'otlp_spans'], /--replay-from: cannot be combined with --dump/],
  ];
  for (const [args, re] of cases) {
    const r = await runToExit('kotel-process', { 'kafka.brokers': '127.0.0.1:1' }, 20000, args);
    assert.deepEqual([r.code, r.signal], [2, null], `${args.join(' ')}: ${describeExit(r)}\n${r.log}`);
    assert.match(r.log, re, args.join(' '));
  }
});
