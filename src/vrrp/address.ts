// Address parsing, formatting and comparison for the VRRP core, on top of ipaddr.js.
//
// Every address the core keeps or emits is in one canonical text form (what ipaddr.js prints:
// dotted quad for IPv4, RFC 5952 compressed for IPv6, no zone id), so two spellings of the same
// address compare equal as strings. Comparisons that the protocol defines numerically (the
// equal-priority tie-break on the primary address) use the bytes.
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface ParsedAddress {
  readonly family: Family;
  readonly bytes: Uint8Array;
  /** Canonical text form (no zone id). */
  readonly text: string;
}

// Adverts arrive many times a second carrying the same few source/destination strings; parsing
// them once keeps the receive path cheap. Bounded so a stream of spoofed sources cannot grow it.
const CACHE_LIMIT = 1024;
const cache = new Map<string, ParsedAddress | null>();

function parseUncached(text: string): ParsedAddress | null {
  // Reject the legacy IPv4 forms ipaddr.js accepts ("1.2.3", "0x7f.1", "010.0.0.1"): a config
  // or a kernel never means them, and accepting them would make two texts name one address.
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    const octets = text.split('.');
    if (octets.some((o) => o.length > 1 && o.startsWith('0'))) return null;
    const v4 = ipaddr.IPv4.parse(text);
    return { family: 4, bytes: Uint8Array.from(v4.toByteArray()), text: v4.toString() };
  }
  if (!ipaddr.IPv6.isValid(text)) return null;
  const v6 = ipaddr.IPv6.parse(text);
  const bytes = Uint8Array.from(v6.toByteArray());
  return { family: 6, bytes, text: formatAddress(bytes) };
}

/** Parses an IPv4 or IPv6 address (no prefix length). Never throws; undefined when invalid. */
export function parseAddress(text: string): ParsedAddress | undefined {
  let hit = cache.get(text);
  if (hit === undefined) {
    hit = typeof text === 'string' ? parseUncached(text) : null;
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(text, hit);
  }
  return hit ?? undefined;
}

/** Parses an address of the given family; undefined when invalid or of the other family. */
export function parseAddressOfFamily(text: string, family: Family): ParsedAddress | undefined {
  const parsed = parseAddress(text);
  return parsed?.family === family ? parsed : undefined;
}

/** Formats 4 or 16 address bytes in the canonical text form. */
export function formatAddress(bytes: Uint8Array): string {
  return ipaddr.fromByteArray(Array.from(bytes)).toString();
}

/** Numeric comparison of two addresses of the same length: negative, zero or positive. */
export function compareAddressBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** True for fe80::/10. */
export function isLinkLocalV6(bytes: Uint8Array): boolean {
  return bytes.length === 16 && bytes[0] === 0xfe && ((bytes[1] ?? 0) & 0xc0) === 0x80;
}
