'use strict';
// The /status page of both tiers, rendered in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; never a downloaded browser): with traffic flowing it shows
// non-zero live rates for the receiver and Kafka producer (kotel-ingest) and the Kafka
// consumer and exporter (kotel-process), a lag bar per partition, the readiness badge, the
// effective configuration with a secret given by --set masked (the secret appears nowhere in
// the page), an oversized request head turning the receiver's box red, a backend outage as a
// warning in the recent errors list and a red badge, and
// "not reachable" once the tier is gone. Also plain HTTP: /status is text/html, /status.json
// is application/json and parses.
//
// The boxes for keys no tier fills yet ("backlog", "replicas") are checked on the page as
// kotel-ingest serves it, with a /status.json of the test's own.
//
// Screenshots go to build/test-artifacts/status-{ingest,process,process-backend-down,
// backlog}.png (build/ is ignored by git), for a person to look at after a run.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const { REPO, withStack, adminPortOf } = require('./lib/procs');
const { startProcess, processSets } = require('./lib/kprocess');
const { startGrpcBackend } = require('./lib/backend');
const { startFlow } = require('./lib/flow');
const { KAFKAS, kafkaLabel } = require('./lib/realkafka');
const { get } = require('./lib/metrics');

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO, 'build', 'test-artifacts');
const SECRET = 'status-page-secret-7f3a9c';
// librdkafka's statistics (the lag) every 500 ms instead of every 5 s.
const FAST_STATS = { 'kafka.rdkafka.statistics.interval.ms': '500' };
const WAIT_MS = 60000;

const noBrowser = !fs.existsSync(CHROMIUM) && `${CHROMIUM} is missing (scripts/deps.sh installs Debian's chromium)`;

// The live rate (per second) the page shows for a stage, or null before it has one.
function stageRate(page, name) {
  return page.evaluate((n) => {
    const d = document.querySelector(`.stage[data-stage="${n}"] .rate`);
    return d && d.dataset.rate !== '' ? Number(d.dataset.rate) : null;
  }, name);
}

// Waits (polling the DOM) until every stage in names shows a rate above 0.
async function waitRates(page, names) {
  try {
    await page.waitForFunction(
      (ns) => ns.every((n) => {
        const d = document.querySelector(`.stage[data-stage="${n}"] .rate`);
        return d && d.dataset.rate !== '' && Number(d.dataset.rate) > 0;
      }),
      names,
      { timeout: WAIT_MS, polling: 200 },
    );
  } catch (e) {
    const shown = await page.evaluate(() => [...document.querySelectorAll('.stage')].map((s) => s.innerText.replace(/\n/g, ' | ')));
    throw new Error(`no live rate above 0 for ${names.join(', ')} within ${WAIT_MS} ms; the page shows: ${JSON.stringify(shown)}`, { cause: e });
  }
}

// Sends one HTTP/1.1 request whose head is 100 KiB to url's host and port; resolves once the
// server closed the connection.
function oversizedHead(url) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: url.hostname, port: Number(url.port) }, () => {
      sock.end(`POST /v1/traces HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\n\r\n`);
    });
    sock.on('data', () => {});
    sock.on('error', () => {}); // a reset is one way to be closed
    sock.on('close', resolve);
    sock.setTimeout(WAIT_MS, () => reject(new Error('the oversized request head was not closed')));
  });
}

