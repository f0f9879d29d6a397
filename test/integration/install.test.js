'use strict';
// `make install` and what it installs: the tree under DESTDIR, the systemd units (which
// `systemd-analyze verify` must accept without a word), the man pages (which groff must
// format without a warning), the Prometheus alert rules, and etc/*.ini, which must be exactly what the built binaries'
// --print-example-config writes (regenerate with `make etc`).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { REPO, BUILD } = require('./lib/procs');

const PROGRAMS = ['kotel-ingest', 'kotel-process'];
const UNITS = ['kotel-ingest.service', 'kotel-process.service', 'kotel-process@.service'];

// Runs file with args; resolves { code, stdout, stderr } whatever the exit status.
function run(file, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 120000, maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

// `make` in the repository with the binaries of this run as they are: -o keeps make from
// rebuilding them (the run's build may use other flags than a plain `make`), and the parent
// make's variables (SAN=1, WERROR=1, its jobserver) are not passed on.
function make(args, env = {}) {
  const clean = { ...process.env, ...env };
  for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES']) delete clean[k];
  const keep = PROGRAMS.flatMap((p) => ['-o', path.join(BUILD, p)]);
  return run('make', ['-C', REPO, '--no-print-directory', `BUILD=${BUILD}`, ...keep, ...args], { env: clean });
}

async function withTmp(fn) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-install-'));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Every file under dir, relative, sorted.
function tree(dir) {
  const out = [];
  (function walk(d) {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  })(dir);
  return out.sort();
}

function mode(p) {
  return (fs.statSync(p).mode & 0o777).toString(8);
}

// The first line where two texts differ, for a message that says where to look.
function firstDifference(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return `line ${i + 1}:\n  etc/:       ${JSON.stringify(x[i])}\n  generated: ${JSON.stringify(y[i])}`;
  }
  return 'none';
}

// The option keys --help lists ("  key = default  (type)" or "  key  (type; no default)").
function helpKeys(help) {
  const keys = [];
  for (const line of help.split('\n')) {
    const m = /^ {2}([a-z_][a-z0-9_.<>]*)(?: = |  \()/.exec(line);
    if (m) keys.push(m[1].replace(/\.<name>$/, '.'));
  }
  return keys;
}

test('etc/*.ini are what the binaries print with --print-example-config, and load as they are', async () => {
  for (const prog of PROGRAMS) {
    const gen = await run(path.join(BUILD, prog), ['--print-example-config']);
    assert.equal(gen.code, 0, `${prog} --print-example-config: exit ${gen.code}: ${gen.stderr}`);
    const file = path.join(REPO, 'etc', `${prog}.ini`);
    const committed = fs.readFileSync(file, 'utf8');
    assert.ok(
      committed === gen.stdout,
      `etc/${prog}.ini differs from \`${prog} --print-example-config\` (first difference at ` +
        `${firstDifference(committed, gen.stdout)}).\netc/ is written from the option tables: run \`make etc\` and commit etc/.`,
    );
    const check = await run(path.join(BUILD, prog), ['-c', file, '--check']);
    assert.equal(check.code, 0, `${prog} --check etc/${prog}.ini: ${check.stderr}`);
    assert.match(check.stdout, /configuration OK/);
    // Every key of --help is set (or, for a passthrough, shown) in the example.
    const help = await run(path.join(BUILD, prog), ['--help']);
    const keys = helpKeys(help.stdout);
    assert.ok(keys.length > 20, `${prog} --help lists only ${keys.length} keys`);
    for (const k of keys) {
      assert.match(committed, new RegExp(`^#? ?${k.replace(/[.]/g, '\\.')}`, 'm'), `etc/${prog}.ini lacks ${k}`);
    }
  }
});

test('the man pages format without warnings and document every section, key and signal', async () => {
  for (const prog of PROGRAMS) {
    const page = path.join(BUILD, 'man', `${prog}.1`);
    const gen = await run(path.join(BUILD, prog), ['--print-man']);
    assert.equal(gen.code, 0, gen.stderr);
    assert.equal(fs.readFileSync(page, 'utf8'), gen.stdout, `${page} is stale: run make`);
    const groff = await run('groff', ['-man', '-ww', '-z', page]);
    assert.equal(groff.code, 0, `groff -man -ww -z ${page}: exit ${groff.code}`);
    assert.equal(groff.stderr, '', `groff warns about ${page}:\n${groff.stderr}`);
    const man = await run('man', ['--warnings', '-l', page], { env: { ...process.env, MANWIDTH: '100', MAN_KEEP_FORMATTING: '' } });
    assert.equal(man.code, 0, `man -l ${page}: ${man.stderr}`);
    assert.equal(man.stderr, '', `man --warnings -l ${page}:\n${man.stderr}`);
    const text = man.stdout.replace(/.\x08/g, ''); // overstrikes, if any
    for (const h of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'CONFIGURATION', 'SIGNALS', 'FILES', 'SEE ALSO']) {
      assert.match(text, new RegExp(`^${h}$`, 'm'), `${prog}.1 has no ${h} section`);
    }
    for (const s of ['SIGHUP', 'SIGTERM', '--print-example-config', '--print-man', `/etc/kotel/${prog}.ini`]) {
      assert.ok(text.includes(s), `${prog}.1 does not mention ${s}`);
    }
    const help = await run(path.join(BUILD, prog), ['--help']);
    const sections = [...help.stdout.matchAll(/^\[([a-z_.<>]+)\]$/gm)].map((m) => m[1].replace('<name>', 'NAME'));
    assert.ok(sections.length > 5, `${prog} --help lists only ${sections.length} sections`);
    for (const s of sections) assert.ok(text.includes(`[${s}]`), `${prog}.1 lacks section [${s}]`);
    for (const k of helpKeys(help.stdout)) assert.match(text, new RegExp(`^ {7}${k.replace(/[.]/g, '\\.')}`, 'm'), `${prog}.1 lacks ${k}`);
  }
});

