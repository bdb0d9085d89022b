// What two objects both claim (a VRID on a segment, a virtual IP, an IPVS service) belongs to
// the older one. The controller reports the newer one's conflict in its conditions and every
// agent leaves it out, both by these functions, so what is reported is what the nodes run.
import type { VrrpInstance } from './vrrp-instance.ts';

/** The metadata fields that decide which of two objects is older. */
export interface Age {
  creationTimestamp?: string;
  namespace?: string;
  name: string;
}

/**
 * Oldest first. creationTimestamp has one-second resolution, so objects applied together tie
 * on it: then namespace, then name decide, the same way everywhere.
 */
export function olderFirst(a: Age, b: Age): number {
  return compare(a.creationTimestamp ?? '', b.creationTimestamp ?? '')
    || compare(a.namespace ?? '', b.namespace ?? '')
    || compare(a.name, b.name);
}

/** An instance that lists virtual IPs an older one owns. */
export interface VipConflict {
  /** Its addresses already owned. */
  addresses: string[];
  /** Their owners' names. */
  owners: string[];
}

/**
 * Each virtual IP belongs to the oldest instance listing it. `ordered` is in olderFirst order
 * and holds only the instances that may own addresses (the valid ones, not rejected for their
 * VRID). Returns, by name, each instance that lists an address an older one owns: it runs
 * nowhere, so it owns none of its addresses either.
 */
export function vipConflicts(ordered: readonly VrrpInstance[]): Map<string, VipConflict> {
  const owner = new Map<string, string>();
  const conflicts = new Map<string, VipConflict>();
  for (const inst of ordered) {
    const taken = inst.spec.virtualIPs.map((c) => c.address).filter((a) => owner.has(a));
    if (taken.length > 0) {
      conflicts.set(inst.name, { addresses: taken, owners: [...new Set(taken.map((a) => owner.get(a) ?? ''))] });
      continue;
    }
    for (const c of inst.spec.virtualIPs) owner.set(c.address, inst.name);
  }
  return conflicts;
}

/** The conflict in words, naming addresses and owners. */
export function vipConflictText(c: VipConflict): string {
  return `virtual IP ${c.addresses.join(', ')} already belongs to ${c.owners.map((n) => `VrrpInstance/${n}`).join(', ')}: one address, one owner`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
