// The controller's part of each status, summarised from the agents' per-node entries: who is
// MASTER, how many nodes report, READY "healthy/total" as the master sees it, and the
// conditions. Pure: the clock and the agents' liveness are inputs. An entry counts only while
// its node's liveness Lease is fresh, so a killed agent's last claim does not linger. Every
// message is built from sorted data: the same inputs give the same status, byte for byte.
import { mergeConditions } from './conditions.ts';
import type { DesiredCondition } from './conditions.ts';
import type { Condition, InstanceEntry, InstanceObject, ServerEntry, ServerObject } from './objects.ts';
import { compare } from './objects.ts';
import type { InstanceVerdict, ServerVerdict } from './validation.ts';
import { listing } from './wording.ts';
import { AGENT_LEASE_DURATION_S } from '../kube/lease-heartbeat.ts';

/** A node's liveness Lease: last renewal and expiry (epoch ms); undefined when it has none. */
export type AgentLeases = (node: string) => { renewMs: number; expiresMs: number } | undefined;

export interface InstanceStatusPatch {
  observedGeneration?: number;
  master: string;
  nodeCount: number;
  conditions: Condition[];
}

export interface ServerStatusPatch {
  observedGeneration?: number;
  master: string;
  ready: string;
  conditions: Condition[];
}

export interface Summary<T> {
  status: T;
  /** When the summary may change with no new input (a Lease expiring, a split brain maturing). */
  recheckAt: number | undefined;
}

const DEFAULT_ADVERT_MS = 1000;

interface Live<E> {
  live: E[];
  /** Entries that do not count because their agent stopped renewing its Lease, or never had one. */
  silent: E[];
  /**
   * Entries that do not count yet: their agent has renewed no Lease since it wrote them, and
   * they are younger than a Lease.
   */
  starting: E[];
  recheckAt: number | undefined;
}

const LEASE_MS = AGENT_LEASE_DURATION_S * 1000;

function partition<E extends { node: string; since?: string }>(entries: readonly E[] | undefined, leases: AgentLeases, now: number): Live<E> {
  const out: Live<E> = { live: [], silent: [], starting: [], recheckAt: undefined };
  const later = (t: number): void => {
    out.recheckAt = Math.min(out.recheckAt ?? Infinity, t);
  };
  for (const e of [...(entries ?? [])].sort((a, b) => compare(a.node, b.node))) {
    const lease = leases(e.node);
    if (lease && lease.expiresMs > now) {
      out.live.push(e);
      later(lease.expiresMs);
      continue;
    }
    // An agent writes its first entries a moment before its first Lease renewal (also when it
    // restarts after its old Lease expired): that is an agent starting, not one that stopped.
    const since = sinceMs(e);
    if (!(lease && lease.renewMs >= since) && since + LEASE_MS > now) {
      out.starting.push(e);
      later(since + LEASE_MS);
    } else {
      out.silent.push(e);
    }
  }
  return out;
}

function sinceMs(e: { since?: string }): number {
  const t = e.since ? Date.parse(e.since) : NaN;
  return Number.isFinite(t) ? t : -Infinity;
}

export function summarizeInstance(o: InstanceObject, verdict: InstanceVerdict, leases: AgentLeases, now: number): Summary<InstanceStatusPatch> {
  const { live, silent, starting, recheckAt: leaseRecheck } = partition(o.status?.nodes, leases, now);
  const masters = live.filter((e) => e.state === 'MASTER').sort((a, b) => sinceMs(a) - sinceMs(b) || compare(a.node, b.node));
  // Two claims: the newer one is the takeover the older master has not noticed (or is dead).
  const master = masters.at(-1)?.node ?? '';
  const advertMs = verdict.instance?.spec.advertisementIntervalMs ?? DEFAULT_ADVERT_MS;
  const split = splitBrain(masters, advertMs, leases, now);
  const recheckAt = split.recheckAt !== undefined ? Math.min(leaseRecheck ?? Infinity, split.recheckAt) : leaseRecheck;
  const claimants = listing(masters.map((e) => e.node).sort());

  const conditions: DesiredCondition[] = [
    { type: 'Accepted', status: verdict.accepted ? 'True' : 'False', reason: verdict.reason, message: verdict.message },
    instanceReady(verdict, live, starting, master),
    instanceDegraded(live, silent, leases),
    split.nodes.length > 0
      ? { type: 'SplitBrain', status: 'True', reason: 'MultipleMasters', message: `${listing(split.nodes)} have ${split.nodes.length === 2 ? 'both' : 'all'} been MASTER for longer than one advertisement interval (${advertMs}ms)` }
      : { type: 'SplitBrain', status: 'False', reason: 'AtMostOneMaster', message: masters.length > 1 ? `${claimants} claim MASTER: a takeover the old master has not reported yet` : 'at most one node claims MASTER' },
  ];
  const generation = o.metadata.generation;
  return {
    status: {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      master,
      nodeCount: live.length,
      conditions: mergeConditions(o.status?.conditions, conditions, generation, now),
    },
    recheckAt,
  };
}

