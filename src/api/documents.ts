// Reads the resources of a YAML stream (the standalone config file): VrrpInstance and
// VirtualServer documents in the CRD's shape, and the Secrets they reference. Every problem names
// its document and field.
import { parseAllDocuments } from 'yaml';
import { API_VERSION } from './group.ts';
import { describe, isObj, obj, str } from './fields.ts';
import { ConfigError, IssueList } from './issues.ts';
import type { Issue } from './issues.ts';
import { parseVrrpInstanceSpec } from './vrrp-instance.ts';
import type { VrrpInstance } from './vrrp-instance.ts';
import { parseVirtualServerSpec } from './virtual-server.ts';
import type { VirtualServer } from './virtual-server.ts';
import { serviceKeyString } from '../ipvs/keys.ts';

export interface Secret {
  namespace: string;
  name: string;
  data: Record<string, Buffer>;
}

export interface ResourceSet {
  vrrpInstances: VrrpInstance[];
  virtualServers: VirtualServer[];
  secrets: Secret[];
}

/** A VirtualServer document waiting for the instances: they may come later in the file. */
interface PendingVirtualServer {
  namespace: string;
  name: string;
  spec: Record<string, unknown>;
  list: IssueList;
}

interface Reading {
  out: ResourceSet;
  pending: PendingVirtualServer[];
  /** Every VrrpInstance name in the file, valid or not. */
  instanceNames: Set<string>;
}

/** Parses and validates; throws ConfigError listing every issue found. */
export function parseResources(text: string, source: string): ResourceSet {
  const issues: Issue[] = [];
  const out: ResourceSet = { vrrpInstances: [], virtualServers: [], secrets: [] };
  const reading: Reading = { out, pending: [], instanceNames: new Set() };
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) {
    throw new ConfigError([{ where: source, field: '(file)', message: 'not a YAML document stream' }]);
  }
  docs.forEach((doc, i) => {
    const where = `document ${i + 1} of ${source}`;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) issues.push({ where, field: '(yaml)', message: e.message });
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // an empty document, e.g. a trailing ---
    const list = new IssueList(where);
    if (!isObj(value)) {
      list.add('(document)', `must be a mapping, got ${describe(value)}`);
    } else {
      readDocument(value, list, reading);
    }
    issues.push(...list.issues);
  });
  issues.push(...readVirtualServers(reading, source));
  issues.push(...crossChecks(out, source));
  if (issues.length > 0) throw new ConfigError(issues);
  return out;
}

function readDocument(value: Record<string, unknown>, base: IssueList, reading: Reading): void {
  const { out } = reading;
  const kind = value.kind;
  const meta = obj(value, 'metadata', '', base);
  const name = meta ? str(meta, 'name', 'metadata', base, true) : undefined;
  if (!meta) base.add('metadata', 'required');
  const namespace = meta && typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default';
  const shown = kind === 'VirtualServer' ? `${namespace}/${name ?? '?'}` : name ?? '?';
  const list = new IssueList(`${String(kind)}/${shown} (${base.where})`);
  if (kind === 'VrrpInstance') {
    if (value.apiVersion !== API_VERSION) list.add('apiVersion', `must be ${API_VERSION}, got ${describe(value.apiVersion)}`);
    if (name) reading.instanceNames.add(name);
    const spec = obj(value, 'spec', '', list);
    if (!spec) list.add('spec', 'required');
    else if (name) {
      const inst = parseVrrpInstanceSpec(name, spec, list);
      if (inst) out.vrrpInstances.push(inst);
    }
  } else if (kind === 'VirtualServer') {
    if (value.apiVersion !== API_VERSION) list.add('apiVersion', `must be ${API_VERSION}, got ${describe(value.apiVersion)}`);
    if (meta && meta.namespace !== undefined && (typeof meta.namespace !== 'string' || meta.namespace === '')) {
      list.add('metadata.namespace', `must be a non-empty string, got ${describe(meta.namespace)}`);
    }
    const spec = obj(value, 'spec', '', list);
    if (!spec) list.add('spec', 'required');
    // Parsed once every instance is known (readVirtualServers); the issues so far stay with it.
    else if (name) reading.pending.push({ namespace, name, spec, list: new IssueList(list.where) });
  } else if (kind === 'Secret') {
    if (value.apiVersion !== 'v1') list.add('apiVersion', `must be v1, got ${describe(value.apiVersion)}`);
    const secret = name && meta ? readSecret(name, meta, value, list) : undefined;
    if (secret) out.secrets.push(secret);
  } else {
    list.add('kind', `must be VrrpInstance or Secret or VirtualServer, got ${describe(kind)}`);
  }
  base.issues.push(...list.issues);
}

