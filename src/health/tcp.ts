// TCP probe (keepalived's TCP_CHECK): a completed three-way handshake is a success; the
// connection is closed at once without sending anything.
import { connect } from 'node:net';
import type { Probe, ProbeOutcome } from './checker.ts';
import { errorDetail, formatAddress } from './detail.ts';

export interface TcpProbeOptions {
  host: string;
  port: number;
  /** Source address to connect from (keepalived's bindto). */
  bindAddress?: string;
  /** Source port (keepalived's bind_port); rarely wise, since TIME_WAIT then blocks the next run. */
  bindPort?: number;
}

export function tcpProbe(options: TcpProbeOptions): Probe {
  const target = formatAddress(options.host, options.port);
  return ({ signal, stage }) => new Promise<ProbeOutcome>((resolve) => {
    stage(`connecting to ${target}`);
    const socket = connect({
      host: options.host,
      port: options.port,
      ...(options.bindAddress !== undefined ? { localAddress: options.bindAddress } : {}),
      ...(options.bindPort !== undefined ? { localPort: options.bindPort } : {}),
    });
    const done = (o: ProbeOutcome): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(o);
    };
    const onAbort = (): void => done({ ok: false, detail: `aborted connecting to ${target}` });
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done({ ok: true, detail: `connected to ${target}` }));
    socket.on('error', (e) => done({ ok: false, detail: errorDetail(e) }));
  });
}
