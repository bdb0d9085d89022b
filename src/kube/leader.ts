// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a candidate takes
// the Lease only when its holder has not renewed it for a whole lease duration as measured on
// the candidate's own clock (so clock skew between nodes cannot cause two leaders), updates
// are optimistic (resourceVersion) so two candidates cannot both win, and a leader that cannot
// renew within the renew deadline steps down. On a graceful stop the leader releases the Lease
// so a standby takes over at its next retry instead of after a lease duration.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from './kubeconfig.ts';
import type { Logger } from '../log.ts';
import { hasStatus, kubeRequest } from './client.ts';
import { LEASES, apiVersionOf, microTime, resourcePath } from './resources.ts';
import type { ObjectMeta } from './resources.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** Unique per process: host name plus something random. */
  identity: string;
  /** How long a Lease holds without renewal (client-go default 15 s). */
  leaseDurationMs: number;
  /** A leader that has not renewed for this long steps down (default 10 s); < leaseDurationMs. */
  renewDeadlineMs: number;
  /** Time between attempts to acquire or renew (default 2 s); < renewDeadlineMs. */
  retryPeriodMs: number;
  log: Logger;
  onStartedLeading: () => void;
  /** Called when leadership ends: lost, or released by stop(). */
  onStoppedLeading: () => void;
}

export class LeaderElector {
  private readonly kc: KubeConfig;
  private readonly opts: LeaderElectionOptions;
  private readonly path: string;
  private leading = false;
  private lastRenewMs = 0;
  /** The holder/renewTime we last saw, and when (our clock) we saw it change. */
  private observed = '';
  private observedAtMs = 0;
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;

  constructor(kc: KubeConfig, opts: LeaderElectionOptions) {
    if (!(opts.retryPeriodMs > 0 && opts.retryPeriodMs < opts.renewDeadlineMs && opts.renewDeadlineMs < opts.leaseDurationMs)) {
      throw new Error(`leader election needs retry period < renew deadline < lease duration, got ${opts.retryPeriodMs}ms, ${opts.renewDeadlineMs}ms, ${opts.leaseDurationMs}ms`);
    }
    this.kc = kc;
    this.opts = opts;
    this.path = resourcePath(LEASES, opts.namespace, opts.name);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.run(this.abort.signal);
  }

  /** Stops campaigning; a leader releases the Lease and calls onStoppedLeading. */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.running;
    this.running = undefined;
    if (!this.leading) return;
    this.leading = false;
    try {
      await this.release();
      this.opts.log.info({ lease: this.opts.name }, 'released the leader lease');
    } catch (e) {
      this.opts.log.warn({ err: errText(e) }, 'could not release the leader lease; the standby takes over when it expires');
    }
    this.opts.onStoppedLeading();
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { log, retryPeriodMs, renewDeadlineMs } = this.opts;
    let lastError = '';
    while (!signal.aborted) {
      let ok = false;
      try {
        // A renewal stuck past the deadline is as good as failed.
        const deadline = this.leading ? Math.max(1, this.lastRenewMs + renewDeadlineMs - Date.now()) : renewDeadlineMs;
        ok = await this.tryAcquireOrRenew(AbortSignal.any([signal, AbortSignal.timeout(deadline)]));
        lastError = '';
      } catch (e) {
        if (signal.aborted) break;
        const text = errText(e);
        if (text !== lastError) log.warn({ err: text, lease: this.opts.name }, 'leader election: could not read or update the lease');
        lastError = text;
      }
      if (ok) {
        this.lastRenewMs = Date.now();
        if (!this.leading) {
          this.leading = true;
          log.info({ lease: this.opts.name }, 'became the leader');
          this.opts.onStartedLeading();
        }
      } else if (this.leading && Date.now() - this.lastRenewMs >= renewDeadlineMs) {
        this.leading = false;
        log.error({ lease: this.opts.name, renewDeadlineMs }, 'lost the leader lease: could not renew it in time');
        this.opts.onStoppedLeading();
      }
      try {
        // client-go waits a little longer as a candidate, so renewals win ties.
        await sleep(this.leading ? retryPeriodMs : retryPeriodMs * (1 + Math.random() * 0.2), undefined, { signal });
      } catch {
        break;
      }
    }
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const { identity } = this.opts;
    const now = Date.now();
    const durationS = Math.ceil(this.opts.leaseDurationMs / 1000);
    let lease: Lease;
    try {
      lease = await kubeRequest<Lease>(this.kc, this.path, { signal });
    } catch (e) {
      if (!hasStatus(e, 404)) throw e;
      try {
        await kubeRequest(this.kc, resourcePath(LEASES, this.opts.namespace), {
          method: 'POST', signal,
          body: {
            apiVersion: apiVersionOf(LEASES), kind: 'Lease',
            metadata: { name: this.opts.name, namespace: this.opts.namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: durationS, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
          },
        });
        return true;
      } catch (err) {
        if (hasStatus(err, 409)) return false; // another candidate created it first
        throw err;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const seen = JSON.stringify([holder, spec.renewTime, spec.leaseDurationSeconds]);
    if (seen !== this.observed) {
      this.observed = seen;
      this.observedAtMs = now;
    }
    const heldByOther = holder !== '' && holder !== identity;
    if (heldByOther && this.observedAtMs + (spec.leaseDurationSeconds ?? durationS) * 1000 > now) return false;
    const mine = holder === identity;
    const next: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds: durationS,
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    try {
      await kubeRequest(this.kc, this.path, { method: 'PUT', signal, body: { ...lease, spec: next } });
    } catch (e) {
      if (hasStatus(e, 409)) return false; // someone else wrote it between our read and write
      throw e;
    }
    if (heldByOther) this.opts.log.info({ previous: holder }, 'took over the leader lease');
    return true;
  }

  /** client-go's release: no holder, and a one-second duration so nobody waits for it. */
  private async release(): Promise<void> {
    const lease = await kubeRequest<Lease>(this.kc, this.path, { signal: AbortSignal.timeout(5000) });
    if (lease.spec?.holderIdentity !== this.opts.identity) return;
    const now = microTime(Date.now());
    await kubeRequest(this.kc, this.path, {
      method: 'PUT', signal: AbortSignal.timeout(5000),
      body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } },
    });
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
