// The controller process: informers on everything it reads (kept warm on every replica, so a
// standby takes over with a full cache), Lease leader election, and on the leader one reconcile
// loop: the agent DaemonSet, then validation and status summaries of every resource. Writes
// happen only when what the API server has differs from what the controller computes, so a
// restart or a takeover over unchanged objects writes nothing. The decisions are pure
// (validation.ts, status.ts, daemonset.ts); this file moves data between them and the API.
import type { Server } from 'node:http';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { serveHttp } from '../agent/http.ts';
import { applyObject, applyStatus, withoutOwnEntry } from '../kube/apply.ts';
import { Backoff } from '../kube/backoff.ts';
import { hasStatus, isAuthError, kubeRequest } from '../kube/client.ts';
import { EventRecorder } from '../kube/events.ts';
import type { InvolvedObject } from '../kube/events.ts';
import { makeInformer } from '../kube/informer.ts';
import type { Informer } from '../kube/informer.ts';
import { LeaderElector } from '../kube/leader.ts';
import { agentFieldManager, agentLeaseName, leaseExpiresAt } from '../kube/lease-heartbeat.ts';
import {
  DAEMON_SETS, DEPLOYMENTS, LEASES, NODES, VIRTUAL_SERVERS, VRRP_INSTANCES, apiVersionOf, objectKey, resourcePath,
} from '../kube/resources.ts';
import type { KubeObject, ResourceType } from '../kube/resources.ts';
import type { Logger } from '../log.ts';
import type { AgentValues } from './agent-config.ts';
import { conditionEvents, sameConditions } from './conditions.ts';
import { AGENT_DAEMONSET, containsAll, renderAgentDaemonSet } from './daemonset.ts';
import type { Owner } from './daemonset.ts';
import { ControllerMetrics } from './metrics.ts';
import type { Condition, InstanceObject, LeaseObject, NodeObject, ServerObject } from './objects.ts';
import { SpecMemo } from './spec-memo.ts';
import { summarizeInstance, summarizeServer } from './status.ts';
import type { AgentLeases, InstanceStatusPatch, ServerStatusPatch } from './status.ts';
import { validate } from './validation.ts';

export const FIELD_MANAGER = 'kubelived-controller';
export const LEADER_LEASE = 'kubelived-controller';

export interface ControllerOptions {
  kc: KubeConfig;
  namespace: string;
  agent: AgentValues;
  /** Unique per replica (the leader Lease's holderIdentity). */
  identity: string;
  leaderElection: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  metricsAddr: string | undefined;
  /**
   * The Deployment (in `namespace`) that runs this controller, which then owns the agent
   * DaemonSet: deleting it deletes the agents. Without it the DaemonSet has no owner.
   */
  ownerDeployment: string | undefined;
  log: Logger;
}

/** Changes arriving together (an agent writing several entries) make one reconcile. */
const COALESCE_MS = 20;
const MAX_PARALLEL_WRITES = 8;

/** A write to do: the object, the status, and the conditions it had (for Events). */
interface StatusWrite {
  type: ResourceType;
  object: KubeObject;
  status: InstanceStatusPatch | ServerStatusPatch;
  before: Condition[] | undefined;
}

/** An entry of status.nodes whose node is gone: no Node object, and no live agent Lease. */
interface StaleEntry {
  type: ResourceType;
  object: KubeObject;
  node: string;
}