async function checkHttp(port, tier) {
  const page = await get(port, '/status');
  assert.equal(page.status, 200);
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(page.text, /^<!DOCTYPE html>/);
  assert.doesNotMatch(page.text, /(src|href)="https?:/, 'no external assets');
  const js = await get(port, '/status.json');
  assert.equal(js.status, 200);
  assert.equal(js.headers['content-type'], 'application/json');
  const s = JSON.parse(js.text);
  assert.equal(s.tier, tier);
  assert.equal(typeof s.ready.ready, 'boolean');
  assert.ok(s.now >= s.started_at && s.started_at > 1e9, `now ${s.now}, started_at ${s.started_at}`);
  assert.ok(Array.isArray(s.stages) && s.stages.length >= 2);
  assert.ok(Array.isArray(s.errors));
  assert.match(s.config, /effective configuration/);
  return s;
}

for (const kafka of KAFKAS) {
  test(`${kafkaLabel(kafka)}/status in headless Chromium: live rates, lag bars, masked config, errors`, { skip: noBrowser, timeout: 300000 }, async () => {
    const { chromium } = require('playwright-core');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await withStack({ kafka }, async ({ broker, ingest }) => {
      let backend = await startGrpcBackend();
      const proc = await startProcess({
        sets: processSets(broker, backend, {
          ...FAST_STATS,
          'exporter.headers': `X-Api-Key=${SECRET}`,
          'tail_sampling.decision_wait': '500ms',
          'tail_sampling.policy.all.type': 'probabilistic',
          'tail_sampling.policy.all.sampling_percentage': '100',
        }),
      });
      const flow = startFlow(ingest, { intervalMs: 100, tag: 'status' });
      let browser;
      let procStopped = false;
      try {
        const ingestPort = await adminPortOf(ingest);
        const procPort = await adminPortOf(proc);
        const is = await checkHttp(ingestPort, 'ingest');
        assert.deepEqual(is.stages.map((s) => s.name), ['receiver', 'Kafka producer']);
        assert.equal(is.partitions, undefined);
        const ps = await checkHttp(procPort, 'process');
        assert.deepEqual(ps.stages.map((s) => s.name), ['Kafka consumer', 'filter', 'transform', 'tail sampling', 'exporter']);
        assert.ok(Array.isArray(ps.partitions));
        assert.ok(!ps.config.includes(SECRET), 'the secret is masked in status.json');
        assert.match(ps.config, /^headers = \*\*\*\*$/m);

        browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });

        // kotel-process: rates through the pipeline, a lag bar per partition, ready.
        await page.goto(`http://127.0.0.1:${procPort}/status`);
        await waitRates(page, ['Kafka consumer', 'exporter']);
        await page.waitForSelector('tr.partition .bar', { timeout: WAIT_MS });
        assert.equal(await page.textContent('#ready'), 'ready');
        assert.equal(await page.textContent('#tier'), `process ${ps.version}`);
        const names = await page.$$eval('.stage h3', (hs) => hs.map((h) => h.textContent));
        assert.deepEqual(names, ['Kafka consumer', 'filter', 'transform', 'tail sampling', 'exporter']);
        assert.equal(await page.$$eval('.arrow', (a) => a.length), 4, 'an arrow between each two stages');
        const parts = await page.$$eval('tr.partition', (rows) => rows.map((r) => r.textContent));
        assert.ok(parts.some((t) => t.includes(broker.topics.traces)), `a lag bar of the traces topic: ${parts}`);
        // The configuration, opened: the secret is masked, in the text and in the document.
        await page.click('#config-details summary');
        const body = await page.innerText('body');
        assert.match(body, /headers = \*\*\*\*/);
        assert.ok(!body.includes(SECRET), 'the secret is not in the page text');
        assert.ok(!(await page.content()).includes(SECRET), 'the secret is not in the document');
        await page.screenshot({ path: path.join(ARTIFACTS, 'status-process.png'), fullPage: true });

        // kotel-ingest: the same page, its own stages and no partitions.
        const ipage = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        await ipage.goto(`http://127.0.0.1:${ingestPort}/status`);
        await waitRates(ipage, ['receiver', 'Kafka producer']);
        assert.equal(await ipage.textContent('#ready'), 'ready');
        assert.ok(await ipage.$eval('#partitions-section', (s) => s.hidden), 'no partitions on ingest');
        assert.ok(await ipage.$eval('#backlog-section', (s) => s.hidden), 'no backlog box without the key');
        assert.ok((await stageRate(ipage, 'receiver')) > 0);
        await ipage.screenshot({ path: path.join(ARTIFACTS, 'status-ingest.png'), fullPage: true });
        // A request head over [receiver] max_header_bytes (64 KiB) is an error of the receiver:
        // its box turns red for the reading that saw it.
        await oversizedHead(new URL(ingest.httpUrl));
        await ipage.waitForFunction(
          () => {
            const st = document.querySelector('.stage[data-stage="receiver"]');
            return st && st.classList.contains('alert') && /^errors \d+ \(\+\d+\)$/.test(st.querySelector('.line.bad').textContent);
          },
          null,
          { timeout: WAIT_MS, polling: 100 },
        );

        // A backend outage: the exporter's retry warning in the list, the badge red.
        const backendPort = backend.port;
        await backend.stop();
        await page.waitForFunction(
          () => [...document.querySelectorAll('#errors li')].some((li) => /WARN export of \d+ \w+ \(\w+\) failed: .*retry/.test(li.textContent)),
          null,
          { timeout: WAIT_MS, polling: 200 },
        );
        await page.waitForFunction(() => document.querySelector('#ready').textContent === 'not ready', null, { timeout: WAIT_MS, polling: 200 });
        assert.match(await page.getAttribute('#ready', 'title'), /backend .* not reachable/);
        await page.screenshot({ path: path.join(ARTIFACTS, 'status-process-backend-down.png'), fullPage: true });
        backend = await startGrpcBackend({ port: backendPort });
        await page.waitForFunction(() => document.querySelector('#ready').textContent === 'ready', null, { timeout: WAIT_MS, polling: 200 });

        // The tier gone: the page says since when it has not answered.
        await flow.stop();
        const ex = await proc.stop();
        procStopped = true;
        assert.equal(ex.code, 0, `kotel-process exit ${JSON.stringify(ex)}`);
        await page.waitForFunction(() => /^not reachable since /.test(document.querySelector('#unreachable').textContent), null, { timeout: WAIT_MS, polling: 200 });
        assert.ok(await page.isVisible('#unreachable'));
      } catch (e) {
        e.message += `\n--- kotel-process stderr (tail) ---\n${proc.log().slice(-4000)}`;
        throw e;
      } finally {
        await flow.stop();
        if (browser) await browser.close();
        if (!procStopped) await proc.stop();
        await backend.stop();
      }
    });
  });
}

