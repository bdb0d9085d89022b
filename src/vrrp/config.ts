// A virtual router's configuration, its checks, and the normalized form the router runs on.
//
// The router validates everything here once, in its constructor, so nothing later (encoding an
// advert, comparing addresses) can fail at run time. checkRouterConfig returns every problem at
// once for callers that want to report them rather than throw.
import { isLinkLocalV6, parseAddressOfFamily, type Family, type ParsedAddress } from './address.ts';
import { multicastGroup, passwordAuthData, V2_AUTH_DATA_LENGTH, V3_MAX_INTERVAL_CS, type VrrpVersion } from './packet.ts';

export interface TrackConfig {
  name: string;
  /** < 0: subtracted while down; > 0: added while up; 0: down => Fault. */
  weight: number;
}

export interface GarpConfig {
  /** Announcements per address in a burst (keepalived garp_master_repeat). */
  repeat: number;
  /** Second burst this long after takeover; 0 = none (keepalived garp_master_delay). */
  delayMs: number;
  /** Periodic re-announce while Master; 0 = off (keepalived garp_master_refresh). */
  refreshMs: number;
}

export interface RouterConfig {
  name: string;
  vrid: number;
  version: VrrpVersion;
  family: Family;
  /** 1..255; 255 = address owner. */
  priority: number;
  /** Addresses without prefix length, all of the instance's family. */
  virtualIPs: string[];
  /** Centiseconds; v2 requires a multiple of 100. */
  advertIntervalCs: number;
  preempt: boolean;
  preemptDelayMs: number;
  /** v2 simple password, 1..8 bytes UTF-8. */
  authPassword?: string;
  /** Empty => multicast to 224.0.0.18 / ff02::12, unless `unicast` says otherwise. */
  unicastPeers: string[];
  /**
   * Unicast even while unicastPeers is empty: a router alone, which sends nothing until peers are
   * set (a unicast instance whose peers come from elsewhere, e.g. the Nodes of a cluster).
   * Default: unicast when unicastPeers lists any.
   */
  unicast?: boolean;
  /** Source address of our adverts (IPv6 multicast: link-local, RFC 5798 §5.1.2.1). */
  localAddress: string;
  tracks: TrackConfig[];
  garp: GarpConfig;
}

export interface NormalizedConfig {
  readonly raw: RouterConfig;
  readonly virtualIPs: readonly string[];
  readonly unicastPeers: readonly string[];
  readonly unicast: boolean;
  readonly local: ParsedAddress;
  /** Where adverts go: the peers, or the family's multicast group. */
  readonly destinations: readonly string[];
  readonly authType: 0 | 1;
  readonly authData: Uint8Array;
  readonly addressOwner: boolean;
}

function isInt(n: unknown, min: number, max: number): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;
}

function isNonNegative(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}

/** Whether adverts go to the peers (possibly none) rather than the multicast group. */
export function isUnicast(c: { unicast?: boolean; unicastPeers: readonly string[] }): boolean {
  return c.unicast ?? (Array.isArray(c.unicastPeers) && c.unicastPeers.length > 0);
}

