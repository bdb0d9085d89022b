// The VIPs of one instance on one interface. Addresses are added with a finite lifetime that
// the master keeps refreshing: if the agent dies without cleaning up, the kernel removes them
// by itself within the lifetime instead of leaving two nodes answering for one address.
import type { Rtnl, AddressInfo } from '../net/rtnl.ts';

/**
 * Kernel-side lifetime of a master's VIPs, refreshed twice a second by the VRRP thread, so a
 * killed agent's VIPs expire instead of staying on a node that still answers ARP for them
 * (keepalived's weakness). Sized to the backup's takeover time (at least three advert intervals): a VIP that
 * expired much sooner would leave clients with nobody answering until the takeover, one that
 * lived much longer would let two nodes answer. Whole seconds (the kernel's unit), 1 to 3.
 */
export function vipLifetimeS(advertIntervalCs: number): number {
  return Math.min(3, Math.max(1, Math.ceil((3 * advertIntervalCs) / 100)));
}

export class VipSet {
  private readonly rtnl: Rtnl;
  private readonly ifindex: number;
  private readonly prefixOf: Map<string, number>;
  private readonly lifetimeS: number;
  private held = new Set<string>();
  private pending: Promise<unknown> = Promise.resolve();

  constructor(rtnl: Rtnl, ifindex: number, vips: { address: string; prefixLen: number }[], lifetimeS: number) {
    this.rtnl = rtnl;
    this.ifindex = ifindex;
    this.prefixOf = new Map(vips.map((v) => [v.address, v.prefixLen]));
    this.lifetimeS = lifetimeS;
  }

  add(addresses: string[], onError: (e: unknown) => void): void {
    for (const a of addresses) this.held.add(a);
    this.track(addresses.map((a) => this.put(a)), onError);
  }

  /** Re-adds every held VIP with a fresh lifetime (NLM_F_REPLACE keeps it in place). */
  refresh(onError: (e: unknown) => void): void {
    this.track([...this.held].map((a) => this.put(a)), onError);
  }

  remove(addresses: string[], onError: (e: unknown) => void): void {
    for (const a of addresses) this.held.delete(a);
    this.track(addresses.map((a) => this.del(a)), onError);
  }

  /** Deletes VIPs of this set found on the interface (left by an earlier, killed run). */
  async removeStale(existing: AddressInfo[]): Promise<string[]> {
    const stale = existing.filter((e) => e.ifindex === this.ifindex && this.prefixOf.get(e.address) === e.prefixLen);
    await Promise.all(stale.map((e) => this.del(e.address)));
    return stale.map((e) => e.address);
  }

  /** Resolves when every address operation issued so far has completed. */
  settled(): Promise<unknown> {
    return this.pending;
  }

  private put(address: string): Promise<void> {
    return this.rtnl.addAddress({
      ifindex: this.ifindex, address, prefixLen: this.prefixLen(address),
      validLft: this.lifetimeS, preferredLft: this.lifetimeS, replace: true,
    });
  }

  private async del(address: string): Promise<void> {
    try {
      await this.rtnl.deleteAddress({ ifindex: this.ifindex, address, prefixLen: this.prefixLen(address) });
    } catch (e) {
      // Already gone (expired, or removed by someone else) is the state we wanted.
      if ((e as { code?: string }).code !== 'EADDRNOTAVAIL') throw e;
    }
  }

  private prefixLen(address: string): number {
    const len = this.prefixOf.get(address);
    if (len === undefined) throw new Error(`${address} is not a VIP of this instance`);
    return len;
  }

  private track(ops: Promise<void>[], onError: (e: unknown) => void): void {
    const all = Promise.all(ops.map((op) => op.catch(onError)));
    // Resolve to undefined so the chain never accumulates nested result arrays.
    this.pending = Promise.all([this.pending, all]).then(() => undefined);
  }
}
