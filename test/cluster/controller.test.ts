// The controller against a real kube-apiserver with the chart's RBAC: the built CLI runs in the
// lab's client namespace under the controller ServiceAccount's token. The agents' per-node
// entries and liveness Leases are written here with kubectl as the agents would (SSA under
// kubelived-agent/<node>), so each summary rule is driven exactly. What is checked is what a
// user sees: `kubectl get -o json`, Events, Leases, the controller's metrics and exit code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabProcess } from '../lab/lab.ts';
import { sleep } from '../lab/run.ts';
import { waitFor } from '../lab/wait.ts';
import { microTime, kubeTime } from '../../src/kube/resources.ts';
import { MANIFESTS_FILE } from '../../scripts/render-manifests.ts';
import { startTestCluster } from './lib/cluster.ts';
import type { Identity, TestCluster } from './lib/cluster.ts';
import { list } from './lib/manifests.ts';

const NS = 'kubelived-system';
const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli/main.js');
const AGENT_CONFIG = {
  image: 'registry.example/kubelived:test',
  nodeSelector: { 'kubernetes.io/os': 'linux' },
  tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
  resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
};
/** Short leader election timings, so failover tests take seconds. */
const FAST_ELECTION = ['--leader-elect-lease-duration', '4s', '--leader-elect-renew-deadline', '3s', '--leader-elect-retry-period', '500ms'];

let cluster: TestCluster | undefined;
let scratch = '';
let agentConfigPath = '';
let nextPort = 9700;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'kl-controller-'));
  agentConfigPath = join(scratch, 'agent.yaml');
  writeFileSync(agentConfigPath, JSON.stringify(AGENT_CONFIG));
  cluster = await startTestCluster({ nodes: 2, name: 'ctl' });
  // The install without Helm: CRDs, RBAC and the controller Deployment (which never runs here:
  // no kubelet; the tests start the controller themselves).
  await cluster.kubectl(['apply', '-f', MANIFESTS_FILE]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/vrrpinstances.kubelived.io', 'crd/virtualservers.kubelived.io']);
  await cluster.kubectl(['create', 'namespace', 'team-a']);
  await cluster.kubectl(['create', 'namespace', 'team-b']);
});
after(async () => {
  await cluster?.teardown();
  rmSync(scratch, { recursive: true, force: true });
});
function c(): TestCluster {
  if (!cluster) throw new Error('cluster not started');
  return cluster;
}

interface Controller {
  proc: LabProcess;
  metricsUrl: string;
  metric(name: string): Promise<number>;
}

/** `kubelived controller` (the built CLI) in the client namespace; SIGTERM when the test ends. */
function startController(t: { after(fn: () => Promise<void>): void }, opts: { as?: Identity; args?: string[] } = {}): Controller {
  const port = nextPort++;
  const metricsUrl = `http://127.0.0.1:${port}`;
  const proc = c().lab.spawn(c().lab.client.netns, [
    process.execPath, CLI, 'controller', '--namespace', NS, '--agent-config', agentConfigPath,
    '--metrics-addr', `127.0.0.1:${port}`, ...FAST_ELECTION, ...(opts.args ?? []),
  ], { env: { KUBECONFIG: c().kubeconfig[opts.as ?? 'controller'], POD_NAME: `controller-${port}` } });
  t.after(async () => {
    await proc.stop(10_000);
  });
  return {
    proc, metricsUrl,
    async metric(name) {
      const r = await c().lab.exec(c().lab.client.netns, ['curl', '-sf', `${metricsUrl}/metrics`]);
      const line = r.stdout.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    },
  };
}

async function httpStatus(url: string): Promise<number> {
  const r = await c().lab.exec(c().lab.client.netns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', url], { allowFail: true });
  return Number(r.stdout);
}

async function isLeader(ctl: Controller): Promise<boolean> {
  return (await ctl.metric('kubelived_controller_leader')) === 1;
}

async function getJson<T>(args: string[]): Promise<T> {
  const { stdout } = await c().kubectl(['get', ...args, '-o', 'json']);
  return JSON.parse(stdout) as T;
}

interface Cond { type: string; status: string; reason: string; message: string; lastTransitionTime: string; observedGeneration?: number }
interface Obj {
  metadata: { name: string; resourceVersion: string; generation?: number; uid: string };
  status?: { master?: string; nodeCount?: number; ready?: string; observedGeneration?: number; conditions?: Cond[]; nodes?: { node: string }[] };
}

function cond(o: Obj, type: string): Cond | undefined {
  return o.status?.conditions?.find((x) => x.type === type);
}

async function waitForCondition(resource: string[], type: string, status: string, reason: string, timeoutMs = 15_000): Promise<Obj> {
  return waitFor(`${resource.join(' ')} ${type}=${status} (${reason})`, async () => {
    const o = await getJson<Obj>(resource);
    const x = cond(o, type);
    return x?.status === status && x.reason === reason ? o : undefined;
  }, timeoutMs, 200);
}

async function apply(docs: Record<string, unknown>[], t: { after(fn: () => Promise<void>): void }): Promise<void> {
  await c().kubectl(['apply', '-f', '-'], { input: list(docs) });
  t.after(async () => {
    await c().kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], { input: list(docs) });
  });
}

