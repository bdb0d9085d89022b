// UDP probe against real loopback sockets: an echo server, a closed port, a silent server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { udpProbe } from '../../../src/health/udp.ts';
import { Checker } from '../../../src/health/checker.ts';
import type { CheckResult } from '../../../src/health/checker.ts';
import { bindUdp, freeUdpPort, probeOnce, until } from './helpers.ts';

async function withUdp(type: 'udp4' | 'udp6', onMessage: (s: Socket, msg: Buffer, from: { address: string; port: number }) => void,
  body: (port: number) => Promise<void>): Promise<void> {
  const server = createSocket(type);
  server.on('message', (msg, rinfo) => onMessage(server, msg, rinfo));
  const port = await bindUdp(server, type === 'udp6' ? '::1' : '127.0.0.1');
  try {
    await body(port);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

const echo = (s: Socket, msg: Buffer, from: { address: string; port: number }): void => s.send(msg, from.port, from.address);

test('an echo server answers: any reply, or one starting with the expected bytes', async () => {
  const sources: string[] = [];
  await withUdp('udp4', (s, msg, from) => { sources.push(from.address); echo(s, Buffer.concat([Buffer.from('PONG '), msg]), from); }, async (port) => {
    assert.deepEqual(await probeOnce(udpProbe({ host: '127.0.0.1', port, send: 'ping' })),
      { ok: true, detail: `reply of 9 bytes from 127.0.0.1:${port}`, stage: `waiting for a reply from 127.0.0.1:${port}` });
    assert.equal((await probeOnce(udpProbe({ host: '127.0.0.1', port, send: new Uint8Array([1, 2]), expect: 'PONG \x01\x02' }))).ok, true);
    const wrong = await probeOnce(udpProbe({ host: '127.0.0.1', port, send: 'x', expect: new Uint8Array([0x50, 0x41]) }));
    assert.deepEqual([wrong.ok, wrong.detail], [false, `reply from 127.0.0.1:${port} does not match: got 504f4e472078, want a reply starting with 5041`]);
    const long = await probeOnce(udpProbe({ host: '127.0.0.1', port, send: 'x', expect: 'PONG xyz' }));
    assert.equal(long.ok, false, 'a reply shorter than the expected bytes does not match');
    assert.equal((await probeOnce(udpProbe({ host: '127.0.0.1', port, bindAddress: '127.0.0.3' }))).ok, true, 'empty datagram by default');
    assert.equal(sources.at(-1), '127.0.0.3');
  });
});

test('IPv6 echo', async () => {
  await withUdp('udp6', echo, async (port) => {
    assert.equal((await probeOnce(udpProbe({ host: '::1', port, send: 'ping', expect: 'ping' }))).detail, `reply of 4 bytes from [::1]:${port}`);
  });
});

test('a closed port answers with ICMP port unreachable: refused at once', async () => {
  const port = await freeUdpPort(createSocket('udp4'));
  const t0 = performance.now();
  const o = await probeOnce(udpProbe({ host: '127.0.0.1', port, send: 'ping' }));
  assert.deepEqual([o.ok, o.detail], [false, `ECONNREFUSED from 127.0.0.1:${port} (ICMP port unreachable)`]);
  assert.ok(performance.now() - t0 < 500);
});

test('a silent server: the check times out, through the scheduler', async () => {
  let received = 0;
  await withUdp('udp4', () => { received++; }, async (port) => {
    const seen: CheckResult[] = [];
    const checker = new Checker(udpProbe({ host: '127.0.0.1', port, send: 'ping' }), { intervalMs: 10, timeoutMs: 100, rise: 1, fall: 2, warmupMs: 0 },
      (r) => seen.push(r));
    checker.start();
    try {
      await until(() => seen.length >= 2);
    } finally {
      checker.stop();
    }
    assert.deepEqual(seen.slice(0, 2).map((r) => [r.ok, r.timedOut, r.detail]), [
      [false, true, `timed out after 100ms waiting for a reply from 127.0.0.1:${port}`],
      [false, true, `timed out after 100ms waiting for a reply from 127.0.0.1:${port}`],
    ]);
    assert.equal(checker.up, false);
    assert.ok(received >= 2);
  });
});
