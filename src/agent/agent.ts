// The agent's main thread: reads the desired resources, keeps the tracked checks running,
// hands per-node plans to the VRRP thread and reports what it does (logs, metrics).
import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Server } from 'node:http';
import type { ResourceSet } from '../api/documents.ts';
import type { RealServer, VirtualServer } from '../api/virtual-server.ts';
import { ConfigError } from '../api/issues.ts';
import type { Logger } from '../log.ts';
import type { ConfigSource } from './config-source.ts';
import { plansForNode } from './desired.ts';
import type { NodeIdentity } from './desired.ts';
import { AgentMetrics } from './metrics.ts';
import type { FromVrrpThread, InstancePlan, InstanceSnapshot, ToVrrpThread, TransitionMessage } from './messages.ts';
import { serveHttp } from './http.ts';
import { TrackRunner } from './tracks.ts';
import { IpvsReconciler } from './ipvs-reconciler.ts';
import type { IpvsPort } from './ipvs-reconciler.ts';
import { OwnershipFile } from './ownership.ts';
import { MAX_HAND_OVER_MS } from './messages.ts';

/** Where a reporting agent (Kubernetes mode) sends what its node does; see kube-status.ts. */
export interface StatusSink {
  /** After each applied config: the instances and VirtualServers this node runs. */
  running(plans: readonly InstancePlan[], virtualServers: readonly VirtualServer[]): void;
  transition(t: TransitionMessage): void;
  snapshot(instances: readonly InstanceSnapshot[]): void;
  /** Every health check result of a real server. */
  realServer(owner: string, server: RealServer, up: boolean): void;
  /** After each IPVS run: per VirtualServer (owner), undefined when its service is programmed, else why not. */
  programmed(state: ReadonlyMap<string, string | undefined>): void;
}

export interface AgentOptions {
  node: NodeIdentity;
  source: ConfigSource;
  metricsAddr: string | undefined;
  log: Logger;
  /** Where the agent keeps what must survive a restart (which IPVS services it owns). */
  stateDir: string;
  /** The kernel's IPVS; opened only once there is something to program. */
  openIpvs: () => IpvsPort;
  status?: StatusSink;
}

// Masters hand over for at most MAX_HAND_OVER_MS (all instances at once); then some slack.
const SHUTDOWN_TIMEOUT_MS = MAX_HAND_OVER_MS + 3000;

