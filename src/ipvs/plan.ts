// The diff between the desired IPVS state and one dump of the kernel: the minimal ordered list of
// operations that makes the kernel hold the desired state. Pure: the clock is a number passed
// in, the drain bookkeeping goes in and comes back out.
//
// Rules:
// - Ownership: a service in the kernel is touched only when it is desired or in `owned` (the
//   keys the agent created before, recorded across restarts). Everything else (kube-proxy's
//   services, ipvsadm's) is foreign and never appears in an operation.
// - Nothing unchanged is rewritten: the same state gives zero operations.
// - In place whenever the kernel allows: a service's scheduler, flags, timeout and netmask; a
//   destination's weight, thresholds and forwarding method. A service is named by its key, so a
//   changed key is a delete of the old service and an add of the new one.
// - Order: deleted services first (the kernel drops their destinations with them, so those are
//   not deleted one by one), then per service in key order: the service's add or edit, then its
//   destination deletes, edits and adds. A service is always added before its destinations.
// - Draining: a destination that left the spec first gets weight 0 (no new connections) and is
//   deleted once a later dump shows no active connections, or when the service's drain timeout
//   has passed since the drain began. One that has no active connections is deleted at once
//   (there is nothing to drain). A destination the spec still has but switched off
//   (`withdrawn`: unhealthy, replaced by the sorry server) is deleted at once, as keepalived does.
import { configFlags, IP_VS_SVC_F_PERSISTENT } from './flags.ts';
import { destinationKeyString, drainKeyString, serviceKeyString } from './keys.ts';
import type { DesiredService } from './desired.ts';
import type { DumpedDestination, DumpedService, IpvsDestination, IpvsOperation, IpvsService, ServiceKey } from './types.ts';

/** Draining destinations: drainKeyString() -> when the drain began (the `now` of that plan). */
export type DrainState = ReadonlyMap<string, number>;

export interface PlanOptions {
  /** Returned by the previous plan; empty at start. */
  drains?: DrainState;
  /** Monotonic milliseconds, the same clock for every call. */
  now?: number;
}

export interface Plan {
  ops: IpvsOperation[];
  /** Destinations still draining once the plan is applied; pass to the next call. */
  drains: Map<string, number>;
  /**
   * The keys owned once the plan is applied (the desired ones). Record `owned` plus these
   * before applying, and these alone after the plan succeeded, so that a crash in between
   * never leaves an agent's service looking foreign.
   */
  owned: Set<string>;
  /** Desired services the kernel had without our ownership; they are taken over (worth a warning). */
  adopted: string[];
  /** When the earliest drain times out; plan again then (or on the next dump). */
  nextDeadline: number | undefined;
}

/** The configuration the kernel compares: without HASHED, and timeout and netmask only matter when persistent. */
export function sameServiceConfig(a: IpvsService, b: IpvsService): boolean {
  if (a.scheduler !== b.scheduler || configFlags(a.flags) !== configFlags(b.flags)) return false;
  if ((a.flags & IP_VS_SVC_F_PERSISTENT) === 0) return true;
  return a.timeout === b.timeout && a.netmask === b.netmask;
}

export function sameDestinationConfig(a: IpvsDestination, b: IpvsDestination): boolean {
  return a.weight === b.weight && a.forwarding === b.forwarding
    && a.upperThreshold === b.upperThreshold && a.lowerThreshold === b.lowerThreshold;
}

function configOf(d: IpvsDestination): IpvsDestination {
  return {
    address: d.address, family: d.family, port: d.port, forwarding: d.forwarding, weight: d.weight,
    upperThreshold: d.upperThreshold, lowerThreshold: d.lowerThreshold,
  };
}

function serviceConfig(s: IpvsService): IpvsService {
  return { key: s.key, scheduler: s.scheduler, flags: s.flags, timeout: s.timeout, netmask: s.netmask };
}