function readSecret(name: string, meta: Record<string, unknown>, value: Record<string, unknown>, list: IssueList): Secret {
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : 'default';
  const data: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(obj(value, 'data', '', list) ?? {})) {
    if (typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v)) data[k] = Buffer.from(v, 'base64');
    else list.add(`data.${k}`, 'must be base64 text');
  }
  for (const [k, v] of Object.entries(obj(value, 'stringData', '', list) ?? {})) {
    if (typeof v === 'string') data[k] = Buffer.from(v, 'utf8');
    else list.add(`stringData.${k}`, 'must be a string');
  }
  return { namespace, name, data };
}

/**
 * Parses the VirtualServer documents against the instances they name, and checks what needs
 * several of them: the reference exists, its VIP is the instance's (in the parser), one
 * VirtualServer per kernel service, one per namespace and name, no backendRef in a file.
 */
function readVirtualServers(reading: Reading, source: string): Issue[] {
  const issues: Issue[] = [];
  const byKey = new Map<string, string>();
  const byName = new Set<string>();
  for (const pv of reading.pending) {
    const { list } = pv;
    const ref = pv.spec.vrrpInstanceRef;
    const instance = reading.out.vrrpInstances.find((i) => i.name === ref);
    if (typeof ref === 'string' && ref !== '' && !instance && !reading.instanceNames.has(ref)) {
      list.add('spec.vrrpInstanceRef', `VrrpInstance/${ref} is not defined in ${source}`);
    }
    if (pv.spec.backendRef !== undefined) {
      list.add('spec.backendRef', 'not supported by the standalone agent (a config file has no Services or EndpointSlices): list realServers instead');
    }
    const vs = parseVirtualServerSpec(pv.namespace, pv.name, pv.spec, list, instance);
    const id = `${pv.namespace}/${pv.name}`;
    if (byName.has(id)) list.add('metadata.name', 'defined twice');
    byName.add(id);
    if (vs) {
      const key = serviceKeyString(vs.spec.key);
      const other = byKey.get(key);
      if (other !== undefined) {
        list.add(vs.spec.key.fwmark !== undefined ? 'spec.fwmark' : 'spec.port', `the service ${key} is already defined by VirtualServer/${other}`);
      } else {
        byKey.set(key, id);
      }
      if (list.issues.length === 0) reading.out.virtualServers.push(vs);
    }
    issues.push(...list.issues);
  }
  return issues;
}

/** Problems that need several documents to see: duplicate names, VRIDs shared on one segment. */
function crossChecks(set: ResourceSet, source: string): Issue[] {
  const issues: Issue[] = [];
  const seen = new Map<string, string>();
  for (const inst of set.vrrpInstances) {
    const where = `VrrpInstance/${inst.name} (${source})`;
    if (seen.has(`name:${inst.name}`)) issues.push({ where, field: 'metadata.name', message: 'defined twice' });
    seen.set(`name:${inst.name}`, inst.name);
    // Two routers with one VRID on one interface and family would answer each other's adverts.
    const key = `vrid:${inst.spec.interface ?? '(auto)'}:${inst.spec.family}:${inst.spec.vrid}`;
    const other = seen.get(key);
    if (other !== undefined) {
      issues.push({ where, field: 'spec.vrid', message: `VRID ${inst.spec.vrid} is already used by VrrpInstance/${other} on the same interface and address family` });
    }
    seen.set(key, inst.name);
    inst.spec.tracks.forEach((t, i) => {
      const ref = t.virtualServer;
      if (ref && !set.virtualServers.some((vs) => vs.namespace === ref.namespace && vs.name === ref.name)) {
        issues.push({ where, field: `spec.tracks[${i}].virtualServer`, message: `VirtualServer ${ref.namespace}/${ref.name} is not defined` });
      }
    });
  }
  return issues;
}
