// Shared test helpers: an independent checksum, address bytes, router configs and draining.
import ipaddr from 'ipaddr.js';
import { encodeAdvert, multicastGroup, passwordAuthData, type Advert } from '../../../src/vrrp/packet.ts';
import type { Action, RouterConfig, VrrpRouter } from '../../../src/vrrp/router.ts';

/**
 * RFC 1071 checksum written differently from src/vrrp/checksum.ts on purpose: concatenate,
 * pad, sum big-endian words without folding until the end.
 */
export function referenceChecksum(...parts: Uint8Array[]): number {
  const all = Buffer.concat(parts.map((p) => Buffer.from(p)));
  const even = all.length % 2 === 0 ? all : Buffer.concat([all, Buffer.alloc(1)]);
  let sum = 0;
  for (let i = 0; i < even.length; i += 2) sum += even.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return 0xffff - sum;
}

export function addrBytes(text: string): Uint8Array {
  return Uint8Array.from(ipaddr.parse(text).toByteArray());
}

/** The pseudo-header laid out by hand from the RFCs (RFC 768 / RFC 8200 §8.1). */
export function referencePseudoHeader(src: string, dst: string, length: number): Uint8Array {
  const s = addrBytes(src);
  const d = addrBytes(dst);
  if (s.length === 4) return Uint8Array.from([...s, ...d, 0, 112, length >> 8, length & 0xff]);
  return Uint8Array.from([...s, ...d, 0, 0, length >> 8, length & 0xff, 0, 0, 0, 112]);
}

/** The checksum the v3 message should carry: computed with its checksum field zeroed. */
export function expectedV3Checksum(message: Uint8Array, src: string, dst: string): number {
  const zeroed = Uint8Array.from(message);
  zeroed[6] = 0;
  zeroed[7] = 0;
  return referenceChecksum(referencePseudoHeader(src, dst, message.length), zeroed);
}

export function expectedV2Checksum(message: Uint8Array): number {
  const zeroed = Uint8Array.from(message);
  zeroed[6] = 0;
  zeroed[7] = 0;
  return referenceChecksum(zeroed);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/[^0-9a-fA-F]/g, ''), 'hex'));
}

export function config(overrides: Partial<RouterConfig> = {}): RouterConfig {
  return {
    name: 'vi1',
    vrid: 51,
    version: 3,
    family: 4,
    priority: 100,
    virtualIPs: ['198.18.0.100'],
    advertIntervalCs: 100,
    preempt: true,
    preemptDelayMs: 0,
    unicastPeers: [],
    localAddress: '198.18.0.1',
    tracks: [],
    garp: { repeat: 5, delayMs: 0, refreshMs: 0 },
    ...overrides,
  };
}

export function drain(router: VrrpRouter): Action[] {
  const out: Action[] = [];
  for (let a = router.pollAction(); a !== undefined; a = router.pollAction()) out.push(a);
  return out;
}

export function kinds(actions: readonly Action[]): string[] {
  return actions.map((a) => (a.kind === 'transition' ? `transition:${a.from}->${a.to}` : a.kind));
}

export function transitions(actions: readonly Action[]): Extract<Action, { kind: 'transition' }>[] {
  return actions.filter((a): a is Extract<Action, { kind: 'transition' }> => a.kind === 'transition');
}

export function sends(actions: readonly Action[]): Extract<Action, { kind: 'send' }>[] {
  return actions.filter((a): a is Extract<Action, { kind: 'send' }> => a.kind === 'send');
}

/** An advert as a peer of `cfg` would send it, with the meta a socket would report. */
export function peerAdvert(
  cfg: RouterConfig,
  src: string,
  priority: number,
  opts: { intervalCs?: number; addresses?: string[]; dst?: string; ttl?: number } = {},
): { bytes: Uint8Array; meta: { src: string; dst: string; ttl: number } } {
  const dst = opts.dst ?? (cfg.unicastPeers.length > 0 ? cfg.localAddress : multicastGroup(cfg.family));
  const advert: Advert = {
    version: cfg.version,
    vrid: cfg.vrid,
    priority,
    intervalCs: opts.intervalCs ?? cfg.advertIntervalCs,
    addresses: opts.addresses ?? cfg.virtualIPs,
  };
  if (cfg.version === 2 && cfg.authPassword !== undefined) {
    advert.authType = 1;
    advert.authData = passwordAuthData(cfg.authPassword);
  }
  return { bytes: encodeAdvert(advert, { family: cfg.family, src, dst }), meta: { src, dst, ttl: opts.ttl ?? 255 } };
}

/** Feeds a peer advert to the router. */
export function hear(router: VrrpRouter, src: string, priority: number, now: number, opts: Parameters<typeof peerAdvert>[3] = {}): void {
  const { bytes, meta } = peerAdvert(router.config, src, priority, opts);
  router.receive(bytes, meta, now);
}

/** Priority carried by a send action's advert. */
export function sentPriority(action: Action): number {
  if (action.kind !== 'send') throw new TypeError(`not a send: ${action.kind}`);
  return action.bytes[2] ?? -1;
}
