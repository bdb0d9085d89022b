// createProbe dispatches each spec type to its probe, against one loopback HTTP server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createProbe } from '../../../src/health/probes.ts';
import { close, listen, probeOnce } from './helpers.ts';

test('every spec type reaches its probe', async () => {
  const server = createServer((_req, res) => res.end('ok'));
  const port = await listen(server);
  try {
    const host = '127.0.0.1';
    assert.equal((await probeOnce(createProbe({ type: 'TCP', host, port }))).detail, `connected to 127.0.0.1:${port}`);
    assert.equal((await probeOnce(createProbe({ type: 'HTTP', host, port, path: '/x' }))).detail, 'HTTP 200');
    const tls = await probeOnce(createProbe({ type: 'HTTPS', host, port }));
    assert.equal(tls.ok, false);
    assert.match(tls.detail, /^TLS handshake: /, 'HTTPS speaks TLS to a plain HTTP server and fails');
    assert.match((await probeOnce(createProbe({ type: 'UDP', host, port: 9 }))).detail, /ECONNREFUSED|reply of/);
    assert.match((await probeOnce(createProbe({ type: 'DNS', host, port: 9, name: 'a.test', recordType: 'A' }))).detail, /ECONNREFUSED|NOERROR|NXDOMAIN/);
    assert.equal((await probeOnce(createProbe({ type: 'EXEC', command: ['true'] }))).detail, 'exit 0');
  } finally {
    await close(server);
  }
});
