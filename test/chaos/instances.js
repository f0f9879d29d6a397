'use strict';
// Restartable kotel instances for the chaos run: each keeps its arguments (and so its
// listening ports, its group and its spool directory) across kill -9 / SIGTERM and restart,
// the way a supervisor (systemd, Kubernetes) restarts a crashed process on a node.

const { binary, spawnTracked, describeExit, tail } = require('../integration/lib/procs');
const { waitForPort, sleep } = require('../integration/lib/ports');

// name: for logs; bin: 'kotel-ingest' | 'kotel-process'; sets: --set options;
// ready(h): resolves once the spawned child h is ready, or throws.
function instance(name, bin, sets, ready) {
  const args = [];
  for (const [k, v] of Object.entries(sets)) args.push('--set', `${k}=${v}`);
  let h = null;
  let starts = 0;
  const exits = []; // { how, code, signal } of every stop, for the report
  const logs = []; // tails of the logs of earlier runs

  const self = {
    name,
    running: () => h !== null && h.alive() === true,
    starts: () => starts,
    exits,
    // Starts the instance, again and again like a supervisor would (a restart during a
    // Kafka outage may fail its startup check), for at most startMs.
    async start(startMs = 180000) {
      const t0 = Date.now();
      for (;;) {
        const c = spawnTracked(name, binary(bin), args, ['ignore', 'pipe', 'pipe']);
        starts++;
        try {
          await ready(c);
          h = c;
          return;
        } catch (e) {
          c.child.kill('SIGKILL');
          await c.exited;
          logs.push(c.log());
          if (Date.now() - t0 > startMs) throw new Error(`${name} did not start within ${startMs} ms: ${e.message}\n${tail(c.log())}`);
          await sleep(1000);
        }
      }
    },
    async kill9() {
      const c = h;
      c.child.kill('SIGKILL');
      const e = await c.exited;
      exits.push({ how: 'SIGKILL', ...e });
      logs.push(c.log());
      h = null;
    },
    // SIGTERM; SIGKILL after graceMs. Resolves { code, signal } of the exit.
    async sigterm(graceMs = 60000) {
      const c = h;
      c.child.kill('SIGTERM');
      const timer = setTimeout(() => c.child.kill('SIGKILL'), graceMs);
      const e = await c.exited;
      clearTimeout(timer);
      exits.push({ how: 'SIGTERM', ...e });
      logs.push(c.log());
      h = null;
      return e;
    },
    log: () => logs.concat(h ? [h.log()] : []).join('\n--- restart ---\n'),
    describe: (e) => describeExit(e),
    // The last lines the instance wrote before its latest stop: what an abort said (a
    // librdkafka assertion, a sanitizer report), for a report that shows nothing else.
    lastWords: (n = 4) => {
      const l = logs.length ? logs[logs.length - 1] : '';
      return l.split('\n').filter((x) => x.trim() !== '').slice(-n).join(' / ');
    },
  };
  return self;
}

function ingestInstance(name, ports, sets) {
  const all = { 'receiver.grpc_endpoint': `127.0.0.1:${ports.grpc}`, 'receiver.http_endpoint': `127.0.0.1:${ports.http}`, ...sets };
  const inst = instance(name, 'kotel-ingest', all, async (h) => {
    for (const port of [ports.grpc, ports.http]) await waitForPort(port, { attempts: 1200, intervalMs: 50, alive: h.alive, what: name });
  });
  inst.grpcUrl = `http://127.0.0.1:${ports.grpc}`;
  inst.httpUrl = `http://127.0.0.1:${ports.http}`;
  return inst;
}

function processInstance(name, sets) {
  return instance(name, 'kotel-process', sets, async (h) => {
    const t0 = Date.now();
    while (!/kotel-process .* started/.test(h.log())) {
      const alive = h.alive();
      if (alive !== true) throw new Error(`${alive} before it was ready`);
      if (Date.now() - t0 > 60000) throw new Error('not started within 60 s');
      await sleep(25);
    }
  });
}

module.exports = { ingestInstance, processInstance };
