import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containsAll, renderAgentDaemonSet } from '../../../src/controller/daemonset.ts';
import { MAX_HAND_OVER_MS } from '../../../src/agent/messages.ts';

const values = {
  image: 'kubelived:1.2.3',
  nodeSelector: { 'kubernetes.io/os': 'linux' },
  tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists' as const, effect: 'NoSchedule' as const }],
  resources: { requests: { cpu: '50m' } },
};

interface Rendered {
  metadata: { name: string; namespace: string };
  spec: {
    updateStrategy: unknown;
    template: { spec: {
      hostNetwork: boolean; serviceAccountName: string; terminationGracePeriodSeconds: number; nodeSelector: unknown; tolerations: unknown;
      containers: { image: string; args: string[]; env: unknown[]; securityContext: { capabilities: unknown; privileged: boolean } }[];
    } };
  };
}

test('the DaemonSet runs the contract\'s agent command with NET_ADMIN and NET_RAW only, one node at a time', () => {
  const ds = renderAgentDaemonSet(values, 'kubelived-system') as unknown as Rendered;
  assert.deepEqual(ds.metadata, { ...ds.metadata, name: 'kubelived-agent', namespace: 'kubelived-system' });
  assert.deepEqual(ds.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.serviceAccountName, 'kubelived-agent');
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > MAX_HAND_OVER_MS + 3000);
  assert.deepEqual(pod.nodeSelector, values.nodeSelector);
  assert.deepEqual(pod.tolerations, values.tolerations);
  const [c] = pod.containers;
  assert.equal(c?.image, 'kubelived:1.2.3');
  assert.deepEqual(c?.args, ['agent', '--kubernetes', '--node', '$(NODE_NAME)', '--namespace', '$(POD_NAMESPACE)', '--metrics-addr', '0.0.0.0:9641', '--state-dir', '/var/lib/kubelived']);
  assert.deepEqual(c?.securityContext.capabilities, { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] });
  assert.equal(c?.securityContext.privileged, false);
});

test('containsAll: the live object may carry defaults, but every rendered field must be there as rendered', () => {
  const want = { spec: { a: 1, list: [{ name: 'x', v: 'y' }], labels: {}, empty: [] } };
  assert.equal(containsAll({ spec: { a: 1, b: 2, list: [{ name: 'x', v: 'y', defaulted: true }] } }, want), true);
  assert.equal(containsAll({ spec: { a: 2, list: [{ name: 'x', v: 'y' }] } }, want), false);
  assert.equal(containsAll({ spec: { a: 1, list: [{ name: 'x', v: 'y' }, { name: 'extra' }] } }, want), false);
  assert.equal(containsAll({ spec: { a: 1, list: [{ name: 'x' }] } }, want), false);
  // An empty rendered map claims no key: what others put there is theirs.
  assert.equal(containsAll({ spec: { a: 1, list: [{ name: 'x', v: 'y' }], labels: { k: 'v' } } }, want), true);
  assert.equal(containsAll({ spec: { a: 1, list: [{ name: 'x', v: 'y' }], empty: [1] } }, want), false);
  assert.equal(containsAll(undefined, want), false);
  const ds = renderAgentDaemonSet(values, 'ns');
  assert.equal(containsAll(structuredClone(ds), ds), true);
});

test('with an owner the DaemonSet names it as its one owner reference, and an unowned live DaemonSet is re-applied', () => {
  const owner = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'kubelived-controller', uid: '6f1c0d2e-0000-4000-8000-000000000001' };
  const owned = renderAgentDaemonSet(values, 'ns', owner);
  assert.deepEqual((owned.metadata as { ownerReferences?: unknown }).ownerReferences, [owner]);
  const unowned = renderAgentDaemonSet(values, 'ns');
  assert.equal('ownerReferences' in (unowned.metadata as object), false);
  // A DaemonSet created before the controller had an owner gets one on the next pass.
  assert.equal(containsAll(structuredClone(unowned), owned), false);
});
