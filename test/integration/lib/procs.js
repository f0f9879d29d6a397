'use strict';
// Child processes of the tests: kotel-devbroker and kotel-ingest. Every child is tracked and
// killed when this process exits for any reason, so a failed or interrupted test never
// leaves a broker or an ingest behind.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { freePorts, waitForPort, sleep } = require('./ports');

const REPO = path.resolve(__dirname, '../../..');
const BUILD = path.resolve(REPO, process.env.KT_BUILD || 'build');
const VERBOSE = !!process.env.KT_TEST_VERBOSE;
const LOG_KEEP = 512 * 1024; // bytes of each child's stderr kept for failure reports

const TOPICS = { traces: 'otlp_spans', metrics: 'otlp_metrics', logs: 'otlp_logs' };

const children = new Set();

function killAllNow() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
}
process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAllNow();
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}

function binary(name) {
  const p = path.join(BUILD, name);
  if (!fs.existsSync(p)) {
    throw new Error(`${p} does not exist: build it first (make ${path.relative(REPO, p)})`);
  }
  return p;
}

// Spawns a tracked child whose stderr is kept (the last LOG_KEEP bytes) for reports. `env`
// (optional) is added to this process's environment for the child. A kotel tier (run
// directly or through a wrapper such as prlimit) serves its [admin] endpoint on a port of
// its own choosing, so that tiers running side by side never race for the default port; a
// test's own --set admin.endpoint comes later and wins.
function spawnTracked(name, file, args, stdio, env) {
  const argv = [file, ...args];
  const at = argv.findIndex((a) => /(^|\/)kotel-(ingest|process)$/.test(a));
  if (at >= 0) argv.splice(at + 1, 0, '--set', 'admin.endpoint=127.0.0.1:0');
  [file, ...args] = argv;
  const child = spawn(file, args, { stdio, cwd: REPO, env: env ? { ...process.env, ...env } : process.env });
  children.add(child);
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => {
    log += s;
    if (log.length > LOG_KEEP) log = log.slice(-LOG_KEEP);
    if (VERBOSE) process.stderr.write(s.replace(/^(?=.)/gm, `${name}| `));
  });
  // 'exit' may not come when the spawn itself failed (ENOENT, ETXTBSY while the binary is
  // being rebuilt): 'error' settles it then, or nothing would ever resolve.
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
    child.once('error', (error) => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) return;
      children.delete(child);
      resolve({ code: null, signal: null, error });
    });
  });
  let spawnError = null;
  child.once('error', (e) => {
    if (child.pid === undefined) spawnError = e;
  });
  // true while running, else why not
  const alive = () => {
    if (spawnError) return `${name} could not run: ${spawnError.message}`;
    if (child.exitCode === null && child.signalCode === null) return true;
    return `${name} ${describeExit({ code: child.exitCode, signal: child.signalCode })}`;
  };
  return { child, exited, alive, log: () => log };
}

// SIGTERM, then SIGKILL after graceMs. Resolves to { code, signal } of the exit.
async function terminate(h, graceMs) {
  if (h.child.pid === undefined || h.child.exitCode !== null || h.child.signalCode !== null) return h.exited;
  h.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    try {
      h.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }, graceMs);
  const res = await h.exited;
  clearTimeout(timer);
  return res;
}

// Runs build/NAME with --set options (and `extra` arguments first, e.g. --print-config), for
// a tier that is expected to stop by itself (a startup error, a printout); SIGTERM after
// timeoutMs. Resolves { code, signal, log (stderr), out (stdout), ms }.
async function runToExit(name, sets, timeoutMs = 60000, extra = []) {
  const args = [...extra];
  for (const [k, v] of Object.entries(sets)) args.push('--set', `${k}=${v}`);
  const t0 = Date.now();
  const h = spawnTracked(name, binary(name), args, ['ignore', 'pipe', 'pipe']);
  let out = '';
  h.child.stdout.setEncoding('utf8');
  h.child.stdout.on('data', (d) => (out += d));
  const timer = setTimeout(() => terminate(h, 2000), timeoutMs);
  const e = await h.exited;
  clearTimeout(timer);
  return { ...e, log: h.log(), out, ms: Date.now() - t0 };
}

