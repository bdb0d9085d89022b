// Why a received packet was not acted on. One label per reason, so metrics can pre-create
// every series (a counter that only appears after the first drop hides the problem it counts).

export const DROP_REASONS = [
  /** Shorter than the fixed header, or than the addresses (and v2 auth data) it announces. */
  'truncated',
  /** Longer than the header says: trailing bytes after the addresses / auth data. */
  'length',
  /** Version nibble is neither 2 nor 3, or not the instance's version. */
  'version',
  /** Type nibble is not 1 (ADVERTISEMENT). */
  'type',
  /** Source/destination not of the instance's family, or VRRPv2 over IPv6. */
  'family',
  /** Checksum does not verify (v3: with the pseudo-header; v2: message only). */
  'checksum',
  /** v2 auth type unknown (only 0 and 1 exist on IPPROTO 112) or not the instance's. */
  'auth-type',
  /** v2 simple password does not match ours. */
  'auth',
  /** v2 advert interval differs from ours, or an interval of zero. */
  'interval',
  /** TTL / hop limit is not 255 (checked for multicast; see validate.ts). */
  'ttl',
  /** Another virtual router's VRID. */
  'vrid',
  /** Address count differs from ours (sender not the address owner). */
  'address-count',
  /** Address list differs from ours (sender not the address owner). */
  'address-list',
  /** A priority-255 advert while we are the address owner: two owners, a misconfiguration. */
  'owner-conflict',
  /** Sent from our own address: a looped-back copy or a duplicate address on the segment. */
  'own-address',
  /** Unicast mode and the source is not one of the configured peers. */
  'unknown-peer',
  /** The router is not running (before start() or after shutdown()). */
  'not-running',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

/** A counter per reason, all zero. */
export function emptyDropCounters(): Record<DropReason, number> {
  const counters = {} as Record<DropReason, number>;
  for (const reason of DROP_REASONS) counters[reason] = 0;
  return counters;
}
