// The API resources kubelived reads and writes, and how their paths are built.
import { GROUP, VERSION } from '../api/group.ts';

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

export const VRRP_INSTANCES: ResourceType = { group: GROUP, version: VERSION, kind: 'VrrpInstance', plural: 'vrrpinstances', namespaced: false };
export const VIRTUAL_SERVERS: ResourceType = { group: GROUP, version: VERSION, kind: 'VirtualServer', plural: 'virtualservers', namespaced: true };
export const NODES: ResourceType = { group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };
export const SECRETS: ResourceType = { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };
export const ENDPOINT_SLICES: ResourceType = { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true };
export const DAEMON_SETS: ResourceType = { group: 'apps', version: 'v1', kind: 'DaemonSet', plural: 'daemonsets', namespaced: true };
export const DEPLOYMENTS: ResourceType = { group: 'apps', version: 'v1', kind: 'Deployment', plural: 'deployments', namespaced: true };
export const LEASES: ResourceType = { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true };
export const EVENTS: ResourceType = { group: 'events.k8s.io', version: 'v1', kind: 'Event', plural: 'events', namespaced: true };

export function apiVersionOf(t: ResourceType): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}

/**
 * The path of a collection (no name) or of one object. A namespaced type without a namespace
 * gives the all-namespaces collection.
 */
export function resourcePath(t: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  if (t.namespaced && name !== undefined && !namespace) throw new Error(`${t.kind} ${name}: a namespace is required`);
  if (!t.namespaced && namespace) throw new Error(`${t.kind} is cluster-scoped: no namespace (got ${namespace})`);
  const base = t.group === '' ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
  const ns = t.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const one = name === undefined ? '' : `/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
  return `${base}${ns}/${t.plural}${one}`;
}

/** The fields of metadata every object read from the API server has. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Dropped by the list/watch source (list-watch.ts): nothing here reads them. */
  managedFields?: unknown[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

/** The cache key of an object: namespace/name, or the name alone for cluster-scoped ones. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** Kubernetes MicroTime (Lease times, Event times): RFC 3339 with exactly six fraction digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Kubernetes Time (conditions, status timestamps): RFC 3339 in whole seconds. */
export function kubeTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
