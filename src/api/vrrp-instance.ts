// VrrpInstance: one VRRP virtual router on one L2 segment. This file holds the typed shape of
// the resource (as the CRD and the standalone config file spell it) and its validation; the
// agent turns a validated instance into per-node router settings (src/agent/desired.ts).
import { parseCidr, parseAddress } from './address.ts';
import type { Cidr, Family } from './address.ts';
import {
  bool, duration, int, isObj, list, obj, rejectUnknown, str, stringMap, describe,
} from './fields.ts';
import type { Obj } from './fields.ts';
import type { IssueList } from './issues.ts';

export interface SecretKeyRef {
  namespace: string;
  name: string;
  key: string;
}

export interface ExecCheck {
  command: string[];
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive successes before a down check counts as up. */
  rise: number;
  /** Consecutive failures before an up check counts as down. */
  fall: number;
}

/** A track is one of: a command run periodically, or the health of a VirtualServer. */
export type Track = {
  name: string;
  /** keepalived semantics: < 0 subtracted while down, > 0 added while up, 0 = down means FAULT. */
  weight: number;
} & (
  | { exec: ExecCheck; virtualServer?: undefined }
  /** Up while the VirtualServer has quorum (enough healthy real servers; not on its sorry server). */
  | { virtualServer: { namespace: string; name: string }; exec?: undefined }
);

export interface PriorityOverride {
  node: string;
  priority: number;
}

export interface VrrpInstanceSpec {
  vrid: number;
  version: 2 | 3;
  interface: string | undefined;
  nodeSelector: Record<string, string>;
  virtualIPs: Cidr[];
  family: Family;
  priority: number;
  priorityOverrides: PriorityOverride[];
  preempt: boolean;
  preemptDelayMs: number;
  advertisementIntervalMs: number;
  /**
   * Where adverts go: the addresses listed (none: multicast to 224.0.0.18 / ff02::12), or
   * 'auto' (written `[auto]`): by unicast to the InternalIPs of the other selected Nodes, which
   * only the Kubernetes agent knows (it fills in VrrpInstance.autoPeers).
   */
  unicastPeers: string[] | 'auto';
  authentication: { secretRef: SecretKeyRef } | undefined;
  tracks: Track[];
  garp: { repeat: number; delayMs: number; refreshMs: number };
  /** Namespaces whose VirtualServers may use this instance's VIPs; ['*'] (the default) is every one. */
  allowedNamespaces: string[];
}

export interface VrrpInstance {
  name: string;
  spec: VrrpInstanceSpec;
  /**
   * unicastPeers 'auto' as this node resolved it (the other selected Nodes' InternalIPs of the
   * instance's family, sorted); set by src/agent/kube-resources.ts. Empty: no other node yet,
   * and the instance still runs unicast, alone.
   */
  autoPeers?: string[];
}

/** The spec fields the CRD schema declares (test/unit/api/crds.test.ts holds them equal). */
export const SPEC_FIELDS = [
  'vrid', 'version', 'interface', 'nodeSelector', 'virtualIPs', 'priority', 'priorityOverrides',
  'preempt', 'preemptDelay', 'advertisementInterval', 'unicastPeers', 'authentication', 'tracks',
  'garp', 'allowedNamespaces',
] as const;

/** A namespace name as Kubernetes spells it (an RFC 1123 label). */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Enough for any real cluster, and a bound the API server's CEL cost estimate needs. */
const MAX_ALLOWED_NAMESPACES = 256;
/** As many peers as a VRRP advert could list addresses: a bound for the API server's CEL cost. */
const MAX_UNICAST_PEERS = 255;
/** The one element of `unicastPeers: [auto]`: a CRD schema cannot make a field a list or a string. */
export const AUTO_PEERS = 'auto';
/** More than keepalived configs use; a bound the API server's CEL cost estimate needs. */
const MAX_TRACKS = 64;

