// API objects -> the ResourceSet one node runs: selection by the Node's labels, one invalid
// object skipped (its last valid version kept) without blocking the others, conflicts, Secrets,
// backendRefs, unicastPeers [auto] from the Nodes, and rebuilds that keep unchanged resources as
// the same objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { plansForNode } from '../../../src/agent/desired.ts';
import { KubeResources } from '../../../src/agent/kube-resources.ts';
import type { ApiObject, KubeView } from '../../../src/agent/kube-resources.ts';
import { validate } from '../../../src/controller/validation.ts';

interface Logged {
  level: number;
  msg: string;
  object?: string;
  problem?: string;
}

function logger(): { log: pino.Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Logged); } });
  return { log, lines };
}

let uid = 0;
function instance(name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}): ApiObject {
  return {
    apiVersion: 'kubelived.io/v1alpha1', kind: 'VrrpInstance',
    metadata: { name, uid: `u-${name}`, generation: 1, resourceVersion: String(++uid), creationTimestamp: '2026-01-01T00:00:00Z', ...meta },
    spec: { vrid: 51, interface: 'eth0', virtualIPs: ['198.18.0.100/24'], ...spec },
  };
}

function server(name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}): ApiObject {
  return {
    apiVersion: 'kubelived.io/v1alpha1', kind: 'VirtualServer',
    metadata: { name, namespace: 'shop', uid: `u-vs-${name}`, generation: 1, resourceVersion: String(++uid), creationTimestamp: '2026-01-01T00:00:00Z', ...meta },
    spec: { vrrpInstanceRef: 'vi', virtualIP: '198.18.0.100', port: 80, realServers: [{ address: '10.0.0.1' }], ...spec },
  };
}

