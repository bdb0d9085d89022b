// The CRD manifests against the parser and the shared contract, without an API server (the
// cluster tier applies them for real): one set of fields, the same defaults, the same duration
// grammar, a description on every field for `kubectl explain`, and the names, printer
// columns and status list-maps the controller and agents rely on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { parseResources } from '../../../src/api/documents.ts';
import { parseDuration } from '../../../src/api/duration.ts';
import { SPEC_FIELDS as INSTANCE_FIELDS } from '../../../src/api/vrrp-instance.ts';
import { SPEC_FIELDS as SERVER_FIELDS } from '../../../src/api/virtual-server.ts';

interface Schema {
  type?: string;
  description?: string;
  default?: unknown;
  pattern?: string;
  maxItems?: number;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
}

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; shortNames: string[]; categories: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status?: object };
      additionalPrinterColumns: { name: string; jsonPath: string }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

const root = new URL('../../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const INSTANCE_CRD = parse(read('crds/vrrpinstances.kubelived.io.yaml')) as Crd;
const SERVER_CRD = parse(read('crds/virtualservers.kubelived.io.yaml')) as Crd;

function schemaOf(crd: Crd): Schema {
  const v = crd.spec.versions[0];
  assert.ok(v);
  return v.schema.openAPIV3Schema;
}

function prop(s: Schema, key: string): Schema {
  const p = s.properties?.[key];
  assert.ok(p, `no property ${key}`);
  return p;
}

/** Every schema below the root with its dotted path; metadata is the API server's. */
function walk(s: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(s, path);
  for (const [k, p] of Object.entries(s.properties ?? {})) {
    if (path === '' && k === 'metadata') continue;
    walk(p, path ? `${path}.${k}` : k, visit);
  }
  if (s.items) walk(s.items, `${path}[]`, visit);
  if (s.additionalProperties) walk(s.additionalProperties, `${path}{}`, visit);
}

test('names, scope, version, status subresource and printer columns are the contract\'s', () => {
  const expect = [
    { crd: INSTANCE_CRD, kind: 'VrrpInstance', plural: 'vrrpinstances', scope: 'Cluster', short: ['vri'], columns: [['VRID', '.spec.vrid'], ['VIPS', '.spec.virtualIPs'], ['MASTER', '.status.master'], ['NODES', '.status.nodeCount'], ['AGE', '.metadata.creationTimestamp']] },
    { crd: SERVER_CRD, kind: 'VirtualServer', plural: 'virtualservers', scope: 'Namespaced', short: ['vs'], columns: [['VIP', '.spec.virtualIP'], ['PORT', '.spec.port'], ['PROTOCOL', '.spec.protocol'], ['SCHEDULER', '.spec.scheduler'], ['MASTER', '.status.master'], ['READY', '.status.ready'], ['AGE', '.metadata.creationTimestamp']] },
  ];
  for (const e of expect) {
    const { spec, metadata } = e.crd;
    assert.equal(metadata.name, `${e.plural}.kubelived.io`);
    assert.equal(spec.group, 'kubelived.io');
    assert.equal(spec.scope, e.scope);
    assert.equal(spec.names.kind, e.kind);
    assert.deepEqual(spec.names.shortNames, e.short);
    assert.deepEqual(spec.names.categories, ['kubelived']);
    assert.equal(spec.versions.length, 1);
    const [v] = spec.versions;
    assert.ok(v?.served && v.storage && v.name === 'v1alpha1');
    assert.deepEqual(v.subresources.status, {});
    assert.deepEqual(v.additionalPrinterColumns.map((c) => [c.name, c.jsonPath]), e.columns);
  }
});

test('status lists merge per node and per condition type (server-side apply list-maps)', () => {
  for (const crd of [INSTANCE_CRD, SERVER_CRD]) {
    const status = prop(schemaOf(crd), 'status');
    for (const [list, key] of [['nodes', 'node'], ['conditions', 'type']] as const) {
      const s = prop(status, list);
      assert.equal(s['x-kubernetes-list-type'], 'map', `${crd.metadata.name} status.${list}`);
      assert.deepEqual(s['x-kubernetes-list-map-keys'], [key]);
    }
  }
});

test('every field has a description, so kubectl explain reads well', () => {
  for (const crd of [INSTANCE_CRD, SERVER_CRD]) {
    const missing: string[] = [];
    walk(schemaOf(crd), '', (s, path) => {
      // kubectl explain shows a list's (or map's) description for its items; their fields are checked.
      if (/(\[\]|\{\})$/.test(path)) return;
      if (!s.description?.trim()) missing.push(path || '(root)');
    });
    assert.deepEqual(missing, [], `${crd.metadata.name}: fields without a description`);
  }
});

test('the spec fields are exactly the ones the parser knows', () => {
  assert.deepEqual(Object.keys(prop(schemaOf(INSTANCE_CRD), 'spec').properties ?? {}).sort(), [...INSTANCE_FIELDS].sort());
  assert.deepEqual(Object.keys(prop(schemaOf(SERVER_CRD), 'spec').properties ?? {}).sort(), [...SERVER_FIELDS].sort());
});

test('every duration field has the parser\'s grammar', () => {
  const samples = ['1s', '100ms', '1.5s', '2m', '1m30s', '1h', '0', '0s', '10.5ms', '1s1s', '', 's', '10', '1 s', '-1s', '1d', '1s ', '1.s', '.5s', '1us'];
  let fields = 0;
  for (const crd of [INSTANCE_CRD, SERVER_CRD]) {
    walk(schemaOf(crd), '', (s, path) => {
      if (!s.pattern?.includes('ms|s|m|h')) return;
      fields++;
      const re = new RegExp(s.pattern);
      for (const text of samples) assert.equal(re.test(text), parseDuration(text) !== undefined, `${path}: ${JSON.stringify(text)}`);
    });
  }
  assert.equal(fields, 10);
});

/** What the API server stores: the CRD's defaults filled in, recursively. */
function withDefaults(value: unknown, s: Schema): unknown {
  if (Array.isArray(value)) {
    if (s.items) for (const v of value) withDefaults(v, s.items);
  } else if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      if (o[k] === undefined && p.default !== undefined) o[k] = structuredClone(p.default);
      if (o[k] !== undefined) withDefaults(o[k], p);
    }
  }
  return value;
}

