// Canonical names for IPVS objects. A service key string names one virtual service the way
// ipvsadm prints it ("TCP 198.18.0.100:80", "UDP [2001:db8::1]:53", "FWM 7 IPv4"); the agent
// records the keys it owns with these strings, so the format is stable: change it only with a
// migration of the recorded ownership. Addresses are canonicalised, so two spellings of one
// address give one key.
import { parseAddress } from '../vrrp/address.ts';
import type { Family } from '../vrrp/address.ts';
import type { IpvsDestination, IpvsProtocol, ServiceKey } from './types.ts';

function canonical(address: string): string {
  return parseAddress(address)?.text ?? address;
}

function hostPort(address: string, port: number): string {
  const a = canonical(address);
  return a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`;
}

/** "TCP 198.18.0.100:80", "SCTP [2001:db8::1]:3868", "FWM 7 IPv6". */
export function serviceKeyString(key: ServiceKey): string {
  if (key.fwmark !== undefined) return `FWM ${key.fwmark} IPv${key.family}`;
  return `${key.protocol} ${hostPort(key.address, key.port)}`;
}

const SERVICE_RE = /^(?:(TCP|UDP|SCTP) (?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})|FWM (\d{1,10}) IPv([46]))$/;

/** The inverse of serviceKeyString; undefined for anything it would not produce. */
export function parseServiceKeyString(text: string): ServiceKey | undefined {
  const m = SERVICE_RE.exec(text);
  if (!m) return undefined;
  if (m[5] !== undefined) {
    const fwmark = Number(m[5]);
    const key: ServiceKey = { family: Number(m[6]) as Family, fwmark };
    return fwmark >= 1 && fwmark <= 0xffff_ffff && serviceKeyString(key) === text ? key : undefined;
  }
  const bracketed = m[2] !== undefined;
  const parsed = parseAddress(m[2] ?? m[3] ?? '');
  const port = Number(m[4]);
  if (!parsed || (parsed.family === 6) !== bracketed || port > 65535) return undefined;
  const key: ServiceKey = { family: parsed.family, protocol: m[1] as IpvsProtocol, address: parsed.text, port };
  return serviceKeyString(key) === text ? key : undefined;
}

/** Two keys name the same kernel service. */
export function sameServiceKey(a: ServiceKey, b: ServiceKey): boolean {
  return serviceKeyString(a) === serviceKeyString(b);
}

/** Names a destination within its service: "10.0.0.1:80", "[2001:db8::a]:80". */
export function destinationKeyString(d: Pick<IpvsDestination, 'address' | 'port'>): string {
  return hostPort(d.address, d.port);
}

/** Names a destination globally, e.g. for drain bookkeeping: "TCP 198.18.0.100:80 -> 10.0.0.1:80". */
export function drainKeyString(service: ServiceKey, d: Pick<IpvsDestination, 'address' | 'port'>): string {
  return `${serviceKeyString(service)} -> ${destinationKeyString(d)}`;
}