function secret(name: string, data: Record<string, string>, namespace = 'kubelived-system'): ApiObject {
  return {
    apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, resourceVersion: String(++uid) },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

class View implements KubeView {
  node = 'n1';
  labels: Record<string, string> = { 'kubernetes.io/hostname': 'n1' };
  nodeList: ApiObject[] = [];
  namespace = 'kubelived-system';
  vri: ApiObject[] = [];
  vs: ApiObject[] = [];
  sec: ApiObject[] = [];
  svc: ApiObject[] = [];
  slices: ApiObject[] = [];
  nodes(): ApiObject[] { return this.nodeList; }
  vrrpInstances(): ApiObject[] { return this.vri; }
  virtualServers(): ApiObject[] { return this.vs; }
  secrets(): ApiObject[] { return this.sec; }
  service(namespace: string, name: string): ApiObject | undefined {
    return this.svc.find((s) => s.metadata.namespace === namespace && s.metadata.name === name);
  }
  endpointSlices(namespace: string, service: string): ApiObject[] {
    return this.slices.filter((s) => s.metadata.namespace === namespace && s.metadata.labels?.['kubernetes.io/service-name'] === service);
  }
}

test('selects the instances whose nodeSelector matches the node, and their VirtualServers only', () => {
  const { log, lines } = logger();
  const view = new View();
  view.vri = [
    instance('vi', {}),
    instance('edge', { vrid: 52, virtualIPs: ['198.18.0.101/24'], nodeSelector: { matchLabels: { role: 'edge' } } }),
    // Invalid, but not this node's: not this agent's to judge or log.
    instance('other', { vrid: 0, nodeSelector: { matchLabels: { role: 'edge' } } }),
  ];
  view.vs = [server('web', {}), server('edge-web', { vrrpInstanceRef: 'edge', virtualIP: '198.18.0.101' })];
  const r = new KubeResources(log);
  let set = r.build(view);
  assert.deepEqual(set.vrrpInstances.map((i) => i.name), ['vi']);
  assert.deepEqual(set.virtualServers.map((v) => v.name), ['web']);
  assert.equal(lines.length, 0, JSON.stringify(lines));
  view.labels = { ...view.labels, role: 'edge' };
  set = r.build(view);
  assert.deepEqual(set.vrrpInstances.map((i) => i.name), ['edge', 'vi']);
  assert.deepEqual(set.virtualServers.map((v) => v.name).sort(), ['edge-web', 'web']);
  assert.match(lines.map((l) => l.msg).join('\n'), /VrrpInstance\/other skipped: .*spec\.vrid: must be an integer from 1 to 255, got 0/);
});

test('an invalid change keeps the last valid version running, logs once naming object and field, and blocks nothing else', () => {
  const { log, lines } = logger();
  const view = new View();
  view.vri = [instance('vi', { priority: 120 }), instance('vi2', { vrid: 52, virtualIPs: ['198.18.0.102/24'] })];
  view.vs = [server('web', {}), server('api', { port: 8080 })];
  const r = new KubeResources(log);
  const first = r.build(view);
  assert.equal(first.vrrpInstances.find((i) => i.name === 'vi')?.spec.priority, 120);

  view.vri = [instance('vi', { priority: 300 }, { generation: 2 }), instance('vi2', { vrid: 52, virtualIPs: ['198.18.0.102/24'], priority: 50 }, { generation: 2 })];
  view.vs = [server('web', { port: 0 }, { generation: 2 }), server('api', { port: 8081 }, { generation: 2 })];
  const second = r.build(view);
  assert.equal(second.vrrpInstances.find((i) => i.name === 'vi')?.spec.priority, 120, 'the last valid version keeps running');
  assert.equal(second.vrrpInstances.find((i) => i.name === 'vi2')?.spec.priority, 50, 'the valid change of another instance applies');
  assert.equal(second.virtualServers.find((v) => v.name === 'web')?.spec.key.port, 80);
  assert.equal(second.virtualServers.find((v) => v.name === 'api')?.spec.key.port, 8081);
  const warnings = lines.filter((l) => l.level === 40);
  assert.equal(warnings.length, 2, JSON.stringify(lines));
  assert.match(warnings[0]?.msg ?? '', /^VrrpInstance\/vi skipped: VrrpInstance\/vi \(generation 2\): spec\.priority: must be an integer from 1 to 255, got 300; its last valid version keeps running$/);
  assert.match(warnings[1]?.msg ?? '', /VirtualServer\/shop\/web \(generation 2\): spec\.port: must be an integer from 1 to 65535, got 0/);

  r.build(view);
  assert.equal(lines.filter((l) => l.level === 40).length, 2, 'logged once, not on every rebuild');

  view.vri = [instance('vi', { priority: 130 }, { generation: 3 }), view.vri[1] as ApiObject];
  const third = r.build(view);
  assert.equal(third.vrrpInstances.find((i) => i.name === 'vi')?.spec.priority, 130);
  assert.ok(lines.some((l) => l.msg === 'VrrpInstance/vi is valid again'));
});

test('an object invalid from the start runs nowhere', () => {
  const { log } = logger();
  const view = new View();
  view.vri = [instance('vi', { virtualIPs: ['198.18.0.1/33'] })];
  view.vs = [server('web', {})];
  const set = new KubeResources(log).build(view);
  assert.deepEqual(set.vrrpInstances, []);
  assert.deepEqual(set.virtualServers, [], 'its VirtualServers have no instance here');
});

test('status writes (same generation) and unrelated objects keep every resource the same object', () => {
  const { log } = logger();
  const view = new View();
  view.vri = [instance('vi', {})];
  view.vs = [server('web', {}), server('api', { port: 8080 })];
  const r = new KubeResources(log);
  const a = r.build(view);
  view.vri = [{ ...(view.vri[0] as ApiObject), metadata: { ...(view.vri[0] as ApiObject).metadata, resourceVersion: '999' }, status: { nodes: [] } }];
  view.vs = [view.vs[0] as ApiObject, server('api', { port: 8081 }, { generation: 2 })];
  const b = r.build(view);
  assert.equal(b.vrrpInstances[0], a.vrrpInstances[0]);
  assert.equal(b.virtualServers.find((v) => v.name === 'web'), a.virtualServers.find((v) => v.name === 'web'));
  assert.notEqual(b.virtualServers.find((v) => v.name === 'api'), a.virtualServers.find((v) => v.name === 'api'));
});

test('two instances on one segment: the older one runs, the newer is skipped', () => {
  const { log, lines } = logger();
  const view = new View();
  view.vri = [
    instance('young', { virtualIPs: ['198.18.0.101/24'] }, { creationTimestamp: '2026-02-01T00:00:00Z' }),
    instance('old', {}, { creationTimestamp: '2026-01-01T00:00:00Z' }),
  ];
  const r = new KubeResources(log);
  const set = r.build(view);
  assert.deepEqual(set.vrrpInstances.map((i) => i.name), ['old']);
  assert.match(lines[0]?.msg ?? '', /VrrpInstance\/young: spec\.vrid: VRID 51 is already used by VrrpInstance\/old/);
  r.build(view);
  assert.equal(lines.length, 1, 'a rebuild says nothing new');
});

test('two VirtualServers naming one service: the older one runs', () => {
  const { log, lines } = logger();
  const view = new View();
  view.vri = [instance('vi', {})];
  view.vs = [server('b', {}, { creationTimestamp: '2026-03-01T00:00:00Z' }), server('a', {}, { creationTimestamp: '2026-02-01T00:00:00Z' })];
  const r = new KubeResources(log);
  const set = r.build(view);
  assert.deepEqual(set.virtualServers.map((v) => v.name), ['a']);
  assert.match(lines[0]?.msg ?? '', /VirtualServer\/shop\/b: spec\.port: the service TCP 198\.18\.0\.100:80 is already defined by VirtualServer\/shop\/a/);
  r.build(view);
  assert.equal(lines.length, 1, 'a rebuild says nothing new');
});

test('VRRPv2 passwords come from Secrets of the agent namespace; a missing key keeps the last working pair', () => {
  const { log, lines } = logger();
  const view = new View();
  const auth = (namespace: string): Record<string, unknown> => ({ version: 2, authentication: { type: 'PASS', secretRef: { namespace, name: 'vrrp', key: 'password' } } });
  view.vri = [instance('vi', auth('kubelived-system'))];
  view.sec = [secret('vrrp', { password: 'pw1' })];
  const r = new KubeResources(log);
  let set = r.build(view);
  assert.deepEqual(set.vrrpInstances.map((i) => i.name), ['vi']);
  assert.equal(set.secrets[0]?.data.password?.toString(), 'pw1');

  view.sec = [secret('vrrp', { other: 'x' })];
  set = r.build(view);
  assert.deepEqual(set.vrrpInstances.map((i) => i.name), ['vi']);
  assert.equal(set.secrets[0]?.data.password?.toString(), 'pw1', 'the Secret version the instance was valid with');
  assert.match(lines.at(-1)?.msg ?? '', /Secret kubelived-system\/vrrp has no key password; its last valid version keeps running/);

  const other = new KubeResources(log).build(Object.assign(new View(), { vri: [instance('vi', auth('default'))], sec: [secret('vrrp', { password: 'pw' }, 'default')] }));
  assert.deepEqual(other.vrrpInstances, []);
  assert.match(lines.at(-1)?.msg ?? '', /secretRef\.namespace: the agent reads Secrets only in its own namespace kubelived-system, not default/);
});

test('a backendRef gets the ready endpoints; a Service without the port is skipped until fixed', () => {
  const { log, lines } = logger();
  const view = new View();
  view.vri = [instance('vi', {})];
  view.vs = [server('web', { realServers: undefined, backendRef: { name: 'web', port: 'http' } })];
  view.svc = [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop', resourceVersion: '1' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } }];
  const slice = (rv: string, addresses: string[]): ApiObject => ({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { name: 'web-x', namespace: 'shop', resourceVersion: rv, labels: { 'kubernetes.io/service-name': 'web' } },
    ports: [{ name: 'http', port: 8080 }], endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
  });
  view.slices = [slice('1', ['10.1.0.1', '10.1.0.2'])];
  const r = new KubeResources(log);
  const a = r.build(view);
  assert.deepEqual(a.virtualServers[0]?.spec.realServers.map((s) => `${s.address}:${s.port}`), ['10.1.0.1:8080', '10.1.0.2:8080']);
  assert.equal(r.build(view).virtualServers[0], a.virtualServers[0], 'unchanged endpoints: the same object');
  view.slices = [slice('2', ['10.1.0.2'])];
  assert.deepEqual(r.build(view).virtualServers[0]?.spec.realServers.map((s) => s.address), ['10.1.0.2']);
  view.svc = [{ ...(view.svc[0] as ApiObject), metadata: { name: 'web', namespace: 'shop', resourceVersion: '2' }, spec: { ports: [{ name: 'grpc', port: 81 }] } }];
  assert.deepEqual(r.build(view).virtualServers[0]?.spec.realServers.map((s) => s.address), ['10.1.0.2'], 'last valid version');
  assert.match(lines.at(-1)?.msg ?? '', /VirtualServer\/shop\/web: spec\.backendRef\.port: Service shop\/web has no port named http/);
});

test('deleting an object removes it, and its last valid version with it', () => {
  const { log } = logger();
  const view = new View();
  view.vri = [instance('vi', {})];
  view.vs = [server('web', {})];
  const r = new KubeResources(log);
  r.build(view);
  view.vs = [server('web', { port: 0 }, { generation: 2 })];
  assert.equal(r.build(view).virtualServers.length, 1);
  view.vs = [];
  assert.equal(r.build(view).virtualServers.length, 0);
  view.vs = [server('web', { port: 0 }, { uid: 'new', generation: 1 })];
  assert.equal(r.build(view).virtualServers.length, 0, 'a re-created invalid object has no last valid version');
});

test('a VirtualServer of a namespace the instance does not allow does not run, and is logged', () => {
  const { log, lines } = logger();
  const view = new View();
  view.vri = [instance('vi', { allowedNamespaces: ['web'] })];
  view.vs = [server('web', {})];
  assert.deepEqual(new KubeResources(log).build(view).virtualServers, []);
  assert.match(lines[0]?.msg ?? '', /VrrpInstance\/vi does not allow VirtualServers of namespace shop \(spec\.allowedNamespaces\)/);
});

test('a virtual IP belongs to the oldest instance listing it, also when that one runs on other nodes only', () => {
  const { log, lines } = logger();
  const view = new View();
  view.vri = [
    instance('young', { vrid: 52, virtualIPs: ['198.18.0.101/24', '198.18.0.100/32'] }, { creationTimestamp: '2026-02-01T00:00:00Z' }),
    instance('edge', { vrid: 51, virtualIPs: ['198.18.0.100/24'], nodeSelector: { matchLabels: { role: 'edge' } } }, { creationTimestamp: '2026-01-01T00:00:00Z' }),
    // young runs nowhere, so it owns 198.18.0.101 nowhere either.
    instance('later', { vrid: 53, virtualIPs: ['198.18.0.101/24'] }, { creationTimestamp: '2026-03-01T00:00:00Z' }),
  ];
  const r = new KubeResources(log);
  assert.deepEqual(r.build(view).vrrpInstances.map((i) => i.name), ['later']);
  assert.deepEqual(lines.map((l) => l.msg), [
    'VrrpInstance/young skipped: VrrpInstance/young: spec.virtualIPs: virtual IP 198.18.0.100 already belongs to VrrpInstance/edge: one address, one owner',
  ], 'nothing is said about edge: it is not this node\'s');
  r.build(view);
  assert.equal(lines.length, 1, 'a rebuild says nothing new');

  // The owner is deleted: young, older than later, takes 198.18.0.101 back.
  view.vri = view.vri.filter((o) => o.metadata.name !== 'edge');
  assert.deepEqual(r.build(view).vrrpInstances.map((i) => i.name), ['young']);
  assert.match(lines.at(-1)?.msg ?? '', /^VrrpInstance\/later skipped: .*virtual IP 198\.18\.0\.101 already belongs to VrrpInstance\/young/);
});

test('the agent runs exactly what the controller accepts for its node, ties on creationTimestamp included', () => {
  const at = (s: number): { creationTimestamp: string } => ({ creationTimestamp: `2026-01-01T00:00:0${s}Z` });
  const view = new View();
  view.vri = [
    instance('b', { vrid: 1, virtualIPs: ['198.18.0.100/24'] }, at(0)),
    instance('a', { vrid: 2, virtualIPs: ['198.18.0.100/24'] }, at(0)), // created with b: the name decides
    instance('c', { vrid: 2, virtualIPs: ['198.18.0.110/24'] }, at(1)), // VRID of a: owns no VIP
    instance('d', { vrid: 3, virtualIPs: ['198.18.0.110/24'] }, at(2)),
    instance('e', { vrid: 4, virtualIPs: ['198.18.0.120/24'], nodeSelector: { matchLabels: { role: 'edge' } } }, at(0)),
    instance('f', { vrid: 5, virtualIPs: ['198.18.0.120/24'] }, at(3)),
  ];
  // One kernel service, two VirtualServers created together: namespace a sorts before a-b
  // (though "a-b/y" sorts before "a/x").
  view.vs = [
    server('y', { vrrpInstanceRef: 'a' }, { namespace: 'a-b', ...at(4) }),
    server('x', { vrrpInstanceRef: 'a' }, { namespace: 'a', ...at(4) }),
  ];
  const set = new KubeResources(logger().log).build(view);
  const verdicts = validate(view.vri, view.vs, [{ metadata: { name: 'n1', labels: view.labels } }]);
  const accepted = [...verdicts.instances].filter(([, v]) => v.accepted && v.nodes.includes('n1')).map(([name]) => name).sort();
  assert.deepEqual(set.vrrpInstances.map((i) => i.name), accepted);
  assert.deepEqual(accepted, ['a', 'd']);
  const servers = [...verdicts.servers].filter(([, v]) => v.accepted).map(([key]) => key);
  assert.deepEqual(set.virtualServers.map((v) => `${v.namespace}/${v.name}`), servers);
  assert.deepEqual(servers, ['a/x']);
});

function node(name: string, addresses: string[], labels: Record<string, string> = {}, resourceVersion = '1'): ApiObject {
  return {
    apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels }, resourceVersion },
    status: { addresses: addresses.map((address) => ({ type: 'InternalIP', address })) },
  };
}