// The page kotel-ingest serves, with a /status.json of the test's own holding the keys kotel
// adds later: the backlog box (behind, drain rate, ETA, state) and the replicas warning.
test('/status draws the backlog box and the replicas warning when /status.json has them', { skip: noBrowser, timeout: 120000 }, async () => {
  const { chromium } = require('playwright-core');
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await withStack({}, async ({ ingest }) => {
    const html = (await get(await adminPortOf(ingest), '/status')).text;
    const now = Date.now() / 1000;
    const status = {
      tier: 'process',
      version: 'test',
      started_at: now - 3725,
      now,
      ready: { ready: true },
      stages: [{ name: 'Kafka consumer', unit: 'items', in: 10, out: 10, refused: 0, errors: 0, counters: {}, gauges: {} }],
      partitions: [{ topic: 'otlp_spans', partition: 0, lag: 120000 }],
      backlog: { lag: 120000, rate_per_s: 2000, eta_s: 60, state: 'draining' },
      replicas: { warning: '2 replicas for 1 partition: 1 of them idle' },
      errors: [],
      config: '# test\n',
    };
    const srv = http.createServer((req, res) => {
      if (req.url === '/status') res.writeHead(200, { 'content-type': 'text/html' }).end(html);
      else if (req.url === '/status.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(status));
      else res.writeHead(404).end();
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 600 } });
      await page.goto(`http://127.0.0.1:${srv.address().port}/status`);
      await page.waitForSelector('#backlog-section:not([hidden])', { timeout: WAIT_MS });
      assert.equal(await page.textContent('#backlog'), '120,000 messages behind · draining at 2,000 messages/s · ETA 1 min 0 s · draining');
      assert.equal(await page.textContent('#replicas'), '2 replicas for 1 partition: 1 of them idle');
      assert.ok(await page.isVisible('#replicas'));
      assert.match(await page.textContent('#meta'), /^up 1 h 2 min/);
      await page.screenshot({ path: path.join(ARTIFACTS, 'status-backlog.png'), fullPage: true });
      // Drained, with no ETA and no warning: the box says so and the warning goes.
      status.backlog = { lag: 0, rate_per_s: 0, eta_s: null, state: 'drained' };
      status.replicas = { warning: null };
      await page.waitForFunction(() => /ETA unknown · drained$/.test(document.querySelector('#backlog').textContent), null, { timeout: WAIT_MS, polling: 200 });
      assert.ok(!(await page.isVisible('#replicas')));
    } finally {
      await browser.close();
      await new Promise((r) => srv.close(r));
    }
  });
});
