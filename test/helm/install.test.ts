// `helm install` of the chart into the cluster tier's real kube-apiserver (admin kubeconfig),
// then what each process's identity may and may not do under exactly the chart's RBAC, the
// controller and an agent started from the installed objects, an upgrade, `helm uninstall`
// (which keeps the CRDs, as Helm does), and the plain manifests. Needs root (the lab's
// network namespaces) and both Go builds: test/cluster/build-harness.sh, test/helm/build-helm.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { V1ConfigMap, V1DaemonSet, V1Deployment, V1Lease, V1Service } from '@kubernetes/client-node';
import { startTestCluster } from '../cluster/lib/cluster.ts';
import type { Identity, TestCluster } from '../cluster/lib/cluster.ts';
import { list } from '../cluster/lib/manifests.ts';
import { expandArgs } from '../cluster/lib/pods.ts';
import { spawnAgent, vrrpInstance } from '../lab/agent.ts';
import { vip4 } from '../lab/lab.ts';
import type { LabProcess } from '../lab/lab.ts';
import type { RunResult } from '../lab/run.ts';
import { waitFor } from '../lab/wait.ts';
import { helmArgv, CHART_DIR } from './lib/helm.ts';
import { objects } from './lib/objects.ts';
import { MANIFESTS_FILE } from '../../scripts/render-manifests.ts';

const NS = 'kubelived-system';
const CRDS = ['crd/vrrpinstances.kubelived.io', 'crd/virtualservers.kubelived.io'];
const HELM_TIMEOUT_MS = 120_000;
const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

let cluster: TestCluster | undefined;
before(async () => {
  cluster = await startTestCluster({ nodes: 1, name: 'helm' });
});
after(async () => {
  await cluster?.teardown();
});
function c(): TestCluster {
  if (!cluster) throw new Error('cluster not started');
  return cluster;
}

/** helm as the cluster admin, inside the lab's client namespace (where the API server is). */
function helm(args: string[], allowFail = false): Promise<RunResult> {
  const argv = helmArgv(args, { KUBECONFIG: c().kubeconfig.admin });
  return c().lab.exec(c().lab.client.netns, argv, { timeoutMs: HELM_TIMEOUT_MS, allowFail });
}

/** `kind/name` of every object of the release, as kubectl prints them. */
async function releaseObjects(): Promise<string[]> {
  const { stdout } = await helm(['get', 'manifest', 'kubelived', '--namespace', NS]);
  const { stdout: names } = await c().kubectl(['get', '-f', '-', '-o', 'name'], { input: stdout });
  return names.trim().split('\n').sort();
}

// The tests below run in order: each builds on the release the previous ones left.

let manifest = '';

test('helm install creates every object of the chart and prints what to run next', async () => {
  const r = await helm(['install', 'kubelived', CHART_DIR, '--namespace', NS]);
  assert.match(r.stdout, /STATUS: deployed/);
  assert.match(r.stdout, /kubectl get vrrpinstances,virtualservers/);
  assert.match(r.stdout, /on\s+the nodes labelled \{"kubernetes.io\/os":"linux"\}/);
  assert.match(r.stdout, new RegExp(`kubectl -n ${NS} get deployment/kubelived-controller daemonset/kubelived-agent`));
  // The controller runs with --owner-deployment: the DaemonSet goes with the release.
  assert.match(r.stdout, /`helm uninstall` also deletes the agent DaemonSet \(the controller's Deployment owns it\)/);
  assert.doesNotMatch(r.stdout, /delete daemonset/);

  await c().kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...CRDS]);
  manifest = (await helm(['get', 'manifest', 'kubelived', '--namespace', NS])).stdout;
  assert.deepEqual(await releaseObjects(), [
    'clusterrole.rbac.authorization.k8s.io/kubelived-agent',
    'clusterrole.rbac.authorization.k8s.io/kubelived-controller',
    'clusterrolebinding.rbac.authorization.k8s.io/kubelived-agent',
    'clusterrolebinding.rbac.authorization.k8s.io/kubelived-controller',
    'configmap/kubelived-agent-config',
    'deployment.apps/kubelived-controller',
    'poddisruptionbudget.policy/kubelived-controller',
    'role.rbac.authorization.k8s.io/kubelived-agent',
    'role.rbac.authorization.k8s.io/kubelived-controller',
    'rolebinding.rbac.authorization.k8s.io/kubelived-agent',
    'rolebinding.rbac.authorization.k8s.io/kubelived-controller',
    'service/kubelived-agent-metrics',
    'service/kubelived-controller-metrics',
    'serviceaccount/kubelived-agent',
    'serviceaccount/kubelived-controller',
  ]);
});

