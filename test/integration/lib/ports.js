'use strict';
// Free loopback ports, and waiting for a port to accept connections.

const net = require('node:net');

// Returns `count` distinct TCP ports that were free on 127.0.0.1 a moment ago. All listeners
// are held open until every port is known, so the ports differ from each other; another
// process may still take one before the caller binds it (the usual, unavoidable race).
async function freePorts(count = 1) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const srv = net.createServer();
      servers.push(srv);
      await new Promise((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve);
      });
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(() => resolve()))));
  }
}

async function freePort() {
  return (await freePorts(1))[0];
}

// Resolves true once a TCP connection to host:port succeeds (and closes it), false if the
// connect was refused or timed out.
function tryConnect(port, host = '127.0.0.1', timeoutMs = 500) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok) => {
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls until port accepts a connection: at most `attempts` tries, `intervalMs` apart.
// `alive()` is checked between tries so a process that died is reported at once.
async function waitForPort(port, { attempts = 200, intervalMs = 50, alive = () => true, what = 'port' } = {}) {
  for (let i = 0; i < attempts; i++) {
    if (await tryConnect(port)) return;
    const why = alive();
    if (why !== true) throw new Error(`${what}: gave up waiting for 127.0.0.1:${port}: ${why}`);
    await sleep(intervalMs);
  }
  throw new Error(`${what}: 127.0.0.1:${port} did not accept a connection after ${attempts} attempts`);
}

module.exports = { freePorts, freePort, tryConnect, waitForPort, sleep };
