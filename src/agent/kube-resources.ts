// The Kubernetes objects an agent sees -> the ResourceSet its node runs. The same validation as
// the config file (src/api/documents.ts), but one invalid object must not block the others:
// the file is one author's whole config, the cluster is many authors' objects. An invalid
// object is skipped with a log line naming it and its field, and its last valid version (if it
// had one) keeps running; the controller reports the problem in the object's conditions.
// Only what selects this node runs or is judged (other nodes' instances are not this agent's to
// log about), but every valid instance owns its virtual IPs, wherever it runs: the controller
// gives a VIP to the oldest instance listing it, cluster-wide, and so does the agent. Every
// object is validated once per spec version (uid and generation): a rebuild after a one-object
// change costs a map lookup per other object. An instance with unicastPeers [auto] gets the
// InternalIPs of the other Nodes it selects (kube-peers.ts), as a new object only when they change.
import { olderFirst, vipConflicts, vipConflictText } from '../api/claims.ts';
import type { Age } from '../api/claims.ts';
import { readSecret, readVirtualServer, readVrrpInstance, segmentKey } from '../api/documents.ts';
import type { Read, ResourceSet, Secret } from '../api/documents.ts';
import { isObj } from '../api/fields.ts';
import { formatIssue } from '../api/issues.ts';
import type { VirtualServer } from '../api/virtual-server.ts';
import { AUTO_PEERS, allowsNamespace } from '../api/vrrp-instance.ts';
import type { VrrpInstance } from '../api/vrrp-instance.ts';
import { serviceKeyString } from '../ipvs/keys.ts';
import type { KubeObject } from '../kube/resources.ts';
import type { Logger } from '../log.ts';
import { passwordProblem, selects } from './desired.ts';
import { backendServers, withBackends } from './kube-endpoints.ts';
import { autoPeers } from './kube-peers.ts';
import type { NodeObject } from './kube-peers.ts';

export type ApiObject = KubeObject & Record<string, unknown>;

/** What the informers hold, as the builder reads it. */
export interface KubeView {
  /** This node's name. */
  node: string;
  /** The node's labels; the last known ones while its Node cannot be read. */
  labels: Record<string, string>;
  /** Every Node (for unicastPeers [auto]): name, labels and InternalIPs are what is read. */
  nodes(): Iterable<NodeObject>;
  /** The agent's namespace: the only one it may read Secrets in. */
  namespace: string;
  vrrpInstances(): Iterable<ApiObject>;
  virtualServers(): Iterable<ApiObject>;
  secrets(): Iterable<ApiObject>;
  service(namespace: string, name: string): ApiObject | undefined;
  endpointSlices(namespace: string, service: string): readonly ApiObject[];
}

/** A valid instance and when its object was created. */
interface AgedInstance {
  instance: VrrpInstance;
  created: string;
}

/** An instance of this node, with the Secret its password was checked against. */
interface ResolvedInstance extends AgedInstance {
  secret: Secret | undefined;
}

/**
 * What may run, pending the conflict rules: the object's current version, or its last valid
 * one. Only a current version that passes them counts as valid (again) in the log.
 */
type Candidate<T> = T & { current: boolean };

interface InstanceMemo {
  version: string;
  read: Read<VrrpInstance>;
}

interface ServerMemo {
  version: string;
  instance: VrrpInstance;
  read: Read<VirtualServer>;
  /** The Service and EndpointSlice versions the backends were resolved from. */
  backendsFrom?: string;
  resolved?: { vs: VirtualServer } | { problem: string };
}

export class KubeResources {
  private readonly log: Logger;
  private readonly instanceMemo = new Map<string, InstanceMemo>();
  private readonly serverMemo = new Map<string, ServerMemo>();
  private secretMemo = new Map<string, { version: string; secret: Secret | undefined }>();
  /** The last version of each object that was valid and usable, by kind/name. */
  private readonly lastInstance = new Map<string, ResolvedInstance>();
  private readonly lastServer = new Map<string, { vs: VirtualServer; created: string }>();
  /** The problem last logged per object, so each is logged once, not on every rebuild. */
  private readonly reported = new Map<string, string>();
  /** Each [auto] instance's peers: the same object while its instance and peers stay the same. */
  private peerMemo = new Map<string, { from: VrrpInstance; resolved: VrrpInstance }>();
  /** "instance node" pairs already logged as a selected Node without an InternalIP of the family. */
  private withoutAddress = new Set<string>();

  constructor(log: Logger) {
    this.log = log;
  }

  build(view: KubeView): ResourceSet {
    const secrets = this.readSecrets(view);
    const { instances, used } = this.buildInstances(view, secrets);
    const virtualServers = this.buildVirtualServers(view, new Map(instances.map((i) => [i.name, i])));
    // After the VirtualServers, which read the instance's spec only: new peers re-read none of them.
    return { vrrpInstances: this.withAutoPeers(instances, view), virtualServers, secrets: used };
  }