function instance(name: string, vrid: number, vips: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'kubelived.io/v1alpha1', kind: 'VrrpInstance', metadata: { name }, spec: { vrid, virtualIPs: vips, advertisementInterval: '100ms', ...extra } };
}

function virtualServer(namespace: string, name: string, ref: string, vip: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'kubelived.io/v1alpha1', kind: 'VirtualServer', metadata: { name, namespace },
    spec: { vrrpInstanceRef: ref, virtualIP: vip, port: 80, realServers: [{ address: '198.18.1.1', port: 8080 }, { address: '198.18.1.2', port: 8080 }, { address: '198.18.1.3', port: 8080 }], ...extra },
  };
}

/** The agent's liveness Lease for `node`, renewed at `renewMs`. */
async function agentLease(node: string, renewMs: number): Promise<void> {
  await c().kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager', `kubelived-agent/${node}`, '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: `kubelived-agent-${node}`, namespace: NS },
      spec: { holderIdentity: node, leaseDurationSeconds: 40, renewTime: microTime(renewMs) },
    }),
  });
}

/** Writes `node`'s own status entry as its agent does: SSA on /status under kubelived-agent/<node>. */
async function agentEntry(kind: 'VrrpInstance' | 'VirtualServer', name: string, entry: Record<string, unknown>, namespace?: string): Promise<void> {
  const node = String(entry.node);
  await c().kubectl(['apply', '--server-side', '--subresource=status', '--field-manager', `kubelived-agent/${node}`, '-f', '-'], {
    as: 'agent',
    input: JSON.stringify({
      apiVersion: 'kubelived.io/v1alpha1', kind, metadata: { name, ...(namespace ? { namespace } : {}) }, status: { nodes: [entry] },
    }),
  });
}

interface EventItem { reason: string; note: string; type: string; regarding: { kind: string; name: string; namespace?: string }; reportingController: string; series?: { count: number } }

async function waitForEvent(namespace: string, kind: string, name: string, reason: string): Promise<EventItem> {
  return waitFor(`a ${reason} Event about ${kind}/${name}`, async () => {
    const { items } = await getJson<{ items: EventItem[] }>(['events.events.k8s.io', '-n', namespace]);
    return items.find((e) => e.reason === reason && e.regarding.kind === kind && e.regarding.name === name);
  }, 15_000, 250);
}

interface DaemonSet {
  metadata: {
    uid: string; resourceVersion: string; managedFields?: { manager: string }[];
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
  };
  spec: {
    updateStrategy: { type: string; rollingUpdate: { maxUnavailable: number } };
    template: { spec: {
      hostNetwork: boolean; dnsPolicy: string; serviceAccountName: string; terminationGracePeriodSeconds: number;
      nodeSelector: Record<string, string>; tolerations: unknown[];
      volumes: { name: string; hostPath?: { path: string } }[];
      containers: {
        image: string; command?: string[]; args: string[]; resources: unknown;
        env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
        securityContext: { privileged?: boolean; capabilities: { add: string[]; drop: string[] } };
        livenessProbe: { httpGet: { path: string; port: string | number } };
        readinessProbe: { httpGet: { path: string; port: string | number } };
        volumeMounts: { name: string; mountPath: string }[];
      }[];
    } };
  };
}

async function daemonSet(): Promise<DaemonSet | undefined> {
  const r = await c().kubectl(['get', 'daemonset', 'kubelived-agent', '-n', NS, '-o', 'json'], { allowFail: true });
  return r.code === 0 ? JSON.parse(r.stdout) as DaemonSet : undefined;
}