function describeExit({ code, signal, error }) {
  if (error) return `could not run: ${error.message}`;
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

function tail(s, n = 6000) {
  return s.length > n ? `…${s.slice(-n)}` : s;
}

// Starts kotel-devbroker; resolves once it printed its bootstrap list.
//   broker.bootstrap         "127.0.0.1:PORT[,...]"
//   await broker.command('down' | 'up' | 'rtt 50')   resolves on "ok ...", rejects otherwise
//   await broker.stop()      { code, signal }
async function startDevbroker({ brokers = 1, partitions = 4, topics = Object.values(TOPICS), timeoutMs = 15000 } = {}) {
  const args = ['--brokers', String(brokers), '--partitions', String(partitions)];
  if (topics.length) args.push('--topics', topics.join(','));
  const h = spawnTracked('kotel-devbroker', binary('kotel-devbroker'), args, ['pipe', 'pipe', 'pipe']);
  h.child.stdin.on('error', () => {});

  const lines = readline.createInterface({ input: h.child.stdout });
  const queued = [];
  const waiters = [];
  lines.on('line', (l) => {
    if (waiters.length) waiters.shift()(l);
    else queued.push(l);
  });
  const nextLine = (ms, what) =>
    new Promise((resolve, reject) => {
      if (queued.length) return resolve(queued.shift());
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        const i = waiters.indexOf(onLine);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`devbroker: no answer to ${what} within ${ms} ms\n${tail(h.log())}`));
      }, ms);
      const onLine = (l) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(l);
      };
      waiters.push(onLine);
      h.exited.then((e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new Error(`devbroker ${describeExit(e)} while waiting for ${what}\n${tail(h.log())}`));
      });
    });

  let bootstrap;
  try {
    bootstrap = await nextLine(timeoutMs, 'its bootstrap list');
    if (!/^[\w.-]+:\d+(,[\w.-]+:\d+)*$/.test(bootstrap)) {
      throw new Error(`devbroker: first line is not a bootstrap list: '${bootstrap}'`);
    }
  } catch (e) {
    await terminate(h, 2000);
    throw e;
  }

  // Commands are answered in order, one line each, so answers are matched FIFO.
  let chain = Promise.resolve();
  const command = (cmd, ms = 30000) => {
    const run = async () => {
      h.child.stdin.write(`${cmd}\n`);
      const answer = await nextLine(ms, `'${cmd}'`);
      if (answer !== `ok ${cmd}`) throw new Error(`devbroker answered '${answer}' to '${cmd}'\n${tail(h.log())}`);
    };
    const p = chain.then(run, run);
    chain = p.catch(() => {});
    return p;
  };

  return {
    bootstrap,
    command,
    log: h.log,
    pid: h.child.pid,
    exited: h.exited,
    stop: () => terminate(h, 5000),
  };
}

// Starts kotel-ingest against `bootstrap` on two free loopback ports (the gRPC and the HTTP
// endpoint; each serves both protocols). `sets` adds or overrides --set options. `wrap`
// (optional) is a command that execs kotel-ingest in its own process, e.g. ['prlimit',
// '--nofile=64:64']. Resolves once both ports accept connections.
//   ingest.grpcUrl / ingest.httpUrl   "http://127.0.0.1:PORT"
//   await ingest.stop()               { code, signal } after SIGTERM
async function startIngest({ bootstrap, sets = {}, startAttempts = 3, wrap = [] } = {}) {
  const bin = binary('kotel-ingest');
  let lastErr;
  for (let attempt = 1; attempt <= startAttempts; attempt++) {
    const [grpcPort, httpPort] = await freePorts(2);
    const all = {
      'kafka.brokers': bootstrap,
      'receiver.grpc_endpoint': `127.0.0.1:${grpcPort}`,
      'receiver.http_endpoint': `127.0.0.1:${httpPort}`,
      'batch.timeout': '50ms',
      ...sets,
    };
    const args = [];
    for (const [k, v] of Object.entries(all)) args.push('--set', `${k}=${v}`);
    const [file, ...argv] = [...wrap, bin, ...args];
    const h = spawnTracked('kotel-ingest', file, argv, ['ignore', 'pipe', 'pipe']);
    h.child.stdout.on('data', (d) => {
      if (VERBOSE) process.stderr.write(`ingest(stdout)| ${d}`);
    });
    const alive = h.alive;
    try {
      for (const port of [grpcPort, httpPort]) {
        await waitForPort(port, { attempts: 400, intervalMs: 50, alive, what: 'kotel-ingest' });
      }
      return {
        grpcPort,
        httpPort,
        grpcUrl: `http://127.0.0.1:${grpcPort}`,
        httpUrl: `http://127.0.0.1:${httpPort}`,
        args,
        log: h.log,
        pid: h.child.pid,
        exited: h.exited,
        stop: () => terminate(h, 30000),
      };
    } catch (e) {
      await terminate(h, 2000);
      lastErr = new Error(`${e.message}\nargs: ${args.join(' ')}\n--- kotel-ingest stderr ---\n${tail(h.log())}`);
      // Another process may have taken a port between freePorts() and the bind: retry on
      // fresh ports. Any other start failure is final.
      if (!/in use/i.test(h.log())) break;
      await sleep(100);
    }
  }
  throw lastErr;
}

// The port a running tier serves its [admin] endpoint on, from its log line
// "admin: /metrics ... (port N)" (the endpoint is bound before the tier starts serving, and
// the line may trail the data ports by a moment).
async function adminPortOf(tier, timeoutMs = 10000) {
  const t0 = Date.now();
  for (;;) {
    const m = /admin: \S+.* \(port (\d+)\)/.exec(tier.log());
    if (m) return Number(m[1]);
    if (Date.now() - t0 > timeoutMs) throw new Error(`no admin endpoint in the log within ${timeoutMs} ms:\n${tail(tier.log())}`);
    await sleep(20);
  }
}

