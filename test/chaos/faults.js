'use strict';
// The chaos run's fault script: a seeded PRNG picks, at random times, a kind of fault and
// its target and duration, within bounds that keep the system able to recover (at most one
// broker down at a time, one whole-cluster outage at a time, one backend fault at a time,
// one fault per kotel instance at a time). Faults overlap otherwise. The same seed gives the
// same sequence of choices; the timing of the system under test still varies.

const fs = require('node:fs');
const path = require('node:path');
const { kafkaSh } = require('../integration/lib/realkafka');
const { sleep } = require('../integration/lib/ports');

// mulberry32: small, seedable, good enough to pick faults.
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    between: (lo, hi) => Math.round(lo + next() * (hi - lo)),
    pick: (list) => list[Math.floor(next() * list.length)],
  };
}

function brokerPids(dir) {
  const pidDir = path.join(dir, 'pids');
  return fs.readdirSync(pidDir).map((n) => ({ id: Number(n), pid: Number(fs.readFileSync(path.join(pidDir, n), 'utf8').trim()) }));
}

// world: { cluster: { dir, brokers: [ids] }, ingests: [instance], replicas: [instance],
//          extraReplica: instance, ingestClientId, ledger, outageMs, log(msg) }
// Returns { start(), stop(), counts, anomalies } where start() begins injecting one fault
// every gapMs (random in range) until stop() or `total` faults were injected.
// An instance that did not exit 0 on SIGTERM, with what it wrote last (an abort's message).
const badSigterm = (inst, e) => `${inst.name} exited ${inst.describe(e)} on SIGTERM (its last words: ${inst.lastWords()})`;

