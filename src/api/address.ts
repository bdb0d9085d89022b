// Address parsing and canonical formatting (ipaddr.js does the parsing; this file only fixes
// the project's conventions: a VIP is "address[/prefix]", canonical text is the compressed form).
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface Cidr {
  address: string;
  prefixLen: number;
  family: Family;
}

export function parseAddress(text: string): { address: string; family: Family } | undefined {
  if (!ipaddr.isValid(text)) return undefined;
  // Reject shorthand IPv4 forms like "10.1" that ipaddr.js accepts for compatibility.
  if (!text.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  const a = ipaddr.parse(text);
  return { address: a.toString(), family: a.kind() === 'ipv4' ? 4 : 6 };
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
  return ipaddr.parse(address).range() === 'linkLocal';
}
