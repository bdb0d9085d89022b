// The cluster tier's control plane itself: a real kube-apiserver with real RBAC, reachable from
// the lab's nodes and nowhere else, whose data survives a restart and which leaves nothing
// behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startTestCluster } from './lib/cluster.ts';
import type { TestCluster } from './lib/cluster.ts';
import { harnessBinary } from './lib/harness.ts';
import { pidAlive, run } from '../lab/run.ts';

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

interface NodeList {
  items: { metadata: { name: string; labels: Record<string, string> }; status: { addresses: { type: string; address: string }[] } }[];
}

test('admin sees the lab nodes registered with their InternalIP and hostname labels', async () => {
  const { stdout } = await c().kubectl(['get', 'nodes', '-o', 'json']);
  const nodes = (JSON.parse(stdout) as NodeList).items;
  assert.deepEqual(
    nodes.map((n) => ({
      name: n.metadata.name,
      hostname: n.metadata.labels['kubernetes.io/hostname'],
      internalIP: n.status.addresses.find((a) => a.type === 'InternalIP')?.address,
    })),
    c().lab.nodes.map((n) => ({ name: n.name, hostname: n.name, internalIP: n.ipv4 })),
  );
  const { stdout: ns } = await c().kubectl(['get', 'namespace', 'kubelived-system', '-o', 'jsonpath={.status.phase}']);
  assert.equal(ns, 'Active');
});

test('kubectl and the API server are the same real Kubernetes release', async () => {
  const { stdout } = await c().kubectl(['version', '-o', 'json']);
  const v = JSON.parse(stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
  assert.match(v.serverVersion.gitVersion, /^v1\.\d+\.\d+$/);
  assert.equal(v.clientVersion.gitVersion, v.serverVersion.gitVersion);
});

test('tokens authenticate as the chart ServiceAccounts', async () => {
  const whoami = async (as: 'controller' | 'agent'): Promise<{ username: string; groups: string[] }> => {
    const { stdout } = await c().kubectl(['auth', 'whoami', '-o', 'json'], { as });
    return (JSON.parse(stdout) as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
  };
  for (const as of ['controller', 'agent'] as const) {
    const u = await whoami(as);
    assert.equal(u.username, `system:serviceaccount:kubelived-system:kubelived-${as}`);
    assert.deepEqual([...u.groups].sort(), ['system:authenticated', 'system:serviceaccounts', 'system:serviceaccounts:kubelived-system']);
  }
});

test('RBAC is enforced: nobody is forbidden what admin may do', async () => {
  const canI = await c().kubectl(['auth', 'can-i', 'list', 'nodes'], { as: 'nobody', allowFail: true });
  assert.equal(canI.stdout.trim(), 'no');
  assert.notEqual(canI.code, 0);
  const get = await c().kubectl(['get', 'configmaps', '-n', 'kubelived-system'], { as: 'nobody', allowFail: true });
  assert.notEqual(get.code, 0);
  assert.match(get.stderr, /Forbidden.*User "nobody" cannot list resource "configmaps"/);
  const admin = await c().kubectl(['auth', 'can-i', 'list', 'nodes']);
  assert.equal(admin.stdout.trim(), 'yes');
});

test('Service IPs come from inside the lab range and the kubernetes Service points at the lab address', async () => {
  const { stdout: ip } = await c().kubectl(['get', 'service', 'kubernetes', '-n', 'default', '-o', 'jsonpath={.spec.clusterIP}']);
  assert.match(ip, /^198\.19\.0\.\d+$/);
  const { stdout: eps } = await c().kubectl(['get', 'endpointslices', '-n', 'default', '-l', 'kubernetes.io/service-name=kubernetes', '-o', 'jsonpath={.items[*].endpoints[*].addresses[*]}']);
  assert.equal(eps, c().lab.client.ipv4);
});

test('a lab node reaches the API server with the agent kubeconfig', async () => {
  const [n1] = c().lab.nodes;
  assert.ok(n1);
  const r = await c().lab.exec(n1.netns, ['env', 'KUBERC=off', `KUBECACHEDIR=${c().dir}/kubectl-cache-n1`, harnessBinary(), 'kubectl', '--kubeconfig', c().kubeconfig.agent, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
  assert.equal(r.stdout, 'system:serviceaccount:kubelived-system:kubelived-agent');
});

test('nothing listens outside the lab address and loopback', async () => {
  const lab = c().lab;
  const { stdout } = await lab.exec(lab.client.netns, ['ss', '-Hltn']);
  const locals = stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)[3] ?? '');
  assert.ok(locals.includes(`${lab.client.ipv4}:6443`), `API server on ${lab.client.ipv4}:6443; listeners: ${locals.join(' ')}`);
  for (const addr of locals) assert.match(addr, /^(198\.18\.0\.2|127\.0\.0\.1|\[::1\]):\d+$/, `listener ${addr} in ${lab.client.netns}`);
  // Our processes' sockets all live in the lab namespace: none shows up in the root namespace.
  const pids = (await lab.exec(lab.client.netns, ['ip', 'netns', 'pids', lab.client.netns])).stdout.split(/\s+/).filter(Boolean);
  assert.ok(pids.length > 0);
  const root = (await run(['ss', '-Hltnup'])).stdout;
  for (const pid of pids) assert.doesNotMatch(root, new RegExp(`pid=${pid},`), `pid ${pid} listens in the root namespace`);
});

test('a restart keeps the data: a ConfigMap written before stop is there after start', async () => {
  await c().kubectl(['create', 'configmap', 'survivor', '-n', 'kubelived-system', '--from-literal=answer=42']);
  await c().stopApiServer();
  const down = await c().kubectl(['get', 'nodes', '--request-timeout=2s'], { allowFail: true });
  assert.notEqual(down.code, 0);
  assert.match(down.stderr, /connection to the server 198\.18\.0\.2:6443 was refused/);
  await c().startApiServer();
  const { stdout } = await c().kubectl(['get', 'configmap', 'survivor', '-n', 'kubelived-system', '-o', 'jsonpath={.data.answer}']);
  assert.equal(stdout, '42');
  // The credentials survive too: the same kubeconfigs still authenticate.
  const who = await c().kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { as: 'controller' });
  assert.equal(who.stdout, 'system:serviceaccount:kubelived-system:kubelived-controller');
});

test('teardown stops the API server and removes its state dir and namespaces', async (t) => {
  const other = await startTestCluster({ nodes: 1, name: 'teardown' });
  t.after(() => other.teardown());
  const { lab, dir } = other;
  const pids = (await lab.exec(lab.client.netns, ['ip', 'netns', 'pids', lab.client.netns])).stdout.split(/\s+/).filter(Boolean).map(Number);
  assert.ok(pids.length > 0 && existsSync(dir));
  await other.teardown();
  await other.teardown();
  assert.deepEqual(pids.filter((p) => pidAlive(p)), []);
  assert.equal(existsSync(dir), false);
  const netns = (await run(['ip', 'netns', 'list'])).stdout;
  assert.doesNotMatch(netns, new RegExp(`^${lab.id}-`, 'm'));
});
