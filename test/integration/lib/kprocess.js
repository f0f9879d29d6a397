'use strict';
// Starting kotel-process replicas for the tests. A replica has no listening port, so
// readiness is its log line saying it was assigned partitions (or simply that it started,
// for tests that do not need an assignment).

const { binary, spawnTracked, terminate, describeExit, tail, topicSets } = require('./procs');

// Starts one kotel-process. `sets` are --set options; `extraArgs` more arguments (e.g. -c).
// Resolves once it logged `ready` (a RegExp, default: the start line).
//   h.stop()    SIGTERM, resolves { code, signal }
//   h.kill9()   SIGKILL, resolves { code, signal }
//   h.log()     its stderr so far
async function startProcess({ sets = {}, extraArgs = [], ready = /kotel-process .* started/, timeoutMs = 30000, name = 'kotel-process' } = {}) {
  const args = [...extraArgs];
  for (const [k, v] of Object.entries(sets)) {
    for (const one of Array.isArray(v) ? v : [v]) args.push('--set', `${k}=${one}`);
  }
  const h = spawnTracked(name, binary('kotel-process'), args, ['ignore', 'pipe', 'pipe']);
  const started = Date.now();
  while (!ready.test(h.log())) {
    const alive = h.alive();
    if (alive !== true) throw new Error(`${alive} before it was ready\nargs: ${args.join(' ')}\n${tail(h.log())}`);
    if (Date.now() - started > timeoutMs) {
      await terminate(h, 2000);
      throw new Error(`${name} not ready (${ready}) within ${timeoutMs} ms\n${tail(h.log())}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    args,
    log: h.log,
    pid: h.child.pid,
    exited: h.exited,
    // Resolves when the log matches re (bounded).
    waitLog: async (re, ms = 30000, what = String(re)) => {
      const t0 = Date.now();
      while (!re.test(h.log())) {
        if (h.alive() !== true) throw new Error(`${name} ${describeExit(await h.exited)} while waiting for ${what}\n${tail(h.log())}`);
        if (Date.now() - t0 > ms) throw new Error(`${name}: ${what} not logged within ${ms} ms\n${tail(h.log())}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    stop: () => terminate(h, 30000),
    kill9: () => {
      h.child.kill('SIGKILL');
      return h.exited;
    },
  };
}

let groupSeq = 0;
// A consumer group name no other test uses.
const newGroup = (tag = 'test') => `kotel-${tag}-${process.pid}-${++groupSeq}`;

// The --set options of a test replica reading from `broker` (the test's topics on it) and
// exporting to `backend`: a fresh group from the earliest offset, short group timers and
// exporter delays so tests run in seconds. `extra` adds or overrides.
function processSets(broker, backend, extra = {}) {
  return {
    'kafka.brokers': broker.bootstrap,
    ...(broker.topics ? topicSets(broker) : {}),
    'kafka.group_id': newGroup(),
    'kafka.initial_offset': 'earliest',
    'kafka.session_timeout': '6s',
    'kafka.heartbeat_interval': '1s',
    'exporter.endpoint': backend.url,
    'exporter.protocol': 'grpc',
    'exporter.send_batch_timeout': '50ms',
    'exporter.retry.initial_interval': '200ms',
    'exporter.retry.max_interval': '1s',
    ...extra,
  };
}

module.exports = { startProcess, processSets, newGroup };
