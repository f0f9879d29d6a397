'use strict';
// Interop 6: OTTL, differentially. Every case of ottl-cases.js (a statement list, maybe in
// groups with context/conditions/error_mode, and one OTLP request) goes through the
// Collector's transform processor (one Collector, one pipeline per case, exporting to a
// recording backend) and through kotel's transform (build/test/ottl-apply); the outputs,
// in one canonical form (lib/ottldiff.js), must be equal, or be exactly the two outputs a
// documented divergence (README, "Filter and transform") names.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startHttpBackend } = require('../integration/lib/backend');
const { freePorts } = require('../integration/lib/ports');
const { startCollector, collectorBinary } = require('./lib/otelcol');
const { collectorConfig, runKotel, outputText } = require('./lib/ottldiff');
const { cases: allCases, SEED } = require('./ottl-cases');
const { pool } = require('./lib/pool');

// The Collector is found (or built, the first time: minutes) before the test starts, so
// that the test's timeout measures the test.
collectorBinary();

// Starts one Collector for the cases. A configuration the Collector refuses names the
// processor; that case's output is 'config error' and the Collector starts without it (at
// most `tries` times).
async function startForCases(cases, backend, tries = 40) {
  const configError = new Set();
  for (let attempt = 0; attempt < tries; attempt++) {
    const live = cases.map((c, i) => i).filter((i) => !configError.has(i));
    const ports = await freePorts(live.length);
    const file = collectorConfig(live.map((i) => [i, cases[i]]), ports, backend.port);
    try {
      const col = await startCollector(file, {}, { name: 'otelcol-ottl', timeoutMs: 30000 });
      const portOf = new Map(live.map((i, k) => [i, ports[k]]));
      return { col, portOf, configError };
    } catch (e) {
      // The cases to blame: the Collector validates every processor before it exits and
      // lists each one it refuses on a line of its own ("processors::transform/c12: ...";
      // the head of a long list may be cut from the message, the next try finds the rest).
      // A processor that fails later is named in the fatal message, which runs from the
      // last "Error: " line to the end ("... failed to create \"transform/c12\" processor");
      // log lines before it may name other cases (warnings).
      const refused = [...e.message.matchAll(/processors::transform\/c(\d+): /g)].map((m) => Number(m[1]));
      const at = e.message.lastIndexOf('\nError: ');
      const m = at < 0 ? null : /transform\/c(\d+)/.exec(e.message.slice(at));
      if (m) refused.push(Number(m[1]));
      const fresh = refused.filter((i) => !configError.has(i));
      if (!fresh.length) throw e;
      for (const i of fresh) configError.add(i);
    }
  }
  throw new Error(`the Collector refused more than ${tries} case configurations`);
}

async function sendToCollector(c, i, port, outputs, backend) {
  const res = await fetch(`http://127.0.0.1:${port}/v1/${c.signal}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(c.input),
  });
  await res.arrayBuffer();
  if (res.status !== 200) return 'error';
  // The exporter is synchronous (no queue): the backend has it already, or never will.
  await backend.rec.until(() => outputs.has(String(i)), 10000, `case ${i} (${c.name}) at the backend`);
  return outputs.get(String(i));
}

test('OTTL: the Collector\'s transform processor and kotel\'s give the same output for every case (or the documented divergence)', { timeout: 120000 }, async (t) => {
  const cases = allCases();
  const backend = await startHttpBackend();
  const outputs = new Map();
  backend.rec.onRequest = (signal, decoded, meta) => {
    const id = meta && meta.headers && meta.headers['x-case'];
    if (id !== undefined) outputs.set(String(id), decoded);
  };
  let col;
  try {
    const started = await startForCases(cases, backend);
    col = started.col;
    const colOut = await pool(
      cases.map((c, i) => () => (started.configError.has(i) ? 'config error' : sendToCollector(c, i, started.portOf.get(i), outputs, backend))),
      4,
    );
    const kotel = await pool(cases.map((c) => () => runKotel(c)), 2);

    let agree = 0;
    let agreeErrors = 0;
    let agreeConfig = 0;
    let divergent = 0;
    const failures = [];
    cases.forEach((c, i) => {
      const a = outputText(colOut[i]);
      const b = outputText(kotel[i].out);
      if (c.divergence) {
        // Each side as the README's list says: an output word, or a check of kotel's output.
        const d = c.divergence;
        const colOk = typeof d.collector === 'function' ? typeof colOut[i] === 'object' && d.collector(colOut[i]) : a === outputText(d.collector);
        const kotelOk = typeof d.kotel === 'function' ? typeof kotel[i].out === 'object' && d.kotel(kotel[i].out) : b === outputText(d.kotel);
        if (colOk && kotelOk) divergent++;
        else failures.push(`#${i} ${c.name}: documented divergence (${d.reason}) not as listed\n  collector: ${a}\n  want:      ${typeof d.collector === 'function' ? d.collector.toString() : outputText(d.collector)}\n  kotel:     ${b}\n  want:      ${typeof d.kotel === 'function' ? d.kotel.toString() : outputText(d.kotel)}\n  kotel said: ${kotel[i].raw.slice(0, 400)}`);
      } else if (a === b) {
        agree++;
        if (a === 'error') agreeErrors++;
        if (a === 'config error') agreeConfig++;
      } else {
        failures.push(`#${i} ${c.name}\n  collector: ${a}\n  kotel:     ${b}\n  kotel said: ${kotel[i].raw.slice(0, 400)}`);
      }
    });
    const summary = `OTTL differential: ${cases.length} cases (generator seed ${SEED}), ${agree} agree (${agreeErrors} failing on both sides, ${agreeConfig} refused by both configurations), ${divergent} documented divergences, ${failures.length} differ`;
    t.diagnostic(summary);
    console.log(summary);
    assert.equal(failures.length, 0, `${summary}\n${failures.join('\n')}`);
    assert.ok(agree > 0, 'some cases agree');
  } finally {
    if (col) await col.stop();
    await backend.stop();
  }
});
