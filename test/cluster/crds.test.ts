// The CRDs, the plain install (deploy/manifests/kubelived.yaml, the chart rendered, whose RBAC
// the access table below checks) and the examples against a real kube-apiserver: they install,
// the examples are stored as the standalone agent reads them, every case of the
// invalid-manifest table is refused naming its field (and its baseline accepted), kubectl
// explain / get print what users read, per-node status entries from different agents merge,
// and each identity has exactly the access its process needs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { startTestCluster } from './lib/cluster.ts';
import type { TestCluster, Identity } from './lib/cluster.ts';
import { INVALID_MANIFESTS } from './fixtures/invalid-manifests.ts';
import { parseResources } from '../../src/api/documents.ts';
import { MANIFESTS_FILE } from '../../scripts/render-manifests.ts';

const path = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const CRDS = path('crds/');
const EXAMPLE = path('deploy/examples/web.yaml');

let cluster: TestCluster | undefined;
before(async () => {
  cluster = await startTestCluster({ nodes: 2 });
});
after(async () => {
  await cluster?.teardown();
});
function c(): TestCluster {
  if (!cluster) throw new Error('cluster not started');
  return cluster;
}

type Obj = Record<string, unknown>;

async function getJson(args: string[], as?: Identity): Promise<Obj> {
  const { stdout } = await c().kubectl(['get', ...args, '-o', 'json'], { as });
  return JSON.parse(stdout) as Obj;
}

/** The words of each line of kubectl's table output. */
function table(stdout: string): string[][] {
  return stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
}

// The tests below run in order: each builds on the objects the previous ones created.

test('kubectl apply -f crds/ installs both CRDs and they become Established', async () => {
  const { stdout } = await c().kubectl(['apply', '-f', CRDS]);
  assert.match(stdout, /customresourcedefinition\.apiextensions\.k8s\.io\/virtualservers\.kubelived\.io (created|configured)/);
  assert.match(stdout, /customresourcedefinition\.apiextensions\.k8s\.io\/vrrpinstances\.kubelived\.io (created|configured)/);
  await c().kubectl(['wait', '--for=condition=Established', '--timeout=60s',
    'crd/vrrpinstances.kubelived.io', 'crd/virtualservers.kubelived.io']);
});

test('the plain install and the example apply cleanly, and the stored example means what the file means', async () => {
  await c().kubectl(['apply', '-f', MANIFESTS_FILE]);
  const { stdout } = await c().kubectl(['apply', '-f', EXAMPLE]);
  assert.match(stdout, /vrrpinstance\.kubelived\.io\/web created/);
  assert.match(stdout, /virtualserver\.kubelived\.io\/web created/);

  // What the API server stores (its defaults filled in) reads as the same config as the file.
  const stored = [await getJson(['vrrpinstance', 'web']), await getJson(['virtualserver', 'web', '-n', 'default'])]
    .map((o) => {
      const meta = o.metadata as Obj;
      return { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: meta.name, namespace: meta.namespace }, spec: o.spec };
    });
  const fromServer = parseResources(stored.map((d) => stringify(d)).join('---\n'), 'api-server');
  assert.deepEqual(fromServer, parseResources(readFileSync(EXAMPLE, 'utf8'), 'web.yaml'));
  assert.equal((stored[0]?.spec as Obj).version, 3, 'the default version is stored');
});

test(`every invalid manifest is refused naming its field; its baseline is accepted (${INVALID_MANIFESTS.length} cases)`, async (t) => {
  for (const m of INVALID_MANIFESTS) {
    await t.test(m.name, async () => {
      const base = await c().kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(m.baseline), allowFail: true });
      assert.equal(base.code, 0, `baseline refused: ${base.stderr}`);
      const r = await c().kubectl(['create', '-f', '-'], { input: JSON.stringify(m.manifest), allowFail: true });
      if (r.code === 0) await c().kubectl(['delete', '--ignore-not-found', '-f', '-'], { input: JSON.stringify(m.manifest) });
      assert.notEqual(r.code, 0, `accepted: ${r.stdout}`);
      // `spec.port: Invalid value ...` or `unknown field "spec.prority"`: the field itself, not a child.
      const named = new RegExp(`${m.field.replace(/[.[\]]/g, '\\$&')}[:"]`);
      assert.match(r.stderr, named, `the message does not name ${m.field}`);
    });
  }
});

