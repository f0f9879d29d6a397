'use strict';
// The OpenTelemetry Collector as a peer of kotel in the interop tests: built by
// scripts/otelcol.sh (cached outside the work tree), run with one of the configurations in
// test/otelcol/, whose ${env:...} placeholders are filled here for each run. Every Collector
// is a tracked child (lib/procs.js): killed when the test process exits, whatever happens.

const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { REPO, spawnTracked, terminate, describeExit, tail } = require('../../integration/lib/procs');
const { freePorts, waitForPort, sleep } = require('../../integration/lib/ports');

const READY = /Everything is ready\. Begin running and processing data\./;

let binaryPath = process.env.KT_OTELCOL || null;

// The Collector's path; builds it on first use (about 3 minutes on 2 cores, then cached).
function collectorBinary() {
  if (!binaryPath) {
    binaryPath = execFileSync(path.join(REPO, 'scripts/otelcol.sh'), ['build'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
  }
  return binaryPath;
}

// The KT_OTELCOL_* values a configuration reads for a broker and its topics.
function kafkaEnv(broker, { encoding = 'otlp_proto', group } = {}) {
  const env = {
    KT_OTELCOL_BROKERS: `[${broker.bootstrap.split(',').join(', ')}]`,
    KT_OTELCOL_TRACES_TOPIC: broker.topics.traces,
    KT_OTELCOL_METRICS_TOPIC: broker.topics.metrics,
    KT_OTELCOL_LOGS_TOPIC: broker.topics.logs,
    KT_OTELCOL_ENCODING: encoding,
  };
  if (group) env.KT_OTELCOL_GROUP = group;
  return env;
}

// Starts the Collector with test/otelcol/<config> (or config itself when it is an absolute
// path, a configuration a test wrote) and `env`; resolves once it logged that
// it is ready (and, for `ports`, once they accept connections).
//   c.log()    its stderr so far      c.stop()   SIGTERM, resolves { code, signal }
async function startCollector(config, env, { ports = [], timeoutMs = 60000, name = 'otelcol' } = {}) {
  const file = path.isAbsolute(config) ? config : path.join(REPO, 'test/otelcol', config);
  // Its own metrics are off: they listen on :8888 by default, which two Collectors of
  // concurrent test files would both claim.
  const args = ['--config', file, '--set=service.telemetry.metrics.level=none'];
  const h = spawnTracked(name, collectorBinary(), args, ['ignore', 'pipe', 'pipe'], env);
  const t0 = Date.now();
  try {
    while (!READY.test(h.log())) {
      const alive = h.alive();
      if (alive !== true) throw new Error(`${alive} before it was ready`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`${name} not ready within ${timeoutMs} ms`);
      await sleep(25);
    }
    for (const port of ports) await waitForPort(port, { attempts: 400, intervalMs: 25, alive: h.alive, what: name });
  } catch (e) {
    await terminate(h, 5000);
    e.message += `\n${name} (${config}) env: ${JSON.stringify(env)}\n--- ${name} stderr ---\n${tail(h.log())}`;
    throw e;
  }
  return { log: h.log, pid: h.child.pid, exited: h.exited, stop: () => terminate(h, 30000) };
}

// A Collector ingest node (test/otelcol/interop-ingest.yaml) on free loopback ports, shaped
// like lib/procs.js's kotel-ingest: { grpcUrl, httpUrl, grpcPort, httpPort, stop, log }.
async function startCollectorIngest(broker, { encoding = 'otlp_proto', config = 'interop-ingest.yaml' } = {}) {
  const [grpcPort, httpPort] = await freePorts(2);
  const env = {
    ...kafkaEnv(broker, { encoding }),
    KT_OTELCOL_GRPC: `127.0.0.1:${grpcPort}`,
    KT_OTELCOL_HTTP: `127.0.0.1:${httpPort}`,
  };
  const c = await startCollector(config, env, { ports: [grpcPort, httpPort], name: 'otelcol-ingest' });
  return { ...c, grpcPort, httpPort, grpcUrl: `http://127.0.0.1:${grpcPort}`, httpUrl: `http://127.0.0.1:${httpPort}` };
}

// A Collector process tier (test/otelcol/interop-process.yaml by default) reading `broker`'s
// topics in consumer group `group` from the earliest offset into the gRPC `backend`.
async function startCollectorProcess(broker, backend, { encoding = 'otlp_proto', group, config = 'interop-process.yaml', env = {} } = {}) {
  return startCollector(
    config,
    { ...kafkaEnv(broker, { encoding, group }), KT_OTELCOL_BACKEND: `127.0.0.1:${backend.port}`, ...env },
    { name: 'otelcol-process' },
  );
}

// Stops c and fails when it did not exit 0.
async function stopChecked(c, what = 'the Collector') {
  const e = await c.stop();
  if (e.code !== 0) throw new Error(`${what} ${describeExit(e)} on SIGTERM\n${tail(c.log())}`);
}

module.exports = { collectorBinary, startCollector, startCollectorIngest, startCollectorProcess, stopChecked, kafkaEnv };