const INSTANCE = { apiVersion: 'kubelived.io/v1alpha1', kind: 'VrrpInstance', metadata: { name: 'vi' } };
const SERVER = { apiVersion: 'kubelived.io/v1alpha1', kind: 'VirtualServer', metadata: { name: 'vs', namespace: 'shop' } };

/** Specs with every optional block present but left empty, so each nested default is exercised. */
const SPARSE_INSTANCES = [
  { vrid: 1, virtualIPs: ['198.18.0.100'], tracks: [{ name: 't', weight: -10, exec: { command: ['true'] } }], garp: {} },
  { vrid: 2, version: 2, virtualIPs: ['198.18.0.101/24'], authentication: { type: 'PASS', secretRef: { name: 's', key: 'k' } } },
  { vrid: 3, virtualIPs: ['2001:2::100/64'], unicastPeers: ['2001:2::12'], priorityOverrides: [{ node: 'n1', priority: 200 }] },
];
const SERVER_BASE = { vrrpInstanceRef: 'vi', virtualIP: '198.18.0.100', port: 80, realServers: [{ address: '198.18.1.1' }] };
const SPARSE_SERVERS = [
  SERVER_BASE,
  { ...SERVER_BASE, persistence: {}, quorum: {}, sorryServer: { address: '198.18.1.9' } },
  ...[{ type: 'TCP' }, { type: 'HTTP', http: {} }, { type: 'HTTPS', http: { tls: {} } }, { type: 'UDP', udp: {} },
    { type: 'DNS', dns: { name: 'a.example' } }, { type: 'EXEC', exec: { command: ['check'] } }]
    .map((healthCheck) => ({ ...SERVER_BASE, healthCheck })),
  { vrrpInstanceRef: 'vi', fwmark: 5, realServers: [{ address: '198.18.1.1' }], healthCheck: { type: 'TCP', port: 80 } },
];

