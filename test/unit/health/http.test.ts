// HTTP and HTTPS probe against real loopback servers; the certificates are made by the openssl
// CLI in a temporary directory for each run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, ServerResponse, Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { createServer as createNetServer } from 'node:net';
import type { Socket } from 'node:net';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpProbe, parseStatusRanges, formatStatusRanges } from '../../../src/health/http.ts';
import type { HttpProbeOptions } from '../../../src/health/http.ts';
import { Checker } from '../../../src/health/checker.ts';
import type { CheckResult } from '../../../src/health/checker.ts';
import { close, listen, probeOnce, sleep, until } from './helpers.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function withServer(handler: Handler, body: (port: number, server: HttpServer) => Promise<void>): Promise<void> {
  const server = createHttpServer(handler);
  const port = await listen(server);
  try {
    await body(port, server);
  } finally {
    await close(server);
  }
}

function probe(port: number, extra: Partial<HttpProbeOptions> = {}): ReturnType<typeof probeOnce> {
  return probeOnce(httpProbe({ host: '127.0.0.1', port, ...extra }));
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

test('status codes: default 2xx, lists and ranges', async () => {
  let status = 200;
  await withServer((_req, res) => { res.statusCode = status; res.end('x'); }, async (port) => {
    assert.deepEqual(await probe(port), { ok: true, detail: 'HTTP 200', stage: 'waiting for response headers' });
    status = 204;
    assert.equal((await probe(port)).ok, true);
    status = 503;
    assert.deepEqual([(await probe(port)).ok, (await probe(port)).detail], [false, 'HTTP 503, want 200-299']);
    assert.equal((await probe(port, { expectedStatus: '200-299 500-503' })).ok, true);
    status = 302;
    assert.equal((await probe(port, { expectedStatus: [301, '500-503'] })).detail, 'HTTP 302, want 301 500-503');
    status = 404;
    assert.equal((await probe(port, { expectedStatus: [200, 404] })).ok, true);
  });
});

test('status specs parse and print; bad ones are refused', () => {
  assert.deepEqual(parseStatusRanges('200-299, 404 503'), [{ from: 200, to: 299 }, { from: 404, to: 404 }, { from: 503, to: 503 }]);
  assert.equal(formatStatusRanges(parseStatusRanges(['200-204', 301])), '200-204 301');
  assert.equal(formatStatusRanges(parseStatusRanges([{ from: 200, to: 299 }, { from: 418, to: 418 }])), '200-299 418');
  assert.throws(() => parseStatusRanges([{ from: 300, to: 200 }]), RangeError);
  for (const bad of ['', '2xx', '299-200', '700', '20', [99]]) assert.throws(() => parseStatusRanges(bad), RangeError, JSON.stringify(bad));
  assert.throws(() => httpProbe({ host: '127.0.0.1', port: 1, bodyDigest: 'abc' }), /64 hex/);
  assert.throws(() => httpProbe({ host: '127.0.0.1', port: 1, path: 'x' }), /path/);
});

test('body digest: match, mismatch, and a body over the bound', async () => {
  let body = 'hello, world\n';
  await withServer((_req, res) => res.end(body), async (port) => {
    const good = sha256('hello, world\n');
    assert.deepEqual(await probe(port, { bodyDigest: good.toUpperCase() }), { ok: true, detail: 'HTTP 200, body sha256 matches', stage: 'reading body' });
    body = 'hello, moon\n';
    const bad = await probe(port, { bodyDigest: good });
    assert.equal(bad.ok, false);
    assert.equal(bad.detail, `HTTP 200, body sha256 mismatch: got ${sha256(body)}`);
    body = 'x'.repeat(100_000);
    const big = await probe(port, { bodyDigest: sha256(body), maxBodyBytes: 1000 });
    assert.deepEqual([big.ok, big.detail], [false, 'HTTP 200, body longer than 1000 bytes']);
    assert.equal((await probe(port, { bodyDigest: sha256(body) })).ok, true, 'chunked 100 kB within the default bound');
  });
});

test('request: path, Host header (virtual host or address), Connection: close, fresh connection each run', async () => {
  const seen: { url: string | undefined; host: string | undefined; connection: string | undefined; port: number | undefined }[] = [];
  await withServer((req, res) => {
    seen.push({ url: req.url, host: req.headers.host, connection: req.headers.connection, port: req.socket.remotePort });
    res.end();
  }, async (port) => {
    assert.equal((await probe(port, { path: '/healthz?full=1', virtualHost: 'www.example.test' })).ok, true);
    assert.equal((await probe(port)).ok, true);
    assert.deepEqual(seen.map((s) => [s.url, s.host, s.connection]), [
      ['/healthz?full=1', 'www.example.test', 'close'],
      ['/', `127.0.0.1:${port}`, 'close'],
    ]);
    assert.notEqual(seen[0]?.port, seen[1]?.port);
  });
});

test('IPv6: the Host header carries the bracketed address', async () => {
  let host: string | undefined;
  const server = createHttpServer((req, res) => { host = req.headers.host; res.end(); });
  const port = await listen(server, '::1');
  try {
    assert.equal((await probeOnce(httpProbe({ host: '::1', port }))).detail, 'HTTP 200');
    assert.equal(host, `[::1]:${port}`);
  } finally {
    await close(server);
  }
});

test('refused and a server that never answers (timeout while waiting for headers)', async () => {
  const held: ServerResponse[] = [];
  await withServer((_req, res) => { held.push(res); }, async (port) => {
    const seen: CheckResult[] = [];
    const checker = new Checker(httpProbe({ host: '127.0.0.1', port }), { intervalMs: 1000, timeoutMs: 150, rise: 1, fall: 1, warmupMs: 0 },
      (r) => seen.push(r));
    checker.start();
    try {
      await until(() => seen.length >= 1);
    } finally {
      checker.stop();
    }
    assert.deepEqual([seen[0]?.ok, seen[0]?.timedOut, seen[0]?.detail], [false, true, 'timed out after 150ms waiting for response headers']);
  });
  const gone = createHttpServer();
  const port = await listen(gone);
  await close(gone);
  assert.deepEqual((await probe(port)).detail, `connect ECONNREFUSED 127.0.0.1:${port}`);
});

test('a hanging server never has two runs open at once, and stop() closes the one in flight', async () => {
  let open = 0;
  let maxOpen = 0;
  let requests = 0;
  await withServer((req) => {
    requests++;
    open++;
    maxOpen = Math.max(maxOpen, open);
    req.socket.once('close', () => open--);
  }, async (port) => {
    const seen: CheckResult[] = [];
    const checker = new Checker(httpProbe({ host: '127.0.0.1', port }), { intervalMs: 20, timeoutMs: 60, rise: 1, fall: 1, warmupMs: 0 },
      (r) => seen.push(r));
    checker.start();
    try {
      await until(() => requests >= 5);
      assert.equal(maxOpen, 1);
      assert.ok(seen.every((r) => !r.ok && r.timedOut));
      // Stop while a request is open: its connection is closed and nothing more is reported.
      await until(() => open === 1);
      const reported = seen.length;
      checker.stop();
      await until(() => open === 0, 1000);
      await sleep(100);
      assert.equal(seen.length, reported);
      assert.equal(maxOpen, 1);
    } finally {
      checker.stop();
    }
  });
});

// ---- HTTPS ----

let certDir = '';
const pem = (name: string): string => readFileSync(join(certDir, name), 'utf8');

before(() => {
  certDir = mkdtempSync(join(tmpdir(), 'kl-health-tls-'));
  const ssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: certDir, stdio: ['ignore', 'ignore', 'pipe'] }); };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  // A private CA and a leaf it signs, naming app.test and 127.0.0.1.
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=kubelived test CA');
  ssl('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=app.test');
  writeFileSync(join(certDir, 'leaf.ext'), 'subjectAltName=DNS:app.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2', '-extfile', 'leaf.ext');
  // A self-signed certificate, as many real servers have.
  ssl('req', '-x509', ...ec, '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', '/CN=self.test', '-addext', 'subjectAltName=DNS:self.test');
});

