'use strict';
// Reads Kafka topics with kcat, binary-safe.
//
// kcat's -J output and plain %k/%s formats cannot carry binary protobuf reliably, so each
// message is printed as a text header with the key and payload lengths and the record
// headers, followed by the raw key and payload bytes:
//     "<partition> <offset> <keylen> <payloadlen> <name=value,...>\n" <key bytes> <payload bytes>
// (%K / %S print -1 for a NULL key / payload, which then has no bytes; the headers are for
// the tests' own plain names and values, which hold no ',' or '=' or newline.)

const { spawn } = require('node:child_process');
const { sleep } = require('./ports');

const FORMAT = '%p %o %K %S %h\\n%k%s';
const HEADER = /^(\d+) (\d+) (-?\d+) (-?\d+) (.*)$/;

function parseKcat(buf) {
  const out = [];
  let pos = 0;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`kcat output: truncated header at byte ${pos}`);
    const header = buf.toString('latin1', pos, nl);
    const m = HEADER.exec(header);
    if (!m) throw new Error(`kcat output: bad header '${header.slice(0, 80)}' at byte ${pos}`);
    pos = nl + 1;
    const [partition, offset, klen, vlen] = m.slice(1, 5).map(Number);
    // headers keeps a name's last value; headerList every header in record order.
    const headers = {};
    const headerList = [];
    for (const kv of m[5] ? m[5].split(',') : []) {
      const i = kv.indexOf('=');
      headers[kv.slice(0, i)] = kv.slice(i + 1);
      headerList.push([kv.slice(0, i), kv.slice(i + 1)]);
    }
    let key = null;
    let value = null;
    if (klen >= 0) {
      key = buf.subarray(pos, pos + klen);
      pos += klen;
    }
    if (vlen >= 0) {
      value = buf.subarray(pos, pos + vlen);
      pos += vlen;
    }
    if (pos > buf.length) throw new Error(`kcat output: message at ${partition}/${offset} is truncated`);
    out.push({ partition, offset, key, keyString: key === null ? null : key.toString('latin1'), value, headers, headerList });
  }
  return out;
}

// Every message currently in `topic`, from the beginning of each partition to its end,
// ordered by partition then offset.
function readTopic(bootstrap, topic, { timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const args = ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', FORMAT.replace('\\n', '\n')];
    const kc = spawn('kcat', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    let err = '';
    kc.stdout.on('data', (d) => chunks.push(d));
    kc.stderr.setEncoding('utf8');
    kc.stderr.on('data', (s) => {
      err += s;
    });
    const timer = setTimeout(() => kc.kill('SIGKILL'), timeoutMs);
    kc.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run kcat: ${e.message}`));
    });
    kc.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`kcat ${args.join(' ')}: ${signal ? `killed by ${signal}` : `exit ${code}`}: ${err.trim()}`));
        return;
      }
      try {
        const msgs = parseKcat(Buffer.concat(chunks));
        msgs.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
        resolve(msgs);
      } catch (e) {
        reject(e);
      }
    });
  });
}

// Reads `topic` until done(messages) is true or waitMs passed, and returns the last read.
// Callers then assert on what they got, so a slow delivery shows up as a clear assertion
// rather than a timeout.
async function readTopicUntil(bootstrap, topic, done, { waitMs = 10000, intervalMs = 250 } = {}) {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const msgs = await readTopic(bootstrap, topic);
    if (done(msgs) || Date.now() >= deadline) return msgs;
    await sleep(intervalMs);
  }
}

module.exports = { readTopic, readTopicUntil, parseKcat };