function parsed(instanceSpec: object, serverSpec: object | undefined, defaults: boolean): unknown {
  const fill = (doc: object, crd: Crd): object => (defaults ? withDefaults(structuredClone(doc), schemaOf(crd)) as object : doc);
  const docs = [fill({ ...INSTANCE, spec: instanceSpec }, INSTANCE_CRD)];
  if (serverSpec) docs.push(fill({ ...SERVER, spec: serverSpec }, SERVER_CRD));
  return parseResources(docs.map((d) => stringify(d)).join('---\n'), 'defaults.yaml');
}

test('the CRD defaults are the parser\'s: a stored (defaulted) object means what the sparse one means', () => {
  for (const spec of SPARSE_INSTANCES) {
    assert.deepEqual(parsed(spec, undefined, true), parsed(spec, undefined, false), JSON.stringify(spec));
  }
  for (const spec of SPARSE_SERVERS) {
    const instance = { vrid: 1, virtualIPs: ['198.18.0.100'] };
    assert.deepEqual(parsed(instance, spec, true), parsed(instance, spec, false), JSON.stringify(spec));
  }
});

test('the defaults are visible: a sparse object is filled in', () => {
  const stored = withDefaults({ spec: structuredClone(SPARSE_INSTANCES[0]) }, schemaOf(INSTANCE_CRD)) as { spec: Record<string, unknown> };
  assert.deepEqual(
    { ...stored.spec, tracks: undefined },
    {
      vrid: 1, virtualIPs: ['198.18.0.100'], tracks: undefined, version: 3, priority: 100, preempt: true, preemptDelay: '0s',
      advertisementInterval: '1s', garp: { repeat: 5, delay: '5s', refresh: '0s' }, allowedNamespaces: ['*'],
    },
  );
});

test('the CRD\'s list bounds are the parser\'s: the largest list is accepted, one more refused', () => {
  const ip = (i: number): string => `198.18.${2 + (i >> 8)}.${i & 255}`;
  const cases = [
    { crd: INSTANCE_CRD, list: 'virtualIPs', item: (i: number) => ip(i) },
    { crd: INSTANCE_CRD, list: 'unicastPeers', item: (i: number) => ip(i) },
    { crd: INSTANCE_CRD, list: 'tracks', item: (i: number) => ({ name: `t${i}`, weight: -1, exec: { command: ['true'] } }) },
    { crd: INSTANCE_CRD, list: 'allowedNamespaces', item: (i: number) => `ns-${i}` },
    { crd: SERVER_CRD, list: 'realServers', item: (i: number) => ({ address: ip(i) }) },
  ];
  for (const c of cases) {
    const max = prop(prop(schemaOf(c.crd), 'spec'), c.list).maxItems;
    assert.ok(max, `${c.list} has maxItems`);
    const items = (n: number): unknown[] => Array.from({ length: n }, (_, i) => c.item(i));
    const docs = (n: number): [object, object | undefined] => (c.crd === SERVER_CRD
      ? [{ vrid: 1, virtualIPs: ['198.18.0.100'] }, { ...SERVER_BASE, realServers: items(n) }]
      : [{ vrid: 1, virtualIPs: ['198.18.0.100'], [c.list]: items(n) }, undefined]);
    assert.doesNotThrow(() => parsed(...docs(max), false), `${c.list}: ${max} items`);
    assert.throws(() => parsed(...docs(max + 1), false), new RegExp(`spec\\.${c.list}: at most ${max} (items|addresses), got ${max + 1}`));
  }
});

test('the examples are valid config files for the standalone agent too', () => {
  const dir = new URL('deploy/examples/', root);
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length > 0);
  for (const f of files) {
    const set = parseResources(readFileSync(new URL(f, dir), 'utf8'), f);
    assert.ok(set.vrrpInstances.length > 0 && set.virtualServers.length > 0, f);
  }
});
