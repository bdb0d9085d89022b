// TCP probe against real loopback listeners.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import type { Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tcpProbe } from '../../../src/health/tcp.ts';
import { Checker } from '../../../src/health/checker.ts';
import type { CheckResult } from '../../../src/health/checker.ts';
import { listen, probeOnce, until } from './helpers.ts';

function tracked(): { server: ReturnType<typeof createServer>; peers: string[]; closeAll: () => Promise<void> } {
  const sockets = new Set<Socket>();
  const peers: string[] = [];
  const server = createServer((s) => {
    sockets.add(s);
    peers.push(s.remoteAddress ?? '');
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  const closeAll = (): Promise<void> => new Promise((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  });
  return { server, peers, closeAll };
}

test('a listening port is up, with the source address it was told to bind', async () => {
  const { server, peers, closeAll } = tracked();
  const port = await listen(server);
  try {
    const o = await probeOnce(tcpProbe({ host: '127.0.0.1', port }));
    assert.deepEqual([o.ok, o.detail], [true, `connected to 127.0.0.1:${port}`]);
    const b = await probeOnce(tcpProbe({ host: '127.0.0.1', port, bindAddress: '127.0.0.2' }));
    assert.equal(b.ok, true);
    await until(() => peers.length === 2);
    assert.deepEqual(peers, ['127.0.0.1', '127.0.0.2']);
  } finally {
    await closeAll();
  }
});

test('IPv6 loopback', async () => {
  const { server, closeAll } = tracked();
  const port = await listen(server, '::1');
  try {
    const o = await probeOnce(tcpProbe({ host: '::1', port }));
    assert.deepEqual([o.ok, o.detail], [true, `connected to [::1]:${port}`]);
  } finally {
    await closeAll();
  }
});

test('a closed port is refused at once', async () => {
  const { server, closeAll } = tracked();
  const port = await listen(server);
  await closeAll();
  const t0 = performance.now();
  const o = await probeOnce(tcpProbe({ host: '127.0.0.1', port }));
  assert.deepEqual([o.ok, o.detail], [false, `connect ECONNREFUSED 127.0.0.1:${port}`]);
  assert.ok(performance.now() - t0 < 500);
});

test('a listener whose accept queue is full drops the SYN: the check times out while connecting', async () => {
  // A child process listens with a backlog of 1 and then blocks its event loop for good, so
  // the kernel completes handshakes until the accept queue is full and then drops new SYNs.
  const child = spawn(process.execPath, ['-e', `
    const s = require('node:net').createServer();
    s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      process.stdout.write(s.address().port + '\\n');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    });`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: Socket[] = [];
  try {
    const [chunk] = await once(child.stdout, 'data') as [Buffer];
    const port = Number(chunk.toString().trim());
    // Fill the accept queue (backlog + 1 on Linux); these never get accepted.
    for (let i = 0; i < 2; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      fillers.push(s);
      await once(s, 'connect');
    }
    const seen: CheckResult[] = [];
    const checker = new Checker(tcpProbe({ host: '127.0.0.1', port }), { intervalMs: 1000, timeoutMs: 200, rise: 1, fall: 1, warmupMs: 0 },
      (r) => seen.push(r));
    checker.start();
    try {
      await until(() => seen.length >= 1);
    } finally {
      checker.stop();
    }
    assert.equal(seen[0]?.ok, false);
    assert.equal(seen[0]?.timedOut, true);
    assert.equal(seen[0]?.detail, `timed out after 200ms connecting to 127.0.0.1:${port}`);
  } finally {
    for (const s of fillers) s.destroy();
    child.kill('SIGKILL');
  }
});

test('through the scheduler: up, down when the server goes away, up again after rise', async () => {
  const first = tracked();
  const port = await listen(first.server);
  const seen: { r: CheckResult; changed: boolean; up: boolean }[] = [];
  const checker = new Checker(tcpProbe({ host: '127.0.0.1', port }), { intervalMs: 15, timeoutMs: 500, rise: 2, fall: 2, warmupMs: 0 },
    (r, changed, up) => seen.push({ r, changed, up }));
  let second: ReturnType<typeof tracked> | undefined;
  checker.start();
  try {
    await until(() => seen.length >= 2);
    assert.ok(seen.every((s) => s.r.ok && s.up && !s.changed));
    await first.closeAll();
    await until(() => !checker.up);
    const down = seen.findIndex((s) => s.changed);
    assert.equal(seen[down - 1]?.r.ok, false, 'the first failure alone does not bring it down (fall 2)');
    assert.match(seen[down]?.r.detail ?? '', /ECONNREFUSED/);
    second = tracked();
    second.server.listen(port, '127.0.0.1');
    await once(second.server, 'listening');
    await until(() => checker.up);
    const up = seen.findLastIndex((s) => s.changed);
    assert.deepEqual([seen[up - 1]?.r.ok, seen[up - 1]?.up, seen[up]?.r.ok], [true, false, true], 'rise 2');
    assert.equal(checker.stats.transitions, 2);
  } finally {
    checker.stop();
    await second?.closeAll();
  }
});
