// The agent's config from the API server: the Nodes (its own labels select the instances; the
// others' labels and InternalIPs are the peers of unicastPeers [auto]), every VrrpInstance, the
// VirtualServers of all namespaces, the Services and EndpointSlices their backendRefs name, and
// the Secrets of the agent's namespace (VRRPv2 passwords).
//
// Changes are debounced: a burst of events (a 1,000-object apply, every agent's status writes
// during a failover) becomes one rebuild, and a rebuild that changes nothing is not delivered.
// Fail-static: the informers keep their caches while the API server is unreachable, so an
// outage delivers nothing at all; when it returns they list again and only real differences
// reach the agent.
import type { KubeConfig } from '../kube/kubeconfig.ts';
import type { ResourceSet } from '../api/documents.ts';
import { makeInformer } from '../kube/informer.ts';
import type { Informer } from '../kube/informer.ts';
import { ENDPOINT_SLICES, NODES, SECRETS, VIRTUAL_SERVERS, VRRP_INSTANCES, resourcePath } from '../kube/resources.ts';
import type { ResourceType } from '../kube/resources.ts';
import type { Logger } from '../log.ts';
import type { ConfigSource } from './config-source.ts';
import { SERVICE_NAME_LABEL } from './kube-endpoints.ts';
import { KubeResources } from './kube-resources.ts';
import type { ApiObject, KubeView } from './kube-resources.ts';

const SERVICES: ResourceType = { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true };

/** A rebuild waits for this long without events... */
const QUIET_MS = 30;
/** ...but never longer than this after the first event it carries. */
const MAX_DELAY_MS = 300;

export interface KubeConfigSourceOptions {
  kc: KubeConfig;
  node: string;
  /** The agent's namespace, where it reads Secrets (and writes its Lease). */
  namespace: string;
  log: Logger;
}

/** A reference to an object whose status.nodes has an entry of a node. */
export interface ReportedObject {
  kind: 'VrrpInstance' | 'VirtualServer';
  namespace?: string;
  name: string;
}

export class KubeConfigSource implements ConfigSource {
  private readonly opts: KubeConfigSourceOptions;
  private readonly log: Logger;
  private readonly nodes: Informer<ApiObject>;
  private readonly instances: Informer<ApiObject>;
  private readonly servers: Informer<ApiObject>;
  private readonly secrets: Informer<ApiObject>;
  private readonly services: Informer<ApiObject>;
  private readonly slices: Informer<ApiObject>;
  private readonly all: Informer<ApiObject>[];
  /** EndpointSlices by "namespace/service". */
  private readonly slicesByService = new Map<string, Map<string, ApiObject>>();
  private readonly resources: KubeResources;
  private labels: Record<string, string> | undefined;
  private last: ResourceSet | undefined;
  private onChange: ((set: ResourceSet) => void) | undefined;
  private onError: ((e: unknown) => void) | undefined;
  /** While load() waits: fails it (RBAC keeps refusing a list, which retrying will not fix). */
  private refuse: ((e: Error) => void) | undefined;
  private quiet: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(opts: KubeConfigSourceOptions) {
    this.opts = opts;
    this.log = opts.log;
    this.resources = new KubeResources(opts.log.child({ source: 'kubernetes' }));
    type Extra = { labelSelector?: string; fieldSelector?: string; transform?: (o: ApiObject) => ApiObject };
    const informer = (name: string, path: string, extra: Extra = {}): Informer<ApiObject> => {
      const i: Informer<ApiObject> = makeInformer<ApiObject>(opts.kc, path, { name, log: opts.log, onError: (e) => this.listFailed(i, e), ...extra });
      return i;
    };
    this.nodes = informer('nodes', resourcePath(NODES), { transform: trimNode });
    this.instances = informer('vrrpinstances', resourcePath(VRRP_INSTANCES), { transform: keepOwnEntry(opts.node) });
    this.servers = informer('virtualservers', resourcePath(VIRTUAL_SERVERS), { transform: keepOwnEntry(opts.node) });
    this.secrets = informer(`secrets (${opts.namespace})`, resourcePath(SECRETS, opts.namespace));
    this.services = informer('services', resourcePath(SERVICES));
    // Only slices a Service owns: the label the EndpointSlice controller sets.
    this.slices = informer('endpointslices', resourcePath(ENDPOINT_SLICES), { labelSelector: SERVICE_NAME_LABEL });
    this.all = [this.nodes, this.instances, this.servers, this.secrets, this.services, this.slices];

    this.slices.on({
      add: (o) => this.indexSlice(o, true),
      update: (o, old) => {
        this.indexSlice(old, false);
        this.indexSlice(o, true);
      },
      delete: (o) => this.indexSlice(o, false),
    });
    this.nodes.on({
      add: (o) => this.nodeChanged(o),
      // Kubelets' status updates (conditions, heartbeats) change neither labels nor addresses.
      update: (o, old) => { if (!sameNode(o, old)) this.nodeChanged(o); },
      // This node's Node gone: keep running on its last known labels.
      delete: (o) => { if (o.metadata.name !== this.opts.node) this.changed(); },
    });
    for (const i of this.all) {
      if (i === this.nodes) continue;
      // Our resources' status writes (each node's, each state change) leave generation alone.
      const ours = i === this.instances || i === this.servers;
      const update = (o: ApiObject, old: ApiObject): void => {
        if (!ours || o.metadata.generation === undefined || o.metadata.generation !== old.metadata.generation) this.changed();
      };
      i.on({ add: () => this.changed(), update, delete: () => this.changed() });
    }
  }