export class Controller {
  private readonly opts: ControllerOptions;
  private readonly log: Logger;
  readonly metrics = new ControllerMetrics();
  private readonly instances: Informer<InstanceObject>;
  private readonly servers: Informer<ServerObject>;
  private readonly nodes: Informer<NodeObject>;
  private readonly leases: Informer<LeaseObject>;
  private readonly daemonSets: Informer<KubeObject>;
  private readonly informers: Informer<KubeObject>[];
  private readonly elector: LeaderElector;
  private readonly events: EventRecorder;
  private readonly memo = new SpecMemo();
  private readonly retry = new Backoff({ initialMs: 500, maxMs: 30_000 });
  /** What was last written per object, over which resourceVersion: no repeat while the watch catches up. */
  private readonly written = new Map<string, { over: string; json: string }>();
  private server: Server | undefined;
  /** The owner Deployment's reference, read once (its uid lives as long as our pod). */
  private owner: Owner | undefined;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private running: Promise<void> | undefined;
  private dirty = false;
  /** Counts what the DaemonSet informer reported: a write is repeated only after news. */
  private daemonSetEvents = 0;
  private stopped = false;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.log = opts.log;
    const { kc, namespace } = opts;
    const informer = <T extends KubeObject>(name: string, path: string, fieldSelector?: string): Informer<T> => {
      const inf = makeInformer<T>(kc, path, {
        name, log: this.log, fieldSelector,
        onError: () => this.metrics.watchErrors.inc({ resource: name }),
      });
      inf.on({ add: () => this.kick(), update: () => this.kick(), delete: () => this.kick() });
      return inf;
    };
    this.instances = informer('vrrpinstances', resourcePath(VRRP_INSTANCES));
    this.servers = informer('virtualservers', resourcePath(VIRTUAL_SERVERS));
    this.nodes = informer('nodes', resourcePath(NODES));
    this.leases = informer('leases', resourcePath(LEASES, namespace));
    this.daemonSets = informer('daemonsets', resourcePath(DAEMON_SETS, namespace), `metadata.name=${AGENT_DAEMONSET}`);
    const seen = (): void => { this.daemonSetEvents++; };
    this.daemonSets.on({ add: seen, update: seen, delete: seen });
    this.informers = [this.instances, this.servers, this.nodes, this.leases, this.daemonSets] as Informer<KubeObject>[];
    this.events = new EventRecorder(kc, { controller: 'kubelived.io/controller', instance: opts.identity, log: this.log });
    this.elector = new LeaderElector(kc, {
      namespace, name: LEADER_LEASE, identity: opts.identity, log: this.log, ...opts.leaderElection,
      onStartedLeading: () => {
        this.leading = true;
        this.metrics.leader.set(1);
        this.kick();
      },
      onStoppedLeading: () => {
        this.leading = false;
        this.metrics.leader.set(0);
        this.clearTimer();
      },
    });
  }

  get ready(): boolean {
    return this.informers.every((i) => i.isSynced);
  }

  /**
   * Starts the informers and the HTTP endpoint, waits for the first full sync, then campaigns
   * for leadership. Rejects when the API server keeps refusing our credentials or RBAC before
   * the first sync: a deployment error that waiting will not fix. Resolves without campaigning
   * when stop() comes first (SIGTERM while the API server is unreachable).
   */
  async start(): Promise<void> {
    for (const i of this.informers) i.start();
    if (this.opts.metricsAddr) this.server = await serveHttp(this.opts.metricsAddr, this.metrics.registry, () => this.ready);
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        const denied = this.informers.find((i) => !i.isSynced && i.isDenied);
        if (this.stopped) {
          clearInterval(poll);
          resolve();
        } else if (denied) {
          clearInterval(poll);
          reject(new Error(`the API server refuses to let this controller list ${denied.name}: ${String((denied.lastError as Error).message)} (its ServiceAccount needs the chart's RBAC: helm install, or kubectl apply -f deploy/manifests/kubelived.yaml)`));
        } else if (this.ready) {
          clearInterval(poll);
          resolve();
        }
      };
      const poll = setInterval(check, 100);
      check();
    });
    if (this.stopped) return;
    this.log.info({ namespace: this.opts.namespace }, 'caches synced; campaigning for leadership');
    this.elector.start();
  }

  /** Releases leadership (a standby takes over at once), flushes Events, stops everything. */
  async stop(): Promise<void> {
    // Finish the pass in flight before letting a standby start its own.
    this.stopped = true;
    this.clearTimer();
    await this.running;
    await this.elector.stop();
    await this.events.flush();
    this.events.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Something changed: reconcile soon (once for a burst of changes). */
  private kick(delayMs = COALESCE_MS): void {
    if (!this.leading || this.stopped) return;
    const at = Date.now() + delayMs;
    if (this.timer && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.runOnce();
    }, delayMs);
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private runOnce(): void {
    if (this.running) {
      this.dirty = true; // one more pass when this one ends
      return;
    }
    this.running = (async () => {
      const end = this.metrics.reconcileSeconds.startTimer();
      let ok = false;
      let recheckAt: number | undefined;
      try {
        recheckAt = await this.reconcile();
        ok = true;
      } catch (e) {
        this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'reconcile failed');
      } finally {
        end();
        this.running = undefined;
      }
      if (!this.leading || this.stopped) return;
      const dirty = this.dirty;
      this.dirty = false;
      // A failed write waits (a new change still wakes us earlier); news that came in meanwhile does not.
      if (!ok) {
        this.kick(this.retry.next());
      } else if (dirty) {
        this.kick();
      } else {
        this.retry.reset();
        if (recheckAt !== undefined) this.kick(Math.max(COALESCE_MS, recheckAt - Date.now()));
      }
    })();
  }

  /** One pass; throws when a write failed (retried with backoff). Returns when to look again. */
  private async reconcile(): Promise<number | undefined> {
    const failures: unknown[] = [];
    try {
      await this.reconcileDaemonSet();
    } catch (e) {
      failures.push(e);
    }
    const { writes, stale, recheckAt } = this.plan(Date.now());
    const tasks = [...writes.map((w) => () => this.writeStatus(w)), ...stale.map((e) => () => this.removeEntry(e))];
    await runLimited(tasks, MAX_PARALLEL_WRITES, async (task) => {
      if (!this.leading) return;
      try {
        await task();
      } catch (e) {
        failures.push(e);
      }
    });
    if (failures.length > 0) {
      throw new Error(`${failures.length} write(s) failed, first: ${failures[0] instanceof Error ? failures[0].message : String(failures[0])}`);
    }
    return recheckAt;
  }

  private async reconcileDaemonSet(): Promise<void> {
    const { namespace } = this.opts;
    const want = renderAgentDaemonSet(this.opts.agent, namespace, await this.ownerReference());
    const live = this.daemonSets.get(namespace, AGENT_DAEMONSET);
    if (live && containsAll(live, want)) return;
    const key = `DaemonSet/${namespace}/${AGENT_DAEMONSET}`;
    const json = JSON.stringify(want);
    // Applied already and the informer has said nothing since: it has not brought our write yet.
    const over = String(this.daemonSetEvents);
    const last = this.written.get(key);
    if (last && last.over === over && last.json === json) return;
    try {
      await applyObject(this.opts.kc, DAEMON_SETS, { namespace, name: AGENT_DAEMONSET }, want, FIELD_MANAGER, true);
      this.metrics.daemonSetApplies.inc({ result: 'ok' });
      this.written.set(key, { over, json });
      this.log.info({ namespace, image: this.opts.agent.image, owner: this.owner?.name }, live ? 'updated the agent DaemonSet' : 'created the agent DaemonSet');
    } catch (e) {
      this.metrics.daemonSetApplies.inc({ result: 'error' });
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'could not apply the agent DaemonSet');
      throw e;
    }
  }

  /** The --owner-deployment's reference; throws (the pass is retried) when it cannot be read. */
  private async ownerReference(): Promise<Owner | undefined> {
    const name = this.opts.ownerDeployment;
    if (name === undefined || this.owner) return this.owner;
    const { namespace } = this.opts;
    let uid: string | undefined;
    try {
      uid = (await kubeRequest<KubeObject>(this.opts.kc, resourcePath(DEPLOYMENTS, namespace, name))).metadata.uid;
    } catch (e) {
      // The Role grants get on the chart's Deployment name only: a wrong name is refused, not missing.
      const why = isAuthError(e) || hasStatus(e, 404)
        ? `; --owner-deployment must name the Deployment running this controller, and the controller's Role allow get on deployments/${name}`
        : '';
      throw new Error(`cannot read the owner Deployment ${namespace}/${name}: ${e instanceof Error ? e.message : String(e)}${why}`, { cause: e });
    }
    if (!uid) throw new Error(`the owner Deployment ${namespace}/${name} has no uid`);
    this.owner = { apiVersion: apiVersionOf(DEPLOYMENTS), kind: DEPLOYMENTS.kind, name, uid };
    return this.owner;
  }

  /** Validation and summaries from the caches: the status writes needed, and when to look again. */
  private plan(now: number): { writes: StatusWrite[]; stale: StaleEntry[]; recheckAt: number | undefined } {
    const instances = this.instances.list();
    const servers = this.servers.list();
    const verdicts = validate(instances, servers, this.nodes.list(), this.memo);
    this.memo.sweep();
    const leases: AgentLeases = (node) => {
      const l = this.leases.get(this.opts.namespace, agentLeaseName(node));
      const expiresMs = l && leaseExpiresAt(l);
      return l && expiresMs !== undefined ? { renewMs: Date.parse(l.spec?.renewTime ?? ''), expiresMs } : undefined;
    };
    const writes: StatusWrite[] = [];
    // A deleted Node's agent never writes again: its entries would stay forever. A live Lease
    // means an agent still runs there (its Node object may be coming back), so it keeps them.
    const registered = new Set(this.nodes.list().map((n) => n.metadata.name));
    const stale: StaleEntry[] = [];
    const staleEntries = (type: ResourceType, o: InstanceObject | ServerObject): void => {
      for (const { node } of o.status?.nodes ?? []) {
        if (!registered.has(node) && !((leases(node)?.expiresMs ?? 0) > now)) stale.push({ type, object: o, node });
      }
    };
    let recheckAt: number | undefined;
    const later = (t: number | undefined): void => {
      if (t !== undefined) recheckAt = Math.min(recheckAt ?? Infinity, t);
    };
    const masters = new Map<string, string>();
    let splitBrains = 0;
    const counts = { VrrpInstance: [0, 0], VirtualServer: [0, 0] };
    for (const o of instances) {
      staleEntries(VRRP_INSTANCES, o);
      const v = verdicts.instances.get(o.metadata.name);
      if (!v) continue;
      const s = summarizeInstance(o, v, leases, now);
      masters.set(o.metadata.name, s.status.master);
      later(s.recheckAt);
      if (s.status.conditions.some((c) => c.type === 'SplitBrain' && c.status === 'True')) splitBrains++;
      counts.VrrpInstance[v.accepted ? 0 : 1]!++;
      const cur = o.status;
      if (cur?.observedGeneration !== s.status.observedGeneration || cur?.master !== s.status.master
        || cur?.nodeCount !== s.status.nodeCount || !sameConditions(cur?.conditions, s.status.conditions)) {
        writes.push({ type: VRRP_INSTANCES, object: o, status: s.status, before: cur?.conditions });
      }
    }
    for (const o of servers) {
      staleEntries(VIRTUAL_SERVERS, o);
      const v = verdicts.servers.get(objectKey(o.metadata.namespace, o.metadata.name));
      if (!v) continue;
      const ref = v.server?.spec.vrrpInstanceRef;
      const s = summarizeServer(o, v, (ref !== undefined ? masters.get(ref) : undefined) ?? '', leases, now);
      later(s.recheckAt);
      counts.VirtualServer[v.accepted ? 0 : 1]!++;
      const cur = o.status;
      if (cur?.observedGeneration !== s.status.observedGeneration || cur?.master !== s.status.master
        || cur?.ready !== s.status.ready || !sameConditions(cur?.conditions, s.status.conditions)) {
        writes.push({ type: VIRTUAL_SERVERS, object: o, status: s.status, before: cur?.conditions });
      }
    }
    // Forget what was written for objects that are gone.
    const present = new Set([...instances, ...servers].map((o) => `${o.kind ?? ''}/${objectKey(o.metadata.namespace, o.metadata.name)}`));
    for (const key of this.written.keys()) if (!key.startsWith('DaemonSet/') && !present.has(key)) this.written.delete(key);
    this.metrics.splitBrains.set(splitBrains);
    for (const [kind, [yes, no]] of Object.entries(counts)) {
      this.metrics.objects.set({ kind, accepted: 'true' }, yes ?? 0);
      this.metrics.objects.set({ kind, accepted: 'false' }, no ?? 0);
    }
    return { writes, stale, recheckAt };
  }

  /** Drops a gone node's entry, applying as that node's agent: only its field manager owns it. */
  private async removeEntry(e: StaleEntry): Promise<void> {
    const { metadata } = e.object;
    const object = `${e.type.kind}/${objectKey(metadata.namespace, metadata.name)}`;
    try {
      await applyStatus(this.opts.kc, e.type, { namespace: metadata.namespace, name: metadata.name }, withoutOwnEntry(), agentFieldManager(e.node));
    } catch (err) {
      if (hasStatus(err, 404)) return; // deleted meanwhile
      this.log.warn({ err: err instanceof Error ? err.message : String(err), object, node: e.node }, 'could not remove the status entry of a deleted node');
      throw err;
    }
    this.log.info({ object, node: e.node }, 'removed the status entry of a deleted node');
  }

  private async writeStatus(w: StatusWrite): Promise<void> {
    const { metadata } = w.object;
    const key = `${w.type.kind}/${objectKey(metadata.namespace, metadata.name)}`;
    const json = JSON.stringify(w.status);
    const over = metadata.resourceVersion ?? '';
    const last = this.written.get(key);
    if (last && last.over === over && last.json === json) return;
    try {
      await applyStatus(this.opts.kc, w.type, { namespace: metadata.namespace, name: metadata.name }, w.status as unknown as Record<string, unknown>, FIELD_MANAGER);
    } catch (e) {
      if (hasStatus(e, 404)) return; // deleted meanwhile
      this.metrics.statusWrites.inc({ kind: w.type.kind, result: 'error' });
      this.log.warn({ err: e instanceof Error ? e.message : String(e), object: key }, 'could not write status');
      throw e;
    }
    this.written.set(key, { over, json });
    this.metrics.statusWrites.inc({ kind: w.type.kind, result: 'ok' });
    this.log.debug({ object: key, master: w.status.master }, 'status written');
    const regarding: InvolvedObject = {
      apiVersion: apiVersionOf(w.type), kind: w.type.kind, name: metadata.name,
      ...(metadata.namespace ? { namespace: metadata.namespace } : {}), ...(metadata.uid ? { uid: metadata.uid } : {}),
    };
    for (const ev of conditionEvents(w.before, w.status.conditions)) {
      this.log.info({ object: key, reason: ev.reason, note: ev.note }, 'condition changed');
      this.events.record(regarding, ev.type, ev.reason, ev.note, 'Validate');
    }
  }
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
