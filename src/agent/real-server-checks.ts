// Runs the health checks of the real servers of the VirtualServers this node runs, one
// Checker per real server, and reports up/down changes (keepalived's check/ side).
import type { HealthCheckSpec, RealServer, VirtualServer } from '../api/virtual-server.ts';
import { Checker, createProbe } from '../health/index.ts';
import type { CheckResult, ProbeSpec } from '../health/index.ts';
import { ownerOf, realServerId } from '../ipvs/desired.ts';

export type RealServerListener = (owner: string, server: RealServer, result: CheckResult, changed: boolean, up: boolean) => void;

interface Running {
  fingerprint: string;
  checker: Checker;
}

/** The probe for one real server; host and port are the real server's unless the check says. */
export function probeSpecFor(hc: HealthCheckSpec, rs: RealServer): ProbeSpec {
  const host = rs.address;
  const port = hc.port ?? rs.port;
  switch (hc.type) {
    case 'TCP':
      return { type: 'TCP', host, port };
    case 'HTTP':
    case 'HTTPS':
      return {
        type: hc.type, host, port,
        ...(hc.http ? {
          path: hc.http.path,
          expectedStatus: hc.http.expectedStatus,
          ...(hc.http.bodyDigest ? { bodyDigest: hc.http.bodyDigest } : {}),
          ...(hc.http.host ? { virtualHost: hc.http.host } : {}),
          ...(hc.http.tls ? { tls: { ...(hc.http.tls.sni ? { sni: hc.http.tls.sni } : {}), insecureSkipVerify: hc.http.tls.insecureSkipVerify } } : {}),
        } : {}),
      };
    case 'UDP':
      return { type: 'UDP', host, port, ...(hc.udp ? { send: hc.udp.send, ...(hc.udp.expect ? { expect: hc.udp.expect } : {}) } : {}) };
    case 'DNS':
      return { type: 'DNS', host, port, ...(hc.dns ? { name: hc.dns.name, recordType: hc.dns.type } : {}) };
    case 'EXEC':
      return { type: 'EXEC', command: hc.exec?.command ?? [] };
  }
}

export class RealServerChecks {
  private readonly running = new Map<string, Running>();
  private readonly listener: RealServerListener;

  constructor(listener: RealServerListener) {
    this.listener = listener;
  }

  /** undefined: not checked (no healthCheck) or no result yet. */
  isUp(owner: string, server: RealServer): boolean | undefined {
    return this.running.get(realServerId(owner, server))?.checker.up;
  }

  /**
   * Starts checks for new or changed real servers and stops those no longer wanted. A check
   * whose settings changed restarts from its last state; `initial` gives the state of checks
   * that start now (recovered from the kernel after a restart, so nothing flaps).
   */
  apply(virtualServers: readonly VirtualServer[], initial: (owner: string, server: RealServer) => boolean | undefined): void {
    const wanted = new Map<string, { owner: string; server: RealServer; hc: HealthCheckSpec }>();
    for (const vs of virtualServers) {
      const hc = vs.spec.healthCheck;
      if (!hc) continue;
      const owner = ownerOf(vs);
      for (const server of vs.spec.realServers) wanted.set(realServerId(owner, server), { owner, server, hc });
    }
    const previous = new Map<string, boolean>();
    for (const [id, r] of this.running) {
      const w = wanted.get(id);
      if (w && fingerprint(w.hc, w.server) === r.fingerprint) continue;
      previous.set(id, r.checker.up);
      r.checker.stop();
      this.running.delete(id);
    }
    for (const [id, { owner, server, hc }] of wanted) {
      if (this.running.has(id)) continue;
      const checker = new Checker(createProbe(probeSpecFor(hc, server)), {
        intervalMs: hc.intervalMs, timeoutMs: hc.timeoutMs, rise: hc.rise, fall: hc.fall,
        initiallyUp: previous.get(id) ?? initial(owner, server) ?? true,
      }, (result, changed, up) => this.listener(owner, server, result, changed, up));
      this.running.set(id, { fingerprint: fingerprint(hc, server), checker });
      checker.start();
    }
  }

  stop(): void {
    for (const r of this.running.values()) r.checker.stop();
    this.running.clear();
  }
}

function fingerprint(hc: HealthCheckSpec, server: RealServer): string {
  // Weight and thresholds do not change how a server is checked.
  return JSON.stringify({ hc, address: server.address, port: server.port });
}
