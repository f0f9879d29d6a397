'use strict';
// Kafka records written and offsets read with kotel-kafka-admin, against any bootstrap (the
// devbroker or a real cluster), and the one-item OTLP bodies tests produce.

const { execFile } = require('node:child_process');
const { binary } = require('./procs');
const { types, encode } = require('./otlp');
const { newTraceId, newSpanId } = require('./clients');

function kadmin(bootstrap, args, stdin) {
  return new Promise((resolve, reject) => {
    const all = ['-b', bootstrap, '-t', '20000', ...args];
    const c = execFile(binary('kotel-kafka-admin'), all, { timeout: 30000 }, (err, out, stderr) =>
      err ? reject(new Error(`kotel-kafka-admin ${all.join(' ')}: ${err.message} ${stderr}`)) : resolve(out),
    );
    // Commands other than produce do not read their stdin (and may be gone before it ends).
    c.stdin.on('error', () => {});
    c.stdin.end(stdin);
  });
}

// One record to partition 0 of topic.
const produce = (bootstrap, topic, value) => kadmin(bootstrap, ['produce', topic, '0', String(Date.now())], value);

// The group's committed offsets of the topics: Map "topic/partition" -> offset (-1001: none).
async function committed(bootstrap, group, topics) {
  const out = await kadmin(bootstrap, ['offsets', group, ...topics], '');
  const m = new Map();
  for (const line of out.split('\n').filter(Boolean)) {
    const [t, p, o] = line.split(' ');
    m.set(`${t}/${p}`, Number(o));
  }
  return m;
}

// An ExportTraceServiceRequest of one span named name.
const spanBody = (name) =>
  encode(types.ExportTraceServiceRequest, {
    resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from(newTraceId(), 'hex'), spanId: Buffer.from(newSpanId(), 'hex'), name }] }] }],
  });

// An ExportLogsServiceRequest of one log record whose body is text.
const logBody = (text) =>
  encode(types.ExportLogsServiceRequest, {
    resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: '1609459200000000000', body: { stringValue: text } }] }] }],
  });

module.exports = { kadmin, produce, committed, spanBody, logBody };