test('the controller renders the agent DaemonSet from the contract and its values, and puts it back', async (t) => {
  startController(t);
  const ds = await waitFor('the agent DaemonSet', daemonSet, 20_000, 250);
  assert.equal(ds.spec.updateStrategy.type, 'RollingUpdate');
  assert.equal(ds.spec.updateStrategy.rollingUpdate.maxUnavailable, 1);
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.dnsPolicy, 'ClusterFirstWithHostNet');
  assert.equal(pod.serviceAccountName, 'kubelived-agent');
  assert.ok(pod.terminationGracePeriodSeconds >= 8, `grace ${pod.terminationGracePeriodSeconds}s must cover the VRRP hand-over`);
  assert.deepEqual(pod.nodeSelector, AGENT_CONFIG.nodeSelector);
  assert.deepEqual(pod.tolerations, AGENT_CONFIG.tolerations);
  assert.equal(pod.containers.length, 1);
  const [agent] = pod.containers;
  assert.ok(agent);
  assert.equal(agent.image, AGENT_CONFIG.image);
  assert.equal(agent.command, undefined, 'the image entrypoint is the CLI');
  assert.deepEqual(agent.args, ['agent', '--kubernetes', '--node', '$(NODE_NAME)', '--namespace', '$(POD_NAMESPACE)', '--metrics-addr', '0.0.0.0:9641', '--state-dir', '/var/lib/kubelived']);
  assert.deepEqual(agent.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath ?? e.value]),
    [['NODE_NAME', 'spec.nodeName'], ['POD_NAMESPACE', 'metadata.namespace'], ['NODE_OPTIONS', '--max-semi-space-size=16']]);
  assert.deepEqual(agent.securityContext.capabilities, { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
  assert.notEqual(agent.securityContext.privileged, true);
  assert.deepEqual(agent.resources, AGENT_CONFIG.resources);
  assert.equal(agent.livenessProbe.httpGet.path, '/healthz');
  assert.equal(agent.readinessProbe.httpGet.path, '/readyz');
  const mount = agent.volumeMounts.find((m) => m.mountPath === '/var/lib/kubelived');
  assert.equal(pod.volumes.find((v) => v.name === mount?.name)?.hostPath?.path, '/var/lib/kubelived');
  const { stdout } = await c().kubectl(['get', 'daemonset', 'kubelived-agent', '-n', NS, '--show-managed-fields', '-o', 'jsonpath={.metadata.managedFields[*].manager}']);
  assert.equal(stdout, 'kubelived-controller');
  assert.equal(ds.metadata.ownerReferences, undefined, 'no owner without --owner-deployment');

  // Deleted by someone: created again.
  await c().kubectl(['delete', 'daemonset', 'kubelived-agent', '-n', NS]);
  const again = await waitFor('the DaemonSet recreated', async () => {
    const d = await daemonSet();
    return d && d.metadata.uid !== ds.metadata.uid ? d : undefined;
  }, 20_000, 250);
  // Edited by someone: the controller's fields are put back.
  await c().kubectl(['patch', 'daemonset', 'kubelived-agent', '-n', NS, '--type', 'json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/template/spec/hostNetwork', value: false }])]);
  await waitFor('hostNetwork restored', async () => {
    const d = await daemonSet();
    return d && d.metadata.resourceVersion !== again.metadata.resourceVersion && d.spec.template.spec.hostNetwork === true;
  }, 20_000, 250);
});

test('with --owner-deployment its Deployment owns the DaemonSet (uninstalling deletes the agents); a wrong name creates nothing and says why', async (t) => {
  // The manifests' controller Deployment (never running here: no kubelet), as the chart passes it.
  const deployment = await getJson<{ metadata: { uid: string } }>(['deployment', 'kubelived-controller', '-n', NS]);
  await c().kubectl(['delete', 'daemonset', 'kubelived-agent', '-n', NS, '--ignore-not-found']);
  const wrong = startController(t, { args: ['--owner-deployment', 'no-such-deployment'] });
  await wrong.proc.waitForLine(/cannot read the owner Deployment kubelived-system\/no-such-deployment: .*403 Forbidden.*--owner-deployment must name the Deployment running this controller/, 20_000);
  assert.equal(await daemonSet(), undefined, 'no DaemonSet the garbage collector would not delete');
  await wrong.proc.stop(10_000);

  startController(t, { args: ['--owner-deployment', 'kubelived-controller'] });
  // The test cluster runs no garbage collector: the reference it would follow is what is checked.
  const ds = await waitFor('the owned DaemonSet', daemonSet, 20_000, 250);
  assert.deepEqual(ds.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'kubelived-controller', uid: deployment.metadata.uid }]);
});

