// The objects of `npm run bench:reconcile`: one VrrpInstance over the lab's three nodes (n1 the
// master by priority) and N VirtualServers on its VIP, one TCP port each, two NAT real servers
// and no health check (the benchmark measures the reconcile path, not probing), and how
// `ipvsadm -Ln` in the master's namespace shows them.
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

/** `ipvsadm -Ln` text -> the number of TCP services in it. */
export function servicesIn(ipvsadmText: string): number {
  return ipvsadmText.split('\n').filter((l) => l.startsWith('TCP  ')).length;
}

/**
 * The first real server's weight in `ipvsadm -Ln -t VIP:PORT` text (a line such as
 * "  -> 198.18.1.1:8080   Masq  3  0  0"), or undefined when it is not there.
 */
export function weightIn(ipvsadmText: string): number | undefined {
  const dest = `  -> ${REAL_SERVERS[0] ?? ''}:${REAL_SERVER_PORT} `;
  const line = ipvsadmText.split('\n').find((l) => l.startsWith(dest));
  return line === undefined ? undefined : Number(line.trim().split(/\s+/)[3]);
}
