'use strict';
// README.md stays true to the repository: it starts with `make demo` and `make test`, the
// operator's sections come in their order, every #anchor and relative link resolves, the
// configuration reference lists exactly the sections each binary's --help has, and the
// Alerts table lists exactly the alerts of etc/prometheus/kotel-alerts.yml.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { REPO, BUILD } = require('./lib/procs');

const README = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');

// The README without its fenced code blocks (where '#' and '[..](..)' are not markdown).
const prose = README.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');

// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to '-', '-N' for the
// Nth repeat.
function anchors(md) {
  const seen = new Map();
  const out = new Set();
  for (const m of md.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) || 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

// The level-2 section named title, up to the next level-2 heading.
function section(title) {
  const at = prose.indexOf(`\n## ${title}\n`);
  assert.ok(at >= 0, `README has no "## ${title}"`);
  const next = prose.indexOf('\n## ', at + 1);
  return prose.slice(at, next < 0 ? undefined : next);
}

test('README starts with exactly make demo and make test', () => {
  const m = /^# kotel\n\n```sh\n([\s\S]*?)\n```\n/.exec(README);
  assert.ok(m, 'README does not open with a title and a sh block');
  assert.deepEqual(
    m[1].split('\n').map((l) => l.replace(/\s*#.*$/, '')),
    ['make demo', 'make test'],
  );
});

test("the operator's sections come in order", () => {
  const order = ['What kotel is and why', 'Quick start', 'Architecture', 'Deployment', 'Operating kotel', 'Configuration reference', 'Comparison'];
  const at = order.map((t) => prose.indexOf(`\n## ${t}\n`));
  for (let i = 0; i < order.length; i++) assert.ok(at[i] >= 0, `no "## ${order[i]}"`);
  for (let i = 1; i < order.length; i++) assert.ok(at[i] > at[i - 1], `"${order[i]}" comes before "${order[i - 1]}"`);
  // Alerts closes "Operating kotel".
  const op = section('Operating kotel');
  const subs = [...op.matchAll(/^### (.+)$/gm)].map((m) => m[1]);
  assert.equal(subs[subs.length - 1], 'Alerts', `the last subsection of Operating kotel is ${subs[subs.length - 1]}`);
});

test('every #anchor and relative link of the README resolves', () => {
  const have = anchors(prose);
  const bad = [];
  for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1];
    if (/^[a-z]+:/.test(target)) continue;
    if (target.startsWith('#')) {
      if (!have.has(target.slice(1))) bad.push(target);
    } else if (!fs.existsSync(path.join(REPO, target.split('#')[0]))) {
      bad.push(target);
    }
  }
  assert.deepEqual(bad, [], `links to nothing: ${bad.join(', ')}`);
});

test('the configuration reference lists exactly the sections of each binary', () => {
  const ref = section('Configuration reference');
  for (const prog of ['kotel-ingest', 'kotel-process']) {
    const help = execFileSync(path.join(BUILD, prog), ['--help']).toString();
    const want = [...help.matchAll(/^\[([a-z_.<>]+)\]$/gm)].map((m) => m[1].replace('<name>', 'NAME'));
    assert.ok(want.length > 5, `${prog} --help lists ${want.length} sections`);
    // The table whose header names the program; a row may name several sections.
    const table = new RegExp(`^\\| ${prog} \\|.*\\n\\|[-|]+\\|\\n((?:\\|.*\\n)+)`, 'm').exec(ref);
    assert.ok(table, `no table for ${prog} in Configuration reference`);
    const got = [...table[1].matchAll(/^\| ([^|]+)\|/gm)].flatMap((r) => [...r[1].matchAll(/`\[([^\]]+)\]`/g)].map((m) => m[1]));
    assert.deepEqual([...got].sort(), [...want].sort(), `${prog}: README sections vs --help`);
  }
});

test('the Alerts table lists exactly the alerts of etc/prometheus/kotel-alerts.yml', () => {
  const rules = fs.readFileSync(path.join(REPO, 'etc/prometheus/kotel-alerts.yml'), 'utf8');
  const want = [...rules.matchAll(/^\s*- alert: (\S+)$/gm)].map((m) => m[1]);
  assert.ok(want.length > 10);
  const alerts = section('Operating kotel').split('\n### Alerts\n')[1];
  const got = [...alerts.matchAll(/^\| `(Kotel\w+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(got, want);
});
