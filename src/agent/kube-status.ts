// The Kubernetes agent's reports: its own entry of status.nodes on the VrrpInstances and
// VirtualServers it runs (server-side apply under its own field manager, so it owns that entry
// and nothing else), Events on its VRRP transitions, and its liveness Lease. Everything here
// is best effort and asynchronous: the data plane never waits for the API server.
import type { KubeConfig } from '../kube/kubeconfig.ts';
import type { RealServer, VirtualServer } from '../api/virtual-server.ts';
import { applyStatus, withoutOwnEntry } from '../kube/apply.ts';
import { EventRecorder } from '../kube/events.ts';
import type { EventType } from '../kube/events.ts';
import { LeaseHeartbeat, agentFieldManager } from '../kube/lease-heartbeat.ts';
import { VIRTUAL_SERVERS, VRRP_INSTANCES, apiVersionOf } from '../kube/resources.ts';
import type { Logger } from '../log.ts';
import type { StatusSink } from './agent.ts';
import type { ReportedObject } from './kube-config-source.ts';
import type { InstancePlan, InstanceSnapshot, TransitionMessage } from './messages.ts';
import { NodeStatusEntries, transitionNote } from './status-entries.ts';
import type { EntryChange } from './status-entries.ts';
import { StatusWriter } from './status-writer.ts';

export interface KubeStatusOptions {
  kc: KubeConfig;
  node: string;
  /** Where the liveness Lease lives (the agent's namespace). */
  namespace: string;
  log: Logger;
  /** The objects the agent reads, for Event uids and for entries an earlier run left behind. */
  objects: {
    uidOf(kind: 'VrrpInstance' | 'VirtualServer', namespace: string | undefined, name: string): string | undefined;
    reportedBy(node: string): ReportedObject[];
  };
}

type Body = { kind: 'VrrpInstance' | 'VirtualServer'; namespace?: string; name: string; status: Record<string, unknown> };

const EVENT_REASONS: Record<string, [EventType, string]> = {
  MASTER: ['Normal', 'BecameMaster'],
  BACKUP: ['Normal', 'BecameBackup'],
  FAULT: ['Warning', 'BecameFault'],
  INIT: ['Normal', 'Stopped'],
};

export class KubeStatus implements StatusSink {
  private readonly opts: KubeStatusOptions;
  private readonly entries: NodeStatusEntries;
  private readonly writer: StatusWriter<Body>;
  private readonly events: EventRecorder;
  private readonly lease: LeaseHeartbeat;
  private swept = false;

  constructor(opts: KubeStatusOptions) {
    this.opts = opts;
    this.entries = new NodeStatusEntries(opts.node);
    const manager = agentFieldManager(opts.node);
    this.writer = new StatusWriter<Body>({
      log: opts.log,
      write: async (_key, b) => {
        const type = b.kind === 'VrrpInstance' ? VRRP_INSTANCES : VIRTUAL_SERVERS;
        await applyStatus(opts.kc, type, { namespace: b.namespace, name: b.name }, b.status, manager);
      },
    });
    this.events = new EventRecorder(opts.kc, { controller: 'kubelived.io/agent', instance: opts.node, log: opts.log });
    this.lease = new LeaseHeartbeat(opts.kc, { namespace: opts.namespace, node: opts.node, log: opts.log });
  }

  start(): void {
    this.lease.start();
  }

  running(plans: readonly InstancePlan[], virtualServers: readonly VirtualServer[]): void {
    this.write(this.entries.running(plans, virtualServers));
    if (this.swept) return;
    // Entries of this node that an earlier run wrote on objects it no longer runs.
    this.swept = true;
    const ours = new Set([...plans.map((p) => `VrrpInstance/${p.name}`), ...virtualServers.map((v) => `VirtualServer/${v.namespace}/${v.name}`)]);
    for (const o of this.opts.objects.reportedBy(this.opts.node)) {
      const body: Body = { kind: o.kind, namespace: o.namespace, name: o.name, status: withoutOwnEntry() };
      if (!ours.has(keyOf(body))) this.writer.set(keyOf(body), body);
    }
  }

  transition(t: TransitionMessage): void {
    const changes = this.entries.transition(t);
    this.write(changes);
    const entry = changes.find((c) => c.kind === 'VrrpInstance')?.entry;
    const event = entry && EVENT_REASONS[entry.state];
    if (!event) return;
    const uid = this.opts.objects.uidOf('VrrpInstance', undefined, t.instance);
    this.events.record(
      { apiVersion: apiVersionOf(VRRP_INSTANCES), kind: 'VrrpInstance', name: t.instance, ...(uid ? { uid } : {}) },
      event[0], event[1], transitionNote(this.opts.node, t), 'VRRP',
    );
  }

  snapshot(instances: readonly InstanceSnapshot[]): void {
    this.write(this.entries.snapshot(instances));
  }

  realServer(owner: string, server: RealServer, up: boolean): void {
    this.write(this.entries.realServer(owner, server, up));
  }

  programmed(state: ReadonlyMap<string, string | undefined>): void {
    this.write(this.entries.ipvs(state));
  }

  /**
   * After the VRRP hand-over: every entry says STOPPED, written within `timeoutMs` if the API
   * server takes them; then the writes, Events and Lease stop.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.write(this.entries.stopped());
    const done = await this.writer.flush(timeoutMs);
    if (!done) this.opts.log.warn({ pending: this.writer.pending }, 'stopping before every status entry was written');
    this.writer.stop();
    this.events.stop();
    await this.lease.stop();
  }

  private write(changes: EntryChange[]): void {
    for (const c of changes) {
      const status = c.entry ? { nodes: [c.entry] } : withoutOwnEntry();
      const body: Body = c.kind === 'VrrpInstance'
        ? { kind: c.kind, name: c.name, status }
        : { kind: c.kind, namespace: c.namespace, name: c.name, status };
      // Who is master matters most: instance entries go before VirtualServer ones.
      this.writer.set(keyOf(body), body, c.kind === 'VrrpInstance');
    }
  }
}

function keyOf(b: { kind: string; namespace?: string; name: string }): string {
  return b.namespace ? `${b.kind}/${b.namespace}/${b.name}` : `${b.kind}/${b.name}`;
}
