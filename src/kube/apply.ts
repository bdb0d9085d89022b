// Server-side apply: each writer sends only the fields it owns under its own field manager, and
// the API server merges. The controller owns the summary fields of a status, each agent its own
// entry of status.nodes (a list-map keyed by node), so no writer can clobber another's fields
// and no read-modify-write races exist.
import type { KubeConfig } from './kubeconfig.ts';
import { kubeRequest } from './client.ts';
import { apiVersionOf, resourcePath } from './resources.ts';
import type { KubeObject, ResourceType } from './resources.ts';

export interface ObjectRef {
  namespace?: string;
  name: string;
}

const APPLY = 'application/apply-patch+yaml';

/**
 * Applies `object` (apiVersion and kind are filled in from `type`; metadata.name/namespace
 * from `ref`) and returns the object as stored. `force` takes over fields another manager
 * set: right for objects this manager alone should define.
 */
export function applyObject<T extends KubeObject>(
  kc: KubeConfig, type: ResourceType, ref: ObjectRef, object: Record<string, unknown>, fieldManager: string, force = true,
): Promise<T> {
  const meta = (object.metadata ?? {}) as Record<string, unknown>;
  const body = {
    ...object,
    apiVersion: apiVersionOf(type),
    kind: type.kind,
    metadata: { ...meta, name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
  };
  return kubeRequest<T>(kc, resourcePath(type, ref.namespace, ref.name), {
    method: 'PATCH', body, contentType: APPLY, query: { fieldManager, force },
  });
}

/**
 * Applies `status` through the status subresource: only the fields in `status` become this
 * manager's; fields other managers own (other nodes' entries) stay as they are. A status field
 * this manager applied before and leaves out now is removed.
 */
export function applyStatus<T extends KubeObject>(
  kc: KubeConfig, type: ResourceType, ref: ObjectRef, status: Record<string, unknown>, fieldManager: string,
): Promise<T> {
  const body = {
    apiVersion: apiVersionOf(type),
    kind: type.kind,
    metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
    status,
  };
  return kubeRequest<T>(kc, resourcePath(type, ref.namespace, ref.name, 'status'), {
    method: 'PATCH', body, contentType: APPLY, query: { fieldManager, force: true },
  });
}

/**
 * The status an agent's field manager applies to drop its entry of status.nodes: the others'
 * entries stay (they are theirs). An empty list, not an empty status: when the entry was the
 * last status field, `status: {}` would leave status null, which the schema refuses.
 */
export function withoutOwnEntry(): Record<string, unknown> {
  return { nodes: [] };
}
