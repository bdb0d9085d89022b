// Turns validated resources into what this node runs: the instances whose nodeSelector matches
// the node, with the node's own priority and the secrets resolved.
import type { ResourceSet, Secret } from '../api/documents.ts';
import { AUTO_PEERS } from '../api/vrrp-instance.ts';
import type { VrrpInstance } from '../api/vrrp-instance.ts';
import type { InstancePlan } from './messages.ts';

export interface NodeIdentity {
  name: string;
  labels: Record<string, string>;
}

export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** Throws when a referenced secret or key is missing: the caller keeps its running config. */
export function plansForNode(set: ResourceSet, node: NodeIdentity, trackUp: (instance: string, track: string) => boolean): InstancePlan[] {
  return set.vrrpInstances
    .filter((i) => selects(i.spec.nodeSelector, node.labels))
    .map((i) => planFor(i, set, node, trackUp));
}

function planFor(inst: VrrpInstance, set: ResourceSet, node: NodeIdentity, trackUp: (instance: string, track: string) => boolean): InstancePlan {
  const s = inst.spec;
  return {
    name: inst.name,
    ifname: s.interface,
    family: s.family,
    vrid: s.vrid,
    version: s.version,
    priority: s.priorityOverrides.find((o) => o.node === node.name)?.priority ?? s.priority,
    vips: s.virtualIPs.map((v) => ({ address: v.address, prefixLen: v.prefixLen })),
    advertIntervalCs: s.advertisementIntervalMs / 10,
    preempt: s.preempt,
    preemptDelayMs: s.preemptDelayMs,
    authPassword: s.authentication ? secretValue(inst, set) : undefined,
    unicast: s.unicastPeers === AUTO_PEERS || s.unicastPeers.length > 0,
    unicastPeers: peersOf(inst),
    tracks: s.tracks.map((t) => ({ name: t.name, weight: t.weight, up: trackUp(inst.name, t.name) })),
    garp: s.garp,
  };
}

/** unicastPeers [auto] stands for the addresses the Kubernetes source resolved it to. */
function peersOf(inst: VrrpInstance): string[] {
  if (inst.spec.unicastPeers !== AUTO_PEERS) return inst.spec.unicastPeers;
  if (!inst.autoPeers) throw new Error(`VrrpInstance/${inst.name}: spec.unicastPeers: "auto" is not resolved: only the Kubernetes agent reads Nodes`);
  return inst.autoPeers;
}

function secretValue(inst: VrrpInstance, set: ResourceSet): string {
  const r = password(inst, set.secrets);
  if ('problem' in r) throw new Error(r.problem);
  return r.value;
}

/** Why the VRRPv2 password of `inst` cannot be taken from `secrets`; undefined when it can or needs none. */
export function passwordProblem(inst: VrrpInstance, secrets: readonly Secret[]): string | undefined {
  if (!inst.spec.authentication) return undefined;
  const r = password(inst, secrets);
  return 'problem' in r ? r.problem : undefined;
}

function password(inst: VrrpInstance, secrets: readonly Secret[]): { value: string } | { problem: string } {
  const ref = inst.spec.authentication?.secretRef;
  if (!ref) return { problem: `VrrpInstance/${inst.name}: spec.authentication: no secretRef` };
  const where = `VrrpInstance/${inst.name}: spec.authentication.secretRef`;
  const secret = secrets.find((s) => s.namespace === ref.namespace && s.name === ref.name);
  if (!secret) return { problem: `${where}: Secret ${ref.namespace}/${ref.name} not found` };
  const value = secret.data[ref.key];
  if (!value) return { problem: `${where}: Secret ${ref.namespace}/${ref.name} has no key ${ref.key}` };
  // The v2 simple password field is 8 bytes on the wire.
  if (value.length > 8) return { problem: `${where}: password is ${value.length} bytes, VRRPv2 allows at most 8` };
  return { value: value.toString('utf8') };
}
