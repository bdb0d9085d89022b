// The values the controller puts into the agent DaemonSet (--agent-config, the chart's
// ConfigMap kubelived-agent-config): image, nodeSelector, tolerations, resources. Read once at
// start; a bad file stops the controller with every problem named.
import { parse } from 'yaml';
import { describe, isObj, list, obj, rejectUnknown, str, stringMap } from '../api/fields.ts';
import type { Obj } from '../api/fields.ts';
import { ConfigError, IssueList } from '../api/issues.ts';

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface AgentValues {
  image: string;
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
  /** requests/limits as Kubernetes quantities, e.g. { requests: { cpu: '50m' } }. */
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
}

const KEYS = ['image', 'nodeSelector', 'tolerations', 'resources'] as const;
const TOLERATION_KEYS = ['key', 'operator', 'value', 'effect', 'tolerationSeconds'] as const;
const OPERATORS = ['Exists', 'Equal'];
const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];
/** A Kubernetes quantity: 50m, 96Mi, 1.5, 2e3 ... */
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[mkMGTPE])?$/;

/**
 * Reads the agent values from `text` (JSON or YAML). `defaultImage` applies when the file has
 * no image; `imageOverride` (--agent-image) wins over both.
 */
export function parseAgentValues(text: string, source: string, defaultImage: string, imageOverride?: string): AgentValues {
  const issues = new IssueList(source);
  let doc: unknown;
  try {
    doc = text.trim() === '' ? {} : parse(text);
  } catch (e) {
    throw new ConfigError([{ where: source, field: '(yaml)', message: e instanceof Error ? e.message : String(e) }]);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) throw new ConfigError([{ where: source, field: '(document)', message: `must be a mapping, got ${describe(doc)}` }]);
  const values = readValues(doc, issues, defaultImage, imageOverride);
  // The readers build paths as parent.field; at the top the parent is empty.
  if (issues.issues.length > 0) throw new ConfigError(issues.issues.map((i) => ({ ...i, field: i.field.replace(/^\./, '') })));
  return values;
}

export function defaultAgentValues(image: string): AgentValues {
  return { image, nodeSelector: {}, tolerations: [], resources: {} };
}

function readValues(doc: Obj, issues: IssueList, defaultImage: string, imageOverride: string | undefined): AgentValues {
  rejectUnknown(doc, KEYS, '', issues);
  const image = imageOverride ?? str(doc, 'image', '', issues, false) ?? defaultImage;
  if (/\s/.test(image)) issues.add('image', `must be an image reference without spaces, got ${describe(image)}`);
  const nodeSelector = stringMap(doc, 'nodeSelector', '', issues);
  const tolerations = list(doc, 'tolerations', '', issues).flatMap((t, i): Toleration[] => {
    const path = `tolerations[${i}]`;
    if (!isObj(t)) return issues.add(path, `must be an object, got ${describe(t)}`), [];
    rejectUnknown(t, TOLERATION_KEYS, path, issues);
    const out: Toleration = {};
    for (const k of ['key', 'value'] as const) {
      if (t[k] === undefined) continue;
      if (typeof t[k] === 'string') out[k] = t[k];
      else issues.add(`${path}.${k}`, `must be a string, got ${describe(t[k])}`);
    }
    if (t.operator !== undefined) {
      if (typeof t.operator === 'string' && OPERATORS.includes(t.operator)) out.operator = t.operator as Toleration['operator'];
      else issues.add(`${path}.operator`, `must be one of ${OPERATORS.join(', ')}, got ${describe(t.operator)}`);
    }
    if (t.effect !== undefined && t.effect !== '') {
      if (typeof t.effect === 'string' && EFFECTS.includes(t.effect)) out.effect = t.effect as Toleration['effect'];
      else issues.add(`${path}.effect`, `must be one of ${EFFECTS.join(', ')}, got ${describe(t.effect)}`);
    }
    if (t.tolerationSeconds !== undefined) {
      if (typeof t.tolerationSeconds === 'number' && Number.isInteger(t.tolerationSeconds)) out.tolerationSeconds = t.tolerationSeconds;
      else issues.add(`${path}.tolerationSeconds`, `must be an integer, got ${describe(t.tolerationSeconds)}`);
    }
    if (out.operator === 'Exists' && out.value !== undefined) issues.add(`${path}.value`, 'must be empty with operator Exists');
    return [out];
  });
  const res = obj(doc, 'resources', '', issues) ?? {};
  rejectUnknown(res, ['requests', 'limits'], 'resources', issues);
  const resources: AgentValues['resources'] = {};
  for (const kind of ['requests', 'limits'] as const) {
    const m = obj(res, kind, 'resources', issues);
    if (!m) continue;
    const q: Record<string, string> = {};
    for (const [name, v] of Object.entries(m)) {
      const text = typeof v === 'number' ? String(v) : v;
      if (typeof text === 'string' && QUANTITY.test(text)) q[name] = text;
      else issues.add(`resources.${kind}.${name}`, `must be a quantity such as 50m or 96Mi, got ${describe(v)}`);
    }
    resources[kind] = q;
  }
  return { image, nodeSelector, tolerations, resources };
}
