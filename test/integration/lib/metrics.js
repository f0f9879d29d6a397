'use strict';
// Reading a tier's [admin] endpoint in tests: pages, Prometheus' own checker on /metrics,
// and single samples out of the text.

const { execFile } = require('node:child_process');
const { httpRequest } = require('./clients');

// GET path on 127.0.0.1:port; resolves httpRequest's answer with .text.
function get(port, path) {
  return httpRequest(`http://127.0.0.1:${port}${path}`, { method: 'GET' }).then((r) => ({ ...r, text: r.body.toString() }));
}

// Runs promtool check metrics on text; resolves its output, rejects when it finds a problem.
function promtoolCheck(text) {
  return new Promise((resolve, reject) => {
    const p = execFile('promtool', ['check', 'metrics'], (e, out, err) => (e ? reject(new Error(`promtool check metrics: ${err || out || e.message}`)) : resolve(out + err)));
    p.stdin.end(text);
  });
}

// The value of the sample name{labels} (labels as written, in order), or undefined.
function sample(text, name, labels = '') {
  const want = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(want));
  return line === undefined ? undefined : Number(line.slice(want.length));
}

// Calls fn until it returns a truthy value whose .ok is not false (e.g. { ok, why } or any
// truthy value), polling every 100 ms; fails after ms with what and the last .why.
async function until(what, fn, ms = 30000) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await fn();
    if (last && last.ok !== false) return last;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms${last && last.why ? `: ${last.why}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

module.exports = { get, promtoolCheck, sample, until };
