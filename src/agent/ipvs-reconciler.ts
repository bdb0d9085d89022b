// Keeps the kernel's IPVS tables equal to the VirtualServers this node runs: the kernel's
// tables (dumped, or computed from the last successful run), the pure planner (src/ipvs), one
// batched apply, and only ever on services the agent owns.
// Runs are serialized and coalesced: whatever arrives during a run (a config change, a health
// change) causes exactly one more run after it.
import type { RealServer, VirtualServer } from '../api/virtual-server.ts';
import { desiredState, ownerOf, stateFromDump, realServerId } from '../ipvs/desired.ts';
import { serviceKeyString } from '../ipvs/keys.ts';
import type { VirtualServerState } from '../ipvs/desired.ts';
import { diff } from '../ipvs/plan.ts';
import { applyToDump } from '../ipvs/model.ts';
import type { DumpedService, IpvsOperation, ServiceKey } from '../ipvs/types.ts';
import type { CheckResult } from '../health/index.ts';
import type { Logger } from '../log.ts';
import type { OwnershipFile } from './ownership.ts';
import { RealServerChecks } from './real-server-checks.ts';

/** The kernel side; the native Ipvs class in production. */
export interface IpvsPort {
  dump(): Promise<DumpedService[]>;
  apply(ops: readonly IpvsOperation[]): Promise<({ ok: true } | { ok: false; error: Error })[]>;
}

export interface IpvsObserver {
  realServer(owner: string, server: RealServer, result: CheckResult, changed: boolean, up: boolean): void;
  /**
   * After each run: `status` of the VirtualServers that were planned, `planned` their owners
   * ('all' when every VirtualServer was), so observers update only what changed.
   */
  reconciled(ms: number, ops: number, failed: number, status: VirtualServerState[], planned: string[] | 'all', services: number, destinations: number): void;
  /**
   * After every run, failed ones too: for each VirtualServer the run was about (by owner),
   * undefined when the kernel now holds its service as planned, else why not. `ok` is false
   * when the run failed (IPVS unavailable, a dump or an operation refused); it is retried.
   */
  programmed(state: ReadonlyMap<string, string | undefined>, ok: boolean): void;
}

export interface IpvsReconcilerOptions {
  /** Opened on the first run that has something to do, so a node without VirtualServers never needs IPVS. */
  open: () => IpvsPort;
  ownership: OwnershipFile;
  log: Logger;
  observer: IpvsObserver;
}

const RETRY_MS = [500, 1000, 2000, 5000, 10_000];
/** A full dump at least this often, to notice what others changed behind our back. */
const RESYNC_MS = 30_000;
/** While real servers drain, look at their connection counts this often. */
const DRAIN_POLL_MS = 2000;

export class IpvsReconciler {
  private readonly opts: IpvsReconcilerOptions;
  private readonly checks: RealServerChecks;
  private port: IpvsPort | undefined;
  private virtualServers: readonly VirtualServer[] = [];
  private owned: Set<string>;
  private drains = new Map<string, number>();
  private quorum = new Map<string, boolean>();
  private recovered = false;
  /** The kernel's tables as of the last successful run, when they can be trusted without a dump. */
  private believed: Map<string, DumpedService> | undefined;
  private dumpedAt = 0;
  /** VirtualServers (by owner) whose service must be planned again; 'all' after a dump. */
  private dirty: Set<string> | 'all' = 'all';
  /** Each VirtualServer's spec as last planned, and the key of its service. */
  private planned = new Map<string, { spec: string; key: string }>();
  private status = new Map<string, VirtualServerState>();
  private running: Promise<void> | undefined;
  private again = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(opts: IpvsReconcilerOptions) {
    this.opts = opts;
    this.owned = opts.ownership.read();
    this.checks = new RealServerChecks((owner, server, result, changed, up) => {
      opts.observer.realServer(owner, server, result, changed, up);
      if (!changed) return;
      opts.log.info({ virtualServer: owner, realServer: `${server.address}:${server.port}`, up, detail: result.detail },
        `real server ${server.address}:${server.port} of ${owner} ${up ? 'up' : 'down'}`);
      this.markDirty([owner]);
      this.kick();
    });
  }

