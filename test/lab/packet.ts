// Minimal frame decoding for the lab's captures (probe, golden vectors): Ethernet, ARP, IPv4,
// IPv6, ICMP echo reply, ICMPv6 echo reply / neighbour advertisement, VRRP payload, pcap files.
// Deliberately independent of src/vrrp so vectors are not checked by the code they test.

export function macStr(b: Uint8Array, off: number): string {
  return Array.from(b.subarray(off, off + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

export function ipv4Str(b: Uint8Array, off: number): string {
  return Array.from(b.subarray(off, off + 4)).join('.');
}

/** RFC 5952 text of 16 bytes. */
export function ipv6Str(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(((b[off + 2 * i] ?? 0) << 8) | (b[off + 2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function parseIpv6(s: string): Uint8Array {
  const out = new Uint8Array(16);
  const [head, tail, extra] = s.split('::');
  if (extra !== undefined) throw new Error(`bad IPv6 address ${s}`);
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  if (tail === undefined && h.length !== 8) throw new Error(`bad IPv6 address ${s}`);
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 address ${s}`);
  groups.forEach((x, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(x)) throw new Error(`bad IPv6 address ${s}`);
    const v = parseInt(x, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** Canonical text of an IPv4 or IPv6 address (so string comparison works). */
export function canonicalIp(s: string): string {
  return s.includes(':') ? ipv6Str(parseIpv6(s)) : s;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export type Decoded =
  | { kind: 'arp'; ethSrc: string; ethDst: string; op: number; sha: string; spa: string; tha: string; tpa: string }
  | { kind: 'echo-reply'; family: 4 | 6; ethSrc: string; ethDst: string; src: string; dst: string; id: number; seq: number }
  | {
      kind: 'na';
      ethSrc: string;
      ethDst: string;
      src: string;
      dst: string;
      target: string;
      router: boolean;
      solicited: boolean;
      override: boolean;
      /** Target link-layer address option, if present. */
      tlla: string | undefined;
    }
  | {
      kind: 'vrrp';
      family: 4 | 6;
      ethSrc: string;
      ethDst: string;
      src: string;
      dst: string;
      ttl: number;
      /** IPv4 TOS / IPv6 traffic class. */
      tos: number;
      /** VRRP message only, no IP header. */
      payload: Uint8Array;
    }
  | { kind: 'other'; ethSrc: string; ethDst: string; ethertype: number };

/** Decode one Ethernet frame, as far as the lab cares. */
export function decodeFrame(f: Uint8Array): Decoded {
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  const ethDst = macStr(f, 0);
  const ethSrc = macStr(f, 6);
  const ethertype = dv.getUint16(12);
  const L = 14;
  if (ethertype === 0x0806 && f.length >= L + 28) {
    return {
      kind: 'arp',
      ethSrc,
      ethDst,
      op: dv.getUint16(L + 6),
      sha: macStr(f, L + 8),
      spa: ipv4Str(f, L + 14),
      tha: macStr(f, L + 18),
      tpa: ipv4Str(f, L + 24),
    };
  }
  if (ethertype === 0x0800 && f.length >= L + 20) {
    const ihl = ((f[L] ?? 0) & 0x0f) * 4;
    const totalLen = dv.getUint16(L + 2);
    const proto = f[L + 9];
    const src = ipv4Str(f, L + 12);
    const dst = ipv4Str(f, L + 16);
    const p = L + ihl;
    if (proto === 1 && f[p] === 0 && f.length >= p + 8)
      return { kind: 'echo-reply', family: 4, ethSrc, ethDst, src, dst, id: dv.getUint16(p + 4), seq: dv.getUint16(p + 6) };
    if (proto === 112)
      return { kind: 'vrrp', family: 4, ethSrc, ethDst, src, dst, ttl: f[L + 8] ?? 0, tos: f[L + 1] ?? 0, payload: f.slice(p, L + totalLen) };
  }
  if (ethertype === 0x86dd && f.length >= L + 40) {
    const next = f[L + 6];
    const payloadLen = dv.getUint16(L + 4);
    const src = ipv6Str(f, L + 8);
    const dst = ipv6Str(f, L + 24);
    const p = L + 40;
    const tc = ((dv.getUint32(L) >>> 20) & 0xff) >>> 0;
    if (next === 58 && f[p] === 129 && f.length >= p + 8)
      return { kind: 'echo-reply', family: 6, ethSrc, ethDst, src, dst, id: dv.getUint16(p + 4), seq: dv.getUint16(p + 6) };
    if (next === 58 && f[p] === 136 && f.length >= p + 24) {
      const flags = f[p + 4] ?? 0;
      let tlla: string | undefined;
      for (let o = p + 24; o + 8 <= L + 40 + payloadLen && o + 8 <= f.length; ) {
        const type = f[o] ?? 0;
        const len = (f[o + 1] ?? 0) * 8;
        if (len === 0) break;
        if (type === 2) tlla = macStr(f, o + 2);
        o += len;
      }
      return {
        kind: 'na',
        ethSrc,
        ethDst,
        src,
        dst,
        target: ipv6Str(f, p + 8),
        router: (flags & 0x80) !== 0,
        solicited: (flags & 0x40) !== 0,
        override: (flags & 0x20) !== 0,
        tlla,
      };
    }
    if (next === 112)
      return { kind: 'vrrp', family: 6, ethSrc, ethDst, src, dst, ttl: f[L + 7] ?? 0, tos: tc, payload: f.slice(p, p + payloadLen) };
  }
  return { kind: 'other', ethSrc, ethDst, ethertype };
}

export interface PcapRecord {
  /** ms since the epoch, microsecond resolution. */
  t: number;
  frame: Uint8Array;
}

/** Read a classic pcap file (little- or big-endian, µs or ns), Ethernet link type only. */
export function readPcap(buf: Uint8Array): PcapRecord[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 24) return [];
  const magicLE = dv.getUint32(0, true);
  let le: boolean;
  let nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) {
    le = true;
    nano = magicLE === 0xa1b23c4d;
  } else {
    const magicBE = dv.getUint32(0, false);
    if (magicBE !== 0xa1b2c3d4 && magicBE !== 0xa1b23c4d) throw new Error('not a pcap file');
    le = false;
    nano = magicBE === 0xa1b23c4d;
  }
  const linktype = dv.getUint32(20, le);
  if (linktype !== 1) throw new Error(`pcap link type ${linktype}, expected Ethernet (1)`);
  const out: PcapRecord[] = [];
  for (let o = 24; o + 16 <= buf.length; ) {
    const sec = dv.getUint32(o, le);
    const frac = dv.getUint32(o + 4, le);
    const incl = dv.getUint32(o + 8, le);
    if (o + 16 + incl > buf.length) break; // truncated last record (capture killed)
    out.push({ t: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3), frame: buf.slice(o + 16, o + 16 + incl) });
    o += 16 + incl;
  }
  return out;
}
