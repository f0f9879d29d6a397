'use strict';
// A child process that opens and holds idle TCP connections, so that a test can hold more
// connections than its own open files limit allows (each holder has a limit of its own).
//
//   node conn-holder.js PORT COUNT FIRST_SOURCE_HOST SOURCES
//
// Connection i comes from 127.0.0.(FIRST_SOURCE_HOST + i % SOURCES), spreading them over
// several source addresses (per-address limits, ephemeral ports). Once every connection is
// open or failed it prints `ready CONNECTED FAILED`, then `closed N` (connections the server
// closed so far) whenever that changes. It sends nothing; it exits when stdin closes.

const net = require('node:net');

const [port, count, firstHost, sources] = process.argv.slice(2).map(Number);
let connected = 0;
let failed = 0;
let closedByServer = 0;
let reported = -1;
const socks = [];

function report() {
  if (closedByServer !== reported) {
    reported = closedByServer;
    process.stdout.write(`closed ${closedByServer}\n`);
  }
}

// Opened a few hundred at a time: a burst of all at once would overflow the listen backlog
// and turn into SYN retries of a second or more.
async function openAll() {
  const BATCH = 200;
  for (let i = 0; i < count; i += BATCH) {
    const n = Math.min(BATCH, count - i);
    await Promise.all(
      Array.from({ length: n }, (_, j) => new Promise((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${firstHost + ((i + j) % sources)}` });
        let open = false;
        s.on('error', () => {});
        s.once('connect', () => {
          open = true;
          connected++;
          socks.push(s);
          resolve();
        });
        s.on('close', () => {
          if (open) closedByServer++;
          else {
            failed++;
            resolve();
          }
        });
      })),
    );
  }
  process.stdout.write(`ready ${connected} ${failed}\n`);
  setInterval(report, 100);
}

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
openAll();