/** Every problem with the config, as "field: what is wrong"; empty when usable. */
export function checkRouterConfig(c: RouterConfig): string[] {
  const errors: string[] = [];
  const fam = c.family;
  if (typeof c.name !== 'string' || c.name.length === 0) errors.push('name: must be a non-empty string');
  if (!isInt(c.vrid, 1, 255)) errors.push(`vrid: must be 1..255, got ${String(c.vrid)}`);
  if (c.version !== 2 && c.version !== 3) errors.push(`version: must be 2 or 3, got ${String(c.version)}`);
  if (fam !== 4 && fam !== 6) {
    errors.push(`family: must be 4 or 6, got ${String(fam)}`);
    return errors; // every address check below depends on it
  }
  if (c.version === 2 && fam !== 4) errors.push('version: VRRPv2 is IPv4 only');
  if (!isInt(c.priority, 1, 255)) errors.push(`priority: must be 1..255, got ${String(c.priority)}`);

  if (!Array.isArray(c.virtualIPs) || c.virtualIPs.length === 0 || c.virtualIPs.length > 255) {
    errors.push('virtualIPs: must hold 1..255 addresses');
  } else {
    const seen = new Set<string>();
    c.virtualIPs.forEach((a, i) => {
      const p = parseAddressOfFamily(a, fam);
      if (p === undefined) errors.push(`virtualIPs[${i}]: not an IPv${fam} address without prefix: ${String(a)}`);
      else if (seen.has(p.text)) errors.push(`virtualIPs[${i}]: duplicate ${p.text}`);
      else seen.add(p.text);
    });
  }

  if (c.version === 3 && !isInt(c.advertIntervalCs, 1, V3_MAX_INTERVAL_CS)) {
    errors.push(`advertIntervalCs: VRRPv3 needs 1..4095, got ${String(c.advertIntervalCs)}`);
  }
  if (c.version === 2 && !(isInt(c.advertIntervalCs, 100, 25500) && c.advertIntervalCs % 100 === 0)) {
    errors.push(`advertIntervalCs: VRRPv2 needs whole seconds 1..255 (100..25500 cs), got ${String(c.advertIntervalCs)}`);
  }
  if (typeof c.preempt !== 'boolean') errors.push('preempt: must be a boolean');
  if (!isNonNegative(c.preemptDelayMs)) errors.push('preemptDelayMs: must be >= 0');

  if (c.authPassword !== undefined) {
    if (c.version !== 2) errors.push('authPassword: only VRRPv2 has authentication');
    const n = typeof c.authPassword === 'string' ? new TextEncoder().encode(c.authPassword).length : 0;
    if (n < 1 || n > V2_AUTH_DATA_LENGTH) errors.push(`authPassword: must be 1..8 bytes, got ${n}`);
  }

  const local = parseAddressOfFamily(c.localAddress, fam);
  if (local === undefined) errors.push(`localAddress: not an IPv${fam} address: ${String(c.localAddress)}`);
  const peers = Array.isArray(c.unicastPeers) ? c.unicastPeers : [];
  if (!Array.isArray(c.unicastPeers)) errors.push('unicastPeers: must be an array');
  if (c.unicast === false && peers.length > 0) errors.push('unicast: false, but unicastPeers lists peers');
  if (local !== undefined && fam === 6 && !isUnicast(c) && !isLinkLocalV6(local.bytes)) {
    errors.push('localAddress: IPv6 multicast adverts must come from a link-local address');
  }
  const seenPeers = new Set<string>();
  peers.forEach((a, i) => {
    const p = parseAddressOfFamily(a, fam);
    if (p === undefined) errors.push(`unicastPeers[${i}]: not an IPv${fam} address: ${String(a)}`);
    else if (local !== undefined && p.text === local.text) errors.push(`unicastPeers[${i}]: is the local address`);
    else if (seenPeers.has(p.text)) errors.push(`unicastPeers[${i}]: duplicate ${p.text}`);
    else seenPeers.add(p.text);
  });

  if (!Array.isArray(c.tracks)) errors.push('tracks: must be an array');
  else {
    const names = new Set<string>();
    c.tracks.forEach((t, i) => {
      if (typeof t.name !== 'string' || t.name.length === 0) errors.push(`tracks[${i}].name: must be non-empty`);
      else if (names.has(t.name)) errors.push(`tracks[${i}].name: duplicate ${t.name}`);
      else names.add(t.name);
      if (!isInt(t.weight, -254, 254)) errors.push(`tracks[${i}].weight: must be an integer -254..254`);
    });
  }

  if (typeof c.garp !== 'object' || c.garp === null) errors.push('garp: required');
  else {
    if (!isInt(c.garp.repeat, 1, 255)) errors.push('garp.repeat: must be 1..255');
    if (!isNonNegative(c.garp.delayMs)) errors.push('garp.delayMs: must be >= 0');
    if (!isNonNegative(c.garp.refreshMs)) errors.push('garp.refreshMs: must be >= 0');
  }
  return errors;
}

/** Validates and canonicalizes; throws a RangeError listing every problem. */
export function normalizeConfig(c: RouterConfig): NormalizedConfig {
  const errors = checkRouterConfig(c);
  if (errors.length > 0) throw new RangeError(`invalid VRRP router config ${String(c.name)}: ${errors.join('; ')}`);
  const canon = (a: string): string => {
    const p = parseAddressOfFamily(a, c.family);
    if (p === undefined) throw new RangeError(`unreachable: ${a}`);
    return p.text;
  };
  const local = parseAddressOfFamily(c.localAddress, c.family);
  if (local === undefined) throw new RangeError(`unreachable: ${c.localAddress}`);
  const unicastPeers = c.unicastPeers.map(canon);
  const unicast = isUnicast(c);
  return {
    raw: c,
    virtualIPs: c.virtualIPs.map(canon),
    unicastPeers,
    unicast,
    local,
    destinations: unicast ? unicastPeers : [multicastGroup(c.family)],
    authType: c.authPassword !== undefined ? 1 : 0,
    authData: c.authPassword !== undefined ? passwordAuthData(c.authPassword) : new Uint8Array(V2_AUTH_DATA_LENGTH),
    addressOwner: c.priority === 255,
  };
}