test('VRID and VIP collisions and bad references: Accepted=False with the reason, and an Event', async (t) => {
  startController(t);
  await apply([
    instance('alpha', 70, ['198.18.0.170/24'], { allowedNamespaces: ['team-a'] }),
  ], t);
  await waitForCondition(['vrrpinstance/alpha'], 'Accepted', 'True', 'Valid');
  // Created later, so alpha keeps what they share.
  await apply([
    instance('beta', 70, ['198.18.0.171/24']),
    instance('gamma', 71, ['198.18.0.170/24']),
    instance('delta', 70, ['198.18.0.172/24'], { nodeSelector: { matchLabels: { 'kubernetes.io/hostname': 'nowhere' } } }),
    virtualServer('team-a', 'lost', 'missing', '198.18.0.170'),
    virtualServer('team-a', 'wrong-vip', 'alpha', '198.18.0.179'),
    virtualServer('team-b', 'foreign', 'alpha', '198.18.0.170'),
    virtualServer('team-a', 'good', 'alpha', '198.18.0.170'),
  ], t);
  const beta = await waitForCondition(['vrrpinstance/beta'], 'Accepted', 'False', 'VRIDConflict');
  assert.equal(cond(beta, 'Accepted')?.message, 'IPv4 VRID 70 on the interface holding the first virtual IP\'s subnet is already used by VrrpInstance/alpha on nodes n1 and n2: two routers with one VRID on one segment answer each other\'s adverts');
  assert.equal(cond(beta, 'Ready')?.reason, 'NotAccepted');
  assert.equal(cond(beta, 'Accepted')?.observedGeneration, beta.metadata.generation);
  const gamma = await waitForCondition(['vrrpinstance/gamma'], 'Accepted', 'False', 'VIPConflict');
  assert.match(cond(gamma, 'Accepted')?.message ?? '', /198\.18\.0\.170 already belongs to VrrpInstance\/alpha/);
  // Same VRID, but on no node alpha runs on: no collision; it selects no registered node.
  const delta = await waitForCondition(['vrrpinstance/delta'], 'Accepted', 'True', 'Valid');
  assert.equal(cond(delta, 'Ready')?.reason, 'NoMatchingNodes');

  const lost = await waitForCondition(['virtualserver/lost', '-n', 'team-a'], 'Accepted', 'False', 'InstanceNotFound');
  assert.match(cond(lost, 'Accepted')?.message ?? '', /VrrpInstance\/missing/);
  await waitForCondition(['virtualserver/wrong-vip', '-n', 'team-a'], 'Accepted', 'False', 'VIPNotInInstance');
  const foreign = await waitForCondition(['virtualserver/foreign', '-n', 'team-b'], 'Accepted', 'False', 'NamespaceNotAllowed');
  assert.match(cond(foreign, 'Accepted')?.message ?? '', /namespace team-b/);
  await waitForCondition(['virtualserver/good', '-n', 'team-a'], 'Accepted', 'True', 'Valid');

  const ev = await waitForEvent('default', 'VrrpInstance', 'beta', 'VRIDConflict');
  assert.equal(ev.type, 'Warning');
  assert.equal(ev.reportingController, 'kubelived.io/controller');
  assert.match(ev.note, /VrrpInstance\/alpha/);
  await waitForEvent('team-a', 'VirtualServer', 'lost', 'InstanceNotFound');
  await waitForEvent('team-b', 'VirtualServer', 'foreign', 'NamespaceNotAllowed');

  // Fixing the reference is accepted, with an Event saying so.
  await c().kubectl(['patch', 'virtualserver/lost', '-n', 'team-a', '--type', 'merge', '-p', JSON.stringify({ spec: { vrrpInstanceRef: 'alpha' } })]);
  const fixed = await waitForCondition(['virtualserver/lost', '-n', 'team-a'], 'Accepted', 'False', 'ServiceConflict');
  assert.match(cond(fixed, 'Accepted')?.message ?? '', /VirtualServer\/team-a\/good/);
});

