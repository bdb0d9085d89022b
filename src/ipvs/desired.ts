// The desired IPVS state of one node: from the VirtualServers the node runs (every node of the
// VrrpInstance, backups too, as keepalived does, so a takeover only moves the VIP), the current
// health of their real servers and the quorum state carried from the previous call, the
// services and destinations the kernel should hold. Pure: no clock, no I/O.
//
// keepalived's semantics, with its default quorum of 1:
// - A healthy real server gets its configured weight. An unhealthy one is removed, or kept with
//   weight 0 when inhibitOnFailure is set.
// - Quorum is the summed configured weight of the healthy real servers. It is lost when the sum
//   drops below quorum.min and comes back when it reaches quorum.min + quorum.hysteresis.
//   (keepalived centres the band on its quorum, losing it below quorum - hysteresis; here min is
//   a real minimum.) A first call, with no previous state, counts quorum as held iff sum >= min.
// - While quorum is lost and a sorry server is set, the sorry server (weight 1) is the only
//   destination taking connections: the real servers are removed, or kept with weight 0 under
//   inhibitOnFailure. Without a sorry server, losing quorum changes nothing in the kernel (it is
//   reported in the status only).
// Destinations the spec has but that are switched off (unhealthy, replaced by the sorry server,
// the unused sorry server) are listed as `withdrawn`: the planner deletes them at once. Only a
// real server that left the spec is drained (src/ipvs/plan.ts).
import type { RealServer, VirtualServer } from '../api/virtual-server.ts';
import type { Family } from '../vrrp/address.ts';
import { IP_VS_SVC_F_PERSISTENT, SCHEDULER_FLAG_BITS } from './flags.ts';
import { destinationKeyString, serviceKeyString } from './keys.ts';
import type { DumpedService, IpvsDestination, IpvsService } from './types.ts';

export interface DesiredService {
  /** The VirtualServer it comes from: "namespace/name". */
  owner: string;
  service: IpvsService;
  destinations: IpvsDestination[];
  /** destinationKeyString()s of destinations of the spec that are switched off now. */
  withdrawn: string[];
  /** How long a real server removed from the spec keeps weight 0 before it is deleted. */
  drainTimeoutMs: number;
}

/** Per VirtualServer, for status and metrics. */
export interface VirtualServerState {
  owner: string;
  /** serviceKeyString of its service. */
  key: string;
  /** Real servers in the spec, and how many of them are healthy. */
  total: number;
  healthy: number;
  /** Summed configured weight of the healthy real servers. */
  healthyWeight: number;
  quorumUp: boolean;
  /** The sorry server is taking the connections. */
  sorryActive: boolean;
}

/**
 * The current health of a checked real server: true up, false down, undefined not known yet
 * (counted as up, as keepalived starts real servers unless `alpha` is set). Asked only for
 * VirtualServers that have a healthCheck; the others' real servers are always healthy.
 */
export type HealthLookup = (owner: string, server: RealServer) => boolean | undefined;

export interface DesiredInput {
  /** The VirtualServers this node runs. */
  virtualServers: readonly VirtualServer[];
  health?: HealthLookup;
  /** Quorum state returned by the previous call, keyed by owner; empty at start. */
  quorum?: ReadonlyMap<string, boolean>;
}

export interface DesiredState {
  /** Sorted by service key. */
  services: DesiredService[];
  /** Quorum state to pass to the next call. */
  quorum: Map<string, boolean>;
  status: VirtualServerState[];
  /** VirtualServers left out because another (earlier by namespace/name) names the same service. */
  conflicts: { owner: string; key: string; with: string }[];
}

export function ownerOf(vs: Pick<VirtualServer, 'namespace' | 'name'>): string {
  return `${vs.namespace}/${vs.name}`;
}

/** Names one real server of one VirtualServer: "namespace/name 10.0.0.1:80". */
export function realServerId(owner: string, server: Pick<RealServer, 'address' | 'port'>): string {
  return `${owner} ${destinationKeyString(server)}`;
}

/** The kernel's service for a VirtualServer. */
export function serviceOf(vs: VirtualServer): IpvsService {
  const s = vs.spec;
  let flags = s.persistence ? IP_VS_SVC_F_PERSISTENT : 0;
  for (const f of s.schedulerFlags) flags |= SCHEDULER_FLAG_BITS[f];
  return {
    key: s.key,
    scheduler: s.scheduler,
    flags,
    timeout: s.persistence?.timeoutS ?? 0,
    // Without persistence the kernel ignores the netmask; send what ipvsadm sends.
    netmask: s.persistence?.netmask ?? fullPrefix(s.key.family),
  };
}

function fullPrefix(family: Family): number {
  return family === 4 ? 32 : 128;
}

