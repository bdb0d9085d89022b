// Receive validation: RFC 5798 §7.1 (VRRPv3) and RFC 3768 §7.1 (VRRPv2) against one virtual
// router's configuration. The codec checks what the bytes alone can show; this adds what only
// the instance knows (its VRID, version, addresses, interval, password, peers).
//
// Choices where the RFCs leave room or keepalived differs, and why:
// - TTL / hop limit 255 is checked for multicast only. Unicast peers may sit behind a router
//   (keepalived skips the check for unicast too); a unicast advert still has to come from a
//   configured peer ('unknown-peer').
// - An address-list (or count) mismatch is dropped unless the sender is the address owner
//   (priority 255), which the RFCs say to accept anyway; the router counts those accepts.
// - The RFCs have the address owner drop every advert. We drop only another owner's (priority
//   255, 'owner-conflict'): the owner still answers priority-0 adverts and re-announces when a
//   lower-priority node claims the VIPs, which only helps clients.
// - Adverts from our own address are dropped ('own-address'): with multicast loop off they can
//   only be a duplicate address on the segment, and the tie-break cannot order equal addresses.
import { parseAddressOfFamily, type Family } from './address.ts';
import { isUnicast } from './config.ts';
import type { DropReason } from './drop-reason.ts';
import { decodeAdvert, V2_AUTH_DATA_LENGTH, VRRP_TTL, type Advert, type VrrpVersion } from './packet.ts';

export type { DropReason } from './drop-reason.ts';
export { DROP_REASONS, emptyDropCounters } from './drop-reason.ts';

/** Facts about one received packet beyond its VRRP bytes. */
export interface ReceiveMeta {
  src: string;
  dst: string;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl: number;
}

/** What validation needs to know about the receiving virtual router. */
export interface ValidationPolicy {
  version: VrrpVersion;
  family: Family;
  vrid: number;
  /** Our virtual addresses (any spelling; compared canonically). */
  addresses: readonly string[];
  /** Ours, for the v2 equality check. */
  advertIntervalCs: number;
  /** v2: 0 none, 1 simple password. */
  authType: 0 | 1;
  /** v2 type 1: our 8 auth bytes. */
  authData?: Uint8Array;
  /** Our base priority is 255. */
  addressOwner: boolean;
  /** The source address of our own adverts. */
  localAddress: string;
  /** Empty: multicast (unless `unicast`). Otherwise adverts must come from one of these. */
  unicastPeers: readonly string[];
  /** Unicast with no peers yet: every advert is from an unknown peer. Default: peers listed. */
  unicast?: boolean;
}

export type ValidationResult =
  | { ok: true; advert: Advert; src: string; addressListMismatch: boolean }
  | { ok: false; reason: DropReason };

export type Validator = (bytes: Uint8Array, meta: ReceiveMeta) => ValidationResult;

function canonicalSet(texts: readonly string[], family: Family, what: string): Set<string> {
  const set = new Set<string>();
  for (const t of texts) {
    const p = parseAddressOfFamily(t, family);
    if (p === undefined) throw new RangeError(`${what}: not an IPv${family} address: ${t}`);
    set.add(p.text);
  }
  return set;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Prepares a validator for one router; throws RangeError on an unusable policy. */
export function createValidator(policy: ValidationPolicy): Validator {
  const { version, family, vrid } = policy;
  const ours = canonicalSet(policy.addresses, family, 'virtual address');
  const peers = canonicalSet(policy.unicastPeers, family, 'unicast peer');
  const local = parseAddressOfFamily(policy.localAddress, family);
  if (local === undefined) throw new RangeError(`local address: not an IPv${family} address: ${policy.localAddress}`);
  const authData = new Uint8Array(V2_AUTH_DATA_LENGTH);
  if (policy.authData !== undefined) authData.set(policy.authData.subarray(0, V2_AUTH_DATA_LENGTH));
  const multicast = !isUnicast(policy);

  return (bytes, meta) => {
    const src = parseAddressOfFamily(meta.src, family);
    if (src === undefined || parseAddressOfFamily(meta.dst, family) === undefined) {
      return { ok: false, reason: 'family' };
    }
    // RFC 5798 §7.1: TTL first; it is the cheapest proof the packet came from this link.
    if (multicast && meta.ttl !== VRRP_TTL) return { ok: false, reason: 'ttl' };
    // Report a version mismatch as such even when the other version's layout would not parse.
    const nibble = bytes.length > 0 ? (bytes[0] ?? 0) >>> 4 : 0;
    if ((nibble === 2 || nibble === 3) && nibble !== version) return { ok: false, reason: 'version' };

    const decoded = decodeAdvert(bytes, { family, src: meta.src, dst: meta.dst });
    if (!decoded.ok) return decoded;
    const advert = decoded.advert;
    if (advert.vrid !== vrid) return { ok: false, reason: 'vrid' };
    if (src.text === local.text) return { ok: false, reason: 'own-address' };
    if (!multicast && !peers.has(src.text)) return { ok: false, reason: 'unknown-peer' };

    if (version === 2) {
      // RFC 3768 §7.1: authenticate before trusting any other field's meaning.
      if (advert.authType !== policy.authType) return { ok: false, reason: 'auth-type' };
      if (policy.authType === 1 && !sameBytes(advert.authData ?? new Uint8Array(0), authData)) {
        return { ok: false, reason: 'auth' };
      }
      // v2 has no interval learning: a different interval means two routers disagree on timing.
      if (advert.intervalCs !== policy.advertIntervalCs) return { ok: false, reason: 'interval' };
    }

    const fromOwner = advert.priority === 255;
    if (fromOwner && policy.addressOwner) return { ok: false, reason: 'owner-conflict' };

    let mismatch: DropReason | undefined;
    if (advert.addresses.length !== ours.size) mismatch = 'address-count';
    else {
      // As sets: a packet repeating one of our addresses in place of another is a different list.
      const theirs = new Set(advert.addresses);
      if (theirs.size !== ours.size || ![...theirs].every((a) => ours.has(a))) mismatch = 'address-list';
    }
    if (mismatch !== undefined && !fromOwner) return { ok: false, reason: mismatch };

    return { ok: true, advert, src: src.text, addressListMismatch: mismatch !== undefined };
  };
}

/** One-shot validation (prepares a validator each call; routers keep theirs). */
export function validateAdvert(bytes: Uint8Array, meta: ReceiveMeta, policy: ValidationPolicy): ValidationResult {
  return createValidator(policy)(bytes, meta);
}