function byString<T>(items: readonly T[], key: (t: T) => string, what: string): Map<string, T> {
  const m = new Map<string, T>();
  for (const t of items) {
    const k = key(t);
    if (m.has(k)) throw new Error(`${what} ${k} appears twice`);
    m.set(k, t);
  }
  return m;
}

function sortedKeys<T>(m: Map<string, T>): string[] {
  return [...m.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Plans the operations that turn `dump` into `desired`. Throws when `desired` (or the dump)
 * names one service twice, or one destination twice within a service: that is a bug upstream.
 */
export function diff(
  desired: readonly DesiredService[], dump: readonly DumpedService[], owned: ReadonlySet<string>, options: PlanOptions = {},
): Plan {
  const now = options.now ?? 0;
  const oldDrains = options.drains ?? new Map<string, number>();
  const want = byString(desired, (d) => serviceKeyString(d.service.key), 'desired service');
  const have = byString(dump, (d) => serviceKeyString(d.key), 'dumped service');
  const plan: Plan = { ops: [], drains: new Map(), owned: new Set(want.keys()), adopted: [], nextDeadline: undefined };

  for (const k of sortedKeys(have)) {
    const svc = have.get(k);
    if (svc && !want.has(k) && owned.has(k)) plan.ops.push({ op: 'deleteService', key: svc.key });
  }

  for (const k of sortedKeys(want)) {
    const d = want.get(k);
    if (!d) continue;
    const cur = have.get(k);
    const wantDests = byString(d.destinations, destinationKeyString, `destination of ${k}:`);
    if (!cur) {
      plan.ops.push({ op: 'addService', service: serviceConfig(d.service) });
      for (const dk of sortedKeys(wantDests)) {
        const dest = wantDests.get(dk);
        if (dest) plan.ops.push({ op: 'addDestination', service: d.service.key, destination: configOf(dest) });
      }
      continue;
    }
    if (!owned.has(k)) plan.adopted.push(k);
    if (!sameServiceConfig(cur, d.service)) plan.ops.push({ op: 'editService', service: serviceConfig(d.service) });
    planDestinations(d, cur, wantDests, oldDrains, now, plan);
  }
  return plan;
}

function planDestinations(
  d: DesiredService, cur: DumpedService, wantDests: Map<string, IpvsDestination>,
  oldDrains: DrainState, now: number, plan: Plan,
): void {
  const key: ServiceKey = d.service.key;
  const haveDests = byString(cur.destinations, destinationKeyString, `dumped destination of ${serviceKeyString(key)}:`);
  const withdrawn = new Set(d.withdrawn);
  const deletes: IpvsOperation[] = [];
  const edits: IpvsOperation[] = [];
  const adds: IpvsOperation[] = [];
  for (const dk of sortedKeys(haveDests)) {
    const h = haveDests.get(dk);
    if (!h || wantDests.has(dk)) continue;
    const drainKey = drainKeyString(key, h);
    const since = oldDrains.get(drainKey) ?? now;
    const deadline = since + d.drainTimeoutMs;
    if (withdrawn.has(dk) || h.activeConns === 0 || now >= deadline) {
      deletes.push({ op: 'deleteDestination', service: key, destination: { address: h.address, family: h.family, port: h.port } });
      continue;
    }
    plan.drains.set(drainKey, since);
    plan.nextDeadline = plan.nextDeadline === undefined ? deadline : Math.min(plan.nextDeadline, deadline);
    if (h.weight !== 0) edits.push({ op: 'editDestination', service: key, destination: { ...configOf(h), weight: 0 } });
  }
  for (const dk of sortedKeys(wantDests)) {
    const w = wantDests.get(dk);
    if (!w) continue;
    const h: DumpedDestination | undefined = haveDests.get(dk);
    if (!h) adds.push({ op: 'addDestination', service: key, destination: configOf(w) });
    else if (!sameDestinationConfig(h, w)) edits.push({ op: 'editDestination', service: key, destination: configOf(w) });
  }
  plan.ops.push(...deletes, ...edits, ...adds);
}