// [who, verb, resource (TYPE, TYPE/SUBRESOURCE or TYPE:NAME), namespace ('*': all namespaces;
// none: cluster-scoped), allowed]
const ACCESS: [Identity, string, string, string | undefined, boolean][] = [
  // The controller: reads and summarises, owns the DaemonSet and its Lease, changes no spec.
  ['controller', 'watch', 'vrrpinstances.kubelived.io', undefined, true],
  ['controller', 'list', 'virtualservers.kubelived.io', '*', true],
  ['controller', 'patch', 'vrrpinstances.kubelived.io/status', undefined, true],
  ['controller', 'patch', 'virtualservers.kubelived.io/status', 'default', true],
  ['controller', 'list', 'nodes', undefined, true],
  ['controller', 'create', 'events', 'default', true],
  ['controller', 'create', 'daemonsets.apps', NS, true],
  ['controller', 'delete', 'daemonsets.apps', NS, true],
  ['controller', 'update', 'leases.coordination.k8s.io', NS, true],
  // Its own Deployment, to make it the DaemonSet's owner; no other.
  ['controller', 'get', 'deployments.apps:kubelived-controller', NS, true],
  ['controller', 'get', 'deployments.apps:other', NS, false],
  ['controller', 'list', 'deployments.apps', NS, false],
  ['controller', 'update', 'deployments.apps:kubelived-controller', NS, false],
  ['controller', 'update', 'vrrpinstances.kubelived.io', undefined, false],
  ['controller', 'patch', 'virtualservers.kubelived.io', 'default', false],
  ['controller', 'create', 'daemonsets.apps', 'default', false],
  ['controller', 'create', 'leases.coordination.k8s.io', 'default', false],
  ['controller', 'get', 'secrets', NS, false],
  ['controller', 'list', 'secrets', '*', false],
  ['controller', 'create', 'pods', NS, false],
  ['controller', 'update', 'nodes', undefined, false],
  // The agent: reads its config, patches its own status entries, its Lease and the VRRP
  // password Secrets of the release namespace only.
  ['agent', 'list', 'vrrpinstances.kubelived.io', undefined, true],
  ['agent', 'watch', 'virtualservers.kubelived.io', '*', true],
  ['agent', 'patch', 'vrrpinstances.kubelived.io/status', undefined, true],
  ['agent', 'patch', 'virtualservers.kubelived.io/status', 'default', true],
  ['agent', 'get', 'nodes', undefined, true],
  ['agent', 'watch', 'endpointslices.discovery.k8s.io', '*', true],
  ['agent', 'get', 'services', 'default', true],
  ['agent', 'get', 'secrets', NS, true],
  ['agent', 'update', 'leases.coordination.k8s.io', NS, true],
  ['agent', 'create', 'events', 'default', true],
  ['agent', 'get', 'secrets', 'default', false],
  ['agent', 'list', 'secrets', '*', false],
  ['agent', 'patch', 'vrrpinstances.kubelived.io', undefined, false],
  ['agent', 'update', 'virtualservers.kubelived.io/status', 'default', false],
  ['agent', 'create', 'daemonsets.apps', NS, false],
  ['agent', 'delete', 'leases.coordination.k8s.io', NS, false],
  ['agent', 'update', 'leases.coordination.k8s.io', 'default', false],
  ['agent', 'update', 'nodes', undefined, false],
  // An identity the chart binds nothing to.
  ['nobody', 'list', 'vrrpinstances.kubelived.io', undefined, false],
];

async function canI(as: Identity, verb: string, resource: string, ns: string | undefined): Promise<boolean> {
  const [typeAndSub = resource, name] = resource.split(':');
  const [type = typeAndSub, sub] = typeAndSub.split('/');
  const args = ['auth', 'can-i', verb, name ? `${type}/${name}` : type, ...(sub ? [`--subresource=${sub}`] : [])];
  if (ns === '*') args.push('--all-namespaces');
  else if (ns) args.push('--namespace', ns);
  const r = await c().kubectl(args, { as, allowFail: true });
  // can-i exits 1 for "no"; anything else is an error, not an answer. (It warns on stderr that a
  // cluster-scoped resource has no namespace: not an error.)
  assert.ok((r.code === 0 || r.code === 1) && !/error/i.test(r.stderr), `kubectl ${args.join(' ')} as ${as}: ${r.stderr}`);
  return r.stdout.trim() === 'yes';
}

