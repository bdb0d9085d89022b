// The Internet checksum (RFC 1071) and the pseudo-headers VRRPv3 folds into it.
//
// VRRPv3 (RFC 5798 §5.2.8) checksums the message together with the IPv4 or IPv6 pseudo-header
// (as UDP/ICMPv6 do), so the same bytes carry a different checksum per destination; VRRPv2
// (RFC 3768 §5.3.8) checksums the message alone.
import type { Family } from './address.ts';

export const IPPROTO_VRRP = 112;

/**
 * One's-complement sum of the chunks taken as one byte stream (a chunk may end on an odd byte;
 * the stream is zero-padded at the very end only), folded to 16 bits, not complemented.
 */
export function onesComplementSum(chunks: readonly Uint8Array[]): number {
  let sum = 0;
  let pendingHigh = -1; // first byte of a 16-bit word split across chunks
  for (const chunk of chunks) {
    let i = 0;
    if (pendingHigh >= 0 && chunk.length > 0) {
      sum += (pendingHigh << 8) | (chunk[0] ?? 0);
      pendingHigh = -1;
      i = 1;
    }
    for (; i + 1 < chunk.length; i += 2) sum += ((chunk[i] ?? 0) << 8) | (chunk[i + 1] ?? 0);
    if (i < chunk.length) pendingHigh = chunk[i] ?? 0;
    // Fold now and then so the sum stays far below 2^53 on any input size.
    if (sum > 0x7fffffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  if (pendingHigh >= 0) sum += pendingHigh << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value for the chunks (with the checksum field itself zeroed). */
export function internetChecksum(chunks: readonly Uint8Array[]): number {
  return ~onesComplementSum(chunks) & 0xffff;
}

/**
 * The pseudo-header for an upper-layer message of `length` bytes: IPv4 (RFC 768 layout:
 * src, dst, zero, protocol, 16-bit length) or IPv6 (RFC 8200 §8.1: src, dst, 32-bit length,
 * three zero bytes, next header).
 */
export function pseudoHeader(family: Family, src: Uint8Array, dst: Uint8Array, length: number): Uint8Array {
  if (family === 4) {
    const h = new Uint8Array(12);
    h.set(src, 0);
    h.set(dst, 4);
    h[9] = IPPROTO_VRRP;
    h[10] = (length >>> 8) & 0xff;
    h[11] = length & 0xff;
    return h;
  }
  const h = new Uint8Array(40);
  h.set(src, 0);
  h.set(dst, 16);
  h[32] = (length >>> 24) & 0xff;
  h[33] = (length >>> 16) & 0xff;
  h[34] = (length >>> 8) & 0xff;
  h[35] = length & 0xff;
  h[39] = IPPROTO_VRRP;
  return h;
}
