// VrrpInstance rules added for the Kubernetes control plane: allowedNamespaces, one priority
// override per node, and unicastPeers [auto].
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResources, readVrrpInstance } from '../../../src/api/documents.ts';
import { ConfigError } from '../../../src/api/issues.ts';
import { allowsNamespace } from '../../../src/api/vrrp-instance.ts';
import type { VrrpInstance } from '../../../src/api/vrrp-instance.ts';

function instance(extra: string): VrrpInstance {
  const doc = `apiVersion: kubelived.io/v1alpha1\nkind: VrrpInstance\nmetadata: { name: vi }\nspec:\n  vrid: 1\n  virtualIPs: ["198.18.0.100"]\n${extra.replace(/^/gm, '  ')}\n`;
  const inst = parseResources(doc, 'f.yaml').vrrpInstances[0];
  assert.ok(inst);
  return inst;
}

function issuesOf(extra: string): { field: string; message: string }[] {
  try {
    instance(extra);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.issues.map(({ field, message }) => ({ field, message }));
  }
  assert.fail('accepted');
}

test('allowedNamespaces: every namespace by default, "*" alone, or a list of names', () => {
  const all = instance('');
  assert.deepEqual(all.spec.allowedNamespaces, ['*']);
  assert.equal(allowsNamespace(all.spec, 'anything'), true);
  assert.equal(allowsNamespace(instance('allowedNamespaces: ["*"]').spec, 'shop'), true);
  const some = instance('allowedNamespaces: [shop, web-1]');
  assert.deepEqual(some.spec.allowedNamespaces, ['shop', 'web-1']);
  assert.equal(allowsNamespace(some.spec, 'web-1'), true);
  assert.equal(allowsNamespace(some.spec, 'default'), false);
});

test('allowedNamespaces: bad lists are refused naming the entry', () => {
  assert.deepEqual(issuesOf('allowedNamespaces: []'), [{ field: 'spec.allowedNamespaces', message: 'must list at least one namespace, or "*" for every namespace (leave it out to allow all)' }]);
  assert.deepEqual(issuesOf('allowedNamespaces: ["*", shop]'), [{ field: 'spec.allowedNamespaces', message: '"*" allows every namespace: list it alone' }]);
  assert.deepEqual(issuesOf('allowedNamespaces: [shop, Shop]'), [{ field: 'spec.allowedNamespaces[1]', message: 'must be a namespace name or "*", got "Shop"' }]);
  assert.deepEqual(issuesOf('allowedNamespaces: [shop, shop]'), [{ field: 'spec.allowedNamespaces[1]', message: 'duplicate namespace shop' }]);
  assert.deepEqual(issuesOf(`allowedNamespaces: [${'a'.repeat(64)}]`).map((i) => i.field), ['spec.allowedNamespaces[0]']);
  assert.deepEqual(issuesOf('allowedNamespaces: shop'), [{ field: 'spec.allowedNamespaces', message: 'must be a list, got "shop"' }]);
});

test('one priority override per node', () => {
  assert.deepEqual(issuesOf('priorityOverrides: [{ node: n1, priority: 150 }, { node: n2, priority: 120 }, { node: n1, priority: 90 }]'),
    [{ field: 'spec.priorityOverrides[2].node', message: 'duplicate override for node n1' }]);
});

/** A VrrpInstance as the API server holds it, read as the Kubernetes agent and the controller read it. */
function fromCluster(unicastPeers: unknown, virtualIPs = ['198.18.0.100']): ReturnType<typeof readVrrpInstance> {
  return readVrrpInstance({ apiVersion: 'kubelived.io/v1alpha1', kind: 'VrrpInstance', metadata: { name: 'vi' }, spec: { vrid: 1, virtualIPs, unicastPeers } }, 'the cluster');
}

test('unicastPeers: [auto] reads as auto, for either family; a list of addresses as before', () => {
  assert.equal(fromCluster(['auto']).resource?.spec.unicastPeers, 'auto');
  assert.equal(fromCluster(['auto'], ['2001:2::100/64']).resource?.spec.unicastPeers, 'auto');
  assert.deepEqual(fromCluster(['198.18.0.12', '198.18.0.13']).resource?.spec.unicastPeers, ['198.18.0.12', '198.18.0.13']);
  assert.deepEqual(fromCluster([]).resource?.spec.unicastPeers, [], 'multicast');
  assert.equal(fromCluster(['auto']).resource?.autoPeers, undefined, 'resolved only by the Kubernetes agent');
});

test('unicastPeers: "auto" must be alone; other entries must be addresses of the VIPs\' family', () => {
  const alone = '"auto" (the InternalIPs of the selected nodes) must be listed alone, not with addresses';
  const issues = (peers: unknown, vips?: string[]): { field: string; message: string }[] =>
    fromCluster(peers, vips).issues.map(({ field, message }) => ({ field, message }));
  assert.deepEqual(issues(['auto', '198.18.0.12']), [{ field: 'spec.unicastPeers', message: alone }]);
  assert.deepEqual(issues(['198.18.0.12', 'auto']), [{ field: 'spec.unicastPeers', message: alone }]);
  assert.deepEqual(issues(['auto', 'auto']), [{ field: 'spec.unicastPeers', message: alone }]);
  assert.deepEqual(issues(['Auto']), [{ field: 'spec.unicastPeers[0]', message: 'must be an IP address or "auto", got "Auto"' }]);
  assert.deepEqual(issues('auto'), [{ field: 'spec.unicastPeers', message: 'must be a list, got "auto"' }]);
  assert.deepEqual(issues(['2001:2::12']), [{ field: 'spec.unicastPeers[0]', message: 'is IPv6 but the virtualIPs are IPv4' }]);
});

test('the standalone agent refuses unicastPeers [auto], naming the field and why', () => {
  assert.deepEqual(issuesOf('unicastPeers: [auto]'), [{
    field: 'spec.unicastPeers',
    message: '"auto" means the InternalIPs of the selected Nodes, and the standalone agent has no Node objects to read: list the peers\' addresses',
  }]);
  assert.deepEqual(instance('unicastPeers: [198.18.0.12]').spec.unicastPeers, ['198.18.0.12']);
});