  /**
   * Starts watching and resolves with the first set once every list has arrived. Rejects when
   * the agent may not read what it needs (RBAC) or its Node does not exist: running with
   * nothing would look healthy and do nothing.
   */
  async load(): Promise<ResourceSet> {
    const refused = new Promise<never>((_resolve, reject) => { this.refuse = reject; });
    for (const i of this.all) i.start();
    try {
      await Promise.race([Promise.all(this.all.map((i) => i.synced)), refused]);
    } catch (e) {
      this.close();
      throw e;
    } finally {
      this.refuse = undefined;
    }
    const node = this.nodes.get(undefined, this.opts.node);
    if (!node) {
      this.close();
      throw new Error(`Node ${this.opts.node} not found: --node (NODE_NAME) must name this node's Node object`);
    }
    this.labels = { ...(node.metadata.labels ?? {}) };
    this.last = this.resources.build(this.view());
    this.log.info({ labels: this.labels, vrrpInstances: this.last.vrrpInstances.length, virtualServers: this.last.virtualServers.length },
      'configuration read from the API server');
    return this.last;
  }

  watch(onChange: (set: ResourceSet) => void, onError: (e: unknown) => void): void {
    this.onChange = onChange;
    this.onError = onError;
  }

  reload(): void {
    this.rebuild();
  }

  close(): void {
    clearTimeout(this.quiet);
    clearTimeout(this.deadline);
    this.quiet = undefined;
    this.deadline = undefined;
    for (const i of this.all) void i.stop();
  }

  nodeLabels(): Record<string, string> {
    return this.labels ?? {};
  }

  /** The cached object's uid, for Events about it. */
  uidOf(kind: 'VrrpInstance' | 'VirtualServer', namespace: string | undefined, name: string): string | undefined {
    const informer = kind === 'VrrpInstance' ? this.instances : this.servers;
    return informer.get(namespace, name)?.metadata.uid;
  }

  /** The objects whose status.nodes has an entry of `node` (e.g. left by an earlier run). */
  reportedBy(node: string): ReportedObject[] {
    const has = (o: ApiObject): boolean => {
      const status = o.status as { nodes?: { node?: unknown }[] } | undefined;
      return Array.isArray(status?.nodes) && status.nodes.some((e) => e.node === node);
    };
    return [
      ...this.instances.list().filter(has).map((o) => ({ kind: 'VrrpInstance' as const, name: o.metadata.name })),
      ...this.servers.list().filter(has).map((o) => ({ kind: 'VirtualServer' as const, namespace: o.metadata.namespace, name: o.metadata.name })),
    ];
  }

  private listFailed(informer: Informer<ApiObject>, e: unknown): void {
    if (informer.isDenied) {
      this.refuse?.(new Error(`not allowed to list/watch ${informer.name}: ${errorText(e)}; the agent's ServiceAccount needs list and watch on it (the chart's RBAC: helm install, or kubectl apply -f deploy/manifests/kubelived.yaml)`));
    }
  }