  /**
   * Resolves unicastPeers [auto] of the instances this node runs. An instance keeps its object
   * while its peers are the same, so a Node change that moves no peer rebuilds nothing.
   */
  private withAutoPeers(instances: readonly VrrpInstance[], view: KubeView): VrrpInstance[] {
    const memo = new Map<string, { from: VrrpInstance; resolved: VrrpInstance }>();
    const withoutAddress = new Set<string>();
    const out = instances.map((inst) => {
      if (inst.spec.unicastPeers !== AUTO_PEERS) return inst;
      const id = `VrrpInstance/${inst.name}`;
      const peers = autoPeers(inst.spec.nodeSelector, inst.spec.family, view.nodes(), view.node);
      for (const node of peers.withoutAddress) {
        const key = `${inst.name} ${node}`;
        withoutAddress.add(key);
        if (!this.withoutAddress.has(key)) {
          this.log.warn({ object: id, node }, `Node ${node} has no IPv${inst.spec.family} InternalIP: it is not a unicast peer of ${id} (spec.unicastPeers: [auto])`);
        }
      }
      const before = this.peerMemo.get(inst.name);
      const changed = !before || !sameList(before.resolved.autoPeers ?? [], peers.addresses);
      const resolved = before?.from === inst && !changed ? before.resolved : { ...inst, autoPeers: peers.addresses };
      if (changed) {
        this.log.info({ object: id, peers: peers.addresses }, peers.addresses.length > 0
          ? `${id}: unicast peers (auto): ${peers.addresses.join(', ')}`
          : `${id}: unicast peers (auto): none, no other selected Node has an IPv${inst.spec.family} InternalIP; it runs alone (master, no adverts) until one does`);
      }
      memo.set(inst.name, { from: inst, resolved });
      return resolved;
    });
    this.peerMemo = memo;
    this.withoutAddress = withoutAddress;
    return out;
  }

