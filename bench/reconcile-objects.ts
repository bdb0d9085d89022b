// The objects of `npm run bench:reconcile`: one VrrpInstance over the lab's three nodes (n1 the
// master by priority) and N VirtualServers on its VIP, one TCP port each, two NAT real servers
// and no health check (the benchmark measures the reconcile path, not probing), and how the
// master's kernel shows one of them in /proc/net/ip_vs.
import { API_VERSION } from '../src/api/group.ts';

export const BENCH_NAMESPACE = 'bench';
export const INSTANCE = 'bench';
export const MASTER = 'n1';
export const NODES = ['n1', 'n2', 'n3'];
export const VIP = '198.18.0.100';
export const REAL_SERVERS = ['198.18.1.1', '198.18.1.2'];
export const REAL_SERVER_PORT = 8080;
/** The field manager of the benchmark's writes, as `kubectl apply --server-side` would have one. */
export const FIELD_MANAGER = 'bench';
const FIRST_PORT = 10_000;

export const portOf = (i: number): number => FIRST_PORT + i;
export const nameOf = (i: number): string => `vs-${String(i).padStart(5, '0')}`;

export function vrrpInstance(): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: 'VrrpInstance',
    metadata: { name: INSTANCE },
    spec: {
      vrid: 51,
      virtualIPs: [`${VIP}/24`],
      priority: 100,
      priorityOverrides: [{ node: MASTER, priority: 150 }],
      advertisementInterval: '1s',
      allowedNamespaces: [BENCH_NAMESPACE],
    },
  };
}

/** VirtualServer i; `weight` is the first real server's (the one the trials change). */
export function virtualServer(i: number, weight = 1): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: 'VirtualServer',
    metadata: { name: nameOf(i), namespace: BENCH_NAMESPACE },
    spec: {
      vrrpInstanceRef: INSTANCE,
      virtualIP: VIP,
      port: portOf(i),
      protocol: 'TCP',
      scheduler: 'wlc',
      forwarding: 'NAT',
      realServers: REAL_SERVERS.map((address, j) => ({ address, port: REAL_SERVER_PORT, weight: j === 0 ? weight : 1 })),
    },
  };
}

const hex = (n: number, digits: number): string => n.toString(16).toUpperCase().padStart(digits, '0');
const hexAddress = (ip: string): string => ip.split('.').map((o) => hex(Number(o), 2)).join('');

/** `/proc/net/ip_vs` text -> the number of TCP services in it. */
export function servicesIn(procText: string): number {
  let n = 0;
  for (let at = procText.indexOf('\nTCP  '); at >= 0; at = procText.indexOf('\nTCP  ', at + 1)) n++;
  return n;
}

/**
 * The first real server's weight in VirtualServer i's service, from `/proc/net/ip_vs` text
 * (addresses and ports in hex: "TCP  C6120064:2710 wlc" then "  -> C6120101:1F90  Masq  3 ...").
 */
export function weightIn(procText: string, i: number): number | undefined {
  const at = procText.indexOf(`\nTCP  ${hexAddress(VIP)}:${hex(portOf(i), 4)} `);
  if (at < 0) return undefined;
  const dest = `  -> ${hexAddress(REAL_SERVERS[0] ?? '')}:${hex(REAL_SERVER_PORT, 4)} `;
  for (const line of procText.slice(at + 1).split('\n', REAL_SERVERS.length + 2).slice(1)) {
    if (!line.startsWith('  -> ')) break;
    if (line.startsWith(dest)) return Number(line.trim().split(/\s+/)[3]);
  }
  return undefined;
}