export function desiredState(input: DesiredInput): DesiredState {
  const prevQuorum = input.quorum ?? new Map<string, boolean>();
  const out: DesiredState = { services: [], quorum: new Map(), status: [], conflicts: [] };
  const taken = new Map<string, string>();
  const sorted = [...input.virtualServers].sort((a, b) => compare(ownerOf(a), ownerOf(b)));
  for (const vs of sorted) {
    const owner = ownerOf(vs);
    const key = serviceKeyString(vs.spec.key);
    const other = taken.get(key);
    if (other !== undefined) {
      out.conflicts.push({ owner, key, with: other });
      continue;
    }
    taken.set(key, owner);
    const { desired, state } = desiredFor(vs, owner, key, input.health, prevQuorum.get(owner));
    out.services.push(desired);
    out.status.push(state);
    out.quorum.set(owner, state.quorumUp);
  }
  out.services.sort((a, b) => compare(serviceKeyString(a.service.key), serviceKeyString(b.service.key)));
  return out;
}

function desiredFor(
  vs: VirtualServer, owner: string, key: string, health: HealthLookup | undefined, prevUp: boolean | undefined,
): { desired: DesiredService; state: VirtualServerState } {
  const s = vs.spec;
  const healthyOf = (rs: RealServer): boolean => !s.healthCheck || (health?.(owner, rs) ?? true);
  const healthy = s.realServers.filter(healthyOf);
  const healthyWeight = healthy.reduce((sum, rs) => sum + rs.weight, 0);
  const threshold = prevUp === false ? s.quorum.min + s.quorum.hysteresis : s.quorum.min;
  const quorumUp = healthyWeight >= threshold;
  const sorryActive = !quorumUp && s.sorryServer !== undefined;

  const destinations: IpvsDestination[] = [];
  const withdrawn: string[] = [];
  const dest = (d: { address: string; family: Family; port: number }, weight: number, up = 0, low = 0): IpvsDestination => ({
    address: d.address, family: d.family, port: d.port, forwarding: s.forwarding, weight, upperThreshold: up, lowerThreshold: low,
  });
  for (const rs of s.realServers) {
    const on = !sorryActive && healthy.includes(rs);
    if (on || s.inhibitOnFailure) {
      destinations.push(dest(rs, on ? rs.weight : 0, rs.upperThreshold, rs.lowerThreshold));
    } else {
      withdrawn.push(destinationKeyString(rs));
    }
  }
  if (s.sorryServer) {
    if (sorryActive) destinations.push(dest(s.sorryServer, 1));
    else withdrawn.push(destinationKeyString(s.sorryServer));
  }
  return {
    desired: { owner, service: serviceOf(vs), destinations, withdrawn, drainTimeoutMs: s.drainTimeoutMs },
    state: {
      owner, key, total: s.realServers.length, healthy: healthy.length, healthyWeight, quorumUp, sorryActive,
    },
  };
}

/**
 * What an agent restarting over a kernel it programmed before should start from, so that its
 * first plan changes nothing: a checked real server counts as healthy when the kernel has it
 * with its configured weight and down otherwise (removed, or weight 0 by inhibitOnFailure);
 * quorum counts as lost when the sorry server is in the kernel. Real servers of a service that
 * is not in the kernel yet are left unknown (healthy until checked). Feed `health` to the
 * checkers as their initial state and `quorum` to the first desiredState().
 */
export function stateFromDump(
  virtualServers: readonly VirtualServer[], dump: readonly DumpedService[],
): { health: Map<string, boolean>; quorum: Map<string, boolean> } {
  const byKey = new Map(dump.map((d) => [serviceKeyString(d.key), d]));
  const health = new Map<string, boolean>();
  const quorum = new Map<string, boolean>();
  for (const vs of virtualServers) {
    const owner = ownerOf(vs);
    const svc = byKey.get(serviceKeyString(vs.spec.key));
    if (!svc) continue;
    const dests = new Map(svc.destinations.map((d) => [destinationKeyString(d), d]));
    const sorry = vs.spec.sorryServer;
    const sorryIn = sorry !== undefined && dests.has(destinationKeyString(sorry));
    if (sorry) quorum.set(owner, !sorryIn);
    if (!vs.spec.healthCheck) continue;
    for (const rs of vs.spec.realServers) {
      const d = dests.get(destinationKeyString(rs));
      // While the sorry server serves, the kernel says nothing about health: count down, so
      // quorum comes back only through the checks.
      const up = !sorryIn && d !== undefined && (d.weight !== 0 || rs.weight === 0);
      health.set(realServerId(owner, rs), up);
    }
  }
  return { health, quorum };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
