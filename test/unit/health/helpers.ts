// Shared by the health tests: polling, one-shot probe runs, and loopback servers that are
// always closed again.
import type { Server } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';
import type { Probe, ProbeOutcome } from '../../../src/health/checker.ts';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await sleep(5);
  }
}

/** One run of a probe with a timeout, the way the scheduler bounds it. */
export async function probeOnce(probe: Probe, timeoutMs = 2000): Promise<ProbeOutcome & { stage: string }> {
  const controller = new AbortController();
  let stage = '';
  const timer = setTimeout(() => controller.abort(new Error('test timeout')), timeoutMs);
  try {
    const o = await probe({ signal: controller.signal, stage: (s) => { stage = s; } });
    return { ...o, stage };
  } finally {
    clearTimeout(timer);
  }
}

/** Listens on an ephemeral loopback port; resolves with the port. */
export function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
}

/** Closes a server and every connection still open on it. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close(() => resolve());
  });
}

export function bindUdp(socket: UdpSocket, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => resolve(socket.address().port));
  });
}

/** A loopback port with nothing listening: bound, read, released. */
export async function freeUdpPort(socket: UdpSocket): Promise<number> {
  const port = await bindUdp(socket);
  await new Promise<void>((r) => socket.close(() => r()));
  return port;
}
