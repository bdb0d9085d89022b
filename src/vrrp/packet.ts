// VRRP advertisement codec: VRRPv3 (RFC 5798 §5) over IPv4 and IPv6, VRRPv2 (RFC 3768 §5) over
// IPv4. Bytes are the VRRP message only (what a raw IPPROTO_VRRP socket hands over after the IP
// header); the IP-level facts the checksum needs (source, destination) come in the context.
//
//  v3:  | ver=3 type=1 | VRID | priority | count | rsvd(4) max adver int(12) | checksum | addrs
//  v2:  | ver=2 type=1 | VRID | priority | count | auth type | adver int (s) | checksum | addrs
//       | auth data (8 bytes)
//
// decodeAdvert never throws: it is the first thing untrusted bytes meet. encodeAdvert throws a
// RangeError on an advert that cannot be put on the wire; the router validates its config up
// front so that never happens at run time.
import { formatAddress, parseAddressOfFamily, type Family } from './address.ts';
import { internetChecksum, pseudoHeader } from './checksum.ts';
import type { DropReason } from './drop-reason.ts';

export const VRRP_TTL = 255;
export const VRRP_MULTICAST_V4 = '224.0.0.18';
export const VRRP_MULTICAST_V6 = 'ff02::12';
export const ADVERTISEMENT_TYPE = 1;
export const HEADER_LENGTH = 8;
export const V2_AUTH_DATA_LENGTH = 8;
/** v3 Max Adver Int is 12 bits of centiseconds. */
export const V3_MAX_INTERVAL_CS = 0x0fff;
/** v2 Adver Int is 8 bits of seconds. */
export const V2_MAX_INTERVAL_S = 0xff;

export type VrrpVersion = 2 | 3;

export interface Advert {
  version: VrrpVersion;
  vrid: number;
  priority: number;
  /** v3: Max Adver Int in centiseconds; v2: Adver Int seconds * 100. */
  intervalCs: number;
  addresses: string[];
  /** v2 only: 0 none, 1 simple text password. */
  authType?: 0 | 1;
  /** v2 only: the 8 authentication bytes (the NUL-padded password for type 1). */
  authData?: Uint8Array;
}

export interface PacketContext {
  family: Family;
  /** IP source address of the packet. */
  src: string;
  /** IP destination address of the packet (the group, or the unicast peer). */
  dst: string;
}

export type DecodeResult = { ok: true; advert: Advert } | { ok: false; reason: DropReason };

export function multicastGroup(family: Family): string {
  return family === 4 ? VRRP_MULTICAST_V4 : VRRP_MULTICAST_V6;
}

export function addressLength(family: Family): number {
  return family === 4 ? 4 : 16;
}

/** Total message length for a version, family and address count. */
export function advertLength(version: VrrpVersion, family: Family, count: number): number {
  return HEADER_LENGTH + count * addressLength(family) + (version === 2 ? V2_AUTH_DATA_LENGTH : 0);
}

/** The VRID byte, for demultiplexing one socket's packets to routers before validating. */
export function peekVrid(bytes: Uint8Array): number | undefined {
  return bytes.length >= 2 ? bytes[1] : undefined;
}

/** The v2 simple-password auth data: the UTF-8 password NUL-padded to 8 bytes. */
export function passwordAuthData(password: string): Uint8Array {
  const utf8 = new TextEncoder().encode(password);
  if (utf8.length === 0 || utf8.length > V2_AUTH_DATA_LENGTH) {
    throw new RangeError(`VRRPv2 password must be 1..8 bytes, got ${utf8.length}`);
  }
  const data = new Uint8Array(V2_AUTH_DATA_LENGTH);
  data.set(utf8);
  return data;
}

function isByte(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 255;
}

