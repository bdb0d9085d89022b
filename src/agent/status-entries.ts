// This node's entries of status.nodes, computed from what the agent knows: the VRRP thread's
// transitions and snapshots, the VirtualServers it runs, whether IPVS holds them and their real
// servers' health; and the note of each transition's Event. Pure (the clock is injected): each
// input returns the entries it changed, and an entry is reported only when its content changed,
// so a steady node writes nothing.
import type { RealServer, VirtualServer } from '../api/virtual-server.ts';
import { desiredState, ownerOf, realServerId } from '../ipvs/desired.ts';
import { kubeTime } from '../kube/resources.ts';
import type { InstancePlan, InstanceSnapshot, TransitionMessage } from './messages.ts';

export type NodeState = 'MASTER' | 'BACKUP' | 'FAULT' | 'INIT' | 'STOPPED';

/** An entry of VrrpInstance.status.nodes (the contract's shape). */
export interface InstanceEntry {
  node: string;
  state: NodeState;
  effectivePriority: number;
  /** When this node entered the state (RFC 3339). */
  since: string;
  reason: string;
  masterIP?: string;
}

/** An entry of VirtualServer.status.nodes. */
export interface ServerEntry {
  node: string;
  /** This node's state of the VirtualServer's instance. */
  state: NodeState;
  /** Whether this node's kernel holds the service as planned (the last IPVS run for it succeeded). */
  programmed: boolean;
  /** Why it is not programmed. */
  message?: string;
  /** Real servers in service here: 0 while the service is not programmed. */
  healthy: number;
  total: number;
  quorum: boolean;
  realServers: { address: string; port: number; weight: number; healthy: boolean }[];
  /** When the rest of the entry last changed. */
  since: string;
}

/** A change to write: the entry, or undefined to remove this node's entry. */
export type EntryChange =
  | { kind: 'VrrpInstance'; name: string; entry: InstanceEntry | undefined }
  | { kind: 'VirtualServer'; namespace: string; name: string; entry: ServerEntry | undefined };

const STATES: Record<string, NodeState> = { Master: 'MASTER', Backup: 'BACKUP', Fault: 'FAULT', Initialize: 'INIT' };

/** The VRRP core's state names (src/vrrp/router.ts) as status spells them. */
export function nodeState(vrrpState: string): NodeState {
  return STATES[vrrpState] ?? 'INIT';
}

/** The VRRP core's fixed reasons as they read in a sentence; the others (peers, tracks, links) read as they are. */
const REASON_WORDS: Record<string, string> = {
  'master-down timer expired': 'the master-down timer expired',
  'priority-0 advert': 'the master sent a priority-0 advert',
  startup: 'the instance started',
  'address owner': 'it owns the virtual IPs (priority 255)',
};

/** An Event's note on a transition, in status's spelling of the states: "n1 became MASTER (was BACKUP): the master-down timer expired." */
export function transitionNote(node: string, t: Pick<TransitionMessage, 'from' | 'to' | 'reason'>): string {
  const from = nodeState(t.from);
  const to = nodeState(t.to);
  // Leaving for Initialize is always a shutdown of the instance (agent stopping, spec changed).
  if (to === 'INIT') return `${node} stopped running this instance (was ${from}).`;
  return `${node} became ${to} (was ${from}): ${REASON_WORDS[t.reason] ?? t.reason}.`;
}

interface InstanceRecord {
  state: NodeState;
  effectivePriority: number;
  since: number;
  reason: string;
  masterIP: string | undefined;
}

interface ServerRecord {
  vs: VirtualServer;
  /** The entry without `since`, to see whether anything changed; undefined while not written. */
  content: string | undefined;
  since: number;
}

export class NodeStatusEntries {
  private readonly node: string;
  private readonly now: () => number;
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly servers = new Map<string, ServerRecord>();
  /** Last health result per real server (realServerId); unknown counts as healthy, as in src/ipvs. */
  private readonly health = new Map<string, boolean>();
  private quorum = new Map<string, boolean>();
  /** Per VirtualServer, what the IPVS reconciler last said: undefined programmed, else why not. */
  private readonly programmed = new Map<string, string | undefined>();

  constructor(node: string, now: () => number = Date.now) {
    this.node = node;
    this.now = now;
  }

  /** What the node runs after a config change: new entries, changed ones, removed ones. */
  running(plans: readonly InstancePlan[], virtualServers: readonly VirtualServer[]): EntryChange[] {
    const changes: EntryChange[] = [];
    const wanted = new Set(plans.map((p) => p.name));
    for (const name of [...this.instances.keys()]) {
      if (wanted.has(name)) continue;
      this.instances.delete(name);
      changes.push({ kind: 'VrrpInstance', name, entry: undefined });
    }
    for (const p of plans) {
      if (this.instances.has(p.name)) continue;
      this.instances.set(p.name, { state: 'INIT', effectivePriority: p.priority, since: this.now(), reason: 'starting', masterIP: undefined });
      changes.push(this.instanceChange(p.name));
    }
    const owners = new Set(virtualServers.map(ownerOf));
    for (const [owner, r] of [...this.servers]) {
      if (owners.has(owner)) continue;
      this.servers.delete(owner);
      this.quorum.delete(owner);
      this.programmed.delete(owner);
      if (r.content !== undefined) changes.push({ kind: 'VirtualServer', namespace: r.vs.namespace, name: r.vs.name, entry: undefined });
    }
    for (const vs of virtualServers) {
      const r = this.servers.get(ownerOf(vs));
      if (r?.vs === vs) continue;
      changes.push(...this.updateServer(vs));
    }
    for (const id of [...this.health.keys()]) if (!owners.has(id.slice(0, id.indexOf(' ')))) this.health.delete(id);
    return changes;
  }

