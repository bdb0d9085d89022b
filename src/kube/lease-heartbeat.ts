// The agent's liveness Lease, kubelived-agent-<node>: renewed every 10 s with a 40 s duration
// (the kubelet's node-lease numbers). The controller counts a node's status entries only while
// its Lease is fresh, so a crashed agent's last MASTER claim stops counting.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from './kubeconfig.ts';
import type { Logger } from '../log.ts';
import { hasStatus, kubeRequest } from './client.ts';
import type { Lease } from './leader.ts';
import { LEASES, apiVersionOf, microTime, resourcePath } from './resources.ts';

export const AGENT_LEASE_RENEW_MS = 10_000;
export const AGENT_LEASE_DURATION_S = 40;

export function agentLeaseName(node: string): string {
  return `kubelived-agent-${node}`;
}

export function agentFieldManager(node: string): string {
  return `kubelived-agent/${node}`;
}

/** When the Lease stops counting (epoch ms), or undefined when it has never been renewed. */
export function leaseExpiresAt(lease: Lease): number | undefined {
  const renew = lease.spec?.renewTime ? Date.parse(lease.spec.renewTime) : NaN;
  const duration = lease.spec?.leaseDurationSeconds;
  if (!Number.isFinite(renew) || duration === undefined) return undefined;
  return renew + duration * 1000;
}

export interface LeaseHeartbeatOptions {
  namespace: string;
  node: string;
  log: Logger;
  renewMs?: number;
  durationS?: number;
}

/** Renews the node's Lease every renewMs (the first renewal creates it) until stopped. */
export class LeaseHeartbeat {
  private readonly kc: KubeConfig;
  private readonly opts: LeaseHeartbeatOptions;
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;
  private lease: Lease | undefined;
  /** Epoch ms of the last successful renewal (0: none yet). */
  lastRenewMs = 0;

  constructor(kc: KubeConfig, opts: LeaseHeartbeatOptions) {
    this.kc = kc;
    this.opts = opts;
  }

  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.running;
    this.running = undefined;
  }

  /** Renews once (creating the Lease if it is missing); throws on failure. */
  async renew(): Promise<void> {
    const { namespace, node } = this.opts;
    const now = Date.now();
    const spec = { holderIdentity: node, leaseDurationSeconds: this.opts.durationS ?? AGENT_LEASE_DURATION_S, renewTime: microTime(now) };
    const query = { fieldManager: agentFieldManager(node) };
    const path = resourcePath(LEASES, namespace, agentLeaseName(node));
    // Get, create and update only (no patch): the Role grants exactly these. The Lease we wrote
    // last carries the resourceVersion for the next update; a conflict or a deleted Lease
    // makes us read it again.
    for (let attempt = 0; ; attempt++) {
      try {
        if (!this.lease) {
          try {
            this.lease = await kubeRequest<Lease>(this.kc, path);
          } catch (e) {
            if (!hasStatus(e, 404)) throw e;
            this.lease = await kubeRequest<Lease>(this.kc, resourcePath(LEASES, namespace), {
              method: 'POST', query,
              body: { apiVersion: apiVersionOf(LEASES), kind: 'Lease', metadata: { name: agentLeaseName(node), namespace }, spec },
            });
            break;
          }
        }
        this.lease = await kubeRequest<Lease>(this.kc, path, { method: 'PUT', query, body: { ...this.lease, spec: { ...this.lease.spec, ...spec } } });
        break;
      } catch (e) {
        this.lease = undefined;
        if (attempt > 0 || !(hasStatus(e, 409) || hasStatus(e, 404))) throw e;
      }
    }
    this.lastRenewMs = now;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const every = this.opts.renewMs ?? AGENT_LEASE_RENEW_MS;
    let failing = false;
    while (!signal.aborted) {
      try {
        await this.renew();
        if (failing) this.opts.log.info('liveness lease renewed again');
        failing = false;
      } catch (e) {
        if (signal.aborted) break;
        // Logged once per outage: the agent keeps running from its last config meanwhile.
        if (!failing) this.opts.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'could not renew the liveness lease; retrying');
        failing = true;
      }
      try {
        await sleep(failing ? Math.min(every, 2000) : every, undefined, { signal });
      } catch {
        break;
      }
    }
  }
}