function faultScript(world, { seed, total, gapMs = [2000, 8000], scale = 1 } = {}) {
  const rnd = prng(seed);
  const counts = {};
  const anomalies = [];
  const busy = new Set(); // targets with a fault in progress: instance names, 'kafka', 'backend'
  const running = new Set();
  let stopping = false;
  let injected = 0;
  const dur = (lo, hi) => Math.round(rnd.between(lo, hi) * scale);
  const free = (list) => list.filter((i) => !busy.has(i.name) && i.running());

  // Each kind: can() says whether it may run now; run() injects it and undoes it when its
  // time is up. `label` is what the report counts.
  const KINDS = [
    {
      kind: 'ingest kill -9 + restart',
      weight: 3,
      can: () => free(world.ingests).length > 0,
      run: async () => {
        const i = rnd.pick(free(world.ingests));
        return hold(i.name, async () => {
          await i.kill9();
          await sleep(dur(200, 3000));
          await i.start();
        });
      },
    },
    {
      kind: 'ingest SIGTERM mid-flush + restart',
      weight: 2,
      can: () => free(world.ingests).length > 0,
      run: async () => {
        const i = rnd.pick(free(world.ingests));
        return hold(i.name, async () => {
          const e = await i.sigterm();
          if (e.code !== 0) anomalies.push(badSigterm(i, e));
          await i.start();
        });
      },
    },
    {
      kind: 'process kill -9 + restart',
      weight: 3,
      can: () => free(world.replicas).length > 0,
      run: async () => {
        const r = rnd.pick(free(world.replicas));
        return hold(r.name, async () => {
          await r.kill9();
          await sleep(dur(200, 5000));
          await r.start();
        });
      },
    },
    {
      kind: 'process SIGTERM + restart',
      weight: 1,
      can: () => free(world.replicas).length > 0,
      run: async () => {
        const r = rnd.pick(free(world.replicas));
        return hold(r.name, async () => {
          const e = await r.sigterm();
          if (e.code !== 0) anomalies.push(badSigterm(r, e));
          await r.start();
        });
      },
    },
    {
      kind: 'process replica added and removed (rebalances)',
      weight: 1,
      can: () => !busy.has(world.extraReplica.name),
      run: async () => {
        const r = world.extraReplica;
        return hold(r.name, async () => {
          await r.start();
          await sleep(dur(5000, 20000));
          const e = await r.sigterm();
          if (e.code !== 0) anomalies.push(badSigterm(r, e));
        });
      },
    },
    {
      kind: 'broker SIGKILL + restart (leader elections)',
      weight: 2,
      can: () => !busy.has('kafka'),
      run: async () => {
        const id = rnd.pick(world.cluster.brokers);
        const down = dur(2000, 15000);
        return hold('kafka', async () => {
          await kafkaSh('kill', id);
          world.log(`broker ${id} killed for ${down} ms`);
          await sleep(down);
          await kafkaSh('start', id);
        });
      },
    },
    {
      kind: 'whole cluster unreachable',
      weight: 1,
      max: 2,
      can: () => !busy.has('kafka'),
      run: async () => {
        return hold('kafka', async () => {
          // SIGSTOP: every broker stops answering (connections hang, as behind a broken
          // link) and resumes with its data intact.
          const nodes = brokerPids(world.cluster.dir);
          for (const n of nodes) process.kill(n.pid, 'SIGSTOP');
          world.log(`cluster frozen (${nodes.length} brokers) for ${world.outageMs} ms`);
          try {
            await sleep(world.outageMs);
          } finally {
            for (const n of nodes) process.kill(n.pid, 'SIGCONT');
          }
        });
      },
    },
    {
      // A slow link to Kafka, the way the brokers impose it: a producer byte-rate quota on
      // the ingest instances' client.id (tc netem needs a kernel with sch_netem and the
      // cluster in a network namespace of its own; see netemNote).
      kind: 'Kafka throttled (producer quota)',
      weight: 1,
      can: () => !busy.has('kafka'),
      run: async () => {
        const ms = dur(5000, 15000);
        return hold('kafka', async () => {
          await kafkaSh('quota', world.ingestClientId, 64 * 1024);
          world.log(`producer quota of 64 KiB/s per broker on ${world.ingestClientId} for ${ms} ms`);
          try {
            await sleep(ms);
          } finally {
            await kafkaSh('quota', world.ingestClientId, 0);
          }
        });
      },
    },
    {
      kind: 'backend refusing',
      weight: 2,
      can: () => !busy.has('backend'),
      run: async () => {
        const how = rnd.pick(['unavailable', 'exhausted', 'http503', 'http429']);
        const ms = dur(2000, 8000);
        return hold('backend', () => backendFault(how, ms), `backend refusing (${how})`);
      },
    },
    {
      kind: 'backend hanging',
      weight: 1,
      can: () => !busy.has('backend'),
      run: async () => {
        const ms = dur(3000, 12000);
        return hold('backend', () => backendFault('hang', ms));
      },
    },
  ];

  // A backend fault lasts ms, and then until at least one export met it (at most 20 s
  // more), so that it is never counted without having been felt.
  async function backendFault(how, ms) {
    const ledger = world.ledger;
    const before = ledger.refusedRequests;
    ledger.setFault(how, ms + 20000);
    await sleep(ms);
    await ledger.until(() => ledger.refusedRequests > before, 20000);
    ledger.heal();
  }

  let currentKind = null;
  async function hold(target, fn, label) {
    busy.add(target);
    const kind = label || currentKind;
    counts[kind] = (counts[kind] || 0) + 1;
    try {
      await fn();
    } catch (e) {
      anomalies.push(`${kind}: ${e.message.split('\n').slice(0, 3).join(' / ')}`);
    } finally {
      busy.delete(target);
    }
  }

  // The first faults take every kind once, in a seeded order (each as soon as it can run),
  // so that even a short run covers them all; the rest are drawn by weight.
  const firstPass = KINDS.map((k) => [rnd.next(), k]).sort((a, b) => a[0] - b[0]).map(([, k]) => k);
  function choose() {
    const usable = KINDS.filter((k) => k.can() && (k.max === undefined || (k.injected || 0) < k.max));
    const pending = firstPass.filter((k) => !k.injected);
    if (pending.length > 0) return pending.find((k) => usable.includes(k)) || null;
    if (usable.length === 0) return null;
    let x = rnd.next() * usable.reduce((s, k) => s + k.weight, 0);
    for (const k of usable) {
      x -= k.weight;
      if (x <= 0) return k;
    }
    return usable[usable.length - 1];
  }

  let loop = null;
  return {
    counts,
    anomalies,
    injected: () => injected,
    start() {
      loop = (async () => {
        while (!stopping && injected < total) {
          await sleep(dur(gapMs[0], gapMs[1]));
          if (stopping) break;
          const k = choose();
          if (!k) continue;
          k.injected = (k.injected || 0) + 1;
          injected++;
          currentKind = k.kind;
          const p = k.run();
          running.add(p);
          p.finally(() => running.delete(p));
        }
      })();
    },
    // Stops injecting and waits for every fault in progress to be undone.
    async stop() {
      stopping = true;
      if (loop) await loop;
      await Promise.all([...running]);
    },
    done: () => injected >= total,
  };
}

// Why the run does not slow the network itself, or null when it could (sch_netem present).
function netemNote() {
  let config = '';
  try {
    config = require('node:zlib').gunzipSync(fs.readFileSync('/proc/config.gz')).toString();
  } catch {
    return 'network slowdown (tc netem) not injected: cannot read /proc/config.gz to tell whether the kernel has sch_netem';
  }
  if (!/^CONFIG_NET_SCH_NETEM=[ym]$/m.test(config)) {
    return 'network slowdown (tc netem) not injected: this kernel has no sch_netem (CONFIG_NET_SCH_NETEM unset); a broker-side producer quota stands in for a slow link';
  }
  return 'network slowdown (tc netem) not injected: it needs the cluster in a network namespace of its own, which scripts/kafka.sh does not build; a broker-side producer quota stands in for a slow link';
}

module.exports = { faultScript, prng, brokerPids, netemNote };