test('make install DESTDIR=... PREFIX=/usr installs binaries, man pages, configurations, units and alert rules; uninstall removes them', async () => {
  await withTmp(async (dest) => {
    const inst = await make(['install', `DESTDIR=${dest}`, 'PREFIX=/usr']);
    assert.equal(inst.code, 0, `make install: ${inst.stderr}${inst.stdout}`);
    assert.deepEqual(tree(dest), [
      'etc/kotel/kotel-ingest.ini',
      'etc/kotel/kotel-process.ini',
      'usr/bin/kotel-ingest',
      'usr/bin/kotel-process',
      'usr/lib/systemd/system/kotel-ingest.service',
      'usr/lib/systemd/system/kotel-process.service',
      'usr/lib/systemd/system/kotel-process@.service',
      'usr/share/kotel/kotel-alerts.yml',
      'usr/share/man/man1/kotel-ingest.1',
      'usr/share/man/man1/kotel-process.1',
    ]);
    for (const p of PROGRAMS) {
      assert.equal(mode(path.join(dest, 'usr/bin', p)), '755');
      assert.equal(mode(path.join(dest, 'usr/share/man/man1', `${p}.1`)), '644');
      assert.equal(fs.readFileSync(path.join(dest, 'etc/kotel', `${p}.ini`), 'utf8'), fs.readFileSync(path.join(REPO, 'etc', `${p}.ini`), 'utf8'));
      const v = await run(path.join(dest, 'usr/bin', p), ['--version']);
      assert.match(v.stdout, new RegExp(`^${p} `));
    }
    const rules = path.join(dest, 'usr/share/kotel/kotel-alerts.yml');
    assert.equal(mode(rules), '644');
    assert.equal(fs.readFileSync(rules, 'utf8'), fs.readFileSync(path.join(REPO, 'etc/prometheus/kotel-alerts.yml'), 'utf8'));
    for (const u of UNITS) {
      const f = path.join(dest, 'usr/lib/systemd/system', u);
      assert.equal(mode(f), '644');
      const text = fs.readFileSync(f, 'utf8');
      assert.doesNotMatch(text, /@[A-Z]+@/, `${u} keeps a placeholder`);
      const prog = u.startsWith('kotel-ingest') ? 'kotel-ingest' : 'kotel-process';
      assert.match(text, new RegExp(`^ExecStart=/usr/bin/${prog} -c /etc/kotel/${prog}\\.ini`, 'm'));
    }

    // A configuration already there is the operator's: a second install keeps it.
    const conf = path.join(dest, 'etc/kotel/kotel-ingest.ini');
    fs.appendFileSync(conf, '# changed by the operator\n');
    const again = await make(['install', `DESTDIR=${dest}`, 'PREFIX=/usr']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(fs.readFileSync(conf, 'utf8'), /# changed by the operator\n$/);
    assert.match(again.stdout, /kotel-ingest\.ini exists, kept/);

    const un = await make(['uninstall', `DESTDIR=${dest}`, 'PREFIX=/usr']);
    assert.equal(un.code, 0, un.stderr);
    assert.deepEqual(tree(dest), ['etc/kotel/kotel-ingest.ini', 'etc/kotel/kotel-process.ini']);
  });
});

// systemd-analyze verify checks that ExecStart's binary exists at its path and that the
// Documentation= man pages resolve. Its --root (252) also looks for systemd's own units and
// for `kill` under the root, so the units are installed with PREFIX and SYSCONFDIR inside
// a temporary directory instead: the paths in them are then real on this machine, and
// MANPATH points man at the installed pages. verify exits 0 on an unknown key or a bad
// value (it only prints them), so any output fails the test too.
test('systemd-analyze verify accepts the installed units, which are sandboxed and start the installed binaries', async () => {
  await withTmp(async (root) => {
    const inst = await make(['install', `PREFIX=${root}/usr`, `SYSCONFDIR=${root}/etc`]);
    assert.equal(inst.code, 0, `make install: ${inst.stderr}${inst.stdout}`);
    const unitDir = path.join(root, 'usr/lib/systemd/system');
    // A template is verified as an instance of it.
    fs.copyFileSync(path.join(unitDir, 'kotel-process@.service'), path.join(unitDir, 'kotel-process@1.service'));
    const units = ['kotel-ingest.service', 'kotel-process.service', 'kotel-process@1.service'].map((u) => path.join(unitDir, u));
    const v = await run('systemd-analyze', ['verify', ...units], {
      env: { ...process.env, MANPATH: path.join(root, 'usr/share/man'), SYSTEMD_LOG_COLOR: '0' },
    });
    assert.equal(v.code, 0, `systemd-analyze verify: exit ${v.code}:\n${v.stderr}${v.stdout}`);
    assert.equal(`${v.stderr}${v.stdout}`, '', `systemd-analyze verify printed:\n${v.stderr}${v.stdout}`);

    const required = [
      'DynamicUser=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'NoNewPrivileges=yes',
      'CapabilityBoundingSet=',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
      'SystemCallFilter=@system-service',
      'ConfigurationDirectory=kotel',
      'ExecReload=kill -HUP $MAINPID',
      'Restart=on-failure',
    ];
    for (const u of units) {
      const text = fs.readFileSync(u, 'utf8');
      for (const line of required) assert.ok(text.split('\n').includes(line), `${path.basename(u)} lacks ${line}`);
      // The unit's command, run with --check, accepts the configuration installed for it.
      const exec = /^ExecStart=(.*)$/m.exec(text)[1].replace(/%i/g, '1').split(/\s+/);
      assert.equal(exec[0], path.join(root, 'usr/bin', path.basename(exec[0])));
      const check = await run(exec[0], [...exec.slice(1), '--check']);
      assert.equal(check.code, 0, `${exec.join(' ')} --check: ${check.stderr}`);
    }

    // The ingest unit leaves room for its limits: [receiver] max_connections descriptors and
    // [service] shutdown_timeout to drain.
    const ingest = fs.readFileSync(units[0], 'utf8');
    const conf = await run(path.join(root, 'usr/bin/kotel-ingest'), ['--print-config']);
    const maxConn = Number(/^max_connections = (\d+)$/m.exec(conf.stdout)[1]);
    assert.ok(Number(/^LimitNOFILE=(\d+)$/m.exec(ingest)[1]) >= maxConn + 64, 'LimitNOFILE below max_connections + 64');
    assert.match(ingest, /^StateDirectory=kotel-ingest$/m);
    const seconds = (s) => Number(/^(\d+)s$/.exec(s)[1]);
    for (const u of units) {
      const prog = path.basename(u).startsWith('kotel-ingest') ? 'kotel-ingest' : 'kotel-process';
      const pc = await run(path.join(root, 'usr/bin', prog), ['--print-config']);
      const shutdown = seconds(/^shutdown_timeout = (\S+)$/m.exec(pc.stdout)[1]);
      const stop = seconds(/^TimeoutStopSec=(\S+)$/m.exec(fs.readFileSync(u, 'utf8'))[1]);
      assert.ok(stop > shutdown, `${path.basename(u)}: TimeoutStopSec=${stop}s is not above shutdown_timeout ${shutdown}s`);
    }
  });
});
