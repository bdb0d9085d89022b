// Addresses as resources spell them: a VIP is "address[/prefix]". Parsing and the canonical
// text form come from the VRRP core's address module, so config and wire agree on spelling.
import ipaddr from 'ipaddr.js';
import { parseAddress as parseCanonical, isLinkLocalV6 } from '../vrrp/address.ts';
import type { Family } from '../vrrp/address.ts';

export type { Family };

export interface Cidr {
  address: string;
  prefixLen: number;
  family: Family;
}

export function parseAddress(text: string): { address: string; family: Family } | undefined {
  const p = parseCanonical(text);
  return p && { address: p.text, family: p.family };
}

/** "198.18.0.100/24" or "198.18.0.100" (host route: /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, len, extra] = text.split('/');
  if (addr === undefined || extra !== undefined) return undefined;
  const parsed = parseAddress(addr);
  if (!parsed) return undefined;
  const max = parsed.family === 4 ? 32 : 128;
  if (len === undefined) return { ...parsed, prefixLen: max };
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return undefined;
  return { ...parsed, prefixLen: Number(len) };
}

export function inSubnet(address: string, net: Cidr): boolean {
  const a = ipaddr.parse(address);
  const n = ipaddr.parse(net.address);
  return a.kind() === n.kind() && a.match(n, net.prefixLen);
}

export function isLinkLocal(address: string): boolean {
  const p = parseCanonical(address);
  return p !== undefined && isLinkLocalV6(p.bytes);
}
