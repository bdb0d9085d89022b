// Writes docs/crd-reference.md from the CRD manifests in crds/: every field with its type,
// default, constraints and description, the CEL validation rules with their messages, and the
// printer columns. test/unit/docs/crd-reference.test.ts fails when the committed file differs
// from a fresh generation, so change the CRDs and run this again:
//
//   node scripts/gen-crd-reference.ts
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const CRD_DIR = fileURLToPath(new URL('../crds/', import.meta.url));
export const REFERENCE_FILE = fileURLToPath(new URL('../docs/crd-reference.md', import.meta.url));

/** The grammar every duration field's pattern spells (src/api/duration.ts parses it). */
const DURATION_PATTERN = '^(0|([0-9]+([.][0-9]+)?(ms|s|m|h))+)$';

interface Rule {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
}

interface Schema {
  type?: string;
  format?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: Rule[];
}

interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
}

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular?: string; shortNames?: string[]; categories?: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: Record<string, unknown>;
      additionalPrinterColumns?: PrinterColumn[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

/** One row of a field table, in schema order. */
interface Field {
  path: string;
  schema: Schema;
  required: boolean;
}

/** One CEL rule and the path of the schema node carrying it. */
interface PlacedRule {
  at: string;
  rule: Rule;
}

/** Markdown for table cells: pipes escaped, no HTML, no accidental emphasis. */
function cell(text: string): string {
  return text.replace(/\s+/g, ' ').trim().replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\*/g, '\\*');
}

/** A value in a code span; a backtick inside would end it early, so those get a longer fence. */
function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/** A code span in a table cell, where a pipe must be escaped even inside the span (GFM splits cells first). */
function cellCode(text: string): string {
  return code(text.replace(/\|/g, '\\|'));
}

function typeOf(s: Schema): string {
  if (s['x-kubernetes-int-or-string']) return 'int-or-string';
  if (s.type === 'string' && s.pattern === DURATION_PATTERN) return 'duration';
  if (s.type === 'array') return `[]${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && typeof s.additionalProperties === 'object' && !s.properties) {
    return `map[string]${typeOf(s.additionalProperties)}`;
  }
  const t = s.type ?? 'any';
  return s.format ? `${t} (${s.format})` : t;
}

function range(min: number | undefined, max: number | undefined, what: string): string | undefined {
  if (min === undefined && max === undefined) return undefined;
  if (min !== undefined && max !== undefined) return `${what}${min} to ${max}`;
  return min !== undefined ? `${what}at least ${min}` : `${what}at most ${max}`;
}

function constraints(f: Field): string {
  const s = f.schema;
  const out: string[] = [];
  if (f.required) out.push('required');
  if (s.enum) out.push(`one of ${s.enum.map((v) => cellCode(String(v))).join(', ')}`);
  for (const c of [
    range(s.minimum, s.maximum, ''),
    range(s.minLength, s.maxLength, 'length '),
    range(s.minItems, s.maxItems, 'items '),
  ]) if (c) out.push(cell(c));
  if (s.pattern && s.pattern !== DURATION_PATTERN) out.push(`pattern ${cellCode(s.pattern)}`);
  const listType = s['x-kubernetes-list-type'];
  if (listType === 'map') out.push(`list-map keyed by ${(s['x-kubernetes-list-map-keys'] ?? []).map(cellCode).join(', ')}`);
  else if (listType) out.push(`list-type ${cellCode(listType)}`);
  if (s['x-kubernetes-validations']) out.push('CEL rules below');
  return out.join('; ');
}

/** Every field under `s`, depth first in schema order; list items add `[]`, map values `<key>`. */
function fields(s: Schema, path: string, out: Field[], rules: PlacedRule[]): void {
  for (const rule of s['x-kubernetes-validations'] ?? []) rules.push({ at: path || '(root)', rule });
  const required = new Set(s.required ?? []);
  for (const [name, child] of Object.entries(s.properties ?? {})) {
    const p = path ? `${path}.${name}` : name;
    out.push({ path: p, schema: child, required: required.has(name) });
    fields(child, p, out, rules);
  }
  if (s.items) {
    const item = s.items;
    // Items that are objects are described by their fields; scalar items that say more than
    // their type get a row of their own.
    if (item.properties) fields(item, `${path}[]`, out, rules);
    else {
      for (const rule of item['x-kubernetes-validations'] ?? []) rules.push({ at: `${path}[]`, rule });
      if (Object.keys(item).some((k) => k !== 'type')) out.push({ path: `${path}[]`, schema: item, required: false });
    }
  }
  if (typeof s.additionalProperties === 'object') fields(s.additionalProperties, `${path}.<key>`, out, rules);
}

function fieldTable(list: readonly Field[]): string[] {
  const lines = ['| Field | Type | Default | Constraints | Description |', '|---|---|---|---|---|'];
  for (const f of list) {
    const def = f.schema.default === undefined ? '' : cellCode(JSON.stringify(f.schema.default));
    lines.push(`| ${cellCode(f.path)} | ${cell(typeOf(f.schema))} | ${def} | ${constraints(f)} | ${cell(f.schema.description ?? '')} |`);
  }
  return lines;
}

function ruleList(rules: readonly PlacedRule[]): string[] {
  const lines: string[] = [];
  for (const { at, rule } of rules) {
    const target = rule.fieldPath ? `, reported on ${code(`${at}${rule.fieldPath}`)}` : '';
    const reason = rule.reason ? ` (${rule.reason})` : '';
    const message = rule.message ?? (rule.messageExpression ? `computed by ${code(rule.messageExpression)}` : '(the rule itself)');
    lines.push(`- On ${code(at)}${target}${reason}: ${cell(message)}`, '', '  ```cel', `  ${rule.rule.replace(/\s+/g, ' ').trim()}`, '  ```', '');
  }
  return lines;
}

function section(crd: Crd, file: string): string[] {
  const { names, group, scope } = crd.spec;
  const out: string[] = [];
  for (const v of crd.spec.versions) {
    const root = v.schema.openAPIV3Schema;
    const apiVersion = `${group}/${v.name}`;
    out.push(`## ${names.kind}`, '');
    out.push(cell(root.description ?? ''), '');
    out.push('| Property | Value |', '|---|---|');
    out.push(`| apiVersion | ${cellCode(apiVersion)} (${v.served ? 'served' : 'not served'}${v.storage ? ', storage version' : ''}) |`);
    out.push(`| scope | ${scope} |`);
    out.push(`| names | ${[names.plural, names.singular, ...(names.shortNames ?? [])].filter((n): n is string => !!n).map(cellCode).join(', ')} |`);
    if (names.categories?.length) out.push(`| categories | ${names.categories.map(cellCode).join(', ')} (\`kubectl get ${names.categories[0]}\`) |`);
    out.push(`| subresources | ${Object.keys(v.subresources ?? {}).map(cellCode).join(', ') || 'none'} |`);
    out.push(`| manifest | ${cellCode(`crds/${file}`)} |`, '');

    const columns = v.additionalPrinterColumns ?? [];
    if (columns.length > 0) {
      out.push(`### Printer columns (\`kubectl get ${names.plural}\`)`, '');
      out.push('| Column | Type | JSONPath | Description |', '|---|---|---|---|');
      for (const c of columns) out.push(`| ${c.name} | ${c.type} | ${cellCode(c.jsonPath)} | ${cell(c.description ?? '')} |`);
      out.push('');
    }

    const list: Field[] = [];
    const rules: PlacedRule[] = [];
    fields(root, '', list, rules);
    for (const part of ['spec', 'status']) {
      const mine = list.filter((f) => f.path === part || f.path.startsWith(`${part}.`));
      if (mine.length === 0) continue;
      out.push(`### ${part}`, '');
      out.push(...fieldTable(mine), '');
      const partRules = rules.filter((r) => r.at === part || r.at.startsWith(`${part}.`));
      if (partRules.length > 0) {
        out.push(`#### Validation rules of ${part} (CEL)`, '');
        out.push(`The API server refuses an object breaking one of these with the message shown, naming the field.`, '');
        out.push(...ruleList(partRules));
      }
    }
  }
  return out;
}