/** Validates `spec` of a VrrpInstance document; returns undefined when any issue was found. */
export function parseVrrpInstanceSpec(name: string, spec: Obj, issues: IssueList): VrrpInstance | undefined {
  const before = issues.issues.length;
  const p = 'spec';
  rejectUnknown(spec, SPEC_FIELDS, p, issues);

  const vrid = int(spec, 'vrid', p, issues, { min: 1, max: 255 });
  const versionRaw = spec.version ?? 3;
  if (versionRaw !== 2 && versionRaw !== 3) issues.add(`${p}.version`, `must be 2 or 3, got ${describe(versionRaw)}`);
  const version = versionRaw === 2 ? 2 : 3;
  const iface = str(spec, 'interface', p, issues, false);
  const nodeSelector = readNodeSelector(spec, p, issues);

  const vips = readVips(spec, p, issues, version);
  const family: Family = vips[0]?.family ?? 4;

  const priority = int(spec, 'priority', p, issues, { min: 1, max: 255, def: 100 });
  const priorityOverrides = readPriorityOverrides(spec, p, issues);

  const preempt = bool(spec, 'preempt', p, issues, true);
  const preemptDelayMs = duration(spec, 'preemptDelay', p, issues, { minMs: 0, maxMs: 1_000_000, defMs: 0 });
  const advertisementIntervalMs = readInterval(spec, p, issues, version);

  const unicastPeers = readUnicastPeers(spec, p, issues, vips.length > 0 ? family : undefined);

  const authentication = readAuthentication(spec, p, issues, version);
  const tracks = readTracks(spec, p, issues);
  const garpObj = obj(spec, 'garp', p, issues) ?? {};
  rejectUnknown(garpObj, ['repeat', 'delay', 'refresh'], `${p}.garp`, issues);
  const garp = {
    repeat: int(garpObj, 'repeat', `${p}.garp`, issues, { min: 1, max: 100, def: 5 }) ?? 5,
    delayMs: duration(garpObj, 'delay', `${p}.garp`, issues, { minMs: 0, maxMs: 3_600_000, defMs: 5000 }) ?? 0,
    refreshMs: duration(garpObj, 'refresh', `${p}.garp`, issues, { minMs: 0, maxMs: 86_400_000, defMs: 0 }) ?? 0,
  };
  const allowedNamespaces = readAllowedNamespaces(spec, p, issues);

  if (issues.issues.length !== before || vrid === undefined || priority === undefined
    || preemptDelayMs === undefined || advertisementIntervalMs === undefined) return undefined;
  return {
    name,
    spec: {
      vrid, version, interface: iface, nodeSelector, virtualIPs: vips, family, priority,
      priorityOverrides, preempt, preemptDelayMs, advertisementIntervalMs, unicastPeers,
      authentication, tracks, garp, allowedNamespaces,
    },
  };
}

/** Whether a VirtualServer in `namespace` may bind to this instance's VIPs. */
export function allowsNamespace(spec: VrrpInstanceSpec, namespace: string): boolean {
  return spec.allowedNamespaces.includes('*') || spec.allowedNamespaces.includes(namespace);
}

function readPriorityOverrides(spec: Obj, p: string, issues: IssueList): PriorityOverride[] {
  const out: PriorityOverride[] = [];
  list(spec, 'priorityOverrides', p, issues).forEach((o, i) => {
    const path = `${p}.priorityOverrides[${i}]`;
    if (!isObj(o)) return issues.add(path, `must be an object, got ${describe(o)}`);
    rejectUnknown(o, ['node', 'priority'], path, issues);
    const node = str(o, 'node', path, issues, true);
    const prio = int(o, 'priority', path, issues, { min: 1, max: 255 });
    // One priority per node: with two, which one applies would be an accident of order.
    if (node !== undefined && out.some((x) => x.node === node)) return issues.add(`${path}.node`, `duplicate override for node ${node}`);
    if (node !== undefined && prio !== undefined) out.push({ node, priority: prio });
  });
  return out;
}

