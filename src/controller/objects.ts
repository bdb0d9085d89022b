// The API objects the controller reads, as plain JSON shapes (only the fields it uses).
import type { InstanceEntry, ServerEntry } from '../agent/status-entries.ts';
import type { LeaseSpec } from '../kube/leader.ts';
import type { KubeObject } from '../kube/resources.ts';

export type { InstanceEntry, ServerEntry };

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface InstanceStatus {
  observedGeneration?: number;
  master?: string;
  nodeCount?: number;
  conditions?: Condition[];
  nodes?: InstanceEntry[];
}

export interface ServerStatus {
  observedGeneration?: number;
  master?: string;
  ready?: string;
  conditions?: Condition[];
  nodes?: ServerEntry[];
}

export interface InstanceObject extends KubeObject {
  spec?: unknown;
  status?: InstanceStatus;
}

export interface ServerObject extends KubeObject {
  spec?: unknown;
  status?: ServerStatus;
}

export interface NodeObject extends KubeObject {
  metadata: KubeObject['metadata'] & { labels?: Record<string, string> };
}

export interface LeaseObject extends KubeObject {
  spec?: LeaseSpec;
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