  /** The valid Secrets; each read once per version, so an unchanged one keeps its object. */
  private readSecrets(view: KubeView): Secret[] {
    const memo = new Map<string, { version: string; secret: Secret | undefined }>();
    for (const o of view.secrets()) {
      const key = `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
      const version = o.metadata.resourceVersion ?? '';
      const before = this.secretMemo.get(key);
      memo.set(key, before?.version === version ? before : { version, secret: readSecret(o, versionOf(o)).resource });
    }
    this.secretMemo = memo;
    return [...memo.values()].flatMap((m) => (m.secret ? [m.secret] : []));
  }

  private buildInstances(view: KubeView, secrets: readonly Secret[]): { instances: VrrpInstance[]; used: Secret[] } {
    const seen = new Set<string>();
    const chosen: Candidate<ResolvedInstance>[] = [];
    /** Valid instances of other nodes: they run nowhere here, but own their virtual IPs. */
    const elsewhere: AgedInstance[] = [];
    for (const o of view.vrrpInstances()) {
      const name = o.metadata.name;
      const id = `VrrpInstance/${name}`;
      const created = o.metadata.creationTimestamp ?? '';
      seen.add(name);
      let memo = this.instanceMemo.get(name);
      if (!memo || memo.version !== specVersion(o)) {
        memo = { version: specVersion(o), read: readVrrpInstance(o, versionOf(o)) };
        this.instanceMemo.set(name, memo);
      }
      const inst = memo.read.resource;
      // The shape may allow it, but the parsed selector is what counts.
      if (outsideSelector(o, view.labels) || (inst && !selects(inst.spec.nodeSelector, view.labels))) {
        this.forget(id);
        this.lastInstance.delete(name);
        if (inst) elsewhere.push({ instance: inst, created });
        continue;
      }
      const problem = inst
        ? this.secretProblem(inst, secrets, view.namespace)
        : memo.read.issues.map(formatIssue).join('; ');
      if (inst && !problem) {
        const ref = inst.spec.authentication?.secretRef;
        const secret = ref && secrets.find((s) => s.namespace === ref.namespace && s.name === ref.name);
        const r = { instance: inst, secret, created };
        this.lastInstance.set(name, r);
        chosen.push({ ...r, current: true });
        continue;
      }
      const last = this.lastInstance.get(name);
      this.reject(id, problem ?? '', last !== undefined);
      if (last) chosen.push({ ...last, current: false });
    }
    for (const name of [...this.lastInstance.keys()]) if (!seen.has(name)) this.lastInstance.delete(name);
    for (const name of [...this.instanceMemo.keys()]) {
      if (!seen.has(name)) {
        this.instanceMemo.delete(name);
        this.forget(`VrrpInstance/${name}`);
      }
    }
    return this.withoutConflicts(chosen, elsewhere);
  }

  private secretProblem(inst: VrrpInstance, secrets: readonly Secret[], namespace: string): string | undefined {
    const ref = inst.spec.authentication?.secretRef;
    if (ref && ref.namespace !== namespace) {
      return `VrrpInstance/${inst.name}: spec.authentication.secretRef.namespace: the agent reads Secrets only in its own namespace ${namespace}, not ${ref.namespace}`;
    }
    return passwordProblem(inst, secrets);
  }

  /**
   * The oldest instance keeps a segment (interface, family, VRID); a newer one sharing it would
   * answer the other's adverts, so it does not run here. Of the rest, one listing a virtual IP
   * an older instance owns (on any node: `elsewhere` counts) does not run either. Each Secret
   * is delivered in one version: an instance kept at its last valid version may need an older
   * one, and then the older instance's version wins.
   */
  private withoutConflicts(chosen: readonly Candidate<ResolvedInstance>[], elsewhere: readonly AgedInstance[]): { instances: VrrpInstance[]; used: Secret[] } {
    const segments = new Map<string, string>();
    const onSegment: Candidate<ResolvedInstance>[] = [];
    for (const r of oldestFirst(chosen)) {
      const other = segments.get(segmentKey(r.instance));
      if (other !== undefined) {
        const id = `VrrpInstance/${r.instance.name}`;
        this.reject(id, `${id}: spec.vrid: VRID ${r.instance.spec.vrid} is already used by VrrpInstance/${other} on the same interface and address family`, false);
        continue;
      }
      segments.set(segmentKey(r.instance), r.instance.name);
      onSegment.push(r);
    }
    const vips = vipConflicts(oldestFirst([...onSegment, ...elsewhere]).map((r) => r.instance));
    const instances: VrrpInstance[] = [];
    const used = new Map<string, Secret>();
    for (const r of onSegment) {
      const id = `VrrpInstance/${r.instance.name}`;
      const conflict = vips.get(r.instance.name);
      if (conflict) {
        this.reject(id, `${id}: spec.virtualIPs: ${vipConflictText(conflict)}`, false);
        continue;
      }
      const key = r.secret && `${r.secret.namespace}/${r.secret.name}`;
      const delivered = key !== undefined ? used.get(key) : undefined;
      if (delivered && passwordProblem(r.instance, [delivered])) {
        this.reject(id, `${id}: spec.authentication.secretRef: needs another version of Secret ${key} than the one in use`, false);
        continue;
      }
      if (key !== undefined && r.secret && !delivered) used.set(key, r.secret);
      if (r.current) this.accept(id);
      instances.push(r.instance);
    }
    return { instances: instances.sort((a, b) => compare(a.name, b.name)), used: [...used.values()] };
  }

  private buildVirtualServers(view: KubeView, instances: ReadonlyMap<string, VrrpInstance>): VirtualServer[] {
    const seen = new Set<string>();
    const chosen: Candidate<{ vs: VirtualServer; created: string }>[] = [];
    for (const o of view.virtualServers()) {
      const key = `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
      const id = `VirtualServer/${key}`;
      seen.add(key);
      const spec = isObj(o.spec) ? o.spec : {};
      const instance = typeof spec.vrrpInstanceRef === 'string' ? instances.get(spec.vrrpInstanceRef) : undefined;
      if (!instance) {
        // Bound to an instance this node does not run: not ours.
        this.serverMemo.delete(key);
        this.lastServer.delete(key);
        this.forget(id);
        continue;
      }
      if (!allowsNamespace(instance.spec, o.metadata.namespace ?? '')) {
        // The instance's owner decides who may use its VIPs: no last version either.
        this.lastServer.delete(key);
        this.reject(id, `${id}: spec.vrrpInstanceRef: VrrpInstance/${instance.name} does not allow VirtualServers of namespace ${o.metadata.namespace ?? ''} (spec.allowedNamespaces)`, false);
        continue;
      }
      let memo = this.serverMemo.get(key);
      if (!memo || memo.version !== specVersion(o) || memo.instance !== instance) {
        memo = { version: specVersion(o), instance, read: readVirtualServer(o, versionOf(o), instance) };
        this.serverMemo.set(key, memo);
      }
      const result = this.resolve(memo, view);
      const created = o.metadata.creationTimestamp ?? '';
      if ('vs' in result) {
        this.lastServer.set(key, { vs: result.vs, created });
        chosen.push({ vs: result.vs, created, current: true });
        continue;
      }
      const last = this.lastServer.get(key);
      const usable = last && instances.has(last.vs.spec.vrrpInstanceRef) ? last : undefined;
      this.reject(id, result.problem, usable !== undefined);
      if (usable) chosen.push({ ...usable, current: false });
    }
    for (const key of [...this.serverMemo.keys()]) {
      if (!seen.has(key)) {
        this.serverMemo.delete(key);
        this.lastServer.delete(key);
        this.forget(`VirtualServer/${key}`);
      }
    }
    // The oldest VirtualServer keeps a kernel service; a newer one naming it too does not run.
    const byService = new Map<string, string>();
    const out: VirtualServer[] = [];
    const age = (c: { vs: VirtualServer; created: string }): Age => ({ creationTimestamp: c.created, namespace: c.vs.namespace, name: c.vs.name });
    for (const { vs, current } of chosen.sort((a, b) => olderFirst(age(a), age(b)))) {
      const id = `VirtualServer/${ownerKey(vs)}`;
      const service = serviceKeyString(vs.spec.key);
      const other = byService.get(service);
      if (other !== undefined) {
        this.reject(id, `${id}: ${vs.spec.key.fwmark !== undefined ? 'spec.fwmark' : 'spec.port'}: the service ${service} is already defined by VirtualServer/${other}`, false);
        continue;
      }
      byService.set(service, ownerKey(vs));
      if (current) this.accept(id);
      out.push(vs);
    }
    return out;
  }

