// The demo's pods, run as processes: there is no kubelet, so the demo does what one would with
// the controller's Deployment and the agents' DaemonSet, reading both back from the API server
// (their args and env, the ConfigMap the controller mounts), plus the example's real servers.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1ConfigMap, V1Container, V1DaemonSet, V1Deployment } from '@kubernetes/client-node';
import { spawnAgent } from '../../test/lab/agent.ts';
import type { AgentProcess } from '../../test/lab/agent.ts';
import type { LabNode, LabProcess } from '../../test/lab/lab.ts';
import { waitFor } from '../../test/lab/wait.ts';
import type { TestCluster } from '../../test/cluster/lib/cluster.ts';
import { containerEnv, expandArgs } from '../../test/cluster/lib/pods.ts';
import { say, section, step, verbatim } from './output.ts';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const NS = 'kubelived-system';
const START_TIMEOUT_MS = 60_000;

/** Starts the agent on a node as the DaemonSet's pod would run there. */
export type AgentStarter = (node: LabNode) => AgentProcess;

async function getJson<T>(cluster: TestCluster, args: string[]): Promise<T> {
  return JSON.parse((await cluster.kubectl(['get', ...args, '-o', 'json'])).stdout) as T;
}

function firstContainer(what: string, containers: V1Container[] | undefined): V1Container {
  const c = containers?.[0];
  if (!c?.args) throw new Error(`${what} has no container with args`);
  return c;
}

/** The controller as its Deployment's pod would run it; returns once it has created the agent DaemonSet. */
export async function startController(cluster: TestCluster, scratch: string, started: LabProcess[]): Promise<void> {
  section('the controller: Deployment kubelived-controller');
  const deploy = await getJson<V1Deployment>(cluster, ['deployment/kubelived-controller', '-n', NS]);
  const container = firstContainer('deployment/kubelived-controller', deploy.spec?.template.spec?.containers);
  say(`No kubelet runs here, so no pod ever starts. The demo runs the pod's container itself, as
    the kubelet would: its args read back from the API server, ConfigMap kubelived-agent-config as
    the file it mounts, and the controller ServiceAccount's token (one replica of the Deployment's
    ${deploy.spec?.replicas ?? 1}).`);
  const cm = await getJson<V1ConfigMap>(cluster, ['configmap/kubelived-agent-config', '-n', NS]);
  const agentConfig = join(scratch, 'agent.yaml');
  writeFileSync(agentConfig, cm.data?.['agent.yaml'] ?? '');
  // The pod's downward-API fields, should the Deployment use any.
  const fields = { 'metadata.name': 'kubelived-controller-demo', 'metadata.namespace': NS };
  const args = expandArgs(container, fields).map((a, i, all) => (all[i - 1] === '--agent-config' ? agentConfig : a));
  verbatim(`$ kubelived ${args.join(' ')}`);
  const { lab } = cluster;
  started.push(lab.spawn(lab.client.netns, [process.execPath, CLI, ...args],
    { env: { ...containerEnv(container, fields), KUBECONFIG: cluster.kubeconfig.controller } }));
  await step('leader election, then the controller creates DaemonSet kubelived-agent', () =>
    waitFor('daemonset/kubelived-agent', async () =>
      (await cluster.kubectl(['get', 'daemonset/kubelived-agent', '-n', NS], { allowFail: true })).code === 0, START_TIMEOUT_MS, 250));
}

/** One agent per node, as the DaemonSet's pod would run there; also returns how to start one again. */
export async function startAgents(cluster: TestCluster, scratch: string, started: LabProcess[]): Promise<{ agents: AgentProcess[]; startAgent: AgentStarter }> {
  section('the agents: DaemonSet kubelived-agent, created by the controller');
  const ds = await getJson<V1DaemonSet>(cluster, ['daemonset/kubelived-agent', '-n', NS]);
  const container = firstContainer('daemonset/kubelived-agent', ds.spec?.template.spec?.containers);
  say(`Its pod runs on every node matching ${JSON.stringify(ds.spec?.template.spec?.nodeSelector ?? {})}. The demo
    starts one agent in each node's namespace with the pod's command, $(NODE_NAME) and
    $(POD_NAMESPACE) filled in as the kubelet would, and the agent ServiceAccount's token.`);
  const { lab } = cluster;
  const command = (n: LabNode): { args: string[]; env: Record<string, string> } => {
    const fields = { 'spec.nodeName': n.name, 'metadata.namespace': NS };
    // The pod's hostPath state dir: one per node, as separate machines have.
    const stateDir = join(scratch, `state-${n.name}`);
    mkdirSync(stateDir, { recursive: true });
    const args = expandArgs(container, fields).map((a, i, all) => (all[i - 1] === '--state-dir' ? stateDir : a));
    if (args[0] !== 'agent') throw new Error(`daemonset/kubelived-agent runs "${args[0] ?? ''}", not the agent`);
    return { args, env: { ...containerEnv(container, fields), KUBECONFIG: cluster.kubeconfig.agent } };
  };
  const startAgent: AgentStarter = (n) => {
    const { args, env } = command(n);
    const agent = spawnAgent(lab, n, args.slice(1), env);
    started.push(agent.proc);
    return agent;
  };
  const [first, ...others] = lab.nodes;
  if (first) verbatim(`${first.name}$ kubelived ${command(first).args.join(' ')}`);
  if (others.length > 0) say(`and likewise on ${others.map((n) => n.name).join(' and ')}, each with its own node name and state dir.`);
  const agents = lab.nodes.map(startAgent);
  await step('agents up: each renews its liveness Lease kubelived-agent-<node>', () =>
    waitFor('the agents\' Leases', async () => {
      const r = await cluster.kubectl(['get', 'leases', '-n', NS, '-o', 'name'], { allowFail: true });
      return lab.nodes.every((n) => r.stdout.includes(`lease.coordination.k8s.io/kubelived-agent-${n.name}\n`));
    }, START_TIMEOUT_MS, 250));
  return { agents, startAgent };
}

/** A web server on each node that answers with the node's name. */
export function startWebServers(cluster: TestCluster, port: number, started: LabProcess[]): void {
  const { lab } = cluster;
  const script = `require('node:http').createServer((q, s) => s.end('hello from ' + process.argv[1] + '\\n')).listen(${port})`;
  for (const n of lab.nodes) started.push(lab.spawn(n.netns, [process.execPath, '-e', script, n.name]));
}
