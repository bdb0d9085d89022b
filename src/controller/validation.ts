// What the schema cannot see because it needs several objects: VRID collisions between
// instances that share nodes, a VIP claimed by two instances, a VirtualServer whose instance
// is missing, refuses its namespace or lacks its VIP, two VirtualServers on one kernel service.
// Pure: objects in, one verdict per object out. The older object keeps what two claim, by the
// functions the agents apply too (src/api/claims.ts), so what the controller reports is what
// the nodes run.
import { parseAddress } from '../api/address.ts';
import { olderFirst, vipConflicts, vipConflictText } from '../api/claims.ts';
import { readVirtualServer, readVrrpInstance, segmentKey } from '../api/documents.ts';
import type { Read } from '../api/documents.ts';
import { isObj } from '../api/fields.ts';
import type { Issue } from '../api/issues.ts';
import type { VirtualServer } from '../api/virtual-server.ts';
import { allowsNamespace } from '../api/vrrp-instance.ts';
import type { VrrpInstance } from '../api/vrrp-instance.ts';
import { selects } from '../agent/desired.ts';
import { serviceKeyString } from '../ipvs/keys.ts';
import { objectKey } from '../kube/resources.ts';
import type { InstanceObject, NodeObject, ServerObject } from './objects.ts';
import { nodesText } from './wording.ts';

export type InstanceReason = 'Valid' | 'InvalidSpec' | 'VRIDConflict' | 'VIPConflict';
export type ServerReason = 'Valid' | 'InvalidSpec' | 'InstanceNotFound' | 'InstanceNotAccepted'
  | 'NamespaceNotAllowed' | 'VIPNotInInstance' | 'ServiceConflict';

export interface InstanceVerdict {
  accepted: boolean;
  reason: InstanceReason;
  message: string;
  /** The parsed spec, when it is valid (also when a conflict rejects it). */
  instance: VrrpInstance | undefined;
  /** The registered Nodes its nodeSelector selects, by name. */
  nodes: string[];
}

export interface ServerVerdict {
  accepted: boolean;
  reason: ServerReason;
  message: string;
  server: VirtualServer | undefined;
}

export interface Verdicts {
  /** By instance name. */
  instances: Map<string, InstanceVerdict>;
  /** By namespace/name. */
  servers: Map<string, ServerVerdict>;
}

/** Parses specs; the controller's implementation remembers each object's last parse. */
export interface SpecReader {
  instance(o: InstanceObject): Read<VrrpInstance>;
  server(o: ServerObject, instance: VrrpInstance | undefined): Read<VirtualServer>;
}

/** Reads every time: what the unit tests use, and the memo's fallback. */
export const plainReader: SpecReader = {
  instance: (o) => readVrrpInstance(o as unknown as Record<string, unknown>, 'the API server'),
  server: (o, instance) => readVirtualServer(o as unknown as Record<string, unknown>, 'the API server', instance),
};

const VALID_INSTANCE = 'the spec is valid and conflicts with no other VrrpInstance';
const VALID_SERVER = 'the spec is valid and its VrrpInstance accepts it';

export function validate(
  instances: readonly InstanceObject[], servers: readonly ServerObject[], nodes: readonly NodeObject[], reader: SpecReader = plainReader,
): Verdicts {
  const out: Verdicts = { instances: new Map(), servers: new Map() };
  const valid: { o: InstanceObject; inst: VrrpInstance }[] = [];
  for (const o of [...instances].sort((a, b) => olderFirst(a.metadata, b.metadata))) {
    const read = reader.instance(o);
    const inst = read.resource;
    const selected = inst ? nodes.filter((n) => selects(inst.spec.nodeSelector, n.metadata.labels ?? {})).map((n) => n.metadata.name).sort() : [];
    if (!inst) {
      out.instances.set(o.metadata.name, { accepted: false, reason: 'InvalidSpec', message: issuesText(read.issues), instance: undefined, nodes: [] });
      continue;
    }
    out.instances.set(o.metadata.name, { accepted: true, reason: 'Valid', message: VALID_INSTANCE, instance: inst, nodes: selected });
    valid.push({ o, inst });
  }
  rejectSegmentConflicts(valid.map((v) => v.inst), out.instances);
  rejectVipConflicts(valid.map((v) => v.inst).filter((i) => out.instances.get(i.name)?.accepted), out.instances);
  validateServers(servers, out, reader);
  return out;
}

/**
 * Per node, as its agent does: the oldest instance keeps a segment (interface, family, VRID);
 * a newer one selecting the same node is rejected, naming the older one and the shared nodes.
 */