test('under the chart\'s RBAC each identity may do what its process needs and nothing else listed', async () => {
  const wrong: string[] = [];
  for (const [as, verb, resource, ns, allowed] of ACCESS) {
    if ((await canI(as, verb, resource, ns)) !== allowed) {
      wrong.push(`${as} ${allowed ? 'cannot' : 'can'} ${verb} ${resource}${ns ? ` in ${ns === '*' ? 'all namespaces' : ns}` : ''}`);
    }
  }
  assert.deepEqual(wrong, []);
});

async function getJson<T>(args: string[]): Promise<T> {
  const { stdout } = await c().kubectl(['get', ...args, '-o', 'json']);
  return JSON.parse(stdout) as T;
}

test('the controller and an agent, started with the installed objects\' args, work under the chart\'s RBAC', async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'kl-helm-'));
  const started: LabProcess[] = [];
  // One hook, in this order: the processes stop before their files go.
  t.after(async () => {
    await Promise.all(started.map((p) => p.stop(10_000)));
    rmSync(scratch, { recursive: true, force: true });
  });
  const [node] = c().lab.nodes;
  assert.ok(node);

  // The controller as its pod would run it: the Deployment's args, the ConfigMap's file (at a
  // path of ours: there is no kubelet to mount it), the controller ServiceAccount's identity.
  const deploy = await getJson<V1Deployment>(['deployment/kubelived-controller', '--namespace', NS]);
  const ctl = deploy.spec?.template.spec?.containers[0];
  assert.ok(ctl?.args);
  const cm = await getJson<V1ConfigMap>(['configmap/kubelived-agent-config', '--namespace', NS]);
  const agentConfig = join(scratch, 'agent.yaml');
  writeFileSync(agentConfig, cm.data?.['agent.yaml'] ?? '');
  const ctlArgs = ctl.args.map((a, i) => (ctl.args?.[i - 1] === '--agent-config' ? agentConfig : a));
  const controller = c().lab.spawn(c().lab.client.netns, [process.execPath, CLI, ...ctlArgs],
    { env: { KUBECONFIG: c().kubeconfig.controller, POD_NAME: 'kubelived-controller-0' } });
  started.push(controller);

  // Its readiness probe answers on the port the Deployment declares; it leads and creates the
  // agent DaemonSet with the chart's agent values and ServiceAccount.
  const port = ctl.ports?.find((p) => p.name === 'metrics')?.containerPort;
  await waitFor('the controller\'s /readyz', async () => {
    const r = await c().lab.exec(c().lab.client.netns, ['curl', '-sf', `http://127.0.0.1:${port}/readyz`], { allowFail: true });
    return r.code === 0;
  }, 30_000, 200);
  const lease = await waitFor('the leader Lease', async () =>
    (await getJson<V1Lease>(['lease/kubelived-controller', '--namespace', NS])).spec?.holderIdentity, 30_000, 200);
  assert.match(lease, /^kubelived-controller-0_/);
  const ds = await waitFor('DaemonSet kubelived-agent', () => getJson<V1DaemonSet>(['daemonset/kubelived-agent', '--namespace', NS]), 30_000, 200);
  // Owned by the controller's Deployment, so the garbage collector deletes the agents with it
  // (this API server runs no garbage collector: the reference is what can be checked).
  assert.deepEqual(ds.metadata?.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'kubelived-controller', uid: deploy.metadata?.uid }]);
  const pod = ds.spec?.template.spec;
  const agentValues = parse(cm.data?.['agent.yaml'] ?? '') as { image: string; nodeSelector: unknown; resources: unknown };
  assert.equal(pod?.serviceAccountName, 'kubelived-agent');
  assert.equal(pod.containers[0]?.image, 'kubelived:0.1.0');
  assert.equal(pod.containers[0]?.image, agentValues.image);
  assert.deepEqual(pod.nodeSelector, agentValues.nodeSelector);
  assert.deepEqual(pod.containers[0]?.resources, agentValues.resources);
  // The chart's agent metrics Service selects these pods, on their metrics port.
  const svc = await getJson<V1Service>(['service/kubelived-agent-metrics', '--namespace', NS]);
  for (const [k, v] of Object.entries(svc.spec?.selector ?? {})) assert.equal(ds.spec?.template.metadata?.labels?.[k], v, `agent pod label ${k}`);
  const metricsPort = pod.containers[0]?.ports?.find((p) => p.name === 'metrics')?.containerPort;
  assert.equal(svc.spec?.ports?.[0]?.targetPort, 'metrics');
  assert.equal(svc.spec?.ports?.[0]?.port, metricsPort);

  // One agent as the DaemonSet would run it on the node (state dir of ours: no hostPath here).
  const container = pod.containers[0];
  assert.ok(container);
  const args = expandArgs(container, { 'spec.nodeName': node.name, 'metadata.namespace': NS });
  assert.equal(args[0], 'agent');
  const agentArgs = args.slice(1).map((a, i, all) => (all[i - 1] === '--state-dir' ? scratch : a));
  started.push(spawnAgent(c().lab, node, agentArgs, { NODE_NAME: node.name, POD_NAMESPACE: NS, KUBECONFIG: c().kubeconfig.agent }).proc);

  // What NOTES.txt tells the user to run shows the node as MASTER; the agent keeps its
  // liveness Lease in the release namespace.
  await c().kubectl(['apply', '-f', '-'], { input: list([vrrpInstance({ name: 'helm', vips: [`${vip4(0)}/24`] })]) });
  t.after(async () => {
    await c().kubectl(['delete', 'vrrpinstance/helm', '--wait=false']);
  });
  await waitFor(`${node.name} MASTER in kubectl get vrrpinstances`, async () => {
    const { stdout } = await c().kubectl(['get', 'vrrpinstances']);
    const row = stdout.split('\n').find((l) => l.startsWith('helm '))?.trim().split(/\s+/);
    return row?.[3] === node.name;
  }, 30_000, 250);
  await getJson<V1Lease>([`lease/kubelived-agent-${node.name}`, '--namespace', NS]);
});