// The Kafka a test runs on, with the same shape either way:
//   broker.kind        'devbroker' | 'real'
//   broker.bootstrap   PLAINTEXT bootstrap list
//   broker.topics      { traces, metrics, logs }: the topic names this test uses
//   broker.exited      resolves if the broker dies (never, for the shared real cluster)
// kafka 'devbroker' starts a fresh kotel-devbroker (brokerOpts as startDevbroker's);
// 'real' uses the shared Apache Kafka cluster (lib/realkafka.js) with topics of this test's
// own, brokerOpts.partitions each. brokerOpts.deadLetter adds broker.topics.deadLetters.
async function startKafka(kafka, brokerOpts = {}) {
  const { deadLetter = false, ...rest } = brokerOpts;
  if (kafka === 'devbroker') {
    const topics = { ...TOPICS };
    if (deadLetter) topics.deadLetters = 'otlp_dead_letters';
    const b = await startDevbroker({ ...rest, topics: Object.values(topics) });
    return { ...b, kind: 'devbroker', topics };
  }
  if (kafka !== 'real') throw new Error(`unknown kafka '${kafka}' (devbroker or real)`);
  const { realCluster, createTopics } = require('./realkafka');
  const c = realCluster();
  const topics = await createTopics({ partitions: rest.partitions || 4, tag: rest.tag, deadLetter });
  return {
    kind: 'real',
    bootstrap: c.PLAINTEXT,
    topics,
    cluster: c,
    log: () => '',
    exited: new Promise(() => {}),
    stop: async () => ({ code: 0, signal: null }),
  };
}

// --set options that point a tier at the test's topics.
function topicSets(broker) {
  return {
    'kafka.traces_topic': broker.topics.traces,
    'kafka.metrics_topic': broker.topics.metrics,
    'kafka.logs_topic': broker.topics.logs,
  };
}

// Runs fn({ broker, ingest }) against a Kafka (opts.kafka: 'devbroker', the default, or
// 'real', see startKafka) and a kotel-ingest, and always stops both. A failure carries the
// tail of both logs. Unless `expectCleanExit` is false, the test also fails if kotel-ingest
// does not exit 0 on SIGTERM (under ASan this is where leak and error reports surface).
async function withStack(opts, fn) {
  const { kafka = 'devbroker', broker: brokerOpts = {}, ingest: ingestOpts = {}, expectCleanExit = true } = opts || {};
  const broker = await startKafka(kafka, brokerOpts);
  let ingest;
  let failure;
  try {
    ingest = await startIngest({ bootstrap: broker.bootstrap, ...ingestOpts, sets: { ...topicSets(broker), ...(ingestOpts.sets || {}) } });
    // A child that dies during the test fails it at once, with its exit status, instead of
    // leaving the test waiting on clients that retry forever (or on nothing at all).
    let done = false;
    // A test that stops kotel-ingest on purpose (to check how it shuts down) calls
    // ingest.sigterm(): SIGTERM (SIGKILL after 30 s), resolving to { code, signal }. That exit
    // does not fail the test by itself; the exit-0 check below still applies to it.
    let ingestStopped = false;
    ingest.sigterm = () => {
      ingestStopped = true;
      return ingest.stop();
    };
    const died = Promise.race([
      ingest.exited.then((e) => ['kotel-ingest', e]),
      broker.exited.then((e) => ['kotel-devbroker', e]),
    ]).then(([who, e]) => {
      // After an intended exit of kotel-ingest only the broker's death fails the test.
      if (who === 'kotel-ingest' && ingestStopped) {
        return broker.exited.then((b) => {
          if (!done) throw new Error(`kotel-devbroker ${describeExit(b)} during the test`);
        });
      }
      if (!done) throw new Error(`${who} ${describeExit(e)} during the test`);
    });
    died.catch(() => {});
    try {
      await Promise.race([fn({ broker, ingest }), died]);
    } finally {
      done = true;
    }
  } catch (e) {
    failure = e;
  }
  try {
    if (ingest) {
      const ex = await ingest.stop();
      if (!failure && expectCleanExit && (ex.code !== 0 || ex.signal)) {
        failure = new Error(`kotel-ingest did not exit 0 on SIGTERM: ${describeExit(ex)}`);
      }
    }
  } finally {
    await broker.stop();
  }
  if (failure) {
    const logs =
      (ingest ? `\n--- kotel-ingest stderr (tail) ---\n${tail(ingest.log())}` : '') +
      `\n--- kotel-devbroker stderr (tail) ---\n${tail(broker.log(), 2000)}`;
    if (failure instanceof Error) {
      failure.message += logs;
      throw failure;
    }
    throw new Error(String(failure) + logs);
  }
}

module.exports = { REPO, BUILD, TOPICS, startDevbroker, startKafka, topicSets, startIngest, withStack, runToExit, binary, spawnTracked, terminate, describeExit, tail, adminPortOf };
