'use strict';
// Test certificates made with the openssl command line at test time: certificate
// authorities, server certificates (with subjectAltName) and client certificates, as PEM
// files in a temporary directory that is removed when the process exits.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

// A directory for one test's material; removed at exit.
function pkiDir(tag = 'pki') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kotel-${tag}-`));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// A self-signed CA: { name, cert, key } (file paths).
function makeCa(dir, name) {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { name, cert, key };
}

// A certificate signed by ca: { cert, key }. dns / ip: subjectAltName entries (a server);
// client: extendedKeyUsage clientAuth instead of serverAuth.
function makeCert(dir, ca, name, { dns = [], ip = [], client = false } = {}) {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  const ext = path.join(dir, `${name}.ext`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`], dir);
  const san = [...dns.map((d) => `DNS:${d}`), ...ip.map((i) => `IP:${i}`)];
  fs.writeFileSync(
    ext,
    [`extendedKeyUsage=${client ? 'clientAuth' : 'serverAuth'}`, 'keyUsage=critical,digitalSignature', ...(san.length ? [`subjectAltName=${san.join(',')}`] : [])].join('\n') + '\n',
  );
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext], dir);
  return { cert, key };
}

// The PEM contents a node TLS server wants: { key, cert, ca } as Buffers.
function tlsMaterial(pair, ca) {
  return { key: fs.readFileSync(pair.key), cert: fs.readFileSync(pair.cert), ca: ca ? fs.readFileSync(ca.cert) : undefined };
}

module.exports = { pkiDir, makeCa, makeCert, tlsMaterial };