  transition(t: Pick<TransitionMessage, 'instance' | 'to' | 'reason' | 'masterIP' | 'effectivePriority'>): EntryChange[] {
    const r = this.instances.get(t.instance);
    if (!r) return [];
    r.state = nodeState(t.to);
    r.since = this.now();
    r.reason = t.reason;
    r.masterIP = t.masterIP;
    r.effectivePriority = t.effectivePriority;
    return [this.instanceChange(t.instance), ...this.serversOf(t.instance)];
  }

  /** The VRRP thread's periodic view: priority changes (tracks) and a new master seen by a backup. */
  snapshot(instances: readonly InstanceSnapshot[]): EntryChange[] {
    const changes: EntryChange[] = [];
    for (const s of instances) {
      const r = this.instances.get(s.name);
      if (!r || (r.effectivePriority === s.effectivePriority && r.masterIP === s.masterIP)) continue;
      r.effectivePriority = s.effectivePriority;
      r.masterIP = s.masterIP;
      changes.push(this.instanceChange(s.name));
    }
    return changes;
  }

  realServer(owner: string, server: RealServer, up: boolean): EntryChange[] {
    const id = realServerId(owner, server);
    if (this.health.get(id) === up) return [];
    this.health.set(id, up);
    const r = this.servers.get(owner);
    return r ? this.updateServer(r.vs) : [];
  }

  /** The IPVS reconciler's word on the VirtualServers of one run (see IpvsObserver.programmed). */
  ipvs(state: ReadonlyMap<string, string | undefined>): EntryChange[] {
    const changes: EntryChange[] = [];
    for (const [owner, why] of state) {
      const r = this.servers.get(owner);
      if (!r || (this.programmed.has(owner) && this.programmed.get(owner) === why)) continue;
      this.programmed.set(owner, why);
      changes.push(...this.updateServer(r.vs));
    }
    return changes;
  }

  /** Graceful stop, after the VRRP hand-over: every entry says STOPPED. */
  stopped(): EntryChange[] {
    const changes: EntryChange[] = [];
    for (const [name, r] of this.instances) {
      if (r.state !== 'STOPPED') {
        r.state = 'STOPPED';
        r.since = this.now();
        r.reason = 'agent stopped';
        r.masterIP = undefined;
      }
      changes.push(this.instanceChange(name));
    }
    for (const r of this.servers.values()) changes.push(...this.updateServer(r.vs));
    return changes;
  }

  private instanceChange(name: string): EntryChange {
    const r = this.instances.get(name);
    if (!r) return { kind: 'VrrpInstance', name, entry: undefined };
    const entry: InstanceEntry = {
      node: this.node, state: r.state, effectivePriority: r.effectivePriority, since: kubeTime(r.since), reason: r.reason,
      ...(r.masterIP !== undefined ? { masterIP: r.masterIP } : {}),
    };
    return { kind: 'VrrpInstance', name, entry };
  }

  private serversOf(instance: string): EntryChange[] {
    return [...this.servers.values()].filter((r) => r.vs.spec.vrrpInstanceRef === instance).flatMap((r) => this.updateServer(r.vs));
  }

  /**
   * Recomputes one VirtualServer's entry; a change only when its content changed. Nothing is
   * written before the IPVS reconciler's first word on it, so a starting agent never reports a
   * service as programmed (or as failing) before it has tried.
   */
  private updateServer(vs: VirtualServer): EntryChange[] {
    const owner = ownerOf(vs);
    const s = vs.spec;
    // The same health and quorum rules as the kernel's tables (src/ipvs/desired.ts).
    const healthOf = (rs: RealServer): boolean => !s.healthCheck || (this.health.get(realServerId(owner, rs)) ?? true);
    const desired = desiredState({ virtualServers: [vs], health: (o, rs) => this.health.get(realServerId(o, rs)), quorum: this.quorum });
    const st = desired.status[0];
    this.quorum.set(owner, st?.quorumUp ?? false);
    const before = this.servers.get(owner);
    if (!this.programmed.has(owner)) {
      this.servers.set(owner, { vs, content: before?.content, since: before?.since ?? this.now() });
      return [];
    }
    const why = this.programmed.get(owner);
    // Where the kernel does not hold the service, no real server is in service, and none was
    // checked either: the checks start with the first successful IPVS run.
    const programmed = why === undefined;
    const content = {
      node: this.node,
      state: this.instances.get(s.vrrpInstanceRef)?.state ?? 'INIT',
      programmed,
      ...(programmed ? {} : { message: why }),
      healthy: programmed ? st?.healthy ?? 0 : 0,
      total: st?.total ?? 0,
      quorum: programmed && (st?.quorumUp ?? false),
      realServers: s.realServers.map((rs) => ({ address: rs.address, port: rs.port, weight: rs.weight, healthy: programmed && healthOf(rs) })),
    };
    const text = JSON.stringify(content);
    if (before?.content === text) {
      before.vs = vs;
      return [];
    }
    const since = this.now();
    this.servers.set(owner, { vs, content: text, since });
    return [{ kind: 'VirtualServer', namespace: vs.namespace, name: vs.name, entry: { ...content, since: kubeTime(since) } }];
  }
}