test('unicastPeers [auto]: the other selected Nodes\' InternalIPs, following the Nodes, the same object while they stay', () => {
  const { log, lines } = logger();
  const view = new View();
  view.labels = { 'kubernetes.io/hostname': 'n1', role: 'lb' };
  view.vri = [
    instance('vi', { unicastPeers: ['auto'], nodeSelector: { matchLabels: { role: 'lb' } } }),
    instance('mc', { vrid: 52, virtualIPs: ['198.18.0.101/24'] }),
  ];
  view.nodeList = [node('n1', ['198.18.0.11'], { role: 'lb' }), node('n3', ['198.18.0.13'], { role: 'lb' }), node('n2', ['198.18.0.12'], { role: 'lb' })];
  const r = new KubeResources(log);
  const a = r.build(view);
  assert.deepEqual(a.vrrpInstances.map((i) => [i.name, i.autoPeers]), [['mc', undefined], ['vi', ['198.18.0.12', '198.18.0.13']]]);
  const plan = plansForNode(a, { name: 'n1', labels: view.labels }, () => true).find((p) => p.name === 'vi');
  assert.deepEqual([plan?.unicast, plan?.unicastPeers], [true, ['198.18.0.12', '198.18.0.13']]);
  assert.deepEqual(lines.map((l) => l.msg), ['VrrpInstance/vi: unicast peers (auto): 198.18.0.12, 198.18.0.13']);

  // A Node neither selected nor changing a peer, or a peer's status heartbeat: nothing changes.
  view.nodeList = [...view.nodeList, node('w1', ['198.18.0.21'], { role: 'worker' })];
  view.nodeList[1] = node('n3', ['198.18.0.13'], { role: 'lb' }, '2');
  const b = r.build(view);
  assert.equal(b.vrrpInstances[1], a.vrrpInstances[1]);

  // Relabelled into the selection, readdressed, deleted: each changes the peers.
  view.nodeList[3] = node('w1', ['198.18.0.21'], { role: 'lb' }, '2');
  assert.deepEqual(r.build(view).vrrpInstances[1]?.autoPeers, ['198.18.0.12', '198.18.0.13', '198.18.0.21']);
  view.nodeList[1] = node('n3', ['198.18.0.3'], { role: 'lb' }, '3');
  assert.deepEqual(r.build(view).vrrpInstances[1]?.autoPeers, ['198.18.0.3', '198.18.0.12', '198.18.0.21']);
  view.nodeList = view.nodeList.filter((n) => n.metadata.name !== 'n2');
  const c = r.build(view);
  assert.deepEqual(c.vrrpInstances[1]?.autoPeers, ['198.18.0.3', '198.18.0.21']);
  assert.equal(c.vrrpInstances[0], a.vrrpInstances[0], 'a multicast instance is not touched');
  assert.equal(lines.length, 4, 'one line per change of peers');
});

