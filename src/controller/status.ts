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
  stale: E[];
  recheckAt: number | undefined;
}

function partition<E extends { node: string }>(entries: readonly E[] | undefined, leases: AgentLeases, now: number): Live<E> {
  const out: Live<E> = { live: [], stale: [], recheckAt: undefined };
  for (const e of [...(entries ?? [])].sort((a, b) => compare(a.node, b.node))) {
    const until = leases(e.node)?.expiresMs;
    if (until !== undefined && until > now) {
      out.live.push(e);
      out.recheckAt = Math.min(out.recheckAt ?? Infinity, until);
    } else {
      out.stale.push(e);
    }
  }
  return out;
}

function sinceMs(e: { since?: string }): number {
  const t = e.since ? Date.parse(e.since) : NaN;
  return Number.isFinite(t) ? t : -Infinity;
}

export function summarizeInstance(o: InstanceObject, verdict: InstanceVerdict, leases: AgentLeases, now: number): Summary<InstanceStatusPatch> {
  const { live, stale, recheckAt: leaseRecheck } = partition(o.status?.nodes, leases, now);
  const masters = live.filter((e) => e.state === 'MASTER').sort((a, b) => sinceMs(a) - sinceMs(b) || compare(a.node, b.node));
  // Two claims: the newer one is the takeover the older master has not noticed (or is dead).
  const master = masters.at(-1)?.node ?? '';
  const advertMs = verdict.instance?.spec.advertisementIntervalMs ?? DEFAULT_ADVERT_MS;
  const split = splitBrain(masters, advertMs, leases, now);
  const recheckAt = split.recheckAt !== undefined ? Math.min(leaseRecheck ?? Infinity, split.recheckAt) : leaseRecheck;
  const claimants = masters.map((e) => e.node).sort().join(', ');

  const conditions: DesiredCondition[] = [
    { type: 'Accepted', status: verdict.accepted ? 'True' : 'False', reason: verdict.reason, message: verdict.message },
    instanceReady(verdict, live, master),
    instanceDegraded(live, stale),
    split.nodes.length > 0
      ? { type: 'SplitBrain', status: 'True', reason: 'MultipleMasters', message: `${split.nodes.join(', ')} have all been MASTER for longer than one advertisement interval (${advertMs}ms)` }
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

function instanceReady(verdict: InstanceVerdict, live: readonly InstanceEntry[], master: string): DesiredCondition {
  const type = 'Ready';
  if (!verdict.accepted) return { type, status: 'False', reason: 'NotAccepted', message: `not accepted (${verdict.reason}); see the Accepted condition` };
  if (verdict.nodes.length === 0) return { type, status: 'False', reason: 'NoMatchingNodes', message: 'no registered Node matches spec.nodeSelector' };
  if (live.length === 0) return { type, status: 'False', reason: 'NoReports', message: `no agent reports this instance (selected nodes: ${verdict.nodes.join(', ')})` };
  if (master === '') return { type, status: 'False', reason: 'NoMaster', message: `no node is MASTER (${live.map((e) => `${e.node} ${e.state}`).join(', ')})` };
  return { type, status: 'True', reason: 'MasterElected', message: `${master} is MASTER` };
}

function instanceDegraded(live: readonly InstanceEntry[], stale: readonly InstanceEntry[]): DesiredCondition {
  const type = 'Degraded';
  const faulty = live.filter((e) => e.state === 'FAULT');
  if (faulty.length > 0) {
    return { type, status: 'True', reason: 'NodeFault', message: faulty.map((e) => `${e.node} is FAULT${e.reason ? ` (${e.reason})` : ''}`).join('; ') };
  }
  const silent = stale.filter((e) => e.state !== 'STOPPED');
  if (silent.length > 0) {
    return { type, status: 'True', reason: 'AgentNotReporting', message: `the agent on ${silent.map((e) => e.node).join(', ')} stopped renewing its liveness Lease; its entry no longer counts` };
  }
  return { type, status: 'False', reason: 'AsExpected', message: 'no node is FAULT and every reporting agent is alive' };
}

/** `instanceMaster` is the summarised master of the VirtualServer's instance ('' for none). */
export function summarizeServer(o: ServerObject, verdict: ServerVerdict, instanceMaster: string, leases: AgentLeases, now: number): Summary<ServerStatusPatch> {
  const { live, recheckAt } = partition(o.status?.nodes, leases, now);
  const master = verdict.accepted ? instanceMaster : '';
  const entry = master !== '' ? live.find((e) => e.node === master) : undefined;
  const total = entry?.total ?? Math.max(specRealServers(o), ...live.map((e) => e.total ?? 0));
  const healthy = entry?.healthy ?? 0;
  const conditions: DesiredCondition[] = [
    { type: 'Accepted', status: verdict.accepted ? 'True' : 'False', reason: verdict.reason, message: verdict.message },
    serverReady(verdict, master, entry),
    serverDegraded(verdict, master, entry),
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

function serverReady(verdict: ServerVerdict, master: string, entry: ServerEntry | undefined): DesiredCondition {
  const type = 'Ready';
  if (!verdict.accepted) return { type, status: 'False', reason: 'NotAccepted', message: `not accepted (${verdict.reason}); see the Accepted condition` };
  if (master === '') return { type, status: 'False', reason: 'NoMaster', message: 'no node is MASTER of its VrrpInstance' };
  if (!entry) return { type, status: 'False', reason: 'NoReport', message: `the master ${master} has not reported this VirtualServer` };
  if (!entry.quorum) return { type, status: 'False', reason: 'QuorumLost', message: `${master} sees ${entry.healthy}/${entry.total} healthy real servers, below quorum` };
  return { type, status: 'True', reason: 'Serving', message: `${master} serves with ${entry.healthy}/${entry.total} healthy real servers` };
}

function serverDegraded(verdict: ServerVerdict, master: string, entry: ServerEntry | undefined): DesiredCondition {
  const type = 'Degraded';
  if (verdict.accepted && entry && entry.healthy < entry.total) {
    const down = (entry.realServers ?? []).filter((r) => !r.healthy).map((r) => (r.address.includes(':') ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`));
    return { type, status: 'True', reason: 'RealServersDown', message: `${entry.total - entry.healthy} of ${entry.total} real servers down on ${master}${down.length > 0 ? `: ${down.join(', ')}` : ''}` };
  }
  return { type, status: 'False', reason: 'AsExpected', message: 'every real server the master checks is healthy' };
}
