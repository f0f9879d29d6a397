'use strict';
// The real Apache Kafka cluster of the integration tests (scripts/kafka.sh): 3 KRaft nodes,
// replication factor 3, min.insync.replicas 2, auto-create off, with PLAINTEXT, SASL and
// SSL listeners.
//
// scripts/run-integration.sh starts one cluster per test run and exports KT_KAFKA_ENV (its
// env file); every test file uses that cluster and creates its own topics with unique names,
// so tests stay independent. A test file run on its own (node --test FILE) without
// KT_KAFKA_ENV starts a private cluster and stops it when the process exits.

const { execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { freePorts } = require('./ports');

// Not taken from procs.js, which requires this module.
const REPO = path.resolve(__dirname, '../../..');
const BUILD = path.resolve(REPO, process.env.KT_BUILD || 'build');
const KAFKA_SH = path.join(REPO, 'scripts/kafka.sh');

// Which Kafka a parametrised test runs on. KT_TEST_KAFKA=devbroker limits a quick local run
// to the devbroker; make test runs both.
const KAFKAS = (process.env.KT_TEST_KAFKA || 'devbroker,real').split(',').filter(Boolean);
const realKafkaEnabled = () => KAFKAS.includes('real');

// A test's name starts with "real Kafka: " when it runs on the real cluster, so the run's
// output (and scripts/run-integration.sh's summary) names every such test.
const kafkaLabel = (kafka) => (kafka === 'real' ? 'real Kafka: ' : '');

function parseEnv(text) {
  const env = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return env;
}

let cluster = null;

// The shared cluster: { dir, PLAINTEXT, SASL_PLAINTEXT, SSL, SASL_SSL, KAFKA_SASL_USER,
// KAFKA_SASL_PASSWORD, KAFKA_CA_FILE, KAFKA_OTHER_CA_FILE, KAFKA_CLIENT_CERT,
// KAFKA_CLIENT_KEY, KAFKA_VERSION, KAFKA_BROKERS }.
function realCluster() {
  if (cluster) return cluster;
  let envFile = process.env.KT_KAFKA_ENV;
  if (!envFile) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kotel-kafka-'));
    execFileSync(KAFKA_SH, ['up', '--dir', dir, '--brokers', '3'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, KT_BUILD: BUILD },
    });
    process.on('exit', () => {
      try {
        execFileSync(KAFKA_SH, ['down', '--dir', dir], { stdio: 'ignore' });
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        /* best effort on the way out */
      }
    });
    envFile = path.join(dir, 'env');
  }
  const env = parseEnv(fs.readFileSync(envFile, 'utf8'));
  if (!env.PLAINTEXT || !env.KAFKA_DIR) throw new Error(`${envFile}: not a scripts/kafka.sh env file`);
  cluster = { dir: env.KAFKA_DIR, ...env };
  return cluster;
}

function run(file, args, { timeoutMs = 120000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20, env: { ...process.env, KT_BUILD: BUILD } }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${path.basename(file)} ${args.join(' ')}: ${err.message.split('\n')[0]}\n${stderr}`));
        return;
      }
      resolve(stdout);
    });
  });
}

// kotel-kafka-admin against the cluster's PLAINTEXT listener.
function admin(args, opts) {
  return run(path.join(BUILD, 'kotel-kafka-admin'), ['-b', realCluster().PLAINTEXT, ...args], opts);
}

// scripts/kafka.sh kill|start|status NODE (or quota CLIENT_ID RATE) against the shared
// cluster.
function kafkaSh(cmd, ...rest) {
  const args = [cmd, ...rest.filter((x) => x !== undefined).map(String)];
  args.push('--dir', realCluster().dir);
  return run(KAFKA_SH, args, { timeoutMs: 180000 });
}

let topicSeq = 0;

// The replication of the tests' topics: 3, or the cluster's broker count when it has fewer
// (a one-node cluster of scripts/kafka.sh up --brokers 1).
function replicationOf() {
  return Math.min(3, Number(realCluster().KAFKA_BROKERS) || 3);
}

// Creates one topic per signal (and a dead-letter topic when deadLetter is set) with names no
// other test uses; resolves { traces, metrics, logs[, deadLetters] } (topic names).
async function createTopics({ partitions = 4, replication = replicationOf(), tag = 't', deadLetter = false } = {}) {
  const base = `kt-${tag}-${process.pid}-${++topicSeq}`;
  const topics = { traces: `${base}-spans`, metrics: `${base}-metrics`, logs: `${base}-logs` };
  if (deadLetter) topics.deadLetters = `${base}-dead`;
  await admin(['create', ...Object.values(topics), '--partitions', String(partitions), '--replication', String(replication)]);
  return topics;
}

// The coordinator's view of a consumer group: { state, members: [{ clientId, host,
// partitions: ['topic:p', ...] }] }.
async function describeGroup(group) {
  const out = await admin(['-t', '10000', 'group', group], { timeoutMs: 30000 });
  const res = { state: null, members: [] };
  for (const line of out.split('\n')) {
    const s = /^state (\S+)$/.exec(line);
    if (s) res.state = s[1];
    const m = /^member (\S+) (\S+) (\S+)$/.exec(line);
    if (m) res.members.push({ clientId: m[1], host: m[2], partitions: m[3] === '-' ? [] : m[3].split(',') });
  }
  return res;
}

// Leader broker id of topic/partition.
async function leaderOf(topic, partition) {
  return Number((await admin(['leader', topic, String(partition)])).trim());
}

// The --set options that point a kotel tier at the cluster's `listener` with the given SASL
// mechanism (or none) and TLS material.
function authSets(listener, { mechanism = null, password, caFile, clientCert = true } = {}) {
  const c = realCluster();
  const sets = { 'kafka.brokers': c[listener] };
  if (mechanism) {
    sets['kafka.auth.sasl.mechanism'] = mechanism;
    sets['kafka.auth.sasl.username'] = c.KAFKA_SASL_USER;
    sets['kafka.auth.sasl.password'] = password ?? c.KAFKA_SASL_PASSWORD;
  }
  if (listener === 'SSL' || listener === 'SASL_SSL') {
    sets['kafka.auth.tls.ca_file'] = caFile ?? c.KAFKA_CA_FILE;
    // The SSL listener requires a client certificate; SASL_SSL does not ask for one.
    if (listener === 'SSL' && clientCert) {
      sets['kafka.auth.tls.cert_file'] = c.KAFKA_CLIENT_CERT;
      sets['kafka.auth.tls.key_file'] = c.KAFKA_CLIENT_KEY;
    }
  }
  return sets;
}

// The --set options of a tier started only to see how it stops at startup: the test's
// topics on broker, free ports for ingest's listeners, a group and an (unused) backend for
// process. Callers add the setting under test.
async function startupSets(tier, broker) {
  const [p1, p2] = await freePorts(2);
  const base = {
    'kafka.brokers': broker.bootstrap,
    'kafka.traces_topic': broker.topics.traces,
    'kafka.metrics_topic': broker.topics.metrics,
    'kafka.logs_topic': broker.topics.logs,
  };
  return tier === 'kotel-ingest'
    ? { ...base, 'receiver.grpc_endpoint': `127.0.0.1:${p1}`, 'receiver.http_endpoint': `127.0.0.1:${p2}` }
    : { ...base, 'kafka.group_id': `kotel-startup-${process.pid}`, 'exporter.endpoint': `http://127.0.0.1:${p1}` };
}

module.exports = { KAFKAS, kafkaLabel, realKafkaEnabled, realCluster, admin, kafkaSh, createTopics, replicationOf, describeGroup, leaderOf, authSets, startupSets };
