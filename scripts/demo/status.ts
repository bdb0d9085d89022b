// What the demo reads back from the cluster: the example it applies, and the resources' status
// as `kubectl get` shows it.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { TestCluster } from '../../test/cluster/lib/cluster.ts';
import { section, verbatim } from './output.ts';

export const EXAMPLE = 'deploy/examples/web.yaml';
const EXAMPLE_PATH = new URL(`../../${EXAMPLE}`, import.meta.url).pathname;

/** The parts of the example the story follows: its VirtualServer and the instance behind it. */
export interface Example {
  path: string;
  instance: string;
  name: string;
  namespace: string;
  vip: string;
  port: number;
  realServers: { address: string; port: number }[];
}

export interface NodeEntry {
  node: string;
  state: string;
  effectivePriority?: number;
  since?: string;
}

export interface InstanceStatus {
  master: string;
  nodeCount: number;
  nodes: NodeEntry[];
}

export function readExample(): Example {
  type Doc = { kind?: string; metadata?: { name?: string; namespace?: string }; spec?: Record<string, unknown> };
  const docs = parseAllDocuments(readFileSync(EXAMPLE_PATH, 'utf8')).map((d) => d.toJS() as Doc);
  const vs = docs.find((d) => d.kind === 'VirtualServer');
  const realServers = vs?.spec?.realServers as Example['realServers'] | undefined;
  if (!vs?.spec || !vs.metadata?.name || !realServers?.length) {
    throw new Error(`${EXAMPLE}: the demo needs a VirtualServer with real servers, to send traffic to`);
  }
  return {
    path: EXAMPLE_PATH,
    instance: String(vs.spec.vrrpInstanceRef),
    name: vs.metadata.name,
    namespace: vs.metadata.namespace ?? 'default',
    vip: String(vs.spec.virtualIP),
    port: Number(vs.spec.port),
    realServers,
  };
}

export async function instanceStatus(cluster: TestCluster, name: string): Promise<InstanceStatus> {
  const { stdout } = await cluster.kubectl(['get', `vrrpinstance/${name}`, '-o', 'json']);
  const o = JSON.parse(stdout) as { status?: { master?: string; nodeCount?: number; nodes?: NodeEntry[] } };
  return { master: o.status?.master ?? '', nodeCount: o.status?.nodeCount ?? 0, nodes: o.status?.nodes ?? [] };
}

/** The README's first look at kubelived, and each node's own report. */
export async function showTables(cluster: TestCluster, instance: string): Promise<InstanceStatus> {
  section('kubectl get vrrpinstances,virtualservers');
  verbatim((await cluster.kubectl(['get', 'vrrpinstances,virtualservers'])).stdout);
  const status = await instanceStatus(cluster, instance);
  verbatim(`status.nodes of vrrpinstance/${instance}, each agent's own entry:`);
  for (const e of [...status.nodes].sort((a, b) => a.node.localeCompare(b.node))) {
    verbatim(`  ${e.node}  ${e.state.padEnd(8)} priority ${String(e.effectivePriority ?? '?').padEnd(4)} since ${e.since ?? '?'}`);
  }
  return status;
}
