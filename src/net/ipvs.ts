// The kernel's IPVS tables through the native addon (generic netlink, native/src/ipvs*.cc).
import type { IpvsOperation } from '../ipvs/types.ts';
import type { NetError } from './errors.ts';
import {
  native,
  nativePath,
  type IpvsInfo,
  type IpvsServiceDump,
  type IpvsTimeouts,
  type NativeIpvs,
} from './native.ts';

export type { IpvsDestinationDump, IpvsInfo, IpvsServiceDump, IpvsStats, IpvsTimeouts } from './native.ts';

/** The outcome of one operation of a plan. */
export type IpvsResult = { ok: true } | { ok: false; error: NetError };

/**
 * IPVS virtual services and real servers of the current network namespace.
 *
 * - Every method returns a Promise. Kernel errors are NetErrors; bad arguments are TypeErrors
 *   (code ERR_INVALID_ARG_VALUE) thrown before anything is sent.
 * - When the kernel has no IPVS (the ip_vs module is not loaded), every method rejects with
 *   errno ENOENT and the message "IPVS is not available in this kernel (modprobe ip_vs)"; the
 *   next call looks again.
 * - Calls are carried out in the order they are made.
 * - There is deliberately no flush: kubelived removes only what it owns, one object at a time.
 */
export class Ipvs {
  readonly #ipvs: NativeIpvs;

  constructor() {
    if (typeof native.Ipvs !== 'function') {
      throw new Error(`the native addon ${nativePath} has no IPVS support: rebuild it (npm rebuild)`);
    }
    this.#ipvs = new native.Ipvs();
  }

  /**
   * Sends a whole plan without waiting for each answer (pipelined on one socket, every request
   * acknowledged and matched by sequence number) and returns one result per operation, in
   * order. Each operation stands on its own: one that fails does not stop the ones after it
   * (those that depend on it then fail too, e.g. destinations of a service that could not be
   * added get ESRCH), so one bad object cannot block the rest. After a failure, dump() to see
   * what the kernel holds. Errors name the object:
   *   "IPVS_CMD_NEW_DEST TCP 10.0.0.1:80 -> 198.18.1.2:8080: File exists (destination exists)".
   * Kernel answers worth knowing: NEW on an existing object EEXIST; a missing service ESRCH; a
   * missing destination or scheduler ENOENT; no CAP_NET_ADMIN EPERM.
   * Rejects (instead of resolving) only when nothing could be sent: IPVS unavailable, or
   * closed; then no operation was carried out.
   */
  async apply(ops: readonly IpvsOperation[]): Promise<IpvsResult[]> {
    const errors = await this.#ipvs.apply(ops);
    return errors.map((error): IpvsResult => (error ? { ok: false, error } : { ok: true }));
  }

  /**
   * Every virtual service with its real servers and counters. Not one atomic snapshot: the
   * kernel lists destinations per service, so a service changed by someone else while the dump
   * runs may show its state from just before or just after the change.
   */
  async dump(): Promise<IpvsServiceDump[]> {
    return this.#ipvs.dump();
  }

  async info(): Promise<IpvsInfo> {
    return this.#ipvs.info();
  }

  /** ipvsadm -L --timeout. */
  async getTimeouts(): Promise<IpvsTimeouts> {
    return this.#ipvs.getConfig();
  }

  /** ipvsadm --set; an absent or 0 timeout stays as it is. */
  async setTimeouts(timeouts: IpvsTimeouts): Promise<void> {
    return this.#ipvs.setConfig(timeouts);
  }

  /**
   * Closes the socket; calls still open reject with ECANCELED (requests already sent may have
   * been carried out). Idempotent.
   */
  close(): void {
    this.#ipvs.close();
  }
}

/** The errors of a plan's results with the operations they belong to. */
export function failures(ops: readonly IpvsOperation[], results: readonly IpvsResult[]): { op: IpvsOperation; error: NetError }[] {
  const out: { op: IpvsOperation; error: NetError }[] = [];
  results.forEach((r, i) => {
    const op = ops[i];
    if (!r.ok && op) out.push({ op, error: r.error });
  });
  return out;
}
