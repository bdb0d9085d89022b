import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResources, readVrrpInstance } from '../../../src/api/documents.ts';
import { plansForNode } from '../../../src/agent/desired.ts';

const FILE = `
apiVersion: kubelived.io/v1alpha1
kind: VrrpInstance
metadata: { name: web }
spec:
  vrid: 51
  interface: eth0
  virtualIPs: ["198.18.0.100/24"]
  priority: 100
  priorityOverrides: [{ node: n1, priority: 150 }]
  advertisementInterval: 100ms
  tracks: [{ name: app, weight: -20, exec: { command: ["true"] } }]
---
apiVersion: kubelived.io/v1alpha1
kind: VrrpInstance
metadata: { name: edge-only }
spec:
  vrid: 52
  version: 2
  virtualIPs: ["198.18.0.101/24"]
  nodeSelector: { matchLabels: { role: edge } }
  authentication: { type: PASS, secretRef: { name: vrrp, key: password } }
---
apiVersion: v1
kind: Secret
metadata: { name: vrrp }
data: { password: ${Buffer.from('pw').toString('base64')} }
`;

test('per-node priority, selector and secret resolution', () => {
  const set = parseResources(FILE, 'f');
  const n1 = plansForNode(set, { name: 'n1', labels: {} }, () => false);
  assert.deepEqual(n1.map((p) => [p.name, p.priority]), [['web', 150]]);
  assert.equal(n1[0]?.advertIntervalCs, 10);
  assert.deepEqual(n1[0]?.tracks, [{ name: 'app', weight: -20, up: false }]);
  const n2 = plansForNode(set, { name: 'n2', labels: { role: 'edge' } }, () => true);
  assert.deepEqual(n2.map((p) => [p.name, p.priority]), [['web', 100], ['edge-only', 100]]);
  assert.equal(n2[1]?.authPassword, 'pw');
  assert.equal(n2[1]?.advertIntervalCs, 100);
});

test('a missing secret or key is an error naming the reference', () => {
  const noSecret = parseResources(FILE.split('---').slice(0, 2).join('---'), 'f');
  assert.throws(() => plansForNode(noSecret, { name: 'n', labels: { role: 'edge' } }, () => true),
    /VrrpInstance\/edge-only: spec\.authentication\.secretRef: Secret default\/vrrp not found/);
  const wrongKey = parseResources(FILE.replace('password: ', 'pass: '), 'f');
  assert.throws(() => plansForNode(wrongKey, { name: 'n', labels: { role: 'edge' } }, () => true), /has no key password/);
});

test('unicastPeers [auto] needs the Kubernetes source to resolve it: unresolved, no plan is made', () => {
  const read = readVrrpInstance({ apiVersion: 'kubelived.io/v1alpha1', kind: 'VrrpInstance', metadata: { name: 'vi' }, spec: { vrid: 1, virtualIPs: ['198.18.0.100'], unicastPeers: ['auto'] } }, 'test');
  assert.ok(read.resource);
  const set = { vrrpInstances: [read.resource], virtualServers: [], secrets: [] };
  assert.throws(() => plansForNode(set, { name: 'n1', labels: {} }, () => true), /VrrpInstance\/vi: spec\.unicastPeers: "auto" is not resolved/);
  const [plan] = plansForNode({ ...set, vrrpInstances: [{ ...read.resource, autoPeers: ['198.18.0.12'] }] }, { name: 'n1', labels: {} }, () => true);
  assert.deepEqual([plan?.unicast, plan?.unicastPeers], [true, ['198.18.0.12']]);
  const multicast = plansForNode(parseResources(FILE, 'f'), { name: 'n1', labels: {} }, () => true)[0];
  assert.deepEqual([multicast?.unicast, multicast?.unicastPeers], [false, []]);
});
