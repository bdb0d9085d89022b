// A backendRef's real servers from a Service and its EndpointSlices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IssueList } from '../../../src/api/issues.ts';
import { parseVirtualServerSpec } from '../../../src/api/virtual-server.ts';
import type { VirtualServer } from '../../../src/api/virtual-server.ts';
import { backendServers, withBackends } from '../../../src/agent/kube-endpoints.ts';

function vs(spec: Record<string, unknown>): VirtualServer {
  const issues = new IssueList('test');
  const v = parseVirtualServerSpec('shop', 'web', { vrrpInstanceRef: 'vi', virtualIP: '198.18.0.100', port: 80, ...spec }, issues);
  assert.ok(v, issues.issues.map((i) => `${i.field}: ${i.message}`).join('; '));
  return v;
}

const service = (ports: Record<string, unknown>[]): Record<string, unknown> => ({ metadata: { name: 'web', namespace: 'shop' }, spec: { ports } });

function slice(name: string, ports: Record<string, unknown>[], endpoints: Record<string, unknown>[], addressType = 'IPv4'): Record<string, unknown> {
  return { metadata: { name, namespace: 'shop' }, addressType, ports, endpoints };
}

const HTTP = [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }, { name: 'metrics', port: 9090, protocol: 'TCP' }];
const SLICES = [
  slice('web-a', [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'metrics', port: 9091, protocol: 'TCP' }], [
    { addresses: ['10.1.0.2'], conditions: { ready: true } },
    { addresses: ['10.1.0.1', '10.1.0.99'] },
    { addresses: ['10.1.0.3'], conditions: { ready: false } },
    { addresses: ['10.1.0.4'], conditions: { ready: true, terminating: true } },
  ]),
  slice('web-b', [{ name: 'http', port: 8080, protocol: 'TCP' }], [{ addresses: ['10.1.1.1'], conditions: { ready: true } }]),
  slice('web-v6', [{ name: 'http', port: 8080, protocol: 'TCP' }], [{ addresses: ['2001:db8::1'] }], 'IPv6'),
];

test('ready endpoints of the named port become real servers; unready, terminating and other-family ones do not', () => {
  const v = vs({ backendRef: { name: 'web', port: 'http' } });
  const r = backendServers(v, { name: 'web', port: 'http' }, service(HTTP), SLICES);
  assert.ok(r.ok);
  assert.deepEqual(r.servers.map((s) => `${s.address}:${s.port}/${s.weight}`), ['10.1.0.1:8080/1', '10.1.0.2:8080/1', '10.1.1.1:8080/1']);
});

test('a Service port number finds the port by its name in the slices (the target port differs)', () => {
  const v = vs({ backendRef: { name: 'web', port: 9090 } });
  const r = backendServers(v, { name: 'web', port: 9090 }, service(HTTP), SLICES);
  assert.ok(r.ok);
  assert.deepEqual(r.servers.map((s) => `${s.address}:${s.port}`), ['10.1.0.1:9091', '10.1.0.2:9091']);
});

test('without a port, a Service of one unnamed port is used; of several ports it is an error naming the field', () => {
  const single = backendServers(vs({ backendRef: { name: 'web' } }), { name: 'web', port: undefined },
    service([{ port: 80, targetPort: 8080 }]), [slice('s', [{ port: 8080 }], [{ addresses: ['10.2.0.1'] }])]);
  assert.ok(single.ok);
  assert.deepEqual(single.servers.map((s) => `${s.address}:${s.port}`), ['10.2.0.1:8080']);
  const several = backendServers(vs({ backendRef: { name: 'web' } }), { name: 'web', port: undefined }, service(HTTP), SLICES);
  assert.deepEqual(several, { ok: false, field: 'spec.backendRef.port', message: 'required: Service shop/web has 2 ports' });
});

test('a missing Service or port is an error naming it', () => {
  const v = vs({ backendRef: { name: 'web', port: 'http' } });
  assert.deepEqual(backendServers(v, { name: 'web', port: 'http' }, undefined, SLICES), { ok: false, field: 'spec.backendRef.name', message: 'Service shop/web not found' });
  assert.deepEqual(backendServers(v, { name: 'web', port: 'grpc' }, service(HTTP), SLICES), { ok: false, field: 'spec.backendRef.port', message: 'Service shop/web has no port named grpc' });
  const udp = vs({ protocol: 'UDP', backendRef: { name: 'web', port: 80 } });
  assert.deepEqual(backendServers(udp, { name: 'web', port: 80 }, service(HTTP), SLICES), { ok: false, field: 'spec.backendRef.port', message: 'Service shop/web has no UDP port 80' });
});

test('DR cannot change the destination port: a target port other than the service port is refused', () => {
  const dr = vs({ forwarding: 'DR', backendRef: { name: 'web', port: 'http' } });
  const r = backendServers(dr, { name: 'web', port: 'http' }, service(HTTP), SLICES);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', /DR cannot change the destination port.*targets 8080 \(service port 80\)/);
});

test('no slices yet: no real servers (not an error)', () => {
  const r = backendServers(vs({ backendRef: { name: 'web', port: 'http' } }), { name: 'web', port: 'http' }, service(HTTP), []);
  assert.deepEqual(r, { ok: true, servers: [] });
});

test('listed real servers stay first and win over an endpoint with the same address and port', () => {
  const v = vs({ realServers: [{ address: '10.1.0.1', port: 8080, weight: 5 }], backendRef: { name: 'web', port: 'http' } });
  const r = backendServers(v, { name: 'web', port: 'http' }, service(HTTP), SLICES);
  assert.ok(r.ok);
  const merged = withBackends(v, r.servers);
  assert.deepEqual(merged.spec.realServers.map((s) => `${s.address}:${s.port}/${s.weight}`), ['10.1.0.1:8080/5', '10.1.0.2:8080/1', '10.1.1.1:8080/1']);
  assert.equal(withBackends(v, []), v, 'nothing to add: the same object');
});