after(() => {
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

async function withHttpsServer(cert: 'leaf' | 'self', body: (port: number, sni: (string | false)[]) => Promise<void>): Promise<void> {
  const sni: (string | false)[] = [];
  const server = createHttpsServer({ key: pem(`${cert}.key`), cert: pem(`${cert}.pem`) }, (req, res) => {
    sni.push((req.socket as TLSSocket).servername ?? false);
    res.end('secure');
  });
  server.on('tlsClientError', () => {});
  const port = await listen(server);
  try {
    await body(port, sni);
  } finally {
    await close(server);
  }
}

test('HTTPS with a self-signed certificate: refused unless insecureSkipVerify', async () => {
  await withHttpsServer('self', async (port) => {
    const strict = await probe(port, { https: true });
    assert.equal(strict.ok, false);
    assert.equal(strict.detail, 'TLS handshake: self-signed certificate');
    assert.deepEqual(await probe(port, { https: true, tls: { insecureSkipVerify: true } }), { ok: true, detail: 'HTTP 200', stage: 'waiting for response headers' });
  });
});

test('HTTPS with the CA given: verified by address or by SNI name, and the server sees the SNI', async () => {
  await withHttpsServer('leaf', async (port, sni) => {
    const ca = pem('ca.pem');
    assert.match((await probe(port, { https: true })).detail, /^TLS handshake: unable to verify the first certificate/);
    // No name: the certificate must carry the address (IP:127.0.0.1), no SNI is sent.
    assert.equal((await probe(port, { https: true, tls: { ca } })).ok, true);
    // An explicit SNI, or one taken from the virtual host.
    assert.equal((await probe(port, { https: true, tls: { ca, sni: 'app.test' } })).ok, true);
    assert.equal((await probe(port, { https: true, virtualHost: 'app.test:8443', tls: { ca: [ca] } })).ok, true);
    assert.deepEqual(sni, [false, 'app.test', 'app.test']);
    const wrong = await probe(port, { https: true, tls: { ca, sni: 'other.test' } });
    assert.equal(wrong.ok, false);
    assert.match(wrong.detail, /^TLS handshake: Hostname\/IP does not match certificate's altnames/);
    const skip = await probe(port, { https: true, tls: { sni: 'other.test', insecureSkipVerify: true } });
    assert.equal(skip.ok, true);
    assert.equal(sni.at(-1), 'other.test');
  });
});

test('HTTPS against a server that never starts TLS times out in the handshake', async () => {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => { sockets.add(s); s.on('error', () => {}); });
  const port = await listen(server);
  try {
    const seen: CheckResult[] = [];
    const checker = new Checker(httpProbe({ host: '127.0.0.1', port, https: true }), { intervalMs: 1000, timeoutMs: 150, rise: 1, fall: 1, warmupMs: 0 },
      (r) => seen.push(r));
    checker.start();
    try {
      await until(() => seen.length >= 1);
    } finally {
      checker.stop();
    }
    assert.equal(seen[0]?.detail, `timed out after 150ms in TLS handshake with 127.0.0.1:${port}`);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
});