function readUnicastPeers(spec: Obj, p: string, issues: IssueList, family: Family | undefined): string[] | 'auto' {
  const path = `${p}.unicastPeers`;
  const raw = list(spec, 'unicastPeers', p, issues, MAX_UNICAST_PEERS);
  if (raw.includes(AUTO_PEERS)) {
    // The same words as the CRD's CEL rule.
    if (raw.length > 1) issues.add(path, '"auto" (the InternalIPs of the selected nodes) must be listed alone, not with addresses');
    return AUTO_PEERS;
  }
  return raw.flatMap((v, i) => {
    const a = typeof v === 'string' ? parseAddress(v) : undefined;
    if (!a) return issues.add(`${path}[${i}]`, `must be an IP address or "auto", got ${describe(v)}`), [];
    if (family !== undefined && a.family !== family) {
      return issues.add(`${path}[${i}]`, `is IPv${a.family} but the virtualIPs are IPv${family}`), [];
    }
    return [a.address];
  });
}

function readAllowedNamespaces(spec: Obj, p: string, issues: IssueList): string[] {
  if (spec.allowedNamespaces === undefined) return ['*'];
  const path = `${p}.allowedNamespaces`;
  const raw = list(spec, 'allowedNamespaces', p, issues, MAX_ALLOWED_NAMESPACES);
  if (Array.isArray(spec.allowedNamespaces) && raw.length === 0) {
    issues.add(path, 'must list at least one namespace, or "*" for every namespace (leave it out to allow all)');
  }
  const out: string[] = [];
  raw.forEach((v, i) => {
    if (typeof v !== 'string' || (v !== '*' && !NAMESPACE_NAME.test(v))) {
      return issues.add(`${path}[${i}]`, `must be a namespace name or "*", got ${describe(v)}`);
    }
    if (out.includes(v)) return issues.add(`${path}[${i}]`, `duplicate namespace ${v}`);
    out.push(v);
  });
  if (out.includes('*') && raw.length > 1) issues.add(path, '"*" allows every namespace: list it alone');
  return out;
}

function readNodeSelector(spec: Obj, p: string, issues: IssueList): Record<string, string> {
  const sel = obj(spec, 'nodeSelector', p, issues);
  if (!sel) return {};
  rejectUnknown(sel, ['matchLabels'], `${p}.nodeSelector`, issues);
  return stringMap(sel, 'matchLabels', `${p}.nodeSelector`, issues);
}

function readVips(spec: Obj, p: string, issues: IssueList, version: 2 | 3): Cidr[] {
  const raw = list(spec, 'virtualIPs', p, issues);
  if (spec.virtualIPs === undefined || raw.length === 0) {
    issues.add(`${p}.virtualIPs`, 'must list at least one address');
    return [];
  }
  // The VRRP address count is one byte; keepalived moves extra ones outside the advert, we refuse.
  if (raw.length > 255) issues.add(`${p}.virtualIPs`, `at most 255 addresses, got ${raw.length}`);
  const vips = raw.flatMap((v, i) => {
    const c = typeof v === 'string' ? parseCidr(v) : undefined;
    if (!c) return issues.add(`${p}.virtualIPs[${i}]`, `must be an address or CIDR like 198.18.0.100/24, got ${describe(v)}`), [];
    return [c];
  });
  const first = vips[0];
  vips.forEach((c, i) => {
    if (first && c.family !== first.family) {
      issues.add(`${p}.virtualIPs[${i}]`, `mixes IPv${c.family} with IPv${first.family}: one address family per instance (RFC 5798)`);
    }
    if (vips.findIndex((o) => o.address === c.address) !== i) issues.add(`${p}.virtualIPs[${i}]`, `duplicate address ${c.address}`);
  });
  if (version === 2 && first?.family === 6) issues.add(`${p}.version`, 'VRRPv2 carries IPv4 only; use version 3 for IPv6');
  return vips;
}

function readInterval(spec: Obj, p: string, issues: IssueList, version: 2 | 3): number | undefined {
  // v3 carries centiseconds in 12 bits; v2 carries whole seconds in 8 bits.
  const ms = duration(spec, 'advertisementInterval', p, issues,
    version === 3 ? { minMs: 10, maxMs: 40_950, defMs: 1000 } : { minMs: 1000, maxMs: 255_000, defMs: 1000 });
  if (ms === undefined) return undefined;
  const unit = version === 3 ? 10 : 1000;
  if (ms % unit !== 0) {
    issues.add(`${p}.advertisementInterval`, version === 3
      ? 'VRRPv3 intervals are whole centiseconds (multiples of 10ms)'
      : 'VRRPv2 intervals are whole seconds');
    return undefined;
  }
  return ms;
}