/**
 * Two nodes are in split brain when both have claimed MASTER for longer than one advert
 * interval and both agents are alive for it: each renewed its Lease after the overlap was one
 * interval old. A SIGKILLed master's entry still says MASTER until its Lease expires; it never
 * renews again, so the takeover that follows is not mistaken for a split brain.
 */
function splitBrain(masters: readonly InstanceEntry[], advertMs: number, leases: AgentLeases, now: number): { nodes: string[]; recheckAt: number | undefined } {
  const nodes = new Set<string>();
  let recheckAt: number | undefined;
  for (let i = 0; i < masters.length; i++) {
    for (let j = i + 1; j < masters.length; j++) {
      const a = masters[i] as InstanceEntry;
      const b = masters[j] as InstanceEntry;
      const matured = Math.max(sinceMs(a), sinceMs(b)) + advertMs;
      if (matured > now) {
        recheckAt = Math.min(recheckAt ?? Infinity, matured);
        continue;
      }
      // Not yet confirmed by both Leases: their next renewal (an informer event) decides.
      if ((leases(a.node)?.renewMs ?? -Infinity) < matured || (leases(b.node)?.renewMs ?? -Infinity) < matured) continue;
      nodes.add(a.node);
      nodes.add(b.node);
    }
  }
  return { nodes: [...nodes].sort(), recheckAt };
}

function instanceReady(verdict: InstanceVerdict, live: readonly InstanceEntry[], starting: readonly InstanceEntry[], master: string): DesiredCondition {
  const type = 'Ready';
  if (!verdict.accepted) return { type, status: 'False', reason: 'NotAccepted', message: `not accepted (${verdict.reason}); see the Accepted condition` };
  if (verdict.nodes.length === 0) return { type, status: 'False', reason: 'NoMatchingNodes', message: 'no registered Node matches spec.nodeSelector' };
  if (live.length === 0 && starting.length > 0) {
    return { type, status: 'False', reason: 'NoReports', message: `no agent reports this instance yet: ${listing(starting.map((e) => e.node))} ${starting.length === 1 ? 'is' : 'are'} starting (no liveness Lease yet)` };
  }
  if (live.length === 0) return { type, status: 'False', reason: 'NoReports', message: `no agent reports this instance (selected nodes: ${verdict.nodes.join(', ')})` };
  if (master === '') return { type, status: 'False', reason: 'NoMaster', message: `no node is MASTER (${live.map((e) => `${e.node} ${e.state}`).join(', ')})` };
  return { type, status: 'True', reason: 'MasterElected', message: `${master} is MASTER` };
}

function instanceDegraded(live: readonly InstanceEntry[], silent: readonly InstanceEntry[], leases: AgentLeases): DesiredCondition {
  const type = 'Degraded';
  const faulty = live.filter((e) => e.state === 'FAULT');
  if (faulty.length > 0) {
    return { type, status: 'True', reason: 'NodeFault', message: faulty.map((e) => `${e.node} is FAULT${e.reason ? ` (${e.reason})` : ''}`).join('; ') };
  }
  // A node stopped on purpose (STOPPED: graceful shutdown) is no problem.
  const lost = silent.filter((e) => e.state !== 'STOPPED');
  if (lost.length > 0) {
    const expired = lost.filter((e) => leases(e.node) !== undefined).map((e) => e.node);
    const missing = lost.filter((e) => leases(e.node) === undefined).map((e) => e.node);
    const agents = (nodes: string[]): string => `the ${nodes.length === 1 ? 'agent' : 'agents'} on ${listing(nodes)}`;
    const why: string[] = [];
    if (expired.length > 0) why.push(`${agents(expired)} stopped renewing ${expired.length === 1 ? 'its liveness Lease' : 'their liveness Leases'}`);
    if (missing.length > 0) why.push(`${agents(missing)} ${missing.length === 1 ? 'has' : 'have'} no liveness Lease`);
    const counts = lost.length === 1 ? 'its entry no longer counts' : 'their entries no longer count';
    return { type, status: 'True', reason: 'AgentNotReporting', message: `${why.join('; ')}; ${counts}` };
  }
  return { type, status: 'False', reason: 'AsExpected', message: 'no node is FAULT and every reporting agent is alive' };
}