export class Agent {
  private readonly opts: AgentOptions;
  private readonly metrics = new AgentMetrics();
  private vrrp: Worker | undefined;
  private readonly tracks: TrackRunner;
  private readonly ipvs: IpvsReconciler;
  private configured = false;
  private server: Server | undefined;
  private stopping: Promise<void> | undefined;

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.tracks = new TrackRunner((instance, track, result, changed, up) => {
      this.metrics.check(instance, track, up, result.durationMs);
      if (!changed) return;
      opts.log.info({ instance, track, up, detail: result.detail }, `track ${track} ${up ? 'up' : 'down'}`);
      this.send({ type: 'track', instance, track, up });
    });
    this.ipvs = new IpvsReconciler({
      open: opts.openIpvs,
      ownership: new OwnershipFile(opts.stateDir),
      log: opts.log,
      observer: {
        realServer: (owner, server, result, changed, up) => {
          this.metrics.realServer(owner, server, changed, up, result);
          opts.status?.realServer(owner, server, up);
        },
        reconciled: (ms, ops, failed, status, planned, services, destinations) => {
          this.metrics.reconciled(ms, ops, failed, status, planned, services, destinations);
          for (const st of status) this.tracks.virtualServerQuorum(st.owner, st.quorumUp);
          if (ops > 0) opts.log.info({ ops, failed, ms: Math.round(ms * 10) / 10 }, 'IPVS reconciled');
        },
        programmed: (state, ok) => {
          if (!ok) this.metrics.reconcileFailed();
          opts.status?.programmed(state);
        },
      },
    });
  }

  /**
   * Serves /healthz at once (the process is alive: a liveness probe must not kill an agent that
   * waits for an unreachable API server), then loads the config (throws ConfigError if invalid)
   * and starts everything; /readyz answers 200 once the VRRP thread has applied it.
   */
  async start(): Promise<void> {
    if (this.opts.metricsAddr) {
      this.server = await serveHttp(this.opts.metricsAddr, this.metrics.registry, () => this.configured);
    }
    let set: ResourceSet;
    try {
      set = await this.opts.source.load();
    } catch (e) {
      this.server?.close();
      throw e;
    }
    // The thread's module sits beside this one: dist/*.js in production, src/*.ts under tests.
    this.vrrp = new Worker(new URL(`./vrrp-thread${extname(import.meta.url)}`, import.meta.url), { name: 'vrrp' });
    this.vrrp.on('message', (m: FromVrrpThread) => this.onVrrpMessage(m));
    this.vrrp.on('error', (e) => {
      // Without the VRRP thread this node cannot take part: exit so the supervisor restarts us.
      this.opts.log.fatal({ err: e }, 'VRRP thread crashed');
      process.exit(70);
    });
    this.apply(set);
    this.opts.source.watch(
      (next) => {
        this.opts.log.info({ vrrpInstances: next.vrrpInstances.length }, 'configuration changed');
        this.apply(next);
      },
      (e) => this.opts.log.error({ err: e instanceof ConfigError ? e.message : String(e) }, 'configuration rejected; keeping the running one'),
    );
  }

  reload(): void {
    this.opts.source.reload();
  }

  /** SIGTERM: masters send priority 0 and remove their VIPs, then the process may exit. */
  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      // First tell the VRRP thread: the backup's takeover clock starts with our priority-0
      // advert, so nothing else may run before it.
      this.send({ type: 'shutdown' });
      this.opts.source.close();
      this.tracks.stop();
      // IPVS rules stay: a restarting agent adopts them, and a backup's rules must be ready.
      this.ipvs.stop();
      this.server?.close();
      if (!this.vrrp) return resolve();
      const timer = setTimeout(() => {
        this.opts.log.error('VRRP thread did not stop in time');
        resolve();
      }, SHUTDOWN_TIMEOUT_MS);
      this.vrrp.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.stopping;
  }

  private apply(set: ResourceSet): void {
    const node = { name: this.opts.node.name, labels: this.opts.source.nodeLabels?.() ?? this.opts.node.labels };
    let plans;
    try {
      plans = plansForNode(set, node, (i, t) => this.tracks.isUp(i, t));
    } catch (e) {
      this.opts.log.error({ err: String(e) }, 'configuration rejected; keeping the running one');
      return;
    }
    const mine = set.vrrpInstances.filter((i) => plans.some((p) => p.name === i.name));
    for (const r of this.tracks.apply(mine)) this.metrics.forgetTrack(r.instance, r.track);
    // A check that apply() restarted (its command changed) starts up again and reports only a
    // change from there: the plans must carry that, not the old check's last result.
    for (const p of plans) for (const t of p.tracks) t.up = this.tracks.isUp(p.name, t.name);
    this.send({ type: 'configure', plans });
    // Every node of a VirtualServer's instance programs it, backups too (as keepalived does),
    // so a takeover only has to move the VIP.
    const names = new Set(plans.map((p) => p.name));
    const virtualServers = set.virtualServers.filter((vs) => names.has(vs.spec.vrrpInstanceRef));
    this.ipvs.setVirtualServers(virtualServers);
    this.metrics.running(virtualServers);
    this.opts.status?.running(plans, virtualServers);
  }

  private send(m: ToVrrpThread): void {
    this.vrrp?.postMessage(m);
  }

  private onVrrpMessage(m: FromVrrpThread): void {
    const log = this.opts.log;
    switch (m.type) {
      case 'transition':
        this.metrics.transition(m.instance, m.to, m.failoverMs);
        log.info({ instance: m.instance, from: m.from, to: m.to, reason: m.reason, masterIP: m.masterIP, failoverMs: m.failoverMs },
          `${m.instance}: ${m.from} -> ${m.to} (${m.reason})`);
        this.opts.status?.transition(m);
        break;
      case 'snapshot':
        this.metrics.snapshot(m.instances, m.timerLatenessMs, m.unknownVridDrops);
        this.opts.status?.snapshot(m.instances);
        break;
      case 'log':
        log[m.level](m.fields, m.msg);
        break;
      case 'configured':
        this.configured = true;
        log.info('configuration applied');
        break;
      case 'stopped':
        break;
    }
  }
}
