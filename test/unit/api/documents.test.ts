import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResources } from '../../../src/api/documents.ts';
import { ConfigError } from '../../../src/api/issues.ts';

const GOOD = `
apiVersion: kubelived.io/v1alpha1
kind: VrrpInstance
metadata: { name: vi-51 }
spec:
  vrid: 51
  interface: eth0
  virtualIPs: ["198.18.0.100/24", "198.18.0.101"]
  priority: 100
  priorityOverrides: [{ node: n1, priority: 150 }]
  advertisementInterval: 100ms
  tracks:
    - name: mysql
      weight: -20
      exec: { command: ["test", "-f", "/tmp/ok"], interval: 500ms, fall: 2 }
---
apiVersion: kubelived.io/v1alpha1
kind: VrrpInstance
metadata: { name: vi-v2 }
spec:
  vrid: 52
  version: 2
  virtualIPs: ["198.18.0.102/24"]
  authentication: { type: PASS, secretRef: { name: vrrp, key: password } }
---
apiVersion: v1
kind: Secret
metadata: { name: vrrp }
stringData: { password: s3cret }
`;

test('a valid file yields typed instances with defaults', () => {
  const set = parseResources(GOOD, 'cfg.yaml');
  assert.equal(set.vrrpInstances.length, 2);
  const [a, b] = set.vrrpInstances;
  assert.deepEqual(a?.spec.virtualIPs, [
    { address: '198.18.0.100', prefixLen: 24, family: 4 },
    { address: '198.18.0.101', prefixLen: 32, family: 4 },
  ]);
  assert.equal(a?.spec.version, 3);
  assert.equal(a?.spec.advertisementIntervalMs, 100);
  assert.equal(a?.spec.preempt, true);
  assert.deepEqual(a?.spec.garp, { repeat: 5, delayMs: 5000, refreshMs: 0 });
  assert.deepEqual(a?.spec.tracks[0]?.exec, { command: ['test', '-f', '/tmp/ok'], intervalMs: 500, timeoutMs: 1000, rise: 1, fall: 2 });
  assert.equal(b?.spec.version, 2);
  assert.deepEqual(b?.spec.authentication, { secretRef: { namespace: 'default', name: 'vrrp', key: 'password' } });
  assert.equal(set.secrets[0]?.data.password?.toString(), 's3cret');
});