/** `instanceMaster` is the summarised master of the VirtualServer's instance ('' for none). */
export function summarizeServer(o: ServerObject, verdict: ServerVerdict, instanceMaster: string, leases: AgentLeases, now: number): Summary<ServerStatusPatch> {
  const { live, recheckAt } = partition(o.status?.nodes, leases, now);
  const master = verdict.accepted ? instanceMaster : '';
  const entry = master !== '' ? live.find((e) => e.node === master) : undefined;
  const total = entry?.total ?? Math.max(specRealServers(o), ...live.map((e) => e.total ?? 0));
  // An agent counts no real server healthy where its kernel does not hold the service.
  const healthy = entry?.healthy ?? 0;
  const conditions: DesiredCondition[] = [
    { type: 'Accepted', status: verdict.accepted ? 'True' : 'False', reason: verdict.reason, message: verdict.message },
    serverReady(verdict, master, entry),
    serverDegraded(verdict, master, entry, live),
  ];
  const generation = o.metadata.generation;
  return {
    status: {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      master,
      ready: `${healthy}/${total}`,
      conditions: mergeConditions(o.status?.conditions, conditions, generation, now),
    },
    recheckAt,
  };
}

function specRealServers(o: ServerObject): number {
  const spec = o.spec as { realServers?: unknown } | undefined;
  return Array.isArray(spec?.realServers) ? spec.realServers.length : 0;
}

/** Entries written before agents reported it have no `programmed`: those count as programmed. */
function notProgrammed(e: ServerEntry): boolean {
  return e.programmed === false;
}

function serverReady(verdict: ServerVerdict, master: string, entry: ServerEntry | undefined): DesiredCondition {
  const type = 'Ready';
  if (!verdict.accepted) return { type, status: 'False', reason: 'NotAccepted', message: `not accepted (${verdict.reason}); see the Accepted condition` };
  if (master === '') return { type, status: 'False', reason: 'NoMaster', message: 'no node is MASTER of its VrrpInstance' };
  if (!entry) return { type, status: 'False', reason: 'NoReport', message: `the master ${master} has not reported this VirtualServer` };
  if (notProgrammed(entry)) return { type, status: 'False', reason: 'NotProgrammed', message: `the master ${master} could not program the service in its kernel: ${entry.message ?? 'no reason given'}` };
  if (!entry.quorum) return { type, status: 'False', reason: 'QuorumLost', message: `${master} sees ${entry.healthy}/${entry.total} healthy real servers, below quorum` };
  return { type, status: 'True', reason: 'Serving', message: `${master} serves with ${entry.healthy}/${entry.total} healthy real servers` };
}

function serverDegraded(verdict: ServerVerdict, master: string, entry: ServerEntry | undefined, live: readonly ServerEntry[]): DesiredCondition {
  const type = 'Degraded';
  // Backups included: a takeover by a node without the service would serve nothing.
  const unprogrammed = verdict.accepted ? live.filter(notProgrammed) : [];
  if (unprogrammed.length > 0) {
    const byMessage = new Map<string, string[]>();
    for (const e of unprogrammed) {
      const why = e.message ?? 'no reason given';
      byMessage.set(why, [...(byMessage.get(why) ?? []), e.node]);
    }
    const parts = [...byMessage].sort(([a], [b]) => compare(a, b)).map(([why, nodes]) => `${listing(nodes)}: ${why}`);
    return { type, status: 'True', reason: 'NotProgrammed', message: `the service is not programmed in the kernel of ${parts.join('; ')}` };
  }
  if (verdict.accepted && entry && entry.healthy < entry.total) {
    const down = (entry.realServers ?? []).filter((r) => !r.healthy).map((r) => (r.address.includes(':') ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`));
    return { type, status: 'True', reason: 'RealServersDown', message: `${entry.total - entry.healthy} of ${entry.total} real servers down on ${master}${down.length > 0 ? `: ${down.join(', ')}` : ''}` };
  }
  return { type, status: 'False', reason: 'AsExpected', message: 'every node programs the service and every real server the master checks is healthy' };
}