function rejectSegmentConflicts(ordered: readonly VrrpInstance[], verdicts: Map<string, InstanceVerdict>): void {
  const holders = new Map<string, Map<string, string>>(); // node -> segment -> instance
  const clashes = new Map<string, { other: string; nodes: string[] }>();
  for (const inst of ordered) {
    const v = verdicts.get(inst.name);
    if (!v) continue;
    const segment = segmentKey(inst);
    for (const node of v.nodes) {
      let onNode = holders.get(node);
      if (!onNode) holders.set(node, (onNode = new Map<string, string>()));
      const other = onNode.get(segment);
      if (other === undefined) {
        onNode.set(segment, inst.name);
        continue;
      }
      const c = clashes.get(inst.name) ?? { other, nodes: [] };
      if (c.other === other) c.nodes.push(node);
      clashes.set(inst.name, c);
    }
  }
  for (const [name, c] of clashes) {
    const v = verdicts.get(name);
    if (!v?.instance) continue;
    const s = v.instance.spec;
    const where = s.interface !== undefined ? `interface ${s.interface}` : 'the interface holding the first virtual IP\'s subnet';
    verdicts.set(name, {
      ...v, accepted: false, reason: 'VRIDConflict',
      message: `IPv${s.family} VRID ${s.vrid} on ${where} is already used by VrrpInstance/${c.other} on ${nodesText(c.nodes)}: two routers with one VRID on one segment answer each other's adverts`,
    });
  }
}

/** A VIP belongs to the oldest instance listing it; a newer one listing it too is rejected. */
function rejectVipConflicts(ordered: readonly VrrpInstance[], verdicts: Map<string, InstanceVerdict>): void {
  for (const [name, c] of vipConflicts(ordered)) {
    const v = verdicts.get(name);
    if (v) verdicts.set(name, { ...v, accepted: false, reason: 'VIPConflict', message: vipConflictText(c) });
  }
}

function validateServers(servers: readonly ServerObject[], out: Verdicts, reader: SpecReader): void {
  const services = new Map<string, string>();
  for (const o of [...servers].sort((a, b) => olderFirst(a.metadata, b.metadata))) {
    const key = objectKey(o.metadata.namespace, o.metadata.name);
    const namespace = o.metadata.namespace ?? '';
    const spec = isObj(o.spec) ? o.spec : {};
    const ref = typeof spec.vrrpInstanceRef === 'string' ? spec.vrrpInstanceRef : undefined;
    const iv = ref !== undefined ? out.instances.get(ref) : undefined;
    const reject = (reason: ServerReason, message: string, server?: VirtualServer): void => {
      out.servers.set(key, { accepted: false, reason, message, server });
    };
    if (ref !== undefined && !iv) {
      reject('InstanceNotFound', `VrrpInstance/${ref} (spec.vrrpInstanceRef) does not exist`);
      continue;
    }
    const inst = iv?.instance;
    if (inst && !allowsNamespace(inst.spec, namespace)) {
      reject('NamespaceNotAllowed', `VrrpInstance/${inst.name} does not allow VirtualServers of namespace ${namespace}: its spec.allowedNamespaces is ${inst.spec.allowedNamespaces.join(', ')}`);
      continue;
    }
    const vip = typeof spec.virtualIP === 'string' ? parseAddress(spec.virtualIP) : undefined;
    if (inst && vip && !inst.spec.virtualIPs.some((c) => c.address === vip.address)) {
      reject('VIPNotInInstance', `spec.virtualIP ${vip.address} is not one of the virtual IPs of VrrpInstance/${inst.name} (${inst.spec.virtualIPs.map((c) => c.address).join(', ')})`);
      continue;
    }
    const read = reader.server(o, inst);
    const vs = read.resource;
    if (!vs) {
      reject('InvalidSpec', issuesText(read.issues));
      continue;
    }
    if (iv && !iv.accepted) {
      reject('InstanceNotAccepted', `VrrpInstance/${vs.spec.vrrpInstanceRef} is not accepted (${iv.reason}): ${iv.message}`, vs);
      continue;
    }
    const service = serviceKeyString(vs.spec.key);
    const other = services.get(service);
    if (other !== undefined) {
      reject('ServiceConflict', `the IPVS service ${service} is already defined by VirtualServer/${other}`, vs);
      continue;
    }
    services.set(service, key);
    out.servers.set(key, { accepted: true, reason: 'Valid', message: VALID_SERVER, server: vs });
  }
}

/** Issues as a condition message: the object is implied, so field and reason only. */
function issuesText(issues: readonly Issue[]): string {
  return issues.map((i) => `${i.field}: ${i.message}`).join('; ') || 'invalid spec';
}