  private view(): KubeView {
    return {
      node: this.opts.node,
      labels: this.labels ?? {},
      nodes: () => this.nodes.list(),
      namespace: this.opts.namespace,
      vrrpInstances: () => this.instances.list(),
      virtualServers: () => this.servers.list(),
      secrets: () => this.secrets.list(),
      service: (namespace, name) => this.services.get(namespace, name),
      endpointSlices: (namespace, service) => {
        const m = this.slicesByService.get(`${namespace}/${service}`);
        return m ? [...m.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1)) : [];
      },
    };
  }

  /** A Node added, or its labels or InternalIPs changed: selection or [auto] peers may follow. */
  private nodeChanged(o: ApiObject): void {
    if (o.metadata.name === this.opts.node) {
      const labels = o.metadata.labels ?? {};
      if (this.labels && !sameLabels(this.labels, labels)) this.log.info({ labels }, 'node labels changed; selecting instances again');
      this.labels = { ...labels };
    }
    this.changed();
  }

  private indexSlice(o: ApiObject, present: boolean): void {
    const service = o.metadata.labels?.[SERVICE_NAME_LABEL];
    if (service === undefined) return;
    const key = `${o.metadata.namespace ?? ''}/${service}`;
    let m = this.slicesByService.get(key);
    if (present) {
      if (!m) this.slicesByService.set(key, (m = new Map<string, ApiObject>()));
      m.set(o.metadata.name, o);
    } else if (m) {
      m.delete(o.metadata.name);
      if (m.size === 0) this.slicesByService.delete(key);
    }
  }

  /** Debounce: rebuild after QUIET_MS without events, at most MAX_DELAY_MS after the first. */
  private changed(): void {
    if (!this.last) return; // load() builds once everything is listed
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => this.rebuild(), QUIET_MS);
    this.deadline ??= setTimeout(() => this.rebuild(), MAX_DELAY_MS);
  }

  private rebuild(): void {
    clearTimeout(this.quiet);
    clearTimeout(this.deadline);
    this.quiet = undefined;
    this.deadline = undefined;
    if (!this.last) return;
    try {
      const next = this.resources.build(this.view());
      if (sameSet(next, this.last)) return;
      this.last = next;
      this.onChange?.(next);
    } catch (e) {
      this.onError?.(e);
    }
  }
}

/** Rebuilds keep every unchanged resource's object, so identity says whether anything changed. */
function sameSet(a: ResourceSet, b: ResourceSet): boolean {
  const same = <T>(x: readonly T[], y: readonly T[]): boolean => x.length === y.length && x.every((v, i) => v === y[i]);
  return same(a.vrrpInstances, b.vrrpInstances) && same(a.virtualServers, b.virtualServers) && same(a.secrets, b.secrets);
}

/** Two versions of a trimmed Node (trimNode) that select and peer alike. */
function sameNode(a: ApiObject, b: ApiObject): boolean {
  return sameLabels(a.metadata.labels ?? {}, b.metadata.labels ?? {}) && JSON.stringify(a.status) === JSON.stringify(b.status);
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * What the agent keeps of a VrrpInstance or VirtualServer: everything but other nodes' status
 * entries. It reads only its own (reportedBy); the others would double the size of each cached
 * VirtualServer.
 */
function keepOwnEntry(node: string): (o: ApiObject) => ApiObject {
  return (o) => {
    const entries = (o.status as { nodes?: { node?: unknown }[] } | undefined)?.nodes;
    const own = Array.isArray(entries) ? entries.filter((e) => e.node === node) : [];
    if (own.length > 0) o.status = { nodes: own };
    else delete o.status;
    return o;
  };
}

/**
 * What the agent keeps of a Node: its labels (which instances it selects) and InternalIPs
 * (unicastPeers [auto]), plus what the informer compares. Not its images, conditions or
 * capacity: most of a Node's size, and the agent caches every Node of the cluster.
 */
function trimNode(o: ApiObject): ApiObject {
  const { name, uid, resourceVersion, generation, labels } = o.metadata;
  const addresses = (o.status as { addresses?: unknown } | undefined)?.addresses;
  const internal = Array.isArray(addresses) ? addresses.filter((a: { type?: unknown }) => a.type === 'InternalIP') : [];
  return { metadata: { name, uid, resourceVersion, generation, labels }, status: { addresses: internal } };
}