test('kubectl explain prints the field descriptions', async () => {
  const crd = parse(readFileSync(path('crds/vrrpinstances.kubelived.io.yaml'), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: { vrid: { description: string } } } } } } }[] };
  };
  const description = crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec.properties.vrid.description ?? '';
  const words = (s: string): string => s.replace(/\s+/g, ' ').trim();
  const { stdout } = await c().kubectl(['explain', 'vrrpinstances.spec.vrid']);
  assert.ok(description.length > 40);
  assert.ok(words(stdout).includes(words(description)), stdout);
  const vs = await c().kubectl(['explain', 'virtualservers.spec.healthCheck.fall']);
  assert.match(words(vs.stdout), /Consecutive failures before an up real server counts as down, 1 to 100\. Default 3\./);
});

test('kubectl get kubelived lists both kinds', async () => {
  const { stdout } = await c().kubectl(['get', 'kubelived', '-o', 'name']);
  assert.deepEqual(stdout.trim().split('\n').sort(), ['virtualserver.kubelived.io/web', 'vrrpinstance.kubelived.io/web']);
});

const since = '2025-01-01T00:00:00Z';

function agentStatus(kind: 'VrrpInstance' | 'VirtualServer', node: string, state: string): string {
  const entry = kind === 'VrrpInstance'
    ? { node, state, effectivePriority: node === 'n1' ? 150 : 100, since, reason: 'test', masterIP: '198.18.0.11' }
    : { node, state, healthy: 2, total: 2, quorum: true, since, realServers: [{ address: '198.18.0.11', port: 8080, weight: 2, healthy: true }, { address: '198.18.0.12', port: 8080, weight: 1, healthy: true }] };
  const metadata = kind === 'VrrpInstance' ? { name: 'web' } : { name: 'web', namespace: 'default' };
  return JSON.stringify({ apiVersion: 'kubelived.io/v1alpha1', kind, metadata, status: { nodes: [entry] } });
}

async function applyStatus(body: string, manager: string, as: Identity): Promise<void> {
  await c().kubectl(['apply', '--server-side', '--subresource=status', `--field-manager=${manager}`, '-f', '-'], { input: body, as });
}

test('each agent owns its own status.nodes entry: entries from n1 and n2 merge and survive each other\'s updates', async () => {
  for (const kind of ['VrrpInstance', 'VirtualServer'] as const) {
    const ref = kind === 'VrrpInstance' ? ['vrrpinstance', 'web'] : ['virtualserver', 'web', '-n', 'default'];
    const states = async (): Promise<Record<string, unknown>> => {
      const nodes = ((await getJson(ref)).status as { nodes: { node: string; state: string }[] }).nodes;
      return Object.fromEntries(nodes.map((n) => [n.node, n.state]));
    };
    await applyStatus(agentStatus(kind, 'n1', 'MASTER'), 'kubelived-agent/n1', 'agent');
    await applyStatus(agentStatus(kind, 'n2', 'BACKUP'), 'kubelived-agent/n2', 'agent');
    assert.deepEqual(await states(), { n1: 'MASTER', n2: 'BACKUP' }, kind);
    // A takeover: each agent re-applies only its own entry; neither erases the other's.
    await applyStatus(agentStatus(kind, 'n2', 'MASTER'), 'kubelived-agent/n2', 'agent');
    await applyStatus(agentStatus(kind, 'n1', 'BACKUP'), 'kubelived-agent/n1', 'agent');
    assert.deepEqual(await states(), { n1: 'BACKUP', n2: 'MASTER' }, kind);
    const managers = ((await getJson([...ref, '--show-managed-fields'])).metadata as { managedFields: { manager: string; subresource?: string }[] }).managedFields
      .filter((f) => f.subresource === 'status').map((f) => f.manager).sort();
    assert.deepEqual(managers, ['kubelived-agent/n1', 'kubelived-agent/n2']);
  }
});