  setVirtualServers(virtualServers: readonly VirtualServer[]): void {
    this.virtualServers = virtualServers;
    const now = new Map(virtualServers.map((vs) => [ownerOf(vs), JSON.stringify(vs.spec)]));
    const changed = [...now].filter(([owner, spec]) => this.planned.get(owner)?.spec !== spec).map(([owner]) => owner);
    const removed = [...this.planned.keys()].filter((owner) => !now.has(owner));
    this.markDirty([...changed, ...removed]);
    // Before the first dump the checks wait: their starting state comes from the kernel.
    if (this.recovered) this.checks.apply(virtualServers, () => undefined);
    this.kick();
  }

  /** Resolves when the kernel matches the current VirtualServers (or the run failed). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.checks.stop();
  }

  private markDirty(owners: string[]): void {
    if (this.dirty !== 'all') for (const o of owners) this.dirty.add(o);
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), ms);
  }

  private async run(): Promise<void> {
    if (!this.port && this.virtualServers.length === 0 && this.owned.size === 0) return;
    const started = performance.now();
    try {
      this.port ??= this.opts.open();
      const fresh = this.believed === undefined || this.drains.size > 0 || performance.now() - this.dumpedAt > RESYNC_MS;
      const kernel = fresh ? byKey(await this.port.dump()) : this.believed ?? new Map<string, DumpedService>();
      if (fresh) {
        this.dumpedAt = performance.now();
        this.dirty = 'all';
      }
      this.believed = undefined;
      if (!this.recovered) this.recover([...kernel.values()]);
      // Plan only the VirtualServers that changed (config or health) against their services,
      // unless the tables were just dumped: then everything is compared.
      const dirty = this.dirty;
      this.dirty = new Set();
      const scope = dirty === 'all' ? undefined : this.scopeOf(dirty);
      const virtualServers = dirty === 'all' ? this.virtualServers : this.virtualServers.filter((vs) => dirty.has(ownerOf(vs)));
      const dump = scope ? [...scope].flatMap((k) => kernel.get(k) ?? []) : [...kernel.values()];
      const owned = scope ? new Set([...this.owned].filter((k) => scope.has(k))) : this.owned;
      const desired = desiredState({
        virtualServers,
        health: (owner, server) => this.checks.isUp(owner, server),
        quorum: this.quorum,
      });
      for (const c of desired.conflicts) this.opts.log.error(c, `VirtualServer ${c.owner} names the service ${c.key} of ${c.with}; ignored`);
      const plan = diff(desired.services, dump, owned, { drains: this.drains, now: performance.now() });
      for (const key of plan.adopted) this.opts.log.warn({ service: key }, `taking over IPVS service ${key}, which existed without being ours`);
      const ownedAfter = scope ? new Set([...[...this.owned].filter((k) => !scope.has(k)), ...plan.owned]) : plan.owned;
      let failed = 0;
      const programmed = new Map<string, string | undefined>(virtualServers.map((vs) => [ownerOf(vs), undefined]));
      for (const c of desired.conflicts) programmed.set(c.owner, `its service ${c.key} is already VirtualServer ${c.with}'s`);
      if (plan.ops.length > 0) {
        // Own the union while the plan runs: a crash midway must not leave ours looking foreign.
        this.opts.ownership.write(new Set([...this.owned, ...ownedAfter]));
        const results = await this.port.apply(plan.ops);
        const owners = new Map(desired.services.map((d) => [serviceKeyString(d.service.key), d.owner]));
        results.forEach((r, i) => {
          if (r.ok) return;
          failed++;
          this.opts.log.error({ err: r.error.message }, 'IPVS operation failed');
          const op = plan.ops[i];
          const owner = op && owners.get(serviceKeyString(serviceOf(op)));
          // The first failure of a service says why; the ones after it usually follow from it.
          if (owner !== undefined && programmed.get(owner) === undefined) programmed.set(owner, r.error.message);
        });
      }
      this.record(dirty, virtualServers, desired.status, desired.quorum);
      if (failed === 0) {
        if (!sameSet(this.owned, ownedAfter)) this.opts.ownership.write(ownedAfter);
        this.owned = ownedAfter;
        this.drains = plan.drains;
        this.failures = 0;
        const applied = applyToDump(dump, plan.ops);
        if (scope) {
          for (const k of scope) kernel.delete(k);
          for (const d of applied) kernel.set(serviceKeyString(d.key), d);
          this.believed = kernel;
        } else {
          this.believed = byKey(applied);
        }
      }
      // The kernel reflects the change from here on; what follows is bookkeeping.
      const ms = performance.now() - started;
      let destinations = 0;
      for (const k of this.owned) destinations += this.believed?.get(k)?.destinations.length ?? 0;
      this.opts.observer.reconciled(ms, plan.ops.length, failed, dirty === 'all' ? [...this.status.values()] : desired.status,
        dirty === 'all' ? 'all' : [...dirty], this.owned.size, destinations);
      this.opts.observer.programmed(programmed, failed === 0);
      if (failed > 0) this.retry();
      else if (plan.drains.size > 0) this.schedule(Math.min(DRAIN_POLL_MS, Math.max(0, (plan.nextDeadline ?? Infinity) - performance.now())));
      else this.schedule(RESYNC_MS);
    } catch (e) {
      this.dirty = 'all';
      const err = e instanceof Error ? e.message : String(e);
      this.opts.log.error({ err }, 'IPVS reconcile failed; VRRP is not affected');
      this.opts.observer.programmed(new Map(this.virtualServers.map((vs) => [ownerOf(vs), err])), false);
      this.retry();
    }
  }

  /** The service keys that dirty VirtualServers had when last planned, and have now. */
  private scopeOf(dirty: ReadonlySet<string>): Set<string> {
    const keys = new Set<string>();
    for (const owner of dirty) {
      const before = this.planned.get(owner);
      if (before) keys.add(before.key);
    }
    for (const vs of this.virtualServers) if (dirty.has(ownerOf(vs))) keys.add(serviceKeyString(vs.spec.key));
    return keys;
  }