test('helm upgrade with new agent values rewrites the agent config; a wrong value changes nothing', async () => {
  const r = await helm(['upgrade', 'kubelived', CHART_DIR, '--namespace', NS, '--reuse-values', '--set', 'agent.nodeSelector.pool=lb']);
  assert.match(r.stdout, /STATUS: deployed/);
  assert.match(r.stdout, /REVISION: 2/);
  const { stdout } = await c().kubectl(['get', 'configmap/kubelived-agent-config', '--namespace', NS, '-o', 'jsonpath={.data.agent\\.yaml}']);
  assert.deepEqual((parse(stdout) as { nodeSelector: unknown }).nodeSelector, { 'kubernetes.io/os': 'linux', pool: 'lb' });

  const bad = await helm(['upgrade', 'kubelived', CHART_DIR, '--namespace', NS, '--reuse-values', '--set', 'controller.replicas=two'], true);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /at '\/controller\/replicas': got string, want integer/);
  const { stdout: history } = await helm(['history', 'kubelived', '--namespace', NS, '-o', 'json']);
  assert.deepEqual((JSON.parse(history) as { revision: number; status: string }[]).map((h) => [h.revision, h.status]),
    [[1, 'superseded'], [2, 'deployed']]);
});

test('helm uninstall removes every object of the release and its access, and keeps the CRDs', async () => {
  const r = await helm(['uninstall', 'kubelived', '--namespace', NS]);
  assert.match(r.stdout, /release "kubelived" uninstalled/);
  const { stdout } = await c().kubectl(['get', '-f', '-', '--ignore-not-found', '-o', 'name'], { input: manifest });
  assert.equal(stdout.trim(), '', 'objects left behind');
  assert.equal(await canI('controller', 'list', 'vrrpinstances.kubelived.io', undefined), false);
  assert.equal(await canI('agent', 'get', 'secrets', NS), false);
  const { stdout: crds } = await c().kubectl(['get', ...CRDS, '-o', 'name']);
  assert.deepEqual(crds.trim().split('\n').sort(), ['customresourcedefinition.apiextensions.k8s.io/virtualservers.kubelived.io', 'customresourcedefinition.apiextensions.k8s.io/vrrpinstances.kubelived.io']);
  const { stdout: releases } = await helm(['list', '--all', '--namespace', NS, '-o', 'json']);
  assert.deepEqual(JSON.parse(releases), []);
});

test('deploy/manifests/kubelived.yaml, the install without Helm, passes the API server\'s validation', async () => {
  const { stdout } = await c().kubectl(['apply', '--dry-run=server', '-f', MANIFESTS_FILE]);
  const lines = stdout.trim().split('\n');
  assert.ok(lines.every((l) => l.endsWith('(server dry run)')), stdout);
  assert.equal(lines.length, objects(readFileSync(MANIFESTS_FILE, 'utf8')).length, stdout);
});
