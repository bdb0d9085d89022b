// A tiny pure model of the kernel's IPVS tables for the planner's tests: applies operations to a
// dump the way net/netfilter/ipvs/ip_vs_ctl.c would, and fails where the kernel would (EEXIST,
// ESRCH, ENOENT, ERANGE, EINVAL). In strict mode it also fails on edits that change nothing, so
// a test can prove that a plan never rewrites an unchanged object.
import { IP_VS_SVC_F_HASHED, IP_VS_SVC_F_PERSISTENT } from '../../../src/ipvs/flags.ts';
import { destinationKeyString, serviceKeyString } from '../../../src/ipvs/keys.ts';
import { sameDestinationConfig, sameServiceConfig } from '../../../src/ipvs/plan.ts';
import type { DumpedService, IpvsDestination, IpvsOperation, IpvsService } from '../../../src/ipvs/types.ts';

export const KERNEL_SCHEDULERS = new Set(['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos']);

export class KernelError extends Error {
  readonly code: string;
  constructor(code: string, what: string) {
    super(`${code}: ${what}`);
    this.code = code;
  }
}

export function cloneDump(dump: readonly DumpedService[]): DumpedService[] {
  return dump.map((s) => ({ ...s, key: { ...s.key }, destinations: s.destinations.map((d) => ({ ...d })) }));
}

function checkService(s: IpvsService): void {
  const what = serviceKeyString(s.key);
  if (!KERNEL_SCHEDULERS.has(s.scheduler)) throw new KernelError('ENOENT', `scheduler ${s.scheduler} of ${what}`);
  if ((s.flags & IP_VS_SVC_F_PERSISTENT) !== 0) {
    const max = s.key.family === 4 ? 32 : 128;
    if (s.netmask < 1 || s.netmask > max) throw new KernelError('EINVAL', `netmask ${s.netmask} of ${what}`);
  }
}

function checkDestination(svc: IpvsService, d: IpvsDestination): void {
  const what = `${destinationKeyString(d)} of ${serviceKeyString(svc.key)}`;
  if (d.family !== svc.key.family && d.forwarding !== 'TUN') throw new KernelError('EINVAL', `mixed families without tunnelling: ${what}`);
  if (d.weight < 0) throw new KernelError('ERANGE', `weight of ${what}`);
  if (d.lowerThreshold > d.upperThreshold) throw new KernelError('ERANGE', `thresholds of ${what}`);
}

/** Applies `ops` in order to a copy of `dump`; throws KernelError at the first failing one. */
export function applyOps(dump: readonly DumpedService[], ops: readonly IpvsOperation[], strict = true): DumpedService[] {
  const state = cloneDump(dump);
  const find = (key: IpvsService['key']): DumpedService | undefined => {
    const k = serviceKeyString(key);
    return state.find((s) => serviceKeyString(s.key) === k);
  };
  const need = (key: IpvsService['key']): DumpedService => {
    const s = find(key);
    if (!s) throw new KernelError('ESRCH', `no service ${serviceKeyString(key)}`);
    return s;
  };
  for (const op of ops) {
    switch (op.op) {
      case 'addService': {
        if (find(op.service.key)) throw new KernelError('EEXIST', serviceKeyString(op.service.key));
        checkService(op.service);
        const { key, scheduler, flags, timeout, netmask } = op.service;
        state.push({ key: { ...key }, scheduler, flags: flags | IP_VS_SVC_F_HASHED, timeout, netmask, destinations: [] });
        break;
      }
      case 'editService': {
        const s = need(op.service.key);
        checkService(op.service);
        if (strict && sameServiceConfig(s, op.service)) throw new KernelError('NOOP', `edit of unchanged ${serviceKeyString(s.key)}`);
        s.scheduler = op.service.scheduler;
        s.flags = op.service.flags | IP_VS_SVC_F_HASHED;
        s.timeout = op.service.timeout;
        s.netmask = op.service.netmask;
        break;
      }
      case 'deleteService': {
        const s = need(op.key);
        state.splice(state.indexOf(s), 1);
        break;
      }
      case 'addDestination': {
        const s = need(op.service);
        const k = destinationKeyString(op.destination);
        if (s.destinations.some((d) => destinationKeyString(d) === k)) throw new KernelError('EEXIST', `${k} in ${serviceKeyString(s.key)}`);
        checkDestination(s, op.destination);
        s.destinations.push({ ...op.destination, activeConns: 0, inactiveConns: 0, persistConns: 0 });
        break;
      }
      case 'editDestination': {
        const s = need(op.service);
        const k = destinationKeyString(op.destination);
        const d = s.destinations.find((x) => destinationKeyString(x) === k);
        if (!d) throw new KernelError('ENOENT', `${k} in ${serviceKeyString(s.key)}`);
        checkDestination(s, op.destination);
        if (strict && sameDestinationConfig(d, op.destination)) throw new KernelError('NOOP', `edit of unchanged ${k} in ${serviceKeyString(s.key)}`);
        d.weight = op.destination.weight;
        d.forwarding = op.destination.forwarding;
        d.upperThreshold = op.destination.upperThreshold;
        d.lowerThreshold = op.destination.lowerThreshold;
        break;
      }
      case 'deleteDestination': {
        const s = need(op.service);
        const k = destinationKeyString(op.destination);
        const i = s.destinations.findIndex((x) => destinationKeyString(x) === k);
        if (i < 0) throw new KernelError('ENOENT', `${k} in ${serviceKeyString(s.key)}`);
        s.destinations.splice(i, 1);
        break;
      }
    }
  }
  return state;
}

/** The service key an operation touches. */
export function opServiceKey(op: IpvsOperation): string {
  switch (op.op) {
    case 'addService':
    case 'editService':
      return serviceKeyString(op.service.key);
    case 'deleteService':
      return serviceKeyString(op.key);
    default:
      return serviceKeyString(op.service);
  }
}