test('a flapping rejection counts up one Event instead of adding Events', async (t) => {
  startController(t);
  await apply([instance('flap', 75, ['198.18.0.175/24']), virtualServer('default', 'flap', 'gone', '198.18.0.175')], t);
  await waitForCondition(['virtualserver/flap', '-n', 'default'], 'Accepted', 'False', 'InstanceNotFound');
  for (let i = 0; i < 2; i++) {
    await c().kubectl(['patch', 'virtualserver/flap', '-n', 'default', '--type', 'merge', '-p', '{"spec":{"vrrpInstanceRef":"flap"}}']);
    await waitForCondition(['virtualserver/flap', '-n', 'default'], 'Accepted', 'True', 'Valid');
    await c().kubectl(['patch', 'virtualserver/flap', '-n', 'default', '--type', 'merge', '-p', '{"spec":{"vrrpInstanceRef":"gone"}}']);
    await waitForCondition(['virtualserver/flap', '-n', 'default'], 'Accepted', 'False', 'InstanceNotFound');
  }
  const events = await waitFor('one InstanceNotFound Event counted 3 times', async () => {
    const { items } = await getJson<{ items: EventItem[] }>(['events.events.k8s.io', '-n', 'default']);
    const mine = items.filter((e) => e.regarding.kind === 'VirtualServer' && e.regarding.name === 'flap' && e.reason === 'InstanceNotFound');
    return mine.length === 1 && mine[0]?.series?.count === 3 ? mine : undefined;
  }, 20_000, 500);
  assert.equal(events.length, 1);
  // kubectl describe shows it as one line, "x3".
  const { stdout } = await c().kubectl(['describe', 'virtualserver/flap', '-n', 'default']);
  const lines = stdout.split('\n').filter((l) => /^\s*Warning\s+InstanceNotFound\s/.test(l));
  assert.equal(lines.length, 1, stdout);
  assert.match(lines[0] ?? '', /\(x3 over .*kubelived\.io\/controller\s+VrrpInstance\/gone/);
});

test('status: master, NODES and READY from the agents\' entries; a dead agent\'s entry stops counting', async (t) => {
  startController(t);
  await apply([instance('agg', 80, ['198.18.0.180/24']), virtualServer('default', 'agg', 'agg', '198.18.0.180')], t);
  await waitForCondition(['vrrpinstance/agg'], 'Ready', 'False', 'NoReports');
  const now = Date.now();
  await agentLease('n1', now);
  await agentLease('n2', now);
  await agentEntry('VrrpInstance', 'agg', { node: 'n1', state: 'MASTER', effectivePriority: 150, since: kubeTime(now - 60_000), reason: 'higher priority', masterIP: '198.18.0.11' });
  await agentEntry('VrrpInstance', 'agg', { node: 'n2', state: 'BACKUP', effectivePriority: 100, since: kubeTime(now - 60_000), reason: 'lower priority', masterIP: '198.18.0.11' });
  const rs = (healthy: boolean[]): Record<string, unknown>[] => healthy.map((h, i) => ({ address: `198.18.1.${i + 1}`, port: 8080, weight: 1, healthy: h }));
  await agentEntry('VirtualServer', 'agg', { node: 'n1', state: 'MASTER', healthy: 2, total: 3, quorum: true, realServers: rs([true, false, true]), since: kubeTime(now) }, 'default');
  await agentEntry('VirtualServer', 'agg', { node: 'n2', state: 'BACKUP', healthy: 3, total: 3, quorum: true, realServers: rs([true, true, true]), since: kubeTime(now) }, 'default');

  const vri = await waitForCondition(['vrrpinstance/agg'], 'Ready', 'True', 'MasterElected');
  assert.equal(vri.status?.master, 'n1');
  assert.equal(vri.status?.nodeCount, 2);
  assert.equal(vri.status?.observedGeneration, vri.metadata.generation);
  const vs = await waitForCondition(['virtualserver/agg', '-n', 'default'], 'Ready', 'True', 'Serving');
  assert.equal(vs.status?.master, 'n1');
  assert.equal(vs.status?.ready, '2/3', 'READY is what the master sees');
  assert.equal(cond(vs, 'Degraded')?.reason, 'RealServersDown');
  assert.match(cond(vs, 'Degraded')?.message ?? '', /198\.18\.1\.2:8080/);
  // The printer columns read these fields.
  const { stdout } = await c().kubectl(['get', 'vrrpinstance/agg', '--no-headers']);
  assert.match(stdout, /^agg\s+80\s+.*\bn1\s+2\s+/);
  const vsRow = await c().kubectl(['get', 'virtualserver/agg', '-n', 'default', '--no-headers']);
  assert.match(vsRow.stdout, /\bn1\s+2\/3\s+/);
  // The controller owns the summary, each agent its entry, nobody the other's fields.
  const { stdout: mf } = await c().kubectl(['get', 'vrrpinstance/agg', '--show-managed-fields', '-o', 'jsonpath={range .metadata.managedFields[?(@.subresource=="status")]}{.manager}{"\\n"}{end}']);
  assert.deepEqual(mf.trim().split('\n').sort(), ['kubelived-agent/n1', 'kubelived-agent/n2', 'kubelived-controller']);

  // n1's agent dies: its Lease runs out, its MASTER claim no longer counts.
  await agentLease('n1', Date.now() - 41_000);
  const dead = await waitForCondition(['vrrpinstance/agg'], 'Degraded', 'True', 'AgentNotReporting');
  assert.equal(dead.status?.master, '');
  assert.equal(dead.status?.nodeCount, 1);
  assert.equal(cond(dead, 'Ready')?.reason, 'NoMaster');
  // n2 takes over.
  await agentEntry('VrrpInstance', 'agg', { node: 'n2', state: 'MASTER', effectivePriority: 100, since: kubeTime(Date.now()), reason: 'master down', masterIP: '198.18.0.12' });
  const after = await waitForCondition(['vrrpinstance/agg'], 'Ready', 'True', 'MasterElected');
  assert.equal(after.status?.master, 'n2');
  const vsAfter = await waitFor('VirtualServer master n2', async () => {
    const o = await getJson<Obj>(['virtualserver/agg', '-n', 'default']);
    return o.status?.master === 'n2' ? o : undefined;
  }, 15_000, 200);
  assert.equal(vsAfter.status?.ready, '3/3');

  // A deleted node (no Node object, no live Lease) never writes again: the controller removes its
  // entries. n1's stay: its Node is registered, its agent may come back.
  await agentEntry('VrrpInstance', 'agg', { node: 'retired', state: 'BACKUP', effectivePriority: 90, since: kubeTime(Date.now()), reason: 'lower priority', masterIP: '198.18.0.12' });
  await agentEntry('VirtualServer', 'agg', { node: 'retired', state: 'BACKUP', healthy: 3, total: 3, quorum: true, realServers: rs([true, true, true]), since: kubeTime(Date.now()) }, 'default');
  const nodesOf = async (args: string[]): Promise<string[]> => ((await getJson<Obj>(args)).status?.nodes ?? []).map((e) => e.node).sort();
  await waitFor('the deleted node\'s entries removed', async () =>
    JSON.stringify([await nodesOf(['vrrpinstance/agg']), await nodesOf(['virtualserver/agg', '-n', 'default'])]) === JSON.stringify([['n1', 'n2'], ['n1', 'n2']]), 15_000, 200);
});

test('SplitBrain: two live nodes MASTER beyond one advert interval; a takeover from a dead master is not one', async (t) => {
  startController(t);
  await apply([instance('split', 81, ['198.18.0.181/24'])], t);
  await waitForCondition(['vrrpinstance/split'], 'Accepted', 'True', 'Valid');
  const t0 = Date.now();
  // A takeover: n1 (killed, Lease not renewed since) still says MASTER, n2 has just become it.
  await agentLease('n1', t0 - 5000);
  await agentLease('n2', t0);
  await agentEntry('VrrpInstance', 'split', { node: 'n1', state: 'MASTER', effectivePriority: 150, since: kubeTime(t0 - 60_000), reason: 'x' });
  await agentEntry('VrrpInstance', 'split', { node: 'n2', state: 'MASTER', effectivePriority: 100, since: kubeTime(t0 - 2000), reason: 'master down' });
  const takeover = await waitForCondition(['vrrpinstance/split'], 'Ready', 'True', 'MasterElected');
  assert.equal(takeover.status?.master, 'n2', 'the newer claim wins');
  assert.equal(cond(takeover, 'SplitBrain')?.status, 'False');
  // Both alive and both MASTER for more than 100 ms: split brain.
  await agentLease('n1', Date.now());
  const split = await waitForCondition(['vrrpinstance/split'], 'SplitBrain', 'True', 'MultipleMasters');
  assert.equal(cond(split, 'SplitBrain')?.message, 'n1 and n2 have both been MASTER for longer than one advertisement interval (100ms)');
  const ev = await waitForEvent('default', 'VrrpInstance', 'split', 'SplitBrain');
  assert.equal(ev.type, 'Warning');
  // n1 hears n2 and yields: resolved.
  await agentEntry('VrrpInstance', 'split', { node: 'n1', state: 'BACKUP', effectivePriority: 150, since: kubeTime(Date.now()), reason: 'higher priority master' });
  const healed = await waitForCondition(['vrrpinstance/split'], 'SplitBrain', 'False', 'AtMostOneMaster');
  assert.equal(healed.status?.master, 'n2');
  await waitForEvent('default', 'VrrpInstance', 'split', 'SplitBrainResolved');
});

test('an agent writing its entry before its first Lease is starting, not failing; one whose Lease never comes is reported', async (t) => {
  // Two more registered Nodes (a kubelet registers its Node before any pod runs there), known to
  // the controller from its first list: entries of unregistered nodes are removed as stale.
  const extra = ['n3', 'n4'].map((name) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name } } }));
  await c().kubectl(['apply', '-f', '-'], { input: list(extra) });
  t.after(async () => {
    await c().kubectl(['delete', '--ignore-not-found', '-f', '-'], { input: list(extra), allowFail: true });
  });
  startController(t);
  await apply([instance('fresh', 83, ['198.18.0.183/24'])], t);
  await waitForCondition(['vrrpinstance/fresh'], 'Accepted', 'True', 'Valid');
  // n3 and n4 have never had a Lease (no other test gives them one).
  await agentEntry('VrrpInstance', 'fresh', { node: 'n3', state: 'BACKUP', effectivePriority: 100, since: kubeTime(Date.now()), reason: 'startup' });
  const starting = await waitForCondition(['vrrpinstance/fresh'], 'Ready', 'False', 'NoReports');
  await waitFor('Ready says n3 is starting', async () => cond(await getJson<Obj>(['vrrpinstance/fresh']), 'Ready')?.message === 'no agent reports this instance yet: n3 is starting (no liveness Lease yet)', 10_000, 200);
  assert.equal(cond(starting, 'Degraded')?.status, 'False');
  // Its Lease comes: it counts.
  await agentLease('n3', Date.now());
  await agentEntry('VrrpInstance', 'fresh', { node: 'n3', state: 'MASTER', effectivePriority: 100, since: kubeTime(Date.now()), reason: 'master-down timer expired' });
  await waitForCondition(['vrrpinstance/fresh'], 'Ready', 'True', 'MasterElected');

  // n4 wrote its entry 39 s ago and still has no Lease: a second later it is not reporting.
  await agentEntry('VrrpInstance', 'fresh', { node: 'n4', state: 'BACKUP', effectivePriority: 90, since: kubeTime(Date.now() - 39_000), reason: 'startup' });
  const o = await waitForCondition(['vrrpinstance/fresh'], 'Degraded', 'True', 'AgentNotReporting', 10_000);
  assert.equal(cond(o, 'Degraded')?.message, 'the agent on n4 has no liveness Lease; its entry no longer counts');
  await waitForEvent('default', 'VrrpInstance', 'fresh', 'AgentNotReporting');
  const { items } = await getJson<{ items: EventItem[] }>(['events.events.k8s.io', '-n', 'default']);
  const warnings = items.filter((e) => e.regarding.kind === 'VrrpInstance' && e.regarding.name === 'fresh' && e.type === 'Warning');
  assert.deepEqual(warnings.map((e) => `${e.reason}: ${e.note}`), ['AgentNotReporting: the agent on n4 has no liveness Lease; its entry no longer counts']);
});

