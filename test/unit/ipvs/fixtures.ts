// Builders for the IPVS tests: VirtualServers with the parser's defaults, real servers, dumps.
import type { HealthCheckSpec, RealServer, VirtualServer, VirtualServerSpec } from '../../../src/api/virtual-server.ts';
import type { DumpedDestination, DumpedService, IpvsDestination, IpvsService } from '../../../src/ipvs/types.ts';

export const TCP_CHECK: HealthCheckSpec = {
  type: 'TCP', intervalMs: 1000, timeoutMs: 1000, rise: 1, fall: 1, port: undefined,
  http: undefined, udp: undefined, dns: undefined, exec: undefined,
};

export function rs(address: string, weight = 1, port = 80, more: Partial<RealServer> = {}): RealServer {
  return { address, family: address.includes(':') ? 6 : 4, port, weight, upperThreshold: 0, lowerThreshold: 0, ...more };
}

export function virtualServer(spec: Partial<VirtualServerSpec> = {}, name = 'web', namespace = 'default'): VirtualServer {
  return {
    namespace,
    name,
    spec: {
      vrrpInstanceRef: 'vi',
      key: { family: 4, protocol: 'TCP', address: '198.18.0.100', port: 80 },
      virtualIP: '198.18.0.100',
      scheduler: 'wlc',
      schedulerFlags: [],
      forwarding: 'NAT',
      persistence: undefined,
      realServers: [rs('10.0.0.1'), rs('10.0.0.2')],
      backendRef: undefined,
      healthCheck: undefined,
      inhibitOnFailure: false,
      sorryServer: undefined,
      quorum: { min: 1, hysteresis: 0 },
      drainTimeoutMs: 30_000,
      ...spec,
    },
  };
}

export const SVC: IpvsService = {
  key: { family: 4, protocol: 'TCP', address: '198.18.0.100', port: 80 },
  scheduler: 'wlc', flags: 0, timeout: 0, netmask: 32,
};

export function dest(address: string, weight = 1, more: Partial<IpvsDestination> = {}): IpvsDestination {
  return {
    address, family: address.includes(':') ? 6 : 4, port: 80, forwarding: 'NAT', weight, upperThreshold: 0, lowerThreshold: 0, ...more,
  };
}

export function dumped(d: IpvsDestination, activeConns = 0, inactiveConns = 0, persistConns = 0): DumpedDestination {
  return { ...d, activeConns, inactiveConns, persistConns };
}

export function dumpedService(service: IpvsService, destinations: DumpedDestination[] = []): DumpedService {
  return { ...service, key: { ...service.key }, destinations };
}