test('unicastPeers [auto] alone: unicast with no peers, not multicast; a Node without an InternalIP of the family is logged once', () => {
  const { log, lines } = logger();
  const view = new View();
  view.vri = [instance('v6', { virtualIPs: ['2001:2::100/64'], unicastPeers: ['auto'] })];
  view.nodeList = [node('n1', ['198.18.0.11', '2001:2::11']), node('n2', ['198.18.0.12'])];
  const r = new KubeResources(log);
  const set = r.build(view);
  assert.deepEqual(set.vrrpInstances[0]?.autoPeers, []);
  const [plan] = plansForNode(set, { name: 'n1', labels: view.labels }, () => true);
  assert.deepEqual([plan?.unicast, plan?.unicastPeers], [true, []]);
  assert.deepEqual(lines.map((l) => [l.level, l.msg]), [
    [40, 'Node n2 has no IPv6 InternalIP: it is not a unicast peer of VrrpInstance/v6 (spec.unicastPeers: [auto])'],
    [30, 'VrrpInstance/v6: unicast peers (auto): none, no other selected Node has an IPv6 InternalIP; it runs alone (master, no adverts) until one does'],
  ]);
  assert.equal(r.build(view).vrrpInstances[0], set.vrrpInstances[0]);
  assert.equal(lines.length, 2, 'a rebuild says nothing new');

  // n2 becomes dual-stack: it is a peer; losing its address again is logged again.
  view.nodeList[1] = node('n2', ['198.18.0.12', '2001:2::12'], {}, '2');
  assert.deepEqual(r.build(view).vrrpInstances[0]?.autoPeers, ['2001:2::12']);
  view.nodeList[1] = node('n2', ['198.18.0.12'], {}, '3');
  assert.deepEqual(r.build(view).vrrpInstances[0]?.autoPeers, []);
  assert.equal(lines.filter((l) => l.level === 40).length, 2);
});

test('unicastPeers [auto] of an instance kept at its last valid version is resolved too', () => {
  const { log } = logger();
  const view = new View();
  view.vri = [instance('vi', { unicastPeers: ['auto'] })];
  view.nodeList = [node('n1', ['198.18.0.11']), node('n2', ['198.18.0.12'])];
  const r = new KubeResources(log);
  r.build(view);
  view.vri = [instance('vi', { unicastPeers: ['auto', '198.18.0.13'] }, { generation: 2 })];
  view.nodeList = [...view.nodeList, node('n3', ['198.18.0.13'])];
  const set = r.build(view);
  assert.equal(set.vrrpInstances[0]?.spec.unicastPeers, 'auto');
  assert.deepEqual(set.vrrpInstances[0]?.autoPeers, ['198.18.0.12', '198.18.0.13']);
});