/** Resource versions of what the controller writes. */
async function versions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const ds = await daemonSet();
  out.daemonset = ds?.metadata.resourceVersion ?? '';
  for (const r of ['vrrpinstances', 'virtualservers']) {
    const { items } = await getJson<{ items: (Obj & { metadata: { namespace?: string } })[] }>([r, '-A']);
    for (const o of items) out[`${r}/${o.metadata.namespace ?? ''}/${o.metadata.name}`] = o.metadata.resourceVersion;
  }
  return out;
}

test('a controller restart writes nothing when nothing changed', async (t) => {
  const first = startController(t);
  await apply([
    instance('steady', 82, ['198.18.0.182/24']),
    virtualServer('default', 'steady', 'steady', '198.18.0.182'),
    virtualServer('default', 'steady-lost', 'nothing-here', '198.18.0.182', { port: 81 }),
  ], t);
  await agentLease('n1', Date.now());
  await agentEntry('VrrpInstance', 'steady', { node: 'n1', state: 'MASTER', effectivePriority: 100, since: kubeTime(Date.now() - 10_000), reason: 'x' });
  await waitForCondition(['vrrpinstance/steady'], 'Ready', 'True', 'MasterElected');
  await waitForCondition(['virtualserver/steady-lost', '-n', 'default'], 'Accepted', 'False', 'InstanceNotFound');
  await waitFor('the DaemonSet', daemonSet, 20_000, 250);
  await sleep(1000);
  const before = await versions();
  await first.proc.stop(10_000);

  const second = startController(t);
  await waitFor('the new controller leads', () => isLeader(second), 20_000, 250);
  await waitFor('a reconcile pass', async () => (await second.metric('kubelived_controller_reconcile_duration_seconds_count')) > 0, 10_000, 100);
  await sleep(2000);
  assert.deepEqual(await versions(), before);
  assert.equal(await second.metric('kubelived_controller_status_writes_total'), 0);
  assert.equal(await second.metric('kubelived_controller_daemonset_applies_total'), 0);
});

