// Reads the resources kubelived runs from: VrrpInstance and VirtualServer objects in the CRD's
// shape and the Secrets they reference. The standalone config file is a YAML stream of them
// (parseResources: all or nothing); the Kubernetes source reads API objects one at a time with
// the same readers (readVrrpInstance, readVirtualServer, readSecret). Every problem names its
// object and field.
import { parseAllDocuments } from 'yaml';
import { API_VERSION } from './group.ts';
import { describe, isObj, obj, str } from './fields.ts';
import type { Obj } from './fields.ts';
import { ConfigError, IssueList } from './issues.ts';
import type { Issue } from './issues.ts';
import { AUTO_PEERS, parseVrrpInstanceSpec } from './vrrp-instance.ts';
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

/** An object to read and where it came from, for messages ("document 2 of config.yaml"). */
export interface ResourceObject {
  value: unknown;
  where: string;
}

/** One object read: the resource, or undefined with the issues that rejected it. */
export interface Read<T> {
  /** As far as it could be read; undefined when metadata.name is missing or bad. */
  name: string | undefined;
  /** metadata.namespace, 'default' when not given (cluster-scoped kinds ignore it). */
  namespace: string;
  resource: T | undefined;
  issues: Issue[];
}

/** Parses and validates a YAML stream; throws ConfigError listing every issue found. */
export function parseResources(text: string, source: string): ResourceSet {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) {
    throw new ConfigError([{ where: source, field: '(file)', message: 'not a YAML document stream' }]);
  }
  const issues: Issue[] = [];
  const objects: ResourceObject[] = [];
  docs.forEach((doc, i) => {
    const where = `document ${i + 1} of ${source}`;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) issues.push({ where, field: '(yaml)', message: e.message });
      return;
    }
    const value: unknown = doc.toJS();
    // An empty document, e.g. a trailing ---, holds nothing.
    if (value !== null && value !== undefined) objects.push({ value, where });
  });
  const read = readResources(objects, source);
  issues.push(...read.issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return read.set;
}

/**
 * Reads a whole config (the file's documents, in order): the valid resources and every issue,
 * including what needs several objects to see: a VirtualServer's instance must be among them,
 * names are unique, one VirtualServer per kernel service, one VRID per segment, tracks name
 * VirtualServers that exist. A config has no Services, so backendRef is refused, and no Nodes,
 * so unicastPeers [auto] is too.
 */
export function readResources(objects: readonly ResourceObject[], source: string): { set: ResourceSet; issues: Issue[] } {
  const issues: Issue[] = [];
  const set: ResourceSet = { vrrpInstances: [], virtualServers: [], secrets: [] };
  /** Every VrrpInstance name, valid or not: a reference to an invalid one is not reported again. */
  const instanceNames = new Set<string>();
  const virtualServers: (ResourceObject & { value: Obj })[] = [];
  for (const o of objects) {
    const { value, where } = o;
    if (!isObj(value)) {
      issues.push({ where, field: '(document)', message: `must be a mapping, got ${describe(value)}` });
      continue;
    }
    if (value.kind === 'VrrpInstance') {
      const r = readVrrpInstance(value, where);
      if (r.name) instanceNames.add(r.name);
      if (r.resource) set.vrrpInstances.push(r.resource);
      issues.push(...r.issues);
      if (r.resource?.spec.unicastPeers === AUTO_PEERS) {
        issues.push({
          where: `VrrpInstance/${r.resource.name} (${where})`, field: 'spec.unicastPeers',
          message: '"auto" means the InternalIPs of the selected Nodes, and the standalone agent has no Node objects to read: list the peers\' addresses',
        });
      }
    } else if (value.kind === 'VirtualServer') {
      // Read once every instance is known: they may come later in the file.
      virtualServers.push({ value, where });
    } else if (value.kind === 'Secret') {
      const r = readSecret(value, where);
      if (r.resource) set.secrets.push(r.resource);
      issues.push(...r.issues);
    } else {
      const { list } = header(value, where);
      list.add('kind', `must be VrrpInstance or Secret or VirtualServer, got ${describe(value.kind)}`);
      issues.push(...list.issues);
    }
  }
  issues.push(...readFileVirtualServers(virtualServers, set, instanceNames, source));
  issues.push(...crossChecks(set, source));
  return { set, issues };
}

/** A VrrpInstance object (cluster-scoped). */
export function readVrrpInstance(value: Obj, where: string): Read<VrrpInstance> {
  const h = header(value, where);
  const spec = kindChecks(value, h, API_VERSION);
  const resource = spec && h.name ? parseVrrpInstanceSpec(h.name, spec, h.list) : undefined;
  return done(h, resource);
}

/**
 * A VirtualServer object. `instance` is the VrrpInstance its spec.vrrpInstanceRef names, when
 * the caller has it (see parseVirtualServerSpec); the caller reports a reference to nothing.
 */
export function readVirtualServer(value: Obj, where: string, instance: VrrpInstance | undefined): Read<VirtualServer> {
  const h = header(value, where);
  const { meta, list } = h;
  if (meta && meta.namespace !== undefined && (typeof meta.namespace !== 'string' || meta.namespace === '')) {
    list.add('metadata.namespace', `must be a non-empty string, got ${describe(meta.namespace)}`);
  }
  const spec = kindChecks(value, h, API_VERSION);
  const resource = spec && h.name ? parseVirtualServerSpec(h.namespace, h.name, spec, list, instance) : undefined;
  return done(h, resource);
}

