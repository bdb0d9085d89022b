// `npm run demo`: kubelived on a 3-node Kubernetes cluster made of network namespaces on this
// machine. A real kube-apiserver and etcd (the cluster tests' harness), the plain install
// manifests, the controller and one agent per node started as their pods would run them, the
// example VrrpInstance and VirtualServer; then the master's agent is killed while a client
// sends traffic to the VIP. Everything is torn down at the end, on an error, or on Ctrl-C.
import { existsSync, mkdirSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { AgentProcess } from '../test/lab/agent.ts';
import type { LabNode, LabProcess } from '../test/lab/lab.ts';
import { waitFor } from '../test/lab/wait.ts';
import { startTestCluster } from '../test/cluster/lib/cluster.ts';
import type { TestCluster } from '../test/cluster/lib/cluster.ts';
import { failover } from './demo/failover.ts';
import { buildHarness, harnessBuilt, stopBuild } from './demo/harness-build.ts';
import { abandonStep, bold, say, section, step, verbatim } from './demo/output.ts';
import { EXAMPLE, instanceStatus, readExample, showTables } from './demo/status.ts';
import type { Example } from './demo/status.ts';
import { showClientView } from './demo/traffic.ts';
import { startAgents, startController, startWebServers } from './demo/workloads.ts';
import type { AgentStarter } from './demo/workloads.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const MANIFESTS = 'deploy/manifests/kubelived.yaml';
const NODES = 3;
const ELECTION_TIMEOUT_MS = 60_000;

if (process.getuid?.() !== 0) {
  console.error('npm run demo needs root: it creates network namespaces and uses raw sockets.');
  process.exit(1);
}
if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
  console.error('dist/cli/main.js is missing: npm run demo builds it (npm run build), node scripts/demo.ts does not.');
  process.exit(1);
}

/** The cluster once it is up: what the end and Ctrl-C tear down. */
let current: TestCluster | undefined;
let interrupted = false;
/** Every process the demo started, stopped before the API server at the end. */
const started: LabProcess[] = [];

// Installed before the lab's own hooks, so this runs first on a signal: the lab's hook then
// kills whatever is left at once, and this one waits for the API server's state dir to go.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => void interrupt(sig));
}

async function interrupt(sig: NodeJS.Signals): Promise<void> {
  if (interrupted) return;
  interrupted = true;
  abandonStep();
  console.log(`\n${sig}: tearing everything down`);
  stopBuild();
  await current?.teardown().catch(() => undefined);
  process.exit(128 + constants.signals[sig]);
}

function c(): TestCluster {
  if (!current) throw new Error('the cluster is not up');
  return current;
}

async function kubectl(args: string[]): Promise<string> {
  return (await c().kubectl(args)).stdout;
}

async function ensureHarness(): Promise<void> {
  if (harnessBuilt()) return;
  section('first run: building the test API server');
  say(`The control plane is the cluster tests' harness: kube-apiserver, etcd and kubectl from the
    Kubernetes source, in one Go binary (test/cluster/.bin/kubelived-cluster). Its first build
    downloads about 590 MB of Go modules and compiles about 2,350 packages: some 8 minutes on two
    cores. Go's caches make every later run start at once.`);
  await step('bash test/cluster/build-harness.sh', (s) => buildHarness(s));
}