  /** The VirtualServer with its backendRef's endpoints, recomputed only when they changed. */
  private resolve(memo: ServerMemo, view: KubeView): { vs: VirtualServer } | { problem: string } {
    const vs = memo.read.resource;
    if (!vs) return { problem: memo.read.issues.map(formatIssue).join('; ') };
    const ref = vs.spec.backendRef;
    if (!ref) return { vs };
    const service = view.service(vs.namespace, ref.name);
    const slices = view.endpointSlices(vs.namespace, ref.name);
    const from = [service?.metadata.resourceVersion ?? '-', ...slices.map((s) => s.metadata.resourceVersion ?? '')].join(' ');
    if (memo.backendsFrom !== from || !memo.resolved) {
      const b = backendServers(vs, ref, service, slices);
      const where = `VirtualServer/${ownerKey(vs)}`;
      memo.resolved = b.ok ? { vs: withBackends(vs, b.servers) } : { problem: `${where}: ${b.field}: ${b.message}` };
      memo.backendsFrom = from;
    }
    return memo.resolved;
  }

  private reject(id: string, problem: string, keeping: boolean): void {
    const text = `${problem}${keeping ? ' (keeping its last valid version)' : ''}`;
    if (this.reported.get(id) === text) return;
    this.reported.set(id, text);
    this.log.warn({ object: id, problem, keeping: keeping ? 'last valid version' : 'nothing' },
      `${id} skipped: ${problem}${keeping ? '; its last valid version keeps running' : ''}`);
  }

  private accept(id: string): void {
    if (!this.reported.has(id)) return;
    this.reported.delete(id);
    this.log.info({ object: id }, `${id} is valid again`);
  }

  private forget(id: string): void {
    this.reported.delete(id);
  }
}

/** True when the object's nodeSelector is well-formed and does not select the node. */
function outsideSelector(o: ApiObject, labels: Record<string, string>): boolean {
  const spec = o.spec;
  if (!isObj(spec) || spec.nodeSelector === undefined) return false;
  if (!isObj(spec.nodeSelector)) return false;
  const match = spec.nodeSelector.matchLabels;
  if (match === undefined) return false;
  if (!isObj(match) || !Object.values(match).every((v) => typeof v === 'string')) return false;
  return !selects(match as Record<string, string>, labels);
}

/**
 * What identifies a custom resource's spec: its uid and generation, which status writes (every
 * agent's, every few seconds during a failover) leave alone, unlike the resourceVersion.
 */
function specVersion(o: ApiObject): string {
  return `${o.metadata.uid ?? ''}/${o.metadata.generation ?? o.metadata.resourceVersion ?? ''}`;
}

/** How messages name an object's version: its generation (what `kubectl get -o yaml` shows). */
function versionOf(o: ApiObject): string {
  const g = o.metadata.generation;
  return g !== undefined ? `generation ${g}` : `resourceVersion ${o.metadata.resourceVersion ?? '?'}`;
}

/** In the order in which the older instance keeps what two claim. */
function oldestFirst<T extends AgedInstance>(list: readonly T[]): T[] {
  const age = (r: AgedInstance): Age => ({ creationTimestamp: r.created, name: r.instance.name });
  return [...list].sort((a, b) => olderFirst(age(a), age(b)));
}

function ownerKey(vs: VirtualServer): string {
  return `${vs.namespace}/${vs.name}`;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