function readAuthentication(spec: Obj, p: string, issues: IssueList, version: 2 | 3): VrrpInstanceSpec['authentication'] {
  const auth = obj(spec, 'authentication', p, issues);
  if (!auth) return undefined;
  const path = `${p}.authentication`;
  // RFC 5798 removed authentication; only v2's simple password exists on the wire.
  if (version !== 2) issues.add(path, 'authentication exists only in VRRPv2 (version: 2)');
  rejectUnknown(auth, ['type', 'secretRef'], path, issues);
  if (auth.type !== 'PASS') issues.add(`${path}.type`, `must be PASS, got ${describe(auth.type)}`);
  const ref = obj(auth, 'secretRef', path, issues);
  if (!ref) return issues.add(`${path}.secretRef`, 'required'), undefined;
  rejectUnknown(ref, ['namespace', 'name', 'key'], `${path}.secretRef`, issues);
  const name = str(ref, 'name', `${path}.secretRef`, issues, true);
  const key = str(ref, 'key', `${path}.secretRef`, issues, true);
  const namespace = str(ref, 'namespace', `${path}.secretRef`, issues, false) ?? 'default';
  return name && key ? { secretRef: { namespace, name, key } } : undefined;
}

function readTracks(spec: Obj, p: string, issues: IssueList): Track[] {
  return list(spec, 'tracks', p, issues, MAX_TRACKS).flatMap((t, i): Track[] => {
    const path = `${p}.tracks[${i}]`;
    if (!isObj(t)) return issues.add(path, `must be an object, got ${describe(t)}`), [];
    rejectUnknown(t, ['name', 'weight', 'exec', 'virtualServer'], path, issues);
    const name = str(t, 'name', path, issues, true);
    const weight = int(t, 'weight', path, issues, { min: -253, max: 253 });
    if (name !== undefined && list(spec, 'tracks', p, issues).filter((o) => isObj(o) && o.name === name).length > 1) {
      issues.add(`${path}.name`, `duplicate track name ${name}`);
    }
    const vs = obj(t, 'virtualServer', path, issues);
    const e = obj(t, 'exec', path, issues);
    if (vs && e) return issues.add(path, 'set one of exec and virtualServer, not both'), [];
    if (vs) {
      const vp = `${path}.virtualServer`;
      rejectUnknown(vs, ['namespace', 'name'], vp, issues);
      const vsName = str(vs, 'name', vp, issues, true);
      const namespace = str(vs, 'namespace', vp, issues, false) ?? 'default';
      return name !== undefined && weight !== undefined && vsName !== undefined ? [{ name, weight, virtualServer: { namespace, name: vsName } }] : [];
    }
    if (!e) return issues.add(path, 'needs exec (a command to run) or virtualServer (whose health to follow)'), [];
    const ep = `${path}.exec`;
    rejectUnknown(e, ['command', 'interval', 'timeout', 'rise', 'fall'], ep, issues);
    const command = list(e, 'command', ep, issues);
    if (command.length === 0 || !command.every((c) => typeof c === 'string')) {
      issues.add(`${ep}.command`, 'must be a non-empty list of strings (program and arguments)');
    }
    const intervalMs = duration(e, 'interval', ep, issues, { minMs: 100, maxMs: 3_600_000, defMs: 1000 });
    const timeoutMs = duration(e, 'timeout', ep, issues, { minMs: 10, maxMs: 3_600_000, defMs: 1000 });
    const rise = int(e, 'rise', ep, issues, { min: 1, max: 100, def: 1 });
    const fall = int(e, 'fall', ep, issues, { min: 1, max: 100, def: 1 });
    if (name === undefined || weight === undefined || intervalMs === undefined || timeoutMs === undefined
      || rise === undefined || fall === undefined) return [];
    return [{ name, weight, exec: { command: command as string[], intervalMs, timeoutMs, rise, fall } }];
  });
}