async function bringUp(): Promise<TestCluster> {
  section(`the lab: nodes n1..n${NODES} and a client, each in its own network namespace`);
  const cluster = await step('bridge, namespaces, kube-apiserver and etcd in the client namespace, Node objects', () =>
    startTestCluster({ nodes: NODES, name: 'demo' }));
  current = cluster;
  const { lab } = cluster;
  verbatim([...lab.nodes, lab.client].map((n: LabNode) => `${n.name.padEnd(6)} ${n.ipv4.padEnd(13)} ${n.mac}  netns ${n.netns}`).join('\n'));
  say(`kube-apiserver: ${cluster.url}. kubectl runs in the client namespace, as the cluster admin.`);

  section(`kubectl apply -f ${MANIFESTS}`);
  verbatim(await kubectl(['apply', '-f', join(ROOT, MANIFESTS)]));
  await step('CRDs established', () => kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/vrrpinstances.kubelived.io', 'crd/virtualservers.kubelived.io']));
  return cluster;
}

async function applyExample(ex: Example, webPort: number): Promise<void> {
  section(`the real servers: a web server on :${webPort} on every node, answering "hello from <node>"`);
  startWebServers(c(), webPort, started);
  section(`kubectl apply -f ${EXAMPLE}`);
  verbatim(await kubectl(['apply', '-f', ex.path]));
  const { lab } = c();
  const [first] = lab.nodes;
  await step(`VRRP election, the agents' reports in status: ${first?.name ?? ''} is MASTER`, () =>
    waitFor('the election in status', async () => {
      const s = await instanceStatus(c(), ex.instance);
      return s.master === first?.name && s.nodeCount === lab.nodes.length && s.nodes.filter((e) => e.state === 'BACKUP').length === lab.nodes.length - 1;
    }, ELECTION_TIMEOUT_MS, 200));
}

/** The agents' own words about IPVS on this kernel, and what that means for the demo. */
async function explainVirtualServer(agents: AgentProcess[], ex: Example, webPort: number): Promise<void> {
  const backends = ex.realServers.map((r) => `${r.address}:${r.port}`).join(', ');
  section(`virtualserver/${ex.name}: ${ex.vip}:${ex.port} over ${backends}`);
  verbatim(`$ kubectl get virtualserver ${ex.name} -o jsonpath='{range .status.conditions[*]}...'`);
  verbatim(await kubectl(['get', `virtualserver/${ex.name}`, '-n', ex.namespace, '-o', 'jsonpath={range .status.conditions[*]}{.type}={.status} ({.reason}): {.message}{"\\n"}{end}']));
  const [agent] = agents;
  if (!agent) throw new Error('no agents');
  // /proc/net/ip_vs is there in every namespace once the kernel has IPVS.
  const ipvs = (await c().lab.exec(agent.node.netns, ['test', '-e', '/proc/net/ip_vs'], { allowFail: true })).code === 0;
  if (ipvs) {
    say(`IPVS balances ${ex.vip}:${ex.port} on the master. The traffic below goes to port ${webPort} of the
      VIP, which the VIP's holder answers itself.`);
    return;
  }
  const line = await agent.proc.waitForLine(/IPVS is not available/, 10_000, 0).catch(() => undefined);
  const said = line ? JSON.parse(line) as { msg?: string; err?: string } : undefined;
  say(`But this kernel has no IPVS (no ip_vs module), so no agent can program the service.
    ${said ? `They say so and carry on: "${said.msg ?? ''}: ${said.err ?? ''}".` : ''} Their status
    entries say so too (programmed: false), hence Ready=False (NotProgrammed) above and READY 0/2:
    no real server serves, and none is checked (the checks wait for IPVS). VRRP does not need
    IPVS, so the VIP fails over all the same; the
    traffic below goes to port ${webPort} of the VIP, which the VIP's holder answers itself. On a
    kernel with ip_vs, http://${ex.vip}:${ex.port}/ is balanced over ${backends}.`);
}

async function restartAgent(startAgent: AgentStarter, node: LabNode, instance: string): Promise<void> {
  section(`the DaemonSet would restart the killed pod: ${node.name}'s agent again`);
  const agent = startAgent(node);
  await step(`${node.name} preempts with its higher priority, and status follows`, async () => {
    await agent.waitForState(instance, 'Master', ELECTION_TIMEOUT_MS);
    await waitFor(`MASTER ${node.name} in status`, async () => (await instanceStatus(c(), instance)).master === node.name, ELECTION_TIMEOUT_MS, 100);
  });
}

async function demo(): Promise<void> {
  console.log(`${bold('kubelived demo')}: a ${NODES}-node Kubernetes cluster made of network namespaces on this machine,
with a real kube-apiserver and etcd, the kubelived controller and one agent per node. The
example VrrpInstance and VirtualServer are applied, then the master's agent is killed while a
client sends traffic to the VIP. Ctrl-C tears everything down at any moment.`);
  await ensureHarness();
  const cluster = await bringUp();
  const scratch = join(cluster.dir, 'demo');
  mkdirSync(scratch);
  await startController(cluster, scratch, started);
  const { agents, startAgent } = await startAgents(cluster, scratch, started);

  const ex = readExample();
  const webPort = ex.realServers[0]?.port ?? 8080;
  const url = `http://${ex.vip}:${webPort}/`;
  await applyExample(ex, webPort);
  await showTables(cluster, ex.instance);
  await showClientView(cluster.lab, ex.vip, url);
  await explainVirtualServer(agents, ex, webPort);

  const killed = await failover(cluster, agents, ex, url);
  await restartAgent(startAgent, killed.node, ex.instance);
  await showTables(cluster, ex.instance);
  await showClientView(cluster.lab, ex.vip, url);
}

/** After a failure: what the processes the demo started said last. */
function showOutputTails(): void {
  for (const p of started) {
    const state = p.running ? 'running' : `exited${p.exitSignal ? ` (${p.exitSignal})` : ''}`;
    console.error(`\n${p.argv.slice(0, 4).join(' ')} ... [${p.netns}, ${state}], last lines:`);
    for (const l of p.output.slice(-8)) console.error(`  ${l.line.slice(0, 400)}`);
  }
}

async function teardown(): Promise<void> {
  section('tearing down');
  await step('agents and controller (SIGTERM), kube-apiserver and etcd, namespaces', async () => {
    await Promise.all(started.map((p) => p.stop(5000)));
    await current?.teardown();
  });
}

let failed = false;
try {
  await demo();
} catch (e) {
  if (!interrupted) {
    failed = true;
    console.error(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
    showOutputTails();
  }
}
if (!interrupted) {
  try {
    await teardown();
  } catch (e) {
    failed = true;
    console.error(`teardown: ${e instanceof Error ? e.message : String(e)}`);
  }
  process.exit(failed ? 1 : 0);
}
