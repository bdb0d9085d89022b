// Builders for the API objects the controller's pure functions take.
import type { InstanceEntry, InstanceObject, NodeObject, ServerEntry, ServerObject } from '../../../src/controller/objects.ts';

export function node(name: string, labels: Record<string, string> = {}): NodeObject {
  return { metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } } };
}

export function instance(name: string, spec: Record<string, unknown>, opts: { created?: string; generation?: number; nodes?: InstanceEntry[] } = {}): InstanceObject {
  return {
    apiVersion: 'kubelived.io/v1alpha1', kind: 'VrrpInstance',
    metadata: { name, uid: `uid-${name}`, generation: opts.generation ?? 1, creationTimestamp: opts.created ?? '2026-01-01T00:00:00Z', resourceVersion: '1' },
    spec,
    ...(opts.nodes ? { status: { nodes: opts.nodes } } : {}),
  };
}

export function server(namespace: string, name: string, spec: Record<string, unknown>, opts: { created?: string; nodes?: ServerEntry[] } = {}): ServerObject {
  return {
    apiVersion: 'kubelived.io/v1alpha1', kind: 'VirtualServer',
    metadata: { namespace, name, uid: `uid-${namespace}-${name}`, generation: 1, creationTimestamp: opts.created ?? '2026-01-01T00:00:00Z', resourceVersion: '1' },
    spec,
    ...(opts.nodes ? { status: { nodes: opts.nodes } } : {}),
  };
}

export function vs(ref: string, vip: string, port = 80, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { vrrpInstanceRef: ref, virtualIP: vip, port, realServers: [{ address: '198.18.1.1', port: 8080 }, { address: '198.18.1.2', port: 8080 }], ...extra };
}