test('two replicas: only the leader writes; SIGKILL of the leader hands over to the standby', async (t) => {
  const a = startController(t);
  await waitFor('replica a leads', () => isLeader(a), 20_000, 250);
  const b = startController(t);
  await waitFor('replica b is ready', async () => (await httpStatus(`${b.metricsUrl}/readyz`)) === 200, 20_000, 250);
  await apply([virtualServer('default', 'while-a', 'nope', '198.18.0.183')], t);
  await waitForCondition(['virtualserver/while-a', '-n', 'default'], 'Accepted', 'False', 'InstanceNotFound');
  assert.equal(await isLeader(b), false);
  assert.equal(await b.metric('kubelived_controller_status_writes_total'), 0, 'the standby writes nothing');
  assert.ok(await a.metric('kubelived_controller_status_writes_total') > 0);

  a.proc.signal('SIGKILL');
  const killedAt = Date.now();
  await waitFor('replica b takes over', () => isLeader(b), 20_000, 100);
  // Within the lease duration (4 s) plus a retry period or two.
  assert.ok(Date.now() - killedAt < 8000, `took ${Date.now() - killedAt} ms`);
  await apply([virtualServer('default', 'while-b', 'nope', '198.18.0.184')], t);
  await waitForCondition(['virtualserver/while-b', '-n', 'default'], 'Accepted', 'False', 'InstanceNotFound');

  // A graceful stop releases the Lease: a new replica takes over without waiting for it to expire.
  await b.proc.stop(10_000);
  const lease = await getJson<{ spec: { holderIdentity?: string } }>(['lease', 'kubelived-controller', '-n', NS]);
  assert.equal(lease.spec.holderIdentity ?? '', '');
  const cNew = startController(t);
  const started = Date.now();
  await waitFor('the new replica leads', () => isLeader(cNew), 20_000, 100);
  assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms after a release`);
});

test('API server stopped and started again: the controller stays up, ready, and reconciles again', async (t) => {
  const ctl = startController(t);
  await waitFor('leader', () => isLeader(ctl), 20_000, 250);
  try {
    await c().stopApiServer();
    await sleep(5000);
    assert.equal(ctl.proc.running, true);
    assert.equal(await httpStatus(`${ctl.metricsUrl}/readyz`), 200, 'the caches stay (fail-static)');
  } finally {
    await c().startApiServer();
  }
  await apply([virtualServer('default', 'after-outage', 'nope', '198.18.0.185')], t);
  await waitForCondition(['virtualserver/after-outage', '-n', 'default'], 'Accepted', 'False', 'InstanceNotFound', 60_000);
  assert.equal(ctl.proc.running, true);
  assert.ok(await ctl.metric('kubelived_controller_watch_errors_total') > 0);
});

test('without RBAC the controller says so and exits non-zero', async (t) => {
  const ctl = startController(t, { as: 'nobody' });
  const code = await Promise.race([ctl.proc.exited, sleep(30_000).then(() => 'still running')]);
  const text = ctl.proc.output.map((l) => l.line).join('\n');
  assert.equal(code, 1, `output:\n${text}`);
  assert.match(text, /controller cannot start/);
  assert.match(text, /refuses to let this controller list .*forbidden/i);
});