function vi(spec: string, name = 'bad'): string {
  return `apiVersion: kubelived.io/v1alpha1\nkind: VrrpInstance\nmetadata: { name: ${name} }\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
}

const BAD: [string, string, string, RegExp][] = [
  ['VRID out of range', vi('vrid: 300\nvirtualIPs: ["198.18.0.1"]'), 'spec.vrid', /1 to 255, got 300/],
  ['VRID missing', vi('virtualIPs: ["198.18.0.1"]'), 'spec.vrid', /required/],
  ['bad CIDR', vi('vrid: 1\nvirtualIPs: ["198.18.0.1/33"]'), 'spec.virtualIPs[0]', /CIDR/],
  ['short IPv4 form', vi('vrid: 1\nvirtualIPs: ["10.1"]'), 'spec.virtualIPs[0]', /CIDR/],
  ['no VIPs', vi('vrid: 1\nvirtualIPs: []'), 'spec.virtualIPs', /at least one/],
  ['mixed families', vi('vrid: 1\nvirtualIPs: ["198.18.0.1", "2001:2::1"]'), 'spec.virtualIPs[1]', /one address family/],
  ['duplicate VIP', vi('vrid: 1\nvirtualIPs: ["198.18.0.1", "198.18.0.1/24"]'), 'spec.virtualIPs[1]', /duplicate/],
  ['v2 with IPv6', vi('vrid: 1\nversion: 2\nvirtualIPs: ["2001:2::1"]'), 'spec.version', /IPv4 only/],
  ['v2 sub-second interval', vi('vrid: 1\nversion: 2\nadvertisementInterval: 500ms\nvirtualIPs: ["198.18.0.1"]'), 'spec.advertisementInterval', /between 1000ms/],
  ['v2 fractional seconds', vi('vrid: 1\nversion: 2\nadvertisementInterval: 1500ms\nvirtualIPs: ["198.18.0.1"]'), 'spec.advertisementInterval', /whole seconds/],
  ['v3 not centiseconds', vi('vrid: 1\nadvertisementInterval: 105ms\nvirtualIPs: ["198.18.0.1"]'), 'spec.advertisementInterval', /centiseconds/],
  ['v3 interval too long', vi('vrid: 1\nadvertisementInterval: 41s\nvirtualIPs: ["198.18.0.1"]'), 'spec.advertisementInterval', /40950ms/],
  ['garbage duration', vi('vrid: 1\nadvertisementInterval: soon\nvirtualIPs: ["198.18.0.1"]'), 'spec.advertisementInterval', /duration/],
  ['priority 0', vi('vrid: 1\npriority: 0\nvirtualIPs: ["198.18.0.1"]'), 'spec.priority', /1 to 255/],
  ['priority not a number', vi('vrid: 1\npriority: high\nvirtualIPs: ["198.18.0.1"]'), 'spec.priority', /integer/],
  ['unknown field', vi('vrid: 1\nprority: 5\nvirtualIPs: ["198.18.0.1"]'), 'spec.prority', /unknown field/],
  ['auth on v3', vi('vrid: 1\nvirtualIPs: ["198.18.0.1"]\nauthentication: { type: PASS, secretRef: { name: s, key: k } }'), 'spec.authentication', /only in VRRPv2/],
  ['auth type AH', vi('vrid: 1\nversion: 2\nvirtualIPs: ["198.18.0.1"]\nauthentication: { type: AH, secretRef: { name: s, key: k } }'), 'spec.authentication.type', /PASS/],
  ['peer of other family', vi('vrid: 1\nvirtualIPs: ["198.18.0.1"]\nunicastPeers: ["2001:2::2"]'), 'spec.unicastPeers[0]', /IPv6/],
  ['peer not an address', vi('vrid: 1\nvirtualIPs: ["198.18.0.1"]\nunicastPeers: ["node-2"]'), 'spec.unicastPeers[0]', /IP address/],
  ['track weight out of range', vi('vrid: 1\nvirtualIPs: ["198.18.0.1"]\ntracks: [{ name: t, weight: -300, exec: { command: ["true"] } }]'), 'spec.tracks[0].weight', /-253 to 253/],
  ['track without check', vi('vrid: 1\nvirtualIPs: ["198.18.0.1"]\ntracks: [{ name: t, weight: -10 }]'), 'spec.tracks[0]', /needs exec \(a command to run\) or virtualServer/],
  ['track with empty command', vi('vrid: 1\nvirtualIPs: ["198.18.0.1"]\ntracks: [{ name: t, weight: -10, exec: { command: [] } }]'), 'spec.tracks[0].exec.command', /non-empty/],
  ['preempt not a bool', vi('vrid: 1\npreempt: "no"\nvirtualIPs: ["198.18.0.1"]'), 'spec.preempt', /true or false/],
  ['override without node', vi('vrid: 1\nvirtualIPs: ["198.18.0.1"]\npriorityOverrides: [{ priority: 5 }]'), 'spec.priorityOverrides[0].node', /required/],
];

for (const [title, doc, field, message] of BAD) {
  test(`rejects: ${title} (names ${field})`, () => {
    assert.throws(() => parseResources(doc, 'cfg.yaml'), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const hit = e.issues.find((i) => i.field === field);
      assert.ok(hit, `no issue for ${field}; got ${e.message}`);
      assert.match(hit.message, message);
      assert.match(hit.where, /VrrpInstance\/bad \(document 1 of cfg\.yaml\)/);
      return true;
    });
  });
}

test('rejects documents of unknown kind and wrong apiVersion, naming the document', () => {
  const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n---\n' + vi('vrid: 1\nvirtualIPs: ["198.18.0.1"]').replace('kubelived.io/v1alpha1', 'kubelived.io/v2');
  assert.throws(() => parseResources(text, 'f.yaml'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /ConfigMap\/x \(document 1 of f\.yaml\): kind: must be VrrpInstance or Secret/);
    assert.match(e.message, /VrrpInstance\/bad \(document 2 of f\.yaml\): apiVersion: must be kubelived\.io\/v1alpha1/);
    return true;
  });
});

test('rejects YAML syntax errors and non-mapping documents', () => {
  assert.throws(() => parseResources('kind: [unclosed', 'f.yaml'), /document 1 of f\.yaml: \(yaml\)/);
  assert.throws(() => parseResources('- a\n- b\n', 'f.yaml'), /must be a mapping/);
});

test('rejects two instances with one VRID on one interface, and duplicate names', () => {
  const text = [vi('vrid: 7\ninterface: eth0\nvirtualIPs: ["198.18.0.1"]', 'a'), vi('vrid: 7\ninterface: eth0\nvirtualIPs: ["198.18.0.2"]', 'b'), vi('vrid: 8\nvirtualIPs: ["198.18.0.3"]', 'a')].join('---\n');
  assert.throws(() => parseResources(text, 'f.yaml'), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /VrrpInstance\/b \(f\.yaml\): spec\.vrid: VRID 7 is already used by VrrpInstance\/a/);
    assert.match(e.message, /metadata\.name: defined twice/);
    return true;
  });
});

test('the same VRID on different interfaces or families is fine', () => {
  const text = [vi('vrid: 7\ninterface: eth0\nvirtualIPs: ["198.18.0.1"]', 'a'), vi('vrid: 7\ninterface: eth1\nvirtualIPs: ["198.18.0.2"]', 'b'), vi('vrid: 7\ninterface: eth0\nvirtualIPs: ["2001:2::1"]', 'c')].join('---\n');
  assert.equal(parseResources(text, 'f.yaml').vrrpInstances.length, 3);
});

test('a track can follow a VirtualServer; it must exist, and a track has exec or virtualServer, not both', () => {
  const vs = 'apiVersion: kubelived.io/v1alpha1\nkind: VirtualServer\nmetadata: { name: web }\nspec: { vrrpInstanceRef: bad, virtualIP: 198.18.0.1, port: 80, realServers: [{ address: 198.18.1.1 }] }\n';
  const ok = parseResources(`${vi('vrid: 1\nvirtualIPs: ["198.18.0.1"]\ntracks: [{ name: web, weight: -50, virtualServer: { name: web } }]')}---\n${vs}`, 'f.yaml');
  assert.deepEqual(ok.vrrpInstances[0]?.spec.tracks, [{ name: 'web', weight: -50, virtualServer: { namespace: 'default', name: 'web' } }]);
  assert.throws(() => parseResources(vi('vrid: 1\nvirtualIPs: ["198.18.0.1"]\ntracks: [{ name: web, weight: -50, virtualServer: { name: nope } }]'), 'f.yaml'),
    /spec\.tracks\[0\]\.virtualServer: VirtualServer default\/nope is not defined/);
  assert.throws(() => parseResources(vi('vrid: 1\nvirtualIPs: ["198.18.0.1"]\ntracks: [{ name: t, weight: -5, virtualServer: { name: web }, exec: { command: ["true"] } }]'), 'f.yaml'),
    /spec\.tracks\[0\]: set one of exec and virtualServer, not both/);
});