/** The whole reference, from the CRD manifests in `dir` (sorted by file name). */
export function generateCrdReference(dir: string = CRD_DIR): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  const crds = files.map((f) => ({ file: f, crd: parse(readFileSync(`${dir}/${f}`, 'utf8')) as Crd }));
  const out: string[] = [
    '# CRD reference',
    '',
    '<!-- Generated from crds/*.yaml by scripts/gen-crd-reference.ts; do not edit by hand. -->',
    '',
    `Every field of the kubelived custom resources (group \`${crds[0]?.crd.spec.group ?? ''}\`), as the API server validates`,
    'it. `kubectl explain` shows the same descriptions, for example `kubectl explain vrrpinstance.spec.tracks`.',
    '',
    'Reading the tables: a path ending in `[]` is each element of a list, `<key>` each key of a map.',
    'Type `duration` is a string such as `100ms`, `1s`, `1.5s` or `1m30s` (units `ms`, `s`, `m`, `h`; a',
    `bare \`0\` is zero), matching the pattern ${code(DURATION_PATTERN)}; each field's range is checked by a CEL`,
    'rule. Defaults are filled in by the API server when the field is left out, so `kubectl get -o yaml` shows',
    'them. Some checks need several objects (VRID collisions, a VIP claimed twice, a VirtualServer\'s',
    'VrrpInstance); the controller makes those and reports them in the `Accepted` condition (docs/operations.md).',
    '',
    '## Kinds',
    '',
    ...crds.map(({ crd }) => `- [${crd.spec.names.kind}](#${crd.spec.names.kind.toLowerCase()}): ${code(crd.metadata.name)}, ${crd.spec.scope === 'Cluster' ? 'cluster-scoped' : 'namespaced'}`),
    '',
  ];
  for (const { file, crd } of crds) out.push(...section(crd, file));
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

if (import.meta.main) {
  writeFileSync(REFERENCE_FILE, generateCrdReference());
  console.log(`wrote ${REFERENCE_FILE}`);
}