/** A Secret object: data (base64) and stringData, as the API server and kubectl take them. */
export function readSecret(value: Obj, where: string): Read<Secret> {
  const h = header(value, where);
  const { list } = h;
  if (value.apiVersion !== 'v1') list.add('apiVersion', `must be v1, got ${describe(value.apiVersion)}`);
  const data: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(obj(value, 'data', '', list) ?? {})) {
    if (typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v)) data[k] = Buffer.from(v, 'base64');
    else list.add(`data.${k}`, 'must be base64 text');
  }
  for (const [k, v] of Object.entries(obj(value, 'stringData', '', list) ?? {})) {
    if (typeof v === 'string') data[k] = Buffer.from(v, 'utf8');
    else list.add(`stringData.${k}`, 'must be a string');
  }
  return done(h, h.name ? { namespace: h.namespace, name: h.name, data } : undefined);
}

/** Two routers with one VRID on one interface and family would answer each other's adverts. */
export function segmentKey(inst: VrrpInstance): string {
  return `${inst.spec.interface ?? '(auto)'}:${inst.spec.family}:${inst.spec.vrid}`;
}

interface Header {
  meta: Obj | undefined;
  name: string | undefined;
  namespace: string;
  /** Issues of this object, named by kind and name: `VrrpInstance/web (document 2 of f.yaml)`. */
  list: IssueList;
  /** Issues found before the object could be named (metadata itself), at `where` only. */
  base: IssueList;
}

function header(value: Obj, where: string): Header {
  const base = new IssueList(where);
  const meta = obj(value, 'metadata', '', base);
  const name = meta ? str(meta, 'name', 'metadata', base, true) : undefined;
  if (!meta) base.add('metadata', 'required');
  const namespace = meta && typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default';
  const shown = value.kind === 'VirtualServer' ? `${namespace}/${name ?? '?'}` : name ?? '?';
  return { meta, name, namespace, list: new IssueList(`${String(value.kind)}/${shown} (${where})`), base };
}

/** apiVersion and spec of a kubelived resource; returns the spec when there is one. */
function kindChecks(value: Obj, h: Header, apiVersion: string): Obj | undefined {
  if (value.apiVersion !== apiVersion) h.list.add('apiVersion', `must be ${apiVersion}, got ${describe(value.apiVersion)}`);
  const spec = obj(value, 'spec', '', h.list);
  if (!spec && value.spec === undefined) h.list.add('spec', 'required');
  return spec;
}

function done<T>(h: Header, resource: T | undefined): Read<T> {
  const issues = [...h.base.issues, ...h.list.issues];
  return { name: h.name, namespace: h.namespace, resource: issues.length === 0 ? resource : undefined, issues };
}

/**
 * The file's VirtualServers against its instances, and what needs several of them: the
 * reference exists, one VirtualServer per kernel service, one per namespace and name.
 */
function readFileVirtualServers(
  objects: readonly (ResourceObject & { value: Obj })[], set: ResourceSet, instanceNames: ReadonlySet<string>, source: string,
): Issue[] {
  const issues: Issue[] = [];
  const byKey = new Map<string, string>();
  const byName = new Set<string>();
  for (const { value, where } of objects) {
    const spec = isObj(value.spec) ? value.spec : {};
    const ref = spec.vrrpInstanceRef;
    const instance = set.vrrpInstances.find((i) => i.name === ref);
    const r = readVirtualServer(value, where, instance);
    const list = new IssueList(`VirtualServer/${r.namespace}/${r.name ?? '?'} (${where})`);
    if (typeof ref === 'string' && ref !== '' && !instance && !instanceNames.has(ref)) {
      list.add('spec.vrrpInstanceRef', `VrrpInstance/${ref} is not defined in ${source}`);
    }
    if (spec.backendRef !== undefined) {
      list.add('spec.backendRef', 'not supported by the standalone agent (a config file has no Services or EndpointSlices): list realServers instead');
    }
    const id = `${r.namespace}/${r.name ?? '?'}`;
    if (r.name !== undefined) {
      if (byName.has(id)) list.add('metadata.name', 'defined twice');
      byName.add(id);
    }
    const vs = r.resource;
    if (vs) {
      const key = serviceKeyString(vs.spec.key);
      const other = byKey.get(key);
      if (other !== undefined) {
        list.add(vs.spec.key.fwmark !== undefined ? 'spec.fwmark' : 'spec.port', `the service ${key} is already defined by VirtualServer/${other}`);
      } else {
        byKey.set(key, id);
      }
      if (list.issues.length === 0) set.virtualServers.push(vs);
    }
    issues.push(...r.issues, ...list.issues);
  }
  return issues;
}

/** Problems that need several instances to see: duplicate names, VRIDs shared on one segment. */
function crossChecks(set: ResourceSet, source: string): Issue[] {
  const issues: Issue[] = [];
  const names = new Set<string>();
  const segments = new Map<string, string>();
  for (const inst of set.vrrpInstances) {
    const where = `VrrpInstance/${inst.name} (${source})`;
    if (names.has(inst.name)) issues.push({ where, field: 'metadata.name', message: 'defined twice' });
    names.add(inst.name);
    const other = segments.get(segmentKey(inst));
    if (other !== undefined) {
      issues.push({ where, field: 'spec.vrid', message: `VRID ${inst.spec.vrid} is already used by VrrpInstance/${other} on the same interface and address family` });
    }
    segments.set(segmentKey(inst), inst.name);
    inst.spec.tracks.forEach((t, i) => {
      const ref = t.virtualServer;
      if (ref && !set.virtualServers.some((vs) => vs.namespace === ref.namespace && vs.name === ref.name)) {
        issues.push({ where, field: `spec.tracks[${i}].virtualServer`, message: `VirtualServer ${ref.namespace}/${ref.name} is not defined` });
      }
    });
  }
  return issues;
}