  /** Remembers what was planned, per VirtualServer, for the next incremental run. */
  private record(dirty: ReadonlySet<string> | 'all', planned: readonly VirtualServer[], status: VirtualServerState[], quorum: ReadonlyMap<string, boolean>): void {
    if (dirty === 'all') {
      this.planned.clear();
      this.status.clear();
      this.quorum = new Map();
    } else {
      for (const owner of dirty) {
        this.planned.delete(owner);
        this.status.delete(owner);
        this.quorum.delete(owner);
      }
    }
    for (const vs of planned) this.planned.set(ownerOf(vs), { spec: JSON.stringify(vs.spec), key: serviceKeyString(vs.spec.key) });
    for (const st of status) this.status.set(st.owner, st);
    for (const [owner, q] of quorum) this.quorum.set(owner, q);
  }

  private retry(): void {
    const ms = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)] ?? 10_000;
    this.failures++;
    this.schedule(ms);
  }

  /** First dump after start: real servers and quorum start as the kernel shows them, so a restart changes nothing. */
  private recover(dump: readonly DumpedService[]): void {
    const state = stateFromDump(this.virtualServers, dump);
    this.quorum = state.quorum;
    this.checks.apply(this.virtualServers, (owner, server) => state.health.get(realServerId(owner, server)));
    this.recovered = true;
    const ours = this.virtualServers.map(ownerOf);
    this.opts.log.info({ virtualServers: ours.length, owned: this.owned.size }, 'IPVS state recovered from the kernel');
  }
}

/** The service an operation is about. */
function serviceOf(op: IpvsOperation): ServiceKey {
  switch (op.op) {
    case 'addService':
    case 'editService':
      return op.service.key;
    case 'deleteService':
      return op.key;
    default:
      return op.service;
  }
}

function byKey(services: readonly DumpedService[]): Map<string, DumpedService> {
  return new Map(services.map((d) => [serviceKeyString(d.key), d]));
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