export function encodeAdvert(a: Advert, ctx: PacketContext): Uint8Array {
  const { family } = ctx;
  if (a.version !== 2 && a.version !== 3) throw new RangeError(`unknown VRRP version ${String(a.version)}`);
  if (a.version === 2 && family !== 4) throw new RangeError('VRRPv2 is IPv4 only');
  if (!isByte(a.vrid) || a.vrid === 0) throw new RangeError(`VRID must be 1..255, got ${a.vrid}`);
  if (!isByte(a.priority)) throw new RangeError(`priority must be 0..255, got ${a.priority}`);
  if (a.addresses.length > 255) throw new RangeError('at most 255 addresses');
  let intervalField: number;
  if (a.version === 3) {
    if (!Number.isInteger(a.intervalCs) || a.intervalCs < 1 || a.intervalCs > V3_MAX_INTERVAL_CS) {
      throw new RangeError(`VRRPv3 interval must be 1..4095 cs, got ${a.intervalCs}`);
    }
    intervalField = a.intervalCs;
  } else {
    intervalField = a.intervalCs / 100;
    if (!Number.isInteger(intervalField) || intervalField < 1 || intervalField > V2_MAX_INTERVAL_S) {
      throw new RangeError(`VRRPv2 interval must be 1..255 whole seconds, got ${a.intervalCs} cs`);
    }
  }

  const alen = addressLength(family);
  const bytes = new Uint8Array(advertLength(a.version, family, a.addresses.length));
  bytes[0] = (a.version << 4) | ADVERTISEMENT_TYPE;
  bytes[1] = a.vrid;
  bytes[2] = a.priority;
  bytes[3] = a.addresses.length;
  if (a.version === 3) {
    bytes[4] = (intervalField >>> 8) & 0x0f; // the 4 reserved bits stay zero
    bytes[5] = intervalField & 0xff;
  } else {
    const authType = a.authType ?? 0;
    if (authType !== 0 && authType !== 1) throw new RangeError(`unknown VRRPv2 auth type ${String(authType)}`);
    bytes[4] = authType;
    bytes[5] = intervalField;
  }
  a.addresses.forEach((text, i) => {
    const parsed = parseAddressOfFamily(text, family);
    if (parsed === undefined) throw new RangeError(`not an IPv${family} address: ${text}`);
    bytes.set(parsed.bytes, HEADER_LENGTH + i * alen);
  });
  if (a.version === 2) {
    const auth = a.authData ?? new Uint8Array(0);
    if (auth.length > V2_AUTH_DATA_LENGTH) throw new RangeError('VRRPv2 auth data is at most 8 bytes');
    if (a.authType === 1 && auth.length === 0) throw new RangeError('VRRPv2 auth type 1 needs a password');
    bytes.set(auth, bytes.length - V2_AUTH_DATA_LENGTH); // shorter data is NUL-padded
    const sum = internetChecksum([bytes]);
    bytes[6] = sum >>> 8;
    bytes[7] = sum & 0xff;
  } else {
    const src = parseAddressOfFamily(ctx.src, family);
    const dst = parseAddressOfFamily(ctx.dst, family);
    if (src === undefined || dst === undefined) {
      throw new RangeError(`VRRPv3 checksum needs IPv${family} source and destination (${ctx.src} -> ${ctx.dst})`);
    }
    const sum = internetChecksum([pseudoHeader(family, src.bytes, dst.bytes, bytes.length), bytes]);
    bytes[6] = sum >>> 8;
    bytes[7] = sum & 0xff;
  }
  return bytes;
}

export function decodeAdvert(bytes: Uint8Array, ctx: PacketContext): DecodeResult {
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER_LENGTH) return { ok: false, reason: 'truncated' };
  const b0 = bytes[0] ?? 0;
  const version = b0 >>> 4;
  if (version !== 2 && version !== 3) return { ok: false, reason: 'version' };
  if ((b0 & 0x0f) !== ADVERTISEMENT_TYPE) return { ok: false, reason: 'type' };
  const family = ctx.family;
  if (family !== 4 && family !== 6) return { ok: false, reason: 'family' };
  if (version === 2 && family !== 4) return { ok: false, reason: 'family' };
  const src = parseAddressOfFamily(ctx.src, family);
  const dst = parseAddressOfFamily(ctx.dst, family);
  if (src === undefined || dst === undefined) return { ok: false, reason: 'family' };

  const count = bytes[3] ?? 0;
  const expected = advertLength(version, family, count);
  if (bytes.length < expected) return { ok: false, reason: 'truncated' };
  if (bytes.length > expected) return { ok: false, reason: 'length' };

  const sum =
    version === 3
      ? internetChecksum([pseudoHeader(family, src.bytes, dst.bytes, bytes.length), bytes])
      : internetChecksum([bytes]);
  // Summing a message whose checksum field is right gives zero after complementing.
  if (sum !== 0) return { ok: false, reason: 'checksum' };

  let intervalCs: number;
  let authType: 0 | 1 | undefined;
  if (version === 3) {
    intervalCs = (((bytes[4] ?? 0) & 0x0f) << 8) | (bytes[5] ?? 0); // reserved bits ignored on receipt
  } else {
    const t = bytes[4] ?? 0;
    if (t !== 0 && t !== 1) return { ok: false, reason: 'auth-type' };
    authType = t;
    intervalCs = (bytes[5] ?? 0) * 100;
  }
  // An interval of zero would make a backup's Master_Down_Interval zero: never act on it.
  if (intervalCs === 0) return { ok: false, reason: 'interval' };

  const alen = addressLength(family);
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const start = HEADER_LENGTH + i * alen;
    addresses.push(formatAddress(bytes.subarray(start, start + alen)));
  }
  const advert: Advert = {
    version,
    vrid: bytes[1] ?? 0,
    priority: bytes[2] ?? 0,
    intervalCs,
    addresses,
  };
  if (version === 2) {
    advert.authType = authType;
    advert.authData = bytes.slice(bytes.length - V2_AUTH_DATA_LENGTH);
  }
  return { ok: true, advert };
}
