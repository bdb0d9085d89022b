// UDP probe (keepalived's UDP_CHECK with require_reply): send one datagram on a connected
// socket and wait for a reply, optionally starting with given bytes. On a connected UDP socket
// the kernel reports the ICMP port unreachable that a closed port answers with as
// ECONNREFUSED, so a stopped service fails at once instead of at the timeout; host and network
// unreachable errors arrive the same way.
//
// Unlike keepalived's default (no require_reply: silence until the timeout counts as success),
// a reply is always required here: silence is a timeout, hence a failure.
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { Probe, ProbeContext, ProbeOutcome } from './checker.ts';
import { errorDetail, formatAddress, hexPreview } from './detail.ts';

export interface UdpProbeOptions {
  host: string;
  port: number;
  /** Payload of the request datagram (a string is sent as UTF-8); default empty. */
  send?: Uint8Array | string;
  /** The reply must start with these bytes; default any reply. */
  expect?: Uint8Array | string;
  /** Source address to send from. */
  bindAddress?: string;
}

const bytes = (v: Uint8Array | string | undefined): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v ?? []));

/** Maps the kernel's report of an ICMP error on a connected socket to a detail. */
export function socketErrorDetail(e: unknown, target: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return `ECONNREFUSED from ${target} (ICMP port unreachable)`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `${code} sending to ${target}`;
  return errorDetail(e);
}

export function udpProbe(options: UdpProbeOptions): Probe {
  const payload = bytes(options.send);
  const expect = options.expect === undefined ? undefined : bytes(options.expect);
  const target = formatAddress(options.host, options.port);
  return async (ctx: ProbeContext): Promise<ProbeOutcome> => {
    const address = isIP(options.host) !== 0 ? options.host : (await lookup(options.host)).address;
    const { signal, stage } = ctx;
    if (signal.aborted) return { ok: false, detail: 'aborted' };
    return udpExchange({
      address, port: options.port, payload, bindAddress: options.bindAddress, signal, target,
      onSent: () => stage(`waiting for a reply from ${target}`),
      onReply: (msg) => (expect === undefined || (msg.length >= expect.length && msg.subarray(0, expect.length).equals(expect))
        ? { ok: true, detail: `reply of ${msg.length} bytes from ${target}` }
        : { ok: false, detail: `reply from ${target} does not match: got ${hexPreview(msg)}, want a reply starting with ${hexPreview(expect)}` }),
    });
  };
}

export interface UdpExchange {
  address: string;
  port: number;
  payload: Uint8Array;
  bindAddress: string | undefined;
  signal: AbortSignal;
  /** "host:port", for details. */
  target: string;
  onSent: () => void;
  /** The outcome for a reply, or undefined to keep waiting (a reply to someone else). */
  onReply: (msg: Buffer) => ProbeOutcome | undefined;
}

/**
 * One datagram out on a connected socket and the first reply that decides, or the socket's
 * error: on a connected UDP socket an ICMP port unreachable arrives as ECONNREFUSED.
 */
export function udpExchange(x: UdpExchange): Promise<ProbeOutcome> {
  return new Promise<ProbeOutcome>((resolve) => {
    const socket = createSocket(isIP(x.address) === 6 ? 'udp6' : 'udp4');
    let finished = false;
    const done = (o: ProbeOutcome): void => {
      if (finished) return;
      finished = true;
      x.signal.removeEventListener('abort', onAbort);
      socket.close();
      resolve(o);
    };
    const onAbort = (): void => done({ ok: false, detail: 'aborted' });
    x.signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (e) => done({ ok: false, detail: socketErrorDetail(e, x.target) }));
    socket.on('message', (msg) => {
      const outcome = x.onReply(msg);
      if (outcome) done(outcome);
    });
    const connectAndSend = (): void => {
      socket.connect(x.port, x.address, () => {
        x.onSent();
        socket.send(x.payload, (err) => {
          if (err) done({ ok: false, detail: socketErrorDetail(err, x.target) });
        });
      });
    };
    if (x.bindAddress !== undefined) socket.bind(0, x.bindAddress, connectAndSend);
    else connectAndSend();
  });
}
