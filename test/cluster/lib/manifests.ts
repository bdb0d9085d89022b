// The objects a real cluster would already have before kubelived is installed: a Node per lab
// host (what each kubelet registers) and the release namespace.
import type { LabNode } from '../../lab/lab.ts';

export const RELEASE_NAMESPACE = 'kubelived-system';

/**
 * A Node as its kubelet would register it: the lab address as InternalIP, the well-known
 * hostname and os labels, and Ready (no node lifecycle controller runs to change it).
 */
export function nodeObject(node: LabNode, now: Date): Record<string, unknown> {
  const at = now.toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: node.name,
      labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux' },
    },
    status: {
      addresses: [
        { type: 'InternalIP', address: node.ipv4 },
        { type: 'Hostname', address: node.name },
      ],
      conditions: [
        { type: 'Ready', status: 'True', reason: 'LabNode', message: 'lab network namespace', lastHeartbeatTime: at, lastTransitionTime: at },
      ],
    },
  };
}

export function namespaceObject(name: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

/** One kubectl input for several objects. */
export function list(items: Record<string, unknown>[]): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}