test('kubectl get prints the contract\'s columns, filled from spec and the controller\'s status', async () => {
  const condition = { type: 'Ready', status: 'True', reason: 'MasterElected', message: 'n2 holds the VIPs', lastTransitionTime: since };
  await applyStatus(JSON.stringify({ apiVersion: 'kubelived.io/v1alpha1', kind: 'VrrpInstance', metadata: { name: 'web' }, status: { observedGeneration: 1, master: 'n2', nodeCount: 2, conditions: [condition] } }), 'kubelived-controller', 'controller');
  await applyStatus(JSON.stringify({ apiVersion: 'kubelived.io/v1alpha1', kind: 'VirtualServer', metadata: { name: 'web', namespace: 'default' }, status: { observedGeneration: 1, master: 'n2', ready: '2/2', conditions: [condition] } }), 'kubelived-controller', 'controller');

  const vs = table((await c().kubectl(['get', 'vs', '-n', 'default'])).stdout);
  assert.deepEqual(vs[0], ['NAME', 'VIP', 'PORT', 'PROTOCOL', 'SCHEDULER', 'MASTER', 'READY', 'AGE']);
  assert.deepEqual(vs[1]?.slice(0, -1), ['web', '198.18.0.100', '80', 'TCP', 'wrr', 'n2', '2/2']);
  assert.match(vs[1]?.at(-1) ?? '', /^\d+[smhd]/);

  const vri = table((await c().kubectl(['get', 'vri'])).stdout);
  assert.deepEqual(vri[0], ['NAME', 'VRID', 'VIPS', 'MASTER', 'NODES', 'AGE']);
  assert.deepEqual(vri[1]?.slice(0, -1), ['web', '51', '["198.18.0.100/24","198.18.0.101/24"]', 'n2', '2']);

  // The agents' entries are still there beside the controller's fields.
  const status = (await getJson(['vrrpinstance', 'web'])).status as { nodes: unknown[] };
  assert.equal(status.nodes.length, 2);
});

/** [identity, verb, resource, namespace or '' for cluster-wide / all namespaces, allowed]. */
const ACCESS: [Identity, string, string, string, boolean][] = [
  ['agent', 'watch', 'vrrpinstances.kubelived.io', '', true],
  ['agent', 'list', 'virtualservers.kubelived.io', '', true],
  ['agent', 'patch', 'virtualservers.kubelived.io/status', 'default', true],
  ['agent', 'patch', 'virtualservers.kubelived.io', 'default', false],
  ['agent', 'update', 'vrrpinstances.kubelived.io/status', '', false],
  ['agent', 'watch', 'nodes', '', true],
  ['agent', 'update', 'nodes', '', false],
  ['agent', 'watch', 'endpointslices.discovery.k8s.io', '', true],
  ['agent', 'get', 'services', 'shop', true],
  ['agent', 'get', 'secrets', 'kubelived-system', true],
  ['agent', 'get', 'secrets', 'default', false],
  ['agent', 'update', 'leases.coordination.k8s.io', 'kubelived-system', true],
  ['agent', 'update', 'leases.coordination.k8s.io', 'default', false],
  ['agent', 'create', 'events', 'default', true],
  ['agent', 'get', 'daemonsets.apps', 'kubelived-system', false],
  ['controller', 'watch', 'virtualservers.kubelived.io', '', true],
  ['controller', 'update', 'vrrpinstances.kubelived.io/status', '', true],
  ['controller', 'patch', 'vrrpinstances.kubelived.io', '', false],
  ['controller', 'delete', 'virtualservers.kubelived.io', 'default', false],
  ['controller', 'list', 'nodes', '', true],
  ['controller', 'create', 'daemonsets.apps', 'kubelived-system', true],
  ['controller', 'delete', 'daemonsets.apps', 'kubelived-system', true],
  ['controller', 'create', 'daemonsets.apps', 'default', false],
  ['controller', 'create', 'leases.coordination.k8s.io', 'kubelived-system', true],
  ['controller', 'get', 'secrets', 'kubelived-system', false],
  ['controller', 'list', 'endpointslices.discovery.k8s.io', '', false],
  ['controller', 'patch', 'events', 'shop', true],
  ['nobody', 'list', 'vrrpinstances.kubelived.io', '', false],
];

test('each process has exactly the access it needs', async () => {
  const wrong: string[] = [];
  for (const [as, verb, resource, ns, allowed] of ACCESS) {
    const scope = ns ? ['-n', ns] : ['--all-namespaces'];
    const [name = '', subresource] = resource.split('/');
    const sub = subresource ? [`--subresource=${subresource}`] : [];
    const r = await c().kubectl(['auth', 'can-i', verb, name, ...sub, ...scope], { as, allowFail: true });
    const answer = r.stdout.trim();
    if (answer !== (allowed ? 'yes' : 'no')) wrong.push(`${as} ${verb} ${resource} ${ns || '(all)'}: ${answer} ${r.stderr.trim()}`);
  }
  assert.deepEqual(wrong, []);
});
